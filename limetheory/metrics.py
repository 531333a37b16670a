"""Comparing and evaluating superpixel explanations (docs/theory/lime_and_ig.md and docs/theory/evaluation.md).

Every function takes per-superpixel scores as a (d,) array (LIME coefficients, IG sums, ...).

- :func:`top_k`, :func:`jaccard_topk`, :func:`rank_correlation`: how much two explanations agree.
- :func:`iou_topk`: overlap of the top superpixels with a ground-truth pixel mask.
- :func:`deletion_curve`, :func:`insertion_curve` (RISE, Petsiuk et al., BMVC 2018) and
  :func:`faithfulness_correlation`: how faithful an explanation is to the model, removing
  superpixels the way LIME does (replacing them by LIME's replacement image).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .perturb import model_responses
from .validation import check_choice, check_int, check_real
from .segmentation import check_image, check_segments, n_superpixels, replacement_image

__all__ = [
    "CurveResult",
    "deletion_curve",
    "faithfulness_correlation",
    "insertion_curve",
    "iou_topk",
    "jaccard",
    "jaccard_topk",
    "rank_correlation",
    "top_k",
]


# --------------------------------------------------------------------------- validation
def _scores(a, name) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-superpixel scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr.astype(np.float64)


def _pair(a, b):
    a, b = _scores(a, "a"), _scores(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same length, got {a.shape[0]} and {b.shape[0]}")
    return a, b


def _check_k(k, d) -> int:
    return check_int(k, "k", 1, d)


def _index_set(a, name) -> set:
    arr = np.asarray(a)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or (arr.size == 0 and arr.dtype == np.float64)):
        raise TypeError(f"{name} must be a collection of integer indices, got {a!r}")
    return set(arr.ravel().tolist())


# --------------------------------------------------------------------------- agreement
def top_k(scores, k: int, positive_only: bool = False) -> np.ndarray:
    """Indices of the ``k`` largest scores, largest first (ties: lower index first).

    ``positive_only=True`` keeps only those with a score > 0 (possibly fewer than k), as in
    the paper's "top-k positive superpixels".
    """
    s = _scores(scores, "scores")
    k = _check_k(k, s.shape[0])
    idx = np.argsort(-s, kind="stable")[:k]
    return idx[s[idx] > 0] if positive_only else idx


def jaccard(a_set, b_set, empty: float = float("nan")) -> float:
    """``|A & B| / |A | B|`` of two collections of indices; ``empty`` (default NaN) when both are empty."""
    a, b = _index_set(a_set, "a_set"), _index_set(b_set, "b_set")
    union = a | b
    return float(len(a & b) / len(union)) if union else float(empty)


def jaccard_topk(a, b, k: int, positive_only: bool = False, empty: float = float("nan")) -> float:
    """Jaccard index of the top-``k`` superpixels of two explanations.

    ``J = |T_k(a) & T_k(b)| / |T_k(a) | T_k(b)|`` with ``T_k`` the indices of the k largest
    scores (see :func:`top_k`; ``positive_only`` keeps only positive scores). 1 means the
    same k superpixels, 0 none in common; with ``positive_only`` and no positive score on
    either side the index is undefined: ``empty`` (default NaN; the paper's scripts count 1).
    """
    a, b = _pair(a, b)
    if not (isinstance(empty, float) and np.isnan(empty)):
        empty = check_real(empty, "empty", low=0.0, high=1.0)
    return jaccard(top_k(a, k, positive_only), top_k(b, k, positive_only), empty)


def rank_correlation(a, b, method: str = "spearman") -> float:
    """Rank correlation of two score vectors: Spearman's rho or Kendall's tau-b.

    ``spearman``: Pearson correlation of the ranks (average ranks for ties);
    ``kendall``: tau-b. NaN when either vector is constant (undefined).
    """
    from scipy import stats

    a, b = _pair(a, b)
    check_choice(method, "method", ("spearman", "kendall"))
    if a.shape[0] < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    if method == "spearman":
        return float(stats.spearmanr(a, b).statistic)
    return float(stats.kendalltau(a, b).statistic)


def iou_topk(scores, segments, mask, k: int, positive_only: bool = False) -> float:
    """IoU between the pixels of the top-``k`` superpixels and a ground-truth mask.

    ``IoU = |P & M| / |P | M|`` with ``P`` the union of the pixels of the superpixels
    ``top_k(scores, k)`` and ``M`` the (H, W) boolean mask (e.g. the drawn shape).
    """
    s = _scores(scores, "scores")
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be a 2-D (H, W) array, got shape {m.shape}")
    seg = check_segments(segments, m.shape)
    if n_superpixels(seg) != s.shape[0]:
        raise ValueError(f"scores has {s.shape[0]} entries but segments has {n_superpixels(seg)} superpixels")
    m = m.astype(bool)
    pred = np.isin(seg, top_k(s, k, positive_only))
    union = np.count_nonzero(pred | m)
    return float(np.count_nonzero(pred & m) / union) if union else float("nan")


# --------------------------------------------------------------------------- faithfulness
@dataclass(frozen=True)
class CurveResult:
    """A deletion or insertion curve.

    Attributes
    ----------
    fractions : (d+1,) fraction of superpixels removed (deletion) or inserted (insertion).
    values : (d+1,) model output along the way (``values[0]`` at no change).
    order : (d,) superpixels in the order they were removed / inserted.
    auc : float, trapezoid area under ``values`` against ``fractions`` (in [0, 1] on x).
    kind : "deletion" or "insertion".
    """

    fractions: np.ndarray
    values: np.ndarray
    order: np.ndarray
    auc: float
    kind: str

    def to_frame(self):
        """One row per step: step, fraction, value, superpixel changed at that step (-1 at 0)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "step": np.arange(self.values.shape[0]),
                "fraction": self.fractions,
                "value": self.values,
                "superpixel": np.concatenate([[-1], self.order]),
                "kind": self.kind,
            }
        )


