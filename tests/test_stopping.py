"""n_samples="auto": LIME that stops when its top-k set is settled (limetheory.stopping).

Calibration against exact limits (enumeration of {0,1}^d, d = 9): the claim is that a settled top-k
set is the limit's with probability >= confidence, whatever the number of rounds looked at (with a
``tolerance``: that it is eps-correct, eps = tolerance * max_j |beta_j|, with that probability). The
tolerances are binomial: with R runs and a per-run error probability of at most 1 - confidence, the
number of wrong answers exceeds the Binomial(R, 1 - confidence) quantile at 1 - 1e-4 with probability
below 1e-4 (scipy.stats.binom.isf), so a correct rule fails these tests at most once in 10^4 seeds.
"""
import dataclasses
import warnings

import numpy as np
import pytest
from scipy.stats import binom, norm

import limetheory as lt
from limetheory import analytic, theory
from limetheory.segmentation import grid
from limetheory.stopping import StoppingRule, round_level, run_rounds, separated
from limetheory.surrogate import predict_linear, sandwich_covariance

D_SIDE = 3  # 3 x 3 grid: d = 9
FALSE_FAILURE = 1e-4


def _image(tied: bool):
    """A 12 x 12 image on a 3 x 3 grid; with ``tied`` superpixels 2 and 3 hold the same pixels."""
    rng = np.random.default_rng(1)
    img = rng.uniform(0.2, 1.0, size=(12, 12))
    seg = grid(img.shape, D_SIDE, D_SIDE)
    if tied:
        img[seg == 3] = img[seg == 2]
    return img, seg


def _model(seg, weights, interaction=0.0):
    """tanh of a weighted sum of superpixel means, plus an interaction of superpixels 0 and 1."""
    masks = [seg == j for j in range(seg.max() + 1)]

    def predict(x):
        m = np.stack([x[:, mask].mean(axis=1) for mask in masks], axis=1)
        s = m @ weights + interaction * m[:, 0] * m[:, 1]
        return np.stack([np.tanh(s), np.tanh(-0.5 * s + m[:, 4])], axis=1)

    return predict


def _limit_top(model, img, seg, k, label=0):
    f_of_z = analytic.response_of_z(model, img, seg, hide_color=0.0)
    beta = theory.exact_limit(f_of_z, seg.max() + 1, 0.25)
    coef = np.atleast_2d(beta)[label, 1:] if np.ndim(beta) == 2 else beta[1:]
    return coef, set(np.argsort(-coef, kind="stable")[:k].tolist())


def _bound(n_runs, p):
    return binom.isf(FALSE_FAILURE, n_runs, p)


def _eps_correct(chosen, coef, tolerance) -> bool:
    """Every chosen superpixel's limit coefficient >= every other's minus tolerance * max_j |beta_j|."""
    inside = np.isin(np.arange(coef.size), list(chosen))
    return bool(coef[inside].min() >= coef[~inside].max() - tolerance * np.abs(coef).max())


# limit top 3 = superpixels 7, 6, 8 (6 and 8 within 0.004 max |beta|), then 5 at 0.30 max |beta| below 8
NEAR_TIE_WEIGHTS = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.62, 0.7, 0.8]) * 2.0


@pytest.mark.parametrize("sampler,ridge", [("bernoulli", 0.0), ("bernoulli", 1.0), ("weighted", 0.0)])
def test_settled_top_k_is_the_limits(sampler, ridge):
    img, seg = _image(tied=False)
    # top 3 = superpixels 7, 6, 8 with a margin small enough that unsettled rounds happen
    model = _model(seg, NEAR_TIE_WEIGHTS, interaction=0.3)
    coef, top = _limit_top(model, img, seg, 3)
    assert sorted(coef)[-3] - sorted(coef)[-4] > 0  # separated in the limit
    n_runs, confidence = 60, 0.9
    wrong = settled = 0
    rounds = []
    for seed in range(n_runs):
        rule = StoppingRule(top_k=3, confidence=confidence, max_samples=12000)
        ex = lt.explain(img, model, segments=seg, labels=[0], n_samples=rule, seed=seed, hide_color=0.0, ridge=ridge,
                        sampler=sampler, progress=False)
        assert ex.n_samples <= 12000 and ex.settled in (True, False)
        if ex.settled:
            settled += 1
            rounds.append(ex.n_rounds)
            wrong += set(ex.top(3, label=0).tolist()) != top
    assert settled >= n_runs // 2  # the rule is not vacuous: most runs settle before max_samples
    assert wrong <= _bound(settled, 1 - confidence)
    assert max(rounds) > 1  # several looks were taken: the correction is exercised


