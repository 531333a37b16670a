"""Experiment 1, the paper's Figure 3: LIME on an elementary shape detector.

A digit (scikit-learn, upscaled to 28 x 28, grayscale in [0, 1]) is split by quickshift with
``kernel_size=1``; the model is the shape detector f(x) = 1 if x_u > tau on every pixel of a short
vertical bar S lying on the digit's stroke (:class:`limetheory.analytic.ShapeDetector`); hidden
superpixels are black (``hide_color=0``). Five LIME runs (seeds 0..4, n = 1000, nu = 0.25) are
fitted twice on the same samples: with lime's ridge (lambda = 1) and by least squares
(lambda = 0, the estimator of the theory). The closed-form limit (docs/theory/closed_forms.md, *Shape detectors*) is
computed by ``ShapeDetector.limit_explanation`` and, independently, by enumerating {0,1}^d on
real perturbed images (:func:`limetheory.theory.exact_limit`). The theory also gives how far one
run lands from the limit: the exact standard deviation sqrt(V_jj / n) of each coefficient
(:func:`limetheory.theory.exact_limit_covariance`, ``exact_sd``), next to each run's own estimate
of it (``coef_se``).

Rows: one per (seed, ridge, superpixel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory import theory
from limetheory.analytic import ShapeDetector

from ._common import DigitContext, bar_mask, digit_context, digit_lime_rows, digit_lime_settings, summarize_runs

NAME = "shape_detector"
TITLE = "Exp. 1 (Fig. 3): LIME on a shape detector vs the closed-form limit"
VERSION = 2


def settings(quick: bool) -> dict:
    """The paper's setting (5 runs at n = 1000) in both modes: it takes about a second."""
    return {
        **digit_lime_settings(),
        "shape": {"row": 9, "col": 8, "length": 8, "width": 2},  # on the stroke, across 3 superpixels
        "tau": 0.5,
    }


def units(s: dict) -> list:
    return [{"seed": seed} for seed in s["seeds"]]


@dataclass(frozen=True, eq=False)
class Context(DigitContext):
    """The digit and its superpixels, the shape detector, its limit (closed form and enumerated),
    E_- and the exact sd of one run's coefficients."""

    mask: np.ndarray
    model: ShapeDetector
    limit: np.ndarray
    limit_enum: np.ndarray
    e_minus: np.ndarray
    exact_sd: np.ndarray


def setup(s: dict) -> Context:
    base = digit_context(s)
    image, segments = base.image, base.segments
    mask = bar_mask(image.shape, **s["shape"])
    model = ShapeDetector(mask, s["tau"])
    if not model.lights(image):
        raise ValueError("the digit does not light the whole shape: choose another bar in settings()")
    d = lt.segmentation.n_superpixels(segments)
    limit = model.limit_explanation(image, segments, hide_color=s["hide_color"], kernel_width=s["kernel_width"])
    f_of_z = model.response_of_z(image, segments, s["hide_color"])
    limit_enum = theory.exact_limit(f_of_z, d, s["kernel_width"])
    cov = theory.exact_limit_covariance(f_of_z, d, s["kernel_width"])
    exact_sd = np.sqrt(np.diag(cov)[1:] / s["n_samples"])  # one run's sd around the limit (ridge 0)
    return Context(**vars(base), mask=mask, model=model, limit=limit, limit_enum=limit_enum,
                   e_minus=model.destroying_superpixels(image, segments, s["hide_color"]), exact_sd=exact_sd)


def run_unit(unit: dict, ctx: Context) -> pd.DataFrame:
    return digit_lime_rows(ctx, ctx.model, ctx.limit, unit["seed"], {
        "limit_enum": ctx.limit_enum[1:], "in_shape": ctx.e_minus, "exact_sd": ctx.exact_sd})


def arrays(ctx: Context) -> dict:
    return {"image": ctx.image, "segments": ctx.segments, "shape_mask": ctx.mask, "e_minus": ctx.e_minus,
            "limit": ctx.limit, "limit_enum": ctx.limit_enum, "exact_sd": ctx.exact_sd}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    per_superpixel, agreement = summarize_runs(frame, extra=("in_shape", "exact_sd"))
    enum_gap = float((frame["limit"] - frame["limit_enum"]).abs().max())
    agreement["max_closed_form_vs_enumeration"] = enum_gap
    by_ridge = frame.groupby("ridge", sort=True)
    agreement["mean_exact_sd"] = by_ridge["exact_sd"].mean().to_numpy()
    agreement["mean_coef_se"] = by_ridge["coef_se"].mean().to_numpy()
    return {"superpixels": per_superpixel, "agreement": agreement}
