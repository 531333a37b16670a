"""Small PyTorch and Keras models standing in for a user's own (not part of the package).

Factories take no arguments, as ``limetheory explain --model torch:user_models:<factory>``
calls them; torch and keras are imported inside them only.
"""
import os
import sys
import warnings

import pytest

#: Input size of the small models.
SIZE = (12, 12)


def require(name: str):
    """``pytest.importorskip`` that fails instead of skipping in CI (env CI=true): an oracle or a
    backend that cannot be imported there is a broken install, not an optional extra."""
    if name.split(".")[0] == "keras" and "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")  # keras picks its backend when first imported
    if os.environ.get("CI", "").lower() == "true":
        import importlib

        return importlib.import_module(name)
    return pytest.importorskip(name)


def torch_tiny_cnn(n_classes: int = 5, seed: int = 0, in_features: int | None = None):
    """Conv(3->6) + BatchNorm + Softplus + Dropout + global mean + Linear: smooth, eval-sensitive.

    ``in_features``: a Flatten + Linear head for images of exactly that many pixels x 6 channels
    instead (a module that refuses other input sizes).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    nn = torch.nn
    conv = nn.Conv2d(3, 6, 3, padding=1)
    bn = nn.BatchNorm2d(6)
    head = nn.Linear(6 if in_features is None else 6 * in_features, n_classes)
    with torch.no_grad():
        for p in (conv.weight, conv.bias, head.weight, head.bias):
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        bn.running_mean.copy_(torch.randn(6, generator=g) * 0.1)
        bn.running_var.copy_(torch.rand(6, generator=g) + 0.5)
        bn.weight.copy_(torch.rand(6, generator=g) + 0.5)
    pool = nn.Flatten() if in_features is not None else nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return nn.Sequential(conv, bn, nn.Softplus(), nn.Dropout(0.5), pool, head)


def torch_fixed_size():
    """A module that only takes 12 x 12 images (Flatten + Linear head)."""
    return torch_tiny_cnn(in_features=SIZE[0] * SIZE[1])


def torch_classifier():
    """A factory returning a ready Classifier (preprocessing and class names chosen by the user)."""
    from limetheory.nets import from_torch

    return from_torch(torch_tiny_cnn(3), input_size=(64, 64), preprocess=lambda x: x / 255.0,
                      class_names=("a", "b", "c"), name="tiny")


def not_a_model():
    return "a string"


def keras_tiny_application(weights=None, input_shape=(16, 16, 3), classifier_activation="softmax", width=4):
    """A keras.applications-like constructor: conv, batch norm, pooling, Dense(10) head."""
    import keras

    assert weights is None
    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(width, 3, padding="same")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Activation("tanh")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(10, activation=classifier_activation, name="predictions")(h)
    return keras.Model(inp, out, name="tiny_application")


def preprocess_input(x):
    """The tiny application's preprocessing, as keras.applications modules have one: [-1, 1]."""
    return x / 127.5 - 1.0


def save_legacy_h5(model, path):
    """The format of the Keras applications' published weight files (HDF5, one group per layer)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f, warnings.catch_warnings():
        # keras' writers convert its variables with np.array(x, copy=False) (NumPy 2 warns)
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def save_keras3_h5(model, path):
    """The format of ``model.save_weights`` in Keras 3 (``.weights.h5``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save_weights(path)
    return path
