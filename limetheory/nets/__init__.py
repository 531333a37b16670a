"""Networks in JAX that LIME and integrated gradients can both use.

One way in: :func:`load` returns a :class:`Classifier` with

- ``predict(images)``: (N, H, W, 3) RGB images with values in [0, 255] at ``input_size``
  -> (N, n_classes) probabilities (NumPy in, NumPy out; batched and jit-compiled);
- ``logits(image)``: a JAX-differentiable function of ONE image (H, W, 3) in [0, 255]
  -> (n_classes,) logits, for integrated gradients;
- ``batch_logits(images)``: the same as a traceable JAX function of a batch (N, H, W, 3) ->
  (N, n_classes), not jitted, so it can sit inside a caller's ``jax.jit`` (LIME's fused path);
- ``class_names`` and ``input_size`` (H, W);
- ``preprocess(images)``: the network's own preprocessing, (N, H, W, 3) in [0, 255] -> its first
  layer's input (NumPy float64), or None when unknown. The paper's scripts segment this array
  (experiment 4's ``protocol="paper"``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Classifier", "NETWORKS", "load"]


@dataclass(frozen=True)
class Classifier:
    """A network ready for LIME (``predict``) and integrated gradients (``logits``)."""

    name: str
    predict: Callable
    logits: Callable
    class_names: tuple
    input_size: tuple
    batch_logits: Callable | None = None
    info: dict = field(default_factory=dict)
    preprocess: Callable | None = None

    def __call__(self, images):
        return self.predict(images)


#: name -> "module:function" building the Classifier (imported lazily).
NETWORKS = {
    "efficientnet-lite0": "limetheory.nets.efficientnet:load_efficientnet_lite0",
    "efficientnet-lite1": "limetheory.nets.efficientnet:load_efficientnet_lite1",
    "efficientnet-lite2": "limetheory.nets.efficientnet:load_efficientnet_lite2",
    "shapes-cnn": "limetheory.nets.small_cnn:load_shapes_cnn",
    "digits-cnn": "limetheory.nets.small_cnn:load_digits_cnn",
}
#: The paper's Table 1 networks trained here (limetheory.nets.vgg): "module:function:argument".
NETWORKS.update({f"{data}-{arch}": f"limetheory.nets.vgg:load_table1_net:{data}-{arch}"
                 for data in ("digits", "shapes32") for arch in ("1layer", "vgg1", "vgg2", "vgg3")})


def load(name: str, **kwargs) -> Classifier:
    """Load a network by name (see ``NETWORKS``); extra keyword arguments go to its loader."""
    if name not in NETWORKS:
        raise ValueError(f"name must be one of {sorted(NETWORKS)}, got {name!r}")
    module, func, *args = NETWORKS[name].split(":")
    return getattr(importlib.import_module(module), func)(*args, **kwargs)
