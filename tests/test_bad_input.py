"""Bad-input corpus of the public functions of empirical, compat, metrics, analytic, segmentation and data.

Each case: a call, the exception type (a wrong type is a TypeError, a wrong value a ValueError, bools
are never numbers) and a ``match=`` naming the argument. Bad inputs are refused before the model runs.
"""
from __future__ import annotations

import numpy as np
import pytest

import limetheory as lt
from limetheory import data, metrics
from limetheory.analytic import LinearModel, response_of_z
from limetheory.compat import lime_explain
from limetheory.empirical import check_fit_size
from limetheory.segmentation import grid, segment

IMG = np.random.default_rng(0).uniform(0, 1, (8, 8, 3))
SEG = grid((8, 8), 2, 2)
MODEL = LinearModel(np.random.default_rng(1).normal(size=(8, 8, 3)))


def two_classes(x):
    s = MODEL(x)
    return np.stack([s, -s], axis=1)


class CountingModel:
    """A model that records whether it was called (bad inputs must be refused before)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return two_classes(x)


def explain(**kw):
    args = {"segments": SEG, "n_samples": 50, "seed": 0, "progress": False, **kw}
    return lt.explain(args.pop("image", IMG), args.pop("predict", CountingModel()), **args)


def compat(**kw):
    args = {"segments": SEG, "n_samples": 50, "top_labels": None, "labels": (0,), **kw}
    return lime_explain(args.pop("image", IMG), args.pop("predict", CountingModel()), **args)


def complex_model(x):
    return two_classes(x).astype(complex)


EX = explain(keep_samples=False)
SCORES = np.arange(4.0)

CASES = [
    # ---- explain
    (lambda: explain(kernel_width=True), TypeError, "kernel_width"),
    (lambda: explain(kernel_width=0.0), ValueError, "kernel_width"),
    (lambda: explain(ridge=True), TypeError, "ridge"),
    (lambda: explain(ridge=-1.0), ValueError, "ridge"),
    (lambda: explain(seed=True), TypeError, "seed"),
    (lambda: explain(seed=-1), ValueError, "seed"),
    (lambda: explain(seed=2**70), ValueError, "seed"),
    (lambda: explain(seed=np.random.RandomState(0)), TypeError, "seed"),
    (lambda: explain(n_samples=True), TypeError, "n_samples"),
    (lambda: explain(n_samples=10.0), TypeError, "n_samples"),
    (lambda: explain(n_samples=1), ValueError, "n_samples"),
    (lambda: explain(n_samples=10**10), ValueError, "n_samples=10000000000"),
    (lambda: explain(n_samples=3 * 10**7, segments=grid((8, 8), 8, 8)), ValueError, "GiB"),
    (lambda: explain(batch_size=0), ValueError, "batch_size"),
    (lambda: explain(batch_size=-1), ValueError, "batch_size"),
    (lambda: explain(batch_size=2.0), TypeError, "batch_size"),
    (lambda: explain(sampler="uniform"), ValueError, "sampler"),
    (lambda: explain(keep_samples=1), TypeError, "keep_samples"),
    (lambda: explain(refuse_unidentified=None), TypeError, "refuse_unidentified"),
    (lambda: explain(labels=[1.7]), TypeError, "labels"),
    (lambda: explain(labels=[True]), TypeError, "labels"),
    (lambda: explain(labels=[-1]), ValueError, "labels"),
    (lambda: explain(labels=[5]), ValueError, "labels"),
    (lambda: explain(top_labels=-1), ValueError, "top_labels"),
    (lambda: explain(top_labels=True), TypeError, "top_labels"),
    (lambda: explain(predict=complex_model), TypeError, "real"),
    (lambda: explain(predict="model"), TypeError, "predict"),
    (lambda: explain(image=IMG.astype(complex)), TypeError, "image"),
    (lambda: explain(image=(IMG * 100).astype(np.int8)), TypeError, "image"),
    (lambda: explain(kernel_width=1e-3), ValueError, 'sampler="weighted"'),
    # ---- Explanation methods
    (lambda: EX.top(k=-1), ValueError, "k"),
    (lambda: EX.top(k=True), TypeError, "k"),
    (lambda: EX.top(sign="both"), ValueError, "sign"),
    (lambda: EX.conf_int(level=1.0), ValueError, "level"),
    (lambda: EX.conf_int(level=True), TypeError, "level"),
    (lambda: EX.n_samples_for(True), TypeError, "target_se"),
    (lambda: EX.n_samples_for(-1.0), ValueError, "target_se"),
    # ---- compat
    (lambda: compat(labels=[1.7]), TypeError, "labels"),
    (lambda: compat(top_labels=-1, labels=None), ValueError, "top_labels"),
    (lambda: compat(top_labels=True, labels=None), TypeError, "top_labels"),
    (lambda: compat(top_labels=3, labels=None), ValueError, "top_labels"),
    (lambda: compat(kernel_width=True), TypeError, "kernel_width"),
    (lambda: compat(random_state=True), TypeError, "random_state"),
    (lambda: compat(random_state=-1), ValueError, "random_state"),
    (lambda: compat(random_state=2**40), ValueError, "random_state"),
    (lambda: compat(batch_size=0), ValueError, "batch_size"),
    (lambda: compat(n_samples=10**10), ValueError, "n_samples"),
    (lambda: compat(predict=complex_model), TypeError, "real"),
    # ---- metrics
    (lambda: metrics.jaccard(None, None), TypeError, "a_set"),
    (lambda: metrics.top_k(SCORES, True), TypeError, "k"),
    (lambda: metrics.top_k(SCORES, 0), ValueError, "k"),
    (lambda: metrics.rank_correlation(SCORES, SCORES, method="pearson"), ValueError, "method"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=99), ValueError, "target"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=-1), ValueError, "target"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=True), TypeError, "target"),
    (lambda: metrics.insertion_curve(IMG, complex_model, SEG, SCORES, target=0), TypeError, "real"),
    (lambda: metrics.insertion_curve(IMG, lambda x: np.full(len(x), np.nan), SEG, SCORES), ValueError, "non-finite"),
    (lambda: metrics.insertion_curve(IMG, lambda x: np.ones(len(x) - 1), SEG, SCORES), ValueError, "shape"),
    (lambda: metrics.faithfulness_correlation(IMG, "model", SEG, SCORES), TypeError, "predict"),
    # ---- analytic
    (lambda: response_of_z(MODEL, IMG, SEG, batch_size=0), ValueError, "batch_size"),
    (lambda: response_of_z(MODEL, IMG, SEG, batch_size=True), TypeError, "batch_size"),
    (lambda: response_of_z(MODEL, IMG, SEG)(np.ones((0, 4))), ValueError, "z must be"),
    (lambda: response_of_z(complex_model, IMG, SEG)(np.ones((2, 4))), TypeError, "real"),
    # ---- segmentation
    (lambda: grid((8, 8), True), TypeError, "n_rows"),
    (lambda: grid((8, 8), 9), ValueError, "n_rows"),
    (lambda: grid((8, 8), 2, 0), ValueError, "n_cols"),
    (lambda: segment(IMG, "watershed"), ValueError, "method"),
    # ---- data
    (lambda: data.load_photo("nope"), ValueError, "name"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size=10**6), ValueError, "size"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size=True), TypeError, "size"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size="big"), TypeError, "size"),
    (lambda: data.make_shapes(True), TypeError, "n"),
    (lambda: data.make_shapes(2, size=True), TypeError, "size"),
    (lambda: data.make_shapes(2, seed=2**70), ValueError, "seed"),
    (lambda: data.make_shapes(2, noise=True), TypeError, "noise"),
    (lambda: data.load_digits_rgb(test_size=True), TypeError, "test_size"),
]


@pytest.mark.parametrize("call, exc, match", CASES)
def test_bad_input_is_refused_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_explain_refuses_before_calling_the_model():
    """Sizes and unidentifiable weights are refused before the first model call."""
    for kw in ({"n_samples": 10**9}, {"kernel_width": 1e-3}, {"batch_size": 0}, {"seed": -1}):
        model = CountingModel()
        with pytest.raises(ValueError):
            explain(predict=model, **kw)
        assert model.calls == 0, kw


def test_memory_estimate_names_need_and_availability():
    with pytest.raises(ValueError, match=r"d=50176 superpixels needs about .* GiB .* of the 1 GiB available"):
        check_fit_size(1000, 224 * 224, available=2**30)
    check_fit_size(1000, 50, available=2**30)  # 1000 x 50: well under 1 GiB


def test_tiny_kernel_is_refused_not_answered_with_false_confidence():
    """With nu = 1e-3 lime's Bernoulli weights put all the weight on z = 1 (coefficients ~1e-31 with
    standard errors ~1e-32 before the check, the ridge's answer); the same samples at nu = 0.25 fit."""
    with pytest.raises(ValueError, match="not identified|dominates"):
        explain(kernel_width=1e-3)
    ex = explain(kernel_width=0.25)
    assert np.all(np.isfinite(ex.coef_se)) and np.all(ex.coef_se > 1e-6)
    lime_like = explain(kernel_width=1e-3, refuse_unidentified=False)  # fitted anyway, as lime does
    assert np.max(np.abs(lime_like.coef)) < 1e-20  # the ridge's answer, not the model's


