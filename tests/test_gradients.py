"""Integrated gradients (THEORY.md section 5): quadrature, completeness, oracles, LIME-IG.

Oracles: Euler-Maclaurin's exact error of each rule on a cubic path, the closed form of IG for
f = exp(w.x), scipy.integrate.quad on a hand-derived gradient, and the exact LIME limit
(enumeration of {0,1}^d) for linear and smooth non-linear models.
"""
from __future__ import annotations

import math
import zlib
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
import pytest
from scipy import integrate

from limetheory.gradients import (
    METHODS,
    IGResult,
    compare_lime_ig,
    integrated_gradients,
    quadrature,
    superpixel_sums,
)
from limetheory.segmentation import grid, replacement_image
from stats_bounds import quantile

RNG = np.random.default_rng(20210607)  # module-level constants only; tests use the `rng` fixture


@pytest.fixture
def rng(request):
    """A generator seeded by the test's name: the same draws whatever tests run, in any order."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def f64(a):
    """A float64 JAX array (models close over these, not over NumPy arrays: see the docs)."""
    with jax.enable_x64(True):
        return jnp.asarray(a, dtype=jnp.float64)


# --------------------------------------------------------------------------- quadrature
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [2, 3, 10, 50])
def test_quadrature_weights_sum_to_one_nodes_in_unit_interval(method, n):
    alpha, w = quadrature(n, method)
    assert alpha.shape == w.shape == (n,)
    assert np.all((alpha >= 0) & (alpha <= 1)) and np.all(w > 0)
    assert abs(w.sum() - 1.0) < 1e-14


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_gauss_legendre_exact_for_degree_2n_minus_1(n):
    alpha, w = quadrature(n, "gausslegendre")
    for p in range(2 * n):
        assert abs(np.dot(w, alpha**p) - 1.0 / (p + 1)) < 1e-13
    # degree 2n: the error is the classical (n!)^4 / ((2n+1) ((2n)!)^2) (the rule has n points)
    if n <= 5:
        err = 1.0 / (2 * n + 1) - np.dot(w, alpha ** (2 * n))
        expected = math.factorial(n) ** 4 / ((2 * n + 1) * math.factorial(2 * n) ** 2)
        assert err == pytest.approx(expected, rel=1e-8)


# --------------------------------------------------------------------------- oracle 1: cubic path
CUBIC_SHAPE = (5, 4, 3)
CUBIC_C, CUBIC_A = RNG.normal(size=CUBIC_SHAPE), RNG.normal(size=CUBIC_SHAPE)
_CJ, _AJ = f64(CUBIC_C), f64(CUBIC_A)


def cubic(x):
    """f(x) = sum c x^3 + a x^2: along a straight path g(t) is a cubic, g'(t) a quadratic."""
    return jnp.sum(_CJ * x**3 + _AJ * x**2)


def _predicted_gap(method, n, c, a, x, b):
    """Euler-Maclaurin, exact for the quadratic h(t) = g'(t), g(t) = f(b + t (x - b)).

    left: -s/2 dh + s^2/12 dh';  right: +s/2 dh + s^2/12 dh';  middle: -s^2/24 dh';
    trapezoid: s^2/12 dh' (s = 1/(n-1));  Gauss-Legendre: 0 for n >= 2, midpoint for n = 1.
    """
    dlt = x - b

    def h(t):
        p = b + t * dlt
        return np.sum(3 * c * dlt * p**2 + 2 * a * dlt * p)

    def dh(t):
        p = b + t * dlt
        return np.sum(6 * c * dlt**2 * p + 2 * a * dlt**2)

    d0, d1 = h(1) - h(0), dh(1) - dh(0)
    s = 1.0 / n
    if method == "riemann_left":
        return -s / 2 * d0 + s**2 / 12 * d1
    if method == "riemann_right":
        return s / 2 * d0 + s**2 / 12 * d1
    if method == "riemann_middle":
        return -(s**2) / 24 * d1
    if method == "riemann_trapezoid":
        return d1 / (12 * (n - 1) ** 2)
    return 0.0 if n > 1 else -d1 / 24  # Gauss-Legendre; one point is the midpoint rule


