"""LIME's own error bars: the sandwich standard errors of one run, and the exact asymptotic covariance.

Claims checked, each with a fixed seed and a tolerance from the sampling distribution:
* ``theory.exact_limit_covariance`` V is the covariance of sqrt(n) (beta_hat_n - beta^f): over R
  independent runs the statistic T = n (beta_hat - beta^f)^T V^{-1} (beta_hat - beta^f) is
  asymptotically chi^2 with d + 1 degrees of freedom, so its mean over R runs is d + 1 within
  sqrt(2 (d + 1) / R) per standard deviation;
* the standard errors one run reports (``Explanation.coef_se``) estimate sqrt(diag(V) / n): their mean
  over runs agrees within a few standard errors of that mean;
* 95% intervals (``Explanation.conf_int``) cover the exact limit in 95% of runs, within the
  binomial standard deviation sqrt(0.95 * 0.05 / R);
* ``surrogate.sandwich_standard_errors`` and ``sandwich_covariance`` equal a direct, loop-by-loop
  implementation of the formula;
* all of the above also for ``sampler="weighted"`` (z from the pi-weighted law, equal weights), whose
  runs converge to the same limit with their own exact covariance, smaller for small kernel widths.
"""
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import limetheory
from limetheory import theory as th
from limetheory.analytic import response_of_z
from limetheory.surrogate import fit_weighted_ridge, predict_linear, sandwich_covariance, sandwich_standard_errors
from models import KERNEL_WIDTH as NU, bar_scene, convergence_models
from stats_bounds import assert_within, band, dn_bias, mean_band

N_RUNS = 300
N = 2000
Z95 = 1.959963984540054


def _runs(model_name, ridge=0.0, sampler="bernoulli"):
    image, seg, mask, rng = bar_scene(18, 3)
    model = convergence_models(image, mask, rng)[model_name]
    d = int(seg.max()) + 1
    f = response_of_z(model, image, seg)
    beta, cov = th.exact_limit(f, d, NU), th.exact_limit_covariance(f, d, NU, sampler=sampler)
    runs = [limetheory.explain(image, model, segments=seg, n_samples=N, ridge=ridge, kernel_width=NU,
                               seed=np.random.default_rng([7, r]), progress=False, sampler=sampler)
            for r in range(N_RUNS)]
    est = np.array([np.concatenate([e.intercept, e.coef[0]]) for e in runs])
    se = np.array([np.concatenate([e.intercept_se, e.coef_se[0]]) for e in runs])
    return beta, cov, est, se, runs


@pytest.fixture(scope="module", params=[("shape detector", "bernoulli"), ("tanh", "bernoulli"),
                                        ("shape detector", "weighted"), ("tanh", "weighted")], ids=str)
def lime_runs(request):
    model, sampler = request.param
    return _runs(model, sampler=sampler)


def test_exact_covariance_is_the_spread_of_lime(lime_runs):
    beta, cov, est, _, _ = lime_runs
    dev = est - beta
    t = N * np.einsum("ri,ij,rj->r", dev, np.linalg.inv(cov), dev)
    dof = beta.size
    assert abs(t.mean() - dof) <= 4 * np.sqrt(2 * dof / N_RUNS), (t.mean(), dof)


def _effective_n(n, d, nu, sampler):
    """Kish's effective sample size n (E pi)^2 / E[pi^2] of n kernel-weighted Bernoulli samples (the
    weighted sampler's weights are equal: n). The O(d/n) terms of weighted least squares scale with it."""
    if sampler == "weighted":
        return n
    log_p = stats.binom.logpmf(np.arange(d + 1), d, 0.5)
    log_pi = th.log_kernel(np.arange(d + 1), d, nu)
    return n * np.exp(2 * logsumexp(log_p + log_pi) - logsumexp(log_p + 2 * log_pi))


