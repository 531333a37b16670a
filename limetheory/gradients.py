"""Integrated gradients in JAX and their sums over superpixels.

Last stage of the data flow (docs/theory/lime_and_ig.md)::

    JAX model f, xi, xi_bar --integrated gradients--> IG --sum over superpixels--> compare with beta

Integrated gradients of f at x with baseline b (Sundararajan et al., ICML 2017)::

    IG_u = (x_u - b_u) * int_0^1  d f / d x_u ( b + t (x - b) ) dt

computed with a quadrature rule ``(alpha_k, w_k)`` on [0, 1]::

    IG_u ~ (x_u - b_u) * sum_k w_k  d f / d x_u ( b + alpha_k (x - b) ).

Completeness says ``sum_u IG_u = f(x) - f(b)``. Summed over pixels the quadrature above is
exactly the same rule applied to ``g'(t)`` with ``g(t) = f(b + t (x - b))``, so the
*completeness gap* ``sum_u IG_u - (f(x) - f(b))`` is precisely the quadrature error of
``int_0^1 g'(t) dt``: it measures how well the rule resolved the path.

For LIME (baseline = LIME's replacement image xi_bar, docs/theory/lime_algorithm.md, step 2) the paper
shows that for a linear f the LIME limit coefficients are exactly the superpixel sums
``beta_j = sum_{u in J_j} IG_u``, and approximately so for smooth f.
:mod:`limetheory.compare` puts the two side by side.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .nets import Classifier
from .segmentation import check_segments, n_superpixels
from .validation import check_choice, check_int, validate_params

__all__ = [
    "DEFAULT_INTERNAL_BATCH_SIZE",
    "IGResult",
    "MAX_N_STEPS",
    "METHODS",
    "integrated_gradients",
    "quadrature",
    "superpixel_sums",
]

#: Quadrature rules, named as captum names them.
METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")

#: Largest ``n_steps`` per rule. Gauss-Legendre's error decays geometrically, so a few dozen
#: points resolve any smooth path, and its nodes cost O(n^2) memory and time (1024 points:
#: 0.2 s; 4096: 11 s); a Riemann rule's error decays as 1/n or 1/n^2, and every point costs one
#: forward and backward pass of the model.
MAX_N_STEPS = {"gausslegendre": 1024, **{m: 100_000 for m in METHODS if m != "gausslegendre"}}

#: Path points evaluated at once (one ``vmap`` over a chunk) when ``internal_batch_size=None``.
DEFAULT_INTERNAL_BATCH_SIZE = 10

_DTYPES = {"float64": np.float64, "float32": np.float32}


# --------------------------------------------------------------------------- quadrature
def quadrature(n_steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alpha`` and weights ``w`` of a rule for ``int_0^1 h(t) dt ~ sum_k w_k h(alpha_k)``.

    With ``n = n_steps`` (at most ``MAX_N_STEPS[method]``):

    - ``riemann_left``:      alpha_k = k / n,           k = 0..n-1,  w_k = 1/n   (error O(1/n))
    - ``riemann_right``:     alpha_k = k / n,           k = 1..n,    w_k = 1/n   (error O(1/n))
    - ``riemann_middle``:    alpha_k = (k + 1/2) / n,   k = 0..n-1,  w_k = 1/n   (error O(1/n^2))
    - ``riemann_trapezoid``: alpha_k = k / (n-1),       k = 0..n-1,  w_k = 1/(n-1), halved at
      both ends (needs n >= 2; error O(1/n^2))
    - ``gausslegendre``:     alpha_k = (t_k + 1)/2, w_k = omega_k / 2 with (t_k, omega_k) the
      n-point Gauss-Legendre rule on [-1, 1] (exact for polynomials of degree 2n-1; error
      decays geometrically for analytic integrands).

    Returns
    -------
    alpha, w : (n_steps,) float64 arrays.
    """
    n = _check_n_steps(n_steps, method)
    if method == "riemann_left":
        alpha = np.arange(n) / n
    elif method == "riemann_right":
        alpha = np.arange(1, n + 1) / n
    elif method == "riemann_middle":
        alpha = (np.arange(n) + 0.5) / n
    elif method == "riemann_trapezoid":
        alpha = np.arange(n) / (n - 1)
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] *= 0.5
        return alpha, w
    else:  # gausslegendre
        t, omega = np.polynomial.legendre.leggauss(n)
        return (t + 1.0) / 2.0, omega / 2.0
    return alpha.astype(np.float64), np.full(n, 1.0 / n)


