"""Empirical image LIME: :func:`explain` (its result, :class:`~limetheory.explanation.Explanation`,
lives in :mod:`limetheory.explanation`).

The data flow of docs/theory/lime_algorithm.md::

    image --segments--> xi_bar --sample--> z (n x d), pi --perturb--> x(z) --predict--> y --fit--> beta_hat
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Callable

import numpy as np

from .explanation import Explanation
from .nets import Classifier
from .perturb import check_pixel_dtype, check_responses, jax_perturb_batch, model_responses
from .design_choice import DesignRun, pilot_size, resolve_design
from .kernel import KERNELS
from .sampling import SHAPLEY_DESIGNS, enumerated_samples, shapley_samples
from .validation import (as_generator, available_memory, check_bool, check_choice, check_int, check_kernel_width,
                         check_ridge, validate_params)
from .segmentation import QUICKSHIFT_DEFAULTS, check_image, check_segments, n_superpixels, replacement_image, segment
from .stopping import StoppingRule, check_n_samples, run_rounds
from .surrogate import (SINGULAR, constrained_df, fit_constrained, fit_weighted_ridge, hessian, predict_linear,
                        sandwich_covariance, sandwich_df, sandwich_standard_errors, weighted_r2)

__all__ = [
    "explain", "fit_explanation", "model_responses", "check_settings", "check_fit_size",
    "check_identifiable", "fit_bytes", "explain_shapley",
]


# --------------------------------------------------------------------------- validation
def check_settings(n_samples: int, ridge: float, d: int) -> int:
    """Check what ties LIME's (already checked) settings to d: ``ridge=0`` needs n >= d + 1; return n."""
    n = n_samples
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
    """Refuse, before any model call, a fit that needs more than ``MEMORY_SHARE`` of the available memory
    (default :func:`available_memory`: the machine's, the ``ulimit -v`` room and the cgroup's, the least).

    Raises
    ------
    ValueError
        Naming ``n_samples`` and the number of superpixels, with the bytes needed and available.
    """
    if available is None:
        available = available_memory()
    need = fit_bytes(n, d, n_classes)
    if need > MEMORY_SHARE * available:
        raise ValueError(
            f"n_samples={n} with d={d} superpixels needs about {need / 2**30:.3g} GiB for the surrogate fit, "
            f"more than {MEMORY_SHARE:.0%} of the {available / 2**30:.3g} GiB available: use fewer samples "
            "or fewer superpixels"
        )


#: The ridge "decides" the fit when the data's mean curvature falls below this share of lambda.
RIDGE_DOMINANCE = 0.01


def _pattern_weights(z, w: np.ndarray) -> np.ndarray:
    """The total weight of every distinct row of z: copies of one pattern (z = 1 drawn again) are one sample."""
    packed = np.packbits(np.asarray(z) != 0, axis=1)
    _, inverse = np.unique(packed, axis=0, return_inverse=True)
    return np.bincount(inverse.ravel(), weights=w)


