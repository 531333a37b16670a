"""Pieces the experiments share: the digit image, a bar-shaped mask, LIME runs as tidy rows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory.data import load_digits_rgb

__all__ = ["DigitContext", "bar_mask", "digit_context", "digit_lime_rows", "digit_lime_settings", "digit_image",
           "lime_rows", "ridge_shift_bound", "summarize_runs"]


def digit_image(index: int, size: int = 28, split: str = "test") -> tuple[np.ndarray, int]:
    """A scikit-learn digit upscaled to ``size x size``, grayscale float64 in [0, 1], and its label.

    From :func:`limetheory.data.load_digits_rgb` (bilinear upscaling of the 8 x 8 digits, uint8)
    divided by 255; ``index`` counts in the ``split`` ("train" or "test") part.
    """
    data = load_digits_rgb(size=size)
    images = data.test_images if split == "test" else data.train_images
    labels = data.test_labels if split == "test" else data.train_labels
    return images[index][..., 0].astype(np.float64) / 255.0, int(labels[index])


def digit_lime_settings() -> dict:
    """The digit, segmentation and LIME settings of experiments 1 and 2 (the paper's: 5 runs at n = 1000).

    A '4' of the scikit-learn test digits (index 2, long vertical stroke) upscaled to 28 x 28,
    quickshift with ``kernel_size=1``, black replacement, nu = 0.25, seeds 0..4, lime's ridge 1.
    """
    return {
        "image": {"split": "test", "index": 2, "size": 28},
        "segmentation": {"method": "quickshift", "kernel_size": 1},
        "hide_color": 0.0,
        "kernel_width": 0.25,
        "n_samples": 1000,
        "seeds": [0, 1, 2, 3, 4],
        "ridge": 1.0,
    }


@dataclass(frozen=True, eq=False)
class DigitContext:
    """The state experiments 1 and 2 share: their settings, the digit (image and label), its superpixels."""

    settings: dict
    image: np.ndarray
    digit: int
    segments: np.ndarray


def digit_context(s: dict) -> DigitContext:
    """The digit of ``s["image"]`` and its segmentation ``s["segmentation"]`` (:func:`digit_lime_settings`)."""
    image, digit = digit_image(s["image"]["index"], s["image"]["size"], s["image"]["split"])
    seg_kw = dict(s["segmentation"])
    return DigitContext(s, image, digit, lt.segment(image, seg_kw.pop("method"), **seg_kw))


def digit_lime_rows(ctx: DigitContext, model, limit: np.ndarray, seed: int, per_superpixel=None) -> pd.DataFrame:
    """:func:`lime_rows` of one seed on the digit, with the columns of ``per_superpixel`` (name -> (d,)
    array), each superpixel's pixel count ``n_pixels`` and the ``digit`` label."""
    s = ctx.settings
    rows = lime_rows(ctx.image, model, ctx.segments, seed=seed, n_samples=s["n_samples"], ridge=s["ridge"],
                     hide_color=s["hide_color"], kernel_width=s["kernel_width"], limit=limit)
    j = rows["superpixel"].to_numpy()
    for column, values in (per_superpixel or {}).items():
        rows[column] = np.asarray(values)[j]
    rows["n_pixels"] = np.bincount(ctx.segments.ravel())[j]
    rows.insert(0, "digit", ctx.digit)
    return rows


def bar_mask(shape, row: int, col: int, length: int, width: int) -> np.ndarray:
    """A vertical bar: rows ``row..row+length-1``, columns ``col..col+width-1`` (boolean (H, W))."""
    mask = np.zeros(tuple(shape), dtype=bool)
    mask[row : row + length, col : col + width] = True
    return mask


def ridge_shift_bound(explanation, ridge: float, coef_wls: np.ndarray) -> float:
    """Bound on ||beta_hat_ridge - beta_hat_0|| for ridge and least squares fitted on the same samples.

    With weighted centring, ``b_ridge = (G + lambda I)^{-1} G b_0``, ``G = Zc^T diag(pi) Zc``, so
    ``b_ridge - b_0 = -lambda (G + lambda I)^{-1} b_0`` and
    ``||b_ridge - b_0|| <= lambda ||b_0|| / (mu_min(G) + lambda)``.
    """
    z = np.asarray(explanation.samples, dtype=np.float64)
    w = np.asarray(explanation.weights, dtype=np.float64)
    zc = z - (w / w.sum()) @ z
    gram = zc.T @ (zc * w[:, None])
    mu_min = float(np.linalg.eigvalsh(gram)[0])
    return float(ridge * np.linalg.norm(coef_wls) / (max(mu_min, 0.0) + ridge))


def lime_rows(image, predict, segments, *, seed: int, n_samples: int, ridge: float, hide_color,
              kernel_width: float, limit: np.ndarray, label=None) -> pd.DataFrame:
    """Two LIME fits on the same samples (ridge ``ridge`` and least squares) as tidy rows.

    One row per (ridge, superpixel) with ``coef``, its standard error ``coef_se`` from the run's own
    samples, ``intercept``, the ``limit`` beta^f_j and ``limit_intercept``, and for the ridge fit
    ``ridge_bound`` (:func:`ridge_shift_bound`).
    """
    labels = None if label is None else [label]
    common = dict(segments=segments, labels=labels, n_samples=n_samples, kernel_width=kernel_width,
                  hide_color=hide_color, seed=seed, progress=False)
    wls = lt.explain(image, predict, ridge=0.0, **common)
    rid = lt.explain(image, predict, ridge=ridge, keep_samples=True, **common)
    d = wls.n_superpixels
    bound = ridge_shift_bound(rid, ridge, wls.coef[0])
    rows = []
    for r, ex, b in ((ridge, rid, bound), (0.0, wls, 0.0)):
        rows.append(pd.DataFrame({
            "seed": seed, "n_samples": n_samples, "ridge": r, "superpixel": np.arange(d),
            "coef": ex.coef[0], "intercept": ex.intercept[0], "limit": limit[1:],
            "limit_intercept": limit[0], "score": ex.score[0], "ridge_bound": b, "coef_se": ex.coef_se[0],
        }))
    return pd.concat(rows, ignore_index=True)


def summarize_runs(frame: pd.DataFrame, extra=("in_shape",)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-superpixel and overall agreement of LIME's runs with the limit, for every ridge.

    superpixels: mean, sd (ddof=1) over runs, the limit, and ``t = (mean - limit) / (sd / sqrt(R))``.
    agreement: per ridge, R runs, d, ``max_abs_dev = max_j |mean_j - limit_j|``, the largest
    ``|t|``, ``max_shift_excess = max(||b_ridge - b_0|| - bound)`` (<= 0 when the ridge bound holds).
    """
    keys = ["ridge", "superpixel"]
    g = frame.groupby(keys, sort=True)
    sp = g.agg(n_runs=("coef", "size"), mean=("coef", "mean"), sd=("coef", "std"), limit=("limit", "first"),
               **{c: (c, "first") for c in extra if c in frame.columns}).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        sp["t"] = (sp["mean"] - sp["limit"]) / (sp["sd"] / np.sqrt(sp["n_runs"]))
    sp["dev"] = sp["mean"] - sp["limit"]

    # ridge shift against least squares on the same samples
    wide = frame.pivot_table(index=["seed", "superpixel"], columns="ridge", values="coef")
    ridges = sorted(frame["ridge"].unique())
    rows = []
    for r in ridges:
        sub = sp[sp["ridge"] == r]
        excess = np.nan
        if r > 0 and 0.0 in wide.columns:
            shift = (wide[r] - wide[0.0]).pow(2).groupby(level="seed").sum().pow(0.5)
            bound = frame[frame["ridge"] == r].groupby("seed")["ridge_bound"].first()
            excess = float((shift - bound.reindex(shift.index)).max())
        rows.append({
            "ridge": r, "n_runs": int(sub["n_runs"].iloc[0]), "d": int(len(sub)),
            "max_abs_dev": float(sub["dev"].abs().max()),
            "max_abs_t": float(sub["t"].abs().replace(np.inf, np.nan).max()),
            "mean_sd": float(sub["sd"].mean()),
            "max_shift_excess": excess,
        })
    return sp, pd.DataFrame(rows)
