"""Experiment 4, the paper's Tables 1 and 2: does LIME pick the superpixels that integrated gradients picks?

docs/theory/lime_and_ig.md: with IG's baseline equal to LIME's replacement image xi_bar, the LIME limit
of a model without interactions between superpixels is ``beta_j = sum_{u in J_j} IG_u``, and
approximately so for a nearly additive one. The paper measures the agreement of the two rankings
of superpixels on trained networks by the Jaccard index of their top-5 and top-10 superpixels.

Protocols (``protocol`` column; :mod:`limetheory.experiments.protocols`): ``paper`` runs the
authors' scripts' protocol exactly (quickshift of the network's preprocessed image, IG by the
20-step trapezoid rule, top-k *positive* coefficients, the probability); ``corrected`` segments
the uint8 image, integrates with 128-point Gauss-Legendre, ranks signed coefficients and explains
the probability and the logit; ``paper_signed_topk``, ``paper_gauss_legendre`` and
``paper_raw_segmentation`` switch one difference alone. ``settings(quick, protocol)`` with
``protocol`` in ``"paper"``, ``"corrected"``, ``"both"`` (all five; the default) selects them
(``limetheory reproduce --protocol``).

For every network, image and segmentation (one unit; the protocols that share a segmentation share
its LIME runs and IG integrals):

- the class explained is the network's top class on the image;
- LIME: ``2 R`` runs of :func:`limetheory.explain` (lime's defaults: nu = 0.25, ridge 1,
  superpixels replaced by their mean colour), both outputs fitted on the same samples; the
  estimate is the mean of runs 0..R-1 (the paper's R = 5), runs R..2R-1 are the second estimate
  of the noise floor;
- IG: :func:`limetheory.gradients.integrated_gradients` of the same output from xi_bar by the
  protocol's rule, summed over every superpixel; every row records its rule's relative
  completeness gap ``|sum IG - (f(xi) - f(xi_bar))| / |f(xi) - f(xi_bar)|`` (``ig_rel_gap``);
- why they disagree (docs/theory/lime_and_ig.md), per image, segmentation and output:
  ``nonadditive_share``, the share R of the pi-weighted variance of g(z) = f(x(z)) that LIME's
  limit (the best affine function of z) leaves unexplained (:mod:`limetheory.additivity`; exact by
  enumerating {0,1}^d when d <= ``EXACT_ADDITIVITY_D``, ``additivity_exact`` True; otherwise
  estimated from the unit's own LIME samples by cross-fitting, with ``nonadditive_share_se``),
  and ``path_curvature``, the relative completeness gap of the one-point midpoint rule along the
  IG path (0 for an f linear along the path; the larger, the more curved f is between xi_bar
  and xi).

Comparisons (``comparison``; Jaccard of the top-k superpixels, k = 5 and 10, by the protocol's
rule, and Spearman's rank correlation over all d superpixels):

- ``lime_vs_ig``: mean of LIME's runs 0..R-1 against the IG sums (the paper's number);
- ``lime_vs_lime``: mean of runs 0..R-1 against the mean of runs R..2R-1: the noise floor of the
  paper's estimate (two independent estimates of the same LIME explanation);
- ``run_vs_run``: run 0 against run R: the noise floor of one LIME run;
- ``lime_vs_random``: mean of runs 0..R-1 against a random ranking (a seeded permutation): what
  agreement by chance looks like (its expectation for the signed top-k of d
  superpixels is ``E[I / (2k - I)]``, I hypergeometric, ``chance_top<k>``).

For the networks of the drawn shapes (the shapes CNN and the shapes32 Table 1 networks), whose
images come with the pixel mask of the object that decides the class,
also ``lime_vs_mask``, ``ig_vs_mask``, ``random_vs_mask``: the IoU of the pixels of the top-1 and
top-3 superpixels with the mask (``iou_top<k>``), next to ``iou_oracle``, the best such IoU (the
union of the superpixels lying mostly inside the mask), and ``object_removed``, the fraction of
the object's pixels that LIME's replacement image visibly changes: an object that is one
superpixel keeps its own (mean) colour when LIME hides it, so neither LIME nor IG from that
baseline can see it. The ``iou`` table gives all images and those whose object is removed
(``object_removed >= 0.5``).

Networks (:data:`MODEL_ORDER`): ``digits-cnn`` (100 held-out 32 x 32 digits), ``shapes-cnn`` (100
held-out 64 x 64 drawn shapes), the paper's Table 1 networks of :mod:`limetheory.nets.vgg`
(one-layer dense, VGG1-3, trained here with the authors' optimiser settings on the digits and on
32 x 32 drawn shapes; 100 held-out images each; their input is ``x / 255`` as the authors' [0, 1]
CIFAR-10 images, so the paper protocol segments that with quickshift(1, 200, 0.2)), the
pretrained EfficientNet-Lite networks of :data:`IMAGENET_NETS` that
:data:`limetheory.nets.NETWORKS` registers (every bundled photo, :data:`limetheory.data.PHOTOS`, at
the network's input size; quick: Lite0 only).
A network whose weights are missing is skipped with a warning.

Rows: one per (protocol, model, image, output, comparison). Units: one per (model, image,
segmentation), keyed by the settings of their own network only (:func:`unit_settings`), so
``--nets`` and ``--max-images`` runs add up. Tables (:mod:`._lime_vs_ig_tables`): ``jaccard``,
``iou`` (shapes), ``models`` (d, accuracy, IG completeness gaps, additivity, seconds per image),
``additivity`` (the test of the claim that LIME is close to the IG sums where g is additive).
"""
from __future__ import annotations

