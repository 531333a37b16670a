"""Agreement and faithfulness metrics (docs/theory/lime_and_ig.md and docs/theory/evaluation.md)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from limetheory.metrics import (
    deletion_curve,
    faithfulness_correlation,
    insertion_curve,
    iou_topk,
    jaccard,
    jaccard_topk,
    rank_correlation,
    top_k,
)
from limetheory.segmentation import grid, replacement_image

RNG = np.random.default_rng(6)

scores_pairs = st.integers(2, 30).flatmap(
    lambda d: st.tuples(
        arrays(np.float64, d, elements=st.floats(-10, 10, allow_nan=False)),
        arrays(np.float64, d, elements=st.floats(-10, 10, allow_nan=False)),
        st.integers(1, d),
    )
)


# --------------------------------------------------------------------------- top-k, Jaccard
def test_top_k_orders_largest_first_ties_by_index_and_positive_only():
    s = np.array([0.5, 2.0, -1.0, 2.0, 0.0])
    np.testing.assert_array_equal(top_k(s, 3), [1, 3, 0])
    np.testing.assert_array_equal(top_k(s, 5, positive_only=True), [1, 3, 0])
    np.testing.assert_array_equal(top_k(-s, 2, positive_only=True), [2])


def test_top_k_tie_break_is_stable_on_arrays_numpy_sorts_unstably():
    """Ties: lower index first. On 20 elements NumPy's default (introsort) argsort orders some ties the
    other way (these arrays were found to do so), so only a stable sort passes; the reference is a
    plain sort by (-score, index)."""
    arrays = [
        [3, 2, 2, 1, 1, 0, 0, 0, 0, 3, 2, 3, 2, 2, 3, 2, 2, 2, 2, 3],
        [1, 3, 2, 0, 1, 3, 2, 0, 3, 2, 3, 0, 0, 3, 0, 2, 0, 1, 1, 1],
        [1, 0, 0, 0, 0, 2, 2, 2, 1, 2, 3, 1, 1, 3, 3, 3, 1, 2, 3, 2],
    ]
    for values in arrays:
        s = np.array(values, dtype=float)
        for k in (1, 3, 5, 8, 20):
            expected = sorted(range(20), key=lambda i: (-s[i], i))[:k]
            np.testing.assert_array_equal(top_k(s, k), expected)
            # the same order made strict (lower index higher by a hair): the same top-k set
            assert jaccard_topk(s, s - np.arange(20) * 1e-9, k) == 1.0


def test_jaccard_topk_empty_value_is_checked_and_used():
    neg = -np.arange(1.0, 5.0)
    assert jaccard_topk(neg, neg, 2, positive_only=True, empty=0.5) == 0.5  # no positive score on either side
    assert jaccard_topk(neg, neg, 2, positive_only=True, empty=1.0) == 1.0
    for bad in (1.5, -0.5, 2.0):
        with pytest.raises(ValueError, match="empty"):
            jaccard_topk(neg, neg, 2, positive_only=True, empty=bad)


def test_top_k_default_keeps_non_positive_scores():
    s = -np.arange(1.0, 6.0)
    np.testing.assert_array_equal(top_k(s, 2), [0, 1])  # positive_only is off unless asked for


def test_jaccard_topk_known_values():
    a = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    b = np.array([5.0, 0.0, 3.0, 2.0, 1.0, 4.0])
    assert jaccard_topk(a, b, 1) == 1.0
    assert jaccard_topk(a, b, 2) == pytest.approx(1 / 3)  # {0,1} vs {0,5}
    assert jaccard_topk(a, b, 3) == pytest.approx(2 / 4)  # {0,1,2} vs {0,5,2}
    assert jaccard_topk(a, b, 6) == 1.0
    assert np.isnan(jaccard_topk(-np.abs(a) - 1, -np.abs(b) - 1, 2, positive_only=True))
    assert jaccard([1, 2], [2, 3]) == pytest.approx(1 / 3)


@given(scores_pairs)
def test_jaccard_topk_properties(pair):
    a, b, k = pair
    j = jaccard_topk(a, b, k)
    assert 0.0 <= j <= 1.0
    assert j == jaccard_topk(b, a, k)
    assert jaccard_topk(a, a, k) == 1.0
    if k == a.shape[0]:
        assert j == 1.0


@pytest.mark.parametrize(
    "a, b, k, exc, word",
    [
        (np.ones(3), np.ones(4), 1, ValueError, "same length"),
        (np.ones(3), np.ones(3), 0, ValueError, "k"),
        (np.ones(3), np.ones(3), 4, ValueError, "k"),
        (np.array([1.0, np.nan]), np.ones(2), 1, ValueError, "a"),
        (np.ones((2, 2)), np.ones((2, 2)), 1, ValueError, "1-D"),
        (np.array(["x", "y"]), np.ones(2), 1, TypeError, "a"),
    ],
)
def test_jaccard_validation(a, b, k, exc, word):
    with pytest.raises(exc, match=word):
        jaccard_topk(a, b, k)


# --------------------------------------------------------------------------- rank correlation
@given(scores_pairs)
def test_rank_correlation_matches_scipy_and_is_bounded(pair):
    a, b, _ = pair
    for method, ref in (("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        r = rank_correlation(a, b, method)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            assert np.isnan(r)
        else:
            assert -1.0 - 1e-12 <= r <= 1.0 + 1e-12
            assert r == pytest.approx(ref(a, b).statistic, abs=1e-12)


def test_rank_correlation_invariant_to_monotone_maps():
    a = RNG.normal(size=20)
    assert rank_correlation(a, np.exp(3 * a)) == pytest.approx(1.0)
    assert rank_correlation(a, -(a**3), "kendall") == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="method"):
        rank_correlation(a, a, "pearson")


# --------------------------------------------------------------------------- IoU
def test_iou_topk_with_ground_truth_mask():
    seg = grid((8, 8), 2, 2)  # four 4x4 quadrants: 0 1 / 2 3
    mask = np.zeros((8, 8), dtype=bool)
    mask[:4, :] = True  # the top half = superpixels 0 and 1
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    assert iou_topk(scores, seg, mask, 2) == 1.0
    assert iou_topk(scores, seg, mask, 1) == pytest.approx(0.5)
    assert iou_topk(scores, seg, mask, 3) == pytest.approx(32 / 48)
    assert iou_topk(np.array([0.0, 1.0, 3.0, 2.0]), seg, mask, 2) == 0.0
    with pytest.raises(ValueError, match="superpixels"):
        iou_topk(np.ones(3), seg, mask, 1)
    with pytest.raises(ValueError, match="mask"):
        iou_topk(scores, seg, np.ones(8, dtype=bool), 1)


# --------------------------------------------------------------------------- faithfulness
def _linear_setup(hide_color=None):
    img = RNG.uniform(size=(12, 12, 3))
    seg = grid(img.shape, 3, 3)
    lam = RNG.normal(size=img.shape)
    xbar = replacement_image(img, seg, hide_color)
    beta = np.bincount(seg.ravel(), weights=(lam * (img - xbar)).sum(axis=2).ravel(), minlength=9)

    def predict(images):  # (m, H, W, C) -> (m, 2): the linear score and a constant class
        y = np.tensordot(images, lam, axes=3)
        return np.stack([y, np.ones_like(y)], axis=1)

    return img, seg, lam, xbar, beta, predict


def test_deletion_and_insertion_curves_of_a_linear_model():
    """f(x(z)) = f(xi_bar) + beta^T z (docs/theory/closed_forms.md, *Linear models*): the curves are
    partial sums of beta."""
    for hide_color in (None, 0.0):
        img, seg, lam, xbar, beta, predict = _linear_setup(hide_color)
        f_img, f_bar = np.sum(lam * img), np.sum(lam * xbar)
        order = np.argsort(-beta, kind="stable")
        dele = deletion_curve(img, predict, seg, beta, target=0, hide_color=hide_color)
        ins = insertion_curve(img, predict, seg, beta, target=0, hide_color=hide_color)
        np.testing.assert_array_equal(dele.order, order)
        np.testing.assert_allclose(dele.values, f_img - np.concatenate([[0], np.cumsum(beta[order])]), atol=1e-10)
        np.testing.assert_allclose(ins.values, f_bar + np.concatenate([[0], np.cumsum(beta[order])]), atol=1e-10)
        np.testing.assert_allclose(dele.fractions, np.arange(10) / 9)
        auc = np.trapezoid(dele.values, dele.fractions)
        assert dele.auc == pytest.approx(auc, abs=1e-12)
        # the faithful ordering deletes best (lowest area) and inserts best (highest area)
        for other in (RNG.normal(size=9), -beta):
            assert dele.auc <= deletion_curve(img, predict, seg, other, target=0, hide_color=hide_color).auc + 1e-12
            assert ins.auc >= insertion_curve(img, predict, seg, other, target=0, hide_color=hide_color).auc - 1e-12
        df = dele.to_frame()
        assert len(df) == 10 and df["superpixel"].iloc[0] == -1 and df["superpixel"].iloc[1] == order[0]


def test_faithfulness_correlation_of_linear_model():
    img, seg, lam, xbar, beta, predict = _linear_setup()
    # removing superpixel j drops f by exactly beta_j
    assert faithfulness_correlation(img, predict, seg, beta, target=0) == pytest.approx(1.0, abs=1e-12)
    assert faithfulness_correlation(img, predict, seg, -beta, target=0) == pytest.approx(-1.0, abs=1e-12)
    assert np.isnan(faithfulness_correlation(img, predict, seg, beta, target=1))  # constant class


def test_curves_validation():
    img, seg, lam, xbar, beta, predict = _linear_setup()
    with pytest.raises(ValueError, match="target"):
        deletion_curve(img, predict, seg, beta)
    with pytest.raises(ValueError, match="superpixels"):
        insertion_curve(img, predict, seg, beta[:5], target=0)
    one = lambda images: predict(images)[:, 0]
    assert deletion_curve(img, one, seg, beta).values.shape == (10,)
