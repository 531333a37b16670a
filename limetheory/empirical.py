"""Empirical image LIME: :func:`explain` and its result, :class:`Explanation`.

The data flow of docs/theory/lime_algorithm.md::

    image --segments--> xi_bar --sample--> z (n x d), pi --perturb--> x(z) --predict--> y --fit--> beta_hat
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .nets import Classifier
from .perturb import check_responses, jax_perturb_batch, model_responses
from .sampling import SAMPLERS, samples_and_weights
from .validation import as_generator, check_bool, check_choice, check_int, check_real
from .segmentation import QUICKSHIFT_DEFAULTS, check_image, check_segments, n_superpixels, replacement_image, segment
from .stopping import StoppingRule, run_rounds
from .surrogate import fit_weighted_ridge, predict_linear, sandwich_covariance, sandwich_standard_errors, weighted_r2

__all__ = [
    "Explanation", "explain", "fit_explanation", "model_responses", "check_settings", "check_fit_size",
    "check_identifiable", "fit_bytes",
]


# --------------------------------------------------------------------------- result
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
    kernel_width, ridge, n_samples, sampler : the settings used.
    coef_se, intercept_se : (n_labels, d) and (n_labels,) standard errors of coef and intercept
        from the samples themselves (sandwich estimator, :func:`limetheory.surrogate.sandwich_standard_errors`):
        how far another run with another seed would typically land, i.e. the spread of this
        estimate around the limit explanation it converges to. Shrinks like 1/sqrt(n).
    samples, weights, responses : z (n, d), pi (n,), y (n, n_classes) when kept, else None.
    settled : with ``n_samples="auto"``, whether the top-k set was separated from the rest
        (:mod:`limetheory.stopping`) before ``max_samples``; None for a fixed n.
    n_rounds : the rounds of sampling it took (1 for a fixed n).
    stopping : with ``n_samples="auto"``, the :class:`limetheory.stopping.StoppingRule` it ran under
        (``top_k``, ``confidence``, ``tolerance``, ``max_samples``, ...); None for a fixed n.
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
    sampler: str = "bernoulli"
    coef_se: np.ndarray | None = None
    intercept_se: np.ndarray | None = None
    samples: np.ndarray | None = None
    weights: np.ndarray | None = None
    responses: np.ndarray | None = None
    settled: bool | None = None
    n_rounds: int = 1
    stopping: StoppingRule | None = None

    def __repr__(self) -> str:
        return (
            f"Explanation(labels={self.labels.tolist()}, d={self.n_superpixels}, image={self.image.shape}, "
            f"n_samples={self.n_samples}, kernel_width={self.kernel_width:g}, ridge={self.ridge:g}, "
            f"sampler={self.sampler!r}, samples_kept={self.samples is not None})"
        )

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
        """(d, 2) normal confidence intervals for the limit's coefficients: coef -/+ z_level * coef_se.

        They cover the coefficients LIME converges to (ridge = 0; lime's ridge = 1 adds a bias
        of order 1/n, see :func:`limetheory.theory.ridge_bias`) in about ``level`` of runs.
        """
        from scipy.stats import norm

        level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
        row = self._row(label)
        half = norm.ppf(0.5 + level / 2) * self._se()[row]
        return np.stack([self.coef[row] - half, self.coef[row] + half], axis=1)

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

    def top(self, k: int = 5, label=None, sign: str = "positive") -> np.ndarray:
        """Indices of the ``k`` superpixels with the largest coefficients.

        ``sign``: "positive" (largest first, only coefficients > 0), "negative" (most negative
        first, only < 0) or "abs" (largest |coef| first).
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
        return order[:k]

    def to_frame(self):
        """Tidy DataFrame: one row per (label, superpixel) with coef, its se, rank by coef, and pixel count."""
        import pandas as pd

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
        from .plotting import plot_explanation

        return plot_explanation(self, label=label, k=k, ax=ax, **kwargs)

    def plot_coefficients(self, label=None, k: int = 15, ax=None, level: float = 0.95):
        """Bar chart of the k largest |coef| with their confidence intervals (``level``)."""
        from .plotting import plot_coefficient_intervals

        return plot_coefficient_intervals(self, label=label, k=k, ax=ax, level=level)

    def to_html(self, path, label=None, **kwargs):
        """Write a self-contained interactive HTML viewer of this explanation; returns the path.

        See :func:`limetheory.viewer.write_html` for the options (``limit``, ``ig_sums``,
        ``class_names``, ``top_classes``, ``seed``, ``k``, ``title``).
        """
        from .viewer import write_html

        return write_html(self, path, label=label, **kwargs)

    # lime's ImageExplanation interface (limetheory.lime_helpers); ``intercept`` stays the array.
    @property
    def local_exp(self) -> dict:
        """lime's ``local_exp``: {label: [(superpixel, coef), ...] sorted by |coef| descending}."""
        from .lime_helpers import local_exp

        return local_exp(self)

    @property
    def lime_intercept(self) -> dict:
        """lime's ``intercept``: {label: intercept} (the array ``intercept`` is row-aligned with coef)."""
        from .lime_helpers import lime_intercept

        return lime_intercept(self)

    def get_image_and_mask(self, label, positive_only=True, negative_only=False, hide_rest=False,
                           num_features=5, min_weight=0.0):
        """lime's ``get_image_and_mask`` -> (image, mask); see :func:`limetheory.lime_helpers.get_image_and_mask`."""
        from .lime_helpers import get_image_and_mask

        return get_image_and_mask(self, label, positive_only, negative_only, hide_rest, num_features, min_weight)

    def as_lime(self):
        """A stand-in for lime's ImageExplanation (``intercept`` a dict, as lime has it)."""
        from .lime_helpers import LimeImageExplanation

        return LimeImageExplanation(self)


