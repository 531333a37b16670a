"""Empirical image LIME: :func:`explain` and its result, :class:`Explanation`.

The data flow of THEORY.md section 1::

    image --segments--> xi_bar --sample--> z (n x d), pi --perturb--> x(z) --predict--> y --fit--> beta_hat
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .perturb import check_responses, jax_perturb_batch, model_responses
from .sampling import SAMPLERS, samples_and_weights
from .validation import as_generator, check_int
from .segmentation import check_image, check_segments, n_superpixels, replacement_image
from .surrogate import fit_weighted_ridge, predict_linear, sandwich_standard_errors, weighted_r2

__all__ = ["Explanation", "explain", "fit_explanation", "model_responses"]


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

        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        row = self._row(label)
        half = norm.ppf(0.5 + level / 2) * self._se()[row]
        return np.stack([self.coef[row] - half, self.coef[row] + half], axis=1)

    def n_samples_for(self, target_se: float, label=None) -> int:
        """Samples needed for the largest coefficient standard error to fall to ``target_se``.

        Uses se ~ 1/sqrt(n): n * (max_j se_j / target_se)^2, from this run's own estimate.
        """
        if not isinstance(target_se, numbers.Real) or not np.isfinite(target_se) or target_se <= 0:
            raise ValueError(f"target_se must be a finite number > 0, got {target_se!r}")
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


# --------------------------------------------------------------------------- validation
def _check_settings(n_samples, kernel_width, ridge, d):
    n = check_int(n_samples, "n_samples", 2)
    if not isinstance(kernel_width, numbers.Real) or not np.isfinite(kernel_width) or kernel_width <= 0:
        raise ValueError(f"kernel_width must be a finite number > 0, got {kernel_width!r}")
    if not isinstance(ridge, numbers.Real) or not np.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    if ridge == 0 and n < d + 1:
        raise ValueError(
            f"ridge=0 (weighted least squares) needs n_samples >= d + 1 = {d + 1} samples, got {n}"
        )
    return n


def _check_label_request(labels, top_labels):
    """Validate what to explain before any prediction: ("labels", indices) or ("top", k)."""
    if labels is not None and top_labels is not None:
        raise ValueError("give labels or top_labels, not both")
    if labels is None:
        return "top", check_int(1 if top_labels is None else top_labels, "top_labels", 1)
    labs = np.atleast_1d(np.asarray(labels))
    if labs.ndim != 1 or labs.size == 0 or not np.issubdtype(labs.dtype, np.integer):
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
    segments,
    labels=None,
    top_labels=None,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    ridge: float = 1.0,
    hide_color=None,
    seed=None,
    batch_size: int | None = None,
    dtype=np.float64,
    keep_samples: bool = False,
    fused: bool = False,
    progress: bool | None = None,
    sampler: str = "bernoulli",
) -> Explanation:
    """Explain ``predict`` at ``image`` with image LIME (THEORY.md section 1).

    Parameters
    ----------
    image : (H, W) or (H, W, C) array, finite.
    predict : callable mapping a batch of images (N, H, W[, C]) to scores (N, n_classes) or (N,).
    segments : (H, W) integer superpixel labels (see :func:`limetheory.segment`), >= 2 superpixels.
    labels : class indices to explain. ``top_labels``: explain the K classes with the highest
        score on the unperturbed image instead. Neither: the top class (or the only score).
    n_samples : n >= 2 samples z ~ Bernoulli(1/2)^d; sample 0 is the unperturbed image (z = 1).
    kernel_width : bandwidth nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    ridge : lambda of the surrogate (lime uses 1). ``ridge=0`` is weighted least squares, the
        estimator whose limit is the closed form of :mod:`limetheory.theory`.
    hide_color : None (superpixel mean colour), a scalar or one value per channel.
    seed : int, None or ``numpy.random.Generator`` (same seed, same bits).
    batch_size : images built and predicted at a time (default: as many as fit in 16 MiB).
    dtype : dtype of the images passed to ``predict`` (float64 by default; float32 halves memory).
    keep_samples : keep z, pi and y on the result for diagnostics.
    fused : ``predict`` is a JAX function of a batch; build x(z) and run the model in one jit.
    progress : show a progress bar (None: only on an interactive terminal).
    sampler : ``"bernoulli"`` (lime: z ~ Bernoulli(1/2)^d, weights pi(z)) or ``"weighted"`` (z
        drawn from the pi-weighted law, equal weights): the same limit explanation, another
        spread around it (:func:`limetheory.sampling.weighted_samples`); ``"weighted"`` needs far
        fewer samples for small kernel widths.

    Returns
    -------
    Explanation
    """
    img = check_image(image)
    seg = check_segments(segments, img.shape)
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {type(predict).__name__}")
    d = n_superpixels(seg)
    n = _check_settings(n_samples, kernel_width, ridge, d)
    label_request = _check_label_request(labels, top_labels)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    rep = replacement_image(img, seg, hide_color)
    z, weights = samples_and_weights(n, d, kernel_width, as_generator(seed), sampler)
    if fused:
        y = fused_jax_responses(predict, img, rep, seg, z, batch_size)
    else:
        y = model_responses(predict, img, rep, seg, z, batch_size, dtype, progress)
    labs = _resolve_labels(label_request, y[0])
    return fit_explanation(
        z, y, weights, labs, ridge, segments=seg, image=img, replacement=rep,
        kernel_width=kernel_width, keep_samples=keep_samples, sampler=sampler,
    )
