"""Small CNNs in pure JAX, trained here with optax, for explanations with a known ground truth.

Two networks, each stored in ``limetheory/nets/weights/<name>.npz`` (so experiments never
retrain) and rebuilt reproducibly from a seed by ``python -m limetheory.nets.small_cnn --train``:

- ``shapes-cnn``: 64 x 64 RGB drawn shapes (:func:`limetheory.data.make_shapes`), 3 classes
  (circle, square, triangle); the class is decided by one object whose pixel mask is known.
- ``digits-cnn``: scikit-learn's digits upscaled to 32 x 32 RGB
  (:func:`limetheory.data.load_digits_rgb`), 10 classes.

Architecture (``widths`` channels, one block per width)::

    x = image / 127.5,  x <- x - mean_{pixels}(x)            (per image and channel)
    -> [conv 3x3 (SAME) -> GELU -> 2x2 average pool]  for every width but the last
    -> conv 3x3 (SAME) -> GELU -> log-sum-exp pool (1/r) log mean_u exp(r h_u), r = 4
    -> dense -> logits

Every stage is smooth (C-infinity): GELU instead of ReLU, average pooling instead of max
pooling, a log-sum-exp "soft max" global pool instead of a hard one. That suits integrated
gradients and the paper's linearisation of f along the path (no kinks, no max switches). The
soft-max pool lets a detector that fires on one small object dominate the pooled feature
(a mean pool dilutes it over the whole image: with it the shapes net barely learned in the
same budget), and subtracting the image mean makes the input roughly background-free.
Note for LIME: the mean subtraction is global, so replacing one superpixel shifts every
pixel's input slightly (by its share of the mean).

The parameters are a plain pytree::

    {"conv0": {"w": (3, 3, C_in, C_out), "b": (C_out,)}, ..., "dense": {"w": (C, K), "b": (K,)}}

Training: Adam with decoupled weight decay (AdamW, built from optax's ``scale_by_adam`` and
``add_decayed_weights``), a linear warm-up then cosine decay of the learning rate, softmax
cross-entropy; weights (He normal) and mini-batch order drawn from two independent streams
spawned by ``numpy.random.default_rng(seed)``. Same seed, same data, same machine -> the same
bits.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import data
from ..files import write_npz
from ..validation import check_int
from .classifier import Classifier, from_function
from .batching import batched_jit

__all__ = [
    "SPECS",
    "WEIGHTS_DIR",
    "NetSpec",
    "apply",
    "init_params",
    "load_data",
    "preprocess",
    "load_heldout",
    "load_training_data",
    "batched_logits",
    "library_versions",
    "train",
    "train_net",
    "evaluate",
    "save_weights",
    "load_weights",
    "make_classifier",
    "load_small_cnn",
    "load_shapes_cnn",
    "load_digits_cnn",
    "main",
]

#: Where the trained weights live (shipped as package data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Sharpness r of the log-sum-exp global pool (r -> 0: mean pool, r -> infinity: max pool).
LSE_SHARPNESS = 4.0


# --------------------------------------------------------------------------- the network
def init_params(seed, widths, n_classes: int, in_channels: int = 3) -> dict:
    """He-normal initial parameters (float32): conv ``w ~ N(0, 2 / (9 C_in))``, dense
    ``w ~ N(0, 1 / C)``, zero biases, drawn from ``numpy.random.default_rng(seed)`` (``seed``:
    an int, a SeedSequence or a Generator), layer by layer in order."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    params = {}
    c_in = in_channels
    for i, c_out in enumerate(widths):
        std = np.sqrt(2.0 / (9 * c_in))
        params[f"conv{i}"] = {
            "w": (std * rng.standard_normal((3, 3, c_in, c_out))).astype(np.float32),
            "b": np.zeros((c_out,), np.float32),
        }
        c_in = c_out
    params["dense"] = {
        "w": (rng.standard_normal((c_in, n_classes)) / np.sqrt(c_in)).astype(np.float32),
        "b": np.zeros((n_classes,), np.float32),
    }
    return params


