"""Model randomisation sanity checks (Adebayo et al., NeurIPS 2018) on exact explanations.

An explanation that does not change when the network's weights are replaced by random ones does
not explain the network. For every network (the small CNNs and the paper's Table 1 networks),
held-out image and randomisation seed, the layers are re-initialised by the network's own
initialiser (:mod:`limetheory.nets.randomize`):

- ``cascading``: the top layer, then the top two, ..., then all of them (Adebayo's cascade);
- ``independent``: each layer alone.

Superpixels: a ``rows x cols`` grid (d = 10 by default), small enough that every game value is
exact. The class explained is the trained network's top class, on every network state; the
output is its softmax probability (what lime explains); hidden superpixels take their mean colour.
Each network state's 2^d responses are evaluated once (:func:`.exact_methods.response_table`) and
every exact method reads them (:mod:`.exact_methods`): the LIME limit at lime's kernel width 0.25
and at a wide one (2, near the Banzhaf value, its limit as the width grows), the exact Shapley, Banzhaf and occlusion values, one
sampled LIME run of lime's n = 1000 (the noise a user sees), the IG superpixel sums, a random
ranking and the input-only control (each superpixel's pixel contrast to its replacement, the same
for every network state).

Comparisons (``comparison``; rank similarity of two explanations of the same image and method:
Spearman's rho of the signed values, of their absolute values, and the Jaccard index of the top-k
by absolute value):

- ``randomized``: the trained network against a randomised one (per ``mode`` and ``step``);
- ``random_pair``: two independently, fully randomised networks: the similarity that random
  networks share through the image alone;
- ``rerun``: the trained network against itself, the method run again with another seed
  (1 for the deterministic methods: no rows; the noise floor of ``sampled`` and ``random``);
- ``vs_limit``: the sampled run against the exact limit at its kernel width, on the same state.

A method passes where its explanation of the trained network is reproducible (rerun) and
clearly unlike that of the randomised network, i.e. near the null; the control shows what an
explanation of the image alone scores (1 everywhere). A noisy method can look like it passes:
noise alone decorrelates two runs.

Units: one per (network, image, seed), keyed by the network's own settings (:func:`unit_settings`),
so ``nets`` and ``max_images`` runs add up. Tables: ``similarity`` (mean and standard error over
images of each image's mean over seeds), ``summary`` (per network, method and Spearman's rho of
the signed or absolute values: trained vs top layer randomised, vs fully randomised, null, rerun,
pass; :func:`summary_table`).
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from limetheory.metrics import jaccard_topk, rank_correlation
from limetheory.nets.randomize import (cascading_steps, independent_steps, layer_order, randomize_layers,
                                       reinitialized)
from limetheory.nets.vgg import NAMES as TABLE1_NAMES
from limetheory.segmentation import grid, superpixel_contrast
from limetheory.validation import check_choice

from . import exact_methods as em
from .lime_vs_ig import _check_max_images, _heldout_images, load_images

NAME = "sanity_randomisation"
TITLE = "Sanity checks: model randomisation (cascading, independent) against exact LIME limits, Shapley, IG"
VERSION = 1

SMALL_CNNS = ("digits-cnn", "shapes-cnn")
MODEL_ORDER = SMALL_CNNS + TABLE1_NAMES
#: Comparison kinds, in table order.
COMPARISONS = ("randomized", "random_pair", "rerun", "vs_limit")
STOCHASTIC = ("sampled", "random")
#: Held-out images per network in the full run.
FULL_IMAGES = 50


def methods(kernel_widths) -> list:
    """The methods compared, in table order."""
    return ([em.limit_name(kernel_width) for kernel_width in kernel_widths] + list(em.GAMES) + ["sampled", "ig", "random", "contrast"])


def settings(quick: bool, nets=None, max_images=None) -> dict:
    """Full: every small CNN and Table 1 network, 50 held-out images, 5 randomisation seeds, a 2 x 5
    grid (d = 10: 1024 network evaluations per image and network state), IG with 32 Gauss-Legendre points. Quick (a smoke test): digits-cnn, 2 images,
    1 seed, a 2 x 3 grid (d = 6), 8 points. ``nets``, ``max_images``: a subset (not in the unit keys);
    ``max_images`` an int, or {network or "*": count} (``limetheory reproduce --max-images 10 digits-cnn=50``)."""
    if nets is None:
        nets = ("digits-cnn",) if quick else MODEL_ORDER
    if isinstance(nets, str) or not nets:
        raise ValueError(f"nets must be a non-empty list of network names, got {nets!r}")
    for name in nets:
        check_choice(name, "nets", MODEL_ORDER)
    count = 2 if quick else FULL_IMAGES
    limits = _check_max_images(max_images, MODEL_ORDER) or {}
    widths = [0.25, 2.0]
    return {
        "models": [{"model": name, "images": {**_heldout_images(name),
                                              "count": min(count, limits.get(name, limits.get("*", count)))}}
                   for name in nets],
        "grid": [2, 3] if quick else [2, 5],
        "seeds": [0] if quick else [0, 1, 2, 3, 4],
        "kernel_widths": widths,
        "methods": methods(widths),
        "sampled": {"n_samples": 1000, "kernel_width": 0.25, "ridge": 1.0},
        "ig_steps": 8 if quick else 32,
        "hide_color": None,
        "k": 2 if quick else 3,
        "seed": 20181203,
    }


def unit_settings(s: dict, unit: dict) -> dict:
    """The settings but the other networks and the image count (a unit names its image)."""
    spec = next(m for m in s["models"] if m["model"] == unit["model"])
    images = {k: v for k, v in spec["images"].items() if k != "count"}
    return {**{k: v for k, v in s.items() if k != "models"}, "model": {"model": spec["model"], "images": images}}


def units(s: dict) -> list:
    return [{"model": m["model"], "image": i, "seed": seed}
            for m in s["models"] for i in range(int(m["images"]["count"])) for seed in s["seeds"]]


class _Context:
    """Settings plus every network's held-out images, loaded on first use."""

    def __init__(self, s: dict):
        self.settings = s
        self.specs = {m["model"]: m for m in s["models"]}
        self._images = {}

    def image(self, model: str, index: int) -> np.ndarray:
        if model not in self._images:
            self._images[model] = load_images(self.specs[model]["images"])
        return self._images[model][index][0]