@pytest.mark.parametrize(
    "method, n", [(m, n) for m in METHODS for n in (1, 2, 7, 20) if not (m == "riemann_trapezoid" and n == 1)]
)
def test_completeness_gap_is_the_predicted_quadrature_error(method, n, rng):
    c, a = CUBIC_C, CUBIC_A
    x, b = rng.uniform(-1, 1, CUBIC_SHAPE), rng.uniform(-1, 1, CUBIC_SHAPE)
    r = integrated_gradients(cubic, x, b, n_steps=n, method=method)
    expected = _predicted_gap(method, n, c, a, x, b)
    assert r.completeness_gap == pytest.approx(expected, abs=1e-11)
    # f(x) and f(b) are the true values
    assert r.f_x == pytest.approx(np.sum(c * x**3 + a * x**2), abs=1e-12)
    assert r.f_baseline == pytest.approx(np.sum(c * b**3 + a * b**2), abs=1e-12)
    assert r.total - (r.f_x - r.f_baseline) == pytest.approx(r.completeness_gap, abs=1e-14)


# --------------------------------------------------------------------------- oracle 2: closed form
def test_closed_form_for_exponential_of_linear_score(rng):
    """f = exp(w.x): IG_u = (x_u - b_u) w_u (e^{w.x} - e^{w.b}) / (w.(x - b))."""
    shape = (6, 6, 3)
    w = rng.normal(size=shape) / 6
    x, b = rng.uniform(size=shape), np.zeros(shape)
    wj = f64(w)
    f = lambda im: jnp.exp(jnp.sum(wj * im))
    sx, sb = np.sum(w * x), np.sum(w * b)
    exact = (x - b) * w * (np.exp(sx) - np.exp(sb)) / (sx - sb)
    r = integrated_gradients(f, x, b, n_steps=16, method="gausslegendre")
    assert np.max(np.abs(r.attributions - exact)) < 1e-13 * np.max(np.abs(exact)) + 1e-15
    assert abs(r.completeness_gap) < 1e-12
    # the Riemann rules converge to the same thing, at their own rate
    r = integrated_gradients(f, x, b, n_steps=200, method="riemann_middle")
    assert np.max(np.abs(r.attributions - exact)) < 1e-4 * np.max(np.abs(exact))


# --------------------------------------------------------------------------- oracle 3: scipy quad
def test_agrees_with_scipy_quad_on_an_independent_gradient(rng):
    """f(x) = softplus(w.x) + sum v sin(x): gradient written by hand in NumPy, quad per pixel."""
    shape = (2, 3, 2)
    w, v = rng.normal(size=shape), rng.normal(size=shape)
    x, b = rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape)
    wj, vj = f64(w), f64(v)
    f = lambda im: jax.nn.softplus(jnp.sum(wj * im)) + jnp.sum(vj * jnp.sin(im))

    def grad_np(p):
        return w / (1 + np.exp(-np.sum(w * p))) + v * np.cos(p)

    expected = np.empty(shape)
    for u in np.ndindex(shape):
        val, _ = integrate.quad(lambda t: grad_np(b + t * (x - b))[u], 0.0, 1.0, epsabs=1e-14, epsrel=1e-13)
        expected[u] = (x - b)[u] * val
    r = integrated_gradients(f, x, b, n_steps=30)
    np.testing.assert_allclose(r.attributions, expected, rtol=1e-11, atol=1e-13)


# --------------------------------------------------------------------------- convergence
def test_gauss_legendre_converges_faster_than_trapezoid(rng):
    """Smooth (analytic) path: trapezoid error ~ C/(n-1)^2, Gauss-Legendre geometric."""
    shape = (8, 8, 3)
    w = rng.normal(size=shape) / 8
    wj = f64(w)
    f = lambda im: jnp.tanh(jnp.sum(wj * im)) + 0.5 * jnp.sum(jnp.sin(3 * wj * im))
    x, b = rng.uniform(size=shape), np.zeros(shape)
    gap = {
        (m, n): abs(integrated_gradients(f, x, b, n_steps=n, method=m).completeness_gap)
        for m in ("riemann_trapezoid", "gausslegendre")
        for n in (6, 11, 21)
    }
    # trapezoid: second order, the error falls by ((21-1)/(11-1))^2 = 4 when the step halves
    ratio = gap["riemann_trapezoid", 11] / gap["riemann_trapezoid", 21]
    assert 3.5 < ratio < 4.5
    assert gap["riemann_trapezoid", 21] > 1e-6
    # Gauss-Legendre: already at rounding level with 11 points, far below the trapezoid
    assert gap["gausslegendre", 11] < 1e-12
    assert gap["gausslegendre", 6] < 1e-3 * gap["riemann_trapezoid", 6]