def test_one_run_standard_errors_estimate_the_exact_spread(lime_runs):
    """The mean over runs of each se is sqrt(V_jj / n) within a t band of its standard error
    (Bonferroni over the d + 1 coordinates, 0.1%) + the O(d / n_eff) bias of the sandwich (c = 1)."""
    _, cov, _, se, _ = lime_runs
    exact = np.sqrt(np.diag(cov) / N)
    d = cov.shape[0] - 1
    mean_se, tol = mean_band(se, bias=dn_bias(d, _effective_n(N, d, NU, lime_runs[4][0].sampler), exact))
    assert_within(mean_se, exact, tol, "mean se over runs")


def test_confidence_intervals_cover_the_limit(lime_runs):
    beta, _, est, se, runs = lime_runs
    covered = np.abs(est - beta) <= Z95 * se
    assert abs(covered.mean() - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / N_RUNS), covered.mean(axis=0)
    ci = runs[0].conf_int(level=0.95)
    n, d = runs[0].n_samples, runs[0].n_superpixels
    assert runs[0].se_df == n - d - 1  # independent rows: the residual degrees of freedom
    np.testing.assert_allclose(ci[:, 1] - ci[:, 0], 2 * stats.t.ppf(0.975, n - d - 1) * se[0, 1:], rtol=1e-12)
    assert np.all(ci[:, 0] <= runs[0].coef[0]) and np.all(runs[0].coef[0] <= ci[:, 1])


def test_sandwich_df_counts_rows_clusters_and_strata():
    from limetheory.surrogate import sandwich_df
    assert sandwich_df(50, 13) == 37  # independent rows: n - p
    pairs = np.repeat(np.arange(25), 2)
    assert sandwich_df(50, 13, clusters=pairs) == 24  # 25 pairs: G - 1
    assert sandwich_df(50, 13, clusters=np.arange(50)) == 37  # singleton clusters are independent rows
    strata = np.repeat(np.arange(5), 10)
    assert sandwich_df(50, 13, strata=strata) == 33  # 4 more stratum means
    assert sandwich_df(10, 13) == 0


def test_intervals_widen_to_student_t_at_small_budgets():
    """Every design records its degrees of freedom; the interval multiplier is t's quantile, above the
    normal one at small budgets, and the normal one when they are infinite."""
    import dataclasses
    image, seg, mask, rng = bar_scene(18, 3)
    model = convergence_models(image, mask, rng)["tanh"]
    d = int(seg.max()) + 1
    expected = {("lime", "iid"): 60 - d - 1, ("lime", "paired"): 29, ("shap", "paired"): 28}  # shap: 2 rows carry the constraints
    for (kernel, design), df in expected.items():
        ex = limetheory.explain(image, model, segments=seg, n_samples=60, seed=0, progress=False,
                                kernel=kernel, design=design)
        assert ex.se_df == df, (kernel, design, ex.se_df)
        assert ex.interval_quantile(0.95) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-12)
        assert ex.interval_quantile(0.95) > Z95
    assert dataclasses.replace(ex, se_df=float("inf")).interval_quantile(0.95) == pytest.approx(Z95, rel=1e-12)


def test_lime_ridge_one_intervals_still_cover_at_this_n():
    """lime's ridge = 1 biases beta_hat by O(1/n) (theory.ridge_bias), negligible against O(n^-1/2)."""
    beta, _, est, se, _ = _runs("shape detector", ridge=1.0)
    covered = np.abs(est - beta) <= Z95 * se
    assert abs(covered.mean() - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / N_RUNS)


def _sandwich_by_loops(z, w, r, ridge):
    n, d = z.shape
    x = np.hstack([np.ones((n, 1)), z.astype(float)])
    h = sum(w[i] * np.outer(x[i], x[i]) for i in range(n)) + ridge * np.diag([0.0] + [1.0] * d)
    meat = sum((w[i] * r[i]) ** 2 * np.outer(x[i], x[i]) for i in range(n))
    h_inv = np.linalg.inv(h)
    return h_inv @ meat @ h_inv * n / (n - d - 1)


