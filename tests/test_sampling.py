"""limetheory.sampling's documented conventions, value by value: the cosine distance to z = 1 (scikit-learn's,
which lime calls), the kernel's default width (lime's), the unperturbed image as row 0 of a draw and the
draw's dtype. The laws of the draws are checked elsewhere (test_uncertainty.py, test_theory.py,
test_designs.py); here every check is exact, or fails a correct implementation with a stated,
negligible probability at its fixed seed.
"""
import inspect

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from limetheory.kernel import weighted_law
from limetheory.sampling import bernoulli_samples, cosine_distance_to_ones, kernel_weights, weighted_samples


def _z(rng, m, d):
    z = rng.integers(0, 2, (m, d)).astype(np.uint8)
    z[0], z[1] = 1, 0  # the unperturbed image and the all-hidden sample
    return z


def test_cosine_distance_to_ones_is_scikit_learns():
    """lime computes pairwise_distances(z, z[0], metric="cosine") with z[0] = 1; a zero row has distance 1."""
    rng = np.random.default_rng(3)
    for d in (1, 2, 7, 30):
        z = _z(rng, 40, d)
        ref = pairwise_distances(z.astype(float), np.ones((1, d)), metric="cosine").ravel()
        got = cosine_distance_to_ones(z)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got, 1.0 - np.sqrt(z.sum(axis=1) / d), rtol=0, atol=1e-15)
        assert got[0] == 0.0 and got[1] == 1.0
    # boolean and 0/1 float rows are the same patterns
    z = _z(rng, 10, 5)
    np.testing.assert_array_equal(cosine_distance_to_ones(z.astype(bool)), cosine_distance_to_ones(z.astype(float)))


def test_kernel_weights_default_width_is_limes():
    """kernel_weights(z) without a width uses lime's default kernel_width (0.25, read from lime's signature)."""
    from lime import lime_image

    lime_width = inspect.signature(lime_image.LimeImageExplainer.__init__).parameters["kernel_width"].default
    z = _z(np.random.default_rng(5), 50, 9)
    dist = pairwise_distances(z.astype(float), np.ones((1, 9)), metric="cosine").ravel()
    expected = np.sqrt(np.exp(-(dist**2) / lime_width**2))  # lime's kernel
    np.testing.assert_allclose(kernel_weights(z), expected, rtol=1e-12)
    np.testing.assert_array_equal(kernel_weights(z), kernel_weights(z, lime_width))
    assert kernel_weights(z)[0] == 1.0


@pytest.mark.parametrize("bad", [np.ones(5), np.ones((2, 3, 4)), np.ones((0, 4)), np.array(1.0)])
def test_kernel_weights_refuses_what_is_not_an_m_by_d_array(bad):
    with pytest.raises(ValueError, match="z must be a non-empty"):
        kernel_weights(bad, 0.25)


@pytest.mark.parametrize("draw", [
    lambda n, d, rng, **kw: bernoulli_samples(n, d, rng, **kw),
    lambda n, d, rng, **kw: weighted_samples(n, d, 0.25, rng, **kw),
], ids=["bernoulli", "weighted"])
def test_draws_put_the_unperturbed_image_first_by_default(draw):
    """Row 0 is z = 1 by default (as in lime), also when it is the only row; an empty draw is empty; the
    draws are (n, d) uint8 arrays of 0/1. ``first_row_ones=False`` draws row 0 like every other row: with
    d = 40 a drawn row is all ones with probability 2^-40 (Bernoulli) or q_40 = 2^-40 / alpha_0 (the
    weighted law, 1.8e-12 at width 0.25; asserted below), so the fixed seeds below fail a correct
    implementation with probability below 1e-10."""
    d = 40
    assert weighted_law(d, 0.25)[0][-1] < 2e-12
    for n in (1, 2, 50):
        z = draw(n, d, np.random.default_rng(n))
        assert z.shape == (n, d) and z.dtype == np.uint8
        assert np.all(z[0] == 1)
        assert set(np.unique(z[1:]).tolist()) <= {0, 1}
    assert draw(0, d, np.random.default_rng(0)).shape == (0, d)
    assert draw(0, d, np.random.default_rng(0), first_row_ones=False).shape == (0, d)
    for seed in range(3):
        z = draw(3, d, np.random.default_rng(seed), first_row_ones=False)
        assert z.dtype == np.uint8 and not np.all(z[0] == 1)
    # the rows after the first are the draw's own: not all ones either (same probability bound)
    z = draw(50, d, np.random.default_rng(7))
    assert not np.any(np.all(z[1:] == 1, axis=1))
