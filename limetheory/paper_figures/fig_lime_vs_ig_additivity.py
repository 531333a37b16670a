"""Figure of experiment 4: why LIME and the IG sums disagree (docs/theory/lime_and_ig.md).

Reads ``out/results/lime_vs_ig.csv`` and writes ``figures/fig_lime_vs_ig_additivity.png`` / ``.pdf``:
for every image and network, the top-5 Jaccard index of LIME (mean of R runs) against the IG
superpixel sums (one point per image), against

- left: the non-additive share R of the response g(z) = f(x(z)) (the share of its pi-weighted
  variance that LIME's limit, the best affine function of z, leaves unexplained; 0 for a model
  without interactions between superpixels, where the limit equals the IG sums exactly);
- right: the path curvature, the relative completeness gap of the one-point midpoint rule along
  the IG path (0 for an f linear between xi_bar and xi).

One row per protocol (the paper's; the corrected one). Colours: networks; filled markers the
probability, open ones the logit. Dashed lines: each network's median noise floor (two
independent LIME estimates, ``lime_vs_lime``); Spearman's rho of the Jaccard with the x-axis over
all points of the panel is printed in the corner.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from limetheory.experiments.lime_vs_ig import MODEL_ORDER  # noqa: E402

from ._common import figure_main, read_meta, read_results, save_figure  # noqa: E402

NAME = "lime_vs_ig"
STEM = "fig_lime_vs_ig_additivity"
#: One colour per network of the experiment (the ten strong shades of tab20, then its light ones).
COLOURS = dict(zip(MODEL_ORDER, plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2]))
#: Values below this are drawn at it on the log axes (an exactly additive response has R = 0).
FLOOR = 1e-6
X_AXES = (("nonadditive_share", "non-additive share R of g(z) = f(x(z))"),
          ("path_curvature", "path curvature: relative gap of the 1-point midpoint rule"))


def _panel(ax, rows, floors, column: str, label: str, k: int):
    col = f"jaccard_top{k}"
    for model, g in rows.groupby("model", sort=False):
        colour = COLOURS.get(model, "tab:gray")
        for output, h in g.groupby("output", sort=False):
            x = np.clip(h[column].to_numpy(dtype=float), FLOOR, None)
            face = colour if output == "prob" else "none"
            ax.scatter(x, h[col], s=18, facecolors=face, edgecolors=colour, linewidths=0.8, alpha=0.8,
                       label=f"{model} ({output})")
        if model in floors:
            ax.axhline(floors[model], color=colour, linestyle="--", linewidth=0.9)
    ok = rows[[column, col]].replace(np.inf, np.nan).dropna()
    if len(ok) > 2:
        rho = stats.spearmanr(ok[column], ok[col]).statistic
        ax.text(0.98, 0.03, f"Spearman rho = {rho:.2f} ({len(ok)} points)", transform=ax.transAxes, ha="right",
                fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(label, fontsize=8)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)


def make(out) -> list:
    out = Path(out)
    meta = read_meta(out, NAME)
    frame = read_results(out, NAME)
    k = int(meta["settings"]["ks"][0])
    protocols = [p for p in ("paper", "corrected") if p in set(frame["protocol"])]
    n_series = frame[["model", "output"]].drop_duplicates().shape[0]
    legend_rows = -(-n_series // 6)  # six legend entries per row, under the panels
    height = 3.8 * len(protocols) + 0.22 * legend_rows
    fig, axes = plt.subplots(len(protocols), 2, figsize=(11, height), squeeze=False)
    for r, protocol in enumerate(protocols):
        sub = frame[frame["protocol"] == protocol]
        rows = sub[sub["comparison"] == "lime_vs_ig"]
        floors = sub[sub["comparison"] == "lime_vs_lime"].groupby("model")[f"jaccard_top{k}"].median().to_dict()
        for c, (column, label) in enumerate(X_AXES):
            ax = axes[r, c]
            _panel(ax, rows, floors, column, label, k)
            ax.set_title(f"{protocol} protocol", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"top-{k} Jaccard, LIME vs IG sums", fontsize=8)
    legend = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels, handles = list(legend), list(legend.values())
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
    fig.suptitle(f"LIME against the IG sums, per image: where the response to switching superpixels off is "
                 f"additive and f straight along the path, and where not ({meta['mode']} run; dashed: median "
                 f"LIME-vs-LIME noise floor)", fontsize=9)
    return save_figure(fig, out, STEM, rect=(0, (0.35 + 0.22 * legend_rows) / height, 1, 0.96))


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
