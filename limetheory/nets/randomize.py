"""Model randomisation for sanity checks (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

A network's parameters are a pytree ``{layer: {"w": ..., "b": ...}}`` (:mod:`limetheory.nets.small_cnn`,
:mod:`limetheory.nets.vgg`). Randomising a set of layers replaces their weights and biases by
those of a freshly initialised network of the same architecture, drawn by the network's own
initialiser (He normal for the small CNNs, Keras' He / Glorot uniform for the Table 1 networks):

- :func:`layer_order`: the layers from input to output;
- :func:`reinitialized`: a fresh network of the same architecture from a seed;
- :func:`randomize_layers`: the trained parameters with some layers taken from the fresh ones;
- :func:`cascading_steps` (top layer first, then the one below it too, ...) and
  :func:`independent_steps` (each layer alone): the randomisation schedules of the sanity check.
"""
from __future__ import annotations

import re

import numpy as np

from . import small_cnn, vgg

__all__ = ["cascading_steps", "independent_steps", "layer_order", "randomize_layers", "reinitialized"]

_CONV = re.compile(r"^conv(\d+)([ab]?)$")


def _layer_rank(name: str) -> tuple:
    """Position of a layer between input and output: per-pixel layer, convolutions by index (a
    before b), the hidden dense layer, the output layer."""
    if name == "pixel":
        return (0, 0, "")
    m = _CONV.match(name)
    if m:
        return (1, int(m.group(1)), m.group(2))
    if name == "hidden":
        return (2, 0, "")
    if name in ("dense", "out"):
        return (3, 0, "")
    raise ValueError(f"params holds a layer {name!r} of no known network (small_cnn or vgg)")


def layer_order(params: dict) -> list:
    """The layer names of a small CNN or Table 1 network's parameters, from input to output."""
    if not isinstance(params, dict) or not params:
        raise TypeError(f"params must be a non-empty dict {{layer: {{'w', 'b'}}}}, got {type(params).__name__}")
    return sorted(params, key=_layer_rank)


def reinitialized(params: dict, seed) -> dict:
    """Fresh parameters of ``params``' architecture, drawn by its network's initialiser from ``seed``.

    A small CNN (layers ``conv<i>`` and ``dense``): :func:`limetheory.nets.small_cnn.init_params`
    with the widths and class count read from the shapes; a Table 1 network (``pixel``/``out`` or
    ``conv<i>a``, ``conv<i>b``, ``hidden``, ``out``): :func:`limetheory.nets.vgg.init_params` of
    its architecture. ``seed``: an int, a SeedSequence or a Generator.
    """
    order = layer_order(params)
    n_classes = int(np.shape(params[order[-1]]["w"])[-1])
    if "dense" in params:
        widths = [int(np.shape(params[k]["w"])[-1]) for k in order[:-1]]
        in_channels = int(np.shape(params[order[0]]["w"])[2])
        return small_cnn.init_params(seed, widths, n_classes, in_channels)
    n_blocks = sum(1 for k in order if k.endswith("a") and k.startswith("conv"))
    arch = "1layer" if "pixel" in params else f"vgg{n_blocks}"
    if arch not in vgg.ARCHITECTURES:
        raise ValueError(f"params has {n_blocks} VGG blocks: no Table 1 architecture")
    return vgg.init_params(seed, arch, n_classes, vgg.INPUT_SIZE)


def randomize_layers(params: dict, fresh: dict, layers) -> dict:
    """``params`` with every layer in ``layers`` (weights and bias) replaced by ``fresh``'s.

    A new dict; the arrays are shared, not copied. ValueError naming a layer that either lacks or
    whose shapes differ between the two.
    """
    layers = list(layers)
    for name in layers:
        if name not in params or name not in fresh:
            raise ValueError(f"layers: {name!r} is not a layer of both networks ({layer_order(params)})")
        for key, value in params[name].items():
            if np.shape(fresh[name][key]) != np.shape(value):
                raise ValueError(f"layers: {name}/{key} has shape {np.shape(value)} in params but "
                                 f"{np.shape(fresh[name][key])} in fresh")
    return {name: (fresh[name] if name in layers else value) for name, value in params.items()}


def cascading_steps(order) -> list:
    """Adebayo's cascading randomisation: step s randomises the top s layers, s = 1..L.

    ``[(order[-1],), (order[-2], order[-1]), ..., tuple(order)]`` for ``order`` from input to output.
    """
    order = list(order)
    return [tuple(order[len(order) - s:]) for s in range(1, len(order) + 1)]


def independent_steps(order) -> list:
    """Independent randomisation: each layer alone, top layer first: ``[(order[-1],), ..., (order[0],)]``."""
    return [(name,) for name in reversed(list(order))]
