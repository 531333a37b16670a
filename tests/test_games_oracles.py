"""Exact Shapley values against implementations we did not write: shap 0.51 and captum."""
import math
import warnings

import numpy as np
import pytest
from oracles import require

from limetheory import theory as th

shap = require("shap")
torch = require("torch")
captum_attr = require("captum.attr")

pytestmark = pytest.mark.oracle


def random_game(rng, d, k=2):
    """A table of k outputs over {0,1}^d, and the same game as a function of real 0/1 arrays for the oracles."""
    table = th.ResponseTable(rng.normal(size=(1 << d, k)))
    return table, lambda x: table((np.asarray(x) > 0.5).astype(np.uint8))


@pytest.mark.parametrize("d", [2, 4, 7])
def test_shap_kernel_explainer_on_every_coalition(rng, d):
    """shap's KernelExplainer with l1_reg=False enumerates every coalition when nsamples >= 2^d - 2 and
    then solves the Shapley kernel's regression exactly: the Shapley value, to rounding."""
    table, f = random_game(rng, d)
    explainer = shap.KernelExplainer(f, np.zeros((1, d)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(explainer.shap_values(np.ones((1, d)), nsamples=1 << d, l1_reg=False, silent=True))
    np.testing.assert_allclose(values[0].T, th.exact_shapley(table), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d", [3, 5])
def test_captum_shapley_values(rng, d):
    """captum's ShapleyValues averages marginal contributions over all d! orderings, summed in float32:
    Higham's bound for d! terms gives |error| <= d! * eps_32 * 2 max|g|."""
    table, f = random_game(rng, d)
    ours = th.exact_shapley(table)
    forward = lambda x: torch.as_tensor(f(x.numpy()))
    sv = captum_attr.ShapleyValues(forward)
    for target in range(2):
        theirs = sv.attribute(torch.ones(1, d, dtype=torch.float64), baselines=torch.zeros(1, d, dtype=torch.float64),
                              target=target, perturbations_per_eval=128)
        bound = math.factorial(d) * np.finfo(np.float32).eps * 2 * np.abs(table.values).max()
        np.testing.assert_allclose(theirs.numpy()[0], ours[target], atol=bound)


@pytest.mark.slow
def test_shap_exact_explainer(rng):
    """shap's ExactExplainer (Gray-code enumeration), with the all-zeros background: the superpixel game.
    Slow only because shap compiles its numba kernels on first use (about a minute here)."""
    d = 6
    table, f = random_game(rng, d)
    explainer = shap.explainers.Exact(f, shap.maskers.Independent(np.zeros((1, d)), max_samples=1))
    values = explainer(np.ones((1, d)), silent=True).values
    np.testing.assert_allclose(values[0].T, th.exact_shapley(table), rtol=1e-10, atol=1e-12)