import hashlib
import time
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from limetheory import data
from limetheory.additivity import nonadditive_share, nonadditive_share_exact
from limetheory.analytic import response_of_z
from limetheory.data import PHOTOS
from limetheory.metrics import iou_topk
from limetheory.nets import NETWORKS, SEGMENTATION, softmax
from limetheory.nets import load_cached
from limetheory.nets.registry import TABLE1_NAMES
from limetheory.nets.small_cnn import SPECS
from limetheory.nets.vgg import DATASETS
from limetheory.pipeline import OUTPUTS, class_scores, ig_superpixel_sums, lime_coefficients
from limetheory.validation import check_choice, check_int
from limetheory.segmentation import n_superpixels, replacement_image, segment

from ._lime_vs_ig_tables import MASK_COMPARISONS, PAIR_COMPARISONS, chance_jaccard, paired_agreement, tables
from .protocols import PAPER_IG, PROTOCOLS, paper_segmentation, protocols_for, segment_kinds, topk_agreement
from .user_model import folder_image_names, load_user_images, user_identity, user_scored_net

NAME = "lime_vs_ig"
TITLE = "Exp. 4 (Tables 1-2): top-k Jaccard of LIME vs integrated gradients, paper and corrected protocols"
VERSION = 3  # 3: protocols (paper, corrected, one switch each), additivity and path curvature

#: The pretrained ImageNet networks, those registered in limetheory.nets.NETWORKS (quick: the first).
IMAGENET_NETS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
#: The small CNNs of :mod:`limetheory.nets.small_cnn` and the Table 1 networks of :mod:`limetheory.nets.vgg`.
SMALL_CNNS = ("digits-cnn", "shapes-cnn")
MODEL_ORDER = SMALL_CNNS + TABLE1_NAMES + IMAGENET_NETS
#: The networks by family, as the write-up reads them: trained here on small images, the paper's
#: Table 1 architectures trained here, and the pretrained ImageNet networks (the paper's Table 2).
FAMILIES = {"small CNNs": SMALL_CNNS, "Table 1 networks": TABLE1_NAMES, "EfficientNet-Lite": IMAGENET_NETS}
#: The largest d for which the non-additive share is computed exactly (2^d network evaluations).
EXACT_ADDITIVITY_D = 16
#: Fewest LIME samples per affine parameter (d + 2) for the cross-fitted non-additive share.
MIN_SAMPLES_PER_PARAMETER = 20


