"""Which sampling design to draw with: ``explain(..., design=...)``, and ``design="auto"``.

Every design of :mod:`limetheory.sampling` keeps LIME's estimand beta^f, so the design is free to
choose; what changes is the spread of the estimate around beta^f, V_D / n for n model calls with
the per-call covariance V_D = H^{-1} M_D H^{-1} of design D (the theory page on designs,
docs/theory/designs.md). With the scores s(z) = pi(z) r(z) H^{-1} x(z) (r = f - x^T beta^f,
H = E[pi x x^T]), the traces T_D = trace of V_D's coefficient block are

    T_iid        = E ||s(z)||^2,
    T_paired     = T_iid + E[s(z)^T s(1 - z)],
    T_stratified = T_iid - sum_k P(k) ||E[s | k]||^2        (k = |z|, proportional allocation),
    T_weighted   = alpha_0 E[||s(z)||^2 / pi(z)]             (z from pi / alpha_0, weights 1),

expectations under Bernoulli(1/2)^d, summed over the explained labels.

``design="auto"`` draws a pilot of ``pilot_size`` calls, half as pairs (z, 1 - z) with z Bernoulli
and half from the pi-weighted law, estimates every T_D from it (the plug-in forms above, with the
pilot fit's residuals: T_iid, T_paired and T_stratified from the pairs, the last one as the mean
within-stratum spread, T_weighted from the pi-weighted half), and spends the rest of the budget on
the design with the smallest estimate. The pilot stays in the estimate: each of its parts is
weighted by T_best / T_part (relative to the Bernoulli rows' pi / alpha_0 and the pi-weighted rows'
1), which makes the variances add like information, V = 1 / sum_parts (n_part / T_part), so the
pilot part of a worse design costs only its share of the calls, not more. Any positive weights
keep the estimating equation's root at beta^f, so the data-driven weights do not move the limit.
With a response table of the model over {0,1}^d the traces are exact
(:func:`limetheory.theory.exact_design_traces`); pass the resulting :class:`DesignChoice` as
``design=`` and no pilot is drawn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scipy.special import logsumexp

from ._binomial import log_half_binom
from .kernel import weighted_law
from .sampling import (DESIGNS, SHAPLEY_DESIGNS, DesignSample, concat_samples, design_for_sampler, draw_design,
                       stratum_labels)
from .surrogate import cholesky_or_none, fit_weighted_ridge, hessian, predict_linear
from .validation import check_choice
from .threads import single_blas_thread

__all__ = ["DESIGN_CHOICES", "DesignChoice", "DesignRun", "choose_design", "pilot_covariances", "pilot_size",
           "pilot_traces", "resolve_design"]

#: What ``explain(..., design=...)`` accepts (a :class:`DesignChoice` too).
DESIGN_CHOICES = DESIGNS + ("auto",)

#: Share of the budget the pilot of ``design="auto"`` takes (at least 2 (d + 2) calls, at most half).
PILOT_SHARE = 0.1


@dataclass(frozen=True)
class DesignChoice:
    """The design ``design="auto"`` chose and why: the per-call variance trace T_D of every design.

    ``per_call_trace``: {design: T_D}, the trace of the coefficients' covariance times n, summed over
    the explained labels (smaller is better; n T_best / T_D calls of D match n calls of the best);
    ``source``: "pilot" (estimated from ``pilot_samples`` calls) or "exact" (enumeration).
    """

    chosen: str
    per_call_trace: dict = field(default_factory=dict)
    source: str = "pilot"
    pilot_samples: int = 0

    @property
    def reason(self) -> str:
        """One sentence: the chosen design and the calls every other design would need for its error."""
        best = self.per_call_trace[self.chosen]
        others = ", ".join(f"{name} {t / best:.2f}x" for name, t in sorted(self.per_call_trace.items(),
                                                                           key=lambda item: item[1])
                           if name != self.chosen)
        where = f"a pilot of {self.pilot_samples} calls" if self.source == "pilot" else "exact enumeration"
        return (f"{self.chosen}: smallest variance per model call ({where}); the calls other designs need "
                f"for the same error: {others}")


def choose_design(per_call_trace: dict, source: str = "pilot", pilot_samples: int = 0) -> DesignChoice:
    """The :class:`DesignChoice` of the smallest finite trace (ties: the first in :data:`DESIGNS` order)."""
    finite = {k: float(v) for k, v in per_call_trace.items() if np.isfinite(v)}
    if not finite:
        return DesignChoice("iid", dict(per_call_trace), source, pilot_samples)
    chosen = min((d for d in DESIGNS if d in finite), key=lambda d: finite[d])
    return DesignChoice(chosen, {k: float(v) for k, v in per_call_trace.items()}, source, pilot_samples)


def resolve_design(design, sampler=None):
    """The design of ``explain``: a name of :data:`DESIGN_CHOICES` (or ``"enumerated"``, KernelSHAP's:
    :data:`limetheory.sampling.SHAPLEY_DESIGNS`) or a :class:`DesignChoice` (``sampler=``, its former
    name, folded in with a DeprecationWarning)."""
    design = design_for_sampler(design, sampler)
    if isinstance(design, DesignChoice):
        check_choice(design.chosen, "design", DESIGNS)
        return design
    return check_choice(design, "design", DESIGN_CHOICES + tuple(d for d in SHAPLEY_DESIGNS if d not in DESIGN_CHOICES))


def pilot_size(n: int, d: int) -> int:
    """Calls of the pilot of ``design="auto"`` for a budget of n: PILOT_SHARE n, at least 2 (d + 2), at most n / 2."""
    return int(min(n // 2, max(round(PILOT_SHARE * n), 2 * (d + 2))))


def _scores(x, w, r, factor):
    """Rows w_i r_i H^{-1} x_i without the intercept, one (n, d) block per label: (L, n, d)."""
    import scipy.linalg

    a = scipy.linalg.cho_solve(factor, x.T, check_finite=False).T[:, 1:]
    return np.stack([a * (w * r[:, c])[:, None] for c in range(r.shape[1])])


def pilot_covariances(pairs: DesignSample, weighted: DesignSample, residuals_pairs, residuals_weighted,
                      log_alpha0: float, ridge: float = 0.0) -> dict:
    """Estimates of every design's per-call covariance V_D of the coefficients from a pilot.

    The plug-in forms of the module docstring with the full outer products: for the scores s_i (rows
    of :func:`_scores`, the pairs' weights pi / alpha_0, the pi-weighted rows' weights 1),

        V_iid = mean_i s_i s_i^T (pairs' rows),  V_paired = V_iid + mean_pairs (s_i s_i'^T + s_i' s_i^T) / 2,
        V_stratified = within-stratum covariance of the pairs' rows (strata by |z|, :func:`stratum_labels`),
        V_weighted = mean_j s_j s_j^T (pi-weighted rows).

    Parameters
    ----------
    pairs : the paired Bernoulli rows (weights pi);  weighted : the pi-weighted rows (weights 1).
    residuals_pairs, residuals_weighted : (n,) or (n, L) residuals of the pilot fit on those rows.
    log_alpha0 : log E[pi] under Bernoulli(1/2)^d: the pairs' weights pi / alpha_0 put both parts
        on the same scale.
    ridge : lambda of the fit (H = mean w x x^T + lambda P / n).

    Returns
    -------
    {design: (L, d, d)}; all ``inf`` when the pilot does not identify the coefficients.
    """
    wb = pairs.weights * np.exp(-log_alpha0)
    z = np.concatenate([pairs.z, weighted.z])
    w = np.concatenate([wb, weighted.weights])
    n, d = z.shape
    r_b = np.asarray(residuals_pairs, dtype=np.float64).reshape(pairs.n, -1)
    r_w = np.asarray(residuals_weighted, dtype=np.float64).reshape(weighted.n, -1)
    with single_blas_thread():
        factor = cholesky_or_none(hessian(z, w, ridge) / n)
        if factor is None:
            return {name: np.full((r_b.shape[1], d, d), np.inf) for name in DESIGNS}
        sb = _scores(np.hstack([np.ones((pairs.n, 1)), pairs.z]), wb, r_b, factor)
        sw = _scores(np.hstack([np.ones((weighted.n, 1)), weighted.z]), weighted.weights, r_w, factor)
        v_iid = np.einsum("lni,lnj->lij", sb, sb) / pairs.n
        m = pairs.n // 2
        cross = np.einsum("lni,lnj->lij", sb[:, 0 : 2 * m : 2], sb[:, 1 : 2 * m : 2]) / max(m, 1)
        strata = stratum_labels(pairs.z.sum(axis=1, dtype=np.int64))
        centred = sb.copy()
        for h in np.unique(strata):
            rows = strata == h
            k = int(rows.sum())
            centred[:, rows] = (sb[:, rows] - sb[:, rows].mean(axis=1, keepdims=True)) * np.sqrt(k / max(k - 1, 1))
        v_strat = np.einsum("lni,lnj->lij", centred, centred) / pairs.n
        v_w = np.einsum("lni,lnj->lij", sw, sw) / max(weighted.n, 1)
    return {"iid": v_iid, "paired": v_iid + (cross + cross.swapaxes(1, 2)) / 2, "stratified": v_strat,
            "weighted": v_w}


def pilot_traces(pairs: DesignSample, weighted: DesignSample, residuals_pairs, residuals_weighted,
                 log_alpha0: float, ridge: float = 0.0) -> dict:
    """{design: T_D}, the trace of :func:`pilot_covariances` summed over the labels."""
    covs = pilot_covariances(pairs, weighted, residuals_pairs, residuals_weighted, log_alpha0, ridge)
    return {name: float(np.trace(v, axis1=1, axis2=2).sum()) for name, v in covs.items()}


class DesignRun:
    """The draws of one ``explain`` run under a design, round after round, with their dependence labels.

    ``draw(m, first)`` gives m new rows (z, weights) to evaluate; ``record(y)`` takes the model's
    outputs on them; :meth:`sample` is every row so far as a :class:`DesignSample` (with ``"auto"``,
    the pilot's parts reweighted as the module docstring says). For ``"auto"`` the first draw is the
    pilot and the design is chosen at the next draw, from the pilot's fit for ``labels`` (a callable
    of the first response row giving the explained columns). ``log_weights``: (d + 1,) log kernel by
    the number of ones, for a kernel other than LIME's (:func:`limetheory.sampling.draw_design`).
    """

    def __init__(self, design, d: int, kernel_width: float, rng, ridge: float, labels, log_weights=None):
        self.d, self.kernel_width, self.rng, self.ridge, self.labels = d, kernel_width, rng, ridge, labels
        self.choice = design if isinstance(design, DesignChoice) else None
        self.design = design.chosen if isinstance(design, DesignChoice) else design
        self.parts, self.responses, self.scales = [], [], []
        self.log_weights = log_weights
        if log_weights is None:
            self.log_alpha0 = weighted_law(d, kernel_width)[1]
        else:  # log E[pi] under Bernoulli(1/2)^d
            self.log_alpha0 = float(logsumexp(log_half_binom(d) + np.asarray(log_weights, dtype=np.float64)))

    @property
    def auto(self) -> bool:
        return self.design == "auto"

    def draw(self, m: int, first: bool):
        if self.auto and not self.parts:  # the pilot: half pairs, half pi-weighted
            half = min(m, max(2, m // 2 + (m // 2) % 2))  # an even number of paired rows, z = 1 first
            new = [draw_design("paired", half, self.d, self.kernel_width, self.rng, first, self.log_weights),
                   draw_design("weighted", m - half, self.d, self.kernel_width, self.rng, False, self.log_weights)]
            self.scales += [1.0, float(np.exp(self.log_alpha0))]  # both in the units of pi: E[pi] = alpha_0
        else:
            if self.auto:
                self._choose()
            new = [draw_design(self.design, m, self.d, self.kernel_width, self.rng, first, self.log_weights)]
            self.scales.append(1.0)
        self.parts += new
        drawn = concat_samples(new)
        return drawn.z, drawn.weights

    def record(self, y):
        self.responses.append(np.asarray(y))
        return y

    def _choose(self):
        pairs, weighted = self.parts[0], self.parts[1]
        y = self.responses[0]
        labels = self.labels(y[0])
        pilot = concat_samples(self.parts[:2], self.scales[:2])
        y_lab = y[:, labels]
        intercept, coef = fit_weighted_ridge(pilot.z, y_lab, pilot.weights, self.ridge)
        resid = y_lab - predict_linear(pilot.z, intercept, coef)
        traces = pilot_traces(pairs, weighted, resid[: pairs.n], resid[pairs.n :], self.log_alpha0, self.ridge)
        self.choice = choose_design(traces, "pilot", pilot.n)
        self.design = self.choice.chosen
        best = traces[self.design]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = [np.float64(best) / traces["paired"], np.float64(best) / traces["weighted"]]
        if all(np.isfinite(v) and v > 0 for v in factor):
            self.scales[0] *= factor[0]
            self.scales[1] *= factor[1]
        if self.design == "weighted":  # the chosen design's rows keep their own weights (and the ridge its effect)
            self.scales[:2] = [s * float(np.exp(-self.log_alpha0)) for s in self.scales[:2]]

    def sample(self) -> DesignSample:
        """Every row drawn so far, with its weight and its cluster / stratum labels."""
        return concat_samples(self.parts, self.scales)

    @property
    def name(self) -> str:
        """The design recorded on the result: the chosen one for ``"auto"`` (``"auto:<chosen>"``)."""
        if self.choice is None:
            return self.design
        return f"auto:{self.choice.chosen}" if self.choice.source == "pilot" else self.choice.chosen
