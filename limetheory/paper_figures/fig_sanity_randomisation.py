"""Figures of the model randomisation sanity check: similarity of each method's explanation of the
trained network to that of the randomised network, against the layers randomised.

``fig_sanity_randomisation`` (the main figure, a paper's text width): cascading randomisation on
:data:`MAIN_NETS` (those the run holds), Spearman's rho of the signed values (top row) and of the
absolute values (bottom row), for :data:`MAIN_METHODS` (the LIME limit at lime's kernel width,
Shapley, occlusion, the IG sums, one sampled lime run and the random ranking; the wide-kernel limit
and Banzhaf follow Shapley and occlusion closely, see the full figure).

``fig_sanity_randomisation_all`` (every network and method): one row per network: cascading randomisation (top layer first) with Spearman's rho of the
signed values (first column) and of the absolute values (second column); each layer alone (third
column, absolute values). x: the layer randomised at that step (cascading: that layer and every one above
it); y: the similarity (mean over images of the mean over seeds, error bars:
one standard error); one line per method; the grey band is the null of the exact LIME limit
(two independently randomised networks, mean +- 2 se) and the markers at "null" each method's null.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ._common import figure_main, read_meta, read_results, save_figure

NAME = "sanity_randomisation"
STEM = "fig_sanity_randomisation"
#: The networks of the main figure, when the run has them: the two small CNNs and a Table 1 network per dataset.
MAIN_NETS = ("digits-cnn", "shapes-cnn", "digits-vgg1", "shapes32-vgg1")
MAIN_METHODS = ("limit_0.25", "shapley", "occlusion", "ig", "sampled", "random")
#: The rows of panels: (mode, similarity metric, its label).
ROWS = (("cascading", "spearman", "Spearman (signed)"), ("cascading", "spearman_abs", "Spearman of |values|"),
        ("independent", "spearman_abs", "Spearman of |values|"))

#: (colour, line style, marker) per method.
STYLES = {
    "limit_0.25": ("tab:blue", "-", "o"), "limit_2": ("tab:cyan", "-", "s"),
    "shapley": ("tab:red", "-", "^"), "banzhaf": ("tab:orange", "-", "v"), "occlusion": ("tab:purple", "-", "D"),
    "ig": ("tab:green", "-", "P"), "sampled": ("tab:blue", "--", "x"),
    "random": ("0.5", ":", "."), "contrast": ("k", ":", "*"),
}

#: Legend labels per method.
LABELS = {"limit_0.25": "LIME limit, width 0.25", "limit_2": "LIME limit, width 2", "shapley": "Shapley",
          "banzhaf": "Banzhaf", "occlusion": "occlusion", "ig": "IG sums", "sampled": "one lime run, n = 1000",
          "random": "random ranking", "contrast": "input-only control"}


def _panel(ax, sim, model, mode, methods, metric, fontsize=8, title=None):
    sub = sim[(sim["model"] == model)]
    steps = sub[(sub["comparison"] == "randomized") & (sub["mode"] == mode)]
    if steps.empty:
        ax.set_visible(False)
        return
    n = int(steps["step"].max())
    labels = ["none"] + [steps[steps["step"] == i]["layers"].iloc[0].split("+")[0 if mode == "cascading" else 0]
                         for i in range(1, n + 1)]
    x_null = n + 1
    null_main = sub[(sub["comparison"] == "random_pair") & (sub["method"] == "limit_0.25")]
    if len(null_main):
        m, se = float(null_main[metric].iloc[0]), float(np.nan_to_num(null_main[f"{metric}_se"].iloc[0]))
        ax.axhspan(m - 2 * se, m + 2 * se, color="0.85", zorder=0, label="null (limit 0.25), $\\pm$2 se")
    for method in methods:
        rows = steps[steps["method"] == method].sort_values("step")
        if rows.empty:
            continue
        colour, style, marker = STYLES.get(method, ("0.3", "-", "o"))
        rerun = sub[(sub["comparison"] == "rerun") & (sub["method"] == method)]
        start = float(rerun[metric].iloc[0]) if len(rerun) else 1.0
        x = np.concatenate([[0], rows["step"].to_numpy()])
        y = np.concatenate([[start], rows[metric].to_numpy()])
        err = np.concatenate([[0.0], np.nan_to_num(rows[f"{metric}_se"].to_numpy())])
        ax.errorbar(x, y, yerr=err, color=colour, linestyle=style, marker=marker, ms=4, lw=1.2, capsize=2,
                    label=LABELS.get(method, method))
        null = sub[(sub["comparison"] == "random_pair") & (sub["method"] == method)]
        if len(null):
            ax.errorbar([x_null], [float(null[metric].iloc[0])], yerr=[np.nan_to_num(null[f"{metric}_se"].iloc[0])],
                        color=colour, marker=marker, ms=4, capsize=2, linestyle="none")
    ax.set_xticks(list(range(n + 1)) + [x_null], labels + ["null"], rotation=45, fontsize=fontsize - 1)
    ax.axvline(n + 0.5, color="0.6", lw=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="0.6", lw=0.5)
    n_img, n_seed = int(steps["n_images"].max()), int(steps["n_seeds"].max())
    ax.set_title(f"{model}: {mode} ({n_img} images x {n_seed} seeds)" if title is None
                 else title.format(model=model, mode=mode, n_img=n_img, n_seed=n_seed), fontsize=fontsize)
    ax.tick_params(axis="y", labelsize=fontsize - 1)


def make(out) -> list:
    out = Path(out)
    sim = read_results(out, f"{NAME}_similarity")
    s = read_meta(out, NAME)["settings"]
    models = list(dict.fromkeys(sim["model"]))
    methods = [m for m in s["methods"] if m in set(sim["method"])]
    return _main_figure(out, sim, models, methods) + _all_figure(out, sim, models, methods)


def _main_figure(out, sim, models, methods) -> list:
    """Two rows (signed, absolute Spearman) by the main networks; cascading randomisation."""
    nets = [m for m in MAIN_NETS if m in models] or models[:4]
    shown = [m for m in MAIN_METHODS if m in methods]
    fig, axes = plt.subplots(2, len(nets), figsize=(7.0, 5.4), squeeze=False, sharey=True)
    for i, (metric, label) in enumerate((("spearman", "Spearman, signed values"),
                                         ("spearman_abs", "Spearman, |values|"))):
        for j, model in enumerate(nets):
            _panel(axes[i, j], sim, model, "cascading", shown, metric, fontsize=8,
                   title="{model}\n{n_img} images x {n_seed} seeds")
        axes[i, 0].set_ylabel(f"{label}\ntrained vs randomised", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Cascading model randomisation: the named layer and every layer above it randomised\n"
                 "('none': the method rerun on the trained network; 'null': two random networks)", fontsize=9)
    return save_figure(fig, out, STEM, rect=(0, 0.08, 1, 1))


def _all_figure(out, sim, models, methods) -> list:
    """One row per network, the three columns of :data:`ROWS`, every method."""
    rows = len(models)
    fig, axes = plt.subplots(rows, len(ROWS), figsize=(10.0, 2.3 * rows + 1.6), squeeze=False, sharey=True)
    for i, (mode, metric, label) in enumerate(ROWS):
        for j, model in enumerate(models):
            _panel(axes[j, i], sim, model, mode, methods, metric)
            axes[j, i].set_ylabel(f"{label}:\ntrained vs randomised", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle("Model randomisation. Cascading: the named layer and every layer above it randomised; "
                 "independent: that layer alone.\n'none': the method rerun on the trained network; "
                 "'null': two random networks", fontsize=9)
    bottom, top = 1.0 / (2.3 * rows + 1.6), 1 - 0.7 / (2.3 * rows + 1.6)
    return save_figure(fig, out, f"{STEM}_all", rect=(0, bottom, 1, top))


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
