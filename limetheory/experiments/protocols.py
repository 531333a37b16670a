"""Experiment 4's protocols: the paper's, the corrected one, and each difference switched alone.

The authors' public scripts (repository dgarreau/image_lime_theory: compute_empirical.py,
compute_approx.py, compare_exp.py, utils/aux_functions.py) run Tables 1 and 2 as follows, and
``protocol="paper"`` does the same:

- superpixels: quickshift(kernel_size=4, max_dist=200, ratio=0.2) on the ImageNet networks
  (kernel_size=1 on the small 32 x 32 images of Table 1) run on the *preprocessed* image, the
  array the network's first layer receives (:attr:`limetheory.nets.Classifier.preprocess`), not on
  the uint8 photo;
- LIME: lime's defaults (nu = 0.25, ridge 1, mean-colour replacement), R = 5 runs of n = 1000
  averaged, the class the network ranks first, its softmax probability. The scripts run LIME on
  the preprocessed image; here LIME runs on the [0, 255] image with the network's preprocessing
  inside it, which is the same function of z: every network here preprocesses each channel by an
  affine map (EfficientNet) or by one that depends on the image only through its channel means
  (the small CNNs, ``x / 127.5`` minus the mean), and the mean-colour replacement commutes with
  the first and keeps the second's means (every superpixel keeps its pixel sum);
- IG: the straight path between LIME's replacement image and the image, the gradient of the
  probability averaged by the trapezoid rule over 20 steps (21 points, ``riemann_trapezoid`` with
  ``n_steps = 21``), times ``xi - xi_bar``, summed over every superpixel (the script lays the 21
  points from xi to xi_bar; the trapezoid average over the same points is the same either way);
- metric: the Jaccard index of the top-5 and top-10 *positive* coefficients (fewer than k when
  fewer are positive, the two empty sets counting 1).

``corrected`` (this project's experiment 4 before the paper protocol was added) segments the uint8
photo with the parameters of :data:`limetheory.nets.SEGMENTATION`, integrates with 128-point
Gauss-Legendre, ranks the signed coefficients, and explains the probability and the logit. The
three ``paper_*`` protocols switch one of these differences alone on top of the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from limetheory.metrics import jaccard_topk, rank_correlation
from limetheory.validation import check_choice

__all__ = [
    "PROTOCOLS",
    "SELECTIONS",
    "Protocol",
    "paper_segmentation",
    "protocols_for",
    "segment_kinds",
    "topk_agreement",
]


@dataclass(frozen=True)
class Protocol:
    """How experiment 4 compares LIME with the IG sums.

    Attributes
    ----------
    segmentation : str
        ``"preprocessed"`` (quickshift of the network's input, the paper) or ``"raw"``
        (quickshift of the uint8 image with the project's parameters).
    ig_rule : str
        ``"trapezoid"`` (21 points, the paper) or ``"gausslegendre"`` (the settings' points).
    topk : str
        ``"positive"`` (the paper's top-k positive coefficients) or ``"signed"`` (the top-k
        coefficients whatever their sign).
    outputs : tuple
        The outputs explained (``"prob"``, ``"logit"``).
    """

    segmentation: str
    ig_rule: str
    topk: str
    outputs: tuple


#: Every protocol, in table order: the paper's, each difference alone, the corrected one.
PROTOCOLS = {
    "paper": Protocol("preprocessed", "trapezoid", "positive", ("prob",)),
    "paper_signed_topk": Protocol("preprocessed", "trapezoid", "signed", ("prob",)),
    "paper_gauss_legendre": Protocol("preprocessed", "gausslegendre", "positive", ("prob",)),
    "paper_raw_segmentation": Protocol("raw", "trapezoid", "positive", ("prob",)),
    "corrected": Protocol("raw", "gausslegendre", "signed", ("prob", "logit")),
}

#: ``limetheory reproduce --protocol`` -> the protocols it runs.
SELECTIONS = {"paper": ("paper",), "corrected": ("corrected",), "both": tuple(PROTOCOLS)}

#: The paper's trapezoid rule: 20 steps, 21 points (compute_approx.py's ``m_steps = 20``).
PAPER_IG = {"method": "riemann_trapezoid", "n_steps": 21}


def protocols_for(selection: str) -> tuple:
    """The protocols that ``--protocol selection`` runs (``"paper"``, ``"corrected"`` or ``"both"``)."""
    return SELECTIONS[check_choice(selection, "protocol", SELECTIONS)]


def segment_kinds(protocols) -> list:
    """The segmentations the protocols need, in a fixed order (each is one set of LIME runs)."""
    kinds = {PROTOCOLS[p].segmentation for p in protocols}
    return [k for k in ("preprocessed", "raw") if k in kinds]


def paper_segmentation(image_side: int) -> dict:
    """The paper's quickshift parameters: kernel_size 4 on ImageNet-sized images, 1 on small ones.

    The authors used kernel_size=1 on CIFAR-10's 32 x 32 images (Table 1) and lime's default 4 on
    the 224 and 299 pixel ImageNet images (Table 2); max_dist=200 and ratio=0.2 in both. Images
    under 100 pixels wide get the small-image value.
    """
    return {"method": "quickshift", "kernel_size": 1 if image_side < 100 else 4, "max_dist": 200, "ratio": 0.2}


def topk_agreement(a, b, ks, topk: str) -> dict:
    """Jaccard of the top-k superpixels of two score vectors for every k, and Spearman's rho.

    ``topk="positive"`` (the paper): the top min(k, d) superpixels with a positive score (fewer
    when fewer are positive; two empty sets give 1, as compare_exp.py counts them).
    ``topk="signed"``: the top k by value whatever the sign; NaN when k >= d (always 1).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = a.shape[0]
    out = {}
    for k in ks:
        if topk == "positive":
            out[f"jaccard_top{k}"] = jaccard_topk(a, b, min(int(k), d), positive_only=True, empty=1.0)
        else:
            out[f"jaccard_top{k}"] = jaccard_topk(a, b, int(k)) if k < d else np.nan
    out["spearman"] = rank_correlation(a, b, "spearman")
    return out
