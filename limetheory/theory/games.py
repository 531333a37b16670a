"""Exact Shapley, Banzhaf and occlusion values of the superpixel game, from one table of responses.

The superpixel game is g(z) = f(x(z)) for z in {0,1}^d (g(1) = f(xi), g(0) = f(xi_bar)). Writing
a coalition S for the z with z_j = 1 exactly on S, the values are

    Shapley   phi_j = sum_{S not containing j} |S|! (d - |S| - 1)! / d! (g(S + j) - g(S)),
    Banzhaf   phi_j = sum_{S not containing j} (g(S + j) - g(S)) / 2^(d-1),
    occlusion phi_j = g(1) - g(1 - e_j).

Shapley and Banzhaf are semivalues: a weight that depends only on |S| times the marginal
contribution of j. They are summed here as weighted differences of the table's rows (never as
a difference of two large sums), over the 2^d responses evaluated once
(:class:`limetheory.theory.ResponseTable`); occlusion needs only the d + 1 patterns 1 and 1 - e_j.

The same values are limits of weighted least squares on the game (the theory pages): the
Shapley kernel's limit is the Shapley value, LIME's limit tends to the Banzhaf value as the kernel
width grows and to occlusion as it shrinks, and all of them equal b_j when g is affine,
g(z) = b_0 + sum_j b_j z_j.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .enumeration import ResponseTable, call_f, check_enumerable_d
from ..validation import check_int

__all__ = ["exact_banzhaf", "exact_occlusion", "exact_shapley", "shapley_weights"]


def shapley_weights(d: int) -> np.ndarray:
    """The Shapley weight of a coalition of each size s = 0..d-1: s! (d - s - 1)! / d! = 1 / (d C(d-1, s))."""
    return np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])


def _table(f_of_z, d, batch_size: int) -> ResponseTable:
    """The response table of ``f_of_z`` (evaluated once per pattern) or the table itself, checked against d."""
    if isinstance(f_of_z, ResponseTable):
        if d is not None and check_int(d, "d", 1) != f_of_z.d:
            raise ValueError(f"d = {d} does not match the ResponseTable's d = {f_of_z.d}")
        return f_of_z
    if d is None:
        raise TypeError("d is required when f_of_z is a function (it may be omitted only for a ResponseTable)")
    d = check_enumerable_d(d)
    batch_size = check_int(batch_size, "batch_size", 1)
    if not callable(f_of_z):
        raise TypeError("f_of_z must be a ResponseTable or callable on an (m, d) array of 0/1")
    return ResponseTable.from_function(f_of_z, d, batch_size=batch_size)


def _popcount(d: int) -> np.ndarray:
    """Number of ones of every pattern index 0..2^d - 1 (uint8)."""
    idx = np.arange(1 << d, dtype=np.uint32)  # d <= MAX_EXACT_D = 24: fits
    count = np.zeros(1 << d, dtype=np.uint8)
    for j in range(d):
        count += ((idx >> j) & 1).astype(np.uint8)
    return count


def semivalue(table: ResponseTable, weight_of_size: np.ndarray) -> np.ndarray:
    """phi_j = sum_{S not containing j} w(|S|) (g(S + j) - g(S)) for every j; (d,) or (k, d).

    The table is viewed as a (2, ..., 2, k) array (pattern i = sum_j z_j 2^j, so bit j is axis
    d - 1 - j); for each j the marginal contributions are one difference along that axis.
    """
    d, values = table.d, table.values
    k = 1 if values.ndim == 1 else values.shape[1]
    cube = values.reshape((2,) * d + (k,))
    sizes = _popcount(d).reshape((2,) * d)
    out = np.empty((k, d))
    for j in range(d):
        axis = d - 1 - j
        marginal = np.take(cube, 1, axis=axis) - np.take(cube, 0, axis=axis)  # g(S + j) - g(S)
        weight = weight_of_size[np.take(sizes, 0, axis=axis)]  # w(|S|), S without j
        out[:, j] = weight.reshape(-1) @ marginal.reshape(-1, k)
    return out[0] if values.ndim == 1 else out


def exact_shapley(f_of_z: Callable | ResponseTable, d: int | None = None, *, batch_size: int = 1 << 15) -> np.ndarray:
    """The exact Shapley value of the game g(z) = f_of_z(z) on {0,1}^d (d <= MAX_EXACT_D).

    ``phi_j = sum_{S not containing j} |S|! (d - |S| - 1)! / d! (g(S + j) - g(S))`` (Shapley 1953),
    the limit of KernelSHAP (Lundberg & Lee 2017). Efficiency: ``sum_j phi_j = g(1) - g(0)``.

    Parameters
    ----------
    f_of_z : callable or ResponseTable
        Takes an (m, d) uint8 array of 0/1 and returns (m,) or (m, k) real values (several outputs
        at once); evaluated once on every pattern. A :class:`ResponseTable` is used as it is.
    d : int in 1..MAX_EXACT_D
        Number of players (superpixels); may be omitted for a ResponseTable.
    batch_size : int >= 1
        Patterns per call of ``f_of_z``.

    Returns
    -------
    (d,) array for a scalar game, (k, d) for k outputs.

    Cost: 2^d calls of f (in batches), then O(d 2^d) arithmetic (d = 24: 16.8 million responses).
    """
    table = _table(f_of_z, d, batch_size)
    return semivalue(table, shapley_weights(table.d))


def exact_banzhaf(f_of_z: Callable | ResponseTable, d: int | None = None, *, batch_size: int = 1 << 15) -> np.ndarray:
    """The exact Banzhaf value: ``phi_j = 2^-(d-1) sum_{S not containing j} (g(S + j) - g(S))``.

    The mean marginal contribution of j over all coalitions, i.e. ``E[g | z_j = 1] - E[g | z_j = 0]``
    for z ~ Bernoulli(1/2)^d: the gradient of the multilinear extension at t = 1/2 (Owen 1972) and
    the limit of LIME as kernel_width -> infinity (constant kernel). Arguments and shapes as
    :func:`exact_shapley`.
    """
    table = _table(f_of_z, d, batch_size)
    return semivalue(table, np.full(table.d, 0.5 ** (table.d - 1)))


def exact_occlusion(f_of_z: Callable | ResponseTable, d: int | None = None) -> np.ndarray:
    """Occlusion: ``phi_j = g(1) - g(1 - e_j)``, the drop when superpixel j alone is hidden.

    The limit of LIME as kernel_width -> 0 (the kernel then only sees z = 1 and the patterns with
    one zero). Needs only those d + 1 patterns: a callable is evaluated on them alone, so d may
    exceed MAX_EXACT_D. (d,) for a scalar game, (k, d) for k outputs.
    """
    if isinstance(f_of_z, ResponseTable):
        table = _table(f_of_z, d, 1)
        d, f_of_z = table.d, table
    elif d is None:
        raise TypeError("d is required when f_of_z is a function (it may be omitted only for a ResponseTable)")
    elif not callable(f_of_z):
        raise TypeError("f_of_z must be a ResponseTable or callable on an (m, d) array of 0/1")
    else:
        d = check_int(d, "d", 1)
    y = one_off_responses(f_of_z, d)
    return (y[0] - y[1:]).T if y.ndim == 2 else y[0] - y[1:]


def one_off_responses(f_of_z: Callable, d: int) -> np.ndarray:
    """f at z = 1 (row 0) and at the d patterns 1 - e_j (rows 1..d): (d + 1,) or (d + 1, k)."""
    z = np.ones((d + 1, d), dtype=np.uint8)
    z[np.arange(1, d + 1), np.arange(d)] = 0
    return call_f(f_of_z, z, None)

