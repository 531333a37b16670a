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
from .registry import NETWORKS, PREFIXES, SEGMENTATION, load, load_cached, segmentation_for

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", "jax")

__all__ = [
    "BACKENDS", "Classifier", "INPUT_RANGES", "NETWORKS", "OUTPUTS", "OUTPUT_UNITS", "PREFIXES", "SEGMENTATION",
    "default_batch_size", "from_function", "from_keras", "from_torch", "load", "load_cached", "segmentation_for",
    "softmax",
]


def from_torch(module, *, input_size, preprocess=None, class_names=None, device=None, batch_size=None,
               name=None, output="prob", input_range=(0, 255)) -> Classifier:
    """A ``torch.nn.Module`` as a Classifier (see :func:`limetheory.nets.torch_adapter.from_torch`)."""
    from .torch_adapter import from_torch as _from_torch

    return _from_torch(module, input_size=input_size, preprocess=preprocess, class_names=class_names,
                       device=device, batch_size=batch_size, name=name, output=output, input_range=input_range)


def from_keras(model, *, preprocess=None, class_names=None, batch_size=None, name=None, output="prob",
               input_range=(0, 255), input_size=None) -> Classifier:
    """A Keras 3 model (JAX backend) as a Classifier (see :func:`limetheory.nets.keras_adapter.from_keras`)."""
    from .keras_adapter import from_keras as _from_keras

    return _from_keras(model, preprocess=preprocess, class_names=class_names, batch_size=batch_size, name=name,
                       output=output, input_range=input_range, input_size=input_size)
