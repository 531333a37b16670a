"""Statistical bounds for the tests (not part of the package): every tolerance a band from theory.

Each check has the form ``|estimate - expected| <= q * se + bias`` where

* ``se`` is the estimate's standard error (exact from the theory, or estimated from the test's own
  runs, then with a Student-t quantile on its degrees of freedom);
* ``q`` is the two-sided normal or t quantile at level ``alpha / m``: Bonferroni over the ``m``
  quantities checked together, so that if each estimate is normal (or t) around ``expected + b``
  with ``|b| <= bias``, the probability that *any* of the m checks fails is at most ``alpha``.
  That probability is the test's false-failure probability for a random seed (the tests fix their
  seeds, so a pass is reproducible; ``alpha`` says how unlucky a seed would have to be to fail);
* ``bias`` is an explicit deterministic term, e.g. the O(d/n) bias of a least-squares estimator
  (:func:`dn_bias`), stated at each use with its constant.

A wrong constant or a wrong rate in the code moves ``estimate`` by many standard errors and fails.
"""
import numpy as np
from scipy import stats

ALPHA = 1e-3  # default false-failure probability of one test (all its Bonferroni-corrected checks)


def quantile(alpha=ALPHA, m=1, dof=None, sided=2):
    """q with P(|N(0,1)| > q) = alpha / m (``sided=2``) or P(N(0,1) > q) = alpha / m (``sided=1``);
    Student-t with ``dof`` degrees of freedom instead of the normal when ``dof`` is given."""
    p = alpha / (sided * m)
    q = stats.norm.isf(p) if dof is None else stats.t.isf(p, np.asarray(dof, dtype=np.float64))
    return float(q) if np.ndim(q) == 0 else q


def band(se, *, alpha=ALPHA, m=None, dof=None, bias=0.0):
    """Half-width q * se + bias of a band holding every coordinate of ``se`` with probability >= 1 - alpha.

    ``m`` (default: the number of entries of ``se``) is the Bonferroni count; pass it when the same
    test checks more quantities than this call sees.
    """
    se = np.asarray(se, dtype=np.float64)
    return quantile(alpha, se.size if m is None else m, dof) * se + bias


def mean_band(values, *, alpha=ALPHA, axis=0, m=None, bias=0.0):
    """(mean, half-width) for the mean over ``axis`` of i.i.d. runs, with its estimated standard error.

    Half-width t_{R-1}(1 - alpha / (2m)) * sd / sqrt(R) + bias (R runs, sd with ddof=1): a t band for
    each remaining coordinate, Bonferroni over them (m = their number unless given).
    """
    values = np.asarray(values, dtype=np.float64)
    r = values.shape[axis]
    mean = values.mean(axis=axis)
    se = values.std(axis=axis, ddof=1) / np.sqrt(r)
    return mean, band(se, alpha=alpha, m=m if m is not None else np.size(mean), dof=r - 1, bias=bias)


def dn_bias(d, n, scale, c=1.0):
    """Explicit bound c * d / n * scale on an O(d/n) bias.

    A least-squares (ratio) estimator on n samples with d + 1 parameters has a bias of order d / n
    in units of ``scale`` (first-order expansion of the inverse of the sample Gram matrix); the
    constant ``c`` is a stated assumption of the test that uses it.
    """
    return c * d / n * np.asarray(scale, dtype=np.float64)


def loglog_slope(x, y):
    """(slope, standard error, degrees of freedom) of the least-squares fit log y = a + b log x.

    The standard error is the usual one from the residuals (i.i.d. errors in log y); with
    ``band(se, dof=dof)`` it gives a t band for the slope.
    """
    fit = stats.linregress(np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64)))
    return float(fit.slope), float(fit.stderr), len(np.ravel(x)) - 2


def assert_within(estimate, expected, half_width, what=""):
    """Assert |estimate - expected| <= half_width everywhere; the message gives the worst ratio."""
    dev = np.abs(np.asarray(estimate, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    half_width = np.broadcast_to(np.asarray(half_width, dtype=np.float64), dev.shape)
    ok = dev <= half_width
    worst = float(np.max(dev / np.where(half_width > 0, half_width, np.inf), initial=0.0))
    assert np.all(ok), f"{what}: |estimate - expected| up to {worst:.3g} times the band; {dev=} {half_width=}"
