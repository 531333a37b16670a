"""design="enumerated" for KernelSHAP: the plan of enumerated sizes, the weights that keep the
Shapley kernel's objective, the law of the drawn part, and the standard errors' fixed part.

Oracles: the Shapley kernel's size law (``kernel.weighted_law(kernel="shap")``), C(d, k), and
exact enumeration of {0,1}^d (``theory.exact_shapley``); the one random check (the law of the
drawn sizes) is a chi-square test at level ``stats_bounds.ALPHA`` with a fixed seed.
"""
from math import comb

import numpy as np
import pytest
from scipy.stats import chi2

from limetheory import theory as th
from limetheory.kernel import weighted_law
from limetheory.sampling import enumerated_samples, enumeration_plan, patterns_with_ones
from limetheory.surrogate import fit_constrained
from limetheory.theory.enumeration import all_patterns

from stats_bounds import ALPHA


def shapley_law(d):
    return weighted_law(d, None, kernel="shap")[0]


@pytest.mark.parametrize("d", [4, 8, 12, 30])
@pytest.mark.parametrize("n", [20, 50, 100, 200, 800, 5000])
def test_plan_follows_the_rule_and_leaves_the_drawn_part_its_share(d, n):
    """Pairs {k, d - k} from the ends inwards; each enumerated one passed L q / R >= c when it was
    taken, the first one left out failed it; the drawn part gets >= (n - 2) times its mass in rows."""
    q = shapley_law(d)
    plan = enumeration_plan(n, d)
    assert set(plan.enumerated) | set(plan.sampled) == set(range(1, d)) and not set(plan.enumerated) & set(plan.sampled)
    assert plan.enumerated == tuple(sorted(plan.enumerated))
    assert set(plan.enumerated) == {k for k in plan.enumerated if d - k in plan.enumerated}  # symmetric
    left, mass = n - 2, 1.0
    for k in range(1, d // 2 + 1):
        sizes = {k, d - k}
        count, share = sum(comb(d, s) for s in sizes), sum(q[s] for s in sizes)
        taken = k in plan.enumerated
        assert taken == (left * share >= count * mass * (1 - 1e-12)), (k, plan)
        if not taken:
            break
        left, mass = left - count, mass - share
    assert plan.n_enumerated == sum(comb(d, k) for k in plan.enumerated)
    if plan.sampled:
        assert plan.n_sampled == n - 2 - plan.n_enumerated >= (n - 2) * plan.sampled_mass - 1e-9
        np.testing.assert_allclose(plan.sampled_mass, q[list(plan.sampled)].sum(), rtol=1e-12)
        assert plan.n_sampled < sum(comb(d, k) for k in plan.sampled)  # distinct rows are always there to draw
    else:
        assert n >= 2**d and plan.n_calls == 2**d


@pytest.mark.parametrize("n", [50, 100, 150, 200, 256, 1000])
def test_rows_weights_and_model_calls(n):
    """z = 1, z = 0 first (weight 0, fixed); every pattern of the enumerated sizes once with weight
    pi(k) = q_k / C(d, k); drawn rows in complementary pairs from the other sizes, weights summing to
    their mass; min(n, 2^d) distinct rows (the model calls)."""
    d = 8
    q = shapley_law(d)
    plan = enumeration_plan(n, d)
    s = enumerated_samples(n, d, np.random.default_rng(n))
    k = s.z.sum(axis=1)
    np.testing.assert_array_equal(s.z[0], 1)
    np.testing.assert_array_equal(s.z[1], 0)
    assert np.unique(s.z, axis=0).shape[0] == min(n, 2**d)
    fixed = np.flatnonzero(s.fixed)
    assert fixed.tolist() == list(range(2 + plan.n_enumerated))
    np.testing.assert_array_equal(s.weights[:2], 0)
    enumerated = s.z[2 : 2 + plan.n_enumerated]
    assert np.unique(enumerated, axis=0).shape[0] == plan.n_enumerated
    np.testing.assert_allclose(s.weights[2 : 2 + plan.n_enumerated],
                               [q[j] / comb(d, j) for j in k[2 : 2 + plan.n_enumerated]], rtol=1e-12)
    drawn = ~s.fixed
    assert set(k[drawn]) <= set(plan.sampled)
    if plan.sampled:
        np.testing.assert_allclose(s.weights[drawn].sum(), plan.sampled_mass, rtol=1e-12)
        z, ids = s.z[drawn], s.clusters[drawn]
        for c in np.unique(ids):
            rows = z[ids == c]
            assert rows.shape[0] in (1, 2) and (rows.shape[0] == 1 or np.array_equal(rows[1], 1 - rows[0]))


def test_patterns_with_ones_lists_each_pattern_once():
    for d, k in [(5, 0), (5, 2), (6, 3), (7, 7)]:
        z = patterns_with_ones(d, k)
        assert z.shape == (comb(d, k), d) and np.all(z.sum(axis=1) == k)
        assert np.unique(z, axis=0).shape[0] == comb(d, k)


def test_drawn_sizes_follow_the_truncated_size_law():
    """The sizes of the drawn pairs' first rows: chi-square against q restricted to the sampled sizes
    and renormalised (level ALPHA). d = 30 and n = 4000: few repeats, so draws are nearly all new."""
    d, n = 30, 4000
    plan = enumeration_plan(n, d)
    s = enumerated_samples(n, d, np.random.default_rng(7))
    k = s.z[~s.fixed][0::2].sum(axis=1)
    q = shapley_law(d)
    sizes = np.array(plan.sampled)
    expected = q[sizes] / q[sizes].sum() * k.size
    observed = np.array([(k == j).sum() for j in sizes])
    stat = ((observed - expected) ** 2 / expected).sum()
    assert stat <= chi2.isf(ALPHA, sizes.size - 1), stat


def test_weighted_objective_has_the_population_weights_in_expectation():
    """For every phi, E[sum_i w_i r_i(phi)^2] = sum over 0 < |z| < d of pi(|z|) r(z; phi)^2 (r = y - f(0) - z^T phi):
    the enumerated rows carry pi exactly; a drawn row is z of size k in S with probability q_k / (Q_S C(d, k))
    and weight Q_S / m, so the m drawn rows contribute sum_{|z| in S} pi r^2 in expectation. Checked as
    the expected weighted Gram matrix of (1, z), computed from the plan and the law, against enumeration."""
    d = 8
    q = shapley_law(d)
    z_all = all_patterns(d).astype(np.float64)
    k_all = z_all.sum(axis=1).astype(np.int64)
    x = np.hstack([np.ones((2**d, 1)), z_all])
    pi = np.array([q[j] / comb(d, j) for j in k_all])
    population = (x * pi[:, None]).T @ x
    for n in (50, 150, 200):
        plan = enumeration_plan(n, d)
        s = enumerated_samples(n, d, np.random.default_rng(0))
        xf = np.hstack([np.ones((int(s.fixed.sum()), 1)), s.z[s.fixed]])
        expected = (xf * s.weights[s.fixed, None]).T @ xf
        in_s = np.isin(k_all, plan.sampled)
        law = np.where(in_s, pi, 0.0) / plan.sampled_mass  # the law of one drawn row
        expected += plan.sampled_mass * (x * law[:, None]).T @ x  # m rows, weight Q_S / m each
        np.testing.assert_allclose(expected, population, rtol=1e-12, atol=1e-15)


def test_all_fixed_rows_give_zero_variance_and_the_exact_values():
    d = 6
    rng = np.random.default_rng(3)
    w = rng.normal(size=d)
    table = th.ResponseTable.from_function(lambda z: np.tanh(z @ w) + z[:, 0] * z[:, 1], d)
    s = enumerated_samples(2**d, d, 0)
    assert s.fixed.all()
    y = table(s.z)
    coef, cov = fit_constrained(s.z, y, y[1], y[0], s.clusters, s.weights, s.fixed)
    np.testing.assert_allclose(coef[0], th.exact_shapley(table), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(cov, 0.0)


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="d >= 2"):
        enumeration_plan(10, 1)
    with pytest.raises(ValueError, match="symmetric"):
        enumeration_plan(10, 4, size_law=[0, 1, 2, 3, 0])