def _conv(x, w, b):
    dtype = jnp.promote_types(x.dtype, w.dtype)  # float64 images (x64 enabled) -> float64 conv
    y = jax.lax.conv_general_dilated(x.astype(dtype), w.astype(dtype), window_strides=(1, 1),
                                     padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + b


def _avg_pool2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _lse_pool(x, sharpness: float = LSE_SHARPNESS):
    """Smooth global max pool over (H, W): ``(1/r) log( mean_u exp(r x_u) )``."""
    hw = x.shape[1] * x.shape[2]
    return (jax.nn.logsumexp(sharpness * x, axis=(1, 2)) - np.log(hw)) / sharpness


def preprocess(images):
    """The network's input: ``x = images / 127.5`` minus its per-image, per-channel mean.

    NumPy in (any real dtype), NumPy float64 out; JAX in, JAX out. LIME's mean-colour replacement
    keeps every superpixel's pixel sum, so the image mean, and with it this map, is the same for
    every perturbed image x(z).
    """
    if not isinstance(images, jax.Array):
        x = np.asarray(images, dtype=np.float64) / 127.5
    else:
        x = images / 127.5
    return x - x.mean(axis=(-3, -2), keepdims=True)


def apply(params: dict, images):
    """Logits of a batch: images (N, H, W, 3) with values in [0, 255] -> (N, n_classes).

    ``x = images / 127.5``, minus its per-image, per-channel mean; then the conv blocks (see the
    module docstring) and a log-sum-exp pool. A pure JAX function (jit, grad and vmap it
    freely); ``H`` and ``W`` must be divisible by ``2 ** (number of conv layers - 1)``.
    """
    n_conv = sum(1 for k in params if k.startswith("conv"))
    x = preprocess(jnp.asarray(images))
    for i in range(n_conv):
        x = jax.nn.gelu(_conv(x, params[f"conv{i}"]["w"], params[f"conv{i}"]["b"]))
        if i < n_conv - 1:
            x = _avg_pool2(x)
    return _lse_pool(x) @ params["dense"]["w"] + params["dense"]["b"]


def _loss(params, images, labels):
    logits = apply(params, images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# --------------------------------------------------------------------------- the two nets
@dataclass(frozen=True)
class NetSpec:
    """Everything that defines one network and its training run (hyper-parameters included)."""

    name: str
    widths: tuple
    input_size: tuple
    class_names: tuple
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int
    data: dict  # how to rebuild the train / held-out data (see load_training_data, load_heldout)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


SPECS = {
    "shapes": NetSpec(
        name="shapes-cnn",
        widths=(8, 16, 32, 64),
        input_size=(64, 64),
        class_names=("circle", "square", "triangle"),
        epochs=5,
        batch_size=64,
        learning_rate=3e-3,
        weight_decay=1e-4,
        warmup_steps=100,
        data={"kind": "shapes", "size": 64, "n_train": 4000, "train_seed": 1,
              "n_test": 1000, "test_seed": 2},
    ),
    "digits": NetSpec(
        name="digits-cnn",
        widths=(16, 32, 64),
        input_size=(32, 32),
        class_names=tuple(str(k) for k in range(10)),
        epochs=20,
        batch_size=32,
        learning_rate=3e-3,
        weight_decay=1e-4,
        warmup_steps=100,
        data={"kind": "digits", "size": 32, "test_size": 0.25, "split_seed": 0},
    ),
}


def _spec(which) -> NetSpec:
    if isinstance(which, NetSpec):
        return which
    if which not in SPECS:
        raise ValueError(f"which must be one of {sorted(SPECS)}, got {which!r}")
    return SPECS[which]


def load_heldout(which):
    """The held-out ``(images, labels)`` of ``which`` ("shapes" or "digits"): never trained on.

    Shapes: ``make_shapes(n_test, size, seed=test_seed)`` (its own seed, so independent of the
    training images); digits: the test part of ``load_digits_rgb``'s fixed split.
    """
    return _load_part(which, "test")


def load_training_data(which):
    """The training ``(images, labels)`` of ``which`` ("shapes" or "digits"), deterministic."""
    return _load_part(which, "train")


def _load_part(which, part: str):
    """``(images, labels)`` of the "train" or "test" part of ``which``'s data, rebuilt from its spec."""
    return load_data(_spec(which).data, part)


def load_data(spec: dict, part: str):
    """``(images, labels)`` of the "train" or "test" part of the data described by ``spec``.

    ``spec["kind"] == "shapes"``: ``make_shapes(spec["n_<part>"], size, seed=spec["<part>_seed"])``;
    ``"digits"``: that part of ``load_digits_rgb(size, test_size=..., seed=split_seed)``.
    """
    if spec["kind"] == "shapes":
        images, labels, _ = data.make_shapes(spec[f"n_{part}"], size=spec["size"], seed=spec[f"{part}_seed"])
        return images, labels
    split = data.load_digits_rgb(spec["size"], test_size=spec["test_size"], seed=spec["split_seed"])
    return getattr(split, f"{part}_images"), getattr(split, f"{part}_labels")


# --------------------------------------------------------------------------- training
def _schedule(spec: NetSpec, total_steps: int):
    """Learning rate: linear warm-up from 0 to ``spec.learning_rate``, then cosine decay to 1 %."""
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=spec.learning_rate,
        warmup_steps=min(spec.warmup_steps, max(total_steps - 1, 0)),
        decay_steps=max(total_steps, 1), end_value=spec.learning_rate * 1e-2)


_STEPS: dict = {}  # weight decay -> (transformation, jitted step), compiled once per shape


def _adamw_step(weight_decay: float):
    """AdamW with the learning rate as an argument (so one compilation serves every schedule):
    ``params <- params - lr * (adam_direction + weight_decay * params)``, i.e. ``optax.adamw``."""
    key = float(weight_decay)
    if key not in _STEPS:
        tx = optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(key))

        @jax.jit
        def step(params, state, x, y, lr):
            loss, grads = jax.value_and_grad(_loss)(params, x, y)
            updates, state = tx.update(grads, state, params)
            params = jax.tree_util.tree_map(lambda p, u: p - lr * u, params, updates)
            return params, state, loss

        _STEPS[key] = (tx, step)
    return _STEPS[key]