def check_identifiable(z, weights, ridge: float, sampler: str = "bernoulli") -> None:
    """Refuse samples whose weights cannot identify the coefficients, before any model call.

    Only for n > d + 1 (below, the standard errors are already infinite). Three signs, any one refuses:

    * the effective number of distinct samples n_eff = (sum_p W_p)^2 / sum_p W_p^2 is below 2, W_p the
      total weight of the distinct pattern p (copies of one z, e.g. z = 1 drawn again, count once):
      one pattern carries all the weight;
    * ``ridge = 0``: the weighted design is singular, lambda_min(H) <= 1e-12 lambda_max(H) with
      H = sum_i pi_i x_i x_i^T, x_i = (1, z_i) (:func:`limetheory.surrogate.hessian`): the
      least-squares coefficients are then arbitrary;
    * ``ridge > 0``: the ridge penalty dominates the weighted design,
      mean_j sum_i pi_i (z_ij - zbar_j)^2 < ``RIDGE_DOMINANCE`` * lambda (zbar: the pi-weighted mean).

    Each happens e.g. for a tiny kernel width, where every sample but z = 1 weighs ~0 (Bernoulli
    sampler) or every sample is z = 1 (weighted sampler): the coefficients are then the ridge's, ~0,
    with falsely tiny standard errors, or arbitrary ones with infinite standard errors.

    Raises
    ------
    ValueError
        Saying which sign was seen, with advice that fits the design in use (``design="weighted"``
        is suggested only when it is not the one in use).
    """
    w = np.asarray(weights, dtype=np.float64)
    n, d = np.shape(z)
    if n <= d + 1:  # the standard errors are inf then (no degrees of freedom): no false confidence to refuse
        return
    total = w.sum()
    pattern_w = _pattern_weights(z, w)
    n_eff = total**2 / np.sum(pattern_w**2) if total > 0 else 0.0
    advice = ("Use a larger kernel_width or a larger n_samples" if sampler == "weighted" else
              'Use design="weighted" (formerly sampler="weighted"), a larger kernel_width or a larger n_samples')
    if not n_eff >= 2:
        raise ValueError(
            f"the kernel weights leave an effective number of distinct samples (sum pi)^2 / sum pi^2 = {n_eff:.3g} "
            f"< 2 (copies of one z counted once): one z carries all the weight and the coefficients are not "
            f"identified. {advice}"
        )
    if ridge == 0:
        eigval = np.linalg.eigvalsh(hessian(z, w, 0.0))
        if not eigval[0] > SINGULAR * eigval[-1]:
            raise ValueError(
                f"ridge=0 with these kernel weights leaves the weighted design singular (smallest / largest "
                f"eigenvalue {eigval[0] / eigval[-1]:.3g}): some coefficients are not identified and would be "
                f"arbitrary, with infinite standard errors. {advice}, or ridge > 0"
            )
        return
    zf = np.asarray(z, dtype=np.float64)
    z_bar = w @ zf / total
    curvature = float(np.mean(w @ (zf - z_bar) ** 2))
    if curvature < RIDGE_DOMINANCE * ridge:
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
                    design: str = "iid", clusters=None, strata=None, design_choice=None):
    """Fit the surrogate on given samples/responses and package an :class:`Explanation`.

    ``clusters``, ``strata``: how the rows were drawn (:class:`limetheory.sampling.DesignSample`), for
    the standard errors (:func:`limetheory.surrogate.sandwich_standard_errors`).
    """
    y_lab = y[:, labels]
    constant = np.ptp(y_lab, axis=0) <= 1e-12 * np.abs(y_lab).max(axis=0)  # to rounding
    if constant.any() and not np.any(np.asarray(z) != np.asarray(z)[:1]):
        warnings.warn(
            f"all {z.shape[0]} samples are the same z (nothing was hidden: too few samples, or a kernel width "
            "too small for this sampler), so the explanation is zero and says nothing about the model",
            UserWarning, stacklevel=3,
        )
    elif constant.any():
        warnings.warn(
            f"the model's output for label(s) {np.asarray(labels)[constant].tolist()} is the same on all "
            f"{z.shape[0]} samples (to rounding), so their explanation is zero: hiding superpixels (with this "
            "replacement image) does not change what the model responds to",
            UserWarning, stacklevel=3,
        )
    intercept, coef = fit_weighted_ridge(z, y_lab, weights, ridge)
    se = sandwich_standard_errors(z, weights, y_lab - predict_linear(z, intercept, coef), ridge,
                                  clusters=clusters, strata=strata)
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
        design=design,
        design_choice=design_choice,
        coef_se=se[:, 1:],
        intercept_se=se[:, 0],
        se_df=sandwich_df(z.shape[0], z.shape[1] + 1, clusters=clusters, strata=strata),
        samples=z if keep_samples else None,
        weights=weights if keep_samples else None,
        responses=y if keep_samples else None,
    )