@pytest.mark.parametrize("sampler,ridge,max_samples", [
    ("bernoulli", 0.0, 12000), ("bernoulli", 1.0, 12000),
    pytest.param("weighted", 0.0, 20000, marks=pytest.mark.slow),  # its spread is larger on this model
])
def test_settled_top_k_with_a_tolerance_is_eps_correct(sampler, ridge, max_samples):
    """top 2 of the near-tie model at tolerance 0.2: any two of 7, 6, 8 are eps-correct, 5 in the set is not."""
    img, seg = _image(tied=False)
    model = _model(seg, NEAR_TIE_WEIGHTS, interaction=0.3)
    coef, top = _limit_top(model, img, seg, 2)
    tolerance, n_runs, confidence = 0.2, 60, 0.9
    scale = np.abs(coef).max()
    order = np.argsort(-coef, kind="stable")
    assert coef[order[1]] - coef[order[2]] < 0.01 * scale  # ranks 2 and 3: a near-tie, inside the zone
    assert coef[order[1]] - coef[order[3]] > (tolerance + 0.05) * scale  # rank 4: outside it
    wrong = settled = inexact = 0
    rounds = []
    for seed in range(n_runs):
        rule = StoppingRule(top_k=2, confidence=confidence, tolerance=tolerance, max_samples=max_samples)
        ex = lt.explain(img, model, segments=seg, labels=[0], n_samples=rule, seed=seed, hide_color=0.0, ridge=ridge,
                        sampler=sampler, progress=False)
        assert ex.stopping.tolerance == tolerance and ex.stopping.top_k == 2
        if ex.settled:
            settled += 1
            rounds.append(ex.n_rounds)
            chosen = set(ex.top(2, label=0).tolist())
            wrong += not _eps_correct(chosen, coef, tolerance)
            inexact += chosen != top
    assert settled >= n_runs // 2
    assert wrong <= _bound(settled, 1 - confidence)
    assert inexact > 0 and max(rounds) > 1  # the zone was used, and several looks were taken


def test_exact_tie_is_not_claimed_settled():
    img, seg = _image(tied=True)
    weights = np.array([0.1, 0.2, 0.9, 0.9, 0.3, 0.25, 0.15, 0.05, 0.0])
    model = _model(seg, weights)
    coef, _ = _limit_top(model, img, seg, 1)
    np.testing.assert_allclose(coef[2], coef[3], rtol=1e-12)  # the tie at rank 1 is exact
    assert np.argsort(-coef)[:2].tolist() in ([2, 3], [3, 2])
    n_runs, confidence = 60, 0.9
    claimed = 0
    for seed in range(n_runs):
        ex = lt.explain(img, model, segments=seg, labels=[0], n_samples=StoppingRule(top_k=1, confidence=confidence,
                        max_samples=2000), seed=seed, hide_color=0.0, ridge=0.0, progress=False)
        claimed += bool(ex.settled)
        if not ex.settled:
            assert ex.n_samples == 2000
    assert claimed <= _bound(n_runs, 1 - confidence)


def test_several_labels_must_all_settle():
    img, seg = _image(tied=False)
    model = _model(seg, np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.4, 1.6]))
    ex = lt.explain(img, model, segments=seg, labels=[0, 1], n_samples=StoppingRule(top_k=2), seed=0,
                    hide_color=0.0, progress=False, keep_samples=True)
    one = lt.explain(img, model, segments=seg, labels=[0], n_samples=StoppingRule(top_k=2), seed=0,
                     hide_color=0.0, progress=False)
    assert ex.settled and one.settled
    assert ex.n_samples >= one.n_samples  # two labels: a stricter (Bonferroni) test on both
    assert ex.samples.shape[0] == ex.n_samples  # the samples of every round
    resid = ex.responses[:, [0, 1]] - predict_linear(ex.samples, ex.intercept, ex.coef)
    cov = sandwich_covariance(ex.samples, ex.weights, resid, 1.0)[:, 1:, 1:]
    assert separated(ex.coef, cov, 2, round_level(ex.n_rounds, 0.95)).all()


