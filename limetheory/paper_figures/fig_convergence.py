"""Figure and table of experiment 3: LIME's error against n, on log-log axes, by sampling design.

Left and middle: ||beta_hat_n - beta^f||_2 / ||beta^f||_2 (root mean square over the runs, 10-90%
band) for the shape detector and the CNN, one colour per design of ``explain(..., design=...)``
(iid, paired, stratified, weighted), the fitted slopes in the legends. The dashed lines are not
fitted: they are each design's theoretical root-mean-square error sqrt(trace V / n), V its exact
asymptotic covariance (:func:`limetheory.theory.exact_limit_covariance` with ``design=``).
Right: the linear model, whose error is rounding error at every n (exact recovery).
Also writes the slopes table as ``figures/table_convergence.md``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from limetheory.files import markdown_table, write_text
from limetheory.plotting import plot_convergence

from ._common import figure_main, read_meta, read_results, save_figure

NAME = "convergence"
STEM = "fig_convergence"
LABELS = {"shape": "shape detector", "linear": "linear model", "cnn": "digits CNN (class probability)"}
COLORS = {"shape": "tab:blue", "linear": "tab:green", "cnn": "tab:red"}


def _errors(sub, column="err", relative=True):
    wide = sub.pivot(index="n", columns="seed", values=column).sort_index()
    err = wide.to_numpy()
    if relative:
        err = err / sub["limit_norm"].iloc[0]
    return wide.index.to_numpy(), err


DESIGN_COLORS = {"iid": "tab:blue", "paired": "tab:orange", "stratified": "tab:green", "weighted": "tab:purple"}
DESIGN_LABELS = {"iid": "iid (lime)", "paired": "paired (z, 1 - z)", "stratified": "stratified by |z|",
                 "weighted": "weighted (z ~ pi)"}


def _model_panel(ax, frame, slopes, s, model):
    """RMS error of LIME against n for one model, one curve per design, each design's theory dashed."""
    for design in s["designs"]:
        sub = frame[(frame["model"] == model) & (frame["design"] == design)]
        n, err = _errors(sub)
        sl = slopes.loc[(model, design)]
        plot_convergence(n, err, ax, color=DESIGN_COLORS[design], reference=False, band=False,
                         label=f"{DESIGN_LABELS[design]}: slope {sl['slope']:.2f}")
        predicted = sub.groupby("n")["predicted_rms"].first().loc[n].to_numpy() / sub["limit_norm"].iloc[0]
        ax.loglog(n, predicted, "--", color=DESIGN_COLORS[design], linewidth=1.2, alpha=0.9)
    ax.plot([], [], "k--", linewidth=1, label=r"theory: $\sqrt{\mathrm{tr}\,V / n}$ (exact $V$, no fitting)")
    ax.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2 \,/\, \|\beta^f\|_2$")
    d = int(frame["d"].iloc[0])
    ax.set_title(f"{LABELS[model]}: LIME (ridge 0) vs the exact limit\n(2^{d} images), d = {d}, "
                 f"{len(s['seeds'])} runs per n and design", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")


def make(out) -> list:
    out = Path(out)
    frame = read_results(out, NAME)
    slopes = read_results(out, f"{NAME}_slopes").set_index(["model", "design"])
    s = read_meta(out, NAME)["settings"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1.4, 1.4, 1]})
    ax_shape, ax_cnn, ax_lin = axes
    _model_panel(ax_shape, frame, slopes, s, "shape")
    if "cnn" in s["models"]:
        _model_panel(ax_cnn, frame, slopes, s, "cnn")
    else:
        ax_cnn.set_axis_off()
        ax_cnn.text(0.5, 0.5, "CNN skipped: digits-cnn weights not available", ha="center", fontsize=9,
                    transform=ax_cnn.transAxes)
    if "linear" in s["models"]:
        lin = frame[(frame["model"] == "linear") & (frame["design"] == s["designs"][0])]
        n, err = _errors(lin, relative=False)
        ax_lin.loglog(n, err, "o", color=COLORS["linear"], ms=3, alpha=0.6)
        ax_lin.axhline(np.finfo(float).eps, color="0.5", linestyle=":", linewidth=1)
        ax_lin.text(n[0], np.finfo(float).eps * 1.3, "machine epsilon", fontsize=7, color="0.4")
        ax_lin.set_ylim(1e-17, 1e-1)
        ax_lin.set_xlabel("number of samples n")
        ax_lin.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2$")
        ax_lin.set_title("linear model (iid design):\nexact at every n >= d + 1 (rounding only)", fontsize=9)
    else:
        ax_lin.set_axis_off()
    ticks = sorted(frame["n"].unique())
    for a in axes:
        a.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=7)
        a.xaxis.set_minor_formatter(NullFormatter())
    paths = save_figure(fig, out, STEM)
    # the slopes table next to the figure, for the README
    cols = ["d", "n_min", "n_max", "runs", "slope", "slope_se", "ci_low", "ci_high", "rms_err_at_n_min",
            "rms_err_at_n_max", "rms_over_predicted", "se_over_predicted", "coverage_95", "note"]
    table = slopes.reset_index()[["model", "design"] + [c for c in cols if c in slopes.columns]]
    paths.append(write_text(out / "figures" / "table_convergence.md", markdown_table(table)))
    return paths


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
