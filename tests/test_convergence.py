"""Empirical LIME converges to the limit explanation (Garreau & Mardaoui, Theorem 1).

Claims checked, each with a fixed seed and a tolerance from the theory:
* ridge = 0: the error ||beta_hat_n - beta^f|| falls like n^(-1/2) for a shape detector and non-linear
  models; a linear model is recovered exactly at every n >= d + 1.
* lime's ridge = 1: its gap to the ridge = 0 fit on the same samples falls like 1/n and n times the
  gap tends to theory.ridge_bias (first-order perturbation of the Gram matrix).
Slopes are fitted as in experiment 3 (log of every run's error against log n, least squares) and
checked with a t band of their standard error (stats_bounds, 0.1% Bonferroni over the slopes of
the test) + the O(d/n) bias :func:`_slope_bias`.
"""
import numpy as np
import pytest

import limetheory
from limetheory import theory as th
from limetheory.analytic import LinearModel, response_of_z
from limetheory.segmentation import grid
from limetheory.surrogate import fit_weighted_ridge
from models import KERNEL_WIDTH as NU, bar_scene, convergence_models
from stats_bounds import assert_within, band, dn_bias, loglog_slope

def _run(image, seg, model, ns, n_seeds, ridge_gap=False):
    """errors[i, r] = ||beta_hat - beta^f|| (ridge 0) and gaps[i, r] = n (coef_ridge1 - coef_ridge0)."""
    d = int(seg.max()) + 1
    beta = th.exact_limit(response_of_z(model, image, seg), d, NU)
    errors = np.empty((len(ns), n_seeds))
    gaps = np.empty((len(ns), n_seeds, d))
    for i, n in enumerate(ns):
        for r in range(n_seeds):
            e = limetheory.explain(image, model, segments=seg, n_samples=int(n), ridge=0.0, kernel_width=NU,
                                   seed=10_000 * r + i, keep_samples=True, progress=False)
            errors[i, r] = np.linalg.norm(np.concatenate([e.intercept, e.coef[0]]) - beta)
            if ridge_gap:
                coef1 = fit_weighted_ridge(e.samples, e.responses[:, 0], e.weights, 1.0)[1][0]
                gaps[i, r] = n * (coef1 - e.coef[0])
    return beta, errors, gaps


def _assert_slope(ns, values, expected, d, m, what):
    """values[i, r]: run r at n = ns[i]. The all-runs log-log slope is ``expected`` within a t band
    (Bonferroni over the test's m slopes, 0.1%) + the bias of O(d/n) relative terms in each value:
    they shift the slope by about d (1/n_min - 1/n_max) / log(n_max / n_min) (c = 1)."""
    slope, se, dof = loglog_slope(np.repeat(ns, values.shape[1]), values.ravel())
    bias = dn_bias(d, ns.min(), 1 / np.log(ns.max() / ns.min()))
    assert_within(slope, expected, band(se, m=m, dof=dof, bias=bias), what)
    return slope


def _check_rate(size, n_grid, ns, n_seeds):
    image, seg, mask, rng = bar_scene(size, n_grid)
    slopes = {}
    models = convergence_models(image, mask, rng)
    for name, model in models.items():
        beta, errors, _ = _run(image, seg, model, ns, n_seeds)
        if name == "linear":  # f(x(z)) is linear in z: exact at every n, no n^(-1/2) to see
            assert errors.max() < 1e-8 * (1 + np.abs(beta).max()), name
            continue
        slopes[name] = _assert_slope(ns, errors, -0.5, int(seg.max()) + 1, len(models) - 1, name)
    return slopes


def test_error_falls_like_one_over_sqrt_n():
    """8x8 image, 3x3 grid (d = 9), n from 300 to 10000, 16 seeds per n."""
    _check_rate(8, 3, np.array([300, 1000, 3000, 10000]), 16)


@pytest.mark.slow
def test_error_falls_like_one_over_sqrt_n_large():
    """28x28 image, 4x4 grid (d = 16), n from 500 to 100000, 24 seeds per n."""
    _check_rate(28, 4, np.array([500, 2000, 8000, 30000, 100000]), 24)


@pytest.mark.parametrize("model_name", ["shape detector", "tanh"])
def test_ridge_bias_vanishes_like_one_over_n(model_name):
    """Same samples, ridge 1 vs ridge 0: the gap falls like 1/n and n * gap -> theory.ridge_bias."""
    image, seg, mask, rng = bar_scene(8, 3)
    model = convergence_models(image, mask, rng)[model_name]
    ns = np.array([300, 1000, 3000, 10000])
    beta, _, gaps = _run(image, seg, model, ns, 16, ridge_gap=True)
    _assert_slope(ns, np.linalg.norm(gaps, axis=2) / ns[:, None], -1.0, 9, 1, "ridge gap")
    predicted = th.ridge_bias(9, NU, beta, ridge=1.0)
    scaled = gaps[-1].mean(axis=0)  # n (coef_ridge1 - coef_ridge0) at n = 10000
    # fluctuation of the Gram matrix is O(n^-1/2) ~ 1-3 %: 5 % would miss a wrong constant
    assert np.max(np.abs(scaled - predicted)) <= 0.05 * np.max(np.abs(predicted)), (scaled, predicted)


@pytest.mark.parametrize("hide_color", [None, 0.0])
def test_linear_model_recovered_exactly_from_few_samples(hide_color):
    """docs/theory/closed_forms.md, *Linear models*: with ridge = 0 any n >= d + 1 samples in general
    position give beta exactly."""
    image, seg, _, rng = bar_scene(8, 3)
    model = LinearModel(rng.normal(size=image.shape))
    beta = model.limit_explanation(image, seg, hide_color=hide_color)
    d = 9
    full_rank = 0
    for n in (d + 1, d + 2, 15, 40):
        for seed in range(12):
            try:
                e = limetheory.explain(image, model, segments=seg, n_samples=n, ridge=0.0, hide_color=hide_color,
                                       seed=seed, keep_samples=True, progress=False)
            except ValueError as exc:  # refused before any model call: the draw does not identify beta
                assert "singular" in str(exc) and "not identified" in str(exc), (n, seed, exc)
                continue
            design = np.hstack([np.ones((n, 1)), e.samples])
            if np.linalg.matrix_rank(design) < d + 1:
                continue  # not in general position: the system is underdetermined
            full_rank += 1
            got = np.concatenate([e.intercept, e.coef[0]])
            assert np.max(np.abs(got - beta)) <= 1e-8 * (1 + np.abs(beta).max()), (n, seed)
    assert full_rank >= 20