def train(spec, images, labels, *, seed: int = 0, epochs: int | None = None,
          max_steps: int | None = None, progress: bool = True):
    """Train ``spec``'s network on ``images`` (N, H, W, 3) in [0, 255] and integer ``labels``.

    Minimises the mean softmax cross-entropy ``-log softmax(f(x))_y`` over shuffled
    mini-batches (the last incomplete batch of an epoch is dropped) with AdamW, learning rate
    warm-up then cosine decay to 1 % of its peak.

    Parameters
    ----------
    spec : NetSpec or {"shapes", "digits"}
    images, labels : array-like
    seed : int
        ``numpy.random.default_rng(seed).spawn(2)`` gives two independent streams: the first
        initialises the weights (:func:`init_params`), the second shuffles the mini-batches.
    epochs : int, optional
        Overrides ``spec.epochs``.
    max_steps : int, optional
        Stop after this many optimisation steps (for quick tests).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    params : dict
        The trained parameter pytree (NumPy float32 arrays).
    losses : ndarray (n_steps,)
        Training loss of every mini-batch, before its update.
    """
    from tqdm import tqdm

    spec = _spec(spec)
    seed = check_int(seed, "seed", minimum=0)
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int32)
    if images.ndim != 4 or images.shape[1:] != tuple(spec.input_size) + (3,):
        raise ValueError(f"images must have shape (N, {spec.input_size[0]}, {spec.input_size[1]}, 3), "
                         f"got {images.shape}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
    epochs = check_int(spec.epochs if epochs is None else epochs, "epochs", minimum=1)
    if max_steps is not None:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
    n = images.shape[0]
    bs = min(spec.batch_size, n)
    per_epoch = n // bs
    total = epochs * per_epoch if max_steps is None else min(epochs * per_epoch, int(max_steps))
    init_rng, rng = np.random.default_rng(int(seed)).spawn(2)  # independent streams
    params = init_params(init_rng, spec.widths, spec.n_classes)
    tx, step = _adamw_step(spec.weight_decay)
    state = tx.init(params)
    rates = np.asarray(_schedule(spec, total)(np.arange(max(total, 1))), dtype=np.float32)
    images_f = images.astype(np.float32)
    losses = []
    bar = tqdm(total=total, desc=f"training {spec.name}", disable=not progress, unit="step")
    done = 0
    while done < total:
        order = rng.permutation(n)
        for b in range(per_epoch):
            if done >= total:
                break
            idx = order[b * bs:(b + 1) * bs]
            params, state, loss = step(params, state, images_f[idx], labels[idx], rates[done])
            losses.append(float(loss))
            done += 1
            bar.update(1)
            if done % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    bar.close()
    return jax.tree_util.tree_map(np.asarray, params), np.asarray(losses)


@functools.lru_cache(maxsize=None)
def _logits_runner(forward, batch_size: int):
    """One :func:`~limetheory.nets.batching.batched_jit` runner per (network function, batch size)."""
    return batched_jit(lambda x, params: forward(params, x), batch_size, pad="pow2")


def batched_logits(params, images, batch_size: int = 256, forward=apply) -> np.ndarray:
    """NumPy float32 logits ``forward(params, images)`` in jit-compiled chunks of ``batch_size``;
    the last chunk is padded to a power of two, so only a handful of shapes are ever compiled."""
    return _logits_runner(forward, batch_size)(np.asarray(images, dtype=np.float32), params)


def evaluate(params, images, labels, batch_size: int = 256, forward=apply) -> float:
    """Accuracy: the fraction of images whose arg-max logit equals the label."""
    logits = batched_logits(params, images, batch_size, forward)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(labels)))


