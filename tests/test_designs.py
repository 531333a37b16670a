"""Sampling designs: each keeps LIME's limit, has the exact covariance of the theory, standard
errors right for it, and ``design="auto"`` is never much worse than the best fixed design.

Oracles: exact enumeration of {0,1}^d (``theory.exact_limit``, ``theory.exact_limit_covariance``),
the Binomial law, and Monte Carlo runs with fixed seeds; every tolerance is a band from
``tests/stats_bounds.py`` (false-failure probability 0.1% per test for a random seed).
"""

import numpy as np
import pytest

import limetheory
from limetheory import theory as th
from limetheory.design_choice import DesignRun, choose_design, pilot_size
from limetheory.sampling import (DESIGNS, binomial_cdf, draw_design, paired_samples, stratified_counts,
                                 stratum_labels)
from limetheory.surrogate import fit_weighted_ridge, predict_linear, sandwich_standard_errors

from stats_bounds import ALPHA, assert_within, dn_bias, mean_band, quantile


# --------------------------------------------------------------------------- games with known variances
def pairwise_game(d, seed=1):
    """f(z) = z^T C z with C strictly upper triangular: pairwise interactions (even under z -> 1 - z
    up to a linear part, where pairing filters most of the residual)."""
    c = np.triu(np.random.default_rng(seed).normal(size=(d, d)), 1)
    return th.ResponseTable.from_function(lambda z: np.einsum("ni,ij,nj->n", z * 1.0, c, z * 1.0), d)


def tanh_game(d, seed=1):
    """f(z) = tanh(w^T z - sum(w) / 2): a centred sigmoid of a linear score (its residual is odd
    under z -> 1 - z, where pairing doubles it)."""
    w = np.random.default_rng(seed).normal(size=d)
    return th.ResponseTable.from_function(lambda z: np.tanh(z @ w - w.sum() / 2), d)


def flat_game(d, kernel_width, seed=1):
    """tanh + c pairwise with c such that pairing neither helps nor hurts (bisection on the exact traces)."""
    a, b = tanh_game(d, seed).values, pairwise_game(d, seed).values
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        tr = th.exact_design_traces(th.ResponseTable(a + mid * b), d, kernel_width)
        lo, hi = (mid, hi) if tr["paired"] > tr["iid"] else (lo, mid)
    return th.ResponseTable(a + lo * b)


def fit_design(table, design, n, kernel_width, seed, ridge=0.0):
    """One LIME estimate of ``table`` from n calls under ``design`` (explain's own DesignRun), with its
    standard errors: (beta_hat (d + 1,), se (d + 1,), the run)."""
    d = table.d
    run = DesignRun(design, d, kernel_width, np.random.default_rng(seed), ridge, lambda y0: np.array([0]))
    sizes = [pilot_size(n, d), n - pilot_size(n, d)] if design == "auto" else [n]
    for i, m in enumerate(sizes):
        z, _ = run.draw(m, i == 0)
        run.record(table(z)[:, None])
    s = run.sample()
    y = np.concatenate(run.responses)
    b0, b = fit_weighted_ridge(s.z, y, s.weights, ridge)
    se = sandwich_standard_errors(s.z, s.weights, y - predict_linear(s.z, b0, b), ridge, clusters=s.clusters,
                                  strata=s.strata)
    return np.concatenate([b0, b[0]]), se[0], run


# --------------------------------------------------------------------------- the sampling laws
def test_paired_rows_are_complements_and_start_with_the_image():
    z = paired_samples(9, 7, np.random.default_rng(0))
    assert z.shape == (9, 7)
    np.testing.assert_array_equal(z[0], 1)
    np.testing.assert_array_equal(z[1], 0)
    np.testing.assert_array_equal(z[2:8:2], 1 - z[3:9:2])


def test_stratified_allocation_is_proportional_and_exact_in_expectation():
    """Stratum k gets floor or ceil of n P(k) rows for every U; averaged over U it gets n P(k)
    exactly (so every row is Binomial(d, 1/2) on average over rows and U: LIME's law)."""
    d, n = 10, 37
    p = np.diff(np.concatenate([[0.0], binomial_cdf(d)]))
    grid = 4000
    u = (np.arange(n)[None, :] + (np.arange(grid)[:, None] + 0.5) / grid) / n  # (grid, n): every U of the grid
    k = np.minimum(np.searchsorted(binomial_cdf(d), u.ravel(), side="right"), d).reshape(grid, n)
    counts = (k[:, :, None] == np.arange(d + 1)).sum(axis=1)  # (grid, d + 1)
    assert np.all(np.abs(counts - n * p) < 1)
    np.testing.assert_allclose(counts.mean(axis=0), n * p, atol=(d + 1) / grid)
    k = stratified_counts(n, d, np.random.default_rng(3))
    assert np.all(np.diff(k) >= 0) and k.shape == (n,)


