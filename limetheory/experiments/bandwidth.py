"""Experiment 5: when does LIME miss the shape? The bandwidth nu and the number of superpixels d.

The shape detector of experiment 1 (a vertical bar of 8 x 2 pixels on a 28 x 28 digit, tau = 0.5,
black replacement) is explained on regular k x k grids (d = k^2 superpixels): the finer the grid,
the more superpixels p = |E_-| the bar is split into. The limit explanation
(docs/theory/closed_forms.md, *Shape detectors*,
:func:`limetheory.theory.product_limit`) puts one weight beta_in on E_- and one beta_out on the
others; beta_in - beta_out = (alpha_p - alpha_{p+1}) / (alpha_1 - alpha_2), which tends to
2^{-(p-1)} when nu sqrt(d) is large: a shape split into many superpixels gets exponentially small
weight, whatever nu. Only a small bandwidth on a coarse segmentation lifts it.

Rows (the units, one per grid size k): for every nu of the LIME grid, every seed and both samplers,
one LIME run (n samples, lime's ridge lambda = 1) with the limit values of that cell, the run's
mean coefficient on E_- and largest coefficient outside, and whether its top-p superpixels are
exactly E_- (``found``): the empirical answer to "does LIME see the shape?". ``sampler`` is lime's
Bernoulli design or z drawn from the pi-weighted law with equal weights
(:func:`limetheory.sampling.weighted_samples`): the same limit, but no sample is wasted on a
negligible weight, which decides whether a small nu is usable at all.

Tables: ``theory`` (beta_in, beta_out, gap and alpha_p / alpha_0 on a fine (nu, k) grid),
``alpha`` (alpha_p / alpha_0 against p for several nu at fixed d) and ``detection`` (per (k, nu):
rate of runs that found the shape, the gap, the run-to-run spread of the coefficients).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory import theory
from limetheory.analytic import ShapeDetector
from limetheory.sampling import SAMPLER_DESIGNS

from ._common import bar_mask, digit_image

NAME = "bandwidth"
TITLE = "Exp. 5: bandwidth nu and superpixel count d, when LIME misses a shape"
VERSION = 2

#: The kernel width's stored names: the rows' column, and ``theory_nu`` and ``alpha_nu`` in the
#: settings. The committed units are keyed by a hash of the settings and hold these columns
#: (:mod:`limetheory.experiments.store`), so the stored names stay ``nu``; the code says kernel_width.
WIDTH_COLUMN = "nu"


def settings(quick: bool) -> dict:
    """Quick: 4 x 4 (k, nu) cells with 3 runs each. Full: 7 x 7 cells with 10 runs each."""
    return {
        "image": {"split": "test", "index": 2, "size": 28},
        "shape": {"row": 9, "col": 8, "length": 8, "width": 2},
        "tau": 0.5,
        "hide_color": 0.0,
        "n_samples": 1000,
        "ridge": 1.0,
        "grid_k": [2, 4, 7, 14] if quick else [2, 3, 4, 7, 10, 14, 28],
        "kernel_widths": [0.05, 0.25, 1.0, 5.0] if quick else [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0],
        "seeds": [0, 1, 2] if quick else list(range(10)),
        "samplers": ["bernoulli", "weighted"],
        "theory_k": [2, 3, 4, 5, 7, 10, 14, 20, 28] if quick else list(range(2, 29)),
        # theory_nu, alpha_nu: kernel widths, under the names the stored units were hashed with (WIDTH_COLUMN)
        "theory_nu": np.round(np.logspace(np.log10(0.02), np.log10(10.0), 11 if quick else 31), 6).tolist(),
        "alpha_d": 49,
        "alpha_p": list(range(0, 13)),
        "alpha_nu": [0.05, 0.1, 0.25, 0.5, 1.0, 5.0],
    }


def units(s: dict) -> list:
    return [{"k": k} for k in s["grid_k"]]


def _image_and_model(s: dict):
    image, _ = digit_image(s["image"]["index"], s["image"]["size"], s["image"]["split"])
    model = ShapeDetector(bar_mask(image.shape, **s["shape"]), s["tau"])
    return image, model


def e_minus_for_grid(image, model, k: int, hide_color) -> tuple[np.ndarray, np.ndarray]:
    """The k x k grid segmentation and E_- (boolean (d,)) for the shape detector."""
    segments = lt.segmentation.grid(image.shape, k, k)
    return segments, model.destroying_superpixels(image, segments, hide_color)


def limit_values(d: int, kernel_width: float, members: np.ndarray) -> dict:
    """beta_in, beta_out, intercept, gap and alpha_p / alpha_0 of the shape detector's limit."""
    p = int(members.sum())
    beta = theory.product_limit(d, kernel_width, members)
    inside = beta[1:][members]
    outside = beta[1:][~members]
    b_in = float(inside[0]) if inside.size else np.nan
    b_out = float(outside[0]) if outside.size else np.nan
    ratio = float(np.exp(theory.log_alpha(d, kernel_width, p) - theory.log_alpha(d, kernel_width, 0)))
    return {"beta_in": b_in, "beta_out": b_out, "intercept": float(beta[0]), "gap": b_in - b_out,
            "alpha_ratio": ratio}


