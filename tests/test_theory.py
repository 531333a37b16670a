"""The limit explanation (docs/theory/limit.md): oracles (mpmath, enumeration) and properties."""
import math
import re
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from limetheory import theory as th
from limetheory.sampling import kernel_weights

NUS = [0.01, 0.03, 0.1, 0.25, 1.0, 3.0, 10.0]
DS_FAST = [1, 2, 3, 5, 10, 50, 300, 2000]
# What limetheory.theory's docstring promises against mpmath, over the whole grid below
# (d = 1..100000, nu = 0.01..10; measured worst in parentheses):
REL_SIGMA = 2e-13  # relative error of sigma's five coefficients and of alpha_diff (1.03e-13: d = 2000, nu = 0.01)
REL_LOG = 5e-15  # |error of log alpha_p| / max(1, |log alpha_p|) (2.5e-15: d = 10, nu = 3)
REL = 1e-9  # derived quantities (Sigma^{-1} entries, beta from given moments, the product limit)


# =========================================================================== mpmath reference
def mp_dps(d, nu):
    """Digits for the formulas of docs/theory/limit.md to resolve pi(one zero)^2 / pi(none) at small nu."""
    dcos = 1.0 if d == 1 else 1.0 - math.sqrt(1.0 - 1.0 / d)
    return 60 + int(2 * dcos**2 / (2 * nu * nu) / 2.3)


def mp_alpha(d, nu, p):
    """alpha_p = 2^-d sum_{s=0}^{d-p} C(d-p, s) psi(s/d) in mpmath, straight from the definition.

    For d > 5000 terms more than 250 nats below the largest are dropped (relative effect < e^-230).
    """
    n = d - p
    s = np.arange(n + 1)
    lo, hi = 0, n
    if d > 5000:
        t = s / d
        lt = gammaln(n + 1) - gammaln(s + 1) - gammaln(n - s + 1) - (1 - np.sqrt(1 - t)) ** 2 / (2 * nu * nu)
        keep = np.nonzero(lt >= lt.max() - 250.0)[0]
        lo, hi = int(keep.min()), int(keep.max())
    nu2 = 2 * mp.mpf(nu) ** 2
    c = mp.binomial(n, lo)
    tot = mp.mpf(0)
    for si in range(lo, hi + 1):
        if si > lo:
            c = c * (n - si + 1) / si
        tot += c * mp.exp(-((1 - mp.sqrt(1 - mp.mpf(si) / d)) ** 2) / nu2)
    return tot / mp.mpf(2) ** d


def mp_sigma(d, nu):
    """(a0, a1, a2, (c_d, s0, s1, s2, s3)) from the formulas of docs/theory/limit.md in mpmath."""
    a0, a1 = mp_alpha(d, nu, 0), mp_alpha(d, nu, 1)
    if d == 1:
        return a0, a1, None, (a1 * (a0 - a1), a1, -a1, a0, mp.mpf(0))
    a2 = mp_alpha(d, nu, 2)
    c = (d - 1) * a0 * a2 - d * a1**2 + a0 * a1
    s2 = ((d - 2) * a0 * a2 - (d - 1) * a1**2 + a0 * a1) / (a1 - a2)
    s3 = (a1**2 - a0 * a2) / (a1 - a2)
    return a0, a1, a2, (c, (d - 1) * a2 + a1, -a1, s2, s3)


def rel_err(got, ref):
    ref = mp.mpf(ref)
    if ref == 0:
        return abs(float(got))
    return abs(float((mp.mpf(float(got)) - ref) / ref))


def _grid(ds):
    return [(d, nu) for d in ds for nu in NUS if not (d == 1 and nu < 0.028)]


