"""Experiment 4's columns from its companion: the decomposition beside LIME's agreement with the IG sums.

Reads ``out/results/lime_ig_decomposition_images.csv`` (the two parts' sizes per network and image)
and experiment 4's rows ``out/results/lime_vs_ig.csv``, joins them on ``(model, image)`` (the
companion runs experiment 4's images, segmentation and class; the rows of the
``paper_gauss_legendre`` protocol, the same IG rule, probability of the top class, LIME against the
IG sums), and writes

- ``out/results/lime_ig_decomposition_joined.csv``: one row per image and network, experiment 4's
  ``jaccard_top5``, ``spearman`` and non-additive share R beside ``interactions_rel``, ``path_rel``
  and ``share``;
- ``out/results/lime_ig_decomposition_agreement.md`` (and ``.csv``): over all joined image-network
  pairs, and within the networks with hidden layers, Spearman's rank correlation of LIME's
  agreement with the IG sums (top-5 Jaccard, Spearman over the superpixels) with the size of each
  part and with R. The part that goes with less agreement is the one that explains it.

Nothing is written when experiment 4's rows are not in ``out`` (a quick run of the companion alone).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from scipy import stats

from limetheory.files import markdown_table, write_csv, write_text

from ._common import figure_main, read_results

NAME = "lime_ig_decomposition"
STEM = "table_lime_ig_decomposition"
#: Experiment 4's rows the decomposition sits beside: the protocol with the same segmentation and IG rule.
PROTOCOL, OUTPUT, COMPARISON = "paper_gauss_legendre", "prob", "lime_vs_ig"
#: (column, meaning) of the sizes correlated with the agreement.
SIZES = (("interactions_rel", "interactions: norm of LIME limit - Shapley, over that of Shapley"),
         ("path_rel", "path: norm of Shapley - IG sums, over that of Shapley"),
         ("nonadditive_share", "R, experiment 4's non-additive share"))


def joined(images: pd.DataFrame, exp4: pd.DataFrame) -> pd.DataFrame:
    """The companion's per-image rows with experiment 4's agreement columns (inner join on
    ``(model, image)``); ValueError if a joined pair disagrees on d or the class explained."""
    rows = exp4[(exp4["protocol"] == PROTOCOL) & (exp4["output"] == OUTPUT) & (exp4["comparison"] == COMPARISON)]
    rows = rows[["model", "image", "d", "target", "jaccard_top5", "spearman", "nonadditive_share"]]
    left = images.assign(image=images["image"].astype(str))
    out = left.merge(rows.assign(image=rows["image"].astype(str)), on=["model", "image"], suffixes=("", "_exp4"))
    if (out["d"] != out["d_exp4"]).any():
        raise ValueError("experiment 4 and its companion segment an image differently: rerun both")
    return out.drop(columns=["d_exp4"])


def agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho (and its p-value) of each agreement measure with each size, over all pairs and
    over the networks with hidden layers (not the one-layer ones)."""
    rows = []
    for subset, part in (("all networks", frame), ("hidden layers", frame[~frame["model"].str.contains("1layer")])):
        for measure in ("jaccard_top5", "spearman"):
            for col, meaning in SIZES:
                ok = part[[measure, col]].dropna()
                rho, p = stats.spearmanr(ok[measure], ok[col])
                rows.append({"networks": subset, "pairs": len(ok), "agreement": measure, "size": col,
                             "meaning": meaning, "rho": float(f"{rho:.3g}"), "p": float(f"{p:.2g}")})
    return pd.DataFrame(rows)


def make(out) -> list:
    out = Path(out)
    try:
        exp4 = read_results(out, "lime_vs_ig")
    except FileNotFoundError:
        return []
    frame = joined(read_results(out, f"{NAME}_images"), exp4)
    table = agreement(frame)
    return [write_csv(out / "results" / f"{NAME}_joined.csv", frame),
            write_csv(out / "results" / f"{NAME}_agreement.csv", table),
            write_text(out / "results" / f"{NAME}_agreement.md", markdown_table(table))]


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
