"""Figure of experiment 1 (the paper's Figure 3): LIME's runs on a shape detector vs the limit.

Left: the digit, its quickshift superpixels (indices in red: E_-, the superpixels whose removal
destroys the shape) and the shape S (red outline). Right: box plots of LIME's coefficients over
the runs (lime's default ridge, lambda = 1) per superpixel, with the closed-form limit in red.
"""
from __future__ import annotations

from limetheory.plotting import plot_coefficient_boxes, plot_superpixels

from ._common import figure_main, lime_runs_layout, save_figure

NAME = "shape_detector"
STEM = "fig_shape_detector"


def make(out) -> list:
    lay = lime_runs_layout(out, NAME, width_ratios=(1, 2.3), figsize=(10, 3.6))
    arr, s, limit = lay.arrays, lay.settings, lay.limit
    ax_img, ax_box = lay.axes
    plot_superpixels(arr["image"], arr["segments"], ax_img, shape_mask=arr["shape_mask"], highlight=arr["e_minus"],
                     title=f"digit, quickshift (kernel_size=1): d = {lay.coefs.shape[1]}\n"
                           "shape S (red outline), E_- in red")
    plot_coefficient_boxes(lay.coefs, limit, ax_box, highlight=arr["e_minus"], spread=arr.get("exact_sd"),
                           spread_label="95% band of one run around the limit (exact, ridge 0)", runs_label=lay.runs_label,
                           title=f"shape detector (tau = {s['tau']:g}, hide colour {s['hide_color']:g}, "
                                 f"kernel width {s['kernel_width']:g}): LIME vs closed form")
    e_minus = arr["e_minus"].astype(bool)
    ax_box.text(0.99, 0.55, f"limit: {limit[e_minus][0]:.4f} on each of the p = {int(e_minus.sum())} "
                f"superpixels of E_-,\n{limit[~e_minus][0]:.4f} on the {int((~e_minus).sum())} others "
                f"(intercept {arr['limit'][0]:.4f})", transform=ax_box.transAxes, ha="right", va="center",
                fontsize=8)
    return save_figure(lay.fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
