"""LIME next to integrated gradients for one image (docs/theory/lime_and_ig.md), and agreement metrics.

For LIME's replacement image ``xi_bar`` as IG's baseline, the LIME limit of a linear ``f`` is
exactly the superpixel sums of IG, ``beta_j = sum_{u in J_j} IG_u``, and approximately so for a
smooth ``f``. Two comparisons of one JAX function ``f``:

- :func:`compare_limit`: the exact limit ``beta^f`` (enumerating {0,1}^d) against the IG sums;
- :func:`compare_empirical`: the mean of empirical LIME runs against the IG sums;

both configured by one :class:`CompareSettings`. ``f`` is a JAX function or a
:class:`~limetheory.nets.Classifier`, whose output (its probability unless declared otherwise)
is explained. One network on one image as the experiments and the command line run it (LIME
runs, IG sums, top classes): :mod:`limetheory.pipeline`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .empirical import explain
from .gradients import IGResult, METHODS, integrated_gradients, superpixel_sums
from .nets import Classifier
from .nets.batching import batched_predict
from .metrics import jaccard_topk, rank_correlation
from .perturb import model_responses
from .segmentation import check_image, check_segments, n_superpixels, replacement_image
from .theory import ResponseTable, exact_banzhaf, exact_limit, exact_occlusion, exact_shapley
from .theory.enumeration import MAX_EXACT_D, check_enumerable_d
from .validation import (as_generator, check_choice, check_int, check_kernel_width, check_real, check_ridge, check_vector,
                         validate_params)

__all__ = ["CompareSettings", "LimeIGComparison", "LimeIGDecomposition", "compare_empirical", "compare_limit",
           "decompose_lime_ig"]


# =========================================================================== one JAX function
@dataclass(frozen=True)
class CompareSettings:
    """How LIME and IG are computed in :func:`compare_limit` and :func:`compare_empirical`.

    Attributes
    ----------
    kernel_width : float, default 0.25
        LIME's kernel width nu (> 0).
    hide_color : None or float
        Colour of hidden superpixels (None: each superpixel's mean colour, as lime).
    n_steps : int, default 50;  method : str, default "gausslegendre"
        IG quadrature (see :func:`limetheory.gradients.integrated_gradients`).
    ks : tuple of int, default (3, 5)
        The k of the top-k Jaccard indices reported (values k > d are skipped).
    batch_size : int, default 256
        Images per model call when evaluating f on perturbed images.
    dtype : {"float64", "float32"} or None
        Floating type in which f and its gradients are computed (None: float64 for a function,
        :func:`~limetheory.gradients.integrated_gradients`' default for a Classifier).
    output : {"prob", "logit"} or None, default None
        When ``f`` is a :class:`~limetheory.nets.Classifier` (any backend): the class score both
        LIME and IG explain; None: the Classifier's own ``output`` (its probability unless
        declared otherwise). A function ``f`` is explained as it is.
    n_samples : int, default 1000;  n_runs : int, default 1;  ridge : float, default 1.0
        :func:`compare_empirical` only: samples per LIME run, number of runs averaged, and
        the surrogate's ridge penalty (the paper: 5 runs of n = 1000, lime's ridge 1).
    """

    kernel_width: float = 0.25
    hide_color: object = None
    n_steps: int = 50
    method: str = "gausslegendre"
    ks: tuple = (3, 5)
    batch_size: int = 256
    dtype: str | None = None
    output: str | None = None
    n_samples: int = 1000
    n_runs: int = 1
    ridge: float = 1.0

    def __post_init__(self):
        check_kernel_width(self.kernel_width)
        check_int(self.n_steps, "n_steps", 1)
        check_choice(self.method, "method", METHODS)
        if not isinstance(self.ks, (list, tuple)) or not self.ks:
            raise TypeError(f"ks must be a non-empty tuple of ints (the k of the top-k Jaccard indices), got {self.ks!r}")
        object.__setattr__(self, "ks", tuple(check_int(k, f"ks[{i}]", 1) for i, k in enumerate(self.ks)))
        check_int(self.batch_size, "batch_size", 1)
        check_choice(self.dtype, "dtype", ("float64", "float32", None))
        check_choice(self.output, "output", ("prob", "logit", None))
        check_int(self.n_samples, "n_samples", 2)
        check_int(self.n_runs, "n_runs", 1)
        check_ridge(self.ridge)


@dataclass(frozen=True)
class LimeIGComparison:
    """LIME's explanation of one image next to the superpixel sums of integrated gradients.

    Attributes
    ----------
    lime_coef : (d,) LIME coefficients (the exact limit beta^f, or the mean of empirical runs).
    lime_intercept : float
    ig_sums : (d,) ``sum_{u in J_j} IG_u``, baseline LIME's replacement image.
    ig : IGResult
    spearman, kendall : rank correlations between ``lime_coef`` and ``ig_sums``.
    jaccard : {k: Jaccard index of the top-k superpixels of both}.
    relative_error : ``||lime_coef - ig_sums|| / ||ig_sums||``.
    limit : "exact" or "empirical"; ``n_samples``, ``n_runs`` for the empirical one.
    lime_se : (d,) standard error of ``lime_coef`` as an estimate of the limit: 0 for the exact
        limit; for the empirical mean of R runs, sqrt(mean of the runs' coef_se^2 / R). Where
        ``|lime_coef - ig_sums|`` is many times ``lime_se``, LIME and IG differ for real, not
        because LIME drew too few samples.
    """

    lime_coef: np.ndarray
    lime_intercept: float
    ig_sums: np.ndarray
    ig: IGResult
    spearman: float
    kendall: float
    jaccard: dict
    relative_error: float
    limit: str
    kernel_width: float
    n_samples: int | None = None
    n_runs: int | None = None
    lime_se: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return int(self.lime_coef.shape[0])

    def __repr__(self) -> str:
        runs = "" if self.limit == "exact" else f", n_samples={self.n_samples}, n_runs={self.n_runs}"
        jac = ", ".join(f"{k}: {v:.3f}" for k, v in self.jaccard.items())
        return (f"LimeIGComparison(limit={self.limit!r}, d={self.d}, kernel_width={self.kernel_width:g}{runs}, "
                f"spearman={self.spearman:.3f}, kendall={self.kendall:.3f}, jaccard={{{jac}}}, "
                f"relative_error={self.relative_error:.3g}, ig={self.ig!r})")

    def to_frame(self):
        """One row per superpixel: coefficient, IG sum, and their ranks (1 = largest)."""
        import pandas as pd
        from scipy.stats import rankdata

        return pd.DataFrame(
            {
                "superpixel": np.arange(self.d),
                "lime_coef": self.lime_coef,
                "lime_se": np.zeros(self.d) if self.lime_se is None else self.lime_se,
                "ig_sum": self.ig_sums,
                "lime_rank": rankdata(-self.lime_coef, method="min").astype(int),
                "ig_rank": rankdata(-self.ig_sums, method="min").astype(int),
            }
        )


@dataclass(frozen=True)
class _Problem:
    """The image, its superpixels and baseline, f as a NumPy batch predictor, and IG's side."""

    x: np.ndarray
    segments: np.ndarray
    baseline: np.ndarray
    predict: object
    ig: IGResult
    ig_sums: np.ndarray

    @property
    def d(self) -> int:
        return int(self.ig_sums.shape[0])


def _check_inputs(arguments: dict) -> dict:
    """The checks of :func:`compare_limit` and :func:`compare_empirical`, once: ``settings`` (a
    CompareSettings or None), the image, and the segments against it (relabelled 0..d-1)."""
    settings = arguments["settings"]
    if settings is not None and not isinstance(settings, CompareSettings):
        raise TypeError(f"settings must be a CompareSettings, got {type(settings).__name__}")
    image = check_image(arguments["image"])
    return {"image": image, "segments": check_segments(arguments["segments"], image.shape)}


def _prepare(image, f, seg, target, settings: CompareSettings) -> _Problem:
    """Build xi_bar and compute ``s_j = sum_{u in J_j} IG_u`` with baseline xi_bar (inputs checked)."""
    x = np.asarray(image, dtype=np.float64)
    baseline = replacement_image(x, seg, settings.hide_color)
    ig = integrated_gradients(f, x, baseline, n_steps=settings.n_steps, method=settings.method, target=target,
                              dtype=settings.dtype, output=settings.output)
    if isinstance(f, Classifier):
        predict = functools.partial(f.scores, output=settings.output or f.output)
    else:
        predict = batched_predict(f, batch_size=settings.batch_size, dtype=ig.dtype)
    return _Problem(x, seg, baseline, predict, ig, superpixel_sums(ig.attributions, seg))


def _comparison(p: _Problem, coef, intercept, coef_se, settings: CompareSettings, **how) -> LimeIGComparison:
    """Rank correlations, top-k Jaccard indices and ``||coef - s|| / ||s||`` of LIME against the IG sums."""
    s = p.ig_sums
    norm = float(np.linalg.norm(s))
    return LimeIGComparison(
        lime_coef=coef,
        lime_intercept=float(intercept),
        ig_sums=s,
        ig=p.ig,
        spearman=rank_correlation(coef, s, "spearman"),
        kendall=rank_correlation(coef, s, "kendall"),
        jaccard={k: jaccard_topk(coef, s, k) for k in settings.ks if k <= p.d},
        relative_error=float(np.linalg.norm(coef - s) / norm) if norm > 0 else float("inf"),
        kernel_width=float(settings.kernel_width),
        lime_se=coef_se,
        **how,
    )


def _check_max_exact_d(value, name: str) -> int:
    return check_int(value, name, 1)


@validate_params(_check_inputs, max_exact_d=_check_max_exact_d)
def compare_limit(image, f, segments, *, target: int | None = None, settings: CompareSettings | None = None,
                  max_exact_d: int = MAX_EXACT_D) -> LimeIGComparison:
    """LIME's exact limit ``beta^f`` against the superpixel sums of integrated gradients.

    Both explain the same function ``f`` (a JAX function of one image, e.g. a network's
    ``logits``, or ``lambda x: jax.nn.softmax(net.logits(x))`` for LIME's usual probabilities)
    at ``image``, with the same segmentation; IG's baseline is LIME's replacement image
    ``xi_bar = replacement_image(image, segments, hide_color)``. The limit is
    :func:`limetheory.theory.exact_limit` of ``z -> f(x(z))``, enumerating the 2^d vectors z.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array
    f : callable or Classifier
        Single-image JAX function returning a scalar, or scores with ``target`` picking one; or
        a :class:`~limetheory.nets.Classifier` of any backend (PyTorch, Keras, a bundled
        network), whose ``settings.output`` is explained.
    segments : (H, W) int array, d superpixels.
    target : int or None
        Class explained (required when ``f`` returns a vector, and for a Classifier).
    settings : CompareSettings or None (defaults)
    max_exact_d : int, default :data:`limetheory.theory.enumeration.MAX_EXACT_D`
        Largest d enumerated (2^d model evaluations); a larger d raises a ValueError.

    Returns
    -------
    LimeIGComparison with ``limit="exact"`` and ``lime_se = 0``.
    """
    settings = CompareSettings() if settings is None else settings
    d = n_superpixels(segments)
    if d > max_exact_d:
        raise ValueError(f"compare_limit enumerates 2^d vectors z; d = {d} > max_exact_d = {max_exact_d}: "
                         "use compare_empirical or raise max_exact_d")
    p = _prepare(image, f, segments, target, settings)
    col = 0 if target is None else int(target)

    def f_of_z(z):
        return model_responses(p.predict, p.x, p.baseline, p.segments, z, settings.batch_size, progress=False)[:, col]

    beta = np.asarray(exact_limit(f_of_z, p.d, settings.kernel_width), dtype=np.float64)
    return _comparison(p, beta[1:], beta[0], np.zeros(p.d), settings, limit="exact")


@validate_params(_check_inputs)
def compare_empirical(image, f, segments, *, target: int | None = None, settings: CompareSettings | None = None,
                      seed=None) -> LimeIGComparison:
    """The mean of ``settings.n_runs`` empirical LIME runs against the superpixel sums of IG.

    As :func:`compare_limit`, with LIME's limit replaced by the mean of ``n_runs`` runs of
    :func:`limetheory.explain` (``n_samples`` samples, ridge ``ridge``; the paper: 5 runs of
    n = 1000). Its standard error, ``sqrt(mean_r se_r^2 / R)`` over the R independent runs, is
    ``lime_se``.

    Parameters
    ----------
    image, f, segments, target, settings : as in :func:`compare_limit`.
    seed : int, Generator or None
        The runs' seeds are drawn from it.

    Returns
    -------
    LimeIGComparison with ``limit="empirical"``.
    """
    settings = CompareSettings() if settings is None else settings
    rng = as_generator(seed)
    p = _prepare(image, f, segments, target, settings)

    def predict2d(images):
        y = p.predict(np.asarray(images).reshape((-1,) + p.x.shape))
        return y.reshape(y.shape[0], -1)

    label = 0 if target is None else int(target)
    coefs, intercepts, variances = [], [], []
    for run_seed in rng.integers(0, 2**31 - 1, size=settings.n_runs):
        ex = explain(p.x, predict2d, segments=p.segments, labels=[label], n_samples=settings.n_samples,
                     kernel_width=settings.kernel_width, ridge=settings.ridge, hide_color=settings.hide_color,
                     seed=int(run_seed))
        coefs.append(np.asarray(ex.coef, dtype=np.float64)[0])
        intercepts.append(float(np.asarray(ex.intercept).reshape(-1)[0]))
        variances.append(ex.coef_se[0] ** 2)
    coef_se = np.sqrt(np.mean(variances, axis=0) / len(variances))  # of the mean of independent runs
    return _comparison(p, np.mean(coefs, axis=0), np.mean(intercepts), coef_se, settings, limit="empirical",
                       n_samples=settings.n_samples, n_runs=settings.n_runs)


# =========================================================================== LIME - IG, decomposed
@dataclass(frozen=True)
class LimeIGDecomposition:
    """Per superpixel, where LIME's limit and the IG sums part ways:

        lime_limit - ig_sums = (lime_limit - shapley)  [interactions between superpixels]
                             + (shapley - ig_sums)     [what f does inside superpixels along the path]

    The Shapley value of the game g(z) = f(x(z)) is the integral of the gradient of g's multilinear
    extension along the diagonal (Owen 1972); the IG sums integrate the gradient of the continuous
    game h(t) = f(xi_bar + sum_j t_j 1_{J_j} (xi - xi_bar)) along the same diagonal. The second term is
    therefore zero when h is multilinear in t, the first when g is affine in z (no interactions).

    Attributes
    ----------
    lime_limit, shapley, banzhaf, occlusion, ig_sums : (d,) LIME's exact limit at ``kernel_width``,
        the Shapley, Banzhaf and occlusion values of the game (exact, from one table of 2^d
        responses) and the IG superpixel sums (given).
    kernel_width : LIME's kernel width.
    """

    lime_limit: np.ndarray
    shapley: np.ndarray
    banzhaf: np.ndarray
    occlusion: np.ndarray
    ig_sums: np.ndarray
    kernel_width: float

    @property
    def interactions(self) -> np.ndarray:
        """LIME limit - Shapley: zero for every superpixel when g is affine in z."""
        return self.lime_limit - self.shapley

    @property
    def path(self) -> np.ndarray:
        """Shapley - IG sums: zero when the continuous game is multilinear in the superpixels' t_j."""
        return self.shapley - self.ig_sums

    @property
    def total(self) -> np.ndarray:
        """LIME limit - IG sums = interactions + path."""
        return self.lime_limit - self.ig_sums

    def to_frame(self):
        """One row per superpixel: every method's value and the two parts of LIME - IG."""
        import pandas as pd

        return pd.DataFrame({"superpixel": np.arange(self.shapley.size), "lime_limit": self.lime_limit,
                             "shapley": self.shapley, "banzhaf": self.banzhaf, "occlusion": self.occlusion,
                             "ig_sum": self.ig_sums, "interactions": self.interactions, "path": self.path,
                             "lime_minus_ig": self.total})


def decompose_lime_ig(game, d: int, ig_sums, kernel_width: float = 0.25) -> LimeIGDecomposition:
    """LIME limit - IG sums = (LIME limit - Shapley) + (Shapley - IG sums), exactly, per superpixel.

    Parameters
    ----------
    game : callable or :class:`limetheory.theory.ResponseTable`
        z -> f(x(z)) for the explained class, (m, d) 0/1 -> (m,); evaluated once per pattern.
    d : int in 1..MAX_EXACT_D (24)
        Number of superpixels.
    ig_sums : (d,) superpixel sums of integrated gradients with LIME's replacement image as baseline
        (:func:`limetheory.gradients.superpixel_sums`).
    kernel_width : LIME's kernel width.

    Returns
    -------
    LimeIGDecomposition
    """
    d = check_enumerable_d(d)
    ig = check_vector(ig_sums, "ig_sums", d)
    kernel_width = check_real(kernel_width, "kernel_width", low=0.0, low_open=True)
    table = game if isinstance(game, ResponseTable) else ResponseTable.from_function(game, d)
    if table.d != d or table.values.ndim != 1:
        raise ValueError(f"game must give one value per pattern of {{0,1}}^{d}, got {table!r}")
    return LimeIGDecomposition(lime_limit=exact_limit(table, d, kernel_width)[1:], shapley=exact_shapley(table),
                               banzhaf=exact_banzhaf(table), occlusion=exact_occlusion(table), ig_sums=ig,
                               kernel_width=kernel_width)
