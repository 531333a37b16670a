"""The experiment framework: units, resumable runs, tidy results, figures.

An experiment is a module in ``experiments/`` that defines

``NAME`` : str
    Its registry name (also the stem of its results files).
``TITLE`` : str
    One line for ``limetheory list`` and the progress bar.
``VERSION`` : int
    Part of every unit key: bump it when the computation changes, so stored units are not reused.
``settings(quick: bool) -> dict``
    Every setting of the run (JSON-serialisable). ``quick=True`` is the small version that
    runs in seconds (tests, ``make reproduce``).
``units(settings) -> list[dict]``
    The independent pieces of work (JSON-serialisable dicts, e.g. ``{"seed": 3, "n": 1000}``).
``setup(settings) -> context``
    Shared, deterministic state (the image, the segmentation, a loaded network). Called once,
    and only when something must be computed.
``run_unit(unit, context) -> pandas.DataFrame``
    The tidy rows of one unit (one row per run / n / superpixel ...).

and optionally

``arrays(context) -> dict[str, numpy.ndarray]``
    Arrays a figure needs besides the rows (the image, its superpixels): saved to
    ``OUT/results/<NAME>.npz``.
``tables(frame, settings) -> dict[str, pandas.DataFrame]``
    Summary tables computed from all rows: ``OUT/results/<NAME>_<key>.csv`` and ``.md``.

Files written under ``OUT``::

    units/<NAME>/<label>-<hash>.csv   one per unit, written atomically (temp file + os.replace)
    results/<NAME>.csv                all units of the current settings, concatenated
    results/<NAME>.json               settings, mode, unit counts, versions, elapsed time
    results/<NAME>.npz                arrays for the figures (optional)
    results/<NAME>_<key>.csv / .md    summary tables (optional)
    figures/<stem>.png / .pdf         written by the paper_figures scripts

The unit hash covers the experiment's name, ``VERSION``, all settings and the unit itself, so a
quick run and a full run in the same folder never mix, and an interrupted run started again
computes only the units whose files are missing.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "RunReport",
    "atomic_write",
    "atomic_write_csv",
    "experiment_names",
    "load_experiment",
    "make_figures",
    "markdown_table",
    "reproduce",
    "run_experiment",
    "unit_key",
    "unit_path",
]

_REQUIRED = ("NAME", "TITLE", "VERSION", "settings", "units", "setup", "run_unit")


# =========================================================================== registry access
def _registry(registry: Mapping | None = None) -> Mapping:
    if registry is not None:
        return registry
    from . import REGISTRY

    return REGISTRY


def experiment_names(registry: Mapping | None = None) -> list[str]:
    """Names of the registered experiments, in the order ``reproduce`` runs them."""
    return list(_registry(registry))


def _entry(name: str, registry: Mapping | None):
    reg = _registry(registry)
    if name not in reg:
        raise ValueError(f"unknown experiment {name!r}; registered: {', '.join(reg) or '(none)'}")
    module, figures = reg[name]
    return module, tuple(figures)


def load_experiment(name: str, registry: Mapping | None = None) -> ModuleType:
    """Import the module of experiment ``name`` and check it defines the experiment interface."""
    module_name, _ = _entry(name, registry)
    mod = importlib.import_module(module_name)
    missing = [a for a in _REQUIRED if not hasattr(mod, a)]
    if missing:
        raise TypeError(f"experiment module {module_name} lacks {', '.join(missing)}")
    if mod.NAME != name:
        raise ValueError(f"experiment module {module_name} has NAME {mod.NAME!r}, registered as {name!r}")
    return mod


# =========================================================================== atomic files
def atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then ``os.replace`` it.

    Readers see either the old file or the complete new one, never a partial file; an
    interrupted write leaves no temporary behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV (no index, full float precision) atomically."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _write_text(path: Path, text: str) -> Path:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def _write_npz(path: Path, arrays: dict) -> Path:
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return atomic_write(path, write)


# =========================================================================== unit keys
def _canonical(obj) -> str:
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"settings and units must be JSON-serialisable, got {type(o).__name__}")

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default)


def unit_key(name: str, version: int, settings: dict, unit: dict) -> str:
    """SHA-256 (hex) of the experiment name, version, settings and unit."""
    payload = _canonical({"experiment": name, "version": version, "settings": settings, "unit": unit})
    return hashlib.sha256(payload.encode()).hexdigest()


def _label(unit: dict) -> str:
    text = "_".join(f"{k}={v}" for k, v in unit.items())
    return re.sub(r"[^A-Za-z0-9=._-]+", "-", text)[:80] or "unit"


def unit_path(out: Path, name: str, version: int, settings: dict, unit: dict) -> Path:
    """Where the rows of ``unit`` are stored: ``OUT/units/<name>/<label>-<hash12>.csv``."""
    key = unit_key(name, version, settings, unit)
    return Path(out) / "units" / name / f"{_label(unit)}-{key[:12]}.csv"


# =========================================================================== markdown
def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (floats to 4 significant digits)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


# =========================================================================== running
@dataclass
class RunReport:
    """What one experiment run did."""

    name: str
    n_units: int
    computed: int
    reused: int
    seconds: float
    results: Path
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)


def _versions() -> dict:
    import matplotlib
    import scipy
    import sklearn
    import skimage

    import limetheory

    return {
        "python": platform.python_version(),
        "limetheory": limetheory.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "scikit-image": skimage.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _blas_threads(limit):
    import contextlib

    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(limit), user_api="blas")


def _read_unit(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:  # a unit that produced no rows and no columns
        return pd.DataFrame()


def run_experiment(
    name: str,
    out,
    *,
    quick: bool = False,
    progress: bool = True,
    figures: bool = True,
    registry: Mapping | None = None,
    blas_threads: int | None = 1,
) -> RunReport:
    """Run experiment ``name`` into ``out``, skipping the units already stored there.

    Parameters
    ----------
    name : a registered experiment (see :func:`experiment_names`).
    out : output folder; ``out/units``, ``out/results`` and ``out/figures`` are created.
    quick : the small version (seconds) instead of the full one.
    progress : show a tqdm bar over the units.
    figures : also run the experiment's paper_figures scripts.
    blas_threads : BLAS threads while the experiment runs (None: leave as is). The default 1 is
        deliberate: the linear algebra here is small (d <= a few hundred) and repeated many times,
        where a multithreaded OpenBLAS on a shared machine was measured up to 100x slower
        (a 196 x 196 solve: 0.5 s instead of 1 ms on 2 busy cores).
    """
    from tqdm import tqdm

    out = Path(out)
    mod = load_experiment(name, registry)
    _, figure_modules = _entry(name, registry)
    t0 = time.perf_counter()
    settings = mod.settings(bool(quick))
    units = list(mod.units(settings))
    paths = [unit_path(out, name, mod.VERSION, settings, u) for u in units]
    if len(set(paths)) != len(paths):
        raise ValueError(f"experiment {name}: two units have the same key; units must differ")
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    settings_key = unit_key(name, mod.VERSION, settings, {})
    arrays_path = out / "results" / f"{name}.npz"
    need_arrays = hasattr(mod, "arrays") and not _arrays_current(arrays_path, settings_key)

    with _blas_threads(blas_threads):
        context = None
        if todo or need_arrays:
            context = mod.setup(settings)
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=name, unit="unit",
                   disable=not progress, leave=True)
        try:
            for i in todo:
                frame = mod.run_unit(units[i], context)
                if not isinstance(frame, pd.DataFrame):
                    raise TypeError(f"{name}.run_unit must return a pandas DataFrame, got {type(frame).__name__}")
                atomic_write_csv(frame, paths[i])
                bar.update(1)
        finally:
            bar.close()
        if need_arrays:
            arrays = dict(mod.arrays(context))
            arrays["__settings_key__"] = np.array(settings_key)
            _write_npz(arrays_path, arrays)

        frames = [_read_unit(p) for p in paths]
        frame = pd.concat([f for f in frames if len(f.columns)], ignore_index=True) if frames else pd.DataFrame()
        results = atomic_write_csv(frame, out / "results" / f"{name}.csv")
        tables = []
        if hasattr(mod, "tables"):
            for key, table in mod.tables(frame, settings).items():
                tables.append(atomic_write_csv(table, out / "results" / f"{name}_{key}.csv"))
                tables.append(_write_text(out / "results" / f"{name}_{key}.md", markdown_table(table)))
    seconds = time.perf_counter() - t0
    meta = {
        "name": name,
        "title": mod.TITLE,
        "version": mod.VERSION,
        "mode": "quick" if quick else "full",
        "settings": settings,
        "n_units": len(units),
        "computed": len(todo),
        "reused": len(units) - len(todo),
        "n_rows": int(len(frame)),
        "seconds": round(seconds, 3),
        "versions": _versions(),
    }
    _write_text(out / "results" / f"{name}.json", _canonical_pretty(meta))
    report = RunReport(name, len(units), len(todo), len(units) - len(todo), seconds, results, tables)
    if figures:
        report.figures = make_figures(name, out, registry=registry, modules=figure_modules)
    report.seconds = time.perf_counter() - t0
    return report


def _canonical_pretty(obj) -> str:
    return json.dumps(json.loads(_canonical(obj)), indent=2, sort_keys=True) + "\n"


def _arrays_current(path: Path, settings_key: str) -> bool:
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as f:
            return "__settings_key__" in f.files and str(f["__settings_key__"]) == settings_key
    except (OSError, ValueError):
        return False


def make_figures(name: str, out, *, registry: Mapping | None = None, modules: Iterable[str] | None = None) -> list:
    """Run the paper_figures scripts of experiment ``name`` on ``out/results``; return the files written."""
    if modules is None:
        _, modules = _entry(name, registry)
    written = []
    for module_name in modules:
        mod = importlib.import_module(module_name)
        written.extend(mod.make(Path(out)))
    return written


def reproduce(
    names: Iterable[str] | None = None,
    out="results/full",
    *,
    quick: bool = False,
    progress: bool = True,
    figures: bool = True,
    registry: Mapping | None = None,
    on_error: str = "raise",
    log: Callable[[str], None] | None = None,
    blas_threads: int | None = 1,
) -> list:
    """Run several experiments (default: all registered, in registry order).

    ``on_error="raise"`` stops at the first failing experiment; ``"continue"`` runs the others
    and returns the exception in place of that experiment's :class:`RunReport`.
    """
    if on_error not in ("raise", "continue"):
        raise ValueError(f"on_error must be 'raise' or 'continue', got {on_error!r}")
    names = experiment_names(registry) if names is None else list(names)
    for n in names:
        _entry(n, registry)  # validate every name before running anything
    reports = []
    for n in names:
        try:
            rep = run_experiment(n, out, quick=quick, progress=progress, figures=figures, registry=registry,
                                 blas_threads=blas_threads)
        except Exception as exc:
            if on_error == "raise":
                raise
            reports.append(exc)
            if log:
                log(f"{n}: FAILED: {type(exc).__name__}: {exc}")
            continue
        reports.append(rep)
        if log:
            log(f"{n}: {rep.computed} unit(s) computed, {rep.reused} reused, {rep.seconds:.1f} s -> "
                f"{rep.results}" + (f", {len(rep.figures)} figure file(s)" if rep.figures else ""))
    return reports
