"""lime's ``ImageExplanation`` helpers, computed from an :class:`~limetheory.empirical.Explanation`.

Code written against lime 0.2.0.1 reads three things from the object that
``LimeImageExplainer.explain_instance`` returns; this module gives the same three from our
explanations, with lime's semantics (its errors included):

* ``local_exp``: ``{label: [(superpixel, weight), ...]}``, each list sorted by ``|weight|``
  descending (ties: lower superpixel first);
* ``intercept``: ``{label: float}``. On :class:`~limetheory.empirical.Explanation` the name
  ``intercept`` is already the ``(n_labels,)`` array of beta_hat_0, row-aligned with ``coef``;
  the dict is :attr:`Explanation.lime_intercept`, and :meth:`Explanation.as_lime` returns a
  :class:`LimeImageExplanation` whose ``intercept`` is the dict, as in lime;
* ``get_image_and_mask(label, positive_only=True, negative_only=False, hide_rest=False,
  num_features=5, min_weight=0.0)`` -> ``(image, mask)`` for
  ``skimage.segmentation.mark_boundaries``.

An unknown label raises :class:`LabelNotExplainedError`, which is both a ``KeyError`` (what lime
raises) and a ``ValueError`` (what the rest of the toolkit raises for a wrong value).
The functions take any object with ``coef``, ``intercept``, ``labels``, ``image`` and ``segments``
(no import of :mod:`limetheory.empirical`: that module imports this one lazily).
"""
from __future__ import annotations

import numpy as np

from .validation import check_bool, check_int, check_real

__all__ = ["LabelNotExplainedError", "LimeImageExplanation", "get_image_and_mask", "lime_intercept", "local_exp"]


class LabelNotExplainedError(KeyError, ValueError):
    """The label asked for was not explained (a ``KeyError`` like lime's, and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def local_exp(explanation) -> dict:
    """lime's ``local_exp``: ``{label: [(j, beta_j), ...]}`` sorted by ``|beta_j|`` descending.

    ``label`` and ``j`` are Python ints, ``beta_j`` Python floats; equal |beta_j| keep the
    superpixel order (a stable sort, as lime's ``sorted``).
    """
    out = {}
    for label, row in zip(np.asarray(explanation.labels).tolist(), np.asarray(explanation.coef)):
        order = np.argsort(-np.abs(row), kind="stable")
        out[int(label)] = [(int(j), float(row[j])) for j in order]
    return out


def lime_intercept(explanation) -> dict:
    """lime's ``intercept``: ``{label: beta_hat_0}`` as Python floats."""
    labels = np.asarray(explanation.labels).tolist()
    return {int(label): float(b0) for label, b0 in zip(labels, np.asarray(explanation.intercept))}


def _weights_of(explanation, label) -> np.ndarray:
    """The (d,) coefficients of ``label``; LabelNotExplainedError if it was not explained."""
    if isinstance(label, (bool, np.bool_)):
        raise TypeError(f"label must be a class index, got bool {label!r}")
    labels = np.asarray(explanation.labels)
    hits = np.flatnonzero(labels == label) if isinstance(label, (int, np.integer)) else np.array([], int)
    if hits.size == 0:
        raise LabelNotExplainedError(
            f"Label not in explanation: {label!r} (explained labels: {labels.tolist()})"
        )
    return np.asarray(explanation.coef)[hits[0]]


def get_image_and_mask(explanation, label, positive_only: bool = True, negative_only: bool = False,
                       hide_rest: bool = False, num_features: int = 5, min_weight: float = 0.0):
    """lime's ``ImageExplanation.get_image_and_mask`` (lime 0.2.0.1 semantics).

    Walk the superpixels in ``local_exp[label]`` order (|beta_j| descending) and select:

    * ``positive_only``: the first ``num_features`` with ``beta_j > max(0, min_weight)``;
      mask 1 on them;
    * ``negative_only``: the first ``num_features`` with ``beta_j < 0`` and
      ``|beta_j| > min_weight``; mask 1 on them;
    * neither: among the first ``num_features`` superpixels, those with
      ``|beta_j| >= min_weight``; mask ``-1`` where ``beta_j < 0``, ``+1`` otherwise, and in the
      image channel 0 (negative) or 1 (non-negative) of those pixels set to the image's maximum.

    The returned image is the explained image (same dtype), or with ``hide_rest`` zeros (float64)
    outside the selection; the mask has the dtype of ``segments``.

    Raises
    ------
    LabelNotExplainedError (a KeyError and a ValueError)
        If ``label`` was not explained.
    ValueError
        If ``positive_only`` and ``negative_only`` are both true, or (neither) the image has no
        channel axis to colour.
    """
    beta = _weights_of(explanation, label)
    positive_only = check_bool(positive_only, "positive_only")
    negative_only = check_bool(negative_only, "negative_only")
    if positive_only and negative_only:
        raise ValueError("Positive_only and negative_only cannot be true at the same time.")
    hide_rest = check_bool(hide_rest, "hide_rest")
    num_features = check_int(num_features, "num_features", 0)
    min_weight = check_real(min_weight, "min_weight", finite=False)
    image = np.asarray(explanation.image)
    segments = np.asarray(explanation.segments)
    order = np.argsort(-np.abs(beta), kind="stable")
    w = beta[order]
    shown = np.zeros(image.shape) if hide_rest else image.copy()
    if positive_only or negative_only:
        keep = (w > 0) & (w > min_weight) if positive_only else (w < 0) & (np.abs(w) > min_weight)
        sign = np.zeros(beta.size, dtype=segments.dtype)
        sign[order[keep][:num_features]] = 1
    else:
        if image.ndim != 3 or image.shape[2] < 2:
            raise ValueError(
                "positive_only=False and negative_only=False colours channels 0 and 1 and needs an "
                f"(H, W, C) image with C >= 2, got shape {image.shape}"
            )
        head = order[:num_features]
        head = head[~(np.abs(beta[head]) < min_weight)]
        sign = np.zeros(beta.size, dtype=segments.dtype)
        sign[head] = np.where(beta[head] < 0, -1, 1)
    mask = sign[segments]
    chosen = mask != 0
    shown[chosen] = image[chosen]
    if not (positive_only or negative_only):
        peak = np.max(image)
        shown[mask < 0, 0] = peak
        shown[mask > 0, 1] = peak
    return shown, mask


class LimeImageExplanation:
    """A read-only stand-in for lime's ``ImageExplanation``, built from an Explanation.

    Attributes ``image``, ``segments``, ``local_exp`` (dict), ``intercept`` (dict),
    ``top_labels`` (the explained labels, in the explanation's order) and the method
    :meth:`get_image_and_mask`, all as lime has them. ``score`` and ``local_pred`` are left out:
    lime keeps only those of the label it fitted last; they are per label on the Explanation.
    """

    def __init__(self, explanation):
        self._explanation = explanation
        self.image = explanation.image
        self.segments = explanation.segments
        self.local_exp = local_exp(explanation)
        self.intercept = lime_intercept(explanation)
        self.top_labels = [int(k) for k in np.asarray(explanation.labels)]

    def get_image_and_mask(self, label, positive_only=True, negative_only=False, hide_rest=False,
                           num_features=5, min_weight=0.0):
        """See :func:`get_image_and_mask`."""
        return get_image_and_mask(self._explanation, label, positive_only, negative_only, hide_rest,
                                  num_features, min_weight)