@validate_params(n_samples=check_n_samples, kernel_width=check_kernel_width, ridge=check_ridge)
def explain(
    image,
    predict: Callable,
    *,
    segments=None,
    labels=None,
    top_labels=None,
    n_samples: int | str | StoppingRule = 1000,
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
    design=None,
    sampler: str | None = None,
    refuse_unidentified: bool = True,
    kernel: str = "lime",
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
        and ``n_rounds`` say which and when. ``"auto"`` runs the default
        :class:`~limetheory.stopping.StoppingRule` (``top_k=5, confidence=0.95, max_samples=20000,
        tolerance=0``); a :class:`~limetheory.stopping.StoppingRule` sets its own, e.g.
        ``n_samples=StoppingRule(top_k=3, tolerance=0.1)``. Its ``tolerance`` is an indifference
        zone, a fraction 0 <= tolerance < 1 of the largest absolute limit coefficient: with
        probability at least ``confidence`` every superpixel of a settled top-k set has a limit
        coefficient at least that of every other superpixel minus tolerance * max_j |beta_j|
        (proof: :mod:`limetheory.stopping`).
    top_k, confidence, max_samples, tolerance : deprecated (a DeprecationWarning): the fields of
        the :class:`~limetheory.stopping.StoppingRule` of ``n_samples="auto"``; pass the rule as
        ``n_samples`` instead.
    kernel_width : bandwidth nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    ridge : lambda of the surrogate (lime uses 1). ``ridge=0`` is weighted least squares, the
        estimator whose limit is the closed form of :mod:`limetheory.theory`.
    hide_color : None (superpixel mean colour), a scalar or one value per channel.
    seed : int in [0, 2**64), None or ``numpy.random.Generator`` (same seed, same bits). A
        ``RandomState`` is refused (TypeError): it is lime's stream, see :mod:`limetheory.compat`.
    batch_size : images built and predicted at a time (default: a Classifier's own ``batch_size``,
        otherwise :func:`limetheory.perturb.model_batch_size`: 26 images of 224 x 224 x 3 float64).
        A :class:`limetheory.nets.Classifier` explains its own ``output`` (the class's probability
        unless declared otherwise) and checks ``image`` first: its size must be the network's (the
        error says how to resize), values outside the network's input range get a warning.
    dtype : dtype of the images passed to ``predict`` (default float64; float32 for a
        :class:`limetheory.nets.Classifier`, which computes in float32: half the memory traffic).
    keep_samples : keep z, pi and y on the result for diagnostics.
    fused : ``predict`` is a JAX function of a batch; build x(z) and run the model in one jit.
    progress : show a progress bar (None: only on an interactive terminal).
    design : how z is drawn, all with the same limit explanation and another spread around it
        (:mod:`limetheory.sampling`; the user guide page on designs says which when): ``"iid"``
        (default, lime: z ~ Bernoulli(1/2)^d, weights pi(z)), ``"paired"`` (z and 1 - z together),
        ``"stratified"`` (by the number of ones), ``"weighted"`` (z from the pi-weighted law, equal
        weights; far fewer samples for small kernel widths), or ``"auto"``: a pilot estimates
        every design's variance and the rest of the budget goes to the best
        (:mod:`limetheory.design_choice`). A :class:`limetheory.design_choice.DesignChoice` (e.g.
        ``choose_design(theory.exact_design_traces(...), "exact")``) uses its choice without a pilot.
        The standard errors follow the design (clustered by pair, centred within strata).
    sampler : the former name of ``design`` (``"bernoulli"`` is ``"iid"``); deprecated.
    refuse_unidentified : refuse (ValueError, before any model call) samples whose weights cannot
        identify the coefficients (:func:`check_identifiable`). False fits them anyway, as lime does
        (for studies of that failure); the standard errors are then not to be trusted.
    kernel : ``"lime"`` (default) or ``"shap"``: KernelSHAP on the superpixels (:func:`explain_shapley`),
        whose coefficients converge to the Shapley values of the game z -> f(x(z)); kernel_width and
        ridge do not apply, ``design="paired"`` draws z and 1 - z together, ``design="enumerated"``
        (KernelSHAP only, a fixed ``n_samples``) evaluates every coalition of the sizes whose count
        fits the budget with its exact weight and samples the other sizes in pairs
        (:func:`limetheory.sampling.enumerated_samples`); with n_samples >= 2^d it is exact.

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
    if isinstance(predict, Classifier):  # its size, pixel type and range, before the segmentation
        predict.check_image(image)
    rule = _stopping_rule(n_samples, top_k=top_k, confidence=confidence, max_samples=max_samples, tolerance=tolerance)
    seg = segment(img, "quickshift", **QUICKSHIFT_DEFAULTS) if segments is None else check_segments(segments, img.shape)
    d = n_superpixels(seg)
    if rule is not None:
        rule.check_for(d, min_samples=d + 1 if ridge == 0 else 2)
    n = check_settings(rule.max_samples if rule else n_samples, ridge, d)
    label_request = _check_label_request(labels, top_labels)
    design = resolve_design(design, sampler)
    if check_choice(kernel, "kernel", KERNELS) == "shap":
        if design not in SHAPLEY_DESIGNS:
            raise ValueError(f"kernel='shap' draws z from the Shapley kernel's law, design one of "
                             f"{', '.join(map(repr, SHAPLEY_DESIGNS))}; got design={design!r}")
        if design == "enumerated" and rule is not None:
            raise ValueError("design='enumerated' plans its enumeration from the budget: give n_samples a "
                             "number of model calls, not 'auto' or a StoppingRule (or use design='paired')")
        return explain_shapley(img, predict, seg, label_request, n if rule is None else rule, seed, hide_color,
                               design=design, batch_size=batch_size, dtype=dtype,
                               keep_samples=keep_samples, fused=fused, progress=progress)
    if design == "enumerated":
        raise ValueError("design='enumerated' is a design of KernelSHAP (kernel='shap'); LIME's kernel takes "
                         "design 'iid', 'paired', 'stratified', 'weighted' or 'auto'")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    check_bool(keep_samples, "keep_samples")
    check_bool(fused, "fused")
    check_fit_size(n, d)
    gen = as_generator(seed)
    if isinstance(predict, Classifier):  # its preferred batch, and the precision it computes in
        batch_size = predict.batch_size if batch_size is None else batch_size
        dtype = np.float32 if dtype is None else dtype
    rep = replacement_image(img, seg, hide_color)
    dtype = check_pixel_dtype(np.float64 if dtype is None else dtype, img, rep)
    refuse = check_bool(refuse_unidentified, "refuse_unidentified")

    run = DesignRun(design, d, kernel_width, gen, ridge, lambda y0: _resolve_labels(label_request, y0))

    def draw(m, first):
        z, weights = run.draw(m, first)
        if first:
            _identifiable_or_warn(z, weights, ridge, run.name, refuse)
        return z, weights

    def evaluate(z):
        if fused:
            return run.record(fused_jax_responses(predict, img, rep, seg, z, batch_size))
        return run.record(model_responses(predict, img, rep, seg, z, batch_size, dtype, progress))

    def fit(z, y, weights):  # the run's own weights: "auto" reweights its pilot
        drawn = run.sample()
        return fit_explanation(
            z, y, drawn.weights, _resolve_labels(label_request, y[0]), ridge, segments=seg, image=img,
            replacement=rep, kernel_width=kernel_width, keep_samples=keep_samples, design=run.name,
            clusters=drawn.clusters, strata=drawn.strata, design_choice=run.choice,
        )

    if rule is None:
        return _fixed_budget(run, n, d, draw, evaluate, fit)

    def coef_and_cov(ex, z, y, weights):
        drawn = run.sample()
        residuals = y[:, ex.labels] - predict_linear(z, ex.intercept, ex.coef)
        return ex.coef, sandwich_covariance(z, drawn.weights, residuals, ridge, clusters=drawn.clusters,
                                            strata=drawn.strata)[:, 1:, 1:]

    rounds = run_rounds(rule, d, draw=draw, evaluate=evaluate, fit=fit, coef_and_cov=coef_and_cov,
                        min_samples=d + 1 if ridge == 0 else 2)
    if rounds.reason is not None and "round-off" in rounds.reason:
        warnings.warn(f"n_samples='auto' did not settle: {rounds.reason}", UserWarning, stacklevel=2)
    return replace(rounds.fit, settled=rounds.settled, n_rounds=rounds.n_rounds, stopping=rule)


