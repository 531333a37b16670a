"""Exact Shapley, Banzhaf and occlusion values: the axioms (hypothesis), and the limits of LIME they are."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from limetheory import theory as th

FLOATS = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
METHODS = {"shapley": th.exact_shapley, "banzhaf": th.exact_banzhaf}


@st.composite
def games(draw, d_min=1, d_max=6, k=None):
    """A random game: d and a table of 2^d values (one output, or k)."""
    d = draw(st.integers(d_min, d_max))
    shape = (1 << d,) if k is None else (1 << d, k)
    return d, draw(arrays(np.float64, shape, elements=FLOATS))


def bits(d):
    return th.all_patterns(d).astype(np.int64)


def definition_shapley(values, d):
    """Shapley's formula, one coalition at a time (the reference the vectorised sum is checked against)."""
    z = bits(d)
    out = np.zeros(d)
    for j in range(d):
        for i in np.flatnonzero(z[:, j] == 0):
            s = int(z[i].sum())
            out[j] += math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d) * (values[i | (1 << j)] - values[i])
    return out


@given(games())
def test_shapley_equals_its_definition(game):
    d, values = game
    np.testing.assert_allclose(th.exact_shapley(th.ResponseTable(values)), definition_shapley(values, d),
                               rtol=1e-12, atol=1e-12 * (1 + np.abs(values).max()))


@given(games(k=3))
def test_efficiency(game):
    """sum_j phi_j = g(1) - g(0) for Shapley; for occlusion and Banzhaf only on additive games."""
    d, values = game
    phi = th.exact_shapley(th.ResponseTable(values))
    assert phi.shape == (3, d)
    np.testing.assert_allclose(phi.sum(axis=1), values[-1] - values[0], atol=1e-12 * (1 + np.abs(values).max()) * d)


@given(games(d_min=2), st.data())
def test_symmetry(game, data):
    """Players i and j that the game treats alike (g symmetric under swapping z_i, z_j) get equal values."""
    d, values = game
    i, j = data.draw(st.permutations(range(d)))[:2]
    z = bits(d)
    swapped = z.copy()
    swapped[:, [i, j]] = z[:, [j, i]]
    sym = 0.5 * (values + values[th.pattern_index(swapped)])
    for name, method in METHODS.items():
        phi = method(th.ResponseTable(sym))
        assert phi[i] == pytest.approx(phi[j], abs=1e-12 * (1 + np.abs(values).max())), name


@given(games(d_min=2), st.data())
def test_null_player(game, data):
    """A superpixel the game ignores gets 0 from every value (LIME at a finite width does not)."""
    d, values = game
    j = data.draw(st.integers(0, d - 1))
    z = bits(d)
    z[:, j] = 0
    ignoring_j = values[th.pattern_index(z)]
    table = th.ResponseTable(ignoring_j)
    for method in (th.exact_shapley, th.exact_banzhaf, th.exact_occlusion):
        assert method(table)[j] == 0.0


@given(games(k=2), st.floats(-3, 3))
def test_additivity_and_linearity(game, c):
    d, values = game
    g, h = values[:, 0], values[:, 1]
    for method in (th.exact_shapley, th.exact_banzhaf, th.exact_occlusion):
        both = method(th.ResponseTable(g + c * h))
        apart = method(th.ResponseTable(g)) + c * method(th.ResponseTable(h))
        np.testing.assert_allclose(both, apart, atol=1e-11 * (1 + np.abs(values).max()))


@given(st.integers(1, 8), st.data())
def test_additive_games_give_their_coefficients(d, data):
    """g(z) = b0 + sum_j b_j z_j: Shapley = Banzhaf = occlusion = b, and LIME's limit too."""
    b = data.draw(arrays(np.float64, d + 1, elements=FLOATS))
    f = lambda z: b[0] + z @ b[1:]
    table = th.ResponseTable.from_function(f, d)
    tol = 1e-12 * (1 + np.abs(b).sum())
    for method in (th.exact_shapley, th.exact_banzhaf, th.exact_occlusion):
        np.testing.assert_allclose(method(table), b[1:], atol=tol)
    np.testing.assert_allclose(th.exact_limit(table, d, 0.25)[1:], b[1:], atol=1e-9 * (1 + np.abs(b).sum()))


@given(games(k=2))
def test_several_outputs_are_the_columns(game):
    d, values = game
    table = th.ResponseTable(values)
    for method in (th.exact_shapley, th.exact_banzhaf, th.exact_occlusion):
        both = method(table)
        assert both.shape == (2, d)
        for c in range(2):
            np.testing.assert_allclose(both[c], method(th.ResponseTable(values[:, c])),  # BLAS may sum
                                       rtol=1e-13, atol=1e-14 * (1 + np.abs(values).max()))  # in another order


def test_banzhaf_is_the_difference_of_conditional_means(rng):
    """Banzhaf_j = E[g | z_j = 1] - E[g | z_j = 0] under z ~ Bernoulli(1/2)^d."""
    d = 6
    values = rng.normal(size=1 << d)
    z = bits(d).astype(bool)
    expected = [values[z[:, j]].mean() - values[~z[:, j]].mean() for j in range(d)]
    np.testing.assert_allclose(th.exact_banzhaf(th.ResponseTable(values)), expected, atol=1e-14)


