"""The result of image LIME, :class:`Explanation`, and lime's view of it.

:func:`limetheory.explain` returns an :class:`Explanation`: the surrogate's coefficients beta_hat
(one row per explained label), their standard errors, the settings and, when kept, the samples.

Code written against lime 0.2.0.1 reads three things from the object that
``LimeImageExplainer.explain_instance`` returns; the lime view gives the same three from an
Explanation, with lime's semantics (its errors included):

* ``local_exp``: ``{label: [(superpixel, weight), ...]}``, each list sorted by ``|weight|``
  descending (ties: lower superpixel first);
* ``intercept``: ``{label: float}``. On :class:`Explanation` the name ``intercept`` is already the
  ``(n_labels,)`` array of beta_hat_0, row-aligned with ``coef``; the dict is
  :attr:`Explanation.lime_intercept`, and :meth:`Explanation.as_lime` returns a
  :class:`LimeImageExplanation` whose ``intercept`` is the dict, as in lime;
* ``get_image_and_mask(label, positive_only=True, negative_only=False, hide_rest=False,
  num_features=5, min_weight=0.0)`` -> ``(image, mask)`` for
  ``skimage.segmentation.mark_boundaries``.

An unknown label raises :class:`LabelNotExplainedError`, which is both a ``KeyError`` (what lime
raises) and a ``ValueError`` (what the rest of the toolkit raises for a wrong value).
The lime functions take any object with ``coef``, ``intercept``, ``labels``, ``image`` and ``segments``.
"""
from __future__ import annotations
import warnings

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from .plotting import plot_coefficient_intervals, plot_explanation
from .stopping import StoppingRule
from .validation import check_bool, check_choice, check_int, check_real
from .viewer import write_html

