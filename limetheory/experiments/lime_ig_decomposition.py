"""Experiment 4's companion: why LIME and the IG sums part ways, split into two named parts.

Per superpixel j of the game g(z) = f(x(z)) (f: the probability of the network's top class, x(z)
LIME's perturbed image; :class:`limetheory.compare.LimeIGDecomposition`)::

    LIME limit - IG sums = (LIME limit - Shapley)   interactions between superpixels
                         + (Shapley - IG sums)      what f does inside superpixels along the path

The first part is zero when g is affine in z; the second when the continuous game
h(t) = f(xi_bar + sum_j t_j 1_{J_j} (xi - xi_bar)) is multilinear in the t_j.

Units: one per (network, image), with experiment 4's networks, images (its settings'
``images``, the same keys, so the rows join experiment 4's on ``(model, image)``), segmentation
(``"preprocessed"``, the paper protocol's quickshift of the network's input) and integrated
gradients by Gauss-Legendre with the network's ``gl_steps`` (experiment 4's ``paper_gauss_legendre``
protocol: the paper's segmentation, the accurate rule; the trapezoid's quadrature error would land
in the path part). The class is the network's top class on the image.

- ``d <= D_EXACT``: exact, from one table of the 2^d responses (:func:`limetheory.compare.decompose_lime_ig`);
  standard errors 0, ``exact`` True.
- ``d > D_EXACT``: estimated. The LIME limit from one :func:`limetheory.explain` run (kernel
  ``"lime"``, lime's kernel width 0.25, ridge 0: the estimator whose limit is LIME's limit),
  the Shapley value from one independent KernelSHAP run (``kernel="shap"``, ``design="paired"``),
  each with its own sandwich standard errors; IG is deterministic, so
  ``se(interactions_j)^2 = se(lime_j)^2 + se(shapley_j)^2`` (independent runs) and
  ``se(path_j) = se(shapley_j)``.

Rows: one per (network, image, superpixel). Tables: ``images`` (per image, the sizes of the two
parts) and ``summary`` (per network; see :func:`image_summary` for the definitions).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from limetheory.analytic import response_of_z
from limetheory.compare import decompose_lime_ig
from limetheory.empirical import explain
from limetheory.nets import OUTPUTS, softmax
from limetheory.pipeline import class_scores, ig_superpixel_sums
from limetheory.segmentation import n_superpixels

from . import lime_vs_ig
from .lime_vs_ig import FAMILIES, SMALL_CNNS, unit_input, unit_seed

NAME = "lime_ig_decomposition"
TITLE = "Exp. 4b: LIME limit - IG sums = interactions (LIME - Shapley) + path (Shapley - IG), per superpixel"
VERSION = 1

#: The largest d whose decomposition is exact (2^16 network calls: seconds to a minute on the small
#: networks); above it, estimated from a LIME and a KernelSHAP run.
D_EXACT = 16
#: The networks of the full run: the small CNNs and the Table 1 networks. EfficientNet-Lite is not
#: run: its d (33 to 58) makes every unit an estimated one of 2 x 2000 calls, minutes each on a CPU.
FULL_NETS = SMALL_CNNS + FAMILIES["Table 1 networks"]
#: Images per network of the full run: experiment 4's committed counts.
FULL_IMAGES = {"digits-cnn": 20, "shapes-cnn": 20, "*": 10}
#: The segmentation (experiment 4's paper protocol) and the output explained.
SEGMENTATION = "preprocessed"
OUTPUT = "prob"


def settings(quick: bool, nets=None, max_images=None) -> dict:
    """Full: :data:`FULL_NETS` on :data:`FULL_IMAGES` images, 2000 samples per LIME and per
    KernelSHAP run. Quick: digits-cnn on 2 images, ``d_exact`` 10 (one image of each kind), 300
    samples per run, 32 Gauss-Legendre points. ``nets``, ``max_images``: as for experiment 4
    (:func:`limetheory.experiments.lime_vs_ig.settings`); neither enters a unit's key."""
    if nets is None:
        nets = ("digits-cnn",) if quick else FULL_NETS
    if max_images is None:
        max_images = {"*": 2} if quick else FULL_IMAGES
    base = lime_vs_ig.settings(quick, protocol="paper", nets=nets, max_images=max_images)
    models = [{"model": m["model"], "identity": m["identity"], "images": m["images"], "gl_steps": m["gl_steps"],
               "segmentations": {SEGMENTATION: m["segmentations"][SEGMENTATION]}} for m in base["models"]]
    return {
        "models": models,
        "segmentation": SEGMENTATION,
        "output": OUTPUT,
        "ig_rule": "gausslegendre",
        "kernel_width": base["kernel_width"],
        "hide_color": base["hide_color"],
        "d_exact": 10 if quick else D_EXACT,
        "n_lime": 300 if quick else 2000,
        "lime_ridge": 0.0,
        "n_shap": 300 if quick else 2000,
        "shap_design": "paired",
        "seed": base["seed"],
    }


