"""Oracle tests: lime's ImageExplanation helpers on Explanation against the installed lime 0.2.0.1."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles import require

lime_image = require("lime.lime_image")  # skipped locally when missing, a failure in CI

import limetheory as lt
from limetheory.compat import lime_explain
from limetheory.data import load_photo
from limetheory.explanation import LabelNotExplainedError

from models import BlockSoftmax

pytestmark = pytest.mark.oracle

SETTINGS = [
    dict(positive_only=True),
    dict(positive_only=True, num_features=3, hide_rest=True),
    dict(positive_only=False, negative_only=True, num_features=4),
    dict(positive_only=False, negative_only=True, hide_rest=True, min_weight=1e-3),
    dict(positive_only=False, num_features=8),
    dict(positive_only=False, num_features=10, hide_rest=True, min_weight=2e-3),
    dict(positive_only=True, num_features=0),
    dict(positive_only=False, num_features=100),
]


@pytest.fixture(scope="module", params=["uint8", "float"])
def pair(request):
    img = load_photo("chelsea", 64)
    if request.param == "float":
        img = img.astype(np.float64) / 255.0
    segments = lt.segment(img.astype(np.float64) * (255.0 if request.param == "float" else 1.0),
                          method="quickshift", kernel_size=2)
    model = BlockSoftmax(img.shape, seed=3, scale=2.0 / (np.sqrt(48) * float(np.max(img))))
    explainer = lime_image.LimeImageExplainer(random_state=5)
    ref = explainer.explain_instance(img, model, top_labels=3, num_samples=300, batch_size=10,
                                     segmentation_fn=lambda _: segments)
    ours = lime_explain(img, model, segments=segments, top_labels=3, n_samples=300, random_state=5)
    return ref, ours


def test_local_exp_and_intercept_equal_lime(pair):
    ref, ours = pair
    ours_exp, ours_b0 = ours.local_exp, ours.lime_intercept
    assert list(ours_exp) == [int(k) for k in ref.top_labels]
    assert set(ours_b0) == set(int(k) for k in ref.intercept)
    for label, pairs in ref.local_exp.items():
        assert [j for j, _ in ours_exp[label]] == [int(j) for j, _ in pairs]
        np.testing.assert_allclose([w for _, w in ours_exp[label]], [w for _, w in pairs], rtol=0, atol=1e-8)
        assert abs(ours_b0[label] - ref.intercept[label]) <= 1e-8
    view = ours.as_lime()
    assert view.intercept == ours_b0 and view.local_exp == ours_exp
    assert view.top_labels == [int(k) for k in ref.top_labels]


@pytest.mark.parametrize("kwargs", SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_get_image_and_mask_equals_lime(pair, kwargs):
    ref, ours = pair
    for label in ref.top_labels:
        want_img, want_mask = ref.get_image_and_mask(label, **kwargs)
        for got_img, got_mask in (ours.get_image_and_mask(label, **kwargs),
                                  ours.as_lime().get_image_and_mask(int(label), **kwargs)):
            assert got_img.dtype == want_img.dtype and got_mask.dtype == want_mask.dtype
            assert np.array_equal(got_img, want_img)
            assert np.array_equal(got_mask, want_mask)


def test_lime_errors_reproduced(pair):
    ref, ours = pair
    missing = next(k for k in range(10) if k not in ref.local_exp)
    with pytest.raises(KeyError, match="Label not in explanation"):
        ref.get_image_and_mask(missing)
    with pytest.raises(KeyError, match="Label not in explanation"):
        ours.get_image_and_mask(missing)
    with pytest.raises(ValueError, match="explained labels"):  # also a ValueError, as the toolkit's
        ours.get_image_and_mask(missing)
    label = int(ref.top_labels[0])
    with pytest.raises(ValueError, match="cannot be true at the same time"):
        ref.get_image_and_mask(label, positive_only=True, negative_only=True)
    with pytest.raises(ValueError, match="cannot be true at the same time"):
        ours.get_image_and_mask(label, positive_only=True, negative_only=True)
    assert issubclass(LabelNotExplainedError, KeyError) and issubclass(LabelNotExplainedError, ValueError)


def test_argument_types_checked(pair):
    _, ours = pair
    label = int(ours.labels[0])
    with pytest.raises(TypeError, match="positive_only"):
        ours.get_image_and_mask(label, positive_only=1)
    with pytest.raises(TypeError, match="num_features"):
        ours.get_image_and_mask(label, num_features=2.0)
    with pytest.raises(ValueError, match="num_features"):
        ours.get_image_and_mask(label, num_features=-1)
    with pytest.raises(TypeError, match="label"):
        ours.get_image_and_mask(True)


def test_grayscale_explanation_needs_channels_for_signed_mask():
    img = load_photo("coffee", 32).astype(np.float64).mean(axis=2)
    seg = (np.arange(32)[:, None] // 6) * 6 + np.arange(32)[None, :] // 6  # not aligned with the model blocks
    ex = lt.explain(img, BlockSoftmax(img.shape, scale=0.001), segments=seg, n_samples=60, seed=0)
    image, mask = ex.get_image_and_mask(int(ex.labels[0]), num_features=3)
    assert image.shape == img.shape and set(np.unique(mask)) <= {0, 1}
    with pytest.raises(ValueError, match="C >= 2"):
        ex.get_image_and_mask(int(ex.labels[0]), positive_only=False)


@given(
    st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]), min_size=6, max_size=6),
    st.sampled_from([(True, False), (False, True), (False, False)]),
    st.booleans(),
    st.integers(0, 7),
    st.sampled_from([0.0, 0.5, 1.0, 1.5]),
)
def test_image_and_mask_any_weights(weights, signs, hide_rest, num_features, min_weight):
    """Ties, zeros and thresholds on the weights: lime's method on lime's object, given our local_exp."""
    import dataclasses

    img = (np.arange(4 * 6 * 3).reshape(4, 6, 3) * 3 % 251).astype(np.uint8)
    seg = np.repeat(np.arange(6)[None, :], 4, axis=0)
    base = lt.explain(img, BlockSoftmax(img.shape), segments=seg, n_samples=20, seed=0, progress=False)
    ours = dataclasses.replace(base, coef=np.array([weights]), labels=np.array([2]))
    ref = lime_image.ImageExplanation(img, seg)
    ref.local_exp = ours.local_exp
    kw = dict(positive_only=signs[0], negative_only=signs[1], hide_rest=hide_rest, num_features=num_features,
              min_weight=min_weight)
    want_img, want_mask = ref.get_image_and_mask(2, **kw)
    got_img, got_mask = ours.get_image_and_mask(2, **kw)
    assert got_img.dtype == want_img.dtype and np.array_equal(got_img, want_img)
    assert got_mask.dtype == want_mask.dtype and np.array_equal(got_mask, want_mask)
    # the order lime's local_exp promises: |weight| descending, ties by superpixel
    assert ours.local_exp[2] == sorted(enumerate(weights), key=lambda t: -abs(t[1]))


def test_the_older_import_paths_name_the_same_objects():
    from limetheory import empirical, explanation, lime_helpers

    assert lt.Explanation is empirical.Explanation is explanation.Explanation
    for name in lime_helpers.__all__:
        assert getattr(lime_helpers, name) is getattr(explanation, name)
