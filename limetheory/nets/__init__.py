"""Networks that LIME and integrated gradients can both use: bundled JAX networks and adapters.

One way in: :func:`load` (a bundled network by name, a Keras application from a weight file, a
PyTorch factory), :func:`from_torch` (any ``torch.nn.Module``) or :func:`from_keras` (any Keras 3
model on the JAX backend) return a :class:`Classifier` with

- ``predict(images)``: (N, H, W, C) images at ``input_size`` -> (N, n_classes) probabilities
  (NumPy in, NumPy out; batched, ``batch_size`` images per model call);
- ``logits(image)``: ONE image (H, W, C) -> (n_classes,) logits;
- ``batch_logits(images)``: the same for a batch (N, H, W, C) -> (N, n_classes);
- ``class_names``, ``input_size`` (H, W) and ``batch_size`` (images per model call, the size
  :func:`limetheory.explain` uses when it is given the Classifier as its model);
- ``preprocess(images)``: the network's own preprocessing, (N, H, W, 3) in [0, 255] -> its first
  layer's input (NumPy float64), or None when unknown. The paper's scripts segment this array
  (experiment 4's ``protocol="paper"``).

``backend`` says what ``logits`` and ``batch_logits`` are. ``"jax"`` (the bundled networks and
Keras models): pure JAX functions, differentiable, ``batch_logits`` traceable inside a caller's
``jax.jit`` (LIME's fused path), so integrated gradients run through ``jax.grad``. ``"torch"``:
NumPy in and out, and ``value_and_grad(images, target, output, dtype)`` gives the scores of class
``target`` and their gradients with respect to the images through ``torch.autograd`` (what
:func:`limetheory.gradients.integrated_gradients` uses for such a model).
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["BACKENDS", "Classifier", "NETWORKS", "check_images", "from_keras", "from_torch", "load"]

#: What ``Classifier.logits`` can be: a pure JAX function, or NumPy in and out (PyTorch).
BACKENDS = ("jax", "torch")


@dataclass(frozen=True)
class Classifier:
    """A network ready for LIME (``predict``) and integrated gradients (``logits``).

    Attributes
    ----------
    name : str
    predict : callable, NumPy (N, H, W, C) -> NumPy (N, n_classes) probabilities.
    logits : callable, one image (H, W, C) -> (n_classes,) logits (a JAX function for
        ``backend="jax"``, NumPy in and out otherwise).
    class_names : tuple of str;  input_size : (H, W).
    batch_logits : callable or None, the logits of a batch (traceable JAX for ``backend="jax"``).
    info : dict, how the network was built.
    batch_size : int or None
        Images per model call that the network prefers (:func:`limetheory.explain` uses it when
        it is passed the Classifier and no ``batch_size``).
    backend : {"jax", "torch"}
    value_and_grad : callable or None
        For a non-JAX backend: ``value_and_grad(images, target, output="logit", dtype="float32")
        -> (values (N,), gradients (N, H, W, C))``, NumPy float64, where ``values`` are the
        logits (``output="logit"``) or softmax probabilities (``"prob"``) of class ``target``.
    """

    name: str
    predict: Callable
    logits: Callable
    class_names: tuple
    input_size: tuple
    batch_logits: Callable | None = None
    info: dict = field(default_factory=dict)
    preprocess: Callable | None = None
    batch_size: int | None = None
    backend: str = "jax"
    value_and_grad: Callable | None = None

    def __call__(self, images):
        return self.predict(images)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def scores(self, images, output: str = "prob") -> np.ndarray:
        """NumPy float64 (N, n_classes): softmax probabilities (``"prob"``) or logits (``"logit"``).

        Logits of a JAX network are computed by one jit-compiled ``batch_logits`` (or ``vmap``
        of ``logits``) per network, ``batch_size`` images at a time.
        """
        from ..validation import check_choice

        check_choice(output, "output", ("prob", "logit"))
        if output == "prob":
            return np.asarray(self.predict(images), dtype=np.float64)
        if self.backend != "jax":
            return np.asarray(self.batch_logits(images), dtype=np.float64)
        x = check_images(images, self.input_size)
        run = _jitted_batch(self.batch_logits, self.logits)
        bs = self.batch_size or 32
        parts = [np.asarray(run(x[s:s + bs]), dtype=np.float64) for s in range(0, x.shape[0], bs)]
        return np.concatenate(parts, axis=0) if parts else np.empty((0, self.n_classes))


@functools.lru_cache(maxsize=32)
def _jitted_batch(batch_logits, logits):
    """``jax.jit`` of a JAX network's batch logits (compiled once per network)."""
    import jax

    return jax.jit(batch_logits if batch_logits is not None else jax.vmap(logits))


def check_images(images, input_size, name: str = "images") -> np.ndarray:
    """``images`` as a float32 array (N, H, W, C) at ``input_size`` = (H, W), finite.

    Raises
    ------
    TypeError : not real numbers.  ValueError : another shape, NaN or infinite values.
    """
    arr = np.asarray(images)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    h, w = input_size
    if arr.ndim != 4 or arr.shape[1:3] != (h, w):
        raise ValueError(f"{name} must have shape (N, {h}, {w}, C), got {arr.shape}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


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

#: Prefixes of the names :func:`load` hands to an adapter: "keras:<Application>", "torch:<module>:<factory>".
PREFIXES = {
    "keras": "limetheory.nets.keras_adapter:load_keras_application",
    "torch": "limetheory.nets.torch_adapter:load_torch_factory",
}


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


def _keras_names() -> tuple:
    from .keras_adapter import KERAS_APPLICATIONS  # light: keras itself is imported on use only

    return tuple(KERAS_APPLICATIONS)


def from_torch(module, *, input_size, preprocess=None, class_names=None, device=None, batch_size=None,
               name=None) -> Classifier:
    """A ``torch.nn.Module`` as a Classifier (see :func:`limetheory.nets.torch_adapter.from_torch`)."""
    from .torch_adapter import from_torch as _from_torch

    return _from_torch(module, input_size=input_size, preprocess=preprocess, class_names=class_names,
                       device=device, batch_size=batch_size, name=name)


def from_keras(model, *, preprocess=None, class_names=None, batch_size=None, name=None) -> Classifier:
    """A Keras 3 model (JAX backend) as a Classifier (see :func:`limetheory.nets.keras_adapter.from_keras`)."""
    from .keras_adapter import from_keras as _from_keras

    return _from_keras(model, preprocess=preprocess, class_names=class_names, batch_size=batch_size, name=name)
