"""Data sets made by the project: drawn shapes with ground-truth masks, and RGB digits."""
import numpy as np
import pytest
from scipy import ndimage, stats

from limetheory.data import (
    DIGIT_CLASSES,
    SHAPE_CLASSES,
    ImageSplit,
    load_digits_rgb,
    make_shapes,
)


# --------------------------------------------------------------------------- shapes
@pytest.fixture(scope="module")
def shapes():
    return make_shapes(600, seed=11)


@pytest.fixture(scope="module")
def clean_shapes():
    """No pixel noise: the deciding object is painted in exactly one colour."""
    return make_shapes(600, seed=12, noise=0.0)


def test_shapes_types_and_ranges(shapes):
    images, labels, masks = shapes
    assert images.shape == (600, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (600,) and labels.dtype == np.int64
    assert masks.shape == (600, 64, 64) and masks.dtype == bool
    assert set(np.unique(labels)) == {0, 1, 2} == set(range(len(SHAPE_CLASSES)))
    # classes are balanced (uniform label): each count within 4 standard errors of n/3
    counts = np.bincount(labels, minlength=3)
    assert np.all(np.abs(counts - 200) < 4 * np.sqrt(600 * (1 / 3) * (2 / 3)))
    # the deciding object is never clipped by the border and has area 2 R^2, R in [8, 12.8]
    areas = masks.sum(axis=(1, 2))
    assert areas.min() >= 0.9 * 2 * 8.0**2 and areas.max() <= 1.1 * 2 * 12.8**2
    assert not masks[:, 0, :].any() and not masks[:, -1, :].any()
    assert not masks[:, :, 0].any() and not masks[:, :, -1].any()
    # one connected object per image (8-connected: a polygon's sharp vertex can rasterise to
    # a pixel that only touches the rest diagonally)
    assert all(ndimage.label(m, structure=np.ones((3, 3)))[1] == 1 for m in masks)


def test_shapes_deterministic_and_seeded():
    a = make_shapes(20, seed=3)
    b = make_shapes(20, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = make_shapes(20, seed=4)
    assert not np.array_equal(a[0], c[0])
    # image i depends on (seed, i) only: a shorter call is a prefix of a longer one
    prefix = make_shapes(7, seed=3)
    for x, y in zip(prefix, a):
        np.testing.assert_array_equal(x, y[:7])


def test_shapes_other_size():
    images, labels, masks = make_shapes(5, size=48, seed=0, max_distractors=0)
    assert images.shape == (5, 48, 48, 3) and masks.shape == (5, 48, 48)


def test_mask_is_exactly_the_object_painted_in_one_colour(clean_shapes):
    images, _, masks = clean_shapes
    for img, m in zip(images, masks):
        colour = img[m][0]
        assert np.all(img[m] == colour)
        # no pixel outside the mask has the object's colour (distractor colours are continuous)
        assert not np.any(np.all(img[~m] == colour, axis=-1))
        # the object is brighter than the background in every channel
        background = np.median(img[~m], axis=0)
        assert np.all(colour.astype(int) - background >= 140 - 102)


def _geometric_class(mask):
    """Classify a mask from its outline alone: area / (pi r_max^2), r_max the largest distance
    from the centroid to a pixel: 1 for a disc, 2/pi = 0.64 for a square, 0.41 for an
    equilateral triangle."""
    rows, cols = np.nonzero(mask)
    r2 = (rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2
    fill = mask.sum() / (np.pi * r2.max())
    return 0 if fill > 0.9 else (1 if fill > 0.59 else 2)


def test_masks_decide_labels(shapes):
    """The label is a function of the masked object's outline: a fixed geometric rule on the
    mask alone recovers every label."""
    _, labels, masks = shapes
    predicted = np.array([_geometric_class(m) for m in masks])
    np.testing.assert_array_equal(predicted, labels)


def test_outside_the_mask_is_independent_of_the_label(clean_shapes):
    """Background colour and the distractors' area are drawn independently of the class: a
    one-way ANOVA across the 3 classes finds no difference (fixed seed; a leak such as
    class-dependent placement gives p-values far below 1e-3 at this n)."""
    images, labels, masks = clean_shapes
    background = np.array([np.median(img[~m], axis=0) for img, m in zip(images, masks)])
    distractor_area = np.array([
        np.count_nonzero(np.any(img[~m] != bg.astype(np.uint8), axis=-1))
        for img, m, bg in zip(images, masks, background)
    ])
    for feature in (distractor_area, background.mean(axis=1)):
        groups = [feature[labels == k] for k in range(3)]
        assert stats.f_oneway(*groups).pvalue > 1e-3


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"n": 0}, ValueError),
        ({"n": 2.5}, TypeError),
        ({"n": 3, "size": 16}, ValueError),
        ({"n": 3, "seed": -1}, ValueError),
        ({"n": 3, "noise": -1.0}, ValueError),
        ({"n": 3, "noise": float("nan")}, ValueError),
        ({"n": 3, "max_distractors": -1}, ValueError),
    ],
)
def test_shapes_validation(kwargs, exc):
    with pytest.raises(exc, match=list(kwargs)[-1]):
        make_shapes(**kwargs)


