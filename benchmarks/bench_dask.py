"""Benchmark: experiment sweeps on a local Dask cluster against one process.

Runs each experiment into a fresh folder in this process, then with ``--workers 1`` and
``--workers 2`` (a ``LocalCluster`` of single-threaded worker processes, started inside the timed
call, so its start-up is counted), and checks that the stored results tables are identical bit for
bit (every column but the wall-clock ``*_seconds`` ones, which differ between any two runs).
Default cases: the quick ``lime_vs_ig`` and the full ``convergence`` experiment.

Writes results/bench_dask.json and results/bench_dask.md.
Usage: python benchmarks/bench_dask.py [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from limetheory.experiments import reproduce
from limetheory.files import write_text

CASES = [("lime_vs_ig", True), ("convergence", False)]
QUICK_CASES = [("shape_detector", True)]
MODES = [("in process", None), ("1 worker", 1), ("2 workers", 2)]


def _results(out: Path) -> dict:
    """Every results table, less the wall-clock columns (``*seconds*``), which differ between any two runs."""
    tables = {}
    for path in sorted((out / "results").glob("*.csv")):
        frame = pd.read_csv(path)
        tables[path.name] = frame.drop(columns=[c for c in frame.columns if "seconds" in c])
    return tables


def _same(a: dict, b: dict) -> bool:
    """Bit-for-bit equal tables (same names, columns, values; NaN equal to NaN)."""
    return a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)


def run_case(name: str, quick: bool, root: Path) -> list:
    rows, reference = [], None
    for label, workers in MODES:
        out = root / f"{name}-{'quick' if quick else 'full'}-{workers or 0}"
        t0 = time.perf_counter()
        (report,) = reproduce([name], out, quick=quick, progress=False, figures=False, workers=workers)
        seconds = time.perf_counter() - t0
        results = _results(out)
        reference = results if reference is None else reference
        rows.append({"experiment": name, "mode": "quick" if quick else "full", "executor": label,
                     "units": report.n_units, "seconds": round(seconds, 2),
                     "identical_to_in_process": _same(results, reference)})
    base = rows[0]["seconds"]
    for r in rows:
        r["speed_up"] = round(base / r["seconds"], 2)
    return rows


def markdown(rows: list, meta: dict) -> str:
    lines = ["# Experiment sweeps on a local Dask cluster", "",
             f"{meta['machine']}; wall time of `reproduce` including the cluster's start-up; results "
             "compared byte for byte with the in-process run.", "",
             "| experiment | mode | units | executor | seconds | speed-up | results identical |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['experiment']} | {r['mode']} | {r['units']} | {r['executor']} | {r['seconds']:.1f} "
                     f"| {r['speed_up']:.2f}x | {r['identical_to_in_process']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small experiment (a smoke test)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="run only these of the default cases (lime_vs_ig, convergence)")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = QUICK_CASES if args.quick else [c for c in CASES if args.only is None or c[0] in args.only]
        for name, quick in cases:
            rows += run_case(name, quick, Path(tmp))
            print(json.dumps(rows[-3:]), flush=True)
    meta = {"machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_dask_quick" if args.quick else "bench_dask"
    write_text(out / f"{stem}.json", json.dumps({"meta": meta, "rows": rows}, indent=1))
    write_text(out / f"{stem}.md", markdown(rows, meta))
    print(markdown(rows, meta))
    return 0 if all(r["identical_to_in_process"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