# =========================================================================== settings
def _net_identity(name: str) -> dict | None:
    """What identifies the network's weights (a hash of the small nets' parameters); None if missing."""
    try:
        snet = load_cached(name)
    except (FileNotFoundError, ImportError, OSError) as exc:
        warnings.warn(f"{NAME}: network {name} unavailable ({exc}); it is skipped", stacklevel=3)
        return None
    if name.startswith("efficientnet"):
        return {"weights": snet.info.get("weights", "?"), "preprocessing": snet.info.get("preprocessing"),
                "input_size": list(snet.input_size)}
    h = hashlib.sha256()
    params = snet.info.get("params", {})
    for layer in sorted(params):
        for key in sorted(params[layer]):
            h.update(f"{layer}/{key}".encode())
            h.update(np.asarray(params[layer][key]).tobytes())
    return {"params_sha256": h.hexdigest()[:16]}


def _user_model_settings(user: dict, quick: bool) -> dict:
    """The settings' entry for a user's model (``reproduce --model``), on a folder or the photos."""
    size = list(user_scored_net(user).input_size)
    if user.get("images"):
        images = {"kind": "folder", "dir": str(user["images"]), "names": folder_image_names(user["images"]),
                  "size": size}
    else:
        images = {"kind": "photos", "names": ["chelsea"] if quick else list(PHOTOS), "size": size}
    if quick:
        images["names"] = images["names"][:1]
    entry = {"model": user["model"], "user": user, "identity": user_identity(user), "images": images,
             "segmentations": {"preprocessed": paper_segmentation(min(size)),
                               "raw": SEGMENTATION.get(user["model"], {"method": "quickshift"})},
             "n_samples": 64 if quick else 1000, "n_runs": 1 if quick else 5, "gl_steps": 7 if quick else 128}
    return {**entry, "outputs": ["prob"]} if quick else entry


def _user_protocols(user: dict, protocols: list) -> list:
    """The protocols a user's model can run: those that segment its preprocessed input need
    ``Classifier.preprocess``, which a PyTorch or Keras model does not document."""
    if user_scored_net(user).preprocess is not None:
        return protocols
    return [p for p in protocols if PROTOCOLS[p].segmentation == "raw"]


def _scored(spec: dict):
    """The Classifier of a settings' model entry (a bundled name, or the user's model)."""
    if "user" in spec:
        return user_scored_net(spec["user"])
    return load_cached(spec["model"])


def _small_net_entry(name: str, images: dict, quick: bool) -> dict | None:
    """The settings' entry of a small network (32 or 64 pixels, held-out images); None if missing."""
    ident = _net_identity(name)
    if ident is None:
        return None
    return {"model": name, "identity": ident, "images": images, "n_samples": 200 if quick else 1000,
            "n_runs": 2 if quick else 5, "gl_steps": 32 if quick else 128,
            "segmentations": {"preprocessed": paper_segmentation(images["size"]), "raw": SEGMENTATION[name]}}


def _imagenet_entry(name: str, quick: bool) -> dict | None:
    """The settings' entry of a pretrained ImageNet network on the bundled photos; None if missing."""
    ident = _net_identity(name)
    if ident is None:
        return None
    return {
        "model": name, "identity": ident,
        "images": {"kind": "photos", "names": ["chelsea"] if quick else list(PHOTOS), "size": ident["input_size"]},
        "n_samples": 64 if quick else 1000, "n_runs": 1 if quick else 5, "gl_steps": 7 if quick else 128,
        "segmentations": {"preprocessed": paper_segmentation(min(ident["input_size"])),
                          "raw": SEGMENTATION.get(name, {"method": "quickshift"})},
        **({"outputs": ["prob"]} if quick else {}),
    }


