"""KernelSHAP's limit and its asymptotic covariance: regression under the Shapley kernel with its two constraints.

KernelSHAP (Lundberg & Lee, NeurIPS 2017) fits g(z) ~ phi_0 + sum_j phi_j z_j by least squares under
the Shapley kernel pi_SHAP(k) = (d - 1) / (C(d, k) k (d - k)), whose infinite weights at k = 0 and
k = d are the constraints phi_0 = g(0) and sum_j phi_j = g(1) - g(0). Drawing z from the kernel's
law (k from q_k proportional to 1 / (k (d - k)), then k ones at random) and fitting with equal
weights, the estimate solves the constrained least squares (Covert & Lee, AISTATS 2021)

    phi = A^-1 b - A^-1 1 (1^T A^-1 b - Delta) / (1^T A^-1 1),
    A = E[z z^T],  b = E[z (g(z) - g(0))],  Delta = g(1) - g(0).

The law is exchangeable, so A = D I + m 1 1^T with D = E_q[k (d - k)] / (d (d - 1)), A^-1 1 is
parallel to 1, and everything but the projection P = I - 1 1^T / d cancels:

    phi_j = (b_j - mean_k b_k) / D + Delta / d = E[(z_j - |z| / d) g(z)] / D + Delta / d,

which is the Shapley value (Charnes et al. 1988). The estimate's error is sqrt(n) (phi_hat - phi)
-> N(0, V) with the sandwich projected onto the constraint,

    V = P M P / D^2,   M = E[r^2 z z^T],   r = g(z) - g(0) - z^T phi,

(the influence function of the constrained fit is P z r / D), and for paired samples (z with 1 - z,
the law of k being symmetric) M = E[(psi(z) + psi(1 - z)) (psi(z) + psi(1 - z))^T] / 2, psi = z r.

``design="enumerated"`` (:func:`limetheory.sampling.enumerated_samples`) keeps A and the limit; its
enumerated sizes E add no variance and its m drawn rows, in pairs from q restricted to the other sizes
S (mass Q_S), each weighted Q_S / m, give m Cov(phi_hat) -> P M_S P / D^2 with
M_S = Q_S^2 Cov_S(psi(z) + psi(1 - z)) / 2 (:func:`enumerated_covariance`; a covariance, not a second
moment: the drawn rows' scores do not have mean 0, the enumerated part balances them).
"""
from __future__ import annotations

import math

import numpy as np

from ..kernel import weighted_law
from .enumeration import ResponseTable, all_patterns

__all__ = ["enumerated_covariance", "shapley_kernel_covariance", "shapley_kernel_limit", "shapley_law_scale"]


def shapley_law_scale(d: int) -> float:
    """D = E_q[k (d - k)] / (d (d - 1)) under the Shapley kernel's law q of k (d >= 2): A = D I + m 1 1^T."""
    q, _ = weighted_law(d, None, kernel="shap")
    k = np.arange(d + 1, dtype=np.float64)
    return float(q @ (k * (d - k))) / (d * (d - 1.0))


def _pattern_probability(d: int) -> np.ndarray:
    """Probability of one pattern with k ones under the Shapley kernel's law: q_k / C(d, k), k = 0..d."""
    q, _ = weighted_law(d, None, kernel="shap")
    return q / np.array([math.comb(d, k) for k in range(d + 1)], dtype=np.float64)


def _values(table: ResponseTable) -> np.ndarray:
    return table.values if table.values.ndim == 2 else table.values[:, None]


def shapley_kernel_limit(table: ResponseTable, batch_size: int = 1 << 15) -> np.ndarray:
    """The limit of KernelSHAP, (k, d + 1) intercept first: ``(g(0), E[(z_j - |z|/d) g] / D + Delta / d)``."""
    d, values = table.d, _values(table)
    out = np.empty((values.shape[1], d + 1))
    out[:, 0] = values[0]
    delta = values[-1] - values[0]
    if d == 1:
        out[:, 1] = delta
        return out
    prob = _pattern_probability(d)
    centred = np.zeros((d, values.shape[1]))
    total = 1 << d
    for start in range(0, total, batch_size):
        z = all_patterns(d, start, min(start + batch_size, total)).astype(np.float64)
        ones = z.sum(axis=1)
        wy = prob[ones.astype(np.int64)][:, None] * values[start : start + z.shape[0]]
        centred += (z - ones[:, None] / d).T @ wy  # E[(z_j - |z|/d) g(z)]
    out[:, 1:] = centred.T / shapley_law_scale(d) + delta[:, None] / d
    return out


