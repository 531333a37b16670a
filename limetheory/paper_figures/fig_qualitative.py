"""Figure of experiment 6: LIME, its limit and the IG superpixel sums on real photos, side by side.

One row per photo (EfficientNet-Lite0, probability of its top class). Columns: the photo and the
class explained; the top-5 superpixels of one LIME run (n = 1000, lime's defaults); of the limit
explanation (ridge 0, n -> infinity; estimated by LIME with ridge 0 and n = 20000); of integrated
gradients summed over the
superpixels (baseline: LIME's replacement image); and every superpixel's LIME coefficient and
limit coefficient against its IG sum, with the line y = x (docs/theory/lime_and_ig.md: beta_j ~ sum IG_j,
in the same units). Top superpixels keep their colours and carry their rank; the rest is greyed.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from limetheory.plotting import plot_top_superpixels
from limetheory.metrics import jaccard_topk

from ._common import figure_main, read_arrays, read_meta, read_results, save_figure

NAME = "qualitative"
STEM = "fig_qualitative"


def _scatter(ax, sub, k):
    ig, lim, lime = (sub[c].to_numpy() for c in ("ig", "limit", "lime"))
    lo = min(ig.min(), lim.min(), lime.min())
    hi = max(ig.max(), lim.max(), lime.max())
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", linewidth=0.8, linestyle="--", label="y = x")
    ax.axhline(0, color="0.85", linewidth=0.6, zorder=0)
    ax.axvline(0, color="0.85", linewidth=0.6, zorder=0)
    ax.scatter(ig, lime, s=12, facecolors="none", edgecolors="tab:blue", linewidths=0.8, label="LIME (one run)")
    ax.scatter(ig, lim, s=12, color="tab:red", label="limit")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("IG summed over the superpixel", fontsize=8)
    ax.set_ylabel("coefficient", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6.5, loc="upper left")


def make(out) -> list:
    out = Path(out)
    frame = read_results(out, NAME)
    arr = read_arrays(out, NAME)
    s = read_meta(out, NAME)["settings"]
    k = int(s["k"])
    photos = [p for p in s["photos"] if (frame["photo"] == p).any()]
    fig, axes = plt.subplots(len(photos), 5, figsize=(14.5, 2.95 * len(photos)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.05]})
    for r, name in enumerate(photos):
        sub = frame[frame["photo"] == name].sort_values("superpixel")
        image, segments = arr[f"image_{name}"], arr[f"segments_{name}"]
        d = int(sub["d"].iloc[0])
        kk = min(k, d - 1)
        lime, lim, ig = (sub[c].to_numpy() for c in ("lime", "limit", "ig"))
        halves = jaccard_topk(sub["limit_half1"].to_numpy(), sub["limit_half2"].to_numpy(), kk)
        ax = axes[r, 0]
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title(f"{name}: {sub['target_name'].iloc[0]}\np = {sub['prob_target'].iloc[0]:.3f}, "
                     f"d = {d} superpixels", fontsize=9)
        plot_top_superpixels(axes[r, 1], image, segments, lime, kk,
                             title=f"LIME, n = {s['n_samples']} (one run)\n"
                                   f"Jaccard top-{kk} with limit: {jaccard_topk(lime, lim, kk):.2f}")
        plot_top_superpixels(axes[r, 2], image, segments, lim, kk, color=(1.0, 0.35, 0.35),
                             title=f"limit (LIME, ridge 0, n = {s['n_limit']})\n"
                                   f"two halves agree on top-{kk}: {halves:.2f}")
        plot_top_superpixels(axes[r, 3], image, segments, ig, kk, color=(1.0, 0.75, 0.1),
                             title=f"IG sums, {s['ig']['n_steps']}-pt Gauss-Legendre\n"
                                   f"Jaccard top-{kk}: {jaccard_topk(ig, lim, kk):.2f} with limit, "
                                   f"{jaccard_topk(ig, lime, kk):.2f} with LIME")
        _scatter(axes[r, 4], sub, kk)
        axes[r, 4].set_title(f"per superpixel (IG completeness gap {100 * sub['ig_rel_gap'].iloc[0]:.1f}%)",
                             fontsize=9)
    fig.suptitle(f"EfficientNet-Lite0, probability of the top class: top-{k} superpixels of LIME, of its limit "
                 f"(ridge 0, n large) and of integrated gradients summed over superpixels (baseline: LIME's "
                 f"replacement image)", fontsize=10)
    return save_figure(fig, out, STEM, rect=(0, 0, 1, 0.985 if len(photos) > 2 else 0.95))


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