@pytest.mark.parametrize("ridge", [0.0, 1.0, 25.0])
@pytest.mark.parametrize("block_rows", [None, 7])
def test_sandwich_matches_a_direct_implementation(ridge, block_rows, monkeypatch):
    if block_rows:  # several blocks of samples, the last one partial
        monkeypatch.setattr("limetheory.surrogate._SANDWICH_CHUNK_BYTES", 8 * 6 * block_rows)
    rng = np.random.default_rng(3)
    n, d = 60, 5
    z = rng.integers(0, 2, size=(n, d)).astype(np.uint8)
    w = rng.uniform(0.1, 1.0, size=n)
    y = rng.normal(size=(n, 2))
    b0, b = fit_weighted_ridge(z, y, w, ridge)
    resid = y - predict_linear(z, b0, b)
    ours = sandwich_standard_errors(z, w, resid, ridge)
    cov = sandwich_covariance(z, w, resid, ridge)
    assert cov.shape == (2, d + 1, d + 1)
    for k in range(2):
        direct = _sandwich_by_loops(z, w, resid[:, k], ridge)
        np.testing.assert_allclose(ours[k], np.sqrt(np.diag(direct)), rtol=1e-10)
        scale = np.sqrt(np.outer(np.diag(direct), np.diag(direct)))  # off-diagonal terms relative to it
        np.testing.assert_allclose(cov[k] / scale, direct / scale, rtol=1e-10, atol=1e-10)


def test_explanation_carries_the_sandwich_of_its_own_samples():
    image, seg, mask, rng = bar_scene(18, 3)
    model = convergence_models(image, mask, rng)["tanh"]
    e = limetheory.explain(image, model, segments=seg, n_samples=500, seed=1, keep_samples=True, progress=False)
    y = e.responses[:, e.labels]
    se = sandwich_standard_errors(e.samples, e.weights, y - predict_linear(e.samples, e.intercept, e.coef), e.ridge)
    np.testing.assert_allclose(e.coef_se, se[:, 1:], rtol=1e-12)
    np.testing.assert_allclose(e.intercept_se, se[:, 0], rtol=1e-12)
    frame = e.to_frame()
    np.testing.assert_allclose(frame["se"].to_numpy(), e.coef_se[0])


def test_exact_models_have_zero_spread_and_too_few_samples_have_none():
    image, seg, mask, rng = bar_scene(18, 3)
    linear = convergence_models(image, mask, rng)["linear"]
    d = int(seg.max()) + 1
    assert np.max(np.abs(th.exact_limit_covariance(response_of_z(linear, image, seg), d, NU))) < 1e-20
    e = limetheory.explain(image, linear, segments=seg, n_samples=200, ridge=0.0, seed=0, progress=False)
    assert np.max(e.coef_se) < 1e-10  # a linear model is fitted exactly: no sampling error
    few = limetheory.explain(image, linear, segments=seg, n_samples=d + 1, seed=0, progress=False)
    assert np.all(np.isinf(few.coef_se))
    with pytest.raises(ValueError, match="no finite standard errors"):
        few.n_samples_for(0.01)


def test_n_samples_for_follows_the_square_root_law(lime_runs):
    e = lime_runs[-1][0]
    worst = float(np.max(e.coef_se[0]))
    assert e.n_samples_for(worst / 2) == 4 * N  # halving the error takes four times the samples
    assert e.n_samples_for(worst * 10) == N  # never fewer than already drawn
    for bad in (0, -1.0, np.nan):
        with pytest.raises(ValueError, match="target_se"):
            e.n_samples_for(bad)
    with pytest.raises(TypeError, match="target_se"):  # a wrong type, not a wrong value
        e.n_samples_for("0.1")
    with pytest.raises(ValueError, match="level"):
        e.conf_int(level=1.0)


def test_vector_output_covariance_stacks_per_class():
    d = 6
    w = np.random.default_rng(0).normal(size=(d, 2))

    def f(z):
        return np.tanh(z @ w)

    both = th.exact_limit_covariance(f, d, 0.3)
    assert both.shape == (2, d + 1, d + 1)
    np.testing.assert_allclose(both[1], th.exact_limit_covariance(lambda z: f(z)[:, 1], d, 0.3), rtol=1e-12)
    np.testing.assert_allclose(both[0], both[0].T, atol=1e-15)
    assert np.all(np.linalg.eigvalsh(both[0]) > -1e-12)


