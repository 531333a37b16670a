"""Oracle tests: limetheory.compat.lime_explain against the installed lime 0.2.0.1 package."""
import zlib

import numpy as np
import pytest
from oracles import require

lime_image = require("lime.lime_image")

import limetheory as lt
from limetheory.compat import lime_explain
from limetheory.data import load_photo

from models import BlockSoftmax

pytestmark = pytest.mark.oracle


def _lime_reference(image, predict, segments, **kw):
    explainer = lime_image.LimeImageExplainer(random_state=kw.pop("random_state"))
    return explainer.explain_instance(image, predict, segmentation_fn=lambda _: segments, batch_size=10, **kw)


def _dense(local_exp, d):
    coef = np.zeros(d)
    for feature, weight in local_exp:
        coef[feature] = weight
    return coef


CASES = [
    # (image name, colour transform, hide_color, label request)
    ("chelsea", "uint8", None, {"top_labels": 3}),
    ("astronaut", "float255", 0, {"top_labels": 5}),
    ("coffee", "gray_float", None, {"labels": (0, 4), "top_labels": None}),
    ("rocket", "unit", (0.2, 0.5, 0.9), {"labels": (2,), "top_labels": None}),
    ("china", "uint8", 128, {"top_labels": 1}),
]


def _unsaturated_model(rgb, seed):
    """A BlockSoftmax whose logits are O(1) on this image's pixel range.

    A saturated softmax (top class 1 - 1e-15 on every sample) leaves a response with almost no
    variance, and R^2 = 1 - SS_res / SS_tot is then rounding noise in both implementations.
    """
    channels = rgb.shape[2] if rgb.ndim == 3 else 1
    scale = 2.0 / (np.sqrt(16 * channels) * float(np.max(rgb)))
    return BlockSoftmax(rgb.shape, seed=seed, scale=scale)


def _image(name, kind):
    img = load_photo(name, 64)
    if kind == "uint8":
        return img
    if kind == "float255":
        return img.astype(np.float64)
    if kind == "gray_float":
        return img.astype(np.float64).mean(axis=2)
    return img.astype(np.float64) / 255.0


@pytest.mark.parametrize("name, kind, hide, request_labels", CASES)
def test_bit_for_bit_with_lime(name, kind, hide, request_labels):
    img = _image(name, kind)
    rgb = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img
    segments = lt.segment(rgb * (255.0 if kind == "unit" else 1.0), method="quickshift", kernel_size=2)
    d = segments.max() + 1
    assert d >= 10, d
    model = _unsaturated_model(rgb, seed=zlib.crc32(name.encode()) % 100)
    ref = _lime_reference(img, model, segments, hide_color=hide, num_samples=400, random_state=11, **request_labels)
    ours = lime_explain(img, model, segments=segments, hide_color=hide, n_samples=400, random_state=11, **request_labels)
    if request_labels.get("top_labels"):
        assert [int(k) for k in ref.top_labels] == ours.labels.tolist()
    for row, label in enumerate(ours.labels):
        np.testing.assert_allclose(ours.coef[row], _dense(ref.local_exp[label], d), rtol=0, atol=1e-8)
        assert abs(ours.intercept[row] - ref.intercept[label]) <= 1e-8
    # lime keeps the score and local prediction of the label it fitted last: with top_labels it
    # fits them in increasing score order, so the last one is the top class (our row 0).
    last = 0 if request_labels.get("top_labels") else len(ours.labels) - 1
    assert abs(ours.score[last] - ref.score) <= 1e-8
    assert abs(ours.local_pred[last] - float(np.ravel(ref.local_pred)[0])) <= 1e-8


def test_lime_default_top_labels_with_fewer_classes_explains_them_all():
    """lime's default top_labels=5 on a 3-class model: lime explains the 3 classes (np.argsort(...)[-5:]),
    and so does lime_explain, with the same coefficients."""
    img = load_photo("chelsea", 40)
    segments = lt.segment(img.astype(float), method="quickshift", kernel_size=2)
    d = segments.max() + 1
    model = BlockSoftmax(img.shape, n_classes=3, scale=2.0 / (np.sqrt(48) * 255))
    ref = _lime_reference(img, model, segments, num_samples=200, random_state=5)  # lime's defaults: top_labels=5
    ours = lime_explain(img, model, segments=segments, n_samples=200, random_state=5)
    assert [int(k) for k in ref.top_labels] == ours.labels.tolist() and sorted(ours.labels.tolist()) == [0, 1, 2]
    for row, label in enumerate(ours.labels):
        np.testing.assert_allclose(ours.coef[row], _dense(ref.local_exp[label], d), rtol=0, atol=1e-8)


def test_same_random_stream_different_seeds_differ():
    img = load_photo("chelsea", 48).astype(float)
    seg = lt.segment(img)
    model = BlockSoftmax(img.shape)
    a = lime_explain(img, model, segments=seg, n_samples=200, random_state=1, top_labels=1, keep_samples=True)
    b = lime_explain(img, model, segments=seg, n_samples=200, random_state=2, top_labels=1, keep_samples=True)
    rs = np.random.RandomState(1)
    rs.randint(0, high=1000)
    expected = rs.randint(0, 2, 200 * a.n_superpixels).reshape(200, -1)
    expected[0] = 1
    assert np.array_equal(a.samples, expected)
    assert not np.array_equal(a.samples, b.samples)


def test_limes_random_seed_is_accepted_under_its_name():
    img = load_photo("chelsea", 48).astype(float)
    seg = lt.segment(img, kernel_size=2)
    model = _unsaturated_model(img, seed=3)
    ref = _lime_reference(img, model, seg, num_samples=300, random_state=5, random_seed=7, top_labels=1)
    ours = lime_explain(img, model, segments=seg, n_samples=300, random_state=5, random_seed=7, top_labels=1)
    label = int(ref.top_labels[0])
    np.testing.assert_allclose(ours.coef[0], _dense(ref.local_exp[label], seg.max() + 1), rtol=0, atol=1e-8)
    shifted = lime_explain(img, model, segments=seg, n_samples=300, random_state=5, top_labels=1)
    assert np.abs(shifted.coef[0] - ours.coef[0]).max() > 1e-6  # without it: lime's stream one draw later
    with pytest.raises(ValueError, match="random_seed and segmentation_seed are one argument"):
        lime_explain(img, model, segments=seg, random_state=5, random_seed=7, segmentation_seed=8)


def test_uint8_replacement_truncates_like_lime():
    from limetheory.compat import lime_replacement_image

    img = load_photo("coffee", 40)
    seg = lt.segment(img.astype(float))
    ours = lime_replacement_image(img, seg)
    ref = img.copy()
    for x in np.unique(seg):
        ref[seg == x] = tuple(np.mean(img[seg == x][:, c]) for c in range(3))
    assert ours.dtype == np.uint8 and np.array_equal(ours, ref)


def test_compat_validates():
    img = load_photo("chelsea", 32)
    seg = lt.segment(img.astype(float))
    with pytest.raises(TypeError, match="random_state"):
        lime_explain(img, BlockSoftmax(img.shape), segments=seg, random_state="seven")
    with pytest.raises(ValueError, match="labels"):
        lime_explain(img, BlockSoftmax(img.shape), segments=seg, labels=(9,), top_labels=None, n_samples=20)
