"""Tables of experiment 4 (the paper's Tables 1 and 2): LIME against integrated gradients, in markdown.

Reads ``out/results/lime_vs_ig.csv`` and its tables (``lime_vs_ig_jaccard.csv``, ``_iou.csv``,
``_models.csv``, ``_additivity.csv``), written by ``experiments/lime_vs_ig.py``, and writes

- ``results/full/results/lime_vs_ig_claim.md``: where the paper's claim holds, per network and network family
  (:data:`limetheory.experiments.lime_vs_ig.FAMILIES`), under the paper's protocol and the corrected
  one: the top-k Jaccard of LIME against the IG sums, its noise floor (LIME against an independent
  LIME estimate), their paired gap, the chance level and the median non-additive share R, mean ±
  standard error over images (the docs include this file);
- ``figures/table_lime_vs_ig.md``: every protocol (the paper's, each difference switched alone, the
  corrected one), mean ± standard error over images of the top-5 and top-10 Jaccard indices of
  LIME (mean of R runs) against the IG superpixel sums, beside the two noise floors (two
  independent LIME estimates; two single runs), a random ranking and the exact chance level of
  the signed top-k; for the networks of the drawn shapes, the IoU of the top superpixels with the
  object's mask; the test of "LIME is close to the IG sums where the response is additive"
  (``lime_vs_ig_additivity.csv``).

The figures are :mod:`.fig_lime_vs_ig` and :mod:`.fig_lime_vs_ig_additivity`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from limetheory.experiments.lime_vs_ig import FAMILIES, paired_agreement
from limetheory.experiments.protocols import PROTOCOLS
from limetheory.files import write_text

from ._common import figure_main, read_meta, read_results

NAME = "lime_vs_ig"
STEM = "table_lime_vs_ig"

LABELS = {
    "lime_vs_ig": "LIME vs IG sums",
    "lime_vs_lime": "LIME vs LIME (noise floor)",
    "run_vs_run": "one run vs one run",
    "lime_vs_random": "LIME vs random ranking",
    "lime_vs_mask": "LIME",
    "ig_vs_mask": "IG sums",
    "random_vs_mask": "random ranking",
}
OUTPUT_LABELS = {"prob": "probability of the class", "logit": "logit of the class"}


def _pm(mean, se, digits: int = 2) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(se):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def markdown(jac: pd.DataFrame, iou: pd.DataFrame | None, meta: dict) -> str:
    """The pretty markdown tables (mean ± standard error over images)."""
    s = meta["settings"]
    ks = s["ks"]
    head = ["protocol", "model", "output", "images", "d (median)"]
    for k in ks:
        head += [f"LIME vs IG top-{k}", f"LIME vs LIME top-{k}", f"run vs run top-{k}", f"random top-{k}",
                 f"chance top-{k}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    d_median = {(m["model"], m.get("segmentation")): m.get("d_median") for m in meta.get("models_summary", [])}
    for (protocol, model, output), g in jac.groupby(["protocol", "model", "output"], sort=False):
        g = g.set_index("comparison")
        dm = d_median.get((model, PROTOCOLS[protocol].segmentation if protocol in PROTOCOLS else None))
        cells = [protocol, model, output, str(int(g["n_images"].max())), "" if dm is None else f"{dm:g}"]
        for k in ks:
            col = f"jaccard_top{k}"
            for comp in ("lime_vs_ig", "lime_vs_lime", "run_vs_run", "lime_vs_random"):
                cells.append(_pm(g.loc[comp, col], g.loc[comp, f"{col}_se"]) if comp in g.index else "")
            cells.append(f"{g[f'chance_top{k}'].iloc[0]:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if iou is not None and len(iou):
        iks = s["iou_ks"]
        masks = ("lime_vs_mask", "ig_vs_mask", "random_vs_mask")
        head = ["protocol", "model", "output", "images"] + [f"{LABELS[c]} IoU top-{k}" for k in iks for c in masks] + [
            "best IoU"]
        rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * (len(head) - 4)) + "|"]
        for (subset, protocol, model, output), g in iou.groupby(["subset", "protocol", "model", "output"], sort=False):
            g = g.set_index("comparison")
            what = "all" if subset == "all" else "object removed by the replacement"
            cells = [protocol, model, output, f"{int(g['n_images'].max())} ({what})"]
            for k in iks:
                col = f"iou_top{k}"
                for comp in ("lime_vs_mask", "ig_vs_mask", "random_vs_mask"):
                    cells.append(_pm(g.loc[comp, col], g.loc[comp, f"{col}_se"]) if comp in g.index else "")
            cells.append(_pm(g["iou_oracle"].iloc[0], g["iou_oracle_se"].iloc[0]))
            rows.append("| " + " | ".join(cells) + " |")
        text += ("\nIoU of the pixels of the top superpixels with the mask of the object that decides the class "
                 "(all images; and only those where LIME's replacement image visibly changes at least half of the "
                 "object's pixels):\n\n")
        text += "\n".join(rows) + "\n"
    return text


def additivity_markdown(add: pd.DataFrame) -> str:
    """The test of "LIME is close to the IG sums where the response is additive, and not elsewhere"."""
    head = ["protocol", "output", "model", "images", "median R", "rho(R, J)", "rho(curvature, J)",
            "gap, low R", "gap, high R", "p (gap high > low)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for _, r in add.iterrows():
        rho = "n/a" if not np.isfinite(r["rho_R_jaccard"]) else f"{r['rho_R_jaccard']:.2f} (p {r['p_rho_R']:.2g})"
        rho_c = ("n/a" if not np.isfinite(r["rho_curvature_jaccard"])
                 else f"{r['rho_curvature_jaccard']:.2f} (p {r['p_rho_curvature']:.2g})")
        p = "n/a" if not np.isfinite(r["p_gap_high_gt_low"]) else f"{r['p_gap_high_gt_low']:.2g}"
        lines.append("| " + " | ".join([
            r["protocol"], r["output"], r["model"], str(int(r["n_images"])),
            "n/a" if not np.isfinite(r["R_median"]) else f"{r['R_median']:.3g}", rho, rho_c,
            _pm(r["gap_low_R"], r["gap_low_R_se"]), _pm(r["gap_high_R"], r["gap_high_R_se"]), p]) + " |")
    k = int(add["k"].iloc[0]) if len(add) else 5
    return (f"\nWhy they disagree (docs/theory/lime_and_ig.md): per image, the top-{k} Jaccard J of LIME against the IG "
            "sums, Spearman's rho with the non-additive share R of g(z) = f(x(z)) and with the path curvature; "
            "the gap is the noise floor (LIME against LIME) minus J, mean ± s.e. over the images below and above "
            "the median R; p: one-sided Mann-Whitney test that the gap is larger above the median:\n\n"
            + "\n".join(lines) + "\n")


def _pm_or_blank(values) -> str:
    """``mean ± s.e.`` of the finite ``values`` (s.e. = sd / sqrt(n), ddof 1); the mean alone for one."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    return _pm(v.mean(), v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan)