# --------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits():
    return load_digits_rgb()


def test_digits_split(digits):
    assert isinstance(digits, ImageSplit)
    assert digits.train_images.shape == (1347, 32, 32, 3)
    assert digits.test_images.shape == (450, 32, 32, 3)
    assert digits.train_images.dtype == digits.test_images.dtype == np.uint8
    assert digits.train_labels.shape == (1347,) and digits.test_labels.shape == (450,)
    assert digits.class_names == DIGIT_CLASSES == tuple("0123456789")
    # grey: the three channels are equal; the full range is used
    for x in (digits.train_images, digits.test_images):
        assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])
        assert x.min() == 0 and x.max() == 255
    # stratified: every class has a quarter (+-1) of its images in the test set
    total = np.bincount(np.concatenate([digits.train_labels, digits.test_labels]), minlength=10)
    assert np.all(np.abs(np.bincount(digits.test_labels, minlength=10) - total / 4) <= 1)


def test_digits_deterministic_and_disjoint(digits):
    again = load_digits_rgb()
    np.testing.assert_array_equal(again.train_images, digits.train_images)
    np.testing.assert_array_equal(again.test_labels, digits.test_labels)
    other = load_digits_rgb(seed=1)
    assert not np.array_equal(other.test_labels, digits.test_labels)
    # the split is a partition of the 1797 images: at size 8 every image maps back to one
    # original, and no original is on both sides (duplicated originals aside, by index)
    from sklearn.datasets import load_digits

    raw = load_digits().images
    small = load_digits_rgb(8)
    expected = np.rint(raw * 255.0 / 16.0).astype(np.uint8)
    index = {im.tobytes(): i for i, im in enumerate(expected)}
    train_idx = {index[im[..., 0].tobytes()] for im in small.train_images}
    test_idx = {index[im[..., 0].tobytes()] for im in small.test_images}
    assert not train_idx & test_idx
    assert len(train_idx | test_idx) == len(index)


def test_digits_size():
    split = load_digits_rgb(28, test_size=0.5)
    assert split.train_images.shape[1:] == (28, 28, 3)
    assert len(split.train_labels) + len(split.test_labels) == 1797


@pytest.mark.parametrize(
    "kwargs, exc",
    [({"size": 4}, ValueError), ({"size": 32.0}, TypeError), ({"test_size": 0.0}, ValueError),
     ({"test_size": 1.5}, ValueError), ({"seed": -2}, ValueError)],
)
def test_digits_validation(kwargs, exc):
    with pytest.raises(exc, match=list(kwargs)[-1]):
        load_digits_rgb(**kwargs)


