"""A user's own model and images in experiments 4 and 6 (``limetheory reproduce --model``, ``--images``).

The user model travels in the experiment settings as a plain dict (hashed into the unit keys,
so units of another model or weight file are never reused)::

    {"model": "keras:MobileNetV2" | "torch:package.module:factory" | a bundled name,
     "weights": path or None, "input_size": [H, W] or None, "images": folder or None,
     "scaling": [scale, mean, std] (a torch: model's preprocessing; only when given)}

Images: every file of the folder whose suffix is an image format, read as ``limetheory
explain`` reads them (:func:`limetheory.data.read_image`, resized to the network's input size);
without a folder, the bundled photos.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from limetheory.data import read_image
from limetheory.nets import load_cached

__all__ = ["IMAGE_SUFFIXES", "folder_image_names", "load_user_images", "user_identity", "user_scored_net"]

#: File suffixes read from an image folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def user_scored_net(user: dict):
    """The :class:`~limetheory.nets.Classifier` of the user's model (cached)."""
    size, scaling = user.get("input_size"), user.get("scaling")
    if scaling is not None:  # (scale, mean, std) of a torch: model's preprocessing, from JSON lists
        scaling = (float(scaling[0]), tuple(scaling[1]), tuple(scaling[2]))
    return load_cached(user["model"], user.get("weights"), None if size is None else tuple(size), scaling)


def user_identity(user: dict) -> dict:
    """What identifies the model: its name and the SHA-256 of its weight file (if any)."""
    ident = {"model": user["model"]}
    if user.get("weights"):
        h = hashlib.sha256()
        with open(user["weights"], "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        ident["weights_sha256"] = h.hexdigest()[:16]
    return ident


def folder_image_names(folder) -> list:
    """The image files of ``folder`` (by suffix), sorted by name; ValueError if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"images: {folder} is not a folder")
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise ValueError(f"images: {folder} holds no image file ({', '.join(IMAGE_SUFFIXES)})")
    return names


def load_user_images(folder, names, size) -> dict:
    """{name: uint8 (H, W, 3) image} read from ``folder`` as ``limetheory explain`` reads them."""
    return {name: read_image(Path(folder) / name, tuple(size)) for name in names}