unit_settings = lime_vs_ig.unit_settings
setup = lime_vs_ig.setup


def units(s: dict) -> list:
    return [{"model": u["model"], "image": u["image"]} for u in lime_vs_ig.units({**s, "protocols": ["paper"]})]


def decomposition(predict, image, segments, ig_sums, *, d_exact: int, kernel_width: float, n_lime: int,
                  n_shap: int, seeds, hide_color=None, batch_size=None, dtype=None) -> dict:
    """The decomposition of ``predict`` (images -> (N,) scores) at ``image``: {name: (d,) array}.

    Keys ``lime, lime_se, shapley, shapley_se, interactions, interactions_se, path, path_se`` and
    ``exact`` (bool). Exact when d <= ``d_exact``; otherwise one LIME run (ridge 0, ``n_lime``
    samples, seed ``seeds[0]``) and one paired KernelSHAP run (``n_shap``, ``seeds[1]``).
    """
    d = n_superpixels(segments)
    ig = np.asarray(ig_sums, dtype=np.float64)
    if d <= d_exact:
        dec = decompose_lime_ig(response_of_z(predict, image, segments, hide_color, batch_size=batch_size), d, ig,
                                kernel_width)
        lime, lime_se, shap, shap_se = dec.lime_limit, np.zeros(d), dec.shapley, np.zeros(d)
    else:
        common = {"segments": segments, "hide_color": hide_color, "batch_size": batch_size, "dtype": dtype,
                  "progress": False}
        run = explain(image, predict, n_samples=n_lime, kernel_width=kernel_width, ridge=0.0, seed=seeds[0], **common)
        shap_run = explain(image, predict, n_samples=n_shap, kernel="shap", design="paired", seed=seeds[1], **common)
        lime, lime_se = run.coef[0], run.coef_se[0]
        shap, shap_se = shap_run.coef[0], shap_run.coef_se[0]
    return {"lime": lime, "lime_se": lime_se, "shapley": shap, "shapley_se": shap_se,
            "interactions": lime - shap, "interactions_se": np.hypot(lime_se, shap_se),
            "path": shap - ig, "path_se": shap_se, "exact": d <= d_exact}


def run_unit(unit: dict, ctx) -> pd.DataFrame:
    s = ctx.settings
    model, key = unit["model"], unit["image"]
    u = unit_input(ctx, model, key, SEGMENTATION)
    image, snet, segments, d, target = u.image, u.snet, u.segments, u.d, u.target
    t0 = time.perf_counter()
    sums, ig = ig_superpixel_sums(image, snet, segments, target, OUTPUT, hide_color=s["hide_color"],
                                  method=s["ig_rule"], n_steps=ctx.specs[model]["gl_steps"])
    column = OUTPUTS.index(OUTPUT)
    scores = class_scores(snet, target)

    def predict(images):
        return scores(images)[:, column]

    entropy = unit_seed(s, model, key)
    dec = decomposition(predict, image, segments, sums, d_exact=s["d_exact"], kernel_width=s["kernel_width"],
                        n_lime=s["n_lime"], n_shap=s["n_shap"], hide_color=s["hide_color"],
                        seeds=[np.random.default_rng(entropy + [30_000 + i]) for i in range(2)],
                        batch_size=snet.batch_size, dtype=np.float32)
    exact = dec.pop("exact")
    return pd.DataFrame({
        "model": model, "image": str(key), "d": d, "target": target, "true_label": u.true_label,
        "prob_target": float(softmax(u.logits)[target]), "exact": exact, "superpixel": np.arange(d),
        **dec, "ig": sums, "total": dec["lime"] - sums, "ig_rel_gap": ig.relative_gap(),
        "n_calls": 2 ** d if exact else s["n_lime"] + s["n_shap"], "seconds": time.perf_counter() - t0,
    })