__all__ = ["Explanation", "LabelNotExplainedError", "LimeImageExplanation", "get_image_and_mask", "lime_intercept",
           "local_exp"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """An image LIME explanation for one or several classes.

    Attributes
    ----------
    coef : (n_labels, d) surrogate coefficients beta_hat_1..beta_hat_d, one row per label.
    intercept : (n_labels,) beta_hat_0.
    labels : (n_labels,) the explained class indices.
    segments : (H, W) superpixel labels 0..d-1.
    score : (n_labels,) weighted R^2 of the surrogate on the samples.
    local_pred : (n_labels,) surrogate prediction at z = 1 (the unperturbed image).
    prediction : (n_classes,) the model's scores on the unperturbed image.
    image : the explained image; replacement : LIME's replacement image xi_bar.
    kernel_width, ridge, n_samples : the settings used.
    design : the sampling design (:data:`limetheory.sampling.DESIGNS`; with ``kernel="shap"``,
        :data:`limetheory.sampling.SHAPLEY_DESIGNS`, e.g. ``"enumerated"``); ``"auto:<name>"`` when
        ``design="auto"`` chose ``<name>`` from a pilot. ``sampler``: its former name ("bernoulli" for "iid").
    design_choice : with ``design="auto"`` (or a given :class:`limetheory.design_choice.DesignChoice`),
        why: every design's per-call variance and the source of those numbers (``design_choice.reason``).
    coef_se, intercept_se : (n_labels, d) and (n_labels,) standard errors of coef and intercept
        from the samples themselves (sandwich estimator, :func:`limetheory.surrogate.sandwich_standard_errors`):
        how far another run with another seed would typically land, i.e. the spread of this
        estimate around the limit explanation it converges to. Shrinks like 1/sqrt(n).
    se_df : degrees of freedom of those standard errors (:func:`limetheory.surrogate.sandwich_df`:
        independent rows n - d - 1, clusters such as pairs G - 1); :meth:`conf_int` takes Student's t
        quantile with them, which matters at small budgets only (inf: the normal quantile).
    samples, weights, responses : z (n, d), pi (n,), y (n, n_classes) when kept, else None.
    settled : with ``n_samples="auto"``, whether the top-k set was separated from the rest
        (:mod:`limetheory.stopping`) before ``max_samples``; None for a fixed n.
    n_rounds : the rounds of sampling it took (1 for a fixed n).
    stopping : with ``n_samples="auto"``, the :class:`limetheory.stopping.StoppingRule` it ran under
        (``top_k``, ``confidence``, ``tolerance``, ``max_samples``, ...); None for a fixed n.
    kernel : "lime", or "shap" for KernelSHAP (coef then estimates the Shapley values of the
        superpixel game, intercept is f(xi_bar) exactly, kernel_width is NaN and ridge 0).
    """

    coef: np.ndarray
    intercept: np.ndarray
    labels: np.ndarray
    segments: np.ndarray
    score: np.ndarray
    local_pred: np.ndarray
    prediction: np.ndarray
    image: np.ndarray
    replacement: np.ndarray
    kernel_width: float
    ridge: float
    n_samples: int
    design: str = "iid"
    design_choice: object = None
    coef_se: np.ndarray | None = None
    intercept_se: np.ndarray | None = None
    samples: np.ndarray | None = None
    weights: np.ndarray | None = None
    responses: np.ndarray | None = None
    settled: bool | None = None
    n_rounds: int = 1
    stopping: StoppingRule | None = None
    kernel: str = "lime"
    se_df: float = float("inf")

    def __repr__(self) -> str:
        return (
            f"Explanation(labels={self.labels.tolist()}, d={self.n_superpixels}, image={self.image.shape}, "
            f"n_samples={self.n_samples}, kernel_width={self.kernel_width:g}, ridge={self.ridge:g}, "
            f"design={self.design!r}, kernel={self.kernel!r}, samples_kept={self.samples is not None})"
        )

    @property
    def sampler(self) -> str:
        """The former name of :attr:`design`: "bernoulli" for "iid"."""
        return {"iid": "bernoulli"}.get(self.design, self.design)

    @property
    def n_superpixels(self) -> int:
        return self.coef.shape[1]

    def _row(self, label) -> int:
        if label is None:
            return 0
        hits = np.flatnonzero(self.labels == label)
        if hits.size == 0:
            raise ValueError(f"label {label!r} was not explained; explained labels: {self.labels.tolist()}")
        return int(hits[0])

    def coef_for(self, label=None) -> np.ndarray:
        """Coefficients (d,) of ``label`` (default: the first explained label)."""
        return self.coef[self._row(label)]

    def conf_int(self, label=None, level: float = 0.95) -> np.ndarray:
        """(d, 2) confidence intervals for the limit's coefficients: coef -/+ q * coef_se, q the
        :meth:`interval_quantile` (Student's t with :attr:`se_df` degrees of freedom).

        They cover the coefficients LIME converges to (ridge = 0; lime's ridge = 1 adds a bias
        of order 1/n, see :func:`limetheory.theory.ridge_bias`) in about ``level`` of runs.
        """
        row = self._row(label)
        half = self.interval_quantile(level) * self._se()[row]
        return np.stack([self.coef[row] - half, self.coef[row] + half], axis=1)

    def interval_quantile(self, level: float = 0.95) -> float:
        """The multiplier of ``coef_se`` in a two-sided ``level`` interval: Student's t quantile with
        :attr:`se_df` degrees of freedom (the normal quantile when they are infinite)."""
        level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
        df = float(self.se_df)
        return float(student_t.ppf(0.5 + level / 2, df)) if df > 0 else float("inf")

    def n_samples_for(self, target_se: float, label=None) -> int:
        """Samples needed for the largest coefficient standard error to fall to ``target_se``.

        Uses se ~ 1/sqrt(n): n * (max_j se_j / target_se)^2, from this run's own estimate.
        """
        target_se = check_real(target_se, "target_se", low=0, low_open=True)
        worst = float(np.max(self._se()[self._row(label)]))
        if not np.isfinite(worst):
            raise ValueError("this explanation has no finite standard errors (n_samples <= d + 1)")
        return max(self.n_samples, int(np.ceil(self.n_samples * (worst / target_se) ** 2)))

    def _se(self) -> np.ndarray:
        if self.coef_se is None:
            raise ValueError("this explanation carries no standard errors")
        return self.coef_se

    def top(self, k: int = 5, label=None, sign: str = "positive", *, allow_fewer: bool = False) -> np.ndarray:
        """Indices of the ``k`` superpixels with the largest coefficients.

        ``sign``: "positive" (largest first, only coefficients > 0), "negative" (most negative
        first, only < 0) or "abs" (largest |coef| first). When fewer than ``k`` coefficients have
        that sign, the ones there are are returned with a UserWarning that says so (none with
        ``allow_fewer=True``).
        """
        k = check_int(k, "k", 0)
        check_choice(sign, "sign", ("positive", "negative", "abs"))
        beta = self.coef_for(label)
        if sign == "positive":
            order = np.argsort(-beta, kind="stable")
            order = order[beta[order] > 0]
        elif sign == "negative":
            order = np.argsort(beta, kind="stable")
            order = order[beta[order] < 0]
        elif sign == "abs":
            order = np.argsort(-np.abs(beta), kind="stable")
        else:
            raise ValueError(f"sign must be 'positive', 'negative' or 'abs', got {sign!r}")
        if order.size < min(k, beta.size) and not check_bool(allow_fewer, "allow_fewer"):
            warnings.warn(f"top: only {order.size} of the {beta.size} coefficients are {sign}, fewer than the "
                          f"k = {k} asked for; these {order.size} are returned (sign='abs' ranks them all)",
                          UserWarning, stacklevel=2)
        return order[:k]

    def to_frame(self):
        """Tidy DataFrame: one row per (label, superpixel) with coef, its se, rank by coef, and pixel count."""
        d = self.n_superpixels
        sizes = np.bincount(self.segments.ravel(), minlength=d)
        rows = []
        for i, lab in enumerate(self.labels):
            rank = np.empty(d, dtype=int)
            rank[np.argsort(-self.coef[i], kind="stable")] = np.arange(1, d + 1)
            rows.append(
                pd.DataFrame(
                    {
                        "label": int(lab),
                        "superpixel": np.arange(d),
                        "coef": self.coef[i],
                        "se": np.full(d, np.nan) if self.coef_se is None else self.coef_se[i],
                        "rank": rank,
                        "n_pixels": sizes,
                        "intercept": self.intercept[i],
                        "score": self.score[i],
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def plot(self, label=None, k: int = 5, ax=None, **kwargs):
        """Overlay of the top-k positive (green) and negative (red) superpixels on the image."""
        return plot_explanation(self, label=label, k=k, ax=ax, **kwargs)

    def plot_coefficients(self, label=None, k: int = 15, ax=None, level: float = 0.95):
        """Bar chart of the k largest |coef| with their confidence intervals (``level``)."""
        return plot_coefficient_intervals(self, label=label, k=k, ax=ax, level=level)

    def to_html(self, path, label=None, **kwargs):
        """Write a self-contained interactive HTML viewer of this explanation; returns the path.

        See :func:`limetheory.viewer.write_html` for the options (``limit``, ``ig_sums``,
        ``class_names``, ``top_classes``, ``seed``, ``k``, ``title``).
        """
        return write_html(self, path, label=label, **kwargs)

    # lime's ImageExplanation interface (the lime view below); ``intercept`` stays the array.
    @property
    def local_exp(self) -> dict:
        """lime's ``local_exp``: {label: [(superpixel, coef), ...] sorted by |coef| descending}."""
        return local_exp(self)

    @property
    def lime_intercept(self) -> dict:
        """lime's ``intercept``: {label: intercept} (the array ``intercept`` is row-aligned with coef)."""
        return lime_intercept(self)

    def get_image_and_mask(self, label, positive_only=True, negative_only=False, hide_rest=False,
                           num_features=5, min_weight=0.0):
        """lime's ``get_image_and_mask`` -> (image, mask); see :func:`get_image_and_mask`."""
        return get_image_and_mask(self, label, positive_only, negative_only, hide_rest, num_features, min_weight)

    def as_lime(self):
        """A stand-in for lime's ImageExplanation (``intercept`` a dict, as lime has it)."""
        return LimeImageExplanation(self)


# --------------------------------------------------------------------------- lime's view
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
