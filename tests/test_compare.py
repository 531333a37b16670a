"""LIME next to integrated gradients (docs/theory/lime_and_ig.md): limetheory.compare.

Oracles: the exact LIME limit (enumeration of {0,1}^d) and the closed-form limit of a linear model;
for a linear f the limit equals the IG superpixel sums, for smooth f they drift apart with curvature.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from limetheory.compare import CompareSettings, compare_empirical, compare_limit
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.segmentation import grid, replacement_image
from jax_helpers import f64


def _small_image(rng, h=12, w=12, rows=3, cols=4):
    img = rng.uniform(0.0, 1.0, size=(h, w, 3))
    return img, grid(img.shape, rows, cols)


def test_linear_model_ig_sums_equal_lime_limit(rng):
    """docs/theory/closed_forms.md, *Linear models*: beta_j = sum_{u in J_j} lambda_u (xi_u - xi_bar_u)
    = sum_{u in J_j} IG_u."""
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
    cmp = compare_limit(img, f, seg, settings=CompareSettings(n_steps=3, ks=(3, 5)))
    assert cmp.relative_error < 1e-10
    assert cmp.spearman == pytest.approx(1.0) and cmp.jaccard == {3: 1.0, 5: 1.0}
    xbar = replacement_image(img, seg)
    assert cmp.lime_intercept == pytest.approx(np.sum(weights * xbar) + 0.7, abs=1e-10)
    df = cmp.to_frame()
    assert list(df.columns) == ["superpixel", "lime_coef", "lime_se", "ig_sum", "lime_rank", "ig_rank"]
    assert np.all(cmp.lime_se == 0.0)  # the exact limit has no sampling error
    assert (df["lime_rank"] == df["ig_rank"]).all()


def test_compare_empirical_weighted_least_squares_recovers_linear_model(rng):
    """docs/theory/closed_forms.md, *Linear models*: with ridge=0 LIME is exact on a linear model for any n >= d+1."""
    img, seg = _small_image(rng, 10, 10, 2, 4)
    wj = f64(rng.normal(size=img.shape))
    f = lambda im: jnp.stack([jnp.sum(wj * im), jnp.sum(im)])
    cmp = compare_empirical(img, f, seg, target=0, settings=CompareSettings(n_samples=200, n_runs=2, ridge=0.0),
                            seed=3)
    assert cmp.limit == "empirical" and cmp.n_runs == 2 and cmp.n_samples == 200
    assert cmp.relative_error < 1e-8 and np.max(cmp.lime_se) < 1e-8  # exact fit: no sampling error
    # with lime's ridge (lambda = 1) the coefficients shrink, but the ranking survives
    cmp1 = compare_empirical(img, f, seg, target=0, settings=CompareSettings(n_samples=1000), seed=3)
    assert 1e-8 < cmp1.relative_error < 0.2 and cmp1.spearman > 0.9


def test_compare_empirical_standard_error_measures_the_distance_to_the_limit(rng):
    """The mean of R runs lands within a few of its standard errors of the exact limit."""
    img, seg = _small_image(rng, 10, 10, 2, 4)
    wj = f64(rng.normal(size=img.shape) / 30.0)
    f = lambda im: jnp.tanh(jnp.sum(wj * im))
    exact = compare_limit(img, f, seg, settings=CompareSettings(n_steps=8))
    emp = compare_empirical(img, f, seg, settings=CompareSettings(n_samples=1000, n_runs=4, ridge=0.0, n_steps=8), seed=5)
    assert np.all(emp.lime_se > 0)
    z = np.abs(emp.lime_coef - exact.lime_coef) / emp.lime_se
    assert z.max() < stats.norm.ppf(1 - 0.001 / (2 * z.size)), z  # Bonferroni over the d coefficients, 0.1%


def test_compare_validation(rng):
    img, seg = _small_image(rng, 8, 8, 2, 2)
    f = lambda im: jnp.sum(im)
    with pytest.raises(ValueError, match="max_exact_d"):
        compare_limit(img, f, seg, max_exact_d=3)
    with pytest.raises(ValueError, match="kernel_width"):
        CompareSettings(kernel_width=0.0)
    with pytest.raises(TypeError, match="n_runs"):
        CompareSettings(n_runs=2.5)
    with pytest.raises(TypeError, match="settings"):
        compare_limit(img, f, seg, settings={"n_steps": 3})


# Smooth non-linear models: IG sums and the exact LIME limit agree as the model approaches a
# linear one and drift apart as the curvature grows. The discrepancy is measured by
# ||beta - s|| / ||s|| (s: IG sums). Both beta and s are linear in f and agree on linear f
# (docs/theory/closed_forms.md, *Linear models*), so for f_a = const + lin + a^p c + O(a^(p+1)) the discrepancy is
# a^p ||D(c)|| / ||s(lin)|| (1 + O(a)), D(g) = beta(g) - s(g): the first-order prediction, computed
# exactly (Gauss-Legendre with 32 points integrates the polynomial gradients of lin and c exactly).
# Values on the same kind of models (d = 12, nu = 0.25) are in docs/gradients.md.
LOGISTIC_TEMPERATURES = (0.01, 0.3, 1.0, 2.0, 4.0)
MLP_SCALES = (0.01, 0.3, 1.0, 2.0, 4.0, 8.0)
SWEEP = CompareSettings(n_steps=32, ks=(3, 5))  # exact limit, 32-point Gauss-Legendre IG


def _logistic(w, temperature):
    """sigmoid(T (w.(x - 1/2)) + 0.3) / T: slope at the image ~ independent of T, curvature ~ T."""
    return lambda im: jax.nn.sigmoid(temperature * jnp.sum(w * (im - 0.5)) + 0.3) / temperature


def _mlp(w1, w2, scale):
    """One hidden tanh layer; inputs scaled by ``scale`` and the output by 1/scale."""
    return lambda im: jnp.dot(jnp.tanh(scale * (jnp.ravel(im) - 0.5) @ w1), w2) / scale


def _sweep(models, img, seg):
    return [compare_limit(img, f, seg, settings=SWEEP) for f in models]


def _first_order(img, seg, lin, term):
    """||D(term)|| / ||s(lin)||: the first-order discrepancy per unit a^p (see above)."""
    t, lin = (compare_limit(img, g, seg, settings=SWEEP) for g in (term, lin))
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


def test_lime_memory_is_checked_before_a_run():
    from limetheory.pipeline import check_lime_memory, lime_memory_bytes

    # z (n x d bytes), two outputs, weights and distances (float64 each)
    assert lime_memory_bytes(1000, 10) == 1000 * 10 + 1000 * 8 * (2 + 2)
    assert check_lime_memory(1000, "n_samples", 10, 42_000) == 1000
    with pytest.raises(ValueError, match=r"n_samples = 1001 needs at least .* GiB .*\(n \(d \+ 32\) bytes with d = 10\)"):
        check_lime_memory(1001, "n_samples", 10, 42_000)