def _debiased_norm(values, se) -> float:
    """sqrt(max(sum_j (v_j^2 - se_j^2), 0)): the norm of the estimated vector less its noise's
    expected contribution (E ||v_hat||^2 = ||v||^2 + sum se^2); the plain norm when se = 0."""
    return float(np.sqrt(max(np.sum(np.square(values) - np.square(se)), 0.0)))


def image_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (network, image): the sizes of the two parts.

    ``interactions_norm`` and ``path_norm``: Euclidean norms over the d superpixels (debiased by
    the standard errors where estimated: :func:`_debiased_norm`); ``*_rel``: the same divided by
    ``||Shapley||`` (debiased likewise), so networks and images compare; ``share`` =
    interactions_norm / (interactions_norm + path_norm), 1 when LIME departs from the IG sums only
    through interactions, 0 when only through the path; ``interactions_dominate`` = share > 1/2;
    ``superpixels_interactions_dominate``: the fraction of superpixels with |interactions_j| > |path_j|,
    compared by their squares less their variances (``interactions_j^2 - se^2 > path_j^2 - se^2``; the
    plain comparison where exact), so that estimation noise, larger in the interactions (two runs),
    does not count as interactions.
    """
    rows = []
    for (model, image), g in frame.groupby(["model", "image"], sort=False):
        inter = _debiased_norm(g["interactions"], g["interactions_se"])
        path = _debiased_norm(g["path"], g["path_se"])
        ref = _debiased_norm(g["shapley"], g["shapley_se"])
        rows.append({
            "model": model, "image": image, "d": int(g["d"].iloc[0]), "exact": bool(g["exact"].iloc[0]),
            "interactions_norm": inter, "path_norm": path, "shapley_norm": ref,
            "interactions_rel": inter / ref if ref > 0 else np.nan, "path_rel": path / ref if ref > 0 else np.nan,
            "share": inter / (inter + path) if inter + path > 0 else np.nan,
            "interactions_dominate": inter > path,
            "superpixels_interactions_dominate": float(np.mean(
                g["interactions"] ** 2 - g["interactions_se"] ** 2 > g["path"] ** 2 - g["path_se"] ** 2)),
            "ig_rel_gap": float(g["ig_rel_gap"].iloc[0]), "seconds": float(g["seconds"].iloc[0]),
        })
    return pd.DataFrame(rows)


def _mean_se(values) -> tuple:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan


def network_summary(images: pd.DataFrame) -> pd.DataFrame:
    """Per network (experiment 4's order): images, d range, how many exact, and the mean over images
    (with its standard error over images) of ``share``, ``interactions_rel`` and ``path_rel``; the
    fraction of images where the interactions dominate and the mean fraction of superpixels."""
    rows = []
    order = [m for m in lime_vs_ig.MODEL_ORDER if m in set(images["model"])]
    order += [m for m in dict.fromkeys(images["model"]) if m not in order]
    for model in order:
        g = images[images["model"] == model]
        row = {"model": model, "images": len(g), "d_min": int(g["d"].min()), "d_max": int(g["d"].max()),
               "exact_images": int(g["exact"].sum())}
        for col in ("share", "interactions_rel", "path_rel"):
            row[col], row[f"{col}_se"] = _mean_se(g[col])
        row["images_interactions_dominate"] = float(g["interactions_dominate"].mean())
        row["superpixels_interactions_dominate"] = float(g["superpixels_interactions_dominate"].mean())
        row["seconds_per_image"] = float(g["seconds"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def tables(frame: pd.DataFrame, s: dict) -> dict:
    images = image_summary(frame)
    summary = network_summary(images)
    for col in summary.columns:  # 3 significant digits: the one-layer networks' parts are orders smaller
        if summary[col].dtype == float:
            summary[col] = [float(f"{v:.3g}") for v in summary[col]]
    return {"images": images, "summary": summary}
