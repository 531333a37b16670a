"""Helpers shared by the figure scripts: read results, save PNG + PDF atomically, a tiny CLI."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from limetheory.files import atomic_write

__all__ = ["LimeRunsLayout", "figure_main", "lime_runs_layout", "read_arrays", "read_meta", "read_results",
           "runs_matrix", "save_figure"]

#: Resolution of the PNG files.
DPI = 150


def _results_file(out, name: str, suffix: str) -> Path:
    path = Path(out) / "results" / f"{name}{suffix}"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the experiment first "
                                f"(`limetheory reproduce --only NAME --out {out}`)")
    return path


def read_results(out, name: str) -> pd.DataFrame:
    """The tidy rows ``out/results/<name>.csv`` (``name`` may be ``<experiment>_<table>``)."""
    return pd.read_csv(_results_file(out, name, ".csv"))


def read_meta(out, name: str) -> dict:
    """The run's metadata ``out/results/<name>.json`` (settings, mode, versions)."""
    return json.loads(_results_file(out, name, ".json").read_text())


def read_arrays(out, name: str) -> dict:
    """The arrays ``out/results/<name>.npz`` saved for the figures."""
    with np.load(_results_file(out, name, ".npz"), allow_pickle=False) as f:
        return {k: f[k] for k in f.files if not k.startswith("__")}


def save_figure(fig, out, stem: str, rect=None) -> list:
    """Lay ``fig`` out tightly (within ``rect``, default the whole figure), save it as
    ``out/figures/<stem>.png`` and ``.pdf`` (atomically), close it; return the paths."""
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=rect)
    paths = []
    for ext, kw in (("png", {"dpi": DPI}), ("pdf", {"metadata": {"CreationDate": None}})):
        path = Path(out) / "figures" / f"{stem}.{ext}"
        atomic_write(path, lambda tmp, ext=ext, kw=kw: fig.savefig(tmp, format=ext, bbox_inches="tight", **kw))
        paths.append(path)
    plt.close(fig)
    return paths


def figure_main(make, argv=None, description: str | None = None) -> int:
    """``python -m limetheory.paper_figures.fig_x --out DIR``: run ``make(DIR)`` and print the files written.

    A script draws off screen: the backend is set to Agg here, when run, never when a module is imported.
    """
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default="results/full", help="folder holding results/ (default results/full)")
    args = parser.parse_args(argv)
    for path in make(Path(args.out)):
        print(path)
    return 0


def runs_matrix(frame: pd.DataFrame, ridge: float) -> tuple:
    """(coefs (n_runs, d), limit (d,)) of the rows with this ``ridge``, runs ordered by seed."""
    sub = frame[frame["ridge"] == ridge]
    wide = sub.pivot(index="seed", columns="superpixel", values="coef").sort_index()
    limit = sub.groupby("superpixel")["limit"].first().reindex(wide.columns).to_numpy()
    return wide.to_numpy(), limit


@dataclass(frozen=True, eq=False)
class LimeRunsLayout:
    """What the figures of experiments 1 and 2 start from (:func:`lime_runs_layout`)."""

    frame: pd.DataFrame
    arrays: dict
    settings: dict
    coefs: np.ndarray  # (runs, d) at the settings' ridge, runs ordered by seed
    limit: np.ndarray  # (d,)
    fig: object
    axes: tuple  # one row of panels, the last for the box plot

    @property
    def runs_label(self) -> str:
        s = self.settings
        return f"LIME, {self.coefs.shape[0]} runs (n = {s['n_samples']}, ridge = {s['ridge']:g})"


def lime_runs_layout(out, name: str, width_ratios, figsize) -> LimeRunsLayout:
    """Experiment ``name``'s rows, arrays and settings, its runs at the settings' ridge
    (:func:`runs_matrix`), and one row of ``len(width_ratios)`` panels."""
    import matplotlib.pyplot as plt

    frame = read_results(out, name)
    settings = read_meta(out, name)["settings"]
    coefs, limit = runs_matrix(frame, settings["ridge"])
    fig, axes = plt.subplots(1, len(width_ratios), figsize=figsize, gridspec_kw={"width_ratios": list(width_ratios)})
    return LimeRunsLayout(frame, read_arrays(out, name), settings, coefs, limit, fig, tuple(axes))
