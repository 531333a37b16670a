"""Keras 3 models (JAX backend) as :class:`~limetheory.nets.Classifier`, and the paper's ImageNet
networks built from the weight file the user has.

A Keras model on the JAX backend is a pure JAX function of its variables through
``model.stateless_call(trainable, non_trainable, x, training=False)``. :func:`from_keras` closes
that call over the model's current variable values, so its batch function is a plain JAX
function: integrated gradients (``jax.grad``), LIME's fused path and ``jax.jit`` apply to it.

Logits. Keras applications and most classifiers end in a softmax. The logits ``z`` are taken
where the softmax is applied, in a ``Sequential`` or functional model (also one whose last layer
is such a model):

- last layer ``Dense(K, activation="softmax")``: ``z = h W + b`` with ``h`` the Dense layer's
  input (the model up to that layer, run statelessly) and ``W, b`` its kernel and bias;
- last layer ``Softmax`` or ``Activation("softmax")``: ``z`` is that layer's input.

Any other model is run as it is, and its outputs are probabilities when the probe finds rows that
are non-negative and sum to 1 (a softmax the adapter cannot see into: used as such, its
probability explained), logits otherwise. Keras is imported only when an adapter is built; it
must run on the JAX backend: :mod:`limetheory.nets` sets ``KERAS_BACKEND=jax`` when it is
imported before keras and the variable is unset; otherwise set it before keras is first imported.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from ..validation import check_size
from .classifier import Classifier, from_function
from .imagenet import imagenet_class_names

__all__ = ["KERAS_APPLICATIONS", "from_keras", "keras_backend", "load_keras_application"]

#: The paper's ImageNet networks: name -> (module holding the constructor and its
#: ``preprocess_input``, constructor, input size).
KERAS_APPLICATIONS = {
    "MobileNetV2": ("keras.applications.mobilenet_v2", "MobileNetV2", (224, 224)),
    "DenseNet121": ("keras.applications.densenet", "DenseNet121", (224, 224)),
    "InceptionV3": ("keras.applications.inception_v3", "InceptionV3", (299, 299)),
}

_BACKEND_FIX = ("set the environment variable KERAS_BACKEND=jax before keras is first imported "
                "(or import limetheory before keras)")


def keras_backend():
    """The ``keras`` module, on the JAX backend (set before the first import), or a clear error."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise ImportError(
            f"Keras models need keras 3 on the JAX backend: pip install 'limetheory[keras]' and {_BACKEND_FIX} "
            f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}; {type(exc).__name__}: {exc})"
        ) from exc
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(f"Keras runs on the {backend!r} backend; limetheory needs 'jax': {_BACKEND_FIX}")
    return keras


def _is_softmax(keras, layer) -> bool:
    act = getattr(layer, "activation", None)
    return act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax"


def _input_shape(model) -> tuple:
    return tuple(getattr(model, "input_shape", ()) or ())


def _upto_last(keras, model):
    """The model without its last layer, as a model of the same input."""
    if isinstance(model, keras.Sequential):
        return keras.Sequential([keras.Input(_input_shape(model)[1:])] + list(model.layers[:-1]))
    return keras.Model(model.inputs, model.layers[-1].input)


def _pre_softmax(keras, model):
    """``(body, dense)``: a model whose outputs are the logits (``dense`` None) or the features ``h``
    that the softmax Dense layer ``dense`` maps to logits ``h W + b``; None where no softmax ends
    the model or its graph cannot be cut (a subclassed model)."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    if last is None:
        return None
    if isinstance(last, keras.Model):  # a model ending in a model: cut inside the inner one
        inner = _pre_softmax(keras, last)
        if inner is None:
            return None
        try:
            outer = _upto_last(keras, model)
            x = keras.Input(_input_shape(model)[1:])
            return keras.Model(x, inner[0](outer(x))), inner[1]
        except Exception:
            return None
    dense = isinstance(last, keras.layers.Dense) and _is_softmax(keras, last)
    layer = isinstance(last, keras.layers.Softmax) or (isinstance(last, keras.layers.Activation)
                                                       and _is_softmax(keras, last))
    if not (dense or layer):
        return None
    try:
        return _upto_last(keras, model), (last if dense else None)
    except Exception:
        return None


def _pure_scores(keras, model, preprocess):
    """``(batch_fn, returns)``: a pure JAX function of an (N, H, W, C) batch and "logit" where the
    pre-softmax values were reached, "auto" (the probe decides) otherwise."""
    parts = _pre_softmax(keras, model)
    body, dense = (model, None) if parts is None else parts
    trainable = [v.value for v in body.trainable_variables]
    frozen = [v.value for v in body.non_trainable_variables]
    kernel = None if dense is None else dense.kernel.value
    bias = 0.0 if dense is None or not dense.use_bias else dense.bias.value

    def batch_fn(images):
        x = images if preprocess is None else preprocess(images)
        out, _ = body.stateless_call(trainable, frozen, x, training=False)
        return out if dense is None else out @ kernel + bias

    return batch_fn, ("auto" if parts is None else "logit")


def from_keras(model, *, preprocess=None, class_names=None, batch_size: int | None = None,
               name: str | None = None, output: str = "prob", input_range=(0, 255), input_size=None) -> Classifier:
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
        Images per jit call (default :func:`limetheory.nets.default_batch_size`).
    name : str or None (default: the model's name).
    output : {"prob", "logit"};  input_range : (0, 255) or (0, 1)
        See :func:`limetheory.nets.from_function`.
    input_size : (H, W) or None
        For a model that does not record its input shape (a subclassed ``keras.Model``): the
        image size it takes (3 channels). None: the model's own.

    Returns
    -------
    Classifier with ``backend="jax"``: its batch function is a pure JAX function of the images
    (the variables are fixed at their values now; re-wrap after training further).
    """
    keras = keras_backend()
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be callable or None, got {type(preprocess).__name__}")
    shape = _input_shape(model)
    if input_size is not None:
        size = check_size(input_size, "input_size")
        if shape and tuple(shape[1:3]) != size:
            raise ValueError(f"input_size {size} differs from the model's input shape {shape}")
        shape = (None, *size, shape[3] if shape else 3)
    if len(shape) != 4 or not all(isinstance(n, int) for n in shape[1:]):
        raise ValueError(f"model must take images of a fixed size (None, H, W, C), got input shape {shape} "
                         "(a subclassed model: pass input_size=(H, W))")
    batch_fn, returns = _pure_scores(keras, model, preprocess)
    return from_function(batch_fn, name=name if name is not None else model.name, returns=returns,
                         class_names=class_names, input_size=shape[1:3], n_channels=shape[3], batch_size=batch_size,
                         output=output, input_range=input_range, info={"backend": "keras-jax", "model": model.name})


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
        class_names = imagenet_class_names("original")
    clf = from_keras(model, preprocess=module.preprocess_input, class_names=class_names, batch_size=batch_size,
                     name=f"keras:{name}")
    clf.info.update({"weights": str(path), "input_size": size, **options})
    return clf
