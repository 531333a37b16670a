"""Images that ship with installed packages, image files, and data sets made by the project.

Nothing is downloaded: the photos and the digits come from the scikit-image, scikit-learn
and matplotlib wheels; the shapes are drawn here with :mod:`skimage.draw`. :func:`read_image`
reads a user's image file (PNG, JPEG, TIFF, ...) as RGB.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage.transform import resize

from .validation import check_choice, check_int, check_memory, check_real

__all__ = [
    "PHOTOS",
    "SHAPE_CLASSES",
    "DIGIT_CLASSES",
    "ImageSplit",
    "load_photo",
    "load_photos",
    "make_shapes",
    "load_digits_rgb",
    "read_image",
    "resize_image",
]

#: Real photographs bundled with installed packages: name -> (package, loader or file name).
#: Every one that the installed scikit-image, scikit-learn and matplotlib ship in their wheels
#: (checked offline): scikit-image's loaders that need a download (``eagle``, ``lily``, ``skin``,
#: ...) and its synthetic or drawn images (``colorwheel``, ``logo``, ``horse``, ``checkerboard``,
#: the phantom, ``binary_blobs``) are left out, as are scikit-image's ``cat`` (the same photo as
#: ``chelsea``), the scanned ``page``, the 25 x 25 face crops, and matplotlib's drawn
#: ``Minduka_Present_Blue_Pack.png``. The grayscale photographs (``camera`` to ``microaneurysms``)
#: are repeated over the three channels by :func:`load_photo`.
PHOTOS = {
    "chelsea": ("skimage", "chelsea"),
    "coffee": ("skimage", "coffee"),
    "astronaut": ("skimage", "astronaut"),
    "rocket": ("skimage", "rocket"),
    "motorcycle": ("skimage", "stereo_motorcycle"),
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
    "grace_hopper": ("matplotlib", "grace_hopper.jpg"),
    "hubble_deep_field": ("skimage", "hubble_deep_field"),
    "immunohistochemistry": ("skimage", "immunohistochemistry"),
    "retina": ("skimage", "retina"),
    "camera": ("skimage", "camera"),
    "coins": ("skimage", "coins"),
    "moon": ("skimage", "moon"),
    "clock": ("skimage", "clock"),
    "text": ("skimage", "text"),
    "brick": ("skimage", "brick"),
    "grass": ("skimage", "grass"),
    "gravel": ("skimage", "gravel"),
    "cell": ("skimage", "cell"),
    "microaneurysms": ("skimage", "microaneurysms"),
}


def _raw_photo(name: str) -> np.ndarray:
    package, key = PHOTOS[name]
    if package == "skimage":
        from skimage import data

        img = getattr(data, key)()
        if key == "stereo_motorcycle":  # stereo pair loader: (left, right, disparity)
            img = img[0]
        return img
    if package == "matplotlib":
        from matplotlib import cbook
        from matplotlib.image import imread

        return imread(cbook.get_sample_data(key, asfileobj=False))
    from sklearn.datasets import load_sample_image

    return load_sample_image(key)


#: Largest side load_photo resizes to (a 8192 x 8192 RGB float64 resize needs ~1.6 GB).
MAX_PHOTO_SIDE = 8192


def load_photo(name: str, size: int | tuple | None = 224) -> np.ndarray:
    """A bundled RGB photo as a uint8 array (H, W, 3), resized to ``size`` (None: original).

    ``size`` is an int (square) or (H, W), each side in [1, ``MAX_PHOTO_SIDE``]. Resizing uses
    anti-aliased bilinear interpolation and rounds back to uint8, so the result is a genuine 8-bit image.
    """
    check_choice(name, "name", sorted(PHOTOS))
    img = _raw_photo(name)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[:, :, :3]
    if size is None:
        return np.ascontiguousarray(img, dtype=np.uint8)
    sides = (size, size) if isinstance(size, numbers.Integral) else tuple(size) if isinstance(size, (tuple, list)) else None
    if sides is None or len(sides) != 2:
        raise TypeError(f"size must be an int, a pair (H, W) or None, got {size!r}")
    shape = tuple(check_int(side, "size", 1, MAX_PHOTO_SIDE) for side in sides)
    out = resize(img, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_photos(size: int | tuple | None = 224) -> dict:
    """Every bundled photo: {name: uint8 (H, W, 3)}."""
    return {name: load_photo(name, size) for name in PHOTOS}


# --------------------------------------------------------------------------- image files
#: Pillow modes that are not RGB, grey or RGBA samples; Pillow converts them to RGB with the
#: file's own conventions (an Adobe CMYK JPEG stores inverted ink values, a palette image indices).
_CONVERT_MODES = {"CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "P": "RGBA", "PA": "RGBA"}


def _read_pixels(path: Path) -> np.ndarray:
    """The pixel array of an image file: through Pillow where it must convert the colour space,
    through :func:`skimage.io.imread` otherwise (any format its plugins read)."""
    from PIL import Image, UnidentifiedImageError
    from skimage import io

    try:
        with Image.open(path) as im:
            if im.mode in _CONVERT_MODES:
                return np.asarray(im.convert(_CONVERT_MODES[im.mode]))
    except (UnidentifiedImageError, OSError):
        pass  # not a Pillow format: skimage's plugins may still read it
    with warnings.catch_warnings():  # imageio's plugin probing warns about its own deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.asarray(io.imread(str(path)))


def resize_image(image, size) -> np.ndarray:
    """A uint8 RGB image resized to ``size`` = (H, W): anti-aliased bilinear, rounded to uint8.

    The aspect ratio is not kept (as :func:`load_photo`); an image already of that size is
    returned unchanged.
    """
    shape = (check_int(size[0], "size[0]", 1), check_int(size[1], "size[1]", 1))
    arr = np.asarray(image)
    if arr.shape[:2] == shape:
        return arr
    out = resize(arr.astype(np.float64), shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def read_image(path, size=None) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3), resized to ``size`` = (H, W) unless None.

    Grayscale is repeated over three channels, an alpha channel dropped, the first frame of an
    animation kept; CMYK, YCbCr, Lab and palette images are converted to RGB by Pillow; uint16
    is scaled by 255/65535, floats in [0, 1] by 255 (other floats clipped to [0, 255]).
    Resizing: :func:`resize_image` of the pixels rounded to uint8.

    Raises
    ------
    FileNotFoundError : no such file;  ValueError : not an image that can be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        img = _read_pixels(path)
    except Exception as exc:  # skimage raises many kinds, depending on the plugin
        raise ValueError(f"{path}: cannot read it as an image ({type(exc).__name__}: {exc})") from exc
    if img.ndim == 4:  # animation: first frame
        img = img[0]
    if img.ndim == 3 and img.shape[2] in (1, 2):  # gray (+ alpha)
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[2] < 3 or img.shape[0] < 2 or img.shape[1] < 2:
        raise ValueError(f"{path}: expected a 2-D grayscale or RGB(A) image, got an array of shape {img.shape}")
    img = img[:, :, :3]
    if img.dtype == np.uint8:
        arr = img.astype(np.float64)
    elif img.dtype == np.uint16:
        arr = img.astype(np.float64) * (255.0 / 65535.0)
    elif img.dtype == bool:
        arr = img.astype(np.float64) * 255.0
    elif img.dtype.kind in "iuf":
        arr = img.astype(np.float64)
        if not np.isfinite(arr).all():  # NaN is no colour: refused, not read as black
            n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{path}: {n_bad} NaN or infinite pixel values")
        if arr.max() <= 1.0:
            arr = arr * 255.0
    else:
        raise ValueError(f"{path}: unsupported pixel type {img.dtype}")
    pixels = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return pixels if size is None else resize_image(pixels, size)


# --------------------------------------------------------------------------- drawn shapes
#: Class names of :func:`make_shapes`, in label order.
SHAPE_CLASSES = ("circle", "square", "triangle")

# Every deciding object has the same area 2 R^2 for a scale R, whatever its kind, so the
# amount of colour says nothing about the class; only the outline does:
#   circle   radius          sqrt(2 / pi) R       (area pi r^2 = 2 R^2)
#   square   circumradius    R                    (side sqrt(2) R, area 2 R^2)
#   triangle circumradius    sqrt(2 / A3) R       (equilateral, area A3 r^2 = 2 R^2)
_A3 = 3.0 * np.sqrt(3.0) / 4.0
_CIRCUM = {0: np.sqrt(2.0 / np.pi), 1: 1.0, 2: np.sqrt(2.0 / _A3)}
_BOUND = max(_CIRCUM.values())  # bounding radius / R, the same for every class
_MIN_CONTRAST = 110.0  # Euclidean RGB distance between an object's colour and the background


def _regular_polygon(center, radius, n_vertices, angle, shape):
    from skimage.draw import polygon

    t = angle + 2.0 * np.pi * np.arange(n_vertices) / n_vertices
    rows = center[0] + radius * np.sin(t)
    cols = center[1] + radius * np.cos(t)
    mask = np.zeros(shape, dtype=bool)
    mask[polygon(rows, cols, shape)] = True
    return mask


def _shape_mask(kind: int, center, scale: float, angle: float, shape) -> np.ndarray:
    from skimage.draw import disk

    if kind == 0:
        mask = np.zeros(shape, dtype=bool)
        mask[disk(center, _CIRCUM[0] * scale, shape=shape)] = True
        return mask
    return _regular_polygon(center, _CIRCUM[kind] * scale, 4 if kind == 1 else 3, angle, shape)


def _cross_mask(center, half_length: float, thickness: float, angle: float, shape) -> np.ndarray:
    """A '+' of two crossing bars (a distractor: never one of the classes)."""
    from skimage.draw import polygon

    mask = np.zeros(shape, dtype=bool)
    for a in (angle, angle + np.pi / 2):
        u = np.array([np.sin(a), np.cos(a)])  # along the bar (row, col)
        v = np.array([np.cos(a), -np.sin(a)])  # across the bar
        corners = [np.asarray(center) + su * half_length * u + sv * thickness / 2 * v
                   for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        rows, cols = np.array(corners).T
        mask[polygon(rows, cols, shape)] = True
    return mask


def _bright_colour(rng, background, min_contrast=_MIN_CONTRAST):
    """An object colour, every channel in [140, 255], at least ``min_contrast`` from ``background``."""
    for _ in range(100):
        colour = 255.0 - 0.45 * rng.uniform(0.0, 255.0, size=3)
        if np.linalg.norm(colour - background) >= min_contrast:
            return colour
    return 255.0 - background  # pragma: no cover - practically unreachable


def _draw_one(rng, size: int, max_distractors: int, noise: float):
    shape = (size, size)
    background = 0.4 * rng.uniform(0.0, 255.0, size=3)  # dark: every channel in [0, 102]
    label = int(rng.integers(len(SHAPE_CLASSES)))
    # the deciding object: its placement uses the class-independent bounding radius only
    scale = rng.uniform(0.125, 0.2) * size
    bound = _BOUND * scale
    center = rng.uniform(bound + 1.0, size - bound - 2.0, size=2)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    colour = _bright_colour(rng, background)
    placed = [(center, bound)]
    distractors = []
    for _ in range(int(rng.integers(0, max_distractors + 1))):
        half = rng.uniform(0.09, 0.16) * size
        thick = rng.uniform(0.03, 0.05) * size
        reach = float(np.hypot(half, thick / 2.0))  # distance from the centre to a bar's corner
        for _try in range(30):
            c = rng.uniform(half + 1.0, size - half - 2.0, size=2)
            if all(np.linalg.norm(c - pc) >= reach + pr + 2.0 for pc, pr in placed):
                break
        else:
            continue
        placed.append((c, reach))
        distractors.append((c, half, thick, rng.uniform(0.0, np.pi / 2), _bright_colour(rng, background)))
    image = np.empty(shape + (3,), dtype=np.float64)
    image[...] = background
    for c, half, thick, a, col in distractors:
        image[_cross_mask(c, half, thick, a, shape)] = col
    mask = _shape_mask(label, center, scale, angle, shape)
    image[mask] = colour
    if noise > 0:
        image += rng.normal(0.0, noise, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label, mask


def make_shapes(n: int, size: int = 64, seed: int = 0, *, max_distractors: int = 3,
                noise: float = 8.0):
    """Images of one drawn shape among distractors; the shape's kind is the class.

    Each image has a uniform dark background of a random colour (every channel uniform on
    [0, 102]), one *deciding object* (a circle, a square or an equilateral triangle, class
    ``SHAPE_CLASSES[label]``) of random bright colour (every channel uniform on [140, 255]),
    scale, position and rotation, 0 to ``max_distractors`` distractor crosses ('+') of random
    bright colours that never overlap it, and i.i.d. Gaussian pixel noise of standard deviation
    ``noise``. Objects are always brighter than the background: with both polarities a small
    CNN needs far more training to reach high accuracy. The class depends on the masked object
    only:

    - the background, the distractors and the colours are drawn independently of the label;
    - every object kind has the same area ``2 R^2`` for its scale ``R ~ U(0.125, 0.2) * size``
      (circle radius ``sqrt(2/pi) R``, square circumradius ``R``, triangle circumradius
      ``sqrt(8 / (3 sqrt 3)) R``), so the amount of colour carries no class information;
    - objects are placed by their class-independent bounding radius ``1.24 R``, so where the
      distractors go does not depend on the class either;
    - the object's colour is at least 110 (Euclidean, RGB) away from the background.

    Image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so
    ``make_shapes(k, seed=s)`` is the first ``k`` images of ``make_shapes(n, seed=s)`` for
    ``k <= n``, and different seeds give independent data sets.

    Parameters
    ----------
    n : int
        Number of images (>= 1).
    size : int, default 64
        Height and width in pixels (>= 32). 64 gives about 10 to 40 quickshift superpixels with
        lime's defaults and trains a small CNN in a few minutes on a CPU.
    seed : int, default 0
        Non-negative seed; same seed, same bits.
    max_distractors : int, default 3
        Largest number of distractor crosses (the number is uniform on 0..max_distractors;
        a cross that cannot be placed without overlap after 30 tries is dropped).
    noise : float, default 8.0
        Standard deviation of the Gaussian noise added to every pixel (in [0, 255] units)
        before rounding and clipping to uint8.

    Returns
    -------
    images : ndarray of uint8, shape (n, size, size, 3)
        RGB images with values in [0, 255].
    labels : ndarray of int64, shape (n,)
        Class index into :data:`SHAPE_CLASSES`.
    masks : ndarray of bool, shape (n, size, size)
        Pixels of the deciding object (exactly the pixels painted in its colour).
    """
    n = check_int(n, "n", 1)
    size = check_int(size, "size", 32)
    seed = check_int(seed, "seed", 0, 2**64 - 1)
    max_distractors = check_int(max_distractors, "max_distractors", 0)
    noise = check_real(noise, "noise", low=0)
    check_memory(n * size * size * 4, f"make_shapes(n={n}, size={size}): n images of size x size pixels")
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    labels = np.empty(n, dtype=np.int64)
    masks = np.empty((n, size, size), dtype=bool)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        images[i], labels[i], masks[i] = _draw_one(rng, size, max_distractors, float(noise))
    return images, labels, masks


# --------------------------------------------------------------------------- digits
#: Class names of :func:`load_digits_rgb`, in label order.
DIGIT_CLASSES = tuple(str(k) for k in range(10))


@dataclass(frozen=True)
class ImageSplit:
    """A train/test split of RGB uint8 images (N, H, W, 3) with integer labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple


def load_digits_rgb(size: int = 32, *, test_size: float = 0.25, seed: int = 0) -> ImageSplit:
    """scikit-learn's handwritten digits (1797 images, 8 x 8, values 0..16) as RGB uint8 images.

    Every image ``g`` is scaled to ``255 g / 16``, upscaled to ``size x size`` with bilinear
    interpolation (``skimage.transform.resize``, ``order=1``, no anti-aliasing since it only
    enlarges), rounded to uint8 and repeated over the three channels (grey digits, white on
    black). The split is stratified by class and fixed by ``seed``
    (``sklearn.model_selection.train_test_split``), so it is the same on every call.

    Parameters
    ----------
    size : int, default 32
        Output height and width (>= 8).
    test_size : float, default 0.25
        Fraction of the images held out for testing, in (0, 1) (0.25 -> 450 test images).
    seed : int, default 0
        Non-negative seed of the split.

    Returns
    -------
    ImageSplit
        ``train_images``, ``test_images``: uint8 (N, size, size, 3); ``train_labels``,
        ``test_labels``: int64 (N,); ``class_names``: ``("0", ..., "9")``.
    """
    size = check_int(size, "size", 8)
    seed = check_int(seed, "seed", 0, 2**64 - 1)
    test_size = check_real(test_size, "test_size", low=0, high=1, low_open=True, high_open=True)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    grey = digits.images.astype(np.float64) * (255.0 / 16.0)  # (1797, 8, 8)
    if size != 8:
        grey = resize(grey, (grey.shape[0], size, size), order=1, anti_aliasing=False,
                      preserve_range=True)
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    labels = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(rgb, labels, test_size=float(test_size),
                                              random_state=seed, stratify=labels)
    return ImageSplit(np.ascontiguousarray(x_tr), y_tr, np.ascontiguousarray(x_te), y_te,
                      DIGIT_CLASSES)