def _identifiable_or_warn(z, weights, ridge, sampler, refuse: bool) -> None:
    """:func:`check_identifiable`; with ``refuse=False`` its refusal becomes a warning (the fit goes on)."""
    try:
        check_identifiable(z, weights, ridge, sampler)
    except ValueError as exc:
        if refuse:
            raise
        warnings.warn(f"{exc} (fitted anyway: refuse_unidentified=False)", UserWarning, stacklevel=4)


def explain_shapley(img, predict, seg, label_request, n_or_rule, seed, hide_color, *, paired=False, batch_size=None,
                    dtype=None, keep_samples=False, fused=False, progress=None, design=None) -> Explanation:
    """KernelSHAP on superpixels: ``explain(..., kernel="shap")`` after its checks.

    ``design`` (:data:`limetheory.sampling.SHAPLEY_DESIGNS`; None: ``"paired"`` if ``paired``, else
    ``"iid"``): z from the Shapley kernel's law (:func:`limetheory.sampling.shapley_samples`; rows 0
    and 1 are z = 1 and z = 0), alone or in pairs, or ``"enumerated"``
    (:func:`limetheory.sampling.enumerated_samples`: the heavy sizes enumerated with their exact
    weights, the rest drawn in pairs; each distinct row is one model call). The constrained
    (weighted) least squares with its projected sandwich (:func:`limetheory.surrogate.fit_constrained`,
    clustered by pair, enumerated rows without variance). ``n_or_rule``: the number of model calls,
    or the :class:`StoppingRule` of ``n_samples="auto"`` (not with ``"enumerated"``).
    """
    d = n_superpixels(seg)
    design = ("paired" if paired else "iid") if design is None else check_choice(design, "design", SHAPLEY_DESIGNS)
    paired = design == "paired"
    rule = n_or_rule if isinstance(n_or_rule, StoppingRule) else None
    if rule is not None and design == "enumerated":
        raise ValueError("design='enumerated' needs a fixed number of model calls, not a StoppingRule")
    n = rule.max_samples if rule else n_or_rule
    if n < d + 2:
        raise ValueError(f"kernel='shap' needs n_samples >= d + 2 = {d + 2} model calls, got {n}")
    check_fit_size(n, d)
    gen = as_generator(seed)
    if isinstance(predict, Classifier):
        batch_size = predict.batch_size if batch_size is None else batch_size
        dtype = np.float32 if dtype is None else dtype
    rep = replacement_image(img, seg, hide_color)
    pairs, extra = [], {}

    def draw(m, first):
        z, ids = shapley_samples(m, d, gen, paired, first_rows=first)
        pairs.append(ids + (pairs[-1].max() + 1 if pairs else 0))
        return z, np.ones(m)

    def evaluate(z):
        if fused:
            return fused_jax_responses(predict, img, rep, seg, z, batch_size)
        return model_responses(predict, img, rep, seg, z, batch_size, np.float64 if dtype is None else dtype, progress)

    def fit(z, y, weights, calls=None):
        labels = _resolve_labels(label_request, y[0])
        y_lab = y[:, labels]
        ids = np.concatenate(pairs)[: z.shape[0]]
        coef, cov = fit_constrained(z, y_lab, y_lab[1], y_lab[0], ids, **extra)
        fixed = extra.get("fixed")
        weights = np.ones(z.shape[0]) if weights is None else weights
        return Explanation(
            coef=coef, intercept=y_lab[1].copy(), labels=labels, segments=seg,
            score=weighted_r2(z, y_lab, weights, y_lab[1], coef), local_pred=y_lab[0].copy(), prediction=y[0].copy(),
            image=img, replacement=rep, kernel_width=float("nan"), ridge=0.0,
            n_samples=int(z.shape[0] if calls is None else calls),
            design=design, coef_se=np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), se_df=constrained_df(z, ids, fixed),
            intercept_se=np.zeros(len(labels)), samples=z if keep_samples else None,
            weights=weights if keep_samples else None, responses=y if keep_samples else None, kernel="shap",
        )

    if design == "enumerated":  # one draw; a pattern drawn twice is evaluated once
        sample = enumerated_samples(n, d, gen)
        distinct, back = np.unique(sample.z, axis=0, return_inverse=True)
        pairs.append(sample.clusters)
        extra.update(weights=sample.weights, fixed=sample.fixed)
        return fit(sample.z, evaluate(distinct)[back.reshape(-1)], sample.weights, calls=distinct.shape[0])
    if rule is None:
        z, _ = draw(n, True)
        return fit(z, evaluate(z), None)

    def coef_and_cov(ex, z, y, _weights):
        y_lab = y[:, ex.labels]
        return fit_constrained(z, y_lab, y_lab[1], y_lab[0], np.concatenate(pairs)[: z.shape[0]])

    rounds = run_rounds(rule, d, draw=draw, evaluate=evaluate, fit=fit, coef_and_cov=coef_and_cov, min_samples=d + 2)
    return replace(rounds.fit, settled=rounds.settled, n_rounds=rounds.n_rounds, stopping=rule)