def test_stratum_labels_hold_two_rows_each():
    labels = stratum_labels([0, 3, 3, 4, 5, 5, 5, 9])
    assert np.all(np.bincount(labels) >= 2)
    assert np.all(np.diff(labels) >= 0)
    assert stratum_labels([2, 2, 7]).tolist() == [0, 0, 0]


@pytest.mark.parametrize("design", DESIGNS)
def test_every_design_draws_the_image_first(design):
    s = draw_design(design, 50, 8, 0.25, np.random.default_rng(0))
    np.testing.assert_array_equal(s.z[0], 1)
    assert s.z.shape == (50, 8) and s.weights.shape == (50,)


# --------------------------------------------------------------------------- exact covariance vs Monte Carlo
D_MC, NU_MC, N_MC, RUNS_MC = 6, 0.5, 400, 200


@pytest.fixture(scope="module")
def mc_game():
    return th.ResponseTable(tanh_game(D_MC, 4).values + 0.5 * pairwise_game(D_MC, 4).values)


@pytest.fixture(scope="module", params=DESIGNS)
def mc_runs(request, mc_game):
    design = request.param
    beta = th.exact_limit(mc_game, D_MC, NU_MC)
    cov = th.exact_limit_covariance(mc_game, D_MC, NU_MC, design=design)
    runs = [fit_design(mc_game, design, N_MC, NU_MC, [11, r])[:2] for r in range(RUNS_MC)]
    return design, beta, cov, np.array([r[0] for r in runs]), np.array([r[1] for r in runs])


def test_exact_covariance_is_the_spread_of_each_design(mc_runs):
    """n (b - beta)^T V^{-1} (b - beta) has mean d + 1 (chi-square, variance 2 (d + 1)) under the
    design's own exact V, within 4 standard errors over the runs, plus the O(d / n) bias."""
    design, beta, cov, est, _ = mc_runs
    dev = est - beta
    t = N_MC * np.einsum("ri,ij,rj->r", dev, np.linalg.inv(cov), dev)
    dof = beta.size
    tol = 4 * np.sqrt(2 * dof / RUNS_MC) + dn_bias(D_MC, N_MC, dof, c=2.0)
    assert abs(t.mean() - dof) <= tol, (design, t.mean(), dof, tol)


def test_standard_errors_estimate_each_designs_spread(mc_runs):
    """The mean over runs of n se_j^2 is V_jj (the design's exact variance) within a t band
    (Bonferroni over the d + 1 coordinates and the 4 designs) + the O(d / G) bias (c = 2) of a
    sandwich over G independent units: the n rows, or the n / 2 pairs."""
    design, _, cov, _, se = mc_runs
    units = N_MC // 2 if design == "paired" else N_MC
    mean, tol = mean_band(N_MC * se**2, m=4 * (D_MC + 1), bias=dn_bias(D_MC, units, np.diag(cov), c=2.0))
    assert_within(mean, np.diag(cov), tol, f"n se^2, design {design}")


def test_designs_differ_where_the_theory_says(mc_game):
    """Sanity of the oracle: the four exact covariances are not all the same on this game."""
    tr = th.exact_design_traces(mc_game, D_MC, NU_MC)
    assert set(tr) == set(DESIGNS)
    assert max(tr.values()) > 1.3 * min(tr.values())


def test_exact_covariance_sampler_is_the_former_name():
    f = pairwise_game(5)
    with pytest.warns(DeprecationWarning, match="sampler= is deprecated"):
        a = th.exact_limit_covariance(f, 5, 0.3, sampler="bernoulli")
    np.testing.assert_array_equal(a, th.exact_limit_covariance(f, 5, 0.3, design="iid"))
    with pytest.raises(ValueError, match="design must be one of"):
        th.exact_limit_covariance(f, 5, 0.3, design="antithetic")