def claim_rows(frame: pd.DataFrame, protocol: str, output: str, k: int) -> list:
    """One row per network and per family (images of its networks pooled): the cells of :func:`claim_markdown`."""
    sub = frame[(frame["protocol"] == protocol) & (frame["output"] == output)]
    if sub.empty:
        return []
    paired = paired_agreement(sub, k)
    chance = sub[sub["comparison"] == "lime_vs_random"][["model", "image", f"jaccard_top{k}"]]
    d = sub.drop_duplicates(["model", "image"])[["model", "image", "d"]]
    per_image = paired.merge(chance.rename(columns={f"jaccard_top{k}": "random"}), on=["model", "image"]).merge(
        d, on=["model", "image"])
    rows = []
    groups = [(family, [m for m in members if m in set(per_image["model"])]) for family, members in FAMILIES.items()]
    for family, members in groups:
        if not members:
            continue
        for name in members + ([f"all {family}"] if len(members) > 1 else []):
            g = per_image[per_image["model"].isin(members if name.startswith("all ") else [name])]
            rows.append([family, name, str(len(g)), f"{g['d'].median():g}", _pm_or_blank(g["jaccard"]),
                         _pm_or_blank(g["floor"]), _pm_or_blank(g["gap"]), _pm_or_blank(g["random"]),
                         f"{g['nonadditive_share'].median():.2g}" if g["nonadditive_share"].notna().any() else "n/a"])
    return rows


def claim_markdown(frame: pd.DataFrame, k: int) -> str:
    """Where the paper's claim holds: per network and family, the paper protocol and the corrected one."""
    head = ["family", "network", "images", "d (median)", f"LIME vs IG top-{k}", f"LIME vs LIME top-{k}",
            "gap (floor - J)", "LIME vs random", "median R"]
    parts = []
    for protocol, output in (("paper", "prob"), ("corrected", "prob"), ("corrected", "logit")):
        rows = claim_rows(frame, protocol, output, k)
        if not rows:
            continue
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        parts.append(f"**{protocol} protocol, {OUTPUT_LABELS[output]}** (mean ± s.e. over images)\n\n"
                     + "\n".join(lines) + "\n")
    return "\n".join(parts)


def make(out) -> list:
    out = Path(out)
    meta = read_meta(out, NAME)
    jac = read_results(out, f"{NAME}_jaccard")
    try:
        iou = read_results(out, f"{NAME}_iou")
    except FileNotFoundError:
        iou = None
    try:
        meta["models_summary"] = read_results(out, f"{NAME}_models").to_dict("records")
    except FileNotFoundError:
        meta["models_summary"] = []
    text = markdown(jac, iou, meta)
    try:
        text += additivity_markdown(read_results(out, f"{NAME}_additivity"))
    except FileNotFoundError:
        pass
    k = int(meta["settings"]["ks"][0])
    claim_text = claim_markdown(read_results(out, NAME), k)
    try:
        add = read_results(out, f"{NAME}_additivity")
        pooled = add["protocol"].isin(["paper", "corrected"]) & (add["model"] == "all")  # per network: _additivity.md
        claim_text += additivity_markdown(add[pooled].reset_index(drop=True))
    except FileNotFoundError:
        pass
    claim = write_text(out / "results" / f"{NAME}_claim.md", claim_text)
    return [write_text(out / "figures" / f"{STEM}.md", text), claim]


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