def setup(s: dict) -> _Context:
    return _Context(s)


def states(order, seed_entropy) -> list:
    """The network states of one unit: ``(mode, step, layers randomised, which fresh network)``.

    ``trained``; every cascading and independent step (``fresh``: the seed's re-initialisation);
    ``random_pair``: every layer from a second, independent re-initialisation (the null).
    """
    out = [("trained", 0, (), None)]
    out += [("cascading", i + 1, layers, "fresh") for i, layers in enumerate(cascading_steps(order))]
    out += [("independent", i + 1, layers, "fresh") for i, layers in enumerate(independent_steps(order))]
    out.append(("random_pair", len(order), tuple(order), "null"))
    return out


def similarity(a, b, k: int) -> dict:
    """Spearman's rho of a and b, of |a| and |b|, and the Jaccard index of their top-k by |value|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return {"spearman": rank_correlation(a, b), "spearman_abs": rank_correlation(np.abs(a), np.abs(b)),
            "jaccard": jaccard_topk(np.abs(a), np.abs(b), k)}


def _explain_state(s, params, forward, image, segments, target, rng) -> tuple:
    """{method: explanation} of one network state, and the range of g over {0,1}^d."""
    table = em.response_table(params, forward, image, segments, target, s["hide_color"])
    out = em.exact_explanations(table, s["kernel_widths"])
    out["sampled"] = em.sampled_lime(table, rng, **s["sampled"])
    out["random"] = rng.permutation(table.d).astype(np.float64)
    out["contrast"] = superpixel_contrast(image, segments, s["hide_color"])
    return out, table, float(np.ptp(table.values))


def run_unit(unit: dict, ctx: _Context) -> pd.DataFrame:
    s = ctx.settings
    model, index, seed = unit["model"], int(unit["image"]), int(unit["seed"])
    params, forward = em.network(model)
    image = ctx.image(model, index)
    segments = grid(image.shape, *s["grid"])
    target = int(np.argmax(np.asarray(forward(params, np.asarray(image, np.float32)[None]))[0]))
    entropy = [int(s["seed"]), zlib.crc32(f"{model}/{index}".encode()), seed]
    order = layer_order(params)
    fresh = {"fresh": reinitialized(params, np.random.SeedSequence(entropy + [1])),
             "null": reinitialized(params, np.random.SeedSequence(entropy + [2]))}
    k = int(s["k"])
    base = {"model": model, "image": index, "seed": seed, "target": target, "d": int(segments.max()) + 1,
            "n_layers": len(order)}
    explained, rows = {}, []
    for si, (mode, step, layers, source) in enumerate(states(order, entropy)):
        state_params = params if source is None else randomize_layers(params, fresh[source], layers)
        key = (source, tuple(sorted(layers)))
        if key not in explained:  # the top layer alone is the cascade's first step: computed once
            rng = np.random.default_rng(entropy + [100 + si])
            expl, table, f_range = _explain_state(s, state_params, forward, image, segments, target, rng)
            expl["ig"], gap = em.ig_sums(state_params, forward, image, segments, target, n_steps=s["ig_steps"],
                                         hide_color=s["hide_color"])
            explained[key] = (expl, table, f_range, gap, rng)
        expl, table, f_range, gap, rng = explained[key]
        state = {**base, "mode": mode, "step": step, "layers": "+".join(layers) or "none",
                 "n_randomized": len(layers), "f_range": f_range, "ig_rel_gap": gap}
        pairs = {}
        if mode in ("cascading", "independent"):
            pairs["randomized"] = explained[(None, ())][0]
        elif mode == "random_pair":
            pairs["random_pair"] = explained[("fresh", tuple(sorted(order)))][0]
        for comparison, other in pairs.items():
            for m in s["methods"]:
                rows.append({**state, "comparison": comparison, "method": m, **similarity(expl[m], other[m], k)})
        if mode in ("trained", "random_pair") or (mode == "cascading" and step == len(order)):
            limit = expl[em.limit_name(s["sampled"]["kernel_width"])]
            rows.append({**state, "comparison": "vs_limit", "method": "sampled",
                         **similarity(expl["sampled"], limit, k)})
        if mode == "trained":
            rerun = {"sampled": em.sampled_lime(table, rng, **s["sampled"]),
                     "random": rng.permutation(table.d).astype(np.float64)}
            for m in STOCHASTIC:
                rows.append({**state, "comparison": "rerun", "method": m, **similarity(rerun[m], expl[m], k)})
    return pd.DataFrame(rows)


# =========================================================================== tables
METRICS = ("spearman", "spearman_abs", "jaccard")


def _mean_se_over_images(sub: pd.DataFrame, metric: str) -> tuple:
    """Mean over images of each image's mean over seeds, and its standard error (sd / sqrt(n_images))."""
    per_image = sub.groupby("image")[metric].mean().dropna()
    n = len(per_image)
    if n == 0:
        return np.nan, np.nan, 0
    se = float(per_image.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    return float(per_image.mean()), se, n


def similarity_table(frame: pd.DataFrame, method_order) -> pd.DataFrame:
    """Per (network, comparison, mode, step, method): mean and standard error of every metric."""
    rows = []
    keys = ["model", "comparison", "mode", "step", "layers", "method"]
    for key, sub in frame.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        row["n_images"] = int(sub["image"].nunique())
        row["n_seeds"] = int(sub["seed"].nunique())
        for metric in METRICS:
            row[metric], row[f"{metric}_se"], _ = _mean_se_over_images(sub, metric)
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = {m: i for i, m in enumerate(method_order)}
    comp = {c: i for i, c in enumerate(COMPARISONS)}
    mode = {"trained": 0, "cascading": 1, "independent": 2, "random_pair": 3}
    models = {m: i for i, m in enumerate(dict.fromkeys(frame["model"]))}
    sort = np.lexsort([out["method"].map(order), out["step"], out["mode"].map(mode), out["comparison"].map(comp),
                       out["model"].map(models)])
    return out.iloc[sort].reset_index(drop=True)


def summary_table(sim: pd.DataFrame, method_order, metric: str = "spearman_abs") -> pd.DataFrame:
    """Per network and method: ``metric`` of trained vs top layer randomised, vs fully randomised
    (cascade's last step), the null, the rerun (1 for deterministic methods); and the verdict.

    ``reproducible``: rerun similarity >= 0.8. ``passes``: reproducible, the fully randomised
    similarity lies more than 0.1 plus 2 standard errors below the rerun similarity (the
    explanation changes materially) and at most 0.1 plus 2 standard errors above the null (it
    keeps no more of the trained network's explanation than any random network does).
    """
    rows = []
    for model, msub in sim.groupby("model", sort=False):
        n_layers = int(msub.loc[msub["mode"] == "cascading", "step"].max())
        for m in method_order:
            sub = msub[msub["method"] == m]
            if sub.empty:
                continue

            def pick(comparison, mode=None, step=None):
                s = sub[sub["comparison"] == comparison]
                if mode is not None:
                    s = s[(s["mode"] == mode) & (s["step"] == step)]
                return (float(s[metric].iloc[0]), float(s[f"{metric}_se"].iloc[0])) if len(s) else (np.nan, np.nan)

            top, top_se = pick("randomized", "cascading", 1)
            full, full_se = pick("randomized", "cascading", n_layers)
            null, null_se = pick("random_pair")
            rerun, rerun_se = pick("rerun") if m in STOCHASTIC else (1.0, 0.0)
            reproducible = bool(rerun >= 0.8)
            drop = rerun - full > 0.1 + 2 * _root_sum_squares(full_se, rerun_se)
            near_null = full <= null + 0.1 + 2 * _root_sum_squares(full_se, null_se)
            rows.append({"model": model, "method": m, "metric": metric, "top_layer": top, "top_layer_se": top_se,
                         "all_layers": full, "all_layers_se": full_se, "null": null, "null_se": null_se,
                         "rerun": rerun, "rerun_se": rerun_se, "reproducible": reproducible,
                         "passes": bool(reproducible and drop and near_null)})
    return pd.DataFrame(rows)


def _root_sum_squares(*values) -> float:
    """``sqrt(sum v^2)`` of the finite values (the standard error of a difference of independent means)."""
    return float(np.sqrt(np.nansum(np.square(values))))


def tables(frame: pd.DataFrame, s: dict) -> dict:
    if frame.empty:
        return {}
    sim = similarity_table(frame, s["methods"])
    summary = pd.concat([summary_table(sim, s["methods"], metric) for metric in ("spearman", "spearman_abs")],
                        ignore_index=True)
    return {"similarity": sim, "summary": summary}
