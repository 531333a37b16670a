"""explain(kernel="shap"): KernelSHAP on superpixels against exact Shapley values and its exact covariance."""
import numpy as np
import pytest
from scipy.stats import binom, chi2

import limetheory as lt
from limetheory import theory as th
from limetheory.sampling import enumerated_samples, enumeration_plan, shapley_samples
from limetheory.surrogate import fit_constrained
from limetheory.theory.shapley_kernel import enumerated_covariance

from stats_bounds import band, mean_band

D = 8
SEG = np.repeat(np.arange(D), 4).reshape(4, 8)


def setup(seed=0):
    """A small image, a model with interactions between superpixels, and its superpixel game as a table."""
    rng = np.random.default_rng(seed)
    img = rng.random((4, 8))
    w = rng.normal(size=32)

    def predict(x):
        flat = x.reshape(len(x), -1)
        return np.stack([np.tanh(flat @ w), flat[:, 0] * flat[:, 9] * flat[:, 17] + 0.2 * flat[:, 30]], axis=1)

    rep = lt.replacement_image(img, SEG)
    table = th.ResponseTable.from_function(lambda z: predict(np.where(z[:, SEG].astype(bool), img, rep)), D)
    return img, predict, table


def test_constraints_hold_exactly_and_the_rest_converges():
    img, predict, table = setup()
    ex = lt.explain(img, predict, segments=SEG, kernel="shap", n_samples=400, labels=[0, 1], seed=3)
    assert ex.kernel == "shap" and ex.coef.shape == (2, D)
    np.testing.assert_array_equal(ex.intercept, table.values[0])
    np.testing.assert_allclose(ex.coef.sum(axis=1), table.values[-1] - table.values[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ex.intercept_se, 0.0)
    assert ex.conf_int(label=1).shape == (D, 2)
    assert ex.n_samples_for(float(ex.coef_se[1].max()) / 2, label=1) >= 4 * 400 - 1
    assert np.all(np.abs(ex.coef - th.exact_shapley(table)) < 5 * ex.coef_se)


def test_the_fit_is_covert_and_lees_closed_form(rng):
    """The eliminated-variable least squares equals phi = A^-1 b - A^-1 1 (1^T A^-1 b - Delta) / (1^T A^-1 1)."""
    _, _, table = setup()
    z, _ = shapley_samples(300, D, rng)
    y = table(z)
    coef, _ = fit_constrained(z, y, y[1], y[0])
    zf = z.astype(float)
    a = zf.T @ zf
    for c in range(2):
        b = zf.T @ (y[:, c] - y[1, c])
        a_b, a_1 = np.linalg.solve(a, b), np.linalg.solve(a, np.ones(D))
        closed = a_b - a_1 * (a_b.sum() - (y[0, c] - y[1, c])) / a_1.sum()
        np.testing.assert_allclose(coef[c], closed, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("paired", [False, True])
def test_intervals_cover_exact_shapley_at_their_level(paired):
    """95% intervals from each run's own standard errors against exact Shapley, R = 300 fixed-seed runs, n = 400.

    Each coefficient's coverage count is Binomial(R, 0.95) if the intervals are calibrated; the mean over the
    2 d coefficients has a standard deviation no larger than one count's, so it must lie in that binomial
    law's two-sided 0.999 range. The standard errors must also match the exact asymptotic covariance
    (theory.exact_limit_covariance, kernel="shap"): their mean within 10% of sqrt(V_jj / n)."""
    img, predict, table = setup()
    exact = th.exact_shapley(table)
    v = th.exact_limit_covariance(table, D, kernel="shap", paired=paired)
    runs, n = 300, 400
    hits = np.zeros((2, D))
    ses = np.zeros((2, D))
    for r in range(runs):
        ex = lt.explain(img, predict, segments=SEG, kernel="shap", n_samples=n, labels=[0, 1], seed=1000 + r,
                        design="paired" if paired else "iid")
        lo, hi = ex.conf_int(label=0), ex.conf_int(label=1)
        hits[0] += (lo[:, 0] <= exact[0]) & (exact[0] <= lo[:, 1])
        hits[1] += (hi[:, 0] <= exact[1]) & (exact[1] <= hi[:, 1])
        ses += ex.coef_se
    low, high = binom.ppf(0.0005, runs, 0.95), binom.isf(0.0005, runs, 0.95)
    assert low <= hits.mean() <= high, hits.mean() / runs
    theory = np.sqrt(np.diagonal(v, axis1=1, axis2=2)[:, 1:] / n)
    np.testing.assert_allclose((ses / runs).mean(axis=1), theory.mean(axis=1), rtol=0.1)


def test_error_shrinks_like_one_over_sqrt_n():
    """n ||phi_hat - phi||^2 averaged over runs tends to trace V (the exact covariance, kernel="shap"): at
    n = 400 and 1600 its ratio to trace V lies in the 0.999 range of chi2(R (d - 1)) / (R (d - 1)), the law of
    that ratio for Gaussian errors (R = 120 runs; d - 1 free coefficients). At n = 100 it is still 1.23 (the
    O(1/n) terms), so the smaller n are left out."""
    img, predict, table = setup(1)
    exact = th.exact_shapley(table)[0]
    trace = np.trace(th.exact_limit_covariance(table, D, kernel="shap")[0])
    runs = 120
    dof = runs * (D - 1)
    low, high = chi2.ppf(0.0005, dof) / dof, chi2.isf(0.0005, dof) / dof
    for n in (400, 1600):
        sq = [np.sum((lt.explain(img, predict, segments=SEG, kernel="shap", n_samples=n, labels=[0],
                                 seed=5000 + r).coef[0] - exact) ** 2) for r in range(runs)]
        ratio = n * np.mean(sq) / trace
        assert low <= ratio <= high, (n, ratio)


def test_auto_and_helpers():
    img, predict, table = setup()
    ex = lt.explain(img, predict, segments=SEG, kernel="shap", n_samples="auto", top_k=2, labels=[1], seed=0)
    assert ex.settled and ex.kernel == "shap" and ex.n_rounds >= 1
    order = np.argsort(-th.exact_shapley(table)[1])[:2]
    assert set(ex.top(2)) == set(order)
    image, mask = ex.get_image_and_mask(1, num_features=2)
    assert mask.shape == SEG.shape and set(np.unique(mask[mask > 0])) == {1}
    assert [p[0] for p in ex.local_exp[1][:2]] == list(np.argsort(-np.abs(ex.coef[0]))[:2])
    assert len(ex.to_frame()) == D


def test_bad_settings():
    img, predict, _ = setup()
    with pytest.raises(ValueError, match="kernel"):
        lt.explain(img, predict, segments=SEG, kernel="kernelshap")
    with pytest.raises(ValueError, match="d \\+ 2"):
        lt.explain(img, predict, segments=SEG, kernel="shap", n_samples=D + 1)
    with pytest.raises(ValueError, match="design"):
        lt.explain(img, predict, segments=SEG, kernel="shap", design="weighted")
    with pytest.raises(ValueError, match="KernelSHAP"):
        lt.explain(img, predict, segments=SEG, design="enumerated")
    with pytest.raises(ValueError, match="enumerated"):
        lt.explain(img, predict, segments=SEG, kernel="shap", design="enumerated", n_samples="auto")


def test_lime_default_is_unchanged():
    """kernel="lime" is the default path: same seed, same coefficients, with or without the argument."""
    img, predict, _ = setup()
    a = lt.explain(img, predict, segments=SEG, n_samples=200, seed=4)
    b = lt.explain(img, predict, segments=SEG, n_samples=200, seed=4, kernel="lime")
    np.testing.assert_array_equal(a.coef, b.coef)
    assert a.kernel == "lime"


# --------------------------------------------------------------------------- design="enumerated"
@pytest.mark.parametrize("n", [2**D, 2**D + 50])
def test_enumerated_with_the_whole_budget_is_exact(n):
    """n >= 2^d model calls (the 2^d - 2 coalitions with 0 < |z| < d and the two constraint rows):
    every coalition is evaluated with its exact weight, so the fit is the Shapley value to round-off,
    with standard errors 0, and only 2^d calls are made."""
    img, predict, table = setup()
    ex = lt.explain(img, predict, segments=SEG, kernel="shap", design="enumerated", n_samples=n, labels=[0, 1],
                    seed=0)
    assert ex.design == "enumerated" and ex.kernel == "shap" and ex.n_samples == 2**D
    np.testing.assert_allclose(ex.coef, th.exact_shapley(table), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ex.coef_se, 0.0)


def test_enumerated_keeps_the_limit():
    """The enumerated design estimates the Shapley values, not another weighted fit: on a d = 12 game
    with interactions, at n = 2000 (sizes 1-3 and 9-11 enumerated, 1402 rows drawn from sizes 4-8), the
    mean of R = 40 seeded fits lies within its t band (alpha 0.1%, Bonferroni over the d values) of
    theory.exact_shapley, and every run's own interval at level 1 - 0.001 / (R d) (its standard errors,
    Bonferroni over runs and values) holds it."""
    d, n, runs = 12, 2000, 40
    rng = np.random.default_rng(12)
    w, c = rng.normal(size=d), np.triu(rng.normal(size=(d, d)), 1)
    table = th.ResponseTable.from_function(
        lambda z: np.tanh(z @ w - w.sum() / 2) + 0.3 * np.einsum("ni,ij,nj->n", z * 1.0, c, z * 1.0), d)
    exact = th.exact_shapley(table)
    plan = enumeration_plan(n, d)
    assert plan.enumerated and plan.sampled
    est, ses = [], []
    for r in range(runs):
        s = enumerated_samples(n, d, 100 + r)
        y = table(s.z)
        coef, cov = fit_constrained(s.z, y, y[1], y[0], s.clusters, s.weights, s.fixed)
        est.append(coef[0])
        ses.append(np.sqrt(np.diag(cov[0])))
    mean, half = mean_band(est)
    assert np.all(np.abs(mean - exact) <= half), np.abs(mean - exact) / half
    assert np.all(np.abs(np.array(est) - exact) <= band(np.array(ses)))  # m = R d entries


def test_enumerated_intervals_cover_exact_shapley_at_their_level():
    """95% intervals of design="enumerated" against exact Shapley, R = 300 fixed-seed runs, d = 8,
    n = 200 (sizes 1, 2, 6, 7 enumerated, 126 distinct rows drawn from sizes 3-5): the mean coverage
    over the 2 d coefficients must lie in the two-sided 0.999 range of Binomial(R, 0.95) / R, as in
    test_intervals_cover_exact_shapley_at_their_level, and the standard errors must match the exact
    asymptotic covariance of the design (theory.shapley_kernel.enumerated_covariance over the run's
    number of drawn rows): their mean ratio within 10%, as for the other designs."""
    img, predict, table = setup()
    exact = th.exact_shapley(table)
    runs, n = 300, 200
    plan = enumeration_plan(n, D)
    assert plan.sampled
    v = np.diagonal(enumerated_covariance(table, plan.sampled), axis1=1, axis2=2)[:, 1:]
    hits = np.zeros((2, D))
    ratio = np.zeros((2, D))
    for r in range(runs):
        ex = lt.explain(img, predict, segments=SEG, kernel="shap", design="enumerated", n_samples=n, labels=[0, 1],
                        seed=1000 + r, keep_samples=True)
        for row in range(2):
            ci = ex.conf_int(label=row)
            hits[row] += (ci[:, 0] <= exact[row]) & (exact[row] <= ci[:, 1])
        drawn = ex.samples.shape[0] - 2 - plan.n_enumerated
        ratio += ex.coef_se / np.sqrt(v / drawn)
    low, high = binom.ppf(0.0005, runs, 0.95), binom.isf(0.0005, runs, 0.95)
    assert low <= hits.mean() <= high, hits.mean() / runs
    np.testing.assert_allclose((ratio / runs).mean(axis=1), 1.0, rtol=0.1)


def test_enumerated_covariance_without_enumeration_is_the_paired_one():
    """Nothing enumerated (every size drawn, Q_S = 1): the drawn scores' mean is projected away, and
    enumerated_covariance equals the paired design's exact covariance; every size enumerated: 0."""
    _, _, table = setup()
    every = range(1, D)
    np.testing.assert_allclose(enumerated_covariance(table, every), th.exact_limit_covariance(table, D, kernel="shap",
                                                                                             paired=True),
                               rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(enumerated_covariance(table, []), 0.0)
    with pytest.raises(ValueError, match="closed"):
        enumerated_covariance(table, [1, 2])


@pytest.mark.parametrize("paired", [False, True])
def test_projected_sandwich_is_the_jackknife_over_clusters(paired):
    """The leverage-corrected sandwich of fit_constrained (HC3 rows, CR3 pairs) equals, for least
    squares, the sum over clusters of (phi_hat - phi_hat without that cluster)^2: refitting without
    each row or pair is an independent computation of the same number (exact for pairs, whose rows
    have u and -u)."""
    from limetheory.sampling import shapley_samples

    d, n = 6, 60
    rng = np.random.default_rng(3)
    w = rng.normal(size=d)
    z, ids = shapley_samples(n, d, 7, paired)
    y = np.tanh(z @ w) + 0.5 * z[:, 0] * z[:, 1]
    coef, cov = fit_constrained(z, y, y[1], y[0], ids)
    sizes = z.sum(axis=1)
    drawn = (sizes > 0) & (sizes < d)
    jack = np.zeros((d, d))
    for g in np.unique(ids[drawn]):
        keep = ~(drawn & (ids == g))
        delta = coef[0] - fit_constrained(z[keep], y[keep], y[1], y[0], ids[keep])[0][0]
        jack += np.outer(delta, delta)
    np.testing.assert_allclose(cov[0], jack, rtol=1e-8, atol=1e-14)
