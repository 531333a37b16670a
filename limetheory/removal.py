"""Removing superpixels from images, for remove-and-retrain (ROAR) and its retraining-free variant (ROAD).

- :func:`top_k_mask`: which superpixels of each image an explanation ranks in its top k;
- :func:`fill_superpixels`: those superpixels' pixels replaced by one value (ROAR, Hooker et al.,
  NeurIPS 2019: the dataset's mean colour);
- :func:`noisy_linear_imputation`: the removed pixels imputed from their neighbours plus noise
  (ROAD, Rong et al., ICML 2022), so that the shape of the removed region leaks as little
  information as possible and the network needs no retraining.
"""
from __future__ import annotations

import numpy as np

from .segmentation import check_image, check_segments, n_superpixels
from .validation import as_generator, check_int, check_real

__all__ = ["fill_superpixels", "noisy_linear_imputation", "top_k_mask"]

#: ROAD's neighbour weights: 1/6 for the 4 edge neighbours, 1/12 for the 4 diagonal ones (they sum to 1).
NEIGHBOUR_WEIGHTS = {(-1, 0): 1 / 6, (1, 0): 1 / 6, (0, -1): 1 / 6, (0, 1): 1 / 6,
                     (-1, -1): 1 / 12, (-1, 1): 1 / 12, (1, -1): 1 / 12, (1, 1): 1 / 12}


def top_k_mask(scores, k: int) -> np.ndarray:
    """Boolean (N, d): True on the ``k`` largest scores of each row (ties: lower index first).

    ``scores`` is (N, d) (or (d,), giving (d,)); k in 0..d.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim not in (1, 2) or s.shape[-1] == 0:
        raise ValueError(f"scores must be (d,) or (N, d) with d >= 1, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores holds NaN or infinite values")
    k = check_int(k, "k", 0, s.shape[-1])
    rows = np.atleast_2d(s)
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    out = np.zeros(rows.shape, dtype=bool)
    np.put_along_axis(out, order, True, axis=1)
    return out[0] if s.ndim == 1 else out


def fill_superpixels(images, segments, removed, fill) -> np.ndarray:
    """Images with the pixels of the removed superpixels set to ``fill``.

    ``x'_u = fill`` if u lies in a superpixel j with ``removed[i, j]``, else ``x_u``.

    Parameters
    ----------
    images : (N, H, W, C) array
    segments : (H, W) int labels 0..d-1 (one segmentation for every image) or (N, H, W), one each
    removed : (N, d) boolean
    fill : scalar or (C,) per-channel value (e.g. the training set's mean colour)

    Returns
    -------
    (N, H, W, C) float64 copy.
    """
    x = np.array(images, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {x.shape}")
    seg = np.asarray(segments)
    seg = np.broadcast_to(seg, (x.shape[0],) + seg.shape[-2:]) if seg.ndim == 2 else seg
    if seg.shape != x.shape[:3]:
        raise ValueError(f"segments must be (H, W) or (N, H, W) matching images {x.shape[:3]}, got {np.shape(segments)}")
    rem = np.asarray(removed, dtype=bool)
    d = int(seg.max()) + 1
    if rem.shape != (x.shape[0], d):
        raise ValueError(f"removed must be (N, d) = ({x.shape[0]}, {d}), got shape {rem.shape}")
    col = np.asarray(fill, dtype=np.float64)
    if col.ndim > 1 or (col.ndim == 1 and col.shape[0] not in (1, x.shape[3])) or not np.all(np.isfinite(col)):
        raise ValueError(f"fill must be a finite scalar or one value per channel ({x.shape[3]}), got {fill!r}")
    pixel_removed = np.take_along_axis(rem, seg.reshape(x.shape[0], -1), axis=1).reshape(x.shape[:3])
    x[pixel_removed] = col
    return x


def noisy_linear_imputation(image, removed_pixels, *, noise_sd: float = 2.55, rng=None, clip=(0.0, 255.0)) -> np.ndarray:
    """ROAD's noisy linear imputation of the removed pixels of one image.

    The removed pixels' values solve, channel by channel, the sparse linear system
    ``x_u = sum_{v in N(u)} w_uv x_v / sum_{v in N(u)} w_uv`` (each removed pixel the weighted
    mean of its 8 neighbours inside the image, weights :data:`NEIGHBOUR_WEIGHTS`; kept pixels
    fixed), then independent Gaussian noise of standard deviation ``noise_sd`` is added to them
    and the result clipped to ``clip``. ``noise_sd = 2.55`` is ROAD's 0.01 on the [0, 255] scale.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array
    removed_pixels : (H, W) boolean mask (at least one pixel kept)
    noise_sd : float >= 0
    rng : None, int or numpy Generator
    clip : (low, high) or None

    Returns
    -------
    float64 array of the image's shape; the kept pixels unchanged.
    """
    import scipy.sparse
    import scipy.sparse.linalg

    arr = check_image(image)
    x = np.asarray(arr, dtype=np.float64)
    x3 = x[:, :, None] if x.ndim == 2 else x.copy()
    mask = np.asarray(removed_pixels)
    if mask.shape != x3.shape[:2] or mask.dtype != bool:
        raise ValueError(f"removed_pixels must be a boolean (H, W) = {x3.shape[:2]} mask, got {mask.dtype} {mask.shape}")
    noise_sd = check_real(noise_sd, "noise_sd", low=0.0)
    if not mask.any():
        return x.copy()
    if mask.all():
        raise ValueError("removed_pixels removes every pixel: nothing to impute from")
    h, w = mask.shape
    unknown = np.flatnonzero(mask.ravel())
    index = np.full(h * w, -1, dtype=np.int64)
    index[unknown] = np.arange(unknown.size)
    rows_u, cols_u = np.divmod(unknown, w)
    rows, cols, vals = [np.arange(unknown.size)], [np.arange(unknown.size)], [np.ones(unknown.size)]
    total = np.zeros(unknown.size)
    rhs = np.zeros((unknown.size, x3.shape[2]))
    for (dr, dc), weight in NEIGHBOUR_WEIGHTS.items():
        r, c = rows_u + dr, cols_u + dc
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        total[inside] += weight
        flat = np.where(inside, r * w + c, 0)
        neighbour_unknown = inside & (index[flat] >= 0)
        known = inside & ~neighbour_unknown
        rhs[known] += weight * x3.reshape(-1, x3.shape[2])[flat[known]]
        rows.append(np.flatnonzero(neighbour_unknown))
        cols.append(index[flat[neighbour_unknown]])
        vals.append(np.full(int(neighbour_unknown.sum()), -weight))
    # normalise every equation by its neighbours' total weight (pixels on the border have fewer)
    a = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(unknown.size, unknown.size))
    a = scipy.sparse.diags(1.0 / total) @ a
    a = a + scipy.sparse.diags(1.0 - 1.0 / total)  # the diagonal back to 1
    solution = scipy.sparse.linalg.splu(a.tocsc()).solve(rhs / total[:, None])
    solution = solution + noise_sd * as_generator(rng).standard_normal(solution.shape)
    if clip is not None:
        solution = np.clip(solution, clip[0], clip[1])
    out = x3.reshape(-1, x3.shape[2]).copy()
    out[unknown] = solution
    return out.reshape(x.shape)
