"""Experiment 4, the paper's Tables 1 and 2: does LIME pick the superpixels that integrated gradients picks?

THEORY.md section 5: with IG's baseline equal to LIME's replacement image xi_bar, the LIME limit
of a function linear along the path is ``beta_j = sum_{u in J_j} IG_u``, and approximately so for
a smooth one. The paper measures the agreement of the two rankings of superpixels on trained
networks by the Jaccard index of their top-5 and top-10 superpixels. Here, for every network and
image:

- the class explained is the network's top class on the image; what is explained is either its
  softmax probability (``output = "prob"``, what lime explains) or its logit
  (``output = "logit"``); LIME and IG always explain the same output;
- LIME: ``2 R`` runs of :func:`limetheory.explain` (lime's defaults: n = 1000, nu = 0.25, ridge 1,
  superpixels replaced by their mean colour), both outputs fitted on the same samples; the
  paper's estimate is the mean of R = 5 runs (group A: runs 0..R-1);
- IG: :func:`limetheory.gradients.integrated_gradients` of the same output, baseline xi_bar,
  Gauss-Legendre quadrature (128 points in the full run; the relative completeness gap
  ``|sum IG - (f(xi) - f(xi_bar))| / |f(xi) - f(xi_bar)|`` is recorded: it measures the
  quadrature error), summed over every superpixel;
- superpixels: quickshift, lime's defaults on the 224 x 224 photos, finer parameters on the
  small images (:data:`limetheory.explain_cli.SEGMENTATION`).

Comparisons (``comparison``; Jaccard of the top-k superpixels by value, k = 5 and 10, and
Spearman's rank correlation over all d superpixels):

``lime_vs_ig``      mean of LIME's runs 0..R-1 against the IG sums (the paper's number);
``lime_vs_lime``    mean of runs 0..R-1 against the mean of runs R..2R-1: the noise floor of the
                    paper's estimate (two independent estimates of the same LIME explanation);
``run_vs_run``      run 0 against run R: the noise floor of one LIME run;
``lime_vs_random``  mean of runs 0..R-1 against a random ranking (a seeded permutation): what
                    agreement by chance looks like (its expectation for top-k of d superpixels is
                    ``E[I / (2k - I)]``, I hypergeometric, tabulated as ``chance_top<k>``).

For the shapes CNN, whose images come with the pixel mask of the object that decides the class,
also ``lime_vs_mask``, ``ig_vs_mask``, ``random_vs_mask``: the IoU of the pixels of the top-1 and
top-3 superpixels with the mask (``iou_top<k>``), next to ``iou_oracle``, the best such IoU (the
union of the superpixels lying mostly inside the mask), and ``object_removed``, the fraction of
the object's pixels that LIME's replacement image visibly changes: an object that is one
superpixel keeps its own (mean) colour when LIME hides it, so neither LIME nor IG from that
baseline can see it. The ``iou`` table gives all images and those whose object is removed
(``object_removed >= 0.5``).

Networks: ``digits-cnn`` (100 held-out 32 x 32 digits), ``shapes-cnn`` (100 held-out 64 x 64
drawn shapes), ``efficientnet-lite0`` (every bundled photo, :data:`limetheory.data.PHOTOS`).
A network whose weights are missing is skipped with a warning.

Rows: one per (model, image, output, comparison). Units: one per (model, image).
Tables: ``jaccard`` (mean and standard error over images of every comparison), ``iou`` (shapes),
``models`` (d, accuracy, IG completeness gap, seconds per image).
"""
from __future__ import annotations

import hashlib
import time
import warnings
import zlib

import numpy as np
import pandas as pd
from scipy import stats

from limetheory.compare import OUTPUTS, SEGMENTATION, ig_superpixel_sums, lime_coefficients, segment_for
from limetheory.nets.scored import scored_net
from limetheory.metrics import iou_topk, jaccard_topk, rank_correlation
from limetheory.segmentation import n_superpixels

