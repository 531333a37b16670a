"""Experiment 6: what LIME, its limit and integrated gradients highlight on real photos (EfficientNet-Lite0).

For every bundled photo (:data:`limetheory.data.PHOTOS`, 224 x 224), the class explained is the
network's top class and the output its softmax probability (what lime explains). Superpixels:
quickshift with lime's defaults; hidden superpixels take their mean colour. Three explanations
of the same function on the same superpixels:

- ``lime``: one run of empirical LIME as a user runs it (n = 1000, nu = 0.25, ridge 1);
- ``limit``: the limit explanation beta^f (docs/theory/limit.md: ridge 0, n -> infinity),
  estimated by empirical LIME with ridge 0 (weighted least squares, a consistent estimator of
  beta^f) on ``n_limit`` samples, in two independent halves: their mean is the estimate, the
  Jaccard between the halves says how settled its top superpixels are. Why not the Monte-Carlo
  moments of :func:`limetheory.theory.monte_carlo_limit` (Sigma^{-1} exact, E[pi Z f] by sample
  means)? Its error scales with f itself, not with the residual of the linear fit: a class
  probability of 0.8 that moves by 0.1 across samples is mostly a constant that the regression's
  intercept absorbs but the moment estimate carries into every coefficient. Measured on these
  photos with 2 x 10000 samples from the pi-weighted law: the two halves' top-5 sets agreed with
  Jaccard 0.25 (chelsea), 0.43 (coffee), 0.67 (motorcycle, china) and 1 (the other three), where
  LIME's own runs at n = 1000 already agree at 0.8 on average (experiment 4);
- ``ig``: integrated gradients of the probability, baseline LIME's replacement image,
  Gauss-Legendre quadrature, summed over every superpixel (docs/theory/lime_and_ig.md).

Rows: one per (photo, superpixel) with ``lime``, ``limit``, ``limit_half1``, ``limit_half2``,
``ig`` and the photo's class, probability, d and IG completeness gap. Units: one per photo.
Table ``agreement``: per photo, top-5 Jaccard and Spearman correlation of every pair.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from limetheory.data import PHOTOS, load_photo
from limetheory.nets import SEGMENTATION, softmax
from limetheory.nets import load_cached
from limetheory.pipeline import OUTPUTS, ig_superpixel_sums, lime_coefficients, segment_for
from limetheory.metrics import jaccard_topk, rank_correlation
from limetheory.segmentation import n_superpixels

from .user_model import folder_image_names, load_user_images, user_identity, user_scored_net

NAME = "qualitative"
TITLE = "Exp. 6: LIME, its limit (n large, ridge 0) and IG superpixel sums on real photos (EfficientNet-Lite0)"
VERSION = 3  # 3: a model column (reproduce --model runs it on a user's network)
MODEL = "efficientnet-lite0"

#: Pairs compared in the ``agreement`` table.
PAIRS = (("lime", "limit"), ("limit", "ig"), ("lime", "ig"), ("limit_half1", "limit_half2"))


def settings(quick: bool, user_model: dict | None = None) -> dict:
    """Full: the 7 photos, LIME n = 1000, the limit from 2 x 10000 samples, IG with 128 points.
    Quick (a smoke test, seconds): one photo, LIME n = 32, limit from 2 x 48 samples, IG with 8 points.
    ``user_model`` (``limetheory reproduce --model ...``): that network instead, on the images of its
    folder (``user_model["images"]``, all of them, or the first with ``quick``) or the photos."""
    model, user = MODEL, {}
    photos = ["chelsea"] if quick else list(PHOTOS)
    if user_model is not None:
        model = user_model["model"]
        user = {"user": user_model, "identity": user_identity(user_model)}
        if user_model.get("images"):
            photos = folder_image_names(user_model["images"])[: 1 if quick else None]
    return {
        "model": model,
        **user,
        "photos": photos,
        "segmentation": SEGMENTATION.get(model, {"method": "quickshift"}),
        "output": "prob",
        "kernel_width": 0.25,
        "ridge": 1.0,
        "hide_color": None,
        "n_samples": 32 if quick else 1000,
        "n_limit": 96 if quick else 20000,
        "ig": {"method": "gausslegendre", "n_steps": 8 if quick else 128},
        "k": 5,
        "seed": 20210706,
    }


def units(s: dict) -> list:
    return [{"photo": name} for name in s["photos"]]


@dataclass(frozen=True, eq=False)
class Context:
    """The settings and, per photo name, the image and its superpixels."""

    settings: dict
    images: dict
    segments: dict


def _scored(s: dict):
    """The Classifier of the settings' model (EfficientNet-Lite0 or the user's)."""
    return user_scored_net(s["user"]) if "user" in s else load_cached(s["model"])


def setup(s: dict) -> Context:
    size = _scored(s).input_size
    if s.get("user", {}).get("images"):
        images = load_user_images(s["user"]["images"], s["photos"], size)
    else:
        images = {name: load_photo(name, tuple(size)) for name in s["photos"]}
    segments = {name: segment_for(images[name], s["model"], s["segmentation"]) for name in s["photos"]}
    return Context(s, images, segments)


def run_unit(unit: dict, ctx: Context) -> pd.DataFrame:
    s = ctx.settings
    name = unit["photo"]
    image, segments = ctx.images[name], ctx.segments[name]
    snet = _scored(s)
    d = n_superpixels(segments)
    logits = snet.scores(image[None], "logit")[0]
    target = int(np.argmax(logits))
    prob = float(softmax(logits)[target])
    entropy = [int(s["seed"]), zlib.crc32(name.encode())]
    col = OUTPUTS.index(s["output"])

    t0 = time.perf_counter()
    lime = lime_coefficients(image, snet, segments, target, [np.random.default_rng(entropy + [0])],
                             n_samples=s["n_samples"], kernel_width=s["kernel_width"], ridge=s["ridge"],
                             hide_color=s["hide_color"])[0, col]
    t1 = time.perf_counter()
    halves = lime_coefficients(image, snet, segments, target, [np.random.default_rng(entropy + [1, h]) for h in (0, 1)],
                               n_samples=s["n_limit"] // 2, kernel_width=s["kernel_width"], ridge=0.0,
                               hide_color=s["hide_color"])[:, col]
    t2 = time.perf_counter()
    ig_sums, ig = ig_superpixel_sums(image, snet, segments, target, s["output"], n_steps=s["ig"]["n_steps"],
                                     method=s["ig"]["method"], hide_color=s["hide_color"])
    t3 = time.perf_counter()
    limit = (halves[0] + halves[1]) / 2.0
    return pd.DataFrame({
        "model": s["model"], "photo": name, "superpixel": np.arange(d), "d": d,
        "n_pixels": np.bincount(segments.ravel(), minlength=d),
        "target": target, "target_name": str(snet.class_names[target]), "prob_target": prob,
        "lime": lime, "limit": limit, "limit_half1": halves[0], "limit_half2": halves[1], "ig": ig_sums,
        "ig_f_x": ig.f_x, "ig_f_baseline": ig.f_baseline, "ig_rel_gap": ig.relative_gap(),
        "lime_seconds": t1 - t0, "limit_seconds": t2 - t1, "ig_seconds": t3 - t2,
    })


def arrays(ctx: Context) -> dict:
    out = {}
    for name in ctx.settings["photos"]:
        out[f"image_{name}"] = ctx.images[name]
        out[f"segments_{name}"] = ctx.segments[name]
    return out


def tables(frame: pd.DataFrame, s: dict) -> dict:
    if frame.empty:
        return {}
    k = int(s["k"])
    rows = []
    for name in s["photos"]:
        sub = frame[frame["photo"] == name].sort_values("superpixel")
        if sub.empty:
            continue
        row = {"photo": name, "class": sub["target_name"].iloc[0], "prob": float(sub["prob_target"].iloc[0]),
               "d": int(sub["d"].iloc[0])}
        for a, b in PAIRS:
            row[f"jaccard{k}_{a}_{b}"] = jaccard_topk(sub[a].to_numpy(), sub[b].to_numpy(), min(k, len(sub)))
        for a, b in PAIRS[:3]:
            row[f"spearman_{a}_{b}"] = rank_correlation(sub[a].to_numpy(), sub[b].to_numpy())
        ig = sub["ig"].to_numpy()
        row["rel_err_limit_ig"] = float(np.linalg.norm(sub["limit"].to_numpy() - ig) / np.linalg.norm(ig))
        row["ig_rel_gap"] = float(sub["ig_rel_gap"].iloc[0])
        rows.append(row)
    return {"agreement": pd.DataFrame(rows)}
