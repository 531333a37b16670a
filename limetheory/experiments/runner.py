"""The experiment framework: units, resumable runs, tidy results, figures.

An experiment is a module in ``limetheory/experiments/`` that meets the contract
:class:`Experiment` (checked once, when it is loaded): it defines

``NAME`` : str
    Its registry name (also the stem of its results files).
``TITLE`` : str
    One line for ``limetheory list`` and the progress bar.
``VERSION`` : int
    Part of every unit key: bump it when the computation changes, so stored units are not reused.
``settings(quick: bool, **options) -> dict``
    Every setting of the run (JSON-serialisable). ``quick=True`` is the small version that
    runs in seconds (tests, ``make reproduce``). Optional keyword options (e.g. lime_vs_ig's
    ``protocol``) come from ``run_experiment(..., options=)``; they are part of the settings.
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
``unit_settings(settings, unit) -> dict``
    The part of the settings that a unit's rows depend on (default: all of them): what its key
    hashes, so that a unit is reused by a later run whose other settings differ (experiment 4:
    another list of networks or fewer images per network).

Files written under ``OUT``::

    units/<NAME>/<label>-<hash>.csv   one per unit: a header with the SHA-256, row count and columns
                                      of the CSV body below it and the unit's identity, written
                                      atomically (see store)
    results/<NAME>.csv                all units of the current settings, concatenated
    results/<NAME>.json               settings, mode, unit counts, versions, elapsed time
    results/<NAME>.npz                arrays for the figures (optional)
    results/<NAME>_<key>.csv / .md    summary tables (optional)
    figures/<stem>.png / .pdf         written by the paper_figures scripts

The unit hash covers the experiment's name, ``VERSION``, the settings (those of ``unit_settings``
when the experiment defines it) and the unit itself, so a
quick run and a full run in the same folder never mix, and an interrupted run started again
computes only the units whose files are missing. Every unit file states its identity
(:func:`unit_identity`: the experiment, version, unit, settings hash and full unit key). A unit file
that cannot be read, does not verify against its header, or states another identity than its name's
(a file copied or renamed over another) is recomputed with a warning naming it; ``results/`` is
written only after every unit has been verified.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import platform
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

import limetheory

from ..validation import check_bool, check_choice
from .executors import InProcess, UnitsFailed, check_executor_arguments, executor
from ..files import markdown_table, remove_stale_temporaries, write_csv, write_npz, write_text
from .store import CorruptUnit, read_arrays_if_whole, read_unit, write_unit

__all__ = [
    "CorruptUnitWarning",
    "Experiment",
    "RunReport",
    "experiment_names",
    "load_experiment",
    "make_figures",
    "reproduce",
    "run_experiment",
    "unit_identity",
    "unit_key",
    "unit_path",
]


class CorruptUnitWarning(UserWarning):
    """A stored unit (or arrays file) could not be read or did not verify: it is recomputed."""


# =========================================================================== the contract
@dataclass(frozen=True)
class Experiment:
    """The experiment contract, checked once by :meth:`from_module` (see the module docstring).

    ``arrays`` and ``tables`` are ``None`` when the module does not define them.
    """

    name: str
    title: str
    version: int
    settings: Callable[[bool], dict]
    units: Callable[[dict], list]
    setup: Callable[[dict], Any]
    run_unit: Callable[[dict, Any], pd.DataFrame]
    arrays: Callable[[Any], dict] | None = None
    tables: Callable[[pd.DataFrame, dict], dict] | None = None
    unit_settings: Callable[[dict, dict], dict] | None = None

    def key_settings(self, settings: dict, unit: dict) -> dict:
        """The settings that key ``unit`` (all of them unless the module defines ``unit_settings``)."""
        return settings if self.unit_settings is None else self.unit_settings(settings, unit)

    @classmethod
    def from_module(cls, mod: ModuleType) -> "Experiment":
        """The contract of module ``mod``; TypeError naming everything it lacks or gets wrong."""
        problems = []
        for attr, kind in (("NAME", str), ("TITLE", str), ("VERSION", int)):
            value = getattr(mod, attr, None)
            if not isinstance(value, kind) or isinstance(value, bool):
                problems.append(f"{attr} ({kind.__name__})")
        for attr in ("settings", "units", "setup", "run_unit"):
            if not callable(getattr(mod, attr, None)):
                problems.append(f"{attr}() (a function)")
        for attr in ("arrays", "tables", "unit_settings"):
            if hasattr(mod, attr) and not callable(getattr(mod, attr)):
                problems.append(f"{attr}() (optional, but a function when given)")
        if problems:
            raise TypeError(f"experiment module {mod.__name__} does not define the experiment contract: "
                            f"missing or wrong {', '.join(problems)}")
        return cls(mod.NAME, mod.TITLE, mod.VERSION, mod.settings, mod.units, mod.setup, mod.run_unit,
                   getattr(mod, "arrays", None), getattr(mod, "tables", None), getattr(mod, "unit_settings", None))


# =========================================================================== registry access
def _registry(registry: Mapping | None = None) -> Mapping:
    if registry is not None:
        return registry
    from . import REGISTRY  # a cycle: limetheory.experiments imports this module before it defines REGISTRY

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


def load_experiment(name: str, registry: Mapping | None = None) -> Experiment:
    """Import the module of experiment ``name`` and check, once, that it meets the contract."""
    module_name, _ = _entry(name, registry)
    exp = Experiment.from_module(importlib.import_module(module_name))
    if exp.name != name:
        raise ValueError(f"experiment module {module_name} has NAME {exp.name!r}, registered as {name!r}")
    return exp


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


def unit_identity(name: str, version: int, settings: dict, unit: dict) -> dict:
    """What a unit file must state to be reused as ``unit``'s rows: the experiment, its version, the
    unit, the SHA-256 of the (canonical JSON of the) settings it depends on, and its full key."""
    return {"experiment": name, "version": int(version), "unit": json.loads(_canonical(unit)),
            "settings_sha256": hashlib.sha256(_canonical(settings).encode()).hexdigest(),
            "key": unit_key(name, version, settings, unit)}


def _label(unit: dict) -> str:
    text = "_".join(f"{k}={v}" for k, v in unit.items())
    return re.sub(r"[^A-Za-z0-9=._-]+", "-", text)[:80] or "unit"


def unit_path(out: Path, name: str, version: int, settings: dict, unit: dict) -> Path:
    """Where the rows of ``unit`` are stored: ``OUT/units/<name>/<label>-<hash12>.csv``."""
    key = unit_key(name, version, settings, unit)
    return Path(out) / "units" / name / f"{_label(unit)}-{key[:12]}.csv"


# =========================================================================== running
@dataclass(frozen=True)
class RunReport:
    """What one experiment run did (built once, at its end).

    ``recomputed`` lists the stored units that could not be read or did not verify and were
    computed again (each also raised a :class:`CorruptUnitWarning`).
    """

    name: str
    n_units: int
    computed: int
    reused: int
    seconds: float
    results: Path
    tables: tuple = ()
    figures: tuple = ()
    recomputed: tuple = ()


def _versions() -> dict:
    import matplotlib
    import scipy
    import sklearn
    import skimage

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


def _warn_corrupt(exc: CorruptUnit) -> None:
    warnings.warn(f"experiment store: {exc.path} {exc.reason}; recomputing it", CorruptUnitWarning, stacklevel=3)


def _stored_units(paths: list, identities: list) -> tuple[dict, list]:
    """The verified frames of the units already stored ({index: frame}) and the corrupt paths (warned)."""
    frames, corrupt = {}, []
    for i, (p, identity) in enumerate(zip(paths, identities)):
        if not p.exists():
            continue
        try:
            frames[i] = read_unit(p, identity)
        except CorruptUnit as exc:
            _warn_corrupt(exc)
            corrupt.append(p)
    return frames, corrupt


def _stored_arrays(path: Path, settings_key: str) -> bool:
    """Whether ``path`` holds whole arrays of these settings (a corrupt file is warned about)."""
    try:
        return read_arrays_if_whole(path, "__settings_key__", settings_key) is not None
    except CorruptUnit as exc:
        _warn_corrupt(exc)
        return False


def run_experiment(
    name: str,
    out,
    *,
    quick: bool = False,
    progress: bool = True,
    figures: bool = True,
    registry: Mapping | None = None,
    blas_threads: int | None = 1,
    executor=None,
    options: Mapping | None = None,
) -> RunReport:
    """Run experiment ``name`` into ``out``, reusing the units already stored there whole.

    Every stored unit is read and verified (:func:`limetheory.experiments.store.read_unit`) before
    anything is computed; one that cannot be read or does not verify is recomputed, with a
    :class:`CorruptUnitWarning` naming its file. Nothing under ``out/results`` is written until
    every unit of the run has been read back and verified and the tables are computed. Temporary
    files left by a killed run are removed first.

    Parameters
    ----------
    name : a registered experiment (see :func:`experiment_names`).
    out : output folder; ``out/units``, ``out/results`` and ``out/figures`` are created.
    quick : the small version (seconds) instead of the full one.
    progress : show a tqdm bar over the units.
    figures : also run the experiment's paper_figures scripts.
    blas_threads : BLAS threads while the experiment runs (None: leave as is). The default 1 is
        deliberate: the linear algebra here is small (d <= a few hundred) and repeated many times,
        where a multithreaded OpenBLAS fights over busy cores (``results/bench_explain_busy.md``
        times one such solve both ways).
    executor : where the units run: None (this process) or an executor of
        :func:`limetheory.experiments.executors.executor` (e.g. Dask workers). The stored results
        are the same bit for bit; on Dask a failing unit does not stop the others, and
        :class:`UnitsFailed` lists the failures after the others are stored.
    options : keyword arguments of the experiment's ``settings(quick, **options)`` (e.g.
        ``{"protocol": "paper"}`` for lime_vs_ig); part of the settings, so of every unit's key.
    """
    from tqdm import tqdm

    check_bool(quick, "quick")
    out = Path(out)
    exp = load_experiment(name, registry)
    _, figure_modules = _entry(name, registry)
    t0 = time.perf_counter()
    remove_stale_temporaries(out / "units" / name, out / "results", out / "figures")
    settings = exp.settings(bool(quick), **dict(options or {}))
    units = list(exp.units(settings))
    paths = [unit_path(out, name, exp.version, exp.key_settings(settings, u), u) for u in units]
    if len(set(paths)) != len(paths):
        raise ValueError(f"experiment {name}: two units have the same key; units must differ")
    identities = [unit_identity(name, exp.version, exp.key_settings(settings, u), u) for u in units]
    frames, corrupt = _stored_units(paths, identities)
    todo = [i for i in range(len(units)) if i not in frames]
    settings_key = unit_key(name, exp.version, settings, {})
    arrays_path = out / "results" / f"{name}.npz"
    need_arrays = exp.arrays is not None and not _stored_arrays(arrays_path, settings_key)

    module_name, _ = _entry(name, registry)
    runner = InProcess() if executor is None else executor
    with _blas_threads(blas_threads):
        context = functools.cache(lambda: exp.setup(settings))  # built once, only if needed here
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=name, unit="unit",
                   disable=not progress, leave=True)
        failed = {}
        try:
            for outcome in runner.run(module_name, settings, [units[i] for i in todo], context):
                i = todo[outcome.index]
                if outcome.error is not None:
                    failed[_label(units[i])] = outcome.error
                    continue
                write_unit(outcome.frame, paths[i], identities[i])
                frames[i] = read_unit(paths[i], identities[i])  # what a later run will reuse, verified
                bar.update(1)
        finally:
            bar.close()
        if failed:
            raise UnitsFailed(name, failed)
        arrays = None
        if need_arrays:
            arrays = dict(exp.arrays(context()))
            arrays["__settings_key__"] = np.array(settings_key)
        ordered = [frames[i] for i in range(len(units))]
        frame = pd.concat([f for f in ordered if len(f.columns)], ignore_index=True) if ordered else pd.DataFrame()
        tables = exp.tables(frame, settings) if exp.tables is not None else {}

    # every unit is verified and every table computed: only now is results/ written
    if arrays is not None:
        write_npz(arrays_path, arrays)
    results, table_files = _write_tables(out / "results", name, frame, tables)
    meta = {
        "name": name,
        "title": exp.title,
        "version": exp.version,
        "mode": "quick" if quick else "full",
        "settings": settings,
        "n_units": len(units),
        "computed": len(todo),
        "reused": len(units) - len(todo),
        "recomputed_corrupt": len(corrupt),
        "n_rows": int(len(frame)),
        "seconds": round(time.perf_counter() - t0, 3),
        "versions": _versions(),
    }
    write_text(out / "results" / f"{name}.json", _canonical_pretty(meta))
    figure_files = make_figures(name, out, registry=registry, modules=figure_modules) if figures else []
    return RunReport(name, len(units), len(todo), len(units) - len(todo), time.perf_counter() - t0, results,
                     table_files, tuple(figure_files), tuple(corrupt))


def _write_tables(folder: Path, name: str, frame: pd.DataFrame, tables: Mapping) -> tuple:
    """``name``.csv (every unit's rows) and ``name``_KEY.csv and .md for each table, in ``folder``.
    Returns (the rows' path, the tables' paths)."""
    results = write_csv(folder / f"{name}.csv", frame)
    table_files = []
    for key, table in tables.items():
        table_files.append(write_csv(folder / f"{name}_{key}.csv", table))
        table_files.append(write_text(folder / f"{name}_{key}.md", markdown_table(table)))
    return results, tuple(table_files)


def _canonical_pretty(obj) -> str:
    return json.dumps(json.loads(_canonical(obj)), indent=2, sort_keys=True) + "\n"


def make_figures(name: str, out, *, registry: Mapping | None = None, modules: Iterable[str] | None = None) -> list:
    """Run the paper_figures scripts of experiment ``name`` on ``out/results``; return the files written."""
    if modules is None:
        _, modules = _entry(name, registry)
    written = []
    for module_name in modules:
        mod = importlib.import_module(module_name)
        written.extend(mod.make(Path(out)))
    return written


def _names_list(names) -> list:
    """``names`` as a list of strings: a sequence of experiment names, never one string."""
    if isinstance(names, (str, bytes)):
        raise TypeError(f"names must be a list of experiment names, not one string: use [{names!r}]")
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"names must be a list of experiment names, got {type(names).__name__}") from None
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"names must be experiment names (strings), got {bad[0]!r}")
    return names


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
    workers: int | None = None,
    scheduler: str | None = None,
    options: Mapping | None = None,
) -> list:
    """Run several experiments (default: all registered, in registry order).

    ``on_error="raise"`` stops at the first failing experiment; ``"continue"`` runs the others
    and returns the exception in place of that experiment's :class:`RunReport`. ``options``:
    {experiment name: keyword arguments of its ``settings``} (see :func:`run_experiment`).
    ``workers=N`` runs the units on a local Dask cluster of N single-threaded worker processes,
    ``scheduler=ADDRESS`` on an existing Dask cluster (:func:`limetheory.experiments.executors.executor`);
    neither: in this process.
    """
    check_choice(on_error, "on_error", ("raise", "continue"))
    for flag, value in (("quick", quick), ("progress", progress), ("figures", figures)):
        check_bool(value, flag)
    names = experiment_names(registry) if names is None else _names_list(names)
    for n in names:
        _entry(n, registry)  # validate every name before running anything
    check_executor_arguments(workers, scheduler)
    reports = []
    with executor(workers, scheduler) as runner:
        for n in names:
            try:
                rep = run_experiment(n, out, quick=quick, progress=progress, figures=figures, registry=registry,
                                     blas_threads=blas_threads, executor=runner,
                                     options=(options or {}).get(n))
            except Exception as exc:
                if on_error == "raise":
                    raise
                reports.append(exc)
                if log:
                    log(f"{n}: FAILED: {type(exc).__name__}: {exc}")
                continue
            reports.append(rep)
            if log:
                log(f"{n}: {rep.computed} unit(s) computed, {rep.reused} reused"
                    + (f" ({len(rep.recomputed)} corrupt unit(s) recomputed)" if rep.recomputed else "")
                    + f", {rep.seconds:.1f} s -> {rep.results}"
                    + (f", {len(rep.figures)} figure file(s)" if rep.figures else ""))
    return reports
