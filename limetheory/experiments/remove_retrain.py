"""Remove and retrain (ROAR, Hooker et al., NeurIPS 2019) and remove and debias (ROAD, Rong et al.,
ICML 2022) on exact explanations, beside deletion, insertion and faithfulness.

Data: the digits (32 x 32) and drawn shapes (32 x 32, whose object masks are known), a grid of
``rows x cols`` superpixels (3 x 3, d = 9). The explainer is a small CNN (:mod:`limetheory.nets.small_cnn`)
trained on the original images by the experiment's recipe with seed 0; it explains the true class's
probability of every training and test image (hidden superpixels take their mean colour), by

``limit_0.25``  the exact LIME limit at lime's kernel width;   ``shapley``, ``occlusion``: exact;
``ig``          integrated gradients from LIME's replacement image, summed per superpixel;
``random``      a random ranking;   ``mask`` (shapes): each superpixel's share of the object's pixels.

ROAR: in every training and test image the top k superpixels of a method are replaced by the
training set's mean colour; the network is trained from scratch on them by the same recipe
(``seeds``) and its accuracy measured on the modified test images. A method whose top superpixels
carry the class information makes the accuracy fall faster than random removal; the retraining
tells a drop of information from a shift of the input distribution. ``method = none, k = 0``: the
recipe on the original images.

ROAD: no retraining; the explainer's accuracy on test images whose top k superpixels are imputed by
:func:`limetheory.removal.noisy_linear_imputation` (most relevant first, MoRF).

Metrics (on the first ``n_metric_images`` test images, the explainer, the true class): deletion and
insertion AUC (:func:`limetheory.metrics.deletion_curve`, :func:`~limetheory.metrics.insertion_curve`)
and the faithfulness correlation (:func:`~limetheory.metrics.faithfulness_correlation`).

Units: ``retrain`` (dataset, method, k, seed), ``road`` (dataset), ``metrics`` (dataset). Tables:
``roar`` (accuracy against the fraction removed, mean and standard error over seeds, beside the
ROAD accuracy and random removal), ``metrics`` (every method's numbers side by side).
"""
from __future__ import annotations

import functools
import zlib

import numpy as np
import pandas as pd

from limetheory.data import make_shapes
from limetheory.metrics import deletion_curve, faithfulness_correlation, insertion_curve
from limetheory.nets import softmax
from limetheory.nets.small_cnn import NetSpec, apply, batched_logits, evaluate, load_data, train
from limetheory.removal import fill_superpixels, noisy_linear_imputation, top_k_mask
from limetheory.segmentation import grid
from limetheory.validation import check_choice, check_int

from . import exact_methods as em

NAME = "remove_retrain"
TITLE = "Remove and retrain (ROAR) and ROAD on exact limits, Shapley, IG, occlusion, with deletion/insertion"
VERSION = 1

#: The datasets: data spec for :func:`limetheory.nets.small_cnn.load_data` and class names.
DATASETS = {
    "digits": ({"kind": "digits", "size": 32, "test_size": 0.25, "split_seed": 0}, tuple(str(k) for k in range(10))),
    "shapes": ({"kind": "shapes", "size": 32, "n_train": 1500, "train_seed": 1, "n_test": 500, "test_seed": 2},
               ("circle", "square", "triangle")),
}