def _heldout_images(name: str) -> dict:
    """Which held-out images a small network is explained on, from the data spec it was trained
    with (:data:`limetheory.nets.small_cnn.SPECS`, :data:`limetheory.nets.vgg.DATASETS`): the
    digits' held-out split, or drawn shapes of the network's size from the held-out seed."""
    dataset = name.split("-")[0]
    d = SPECS[dataset].data if name in SMALL_CNNS else DATASETS[dataset][0]
    if d["kind"] == "digits":
        return {"kind": "digits", "size": int(d["size"]), "test_size": float(d["test_size"]),
                "split_seed": int(d["split_seed"])}
    return {"kind": "shapes", "size": int(d["size"]), "seed": int(d["test_seed"])}


def default_nets(quick: bool) -> tuple:
    """The networks a run explains by default: all of :data:`MODEL_ORDER` (quick: the two small
    CNNs, one Table 1 network per dataset and EfficientNet-Lite0)."""
    if quick:
        return ("digits-cnn", "shapes-cnn", "digits-vgg1", "shapes32-vgg1", IMAGENET_NETS[0])
    return MODEL_ORDER


def settings(quick: bool, protocol: str = "both", user_model: dict | None = None, nets=None,
             max_images=None) -> dict:
    """Full: 100 held-out images per small network and every bundled photo, 2 x 5 LIME runs of
    n = 1000, IG by the paper's 21-point trapezoid and by 128-point Gauss-Legendre. Quick (a smoke
    test, too small for the numbers to mean anything): 6 images per small CNN, 2 per Table 1
    network, with 2 x 2 runs of n = 200 and 32 Gauss-Legendre points; one photo with 2 x 1 runs of
    n = 64 and 7 points (one compiled chunk with the trapezoid's 3 x 7), probability only.

    ``protocol``: ``"paper"``, ``"corrected"`` or ``"both"`` (every protocol of
    :data:`~limetheory.experiments.protocols.PROTOCOLS`).

    ``nets``: the networks to explain, names of :data:`MODEL_ORDER` (default :func:`default_nets`;
    ``limetheory reproduce --nets``). ``max_images``: explain at most that many images per network
    (the first ones), an int for every network or a mapping {network: count} whose key ``"*"``
    gives the count of the networks it does not name (``--max-images 20 efficientnet-lite1=4``).
    Neither enters a unit's key (:func:`unit_settings`): a run on fewer networks or images reuses,
    and is reused by, the units of a larger one.

    ``user_model`` (``limetheory reproduce --model ...``): that network only, on the images of
    its folder (``user_model["images"]``) or the bundled photos, as the ImageNet networks above;
    without ``Classifier.preprocess``, only the protocols that segment the raw image.

    Why 128 points in the corrected protocol: the path integrand of a ReLU6 network is rough. On
    EfficientNet (chelsea, logit of the top class) the relative completeness gap was 36% with the
    paper's 20-step trapezoid rule, 16% with the 64-point midpoint rule, 2.8% with 64
    Gauss-Legendre points and 0.9% with 128. Every row records its rule's gap (``ig_rel_gap``).
    """
    protocols = list(protocols_for(protocol))
    max_images = _check_max_images(max_images)
    if user_model is not None:
        if nets is not None:
            raise ValueError("nets and user_model exclude each other: a user's model is explained alone")
        models = [_user_model_settings(user_model, quick)]
        return _settings(protocol, _user_protocols(user_model, protocols), _limit_images(models, max_images))
    nets = default_nets(quick) if nets is None else _check_nets(nets)
    models = []
    for name in nets:
        if name in IMAGENET_NETS:
            entry = _imagenet_entry(name, quick) if name in NETWORKS else None
        else:
            count = (6 if name in SMALL_CNNS else 2) if quick else 100
            entry = _small_net_entry(name, {**_heldout_images(name), "count": count}, quick)
        if entry is not None:
            models.append(entry)
    return _settings(protocol, protocols, _limit_images(models, max_images))


def _check_nets(nets) -> tuple:
    if isinstance(nets, str) or not nets:
        raise ValueError(f"nets must be a non-empty list of network names, got {nets!r}")
    for name in nets:
        check_choice(name, "nets", MODEL_ORDER)
    return tuple(dict.fromkeys(nets))