def test_paired_covariance_is_the_pair_average():
    """M_paired by its definition: Var of the pair score (g(z) + g(1 - z)) / 2 per call, written
    out by enumeration of the pairs (independent of the implementation's complement indexing)."""
    d, nu = 5, 0.4
    f = pairwise_game(d, 2)
    beta = th.exact_limit(f, d, nu)
    z = th.all_patterns(d)
    x = np.hstack([np.ones((z.shape[0], 1)), z])
    pi = np.exp(th.log_kernel(z.sum(1), d, nu))
    g = x * (pi * (f(z) - x @ beta))[:, None]
    gc = np.flip(g, axis=0)  # pattern 2^d - 1 - i is the complement of pattern i
    pair = (g + gc) / 2
    meat = 2 * (pair.T @ pair) / z.shape[0]  # two calls per pair
    h = (x * pi[:, None]).T @ x / z.shape[0]
    expected = np.linalg.solve(h, np.linalg.solve(h, meat).T)
    np.testing.assert_allclose(th.exact_limit_covariance(f, d, nu, design="paired"), expected, rtol=1e-9,
                               atol=1e-12 * np.abs(expected).max())


# --------------------------------------------------------------------------- design="auto"
D_AUTO, N_AUTO, RUNS_AUTO = 12, 2000, 100


def _auto_against_best(table, nu, seed):
    beta = th.exact_limit(table, D_AUTO, nu)
    traces = th.exact_design_traces(table, D_AUTO, nu)
    best = min(traces.values())
    errs, chosen = [], []
    for r in range(RUNS_AUTO):
        est, _, run = fit_design(table, "auto", N_AUTO, nu, [seed, r])
        errs.append(N_AUTO * np.sum((est[1:] - beta[1:]) ** 2))
        chosen.append(run.design)
    return np.array(errs), best, traces, chosen


@pytest.mark.parametrize("game,nu", [("pairwise", 0.25), ("tanh", 0.25), ("flat", 1.0)])
def test_auto_is_never_more_than_ten_percent_worse_than_the_best_design(game, nu):
    """n E||b - beta||^2 of "auto" (pilot included) <= 1.1 x the best fixed design's exact trace,
    one-sided t band of the mean over the runs (Bonferroni over the 3 games) + the O(d / n) bias.
    Games: pairing helps (pairwise, 3.7x), pairing hurts (tanh of a linear score, d = 12, 0.6x),
    nothing helps much (tanh + pairwise balanced so that pairing is neutral)."""
    table = {"pairwise": pairwise_game, "tanh": tanh_game}.get(game, lambda d: flat_game(d, nu))(D_AUTO)
    errs, best, traces, chosen = _auto_against_best(table, nu, seed=5)
    mean = errs.mean()
    se = errs.std(ddof=1) / np.sqrt(RUNS_AUTO)
    tol = quantile(ALPHA, m=3, dof=RUNS_AUTO - 1, sided=1) * se + dn_bias(D_AUTO, N_AUTO, best, c=2.0)
    assert mean <= 1.1 * best + tol, (game, mean / best, traces, {c: chosen.count(c) for c in set(chosen)})


def test_auto_picks_the_design_the_exact_traces_pick():
    """Where one design is far ahead (pairing on the pairwise game, 3.7x) the pilot finds it in
    nearly every run; a DesignChoice from exact traces is used as given, with no pilot."""
    table = pairwise_game(D_AUTO)
    exact = choose_design(th.exact_design_traces(table, D_AUTO, 0.25), "exact")
    assert exact.chosen == "paired" and "exact enumeration" in exact.reason
    chosen = [fit_design(table, "auto", N_AUTO, 0.25, [9, r])[2].design for r in range(40)]
    assert chosen.count("paired") >= 36, chosen
    _, _, run = fit_design(table, exact, N_AUTO, 0.25, 0)
    assert run.design == "paired" and len(run.parts) == 1


