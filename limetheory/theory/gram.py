"""Sigma = E[pi Z Z^T], Z = (1, z), and its inverse (docs/theory/limit.md).

    Sigma^{-1} = (1/c_d) [[sigma_0, sigma_1 1^T], [sigma_1 1, M]],  M = (sigma_2 - sigma_3) I + sigma_3 1 1^T.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..kernel import alpha, alpha_diff, check_d, check_kernel, exp_checked
from ..validation import check_real, renamed_keywords
from ._normalized import normalized

__all__ = ["MAX_DENSE_D", "Sigma", "sigma", "sigma_inverse", "sigma_matrix"]

#: Largest d for which :func:`sigma_inverse` and :func:`sigma_matrix` build a dense (d+1, d+1) matrix.
MAX_DENSE_D = 5000
_HINT = "pass log_scale=log_alpha(d, kernel_width, 0)"


class Sigma(NamedTuple):
    """Coefficients of Sigma^{-1} = (1/c_d) [[sigma_0, sigma_1 1^T], [sigma_1 1, M]] (docs/theory/limit.md)."""

    c_d: float
    sigma_0: float
    sigma_1: float
    sigma_2: float
    sigma_3: float


@renamed_keywords(nu="kernel_width")
def sigma(d: int, kernel_width: float | None, *, log_scale: float = 0.0, kernel: str = "lime") -> Sigma:
    """(c_d, sigma_0, sigma_1, sigma_2, sigma_3) for the kernel pi * exp(-log_scale).

    ``c_d = (d-1) a0 a2 - d a1^2 + a0 a1``, ``sigma_0 = (d-1) a2 + a1``, ``sigma_1 = -a1``,
    ``sigma_2 = ((d-2) a0 a2 - (d-1) a1^2 + a0 a1) / (a1 - a2)``,
    ``sigma_3 = (a1^2 - a0 a2) / (a1 - a2)`` with ``a_p = alpha_p exp(-log_scale)``; c_d scales
    like exp(-2 log_scale), the sigmas like exp(-log_scale). Evaluated without cancellation
    (package docstring). For d = 1 (a 2 x 2 Sigma) ``sigma_2 = a0`` and ``sigma_3 = 0`` (there is
    no off-diagonal entry). The same closed form holds for every exchangeable kernel, with its own
    alpha_p: ``kernel="shap"`` gives it for the Shapley kernel on 1 <= k <= d - 1 (kernel_width unused).

    Raises
    ------
    ValueError
        If a value is not representable at this ``log_scale`` (pass
        ``log_scale=log_alpha(d, kernel_width, 0)``), or Sigma is singular to float64 precision (d = 1
        with kernel_width < ~0.027; d = 4 with kernel_width < ~0.0053).
    """
    n = normalized(d, kernel_width, kernel)
    shift = n.log_alpha0 - check_real(log_scale, "log_scale")
    out = []
    for value, power in ((n.c, 2), (n.s0, 1), (n.s1, 1), (n.s2, 1), (n.s3, 1)):
        if value == 0.0:
            out.append(0.0)
            continue
        lv = np.log(abs(value)) + power * shift
        out.append(float(np.sign(value) * exp_checked(lv, "a coefficient of sigma", _HINT)))
    return Sigma(*out)


@renamed_keywords(nu="kernel_width")
def sigma_inverse(d: int, kernel_width: float | None, *, log_scale: float = 0.0, kernel: str = "lime") -> np.ndarray:
    """The dense (d+1, d+1) matrix Sigma^{-1} for the kernel pi * exp(-log_scale).

    ``Sigma^{-1} = (1/c_d) [[sigma_0, sigma_1 1^T], [sigma_1 1, M]]``, M with sigma_2 on the
    diagonal and sigma_3 elsewhere, Sigma = E[pi Z Z^T], Z = (1, z). It scales like exp(log_scale).
    Limited to d <= MAX_DENSE_D (memory); use :func:`sigma` beyond.
    """
    d = check_d(d)
    if d > MAX_DENSE_D:
        raise ValueError(f"d must be <= {MAX_DENSE_D} for a dense Sigma^{{-1}}, got {d}; use sigma()")
    n = normalized(d, kernel_width, kernel)
    shift = check_real(log_scale, "log_scale") - n.log_alpha0
    scale = exp_checked(np.log(1.0 / n.c) + shift, "the scale 1/c_d of Sigma^{-1}", _HINT)
    m = np.full((n.d + 1, n.d + 1), n.s3)
    np.fill_diagonal(m, n.s2)
    m[0, :] = n.s1
    m[:, 0] = n.s1
    m[0, 0] = n.s0
    return m * float(scale)


@renamed_keywords(nu="kernel_width")
def sigma_matrix(d: int, kernel_width: float | None, *, log_scale: float = 0.0, kernel: str = "lime") -> np.ndarray:
    """The dense (d+1, d+1) matrix Sigma = E[pi Z Z^T] for pi * exp(-log_scale) (small d; tests).

    ``Sigma = [[alpha_0, alpha_1 1^T], [alpha_1 1, (alpha_1 - alpha_2) I + alpha_2 1 1^T]]``.
    """
    kernel, kernel_width = check_kernel(kernel, kernel_width)
    d = check_d(d)
    if d > MAX_DENSE_D:
        raise ValueError(f"d must be <= {MAX_DENSE_D} for a dense Sigma, got {d}")
    kernel_width = None if kernel == "shap" else kernel_width
    a0, a1 = alpha(d, kernel_width, [0, 1], log_scale=log_scale, kernel=kernel)
    if d == 1:
        return np.array([[a0, a1], [a1, a1]])
    a2 = alpha(d, kernel_width, 2, log_scale=log_scale, kernel=kernel)
    m = np.full((d + 1, d + 1), a2)
    idx = np.arange(1, d + 1)
    m[idx, idx] = a2 + alpha_diff(d, kernel_width, 1, log_scale=log_scale, kernel=kernel)
    m[0, :] = a1
    m[:, 0] = a1
    m[0, 0] = a0
    return m