def test_same_seed_same_bits_and_fixed_n_unchanged():
    img, seg = _image(tied=False)
    model = _model(seg, np.linspace(0.0, 1.6, 9))
    a = lt.explain(img, model, segments=seg, n_samples=StoppingRule(top_k=2), seed=3, hide_color=0.0, progress=False)
    with pytest.warns(DeprecationWarning, match=r"top_k are deprecated; pass n_samples=StoppingRule\(top_k=2\)"):
        b = lt.explain(img, model, segments=seg, n_samples="auto", top_k=2, seed=3, hide_color=0.0, progress=False)
    np.testing.assert_array_equal(a.coef, b.coef)  # the deprecated keywords run the same rule
    assert (a.n_samples, a.n_rounds, a.settled) == (b.n_samples, b.n_rounds, b.settled)
    fixed = lt.explain(img, model, segments=seg, n_samples=300, seed=3, hide_color=0.0, progress=False)
    assert fixed.settled is None and fixed.n_rounds == 1 and fixed.n_samples == 300


def test_schedule_and_levels():
    rule = StoppingRule(max_samples=20000)
    sizes = rule.schedule(35)
    assert sizes[0] == 360 and sizes[-1] == 20000 and all(np.diff(sizes) > 0)
    assert sum(round_level(r, 0.95) for r in range(1, 100000)) == pytest.approx(0.05, rel=1e-4)
    for r in (1, 2, 7):  # a_r = (1 - c) 6 / (pi^2 r^2), from its definition
        assert round_level(r, 0.9) == pytest.approx(0.1 * 6 / (np.pi**2 * r**2), rel=1e-12)
    growing = StoppingRule(initial=100, growth=1.5, max_samples=400).schedule(9)
    assert growing == (100, 150, 225, 338, 400)  # ceil(n * growth) each round, capped at max_samples
    # at least 2 samples (a fit's minimum) unless the caller asks for more; then +1 when growth rounds down
    assert StoppingRule(initial=2, max_samples=10).schedule(5) == (2, 3, 5, 8, 10)
    assert StoppingRule(initial=2, max_samples=10).schedule(5, min_samples=6) == (6, 9, 10)
    assert StoppingRule(initial=50, max_samples=60).schedule(9) == (50, 60)