def _check_n_steps(n_steps, method) -> int:
    check_choice(method, "method", METHODS)
    limit = MAX_N_STEPS[method]
    n = check_int(n_steps, "n_steps", 2 if method == "riemann_trapezoid" else 1, limit)
    return n


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class IGResult:
    """Integrated gradients of one scalar output.

    Attributes
    ----------
    attributions : ndarray, the shape of ``x`` (float64)
        ``IG_u`` for every input coordinate (pixel and channel).
    f_x, f_baseline : float
        The explained output at ``x`` and at the baseline.
    completeness_gap : float
        ``sum_u IG_u - (f(x) - f(baseline))``: the quadrature error of the path integral
        (captum's "convergence delta"), plus rounding.
    method, n_steps, target, dtype
        How it was computed (``dtype`` is the floating type JAX computed in).
    """

    attributions: np.ndarray
    f_x: float
    f_baseline: float
    completeness_gap: float
    method: str
    n_steps: int
    target: int | None = None
    dtype: str = "float64"

    def __repr__(self) -> str:
        return (f"IGResult(attributions=<{self.attributions.shape} array>, f_x={self.f_x:.6g}, "
                f"f_baseline={self.f_baseline:.6g}, completeness_gap={self.completeness_gap:.3g}, "
                f"method={self.method!r}, n_steps={self.n_steps}, target={self.target}, dtype={self.dtype!r})")

    @property
    def total(self) -> float:
        """``sum_u IG_u``."""
        return float(np.sum(self.attributions))

    def relative_gap(self) -> float:
        """``|completeness_gap| / |f(x) - f(baseline)|`` (inf when f(x) = f(baseline) and gap != 0)."""
        diff = abs(self.f_x - self.f_baseline)
        if diff == 0.0:
            return 0.0 if self.completeness_gap == 0.0 else float("inf")
        return abs(self.completeness_gap) / diff

    def to_frame(self):
        """One-row pandas DataFrame with the scalar summary (not the attributions)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "method": self.method,
                    "n_steps": self.n_steps,
                    "target": self.target,
                    "dtype": self.dtype,
                    "f_x": self.f_x,
                    "f_baseline": self.f_baseline,
                    "sum_ig": self.total,
                    "completeness_gap": self.completeness_gap,
                }
            ]
        )


# --------------------------------------------------------------------------- the JAX core
class _ByIdentity:
    """Wraps a callable so that ``jax.jit`` can take it as a static argument.

    Two wrappers are equal when they wrap the same object, so repeated calls with the same
    model reuse the compiled program (a new lambda at every call compiles again). The model
    must be a pure function: if it closes over state that later changes, the cached program
    does not see the change.
    """

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __hash__(self):
        return id(self.fn)

    def __eq__(self, other):
        return isinstance(other, _ByIdentity) and other.fn is self.fn


def _scalar_output(f, scalar: bool):
    """``image -> scalar``: f itself (squeezed) or its ``target`` coordinate."""
    if scalar:
        return lambda img, target: jnp.reshape(f(img), ())
    return lambda img, target: f(img)[target]


@partial(jax.jit, static_argnames=("model", "scalar"))
def _weighted_path_gradients(model, scalar, x, baseline, alphas, weights, target):
    """``sum_k w_k grad f(b + alpha_k (x - b))`` over one chunk of path points (one ``vmap``).

    Chunks are run by a Python loop (asynchronous dispatch) rather than ``lax.scan``: on CPU,
    XLA runs convolutions inside a loop body slower than at top level.
    """
    grad_g = jax.grad(_scalar_output(model.fn, scalar))
    delta = x - baseline
    grads = jax.vmap(lambda a: grad_g(baseline + a * delta, target))(alphas)
    return jnp.tensordot(weights, grads, axes=1)


@partial(jax.jit, static_argnames=("model", "scalar"))
def _endpoints(model, scalar, x, baseline, target):
    """``f(x)`` and ``f(baseline)``."""
    g = _scalar_output(model.fn, scalar)
    return g(x, target), g(baseline, target)


def _chunks(alpha, w, batch):
    """Pad the rule to ``n_chunks * chunk`` points (weight 0) with chunks as even as possible."""
    n = alpha.shape[0]
    n_chunks = -(-n // batch)
    chunk = -(-n // n_chunks)
    pad = n_chunks * chunk - n
    alpha = np.concatenate([alpha, np.zeros(pad)]).reshape(n_chunks, chunk)
    w = np.concatenate([w, np.zeros(pad)]).reshape(n_chunks, chunk)
    return alpha, w


# --------------------------------------------------------------------------- validation
def _check_real_array(a, name) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def _check_target(f, x, target, ctx):
    """Check f's output shape on ``x``; return (scalar, target index)."""
    with ctx:
        try:
            out = jax.eval_shape(f, jnp.asarray(x))
        except Exception as exc:
            raise TypeError(
                f"f must be a JAX-traceable function of one image of shape {x.shape}; tracing failed: {exc}"
            ) from exc
    shape = tuple(getattr(out, "shape", ()))
    if target is None:
        if int(np.prod(shape)) != 1:
            raise ValueError(f"f returns shape {shape}: pass target=<class index> to pick one output")
        return True, 0
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"target must be an int or None, got {target!r}")
    if len(shape) != 1:
        raise ValueError(f"with a target, f must return a 1-D vector of scores, got shape {shape}")
    if not 0 <= int(target) < shape[0]:
        raise ValueError(f"target must be in [0, {shape[0]}), got {target}")
    return False, int(target)