# --------------------------------------------------------------------------- validation
def check_settings(n_samples, kernel_width, ridge, d) -> int:
    """Check LIME's settings (n >= 2, kernel width > 0, ridge >= 0, n >= d + 1 for ridge 0); return n."""
    n = check_int(n_samples, "n_samples", 2)
    check_real(kernel_width, "kernel_width", low=0, low_open=True)
    ridge = check_real(ridge, "ridge", low=0)
    if ridge == 0 and n < d + 1:
        raise ValueError(
            f"ridge=0 (weighted least squares) needs n_samples >= d + 1 = {d + 1} samples, got {n}"
        )
    return n


#: Share of the available memory the fit may plan to use.
MEMORY_SHARE = 0.8


def fit_bytes(n: int, d: int, n_classes: int = 1) -> int:
    """Bytes the surrogate needs: z (n, d) as uint8, two float64 copies of it (centred and weighted,
    :func:`limetheory.surrogate.fit_weighted_ridge`), the responses (n, n_classes) and three (d + 1)^2
    float64 blocks (the Hessian and its eigendecomposition, :func:`~limetheory.surrogate.sandwich_standard_errors`)."""
    return n * d * (1 + 2 * 8) + n * n_classes * 8 + 3 * (d + 1) ** 2 * 8


def check_fit_size(n: int, d: int, n_classes: int = 1, available: int | None = None) -> None:
    """Refuse, before any model call, a fit that needs more than ``MEMORY_SHARE`` of the available memory.

    Raises
    ------
    ValueError
        Naming ``n_samples`` and the number of superpixels, with the bytes needed and available.
    """
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    need = fit_bytes(n, d, n_classes)
    if need > MEMORY_SHARE * available:
        raise ValueError(
            f"n_samples={n} with d={d} superpixels needs about {need / 2**30:.3g} GiB for the surrogate fit, "
            f"more than {MEMORY_SHARE:.0%} of the {available / 2**30:.3g} GiB available: use fewer samples "
            "or fewer superpixels"
        )


#: The ridge "decides" the fit when the data's mean curvature falls below this share of lambda.
RIDGE_DOMINANCE = 0.01


