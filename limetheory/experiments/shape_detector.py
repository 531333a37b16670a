"""Experiment 1, the paper's Figure 3: LIME on an elementary shape detector.

A digit (scikit-learn, upscaled to 28 x 28, grayscale in [0, 1]) is split by quickshift with
``kernel_size=1``; the model is the shape detector f(x) = 1 if x_u > tau on every pixel of a short
vertical bar S lying on the digit's stroke (:class:`limetheory.analytic.ShapeDetector`); hidden
superpixels are black (``hide_color=0``). Five LIME runs (seeds 0..4, n = 1000, nu = 0.25) are
fitted twice on the same samples: with lime's ridge (lambda = 1) and by least squares
(lambda = 0, the estimator of the theory). The closed-form limit (THEORY.md section 3) is
computed by ``ShapeDetector.limit_explanation`` and, independently, by enumerating {0,1}^d on
real perturbed images (:func:`limetheory.theory.exact_limit`). The theory also gives how far one
run lands from the limit: the exact standard deviation sqrt(V_jj / n) of each coefficient
(:func:`limetheory.theory.exact_limit_covariance`, ``exact_sd``), next to each run's own estimate
of it (``coef_se``).

Rows: one per (seed, ridge, superpixel).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory import theory
from limetheory.analytic import ShapeDetector

from ._common import bar_mask, digit_image, lime_rows, summarize_runs

NAME = "shape_detector"
TITLE = "Exp. 1 (Fig. 3): LIME on a shape detector vs the closed-form limit"
VERSION = 2


def settings(quick: bool) -> dict:
    """The paper's setting (5 runs at n = 1000) in both modes: it takes about a second."""
    return {
        "image": {"split": "test", "index": 2, "size": 28},  # a '4' with a long vertical stroke
        "segmentation": {"method": "quickshift", "kernel_size": 1},
        "shape": {"row": 9, "col": 8, "length": 8, "width": 2},  # on the stroke, across 3 superpixels
        "tau": 0.5,
        "hide_color": 0.0,
        "kernel_width": 0.25,
        "n_samples": 1000,
        "seeds": [0, 1, 2, 3, 4],
        "ridge": 1.0,
    }


def units(s: dict) -> list:
    return [{"seed": seed} for seed in s["seeds"]]


def setup(s: dict) -> dict:
    image, digit = digit_image(s["image"]["index"], s["image"]["size"], s["image"]["split"])
    seg_kw = dict(s["segmentation"])
    segments = lt.segment(image, seg_kw.pop("method"), **seg_kw)
    mask = bar_mask(image.shape, **s["shape"])
    model = ShapeDetector(mask, s["tau"])
    if not model.lights(image):
        raise ValueError("the digit does not light the whole shape: choose another bar in settings()")
    d = lt.segmentation.n_superpixels(segments)
    limit = model.limit_explanation(image, segments, hide_color=s["hide_color"], kernel_width=s["kernel_width"])
    limit_enum = theory.exact_limit(model.response_of_z(image, segments, s["hide_color"]), d, s["kernel_width"])
    e_minus = model.destroying_superpixels(image, segments, s["hide_color"])
    cov = theory.exact_limit_covariance(model.response_of_z(image, segments, s["hide_color"]), d, s["kernel_width"])
    exact_sd = np.sqrt(np.diag(cov)[1:] / s["n_samples"])  # one run's sd around the limit (ridge 0)
    return {"settings": s, "image": image, "digit": digit, "segments": segments, "mask": mask, "model": model,
            "limit": limit, "limit_enum": limit_enum, "e_minus": e_minus, "exact_sd": exact_sd}


def run_unit(unit: dict, ctx: dict) -> pd.DataFrame:
    s = ctx["settings"]
    rows = lime_rows(ctx["image"], ctx["model"], ctx["segments"], seed=unit["seed"], n_samples=s["n_samples"],
                     ridge=s["ridge"], hide_color=s["hide_color"], kernel_width=s["kernel_width"],
                     limit=ctx["limit"])
    j = rows["superpixel"].to_numpy()
    rows["limit_enum"] = ctx["limit_enum"][1:][j]
    rows["in_shape"] = ctx["e_minus"][j]
    rows["exact_sd"] = ctx["exact_sd"][j]
    rows["n_pixels"] = np.bincount(ctx["segments"].ravel())[j]
    rows.insert(0, "digit", ctx["digit"])
    return rows


def arrays(ctx: dict) -> dict:
    return {"image": ctx["image"], "segments": ctx["segments"], "shape_mask": ctx["mask"],
            "e_minus": ctx["e_minus"], "limit": ctx["limit"], "limit_enum": ctx["limit_enum"],
            "exact_sd": ctx["exact_sd"]}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    per_superpixel, agreement = summarize_runs(frame, extra=("in_shape", "exact_sd"))
    enum_gap = float((frame["limit"] - frame["limit_enum"]).abs().max())
    agreement["max_closed_form_vs_enumeration"] = enum_gap
    by_ridge = frame.groupby("ridge", sort=True)
    agreement["mean_exact_sd"] = by_ridge["exact_sd"].mean().to_numpy()
    agreement["mean_coef_se"] = by_ridge["coef_se"].mean().to_numpy()
    return {"superpixels": per_superpixel, "agreement": agreement}