def _check_max_images(max_images, names=None) -> dict | None:
    """``max_images`` as a mapping {network or "*": count >= 1}, checked (networks among ``names``,
    default experiment 4's); None for no limit."""
    if max_images is None:
        return None
    if not isinstance(max_images, dict):
        return {"*": check_int(max_images, "max_images", 1)}
    for name, count in max_images.items():
        if name != "*":
            check_choice(name, "max_images network", MODEL_ORDER if names is None else names)
        check_int(count, f"max_images[{name!r}]", 1)
    return dict(max_images)


def _limit_images(models: list, max_images: dict | None) -> list:
    """Every model's image list cut to its first ``max_images[model]`` (or ``max_images["*"]``)."""
    if max_images is None:
        return models
    out = []
    for m in models:
        limit = max_images.get(m["model"], max_images.get("*"))
        if limit is None:
            out.append(m)
            continue
        images = dict(m["images"])
        if "names" in images:
            images["names"] = list(images["names"])[:limit]
        else:
            images["count"] = min(int(images["count"]), limit)
        out.append({**m, "images": images})
    return out


def unit_settings(s: dict, unit: dict) -> dict:
    """What a unit's rows depend on: the settings but the other networks and the image count.

    The unit's own network entry replaces the list of networks, without its image list or count
    (the unit names its image), so ``--nets`` and ``--max-images`` leave a unit's key unchanged.
    """
    spec = next(m for m in s["models"] if m["model"] == unit["model"])
    images = {k: v for k, v in spec["images"].items() if k not in ("names", "count")}
    return {**{k: v for k, v in s.items() if k != "models"}, "model": {**spec, "images": images}}


def _settings(protocol: str, protocols: list, models: list) -> dict:
    return {
        "protocol": protocol,
        "protocols": protocols,
        "models": models,
        "kernel_width": 0.25,
        "ridge": 1.0,
        "hide_color": None,
        "ks": [5, 10],
        "iou_ks": [1, 3],
        "paper_ig": dict(PAPER_IG),
        "seed": 20210706,
    }


def _image_keys(images: dict) -> list:
    if images["kind"] in ("photos", "folder"):
        return list(images["names"])
    return list(range(int(images["count"])))


def units(s: dict) -> list:
    kinds = segment_kinds(s["protocols"])
    return [{"model": m["model"], "image": key, "segmentation": kind}
            for m in s["models"] for key in _image_keys(m["images"]) for kind in kinds]


# =========================================================================== images
def load_images(images: dict) -> dict:
    """{key: (uint8 image (H, W, 3), true label or -1, ground-truth mask or None)}."""
    kind = images["kind"]
    if kind == "photos":
        size = tuple(images.get("size", (224, 224)))
        return {name: (data.load_photo(name, size), -1, None) for name in images["names"]}
    if kind == "folder":
        return {name: (img, -1, None) for name, img in load_user_images(images["dir"], images["names"],
                                                                          images["size"]).items()}
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
    x = np.asarray(image, dtype=np.float64)
    diff = np.linalg.norm(x - replacement_image(x, segments, hide_color), axis=-1)
    return float(np.mean(diff[np.asarray(mask, bool)] > REMOVED_THRESHOLD))


def _iou(segments, mask, chosen) -> float:
    pred = np.isin(segments, chosen)
    return float(np.count_nonzero(pred & mask) / np.count_nonzero(pred | mask))


def segment_unit(image, snet, kind: str, params: dict) -> np.ndarray:
    """Superpixels of ``image`` (uint8) for segmentation ``kind``: ``"raw"`` segments the image,
    ``"preprocessed"`` the network's input ``snet.preprocess(image)`` (the paper's scripts)."""
    kw = dict(params)
    if kind == "preprocessed":
        if snet.preprocess is None:
            raise ValueError(f"network {snet.name} does not document its preprocessing (Classifier.preprocess "
                             "is None): the paper protocol's segmentation cannot be run")
        image = snet.preprocess(np.asarray(image, dtype=np.float64)[None])[0]
    return segment(image, kw.pop("method", "quickshift"), **kw)


