"""The paper's Table 1 networks (a one-layer dense model, VGG1, VGG2, VGG3), trained here.

The paper trains them on CIFAR-10 (32 x 32 RGB, 10 classes), which cannot be downloaded here.
The same architectures and optimiser settings are trained on the bundled data at the same
input geometry, 32 x 32 x 3: scikit-learn's digits (:func:`limetheory.data.load_digits_rgb`,
10 classes) and drawn shapes (:func:`limetheory.data.make_shapes` at ``size=32``, 3 classes).
The dense layers after flattening grow with the input area, so 32 x 32 also keeps the stored
weights small. Eight networks: ``{digits, shapes32}-{1layer, vgg1, vgg2, vgg3}``.

Architectures (facts from the authors' ``utils/cifar10.py``; inputs ``x = image / 255``)::

    1layer:  dense 3 -> 32 on every pixel, sigmoid  -> flatten (H W 32) -> dense -> softmax
    vggB:    B blocks [conv 3x3 SAME, ReLU -> conv 3x3 SAME, ReLU -> 2x2 max pool],
             32, 64, 128 filters in blocks 1, 2, 3  -> flatten -> dense 128, ReLU -> dense -> softmax

Initialisation as Keras does it: He-uniform ``U(+-sqrt(6 / fan_in))`` for the convolutions and
the 128-unit dense layer, Glorot-uniform ``U(+-sqrt(6 / (fan_in + fan_out)))`` for the others,
zero biases. Training as the authors' ``train_model.py``: 15 epochs of SGD with learning rate
0.001 and momentum 0.9 (``v <- 0.9 v + g``, ``w <- w - 0.001 v``: Keras' and optax's SGD
agree), mini-batches of 64 reshuffled every epoch with the last, shorter batch kept, mean
softmax cross-entropy, and the last 10 % of the training arrays held out as Keras'
``validation_split=0.1`` does (monitored, never trained on). The held-out test set is the
same as the small CNNs' (digits: the 450-image test split; shapes: 1000 images of seed 2).

The stored weights are float16 (``limetheory/nets/weights/<name>.npz``); the recorded
accuracies are those of the stored, rounded weights.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..validation import check_choice, check_int
from .classifier import Classifier
from .small_cnn import (WEIGHTS_DIR, training_main, evaluate, library_versions, load_data,
                        load_weights, make_classifier, save_weights)

__all__ = ["ARCHITECTURES", "DATASETS", "NAMES", "TrainSettings", "PAPER", "init_params", "apply", "preprocess",
           "train", "train_net", "load_table1_net", "main"]

#: architecture -> filters of its VGG blocks (two convolutions each); "1layer" has none.
ARCHITECTURES = {"1layer": (), "vgg1": (32,), "vgg2": (32, 64), "vgg3": (32, 64, 128)}

#: dataset -> (data spec for :func:`limetheory.nets.small_cnn.load_data`, class names).
DATASETS = {
    "digits": ({"kind": "digits", "size": 32, "test_size": 0.25, "split_seed": 0},
               tuple(str(k) for k in range(10))),
    "shapes32": ({"kind": "shapes", "size": 32, "n_train": 4000, "train_seed": 1,
                  "n_test": 1000, "test_seed": 2}, ("circle", "square", "triangle")),
}

NAMES = tuple(f"{d}-{a}" for d in DATASETS for a in ARCHITECTURES)

HIDDEN_1LAYER = 32  # units of the per-pixel sigmoid layer
HIDDEN_VGG = 128  # units of the dense layer after the VGG blocks
INPUT_SIZE = (32, 32)


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser settings of one training run."""

    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 1e-3
    momentum: float = 0.9
    validation_split: float = 0.1


#: The authors' settings (train_model.py and utils/cifar10.py).
PAPER = TrainSettings()


def _split(name: str) -> tuple:
    check_choice(name, "name", NAMES)
    dataset, arch = name.split("-")
    return dataset, arch


