"""Main figure of experiment 4 (the paper's Tables 1 and 2): does LIME rank the superpixels as the IG sums do?

Reads ``out/results/lime_vs_ig.csv`` and writes ``figures/fig_lime_vs_ig.png`` / ``.pdf``, sized for
one column of a paper (3.3 inches wide): for every network (grouped by family,
:data:`limetheory.experiments.lime_vs_ig.FAMILIES`), under the paper's protocol (its segmentation,
IG rule and positive top-k; the probability of the top class), the top-k Jaccard index of LIME (mean
of R runs) against the IG superpixel sums, beside the noise floor (the same LIME estimate against an
independent one: the most agreement that LIME's own sampling noise allows) and a random ranking
(chance). Markers: mean over the images; bars: one standard error. LIME agrees with the IG sums as
the paper claims where the first marker reaches the second.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from limetheory.experiments.lime_vs_ig import FAMILIES

from ._common import figure_main, read_meta, read_results, save_figure

NAME = "lime_vs_ig"
STEM = "fig_lime_vs_ig"
#: Column width of a two-column paper (inches) and the smallest font used.
WIDTH, FONT = 3.3, 7
#: What is drawn, in legend order: (comparison, label, marker, face, edge colour).
SERIES = (
    ("lime_vs_ig", "LIME vs IG sums", "o", "tab:blue", "tab:blue"),
    ("lime_vs_lime", "LIME vs LIME", "D", "white", "black"),
    ("lime_vs_random", "LIME vs random", "|", "0.45", "0.45"),
)


def agreement_by_network(frame: pd.DataFrame, protocol: str, output: str, k: int) -> pd.DataFrame:
    """Mean and standard error over images of the top-``k`` Jaccard of every comparison of
    :data:`SERIES`, per network: columns ``model, comparison, mean, se, n_images``."""
    col = f"jaccard_top{k}"
    sub = frame[(frame["protocol"] == protocol) & (frame["output"] == output)]
    rows = []
    for (model, comp), g in sub.groupby(["model", "comparison"], sort=False):
        v = g[col].dropna().to_numpy(dtype=float)
        if v.size:
            se = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan
            rows.append({"model": model, "comparison": comp, "mean": v.mean(), "se": se, "n_images": v.size})
    return pd.DataFrame(rows, columns=["model", "comparison", "mean", "se", "n_images"])


def network_layout(models_present) -> tuple:
    """y positions (top to bottom) of the networks, a gap between families; family label positions."""
    y, ys, labels = 0.0, {}, []
    for family, members in FAMILIES.items():
        here = [m for m in members if m in models_present]
        if not here:
            continue
        labels.append((family, y - 0.1))
        y -= 0.9
        for m in here:
            ys[m] = y
            y -= 1.0
        y -= 0.3
    others = [m for m in models_present if m not in ys]
    for m in others:
        ys[m] = y
        y -= 1.0
    return ys, labels, y


def label_networks(ax, ticks: dict, family_labels, bottom: float, xlabel: str) -> None:
    """The y axis of :func:`network_layout`: ``ticks`` {network: (y, label)}, the family names in
    bold left of the axis, the limits, the x label and a light vertical grid."""
    ax.set_yticks([y for y, _ in ticks.values()], [label for _, label in ticks.values()], fontsize=FONT)
    for family, y in family_labels:
        ax.text(-0.02, y, family, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=FONT,
                fontweight="bold")
    ax.set_ylim(bottom + 0.4, 0.3)
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)


def read_rows(out) -> tuple:
    """The experiment's rows, the k the figures show (the settings' first) and their protocol
    (the paper's, or the first one run)."""
    frame = read_results(out, NAME)
    k = int(read_meta(out, NAME)["settings"]["ks"][0])
    protocol = "paper" if "paper" in set(frame["protocol"]) else str(frame["protocol"].iloc[0])
    return frame, k, protocol


def make(out) -> list:
    out = Path(out)
    frame, k, protocol = read_rows(out)
    table = agreement_by_network(frame, protocol, "prob", k)
    models = list(dict.fromkeys(table["model"]))
    ys, family_labels, bottom = network_layout(models)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.2 * (-bottom) + 0.75))
    offsets = {"lime_vs_ig": 0.14, "lime_vs_lime": -0.14, "lime_vs_random": 0.0}
    for comp, label, marker, face, edge in SERIES:
        part = table[table["comparison"] == comp].set_index("model")
        y = np.array([ys[m] + offsets[comp] for m in part.index])
        x, err = part["mean"].to_numpy(), np.nan_to_num(part["se"].to_numpy())
        if comp != "lime_vs_random":
            ax.errorbar(x, y, xerr=err, fmt="none", ecolor=edge, elinewidth=0.8, capsize=1.5, zorder=2)
        style = {"facecolors": face, "edgecolors": edge} if marker != "|" else {"color": face}
        ax.scatter(x, y, marker=marker, s=16 if marker != "|" else 40, linewidths=0.8 if marker != "|" else 1.2,
                   zorder=3, label=label, **style)
    n_img = table.groupby("model")["n_images"].max()
    label_networks(ax, {m: (ys[m], f"{m} ({int(n_img[m])})") for m in models}, family_labels, bottom,
                   f"top-{k} Jaccard index, {protocol} protocol (mean ± s.e.)")
    ax.set_xlim(-0.02, 1.02)
    ax.legend(loc="lower center", bbox_to_anchor=(0.4, 1.0), ncol=3, fontsize=FONT, frameon=False,
              handletextpad=0.2, columnspacing=0.8)
    return save_figure(fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
