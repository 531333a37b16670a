import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import limetheory as lt
from limetheory.data import PHOTOS, load_photo
from limetheory.segmentation import grid, relabel, superpixel_means


@pytest.mark.parametrize("method", ["quickshift", "slic", "felzenszwalb", "grid"])
def test_methods_give_contiguous_labels(method):
    img = load_photo("chelsea", 64)
    seg = lt.segment(img, method=method)
    assert seg.shape == img.shape[:2]
    assert np.array_equal(np.unique(seg), np.arange(seg.max() + 1))
    assert seg.max() + 1 >= 2


def test_quickshift_defaults_are_limes():
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    img = load_photo("astronaut", 96)
    # lime passes random_seed, which scikit-image >= 0.25 no longer takes: lime's wrapper drops
    # it, so lime's default segmentation is quickshift with scikit-image's default rng.
    theirs = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=3)(img)
    assert np.array_equal(lt.segment(img), relabel(theirs))
    assert lt.segment(img, random_seed=5).shape == img.shape[:2]


def test_grayscale_and_slic_start_label_relabelled():
    img = load_photo("coffee", 48)[:, :, 0]
    seg = lt.segment(img, method="slic", n_segments=20, start_label=1)
    assert seg.min() == 0 and np.array_equal(np.unique(seg), np.arange(seg.max() + 1))
    assert lt.segment(img).shape == img.shape


def test_grid_layout():
    seg = grid((10, 12), 2, 3)
    assert seg.max() == 5
    assert np.all(seg[:5, :4] == 0) and np.all(seg[5:, 8:] == 5)
    with pytest.raises(ValueError, match="n_rows"):
        grid((10, 12), 0)


@given(
    arrays(np.int64, (6, 7), elements=st.integers(-5, 50)),
)
def test_relabel_is_order_preserving_bijection(labels):
    out = relabel(labels)
    uniq = np.unique(labels)
    assert np.array_equal(np.unique(out), np.arange(uniq.size))
    assert np.array_equal(uniq[out], labels)


def test_replacement_mean_and_hide_color():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (9, 8, 3))
    seg = grid(img.shape, 3, 2)
    rep = lt.replacement_image(img, seg)
    for j in range(seg.max() + 1):
        np.testing.assert_allclose(rep[seg == j], np.broadcast_to(img[seg == j].mean(0), rep[seg == j].shape))
    np.testing.assert_allclose(superpixel_means(img, seg)[seg], rep)
    assert np.all(lt.replacement_image(img, seg, hide_color=7) == 7)
    per_channel = lt.replacement_image(img, seg, hide_color=[1, 2, 3])
    assert np.all(per_channel == np.array([1.0, 2.0, 3.0]))
    gray = lt.replacement_image(img[:, :, 0], seg)
    assert gray.shape == (9, 8)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 3, 3, 1)), "2-D"),
        (np.zeros(5), "2-D"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), np.inf), "NaN or infinite"),
        (np.array([["a"]]), "real numbers"),
    ],
)
def test_bad_images(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        lt.segment(bad)


def test_bad_segments_and_hide_color():
    img = np.zeros((4, 4, 3))
    with pytest.raises(ValueError, match="segments must have"):
        lt.replacement_image(img, np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="at least 2 superpixels"):
        lt.replacement_image(img, np.zeros((4, 4), int))
    with pytest.raises(TypeError, match="segments must be an integer"):
        lt.replacement_image(img, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="hide_color"):
        lt.replacement_image(img, grid((4, 4), 2), hide_color=[1, 2])
    with pytest.raises(ValueError, match="method"):
        lt.segment(img, method="watershed")


def test_every_bundled_photo_loads():
    for name in PHOTOS:
        img = load_photo(name, 32)
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
