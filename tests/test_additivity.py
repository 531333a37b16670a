"""docs/theory/lime_and_ig.md: LIME's limit equals the IG sums for every model without interactions between
superpixels, and the non-additive share R measures what separates them (limetheory.additivity)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from limetheory import analytic, theory
from limetheory.additivity import nonadditive_share, nonadditive_share_exact
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.sampling import samples_and_weights
from limetheory.segmentation import grid, replacement_image

pytestmark = pytest.mark.usefixtures("jax_float64")  # float64 in this module only

SIDE, BLOCKS = 6, 3  # 6 x 6 grayscale image, 3 x 3 grid: d = 9
NU = 0.25


def _setup(seed):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 1.0, size=(SIDE, SIDE))
    segments = grid(image.shape, BLOCKS, BLOCKS)
    return rng, image, segments


def _additive_model(rng, segments, interaction=0.0):
    """f(x) = sum_j a_j tanh(<U_j, x> + c_j) + e_j sin(<G_j, x>) (+ interaction <U_0, x> <U_1, x>).

    U_j, G_j vanish outside superpixel j, so without the interaction f is a sum of per-superpixel
    functions, each non-linear; the interaction couples superpixels 0 and 1."""
    d = segments.max() + 1
    onehot = (segments[None] == np.arange(d)[:, None, None]).astype(float)  # (d, H, W)
    u = rng.normal(scale=2.0, size=onehot.shape) * onehot
    g = rng.normal(scale=3.0, size=onehot.shape) * onehot
    a, c, e = rng.normal(size=d), rng.normal(size=d), rng.normal(size=d)

    def f(x):
        xp = jnp if isinstance(x, jax.Array) else np
        s = xp.tensordot(x, u, axes=([-2, -1], [1, 2]))
        t = xp.tensordot(x, g, axes=([-2, -1], [1, 2]))
        out = (a * xp.tanh(s + c) + e * xp.sin(t)).sum(axis=-1)
        return out + interaction * s[..., 0] * s[..., 1]

    return f


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_limit_equals_ig_sums_without_interactions(seed):
    rng, image, segments = _setup(seed)
    f = _additive_model(rng, segments)
    d = segments.max() + 1
    beta = theory.exact_limit(analytic.response_of_z(f, image, segments), d, NU)
    baseline = replacement_image(image, segments)
    ig = integrated_gradients(f, image, baseline, n_steps=64, method="gausslegendre")
    sums = superpixel_sums(ig.attributions, segments)
    scale = np.abs(beta[1:]).max() + 1e-300
    # exact up to rounding: 64-point Gauss-Legendre integrates these entire functions along a
    # unit path to machine precision, and the limit is an exact enumeration
    np.testing.assert_allclose(beta[1:], sums, rtol=0, atol=1e-10 * max(scale, 1.0))
    share = nonadditive_share_exact(analytic.response_of_z(f, image, segments), d, NU)
    assert share[0] <= 1e-20 or np.var(beta[1:]) == 0  # affine in z: nothing left unexplained


def test_interaction_is_what_separates_them():
    rng, image, segments = _setup(3)
    f = _additive_model(rng, segments, interaction=1.0)
    d = segments.max() + 1
    beta = theory.exact_limit(analytic.response_of_z(f, image, segments), d, NU)
    ig = integrated_gradients(f, image, replacement_image(image, segments), n_steps=64)
    gap = beta[1:] - superpixel_sums(ig.attributions, segments)
    share = nonadditive_share_exact(analytic.response_of_z(f, image, segments), d, NU)[0]
    assert share > 1e-4
    # the product z_0 z_1 that the interaction adds to g(z) moves the limit of the two interacting
    # superpixels most, and every other coefficient by one common amount (the small common weight
    # that Sigma^{-1} gives a product outside its members, as for a shape detector:
    # docs/theory/closed_forms.md, *Shape detectors*)
    np.testing.assert_allclose(gap[2:], gap[2], rtol=1e-9)
    assert np.abs(gap[:2]).min() > 10 * abs(gap[2])


@pytest.mark.parametrize("sampler", ["bernoulli", "weighted"])
def test_estimate_covers_the_exact_share(sampler):
    """The cross-fitted estimate is within a Bonferroni normal band of the exact R (over 20 seeds),
    plus its documented O(d/n) upward bias (bounded by 4 (d + 1) / n * R here)."""
    rng, image, segments = _setup(5)
    f = _additive_model(rng, segments, interaction=1.0)
    d = segments.max() + 1
    f_of_z = analytic.response_of_z(f, image, segments)
    exact = nonadditive_share_exact(f_of_z, d, NU)[0]
    n, seeds = 4000, range(20)
    q = norm.isf(1e-3 / (2 * len(seeds)))
    for seed in seeds:
        z, w = samples_and_weights(n, d, NU, np.random.default_rng(seed), sampler)
        est, se = nonadditive_share(z, f_of_z(z), w, seed=seed)
        bias = 4 * (d + 1) / n * exact
        assert exact - q * se[0] <= est[0] <= exact + bias + q * se[0]


def test_linear_model_is_additive():
    rng, image, segments = _setup(1)
    lin = analytic.LinearModel(rng.normal(size=image.shape))
    share = nonadditive_share_exact(lin.response_of_z(image, segments), segments.max() + 1, NU)
    assert share[0] < 1e-20


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nonadditive_share_exact(lambda z: z[:, 0], 25), ValueError, "d must be <= 24"),
    (lambda: nonadditive_share_exact(lambda z: z[:, 0], 4, kernel_width=0), ValueError, "kernel_width"),
    (lambda: nonadditive_share_exact(lambda z: z[:, 0], True), TypeError, "d must be an integer"),
    (lambda: nonadditive_share_exact(3, 4), TypeError, "f_of_z must be callable"),
    (lambda: nonadditive_share_exact(lambda z: z[:, 0] * 1j, 4), TypeError, "real numbers"),
    (lambda: nonadditive_share_exact(lambda z: z[:, 0] / 0.0, 4), ValueError, "NaN or infinite"),
    (lambda: nonadditive_share(np.ones((10, 4)), np.ones(10), np.ones(10)), ValueError, "at least"),
    (lambda: nonadditive_share(np.ones((20, 4)), np.ones(19), np.ones(20)), ValueError, "same number of rows"),
])
def test_bad_input(call, exc, match):
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(exc, match=match):
        call()