# --------------------------------------------------------------------------- mechanics
def test_chunking_does_not_change_the_result_and_compiles_once(rng):
    shape = (7, 5, 3)
    traces = []
    w = f64(rng.normal(size=shape))

    def f(im):
        traces.append(1)  # runs only while JAX traces f
        return jnp.sum(jnp.tanh(w * im))

    x, b = rng.uniform(size=shape), rng.uniform(size=shape)
    ref = integrated_gradients(f, x, b, n_steps=23, internal_batch_size=23).attributions
    for bs in (1, 4, 7, 100):
        out = integrated_gradients(f, x, b, n_steps=23, internal_batch_size=bs).attributions
        np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-15)
    n_traces = len(traces)
    again = integrated_gradients(f, x + 0.1, b, n_steps=23, internal_batch_size=7)
    assert len(traces) == n_traces, "a second call with the same f, shapes and chunks must not retrace"
    assert isinstance(again, IGResult) and again.attributions.shape == shape


def test_target_picks_one_score_and_matches_the_scalar_function(rng):
    shape = (6, 6)
    w1, w2 = f64(rng.normal(size=shape)), f64(rng.normal(size=shape))
    scores = lambda im: jnp.stack([jnp.sum(w1 * im) ** 2, jnp.sum(jnp.sin(w2 * im))])
    second = lambda im: jnp.sum(jnp.sin(w2 * im))
    x, b = rng.uniform(size=shape), np.zeros(shape)
    r_vec = integrated_gradients(scores, x, b, n_steps=12, target=1)
    r_sc = integrated_gradients(second, x, b, n_steps=12)
    np.testing.assert_allclose(r_vec.attributions, r_sc.attributions, rtol=1e-14, atol=1e-16)
    assert r_vec.target == 1 and r_sc.target is None
    assert r_vec.f_x == pytest.approx(r_sc.f_x, abs=1e-14)
    r0 = integrated_gradients(scores, x, b, n_steps=12, target=0)
    assert not np.allclose(r0.attributions, r_vec.attributions)


def test_result_is_frozen_numpy_float64_with_frame(rng):
    f = lambda im: jnp.sum(im**2)
    x = rng.uniform(size=(4, 4, 3))
    r = integrated_gradients(f, x, np.zeros_like(x), n_steps=5, method="riemann_middle")
    assert isinstance(r.attributions, np.ndarray) and r.attributions.dtype == np.float64
    with pytest.raises(AttributeError):
        r.n_steps = 3  # frozen
    df = r.to_frame()
    assert list(df["method"]) == ["riemann_middle"] and df["completeness_gap"].iloc[0] == r.completeness_gap
    assert r.relative_gap() == pytest.approx(abs(r.completeness_gap) / abs(r.f_x - r.f_baseline))


def test_float32_mode_computes_in_single_precision_within_its_rounding_floor(rng):
    shape = (16, 16, 3)
    w = rng.normal(size=shape).astype(np.float32) / 16  # float32 NumPy constants: safe in both modes
    f = lambda im: jnp.tanh(jnp.sum(w * im))
    x, b = rng.uniform(size=shape), np.zeros(shape)
    r64 = integrated_gradients(f, x, b, n_steps=20)
    r32 = integrated_gradients(f, x, b, n_steps=20, dtype="float32")
    assert r32.dtype == "float32" and r32.attributions.dtype == np.float64
    err = np.max(np.abs(r32.attributions - r64.attributions))
    scale = np.max(np.abs(r64.attributions))
    # single precision, not double: each attribution (x_u - b_u) w_u sum_k w_k (1 - tanh^2 s_k) carries
    # the float32 error of s_k = sum of x.size products, which by the probabilistic rounding bound
    # (Higham & Mary 2019; failure probability <= 1e-3 at lambda = quantile(1e-3)) is
    # |ds| <= lambda sqrt(x.size) u32 sum|w x|; through 1 - tanh^2 that is a relative error
    # 2 |tanh s| |ds| <= 2 |ds|, plus a rounding per path point and per factor: (n_steps + 4) u32
    u32 = np.finfo(np.float32).eps / 2
    ds = quantile(1e-3) * np.sqrt(x.size) * u32 * np.sum(np.abs(w * x))
    assert 0 < err <= (2 * ds + (20 + 4) * u32) * scale
    # the documented rounding floor of the gap, 1e-7 sqrt(x.size) max|IG_u|, is the sd of a sum of
    # x.size independent roundings: a normal band of it (0.1%) on top of float64's gap
    floor = 1e-7 * np.sqrt(x.size) * scale
    assert abs(r32.completeness_gap - r64.completeness_gap) < quantile(1e-3) * floor
    assert abs(r64.completeness_gap) < 1e-12


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"baseline": np.zeros((3, 3))}, ValueError, "baseline"),
        ({"x": np.full((4, 4, 3), np.nan)}, ValueError, "x"),
        ({"baseline": np.full((4, 4, 3), np.inf)}, ValueError, "baseline"),
        ({"x": np.array([["a"]])}, TypeError, "x"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"n_steps": 2.5}, ValueError, "n_steps"),
        ({"n_steps": 1, "method": "riemann_trapezoid"}, ValueError, "n_steps"),
        ({"method": "simpson"}, ValueError, "method"),
        ({"internal_batch_size": 0}, ValueError, "internal_batch_size"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"f": "not a function"}, TypeError, "f"),
        ({"f": lambda im: jnp.stack([im.sum(), im.max()])}, ValueError, "target"),
        ({"f": lambda im: jnp.stack([im.sum(), im.max()]), "target": 2}, ValueError, "target"),
        ({"f": lambda im: jnp.stack([im.sum(), im.max()]), "target": 1.0}, TypeError, "target"),
        ({"target": 0}, ValueError, "1-D"),
    ],
)
def test_validation(kwargs, exc, word):
    args = {"f": lambda im: jnp.sum(im), "x": np.ones((4, 4, 3)), "baseline": np.zeros((4, 4, 3))}
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        integrated_gradients(args.pop("f"), args.pop("x"), args.pop("baseline"), **args)


