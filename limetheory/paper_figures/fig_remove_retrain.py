"""Figure of remove-and-retrain: test accuracy against the fraction of superpixels removed, one line
per method (mean over retraining seeds, error bars one standard error), for ROAR (retrained) and ROAD
(the explainer on noisily imputed images, no retraining); one row per dataset. Faster falls than
random removal mean a ranking that finds the class information.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ._common import figure_main, read_results, save_figure
from .fig_sanity_randomisation import STYLES

NAME = "remove_retrain"
STEM = "fig_remove_retrain"
MASK_STYLE = ("goldenrod", "-.", "h")


def make(out) -> list:
    out = Path(out)
    roar = read_results(out, f"{NAME}_roar")
    datasets = list(dict.fromkeys(roar["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.6 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        sub = roar[roar["dataset"] == dataset]
        base = sub[sub["method"] == "none"]
        for j, (column, title) in enumerate((("roar_accuracy", "ROAR: retrained"), ("road_accuracy", "ROAD: the explainer on imputed images"))):
            ax = axes[i, j]
            for method in [m for m in dict.fromkeys(sub["method"]) if m != "none"]:
                rows = sub[sub["method"] == method].sort_values("k")
                colour, style, marker = MASK_STYLE if method == "mask" else STYLES.get(method, ("0.3", "-", "o"))
                x = np.concatenate([[0.0], rows["fraction"].to_numpy()])
                y = np.concatenate([[base[column].iloc[0] if len(base) else np.nan], rows[column].to_numpy()])
                err = None
                if column == "roar_accuracy":
                    err = np.concatenate([[np.nan_to_num(base["roar_accuracy_se"].iloc[0]) if len(base) else 0.0],
                                          np.nan_to_num(rows["roar_accuracy_se"].to_numpy())])
                ax.errorbar(x, y, yerr=err, color=colour, linestyle=style, marker=marker, ms=4, capsize=2, label=method)
            n_seeds = int(sub["n_seeds"].max())
            ax.set_title(f"{dataset}: {title}" + (f" ({n_seeds} seed{'s' if n_seeds > 1 else ''})" if j == 0 else ""),
                         fontsize=9)
            ax.set_xlabel("fraction of superpixels removed (top k of d)")
            ax.set_ylabel("test accuracy")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
        axes[i, 0].legend(fontsize=7)
    return save_figure(fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
