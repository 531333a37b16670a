"""A network as NumPy batch functions: the wrapper LIME and integrated gradients share.

- :func:`batched_predict`: a NumPy batch predictor from any single-image JAX function;
- :class:`ScoredNet` / :func:`scored_net`: a :class:`~limetheory.nets.Classifier` with a
  jit-compiled batch of logits and the single-image functions that integrated gradients
  differentiates, built once per process (one compilation each);
- :data:`OUTPUTS`: what is explained, ``"prob"`` (the class's softmax probability, what lime
  explains) or ``"logit"``.

Both batch paths run a compiled function on chunks of exactly ``batch_size`` images (the last
chunk padded with copies of its first image), so each compiles once whatever the number of images.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..validation import check_choice, check_int
from .batching import batched_jit

__all__ = ["OUTPUTS", "ScoredNet", "batched_predict", "scored_classifier", "scored_net", "softmax"]

#: What is explained: the class's softmax probability (lime's default) or its logit.
OUTPUTS = ("prob", "logit")

_DTYPES = {"float64": np.float64, "float32": np.float32}


def softmax(logits) -> np.ndarray:
    """``exp(l_k - max l) / sum_j exp(l_j - max l)`` over the last axis (rows of logits)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def batched_predict(f, target: int | None = None, batch_size: int = 256, dtype: str = "float64"):
    """NumPy batch predictor from a single-image JAX function: ``jit(vmap(f))`` in chunks.

    ``predict(images)`` maps ``(m, *shape)`` images to (m,) for a scalar ``f`` or (m, K) for
    scores (``target=None``), or to (m,) scores of class ``target``. Computed in ``dtype``
    (float64: JAX's 64-bit mode enabled inside the call only), returned as float64 NumPy.
    """
    import jax

    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    batch_size = check_int(batch_size, "batch_size", 1)
    check_choice(dtype, "dtype", tuple(_DTYPES))
    np_dtype = _DTYPES[dtype]
    run = batched_jit(jax.vmap(f), batch_size, pad="full")

    def predict(images):
        images = np.asarray(images, dtype=np_dtype)
        with jax.enable_x64(dtype == "float64"):
            out = run(images).astype(np.float64)
        if target is not None:
            out = out[:, target]
        elif out.ndim > 1 and int(np.prod(out.shape[1:])) == 1:
            out = out.reshape(-1)
        return out

    return predict


def _batch_size(n_pixels: int) -> int:
    """Images per compiled model call: small on CPU for large images (cache), large on accelerators."""
    import jax

    if jax.default_backend() != "cpu":
        return 256
    return 32 if n_pixels > 100_000 else 256


@dataclass(frozen=True, eq=False)
class ScoredNet:
    """A :class:`~limetheory.nets.Classifier` with the functions LIME and IG need, compiled once.

    Attributes
    ----------
    net : the Classifier.
    batch_size : images per compiled call of :meth:`logits` (batches are padded to it).
    output_fns : {output: single-image JAX function (H, W, 3) in [0, 255] -> (n_classes,)}:
        ``softmax(logits)`` for ``"prob"``, ``logits`` for ``"logit"``. The same objects are
        returned every time, so :func:`limetheory.gradients.integrated_gradients` compiles once.
        Empty for a network that is not JAX (PyTorch): IG then differentiates ``net`` itself.
    ig_chunk : path points per vectorised IG chunk (fixed, so one compilation serves every
        ``n_steps`` that is a multiple of it or smaller).
    """

    net: object
    batch_size: int
    output_fns: dict
    ig_chunk: int
    _batch_logits: Callable = field(repr=False)  # batching.batched_jit runner, or a PyTorch net's batch_logits

    @property
    def name(self) -> str:
        return self.net.name

    @property
    def input_size(self) -> tuple:
        return tuple(self.net.input_size)

    def logits(self, images) -> np.ndarray:
        """Logits (N, n_classes), float64, of images (N, H, W, 3) in [0, 255]."""
        x = np.asarray(images, dtype=np.float32)
        return self._batch_logits(x[None] if x.ndim == 3 else x).astype(np.float64)

    def probabilities(self, images) -> np.ndarray:
        """Softmax probabilities (N, n_classes), float64, computed from :meth:`logits`."""
        return softmax(self.logits(images))

    def scores(self, images, target: int) -> np.ndarray:
        """(N, 2): column 0 the probability of class ``target``, column 1 its logit (OUTPUTS order)."""
        lg = self.logits(images)
        return np.stack([softmax(lg)[:, target], lg[:, target]], axis=1)

    def predict_for(self, target: int) -> Callable:
        """``predict(images) -> (N, 2)`` for :func:`limetheory.explain` (labels 0 = prob, 1 = logit)."""
        return functools.partial(self.scores, target=int(target))


@functools.lru_cache(maxsize=None)
def scored_net(name: str, weights: str | None = None, input_size: tuple | None = None) -> ScoredNet:
    """The network ``name`` as a :class:`ScoredNet`, cached per (name, weights, input_size).

    ``name``: a bundled network (:data:`limetheory.nets.NETWORKS`), ``"keras:<Application>"``
    (with ``weights``, the path of its weight file) or ``"torch:package.module:factory"`` (with
    ``input_size`` when the factory returns a bare module); see :func:`limetheory.nets.load`.
    """
    from . import load

    options = {k: v for k, v in (("weights", weights), ("input_size", input_size)) if v is not None}
    return scored_classifier(load(name, **options))


def scored_classifier(net) -> ScoredNet:
    """A :class:`~limetheory.nets.Classifier` of any backend as a :class:`ScoredNet` (not cached).

    A JAX network gets a jit-compiled batch of logits and single-image output functions that
    integrated gradients differentiates; a PyTorch one keeps its NumPy ``batch_logits`` (its own
    ``batch_size`` chunks) and is differentiated through the Classifier itself (``output_fns``
    empty, see :func:`limetheory.compare.ig_superpixel_sums`).
    """
    import jax

    h, w = net.input_size
    on_cpu = jax.default_backend() == "cpu"
    if net.backend != "jax":
        bs = net.batch_size or _batch_size(h * w)
        return ScoredNet(net=net, batch_size=bs, output_fns={}, ig_chunk=bs, _batch_logits=net.batch_logits)
    raw_batch = net.batch_logits if getattr(net, "batch_logits", None) is not None else jax.vmap(net.logits)
    logits_fn = net.logits

    # Full float32 matrix products and convolutions wherever the network does not set a precision:
    # on GPUs JAX's default lets them run in TF32 (about 3 decimal digits), which measurably moved
    # the small CNNs' LIME coefficients and IG completeness gaps (1e-3 instead of 1e-6 on an H100).
    # No effect on CPU, where float32 is always exact float32.
    def batch(images):
        with jax.default_matmul_precision("highest"):
            return raw_batch(images)

    def prob_fn(image):
        with jax.default_matmul_precision("highest"):
            return jax.nn.softmax(logits_fn(image))

    def logit_fn(image):
        with jax.default_matmul_precision("highest"):
            return logits_fn(image)

    return ScoredNet(net=net, batch_size=_batch_size(h * w), output_fns={"prob": prob_fn, "logit": logit_fn},
                     ig_chunk=8 if on_cpu else 32, _batch_logits=batched_jit(batch, _batch_size(h * w), pad="full"))
