"""Figure and table of experiment 3: LIME's error against n, on log-log axes.

Left and middle: ||beta_hat_n - beta^f||_2 / ||beta^f||_2 (root mean square over the runs, 10-90%
band) for the shape detector and the CNN, with lime's Bernoulli sampler and with
``sampler="weighted"``; the fitted slopes are in the legends. The dashed lines are not
fitted: they are the theory's root-mean-square error sqrt(trace V / n), V the exact asymptotic
covariance (:func:`limetheory.theory.exact_limit_covariance`).
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


SAMPLER_TITLES = {"bernoulli": "lime's sampler (Bernoulli z, weights pi)",
                  "weighted": "sampler='weighted' (z from the pi-weighted law)"}


def _rated_panel(ax, frame, slopes, s, sampler):
    """RMS error of LIME against n for the non-linear models, with the exact prediction dashed."""
    for m in [m for m in s["models"] if m != "linear"]:
        sub = frame[(frame["model"] == m) & (frame["sampler"] == sampler)]
        n, err = _errors(sub)
        sl = slopes.loc[(m, sampler)]
        plot_convergence(n, err, ax, color=COLORS[m], reference=False,
                         label=f"{LABELS[m]}: slope {sl['slope']:.3f} ± {sl['slope_se']:.3f}")
        predicted = sub.groupby("n")["predicted_rms"].first().loc[n].to_numpy() / sub["limit_norm"].iloc[0]
        ax.loglog(n, predicted, "--", color=COLORS[m], linewidth=1.2, alpha=0.8)
    ax.plot([], [], "k--", linewidth=1, label=r"theory: $\sqrt{\mathrm{tr}\,V / n}$ (exact $V$, no fitting)")
    ax.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2 \,/\, \|\beta^f\|_2$")
    d = int(frame["d"].iloc[0])
    ax.set_title(f"{SAMPLER_TITLES[sampler]}\nLIME (ridge 0) vs the exact limit (2^{d} images), d = {d}, "
                 f"{len(s['seeds'])} runs per n", fontsize=9)
    ax.legend(fontsize=7)
    if "cnn" not in s["models"]:
        ax.text(0.02, 0.02, "CNN skipped: digits-cnn weights not available", transform=ax.transAxes, fontsize=8)


def make(out) -> list:
    out = Path(out)
    frame = read_results(out, NAME)
    slopes = read_results(out, f"{NAME}_slopes").set_index(["model", "sampler"])
    s = read_meta(out, NAME)["settings"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3), gridspec_kw={"width_ratios": [1.4, 1.4, 1]})
    ax_b, ax_w, ax_lin = axes
    _rated_panel(ax_b, frame, slopes, s, "bernoulli")
    _rated_panel(ax_w, frame, slopes, s, "weighted")
    ax_w.set_ylim(ax_b.get_ylim())  # same scale: the weighted sampler's smaller error shows
    if "linear" in s["models"]:
        lin = frame[(frame["model"] == "linear") & (frame["sampler"] == "bernoulli")]
        n, err = _errors(lin, relative=False)
        ax_lin.loglog(n, err, "o", color=COLORS["linear"], ms=3, alpha=0.6)
        ax_lin.axhline(np.finfo(float).eps, color="0.5", linestyle=":", linewidth=1)
        ax_lin.text(n[0], np.finfo(float).eps * 1.3, "machine epsilon", fontsize=7, color="0.4")
        ax_lin.set_ylim(1e-17, 1e-1)
        ax_lin.set_xlabel("number of samples n")
        ax_lin.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2$")
        ax_lin.set_title("linear model (lime's sampler):\nexact at every n >= d + 1 (rounding only)", fontsize=9)
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
    table = slopes.reset_index()[["model", "sampler"] + [c for c in cols if c in slopes.columns]]
    paths.append(write_text(out / "figures" / "table_convergence.md", markdown_table(table)))
    return paths


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
