"""{0,1}^d enumerated once: every pattern z, its row index, and a table of f over all 2^d patterns.

Pattern number ``i`` has ``z_j = (i >> j) & 1``, so ``index(z) = sum_j z_j 2^j`` and the last
pattern (``2^d - 1``) is z = 1, the unperturbed image.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..validation import check_int

__all__ = ["MAX_EXACT_D", "ResponseTable", "all_patterns", "call_f", "pattern_index"]

#: Largest d for which {0,1}^d is enumerated (2^24 = 16.8 million patterns): exact_limit,
#: exact_limit_covariance, ResponseTable, and the exact oracles of other modules.
MAX_EXACT_D = 24


def check_enumerable_d(d, name: str = "d") -> int:
    """d as an int in 1..MAX_EXACT_D, with a hint when it is too large to enumerate."""
    d = check_int(d, name, 1)
    if d > MAX_EXACT_D:
        raise ValueError(f"{name} must be <= {MAX_EXACT_D} for exact enumeration, got {d}; use monte_carlo_limit")
    return d


def all_patterns(d: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Patterns ``start..stop-1`` of {0,1}^d as an (m, d) uint8 array: row i is ``z_j = (i >> j) & 1``."""
    stop = (1 << d) if stop is None else stop
    idx = np.arange(start, stop, dtype=np.int64)
    return ((idx[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(np.uint8)


def pattern_index(z) -> np.ndarray:
    """The row of each z in :func:`all_patterns`: ``sum_j z_j 2^j``."""
    z = np.asarray(z, dtype=np.int64)
    return z @ (np.int64(1) << np.arange(z.shape[-1], dtype=np.int64))


def call_f(f_of_z: Callable, z: np.ndarray, k_out: int | None) -> np.ndarray:
    """f_of_z(z) as float64 (m,) or (m, k); ``k_out`` is the previous batch's k (-1: 1-D), if any.

    Raises TypeError for non-real outputs (complex, bool, object), ValueError for a wrong shape or
    a NaN / infinite value.
    """
    raw = np.asarray(f_of_z(z))
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"f_of_z must return real numbers (int or float), got dtype {raw.dtype}")
    y = raw.astype(np.float64, copy=False)
    if y.ndim not in (1, 2) or y.shape[0] != z.shape[0]:
        raise ValueError(f"f_of_z must return an (m,) or (m, k) array for m = {z.shape[0]} rows, got shape {y.shape}")
    if k_out is not None and (y.shape[1] if y.ndim == 2 else -1) != k_out:
        raise ValueError("f_of_z must return arrays of the same shape for every batch")
    if not np.all(np.isfinite(y)):
        raise ValueError("f_of_z returned NaN or infinite values")
    return y


class ResponseTable:
    """f over all of {0,1}^d, evaluated once; calling the table looks z up instead of calling f.

    ``table(z) = values[index(z)]`` with ``index(z) = sum_j z_j 2^j`` (:func:`pattern_index`), so a
    table can be passed wherever an ``f_of_z`` is expected (:func:`exact_limit`,
    :func:`exact_limit_covariance`) and an expensive model runs once per pattern.

    Parameters
    ----------
    values : (2^d,) or (2^d, k) array
        f at pattern i in row i (the order of :func:`all_patterns`).
    """

    def __init__(self, values):
        arr = np.asarray(values)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"values must be real numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.shape[0] < 2 or arr.shape[0] & (arr.shape[0] - 1):
            raise ValueError(f"values must have 2^d rows (d >= 1) and 1 or 2 dimensions, got shape {arr.shape}")
        self.values = arr.astype(np.float64)
        self.d = int(arr.shape[0]).bit_length() - 1

    @classmethod
    def from_function(cls, f_of_z: Callable, d: int, *, batch_size: int = 1 << 15) -> "ResponseTable":
        """Evaluate ``f_of_z`` once on every z in {0,1}^d, ``batch_size`` patterns per call."""
        d = check_enumerable_d(d)
        batch_size = check_int(batch_size, "batch_size", 1)
        if not callable(f_of_z):
            raise TypeError("f_of_z must be callable on an (m, d) array of 0/1")
        if isinstance(f_of_z, ResponseTable) and f_of_z.d == d:
            return f_of_z
        total, parts, k_out = 1 << d, [], None
        for start in range(0, total, batch_size):
            y = call_f(f_of_z, all_patterns(d, start, min(start + batch_size, total)), k_out)
            k_out = y.shape[1] if y.ndim == 2 else -1
            parts.append(y)
        return cls(np.concatenate(parts, axis=0))

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.d:
            raise ValueError(f"z must be an (m, {self.d}) array of 0/1, got shape {z.shape}")
        return self.values[pattern_index(z)]

    def __repr__(self) -> str:
        return f"ResponseTable(d={self.d}, values shape={self.values.shape})"
