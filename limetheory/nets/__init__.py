"""Networks that LIME and integrated gradients can both use: bundled JAX networks and adapters.

Every way in returns the one network type, a :class:`Classifier` (:mod:`limetheory.nets.classifier`):

- :func:`load` a network by name (:mod:`limetheory.nets.registry`: the bundled ones, a Keras
  application from a weight file, a PyTorch factory);
- :func:`from_torch` (any ``torch.nn.Module``), :func:`from_keras` (any Keras 3 model on the JAX
  backend), :func:`from_function` (a JAX or NumPy function of a batch of images).

A Classifier owns its batch function and what it returns (logits or probabilities, found by a
probe), the output explained (``"prob"``, the class's probability, by default; or ``"logit"``),
its batch size, input size and input range. ``predict(images)`` gives its output for a batch,
``scores(images, output)`` either one, ``output_fn(output)`` the single-image JAX function that
integrated gradients differentiate (``value_and_grad`` for PyTorch).

Keras models must run on Keras's JAX backend: when this package is imported before keras and
``KERAS_BACKEND`` is unset, it is set to ``"jax"`` (keras reads it once, at its first import).
"""
from __future__ import annotations

import os
import sys

from .classifier import (BACKENDS, INPUT_RANGES, OUTPUT_UNITS, OUTPUTS, Classifier, default_batch_size,
                         from_function, softmax)
from .keras_adapter import from_keras
from .registry import NETWORKS, PREFIXES, SEGMENTATION, load, load_cached, segmentation_for
from .torch_adapter import from_torch

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", "jax")

__all__ = [
    "BACKENDS", "Classifier", "INPUT_RANGES", "NETWORKS", "OUTPUTS", "OUTPUT_UNITS", "PREFIXES", "SEGMENTATION",
    "default_batch_size", "from_function", "from_keras", "from_torch", "load", "load_cached", "segmentation_for",
    "softmax",
]

