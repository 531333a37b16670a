"""Keras 3 models (JAX backend) as :class:`~limetheory.nets.Classifier`, and the paper's ImageNet
networks built from the weight file the user has.

A Keras model on the JAX backend is a pure JAX function of its variables through
``model.stateless_call(trainable, non_trainable, x, training=False)``. :func:`from_keras` closes
that call over the model's current variable values, so ``logits`` and ``batch_logits`` are plain
JAX functions: integrated gradients (``jax.grad``), LIME's fused path and ``jax.jit`` apply to
them unchanged.

Logits. Keras applications and most classifiers end in a softmax. The logits ``z`` are taken
where the softmax is applied:

- last layer ``Dense(K, activation="softmax")``: ``z = h W + b`` with ``h`` the Dense layer's
  input (the model up to that layer, run statelessly) and ``W, b`` its kernel and bias;
- last layer ``Softmax`` or ``Activation("softmax")``: ``z`` is that layer's input;
- otherwise the model's outputs are taken to be the logits (``predict`` applies the softmax).

``predict`` is ``softmax(z)``, equal to such a model's own outputs. Keras is imported only when
an adapter is built, with ``KERAS_BACKEND=jax`` set first if keras was not imported yet.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np

from ..validation import check_int, check_size
from . import Classifier, check_images

__all__ = ["DEFAULT_BATCH_SIZE", "KERAS_APPLICATIONS", "from_keras", "keras_backend", "load_keras_application"]

#: Images per model call when ``batch_size=None``: on JAX's CPU backend, on an accelerator.
DEFAULT_BATCH_SIZE = {"cpu": 32, "accelerator": 128}

#: The paper's ImageNet networks: name -> (module holding the constructor and its
#: ``preprocess_input``, constructor, input size).
KERAS_APPLICATIONS = {
    "MobileNetV2": ("keras.applications.mobilenet_v2", "MobileNetV2", (224, 224)),
    "DenseNet121": ("keras.applications.densenet", "DenseNet121", (224, 224)),
    "InceptionV3": ("keras.applications.inception_v3", "InceptionV3", (299, 299)),
}


def keras_backend():
    """The ``keras`` module, on the JAX backend (set before the first import), or a clear error."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise ImportError(
            f"Keras models need keras 3 on the JAX backend: pip install 'limetheory[keras]' "
            f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}; {exc})"
        ) from exc
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            f"Keras runs on the {backend!r} backend; limetheory needs 'jax': set the environment variable "
            "KERAS_BACKEND=jax before keras is first imported"
        )
    return keras


def _is_softmax(keras, layer) -> bool:
    act = getattr(layer, "activation", None)
    return act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax"


def _logits_parts(keras, model):
    """``(body, dense)``: the stateless model whose outputs are the logits (``dense`` None) or
    the features ``h`` that the softmax Dense layer ``dense`` maps to logits ``h W + b``."""
    last = model.layers[-1] if model.layers else None
    softmax_dense = isinstance(last, keras.layers.Dense) and _is_softmax(keras, last)
    softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(keras, last)
    )
    if not (softmax_dense or softmax_layer):
        return model, None
    try:
        body = keras.Model(model.input, last.input)
    except Exception as exc:
        raise ValueError(
            "model ends in a softmax, but its pre-softmax values cannot be reached (a subclassed model?): "
            "pass a model whose outputs are the logits"
        ) from exc
    return body, (last if softmax_dense else None)


def _pure_logits(keras, model, preprocess):
    """``batch_logits(images)``: a pure JAX function of an (N, H, W, C) batch."""
    body, dense = _logits_parts(keras, model)
    trainable = [v.value for v in body.trainable_variables]
    frozen = [v.value for v in body.non_trainable_variables]
    if dense is not None:
        kernel = dense.kernel.value
        bias = dense.bias.value if dense.use_bias else 0.0

    def batch_logits(images):
        x = images if preprocess is None else preprocess(images)
        out, _ = body.stateless_call(trainable, frozen, x, training=False)
        return out if dense is None else out @ kernel + bias

    return batch_logits


def _make_predict(batch_logits, input_size, batch_size):
    import jax

    probs = jax.jit(lambda x: jax.nn.softmax(batch_logits(x), axis=-1))

    def predict(images) -> np.ndarray:
        """Softmax probabilities (N, n_classes), float64, ``batch_size`` images per jit call."""
        x = check_images(images, input_size)
        parts = [np.asarray(probs(x[s:s + batch_size]), dtype=np.float64) for s in range(0, x.shape[0], batch_size)]
        return np.concatenate(parts, axis=0)

    return predict