# --------------------------------------------------------------------------- the networks
def init_params(seed, arch: str, n_classes: int, input_size=INPUT_SIZE) -> dict:
    """Keras-style initial parameters (float32) of ``arch`` drawn from ``default_rng(seed)``.

    He-uniform ``U(-a, a)``, ``a = sqrt(6 / fan_in)``, for convolutions and the hidden dense
    layer of the VGG nets; Glorot-uniform ``a = sqrt(6 / (fan_in + fan_out))`` for the
    per-pixel layer of "1layer" and every output layer; zero biases.
    """
    check_choice(arch, "arch", ARCHITECTURES)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def layer(shape, fan_in, fan_out, he):
        a = np.sqrt(6.0 / (fan_in if he else fan_in + fan_out))
        return {"w": rng.uniform(-a, a, size=shape).astype(np.float32),
                "b": np.zeros(shape[-1], np.float32)}

    h, w = input_size
    if arch == "1layer":
        flat = h * w * HIDDEN_1LAYER
        return {"pixel": layer((3, HIDDEN_1LAYER), 3, HIDDEN_1LAYER, he=False),
                "out": layer((flat, n_classes), flat, n_classes, he=False)}
    params, c_in = {}, 3
    for i, c in enumerate(ARCHITECTURES[arch]):
        params[f"conv{i}a"] = layer((3, 3, c_in, c), 9 * c_in, 9 * c, he=True)
        params[f"conv{i}b"] = layer((3, 3, c, c), 9 * c, 9 * c, he=True)
        c_in = c
        h, w = h // 2, w // 2
    flat = h * w * c_in
    params["hidden"] = layer((flat, HIDDEN_VGG), flat, HIDDEN_VGG, he=True)
    params["out"] = layer((HIDDEN_VGG, n_classes), HIDDEN_VGG, n_classes, he=False)
    return params


