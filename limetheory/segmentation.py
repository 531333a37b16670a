"""Superpixels and LIME's replacement image.

Stage 1 of the data flow (docs/theory/lime_algorithm.md, steps 1-2)::

    image --segment--> superpixels J_1..J_d --replacement--> xi_bar

Every segmentation returned here has contiguous labels ``0..d-1`` (lime silently
mis-handles anything else, e.g. SLIC labels that start at 1).
"""
from __future__ import annotations


import numpy as np
from skimage.color import gray2rgb
from skimage.segmentation import felzenszwalb, quickshift, slic

from .validation import check_choice, check_int

__all__ = [
    "METHODS",
    "QUICKSHIFT_DEFAULTS",
    "as_float_image",
    "check_image",
    "check_int",
    "check_segments",
    "grid",
    "n_superpixels",
    "relabel",
    "replacement_image",
    "segment",
    "superpixel_contrast",
    "superpixel_means",
]

#: lime 0.2.0.1's default segmentation: quickshift(kernel_size=4, max_dist=200, ratio=0.2).
QUICKSHIFT_DEFAULTS = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}


# --------------------------------------------------------------------------- validation
def check_image(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as an array after checking it is a finite 2-D or 3-D image.

    Raises
    ------
    TypeError
        If ``image`` is not array-like of real numbers, or is int8 (whose values cannot be the pixel
        values 0..255 of an 8-bit image; wider integer types are taken as they are).
    ValueError
        If it is not (H, W) or (H, W, C), is empty, or holds NaN / infinite values.
    """
    try:
        arr = np.asarray(image)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be an array-like image, got {type(image).__name__}") from exc
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":  # not objects, strings, dates or time deltas (NumPy counts those as ints)
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype == np.int8:  # 8-bit pixels 128..255 wrap to negatives in int8: refused, not guessed
        raise TypeError(f"{name} has dtype int8, which cannot hold 8-bit pixel values 0..255: use uint8 or a float dtype")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (H, W) or 3-D (H, W, C), got shape {arr.shape}")
    if arr.size == 0 or (arr.ndim == 3 and arr.shape[2] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} holds {n_bad} NaN or infinite pixel values")
    return arr


def check_segments(segments, image_shape, name: str = "segments") -> np.ndarray:
    """Check a segmentation against an image of shape ``image_shape``; return it relabelled.

    The segmentation must be an integer (H, W) array with the image's first two dimensions
    and at least two distinct labels. Labels that are not contiguous ``0..d-1`` are relabelled
    (order preserved), so the returned array always has labels ``0..d-1``.
    """
    seg = np.asarray(segments)
    if not np.issubdtype(seg.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of superpixel labels, got dtype {seg.dtype}")
    if seg.shape != tuple(image_shape[:2]):
        raise ValueError(
            f"{name} must have the image's height and width {tuple(image_shape[:2])}, got shape {seg.shape}"
        )
    seg = relabel(seg)
    if n_superpixels(seg) < 2:
        raise ValueError(f"{name} must contain at least 2 superpixels, got {n_superpixels(seg)}")
    return seg


# --------------------------------------------------------------------------- labels
def relabel(segments: np.ndarray) -> np.ndarray:
    """Map the labels of ``segments`` onto ``0..d-1`` keeping their order (int64 array)."""
    seg = np.asarray(segments)
    lo, hi = int(seg.min()), int(seg.max())
    if lo == 0 and hi + 1 <= seg.size:
        present = np.zeros(hi + 1, dtype=bool)
        present[seg.ravel()] = True
        if present.all():  # already contiguous: no sort needed
            return seg.astype(np.int64, copy=False)
    _, inverse = np.unique(seg, return_inverse=True)
    return inverse.reshape(seg.shape).astype(np.int64)


def n_superpixels(segments: np.ndarray) -> int:
    """Number d of superpixels of a contiguous segmentation."""
    return int(np.max(segments)) + 1


# --------------------------------------------------------------------------- methods
def grid(image_shape, n_rows: int = 8, n_cols: int | None = None) -> np.ndarray:
    """A regular grid of ``n_rows x n_cols`` rectangular superpixels (row-major labels)."""
    n_cols = n_rows if n_cols is None else n_cols
    h, w = int(image_shape[0]), int(image_shape[1])
    n_rows, n_cols = check_int(n_rows, "n_rows", 1, h), check_int(n_cols, "n_cols", 1, w)
    rows = (np.arange(h) * n_rows) // h
    cols = (np.arange(w) * n_cols) // w
    return (rows[:, None] * n_cols + cols[None, :]).astype(np.int64)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return gray2rgb(image) if image.ndim == 2 or image.shape[2] == 1 else image


def _quickshift(image, **params):
    if "random_seed" in params:  # the name older scikit-image (and lime) use for ``rng``
        params["rng"] = params.pop("random_seed")
    kw = {**QUICKSHIFT_DEFAULTS, **params}
    return quickshift(_as_rgb(np.squeeze(image, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image), **kw)


def _slic(image, **params):
    kw = {"n_segments": 100, "compactness": 10.0, "start_label": 0, **params}
    channel_axis = None if image.ndim == 2 else -1
    return slic(image, channel_axis=channel_axis, **kw)


def _felzenszwalb(image, **params):
    kw = {"scale": 100.0, "sigma": 0.5, "min_size": 50, **params}
    channel_axis = None if image.ndim == 2 else -1
    return felzenszwalb(image, channel_axis=channel_axis, **kw)


def _grid(image, **params):
    return grid(image.shape, **params)


#: Segmentation methods understood by :func:`segment`.
METHODS = {"quickshift": _quickshift, "slic": _slic, "felzenszwalb": _felzenszwalb, "grid": _grid}


def segment(image, method: str = "quickshift", **params) -> np.ndarray:
    """Split ``image`` into superpixels; labels are always contiguous ``0..d-1``.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        The image. Grayscale images are converted to RGB for quickshift (as lime does).
    method : {"quickshift", "slic", "felzenszwalb", "grid"}
        ``quickshift`` uses lime's defaults ``kernel_size=4, max_dist=200, ratio=0.2``
        (override any of them, e.g. ``kernel_size=1`` for the paper's MNIST figures, or
        ``random_seed``); ``slic`` defaults to ``n_segments=100, compactness=10``;
        ``felzenszwalb`` to ``scale=100, sigma=0.5, min_size=50``; ``grid`` takes
        ``n_rows`` (default 8) and ``n_cols``.
    **params
        Passed to the scikit-image function (or to :func:`grid`).

    Returns
    -------
    segments : (H, W) int64 array with labels ``0..d-1``.
    """
    arr = check_image(image)
    check_choice(method, "method", sorted(METHODS))
    return relabel(METHODS[method](arr, **params))


# --------------------------------------------------------------------------- replacement
def as_float_image(image) -> np.ndarray:
    """The image as float64 with a channel axis: (H, W) becomes (H, W, 1)."""
    arr = np.asarray(image, dtype=np.float64)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _check_hide_color(hide_color, n_channels: int) -> np.ndarray:
    col = np.asarray(hide_color)
    if col.dtype == object or col.dtype.kind not in "biuf":
        raise TypeError(f"hide_color must be None, a real number or one per channel, got {hide_color!r}")
    col = col.astype(np.float64)
    if col.ndim > 1 or (col.ndim == 1 and col.shape[0] not in (1, n_channels)):
        raise ValueError(
            f"hide_color must be a scalar or one value per channel ({n_channels}), got shape {col.shape}"
        )
    if not np.all(np.isfinite(col)):
        raise ValueError("hide_color must be finite")
    return col


def superpixel_means(image, segments) -> np.ndarray:
    """Mean colour of every superpixel: array (d, C) in float64."""
    img = as_float_image(image)
    d = n_superpixels(segments)
    flat = segments.ravel()
    counts = np.bincount(flat, minlength=d).astype(np.float64)
    peak = float(np.max(np.abs(img))) if img.size else 0.0
    # sums of huge pixel values overflow: scale by a power of two (exact) so the sums stay finite
    scale = float(np.ldexp(1.0, np.frexp(peak)[1] - 1)) if peak > 1e300 else 1.0
    sums = np.stack(
        [np.bincount(flat, weights=img[:, :, c].ravel() / scale, minlength=d) for c in range(img.shape[2])],
        axis=1,
    )
    return sums / counts[:, None] * scale


def replacement_image(image, segments, hide_color=None) -> np.ndarray:
    """LIME's replacement image xi_bar (docs/theory/lime_algorithm.md, step 2), float64, image's shape.

    ``hide_color=None``: every pixel of superpixel J_j takes the mean colour of J_j (per
    channel). Otherwise every pixel takes ``hide_color``: a scalar, or one value per channel.
    """
    arr = check_image(image)
    seg = check_segments(segments, arr.shape)
    img = as_float_image(arr)
    if hide_color is None:
        out = superpixel_means(img, seg)[seg]
    else:
        col = _check_hide_color(hide_color, img.shape[2])
        out = np.empty_like(img)
        out[...] = col
    return out.reshape(arr.shape)


def superpixel_contrast(image, segments, hide_color=None) -> np.ndarray:
    """How much hiding each superpixel changes the pixels: ``c_j = sum_{u in J_j} ||x_u - xi_bar_u||_2``.

    ``xi_bar`` is LIME's replacement image (:func:`replacement_image`); the norm runs over the
    channels. A (d,) float64 array that depends on the image alone, not on any model: the
    input-only control of a model randomisation test.
    """
    arr = check_image(image)
    seg = check_segments(segments, arr.shape)
    img = as_float_image(arr)
    diff = img - as_float_image(replacement_image(arr, seg, hide_color))
    per_pixel = np.sqrt(np.sum(diff * diff, axis=2))
    return np.bincount(seg.ravel(), weights=per_pixel.ravel(), minlength=n_superpixels(seg))