def additivity(image, snet, segments, target: int, samples, *, kernel_width: float, hide_color, seed) -> dict:
    """Non-additive share R of g(z) = f(x(z)) for both outputs (OUTPUTS order), with its standard error.

    Exact (:func:`limetheory.additivity.nonadditive_share_exact`, 2^d evaluations of the network,
    se 0) when d <= :data:`EXACT_ADDITIVITY_D`; otherwise cross-fitted on LIME's own samples
    ``(z, pi, y)`` (:func:`limetheory.additivity.nonadditive_share`), NaN when there are fewer
    than ``MIN_SAMPLES_PER_PARAMETER (d + 2)`` of them: each half's affine fit has d + 1
    parameters, and its excess prediction error, which biases the estimate upwards, is about
    (d + 1) / (n / 2 - d - 2) times the residual variance: at most about 1/9 at that bound.
    """
    d = n_superpixels(segments)
    if d <= EXACT_ADDITIVITY_D:
        f_of_z = response_of_z(class_scores(snet, target), image, segments, hide_color)
        share = nonadditive_share_exact(f_of_z, d, kernel_width)
        return {"share": share, "se": np.zeros_like(share), "exact": True}
    z, w, y = samples
    if z.shape[0] < MIN_SAMPLES_PER_PARAMETER * (d + 2):
        nan = np.full(len(OUTPUTS), np.nan)
        return {"share": nan, "se": nan, "exact": False}
    share, se = nonadditive_share(z, y, w, seed=seed)
    return {"share": share, "se": se, "exact": False}


def image_logits(snet, image) -> np.ndarray:
    """The logits (n_classes,) float64 of one image: for a JAX network by its compiled single-image
    function, not by the batch program, which would pad the image to ``snet.batch_size`` images
    (256 on a CPU for EfficientNet-Lite0: as many model evaluations as a quarter of a LIME run)."""
    if snet.backend != "jax":
        return snet.scores(np.asarray(image)[None], "logit")[0]
    return np.asarray(snet.output_fn("logit")(np.asarray(image, dtype=np.float32)), dtype=np.float64)


def _ig_rules(spec: dict, s: dict) -> dict:
    return {"trapezoid": dict(s["paper_ig"]), "gausslegendre": {"method": "gausslegendre", "n_steps": spec["gl_steps"]},
            "midpoint1": {"method": "riemann_middle", "n_steps": 1}}


@dataclass(frozen=True, eq=False)
class UnitInput:
    """What a unit explains: the image (uint8), its true label (-1 if none) and object mask (or
    None), the network, the superpixels of the segmentation ``kind``, d, the logits and the
    target class (the network's top class)."""

    image: np.ndarray
    true_label: int
    mask: np.ndarray | None
    snet: object
    segments: np.ndarray
    d: int
    logits: np.ndarray
    target: int


def unit_input(ctx, model: str, key, kind: str) -> UnitInput:
    """The :class:`UnitInput` of network ``model``, image ``key`` and segmentation ``kind``
    (``"preprocessed"`` or ``"raw"``) of the context :func:`setup` returns."""
    spec = ctx.specs[model]
    image, true_label, mask = ctx.image(model, key)
    snet = _scored(spec)
    segments = segment_unit(image, snet, kind, spec["segmentations"][kind])
    logits = image_logits(snet, image)
    return UnitInput(image, true_label, mask, snet, segments, n_superpixels(segments), logits, int(np.argmax(logits)))


