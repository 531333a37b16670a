"""Experiment 3: LIME's coefficients converge to the limit explanation at the rate n^(-1/2).

A digit (scikit-learn, upscaled to 32 x 32) is cut by a regular grid into d = 3 x 4 = 12
superpixels, small enough that the exact limit beta^f = Sigma^{-1} E[pi Z f] is computed by
enumerating all 2^d perturbed images (:func:`limetheory.theory.exact_limit`): the ground truth
for any model. Three models, black replacement (``hide_color=0``), nu = 0.25:

- ``shape``: the shape detector of a vertical bar crossing two grid cells (p = |E_-| = 2);
- ``linear``: a linear model (class template, as in experiment 2): least squares recovers it
  exactly at every n >= d + 1, so its error is rounding error (no rate to fit);
- ``cnn``: the probability of the predicted class under ``limetheory.nets.load("digits-cnn")``
  (RGB digit in [0, 255]). Skipped, with a warning, when the network's weights are not there.

For every n and seed, empirical LIME (``limetheory.explain``, ridge = 0) gives beta_hat_n and the
row records ||beta_hat_n - beta^f||_2 over the d coefficients (``err``), with the intercept
(``err_all``) and the largest coordinate error (``err_max``). The theory predicts more than the
rate: sqrt(n) (beta_hat_n - beta^f) -> N(0, V) with V the exact sandwich covariance
(:func:`limetheory.theory.exact_limit_covariance`), so the root-mean-square error is
sqrt(trace V / n) (``predicted_rms``). Each run also reports its own standard errors: their norm
(``se_norm``, the run's estimate of its error) and the fraction of the d coefficients inside the
run's 95% intervals (``covered_95``). Every model's responses are
computed once on the 2^d distinct perturbed images (for the enumeration) and served to
``explain`` by recovering each perturbed image's z (:class:`EnumeratedResponses`): the same
estimates as calling the model again, at a fraction of the cost, so n can be large.

Every run is made with each sampling design of ``explain(..., design=...)``: lime's ``"iid"``
Bernoulli draws, ``"paired"`` (z and 1 - z), ``"stratified"`` (by the number of ones) and
``"weighted"`` (z from the pi-weighted law, equal weights). All converge to the same limit, each with
its own exact V (:func:`limetheory.theory.exact_limit_covariance` with ``design=``).

Rows: one per (model, design, n, seed). Table ``slopes``: per (model, design), the least-squares slope of log err
against log n over all runs, its standard error and 95% interval (theory: -1/2); the measured
root-mean-square error over the predicted one (theory: 1), the mean of the runs' own se norms over
the predicted error (1), and the coverage of the runs' 95% intervals (0.95).
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

import limetheory as lt
from limetheory import nets, theory
from limetheory.analytic import LinearModel, ShapeDetector
from limetheory.perturb import model_responses
from limetheory.segmentation import replacement_image

from ._common import bar_mask, digit_image
from .linear_model import class_template

NAME = "convergence"
TITLE = "Exp. 3: ||beta_hat_n - beta^f|| against n (rate n^-1/2), exact limit by enumeration"
VERSION = 4

CNN_NAME = "digits-cnn"
Z95 = 1.959963984540054  # two-sided 95% normal quantile


def _cnn_identity() -> dict | None:
    """Name and SHA-256 of the stored network's parameters (None when it cannot be loaded)."""
    try:
        clf = nets.load(CNN_NAME)
    except (FileNotFoundError, ImportError, OSError) as exc:
        warnings.warn(f"convergence: {CNN_NAME} unavailable ({exc}); the CNN is skipped", stacklevel=2)
        return None
    h = hashlib.sha256()
    params = clf.info.get("params", {})
    for layer in sorted(params):
        for key in sorted(params[layer]):
            h.update(f"{layer}/{key}".encode())
            h.update(np.asarray(params[layer][key]).tobytes())
    return {"name": CNN_NAME, "params_sha256": h.hexdigest()[:16]}


def settings(quick: bool) -> dict:
    """Quick: n = 250..4000, 8 seeds. Full: n = 300..100000, 25 seeds.

    n starts at a few hundred: below, the O(1/n) terms visibly steepen the log-log slope (with
    40 seeds, n = 100..10000 fits -0.52 for the shape detector, n = 300..10000 fits -0.50).
    """
    cnn = _cnn_identity()
    return {
        "image": {"split": "test", "index": 2, "size": 32},
        "grid": {"n_rows": 3, "n_cols": 4},
        "shape": {"row": 17, "col": 17, "length": 8, "width": 2},
        "tau": 0.5,
        "hide_color": 0.0,
        "kernel_width": 0.25,
        "ridge": 0.0,
        "models": ["shape", "linear"] + (["cnn"] if cnn else []),
        "cnn": cnn,
        "n_samples": [250, 500, 1000, 2000, 4000] if quick else [300, 1000, 3000, 10000, 30000, 100000],
        "seeds": list(range(8 if quick else 25)),
        "designs": ["iid", "paired", "stratified", "weighted"],
    }