def check_identifiable(z, weights, ridge: float) -> None:
    """Refuse samples whose weights cannot identify the coefficients, before any model call.

    Only for n > d + 1 (below, the standard errors are already infinite). Two signs, either one refuses: the effective sample size n_eff = (sum_i pi_i)^2 / sum_i pi_i^2 is
    below 2 (one sample carries all the weight), or the ridge penalty dominates the weighted design,
    mean_j sum_i pi_i (z_ij - zbar_j)^2 < ``RIDGE_DOMINANCE`` * lambda (zbar: the pi-weighted mean).
    Either happens e.g. for a tiny kernel width under lime's Bernoulli sampler, where every sample but
    z = 1 weighs ~0: the coefficients are then the ridge's, ~0, with falsely tiny standard errors.

    Raises
    ------
    ValueError
        Saying which sign was seen and suggesting ``sampler="weighted"``, a larger kernel_width or n.
    """
    w = np.asarray(weights, dtype=np.float64)
    n, d = np.shape(z)
    if n <= d + 1:  # the standard errors are inf then (no degrees of freedom): no false confidence to refuse
        return
    total = w.sum()
    n_eff = total**2 / np.sum(w**2) if total > 0 else 0.0
    advice = 'Use sampler="weighted", a larger kernel_width or a larger n_samples'
    if not n_eff >= 2:
        raise ValueError(
            f"the kernel weights leave an effective sample size (sum pi)^2 / sum pi^2 = {n_eff:.3g} < 2: one "
            f"sample carries all the weight and the coefficients are not identified. {advice}"
        )
    zf = np.asarray(z, dtype=np.float64)
    z_bar = w @ zf / total
    curvature = float(np.mean(w @ (zf - z_bar) ** 2))
    if ridge > 0 and curvature < RIDGE_DOMINANCE * ridge:
        raise ValueError(
            f"the ridge penalty {ridge:g} dominates the weighted design (mean curvature sum pi (z - zbar)^2 = "
            f"{curvature:.3g}): the coefficients would be the ridge's, not the model's. {advice}"
        )


def _check_label_request(labels, top_labels):
    """Validate what to explain before any prediction: ("labels", indices) or ("top", k)."""
    if labels is not None and top_labels is not None:
        raise ValueError("give labels or top_labels, not both")
    if labels is None:
        return "top", check_int(1 if top_labels is None else top_labels, "top_labels", 1)
    labs = np.atleast_1d(np.asarray(labels))
    if labs.ndim != 1 or labs.size == 0 or labs.dtype == bool or not np.issubdtype(labs.dtype, np.integer):
        raise TypeError(f"labels must be a non-empty sequence of class indices, got {labels!r}")
    if labs.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {labs.tolist()}")
    return "labels", labs.astype(np.int64)


def _resolve_labels(request, prediction: np.ndarray) -> np.ndarray:
    """The class indices to explain, checked against the model's number of classes."""
    kind, value = request
    n_classes = prediction.shape[0]
    if kind == "top":
        if value > n_classes:
            raise ValueError(f"top_labels must be <= the number of classes {n_classes}, got {value}")
        return np.argsort(prediction, kind="stable")[::-1][:value].copy()
    if value.max() >= n_classes:
        raise ValueError(f"labels must be class indices in [0, {n_classes - 1}], got {value.tolist()}")
    return value


# --------------------------------------------------------------------------- responses
def fused_jax_responses(predict: Callable, image, replacement, segments, z, batch_size: int | None = None) -> np.ndarray:
    """Like :func:`model_responses`, with x(z) built inside the same ``jax.jit`` as the model.

    ``predict`` must be a JAX-traceable function of a batch of images (m, H, W, C) returning
    (m,) or (m, n_classes) scores. Batches are padded to a fixed size so one compilation serves all.
    """
    import jax
    import jax.numpy as jnp

    z = np.asarray(z)
    n = z.shape[0]
    bs = batch_size or 64
    img = jnp.asarray(image, dtype=jnp.float32)
    rep = jnp.asarray(replacement, dtype=jnp.float32)
    seg = jnp.asarray(segments)

    @jax.jit
    def run(zb):
        return predict(jax_perturb_batch(img, rep, seg, zb))

    out = None
    for start in range(0, n, bs):
        zb = z[start : start + bs]
        m = zb.shape[0]
        if m < bs:
            zb = np.concatenate([zb, np.ones((bs - m, zb.shape[1]), zb.dtype)])
        y = check_responses(np.asarray(run(zb))[:m], m, start, None if out is None else out.shape[1])
        if out is None:
            out = np.empty((n, y.shape[1]))
        out[start : start + m] = y
    return out