def _conv_relu(x, p):
    y = jax.lax.conv_general_dilated(x, p["w"].astype(x.dtype), (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(y + p["b"])


def _max_pool2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def preprocess(images):
    """The networks' input ``x = images / 255``: NumPy in, NumPy float64 out; JAX in, JAX out."""
    if not isinstance(images, jax.Array):
        return np.asarray(images, dtype=np.float64) / 255.0
    return images / 255.0


def apply(params: dict, images):
    """Logits (N, n_classes) of images (N, H, W, 3) in [0, 255]; pure, jit/grad/vmap-able.

    ``x = images / 255`` (:func:`preprocess`); the architecture is read from the parameter names
    (see the module docstring). Flattening is row-major over (H, W, C), as Keras' ``Flatten`` on NHWC.
    """
    x = preprocess(jnp.asarray(images))
    if "pixel" in params:
        x = jax.nn.sigmoid(x @ params["pixel"]["w"] + params["pixel"]["b"])
    else:
        i = 0
        while f"conv{i}a" in params:
            x = _max_pool2(_conv_relu(_conv_relu(x, params[f"conv{i}a"]), params[f"conv{i}b"]))
            i += 1
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ params["hidden"]["w"] + params["hidden"]["b"])
    x = x.reshape(x.shape[0], -1)
    return x @ params["out"]["w"] + params["out"]["b"]


# --------------------------------------------------------------------------- training
def _loss(params, images, labels):
    return optax.softmax_cross_entropy_with_integer_labels(apply(params, images), labels).mean()


@functools.lru_cache(maxsize=None)
def _sgd_step(learning_rate: float, momentum: float):
    """One jitted step of SGD with (heavy-ball) momentum, ``optax.sgd``."""
    tx = optax.sgd(learning_rate, momentum=momentum)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(_loss)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return tx, step


def train(arch: str, images, labels, n_classes: int, *, settings: TrainSettings = PAPER, seed: int = 0,
          max_steps: int | None = None, progress: bool = True):
    """Train ``arch`` on ``images`` (N, 32, 32, 3) in [0, 255] with integer ``labels``.

    Minimises the mean softmax cross-entropy over mini-batches of ``settings.batch_size``,
    reshuffled every epoch, the last shorter batch kept (Keras' ``fit``), by SGD with
    momentum. ``default_rng(seed).spawn(2)`` gives the initialisation stream and the
    shuffling stream. The caller removes any validation part beforehand.

    Returns
    -------
    params : dict of NumPy float32 arrays
    losses : ndarray (n_steps,)
        Loss of every mini-batch before its update.
    """
    from tqdm import tqdm

    check_choice(arch, "arch", ARCHITECTURES)
    seed = check_int(seed, "seed", minimum=0)
    if max_steps is not None:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.int32)
    if images.ndim != 4 or images.shape[1:] != (*INPUT_SIZE, 3):
        raise ValueError(f"images must have shape (N, 32, 32, 3), got {images.shape}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
    init_rng, rng = np.random.default_rng(seed).spawn(2)
    params = init_params(init_rng, arch, n_classes)
    tx, step = _sgd_step(settings.learning_rate, settings.momentum)
    state = tx.init(params)
    n, bs = images.shape[0], settings.batch_size
    per_epoch = -(-n // bs)
    total = settings.epochs * per_epoch if max_steps is None else min(settings.epochs * per_epoch, max_steps)
    losses = []
    with tqdm(total=total, desc=f"training {arch}", disable=not progress, unit="step") as bar:
        while len(losses) < total:
            order = rng.permutation(n)
            for b in range(per_epoch):
                if len(losses) >= total:
                    break
                idx = order[b * bs:(b + 1) * bs]
                params, state, loss = step(params, state, images[idx], labels[idx])
                losses.append(float(loss))
                bar.update(1)
    return jax.tree_util.tree_map(np.asarray, params), np.asarray(losses)


def _round_to_stored(params: dict, dtype=np.float16) -> dict:
    """The parameters as they will be read back from storage (float16, returned as float32)."""
    return jax.tree_util.tree_map(lambda v: np.asarray(v, dtype).astype(np.float32), params)


def train_net(name: str, *, settings: TrainSettings = PAPER, seed: int = 0, progress: bool = True,
              out=None):
    """Train network ``name`` (e.g. "digits-vgg2") on its data, measure, save float16 weights.

    Returns ``(params, meta)``: the stored (float16-rounded) parameters and the metadata
    (held-out, validation and training accuracies of the rounded weights, settings, seed,
    time, versions). ``out``: the .npz path (default ``WEIGHTS_DIR / f"{name}.npz"``),
    ``False`` not to save.
    """
    dataset, arch = _split(name)
    data_spec, class_names = DATASETS[dataset]
    x_all, y_all = load_data(data_spec, "train")
    x_te, y_te = load_data(data_spec, "test")
    cut = int(len(y_all) * (1.0 - settings.validation_split))  # Keras: the last 10 % validate
    x_tr, y_tr, x_va, y_va = x_all[:cut], y_all[:cut], x_all[cut:], y_all[cut:]
    t0 = time.perf_counter()
    params, losses = train(arch, x_tr, y_tr, len(class_names), settings=settings, seed=seed,
                           progress=progress)
    seconds = time.perf_counter() - t0
    params = _round_to_stored(params)
    acc = functools.partial(evaluate, params, forward=apply)
    meta = {
        "name": name, "architecture": arch, "seed": int(seed),
        "heldout_accuracy": acc(x_te, y_te), "n_heldout": int(len(y_te)),
        "validation_accuracy": acc(x_va, y_va) if len(y_va) else None, "n_validation": int(len(y_va)),
        "train_accuracy": acc(x_tr, y_tr), "n_train": int(len(y_tr)),
        "final_train_loss": float(np.mean(losses[-(-len(y_tr) // settings.batch_size):])),  # last epoch
        "n_steps": int(len(losses)), "train_seconds": round(seconds, 1), "cpu_count": os.cpu_count(),
        "input_size": list(INPUT_SIZE), "class_names": list(class_names),
        "settings": settings.__dict__, "optimizer": "sgd with momentum (optax.sgd)",
        "input_scaling": "x = image / 255", "stored_dtype": "float16",
        "data": data_spec, "versions": library_versions(),
    }
    if out is not False:
        save_weights(WEIGHTS_DIR / f"{name}.npz" if out is None else out, params, meta, dtype=np.float16)
    return params, meta


# --------------------------------------------------------------------------- Classifier
def load_table1_net(name: str, path=None, batch_size: int | None = None) -> Classifier:
    """The stored network ``name`` (one of :data:`NAMES`) as a Classifier.

    ``predict``: (N, 32, 32, 3) RGB in [0, 255] -> (N, K) float64 softmax probabilities;
    ``logits`` / ``batch_logits``: JAX functions of one image / a batch. ``info`` holds the
    stored metadata (accuracies, seed, settings, versions, how to rebuild the data).
    """
    _split(name)
    path = WEIGHTS_DIR / f"{name}.npz" if path is None else path
    if not os.path.exists(path):
        raise FileNotFoundError(f"no stored weights at {path}; train them with "
                                f"`python -m limetheory.nets.vgg --train {name}`")
    params, meta = load_weights(path)
    return make_classifier(params, name=name, class_names=meta["class_names"], input_size=meta["input_size"],
                           info=meta, batch_size=batch_size, forward=apply, preprocess=preprocess)


# --------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    return training_main(
        argv, prog="python -m limetheory.nets.vgg", description="Train the paper's Table 1 networks on digits and shapes.",
        names=NAMES, train=train_net,
        summary=lambda name, meta: (f"{name}: held-out {meta['heldout_accuracy']:.4f} ({meta['n_heldout']}), validation "
                                    f"{meta['validation_accuracy']:.4f}, train {meta['train_accuracy']:.4f}, "
                                    f"{meta['train_seconds']:.0f} s"),
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