def _fixed_budget(run: DesignRun, n: int, d: int, draw, evaluate, fit) -> Explanation:
    """n model calls: one draw, or for ``design="auto"`` a pilot (:func:`limetheory.design_choice.pilot_size`)
    and the rest of the budget with the design it chose."""
    sizes = [n] if not run.auto else [pilot_size(n, d), n - pilot_size(n, d)]
    z, y, w = [], [], []
    for i, m in enumerate(sizes):
        zi, wi = draw(m, i == 0)
        z.append(zi), w.append(wi), y.append(evaluate(zi))
    return fit(np.concatenate(z), np.concatenate(y), np.concatenate(w))


def _stopping_rule(n_samples, **loose) -> StoppingRule | None:
    """The rule of ``n_samples`` (``"auto"``: the default rule; a StoppingRule: itself), None for a fixed n.

    ``loose``: the deprecated keywords top_k, confidence, max_samples, tolerance; those given (not
    None) set the fields of the ``"auto"`` rule, with a DeprecationWarning.
    """
    given = {name: value for name, value in loose.items() if value is not None}
    if not given:
        return n_samples if isinstance(n_samples, StoppingRule) else StoppingRule() if n_samples == "auto" else None
    if isinstance(n_samples, StoppingRule):
        raise TypeError(f"{', '.join(given)} cannot be given with n_samples=StoppingRule(...): set them on the rule")
    if n_samples != "auto":
        raise ValueError(f"{', '.join(given)} apply only to n_samples='auto', got n_samples={n_samples!r}")
    fields = ", ".join(f"{name}={value!r}" for name, value in given.items())
    warnings.warn(f"explain(): the keywords {', '.join(given)} are deprecated; pass "
                  f"n_samples=StoppingRule({fields}) (limetheory.stopping.StoppingRule)", DeprecationWarning, stacklevel=4)
    return StoppingRule(**given)