# =========================================================================== accuracy against mpmath
def _check_against_mpmath(d, nu):
    with mp.workdps(mp_dps(d, nu)):
        a0, a1, a2, ref = mp_sigma(d, nu)
        log_a0 = float(mp.log(a0))
        ps = sorted({0, 1, min(2, d), d // 2, d})
        got = th.log_alpha(d, nu, ps)
        for p, lg in zip(ps, got):
            ref_log = float(mp.log(mp_alpha(d, nu, p)))
            assert abs(lg - ref_log) <= REL_LOG * max(1.0, abs(ref_log)), (d, nu, p)
        if d >= 2:
            ref_diff = mp.log(a1 - a2) - log_a0
            assert abs(math.log(th.alpha_diff(d, nu, 1, log_scale=log_a0)) - float(ref_diff)) <= REL_SIGMA
        sig = th.sigma(d, nu, log_scale=log_a0)
        scale = [mp.exp(-2 * mp.mpf(log_a0))] + [mp.exp(-mp.mpf(log_a0))] * 4
        for name, g, r, sc in zip(sig._fields, sig, ref, scale):
            assert rel_err(g, r * sc) <= REL_SIGMA, (d, nu, name, g, float(r * sc))


@pytest.mark.parametrize("d,nu", _grid(DS_FAST) + [(10000, 0.01), (10000, 10.0), (100000, 0.25), (100000, 10.0)])
def test_alpha_and_sigma_match_mpmath(d, nu):
    """The module docstring's accuracy claim; the full large-d grid runs with -m slow."""
    _check_against_mpmath(d, nu)


@pytest.mark.slow
@pytest.mark.parametrize("d,nu", _grid([10000, 30000, 100000]))
def test_alpha_and_sigma_match_mpmath_large_d(d, nu):
    _check_against_mpmath(d, nu)


@pytest.mark.parametrize("d,nu", [(1, 0.1), (2, 0.01), (3, 0.25), (9, 10.0), (40, 0.03), (300, 1.0)])
def test_sigma_inverse_matches_mpmath(d, nu):
    with mp.workdps(mp_dps(d, nu)):
        a0, a1, a2, (c, s0, s1, s2, s3) = mp_sigma(d, nu)
        log_a0 = float(mp.log(a0))
        got = th.sigma_inverse(d, nu, log_scale=log_a0)  # for pi / alpha_0: entries * alpha_0
        expect = {"00": s0 / c * a0, "01": s1 / c * a0, "11": s2 / c * a0, "12": s3 / c * a0}
        assert rel_err(got[0, 0], expect["00"]) <= REL
        assert rel_err(got[0, d], expect["01"]) <= REL and rel_err(got[d, 0], expect["01"]) <= REL
        assert rel_err(got[1, 1], expect["11"]) <= REL
        if d >= 2:
            assert rel_err(got[1, 2], expect["12"]) <= REL


@pytest.mark.parametrize("d,nu", [(2, 0.25), (9, 0.25), (50, 10.0), (2000, 0.01), (2000, 3.0), (20000, 10.0)])
def test_limit_explanation_recovers_linear_f_from_mpmath_moments(d, nu):
    """f(z) = c0 + c^T z has beta^f = (c0, c) exactly; moments computed in mpmath, rounded to float."""
    rng = np.random.default_rng(d)
    c = rng.normal(size=d + 1)
    with mp.workdps(mp_dps(d, nu)):
        a0 = mp_alpha(d, nu, 0)
        m1 = mp_alpha(d, nu, 1) / a0
        m2 = mp_alpha(d, nu, 2) / a0
        csum = mp.fsum(mp.mpf(float(x)) for x in c[1:])
        g0 = float(c[0] + m1 * csum)
        g = np.array([float(c[0] * m1 + mp.mpf(float(cj)) * (m1 - m2) + m2 * csum) for cj in c[1:]])
        beta = th.limit_explanation(d, nu, g0, g, log_scale=float(mp.log(a0)))
    assert np.max(np.abs(beta - c)) <= REL * np.max(np.abs(c))


@pytest.mark.parametrize(
    "d,nu,p",
    [(2, 0.01, 2), (3, 0.1, 2), (9, 0.01, 3), (9, 0.25, 3), (9, 10.0, 4), (50, 0.25, 25), (50, 10.0, 3),
     (1000, 0.01, 500), (1000, 1.0, 3), (1000, 10.0, 1000), (20000, 0.25, 3)],
)
def test_product_limit_matches_mpmath(d, nu, p):
    """Shape detector closed form (docs/theory/closed_forms.md, *Shape detectors*) against its formula in mpmath.

    The intercept and the inside coefficient to 1e-9 relative; the small outside coefficient
    (it vanishes for an exponential kernel) to 1e-9 of the inside one.
    """
    with mp.workdps(mp_dps(d, nu)):
        _, _, _, (c, s0, s1, s2, s3) = mp_sigma(d, nu)
        ap, ap1 = mp_alpha(d, nu, p), (mp_alpha(d, nu, p + 1) if p < d else mp.mpf(0))
        b_in = (s1 * ap + s2 * ap + (p - 1) * s3 * ap + (d - p) * s3 * ap1) / c
        b_out = (s1 * ap + s2 * ap1 + p * s3 * ap + (d - p - 1) * s3 * ap1) / c
        b0 = (s0 * ap + p * s1 * ap + (d - p) * s1 * ap1) / c
        got = th.product_limit(d, nu, np.arange(p))
        for g, r in ((got[0], b0), (got[1], b_in)):
            if abs(r) > 1e-290:
                assert rel_err(g, r) <= REL, (g, float(r))
            else:  # at the edge of float64's range (subnormal or 0): absolute accuracy
                assert abs(float(g - r)) <= 1e-300
        if p < d:
            assert abs(float(got[-1] - b_out)) <= REL * abs(float(b_in)) + 1e-300


def test_theory_md_shape_detector_example():
    """docs/theory/closed_forms.md, the closed form at d = 9, p = 3, nu = 0.25 gives 0.3346 inside,
    0.0028 outside, intercept -0.4075."""
    beta = th.product_limit(9, 0.25, [0, 1, 2])
    assert beta[1:4] == pytest.approx([0.3346] * 3, abs=5e-5)
    assert beta[4:] == pytest.approx([0.0028] * 6, abs=5e-5)
    assert beta[0] == pytest.approx(-0.4075, abs=5e-5)


# =========================================================================== enumeration oracles
def enumerate_z(d):
    idx = np.arange(2**d)
    return ((idx[:, None] >> np.arange(d)) & 1).astype(np.float64)


def enum_pi(z, nu, scale=1.0):
    d = z.shape[1]
    k = z.sum(axis=1)
    dcos = np.where(k > 0, 1.0 - np.sqrt(k / d), 1.0)
    return scale * np.exp(-(dcos**2) / (2 * nu * nu))


@settings(max_examples=40)
@given(d=st.integers(1, 12), nu=st.floats(0.05, 10.0), data=st.data())
def test_alpha_equals_enumeration(d, nu, data):
    p = data.draw(st.integers(0, d))
    z = enumerate_z(d)
    ref = np.mean(enum_pi(z, nu) * np.prod(z[:, :p], axis=1))
    assert th.alpha(d, nu, p) == pytest.approx(ref, rel=1e-12)
    assert th.alpha(d, nu, np.array([p]))[0] == pytest.approx(ref, rel=1e-12)


@settings(max_examples=30)
@given(d=st.integers(1, 10), nu=st.floats(0.05, 10.0))
def test_sigma_inverse_inverts_sigma(d, nu):
    z = enumerate_z(d)
    zz = np.hstack([np.ones((2**d, 1)), z])
    sigma_enum = (zz * enum_pi(z, nu)[:, None]).T @ zz / 2**d
    assert np.allclose(th.sigma_matrix(d, nu), sigma_enum, rtol=1e-12, atol=0)
    # Sigma is itself ill-conditioned for small d and nu: the product is I to cond * roundoff
    cond = np.linalg.cond(sigma_enum)
    prod = th.sigma_inverse(d, nu) @ sigma_enum
    assert np.max(np.abs(prod - np.eye(d + 1))) < 1e-15 * max(cond, 1e3) * (d + 1)


@pytest.mark.parametrize("d", [2, 3, 17, 100, 300])
@pytest.mark.parametrize("nu", [0.1, 0.25, 1.0, 10.0])
def test_sigma_inverse_times_sigma_is_identity(d, nu):
    prod = th.sigma_inverse(d, nu) @ th.sigma_matrix(d, nu)
    assert np.max(np.abs(prod - np.eye(d + 1))) < 1e-10


def _brute_force_beta(f_values, z, nu, scale=1.0):
    zz = np.hstack([np.ones((z.shape[0], 1)), z])
    w = enum_pi(z, nu, scale)
    return np.linalg.solve((zz * w[:, None]).T @ zz, (zz * w[:, None]).T @ f_values)


@settings(max_examples=30)
@given(d=st.integers(2, 9), nu=st.floats(0.1, 5.0), seed=st.integers(0, 2**31))
def test_exact_limit_equals_brute_force_least_squares(d, nu, seed):
    """exact_limit == Sigma^{-1} Gamma solved numerically from the full enumeration."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(2**d, 2))  # an arbitrary f(z), two outputs

    def f_of_z(z):
        return table[(z.astype(np.int64) << np.arange(d)).sum(axis=1)]

    ref = _brute_force_beta(table, enumerate_z(d), nu).T
    got = th.exact_limit(f_of_z, d, nu, batch_size=7)  # odd batches exercise the chunking
    assert got.shape == (2, d + 1)
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    single = th.exact_limit(lambda z: f_of_z(z)[:, 1], d, nu)
    assert np.allclose(single, got[1], rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(d=st.integers(2, 11), nu=st.floats(0.1, 5.0), data=st.data())
def test_product_limit_equals_exact_enumeration(d, nu, data):
    members = data.draw(st.lists(st.booleans(), min_size=d, max_size=d))
    mask = np.array(members)
    got = th.product_limit(d, nu, mask)
    ref = th.exact_limit(lambda z: np.prod(z[:, mask], axis=1).astype(float), d, nu)
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-10)
    if mask.sum() >= 2 and (~mask).any():  # equal large weight inside, one common weight outside
        assert np.ptp(got[1:][mask]) < 1e-12 and np.ptp(got[1:][~mask]) < 1e-12


# =========================================================================== scale of pi
@pytest.mark.parametrize("scale", [1e-30, 1e-3, 7.0, 1e30])
def test_beta_unchanged_when_pi_is_multiplied_by_a_constant(scale):
    d, nu = 6, 0.3
    z = enumerate_z(d)
    rng = np.random.default_rng(0)
    f = rng.normal(size=2**d)
    base = _brute_force_beta(f, z, nu)
    # the brute-force weighted least squares with c * pi: same beta
    assert np.allclose(_brute_force_beta(f, z, nu, scale), base, rtol=1e-9, atol=1e-12)
    w = enum_pi(z, nu) / 2**d
    g0, g = w @ f, (w * f) @ z
    expect = th.limit_explanation(d, nu, g0, g)
    assert np.allclose(expect, base, rtol=1e-9, atol=1e-12)
    # moments of c * pi = pi * exp(-log_scale), declared through log_scale: same beta
    for c in (scale, scale**8):
        scaled = th.limit_explanation(d, nu, g0 * c, g * c, log_scale=-math.log(c))
        assert np.allclose(scaled, expect, rtol=1e-12, atol=1e-14)
    # Monte-Carlo moments from weights c * pi equal those from pi, up to the declared scale
    m1 = th.monte_carlo_moments(z, enum_pi(z, nu), f)
    m2 = th.monte_carlo_moments(z, enum_pi(z, nu), f * scale)
    assert np.allclose(th.limit_explanation(d, nu, *m1) * scale, th.limit_explanation(d, nu, *m2), rtol=1e-12)


def test_scaled_quantities_follow_their_degree():
    d, nu, L = 40, 0.2, 3.7
    plain, scaled = th.sigma(d, nu), th.sigma(d, nu, log_scale=L)
    assert scaled.c_d == pytest.approx(plain.c_d * math.exp(-2 * L), rel=1e-13)
    for a, b in zip(plain[1:], scaled[1:]):
        assert b == pytest.approx(a * math.exp(-L), rel=1e-13)
    assert np.allclose(th.sigma_inverse(d, nu, log_scale=L), th.sigma_inverse(d, nu) * math.exp(L), rtol=1e-13)
    assert th.alpha(d, nu, 3, log_scale=L) == pytest.approx(th.alpha(d, nu, 3) * math.exp(-L), rel=1e-13)


def test_out_of_range_scale_raises_with_a_hint():
    with pytest.raises(ValueError, match="log_scale"):
        th.alpha(2000, 0.25, 2000)  # 2^-2000
    d, nu = 100000, 0.01
    with pytest.raises(ValueError, match="log_scale"):
        th.sigma(d, nu)  # c_d is about alpha_0^2 = exp(-847)
    log_a0 = th.log_alpha(d, nu, 0)
    assert th.alpha(d, nu, 0, log_scale=log_a0) == pytest.approx(1.0, rel=1e-14)
    assert all(np.isfinite(th.sigma(d, nu, log_scale=log_a0)))
    assert np.isfinite(th.log_alpha(2000, 0.25, 2000))


# =========================================================================== degenerate cases
def test_d1_has_a_clear_answer():
    nu = 0.5
    z = enumerate_z(1)
    sig = th.sigma(1, nu)
    assert sig.sigma_3 == 0.0 and sig.sigma_2 == pytest.approx(th.alpha(1, nu, 0), rel=1e-14)
    sigma_enum = (np.hstack([np.ones((2, 1)), z]) * enum_pi(z, nu)[:, None]).T @ np.hstack([np.ones((2, 1)), z]) / 2
    assert np.allclose(th.sigma_inverse(1, nu), np.linalg.inv(sigma_enum), rtol=1e-12)
    assert np.allclose(th.exact_limit(lambda z: 3.0 - 2.0 * z[:, 0], 1, nu), [3.0, -2.0], atol=1e-12)
    assert np.array_equal(th.product_limit(1, 0.01, [0]), [0.0, 1.0])  # f = z_1 needs no Sigma


def test_ill_conditioned_moments_warn():
    with pytest.warns(RuntimeWarning, match="unperturbed image"):
        th.limit_explanation(2, 0.03, 1.0, [0.5, 0.5])


def test_singular_sigma_raises_instead_of_nan():
    with pytest.raises(ValueError, match="singular"):
        th.sigma(1, 0.01)  # pi(z = 0) / pi(z = 1) = exp(-5000)
    with pytest.raises(ValueError, match="singular"):
        th.limit_explanation(1, 0.01, 1.0, [1.0])


@settings(max_examples=60)
@given(d=st.integers(1, 3000), log_nu=st.floats(math.log(0.01), math.log(10.0)))
def test_never_nan(d, log_nu):
    nu = math.exp(log_nu)
    try:
        sig = th.sigma(d, nu, log_scale=th.log_alpha(d, nu, 0))
    except ValueError as exc:
        assert d == 1 and "singular" in str(exc)
        return
    assert all(np.isfinite(sig)) and sig.c_d > 0 and sig.sigma_0 > 0 and sig.sigma_2 > 0
    beta = th.product_limit(d, nu, np.arange(min(d, 3)))
    assert np.all(np.isfinite(beta))


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: th.alpha(0, 0.25, 0), ValueError, "d must be >= 1"),
        (lambda: th.alpha(2.5, 0.25, 0), TypeError, "d must be an integer"),
        (lambda: th.alpha(True, 0.25, 0), TypeError, "d must be an integer"),
        (lambda: th.alpha(5, 0.0, 0), ValueError, "kernel_width must be > 0"),
        (lambda: th.alpha(5, float("nan"), 0), ValueError, "kernel_width must be a finite"),
        (lambda: th.alpha(5, float("inf"), 0), ValueError, "kernel_width must be a finite"),
        (lambda: th.alpha(5, 0.25, 6), ValueError, "p must lie in 0..5"),
        (lambda: th.alpha(5, 0.25, -1), ValueError, "p must lie in 0..5"),
        (lambda: th.alpha(5, 0.25, 1.5), TypeError, "p must be an integer"),
        (lambda: th.alpha_diff(5, 0.25, 5), ValueError, "p must lie in 0..4"),
        (lambda: th.limit_explanation(3, 0.25, 1.0, [1.0, 2.0]), ValueError, "e_pi_z_f must have shape"),
        (lambda: th.limit_explanation(3, 0.25, [1.0, 2.0], np.ones((3, 3))), ValueError, "e_pi_z_f must have shape"),
        (lambda: th.limit_explanation(3, 0.25, float("nan"), np.ones(3)), ValueError, "e_pi_f and e_pi_z_f must be finite"),
        (lambda: th.exact_limit(lambda z: z.sum(1), 30, 0.25), ValueError, "d must be <= 24"),
        (lambda: th.exact_limit(lambda z: np.ones(3), 4, 0.25), ValueError, "f_of_z must return an"),
        (lambda: th.exact_limit("f", 4, 0.25), TypeError, "f_of_z must be callable"),
        (lambda: th.monte_carlo_moments(np.full((3, 2), 2), 0.25, np.ones(3)), ValueError, "z must hold only 0 and 1"),
        (lambda: th.monte_carlo_moments(np.ones((3, 2)), np.ones(4), np.ones(3)), ValueError, "weights_or_kernel_width"),
        (lambda: th.monte_carlo_limit(lambda z: z.sum(1), 4, 0.25, 0), ValueError, "n_samples must be >= 1"),
        (lambda: th.monte_carlo_limit(lambda z: z.sum(1), 4, 0.25, 10, sampler="x"), ValueError, "sampler must be one of"),
        (lambda: th.sigma_inverse(20000, 0.25), ValueError, "d must be <= 5000"),
        (lambda: th.product_limit(4, 0.25, [7]), ValueError, "members must be indices in 0..3"),
    ],
)
def test_invalid_inputs_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _f_sum(z):
    return z.sum(axis=1).astype(float)


# Bad input as a new user would type it: every call is a TypeError or ValueError naming the
# argument, never a crash inside (ZeroDivisionError, MemoryError, OverflowError) or a wrong number.
BAD_INPUTS = [
    # absurd sizes: refused before any allocation
    (lambda: th.alpha(10**12, 0.25), ValueError, "d must be <= 4000000"),
    (lambda: th.log_alpha(10**9, 0.25), ValueError, "d must be <= 4000000"),
    (lambda: th.weighted_law(10**12, 0.25), ValueError, "d must be <= 4000000"),
    (lambda: th.sigma(10**12, 0.25), ValueError, "d must be <= 4000000"),
    (lambda: th.sigma_matrix(10**6, 0.25), ValueError, "d must be <= 5000"),
    (lambda: th.monte_carlo_limit(_f_sum, 4, 0.25, 10**12), ValueError, "n_samples must be <="),
    (lambda: th.exact_limit(_f_sum, 10**6, 0.25), ValueError, "d must be <= 24"),
    (lambda: th.exact_limit_covariance(_f_sum, 40, 0.25), ValueError, "d must be <= 24"),
    # bools are not numbers
    (lambda: th.alpha(4, True), TypeError, "kernel_width must be a real number"),
    (lambda: th.sigma(True, 0.25), TypeError, "d must be an integer"),
    (lambda: th.alpha(4, 0.25, True), TypeError, "p must be an integer"),
    (lambda: th.ridge_bias(4, 0.25, np.zeros(5), ridge=True), TypeError, "ridge must be a real number"),
    (lambda: th.monte_carlo_limit(_f_sum, 4, 0.25, True), TypeError, "n_samples must be an integer"),
    (lambda: th.exact_limit(_f_sum, 4, 0.25, batch_size=True), TypeError, "batch_size must be an integer"),
    (lambda: th.monte_carlo_limit(_f_sum, 4, 0.25, 10, return_se=1), TypeError, "return_se must be True or False"),
    (lambda: th.alpha(4, 0.25, log_scale=True), TypeError, "log_scale must be a real number"),
    # wrong types and values
    (lambda: th.alpha(4, "0.25"), TypeError, "kernel_width must be a real number"),
    (lambda: th.alpha(4, 1j), TypeError, "kernel_width must be a real number"),
    (lambda: th.alpha(4, -0.1), ValueError, "kernel_width must be > 0"),
    (lambda: th.alpha(4, 0.25, log_scale=float("inf")), ValueError, "log_scale must be a finite"),
    (lambda: th.ridge_bias(4, 0.25, np.zeros(5), ridge=-1.0), ValueError, "ridge must be >= 0"),
    (lambda: th.ridge_bias(4, 0.25, np.zeros(3)), ValueError, "beta must have shape"),
    (lambda: th.product_limit(4, 0.25, [0.5]), TypeError, "members must be a boolean mask or integer"),
    (lambda: th.product_limit(4, 0.25, [0, 1], absent=[1]), ValueError, "members and absent must be disjoint"),
    (lambda: th.exact_limit(_f_sum, 4, 0.25, batch_size=0), ValueError, "batch_size must be >= 1"),
    (lambda: th.exact_limit_covariance(_f_sum, 4, 0.25, sampler="antithetic"), ValueError, "sampler must be one of"),
    (lambda: th.monte_carlo_limit(_f_sum, 4, 0.25, 10, seed=-1), ValueError, "seed must be >= 0"),
    (lambda: th.monte_carlo_moments(np.ones((3, 2)), 0.25, np.ones(3) * 1j), TypeError, "y must hold real numbers"),
    (lambda: th.monte_carlo_moments(np.ones((3, 2)), True, np.ones(3)), TypeError, "weights_or_kernel_width"),
    # model outputs that are not real numbers
    (lambda: th.exact_limit(lambda z: z.sum(axis=1) * (1 + 1j), 4, 0.25), TypeError, "f_of_z must return real"),
    (lambda: th.exact_limit(lambda z: z[:, 0] > 0, 4, 0.25), TypeError, "f_of_z must return real"),
    (lambda: th.exact_limit_covariance(lambda z: z.sum(axis=1) * 1j, 4, 0.25), TypeError, "f_of_z must return real"),
    (lambda: th.monte_carlo_limit(lambda z: z.sum(axis=1) * 1j, 4, 0.25, 10), TypeError, "f_of_z must return real"),
    (lambda: th.exact_limit(lambda z: np.full(z.shape[0], np.nan), 4, 0.25), ValueError, "NaN or infinite"),
    (lambda: th.ResponseTable(np.ones(6)), ValueError, "values must have 2\\^d rows"),
    (lambda: th.ResponseTable(np.ones(8))(np.ones((2, 4))), ValueError, "z must be an \\(m, 3\\) array"),
    # kernel widths too small for d: Sigma singular in float64; a ValueError naming kernel_width,
    # never a ZeroDivisionError (exact_limit and product_limit answer these: see below)
    (lambda: th.sigma(4, 1e-3), ValueError, "kernel_width = 0.001"),
    (lambda: th.sigma(2, 1e-300), ValueError, "kernel_width = 1e-300"),
    (lambda: th.sigma_inverse(3, 1e-3), ValueError, "singular .* kernel_width"),
    (lambda: th.limit_explanation(4, 1e-3, 1.0, np.ones(4)), ValueError, "singular .* kernel_width"),
    (lambda: th.ridge_bias(3, 1e-3, np.zeros(4)), ValueError, "singular .* kernel_width"),
    (lambda: th.exact_limit_covariance(_f_sum, 4, 1e-3), ValueError, "singular .* kernel_width"),
    (lambda: th.exact_limit_covariance(_f_sum, 2, 0.03), ValueError, "kernel_width = 0.03 is too small"),
    (lambda: th.monte_carlo_limit(_f_sum, 4, 1e-3, 100), ValueError, "singular .* kernel_width"),
    (lambda: th.monte_carlo_limit(_f_sum, 2, 0.03, 100), ValueError, "kernel_width = 0.03 is too small"),
]


@pytest.mark.parametrize("call,exc,match", BAD_INPUTS)
def test_bad_input_corpus(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("d", range(2, 9))
@pytest.mark.parametrize("nu", [1e-300, 1e-6, 1e-3, 0.003, 0.005])
def test_tiny_kernel_widths_give_the_interpolation_limit(d, nu):
    """As the kernel concentrates on z = 1, beta^f interpolates f at z = 1 and the z with one zero.

    beta_j = f(1) - f(1 - e_j): for f = z_1, exactly (0, 1, 0, ..., 0) (3.5e24 before); for a shape
    detector, 1 on its members. Where Sigma is still invertible, against mpmath below.
    """
    beta = th.exact_limit(lambda z: z[:, 0] * 1.0, d, nu)
    expect = np.zeros(d + 1)
    expect[1] = 1.0
    np.testing.assert_allclose(beta, expect, atol=1e-12)
    mask = np.arange(d) < 2
    np.testing.assert_allclose(th.product_limit(d, nu, mask), np.r_[-1.0, mask.astype(float)], atol=1e-12)
    # f = 1 - z_1: f(1) = 0, f(1 - e_1) = 1, so beta = (1, -1, 0, ..., 0) exactly (the limit of a linear f)
    np.testing.assert_allclose(th.product_limit(d, nu, [], absent=[0]), np.r_[1.0, -1.0, np.zeros(d - 1)], atol=1e-12)


@pytest.mark.parametrize("nu", [1e-3, 0.005, 0.02])
def test_shape_detector_small_widths_equal_enumeration(nu):
    """ShapeDetector.limit_explanation (closed form) = exact_limit on real perturbed images, d = 4.

    These widths raised ZeroDivisionError before; now both give the interpolation limit.
    """
    from limetheory.analytic import ShapeDetector
    from limetheory.segmentation import grid

    image = np.full((6, 6), 0.1)
    shape = np.zeros((6, 6), dtype=bool)
    shape[0:3, 0:5] = True
    image[shape] = 0.9
    segments = grid(image.shape, 2, 2)
    det = ShapeDetector(shape, tau=0.6)
    closed = det.limit_explanation(image, segments, hide_color=0.0, kernel_width=nu)
    enum = th.exact_limit(det.response_of_z(image, segments, 0.0), 4, nu)
    np.testing.assert_allclose(closed, enum, atol=1e-12)
    np.testing.assert_allclose(closed, [-1.0, 1.0, 1.0, 0.0, 0.0], atol=1e-12)  # the interpolation limit


def _mp_weighted_least_squares(table, d, nu):
    """beta^f = (X^T W X)^{-1} X^T W f over all of {0,1}^d in mpmath, W = diag(pi)."""
    z = th.all_patterns(d)
    digits = 60 + int(2 * (1 - math.sqrt(1 - 1 / d)) ** 2 / (2 * nu * nu) / 2.3) + 40
    with mp.workdps(digits):
        nu2 = 2 * mp.mpf(nu) ** 2
        a, b = mp.matrix(d + 1, d + 1), mp.matrix(d + 1, 1)
        for row, y in zip(z, table):
            x = [1] + [int(v) for v in row]
            w = mp.exp(-((1 - mp.sqrt(mp.mpf(sum(x) - 1) / d)) ** 2) / nu2)
            for i in range(d + 1):
                b[i] += w * x[i] * mp.mpf(float(y))
                for j in range(d + 1):
                    a[i, j] += w * x[i] * x[j]
        return np.array([float(v) for v in mp.lu_solve(a, b)])


@pytest.mark.parametrize("d,nu", [(2, 0.0079), (2, 0.01), (3, 0.005), (4, 0.0037), (4, 0.01), (6, 0.003), (8, 0.003)])
def test_exact_limit_small_widths_match_mpmath(d, nu):
    """Small widths (Sigma / alpha_0 with pivots down to 1e-300): exact_limit against mpmath.

    Measured worst 1.2e-13 relative to max |beta| (d = 2..8, nu = 0.003..0.1 and on both sides of
    the width where Sigma becomes singular in float64); asserted 1e-12.
    """
    table = np.random.default_rng(d).normal(size=2**d)
    ref = _mp_weighted_least_squares(table, d, nu)
    got = th.exact_limit(th.ResponseTable(table), d, nu)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))


@pytest.mark.parametrize("d,nu,kinds", [(4, 0.004, [2, 1, 0, 0]), (5, 0.006, [2, 0, 1, 1, 2]), (4, 0.01, [2, 1, 2, 1]),
                                       (6, 0.01, [2, 1, 0, 0, 1, 1])])
def test_product_limit_with_absent_factors_small_widths_match_mpmath(d, nu, kinds):
    """f = prod_E z_j prod_B (1 - z_j) vanishes at z = 1, so its moments stay exact for small widths.

    Measured worst 2.3e-13 relative to max |beta| (d = 3..6, nu = 0.004..0.03); asserted 1e-12.
    """
    kinds = np.array(kinds)
    on, off = kinds == 1, kinds == 2
    z = th.all_patterns(d)
    ref = _mp_weighted_least_squares((np.prod(z[:, on], 1) * np.prod(1 - z[:, off], 1)).astype(float), d, nu)
    got = th.product_limit(d, nu, on, absent=off)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))


def test_kernel_weights_extreme_widths():
    """(d_cos / nu)^2 is formed without overflow: no OverflowError at 1e300, no NaN at 1e-200."""

    z = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(kernel_weights(z, 1e300), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(kernel_weights(z, 1e-200), [1.0, 0.0, 0.0])
    dcos = 1.0 - np.sqrt(z.sum(axis=1) / 4)
    np.testing.assert_allclose(kernel_weights(z, 0.25), np.exp(-(dcos**2) / (2 * 0.25**2)), rtol=1e-14)
    for bad, exc in ((True, TypeError), (0.0, ValueError), (float("nan"), ValueError)):
        with pytest.raises(exc, match="kernel_width"):
            kernel_weights(z, bad)


def test_kernel_weights_of_extreme_widths_and_float_counts_in_float64_without_warnings():
    """The overflow of (d_cos / nu)^2 at tiny widths is the intended -inf (weight 0) and warns nothing; counts
    given as floats (log_kernel takes integral floats, monte_carlo_moments sums float z) are computed in
    float64 like integer counts, not in float32."""
    import warnings


    z = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(kernel_weights(z, 1e-300), [1.0, 0.0, 0.0])
        assert th.log_kernel(0, 4, 1e-300) == -np.inf
    k = np.arange(10)
    for dtype in (np.float32, np.float64, np.uint8):
        np.testing.assert_array_equal(th.log_kernel(k.astype(dtype), 9, 0.3), th.log_kernel(k, 9, 0.3))


def test_old_keyword_names_still_work_with_a_warning():
    """nu= (now kernel_width=), method= (now sampler=), weights_or_nu= (now weights_or_kernel_width=)."""
    with pytest.warns(DeprecationWarning, match="nu= is deprecated; use kernel_width="):
        old = th.alpha(5, nu=0.3, p=2)
    assert old == th.alpha(5, kernel_width=0.3, p=2) == th.alpha(5, 0.3, 2)
    with pytest.warns(DeprecationWarning, match="method= is deprecated; use sampler="):
        a = th.monte_carlo_limit(_f_sum, 5, 0.3, 50, seed=0, method="bernoulli")
    np.testing.assert_array_equal(a, th.monte_carlo_limit(_f_sum, 5, 0.3, 50, seed=0, sampler="bernoulli"))
    z = np.random.default_rng(0).integers(0, 2, size=(20, 3))
    with pytest.warns(DeprecationWarning, match="weights_or_nu= is deprecated"):
        m = th.monte_carlo_moments(z, weights_or_nu=0.3, y=np.ones(20))
    for a, b in zip(m, th.monte_carlo_moments(z, 0.3, np.ones(20))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="both nu= and its new name kernel_width="):
        th.sigma(5, nu=0.3, kernel_width=0.3)


def test_covariance_calls_f_once_per_pattern():
    """exact_limit_covariance evaluates f once on each of the 2^d patterns (a table), not twice."""
    d, seen = 6, []

    def f(z):
        seen.append(th.pattern_index(z))
        return np.tanh(z @ np.arange(1.0, d + 1) / 4.0)

    cov = th.exact_limit_covariance(f, d, 0.3, batch_size=10)
    calls = np.concatenate(seen)
    assert np.array_equal(np.sort(calls), np.arange(2**d))
    np.testing.assert_allclose(cov, th.exact_limit_covariance(th.ResponseTable(f(th.all_patterns(d))), d, 0.3),
                               rtol=1e-12, atol=1e-15)


def test_response_table_looks_up_the_function():
    d = 5
    f = lambda z: np.stack([z @ np.arange(1.0, d + 1), z.prod(axis=1)], axis=1)  # noqa: E731
    table = th.ResponseTable.from_function(f, d, batch_size=3)
    z = np.random.default_rng(0).integers(0, 2, size=(40, d)).astype(np.uint8)
    np.testing.assert_array_equal(table(z), f(z))
    assert table.d == d and table.values.shape == (32, 2)
    np.testing.assert_array_equal(th.all_patterns(d)[th.pattern_index(z)], z)
    np.testing.assert_array_equal(th.exact_limit(table, d, 0.4), th.exact_limit(f, d, 0.4))


def test_response_table_pattern_index_of_any_0_1_array():
    """pattern_index(z) = sum_j z_j 2^j as integers for uint8, int, bool and float 0/1 arrays, and for a
    single pattern (1-D); the table looks up float patterns (lime's samples are floats) like uint8 ones."""
    d = 6
    z = np.random.default_rng(1).integers(0, 2, size=(30, d)).astype(np.uint8)
    expected = (z.astype(np.int64) * 2 ** np.arange(d)).sum(axis=1)
    for arr in (z, z.astype(np.int64), z.astype(bool), z.astype(np.float64)):
        idx = th.pattern_index(arr)
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx, expected)
    assert th.pattern_index(z[3]) == expected[3]
    table = th.ResponseTable(np.arange(2.0**d))
    np.testing.assert_array_equal(table(z.astype(np.float64)), expected)


# =========================================================================== shapes and Monte Carlo
def test_limit_explanation_several_classes():
    d, nu = 5, 0.25
    rng = np.random.default_rng(1)
    g0, g = rng.normal(size=3), rng.normal(size=(3, d))
    both = th.limit_explanation(d, nu, g0, g)
    assert both.shape == (3, d + 1)
    for k in range(3):
        assert np.allclose(both[k], th.limit_explanation(d, nu, g0[k], g[k]), rtol=1e-14)


def test_limit_explanation_of_the_plain_kernels_moments_needs_no_log_scale():
    """Moments of pi itself (log_scale left at its default, 0), summed over {0,1}^d: a linear
    f = c0 + c^T z gives beta^f = (c0, c); the same moments given for pi * exp(-1) give e times it.

    Tolerance: limit_explanation's documented error, a few units of roundoff times the componentwise
    condition (|Sigma^{-1}| |Gamma|)_j, plus the moments' own rounding (NumPy's pairwise sums of 2^d
    terms: about d units): 4 (d + 2) eps (|Sigma^{-1}| |Gamma|)_j (measured: below 1 eps times it)."""
    from limetheory.sampling import kernel_weights

    nu, eps = 0.25, np.finfo(np.float64).eps
    for d in (1, 2, 6):  # d = 1 has its own branch (a 2 x 2 Sigma)
        c = np.random.default_rng(11).normal(size=d + 1)
        z = th.all_patterns(d).astype(np.float64)
        pi = kernel_weights(z, nu)
        f = c[0] + z @ c[1:]
        g0, g = np.mean(pi * f), (pi * f) @ z / 2**d
        bound = 4 * (d + 2) * eps * (np.abs(th.sigma_inverse(d, nu)) @ np.abs(np.r_[g0, g]))
        assert np.all(np.abs(th.limit_explanation(d, nu, g0, g) - c) <= bound), d
        assert np.all(np.abs(th.limit_explanation(d, nu, g0, g, log_scale=1.0) - np.e * c) <= np.e * bound), d


def test_moments_exact_are_the_means_by_enumeration():
    """moments_exact gives E[pi f] and E[pi z f] for the kernel pi / alpha_0 (its log_scale): the plain
    means 2^-d sum_z pi(z) f(z) (z_j) divided by alpha_0, one and several outputs; through
    limit_explanation they give exact_limit."""
    from limetheory.sampling import kernel_weights

    d, nu = 6, 0.4
    w = np.random.default_rng(13).normal(size=(d, 2))

    def f(z):
        return np.tanh(z @ w) + np.array([0.5, -1.0])

    z = th.all_patterns(d).astype(np.float64)
    pi, y = kernel_weights(z, nu), f(z)
    m = th.moments_exact(f, d, nu)
    a0 = np.exp(m.log_scale)
    np.testing.assert_allclose(a0, pi.mean(), rtol=1e-13)
    np.testing.assert_allclose(m.e_pi_f * a0, (pi[:, None] * y).mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(m.e_pi_z_f * a0, (pi[:, None] * y).T @ z / 2**d, rtol=1e-13)
    one = th.moments_exact(lambda z: f(z)[:, 1], d, nu)
    np.testing.assert_allclose(one.e_pi_f, m.e_pi_f[1], rtol=1e-14)
    np.testing.assert_allclose(th.limit_explanation(d, nu, *m), th.exact_limit(f, d, nu), rtol=1e-10, atol=1e-12)


def test_tiny_kernel_widths_give_the_interpolation_limit_of_every_output():
    """Several outputs at once (an (m, k) f) where Sigma is singular: beta_j = f(1) - f(1 - e_j) and
    beta_0 = f(1) - sum_j beta_j for every output, as for each output alone."""
    d, nu = 5, 1e-300
    w = np.random.default_rng(12).normal(size=(d, 3))

    def f(z):
        return np.tanh(z @ w) + np.array([0.0, 1.0, -2.0])

    beta = th.exact_limit(f, d, nu)
    assert beta.shape == (3, d + 1)
    ones = np.ones((1, d))
    one_off = ones - np.eye(d)
    expect_coef = f(ones)[0][:, None] - f(one_off).T
    np.testing.assert_allclose(beta[:, 1:], expect_coef, rtol=0, atol=1e-15)
    np.testing.assert_allclose(beta[:, 0], f(ones)[0] - expect_coef.sum(axis=1), rtol=0, atol=1e-14)
    for k in range(3):
        np.testing.assert_array_equal(beta[k], th.exact_limit(lambda z, k=k: f(z)[:, k], d, nu))


def test_sigma_inverse_size_limit_is_inclusive(monkeypatch):
    """sigma_inverse is limited to d <= MAX_DENSE_D: d = MAX_DENSE_D is given, one more refused (the
    limit lowered here to keep the matrices small)."""
    from limetheory.theory import gram

    monkeypatch.setattr(gram, "MAX_DENSE_D", 6)
    assert th.sigma_inverse(6, 0.25).shape == (7, 7)
    with pytest.raises(ValueError, match="d must be <= 6"):
        th.sigma_inverse(7, 0.25)


def test_monte_carlo_moments_nu_and_weights_agree():
    rng = np.random.default_rng(2)
    z = rng.integers(0, 2, size=(500, 7))
    y = rng.normal(size=(500, 2))
    w = np.exp(th.log_kernel(z.sum(1), 7, 0.3))
    a = th.limit_explanation(7, 0.3, *th.monte_carlo_moments(z, w, y))
    b = th.limit_explanation(7, 0.3, *th.monte_carlo_moments(z, 0.3, y))
    assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["weighted", "bernoulli"])
def test_monte_carlo_limit_is_unbiased(method):
    """Mean of 12 independent estimates within 4.5 standard errors of the exact product limit."""
    d, nu, mask = 40, 0.25, np.arange(40) < 4
    exact = th.product_limit(d, nu, mask)

    def f(z):
        return np.prod(z[:, mask], axis=1).astype(float)

    runs = np.array([th.monte_carlo_limit(f, d, nu, 4000, seed=s, sampler=method) for s in range(12)])
    se = runs.std(axis=0, ddof=1) / math.sqrt(len(runs))
    assert np.all(se > 0)
    assert np.all(np.abs(runs.mean(axis=0) - exact) <= 4.5 * se)


@pytest.mark.parametrize("d, nu", [(12, 0.2), (600, 1e-4)])  # the second: alpha_0 ~ 2^-600, exp(-416)
def test_weighted_law_sampling_matches_kernel(d, nu):
    q, log_a0 = th.weighted_law(d, nu)
    k = np.arange(d + 1)
    log_ref = gammaln(d + 1) - gammaln(k + 1) - gammaln(d - k + 1) - d * math.log(2) + th.log_kernel(k, d, nu) - log_a0
    assert np.allclose(q, np.exp(log_ref), rtol=1e-10, atol=0)
    assert q.sum() == pytest.approx(1.0, abs=1e-14)



def test_weighted_law_smallest_d_of_each_kernel():
    """LIME's kernel from d = 1 (q_1 = pi(1) / (pi(0) + pi(1)) = 1 / (1 + pi(0))); the Shapley kernel's size
    law from d = 2, where it is all on k = 1, and refused at d = 1 (no 1 <= k <= d - 1)."""
    nu = 0.25
    q, _ = th.weighted_law(1, nu)
    pi0 = float(np.exp(th.log_kernel(0, 1, nu)))
    np.testing.assert_allclose(q, [pi0 / (1 + pi0), 1 / (1 + pi0)], rtol=1e-14)
    np.testing.assert_array_equal(th.weighted_law(2, None, kernel="shap")[0], [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="d"):
        th.weighted_law(1, None, kernel="shap")

def test_ridge_bias_matches_exact_small_ridge_solution():
    """n (beta_ridge - beta_0) with the exact population Gram matrix scaled by n."""
    d, nu, n, ridge = 6, 0.3, 1e7, 1.0
    z = enumerate_z(d)
    w = enum_pi(z, nu) / 2**d
    f = np.prod(z[:, :3], axis=1)
    zbar = (w @ z) / w.sum()
    gram = ((z - zbar) * w[:, None]).T @ (z - zbar)
    rhs = ((z - zbar) * w[:, None]).T @ (f - (w @ f) / w.sum())
    b0 = np.linalg.solve(n * gram, n * rhs)
    b1 = np.linalg.solve(n * gram + ridge * np.eye(d), n * rhs)
    beta = th.exact_limit(lambda zz: np.prod(zz[:, :3], axis=1).astype(float), d, nu)
    assert np.allclose(b0, beta[1:], rtol=1e-9)
    assert np.allclose(n * (b1 - b0), th.ridge_bias(d, nu, beta, ridge), rtol=1e-5)


# =========================================================================== README example
@settings(max_examples=25)
@given(d=st.integers(2, 10), nu=st.floats(0.1, 5.0), data=st.data())
def test_product_limit_with_absent_factors_equals_enumeration(d, nu, data):
    kinds = np.array(data.draw(st.lists(st.sampled_from([0, 1, 2]), min_size=d, max_size=d)))
    on, off = kinds == 1, kinds == 2

    def f(z):
        return (np.prod(z[:, on], axis=1) * np.prod(1 - z[:, off], axis=1)).astype(float)

    assert np.allclose(th.product_limit(d, nu, on, absent=off), th.exact_limit(f, d, nu), rtol=1e-9, atol=1e-10)


def test_monte_carlo_limit_ignores_the_level_of_f():
    """Adding a constant to f moves only the intercept, exactly as in the limit (same seed)."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=30)
    f = lambda z: np.tanh(z @ w / 3.0)  # noqa: E731
    shifted = lambda z: 1000.0 + f(z)  # noqa: E731
    for method in ("weighted", "bernoulli"):
        a = th.monte_carlo_limit(f, 30, 0.25, 4000, seed=1, sampler=method)
        b = th.monte_carlo_limit(shifted, 30, 0.25, 4000, seed=1, sampler=method)
        np.testing.assert_allclose(b[1:], a[1:], atol=1e-9)
        assert abs(b[0] - a[0] - 1000.0) < 1e-8


@pytest.mark.parametrize("d, kernel_width", [(2, 0.25), (3, 0.1), (10, 0.03), (4, 0.25), (6, 1.0)])
def test_ridge_bias_equals_the_enumerated_weighted_gram(d, kernel_width):
    """ridge_bias = -ridge G^{-1} beta with G = E[pi (z - z_w)(z - z_w)^T] over {0,1}^d (z_w the
    pi-weighted mean), enumerated. The first three widths use the direct form of T (the small-width
    branch of the normalised moments, where alpha_1^2 and alpha_0 alpha_2 differ by 1-20%), the last
    two its tangent form; both must give the enumerated value to rounding."""
    z = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(np.float64)
    p = np.asarray(kernel_weights(z, kernel_width), dtype=np.float64) / 2**d
    centred = z - (p @ z) / p.sum()
    gram = (p[:, None] * centred).T @ centred
    beta = np.linspace(-1.0, 2.0, d)
    expected = -2.0 * np.linalg.solve(gram, beta)
    got = th.ridge_bias(d, kernel_width, beta, ridge=2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


def test_normalised_moments_warn_about_nothing():
    """log(0) for the pattern count s = 0 is expected inside the moments and must not reach the user
    (a width no other test uses, so the cached moments are computed here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(th.ridge_bias(7, 0.2718281828, np.ones(7))))