def test_f_is_evaluated_once_per_pattern():
    calls = []

    def f(z):
        calls.append(th.pattern_index(z))
        return z[:, 0] * z[:, 1] + 0.5 * z[:, 2]

    d = 9
    phi = th.exact_shapley(f, d, batch_size=100)
    seen = np.concatenate(calls)
    assert np.array_equal(np.sort(seen), np.arange(1 << d))
    np.testing.assert_allclose(phi, [0.5, 0.5, 0.5] + [0.0] * (d - 3), atol=1e-15)
    calls.clear()
    np.testing.assert_allclose(th.exact_occlusion(f, d), [1, 1, 0.5] + [0.0] * (d - 3))
    assert sum(len(c) for c in calls) == d + 1  # occlusion needs z = 1 and the d patterns 1 - e_j


def test_pure_interaction_lime_weighs_superpixels_the_game_ignores():
    """g = z_0 z_1, d = 7: Shapley = Banzhaf = (1/2, 1/2, 0, ...), occlusion (1, 1, 0, ...); LIME at
    width 0.25 puts ~0.607 on z_0, z_1 and a small non-zero weight on each ignored superpixel."""
    d = 7
    f = lambda z: (z[:, 0] * z[:, 1]).astype(float)
    np.testing.assert_allclose(th.exact_shapley(f, d), [0.5, 0.5, 0, 0, 0, 0, 0], atol=1e-15)
    np.testing.assert_allclose(th.exact_banzhaf(f, d), [0.5, 0.5, 0, 0, 0, 0, 0], atol=1e-15)
    np.testing.assert_array_equal(th.exact_occlusion(f, d), [1, 1, 0, 0, 0, 0, 0])
    lime = th.exact_limit(f, d, 0.25)[1:]
    np.testing.assert_allclose(lime, th.product_limit(d, 0.25, [0, 1])[1:], rtol=1e-10)
    assert lime[0] == pytest.approx(0.607, abs=5e-4)
    assert np.all(np.abs(lime[2:]) > 1e-3)


@given(games(d_min=2, d_max=7, k=2))
def test_lime_at_a_very_wide_kernel_is_banzhaf(game):
    """pi constant as kernel_width -> infinity: LIME's limit is the regression on uniform z, i.e. Banzhaf.

    pi(k) = exp(-d_cos^2 / (2 nu^2)) differs from a constant by O(1 / nu^2) = 1e-12 at nu = 1e6 ... and below
    rounding; the tolerance is rounding of the enumerated sums."""
    d, values = game
    table = th.ResponseTable(values)
    lime = th.exact_limit(table, d, 1e6)[:, 1:]
    np.testing.assert_allclose(lime, th.exact_banzhaf(table), atol=1e-12 * (1 + np.abs(values).max()) * d)


@given(games(d_min=1, d_max=7, k=2))
def test_lime_at_a_very_narrow_kernel_is_occlusion(game):
    """As kernel_width -> 0 the kernel only sees z = 1 and the z with one zero: LIME interpolates them.

    At width 0.01 the next patterns (two zeros) weigh exp(-(d_cos(2)^2 - d_cos(1)^2) / 2e-4) relative to
    one zero, below 1e-30 for d <= 7: the identity holds to rounding (the float64 small-width path)."""
    d, values = game
    table = th.ResponseTable(values)
    lime = th.exact_limit(table, d, 0.01)[:, 1:]
    np.testing.assert_allclose(lime, th.exact_occlusion(table), atol=1e-12 * (1 + np.abs(values).max()))


@pytest.mark.parametrize("bad, err", [
    (dict(d=3.0), TypeError), (dict(d=0), ValueError), (dict(d=th.MAX_EXACT_D + 1), ValueError),
    (dict(d=True), TypeError),
])
def test_bad_d(bad, err):
    with pytest.raises(err, match="d"):
        th.exact_shapley(lambda z: z.sum(axis=1), **bad)


def test_bad_arguments():
    table = th.ResponseTable(np.arange(8.0))
    with pytest.raises(ValueError, match="d = 4 does not match"):
        th.exact_banzhaf(table, 4)
    with pytest.raises(TypeError, match="d is required"):
        th.exact_shapley(lambda z: z.sum(axis=1))
    with pytest.raises(TypeError, match="d is required"):
        th.exact_occlusion(lambda z: z.sum(axis=1))
    with pytest.raises(TypeError, match="f_of_z"):
        th.exact_shapley(np.arange(8.0), 3)
    with pytest.raises(TypeError, match="f_of_z"):
        th.exact_occlusion("f", 3)
    with pytest.raises(ValueError, match="NaN"):
        th.exact_shapley(lambda z: np.full(len(z), np.nan), 3)
    assert th.exact_occlusion(table).shape == (3,)


def test_games_pass_uint8_patterns_and_occlusion_works_for_one_player():
    """The games hand f_of_z (m, d) uint8 arrays of 0/1, as documented; occlusion of a callable needs
    only z = 1 and the patterns with one zero, also for d = 1 (then g(1) - g(0))."""
    seen = []

    def g(z):
        seen.append(z.dtype)
        return z @ np.arange(1.0, z.shape[1] + 1) + z.prod(axis=1)

    for method in (th.exact_shapley, th.exact_banzhaf, th.exact_occlusion):
        method(g, 4)
    assert seen and all(dt == np.uint8 for dt in seen)
    np.testing.assert_array_equal(th.exact_occlusion(lambda z: 3.0 * z[:, 0] + 0.5, 1), [3.0])
    np.testing.assert_array_equal(th.exact_occlusion(g, 3), [2.0, 3.0, 4.0])  # g(1) = 7, g(1 - e_j) = 6 - (j + 1)
