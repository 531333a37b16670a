"""The limit explanation of image LIME (Garreau & Mardaoui, ICML 2021, Theorem 1).

Stage "theory" of the data flow (docs/theory/limit.md)::

    (d, nu) --> alpha_p, sigma, Sigma^{-1};  E[pi f], E[pi z f] --> beta^f

With z uniform on {0,1}^d and the kernel pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)),
d_cos(1, z) = 1 - sqrt(k / d) for a z with k ones (d_cos(1, 0) = 1),

    alpha_p = E[pi(z) z_1 ... z_p] = 2^{-d} sum_{s=0}^{d-p} C(d-p, s) psi(s/d),
    psi(t)  = exp(-(1 - sqrt(1 - t))^2 / (2 nu^2)),

and the empirical LIME coefficients (ridge = 0) converge to beta^f = Sigma^{-1} Gamma^f,
Sigma = E[pi Z Z^T], Gamma^f = E[pi Z f], Z = (1, z).

Scale of pi
-----------
Every explanation is invariant to multiplying pi by a constant, but alpha_p and the quantities
built from it span hundreds of orders of magnitude: alpha_0 is about exp(-424) for d = 100000,
nu = 0.01, so c_d (about alpha_0^2) underflows float64, and alpha_d = 2^-d does for d > 1074.
Hence:

* :func:`log_alpha` returns log alpha_p, always representable.
* Functions that return quantities with a scale (:func:`alpha`, :func:`sigma`,
  :func:`sigma_inverse`) take ``log_scale``: they describe the kernel ``pi * exp(-log_scale)``.
  ``log_scale=0`` (default) gives the paper's values; ``log_scale=log_alpha(d, kernel_width, 0)`` gives
  them for pi / alpha_0 (so alpha_0 = 1). They raise ``ValueError`` rather than return a value
  that under- or overflows float64.
* Moments E[pi f], E[pi z f] passed to :func:`limit_explanation` are understood as those of
  ``pi * exp(-log_scale)``; :class:`Moments` carries its ``log_scale`` with it, so
  ``limit_explanation(d, kernel_width, *moments)`` is always consistent.

Numerics
--------
Internally everything is computed for pi / alpha_0, i.e. as expectations under the
pi-weighted law q of the number k of ones, q_k = C(d, k) 2^{-d} pi_k / alpha_0, with
log binomial probabilities from Loader's saddle-point expansion (absolute error ~1e-15 in
the log instead of ~1e-10 with ``gammaln`` at d = 1e5). The differences that cancel are
rewritten as sums of positive terms or as exactly centred sums:

    (alpha_1 - alpha_2) / alpha_0 = E_q[k (d - k)] / (d (d - 1))
    c_d / alpha_0^2               = Var_q(k) / d
    sigma_0 / alpha_0             = E_q[k^2] / d
    T = (alpha_1^2 - alpha_0 alpha_2) / alpha_0^2 = (E_q[s]/d)^2 - E_q[s (s-1)] / (d (d-1))
    sigma_3 = T alpha_0^2 / (alpha_1 - alpha_2),   sigma_2 = sigma_3 + c_d / (alpha_1 - alpha_2).

T vanishes for an exponential (geometric-in-k) kernel and is about 0.05 / (nu^2 d^2) here: for
d = 1e5, nu = 10 it is 1e-13 times alpha_1^2, so the naive difference has no correct digit.
It is computed against the tangent binomial Bin(d, rho) (rho from the tangent of log pi at the
mode of q): with h = q / Bin(d, rho) (up to a constant), eta = h - 1, H = E_rho[h],

    T = -E_rho[eta * ((k/d - rho)^2 - k (d - k) / (d^2 (d - 1)))] / H + (E_rho[eta (k/d - rho)] / H)^2,

whose terms are all of the size of T (log h is a closed-form Taylor remainder <= 0). When q
sits near k = d (small d and nu), T is taken from its form in the number of zeros s = d - k
(two small positive moments, kept in logs); the form with the smaller error bound is used.
Checked against mpmath (60+ digits, straight from the definitions) for d in {1, 2, 3, 5, 10, 50,
300, 2000, 10000, 30000, 100000} and nu in {0.01, 0.03, 0.1, 0.25, 1, 3, 10}: sigma's five
coefficients and alpha_diff to a relative error <= 2e-13 (worst measured 1.03e-13, at d = 2000,
nu = 0.01), log alpha_p to an absolute error <= 5e-15 max(1, |log alpha_p|) (worst 2.5e-15; the
bound grows with |log alpha_p| because that is float64's spacing there). tests/test_theory.py
asserts exactly these numbers: d <= 2000 plus d = 10000 and 100000 at a few nu by default, the
whole grid with ``-m slow``.

Small kernel widths
-------------------
As nu -> 0 the kernel sees only z = 1 and the z with one zero, and beta^f tends to the
interpolation ``beta_j = f(1) - f(1 - e_j)``. :func:`exact_limit` centres f on f(1) so its moments
keep full relative accuracy there (checked against mpmath to 1e-12 down to pivots of 1e-300), and
returns that interpolation where Sigma / alpha_0 is singular in float64 (its error is then below
1e-800); :func:`product_limit` (and the analytic models) likewise. Functions that take Sigma or
given moments (:func:`sigma`, :func:`limit_explanation`, :func:`ridge_bias`,
:func:`monte_carlo_limit`, :func:`exact_limit_covariance`) raise a ``ValueError`` naming
``kernel_width`` instead of returning a number without correct digits.

Layout
------
``limetheory.kernel`` (a leaf, shared with ``limetheory.sampling``): pi, alpha_p, the law q.
``_normalized``: Sigma for pi / alpha_0 (the numerics above). ``gram``: Sigma, Sigma^{-1} (``sigma``, ``sigma_inverse``, ``sigma_matrix``).
``limit``: limit_explanation, product_limit, ridge_bias. ``enumeration``: {0,1}^d and
:class:`ResponseTable`. ``moments``: E[pi f], E[pi z f]. ``exact``: exact_limit and
exact_limit_covariance (``kernel="lime"`` or ``"shap"``). ``games``: exact Shapley, Banzhaf and
occlusion values. ``shapley_kernel``: KernelSHAP's limit and covariance (the constrained fit).
``monte_carlo``: monte_carlo_limit.
"""
from ..kernel import KERNELS, MAX_D, alpha, alpha_diff, log_alpha, log_kernel, weighted_law
from .enumeration import MAX_EXACT_D, ResponseTable, all_patterns, pattern_index
from .exact import exact_design_traces, exact_limit, exact_limit_covariance
from .games import exact_banzhaf, exact_occlusion, exact_shapley
from .shapley_kernel import shapley_law_scale
from .limit import limit_explanation, product_limit, ridge_bias
from .moments import Moments, moments_exact, monte_carlo_moments
from .monte_carlo import monte_carlo_limit
from .gram import MAX_DENSE_D, Sigma, sigma, sigma_inverse, sigma_matrix

__all__ = [
    "KERNELS",
    "MAX_D",
    "MAX_DENSE_D",
    "MAX_EXACT_D",
    "Moments",
    "ResponseTable",
    "Sigma",
    "all_patterns",
    "alpha",
    "alpha_diff",
    "exact_banzhaf",
    "exact_design_traces",
    "exact_limit",
    "exact_limit_covariance",
    "exact_occlusion",
    "exact_shapley",
    "limit_explanation",
    "log_alpha",
    "log_kernel",
    "moments_exact",
    "monte_carlo_limit",
    "monte_carlo_moments",
    "pattern_index",
    "product_limit",
    "ridge_bias",
    "sigma",
    "sigma_inverse",
    "shapley_law_scale",
    "sigma_matrix",
    "weighted_law",
]