def _check_finite_path(mean_grad, fx, fb) -> None:
    """ValueError if f or its gradient is NaN or infinite at the endpoints or on the path."""
    if not (np.isfinite(fx) and np.isfinite(fb)):
        raise ValueError(f"f is not finite at the endpoints: f(x) = {fx}, f(baseline) = {fb}")
    bad = int(np.size(mean_grad) - np.count_nonzero(np.isfinite(mean_grad)))
    if bad:
        raise ValueError(
            f"the gradient of f is NaN or infinite on the path from baseline to x ({bad} of "
            f"{np.size(mean_grad)} input coordinates): integrated gradients are undefined there"
        )


#: Warn when the attributions miss f(x) - f(baseline) by more than this share of it.
GAP_WARNING = 0.5


def _warn_if_incomplete(total: float, fx: float, fb: float) -> None:
    """Warn when |sum IG - (f(x) - f(b))| > GAP_WARNING |f(x) - f(b)| (beyond rounding): completeness fails,
    as for a step function, whose gradient is 0 almost everywhere, or a path too coarsely sampled."""
    gap, change = total - (fx - fb), fx - fb
    if abs(gap) > GAP_WARNING * abs(change) and abs(gap) > 1e-6 * max(abs(fx), abs(fb), np.finfo(float).tiny):
        warnings.warn(
            f"integrated gradients sum to {total:.6g} but f(x) - f(baseline) = {change:.6g} (completeness gap "
            f"{gap:.6g}): f is likely discontinuous or flat along the path (a step has zero gradient almost "
            "everywhere), or n_steps is too small; the attributions do not account for f's change",
            UserWarning, stacklevel=4,
        )


def _x64(dtype):
    return jax.enable_x64(dtype == "float64")


