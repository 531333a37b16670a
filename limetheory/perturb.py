"""Batched construction of the perturbed images x(z) (docs/theory/lime_algorithm.md, step 4).

    x(z)_u = xi_u        if z_{j(u)} = 1
             xi_bar_u    otherwise            (j(u): the superpixel of pixel u)

No Python loop over samples or superpixels: a pixel (all its channels) is handled as one
fixed-size memory unit (a NumPy void scalar), the (batch, pixels) keep-mask is gathered once
from z with the segmentation as index, and the image is copied over the replacement where the
mask is set. Memory is bounded by building ``batch_size`` images at a time.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from .segmentation import replacement_image

__all__ = [
    "auto_batch_size", "check_pixel_dtype", "model_batch_size", "iter_perturbed_batches", "perturb_batch", "jax_perturb_batch", "model_responses", "check_responses",
    "superpixel_game",
]

#: Default memory budget for one batch of perturbed images (bytes): small enough to stay in cache-friendly, reused heap memory.
BATCH_BYTES = 16 * 2**20


#: Images per model call that a network wants at least (per-call overhead, vectorised layers), when
#: they fit in :data:`MODEL_BATCH_BYTES`: a plain ``predict`` of a real network (224 x 224 float64:
#: 26 images, not the 13 of 16 MiB) is called nearly as efficiently as a Classifier that states its
#: batch size.
MODEL_BATCH = 32

#: Memory cap of one model call's perturbed images: just under 32 MiB, glibc's largest threshold for
#: serving an allocation from the heap rather than from fresh mmap'ed pages. A batch above it is
#: page-faulted in anew on every call: 32 images of 224 x 224 x 3 float64 (38 MB) took 0.59 s to
#: build for n = 2000 against 0.44 s for 26 (results/bench_explain*.md has the whole call).
MODEL_BATCH_BYTES = 2 * BATCH_BYTES - 2**20


def auto_batch_size(image_shape, dtype=np.float64, budget_bytes: int = BATCH_BYTES) -> int:
    """Largest batch of perturbed images that fits in ``budget_bytes`` (at least 1)."""
    per_image = int(np.prod(image_shape)) * np.dtype(dtype).itemsize
    return max(1, budget_bytes // max(per_image, 1))


def model_batch_size(image_shape, dtype=np.float64) -> int:
    """Default images per model call: ``max(auto_batch_size, min(MODEL_BATCH, auto_batch_size(MODEL_BATCH_BYTES)))``.

    Small images: as many as fit in 16 MiB (cheap models are called rarely); large ones: up to
    :data:`MODEL_BATCH` while they fit in :data:`MODEL_BATCH_BYTES` (31 MiB).
    """
    return max(auto_batch_size(image_shape, dtype),
               min(MODEL_BATCH, auto_batch_size(image_shape, dtype, MODEL_BATCH_BYTES)))


def check_pixel_dtype(dtype, *images) -> np.dtype:
    """The dtype of the perturbed images handed to the model, checked against the pixels it must hold.

    A float dtype must hold every pixel value (no overflow to inf); an integer dtype must hold them
    exactly (in range and integral: the replacement image's mean colours are not rounded silently,
    and nothing wraps around).

    Raises
    ------
    TypeError
        If ``dtype`` is not a real NumPy dtype.
    ValueError
        If a pixel value of ``images`` cannot be held by it.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy dtype such as numpy.float32, got {dtype!r}") from None
    if dt.kind not in "iuf":
        raise TypeError(f"dtype must be a real NumPy dtype (float or integer), got {dt}")
    for img in images:
        arr = np.asarray(img, dtype=np.float64)
        low, high = float(arr.min()), float(arr.max())
        info = np.finfo(dt) if dt.kind == "f" else np.iinfo(dt)
        if low < float(info.min) or high > float(info.max):
            raise ValueError(f"dtype {dt} cannot hold the pixel values, which range over [{low:g}, {high:g}] "
                             f"(it holds [{float(info.min):g}, {float(info.max):g}]): use a wider dtype")
        if dt.kind in "iu" and not np.all(arr == np.round(arr)):
            raise ValueError(f"dtype {dt} would round pixel values such as the replacement image's mean colours: "
                             "use a float dtype, or an integer hide_color")
    return dt


def _pixel_view(img: np.ndarray) -> np.ndarray:
    """View an (H, W[, C]) array as H*W opaque pixel units (all channels of a pixel together)."""
    h, w = img.shape[:2]
    c = img.shape[2] if img.ndim == 3 else 1
    unit = np.dtype((np.void, c * img.dtype.itemsize))
    return np.ascontiguousarray(img).reshape(h * w, c).view(unit).reshape(h * w)