# ---------------------------------------------------------------- valid edge cases still work
def test_valid_edge_cases_give_valid_results():
    assert explain(seed=2**64 - 1).coef.shape == (1, 4)
    assert explain(seed=[3, 0]).coef.shape == (1, 4)
    assert explain(n_samples=2, ridge=1.0).coef.shape == (1, 4)
    assert sorted(explain(top_labels=2).labels.tolist()) == [0, 1]
    assert explain(batch_size=1).coef.shape == (1, 4)
    assert explain(image=(IMG * 255).astype(np.uint8)).coef.shape == (1, 4)
    assert explain(image=(IMG * 255).astype(np.int16)).coef.shape == (1, 4)
    assert EX.top(k=0).size == 0
    assert metrics.jaccard([], []) != metrics.jaccard([], [])  # NaN: undefined for two empty sets
    assert compat(random_state=np.random.RandomState(0)).coef.shape == (1, 4)
    assert data.load_photo(sorted(data.PHOTOS)[0], size=(8, 6)).shape == (8, 6, 3)
    curve = metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=1)
    assert curve.values.shape == (5,) and np.isfinite(curve.auc)


def test_explain_without_segments_uses_lime_quickshift():
    img = data.load_photo(sorted(data.PHOTOS)[0], size=32)
    model = LinearModel(np.random.default_rng(2).normal(size=(32, 32, 3)))
    ex = lt.explain(img, model, n_samples=50, seed=0, progress=False)
    expected = segment(img, "quickshift")
    np.testing.assert_array_equal(ex.segments, expected)


def test_explanation_repr_is_short():
    text = repr(EX)
    assert "\n" not in text and len(text) < 300
    assert "d=4" in text and "n_samples=50" in text