# --------------------------------------------------------------------------- superpixel sums
def test_superpixel_sums_matches_a_loop_and_keeps_the_total(rng):
    seg = grid((9, 10), 3, 2)
    for attr in (rng.normal(size=(9, 10, 3)), rng.normal(size=(9, 10))):
        s = superpixel_sums(attr, seg)
        assert s.shape == (6,)
        for j in range(6):
            assert s[j] == pytest.approx(attr[seg == j].sum(), abs=1e-12)
        assert s.sum() == pytest.approx(attr.sum(), abs=1e-12)
    # non-contiguous labels are relabelled in order
    np.testing.assert_allclose(superpixel_sums(attr, 10 * seg + 5), superpixel_sums(attr, seg))
    with pytest.raises(ValueError, match="segments"):
        superpixel_sums(np.ones((9, 10, 3)), np.zeros((9, 9), dtype=int))
    with pytest.raises(ValueError, match="attributions"):
        superpixel_sums(np.ones(9), seg)


# --------------------------------------------------------------------------- LIME <-> IG
def _small_image(rng, h=12, w=12, rows=3, cols=4):
    img = rng.uniform(0.0, 1.0, size=(h, w, 3))
    return img, grid(img.shape, rows, cols)


def test_linear_model_ig_sums_equal_lime_limit(rng):
    """THEORY.md section 4: beta_j = sum_{u in J_j} lambda_u (xi_u - xi_bar_u) = sum_{u in J_j} IG_u."""
    from limetheory.analytic import LinearModel

    img, seg = _small_image(rng)
    weights = rng.normal(size=img.shape)
    wj = f64(weights)
    f = lambda im: jnp.sum(wj * im)
    for hide_color in (None, 0.3):
        xbar = replacement_image(img, seg, hide_color)
        sums = superpixel_sums(integrated_gradients(f, img, xbar, n_steps=2).attributions, seg)
        beta = np.asarray(LinearModel(weights).limit_explanation(img, seg, hide_color=hide_color))
        np.testing.assert_allclose(sums, beta[1:], rtol=0, atol=1e-10)
        assert beta[0] == pytest.approx(np.sum(weights * xbar), abs=1e-10)


def test_compare_exact_limit_on_linear_model_is_exact(rng):
    img, seg = _small_image(rng, 10, 10, 2, 4)
    weights = rng.normal(size=img.shape)
    wj = f64(weights)
    f = lambda im: jnp.sum(wj * im) + 0.7
    cmp = compare_lime_ig(img, f, seg, limit="exact", n_steps=3, ks=(3, 5))
    assert cmp.relative_error < 1e-10
    assert cmp.spearman == pytest.approx(1.0) and cmp.jaccard == {3: 1.0, 5: 1.0}
    xbar = replacement_image(img, seg)
    assert cmp.lime_intercept == pytest.approx(np.sum(weights * xbar) + 0.7, abs=1e-10)
    df = cmp.to_frame()
    assert list(df.columns) == ["superpixel", "lime_coef", "lime_se", "ig_sum", "lime_rank", "ig_rank"]
    assert np.all(cmp.lime_se == 0.0)  # the exact limit has no sampling error
    assert (df["lime_rank"] == df["ig_rank"]).all()