# --------------------------------------------------------------------------- fit
def fit_explanation(z, y, weights, labels, ridge, *, segments, image, replacement, kernel_width, keep_samples,
                    sampler: str = "bernoulli"):
    """Fit the surrogate on given samples/responses and package an :class:`Explanation`."""
    y_lab = y[:, labels]
    constant = np.ptp(y_lab, axis=0) <= 1e-12 * np.abs(y_lab).max(axis=0)  # to rounding
    if constant.any():
        warnings.warn(
            f"the model's output for label(s) {np.asarray(labels)[constant].tolist()} is the same on all "
            f"{z.shape[0]} samples (to rounding), so their explanation is zero: hiding superpixels (with this "
            "replacement image) does not change what the model responds to",
            UserWarning, stacklevel=3,
        )
    intercept, coef = fit_weighted_ridge(z, y_lab, weights, ridge)
    se = sandwich_standard_errors(z, weights, y_lab - predict_linear(z, intercept, coef), ridge)
    return Explanation(
        coef=coef,
        intercept=intercept,
        labels=np.asarray(labels),
        segments=segments,
        score=weighted_r2(z, y_lab, weights, intercept, coef),
        local_pred=intercept + coef.sum(axis=1),
        prediction=y[0].copy(),
        image=image,
        replacement=replacement,
        kernel_width=float(kernel_width),
        ridge=float(ridge),
        n_samples=int(z.shape[0]),
        sampler=sampler,
        coef_se=se[:, 1:],
        intercept_se=se[:, 0],
        samples=z if keep_samples else None,
        weights=weights if keep_samples else None,
        responses=y if keep_samples else None,
    )