def library_versions() -> dict:
    """Versions of Python and of the libraries a training run depends on, and the machine."""
    import skimage
    import sklearn

    return {"python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__,
            "jaxlib": getattr(jax.lib, "__version__", jax.__version__), "optax": optax.__version__,
            "scikit-image": skimage.__version__, "scikit-learn": sklearn.__version__,
            "machine": platform.machine(), "system": platform.system()}


def train_net(which, *, seed: int = 0, progress: bool = True, out: str | os.PathLike | None = None):
    """Rebuild the data of ``which``, train, measure held-out accuracy, and save the weights.

    Returns ``(params, meta)``; ``meta`` holds the held-out accuracy, the seed, the
    hyper-parameters, the training time and the library versions. The weights go to
    ``out`` (default ``WEIGHTS_DIR / f"{spec.name}.npz"``; ``out=False`` does not save).
    """
    spec = _spec(which)
    x_tr, y_tr = load_training_data(spec)
    x_te, y_te = load_heldout(spec)
    t0 = time.perf_counter()
    params, losses = train(spec, x_tr, y_tr, seed=seed, progress=progress)
    train_seconds = time.perf_counter() - t0
    meta = {
        "name": spec.name,
        "seed": int(seed),
        "heldout_accuracy": evaluate(params, x_te, y_te),
        "train_accuracy": evaluate(params, x_tr, y_tr),
        "n_heldout": int(len(y_te)),
        "n_train": int(len(y_tr)),
        "final_train_loss": float(np.mean(losses[-50:])),
        "train_seconds": round(train_seconds, 1),
        "n_steps": int(len(losses)),
        "cpu_count": os.cpu_count(),
        "widths": list(spec.widths),
        "input_size": list(spec.input_size),
        "class_names": list(spec.class_names),
        "activation": "gelu (tanh approximation)",
        "global_pool": f"log-sum-exp, sharpness {LSE_SHARPNESS}",
        "input_centering": "per-image per-channel mean subtracted",
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "weight_decay": spec.weight_decay,
        "warmup_steps": spec.warmup_steps,
        "data": spec.data,
        "versions": library_versions(),
    }
    if out is not False:
        save_weights(WEIGHTS_DIR / f"{spec.name}.npz" if out is None else out, params, meta)
    return params, meta


# --------------------------------------------------------------------------- storage
def save_weights(path, params: dict, meta: dict, dtype=np.float32) -> Path:
    """Write ``params`` (as ``dtype``: float32 or float16) and ``meta`` (JSON, key ``__meta__``)
    to a compressed .npz, atomically."""
    arrays = {f"{layer}/{k}": np.asarray(v, dtype) for layer, d in params.items() for k, v in d.items()}
    arrays["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    return write_npz(path, arrays)


def load_weights(path) -> tuple[dict, dict]:
    """Read ``(params, meta)`` written by :func:`save_weights` (no pickle involved); the
    parameters come back as float32 JAX arrays whatever their stored precision."""
    with np.load(Path(path), allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))
        params: dict = {}
        for key in f.files:
            if key == "__meta__":
                continue
            layer, name = key.split("/")
            params.setdefault(layer, {})[name] = jnp.asarray(f[key], jnp.float32)
    return params, meta


