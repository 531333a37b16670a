"""Integrated gradients (docs/theory/lime_and_ig.md): quadrature, completeness, oracles.

Oracles: Euler-Maclaurin's exact error of each rule on a cubic path, the closed form of IG for
f = exp(w.x), scipy.integrate.quad on a hand-derived gradient. LIME next to IG: test_compare.py.
"""
from __future__ import annotations

import math
import warnings
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from limetheory.gradients import (
    MAX_N_STEPS,
    METHODS,
    IGResult,
    integrated_gradients,
    quadrature,
    superpixel_sums,
)
from limetheory.segmentation import grid
from stats_bounds import quantile
from jax_helpers import f64

RNG = np.random.default_rng(20210607)  # module-level constants only; tests use the `rng` fixture


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
        ({"n_steps": 2.5}, TypeError, "n_steps"),
        ({"n_steps": 10**6}, ValueError, "n_steps must be <= 1024"),
        ({"n_steps": 10**6, "method": "riemann_left"}, ValueError, "n_steps must be <= 100000"),
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


def test_step_function_warns_that_completeness_fails():
    """f = 60 [sum x > 1.5]: its gradient is 0 wherever it exists, so IG is 0 and misses f(x) - f(b) = 60."""
    step = lambda im: 60.0 * (jnp.sum(im) > 1.5)
    with pytest.warns(UserWarning, match="completeness gap -60"):
        res = integrated_gradients(step, np.ones(3), np.zeros(3))
    assert res.total == 0.0 and res.completeness_gap == -60.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a smooth f integrated accurately: no warning
        integrated_gradients(lambda im: jnp.sum(im**3), np.ones(3), np.zeros(3), n_steps=8)
        # sum x^2 with 2 left Riemann nodes (0, 1/2): IG total 1.5 of a change of 3, a gap of exactly half
        # the change, not yet flagged (the rule: |gap| > 0.5 |f(x) - f(b)|)
        res = integrated_gradients(lambda im: jnp.sum(im**2), np.ones(3), np.zeros(3), n_steps=2,
                                   method="riemann_left")
        assert res.completeness_gap == -1.5


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


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("method", METHODS)
def test_quadrature_refuses_absurd_n_steps_before_allocating(method):
    limit = MAX_N_STEPS[method]
    alpha, w = quadrature(limit if method != "gausslegendre" else 64, method)
    assert np.sum(w) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=f"n_steps must be <= {limit}, got 1000000"):
        quadrature(10**6, method)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        quadrature(True, method)


@pytest.mark.parametrize("f, what", [
    # finite values, NaN gradient: the gradient of where() also differentiates the branch not taken
    (lambda im: jnp.sum(jnp.where(im > 2.0, jnp.sqrt(im - 2.0), 0.0)), "gradient of f is NaN or infinite"),
    # an infinite slope at 0.25, where one coordinate stays on the whole path (x_u = b_u = 0.25)
    (lambda im: jnp.sum(jnp.abs(im - 0.25) ** 0.5), "gradient of f is NaN or infinite"),
    (lambda im: jnp.sum(jnp.log(im)), "f is not finite at the endpoints"),  # log 0 at the baseline
])
def test_nan_or_infinite_gradients_raise_instead_of_returning_nan(f, what):
    x = np.full((2, 2, 1), 0.75)
    baseline = np.zeros_like(x)
    x[0, 0, 0] = baseline[0, 0, 0] = 0.25
    with pytest.raises(ValueError, match=what):
        integrated_gradients(f, x, baseline, n_steps=4)
