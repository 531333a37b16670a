"""The one network type: a batch function with what it takes and what it gives.

Every route to a network (the bundled JAX networks, the PyTorch and Keras adapters, a user's JAX or
NumPy function) ends in :func:`from_function`, which returns a :class:`Classifier` that owns

- the batch function ``f: (N, H, W, C) -> (N, K)`` and what it returns (``returns``): logits
  ``z`` or probabilities ``p`` (found by a probe when not declared: rows that are non-negative
  and sum to 1 are probabilities);
- ``output``: what is explained, ``"prob"`` (the class's softmax probability
  ``p_k = exp(z_k) / sum_j exp(z_j)``, what lime explains: the default everywhere) or
  ``"logit"`` (``z_k``); declared once here, used by :func:`limetheory.explain`, integrated
  gradients, the comparisons, the command line and the viewer;
- ``batch_size``, the images per model call (always set; :func:`limetheory.explain` uses it);
- ``input_size`` (H, W), the number of channels and ``input_range``, the pixel values the network
  expects: ``(0, 255)`` or ``(0, 1)``.

Images reaching the network are checked (:meth:`Classifier.check_images`): real numbers (no
complex, timedelta or object arrays), an integer type that can hold the input range (an ``int8``
image has wrapped values), the network's size (the error names both sizes and how to resize),
finite. :meth:`Classifier.check_input_range` warns when an image's values do not look like the
network's range (a [0, 1] photo given to a [0, 255] network).

The probe that builds a Classifier runs the function on three different images and requires one
row per image: a model that returns one row whatever the batch (broadcast to every image
downstream) is refused before any explanation.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..validation import check_choice, check_int, check_size

__all__ = [
    "BACKENDS", "INPUT_RANGES", "OUTPUTS", "OUTPUT_UNITS", "Classifier", "default_batch_size", "from_function",
    "softmax",
]

#: What a Classifier explains: the class's softmax probability (lime's, the default) or its logit.
OUTPUTS = ("prob", "logit")

#: How a value of each output is labelled wherever it is printed or drawn.
OUTPUT_UNITS = {"prob": "probability", "logit": "logit"}

#: How the batch function is run: a JAX function (jit, grad), NumPy in and out with a PyTorch
#: gradient hook, or a plain NumPy function (LIME only: no gradients).
BACKENDS = ("jax", "torch", "numpy")

#: The pixel ranges a network may declare.
INPUT_RANGES = ((0.0, 255.0), (0.0, 1.0))

#: Images in the probe batch (more than one, so that a model broadcasting one row is caught).
PROBE_IMAGES = 3

#: How far a probability row may sum from 1 (float32 softmax rounding, with room).
PROB_SUM_TOL = 1e-4


def softmax(scores, axis: int = -1) -> np.ndarray:
    """``exp(z_k - max z) / sum_j exp(z_j - max z)`` along ``axis``, float64 NumPy."""
    z = np.asarray(scores, dtype=np.float64)
    if z.size == 0:
        return z.copy()
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def default_batch_size(input_size, accelerator: bool = False) -> int:
    """Images per model call: 256, or 32 on a CPU for images over 100 000 pixels (cache-sized)."""
    h, w = input_size
    return 256 if accelerator or h * w <= 100_000 else 32


def _jax_accelerator() -> bool:
    import jax

    return jax.default_backend() != "cpu"


def _check_range(value) -> tuple:
    rng = tuple(float(v) for v in value) if isinstance(value, (tuple, list)) else None
    if rng not in INPUT_RANGES:
        raise ValueError(f"input_range must be (0, 255) or (0, 1), got {value!r}")
    return rng


@dataclass(frozen=True, eq=False)
class Classifier:
    """A network ready for LIME (:meth:`predict`) and integrated gradients (:meth:`output_fn`,
    ``value_and_grad``). Build it with :func:`from_function` (or an adapter), not directly.

    Attributes
    ----------
    name : str
    batch_fn : callable
        The network: a batch (N, H, W, C) -> (N, K) scores; a traceable JAX function for
        ``backend="jax"``, NumPy in and out otherwise.
    returns : {"logit", "prob"}
        What ``batch_fn`` gives.
    class_names : tuple of str (K names);  input_size : (H, W);  n_channels : int
    batch_size : int, images per model call.
    output : {"prob", "logit"}, default "prob"
        What :meth:`predict` returns and what is explained (see the module docstring).
    input_range : (0, 255) or (0, 1), the pixel values the network expects.
    backend : {"jax", "torch", "numpy"}
    value_and_grad : callable or None
        PyTorch only: ``value_and_grad(images, target, output, dtype) -> (values (N,), gradients
        (N, H, W, C))``, NumPy float64, the class's score (``output``) and its gradient.
    preprocess : callable or None
        The network's own preprocessing (N, H, W, C) in ``input_range`` -> its first layer's
        input, when known (experiment 4's ``protocol="paper"`` segments that array).
    info : dict, how the network was built.
    """

    name: str
    batch_fn: Callable = field(repr=False)
    returns: str
    class_names: tuple
    input_size: tuple
    batch_size: int
    output: str = "prob"
    input_range: tuple = (0.0, 255.0)
    n_channels: int = 3
    backend: str = "jax"
    value_and_grad: Callable | None = field(default=None, repr=False)
    preprocess: Callable | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)
    _run: Callable = field(default=None, repr=False)  # NumPy runner of batch_fn in chunks of batch_size
    _fns: dict = field(default_factory=dict, repr=False)  # compiled single-image functions, per output

    # ------------------------------------------------------------------ scores
    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def unit(self) -> str:
        """How a value of :attr:`output` is labelled: "probability" or "logit"."""
        return OUTPUT_UNITS[self.output]

    def __call__(self, images) -> np.ndarray:
        return self.predict(images)

    def predict(self, images) -> np.ndarray:
        """Scores (N, K), float64, of :attr:`output` for images (N, H, W, C) (see :meth:`scores`)."""
        return self.scores(images, self.output)

    def scores(self, images, output: str | None = None) -> np.ndarray:
        """NumPy float64 (N, K): probabilities ``softmax(z)`` (``"prob"``) or logits ``z`` (``"logit"``).

        ``output=None``: :attr:`output`. The batch function runs ``batch_size`` images at a time.
        """
        output = self.output if output is None else check_choice(output, "output", OUTPUTS)
        self._check_output_available(output)
        raw = self._run(self.check_images(images))
        return softmax(raw) if output == "prob" and self.returns == "logit" else raw

    def with_output(self, output: str) -> "Classifier":
        """The same network explaining ``output`` ("prob" or "logit") instead."""
        check_choice(output, "output", OUTPUTS)
        self._check_output_available(output)
        return replace(self, output=output)

    def _check_output_available(self, output: str) -> None:
        if output == "logit" and self.returns == "prob":
            raise ValueError(
                f"output: {self.name} returns probabilities and its logits cannot be reached, so "
                "output='logit' is not available; pass the model without its final softmax to explain logits"
            )

    # ------------------------------------------------------------------ JAX functions
    @property
    def batch_logits(self) -> Callable:
        """The batch function when it returns logits (traceable JAX for ``backend="jax"``)."""
        self._check_output_available("logit")
        return self.batch_fn

    @property
    def logits(self) -> Callable:
        """Logits of ONE image (H, W, C) -> (K,): a jitted JAX function (``backend="jax"``), else NumPy."""
        self._check_output_available("logit")
        if self.backend != "jax":
            return lambda image: self.scores(np.asarray(image)[None], "logit")[0]
        return self.output_fn("logit")

    def output_fn(self, output: str | None = None) -> Callable:
        """The single-image JAX function (H, W, C) -> (K,) of ``output`` (None: :attr:`output`) that
        integrated gradients differentiate; the same object every time (compiled once).

        ``"logit"``: ``z``; ``"prob"``: ``softmax(z)`` (or the probabilities the network returns).
        Computed with full float32 matrix products (JAX's default on GPUs is TF32, about 3 digits).
        """
        if self.backend != "jax":
            raise ValueError(f"output_fn needs a JAX network; {self.name} runs on {self.backend}")
        output = self.output if output is None else check_choice(output, "output", OUTPUTS)
        self._check_output_available(output)
        if output not in self._fns:
            self._fns[output] = _single_image_fn(self.batch_fn, output == "prob" and self.returns == "logit")
        return self._fns[output]

    # ------------------------------------------------------------------ inputs
    def check_images(self, images, name: str = "images") -> np.ndarray:
        """``images`` as float32 (JAX) or float64 (N, H, W, C) at :attr:`input_size`, or a TypeError /
        ValueError naming ``name``."""
        arr = np.asarray(images)
        _check_pixel_dtype(arr, name, self.input_range)
        h, w = self.input_size
        if arr.ndim != 4 or arr.shape[3] != self.n_channels:
            one = " (one image: pass images[None])" if arr.ndim == 3 else ""
            raise ValueError(f"{name} must have shape (N, {h}, {w}, {self.n_channels}), got {arr.shape}{one}")
        if arr.shape[1:3] != (h, w):
            raise ValueError(
                f"{name}: {arr.shape[1]} x {arr.shape[2]} pixels, but {self.name} takes {h} x {w} (input_size): "
                f"resize first, e.g. limetheory.data.resize_image(image, ({h}, {w}))"
            )
        # JAX networks compute in float32; other backends get float64 (a module in float64 keeps every digit)
        arr = arr.astype(np.float32 if self.backend == "jax" else np.float64, copy=False)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} hold NaN or infinite values")
        return arr

    def check_image(self, image, name: str = "image") -> np.ndarray:
        """One image (H, W, C) checked as :meth:`check_images` does, and its range (:meth:`check_input_range`)."""
        arr = np.asarray(image)
        if arr.ndim != 3:
            raise ValueError(f"{name} must be one image (H, W, {self.n_channels}), got shape {arr.shape}")
        self.check_images(arr[None], name)
        self.check_input_range(arr, name)
        return arr

    def check_input_range(self, image, name: str = "image") -> None:
        """Warn (UserWarning) when ``image``'s values do not look like :attr:`input_range`."""
        arr = np.asarray(image, dtype=np.float64)
        if arr.size == 0:
            return
        lo, hi = self.input_range
        top, bottom = float(arr.max()), float(arr.min())
        if bottom < lo - 1e-6 * hi or top > hi * (1 + 1e-6):
            warnings.warn(f"{name} has values in [{bottom:g}, {top:g}], outside the input range "
                          f"[{lo:g}, {hi:g}] that {self.name} expects", UserWarning, stacklevel=3)
        elif hi == 255.0 and 0 < top <= 1.0:
            warnings.warn(f"{name} has values in [{bottom:g}, {top:g}] but {self.name} expects [0, 255]: "
                          "a [0, 1] image? multiply it by 255", UserWarning, stacklevel=3)


def _check_pixel_dtype(arr, name: str, input_range) -> None:
    """TypeError for anything but real numbers; ValueError for an integer type too small for the range."""
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind in "iu" and np.iinfo(arr.dtype).max < input_range[1]:
        raise ValueError(f"{name} of dtype {arr.dtype} cannot hold values up to {input_range[1]:g} (they wrap): "
                         "pass uint8 or floating images")


def _single_image_fn(batch_fn, apply_softmax: bool):
    import jax

    def fn(image):
        with jax.default_matmul_precision("highest"):
            out = batch_fn(image[None])[0]
            return jax.nn.softmax(out) if apply_softmax else out

    return jax.jit(fn)


def _jax_runner(batch_fn, batch_size: int):
    import jax  # JAX here, not at the top: a Classifier of another backend never needs it

    from .batching import batched_jit  # imports JAX

    def batch(images):
        with jax.default_matmul_precision("highest"):
            return batch_fn(images)

    run = batched_jit(batch, batch_size, pad="pow2")
    return lambda x: run(x).astype(np.float64)


def _numpy_runner(batch_fn, batch_size: int):
    def run(x):
        parts = [np.asarray(batch_fn(x[s:s + batch_size]), dtype=np.float64) for s in range(0, x.shape[0], batch_size)]
        return np.concatenate(parts, axis=0)

    return run


def _probe_images(input_size, n_channels: int, input_range) -> np.ndarray:
    """Three different images in the input range: dark grey, light grey and seeded noise."""
    lo, hi = input_range
    h, w = input_size
    noise = np.random.default_rng(0).uniform(lo, hi, (h, w, n_channels))
    greys = [np.full((h, w, n_channels), lo + t * (hi - lo)) for t in (0.25, 0.75)]
    return np.stack(greys + [noise])[:PROBE_IMAGES].astype(np.float32)


def _probe(run, name, input_size, n_channels, input_range) -> np.ndarray:
    """The function's outputs on :func:`_probe_images`, checked: one finite row per image, K >= 2."""
    x = _probe_images(input_size, n_channels, input_range)
    h, w = input_size
    try:
        out = run(x)
    except Exception as exc:
        raise ValueError(f"input_size: {name} refuses a batch of {x.shape[0]} ({h}, {w}, {n_channels}) images "
                         f"({type(exc).__name__}: {exc}); pass the input size the model was built for") from exc
    return _check_probe_output(out, name, x.shape[0])


def _check_probe_output(out, name: str, n_images: int) -> np.ndarray:
    out = np.asarray(out)
    if out.dtype.kind not in "biuf" or out.ndim != 2:
        raise TypeError(f"model: {name} must return real scores (N, n_classes) for N images, "
                        f"got {out.dtype} of shape {out.shape}")
    if out.shape[0] != n_images:
        raise ValueError(f"model: {name} returns {out.shape[0]} row(s) for a batch of {n_images} images; it must "
                         "return one row per image (does it reduce or broadcast over the batch?)")
    if out.shape[1] < 2:
        raise ValueError(f"model: {name} returns {out.shape[1]} score per image; a classifier needs one per class (>= 2)")
    if not np.isfinite(out).all():
        raise ValueError(f"model: {name} returns NaN or infinite scores on the probe images")
    return out.astype(np.float64)


def _looks_like_probabilities(scores) -> bool:
    return bool(scores.min() >= 0 and np.all(np.abs(scores.sum(axis=1) - 1) <= PROB_SUM_TOL))


def _returns(declared: str, probe, name: str) -> str:
    """What the function returns: as declared, or from the probe (``"auto"``)."""
    probs = None if probe is None else _looks_like_probabilities(probe)
    if declared == "auto":
        return "prob" if probs else "logit"
    if declared == "prob" and probs is False:
        raise ValueError(f"returns: {name} was declared to return probabilities, but its rows on the probe "
                         "images are not non-negative summing to 1")
    if declared == "logit" and probs:
        warnings.warn(f"{name} was declared to return logits, but its rows on the probe images are "
                      "non-negative and sum to 1 (probabilities?): a softmax of probabilities is not the model's "
                      "probability; declare returns='prob' or leave it to the probe", UserWarning, stacklevel=3)
    return declared


def from_function(batch_fn: Callable, *, input_size, name: str | None = None, class_names=None,
                  returns: str = "auto", output: str = "prob", input_range=(0, 255), n_channels: int = 3,
                  batch_size: int | None = None, backend: str = "jax", value_and_grad: Callable | None = None,
                  preprocess: Callable | None = None, info: dict | None = None, probe: bool = True) -> Classifier:
    """A batch function as a :class:`Classifier` (the one constructor every adapter uses).

    Parameters
    ----------
    batch_fn : callable
        Images (N, H, W, C) with values in ``input_range`` -> scores (N, K), one row per image.
        ``backend="jax"``: a JAX-traceable function (jit-compiled here; differentiable, so
        integrated gradients apply); ``"numpy"``: any function of a NumPy array (LIME only);
        ``"torch"``: NumPy in and out, with ``value_and_grad`` (the PyTorch adapter).
    input_size : (H, W) or int
    name : str or None (default: the function's name).
    class_names : sequence of K str or None (default "0", "1", ...).
    returns : {"auto", "logit", "prob"}, default "auto"
        What ``batch_fn`` gives. ``"auto"``: probabilities if its rows on the probe images are
        non-negative and sum to 1 (within 1e-4), else logits.
    output : {"prob", "logit"}, default "prob"
        What is explained: the class's probability (lime's choice) or its logit.
    input_range : (0, 255) or (0, 1), default (0, 255)
        The pixel values the network expects (images outside it get a warning at the explanation).
    n_channels : int, default 3
    batch_size : int or None
        Images per call of ``batch_fn`` (default :func:`default_batch_size`).
    backend : {"jax", "numpy", "torch"}
    value_and_grad, preprocess, info : see :class:`Classifier`.
    probe : bool, default True
        Run ``batch_fn`` on three different images now (:data:`PROBE_IMAGES`): one finite row per
        image, at least two classes. False (the bundled networks): JAX's shape evaluation only.

    Raises
    ------
    TypeError, ValueError : naming the argument, before any explanation starts.
    """
    if not callable(batch_fn):
        raise TypeError(f"batch_fn must be callable, got {type(batch_fn).__name__}")
    size = check_size(input_size, "input_size")
    check_choice(returns, "returns", ("auto", "logit", "prob"))
    check_choice(output, "output", OUTPUTS)
    check_choice(backend, "backend", BACKENDS)
    rng = _check_range(input_range)
    n_channels = check_int(n_channels, "n_channels", 1)
    name = str(name) if name is not None else getattr(batch_fn, "__name__", type(batch_fn).__name__)
    if batch_size is None:
        batch_size = default_batch_size(size, backend == "jax" and _jax_accelerator())
    batch_size = check_int(batch_size, "batch_size", 1)
    run = (_jax_runner if backend == "jax" else _numpy_runner)(batch_fn, batch_size)
    if probe or returns == "auto":
        scores = _probe(run, name, size, n_channels, rng)
    else:
        scores = None
        n_classes = _eval_shape_classes(batch_fn, name, size, n_channels)
    k = scores.shape[1] if scores is not None else n_classes
    names = tuple(str(j) for j in range(k)) if class_names is None else tuple(str(c) for c in class_names)
    if len(names) != k:
        raise ValueError(f"class_names must have one name per class of {name} ({k}), got {len(names)}")
    kind = _returns(returns, scores, name)
    clf = Classifier(name=name, batch_fn=batch_fn, returns=kind, class_names=names, input_size=size,
                     batch_size=batch_size, output=output, input_range=rng, n_channels=n_channels, backend=backend,
                     value_and_grad=value_and_grad, preprocess=preprocess,
                     info={**(info or {}), "returns": kind}, _run=run)
    clf._check_output_available(output)
    return clf


def _eval_shape_classes(batch_fn, name, size, n_channels) -> int:
    """K from JAX's shape evaluation of a batch of :data:`PROBE_IMAGES` (nothing computed)."""
    import jax

    out = jax.eval_shape(batch_fn, jax.ShapeDtypeStruct((PROBE_IMAGES, *size, n_channels), np.float32))
    shape = tuple(out.shape)
    if len(shape) != 2 or shape[0] != PROBE_IMAGES:
        raise ValueError(f"model: {name} must return (N, n_classes) for N images, got {shape} for {PROBE_IMAGES}")
    return int(shape[1])

