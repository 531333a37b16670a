"""Experiment 4's summary tables (:func:`tables`), from the rows of :mod:`limetheory.experiments.lime_vs_ig`.

``jaccard``     mean and standard error over images of every comparison's top-k Jaccard and
                Spearman's rho, per protocol, network and output, beside the chance level;
``iou``         the shapes CNN's IoU of the top superpixels with the object's mask;
``models``      per network and segmentation: d, accuracy, IG completeness gaps, additivity, time;
``additivity``  the test of the claim of docs/theory/lime_and_ig.md that LIME is close to the IG sums where the
                response g(z) = f(x(z)) is additive and not elsewhere (:func:`additivity_table`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from limetheory.nets import OUTPUTS

from .protocols import PROTOCOLS

__all__ = ["MASK_COMPARISONS", "PAIR_COMPARISONS", "additivity_table", "chance_jaccard", "paired_agreement",
           "summarize", "tables"]

#: Comparisons between two rankings of the superpixels, in table order.
PAIR_COMPARISONS = ("lime_vs_ig", "lime_vs_lime", "run_vs_run", "lime_vs_random")
#: Comparisons of one ranking with the ground-truth mask (shapes only).
MASK_COMPARISONS = ("lime_vs_mask", "ig_vs_mask", "random_vs_mask")


def chance_jaccard(d: int, k: int) -> float:
    """Expected Jaccard index of two independent uniformly random k-subsets of d superpixels.

    The overlap I is hypergeometric (population d, k marked, k drawn) and ``J = I / (2k - I)``:
    ``E[J] = sum_i P(I = i) i / (2k - i)``. NaN when k >= d (the index is then always 1).
    """
    if k >= d:
        return float("nan")
    i = np.arange(0, k + 1)
    return float(np.sum(stats.hypergeom.pmf(i, d, k, k) * i / (2 * k - i)))


def _mean_se(values: pd.Series) -> tuple:
    v = values.dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return np.nan, np.nan, 0
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
    return float(v.mean()), se, int(v.size)


def _ordered(values, order) -> list:
    present = list(dict.fromkeys(values))
    return [m for m in order if m in present] + [m for m in present if m not in order]


def summarize(frame: pd.DataFrame, comparisons, metrics, model_order=()) -> pd.DataFrame:
    """Mean and standard error (sd / sqrt(n), ddof = 1) over images per (protocol, model, output, comparison)."""
    rows = []
    by = ["protocol", "model", "output", "comparison"]
    for (protocol, model, output, comp), sub in frame.groupby(by, sort=False):
        if comp not in comparisons:
            continue
        row = {"protocol": protocol, "model": model, "output": output, "comparison": comp,
               "n_images": int(sub["image"].nunique())}
        for m in metrics:
            if m in sub.columns:
                row[m], row[f"{m}_se"], _ = _mean_se(sub[m])
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    rank = {  # table order: protocols, models, outputs and comparisons as listed in this module
        "protocol": _ordered(out["protocol"], tuple(PROTOCOLS)),
        "model": _ordered(out["model"], model_order),
        "output": list(OUTPUTS),
        "comparison": list(comparisons),
    }
    order = [out[k].map({v: i for i, v in enumerate(values)}) for k, values in rank.items()]
    return out.iloc[np.lexsort(order[::-1])].reset_index(drop=True)


def _models_table(frame: pd.DataFrame, model_order=()) -> pd.DataFrame:
    rows = []
    for model in _ordered(frame["model"], model_order):
        for kind in _ordered(frame.loc[frame["model"] == model, "segmentation"], ("preprocessed", "raw")):
            sub = frame[(frame["model"] == model) & (frame["segmentation"] == kind)]
            img = sub.drop_duplicates("image")
            row = {"model": model, "segmentation": kind, "n_images": len(img), "d_median": float(img["d"].median()),
                   "d_min": int(img["d"].min()), "d_max": int(img["d"].max()),
                   "accuracy": float(img["correct"].astype(float).mean()) if img["correct"].notna().any() else np.nan,
                   "prob_target_median": float(img["prob_target"].median()),
                   "lime_seconds_per_image": float(img["lime_seconds"].mean()),
                   "n_samples": int(img["n_samples"].iloc[0]), "lime_runs": 2 * int(img["n_runs"].iloc[0]),
                   "additivity_exact_share": float(img["additivity_exact"].astype(float).mean())}
            for output in OUTPUTS:
                o = sub[sub["output"] == output]
                if o.empty:
                    continue
                per_image = o.drop_duplicates("image")
                # |f(xi) - f(xi_bar)|: tiny for a saturated probability, where the relative gap
                # (undefined when it is 0 in float32) says nothing about the quadrature
                change = (per_image["ig_f_x"] - per_image["ig_f_baseline"]).abs()
                row[f"f_change_median_{output}"] = float(change.median())
                row[f"nonadditive_share_median_{output}"] = float(per_image["nonadditive_share"].median())
                row[f"path_curvature_median_{output}"] = float(
                    per_image["path_curvature"].replace(np.inf, np.nan).median())
                for rule in _ordered(o["ig_rule"], ("trapezoid", "gausslegendre")):
                    g = o[o["ig_rule"] == rule].drop_duplicates("image")
                    gap = g["ig_rel_gap"].replace(np.inf, np.nan)
                    row[f"ig_rel_gap_median_{rule}_{output}"] = float(gap.median())
                    row[f"ig_rel_gap_p90_{rule}_{output}"] = float(gap.quantile(0.9))
                    row[f"ig_seconds_{rule}_{output}"] = float(g["ig_seconds"].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def paired_agreement(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per (protocol, model, output, image): the LIME-IG Jaccard, the LIME-LIME noise floor
    (``floor``), their difference ``gap = floor - jaccard``, R and the path curvature."""
    col = f"jaccard_top{k}"
    key = ["protocol", "model", "output", "image"]
    ig = frame[frame["comparison"] == "lime_vs_ig"][key + [col, "nonadditive_share", "path_curvature"]]
    floor = frame[frame["comparison"] == "lime_vs_lime"][key + [col]].rename(columns={col: "floor"})
    rows = ig.rename(columns={col: "jaccard"}).merge(floor, on=key, how="inner")
    rows["path_curvature"] = rows["path_curvature"].replace(np.inf, np.nan)
    return rows.assign(gap=rows["floor"] - rows["jaccard"])