# --------------------------------------------------------------------------- explain
def _scene(d=8):
    seg = np.arange(d).reshape(2, d // 2)
    image = np.ones(seg.shape)
    table = th.ResponseTable(tanh_game(d, 3).values[:, None] * [1.0, -1.0] + 2.0)
    return image, seg, lambda x: table((np.asarray(x).reshape(x.shape[0], d) > 0.5).astype(np.uint8))


@pytest.mark.parametrize("design", DESIGNS + ("auto",))
def test_explain_records_its_design_and_stays_near_the_limit(design):
    image, seg, model = _scene()
    ex = limetheory.explain(image, model, segments=seg, n_samples=3000, ridge=0.0, hide_color=0.0, seed=1,
                            design=design, progress=False, labels=[0])
    beta = th.exact_limit(lambda z: model(z.reshape(z.shape[0], *seg.shape) * 1.0)[:, 0], 8, 0.25)
    assert ex.design == design if design != "auto" else ex.design.startswith("auto:")
    assert (ex.design_choice is not None) == (design == "auto")
    # within 5 of its own standard errors of the limit, every coefficient (Bonferroni, normal)
    assert np.all(np.abs(ex.coef[0] - beta[1:]) <= quantile(ALPHA, m=8 * 5) * ex.coef_se[0]), design
    if design == "auto":
        assert ex.design_choice.chosen in DESIGNS and set(ex.design_choice.per_call_trace) == set(DESIGNS)


@pytest.mark.parametrize("design", ["paired", "stratified", "auto"])
def test_auto_n_samples_works_with_every_design(design):
    image, seg, model = _scene()
    ex = limetheory.explain(image, model, segments=seg, n_samples="auto", top_k=2, tolerance=0.1,
                            max_samples=6000, ridge=0.0, hide_color=0.0, seed=2, design=design, progress=False,
                            labels=[0])
    beta = th.exact_limit(lambda z: model(z.reshape(z.shape[0], *seg.shape) * 1.0)[:, 0], 8, 0.25)[1:]
    assert ex.settled and ex.n_samples <= 6000
    top = set(np.argsort(-ex.coef[0])[:2])
    eps = 0.1 * np.abs(beta).max()
    assert all(beta[i] >= beta[j] - eps for i in top for j in set(range(8)) - top)


def test_sampler_is_the_former_name_of_design():
    image, seg, model = _scene()
    with pytest.warns(DeprecationWarning, match="sampler= is deprecated"):
        old = limetheory.explain(image, model, segments=seg, n_samples=200, seed=0, sampler="bernoulli",
                                 hide_color=0.0, progress=False)
    new = limetheory.explain(image, model, segments=seg, n_samples=200, seed=0, design="iid", hide_color=0.0,
                             progress=False)
    np.testing.assert_array_equal(old.coef, new.coef)
    assert old.design == "iid" and old.sampler == "bernoulli"
    with pytest.raises(TypeError, match="not both"):
        limetheory.explain(image, model, segments=seg, design="iid", sampler="weighted")
    with pytest.raises(ValueError, match="design must be one of"):
        limetheory.explain(image, model, segments=seg, design="antithetic")


@pytest.mark.parametrize("design", DESIGNS)
def test_designs_keep_the_estimand_of_another_kernel(design):
    """Any kernel of k = |z| (here the Shapley kernel (d - 1) / (C(d, k) k (d - k)), 10 at k = 0, d):
    every design's estimate lands within its own standard errors of the weighted least-squares fit
    over all 2^d patterns with that kernel (Bonferroni over the d + 1 coefficients and 4 designs)."""
    from scipy.special import comb

    d, n = 6, 6000
    k = np.arange(d + 1)
    with np.errstate(divide="ignore"):
        kernel = np.where((k > 0) & (k < d), (d - 1) / (comb(d, k) * k * (d - k)), 10.0)
    table = th.ResponseTable(tanh_game(d, 4).values + 0.5 * pairwise_game(d, 4).values)
    z_all = th.all_patterns(d)
    b0, b = fit_weighted_ridge(z_all, table.values, kernel[z_all.sum(axis=1)], 0.0)
    exact = np.concatenate([b0, b[0]])
    run = DesignRun(design, d, 0.25, np.random.default_rng(21), 0.0, lambda y0: np.array([0]),
                    log_weights=np.log(kernel))
    z, _ = run.draw(n, True)
    run.record(table(z)[:, None])
    s = run.sample()
    c0, c = fit_weighted_ridge(s.z, table(s.z), s.weights, 0.0)
    se = sandwich_standard_errors(s.z, s.weights, table(s.z) - predict_linear(s.z, c0, c)[:, 0], 0.0,
                                  clusters=s.clusters, strata=s.strata)[0]
    est = np.concatenate([c0, c[0]])
    assert np.all(np.abs(est - exact) <= quantile(ALPHA, m=4 * (d + 1)) * se), (design, est - exact, se)
