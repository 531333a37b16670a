"""Sphinx extension: the generated parts of the site.

When the builder starts it writes, under ``docs/`` (all gitignored):

- ``tutorials/<name>.ipynb``: the jupytext percent scripts of ``notebooks/`` as notebooks, which
  myst-nb then executes (a failing cell fails the build);
- ``_generated/benchmarks.md``: every committed ``results/bench_*.md``, each under a heading with
  the conditions its JSON records (machine, Python, load, sizes), included by ``benchmarks.md``;
- ``_generated/nets_speed.md``: EfficientNet-Lite0's speed table from ``results/bench_nets*.json``;
- ``_generated/committed_runs.md``: the record of every committed run in ``results/full``;
- ``_generated/small_nets.md``: the training record of every bundled network, read from the
  metadata of its weight file;
- ``_generated/designs.md``: the sampling designs' calls ratios from ``results/bench_designs.json``.

A file is rewritten only when its content changes, so incremental builds stay incremental.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_tutorials(notebooks: Path = ROOT / "notebooks", out: Path = DOCS / "tutorials") -> list[Path]:
    """Convert every ``notebooks/NN_*.py`` to ``out/NN_*.ipynb``; return the notebooks written."""
    written = []
    for script in sorted(notebooks.glob("[0-9][0-9]_*.py")):
        notebook = jupytext.read(script)
        target = out / f"{script.stem}.ipynb"
        _write_if_changed(target, jupytext.writes(notebook, fmt="ipynb"))
        written.append(target)
    for stale in out.glob("*.ipynb"):
        if stale not in written:
            stale.unlink()
    return written


def _conditions(meta: dict) -> str:
    """One line from a benchmark's recorded conditions (whatever keys it has)."""
    parts = []
    for key, value in meta.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _meta(data) -> dict:
    if not isinstance(data, dict):
        return {}
    for key in ("meta", "machine"):
        if isinstance(data.get(key), dict):
            return data[key]
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float)) and k != "rows"}


def _demote(markdown: str) -> str:
    """Headings of an included results file two levels down (they sit under the page's ``##``)."""
    return re.sub(r"^(#{1,4}) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", markdown, flags=re.M)


def write_benchmarks(results: Path = ROOT / "results", out: Path = DOCS / "_generated") -> Path:
    """``out/benchmarks.md``: every ``results/bench_*.md`` with its recorded conditions."""
    sections = []
    for table in sorted(results.glob("bench_*.md")):
        record = table.with_suffix(".json")
        meta = _meta(json.loads(record.read_text())) if record.exists() else {}
        scripts = [p.name for p in (ROOT / "benchmarks").glob("bench_*.py") if table.stem.startswith(p.stem)]
        source = f"Written by `benchmarks/{max(scripts, key=len)}`" if scripts else "Committed results"
        conditions = f"; recorded conditions: {_conditions(meta)}" if meta else ""
        sections.append(f"## `{table.name}`\n\n{source}{conditions}.\n\n"
                        f"{_demote(table.read_text()).strip()}\n")
    target = out / "benchmarks.md"
    _write_if_changed(target, "\n".join(sections))
    return target


def _speed_column(data: dict) -> list[str]:
    m = data["machine"]
    return [f"{m['backend']} ({m.get('device', '')}), {m['cpu_count']} CPU cores, JAX {m['jax']}, "
            f"load average {m['loadavg_before'][0]:.1f} before",
            f"{data['predict']['images_per_s_median']:.0f} (best {data['predict']['images_per_s_best']:.0f})",
            f"{data['predict_depthwise_conv']['images_per_s_median']:.1f}",
            f"{data['logits_one_image_ms_median']:.2f}",
            f"{data['grad_one_image_ms_median']:.2f}",
            f"{data['first_predict_s_incl_compile']:.1f}",
            f"{data['load_s']:.2f}"]


