"""The networks known by name: how each is loaded and how its images are cut into superpixels.

- :data:`NETWORKS`: bundled name -> ``"module:function[:argument]"`` of its loader (imported on use);
- :data:`PREFIXES`: ``"keras:<Application>"`` and ``"torch:package.module:factory"``, handed to
  the adapters;
- :data:`SEGMENTATION`: the superpixel parameters of each bundled network's images;
- :func:`load` (a fresh :class:`~limetheory.nets.Classifier`) and :func:`load_cached` (one per
  process and arguments: its compiled programs are reused).
"""
from __future__ import annotations

import functools
import importlib

from .classifier import Classifier
from .keras_adapter import KERAS_APPLICATIONS  # light: keras itself is imported on use only
from .torch_adapter import scaling as torch_scaling  # light: torch itself is imported on use only

__all__ = ["NETWORKS", "PREFIXES", "SEGMENTATION", "TABLE1_NAMES", "load", "load_cached", "segmentation_for"]

#: The paper's Table 1 networks trained here (:mod:`limetheory.nets.vgg`): data set x architecture.
TABLE1_NAMES = tuple(f"{data}-{arch}" for data in ("digits", "shapes32") for arch in ("1layer", "vgg1", "vgg2", "vgg3"))

#: name -> "module:function[:argument]" building the Classifier (imported lazily).
NETWORKS = {
    "efficientnet-lite0": "limetheory.nets.efficientnet:load_efficientnet_lite0",
    "efficientnet-lite1": "limetheory.nets.efficientnet:load_efficientnet_lite1",
    "efficientnet-lite2": "limetheory.nets.efficientnet:load_efficientnet_lite2",
    "shapes-cnn": "limetheory.nets.small_cnn:load_shapes_cnn",
    "digits-cnn": "limetheory.nets.small_cnn:load_digits_cnn",
    **{name: f"limetheory.nets.vgg:load_table1_net:{name}" for name in TABLE1_NAMES},
}

#: Prefixes of the names :func:`load` hands to an adapter: "keras:<Application>", "torch:<module>:<factory>".
PREFIXES = {
    "keras": "limetheory.nets.keras_adapter:load_keras_application",
    "torch": "limetheory.nets.torch_adapter:load_torch_factory",
}

#: Superpixels per network. EfficientNet (224 x 224 photos): lime's quickshift defaults
#: (kernel_size=4, max_dist=200, ratio=0.2; d = 31 to 37 on the bundled photos). The small
#: networks' images are 32 and 64 pixels wide, where lime's defaults give 3 to 10 superpixels:
#: finer quickshift parameters give d of the same order as on the photos (digits 32 x 32:
#: kernel_size=1, max_dist=3, d = 16 to 36, median 25; shapes 64 x 64: kernel_size=1.5,
#: d = 22 to 33, median 28; measured on 40 held-out images each).
#: The Table 1 networks take the same 32 x 32 digits as digits-cnn (same parameters) and
#: 32 x 32 shapes, where kernel_size=1 with lime's other defaults gives d = 16 to 24 (median
#: 19.5; 20 held-out images). Any other network: lime's quickshift defaults.
SEGMENTATION = {
    "efficientnet-lite0": {"method": "quickshift"},
    "shapes-cnn": {"method": "quickshift", "kernel_size": 1.5},
    "digits-cnn": {"method": "quickshift", "kernel_size": 1, "max_dist": 3},
    **{name: ({"method": "quickshift", "kernel_size": 1, "max_dist": 3} if name.startswith("digits-")
              else {"method": "quickshift", "kernel_size": 1}) for name in TABLE1_NAMES},
}


def segmentation_for(name: str) -> dict:
    """The superpixel parameters of network ``name`` (:data:`SEGMENTATION`; lime's quickshift otherwise)."""
    return dict(SEGMENTATION.get(name, {"method": "quickshift"}))


def load(name: str, **kwargs) -> Classifier:
    """Load a network by name; extra keyword arguments go to its loader.

    ``name`` is one of :data:`NETWORKS` (bundled), ``"keras:MobileNetV2"``,
    ``"keras:DenseNet121"`` or ``"keras:InceptionV3"`` (the paper's ImageNet networks, from the
    weight file given as ``weights=PATH``; see :func:`limetheory.nets.keras_adapter.load_keras_application`)
    or ``"torch:package.module:factory"`` (a callable returning a ``torch.nn.Module`` or a
    Classifier; see :func:`limetheory.nets.torch_adapter.load_torch_factory`).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES:
        module, func = PREFIXES[prefix].split(":")
        return getattr(importlib.import_module(module), func)(rest, **kwargs)
    if name not in NETWORKS:
        raise ValueError(
            f"name must be one of {sorted(NETWORKS)}, 'keras:<{'|'.join(_keras_names())}>' or "
            f"'torch:package.module:factory', got {name!r}"
        )
    module, func, *args = NETWORKS[name].split(":")  # "module:function[:argument]"
    return getattr(importlib.import_module(module), func)(*args, **kwargs)


@functools.lru_cache(maxsize=None)
def load_cached(name: str, weights: str | None = None, input_size: tuple | None = None,
                scaling: tuple | None = None) -> Classifier:
    """:func:`load` once per process and arguments: the same Classifier, compiled once.

    ``weights``: the weight file of a ``"keras:<Application>"``; ``input_size``: the image size of
    a ``"torch:package.module:factory"`` returning a bare module; ``scaling``: ``(scale, mean, std)``
    of such a module's preprocessing (:func:`limetheory.nets.torch_adapter.scaling`).
    """
    options = {k: v for k, v in (("weights", weights), ("input_size", input_size)) if v is not None}
    if scaling is not None:
        scale, mean, std = scaling
        options["preprocess"] = torch_scaling(scale, mean, std)
    return load(name, **options)


def _keras_names() -> tuple:
    return tuple(KERAS_APPLICATIONS)