# --------------------------------------------------------------------------- public
def integrated_gradients(
    f,
    x,
    baseline,
    n_steps: int = 50,
    method: str = "gausslegendre",
    target: int | None = None,
    internal_batch_size: int | None = None,
    dtype: str | None = None,
    output: str | None = None,
) -> IGResult:
    """Integrated gradients of a differentiable ``f`` at ``x`` with ``baseline``.

    ``IG_u ~ (x_u - b_u) sum_k w_k d f/d x_u (b + alpha_k (x - b))`` with the rule
    ``(alpha_k, w_k)`` of :func:`quadrature`. The gradients at the path points are computed
    ``internal_batch_size`` at a time, so memory is bounded by one chunk whatever ``n_steps``.
    For a JAX function (or a JAX-backed Classifier) each chunk is one jit-compiled ``vmap``
    (chunks of equal size, padded with zero-weight points); for a PyTorch Classifier each chunk
    is one batched ``torch.autograd`` pass (:attr:`limetheory.nets.Classifier.value_and_grad`).

    Parameters
    ----------
    f : callable or :class:`limetheory.nets.Classifier`
        A pure JAX function of ONE input of ``x``'s shape returning a scalar, or a vector of
        scores from which ``target`` picks one; or a Classifier of any backend, whose
        ``output`` of class ``target`` is explained. The compiled program is cached per ``f``
        object: pass the same function object to reuse it (a fresh lambda at every call
        compiles again).
    x, baseline : arrays of the same shape
        The input explained and the path's start (for comparisons with LIME, LIME's
        replacement image :func:`limetheory.segmentation.replacement_image`).
    n_steps : int, default 50
        Number of path points (>= 1; >= 2 for the trapezoid rule). Cost: about ``n_steps``
        forward+backward passes, plus two forward passes for ``f(x)`` and ``f(baseline)``.
    method : {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"}
    target : int or None
        Index of the output to explain when ``f`` returns a vector (required for a
        Classifier); None for scalar ``f``.
    internal_batch_size : int or None
        Path points per chunk (default ``min(n_steps, DEFAULT_INTERNAL_BATCH_SIZE)``, or the
        Classifier's ``batch_size``). Chunks are balanced: ``n_steps=50,
        internal_batch_size=16`` runs 4 chunks of 13.
    dtype : {"float64", "float32"} or None
        Floating type of the computation; None: float64 for a function and for a PyTorch
        Classifier (a float64 copy of the module), float32 for a JAX-backed Classifier (the
        bundled networks and Keras models hold float32 parameters that convolutions will not
        promote). ``"float64"`` casts ``x`` and ``baseline`` to float64 and, for JAX, enables
        64-bit mode inside this call only; float32 parameters of a network are then promoted
        by ``jnp`` operations (``lax`` primitives that demand equal dtypes, such as
        ``lax.conv_general_dilated``, need ``"float32"``). ``"float32"`` computes in single
        precision: the completeness gap then has a rounding floor of roughly
        ``1e-7 * sqrt(x.size) * max|IG_u|`` on top of the quadrature error.
    output : {"prob", "logit"} or None
        For a Classifier: explain the class's softmax probability or its logit (None: the
        Classifier's own :attr:`~limetheory.nets.Classifier.output`, the probability unless it
        was declared otherwise). A function ``f`` is explained as it is (None or ``"logit"``).

    Returns
    -------
    IGResult
        Frozen: ``attributions`` (NumPy float64, ``x``'s shape), ``f_x``, ``f_baseline`` and
        ``completeness_gap = sum(IG) - (f(x) - f(baseline))``.
    """
    is_clf = isinstance(f, Classifier)
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    check_choice(output, "output", ("prob", "logit", None))
    if not is_clf and output == "prob":
        raise ValueError("output='prob' needs a Classifier; for a function f, pass softmax(f) itself")
    if dtype is None:
        dtype = "float32" if is_clf and f.backend == "jax" else "float64"
    check_choice(dtype, "dtype", sorted(_DTYPES))
    xa = _check_real_array(x, "x")
    ba = _check_real_array(baseline, "baseline")
    if xa.shape != ba.shape:
        raise ValueError(f"baseline must have x's shape {xa.shape}, got {ba.shape}")
    alpha, w = quadrature(n_steps, method)
    if internal_batch_size is None:
        per_chunk = f.batch_size if is_clf and f.backend != "jax" and f.batch_size else DEFAULT_INTERNAL_BATCH_SIZE
        internal_batch_size = min(int(n_steps), per_chunk)
    internal_batch_size = check_int(internal_batch_size, "internal_batch_size", 1)
    if is_clf:
        if target is None:
            raise ValueError(f"target must be a class index in [0, {f.n_classes}) for a Classifier, got None")
        f.check_image(xa, "x")
        f.check_images(ba[None], "baseline")
        output = f.output if output is None else output
        if f.backend == "numpy":
            raise ValueError(f"f: {f.name} is a NumPy function, which has no gradients; integrated gradients "
                             "need a JAX function or a PyTorch module")
        if f.backend != "jax":
            tgt = check_int(target, "target", 0, f.n_classes - 1)
            f.scores(xa[None], output)  # refuses an output the network cannot give
            mean_grad, fx, fb = _autograd_path(f.value_and_grad, xa, ba, alpha, w, internal_batch_size, tgt,
                                               output, dtype)
            return _result(mean_grad, xa, ba, fx, fb, method, n_steps, tgt, dtype)
        f = f.output_fn(output)
    np_dtype = _DTYPES[dtype]
    xa, ba = xa.astype(np_dtype), ba.astype(np_dtype)
    scalar, tgt = _check_target(f, xa, target, _x64(dtype))
    alphas, weights = _chunks(alpha, w, internal_batch_size)
    model = _ByIdentity(f)
    with _x64(dtype):
        xj, bj, tj = jnp.asarray(xa), jnp.asarray(ba), jnp.asarray(tgt)
        acc = None
        for a_chunk, w_chunk in zip(alphas.astype(np_dtype), weights.astype(np_dtype)):
            part = _weighted_path_gradients(model, scalar, xj, bj, jnp.asarray(a_chunk), jnp.asarray(w_chunk), tj)
            acc = part if acc is None else acc + part
        fx, fb = _endpoints(model, scalar, xj, bj, tj)
        mean_grad = np.asarray(acc, dtype=np.float64)
        fx, fb = float(fx), float(fb)
    return _result(mean_grad, xa, ba, fx, fb, method, n_steps, None if scalar else tgt, dtype)


