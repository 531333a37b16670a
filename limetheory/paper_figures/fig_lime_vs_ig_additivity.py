"""Figure of experiment 4: LIME departs from the IG sums where the response is not additive.

Reads ``out/results/lime_vs_ig.csv`` and writes ``figures/fig_lime_vs_ig_additivity.png`` / ``.pdf``,
sized for one column of a paper (3.3 inches wide). One point per image and network, under the
paper's protocol (probability of the top class):

- x: the non-additive share R of the response g(z) = f(x(z)) to switching superpixels off (the
  share of its pi-weighted variance that LIME's limit, the best affine function of z, leaves
  unexplained; 0 for a model without interactions between superpixels, where the limit equals the
  IG sums exactly);
- y: the gap ``J(LIME, LIME) - J(LIME, IG)`` of top-k Jaccard indices: how far LIME's agreement with
  the IG sums falls below its agreement with an independent LIME estimate (0: as close to the IG
  sums as LIME's sampling noise allows).

Colours and markers: the network families (:data:`limetheory.experiments.lime_vs_ig.FAMILIES`).
Black: the mean gap (± one standard error) over each fifth of the images ordered by R.
Spearman's rho of the gap with R over all points is in the title. The per-network numbers
are in ``results/full/results/lime_vs_ig_additivity.md``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from limetheory.experiments.lime_vs_ig import FAMILIES, paired_agreement

from ._common import figure_main, save_figure
from .fig_lime_vs_ig import FONT, WIDTH, read_rows

NAME = "lime_vs_ig"
STEM = "fig_lime_vs_ig_additivity"
#: Values of R below this are drawn at it on the log axis (an exactly additive response has R = 0).
FLOOR = 1e-4
#: One colour and marker per family, in FAMILIES order.
STYLES = (("tab:green", "s"), ("tab:purple", "^"), ("tab:red", "o"))
#: The black line: mean gap over each of this many equal-count groups of images ordered by R.
N_BINS = 5


def make(out) -> list:
    out = Path(out)
    frame, k, protocol = read_rows(out)
    rows = paired_agreement(frame[(frame["protocol"] == protocol) & (frame["output"] == "prob")], k)
    rows = rows[np.isfinite(rows["nonadditive_share"])]
    fig, ax = plt.subplots(figsize=(WIDTH, 2.4))
    for (family, members), (colour, marker) in zip(FAMILIES.items(), STYLES):
        part = rows[rows["model"].isin(members)]
        if part.empty:
            continue
        ax.scatter(np.clip(part["nonadditive_share"], FLOOR, None), part["gap"], s=12, marker=marker,
                   facecolors="none", edgecolors=colour, linewidths=0.8, alpha=0.8,
                   label=f"{family} ({len(part)})")
    ax.axhline(0, color="black", linewidth=0.6)
    if len(rows) >= 2 * N_BINS:
        r, gap = rows["nonadditive_share"].to_numpy(dtype=float), rows["gap"].to_numpy(dtype=float)
        bins = np.array_split(np.argsort(r, kind="stable"), N_BINS)
        centre = [np.median(r[b]) for b in bins]
        mean = [gap[b].mean() for b in bins]
        se = [gap[b].std(ddof=1) / np.sqrt(b.size) for b in bins]
        ax.errorbar(np.clip(centre, FLOOR, None), mean, yerr=se, color="black", linewidth=1.0, marker=".",
                    markersize=5, capsize=1.5, label=f"mean ± s.e. per {N_BINS}th of R")
        res = stats.spearmanr(r, gap)
        ax.set_title(f"Spearman rho = {res.statistic:.2f} (p = {res.pvalue:.1g}), {len(rows)} image-network pairs",
                     fontsize=FONT)
    ax.set_xscale("log")
    ax.set_xlim(FLOOR / 1.5, 1.5)
    ax.set_ylim(-0.55, 1.05)
    ax.set_xlabel("non-additive share R of the response g(z)", fontsize=FONT)
    ax.set_ylabel(f"J(LIME, LIME) $-$ J(LIME, IG), top-{k}", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=FONT, frameon=False, handletextpad=0.1, borderaxespad=0.2)
    return save_figure(fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
