"""One batched, jit-compiled prediction: NumPy in, NumPy out, few compilations.

:func:`batched_jit` jits a batch function once and returns a NumPy runner that feeds it
chunks of at most ``batch_size`` rows. How the last, shorter chunk is handled decides how
many programs XLA compiles and how much work is wasted on padding rows:

- ``"full"``: the program always sees ``batch_size`` rows. One compilation; fewer than
  ``batch_size`` wasted rows per call.
- ``"pow2"``: a chunk of ``m`` rows is padded to ``min(batch_size, 2^ceil(log2 m))``. At most
  ``log2(batch_size) + 2`` compilations; fewer than ``m`` wasted rows (less than 2x the work).
- ``"none"``: every chunk runs at its own size. One compilation per distinct chunk size; no
  wasted work (best when a caller always sends the same number of rows, as lime does).

Padding rows are copies of the chunk's last row, so they stay in the model's input domain
(no NaN or out-of-range activations); their outputs are dropped. Rows never interact in the
models of this package, so padding does not change the real rows' outputs beyond the
rounding of a BLAS product blocked differently for another batch shape.
"""
from __future__ import annotations

from typing import Callable

import jax
import numpy as np

from ..validation import check_choice, check_int

__all__ = ["PAD_MODES", "batched_jit", "batched_predict", "padded_size"]

PAD_MODES = ("full", "pow2", "none")


def padded_size(m: int, batch_size: int, pad: str) -> int:
    """Rows the compiled program sees for a chunk of ``m <= batch_size`` rows (see module table)."""
    if pad == "full":
        return batch_size
    if pad == "pow2":
        return min(batch_size, 1 << (m - 1).bit_length())
    return m


def batched_jit(fn: Callable, batch_size: int, *, pad: str = "full") -> Callable:
    """Jit ``fn`` once; return ``run(inputs, *args) -> ndarray`` that applies it in chunks.

    Parameters
    ----------
    fn : callable
        A JAX-traceable function ``fn(batch, *args)`` of a batch ``(m, ...)`` whose output has
        ``m`` rows (any pytree-free array ``(m, ...)``). Rows must not interact.
    batch_size : int >= 1
        Most rows per call of the compiled program.
    pad : {"full", "pow2", "none"}
        How the last, shorter chunk is padded (see the module docstring): "full" compiles
        once; "pow2" bounds both the compilations and the wasted work; "none" wastes nothing
        and compiles once per distinct chunk size.

    Returns
    -------
    run : callable
        ``run(inputs, *args)``: ``inputs`` an array ``(N, ...)`` (NumPy or JAX), ``args``
        passed unchanged to every call (e.g. parameters; traced, so new values of the same
        shape do not recompile). Returns the NumPy concatenation of the chunks' outputs,
        ``(N, ...)``; for ``N = 0`` an empty array of the output's trailing shape and dtype.
        ``run.jitted`` is the compiled ``fn``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_choice(pad, "pad", PAD_MODES)
    jitted = jax.jit(fn)

    def run(inputs, *args) -> np.ndarray:
        inputs = np.asarray(inputs)
        n = inputs.shape[0]
        if n == 0:
            shape = jax.eval_shape(fn, jax.ShapeDtypeStruct((1,) + inputs.shape[1:], inputs.dtype), *args)
            return np.zeros((0,) + tuple(shape.shape[1:]), shape.dtype)
        outs = []
        for start in range(0, n, batch_size):
            chunk = inputs[start:start + batch_size]
            m = chunk.shape[0]
            size = padded_size(m, batch_size, pad)
            if size > m:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - m, axis=0)])
            outs.append(np.asarray(jitted(chunk, *args))[:m])
        return np.concatenate(outs, axis=0)

    run.jitted = jitted
    return run


def batched_predict(f, target: int | None = None, batch_size: int = 256, dtype: str = "float64"):
    """NumPy batch predictor from a single-image JAX function: ``jit(vmap(f))`` in chunks.

    ``predict(images)`` maps ``(m, *shape)`` images to (m,) for a scalar ``f`` or (m, K) for
    scores (``target=None``), or to (m,) scores of class ``target``. Computed in ``dtype``
    (float64: JAX's 64-bit mode enabled inside the call only), returned as float64 NumPy.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    batch_size = check_int(batch_size, "batch_size", 1)
    check_choice(dtype, "dtype", ("float64", "float32"))
    np_dtype = np.float64 if dtype == "float64" else np.float32
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