def _predict_z(image, predict, segments, z, hide_color, target):
    """``f(x(z))`` of class ``target`` for every row of z, x(z) as LIME builds it
    (docs/theory/lime_algorithm.md, step 4),
    through :func:`limetheory.perturb.model_responses`."""
    arr = check_image(image)
    seg = check_segments(segments, arr.shape)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {type(predict).__name__}")
    x = arr.astype(np.float64)
    xbar = replacement_image(x, seg, hide_color)
    y = model_responses(predict, x, xbar, seg, z, progress=False)
    if target is None:
        if y.shape[1] != 1:
            raise ValueError(f"predict returns {y.shape[1]} scores per image: pass target=<class index>")
        target = 0
    return y[:, check_int(target, "target", 0, y.shape[1] - 1)]


def _curve(kind, image, predict, segments, scores, target, hide_color):
    s = _scores(scores, "scores")
    seg = check_segments(segments, np.shape(image))
    d = n_superpixels(seg)
    if s.shape[0] != d:
        raise ValueError(f"scores has {s.shape[0]} entries but segments has {d} superpixels")
    order = np.argsort(-s, kind="stable")
    # row i: the first i superpixels of `order` removed (deletion) or the only ones kept (insertion)
    changed = np.tril(np.ones((d + 1, d), dtype=np.uint8), k=-1)[:, np.argsort(order)]
    z = 1 - changed if kind == "deletion" else changed
    values = _predict_z(image, predict, seg, z, hide_color, target)
    fractions = np.arange(d + 1) / d
    auc = float(np.sum((values[1:] + values[:-1]) / 2.0) / d)
    return CurveResult(fractions=fractions, values=values, order=order, auc=auc, kind=kind)


def deletion_curve(image, predict, segments, scores, *, target=None, hide_color=None) -> CurveResult:
    """Deletion curve: remove superpixels most relevant first, record the model's output.

    Step i (i = 0..d) evaluates ``f(x(z_i))`` where z_i switches off the i superpixels with
    the largest ``scores`` (removed = replaced by LIME's replacement image, ``hide_color``
    as in LIME). AUC by the trapezoid rule over the fraction i/d: lower is better (a
    faithful explanation makes f fall fast).

    ``predict`` maps ``(m, *image.shape)`` float64 images to (m,) or (m, K) outputs (``target``
    picks the class).
    """
    return _curve("deletion", image, predict, segments, scores, target, hide_color)


def insertion_curve(image, predict, segments, scores, *, target=None, hide_color=None) -> CurveResult:
    """Insertion curve: start from the replacement image, insert the most relevant first.

    Step i switches on only the i superpixels with the largest ``scores``. AUC over the
    fraction i/d: higher is better.
    """
    return _curve("insertion", image, predict, segments, scores, target, hide_color)


def faithfulness_correlation(image, predict, segments, scores, *, target=None, hide_color=None) -> float:
    """Pearson correlation between ``scores`` and the drop of f when each superpixel is removed.

    ``drop_j = f(x) - f(x(1 - e_j))`` (superpixel j replaced by LIME's replacement image).
    NaN if either vector is constant.
    """
    s = _scores(scores, "scores")
    seg = check_segments(segments, np.shape(image))
    d = n_superpixels(seg)
    if s.shape[0] != d:
        raise ValueError(f"scores has {s.shape[0]} entries but segments has {d} superpixels")
    z = np.vstack([np.ones((1, d), dtype=np.uint8), 1 - np.eye(d, dtype=np.uint8)])
    y = _predict_z(image, predict, seg, z, hide_color, target)
    drops = y[0] - y[1:]
    if np.ptp(drops) == 0 or np.ptp(s) == 0:
        return float("nan")
    return float(np.corrcoef(s, drops)[0, 1])