def settings(quick: bool, datasets=None, n_seeds=None, max_train_images=None) -> dict:
    """Full: both datasets, every method, k = 1, 3, 5, 7 of d = 9, 3 seeds, the recipe's 15 epochs.
    Quick (a smoke test): the first 100 training and 50 test digits, a 2 x 2 grid, the limit,
    occlusion and random, k = 1 and 3, 1 seed, 20 training steps. ``datasets`` and ``n_seeds``
    (the first seeds) select part of the run; they are not in the unit keys (:func:`unit_settings`).
    ``max_train_images``: only the first that many training images and half as many test images
    (a smaller run; part of the unit keys)."""
    if datasets is not None:
        for name in datasets:
            check_choice(name, "datasets", tuple(DATASETS))
    seeds = [0] if quick else [0, 1, 2]
    if n_seeds is not None:
        seeds = seeds[: check_int(n_seeds, "n_seeds", 1, len(seeds))]
    methods = ["limit_0.25", "occlusion", "random"] if quick else ["limit_0.25", "shapley", "ig", "occlusion", "random"]
    return {
        "datasets": list(datasets or (["digits"] if quick else DATASETS)),
        "max_images": ({"train": 100, "test": 50} if quick else None) if max_train_images is None else
        {"train": check_int(max_train_images, "max_train_images", 2), "test": int(max_train_images) // 2},
        "grid": [2, 2] if quick else [3, 3],
        "methods": methods,
        "mask_method": not quick,
        "ks": [1, 3] if quick else [1, 3, 5, 7],
        "seeds": seeds,
        "recipe": {"widths": [8, 16, 32], "epochs": 15, "batch_size": 32, "learning_rate": 3e-3,
                   "weight_decay": 1e-4, "warmup_steps": 50, "max_steps": 20 if quick else None},
        "kernel_width": 0.25,
        "ig_steps": 16,
        "hide_color": None,
        "road_noise_sd": 2.55,
        "n_metric_images": 5 if quick else 100,
        "seed": 20190521,
    }


def unit_settings(s: dict, unit: dict) -> dict:
    """The settings but the datasets and seeds (the unit names its own)."""
    return {k: v for k, v in s.items() if k not in ("datasets", "seeds")}


def dataset_methods(s: dict, dataset: str) -> list:
    """The methods ranking the superpixels of ``dataset`` (``mask`` on the shapes)."""
    return list(s["methods"]) + (["mask"] if s["mask_method"] and DATASETS[dataset][0]["kind"] == "shapes" else [])


def units(s: dict) -> list:
    out = []
    for dataset in s["datasets"]:
        out.append({"kind": "metrics", "dataset": dataset})
        out.append({"kind": "road", "dataset": dataset})
    for seed in s["seeds"]:  # a seed for every setting before the next seed
        for dataset in s["datasets"]:
            out.append({"kind": "retrain", "dataset": dataset, "method": "none", "k": 0, "seed": seed})
            for method in dataset_methods(s, dataset):
                for k in s["ks"]:
                    out.append({"kind": "retrain", "dataset": dataset, "method": method, "k": k, "seed": seed})
    return out


# =========================================================================== the data and the explainer
def recipe_spec(s: dict, dataset: str) -> NetSpec:
    """The training recipe as a :class:`limetheory.nets.small_cnn.NetSpec` for ``dataset``."""
    data, classes = DATASETS[dataset]
    r = s["recipe"]
    return NetSpec(name=f"roar-{dataset}", widths=tuple(r["widths"]), input_size=(data["size"], data["size"]),
                   class_names=classes, epochs=int(r["epochs"]), batch_size=int(r["batch_size"]),
                   learning_rate=float(r["learning_rate"]), weight_decay=float(r["weight_decay"]),
                   warmup_steps=int(r["warmup_steps"]), data=data)


def load_split(s: dict, dataset: str) -> dict:
    """{"train"|"test": (images uint8 (N, H, W, 3), labels (N,), masks (N, H, W) or None)}."""
    data, _ = DATASETS[dataset]
    out = {}
    for part in ("train", "test"):
        cap = None if s["max_images"] is None else int(s["max_images"][part])
        if data["kind"] == "shapes":
            images, labels, masks = make_shapes(data[f"n_{part}"], size=data["size"], seed=data[f"{part}_seed"])
        else:
            (images, labels), masks = load_data(data, part), None
        out[part] = (images[:cap], np.asarray(labels[:cap]), None if masks is None else masks[:cap])
    return out


def train_recipe(s: dict, dataset: str, images, labels, seed: int) -> dict:
    """The recipe's network trained from scratch on ``images`` with ``seed``: its parameters."""
    params, _ = train(recipe_spec(s, dataset), images, labels, seed=seed, max_steps=s["recipe"]["max_steps"],
                      progress=False)
    return params


def mask_scores(segments, masks, rng) -> np.ndarray:
    """(N, d): each superpixel's share of its pixels inside the object's mask, ties broken at random
    (a jitter of 1e-9, far below 1 / pixels per superpixel)."""
    d = int(segments.max()) + 1
    sizes = np.bincount(segments.ravel(), minlength=d)
    inside = np.stack([np.bincount(segments.ravel(), weights=m.ravel().astype(float), minlength=d) for m in masks])
    return inside / sizes + 1e-9 * rng.random(inside.shape)


class _Context:
    """Settings; per dataset (on first use) its images, the explainer and every method's scores."""

    def __init__(self, s: dict):
        self.settings = s

    @functools.cache
    def data(self, dataset: str) -> dict:
        return load_split(self.settings, dataset)

    def segments(self, dataset: str) -> np.ndarray:
        size = DATASETS[dataset][0]["size"]
        return grid((size, size), *self.settings["grid"])

    @functools.cache
    def explainer(self, dataset: str) -> dict:
        images, labels, _ = self.data(dataset)["train"]
        return train_recipe(self.settings, dataset, images, labels, seed=0)

    @functools.cache
    def scores(self, dataset: str) -> dict:
        """{part: {method: (N, d) scores}} of the explainer, class = the true label."""
        from tqdm import tqdm

        s = self.settings
        params, segments = self.explainer(dataset), self.segments(dataset)
        out = {}
        for part, (images, labels, masks) in self.data(dataset).items():
            rng = np.random.default_rng([int(s["seed"]), zlib.crc32(f"{dataset}/{part}".encode())])
            rows = {m: [] for m in dataset_methods(s, dataset)}
            for image, label in tqdm(zip(images, labels), total=len(labels), desc=f"explaining {dataset} {part}",
                                     disable=None, leave=False):
                table = em.response_table(params, apply, image, segments, int(label), s["hide_color"])
                exact = em.exact_explanations(table, [s["kernel_width"]],
                                              games=[g for g in em.GAMES if g in rows])
                for m, values in exact.items():
                    if m in rows:
                        rows[m].append(values)
                if "ig" in rows:
                    rows["ig"].append(em.ig_sums(params, apply, image, segments, int(label), n_steps=s["ig_steps"],
                                                 hide_color=s["hide_color"])[0])
            scores = {m: np.asarray(v) for m, v in rows.items() if v}
            scores["random"] = rng.random((len(labels), table.d))
            if "mask" in rows:
                scores["mask"] = mask_scores(segments, masks, rng)
            out[part] = scores
        return out


def setup(s: dict) -> _Context:
    """The context of ``s``, shared by the runs of this process whose settings differ only in the
    datasets and seeds (:func:`unit_settings`), so that a run adding seeds does not explain every
    image again."""
    import json

    return _shared_context(json.dumps(unit_settings(s, {}), sort_keys=True))


@functools.lru_cache(maxsize=2)
def _shared_context(key: str) -> _Context:
    import json

    return _Context(json.loads(key))


# =========================================================================== units
def _removed(ctx: _Context, dataset: str, part: str, method: str, k: int) -> np.ndarray:
    images, _, _ = ctx.data(dataset)[part]
    if method == "none":
        return np.zeros((len(images), int(ctx.segments(dataset).max()) + 1), dtype=bool)
    return top_k_mask(ctx.scores(dataset)[part][method], k)


def _retrain(unit: dict, ctx: _Context) -> pd.DataFrame:
    dataset, method, k, seed = unit["dataset"], unit["method"], int(unit["k"]), int(unit["seed"])
    data, segments = ctx.data(dataset), ctx.segments(dataset)
    train_images, train_labels, _ = data["train"]
    fill = train_images.reshape(-1, train_images.shape[-1]).astype(np.float64).mean(axis=0)
    modified = {part: fill_superpixels(data[part][0], segments, _removed(ctx, dataset, part, method, k), fill)
                for part in ("train", "test")}
    params = train_recipe(ctx.settings, dataset, modified["train"], train_labels, seed)
    return pd.DataFrame([{
        "kind": "retrain", "dataset": dataset, "method": method, "k": k, "d": int(segments.max()) + 1,
        "seed": seed, "accuracy": evaluate(params, modified["test"], data["test"][1], forward=apply),
        "train_accuracy": evaluate(params, modified["train"], train_labels, forward=apply),
        "n_train": len(train_labels), "n_test": len(data["test"][1]),
    }])


def _road(unit: dict, ctx: _Context) -> pd.DataFrame:
    s, dataset = ctx.settings, unit["dataset"]
    images, labels, _ = ctx.data(dataset)["test"]
    segments, params = ctx.segments(dataset), ctx.explainer(dataset)
    d = int(segments.max()) + 1
    rows = [{"kind": "road", "dataset": dataset, "method": "none", "k": 0, "d": d,
             "accuracy": evaluate(params, images, labels, forward=apply), "n_test": len(labels)}]
    for method in dataset_methods(s, dataset):
        for k in s["ks"]:
            removed = top_k_mask(ctx.scores(dataset)["test"][method], k)
            rng = np.random.default_rng([int(s["seed"]), zlib.crc32(f"road/{dataset}/{method}/{k}".encode())])
            imputed = np.stack([noisy_linear_imputation(img, rem[segments], noise_sd=s["road_noise_sd"], rng=rng)
                                for img, rem in zip(images, removed)])
            rows.append({"kind": "road", "dataset": dataset, "method": method, "k": k, "d": d,
                         "accuracy": evaluate(params, imputed, labels, forward=apply), "n_test": len(labels)})
    return pd.DataFrame(rows)


def _metrics(unit: dict, ctx: _Context) -> pd.DataFrame:
    s, dataset = ctx.settings, unit["dataset"]
    images, labels, _ = ctx.data(dataset)["test"]
    segments, params = ctx.segments(dataset), ctx.explainer(dataset)

    def predict(batch):
        return softmax(batched_logits(params, batch, 512, apply))

    rows = []
    for i in range(min(int(s["n_metric_images"]), len(labels))):
        image, label = images[i].astype(np.float64), int(labels[i])
        for method in dataset_methods(s, dataset):
            scores = ctx.scores(dataset)["test"][method][i]
            kw = {"target": label, "hide_color": s["hide_color"]}
            rows.append({"kind": "metrics", "dataset": dataset, "method": method, "image": i,
                         "deletion_auc": deletion_curve(image, predict, segments, scores, **kw).auc,
                         "insertion_auc": insertion_curve(image, predict, segments, scores, **kw).auc,
                         "faithfulness": faithfulness_correlation(image, predict, segments, scores, **kw)})
    return pd.DataFrame(rows)


def run_unit(unit: dict, ctx: _Context) -> pd.DataFrame:
    return {"retrain": _retrain, "road": _road, "metrics": _metrics}[unit["kind"]](unit, ctx)


# =========================================================================== tables
def _mean_se(values) -> tuple:
    v = pd.Series(values).dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return np.nan, np.nan
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan)