def from_keras(model, *, preprocess=None, class_names=None, batch_size: int | None = None,
               name: str | None = None) -> Classifier:
    """Wrap a Keras 3 image classifier (JAX backend) as a :class:`~limetheory.nets.Classifier`.

    Parameters
    ----------
    model : keras.Model
        Built, with a fixed input shape (None, H, W, C) in channels-last layout; its outputs are
        class scores (see the module docstring for how its logits are found).
    preprocess : callable or None
        A JAX-traceable function of the (N, H, W, C) batch applied before the model, e.g.
        ``keras.applications.mobilenet_v2.preprocess_input``; None: the images go in unchanged.
    class_names : sequence of str or None (default "0", "1", ...).
    batch_size : int or None
        Images per jit call of ``predict`` (default 32 on CPU, 128 on an accelerator).
    name : str or None (default: the model's name).

    Returns
    -------
    Classifier with ``backend="jax"``: ``logits`` (one image, jitted) and ``batch_logits`` (a
    batch, not jitted) are pure JAX functions of the images (the variables are fixed at their
    values now; re-wrap after training further), ``predict`` their softmax as NumPy float64.
    """
    import jax

    keras = keras_backend()
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be callable or None, got {type(preprocess).__name__}")
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if len(shape) != 4 or not all(isinstance(n, int) for n in shape[1:]):
        raise ValueError(f"model must take images of a fixed size (None, H, W, C), got input shape {shape}")
    size = (int(shape[1]), int(shape[2]))
    if batch_size is None:
        bs = DEFAULT_BATCH_SIZE["cpu" if jax.default_backend() == "cpu" else "accelerator"]
    else:
        bs = check_int(batch_size, "batch_size", 1)
    batch_logits = _pure_logits(keras, model, preprocess)
    out = jax.eval_shape(batch_logits, jax.ShapeDtypeStruct((1, *size, shape[3]), np.float32))
    if len(out.shape) != 2:
        raise ValueError(f"model must return (N, n_classes) class scores, got shape {out.shape} for one image")
    n_classes = int(out.shape[1])
    names = tuple(str(k) for k in range(n_classes)) if class_names is None else tuple(map(str, class_names))
    if len(names) != n_classes:
        raise ValueError(f"class_names must have one name per class ({n_classes}), got {len(names)}")
    return Classifier(
        name=name if name is not None else model.name,
        predict=_make_predict(batch_logits, size, bs),
        logits=jax.jit(lambda image: batch_logits(image[None])[0]),
        class_names=names,
        input_size=size,
        batch_logits=batch_logits,
        info={"backend": "keras-jax", "model": model.name},
        batch_size=bs,
        backend="jax",
    )


def load_keras_application(name: str, *, weights=None, input_size=None, batch_size: int | None = None,
                           **options) -> Classifier:
    """``keras.applications.<name>`` built without weights, then loaded from the user's file.

    Parameters
    ----------
    name : {"MobileNetV2", "DenseNet121", "InceptionV3"}
    weights : path
        A weight file of that architecture: the standard Keras applications file (e.g.
        ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5``,
        ``densenet121_weights_tf_dim_ordering_tf_kernels.h5``,
        ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5``) or one written by
        ``model.save_weights`` (``.weights.h5``). Nothing is downloaded.
    input_size : (H, W) or None
        Default 224 x 224 (InceptionV3: 299 x 299), the size the ImageNet weights were trained at.
    batch_size : images per call of ``predict`` (see :func:`from_keras`).
    **options : passed to the Keras constructor (e.g. ``alpha=0.35`` for MobileNetV2).

    The network is built with ``classifier_activation=None`` (its last Dense layer gives the
    logits) and applies its own ``preprocess_input`` to images in [0, 255]; the class names are
    ImageNet's when it has 1000 classes.
    """
    if name not in KERAS_APPLICATIONS:
        raise ValueError(f"name must be 'keras:' + one of {list(KERAS_APPLICATIONS)}, got 'keras:{name}'")
    module_name, constructor, default_size = KERAS_APPLICATIONS[name]
    if weights is None:
        raise ValueError(
            f"weights: keras:{name} needs the Keras applications weight file you have (nothing is downloaded): "
            f"nets.load('keras:{name}', weights='path/to/file.h5'), or --weights FILE on the command line"
        )
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights: no such file {path}")
    size = default_size if input_size is None else check_size(input_size, "input_size")
    keras_backend()  # the JAX backend, before keras.applications is imported
    module = importlib.import_module(module_name)
    try:
        model = getattr(module, constructor)(weights=None, input_shape=(*size, 3), classifier_activation=None,
                                             **options)
    except ValueError as exc:
        raise ValueError(f"keras:{name} cannot be built with input_size={size} and {options}: {exc}") from exc
    try:
        model.load_weights(str(path))
    except Exception as exc:
        raise ValueError(f"weights: {path} does not hold the weights of keras:{name} ({type(exc).__name__}: {exc})") from exc
    n_classes = int(model.output_shape[-1])
    class_names = None
    if n_classes == 1000:
        from .imagenet import imagenet_class_names

        class_names = imagenet_class_names("original")
    clf = from_keras(model, preprocess=module.preprocess_input, class_names=class_names, batch_size=batch_size,
                     name=f"keras:{name}")
    clf.info.update({"weights": str(path), "input_size": size, **options})
    return clf
