"""The Shapley kernel as an exchangeable kernel: alpha_p, Sigma^-1, KernelSHAP's limit and covariance by enumeration."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from limetheory import theory as th
from limetheory.kernel import log_kernel


def shap_pi(k, d):
    """Lundberg & Lee's Theorem 2, straight from the formula (end points excluded)."""
    return (d - 1) / (math.comb(d, k) * k * (d - k)) if 0 < k < d else 0.0


def test_the_kernel_and_its_law():
    d = 9
    k = np.arange(d + 1)
    np.testing.assert_allclose(np.exp(log_kernel(k, d, None, kernel="shap")), [shap_pi(i, d) for i in k], rtol=1e-14)
    q, _ = th.weighted_law(d, None, kernel="shap")
    inner = np.array([0.0] + [1.0 / (i * (d - i)) for i in range(1, d)] + [0.0])
    np.testing.assert_allclose(q, inner / inner.sum(), rtol=1e-13)


@pytest.mark.parametrize("d", [3, 4, 7, 10])
def test_alpha_and_sigma_match_enumeration(d):
    """E[pi z_1..z_p] and Sigma = E[pi Z Z^T] over {0,1}^d with the Shapley kernel, and the closed-form
    inverse of the exchangeable structure with the kernel's own alpha_p."""
    z = th.all_patterns(d).astype(np.float64)
    pi = np.array([shap_pi(int(k), d) for k in z.sum(axis=1)]) / 2**d
    alphas = [float(pi @ np.prod(z[:, :p], axis=1)) for p in range(d + 1)]
    np.testing.assert_allclose(th.alpha(d, None, np.arange(d + 1), kernel="shap"), alphas, rtol=1e-12)
    x = np.hstack([np.ones((z.shape[0], 1)), z])
    sigma = x.T @ (x * pi[:, None])
    np.testing.assert_allclose(th.sigma_matrix(d, None, kernel="shap"), sigma, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(th.sigma_inverse(d, None, kernel="shap"), np.linalg.inv(sigma), rtol=1e-9)


def test_sigma_is_singular_for_two_players():
    """For d = 2 the Shapley kernel only sees k = 1, where z_1 + z_2 = 1: Sigma is singular."""
    with pytest.raises(ValueError, match="singular"):
        th.sigma(2, None, kernel="shap")


def constrained_wls(values, d):
    """KernelSHAP's regression written out: weights pi_SHAP on 0 < |z| < d, phi_0 = g(0) and
    sum phi = g(1) - g(0) imposed by eliminating phi_d (as shap does), solved by lstsq."""
    z = th.all_patterns(d).astype(np.float64)[1:-1]
    w = np.sqrt([shap_pi(int(k), d) for k in z.sum(axis=1)])
    g0, g1 = values[0], values[-1]
    y = values[1:-1] - g0 - z[:, -1] * (g1 - g0)
    design = z[:, :-1] - z[:, -1:]
    head = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)[0]
    return np.concatenate([[g0], head, [g1 - g0 - head.sum()]])


@given(st.integers(2, 7), st.data())
def test_the_shapley_kernel_limit_is_the_shapley_value(d, data):
    values = data.draw(arrays(np.float64, 1 << d, elements=st.floats(-10, 10)))
    table = th.ResponseTable(values)
    beta = th.exact_limit(table, d, kernel="shap")
    tol = 1e-11 * (1 + np.abs(values).max())
    np.testing.assert_allclose(beta, constrained_wls(values, d), atol=tol)
    np.testing.assert_allclose(beta[1:], th.exact_shapley(table), atol=tol)
    assert beta[0] == values[0]


def test_several_outputs_and_d_one(rng):
    table = th.ResponseTable(rng.normal(size=(1 << 5, 3)))
    beta = th.exact_limit(table, 5, kernel="shap")
    assert beta.shape == (3, 6)
    np.testing.assert_allclose(beta[:, 1:], th.exact_shapley(table), atol=1e-14)
    np.testing.assert_allclose(th.exact_limit(lambda z: 3.0 * z[:, 0] + 1, 1, kernel="shap"), [1.0, 3.0])
    assert th.exact_limit_covariance(table, 5, kernel="shap").shape == (3, 6, 6)


def test_covariance_of_an_additive_game_is_zero():
    """KernelSHAP fits g = b0 + b.z exactly from any d samples that identify it: V = 0."""
    b = np.array([0.3, 1.0, -2.0, 0.5, 4.0])
    v = th.exact_limit_covariance(lambda z: 0.3 + z @ b[1:], 4, kernel="shap")
    assert np.abs(v).max() < 1e-25


def test_covariance_matches_the_spread_of_simulated_fits(rng):
    """V = P M P / D^2 against the spread of the constrained least squares over many small samples drawn from
    the Shapley size law (written out here, independently of the library's sampler): the trace of the
    covariance of sqrt(n) phi_hat within 3 standard errors of a chi-square-like spread (2000 runs: the
    relative standard error of a sample variance sum is below sqrt(2 / 2000) = 3.2%, so 12% is 3.7 of them)."""
    d, n, runs = 6, 400, 2000
    values = np.sin(np.arange(1 << d) * 0.7) + 0.3 * rng.normal(size=1 << d)
    table = th.ResponseTable(values)
    exact = th.exact_limit(table, d, kernel="shap")
    v = th.exact_limit_covariance(table, d, kernel="shap")
    q, _ = th.weighted_law(d, None, kernel="shap")
    draws = np.empty((runs, d))
    for r in range(runs):
        k = rng.choice(d + 1, size=n, p=q)
        z = (np.argsort(rng.random((n, d)), axis=1) < k[:, None]).astype(np.float64)
        y = table(z.astype(np.uint8)) - values[0] - z[:, -1] * (values[-1] - values[0])
        head = np.linalg.lstsq(z[:, :-1] - z[:, -1:], y, rcond=None)[0]
        draws[r] = np.concatenate([head, [values[-1] - values[0] - head.sum()]])
    spread = n * np.cov(draws.T)
    assert np.trace(spread) == pytest.approx(np.trace(v[1:, 1:]), rel=0.12)
    assert np.abs(draws.mean(axis=0) - exact[1:]).max() < 4 * np.sqrt(np.diag(v)[1:].max() / n / runs) + 2e-3


def test_bad_kernel_arguments():
    with pytest.raises(ValueError, match="kernel"):
        th.exact_limit(lambda z: z.sum(axis=1), 3, 0.25, kernel="gauss")
    with pytest.raises(TypeError, match="kernel_width"):
        th.exact_limit(lambda z: z.sum(axis=1), 3)
    with pytest.raises(ValueError, match="kernel_width"):
        th.exact_limit(lambda z: z.sum(axis=1), 3, -1.0, kernel="shap")
    with pytest.raises(ValueError, match="paired"):
        th.exact_limit_covariance(lambda z: z.sum(axis=1), 3, 0.25, paired=True)