def _result(mean_grad, xa, ba, fx, fb, method, n_steps, target, dtype) -> IGResult:
    """``IG = (x - b) * sum_k w_k grad f(b + alpha_k (x - b))`` and its completeness gap."""
    _check_finite_path(mean_grad, fx, fb)
    attr = mean_grad * (xa.astype(np.float64) - ba.astype(np.float64))
    _warn_if_incomplete(float(np.sum(attr)), float(fx), float(fb))
    return IGResult(
        attributions=attr,
        f_x=float(fx),
        f_baseline=float(fb),
        completeness_gap=float(np.sum(attr) - (fx - fb)),
        method=method,
        n_steps=int(n_steps),
        target=target,
        dtype=dtype,
    )


def _autograd_path(value_and_grad, x, b, alpha, w, batch, target, output, dtype):
    """``sum_k w_k grad f(b + alpha_k (x - b))``, ``f(x)`` and ``f(b)`` from a NumPy gradient hook.

    The path points are sent ``batch`` at a time (no padding: nothing is compiled); the
    weighted sum runs in float64.
    """
    x64, b64 = x.astype(np.float64), b.astype(np.float64)
    delta = x64 - b64
    acc = np.zeros(x.shape)
    for start in range(0, alpha.shape[0], batch):
        a = alpha[start:start + batch]
        points = b64[None] + a.reshape((-1,) + (1,) * x.ndim) * delta[None]
        _, grads = value_and_grad(points, target, output, dtype)
        acc += np.tensordot(w[start:start + batch], grads, axes=1)
    ends, _ = value_and_grad(np.stack([x64, b64]), target, output, dtype)
    return acc, float(ends[0]), float(ends[1])


def _check_sums_arguments(arguments: dict) -> dict:
    """The checks of :func:`superpixel_sums`: real (H, W[, C]) attributions, segments of their size."""
    attr = _check_real_array(arguments["attributions"], "attributions")
    if attr.ndim not in (2, 3):
        raise ValueError(f"attributions must be (H, W) or (H, W, C), got shape {attr.shape}")
    return {"attributions": attr, "segments": check_segments(arguments["segments"], attr.shape)}


@validate_params(_check_sums_arguments)
def superpixel_sums(attributions, segments) -> np.ndarray:
    """``s_j = sum_{u in J_j} IG_u`` over the pixels of superpixel j and all their channels.

    Parameters
    ----------
    attributions : (H, W) or (H, W, C) array
        Per-pixel attributions (e.g. ``IGResult.attributions``).
    segments : (H, W) int array
        Superpixel labels (relabelled to ``0..d-1`` if they are not contiguous).

    Returns
    -------
    (d,) float64 array.
    """
    attr = np.asarray(attributions, dtype=np.float64)
    seg = np.asarray(segments)
    per_pixel = attr.sum(axis=2) if attr.ndim == 3 else attr
    return np.bincount(seg.ravel(), weights=per_pixel.ravel(), minlength=n_superpixels(seg))