def test_compare_empirical_weighted_least_squares_recovers_linear_model(rng):
    """THEORY.md section 4: with ridge=0 LIME is exact on a linear model for any n >= d+1."""
    img, seg = _small_image(rng, 10, 10, 2, 4)
    wj = f64(rng.normal(size=img.shape))
    f = lambda im: jnp.stack([jnp.sum(wj * im), jnp.sum(im)])
    cmp = compare_lime_ig(img, f, seg, target=0, limit="empirical", n_samples=200, n_runs=2, ridge=0.0, seed=3)
    assert cmp.limit == "empirical" and cmp.n_runs == 2 and cmp.n_samples == 200
    assert cmp.relative_error < 1e-8 and np.max(cmp.lime_se) < 1e-8  # exact fit: no sampling error
    # with lime's ridge (lambda = 1) the coefficients shrink, but the ranking survives
    cmp1 = compare_lime_ig(img, f, seg, target=0, limit="empirical", n_samples=1000, seed=3)
    assert 1e-8 < cmp1.relative_error < 0.2 and cmp1.spearman > 0.9


def test_compare_empirical_standard_error_measures_the_distance_to_the_limit(rng):
    """The mean of R runs lands within a few of its standard errors of the exact limit."""
    img, seg = _small_image(rng, 10, 10, 2, 4)
    wj = f64(rng.normal(size=img.shape) / 30.0)
    f = lambda im: jnp.tanh(jnp.sum(wj * im))
    exact = compare_lime_ig(img, f, seg, limit="exact", n_steps=8)
    emp = compare_lime_ig(img, f, seg, limit="empirical", n_samples=1000, n_runs=4, ridge=0.0, seed=5, n_steps=8)
    assert np.all(emp.lime_se > 0)
    z = np.abs(emp.lime_coef - exact.lime_coef) / emp.lime_se
    assert z.max() < stats.norm.ppf(1 - 0.001 / (2 * z.size)), z  # Bonferroni over the d coefficients, 0.1%


def test_compare_validation(rng):
    img, seg = _small_image(rng, 8, 8, 2, 2)
    f = lambda im: jnp.sum(im)
    with pytest.raises(ValueError, match="limit"):
        compare_lime_ig(img, f, seg, limit="asymptotic")
    with pytest.raises(ValueError, match="max_exact_d"):
        compare_lime_ig(img, f, seg, limit="exact", max_exact_d=3)


# Smooth non-linear models: IG sums and the exact LIME limit agree as the model approaches a
# linear one and drift apart as the curvature grows. The discrepancy is measured by
# ||beta - s|| / ||s|| (s: IG sums). Both beta and s are linear in f and agree on linear f
# (THEORY.md section 4), so for f_a = const + lin + a^p c + O(a^(p+1)) the discrepancy is
# a^p ||D(c)|| / ||s(lin)|| (1 + O(a)), D(g) = beta(g) - s(g): the first-order prediction, computed
# exactly (Gauss-Legendre with 32 points integrates the polynomial gradients of lin and c exactly).
# Values on the same kind of models (d = 12, nu = 0.25) are in docs/gradients.md.
LOGISTIC_TEMPERATURES = (0.01, 0.3, 1.0, 2.0, 4.0)
MLP_SCALES = (0.01, 0.3, 1.0, 2.0, 4.0, 8.0)


def _logistic(w, temperature):
    """sigmoid(T (w.(x - 1/2)) + 0.3) / T: slope at the image ~ independent of T, curvature ~ T."""
    return lambda im: jax.nn.sigmoid(temperature * jnp.sum(w * (im - 0.5)) + 0.3) / temperature


def _mlp(w1, w2, scale):
    """One hidden tanh layer; inputs scaled by ``scale`` and the output by 1/scale."""
    return lambda im: jnp.dot(jnp.tanh(scale * (jnp.ravel(im) - 0.5) @ w1), w2) / scale


def _sweep(models, img, seg):
    return [compare_lime_ig(img, f, seg, limit="exact", n_steps=32, ks=(3, 5)) for f in models]


