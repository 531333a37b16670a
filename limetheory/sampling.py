"""Interpretable samples z in {0,1}^d and LIME's kernel weights (docs/theory/lime_algorithm.md, steps 3 and 5).

    z_i ~ i.i.d. Bernoulli(1/2)^d,  z_0 = (1, ..., 1)  (the unperturbed image is sample 0)
    d_cos(1, z) = 1 - 1^T z / (sqrt(d) ||z||),   d_cos(1, 0) = 1
    pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2))

Also lime's own random stream (:func:`lime_samples`), and the sampling *designs* of ``explain``
(:data:`DESIGNS`, :func:`draw_design`): four ways of drawing z that keep LIME's estimand
beta^f = E[pi x x^T]^{-1} E[pi x f] (x = (1, z), z ~ Bernoulli(1/2)^d), each with its own spread
around it (the proofs: the theory page on designs, docs/theory/designs.md).

- ``"iid"``: z_i ~ Bernoulli(1/2)^d independently, weights pi(z_i) (lime's design);
- ``"paired"``: z and its complement 1 - z in consecutive rows, z ~ Bernoulli(1/2)^d, weights pi;
  each row is Bernoulli(1/2)^d, so the estimating equation has the same expectation;
- ``"stratified"``: the number of ones k is drawn by systematic sampling of the Binomial(d, 1/2)
  law (u_i = (i + U) / n, k_i = F^{-1}(u_i)), so stratum k gets floor or ceil of n C(d, k) 2^-d rows
  (proportional allocation), then z uniform among the vectors with k ones; each row is marginally
  Bernoulli(1/2)^d, so the reweighting factor to the Bernoulli law is 1 and the weights stay pi;
- ``"weighted"``: z from the pi-weighted law, density pi / alpha_0, weights 1 (:func:`weighted_samples`).

KernelSHAP's samples come from the Shapley kernel's law of |z| (:func:`shapley_samples`); its designs
(:data:`SHAPLEY_DESIGNS`) are ``"iid"``, ``"paired"`` and ``"enumerated"`` (:func:`enumerated_samples`:
every pattern of the sizes whose count fits the budget, with its exact kernel weight, and a paired
sample of the other sizes; the theory page on designs proves that the limit is unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._binomial import log_half_binom
from .kernel import kernel_log, weighted_law
from .validation import as_generator, check_binary_z, check_kernel_width, validate_params

__all__ = [
    "DESIGNS",
    "DesignSample",
    "EnumerationPlan",
    "SHAPLEY_DESIGNS",
    "enumerated_samples",
    "enumeration_plan",
    "SAMPLERS",
    "concat_samples",
    "design_for_sampler",
    "draw_design",
    "paired_samples",
    "stratified_samples",
    "as_generator",
    "bernoulli_samples",
    "cosine_distance_to_ones",
    "kernel_weights",
    "lime_samples",
    "samples_and_weights",
    "samples_with_ones",
    "shapley_samples",
    "weighted_samples",
]

#: How ``explain`` draws z: lime's Bernoulli(1/2)^d weighted by pi, or z drawn from the pi-weighted
#: law itself with equal weights (same limit explanation, see :func:`weighted_samples`).
SAMPLERS = ("bernoulli", "weighted")

#: The sampling designs of ``explain(..., design=...)``; all keep LIME's estimand (module docstring).
DESIGNS = ("iid", "paired", "stratified", "weighted")

#: The designs of ``explain(..., kernel="shap", design=...)`` (KernelSHAP): the size law sampled
#: i.i.d., in pairs (z, 1 - z), or with the heavy sizes enumerated (:func:`enumerated_samples`).
SHAPLEY_DESIGNS = ("iid", "paired", "enumerated")

#: The design each former ``sampler=`` value names.
SAMPLER_DESIGNS = {"bernoulli": "iid", "weighted": "weighted"}


def bernoulli_samples(n: int, d: int, rng, first_row_ones: bool = True) -> np.ndarray:
    """n samples of z ~ Bernoulli(1/2)^d as a (n, d) uint8 array; row 0 is all ones by default."""
    z = as_generator(rng).integers(0, 2, size=(n, d), dtype=np.uint8)
    if first_row_ones and n > 0:
        z[0] = 1
    return z


def samples_with_ones(counts, d: int, rng) -> np.ndarray:
    """(n, d) uint8 rows, row i with ``counts[i]`` ones at uniformly random places."""
    counts = np.asarray(counts)
    ranks = np.argsort(np.argsort(as_generator(rng).random((counts.shape[0], d)), axis=1), axis=1)
    return (ranks < counts[:, None]).astype(np.uint8)


def weighted_samples(n: int, d: int, kernel_width: float, rng, first_row_ones: bool = True) -> np.ndarray:
    """n samples of z from the pi-weighted law, density pi(z) / alpha_0 against Bernoulli(1/2)^d.

    Parameters
    ----------
    n : int
        Number of samples.
    d : int >= 1
        Number of superpixels.
    kernel_width : float > 0
        The kernel width nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    rng : None, int or numpy Generator
        The random stream.
    first_row_ones : bool
        Set row 0 to z = 1 (the unperturbed image), as lime does.

    Returns
    -------
    (n, d) uint8 array of 0/1.

    Notes
    -----
    The number of ones k is drawn from q_k = C(d, k) 2^-d pi_k / alpha_0
    (:func:`limetheory.kernel.weighted_law`), then k ones are placed uniformly at random. Least
    squares with *equal* weights on these z has the same limit as LIME's pi-weighted least squares
    on Bernoulli z, beta^f = E[pi x x^T]^{-1} E[pi x f], but another spread around it; which is
    smaller depends on f and nu (`theory.exact_limit_covariance(..., sampler=...)` says which): the
    weighted law wins by far for small kernel widths, where most Bernoulli samples get a weight
    near zero. Row 0 is all ones (the unperturbed image) by default, as in lime.
    """
    rng = as_generator(rng)
    q, _ = weighted_law(d, kernel_width)
    z = samples_with_ones(rng.choice(d + 1, size=n, p=q), d, rng)
    if first_row_ones and n > 0:
        z[0] = 1
    return z


def samples_and_weights(n: int, d: int, kernel_width: float, rng, sampler: str = "bernoulli",
                        first_row_ones: bool = True) -> tuple:
    """LIME's design for ``sampler`` (see :data:`SAMPLERS`): z (n, d) uint8 with z_0 = 1, weights (n,).

    ``first_row_ones=False`` draws every row (for further rounds of the same run).

    ``"bernoulli"``: z ~ Bernoulli(1/2)^d, weights pi(z) (lime). ``"weighted"``: z from the
    pi-weighted law (:func:`weighted_samples`), weights 1.
    """
    if sampler == "bernoulli":
        z = bernoulli_samples(n, d, rng, first_row_ones)
        return z, kernel_weights(z, kernel_width)
    if sampler == "weighted":
        return weighted_samples(n, d, kernel_width, rng, first_row_ones), np.ones(n)
    raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")


def paired_samples(n: int, d: int, rng, first_row_ones: bool = True) -> np.ndarray:
    """n rows in pairs (z, 1 - z), z ~ Bernoulli(1/2)^d: rows 2i and 2i + 1 are complements.

    Every row is Bernoulli(1/2)^d (the complement of a uniform z is uniform); an odd n cuts the
    last pair. With ``first_row_ones`` the first pair is (1, 0): the unperturbed image and its
    complement.
    """
    half = bernoulli_samples((n + 1) // 2, d, rng, first_row_ones)
    z = np.empty((2 * half.shape[0], d), dtype=np.uint8)
    z[0::2] = half
    z[1::2] = 1 - half
    return z[:n]


def binomial_cdf(d: int) -> np.ndarray:
    """F(k) = P(Binomial(d, 1/2) <= k) for k = 0..d (from log probabilities, no overflow)."""
    cdf = np.cumsum(np.exp(log_half_binom(d)))
    return cdf / cdf[-1]


def stratified_counts(n: int, d: int, rng) -> np.ndarray:
    """Numbers of ones k_1 <= ... <= k_n by systematic sampling of Binomial(d, 1/2).

    k_i = F^{-1}((i + U) / n) with one U ~ Uniform[0, 1): each k_i is Binomial(d, 1/2), and stratum
    k receives floor or ceil of n P(k) rows, the proportional allocation (in expectation exactly
    n P(k), so strata with n P(k) < 1 are reached with probability n P(k)).
    """
    u = (np.arange(n) + as_generator(rng).random()) / n
    return np.minimum(np.searchsorted(binomial_cdf(d), u, side="right"), d)


def stratified_samples(n: int, d: int, rng, first_row_ones: bool = True) -> np.ndarray:
    """n rows stratified by their number of ones (:func:`stratified_counts`), each marginally Bernoulli(1/2)^d.

    Rows come sorted by k. With ``first_row_ones`` the last row (the largest k) is replaced by z = 1.
    """
    rng = as_generator(rng)
    z = samples_with_ones(stratified_counts(n, d, rng), d, rng)
    if first_row_ones and n > 0:
        z[-1] = 1
        z = np.roll(z, 1, axis=0)  # the unperturbed image first, as in every design
    return z


def stratum_labels(n_ones) -> np.ndarray:
    """Stratum of each row from its number of ones, adjacent values of k merged until every stratum
    holds >= 2 rows (a lone row gives no within-stratum spread); all in one stratum if n < 4."""
    k = np.asarray(n_ones)
    values, inverse, counts = np.unique(k, return_inverse=True, return_counts=True)
    group = np.zeros(values.size, dtype=np.int64)
    current, filled = 0, 0
    for i, c in enumerate(counts):
        group[i] = current
        filled += c
        if filled >= 2:
            current, filled = current + 1, 0
    if filled and current > 0:  # a short last group joins the one before
        group[group == current] = current - 1
    return group[inverse]


@dataclass(frozen=True, eq=False)
class DesignSample:
    """Samples of one design: z (n, d) uint8, the regression weights (n,), and how rows depend.

    ``clusters`` (n,) ints: rows of one cluster are drawn together (a pair), so their scores are
    summed before the sandwich; ``strata`` (n,) ints: rows drawn with a fixed share per stratum, so
    scores are centred within their stratum (-1: not stratified). None: independent rows.
    ``fixed`` (n,) bools: rows that are no draw (enumerated patterns, or the constraint rows of
    KernelSHAP): they contribute no sampling variance. None: every row is drawn.
    """

    z: np.ndarray
    weights: np.ndarray
    clusters: np.ndarray | None = None
    strata: np.ndarray | None = None
    fixed: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.z.shape[0]


def draw_design(design: str, n: int, d: int, kernel_width: float, rng, first_row_ones: bool = True,
                log_weights=None) -> DesignSample:
    """n samples of ``design`` (:data:`DESIGNS`) with the kernel's weights; row 0 is z = 1 by default.

    ``"iid"``, ``"paired"``, ``"stratified"``: weights pi(z). ``"weighted"``: z from the pi-weighted
    law, weights 1. A paired sample marks its pairs as clusters, a stratified one its strata.

    ``log_weights``: (d + 1,) log pi by the number of ones k, for a kernel other than LIME's (any
    kernel that depends on z through k; the designs keep its estimand too). None: LIME's kernel of
    width ``kernel_width``.
    """
    log_pi = kernel_log(np.arange(d + 1), d, check_kernel_width(kernel_width)) if log_weights is None \
        else np.asarray(log_weights, dtype=np.float64)

    def weights(z):
        return np.exp(log_pi[np.count_nonzero(z, axis=1)])

    if design == "iid":
        z = bernoulli_samples(n, d, rng, first_row_ones)
        return DesignSample(z, weights(z))
    if design == "paired":
        z = paired_samples(n, d, rng, first_row_ones)
        return DesignSample(z, weights(z), clusters=np.arange(n) // 2)
    if design == "stratified":
        z = stratified_samples(n, d, rng, first_row_ones)
        return DesignSample(z, weights(z), strata=stratum_labels(z.sum(axis=1, dtype=np.int64)))
    if design == "weighted":
        if log_weights is None:
            return DesignSample(weighted_samples(n, d, kernel_width, rng, first_row_ones), np.ones(n))
        rng = as_generator(rng)
        log_q = log_half_binom(d) + log_pi
        q = np.exp(log_q - log_q.max())
        z = samples_with_ones(rng.choice(d + 1, size=n, p=q / q.sum()), d, rng)
        if first_row_ones and n > 0:
            z[0] = 1
        return DesignSample(z, np.ones(n))
    raise ValueError(f"design must be one of {list(DESIGNS)}, got {design!r}")


def concat_samples(parts, scales=None) -> DesignSample:
    """The rows of several :class:`DesignSample` in order, cluster and stratum labels kept apart.

    ``scales``: a factor per part multiplying its weights (e.g. pi / alpha_0 for Bernoulli rows
    next to pi-weighted rows, whose weights are 1: both then estimate the same equation).
    """
    parts = list(parts)
    scales = [1.0] * len(parts) if scales is None else list(scales)
    weights = np.concatenate([p.weights * s for p, s in zip(parts, scales)])
    z = np.concatenate([p.z for p in parts])
    clusters = strata = None
    if any(p.clusters is not None for p in parts):
        labels, offset = [], 0
        for p in parts:
            own = np.arange(p.n) if p.clusters is None else p.clusters
            labels.append(own + offset)
            offset += int(own.max()) + 1 if p.n else 0
        clusters = np.concatenate(labels)
    if any(p.strata is not None for p in parts):
        labels, offset = [], 0
        for p in parts:
            if p.strata is None:
                labels.append(np.full(p.n, -1, dtype=np.int64))
            else:
                labels.append(p.strata + offset)
                offset += int(p.strata.max()) + 1 if p.n else 0
        strata = np.concatenate(labels)
    fixed = None
    if any(p.fixed is not None for p in parts):
        fixed = np.concatenate([np.zeros(p.n, dtype=bool) if p.fixed is None else p.fixed for p in parts])
    return DesignSample(z, weights, clusters, strata, fixed)


def design_for_sampler(design, sampler, default: str = "iid") -> str:
    """The design named by ``design=`` or by the former ``sampler=`` (DeprecationWarning); not both."""
    import warnings

    if sampler is None:
        return default if design is None else design
    if design is not None:
        raise TypeError("give design= or its former name sampler=, not both")
    warnings.warn('sampler= is deprecated; use design= ("bernoulli" is design="iid", "weighted" is '
                  'design="weighted")', DeprecationWarning, stacklevel=3)
    if sampler not in SAMPLER_DESIGNS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    return SAMPLER_DESIGNS[sampler]


def lime_samples(n: int, d: int, random_state: np.random.RandomState) -> np.ndarray:
    """lime 0.2.0.1's draw: ``random_state.randint(0, 2, n*d).reshape(n, d)``, first row set to ones.

    Consumes exactly the random stream lime consumes, so the same ``RandomState`` state gives the
    same z, bit for bit.
    """
    z = random_state.randint(0, 2, n * d).reshape((n, d))
    z[0, :] = 1
    return z


def cosine_distance_to_ones(z) -> np.ndarray:
    """d_cos(1, z) for every row of z; a zero row has distance 1 (scikit-learn's convention).

    Depends on z only through the number of ones k = 1^T z: d_cos = 1 - sqrt(k / d).
    """
    z = np.asarray(z)
    d = z.shape[1]
    k = np.count_nonzero(z, axis=1).astype(np.float64)
    return 1.0 - np.sqrt(k / d)


@validate_params(kernel_width=check_kernel_width)
def kernel_weights(z, kernel_width: float = 0.25) -> np.ndarray:
    """LIME's weights pi(z) = exp(-(d_cos(1, z) / nu)^2 / 2), nu = ``kernel_width``.

    lime writes the same kernel as ``sqrt(exp(-d^2 / w^2))``. Computed as ``(d_cos / nu)^2`` (not
    ``d_cos^2 / nu^2``), so no width in float64's range overflows or gives 0 / 0.
    """
    z = check_binary_z(z, np.shape(z)[1] if np.ndim(z) == 2 else -1)
    return np.exp(kernel_log(np.count_nonzero(z, axis=1), z.shape[1], kernel_width))


def shapley_samples(n: int, d: int, rng, paired: bool = False, first_rows: bool = True) -> tuple:
    """n samples of z for KernelSHAP: k = |z| from the Shapley kernel's law, then k ones at random.

    The law of k is q_k proportional to 1 / (k (d - k)) on 1 <= k <= d - 1 (the Shapley kernel
    pi_SHAP(k) = (d - 1) / (C(d, k) k (d - k)) times the C(d, k) patterns of size k;
    :func:`limetheory.kernel.weighted_law` with ``kernel="shap"``): least squares with equal weights on
    these z is KernelSHAP's regression. With ``first_rows`` rows 0 and 1 are z = 1 and z = 0, the two
    patterns KernelSHAP imposes as constraints. ``paired``: rows come in pairs z, 1 - z (the law of k
    is symmetric, so each row keeps it).

    Returns
    -------
    z : (n, d) uint8 array of 0/1.
    pairs : (n,) int array: rows with the same number were drawn together (one number per row
        unless ``paired``; rows 0 and 1 form a pair), for standard errors clustered by pair.
    """
    rng = as_generator(rng)
    head = min(n, 2) if first_rows else 0
    m = n - head
    q, _ = weighted_law(d, None, kernel="shap") if d >= 2 else (np.eye(d + 1)[d], 0.0)
    draws = (m + 1) // 2 if paired else m
    z = samples_with_ones(rng.choice(d + 1, size=draws, p=q), d, rng)
    ids = np.arange(draws)
    if paired:
        z = np.stack([z, 1 - z], axis=1).reshape(-1, d)[:m]
        ids = np.repeat(ids, 2)[:m]
    ends = np.array([np.ones(d), np.zeros(d)], dtype=np.uint8)[:head]
    return np.concatenate([ends, z]), np.concatenate([np.zeros(head, dtype=np.int64), ids + (head > 0)])


@dataclass(frozen=True)
class EnumerationPlan:
    """How ``design="enumerated"`` spends a budget of model calls on KernelSHAP's sizes k = |z|.

    ``enumerated``: the sizes all of whose C(d, k) patterns are evaluated, each with its exact
    weight pi(k) = q_k / C(d, k); ``sampled``: the other sizes of 1..d-1, from which
    ``n_sampled`` rows are drawn (in pairs z, 1 - z) from the size law truncated to them, each row
    with weight ``sampled_mass / n_sampled`` (``sampled_mass`` = the law's mass on those sizes).
    ``n_enumerated``: the enumerated patterns; with the two constraint rows (z = 1, z = 0) the plan
    makes ``2 + n_enumerated + n_sampled`` calls (the budget, or 2^d when the budget exceeds it).
    """

    d: int
    enumerated: tuple
    sampled: tuple
    n_enumerated: int
    n_sampled: int
    sampled_mass: float

    @property
    def n_calls(self) -> int:
        return 2 + self.n_enumerated + self.n_sampled


def _size_law(d: int, size_law) -> np.ndarray:
    if size_law is None:
        return weighted_law(d, None, kernel="shap")[0]
    q = np.asarray(size_law, dtype=np.float64)
    if q.shape != (d + 1,) or np.any(q < 0) or not np.allclose(q, q[::-1]):
        raise ValueError(f"size_law must be (d + 1,) = ({d + 1},) non-negative and symmetric in k <-> d - k")
    q = q.copy()
    q[[0, d]] = 0.0
    return q / q.sum()


def enumeration_plan(n: int, d: int, size_law=None) -> EnumerationPlan:
    """Which sizes ``design="enumerated"`` enumerates with ``n`` model calls (:class:`EnumerationPlan`).

    The sizes come in pairs {k, d - k} (the size law is symmetric), taken in decreasing order of
    the weight per pattern q_k / C(d, k) (for the Shapley kernel: k = 1 and d - 1 first). With L
    calls left after z = 1 and z = 0, and R the law's mass on the sizes not yet enumerated, the pair
    is enumerated when L q / R >= c (q its mass, c its count of patterns): a sample from the law
    truncated to the remaining sizes would spend at least c calls on it anyway, so its c patterns
    with their exact weights cost no more and remove its share of the sampling variance. Then
    L -= c, R -= q, and the next pair; the first pair that does not fit ends the enumeration (as in
    shap's KernelExplainer). The rule keeps L / R from falling, so the sampled part gets at least
    (n - 2) times its mass in rows: it is empty only when every size is enumerated.

    ``size_law``: (d + 1,) a symmetric law of k (default: the Shapley kernel's,
    :func:`limetheory.kernel.weighted_law` with ``kernel="shap"``); q_0 and q_d are ignored.
    """
    if d < 2:
        raise ValueError(f"design='enumerated' needs d >= 2 superpixels, got {d}")
    if n < 2:
        raise ValueError(f"design='enumerated' needs n >= 2 model calls (z = 1 and z = 0), got {n}")
    q = _size_law(d, size_law)
    from math import comb

    pairs = sorted(range(1, d // 2 + 1), key=lambda k: (-q[k] / comb(d, k), k))
    left, mass, enumerated = n - 2, 1.0, []
    for k in pairs:
        sizes = (k,) if 2 * k == d else (k, d - k)
        count = sum(comb(d, s) for s in sizes)
        share = sum(q[s] for s in sizes)
        last = len(enumerated) + len(sizes) == d - 1
        fits = left >= count if last else left * share >= count * mass * (1 - 1e-12)
        if not fits:
            break
        enumerated += sizes
        left -= count
        mass -= share
    sampled = tuple(k for k in range(1, d) if k not in enumerated)
    n_enumerated = sum(comb(d, s) for s in enumerated)
    return EnumerationPlan(d, tuple(sorted(enumerated)), sampled, n_enumerated, left if sampled else 0,
                           float(sum(q[k] for k in sampled)) if sampled else 0.0)


def patterns_with_ones(d: int, k: int) -> np.ndarray:
    """All C(d, k) vectors of {0,1}^d with k ones, (C(d, k), d) uint8, in lexicographic order of their places."""
    from itertools import combinations
    from math import comb

    places = np.array(list(combinations(range(d), k)), dtype=np.int64).reshape(comb(d, k), k)
    z = np.zeros((places.shape[0], d), dtype=np.uint8)
    np.put_along_axis(z, places, 1, axis=1)
    return z


def _distinct_pairs(m: int, d: int, law, rng, max_draws: int) -> np.ndarray:
    """Pairs (z, 1 - z), k ~ ``law`` then k ones at random, drawn until they hold m distinct rows.

    Every draw is kept (a pattern drawn twice appears twice: the sample is i.i.d. in pairs, with
    replacement); only the distinct rows cost model calls. With m odd the last new pair is cut to
    its first row. At most ``max_draws`` pairs (then fewer distinct rows). Returns (rows, d) uint8.
    """
    seen, out, distinct = set(), [], 0
    while distinct < m and len(out) < max_draws:
        batch = min(max(2 * (m - distinct), 16), max_draws - len(out))
        half = samples_with_ones(rng.choice(d + 1, size=batch, p=law), d, rng)
        for z in half:
            key = min(z.tobytes(), (1 - z).tobytes())
            if key in seen:
                out.append(np.stack([z, 1 - z]))
                continue
            seen.add(key)
            if m - distinct == 1:
                out.append(z[None])
                distinct += 1
                break
            out.append(np.stack([z, 1 - z]))
            distinct += 2
            if distinct >= m:
                break
    return np.concatenate(out) if out else np.zeros((0, d), dtype=np.uint8)


def enumerated_samples(n: int, d: int, rng, size_law=None) -> DesignSample:
    """KernelSHAP's rows for ``design="enumerated"``: the heavy sizes enumerated, the others sampled in pairs.

    Rows 0 and 1 are z = 1 and z = 0 (the constraints; weight 0, fixed); then every pattern of the
    enumerated sizes of :func:`enumeration_plan` with its exact weight q_k / C(d, k) (fixed: no
    sampling variance); then pairs (z, 1 - z), k from the size law truncated to the other sizes and
    k ones at random places, drawn with replacement until they hold ``plan.n_sampled`` distinct rows
    (as shap does: a pattern drawn again costs no model call), each drawn row with weight
    ``plan.sampled_mass / (rows drawn)``, clustered by pair. The weighted objective
    sum_i w_i (y_i - f(0) - z_i^T phi)^2 then estimates, for every phi, KernelSHAP's population
    objective, so its constrained minimiser has the same limit, the Shapley values (the theory page
    on designs). With n >= 2^d every pattern is enumerated: the fit is exact.

    Rows drawn twice appear twice; the distinct rows, ``np.unique(z, axis=0)``, are the model calls
    (at most n).
    """
    plan = enumeration_plan(n, d, size_law)
    q = _size_law(d, size_law)
    ends = np.array([np.ones(d), np.zeros(d)], dtype=np.uint8)
    blocks = [patterns_with_ones(d, k) for k in plan.enumerated]
    fixed_z = np.concatenate([ends] + blocks)
    fixed_w = np.concatenate([np.zeros(2)] + [np.full(b.shape[0], q[k] / b.shape[0])
                                             for k, b in zip(plan.enumerated, blocks)])
    if plan.n_sampled:
        law = np.zeros(d + 1)
        law[list(plan.sampled)] = q[list(plan.sampled)]
        drawn = _distinct_pairs(plan.n_sampled, d, law / law.sum(), as_generator(rng), 50 * plan.n_sampled + 100)
    else:
        drawn = np.zeros((0, d), dtype=np.uint8)
    nf, m = fixed_z.shape[0], drawn.shape[0]
    z = np.concatenate([fixed_z, drawn])
    weights = np.concatenate([fixed_w, np.full(m, plan.sampled_mass / max(m, 1))])
    clusters = np.concatenate([np.arange(nf), nf + np.arange(m) // 2])
    fixed = np.arange(z.shape[0]) < nf
    return DesignSample(z, weights, clusters=clusters, fixed=fixed)