def test_a_constant_model_never_settles():
    """Every coefficient is exactly 0 with covariance 0: no top-k set is separated (the rule's inequality
    is strict), however many rounds are run."""
    assert not separated(np.zeros((1, 5)), np.zeros((1, 5, 5)), 2, 0.05).any()
    img, seg = _image(tied=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the constant-output warning
        ex = lt.explain(img, lambda x: np.full((len(x), 2), 0.5), segments=seg, labels=[0], n_samples="auto",
                        top_k=2, max_samples=400, seed=0, progress=False)
    assert ex.settled is False and ex.n_samples == 400


#: Rounds of the Gaussian calibration test and its seeds.
GAUSS_RUNS = 800


def test_exact_tie_claims_are_rare_at_the_level_the_bonferroni_share_gives():
    """Calibration at the rule's own level, fast and exact: two tied "coefficients" (means of N(0, I_2) draws,
    their covariance from the draws) fed through run_rounds round by round up to 1200 samples (11 looks).

    Any settled top-1 set is wrong (a tie). At round r the rule's only failing interval, the difference,
    is two-sided at level a_r / m with a_r = (1 - c) 6 / (pi^2 r^2) and m = L d (d + 1) / 2 = 3 intervals,
    so P(wrong) <= sum_r a_r / 3 = (1 - c) / 3. The number of wrong runs of R is then stochastically
    below Binomial(R, (1 - c) / 3), and exceeds its 1 - 1e-4 quantile (47 of 800) with probability < 1e-4.
    Measured with these seeds: 22 of 800 wrong; the rule without the Bonferroni share makes 61, without
    the alpha spending (level 1 - c at every look) 154, with q = 0 all 800: each fails the bound.
    """
    confidence = 0.9
    rule = StoppingRule(top_k=1, confidence=confidence, max_samples=1200)
    wrong = 0
    for seed in range(GAUSS_RUNS):
        rng = np.random.default_rng(seed)
        result = run_rounds(
            rule, 2,
            draw=lambda m, first: (np.zeros((m, 2)), np.ones(m)),
            evaluate=lambda z: rng.normal(size=(len(z), 2)),
            fit=lambda z, y, w: y,
            coef_and_cov=lambda y, z, y_all, w: (y.mean(axis=0)[None], (np.cov(y.T) / len(y))[None]),
        )
        wrong += result.settled
    assert wrong <= binom.isf(FALSE_FAILURE, GAUSS_RUNS, (1 - confidence) / 3), wrong


def _diagonal(se):
    return np.array([np.diag(np.square(row)) for row in np.atleast_2d(se)])


def test_separated_rule():
    coef = np.array([[3.0, 2.0, 0.0, -1.0]])
    q = norm.isf(0.05 / (4 * 5))  # 2 m = L d (d + 1) = 20 tails: m = 10 intervals
    critical = 2.0 / (q * np.sqrt(2))  # the closest pair (2 vs 0) separates while q sqrt(2) se < 2
    assert separated(coef, _diagonal(np.full(4, 0.95 * critical)), 2, 0.05).all()
    assert not separated(coef, _diagonal(np.full(4, 1.05 * critical)), 2, 0.05).any()
    assert not separated(coef, _diagonal([0.1, np.inf, 0.1, 0.1]), 2, 0.05).any()


def test_separated_rule_tolerance_is_relative_to_the_coefficients_scale():
    """eps = tolerance * max(0, max_j (|coef_j| - q sd_j)): on coefficients of order 0.1 it is about 0.015
    here, not enough for a gap whose lower bound is -0.027; tolerance 0.5 (eps ~ 0.037) is."""
    coef = np.array([[0.1, 0.09, 0.0]])
    cov = _diagonal(np.full(3, 0.01))
    q = norm.isf(0.05 / (3 * 4))
    lower = 0.01 - q * np.sqrt(2e-4)
    eps = lambda tol: tol * (0.1 - q * 0.01)  # noqa: E731
    assert -eps(0.2) > lower > -eps(0.5)
    assert not separated(coef, cov, 1, 0.05, tolerance=0.2).any()
    assert separated(coef, cov, 1, 0.05, tolerance=0.5).all()


def test_separated_rule_answers_per_label():
    coef = np.array([[3.0, 0.0, -1.0], [3.0, 2.99, -1.0]])
    cov = np.stack([np.diag(np.full(3, 1e-4))] * 2)
    np.testing.assert_array_equal(separated(coef, cov, 1, 0.05), [True, False])


def test_separated_rule_uses_the_covariance_of_differences():
    """Two coefficients with se 1 and correlation rho: their difference has sd sqrt(2 (1 - rho))."""
    coef = np.array([[1.0, 0.0, -5.0]])
    q = norm.isf(0.05 / (3 * 4))
    # q sd_01 < 1 (the gap) iff rho > 1 - 1 / (2 q^2)
    for rho, expected in [(0.0, False), (1 - 0.6 / q**2, False), (1 - 0.4 / q**2, True)]:
        cov = np.array([[[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1e-6]]])  # sd_01 = sqrt(2 (1 - rho))
        assert separated(coef, cov, 1, 0.05).all() == expected, rho


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(n_samples="many"), ValueError, "n_samples"),
    (dict(n_samples="auto", top_k=9), ValueError, "top_k"),
    (dict(n_samples="auto", top_k=0), ValueError, "top_k"),
    (dict(n_samples="auto", top_k=2.5), TypeError, "top_k"),
    (dict(n_samples="auto", confidence=1.0), ValueError, "confidence"),
    (dict(n_samples="auto", confidence=True), TypeError, "confidence"),
    (dict(n_samples="auto", max_samples=1), ValueError, "max_samples"),
    (dict(n_samples="auto", max_samples=5, ridge=0.0), ValueError, "max_samples"),
    (dict(n_samples=500, top_k=3), ValueError, "top_k"),
    (dict(n_samples=500, max_samples=3000), ValueError, "max_samples"),
    (dict(n_samples="auto", tolerance=-0.1), ValueError, "tolerance must be >= 0"),
    (dict(n_samples="auto", tolerance=1.0), ValueError, "tolerance must be < 1"),
    (dict(n_samples="auto", tolerance=True), TypeError, "tolerance must be a real number"),
    (dict(n_samples="auto", tolerance="x"), TypeError, "tolerance must be a real number"),
    (dict(n_samples=500, tolerance=0.1), ValueError, "tolerance apply only"),
    (dict(n_samples=StoppingRule(), top_k=3), TypeError, "top_k cannot be given with n_samples=StoppingRule"),
    (dict(n_samples=StoppingRule(top_k=9)), ValueError, "top_k must be < the number of superpixels"),
    (dict(n_samples=1.5), TypeError, "n_samples must be an integer >= 2, 'auto' or a StoppingRule"),
])
def test_bad_stopping_arguments(kwargs, exc, match):
    img, seg = _image(tied=False)
    calls = []

    def model(x):
        calls.append(len(x))
        return np.ones((len(x), 2))

    with pytest.raises(exc, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt.explain(img, model, segments=seg, **kwargs)
    assert not calls  # refused before any model call


def test_exact_tie_settles_within_a_tolerance_and_not_without():
    """The tied model of the test above at top_k = 1: with tolerance 0.1 every run settles (on 2 or 3,
    both eps-correct) by the n at which the asymptotic intervals are half the zone; tolerance 0 does not."""
    img, seg = _image(tied=True)
    model = _model(seg, np.array([0.1, 0.2, 0.9, 0.9, 0.3, 0.25, 0.15, 0.05, 0.0]))
    coef, _ = _limit_top(model, img, seg, 1)
    tolerance, n_runs, confidence, d = 0.1, 60, 0.9, 9
    # sample size from theory: the exact asymptotic sd of the coefficients (enumeration; a difference's sd is
    # at most 2 sd), the q of the d (d + 1) / 2 intervals for up to 20 rounds (q grows with r), and
    # 2 q sd / sqrt(n) = half the zone tolerance * max_j |beta_j|
    cov = theory.exact_limit_covariance(analytic.response_of_z(model, img, seg, hide_color=0.0), d, 0.25)
    sd = np.sqrt(np.diagonal(np.atleast_3d(cov)[0])[1:]).max()
    q = norm.isf(round_level(20, confidence) / (d * (d + 1)))
    n_max = int(np.ceil((2 * q * sd / (0.5 * tolerance * np.abs(coef).max())) ** 2))
    assert len(StoppingRule(max_samples=n_max).schedule(d)) <= 20
    claimed = 0
    for seed in range(n_runs):
        kwargs = dict(segments=seg, labels=[0], seed=seed, hide_color=0.0, ridge=0.0, progress=False)
        rule = StoppingRule(top_k=1, confidence=confidence, max_samples=n_max, tolerance=tolerance)
        ex = lt.explain(img, model, n_samples=rule, **kwargs)
        assert ex.settled and _eps_correct(set(ex.top(1, label=0).tolist()), coef, tolerance)
        assert ex.top(1, label=0)[0] in (2, 3)
        claimed += bool(lt.explain(img, model, n_samples=dataclasses.replace(rule, tolerance=0.0), **kwargs).settled)
    assert claimed <= _bound(n_runs, 1 - confidence)


def test_separated_rule_with_a_tolerance():
    coef = np.array([[1.0, 0.95, 0.0, -1.2]])
    cov = _diagonal(np.full(4, 0.02))
    q = norm.isf(0.05 / (4 * 5))  # Bonferroni over d (d + 1) / 2 = 10 intervals
    sd = 0.02 * np.sqrt(2)  # of a difference of two independent coefficients
    assert not separated(coef, cov, 1, 0.05).any()  # 1 - 0.95 < q sd
    # eps = tolerance * (|-1.2| - q 0.02) must exceed the overlap q sd - 0.05
    need = (q * sd - 0.05) / (1.2 - q * 0.02)
    assert separated(coef, cov, 1, 0.05, tolerance=need + 1e-3).all()
    assert not separated(coef, cov, 1, 0.05, tolerance=need - 1e-3).any()
    assert not separated(coef, np.full((1, 4, 4), np.inf), 1, 0.05, tolerance=0.5).any()


def test_separated_rule_breaks_exact_ties_as_top_k_does():
    """An exact tie across the top-k boundary with ``tolerance > 0``: the rule judges the set that
    :func:`limetheory.metrics.top_k` reports (ties: lower index first), not the other tied superpixel.

    d = 20 (above 16 NumPy's default argsort is not stable), one label per tied pair (a, b), a < b,
    both at 1, the others at 0. Error vectors (cov = V V^T + 1e-6 I): v_a = 0, v_b = (h, 0), v_j =
    (0, R) for one j outside the pair, so sd_ab ~ h, sd_aj ~ R and sd_bj ~ sqrt(h^2 + R^2): with
    q h = 0.8, q R = 1.75, tolerance 0.9 (eps ~ 0.9 (1 - q 1e-3)), the set {a} passes every pair
    (lower bounds -0.8 and -0.75 > -eps) and {b} fails against j (1 - 1.924 < -eps)."""
    from limetheory.metrics import top_k

    d, level, tolerance = 20, 0.05, 0.9
    pairs = [(a, b) for a in range(d) for b in range(a + 1, d)]
    n_labels = len(pairs)
    q = norm.isf(level / (n_labels * d * (d + 1)))
    h, big = 0.8 / q, 1.75 / q
    coef = np.zeros((n_labels, d))
    cov = np.empty((n_labels, d, d))
    for label, (a, b) in enumerate(pairs):
        coef[label, [a, b]] = 1.0
        j = min(set(range(d)) - {a, b})
        v = np.zeros((d, 2))
        v[b, 0], v[j, 1] = h, big
        cov[label] = v @ v.T + 1e-6 * np.eye(d)
        assert top_k(coef[label], 1).tolist() == [a]
    eps = tolerance * (1.0 - q * 1e-3)
    assert -0.8 > -eps and -0.75 > -eps and 1 - np.hypot(0.8, 1.75) < -eps  # the margins used
    np.testing.assert_array_equal(separated(coef, cov, 1, level, tolerance=tolerance), True)
    # the tie broken by a hair either way: toward a the same answer, toward b (the other set) not separated
    hair = 1e-9
    toward_a, toward_b = coef.copy(), coef.copy()
    for label, (a, b) in enumerate(pairs):
        toward_a[label, b] -= hair
        toward_b[label, a] -= hair
    np.testing.assert_array_equal(separated(toward_a, cov, 1, level, tolerance=tolerance), True)
    np.testing.assert_array_equal(separated(toward_b, cov, 1, level, tolerance=tolerance), False)



def test_separated_rule_needs_differences_strictly_above_the_resolution():
    """A pair whose difference and indifference zone are both at most the resolution is never separated:
    a gap of exactly the resolution (a power of two, exact in float64; no sampling error) is not, twice it is."""
    res = 2.0**-50
    cov = np.zeros((1, 3, 3))
    for gap, expected in [(res, False), (2 * res, True)]:
        coef = np.array([[gap, 0.0, -1.0]])
        assert separated(coef, cov, 1, 0.05, resolution=res).all() == expected, gap
        assert separated(coef, cov, 1, 0.05).all()  # without a resolution any positive gap separates


def test_separated_rule_is_strict_where_an_interval_touches_zero():
    """coef_i - coef_j - q sd_ij > -eps is strict: a difference whose lower bound is exactly 0 (tolerance 0)
    is not separated. Exact in float64: sd_01 = 2^-10 (var_diff = 2^-20, its sqrt exact) and the gap is
    the float q * 2^-10, so gap - q sd_01 = 0; q is the docstring's Phi^{-1}(1 - level / (2 m)), 2 m = d (d + 1)."""
    level, d = 0.05, 3
    q = norm.isf(level / (d * (d + 1)))
    s = 2.0**-10
    cov = np.diag([s * s / 2, s * s / 2, s * s / 2])[None]
    for gap, expected in [(q * s, False), (np.nextafter(q * s, 1.0), True)]:
        coef = np.array([[gap, 0.0, -1.0]])
        assert separated(coef, cov, 1, level).all() == expected, gap


def test_separated_rule_computes_in_float64_for_float32_input():
    """float32 coefficients or covariances are judged by their float64 values (not float32 arithmetic), on
    two cases at the edge of float32's rounding (tolerance 0, top_k = 1, q of d = 3):

    - covariances of 2.5 (float32): sd_01 = sqrt(5), whose float32 rounding is 3.3e-8 larger; a gap midway
      between q sqrt(5) and q fl32(sqrt(5)) is separated in float64 and not in float32;
    - coefficients 1 + 2^-23 and 2^-25 (float32): their difference 1 + 3 2^-25 is exact in float64 and rounds
      up to 1 + 2^-23 in float32; with q sd_01 = 1 + 3.5 2^-25 only the float32 difference would separate."""
    level = 0.05
    q = norm.isf(level / (3 * 4))
    cov32 = np.diag(np.full(3, 2.5, dtype=np.float32))[None]
    mid = q * (np.sqrt(5.0) + float(np.sqrt(np.float32(5.0)))) / 2
    coef = np.array([[mid, 0.0, -1.0]])
    assert separated(coef, cov32, 1, level).tolist() == separated(coef, cov32.astype(np.float64), 1, level).tolist() \
        == [True]
    coef32 = np.array([[1 + 2.0**-23, 2.0**-25, -1.0]], dtype=np.float32)
    sd = (1 + 3.5 * 2.0**-25) / q
    cov = np.diag(np.full(3, sd * sd / 2))[None]
    assert separated(coef32, cov, 1, level).tolist() == separated(coef32.astype(np.float64), cov, 1, level).tolist() \
        == [False]

def _roundoff_case():
    """A response that moves by less than its own float resolution: y = fl(0.3 + 1e-17 l(x)), l linear
    in the superpixels (|l| <= 8): the outputs are 0.3 and its neighbours a few ulps away (5.6e-17
    each), so the coefficients' differences are round-off, not the model's."""
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (24, 24, 3))
    seg = grid(img.shape[:2], 4, 4)
    w = np.repeat(np.linspace(-1.0, 1.0, 16)[seg][:, :, None], 3, axis=2).ravel()
    scale = 8.0 / (abs(img.ravel() @ w) + 1.0)

    def model(images):
        lin = np.asarray(images, dtype=np.float64).reshape(len(images), -1) @ w * scale
        return np.stack([0.3 + 1e-17 * lin, 0.7 + 0.0 * lin], axis=1)

    return img, seg, model


def test_roundoff_differences_never_settle():
    img, seg, model = _roundoff_case()
    said_why = 0
    for seed in range(5):  # before the resolution floor, 4 of these 5 runs "settled" after 575 to 1943 samples
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ex = lt.explain(img, model, segments=seg, labels=[0], n_samples="auto", top_k=3, max_samples=2000,
                            seed=seed, hide_color=0.0, progress=False)
        assert np.abs(ex.coef).max() < 1e-15  # the coefficients are round-off
        assert ex.settled is False and ex.n_samples == 2000
        said_why += any("below the float resolution of the model's responses" in str(w.message) for w in caught)
    assert said_why >= 3


def test_response_resolution():
    from limetheory.stopping import response_resolution

    assert response_resolution(np.array([0.5, 0.25])) == np.spacing(np.float32(0.5))  # float32 numbers
    assert response_resolution(np.array([0.5, 0.1])) == np.spacing(0.5)
    assert response_resolution(np.array([0.0, -3.0 + 1e-12])) == np.spacing(3.0)
