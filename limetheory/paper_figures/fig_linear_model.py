"""Figure of experiment 2 (the paper's Figure 4): LIME's runs on a linear model vs the closed form.

Left: the digit and its superpixels. Middle: the weights lambda of the linear model (a class
template). Right: box plots of LIME's coefficients over the runs (lime's default ridge,
lambda = 1) per superpixel, with the closed form beta_j = sum_{u in J_j} lambda_u (xi_u - xi_bar_u)
in red.
"""
from __future__ import annotations

from limetheory.plotting import plot_coefficient_boxes, plot_superpixel_values, plot_superpixels

from ._common import figure_main, lime_runs_layout, runs_matrix, save_figure

NAME = "linear_model"
STEM = "fig_linear_model"


def make(out) -> list:
    lay = lime_runs_layout(out, NAME, width_ratios=(1, 1.15, 2.3), figsize=(13, 3.6))
    arr, s, coefs, limit, axes = lay.arrays, lay.settings, lay.coefs, lay.limit, lay.axes
    plot_superpixels(arr["image"], arr["segments"], axes[0],
                     title=f"digit, quickshift (kernel_size=1): d = {coefs.shape[1]}")
    plot_superpixel_values(arr["weights"], arr["segments"], axes[1], label=r"$\lambda_u$",
                           title="weights of the linear model\n(class template, f(xi) - f(0) = 1)")
    wls, _ = runs_matrix(lay.frame, 0.0)
    gap = abs(wls - limit).max()
    plot_coefficient_boxes(coefs, limit, axes[2], runs_label=lay.runs_label,
                           title=f"linear model (hide colour {s['hide_color']:g}): LIME vs closed form")
    gap_ridge = abs(coefs - limit).max()
    axes[2].text(0.99, 0.02, f"max |LIME - closed form| over runs and superpixels:\n"
                 f"ridge {s['ridge']:g}: {gap_ridge:.1e} (ridge shrinkage);  least squares (ridge 0): {gap:.1e}",
                 transform=axes[2].transAxes, ha="right", va="bottom", fontsize=7)
    return save_figure(lay.fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