NAME = "lime_vs_ig"
TITLE = "Exp. 4 (Tables 1-2): top-k Jaccard of LIME vs integrated gradients summed over superpixels"
VERSION = 2  # 2: full float32 products on GPUs (limetheory.explain_cli.scored_net)

#: Comparisons between two rankings of the superpixels, in table order.
PAIR_COMPARISONS = ("lime_vs_ig", "lime_vs_lime", "run_vs_run", "lime_vs_random")
#: Comparisons of one ranking with the ground-truth mask (shapes only).
MASK_COMPARISONS = ("lime_vs_mask", "ig_vs_mask", "random_vs_mask")
MODEL_ORDER = ("digits-cnn", "shapes-cnn", "efficientnet-lite0")


# =========================================================================== settings
def _net_identity(name: str) -> dict | None:
    """What identifies the network's weights (a hash of the small nets' parameters); None if missing."""
    try:
        snet = scored_net(name)
    except (FileNotFoundError, ImportError, OSError) as exc:
        warnings.warn(f"{NAME}: network {name} unavailable ({exc}); it is skipped", stacklevel=3)
        return None
    if name == "efficientnet-lite0":
        return {"weights": snet.net.info.get("weights", "?"), "preprocessing": snet.net.info.get("preprocessing")}
    h = hashlib.sha256()
    params = snet.net.info.get("params", {})
    for layer in sorted(params):
        for key in sorted(params[layer]):
            h.update(f"{layer}/{key}".encode())
            h.update(np.asarray(params[layer][key]).tobytes())
    return {"params_sha256": h.hexdigest()[:16]}


def _shapes_heldout() -> dict:
    from limetheory.nets.small_cnn import SPECS

    d = SPECS["shapes"].data
    return {"kind": "shapes", "size": int(d["size"]), "seed": int(d["test_seed"])}


def _digits_heldout() -> dict:
    from limetheory.nets.small_cnn import SPECS

    d = SPECS["digits"].data
    return {"kind": "digits", "size": int(d["size"]), "test_size": float(d["test_size"]),
            "split_seed": int(d["split_seed"])}


def settings(quick: bool) -> dict:
    """Full: 100 held-out images per small CNN and all 7 photos, 2 x 5 LIME runs of n = 1000, IG with
    128 Gauss-Legendre points. Quick (about a minute on 2 CPU cores; a smoke test, too small for the
    photo's numbers to mean anything): 6 images per small CNN with 2 x 2 runs of n = 200 and 32 IG
    points; one photo with 2 x 1 runs of n = 32 and 8 IG points, probability only.

    Why 128 points: the path integrand of a ReLU6 network is rough. On EfficientNet (chelsea,
    logit of the top class) the relative completeness gap was 36% with the paper's 20-point
    trapezoid rule, 16% with the 64-point midpoint rule, 2.8% with 64 Gauss-Legendre points and
    0.9% with 128. Every unit records its gap (``ig_rel_gap``).
    """
    from limetheory.data import PHOTOS

    small_count, small_n, runs = (6, 200, 2) if quick else (100, 1000, 5)
    small_ig = {"method": "gausslegendre", "n_steps": 32 if quick else 128}
    models = []
    for name, images in (
        ("digits-cnn", {**_digits_heldout(), "count": small_count}),
        ("shapes-cnn", {**_shapes_heldout(), "count": small_count}),
    ):
        ident = _net_identity(name)
        if ident is not None:
            models.append({"model": name, "identity": ident, "images": images,
                           "segmentation": SEGMENTATION[name], "n_samples": small_n, "n_runs": runs,
                           "ig": small_ig})
    ident = _net_identity("efficientnet-lite0")
    if ident is not None:
        models.append({
            "model": "efficientnet-lite0", "identity": ident,
            "images": {"kind": "photos", "names": ["chelsea"] if quick else list(PHOTOS)},
            "segmentation": SEGMENTATION["efficientnet-lite0"],
            "n_samples": 32 if quick else 1000, "n_runs": 1 if quick else runs,
            "ig": {"method": "gausslegendre", "n_steps": 8 if quick else 128},
            "outputs": ["prob"] if quick else list(OUTPUTS),
        })
    return {
        "models": models,
        "outputs": list(OUTPUTS),
        "kernel_width": 0.25,
        "ridge": 1.0,
        "hide_color": None,
        "ks": [5, 10],
        "iou_ks": [1, 3],
        "seed": 20210706,
    }


