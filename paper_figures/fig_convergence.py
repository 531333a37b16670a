"""Figure and table of experiment 3: LIME's error against n, on log-log axes.

Left: ||beta_hat_n - beta^f||_2 / ||beta^f||_2 (root mean square over the runs, 10-90% band) for
the shape detector and the CNN; the fitted slopes are in the legend. The dashed lines are not
fitted: they are the theory's root-mean-square error sqrt(trace V / n), V the exact asymptotic
covariance (:func:`limetheory.theory.exact_limit_covariance`).
Right: the linear model, whose error is rounding error at every n (exact recovery).
Also writes the slopes table as ``figures/table_convergence.md``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from limetheory.plotting import plot_convergence  # noqa: E402

from ._common import figure_main, read_meta, read_results, save_figure  # noqa: E402

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


def make(out) -> list:
    out = Path(out)
    frame = read_results(out, NAME)
    slopes = read_results(out, f"{NAME}_slopes").set_index("model")
    s = read_meta(out, NAME)["settings"]
    fig, (ax, ax_lin) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    rated = [m for m in s["models"] if m != "linear"]
    for m in rated:
        sub = frame[frame["model"] == m]
        n, err = _errors(sub)
        sl = slopes.loc[m]
        plot_convergence(n, err, ax, color=COLORS[m], reference=False,
                         label=f"{LABELS[m]}: slope {sl['slope']:.3f} ± {sl['slope_se']:.3f}")
        if "predicted_rms" in sub:
            predicted = sub.groupby("n")["predicted_rms"].first().loc[n].to_numpy() / sub["limit_norm"].iloc[0]
            ax.loglog(n, predicted, "--", color=COLORS[m], linewidth=1.2, alpha=0.8)
    ax.plot([], [], "k--", linewidth=1, label=r"theory: $\sqrt{\mathrm{tr}\,V / n}$ (exact $V$, no fitting)")
    ax.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2 \,/\, \|\beta^f\|_2$")
    d = int(frame["d"].iloc[0])
    ax.set_title(f"LIME (ridge 0) vs the exact limit (enumeration of 2^{d} images), d = {d}, "
                 f"{len(s['seeds'])} runs per n", fontsize=9)
    ax.legend(fontsize=8)
    if "cnn" not in s["models"]:
        ax.text(0.02, 0.02, "CNN skipped: digits-cnn weights not available", transform=ax.transAxes, fontsize=8)
    if "linear" in s["models"]:
        n, err = _errors(frame[frame["model"] == "linear"], relative=False)
        ax_lin.loglog(n, err, "o", color=COLORS["linear"], ms=3, alpha=0.6)
        ax_lin.axhline(np.finfo(float).eps, color="0.5", linestyle=":", linewidth=1)
        ax_lin.text(n[0], np.finfo(float).eps * 1.3, "machine epsilon", fontsize=7, color="0.4")
        ax_lin.set_ylim(1e-17, 1e-1)
        ax_lin.set_xlabel("number of samples n")
        ax_lin.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2$")
        ax_lin.set_title("linear model: exact at every n >= d + 1 (rounding only)", fontsize=9)
    else:
        ax_lin.set_axis_off()
    from matplotlib.ticker import NullFormatter

    ticks = sorted(frame["n"].unique())
    for a in (ax, ax_lin):
        a.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=7)
        a.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    paths = save_figure(fig, out, STEM)
    # the slopes table next to the figure, for the README
    from experiments._runner import _write_text, markdown_table

    cols = ["d", "n_min", "n_max", "runs", "slope", "slope_se", "ci_low", "ci_high", "rms_err_at_n_min",
            "rms_err_at_n_max", "rms_over_predicted", "se_over_predicted", "coverage_95", "note"]
    table = slopes.reset_index()[["model"] + [c for c in cols if c in slopes.columns]]
    paths.append(_write_text(out / "figures" / "table_convergence.md", markdown_table(table)))
    return paths


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