# --------------------------------------------------------------------------- image files
def test_read_image_converts_any_file(tmp_path):
    from skimage import io

    from limetheory.data import read_image

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(40, 60, 4), dtype=np.uint8)
    io.imsave(tmp_path / "a.png", rgba, check_contrast=False)
    img = read_image(tmp_path / "a.png", (20, 30))
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    gray16 = (rng.random((16, 16)) * 65535).astype(np.uint16)
    io.imsave(tmp_path / "g.png", gray16, check_contrast=False)
    g = read_image(tmp_path / "g.png", (16, 16))
    assert g.shape == (16, 16, 3) and np.array_equal(g[..., 0], g[..., 2])
    np.testing.assert_allclose(g[..., 0], gray16 * 255.0 / 65535.0, atol=0.5 + 1e-9)
    same = read_image(tmp_path / "a.png", (40, 60))
    np.testing.assert_array_equal(same, rgba[..., :3])  # no resize, alpha dropped
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgba[..., :3])  # size=None: as stored
    with pytest.raises(FileNotFoundError, match="missing.png: no such file"):
        read_image(tmp_path / "missing.png", (4, 4))
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ValueError, match="cannot read it as an image"):
        read_image(tmp_path / "notes.png")


@pytest.mark.parametrize("mode", ["CMYK", "P"])
def test_read_image_converts_other_colour_spaces_to_rgb(tmp_path, mode):
    """A CMYK JPEG (Pillow writes Adobe's inverted ink values) and a palette PNG read as the RGB original.

    Tolerance: JPEG quality 95 moves smooth photo pixels by a few levels (mean |error| about 1,
    a few pixels up to about 10 at sharp edges), so the mean must be below 2 and the correlation
    with the original above 0.999; read as raw ink values, the correlation is about -0.998.
    """
    from PIL import Image

    from limetheory.data import load_photo, read_image

    rgb = load_photo("chelsea", size=(120, 180))
    path = tmp_path / ("photo.jpg" if mode != "P" else "photo.png")
    converted = Image.fromarray(rgb).convert(mode) if mode != "P" else Image.fromarray(rgb).quantize(256)
    converted.save(path, **({"quality": 95} if mode != "P" else {}))
    assert Image.open(path).mode == mode
    img = read_image(path).astype(float)
    assert img.shape == rgb.shape
    err = np.abs(img - rgb)
    if mode == "P":  # a 256-colour palette: the error is the quantization's, not the reader's
        np.testing.assert_array_equal(img, np.asarray(converted.convert("RGB")))
    else:
        assert err.mean() < 2.0, err.mean()
    assert np.corrcoef(img.ravel(), rgb.ravel().astype(float))[0, 1] > 0.99


def test_resize_image_matches_read_image_and_validates_size():
    from limetheory.data import load_photo, resize_image

    rgb = load_photo("coffee", size=None)
    small = resize_image(rgb, (50, 70))
    assert small.shape == (50, 70, 3) and small.dtype == np.uint8
    np.testing.assert_array_equal(small, load_photo("coffee", size=(50, 70)))  # the same resampling
    assert resize_image(rgb, rgb.shape[:2]) is rgb
    with pytest.raises(ValueError, match=r"size\[0\] must be >= 1"):
        resize_image(rgb, (0, 5))


def test_bundled_photos_load_offline_at_full_size():
    """Every real photograph of PHOTOS loads from the installed wheels (no download), as 8-bit RGB;
    the grayscale ones (camera, coins, moon, ...) repeat their grey level over the three channels."""
    from limetheory.data import PHOTOS, load_photo

    grey = {"camera", "coins", "moon", "clock", "text", "brick", "grass", "gravel", "cell", "microaneurysms"}
    assert grey | {"grace_hopper", "hubble_deep_field", "retina", "immunohistochemistry", "chelsea", "china"} <= set(
        PHOTOS)
    for name in PHOTOS:
        img = load_photo(name, size=None)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 100, name
        same = (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
        assert same == (name in grey), name
    with pytest.raises(ValueError, match="name must be one of"):
        load_photo("lena")