def roar_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method, k): ROAR accuracy (mean, se over seeds), its difference to random
    removal at the same k, and the ROAD accuracy of the explainer."""
    retrain = frame[frame["kind"] == "retrain"]
    road = frame[frame["kind"] == "road"].set_index(["dataset", "method", "k"])["accuracy"]
    rows = []
    for (dataset, method, k), sub in retrain.groupby(["dataset", "method", "k"], sort=False):
        acc, se = _mean_se(sub["accuracy"])
        rand = retrain[(retrain["dataset"] == dataset) & (retrain["method"] == "random") & (retrain["k"] == k)]
        paired = sub.merge(rand[["seed", "accuracy"]], on="seed", suffixes=("", "_random"))
        diff, diff_se = _mean_se(paired["accuracy"] - paired["accuracy_random"]) if method != "random" else (0.0, 0.0)
        rows.append({"dataset": dataset, "method": method, "k": int(k), "fraction": k / int(sub["d"].iloc[0]),
                     "n_seeds": int(sub["seed"].nunique()), "roar_accuracy": acc, "roar_accuracy_se": se,
                     "minus_random": diff, "minus_random_se": diff_se,
                     "road_accuracy": float(road.get((dataset, method if k else "none", k), np.nan))})
    return pd.DataFrame(rows)


def metrics_table(frame: pd.DataFrame, roar: pd.DataFrame) -> pd.DataFrame:
    """Every method's metrics side by side: deletion and insertion AUC, faithfulness (mean, se over
    images), and the mean ROAR and ROAD accuracy over the fractions removed (lower: better ranking)."""
    met = frame[frame["kind"] == "metrics"]
    rows = []
    for (dataset, method), sub in met.groupby(["dataset", "method"], sort=False):
        row = {"dataset": dataset, "method": method, "n_images": int(sub["image"].nunique())}
        for col in ("deletion_auc", "insertion_auc", "faithfulness"):
            row[col], row[f"{col}_se"] = _mean_se(sub[col])
        r = roar[(roar["dataset"] == dataset) & (roar["method"] == method)]
        row["roar_mean_accuracy"] = float(r["roar_accuracy"].mean()) if len(r) else np.nan
        row["road_mean_accuracy"] = float(r["road_accuracy"].mean()) if len(r) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def tables(frame: pd.DataFrame, s: dict) -> dict:
    if frame.empty:
        return {}
    roar = roar_table(frame)
    return {"roar": roar, "metrics": metrics_table(frame, roar)}