def explain(
    image,
    predict: Callable,
    *,
    segments=None,
    labels=None,
    top_labels=None,
    n_samples: int | str = 1000,
    top_k: int | None = None,
    confidence: float | None = None,
    max_samples: int | None = None,
    tolerance: float | None = None,
    kernel_width: float = 0.25,
    ridge: float = 1.0,
    hide_color=None,
    seed=None,
    batch_size: int | None = None,
    dtype=None,
    keep_samples: bool = False,
    fused: bool = False,
    progress: bool | None = None,
    sampler: str = "bernoulli",
    refuse_unidentified: bool = True,
) -> Explanation:
    """Explain ``predict`` at ``image`` with image LIME (docs/theory/lime_algorithm.md).

    Parameters
    ----------
    image : (H, W) or (H, W, C) array, finite.
    predict : callable mapping a batch of images (N, H, W[, C]) to scores (N, n_classes) or (N,).
    segments : (H, W) integer superpixel labels (see :func:`limetheory.segment`), >= 2 superpixels;
        None (default): quickshift with lime's defaults (``segmentation.QUICKSHIFT_DEFAULTS``).
    labels : class indices to explain. ``top_labels``: explain the K classes with the highest
        score on the unperturbed image instead. Neither: the top class (or the only score).
    n_samples : n >= 2 samples z ~ Bernoulli(1/2)^d; sample 0 is the unperturbed image (z = 1).
        ``"auto"``: draw samples in rounds and stop as soon as the ``top_k`` largest coefficients of
        every explained label are separated from the rest at ``confidence``, valid under repeated
        looks (alpha spending over rounds, Bonferroni over the coefficients, their pairwise
        differences and the labels, with the sandwich covariance:
        :mod:`limetheory.stopping`), or at ``max_samples``; the result's ``settled``, ``n_samples``
        and ``n_rounds`` say which and when.
    top_k, confidence, max_samples : the stopping rule of ``n_samples="auto"`` (defaults 5, 0.95,
        20000); only with ``"auto"``.
    tolerance : ``n_samples="auto"`` only: an indifference zone, a fraction 0 <= tolerance < 1 of
        the largest absolute limit coefficient (default 0, the exact rule). With probability at
        least ``confidence`` every superpixel of a settled top-k set then has a limit coefficient at
        least that of every other superpixel minus tolerance * max_j |beta_j| (proof:
        :mod:`limetheory.stopping`); near-ties within that zone no longer keep the run going.
    kernel_width : bandwidth nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    ridge : lambda of the surrogate (lime uses 1). ``ridge=0`` is weighted least squares, the
        estimator whose limit is the closed form of :mod:`limetheory.theory`.
    hide_color : None (superpixel mean colour), a scalar or one value per channel.
    seed : int in [0, 2**64), None or ``numpy.random.Generator`` (same seed, same bits). A
        ``RandomState`` is refused (TypeError): it is lime's stream, see :mod:`limetheory.compat`.
    batch_size : images built and predicted at a time (default: a Classifier's own ``batch_size``,
        otherwise :func:`limetheory.perturb.model_batch_size`: 32 images of 224 x 224 x 3).
    dtype : dtype of the images passed to ``predict`` (default float64; float32 for a
        :class:`limetheory.nets.Classifier`, which computes in float32: half the memory traffic).
    keep_samples : keep z, pi and y on the result for diagnostics.
    fused : ``predict`` is a JAX function of a batch; build x(z) and run the model in one jit.
    progress : show a progress bar (None: only on an interactive terminal).
    sampler : ``"bernoulli"`` (lime: z ~ Bernoulli(1/2)^d, weights pi(z)) or ``"weighted"`` (z
        drawn from the pi-weighted law, equal weights): the same limit explanation, another
        spread around it (:func:`limetheory.sampling.weighted_samples`); ``"weighted"`` needs far
        fewer samples for small kernel widths.
    refuse_unidentified : refuse (ValueError, before any model call) samples whose weights cannot
        identify the coefficients (:func:`check_identifiable`). False fits them anyway, as lime does
        (for studies of that failure); the standard errors are then not to be trusted.

    Returns
    -------
    Explanation

    Raises
    ------
    ValueError
        Before any model call, when the fit would not fit in memory (:func:`check_fit_size`) or the
        kernel weights cannot identify the coefficients (:func:`check_identifiable`).
    """
    img = check_image(image)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {type(predict).__name__}")
    n = n_samples if isinstance(n_samples, str) else check_int(n_samples, "n_samples", 2)
    seg = segment(img, "quickshift", **QUICKSHIFT_DEFAULTS) if segments is None else check_segments(segments, img.shape)
    d = n_superpixels(seg)
    rule = _stopping_rule(n_samples, top_k, confidence, max_samples, tolerance)
    if rule is not None:
        rule.check_for(d, min_samples=d + 1 if ridge == 0 else 2)
    n = check_settings(rule.max_samples if rule else n, kernel_width, ridge, d)
    label_request = _check_label_request(labels, top_labels)
    check_choice(sampler, "sampler", SAMPLERS)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    check_bool(keep_samples, "keep_samples")
    check_bool(fused, "fused")
    check_fit_size(n, d)
    gen = as_generator(seed)
    if isinstance(predict, Classifier):  # its preferred batch, and the precision it computes in
        batch_size = predict.batch_size if batch_size is None else batch_size
        dtype = np.float32 if dtype is None else dtype
    dtype = np.float64 if dtype is None else dtype
    rep = replacement_image(img, seg, hide_color)
    refuse = check_bool(refuse_unidentified, "refuse_unidentified")

    def draw(m, first):
        z, weights = samples_and_weights(m, d, kernel_width, gen, sampler, first_row_ones=first)
        if refuse and first:
            check_identifiable(z, weights, ridge)
        return z, weights

    def evaluate(z):
        if fused:
            return fused_jax_responses(predict, img, rep, seg, z, batch_size)
        return model_responses(predict, img, rep, seg, z, batch_size, dtype, progress)

    def fit(z, y, weights):
        return fit_explanation(
            z, y, weights, _resolve_labels(label_request, y[0]), ridge, segments=seg, image=img,
            replacement=rep, kernel_width=kernel_width, keep_samples=keep_samples, sampler=sampler,
        )

    if rule is None:
        z, weights = draw(n, True)
        return fit(z, evaluate(z), weights)

    def coef_and_cov(ex, z, y, weights):
        residuals = y[:, ex.labels] - predict_linear(z, ex.intercept, ex.coef)
        return ex.coef, sandwich_covariance(z, weights, residuals, ridge)[:, 1:, 1:]

    rounds = run_rounds(rule, d, draw=draw, evaluate=evaluate, fit=fit, coef_and_cov=coef_and_cov,
                        min_samples=d + 1 if ridge == 0 else 2)
    return replace(rounds.fit, settled=rounds.settled, n_rounds=rounds.n_rounds, stopping=rule)


def _stopping_rule(n_samples, top_k, confidence, max_samples, tolerance) -> StoppingRule | None:
    """The rule of ``n_samples="auto"``, or None for a fixed n (then the rule's arguments must be unset)."""
    if isinstance(n_samples, str):
        check_choice(n_samples, "n_samples", ("auto",))
        return StoppingRule(
            top_k=5 if top_k is None else top_k,
            confidence=0.95 if confidence is None else confidence,
            max_samples=20000 if max_samples is None else max_samples,
            tolerance=0.0 if tolerance is None else tolerance,
        )
    given = [name for name, v in (("top_k", top_k), ("confidence", confidence), ("max_samples", max_samples),
                                  ("tolerance", tolerance)) if v is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply only to n_samples='auto', got n_samples={n_samples!r}")
    return None