def perturb_batch(image, replacement, segments, z, dtype=np.float64, out=None) -> np.ndarray:
    """The perturbed images x(z) for every row of z: array ``(m, *image.shape)`` of ``dtype``.

    Parameters
    ----------
    image, replacement : arrays of the same shape (H, W) or (H, W, C)
        xi and xi_bar (see :func:`limetheory.segmentation.replacement_image`).
    segments : (H, W) int array, labels 0..d-1.
    z : (m, d) array of 0/1.
    dtype : output dtype (both images are cast to it first).
    out : optional preallocated output array of shape ``(m, *image.shape)`` and ``dtype``.
    """
    img = np.asarray(image, dtype=dtype)
    rep = np.asarray(replacement, dtype=dtype)
    z = np.asarray(z)
    keep = (z != 0) if z.dtype != np.bool_ else z
    m = keep.shape[0]
    if out is None:
        out = np.empty((m,) + img.shape, dtype=dtype)
    img_px, rep_px = _pixel_view(img), _pixel_view(rep)
    flat_out = out.reshape(m, -1).view(img_px.dtype).reshape(m, -1)
    flat_out[...] = rep_px
    np.copyto(flat_out, img_px, where=keep[:, np.asarray(segments).ravel()])
    return out


def iter_perturbed_batches(image, replacement, segments, z, batch_size: int, dtype=np.float64) -> Iterator:
    """Yield ``(start, images)`` for consecutive batches of at most ``batch_size`` rows of z."""
    img = np.asarray(image, dtype=dtype)
    rep = np.asarray(replacement, dtype=dtype)
    for start in range(0, z.shape[0], batch_size):
        yield start, perturb_batch(img, rep, segments, z[start : start + batch_size], dtype=dtype)


def jax_perturb_batch(image, replacement, segments, z):
    """JAX version of :func:`perturb_batch` (traceable, for building x(z) inside ``jax.jit``).

    Returns ``where(z[:, segments], image, replacement)`` with the channel axis broadcast.
    """
    import jax.numpy as jnp

    keep = jnp.take(jnp.asarray(z, dtype=bool), jnp.asarray(segments), axis=1)
    if jnp.ndim(image) == 3:
        keep = keep[..., None]
    return jnp.where(keep, image, replacement)


def check_responses(raw, n_images: int, start: int, n_classes: int | None) -> np.ndarray:
    """A model's outputs for a batch of ``n_images`` as (n_images, n_classes) float64, checked: shape,
    finite real values (naming the first bad sample, counted from ``start``), the same number of classes
    as earlier batches."""
    if np.iscomplexobj(raw):
        raise TypeError(f"predict must return real numbers, got complex values for samples from {start}")
    try:
        y = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"predict must return numbers, got {type(raw).__name__}") from exc
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n_images:
        raise ValueError(
            f"predict must return an array of shape (N,) or (N, n_classes) for a batch of N={n_images} "
            f"images, got shape {np.shape(raw)}"
        )
    if n_classes is not None and y.shape[1] != n_classes:
        raise ValueError(f"predict returned {y.shape[1]} classes for samples from {start}, earlier {n_classes}")
    bad = ~np.all(np.isfinite(y), axis=1)
    if bad.any():
        i = start + int(np.flatnonzero(bad)[0])
        raise ValueError(f"predict returned non-finite values for sample {i} (and {int(bad.sum()) - 1} more in its batch)")
    return y


def model_responses(
    predict: Callable,
    image,
    replacement,
    segments,
    z,
    batch_size: int | None = None,
    dtype=np.float64,
    progress: bool | None = None,
) -> np.ndarray:
    """f(x(z_i)) for every row of z, built and predicted batch by batch: (n, n_classes) float64.

    The one path of the toolkit that evaluates a model on perturbed images: x(z) is built in batches of
    ``batch_size`` images (default :func:`model_batch_size`) and every batch's outputs are checked
    (:func:`check_responses`)."""
    z = np.asarray(z)
    n = z.shape[0]
    bs = batch_size or model_batch_size(np.shape(image), dtype)
    out = None
    batches = iter_perturbed_batches(image, replacement, segments, z, bs, dtype=dtype)
    with tqdm(total=n, desc="LIME samples", unit="img", disable=None if progress is None else not progress, leave=False) as bar:
        for start, images in batches:
            y = check_responses(predict(images), images.shape[0], start, None if out is None else out.shape[1])
            if out is None:
                out = np.empty((n, y.shape[1]))
            out[start : start + y.shape[0]] = y
            bar.update(y.shape[0])
    return out


def superpixel_game(predict: Callable, image, segments, column: int, *, hide_color=None,
                    batch_size: int | None = None, dtype=np.float64) -> Callable:
    """The superpixel game g(z) = f_column(x(z)) as a function of an (m, d) 0/1 array, for the exact values.

    ``x(z)`` keeps superpixel j where z_j = 1 and shows LIME's replacement image elsewhere
    (:func:`limetheory.segmentation.replacement_image` with ``hide_color``); ``g(1) = f(xi)``,
    ``g(0) = f(xi_bar)``. Pass it to :class:`limetheory.theory.ResponseTable` or
    :func:`limetheory.theory.exact_shapley` (each pattern is then evaluated once).
    """
    rep = replacement_image(image, segments, hide_color)

    def game(z):
        return model_responses(predict, image, rep, segments, z, batch_size, dtype, False)[:, column]

    return game
