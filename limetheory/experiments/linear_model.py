"""Experiment 2, the paper's Figure 4: LIME on a linear model.

Same digit, superpixels (quickshift, ``kernel_size=1``) and LIME settings as experiment 1 (five
runs, seeds 0..4, n = 1000, nu = 0.25, black replacement ``hide_color=0``), on the linear model
f(x) = sum_u lambda_u x_u (:class:`limetheory.analytic.LinearModel`). The weights are a class
template: the mean training image of the digit's class minus the mean training image, scaled so
that f(xi) - f(0) = 1; with a black replacement the closed form (THEORY.md section 4) is
beta_j = sum_{u in J_j} lambda_u xi_u, the share of the score carried by superpixel j.
Each run is fitted with lime's ridge (lambda = 1) and by least squares on the same samples: least
squares recovers the closed form exactly (up to rounding); the ridge fit is off by at most
lambda ||b_0|| / (mu_min(G) + lambda) (column ``ridge_bound``).

Rows: one per (seed, ridge, superpixel).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory.analytic import LinearModel

from ._common import digit_image, lime_rows, summarize_runs

NAME = "linear_model"
TITLE = "Exp. 2 (Fig. 4): LIME on a linear model vs the closed form"
VERSION = 2


def settings(quick: bool) -> dict:
    """The paper's setting (5 runs at n = 1000) in both modes: it takes about a second."""
    return {
        "image": {"split": "test", "index": 2, "size": 28},
        "segmentation": {"method": "quickshift", "kernel_size": 1},
        "weights": "class-template",
        "hide_color": 0.0,
        "kernel_width": 0.25,
        "n_samples": 1000,
        "seeds": [0, 1, 2, 3, 4],
        "ridge": 1.0,
    }


def class_template(digit: int, size: int, image: np.ndarray) -> np.ndarray:
    """lambda = (mean training image of ``digit`` - mean training image) / c, with f(image) - f(0) = 1."""
    from limetheory.data import load_digits_rgb

    data = load_digits_rgb(size=size)
    train = data.train_images[..., 0].astype(np.float64) / 255.0
    template = train[data.train_labels == digit].mean(axis=0) - train.mean(axis=0)
    return template / float(np.sum(template * image))


def units(s: dict) -> list:
    return [{"seed": seed} for seed in s["seeds"]]


def setup(s: dict) -> dict:
    image, digit = digit_image(s["image"]["index"], s["image"]["size"], s["image"]["split"])
    seg_kw = dict(s["segmentation"])
    segments = lt.segment(image, seg_kw.pop("method"), **seg_kw)
    weights = class_template(digit, s["image"]["size"], image)
    model = LinearModel(weights)
    limit = model.limit_explanation(image, segments, hide_color=s["hide_color"], kernel_width=s["kernel_width"])
    return {"settings": s, "image": image, "digit": digit, "segments": segments, "weights": weights,
            "model": model, "limit": limit}


def run_unit(unit: dict, ctx: dict) -> pd.DataFrame:
    s = ctx["settings"]
    rows = lime_rows(ctx["image"], ctx["model"], ctx["segments"], seed=unit["seed"], n_samples=s["n_samples"],
                     ridge=s["ridge"], hide_color=s["hide_color"], kernel_width=s["kernel_width"],
                     limit=ctx["limit"])
    rows["n_pixels"] = np.bincount(ctx["segments"].ravel())[rows["superpixel"].to_numpy()]
    rows.insert(0, "digit", ctx["digit"])
    return rows


def arrays(ctx: dict) -> dict:
    return {"image": ctx["image"], "segments": ctx["segments"], "weights": ctx["weights"], "limit": ctx["limit"]}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    per_superpixel, agreement = summarize_runs(frame, extra=())
    scale = float(frame.groupby("superpixel")["limit"].first().abs().max())
    agreement["max_rel_dev"] = agreement["max_abs_dev"] / scale
    return {"superpixels": per_superpixel, "agreement": agreement}