def shapley_kernel_covariance(table: ResponseTable, paired: bool = False, batch_size: int = 1 << 15) -> np.ndarray:
    """V of KernelSHAP's estimate, (k, d + 1, d + 1) intercept first (its row and column are 0: g(0) is
    known exactly): ``V = P M P / D^2`` (module docstring), for i.i.d. or ``paired`` samples."""
    d, values = table.d, _values(table)
    out = np.zeros((values.shape[1], d + 1, d + 1))
    if d == 1:  # phi_1 = g(1) - g(0) exactly
        return out
    phi = shapley_kernel_limit(table, batch_size)
    prob = _pattern_probability(d)
    total = 1 << d
    meat = np.zeros((values.shape[1], d, d))
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        z = all_patterns(d, start, stop).astype(np.float64)
        p = prob[z.sum(axis=1).astype(np.int64)]
        resid = values[start:stop] - phi[:, 0] - z @ phi[:, 1:].T  # (m, k)
        if paired:  # the partner 1 - z has index total - 1 - i
            partner = values[total - 1 - np.arange(start, stop)] - phi[:, 0] - (1.0 - z) @ phi[:, 1:].T
        for c in range(values.shape[1]):
            psi = z * resid[:, c, None]
            if paired:
                psi = psi + (1.0 - z) * partner[:, c, None]
                meat[c] += 0.5 * psi.T @ (psi * p[:, None])
            else:
                meat[c] += psi.T @ (psi * p[:, None])
    proj = np.eye(d) - 1.0 / d
    out[:, 1:, 1:] = proj @ meat @ proj / shapley_law_scale(d) ** 2
    return out


def enumerated_covariance(table: ResponseTable, sampled, batch_size: int = 1 << 15) -> np.ndarray:
    """m times the covariance of ``design="enumerated"``'s estimate, (k, d + 1, d + 1) intercept first,
    for m drawn rows in pairs from the sizes ``sampled`` (the others enumerated): ``P M_S P / D^2`` with
    ``M_S = Q_S^2 Cov_S(psi(z) + psi(1 - z)) / 2`` (module docstring). Divide by the number of drawn
    rows of a run for its covariance. ``sampled`` empty: 0 (every coalition enumerated)."""
    d, values = table.d, _values(table)
    out = np.zeros((values.shape[1], d + 1, d + 1))
    sampled = sorted({int(k) for k in sampled})
    if d == 1 or not sampled:
        return out
    if any(not 1 <= k <= d - 1 or d - k not in sampled for k in sampled):
        raise ValueError(f"sampled must be sizes in 1..d-1 closed under k -> d - k, got {sampled}")
    phi = shapley_kernel_limit(table, batch_size)
    q, _ = weighted_law(d, None, kernel="shap")
    mass = float(q[sampled].sum())
    prob = _pattern_probability(d) / mass
    keep = np.zeros(d + 1, dtype=bool)
    keep[sampled] = True
    total = 1 << d
    first = np.zeros((values.shape[1], d))
    second = np.zeros((values.shape[1], d, d))
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        z = all_patterns(d, start, stop).astype(np.float64)
        ones = z.sum(axis=1).astype(np.int64)
        p = np.where(keep[ones], prob[ones], 0.0)
        resid = values[start:stop] - phi[:, 0] - z @ phi[:, 1:].T
        partner = values[total - 1 - np.arange(start, stop)] - phi[:, 0] - (1.0 - z) @ phi[:, 1:].T
        for c in range(values.shape[1]):
            psi = z * resid[:, c, None] + (1.0 - z) * partner[:, c, None]
            first[c] += p @ psi
            second[c] += psi.T @ (psi * p[:, None])
    meat = mass**2 * (second - first[:, :, None] * first[:, None, :]) / 2
    proj = np.eye(d) - 1.0 / d
    out[:, 1:, 1:] = proj @ meat @ proj / shapley_law_scale(d) ** 2
    return out