def write_nets_speed(results: Path = ROOT / "results", out: Path = DOCS / "_generated") -> Path:
    """``out/nets_speed.md``: EfficientNet-Lite0's speed from every ``results/bench_nets*.json``."""
    files = sorted(results.glob("bench_nets*.json"))
    columns = [_speed_column(json.loads(f.read_text())) for f in files]
    rows = ["machine", "`predict`, batch 32 (images/s, median of 5)",
            "`predict`, batch 32, `depthwise=\"conv\"` (images/s)", "`logits`, one image (ms)",
            "`jax.grad` of one logit, one image (ms)", "first `predict`, compile included (s)",
            "load from the cached .npz (s)"]
    lines = ["| | " + " | ".join(f"`{f.name}`" for f in files) + " |",
             "|---|" + "---:|" * len(files)]
    lines += [f"| {row} | " + " | ".join(c[i] for c in columns) + " |" for i, row in enumerate(rows)]
    target = out / "nets_speed.md"
    _write_if_changed(target, "\n".join(lines) + "\n")
    return target


def _percent(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def write_small_nets(weights: Path = ROOT / "limetheory" / "nets" / "weights",
                     out: Path = DOCS / "_generated") -> Path:
    """``out/small_nets.md``: the training record stored in every bundled weight file."""
    import numpy as np

    lines = ["| network | training images | steps | held-out accuracy | train accuracy | "
             "validation accuracy | training time (s, CPU cores) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for path in sorted(weights.glob("*.npz")):
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["__meta__"]))
        lines.append(f"| {meta['name']} | {meta['n_train']} | {meta['n_steps']} | "
                     f"{_percent(meta['heldout_accuracy'])} ({meta['n_heldout']} images) | "
                     f"{_percent(meta.get('train_accuracy'))} | {_percent(meta.get('validation_accuracy'))} | "
                     f"{meta['train_seconds']:.0f} ({meta['cpu_count']}) |")
    target = out / "small_nets.md"
    _write_if_changed(target, "\n".join(lines) + "\n")
    return target


def _median_range(values) -> str:
    import numpy as np

    return f"{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def write_designs(results: Path = ROOT / "results", out: Path = DOCS / "_generated") -> Path:
    """``out/designs.md``: the calls ratio of every sampling design, from ``results/bench_designs.json``."""
    data = json.loads((results / "bench_designs.json").read_text())
    lines = [f"Recorded conditions: {data['meta']['conditions']}.", "",
             "| model (images) | kernel width | paired | stratified | weighted | best design |",
             "|---|---:|---|---|---|---|"]
    for s in data["summary"]:
        lines.append(f"| {s['model']} ({s['images']}) | {s['kernel_width']} | {_median_range(s['trace_paired'])} | "
                     f"{_median_range(s['trace_stratified'])} | {_median_range(s['trace_weighted'])} | "
                     f"{_median_range(s['best_trace'])} |")
    target = out / "designs.md"
    _write_if_changed(target, "\n".join(lines) + "\n")
    return target


def write_committed_runs(results: Path = ROOT / "results" / "full" / "results",
                         out: Path = DOCS / "_generated") -> Path:
    """``out/committed_runs.md``: what every committed full run records about itself."""
    lines = ["| experiment | version | mode | units | rows | seconds of the last run (units reused) | "
             "Python | NumPy |", "|---|---:|---|---:|---:|---:|---|---|"]
    for path in sorted(results.glob("*.json")):
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or "n_units" not in meta:
            continue
        versions = meta.get("versions", {})
        lines.append(f"| `{meta['name']}` | {meta.get('version', '')} | {meta.get('mode', '')} | "
                     f"{meta['n_units']} | {meta.get('n_rows', '')} | {meta.get('seconds', '')} "
                     f"({meta.get('reused', 0)}) | {versions.get('python', '')} | {versions.get('numpy', '')} |")
    target = out / "committed_runs.md"
    _write_if_changed(target, "\n".join(lines) + "\n")
    return target


def _generate(app) -> None:
    write_committed_runs()
    write_tutorials()
    write_benchmarks()
    write_nets_speed()
    write_small_nets()
    write_designs()


def setup(app):
    app.connect("builder-inited", _generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
