"""Analytic models whose LIME limit is known in closed form (docs/theory/closed_forms.md).

Both models are callables on a batch of images, (N, H, W) or (N, H, W, C) -> (N,) scores, so
:func:`limetheory.explain` can explain them directly, and both give the explanation that empirical
LIME converges to (ridge = 0, n -> infinity)::

    model.limit_explanation(image, segments, hide_color=None, kernel_width=0.25)  # (d+1,), intercept first

``model.response_of_z(image, segments, hide_color)`` returns the function z -> f(x(z)) built on
real perturbed images, so :func:`limetheory.theory.exact_limit` can check the closed forms.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import theory
from .perturb import model_responses
from .validation import check_int, check_real
from .segmentation import check_image, check_segments, n_superpixels, replacement_image
from .validation import check_binary_z, check_kernel_width

__all__ = ["LinearModel", "ShapeDetector", "response_of_z"]


class _ImageModel:
    """Shared plumbing: batch validation and z -> f(x(z))."""

    #: (H, W) of the images the model accepts.
    spatial_shape: tuple

    def _check_batch(self, images) -> np.ndarray:
        x = np.asarray(images)
        if x.dtype.kind not in "biuf":  # complex parts are not dropped, dates are not numbers
            raise TypeError(f"images must hold real numbers, got dtype {x.dtype}")
        if x.ndim not in (3, 4) or x.shape[1:3] != self.spatial_shape:
            raise ValueError(
                f"images must be a batch (N, H, W) or (N, H, W, C) with (H, W) = {self.spatial_shape}, "
                f"got shape {x.shape} (pass a single image as image[None])"
            )
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):  # NaN is no intensity: never read as dark
            raise ValueError(f"images hold {int(x.size - np.count_nonzero(np.isfinite(x)))} NaN or infinite values")
        return x

    def _check_image(self, image) -> np.ndarray:
        img = check_image(image)
        if img.shape[:2] != self.spatial_shape:
            raise ValueError(f"image must have (H, W) = {self.spatial_shape}, got shape {img.shape}")
        return img

    def response_of_z(self, image, segments, hide_color=None, batch_size: int | None = None) -> Callable:
        """The function z -> f(x(z)) for this image and segmentation (see :func:`response_of_z`).

        Built on real perturbed images, no closed form used: ``theory.exact_limit(
        model.response_of_z(image, segments, hide_color), d, kernel_width)`` independently checks
        :meth:`limit_explanation`.
        """
        return response_of_z(self, image, segments, hide_color, batch_size=batch_size)


def response_of_z(predict: Callable, image, segments, hide_color=None, *, batch_size: int | None = None) -> Callable:
    """The function z -> f(x(z)) of any model, for :func:`limetheory.theory.exact_limit`.

    Parameters
    ----------
    predict : callable on a batch of images (N, H, W[, C]) returning (N,) or (N, k) scores.
    image, segments, hide_color : as for :func:`limetheory.explain`.
    batch_size : perturbed images built and predicted at a time (default: as many as fit in
        16 MiB, see :func:`limetheory.perturb.auto_batch_size`).

    Returns
    -------
    f_of_z : callable, (m, d) array of 0/1 -> (m,) or (m, k) float64, where x(z) is built exactly as
        LIME builds it: pixel u of J_j is xi_u if z_j = 1, else xi_bar_u (the replacement image).
    """
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {type(predict).__name__}")
    img = check_image(image)
    seg = check_segments(segments, img.shape)
    rep = replacement_image(img, seg, hide_color)
    d = n_superpixels(seg)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)

    def f_of_z(z):
        z = check_binary_z(z, d)
        y = model_responses(predict, img, rep, seg, z, batch_size, progress=False)
        return y[:, 0] if y.shape[1] == 1 else y

    return f_of_z


class ShapeDetector(_ImageModel):
    """The elementary shape detector f(x) = 1 if x_u > tau for every pixel u of the shape S, else 0.

    Parameters
    ----------
    shape_mask : (H, W) boolean array
        The shape S (at least one pixel).
    tau : float
        Threshold. For a multi-channel image every channel of every pixel of S must exceed tau.

    Calling the detector on a batch (N, H, W) or (N, H, W, C) returns (N,) float64 scores in {0, 1}.
    """

    def __init__(self, shape_mask, tau: float):
        mask = np.asarray(shape_mask)
        if mask.dtype != bool:
            raise TypeError(f"shape_mask must be a boolean array, got dtype {mask.dtype}")
        if mask.ndim != 2:
            raise ValueError(f"shape_mask must be 2-D (H, W), got shape {mask.shape}")
        if not mask.any():
            raise ValueError("shape_mask must contain at least one pixel")
        tau = check_real(tau, "tau")
        self.shape_mask = mask.copy()
        self.shape_mask.setflags(write=False)
        self.tau = float(tau)
        self.spatial_shape = mask.shape

    def __repr__(self) -> str:
        return f"ShapeDetector(|S|={int(self.shape_mask.sum())}, shape={self.spatial_shape}, tau={self.tau:g})"

    def __call__(self, images) -> np.ndarray:
        x = self._check_batch(images)
        on_shape = x[:, self.shape_mask]  # (N, |S|) or (N, |S|, C)
        return np.all((on_shape > self.tau).reshape(x.shape[0], -1), axis=1).astype(np.float64)

    def lights(self, image) -> bool:
        """Whether ``image`` lights the whole shape (x_u > tau on S, every channel)."""
        return bool(self(self._check_image(image)[None])[0] == 1.0)

    def _superpixel_states(self, image, segments, hide_color):
        """Per superpixel: shape lit on its part of S when kept (z_j = 1) and when replaced (z_j = 0)."""
        img = self._check_image(image)
        seg = check_segments(segments, img.shape)
        rep = replacement_image(img, seg, hide_color)
        n_s = int(self.shape_mask.sum())
        labels = seg[self.shape_mask]
        d = n_superpixels(seg)
        kept_dark = (np.asarray(img)[self.shape_mask] <= self.tau).reshape(n_s, -1).any(axis=1)
        rep_dark = (rep[self.shape_mask] <= self.tau).reshape(n_s, -1).any(axis=1)
        lit_kept = np.bincount(labels, weights=kept_dark, minlength=d) == 0
        lit_replaced = np.bincount(labels, weights=rep_dark, minlength=d) == 0
        return seg, lit_kept, lit_replaced

    def destroying_superpixels(self, image, segments, hide_color=None) -> np.ndarray:
        """E_-: (d,) boolean mask of the superpixels whose replacement destroys the shape.

        A superpixel is in E_- when the image lights its part of S (x_u > tau there) and its
        replacement value (its mean colour, or ``hide_color``) is <= tau on some pixel (some
        channel) of it; a superpixel whose replacement still exceeds tau on S is harmless.
        """
        _, lit_kept, lit_replaced = self._superpixel_states(image, segments, hide_color)
        return lit_kept & ~lit_replaced

    def limit_explanation(self, image, segments, hide_color=None, kernel_width: float = 0.25) -> np.ndarray:
        """The limit of LIME's explanation (docs/theory/closed_forms.md, *Shape detectors*): (d+1,), intercept first.

        f(x(z)) is a product over the superpixels meeting S: a factor z_j for those in E_- (lit
        when kept, dark when replaced), 1 for harmless ones. If the image lights the shape, that is
        all, f = prod_{E_-} z_j and beta is :func:`limetheory.theory.product_limit` (an equal,
        large weight on E_-, one small common weight elsewhere). If it does not: f = 0 and beta = 0
        when some superpixel is dark both kept and replaced; otherwise a replacement lights it and
        f = prod_{E_-} z_j prod_{E_+} (1 - z_j) (E_+: dark when kept, lit when replaced), whose
        limit ``product_limit(..., absent=E_+)`` also gives.
        """
        kernel_width = check_kernel_width(kernel_width)
        seg, lit_kept, lit_replaced = self._superpixel_states(image, segments, hide_color)
        d = n_superpixels(seg)
        if np.any(~lit_kept & ~lit_replaced):
            return np.zeros(d + 1)
        return theory.product_limit(d, kernel_width, lit_kept & ~lit_replaced, absent=~lit_kept & lit_replaced)


class LinearModel(_ImageModel):
    """The linear model f(x) = sum_u lambda_u x_u over every pixel and channel.

    Parameters
    ----------
    weights : (H, W) or (H, W, C) finite array lambda.

    Calling it on a batch of images shaped like ``weights`` returns (N,) float64 scores. (H, W)
    weights also accept (N, H, W, 1) batches, and (H, W, 1) weights (N, H, W) batches.
    """

    def __init__(self, weights):
        lam = np.asarray(weights)
        if lam.dtype == object or not np.issubdtype(lam.dtype, np.number) or np.iscomplexobj(lam):
            raise TypeError(f"weights must hold real numbers, got dtype {lam.dtype}")
        if lam.ndim not in (2, 3) or lam.size == 0:
            raise ValueError(f"weights must be (H, W) or (H, W, C) and non-empty, got shape {lam.shape}")
        lam = lam.astype(np.float64)
        if not np.all(np.isfinite(lam)):
            raise ValueError("weights must be finite")
        self.weights = lam
        self.weights.setflags(write=False)
        self.spatial_shape = lam.shape[:2]

    def __repr__(self) -> str:
        return f"LinearModel(shape={self.weights.shape})"

    def _match(self, x: np.ndarray, lead: int, name: str) -> np.ndarray:
        """``x`` with ``lead`` leading axes, reshaped to (..., *weights.shape) or a ValueError."""
        body = x.shape[lead:]
        w = self.weights.shape
        if body == w:
            return x
        if body + (1,) == w or body == w + (1,):
            return x.reshape(x.shape[:lead] + w)
        raise ValueError(f"{name} must have shape {w} per image to match weights, got {body}")

    def __call__(self, images) -> np.ndarray:
        x = self._match(self._check_batch(images), 1, "images")
        flat = x.reshape(x.shape[0], -1).astype(np.float64, copy=False)
        return flat @ self.weights.ravel()

    def limit_explanation(self, image, segments, hide_color=None, kernel_width: float = 0.25) -> np.ndarray:
        """The limit of LIME's explanation (docs/theory/closed_forms.md, *Linear models*): (d+1,), intercept first.

        ``beta_j = sum_{u in J_j} lambda_u (xi_u - xi_bar_u)``, ``beta_0 = f(xi_bar)``: f(x(z)) is
        linear in z, so LIME (ridge = 0) recovers it exactly from any n >= d + 1 samples in general
        position. Independent of ``kernel_width`` (still validated).
        """
        check_kernel_width(kernel_width)
        img = self._check_image(image)
        seg = check_segments(segments, img.shape)
        rep = replacement_image(img, seg, hide_color)
        xi = self._match(np.asarray(img, dtype=np.float64), 0, "image")
        xb = self._match(rep, 0, "image")
        contrib = (self.weights * (xi - xb)).reshape(seg.size, -1).sum(axis=1)  # per pixel
        beta = np.bincount(seg.ravel(), weights=contrib, minlength=n_superpixels(seg))
        return np.concatenate([[float(np.sum(self.weights * xb))], beta])