def units(s: dict) -> list:
    return [{"model": m, "design": design, "n": n}
            for m in s["models"] for design in s["designs"] for n in s["n_samples"]]


class EnumeratedResponses:
    """A model's responses on the 2^d perturbed images of one image, served to ``explain``.

    Built once from f on every x(z), z in {0,1}^d. Called on a batch of LIME perturbations of
    that image, it reads each image's z off one pixel per superpixel where xi and xi_bar differ
    (the pixel equals xi_u when z_j = 1 and xi_bar_u when z_j = 0; a value that is neither raises
    ValueError) and returns the stored response f(x(z)). Where xi and xi_bar agree on the whole
    superpixel, z_j does not change the image and z_j = 1 is used. Identical to calling the model
    on the same images (it was called on exactly those images), without running it again.
    """

    def __init__(self, image, replacement, segments, responses):
        img = np.asarray(image, dtype=np.float64)
        n_pix = img.shape[0] * img.shape[1]
        flat_img = img.reshape(n_pix, -1)
        flat_rep = np.asarray(replacement, dtype=np.float64).reshape(flat_img.shape)
        labels = np.asarray(segments).ravel()
        self.d = int(labels.max()) + 1
        differs = np.any(flat_img != flat_rep, axis=1)
        self.pixels = np.zeros(self.d, dtype=np.int64)
        self.decidable = np.zeros(self.d, dtype=bool)
        for j in range(self.d):
            where = np.flatnonzero((labels == j) & differs)
            if where.size:
                self.pixels[j], self.decidable[j] = where[0], True
        self.keep = flat_img[self.pixels]  # (d, C)
        self.hide = flat_rep[self.pixels]
        self.table = theory.ResponseTable(responses)  # f at pattern i in row i
        if self.table.d != self.d:
            raise ValueError(f"responses must have 2^d = {1 << self.d} rows, got {self.table.values.shape[0]}")

    def z_of(self, images) -> np.ndarray:
        x = np.asarray(images, dtype=np.float64)
        x = x.reshape(x.shape[0], -1, self.keep.shape[1])[:, self.pixels]  # (n, d, C)
        z = np.all(x == self.keep, axis=2)
        if not np.all(z | np.all(x == self.hide, axis=2)):
            raise ValueError("an image is not a LIME perturbation of the enumerated image")
        z[:, ~self.decidable] = True
        return z.astype(np.int64)

    def __call__(self, images):
        return self.table(self.z_of(images))


@dataclass(frozen=True, eq=False)
class ModelSetup:
    """One model of the experiment: the image it sees, the class explained (None: a scalar model),
    its exact limit, sqrt(trace V) per design (0 for exact recovery), the enumerated predict served
    to ``explain``, the gap to the closed form (NaN when there is none) and f(xi)."""

    image: np.ndarray
    label: int | None
    limit: np.ndarray
    rms_constant: dict
    predict: EnumeratedResponses
    closed_form_gap: float
    f_xi: float


@dataclass(frozen=True, eq=False)
class Context:
    """The settings, the digit (gray, label), its grid superpixels and every model's :class:`ModelSetup`."""

    settings: dict
    gray: np.ndarray
    digit: int
    segments: np.ndarray
    models: dict


def _model_setup(name: str, s: dict, gray: np.ndarray, digit: int, segments: np.ndarray) -> ModelSetup:
    """The model's responses on all 2^d perturbed images, its exact limit, and a predict for explain."""
    d = lt.segmentation.n_superpixels(segments)
    kernel_width, hide = s["kernel_width"], s["hide_color"]
    closed = None
    if name == "shape":
        image = gray
        model = ShapeDetector(bar_mask(gray.shape, **s["shape"]), s["tau"])
        closed = model.limit_explanation(gray, segments, hide_color=hide, kernel_width=kernel_width)
    elif name == "linear":
        image = gray
        model = LinearModel(class_template(digit, gray.shape[0], gray))
        closed = model.limit_explanation(gray, segments, hide_color=hide, kernel_width=kernel_width)
    elif name == "cnn":
        image = np.round(gray * 255.0).astype(np.uint8)[..., None].repeat(3, axis=-1)  # RGB in [0, 255]
        model = nets.load(CNN_NAME).predict
    else:
        raise ValueError(f"unknown model {name!r}")
    rep = replacement_image(image, segments, hide)
    responses = model_responses(model, image, rep, segments, theory.all_patterns(d), progress=False)
    if name == "cnn":
        label = int(np.argmax(responses[-1]))  # the last z is all ones: the unperturbed image
        column = theory.ResponseTable(responses[:, label])
    else:  # a scalar model: explain is served 1-D responses, as the model gives them
        label, responses = None, responses[:, 0]
        column = theory.ResponseTable(responses)
    limit = theory.exact_limit(column, d, kernel_width)
    rms_constant = {}
    for design in s["designs"]:
        cov = theory.exact_limit_covariance(column, d, kernel_width, design=design)
        constant = float(np.sqrt(np.trace(cov[1:, 1:])))
        # f linear in z: LIME is exact and V is rounding
        rms_constant[design] = 0.0 if constant <= 1e-9 * np.linalg.norm(limit) else constant
    return ModelSetup(image=image, label=label, limit=limit, rms_constant=rms_constant,
                      predict=EnumeratedResponses(image, rep, segments, responses),
                      closed_form_gap=np.nan if closed is None else float(np.max(np.abs(closed - limit))),
                      f_xi=float(column.values[-1]))


