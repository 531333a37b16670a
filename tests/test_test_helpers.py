"""The tests' own helpers: the CI rule for oracles (tests/oracles.py) and the statistical bands
(tests/stats_bounds.py) hold what their docstrings promise."""
import numpy as np
import pytest
from scipy import stats

import stats_bounds as sb
from oracles import require


def test_require_imports_an_available_module(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require("json").dumps([1]) == "[1]"


def test_require_skips_a_missing_oracle_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_oracle_module"):
        require("no_such_oracle_module")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no_such_oracle_module"):
        require("no_such_oracle_module")


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_require_fails_a_missing_oracle_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="oracle 'no_such_oracle_module' cannot be imported in CI"):
        require("no_such_oracle_module")


def test_quantiles_are_bonferroni_normal_and_t():
    assert sb.quantile(0.05) == pytest.approx(stats.norm.ppf(0.975))
    assert sb.quantile(0.05, m=10) == pytest.approx(stats.norm.ppf(1 - 0.0025))
    assert sb.quantile(0.05, dof=4, sided=1) == pytest.approx(stats.t.ppf(0.95, 4))
    assert sb.dn_bias(8, 1000, 2.0, c=3.0) == pytest.approx(0.048)


def test_mean_band_false_failure_rate_is_at_most_alpha():
    """20000 simulated tests of 3 coordinates x 5 normal runs each: a t band at alpha = 0.05
    (Bonferroni over the 3) fails in at most 5% of them (binomial 4-sigma margin)."""
    rng = np.random.default_rng(0)
    runs = rng.normal(size=(20000, 5, 3))
    mean, half = sb.mean_band(runs, alpha=0.05, axis=1, m=3)
    failed = np.any(np.abs(mean) > half, axis=1).mean()
    assert 0.04 < failed <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / 20000), failed
    with pytest.raises(AssertionError, match="times the band"):
        sb.assert_within(np.array([1.0, 3.0]), 0.0, np.array([2.0, 2.0]), "demo")


def test_loglog_slope_standard_error_covers_the_true_slope():
    """Power laws with log-normal noise: the slope's t band (alpha = 0.05) misses in about 5% of fits."""
    rng = np.random.default_rng(1)
    x = np.repeat([300.0, 1000.0, 3000.0, 10000.0], 8)
    miss = 0
    for _ in range(2000):
        slope, se, dof = sb.loglog_slope(x, x**-0.5 * np.exp(0.3 * rng.normal(size=x.size)))
        miss += abs(slope + 0.5) > sb.band(se, alpha=0.05, dof=dof)
    assert abs(miss / 2000 - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / 2000), miss



def _jax_default_float():
    import jax.numpy as jnp

    return jnp.asarray(1.0).dtype.name


def test_no_test_module_switches_jax_to_float64_for_the_others():
    """Every test module is imported before the first test runs: a module that switched JAX to
    float64 at import would switch it for all. Modules that need float64 ask for the
    ``jax_float64`` fixture (conftest.py), which holds it for that module only."""
    assert _jax_default_float() == "float32"


def test_the_float64_fixture_holds_only_inside(jax_float64):
    assert _jax_default_float() == "float64"
