"""Interpretable samples z in {0,1}^d and LIME's kernel weights (THEORY.md section 1, steps 3 and 5).

    z_i ~ i.i.d. Bernoulli(1/2)^d,  z_0 = (1, ..., 1)  (the unperturbed image is sample 0)
    d_cos(1, z) = 1 - 1^T z / (sqrt(d) ||z||),   d_cos(1, 0) = 1
    pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2))
"""
from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "bernoulli_samples", "cosine_distance_to_ones", "kernel_weights", "lime_samples"]


def as_generator(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator (returned as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        raise TypeError("seed must be an int, None or a numpy Generator; use limetheory.compat for RandomState")
    return np.random.default_rng(seed)


def bernoulli_samples(n: int, d: int, rng, first_row_ones: bool = True) -> np.ndarray:
    """n samples of z ~ Bernoulli(1/2)^d as a (n, d) uint8 array; row 0 is all ones by default."""
    z = as_generator(rng).integers(0, 2, size=(n, d), dtype=np.uint8)
    if first_row_ones and n > 0:
        z[0] = 1
    return z


def lime_samples(n: int, d: int, random_state: np.random.RandomState) -> np.ndarray:
    """lime 0.2.0.1's draw: ``random_state.randint(0, 2, n*d).reshape(n, d)``, first row set to ones.

    Consumes exactly the random stream lime consumes, so the same ``RandomState`` state gives the
    same z, bit for bit.
    """
    z = random_state.randint(0, 2, n * d).reshape((n, d))
    z[0, :] = 1
    return z


def cosine_distance_to_ones(z) -> np.ndarray:
    """d_cos(1, z) for every row of z; a zero row has distance 1 (scikit-learn's convention).

    Depends on z only through the number of ones k = 1^T z: d_cos = 1 - sqrt(k / d).
    """
    z = np.asarray(z)
    d = z.shape[1]
    k = np.count_nonzero(z, axis=1).astype(np.float64)
    return 1.0 - np.sqrt(k / d)


def kernel_weights(z, kernel_width: float = 0.25) -> np.ndarray:
    """LIME's weights pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)), nu = ``kernel_width``.

    lime writes the same kernel as ``sqrt(exp(-d^2 / w^2))``.
    """
    dist = cosine_distance_to_ones(z)
    return np.exp(-(dist**2) / (2.0 * kernel_width**2))
