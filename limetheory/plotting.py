"""Figures: explanation overlays, coefficient box plots against theory, convergence plots."""
from __future__ import annotations

import numpy as np

__all__ = ["display_image", "plot_explanation", "superpixel_map"]


def display_image(image) -> np.ndarray:
    """An image scaled to [0, 1] floats for imshow (uint8 and [0, 255] floats divided by 255)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    hi = img.max() if img.size else 1.0
    if np.asarray(image).dtype == np.uint8 or hi > 1.0:
        img = img / 255.0
    return np.clip(img, 0.0, 1.0)


def superpixel_map(values, segments) -> np.ndarray:
    """Paint one value per superpixel onto the pixels: array (H, W)."""
    return np.asarray(values)[segments]


def plot_explanation(explanation, label=None, k: int = 5, ax=None, alpha: float = 0.45, title: str | None = None):
    """Show the image with the top-k positive superpixels in green and top-k negative in red.

    Superpixel boundaries are drawn in yellow; returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from skimage.segmentation import mark_boundaries

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    img = display_image(explanation.image)
    rgb = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img
    seg = explanation.segments
    pos = np.isin(seg, explanation.top(k, label, "positive"))
    neg = np.isin(seg, explanation.top(k, label, "negative"))
    shown = rgb.copy()
    shown[pos] = (1 - alpha) * shown[pos] + alpha * np.array([0.0, 0.85, 0.0])
    shown[neg] = (1 - alpha) * shown[neg] + alpha * np.array([0.9, 0.0, 0.0])
    ax.imshow(mark_boundaries(shown, seg, color=(1, 1, 0), mode="inner"))
    ax.set_axis_off()
    lab = explanation.labels[explanation._row(label)]
    ax.set_title(title if title is not None else f"class {lab}: top {k} + (green) / - (red)", fontsize=9)
    return ax