# --------------------------------------------------------------------------- Classifier
def make_classifier(params: dict, *, name: str, class_names, input_size, info: dict | None = None,
                    batch_size: int | None = None, forward=apply, preprocess=preprocess) -> Classifier:
    """Wrap a parameter pytree and its network function ``forward(params, images) -> logits``
    (default: this module's :func:`apply`, whose first step is ``preprocess``, this module's
    :func:`preprocess`) as a :class:`limetheory.nets.Classifier` (images in [0, 255]).

    Its batch function ``images -> forward(params, images)`` is a traceable JAX function of
    (N, H, W, 3) -> (N, K) logits; ``predict`` gives the probabilities ``softmax(logits)``.
    """
    params = jax.tree_util.tree_map(jnp.asarray, params)

    def batch_logits(images):
        """Logits of a batch (N, H, W, 3) in [0, 255]: a traceable, differentiable JAX function."""
        return forward(params, images)

    info = dict(info or {})
    info["params"] = params
    return from_function(batch_logits, name=name, returns="logit", class_names=class_names,
                         input_size=(int(input_size[0]), int(input_size[1])), batch_size=batch_size, info=info,
                         preprocess=preprocess, probe=False)


def load_small_cnn(which, path=None, batch_size: int | None = None) -> Classifier:
    """The stored network ``which`` ("shapes" or "digits") as a Classifier.

    ``info`` holds the stored metadata (``heldout_accuracy``, ``seed``, ``versions``, the
    hyper-parameters and ``data``, how to rebuild the held-out set) 
    and ``params``.
    """
    spec = _spec(which)
    path = WEIGHTS_DIR / f"{spec.name}.npz" if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no stored weights at {path}; train them with "
                                f"`python -m limetheory.nets.small_cnn --train {which}`")
    params, meta = load_weights(path)
    return make_classifier(params, name=spec.name, class_names=meta["class_names"],
                           input_size=meta["input_size"], info=meta, batch_size=batch_size)


def load_shapes_cnn(**kwargs) -> Classifier:
    """The CNN trained on :func:`limetheory.data.make_shapes` (64 x 64, circle/square/triangle)."""
    return load_small_cnn("shapes", **kwargs)


def load_digits_cnn(**kwargs) -> Classifier:
    """The CNN trained on :func:`limetheory.data.load_digits_rgb` (32 x 32, digits 0-9)."""
    return load_small_cnn("digits", **kwargs)


# --------------------------------------------------------------------------- CLI
def training_main(argv, *, prog: str, description: str, names, train: Callable, summary: Callable) -> int:
    """The training command of a family of networks: ``--train NAME`` (repeatable), ``--seed``,
    ``--out`` (one network only; default ``NAME.npz`` in the current folder, never the package's
    own weights), ``--no-progress``; prints ``summary(name, meta)`` for each."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--train", choices=list(names), required=True, action="append",
                        help="which network to train (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", default=None,
                        help="output .npz, one network only (default: NAME.npz in the current folder; the weights "
                             "shipped in the package are replaced only when their path is given here)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.out is not None and len(args.train) > 1:
        parser.error("--out takes one network only")
    for name in args.train:
        out = Path(args.out) if args.out is not None else Path(f"{name}.npz")
        _, meta = train(name, seed=args.seed, progress=not args.no_progress, out=out)
        print(f"wrote {out}", file=sys.stderr)
        print(summary(name, meta), file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return training_main(
        argv, prog="python -m limetheory.nets.small_cnn", description="Retrain the small CNNs reproducibly.",
        names=sorted(SPECS), train=train_net,
        summary=lambda name, meta: (f"{meta['name']}: held-out accuracy {meta['heldout_accuracy']:.4f} "
                                    f"({meta['n_heldout']} images), train accuracy {meta['train_accuracy']:.4f}, "
                                    f"{meta['train_seconds']:.0f} s, seed {meta['seed']}"),
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
