"""Figure of experiment 4's companion (``lime_ig_decomposition``): how far LIME's limit is from the
IG sums through each of the two parts of

    LIME limit - IG sums = (LIME limit - Shapley) [interactions] + (Shapley - IG sums) [path].

Reads ``out/results/lime_ig_decomposition_images.csv`` and writes
``figures/fig_lime_ig_decomposition.png`` / ``.pdf`` (one paper column, 3.3 inches wide): per
network (grouped by family as in experiment 4's figure), the size of each part, its Euclidean norm
over the superpixels divided by that of the Shapley value (debiased where estimated; see
:func:`limetheory.experiments.lime_ig_decomposition.image_summary`); markers: mean over images,
bars: one standard error over images. Open markers: networks whose images were all decomposed
exactly; filled: some were estimated (d > the settings' ``d_exact``).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from limetheory.experiments.lime_ig_decomposition import network_summary

from ._common import figure_main, read_results, save_figure
from .fig_lime_vs_ig import FONT, WIDTH, label_networks, network_layout

NAME = "lime_ig_decomposition"
STEM = "fig_lime_ig_decomposition"
#: (column, label, marker, colour, vertical offset).
SERIES = (
    ("interactions_rel", "interactions: LIME limit − Shapley", "o", "tab:orange", 0.14),
    ("path_rel", "path: Shapley − IG sums", "s", "tab:blue", -0.14),
)


def make(out) -> list:
    from matplotlib.lines import Line2D

    out = Path(out)
    summary = network_summary(read_results(out, f"{NAME}_images"))
    models = list(summary["model"])
    ys, family_labels, bottom = network_layout(models)
    table = summary.set_index("model").loc[models]
    exact = (table["exact_images"] == table["images"]).to_numpy()
    fig, ax = plt.subplots(figsize=(WIDTH, 0.2 * (-bottom) + 0.8))
    handles = []
    for col, label, marker, colour, offset in SERIES:
        y = np.array([ys[m] + offset for m in models])
        x, err = table[col].to_numpy(), np.nan_to_num(table[f"{col}_se"].to_numpy())
        ax.errorbar(x, y, xerr=err, fmt="none", ecolor=colour, elinewidth=0.8, capsize=1.5, zorder=2)
        ax.scatter(x[exact], y[exact], marker=marker, s=16, facecolors="white", edgecolors=colour, linewidths=0.9,
                   zorder=3)
        ax.scatter(x[~exact], y[~exact], marker=marker, s=16, color=colour, zorder=3)
        handles.append(Line2D([], [], marker=marker, color=colour, linestyle="none", markersize=4, label=label))
    handles.append(Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="0.3", linestyle="none",
                          markersize=4, label="open: every image exact"))
    ticks = {m: (ys[m], f"{m} ({int(table.loc[m, 'images'])})") for m in models}
    label_networks(ax, ticks, family_labels, bottom, "||part|| / ||Shapley||, mean ± s.e. over images")
    ax.set_xlim(left=0, right=1.08 * float(np.nanmax(table[[c for c, *_ in SERIES]].to_numpy()
                                                      + table[[f"{c}_se" for c, *_ in SERIES]].fillna(0).to_numpy())))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.3, 1.0), ncol=1, fontsize=FONT, frameon=False,
              handletextpad=0.2)
    return save_figure(fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
