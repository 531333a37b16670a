"""LIME next to integrated gradients for one image (docs/theory/lime_and_ig.md), and agreement metrics.

For LIME's replacement image ``xi_bar`` as IG's baseline, the LIME limit of a linear ``f`` is
exactly the superpixel sums of IG, ``beta_j = sum_{u in J_j} IG_u``, and approximately so for a
smooth ``f``. Two comparisons of one JAX function ``f``:

- :func:`compare_limit`: the exact limit ``beta^f`` (enumerating {0,1}^d) against the IG sums;
- :func:`compare_empirical`: the mean of empirical LIME runs against the IG sums;

both configured by one :class:`CompareSettings`. For a network, the pieces that experiments 4 and
6 and the ``limetheory explain`` command share, so that they explain the same function the same
way: :data:`SEGMENTATION`, :data:`IG_DEFAULTS`, :func:`segment_for`, :func:`lime_coefficients`
(several LIME runs of a :class:`~limetheory.nets.scored.ScoredNet`, both outputs on the same
samples), :func:`ig_superpixel_sums` and :func:`top_classes`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .gradients import IGResult, METHODS, integrated_gradients, superpixel_sums
from .nets import Classifier
from .nets.scored import OUTPUTS, ScoredNet, batched_predict
from .nets.vgg import NAMES as TABLE1_NAMES
from .segmentation import check_image, check_segments, n_superpixels, replacement_image
from .theory.enumeration import MAX_EXACT_D
from .validation import as_generator, check_choice, check_int, check_real

__all__ = [
    "CompareSettings",
    "IG_DEFAULTS",
    "LimeIGComparison",
    "OUTPUTS",
    "SEGMENTATION",
    "compare_empirical",
    "compare_limit",
    "check_lime_memory",
    "class_explanation",
    "ig_superpixel_sums",
    "lime_coefficients",
    "lime_run",
    "lime_memory_bytes",
    "segment_for",
    "top_classes",
]

#: Superpixels per network. EfficientNet (224 x 224 photos): lime's quickshift defaults
#: (kernel_size=4, max_dist=200, ratio=0.2; d = 31 to 37 on the bundled photos). The small
#: networks' images are 32 and 64 pixels wide, where lime's defaults give 3 to 10 superpixels:
#: finer quickshift parameters give d of the same order as on the photos (digits 32 x 32:
#: kernel_size=1, max_dist=3, d = 16 to 36, median 25; shapes 64 x 64: kernel_size=1.5,
#: d = 22 to 33, median 28; measured on 40 held-out images each).
#: The Table 1 networks (:mod:`limetheory.nets.vgg`) take the same 32 x 32 digits as digits-cnn
#: (same parameters) and 32 x 32 shapes, where kernel_size=1 with lime's other defaults gives
#: d = 16 to 24 (median 19.5; 20 held-out images).
SEGMENTATION = {
    "efficientnet-lite0": {"method": "quickshift"},
    "shapes-cnn": {"method": "quickshift", "kernel_size": 1.5},
    "digits-cnn": {"method": "quickshift", "kernel_size": 1, "max_dist": 3},
    **{name: ({"method": "quickshift", "kernel_size": 1, "max_dist": 3} if name.startswith("digits-")
              else {"method": "quickshift", "kernel_size": 1}) for name in TABLE1_NAMES},
}

#: Integrated-gradients quadrature used by the command (and by the experiments' full runs).
IG_DEFAULTS = {"method": "gausslegendre", "n_steps": 64}

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
    output : {"logit", "prob"}, default "logit"
        When ``f`` is a :class:`~limetheory.nets.Classifier` (any backend): the class score both
        LIME and IG explain, its logit or its softmax probability.
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
    output: str = "logit"
    n_samples: int = 1000
    n_runs: int = 1
    ridge: float = 1.0

    def __post_init__(self):
        check_real(self.kernel_width, "kernel_width", low=0.0, low_open=True)
        check_int(self.n_steps, "n_steps", 1)
        check_choice(self.method, "method", METHODS)
        object.__setattr__(self, "ks", tuple(check_int(k, "ks", 1) for k in self.ks))
        check_int(self.batch_size, "batch_size", 1)
        check_choice(self.dtype, "dtype", ("float64", "float32", None))
        check_choice(self.output, "output", OUTPUTS)
        check_int(self.n_samples, "n_samples", 2)
        check_int(self.n_runs, "n_runs", 1)
        check_real(self.ridge, "ridge", low=0.0)


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


def _prepare(image, f, segments, target, settings: CompareSettings) -> _Problem:
    """Check the inputs, build xi_bar and compute ``s_j = sum_{u in J_j} IG_u`` with baseline xi_bar."""
    if not isinstance(settings, CompareSettings):
        raise TypeError(f"settings must be a CompareSettings, got {type(settings).__name__}")
    arr = check_image(image)
    seg = check_segments(segments, arr.shape)
    x = arr.astype(np.float64)
    baseline = replacement_image(x, seg, settings.hide_color)
    ig = integrated_gradients(f, x, baseline, n_steps=settings.n_steps, method=settings.method, target=target,
                              dtype=settings.dtype, output=settings.output)
    if isinstance(f, Classifier):
        predict = functools.partial(f.scores, output=settings.output)
    else:
        predict = batched_predict(f, batch_size=settings.batch_size, dtype=ig.dtype)
    return _Problem(x, seg, baseline, predict, ig, superpixel_sums(ig.attributions, seg))


def _comparison(p: _Problem, coef, intercept, coef_se, settings: CompareSettings, **how) -> LimeIGComparison:
    """Rank correlations, top-k Jaccard indices and ``||coef - s|| / ||s||`` of LIME against the IG sums."""
    from .metrics import jaccard_topk, rank_correlation

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
    from .perturb import perturb_batch
    from .theory import exact_limit

    settings = CompareSettings() if settings is None else settings
    max_exact_d = check_int(max_exact_d, "max_exact_d", 1)
    d = n_superpixels(check_segments(segments, np.shape(image)))
    if d > max_exact_d:
        raise ValueError(f"compare_limit enumerates 2^d vectors z; d = {d} > max_exact_d = {max_exact_d}: "
                         "use compare_empirical or raise max_exact_d")
    p = _prepare(image, f, segments, target, settings)
    col = 0 if target is None else int(target)
    bs = settings.batch_size

    def f_of_z(z):
        z = np.asarray(z)
        outs = []
        for start in range(0, z.shape[0], bs):
            imgs = perturb_batch(p.x, p.baseline, p.segments, z[start : start + bs])
            y = p.predict(np.asarray(imgs).reshape((-1,) + p.x.shape))
            outs.append(y.reshape(y.shape[0], -1)[:, col])
        return np.concatenate(outs)

    beta = np.asarray(exact_limit(f_of_z, p.d, settings.kernel_width), dtype=np.float64)
    return _comparison(p, beta[1:], beta[0], np.zeros(p.d), settings, limit="exact")


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
    from .empirical import explain

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


# =========================================================================== a network (ScoredNet)
def segment_for(image, model: str, segmentation: dict | None = None) -> np.ndarray:
    """Superpixels of ``image`` with the parameters of :data:`SEGMENTATION` for ``model``."""
    from .segmentation import segment

    kw = dict(SEGMENTATION.get(model, {"method": "quickshift"}) if segmentation is None else segmentation)
    return segment(image, kw.pop("method", "quickshift"), **kw)


def lime_memory_bytes(n_samples: int, d: int, n_outputs: int = len(OUTPUTS)) -> int:
    """Bytes one LIME run of :func:`lime_coefficients` holds for its samples, at least.

    ``n (d + 8 (n_outputs + 2))``: the binary vectors z (n x d, one byte each), the model's
    outputs (n x n_outputs, float64), the kernel weights and distances (2 n, float64). The
    perturbed images and the surrogate's blocks are bounded by the batch size, not by n.
    """
    return int(n_samples) * (int(d) + 8 * (int(n_outputs) + 2))


def check_lime_memory(n_samples: int, name: str, d: int, available: int) -> int:
    """``n_samples`` if :func:`lime_memory_bytes` fits in ``available`` bytes, else a ValueError
    that names the argument ``name`` and says how much memory the run would need."""
    need = lime_memory_bytes(n_samples, d)
    if need > available:
        raise ValueError(f"{name} = {n_samples} needs at least {need / 2**30:.3g} GiB for LIME's samples "
                         f"(n (d + {need // n_samples - d}) bytes with d = {d}), more than the {available / 2**30:.3g} GiB of "
                         "memory here")
    return n_samples


def lime_run(image, snet: ScoredNet, segments, target: int, seed, *, n_samples: int = 1000,
             kernel_width: float = 0.25, ridge: float = 1.0, hide_color=None, keep_samples: bool = False):
    """One empirical LIME run of class ``target`` for both outputs on the same samples.

    :func:`limetheory.explain` with ``predict = snet.predict_for(target)`` (columns probability
    and logit of the class), so the two surrogates share z, pi and the perturbed images. The
    returned Explanation's labels are those columns, in :data:`OUTPUTS` order (0: ``"prob"``,
    1: ``"logit"``); :func:`class_explanation` turns one of them into an explanation of the class.
    ``keep_samples``: keep z, pi and y on it (:func:`limetheory.explain`).
    """
    from .empirical import explain

    return explain(image, snet.predict_for(target), segments=segments, labels=[0, 1], n_samples=int(n_samples),
                   kernel_width=kernel_width, ridge=ridge, hide_color=hide_color, seed=seed,
                   batch_size=snet.batch_size, dtype=np.float32, progress=False, keep_samples=keep_samples)


def class_explanation(run, output: str, target: int, scores):
    """Output ``output`` of a :func:`lime_run` (or of any run whose labels are :data:`OUTPUTS` indices)
    as an Explanation of class ``target``.

    The row of ``output`` (coefficients, intercept, their standard errors, R^2, local prediction),
    labelled with the class index ``target``, with ``scores`` (the model's scores for every class
    on the image) as ``prediction``: what :meth:`Explanation.to_html` and lime's helpers expect.
    """
    import dataclasses

    row = list(np.asarray(run.labels)).index(OUTPUTS.index(output))

    def pick(values):
        return None if values is None else np.asarray(values)[row : row + 1]

    return dataclasses.replace(
        run, coef=pick(run.coef), intercept=pick(run.intercept), score=pick(run.score),
        local_pred=pick(run.local_pred), coef_se=pick(run.coef_se), intercept_se=pick(run.intercept_se),
        labels=np.array([int(target)]), prediction=np.asarray(scores, dtype=np.float64),
        samples=None, weights=None, responses=None,
    )


def lime_coefficients(image, snet: ScoredNet, segments, target: int, seeds, *, n_samples: int = 1000,
                      kernel_width: float = 0.25, ridge: float = 1.0, hide_color=None, with_se: bool = False,
                      with_samples: bool = False):
    """Empirical LIME of class ``target``, one :func:`lime_run` per seed (both outputs on the same samples).

    Returns
    -------
    (n_runs, len(OUTPUTS), d) float64 coefficients beta_hat_j; with ``with_se``, also their
    standard errors (same shape, :attr:`limetheory.Explanation.coef_se`); with ``with_samples``,
    last, every run's samples stacked: ``(z (n_runs n, d), pi (n_runs n,), y (n_runs n, 2))``.
    """
    coefs, ses, samples = [], [], []
    for seed in seeds:
        ex = lime_run(image, snet, segments, target, seed, n_samples=n_samples, kernel_width=kernel_width,
                      ridge=ridge, hide_color=hide_color, keep_samples=with_samples)
        coefs.append(np.asarray(ex.coef, dtype=np.float64))
        ses.append(ex.coef_se)
        samples.append((ex.samples, ex.weights, ex.responses))
    out = (np.stack(coefs),) + ((np.stack(ses),) if with_se else ())
    if with_samples:
        out += (tuple(np.concatenate(part, axis=0) for part in zip(*samples)),)
    return out if len(out) > 1 else out[0]


def ig_superpixel_sums(image, snet: ScoredNet, segments, target: int, output: str = "prob", *,
                       n_steps: int = IG_DEFAULTS["n_steps"], method: str = IG_DEFAULTS["method"],
                       hide_color=None):
    """Integrated gradients of ``output`` of class ``target``, baseline LIME's replacement image.

    ``IG_u = (xi_u - xi_bar_u) int_0^1 df/dx_u(xi_bar + t (xi - xi_bar)) dt`` in float32 (the
    network's precision), summed over every superpixel: ``s_j = sum_{u in J_j} IG_u``.

    Returns
    -------
    sums : (d,) float64;  ig : :class:`limetheory.gradients.IGResult` (pixel attributions,
    completeness gap).
    """
    check_choice(output, "output", OUTPUTS)
    x = np.asarray(image, dtype=np.float64)
    baseline = replacement_image(x, segments, hide_color)
    # a JAX network: its compiled single-image output function; any other: the Classifier itself
    f, how = (snet.output_fns[output], {}) if snet.output_fns else (snet.net, {"output": output})
    ig = integrated_gradients(f, x.astype(np.float32), baseline.astype(np.float32),
                              n_steps=int(n_steps), method=method, target=int(target),
                              internal_batch_size=min(snet.ig_chunk, int(n_steps)), dtype="float32", **how)
    return superpixel_sums(ig.attributions, segments), ig


def top_classes(snet: ScoredNet, image, k: int = 5) -> list:
    """The ``k`` most probable classes of ``image``: [(index, name, probability), ...]."""
    p = snet.probabilities(np.asarray(image)[None])[0]
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), str(snet.net.class_names[i]), float(p[i])) for i in order]
