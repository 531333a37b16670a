"""Experiment 2, the paper's Figure 4: LIME on a linear model.

Same digit, superpixels (quickshift, ``kernel_size=1``) and LIME settings as experiment 1 (five
runs, seeds 0..4, n = 1000, nu = 0.25, black replacement ``hide_color=0``), on the linear model
f(x) = sum_u lambda_u x_u (:class:`limetheory.analytic.LinearModel`). The weights are a class
template: the mean training image of the digit's class minus the mean training image, scaled so
that f(xi) - f(0) = 1; with a black replacement the closed form (docs/theory/closed_forms.md, *Linear models*) is
beta_j = sum_{u in J_j} lambda_u xi_u, the share of the score carried by superpixel j.
Each run is fitted with lime's ridge (lambda = 1) and by least squares on the same samples: least
squares recovers the closed form exactly (up to rounding); the ridge fit is off by at most
lambda ||b_0|| / (mu_min(G) + lambda) (column ``ridge_bound``).

Rows: one per (seed, ridge, superpixel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from limetheory.analytic import LinearModel
from limetheory.data import load_digits_rgb

from ._common import DigitContext, digit_context, digit_lime_rows, digit_lime_settings, summarize_runs

NAME = "linear_model"
TITLE = "Exp. 2 (Fig. 4): LIME on a linear model vs the closed form"
VERSION = 2


def settings(quick: bool) -> dict:
    """The paper's setting (5 runs at n = 1000) in both modes: it takes about a second."""
    return {**digit_lime_settings(), "weights": "class-template"}


def class_template(digit: int, size: int, image: np.ndarray) -> np.ndarray:
    """lambda = (mean training image of ``digit`` - mean training image) / c, with f(image) - f(0) = 1."""
    data = load_digits_rgb(size=size)
    train = data.train_images[..., 0].astype(np.float64) / 255.0
    template = train[data.train_labels == digit].mean(axis=0) - train.mean(axis=0)
    return template / float(np.sum(template * image))


def units(s: dict) -> list:
    return [{"seed": seed} for seed in s["seeds"]]


@dataclass(frozen=True, eq=False)
class Context(DigitContext):
    """The digit and its superpixels, the linear model's weights, the model and its closed-form limit."""

    weights: np.ndarray
    model: LinearModel
    limit: np.ndarray


def setup(s: dict) -> Context:
    base = digit_context(s)
    weights = class_template(base.digit, s["image"]["size"], base.image)
    model = LinearModel(weights)
    limit = model.limit_explanation(base.image, base.segments, hide_color=s["hide_color"],
                                    kernel_width=s["kernel_width"])
    return Context(**vars(base), weights=weights, model=model, limit=limit)


def run_unit(unit: dict, ctx: Context) -> pd.DataFrame:
    return digit_lime_rows(ctx, ctx.model, ctx.limit, unit["seed"])


def arrays(ctx: Context) -> dict:
    return {"image": ctx.image, "segments": ctx.segments, "weights": ctx.weights, "limit": ctx.limit}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    per_superpixel, agreement = summarize_runs(frame, extra=())
    scale = float(frame.groupby("superpixel")["limit"].first().abs().max())
    agreement["max_rel_dev"] = agreement["max_abs_dev"] / scale
    return {"superpixels": per_superpixel, "agreement": agreement}