def _spearman(x, y) -> tuple:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan, np.nan
    res = stats.spearmanr(x[ok], y[ok])
    return float(res.statistic), float(res.pvalue)


def _additivity_row(rows: pd.DataFrame) -> dict:
    """The claim's test on one group of images (see :func:`additivity_table`)."""
    r = rows["nonadditive_share"].to_numpy(dtype=float)
    j = rows["jaccard"].to_numpy(dtype=float)
    rho_r, p_r = _spearman(r, j)
    rho_c, p_c = _spearman(rows["path_curvature"].to_numpy(dtype=float), j)
    out = {"n_images": int(np.isfinite(r).sum()), "R_median": float(np.nanmedian(r)) if np.isfinite(r).any() else np.nan,
           "rho_R_jaccard": rho_r, "p_rho_R": p_r, "rho_curvature_jaccard": rho_c, "p_rho_curvature": p_c}
    low = r <= out["R_median"]
    high = r > out["R_median"]
    for name, part in (("low_R", low), ("high_R", high)):
        sub = rows[part]
        out[f"jaccard_{name}"], _, _ = _mean_se(sub["jaccard"])
        out[f"floor_{name}"], _, _ = _mean_se(sub["floor"])
        out[f"gap_{name}"], out[f"gap_{name}_se"], _ = _mean_se(sub["gap"])
    gl, gh = rows.loc[low, "gap"].dropna(), rows.loc[high, "gap"].dropna()
    out["p_gap_high_gt_low"] = (float(stats.mannwhitneyu(gh, gl, alternative="greater").pvalue)
                                if len(gl) and len(gh) else np.nan)
    return out


def additivity_table(frame: pd.DataFrame, k: int, model_order=()) -> pd.DataFrame:
    """Is LIME close to the IG sums where the response is additive, and not elsewhere?

    Per protocol, output and network (and ``all`` networks pooled), over images: Spearman's rho
    (and its p-value) of the top-k Jaccard of LIME against the IG sums with the non-additive
    share R and with the path curvature; and, splitting the images at the median R, the mean
    Jaccard, the mean noise floor (LIME against LIME) and the mean gap ``floor - Jaccard`` (with
    its standard error) in each half, and the one-sided Mann-Whitney p-value that the gap is
    larger in the high-R half. The claim holds where the low-R gap is within noise of 0 and the
    high-R gap is larger.
    """
    rows = paired_agreement(frame, k)
    out = []
    for (protocol, output), group in rows.groupby(["protocol", "output"], sort=False):
        models = _ordered(group["model"], model_order)
        for model in models + (["all"] if len(models) > 1 else []):
            sub = group if model == "all" else group[group["model"] == model]
            out.append({"protocol": protocol, "output": output, "model": model, "k": k, **_additivity_row(sub)})
    table = pd.DataFrame(out)
    if table.empty:
        return table
    order = {p: i for i, p in enumerate(_ordered(table["protocol"], tuple(PROTOCOLS)))}
    return table.iloc[np.lexsort([table["output"].map({o: i for i, o in enumerate(OUTPUTS)}),
                                  table["protocol"].map(order)])].reset_index(drop=True)


def tables(frame: pd.DataFrame, s: dict) -> dict:
    """The experiment's tables (see the module docstring)."""
    if frame.empty:
        return {}
    ks = s["ks"]
    order = tuple(m["model"] for m in s["models"])
    jac = summarize(frame, PAIR_COMPARISONS, [f"jaccard_top{k}" for k in ks] + ["spearman"], order)
    per_image = frame.drop_duplicates(["protocol", "model", "image"])[["protocol", "model", "image", "d"]]
    for k in ks:
        chance = per_image.assign(c=[chance_jaccard(int(d), k) for d in per_image["d"]]).groupby(
            ["protocol", "model"])["c"].mean()
        jac[f"chance_top{k}"] = [chance.get((p, m), np.nan) for p, m in zip(jac["protocol"], jac["model"])]
    out = {"jaccard": jac}
    if frame["comparison"].isin(MASK_COMPARISONS).any():
        metrics = [f"iou_top{k}" for k in s["iou_ks"]] + ["iou_oracle"]
        masked = frame[frame["comparison"].isin(MASK_COMPARISONS)]
        parts = [summarize(masked, MASK_COMPARISONS, metrics, order).assign(subset="all")]
        seen = masked[masked["object_removed"] >= 0.5]
        if len(seen):
            parts.append(summarize(seen, MASK_COMPARISONS, metrics, order).assign(subset="object_removed"))
        iou = pd.concat(parts, ignore_index=True)
        out["iou"] = iou[["subset"] + [c for c in iou.columns if c != "subset"]]
    out["models"] = _models_table(frame, order)
    out["additivity"] = additivity_table(frame, int(ks[0]), order)
    return out