def _image_keys(images: dict) -> list:
    if images["kind"] == "photos":
        return list(images["names"])
    return list(range(int(images["count"])))


def units(s: dict) -> list:
    return [{"model": m["model"], "image": key} for m in s["models"] for key in _image_keys(m["images"])]


# =========================================================================== images
def load_images(images: dict) -> dict:
    """{key: (uint8 image (H, W, 3), true label or -1, ground-truth mask or None)}."""
    from limetheory import data

    kind = images["kind"]
    if kind == "photos":
        return {name: (data.load_photo(name, 224), -1, None) for name in images["names"]}
    if kind == "digits":
        split = data.load_digits_rgb(images["size"], test_size=images["test_size"], seed=images["split_seed"])
        return {i: (split.test_images[i], int(split.test_labels[i]), None) for i in range(images["count"])}
    if kind == "shapes":
        imgs, labels, masks = data.make_shapes(images["count"], size=images["size"], seed=images["seed"])
        return {i: (imgs[i], int(labels[i]), masks[i]) for i in range(images["count"])}
    raise ValueError(f"unknown image kind {kind!r}")


class _Context:
    """Settings plus every model's images, loaded on first use."""

    def __init__(self, s: dict):
        self.settings = s
        self.specs = {m["model"]: m for m in s["models"]}
        self._images = {}

    def image(self, model: str, key):
        if model not in self._images:
            self._images[model] = load_images(self.specs[model]["images"])
        return self._images[model][key]


def setup(s: dict) -> _Context:
    return _Context(s)


# =========================================================================== one image
def unit_seed(s: dict, model: str, key) -> list:
    """Entropy of every random draw of a unit: the settings' seed and a CRC-32 of ``model/key``."""
    return [int(s["seed"]), zlib.crc32(f"{model}/{key}".encode())]


def chance_jaccard(d: int, k: int) -> float:
    """Expected Jaccard index of two independent uniformly random k-subsets of d superpixels.

    The overlap I is hypergeometric (population d, k marked, k drawn) and ``J = I / (2k - I)``:
    ``E[J] = sum_i P(I = i) i / (2k - i)``. NaN when k >= d (the index is then always 1).
    """
    if k >= d:
        return float("nan")
    i = np.arange(0, k + 1)
    return float(np.sum(stats.hypergeom.pmf(i, d, k, k) * i / (2 * k - i)))