@dataclass(frozen=True, eq=False)
class Context:
    """The settings, the digit and the shape detector."""

    settings: dict
    image: np.ndarray
    model: ShapeDetector


def setup(s: dict) -> Context:
    image, model = _image_and_model(s)
    if not model.lights(image):
        raise ValueError("the digit does not light the whole shape: choose another bar in settings()")
    return Context(s, image, model)


def run_unit(unit: dict, ctx: Context) -> pd.DataFrame:
    s = ctx.settings
    k = unit["k"]
    segments, members = e_minus_for_grid(ctx.image, ctx.model, k, s["hide_color"])
    rows = []
    for kernel_width in s["kernel_widths"]:
        cell = {"k": k, "d": members.size, "p": int(members.sum()), WIDTH_COLUMN: kernel_width,
                **{f"limit_{key}": val for key, val in limit_values(members.size, kernel_width, members).items()}}
        for sampler in s["samplers"]:
            for seed in s["seeds"]:
                rows.append({**cell, "sampler": sampler, "seed": seed, "n_samples": s["n_samples"],
                             **_lime_run(ctx, segments, members, kernel_width, seed, sampler)})
    return pd.DataFrame(rows)


def _lime_run(ctx: Context, segments, members, kernel_width: float, seed: int, sampler: str) -> dict:
    """One LIME run: its mean coefficient on E_-, the largest and spread outside, and ``found``."""
    s = ctx.settings
    ex = lt.explain(ctx.image, ctx.model, segments=segments, n_samples=s["n_samples"], kernel_width=kernel_width,
                    ridge=s["ridge"], hide_color=s["hide_color"], seed=seed, design=SAMPLER_DESIGNS[sampler],
                    progress=False,
                    refuse_unidentified=False)  # lime's failure at small widths is what this measures
    coef = ex.coef[0]
    top = np.argsort(-coef, kind="stable")[: int(members.sum())]
    return {
        "mean_in": float(coef[members].mean()), "max_out": float(coef[~members].max()),
        "sd_out": float(coef[~members].std(ddof=1)) if (~members).sum() > 1 else np.nan,
        "found": bool(set(top.tolist()) == set(np.flatnonzero(members).tolist())),
    }


def arrays(ctx: Context) -> dict:
    return {"image": ctx.image, "shape_mask": ctx.model.shape_mask}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    image, model = _image_and_model(s)
    theory_rows = []
    for k in s["theory_k"]:
        _, members = e_minus_for_grid(image, model, k, s["hide_color"])
        for kernel_width in s["theory_nu"]:
            theory_rows.append({"k": k, "d": members.size, "p": int(members.sum()), WIDTH_COLUMN: kernel_width,
                                **limit_values(members.size, kernel_width, members)})
    d = s["alpha_d"]
    alpha_rows = [
        {"d": d, WIDTH_COLUMN: kernel_width, "p": p, "alpha_ratio": float(np.exp(theory.log_alpha(d, kernel_width, p) - theory.log_alpha(d, kernel_width, 0))),
         "half_power": 2.0 ** -p}
        for kernel_width in s["alpha_nu"] for p in s["alpha_p"]
    ]
    det = (frame.groupby(["sampler", "k", "d", "p", WIDTH_COLUMN], sort=True)
           .agg(runs=("found", "size"), found_rate=("found", "mean"), limit_gap=("limit_gap", "first"),
                limit_beta_in=("limit_beta_in", "first"), mean_in=("mean_in", "mean"),
                sd_in=("mean_in", "std"), sd_out=("sd_out", "mean"))
           .reset_index())
    return {"theory": pd.DataFrame(theory_rows), "alpha": pd.DataFrame(alpha_rows), "detection": det}