def setup(s: dict) -> Context:
    gray, digit = digit_image(s["image"]["index"], s["image"]["size"], s["image"]["split"])
    segments = lt.segmentation.grid(gray.shape, **s["grid"])
    models = {m: _model_setup(m, s, gray, digit, segments) for m in s["models"]}
    return Context(s, gray, digit, segments, models)


def run_unit(unit: dict, ctx: Context) -> pd.DataFrame:
    s = ctx.settings
    m = ctx.models[unit["model"]]
    limit = m.limit
    rows = []
    design = unit["design"]
    rms_constant = m.rms_constant[design]
    for seed in s["seeds"]:
        ex = lt.explain(m.image, m.predict, segments=ctx.segments,
                        labels=None if m.label is None else [m.label], n_samples=unit["n"],
                        kernel_width=s["kernel_width"], ridge=s["ridge"], hide_color=s["hide_color"],
                        seed=np.random.default_rng([seed, unit["n"]]), design=design, progress=False)
        diff = ex.coef[0] - limit[1:]
        exact_fit = rms_constant == 0.0  # a linear model: no sampling error to cover
        rows.append({
            "model": unit["model"], "design": design, "n": unit["n"], "seed": seed, "d": limit.size - 1,
            "err": float(np.linalg.norm(diff)),
            "err_all": float(np.hypot(np.linalg.norm(diff), ex.intercept[0] - limit[0])),
            "err_max": float(np.max(np.abs(diff))),
            "limit_norm": float(np.linalg.norm(limit[1:])),
            "predicted_rms": rms_constant / np.sqrt(unit["n"]),
            "se_norm": float(np.linalg.norm(ex.coef_se[0])),
            "covered_95": np.nan if exact_fit else float(np.mean(np.abs(diff) <= Z95 * ex.coef_se[0])),
            "closed_form_gap": m.closed_form_gap,
        })
    return pd.DataFrame(rows)


def arrays(ctx: Context) -> dict:
    out = {"gray": ctx.gray, "segments": ctx.segments}
    for name, m in ctx.models.items():
        out[f"limit_{name}"] = m.limit
    return out


def fit_slope(n, err) -> dict:
    """Least-squares fit log err = a + b log n over all runs: slope b, its standard error, 95% CI."""
    from scipy import stats

    x = np.log(np.asarray(n, dtype=float))
    y = np.log(np.maximum(np.asarray(err, dtype=float), 1e-300))
    res = stats.linregress(x, y)
    q = stats.t.ppf(0.975, x.size - 2)
    return {"slope": res.slope, "slope_se": res.stderr, "ci_low": res.slope - q * res.stderr,
            "ci_high": res.slope + q * res.stderr, "intercept_log": res.intercept}


def _against_prediction(sub: pd.DataFrame, rms: pd.Series) -> dict:
    """Measured RMS error and the runs' own se norms over the exact prediction sqrt(trace V / n),
    averaged over n (theory: 1 and 1), and the coverage of the runs' 95% intervals (0.95)."""
    predicted = sub.groupby("n")["predicted_rms"].first()
    if predicted.max() == 0:  # exact recovery (linear model): nothing to predict
        return {"rms_over_predicted": np.nan, "se_over_predicted": np.nan, "coverage_95": np.nan}
    se_mean = sub.groupby("n")["se_norm"].mean()
    return {"rms_over_predicted": float(np.mean(rms / predicted)),
            "se_over_predicted": float(np.mean(se_mean / predicted)),
            "coverage_95": float(sub["covered_95"].mean())}


def tables(frame: pd.DataFrame, s: dict) -> dict:
    rows = []
    for (model, design), sub in frame.groupby(["model", "design"], sort=False):
        fit = fit_slope(sub["n"], sub["err"])
        rms = sub.groupby("n")["err"].apply(lambda e: float(np.sqrt(np.mean(e**2))))
        rms_fit = fit_slope(rms.index, rms.to_numpy())
        rows.append({
            "model": model, "design": design, "d": int(sub["d"].iloc[0]),
            "n_min": int(sub["n"].min()), "n_max": int(sub["n"].max()),
            "runs": int(len(sub)), **fit, "slope_of_rms": rms_fit["slope"],
            "rms_err_at_n_min": float(rms.iloc[0]), "rms_err_at_n_max": float(rms.iloc[-1]),
            "max_err": float(sub["err"].max()),
            **_against_prediction(sub, rms),
            "note": "exact recovery: error is rounding, no rate" if model == "linear" else "theory: slope -0.5",
        })
    return {"slopes": pd.DataFrame(rows)}