def _first_order(img, seg, lin, term):
    """||D(term)|| / ||s(lin)||: the first-order discrepancy per unit a^p (see above)."""
    t, lin = (compare_lime_ig(img, g, seg, limit="exact", n_steps=32, ks=(3, 5)) for g in (term, lin))
    return np.linalg.norm(t.lime_coef - t.ig_sums) / np.linalg.norm(lin.ig_sums)


def _assert_drift(rel, predicted, remainder):
    """rel[0] (the most nearly linear model) is its first-order prediction within the relative Taylor
    remainder ``remainder``; the discrepancy then grows strictly with the curvature."""
    rel = np.asarray(rel)
    assert abs(rel[0] - predicted) <= remainder * predicted, (rel[0], predicted)
    assert np.all(np.diff(rel) > 0), rel


def test_logistic_lime_limit_drifts_from_ig_sums_as_temperature_grows(rng):
    img, seg = _small_image(rng)
    w = f64(rng.normal(size=img.shape) / np.sqrt(img.size))
    res = _sweep([_logistic(w, t) for t in LOGISTIC_TEMPERATURES], img, seg)
    # f_T = sigmoid(0.3)/T + sigmoid'(0.3) L + T sigmoid''(0.3) L^2 / 2 + O(T^2), L = w.(x - 1/2): p = 1,
    # relative remainder O(T) (even and odd terms); bounded by 10 T (|L| < 1 here, stated constant)
    s = float(jax.nn.sigmoid(0.3))
    d1, d2 = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    lin = lambda im: jnp.sum(w * (im - 0.5))
    per_t = abs(d2 / 2) / d1 * _first_order(img, seg, lin, lambda im: lin(im) ** 2)
    t0 = LOGISTIC_TEMPERATURES[0]
    _assert_drift([r.relative_error for r in res], per_t * t0, remainder=10 * t0)
    # a single-index model: IG sums are proportional to the linear coefficients, and LIME's
    # limit keeps their ranking over this range
    assert min(r.spearman for r in res) > 0.95


def test_mlp_lime_limit_drifts_from_ig_sums_as_scale_grows(rng):
    img, seg = _small_image(rng)
    w1 = f64(rng.normal(size=(img.size, 16)) / np.sqrt(img.size))
    w2 = f64(rng.normal(size=16) / 4)
    res = _sweep([_mlp(w1, w2, a) for a in MLP_SCALES], img, seg)
    # tanh(t) = t - t^3/3 + O(t^5): f_a = h.w2 - a^2 (h^3).w2 / 3 + O(a^4), h = (x - 1/2) w1: p = 2,
    # relative remainder O(a^2); bounded by 10 a^2 (stated constant)
    h = lambda im: (jnp.ravel(im) - 0.5) @ w1
    per_a2 = _first_order(img, seg, lambda im: jnp.dot(h(im), w2), lambda im: jnp.dot(h(im) ** 3, w2) / 3)
    a0 = MLP_SCALES[0]
    _assert_drift([r.relative_error for r in res], per_a2 * a0**2, remainder=10 * a0**2)
    near_linear = [r for a, r in zip(MLP_SCALES, res) if a <= 1.0]
    assert all(r.spearman > 0.98 and r.jaccard[3] == 1.0 for r in near_linear)


def test_cnn_lime_limit_close_to_ig_sums_when_nearly_linear(rng):
    img, seg = _small_image(rng)
    k1 = f64(rng.normal(size=(3, 3, 3, 4)) / 3)  # HWIO
    w2 = f64(rng.normal(size=(4,)))

    def conv(im):
        return jax.lax.conv_general_dilated((im - 0.5)[None], k1, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def cnn(scale):
        return lambda im: jnp.dot(jnp.mean(jnp.tanh(scale * conv(im)), axis=(0, 1, 2)), w2) / scale

    scales = (0.05, 1.0, 4.0)
    res = _sweep([cnn(a) for a in scales], img, seg)
    # as for the MLP (tanh is odd): p = 2, first-order term -(mean h^3).w2 / 3, h = conv(x - 1/2),
    # relative remainder bounded by 10 a^2 (stated constant)
    per_a2 = _first_order(img, seg, lambda im: jnp.dot(jnp.mean(conv(im), axis=(0, 1, 2)), w2),
                          lambda im: jnp.dot(jnp.mean(conv(im) ** 3, axis=(0, 1, 2)), w2) / 3)
    _assert_drift([r.relative_error for r in res], per_a2 * scales[0] ** 2, remainder=10 * scales[0] ** 2)
    assert res[0].spearman > 0.98
