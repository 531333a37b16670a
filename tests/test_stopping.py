"""n_samples="auto": LIME that stops when its top-k set is settled (limetheory.stopping).

Calibration against exact limits (enumeration of {0,1}^d, d = 9): the claim is that a settled top-k
set is the limit's with probability >= confidence, whatever the number of rounds looked at. The
tolerances are binomial: with R runs and a per-run error probability of at most 1 - confidence, the
number of wrong answers exceeds the Binomial(R, 1 - confidence) quantile at 1 - 1e-4 with probability
below 1e-4 (scipy.stats.binom.isf), so a correct rule fails these tests at most once in 10^4 seeds.
"""
import warnings

import numpy as np
import pytest
from scipy.stats import binom

import limetheory as lt
from limetheory import analytic, theory
from limetheory.segmentation import grid
from limetheory.stopping import StoppingRule, round_level, separated

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


@pytest.mark.parametrize("sampler,ridge", [("bernoulli", 0.0), ("bernoulli", 1.0), ("weighted", 0.0)])
def test_settled_top_k_is_the_limits(sampler, ridge):
    img, seg = _image(tied=False)
    # top 3 = superpixels 8, 7, 6 with a margin small enough that unsettled rounds happen
    weights = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.62, 0.7, 0.8]) * 2.0
    model = _model(seg, weights, interaction=0.3)
    coef, top = _limit_top(model, img, seg, 3)
    assert sorted(coef)[-3] - sorted(coef)[-4] > 0  # separated in the limit
    n_runs, confidence = 60, 0.9
    wrong = settled = 0
    rounds = []
    for seed in range(n_runs):
        ex = lt.explain(img, model, segments=seg, labels=[0], n_samples="auto", top_k=3, confidence=confidence,
                        max_samples=12000, seed=seed, hide_color=0.0, ridge=ridge, sampler=sampler, progress=False)
        assert ex.n_samples <= 12000 and ex.settled in (True, False)
        if ex.settled:
            settled += 1
            rounds.append(ex.n_rounds)
            wrong += set(ex.top(3, label=0).tolist()) != top
    assert settled >= n_runs // 2  # the rule is not vacuous: most runs settle before max_samples
    assert wrong <= _bound(settled, 1 - confidence)
    assert max(rounds) > 1  # several looks were taken: the correction is exercised


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
        ex = lt.explain(img, model, segments=seg, labels=[0], n_samples="auto", top_k=1, confidence=confidence,
                        max_samples=2000, seed=seed, hide_color=0.0, ridge=0.0, progress=False)
        claimed += bool(ex.settled)
        if not ex.settled:
            assert ex.n_samples == 2000
    assert claimed <= _bound(n_runs, 1 - confidence)


def test_several_labels_must_all_settle():
    img, seg = _image(tied=False)
    model = _model(seg, np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.4, 1.6]))
    ex = lt.explain(img, model, segments=seg, labels=[0, 1], n_samples="auto", top_k=2, seed=0,
                    hide_color=0.0, progress=False)
    one = lt.explain(img, model, segments=seg, labels=[0], n_samples="auto", top_k=2, seed=0,
                     hide_color=0.0, progress=False)
    assert ex.settled and one.settled
    assert ex.n_samples >= one.n_samples  # two labels: a stricter (Bonferroni) test on both
    se = np.array(ex.coef_se)
    assert separated(ex.coef, se, 2, round_level(ex.n_rounds, 0.95)).all()


def test_same_seed_same_bits_and_fixed_n_unchanged():
    img, seg = _image(tied=False)
    model = _model(seg, np.linspace(0.0, 1.6, 9))
    a = lt.explain(img, model, segments=seg, n_samples="auto", top_k=2, seed=3, hide_color=0.0, progress=False)
    b = lt.explain(img, model, segments=seg, n_samples="auto", top_k=2, seed=3, hide_color=0.0, progress=False)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert (a.n_samples, a.n_rounds, a.settled) == (b.n_samples, b.n_rounds, b.settled)
    fixed = lt.explain(img, model, segments=seg, n_samples=300, seed=3, hide_color=0.0, progress=False)
    assert fixed.settled is None and fixed.n_rounds == 1 and fixed.n_samples == 300


def test_schedule_and_levels():
    rule = StoppingRule(max_samples=20000)
    sizes = rule.schedule(35)
    assert sizes[0] == 360 and sizes[-1] == 20000 and all(np.diff(sizes) > 0)
    assert sum(round_level(r, 0.95) for r in range(1, 100000)) == pytest.approx(0.05, rel=1e-4)
    assert StoppingRule(initial=50, max_samples=60).schedule(9) == (50, 60)


def test_separated_rule():
    coef = np.array([[3.0, 2.0, 0.0, -1.0]])
    assert separated(coef, np.full((1, 4), 0.1), 2, 0.05).all()
    assert not separated(coef, np.full((1, 4), 0.5), 2, 0.05).any()  # 2 - q 0.5 < 0 + q 0.5
    assert not separated(coef, np.array([[0.1, np.inf, 0.1, 0.1]]), 2, 0.05).any()


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
