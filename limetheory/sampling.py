"""Interpretable samples z in {0,1}^d and LIME's kernel weights (docs/theory/lime_algorithm.md, steps 3 and 5).

    z_i ~ i.i.d. Bernoulli(1/2)^d,  z_0 = (1, ..., 1)  (the unperturbed image is sample 0)
    d_cos(1, z) = 1 - 1^T z / (sqrt(d) ||z||),   d_cos(1, 0) = 1
    pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2))

Also lime's own random stream (:func:`lime_samples`), and a variance-reduced alternative with the
same limit explanation: z drawn from the pi-weighted law with equal weights (:func:`weighted_samples`).
"""
from __future__ import annotations

import numpy as np

from .kernel import kernel_log, weighted_law
from .validation import as_generator, check_kernel_width

__all__ = [
    "SAMPLERS",
    "as_generator",
    "bernoulli_samples",
    "cosine_distance_to_ones",
    "kernel_weights",
    "lime_samples",
    "samples_and_weights",
    "samples_with_ones",
    "weighted_samples",
]

#: How ``explain`` draws z: lime's Bernoulli(1/2)^d weighted by pi, or z drawn from the pi-weighted
#: law itself with equal weights (same limit explanation, see :func:`weighted_samples`).
SAMPLERS = ("bernoulli", "weighted")


def bernoulli_samples(n: int, d: int, rng, first_row_ones: bool = True) -> np.ndarray:
    """n samples of z ~ Bernoulli(1/2)^d as a (n, d) uint8 array; row 0 is all ones by default."""
    z = as_generator(rng).integers(0, 2, size=(n, d), dtype=np.uint8)
    if first_row_ones and n > 0:
        z[0] = 1
    return z


def samples_with_ones(counts, d: int, rng) -> np.ndarray:
    """(n, d) uint8 rows, row i with ``counts[i]`` ones at uniformly random places."""
    counts = np.asarray(counts)
    ranks = np.argsort(np.argsort(as_generator(rng).random((counts.shape[0], d)), axis=1), axis=1)
    return (ranks < counts[:, None]).astype(np.uint8)


def weighted_samples(n: int, d: int, kernel_width: float, rng, first_row_ones: bool = True) -> np.ndarray:
    """n samples of z from the pi-weighted law, density pi(z) / alpha_0 against Bernoulli(1/2)^d.

    Parameters
    ----------
    n : int
        Number of samples.
    d : int >= 1
        Number of superpixels.
    kernel_width : float > 0
        The kernel width nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)).
    rng : None, int or numpy Generator
        The random stream.
    first_row_ones : bool
        Set row 0 to z = 1 (the unperturbed image), as lime does.

    Returns
    -------
    (n, d) uint8 array of 0/1.

    Notes
    -----
    The number of ones k is drawn from q_k = C(d, k) 2^-d pi_k / alpha_0
    (:func:`limetheory.kernel.weighted_law`), then k ones are placed uniformly at random. Least
    squares with *equal* weights on these z has the same limit as LIME's pi-weighted least squares
    on Bernoulli z, beta^f = E[pi x x^T]^{-1} E[pi x f], but another spread around it; which is
    smaller depends on f and nu (`theory.exact_limit_covariance(..., sampler=...)` says which): the
    weighted law wins by far for small kernel widths, where most Bernoulli samples get a weight
    near zero. Row 0 is all ones (the unperturbed image) by default, as in lime.
    """
    rng = as_generator(rng)
    q, _ = weighted_law(d, kernel_width)
    z = samples_with_ones(rng.choice(d + 1, size=n, p=q), d, rng)
    if first_row_ones and n > 0:
        z[0] = 1
    return z


def samples_and_weights(n: int, d: int, kernel_width: float, rng, sampler: str = "bernoulli",
                        first_row_ones: bool = True) -> tuple:
    """LIME's design for ``sampler`` (see :data:`SAMPLERS`): z (n, d) uint8 with z_0 = 1, weights (n,).

    ``first_row_ones=False`` draws every row (for further rounds of the same run).

    ``"bernoulli"``: z ~ Bernoulli(1/2)^d, weights pi(z) (lime). ``"weighted"``: z from the
    pi-weighted law (:func:`weighted_samples`), weights 1.
    """
    if sampler == "bernoulli":
        z = bernoulli_samples(n, d, rng, first_row_ones)
        return z, kernel_weights(z, kernel_width)
    if sampler == "weighted":
        return weighted_samples(n, d, kernel_width, rng, first_row_ones), np.ones(n)
    raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")


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
    """LIME's weights pi(z) = exp(-(d_cos(1, z) / nu)^2 / 2), nu = ``kernel_width``.

    lime writes the same kernel as ``sqrt(exp(-d^2 / w^2))``. Computed as ``(d_cos / nu)^2`` (not
    ``d_cos^2 / nu^2``), so no width in float64's range overflows or gives 0 / 0.
    """
    kernel_width = check_kernel_width(kernel_width)
    z = np.asarray(z)
    return np.exp(kernel_log(np.count_nonzero(z, axis=1), z.shape[1], kernel_width))