def oracle_superpixels(segments: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Superpixels with at least half of their pixels in the mask (the best-overlapping one if none)."""
    d = n_superpixels(segments)
    inside = np.bincount(segments.ravel(), weights=mask.ravel().astype(float), minlength=d)
    frac = inside / np.bincount(segments.ravel(), minlength=d)
    chosen = np.flatnonzero(frac >= 0.5)
    return chosen if chosen.size else np.array([int(np.argmax(frac))])


#: RGB distance (in [0, 255] units) above which a pixel's replacement counts as a change: 5 times
#: the pixel noise of the drawn shapes (sd 8 per channel, so about 14 in RGB norm).
REMOVED_THRESHOLD = 40.0


def object_removed(image, segments, mask, hide_color=None) -> float:
    """Fraction of the object's pixels that LIME's replacement image changes visibly.

    ``mean_{u in mask} [ ||xi_u - xi_bar_u||_2 > REMOVED_THRESHOLD ]``. With the mean-colour
    replacement an object that is a superpixel of its own keeps its colour when "removed"
    (fraction near 0): neither LIME nor IG with that baseline can see it.
    """
    from limetheory.segmentation import replacement_image

    x = np.asarray(image, dtype=np.float64)
    diff = np.linalg.norm(x - replacement_image(x, segments, hide_color), axis=-1)
    return float(np.mean(diff[np.asarray(mask, bool)] > REMOVED_THRESHOLD))


def _iou(segments, mask, chosen) -> float:
    pred = np.isin(segments, chosen)
    return float(np.count_nonzero(pred & mask) / np.count_nonzero(pred | mask))


def _pair_metrics(a, b, d: int, ks) -> dict:
    out = {f"jaccard_top{k}": (jaccard_topk(a, b, k) if k < d else np.nan) for k in ks}
    out["spearman"] = rank_correlation(a, b, "spearman")
    return out


def run_unit(unit: dict, ctx: _Context) -> pd.DataFrame:
    s = ctx.settings
    model, key = unit["model"], unit["image"]
    spec = ctx.specs[model]
    image, true_label, mask = ctx.image(model, key)
    snet = scored_net(model)
    segments = segment_for(image, model, spec["segmentation"])
    d = n_superpixels(segments)
    logits = snet.logits(image[None])[0]
    target = int(np.argmax(logits))
    prob = float(np.exp(logits[target] - logits.max()) / np.exp(logits - logits.max()).sum())
    entropy = unit_seed(s, model, key)
    r = int(spec["n_runs"])

    t0 = time.perf_counter()
    seeds = [np.random.default_rng(entropy + [run]) for run in range(2 * r)]
    coefs = lime_coefficients(image, snet, segments, target, seeds, n_samples=spec["n_samples"],
                              kernel_width=s["kernel_width"], ridge=s["ridge"], hide_color=s["hide_color"])
    lime_seconds = time.perf_counter() - t0
    random_scores = np.random.default_rng(entropy + [10_000]).permutation(d).astype(np.float64)

    common = {
        "model": model, "image": str(key), "d": d, "target": target,
        "target_name": str(snet.net.class_names[target]), "true_label": true_label,
        "correct": bool(target == true_label) if true_label >= 0 else np.nan, "prob_target": prob,
        "n_samples": int(spec["n_samples"]), "n_runs": r,
    }
    rows = []
    for output in spec.get("outputs", s["outputs"]):
        t1 = time.perf_counter()
        sums, ig = ig_superpixel_sums(image, snet, segments, target, output, n_steps=spec["ig"]["n_steps"],
                                      method=spec["ig"]["method"], hide_color=s["hide_color"])
        ig_seconds = time.perf_counter() - t1
        lime_a = coefs[:r, OUTPUTS.index(output)].mean(axis=0)
        lime_b = coefs[r:, OUTPUTS.index(output)].mean(axis=0)
        per_output = {**common, "output": output, "ig_f_x": ig.f_x, "ig_f_baseline": ig.f_baseline,
                      "ig_rel_gap": ig.relative_gap(), "lime_seconds": lime_seconds, "ig_seconds": ig_seconds}
        pairs = {
            "lime_vs_ig": (lime_a, sums),
            "lime_vs_lime": (lime_a, lime_b),
            "run_vs_run": (coefs[0, OUTPUTS.index(output)], coefs[r, OUTPUTS.index(output)]),
            "lime_vs_random": (lime_a, random_scores),
        }
        for name in PAIR_COMPARISONS:
            a, b = pairs[name]
            rows.append({**per_output, "comparison": name, **_pair_metrics(a, b, d, s["ks"])})
        if mask is not None:
            oracle = _iou(segments, mask, oracle_superpixels(segments, mask))
            removed = object_removed(image, segments, mask, s["hide_color"])
            for name, scores in zip(MASK_COMPARISONS, (lime_a, sums, random_scores)):
                iou = {f"iou_top{k}": iou_topk(scores, segments, mask, k) for k in s["iou_ks"] if k <= d}
                rows.append({**per_output, "comparison": name, **iou, "iou_oracle": oracle,
                             "object_removed": removed})
    return pd.DataFrame(rows)


# =========================================================================== tables
def _mean_se(values: pd.Series) -> tuple:
    v = values.dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return np.nan, np.nan, 0
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
    return float(v.mean()), se, int(v.size)


def _ordered_models(frame: pd.DataFrame) -> list:
    present = list(dict.fromkeys(frame["model"]))
    return [m for m in MODEL_ORDER if m in present] + [m for m in present if m not in MODEL_ORDER]


def summarize(frame: pd.DataFrame, comparisons, metrics) -> pd.DataFrame:
    """Mean and standard error (sd / sqrt(n), ddof = 1) over images per (model, output, comparison)."""
    rows = []
    for model in _ordered_models(frame):
        for output in [o for o in OUTPUTS if o in set(frame["output"])]:
            for comp in comparisons:
                sub = frame[(frame["model"] == model) & (frame["output"] == output) & (frame["comparison"] == comp)]
                if sub.empty:
                    continue
                row = {"model": model, "output": output, "comparison": comp, "n_images": int(sub["image"].nunique())}
                for m in metrics:
                    if m in sub.columns:
                        row[m], row[f"{m}_se"], _ = _mean_se(sub[m])
                rows.append(row)
    return pd.DataFrame(rows)


def tables(frame: pd.DataFrame, s: dict) -> dict:
    if frame.empty:
        return {}
    ks = s["ks"]
    jac = summarize(frame, PAIR_COMPARISONS, [f"jaccard_top{k}" for k in ks] + ["spearman"])
    per_image = frame.drop_duplicates(["model", "image"])[["model", "image", "d"]]
    for k in ks:
        chance = per_image.assign(c=[chance_jaccard(int(d), k) for d in per_image["d"]]).groupby("model")["c"].mean()
        jac[f"chance_top{k}"] = jac["model"].map(chance)
    out = {"jaccard": jac}
    if frame["comparison"].isin(MASK_COMPARISONS).any():
        metrics = [f"iou_top{k}" for k in s["iou_ks"]] + ["iou_oracle"]
        masked = frame[frame["comparison"].isin(MASK_COMPARISONS)]
        parts = [summarize(masked, MASK_COMPARISONS, metrics).assign(subset="all")]
        seen = masked[masked["object_removed"] >= 0.5]
        if len(seen):
            parts.append(summarize(seen, MASK_COMPARISONS, metrics).assign(subset="object_removed"))
        iou = pd.concat(parts, ignore_index=True)
        out["iou"] = iou[["subset"] + [c for c in iou.columns if c != "subset"]]
    models = []
    for model in _ordered_models(frame):
        sub = frame[frame["model"] == model]
        img = sub.drop_duplicates("image")
        row = {"model": model, "n_images": len(img), "d_median": float(img["d"].median()),
               "d_min": int(img["d"].min()), "d_max": int(img["d"].max()),
               "accuracy": float(img["correct"].astype(float).mean()) if img["correct"].notna().any() else np.nan,
               "prob_target_median": float(img["prob_target"].median()),
               "lime_seconds_per_image": float(img["lime_seconds"].mean()),
               "n_samples": int(img["n_samples"].iloc[0]), "lime_runs": 2 * int(img["n_runs"].iloc[0])}
        for output in OUTPUTS:
            o = sub[sub["output"] == output].drop_duplicates("image")
            if len(o):
                # |f(xi) - f(xi_bar)|: tiny for a saturated probability, where the relative gap
                # (undefined when it is 0 in float32) says nothing about the quadrature
                change = (o["ig_f_x"] - o["ig_f_baseline"]).abs()
                gap = o["ig_rel_gap"].replace(np.inf, np.nan)
                row[f"f_change_median_{output}"] = float(change.median())
                row[f"ig_rel_gap_median_{output}"] = float(gap.median())
                row[f"ig_rel_gap_p90_{output}"] = float(gap.quantile(0.9))
                row[f"ig_seconds_{output}"] = float(o["ig_seconds"].mean())
        models.append(row)
    out["models"] = pd.DataFrame(models)
    return out