def run_unit(unit: dict, ctx: _Context) -> pd.DataFrame:
    s = ctx.settings
    model, key, kind = unit["model"], unit["image"], unit["segmentation"]
    spec = ctx.specs[model]
    u = unit_input(ctx, model, key, kind)
    image, true_label, mask, snet, segments = u.image, u.true_label, u.mask, u.snet, u.segments
    d, target = u.d, u.target
    prob = float(softmax(u.logits)[target])
    entropy = unit_seed(s, model, key) + [("preprocessed", "raw").index(kind)]
    r = int(spec["n_runs"])
    protocols = [p for p in s["protocols"] if PROTOCOLS[p].segmentation == kind]
    allowed = spec.get("outputs", list(OUTPUTS))
    outputs = [o for o in OUTPUTS if o in allowed and any(o in PROTOCOLS[p].outputs for p in protocols)]

    t0 = time.perf_counter()
    seeds = [np.random.default_rng(entropy + [run]) for run in range(2 * r)]
    coefs, samples = lime_coefficients(image, snet, segments, target, seeds, n_samples=spec["n_samples"],
                                       kernel_width=s["kernel_width"], ridge=s["ridge"],
                                       hide_color=s["hide_color"], with_samples=True)
    lime_seconds = time.perf_counter() - t0
    add = additivity(image, snet, segments, target, samples, kernel_width=s["kernel_width"],
                     hide_color=s["hide_color"], seed=np.random.default_rng(entropy + [20_000]))
    random_scores = np.random.default_rng(entropy + [10_000]).permutation(d).astype(np.float64)

    rules = _ig_rules(spec, s)
    needed = {(PROTOCOLS[p].ig_rule, o) for p in protocols for o in PROTOCOLS[p].outputs if o in outputs}
    needed |= {("midpoint1", o) for o in outputs}
    igs = {}
    for rule, output in sorted(needed):
        t1 = time.perf_counter()
        sums, ig = ig_superpixel_sums(image, snet, segments, target, output, hide_color=s["hide_color"], **rules[rule])
        igs[rule, output] = (sums, ig, time.perf_counter() - t1)

    common = {
        "model": model, "image": str(key), "segmentation": kind, "d": d, "target": target,
        "target_name": str(snet.class_names[target]), "true_label": true_label,
        "correct": bool(target == true_label) if true_label >= 0 else np.nan, "prob_target": prob,
        "n_samples": int(spec["n_samples"]), "n_runs": r, "lime_seconds": lime_seconds,
        "additivity_exact": add["exact"],
    }
    if mask is not None:
        oracle = _iou(segments, mask, oracle_superpixels(segments, mask))
        removed = object_removed(image, segments, mask, s["hide_color"])
    rows = []
    for p in protocols:
        proto = PROTOCOLS[p]
        for output in [o for o in proto.outputs if o in outputs]:
            oi = OUTPUTS.index(output)
            sums, ig, ig_seconds = igs[proto.ig_rule, output]
            lime_a, lime_b = coefs[:r, oi].mean(axis=0), coefs[r:, oi].mean(axis=0)
            per_output = {
                "protocol": p, **common, "output": output, "ig_rule": proto.ig_rule,
                "ig_n_steps": rules[proto.ig_rule]["n_steps"], "ig_f_x": ig.f_x, "ig_f_baseline": ig.f_baseline,
                "ig_rel_gap": ig.relative_gap(), "ig_seconds": ig_seconds,
                "path_curvature": igs["midpoint1", output][1].relative_gap(),
                "nonadditive_share": float(add["share"][oi]), "nonadditive_share_se": float(add["se"][oi]),
            }
            pairs = {
                "lime_vs_ig": (lime_a, sums),
                "lime_vs_lime": (lime_a, lime_b),
                "run_vs_run": (coefs[0, oi], coefs[r, oi]),
                "lime_vs_random": (lime_a, random_scores),
            }
            for name in PAIR_COMPARISONS:
                rows.append({**per_output, "comparison": name, **topk_agreement(*pairs[name], s["ks"], proto.topk)})
            if mask is not None:
                positive = proto.topk == "positive"
                for name, scores in zip(MASK_COMPARISONS, (lime_a, sums, random_scores)):
                    iou = {f"iou_top{k}": iou_topk(scores, segments, mask, k, positive) for k in s["iou_ks"] if k <= d}
                    rows.append({**per_output, "comparison": name, **iou, "iou_oracle": oracle,
                                 "object_removed": removed})
    return pd.DataFrame(rows)
