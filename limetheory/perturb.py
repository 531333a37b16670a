"""Batched construction of the perturbed images x(z) (THEORY.md section 1, step 4).

    x(z)_u = xi_u        if z_{j(u)} = 1
             xi_bar_u    otherwise            (j(u): the superpixel of pixel u)

No Python loop over samples or superpixels: a pixel (all its channels) is handled as one
fixed-size memory unit (a NumPy void scalar), the (batch, pixels) keep-mask is gathered once
from z with the segmentation as index, and the image is copied over the replacement where the
mask is set. Memory is bounded by building ``batch_size`` images at a time.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = ["auto_batch_size", "iter_perturbed_batches", "perturb_batch", "jax_perturb_batch"]

#: Default memory budget for one batch of perturbed images (bytes): small enough to stay in cache-friendly, reused heap memory (measured: 16 MiB batches build 224x224 float64 images 2-3x faster than 64 MiB ones).
BATCH_BYTES = 16 * 2**20


def auto_batch_size(image_shape, dtype=np.float64, budget_bytes: int = BATCH_BYTES) -> int:
    """Largest batch of perturbed images that fits in ``budget_bytes`` (at least 1)."""
    per_image = int(np.prod(image_shape)) * np.dtype(dtype).itemsize
    return max(1, budget_bytes // max(per_image, 1))


def _pixel_view(img: np.ndarray) -> np.ndarray:
    """View an (H, W[, C]) array as H*W opaque pixel units (all channels of a pixel together)."""
    h, w = img.shape[:2]
    c = img.shape[2] if img.ndim == 3 else 1
    unit = np.dtype((np.void, c * img.dtype.itemsize))
    return np.ascontiguousarray(img).reshape(h * w, c).view(unit).reshape(h * w)


def perturb_batch(image, replacement, segments, z, dtype=np.float64, out=None) -> np.ndarray:
    """The perturbed images x(z) for every row of z: array (m, *image.shape) of ``dtype``.

    Parameters
    ----------
    image, replacement : arrays of the same shape (H, W) or (H, W, C)
        xi and xi_bar (see :func:`limetheory.segmentation.replacement_image`).
    segments : (H, W) int array, labels 0..d-1.
    z : (m, d) array of 0/1.
    dtype : output dtype (both images are cast to it first).
    out : optional preallocated output array of shape (m, *image.shape) and ``dtype``.
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