def test_plot_coefficients_draws_the_intervals(lime_runs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = lime_runs[-1][0]
    ax = e.plot_coefficients(k=4)
    bars = [p.get_width() for p in ax.patches]
    order = e.top(4, sign="abs")
    np.testing.assert_allclose(bars, e.coef[0, order])
    segs = ax.collections[0].get_segments()  # one horizontal error bar per superpixel
    np.testing.assert_allclose([s[1, 0] - s[0, 0] for s in segs], 2 * e.interval_quantile(0.95) * e.coef_se[0, order],
                               rtol=1e-9)
    plt.close(ax.figure)


def test_unidentified_coefficients_have_infinite_standard_errors():
    rng = np.random.default_rng(0)
    z = rng.integers(0, 2, size=(50, 4)).astype(np.uint8)
    z[:, 2] = 1  # superpixel 2 never switched off: its coefficient is not identified (ridge 0)
    w = rng.uniform(0.1, 1.0, size=50)
    resid = rng.normal(size=50)
    assert np.all(np.isinf(sandwich_standard_errors(z, w, resid, 0.0)))
    assert np.all(np.isinf(sandwich_covariance(z, w, resid, 0.0)))
    assert np.all(np.isfinite(sandwich_standard_errors(z, w, resid, 1.0)))  # the ridge identifies it


# --------------------------------------------------------------------------- Monte-Carlo limit
def _smooth_f(d):
    w = np.random.default_rng(0).normal(size=d)
    return lambda z: np.tanh(z @ w - 1.0) + 0.3 * z[:, 0] * z[:, 1]


@pytest.mark.parametrize("method", ["weighted", "bernoulli"])
def test_monte_carlo_limit_standard_errors_cover_the_exact_limit(method):
    d, nu, runs = 8, 0.3, 200
    f = _smooth_f(d)
    exact = th.exact_limit(f, d, nu)
    pairs = [th.monte_carlo_limit(f, d, nu, 3000, seed=s, sampler=method, return_se=True) for s in range(runs)]
    est, se = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    covered = np.abs(est - exact) <= Z95 * se
    assert abs(covered.mean() - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / runs), covered.mean()
    # the reported se is the spread of the estimate: sd over runs / mean se ~ 1 within the sd's noise
    ratio = est.std(axis=0, ddof=1) / se.mean(axis=0)
    assert np.all(np.abs(ratio - 1) <= 4 / np.sqrt(2 * (runs - 1))), ratio


def _recording_per_row(f):
    """f evaluated one row at a time (its values do not depend on how rows are batched), recording
    every call's (z, f(z))."""
    calls = []

    def g(z):
        y = np.concatenate([f(row[None]) for row in z])
        calls.append((z.copy(), y))
        return y

    return g, calls


@pytest.mark.parametrize("method", ["weighted", "bernoulli"])
def test_monte_carlo_standard_errors_do_not_depend_on_batching(method):
    """batch_size only splits the work. For batch sizes 5000 (one batch) and 777 (7 batches, the last
    partial), the estimate and its se equal, to rounding, the one-pass mean and sd / sqrt(n) of
    u_i = Sigma^{-1} w_i (1, z_i) (f(z_i) - f(1)) on the very samples and responses that run used.
    The sampler draws batch by batch, so the two batchings see different samples: their estimates
    are independent and differ by less than a normal band of sqrt(se_a^2 + se_b^2) (Bonferroni, 0.1%)."""
    d, nu, n = 7, 0.3, 5000
    f = _smooth_f(d)
    out = {}
    for batch_size in (5000, 777):
        g, calls = _recording_per_row(f)
        beta, se = th.monte_carlo_limit(g, d, nu, n, seed=3, sampler=method, return_se=True, batch_size=batch_size)
        assert [len(z) for z, _ in calls[1:]] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
        y_ref = calls[0][1][0]  # the first call is f(z = 1)
        z = np.concatenate([c[0] for c in calls[1:]])
        y = np.concatenate([c[1] for c in calls[1:]]) - y_ref
        w = np.ones(n) if method == "weighted" else np.exp(th.log_kernel(z.sum(axis=1), d, nu) - th.log_alpha(d, nu))
        u = th.limit_explanation(d, nu, w * y, (w * y)[:, None] * z, log_scale=th.log_alpha(d, nu))  # (n, d + 1)
        # rounding: sums of n = 5000 terms in another order differ by ~ n eps |u| ~ 1e-12 |u|
        np.testing.assert_allclose(beta, u.mean(axis=0) + np.eye(d + 1)[0] * y_ref, rtol=1e-10,
                                   atol=1e-10 * np.abs(u).mean())
        np.testing.assert_allclose(se, u.std(axis=0, ddof=1) / np.sqrt(n), rtol=1e-10)
        out[batch_size] = beta, se
    (a, se_a), (c, se_c) = out[5000], out[777]
    assert not np.array_equal(a, c)  # other samples, as the docstring says
    assert_within(a, c, band(np.hypot(se_a, se_c)), "independent estimates of the same limit")
    again = th.monte_carlo_limit(_recording_per_row(f)[0], d, nu, n, seed=3, sampler=method, return_se=True,
                                 batch_size=5000)
    np.testing.assert_array_equal(again[0], out[5000][0])  # same seed, same batching, same model outputs: same bits
    np.testing.assert_array_equal(again[1], out[5000][1])


def test_monte_carlo_spread_merges_batches():
    d, nu = 7, 0.3
    z_rng = np.random.default_rng(11)
    z = z_rng.integers(0, 2, size=(400, d)).astype(np.uint8)
    wy = z_rng.normal(size=(400, 2))
    from limetheory.theory._normalized import normalized
    from limetheory.theory.monte_carlo import _merge_spread, _per_sample_spread

    nrm = normalized(d, nu)
    whole = _per_sample_spread(nrm, z, wy, d)
    parts = _merge_spread(_per_sample_spread(nrm, z[:150], wy[:150], d),
                          _per_sample_spread(nrm, z[150:], wy[150:], d))
    u = np.stack([th.limit_explanation(d, nu, wy[:, k], wy[:, k, None] * z, log_scale=th.log_alpha(d, nu))
                  for k in range(2)])  # (k, n, d + 1), directly
    np.testing.assert_allclose(whole[1], u.mean(axis=1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(whole[2], ((u - u.mean(axis=1, keepdims=True)) ** 2).sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(parts[2], whole[2], rtol=1e-9)
    scalar = th.monte_carlo_limit(_smooth_f(d), d, nu, 1, seed=0, return_se=True)
    assert np.all(np.isinf(scalar[1]))  # one sample: no spread to estimate


# --------------------------------------------------------------------------- the pi-weighted sampler
def test_weighted_samples_follow_the_weighted_law():
    from limetheory.sampling import samples_and_weights, weighted_samples

    d, nu, n = 10, 0.2, 20000
    z = weighted_samples(n, d, nu, np.random.default_rng(0), first_row_ones=False)
    q, _ = th.weighted_law(d, nu)
    counts = np.bincount(z.sum(axis=1), minlength=d + 1)
    expected = n * q
    keep = expected > 5  # chi-square on the cells with enough mass, the rest pooled
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # given k, the ones are placed uniformly: every position is on equally often
    freq = z.mean(axis=0)
    assert np.all(np.abs(freq - freq.mean()) <= 4 * np.sqrt(freq.mean() * (1 - freq.mean()) / n))
    z2, w2 = samples_and_weights(50, d, nu, np.random.default_rng(1), "weighted")
    assert z2[0].all() and np.all(w2 == 1.0)
    with pytest.raises(ValueError, match="sampler"):
        samples_and_weights(50, d, nu, np.random.default_rng(1), "sobol")


def test_weighted_sampler_needs_fewer_samples_for_a_narrow_kernel():
    """For nu = 0.1 most Bernoulli samples get a weight near 0; the exact variances say by how much
    the weighted law does better, and repeated runs of explain show the same ratio."""
    image, seg, mask, rng = bar_scene(18, 3)
    model = convergence_models(image, mask, rng)["shape detector"]
    d, nu, n, runs = int(seg.max()) + 1, 0.1, 1000, 150
    f = response_of_z(model, image, seg)
    beta = th.exact_limit(f, d, nu)
    exact = {s: np.trace(th.exact_limit_covariance(f, d, nu, sampler=s)[1:, 1:]) / n for s in ("bernoulli", "weighted")}
    assert exact["bernoulli"] > 2 * exact["weighted"]
    for sampler, var in exact.items():
        errs = [np.sum((limetheory.explain(image, model, segments=seg, n_samples=n, ridge=0.0, kernel_width=nu,
                                           seed=np.random.default_rng([3, r]), sampler=sampler,
                                           progress=False).coef[0] - beta[1:]) ** 2)
                for r in range(runs)]
        # mean squared error = trace(V) / n: the mean over runs within a t band of its standard error
        # (Bonferroni over the 2 samplers, 0.1%) + the O(d / n_eff) bias (c = 1, relative)
        mse, tol = mean_band(errs, m=2, bias=dn_bias(d, _effective_n(n, d, nu, sampler), var))
        assert_within(mse, var, tol, sampler)


def test_explain_rejects_an_unknown_sampler():
    image, seg, mask, rng = bar_scene(18, 3)
    with pytest.raises(ValueError, match="sampler must be one of"):
        limetheory.explain(image, convergence_models(image, mask, rng)["tanh"], segments=seg, sampler="antithetic")
    with pytest.raises(ValueError, match="sampler must be one of"):
        th.exact_limit_covariance(lambda z: z.sum(axis=1), 3, 0.3, sampler="antithetic")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(12, 80), d=st.integers(1, 6), scale=st.floats(1e-3, 1e3), shift=st.floats(-5, 5),
       seed=st.integers(0, 10_000))
def test_sandwich_laws(n, d, scale, shift, seed):
    """ridge 0: se does not change when pi is multiplied by a constant (lime's kernel scale is
    arbitrary), scales with y, ignores a constant added to y (only residuals matter)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, size=(n, d)).astype(np.uint8)
    w = rng.uniform(0.05, 1.0, size=n)
    y = rng.normal(size=n)
    fit = lambda yy, ww: yy - predict_linear(z, *fit_weighted_ridge(z, yy, ww, 0.0))[:, 0]
    se = sandwich_standard_errors(z, w, fit(y, w), 0.0)
    assume(np.all(np.isfinite(se)))  # samples that identify every coefficient (the rest: tested above)
    np.testing.assert_allclose(sandwich_standard_errors(z, scale * w, fit(y, scale * w), 0.0), se, rtol=1e-7)
    np.testing.assert_allclose(sandwich_standard_errors(z, w, fit(scale * y, w), 0.0), scale * se, rtol=1e-7)
    np.testing.assert_allclose(sandwich_standard_errors(z, w, fit(y + shift, w), 0.0), se, rtol=1e-6, atol=1e-12)


def test_overlay_hatches_superpixels_whose_sign_is_not_settled():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, seg, mask, rng = bar_scene(18, 3)
    model = convergence_models(image, mask, rng)["tanh"]
    few = limetheory.explain(image, model, segments=seg, n_samples=12, seed=0, progress=False)
    ci = few.conf_int()
    shown = np.concatenate([few.top(3, sign="positive"), few.top(3, sign="negative")])
    unsure = int(np.sum((ci[shown, 0] <= 0) & (ci[shown, 1] >= 0)))
    assert unsure > 0  # 12 samples for 9 superpixels: some signs are not settled
    ax = few.plot(k=3)
    assert f"sign not settled at 95% ({unsure})" in ax.get_title()
    plt.close(ax.figure)
    many = limetheory.explain(image, model, segments=seg, n_samples=4000, seed=0, progress=False)
    ax = many.plot(k=3, mark_uncertain=False)
    assert "hatched" not in ax.get_title()
    plt.close(ax.figure)
