"""Images that ship with installed packages, and data sets made by the project.

Nothing is downloaded: the photos come from scikit-image and scikit-learn wheels.
"""
from __future__ import annotations

import numpy as np
from skimage.transform import resize

__all__ = ["PHOTOS", "load_photo", "load_photos"]

#: Real photos bundled with installed packages: name -> (package, loader name).
PHOTOS = {
    "chelsea": ("skimage", "chelsea"),
    "coffee": ("skimage", "coffee"),
    "astronaut": ("skimage", "astronaut"),
    "rocket": ("skimage", "rocket"),
    "motorcycle": ("skimage", "stereo_motorcycle"),
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
}


def _raw_photo(name: str) -> np.ndarray:
    package, key = PHOTOS[name]
    if package == "skimage":
        from skimage import data

        img = getattr(data, key)()
        if key == "stereo_motorcycle":  # stereo pair loader: (left, right, disparity)
            img = img[0]
        return img
    from sklearn.datasets import load_sample_image

    return load_sample_image(key)


def load_photo(name: str, size: int | tuple | None = 224) -> np.ndarray:
    """A bundled RGB photo as a uint8 array (H, W, 3), resized to ``size`` (None: original).

    ``size`` is an int (square) or (H, W). Resizing uses anti-aliased bilinear interpolation
    and rounds back to uint8, so the result is a genuine 8-bit image.
    """
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {sorted(PHOTOS)}, got {name!r}")
    img = _raw_photo(name)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[:, :, :3]
    if size is None:
        return np.ascontiguousarray(img, dtype=np.uint8)
    shape = (size, size) if np.isscalar(size) else tuple(size)
    out = resize(img, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_photos(size: int | tuple | None = 224) -> dict:
    """Every bundled photo: {name: uint8 (H, W, 3)}."""
    return {name: load_photo(name, size) for name in PHOTOS}
