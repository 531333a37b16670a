"""Experiments 1, 2, 3 and 5 in quick mode: their results files, the claims their figures make, the figures.

All four run once (module fixture) into a temporary folder, as ``limetheory reproduce --quick`` does.
Statistical checks use the experiments' fixed seeds and take their tolerance from the theory.
"""
import fcntl
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from limetheory.experiments import reproduce
from limetheory.paper_figures._common import read_meta, read_results
from stats_bounds import assert_within, band, dn_bias, mean_band

MINE = ["shape_detector", "linear_model", "convergence", "bandwidth"]
FIGURES = {"shape_detector": "fig_shape_detector", "linear_model": "fig_linear_model",
           "convergence": "fig_convergence", "bandwidth": "fig_bandwidth"}


@pytest.fixture(scope="session")
def out(tmp_path_factory):
    """The quick run's folder. Under pytest-xdist the workers of one session share it: a file lock
    serialises them, the first runs the experiments, the others use its files."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent  # this session's folder, common to its workers
    else:
        root = tmp_path_factory.mktemp("session")
    path = root / "limetheory_quick"
    with open(root / "limetheory_quick.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "limetheory_quick.done").exists():
            reports = reproduce(MINE, path, quick=True, progress=False)
            assert [r.name for r in reports] == MINE
            (root / "limetheory_quick.done").write_text("\n".join(MINE))
    return path


# --------------------------------------------------------------------------- experiment 1
def test_shape_detector_results(out):
    frame = read_results(out, "shape_detector")
    expected = {"digit", "seed", "n_samples", "ridge", "superpixel", "coef", "intercept", "limit", "limit_intercept",
                "score", "ridge_bound", "limit_enum", "in_shape", "n_pixels"}
    assert expected <= set(frame.columns)
    s = read_meta(out, "shape_detector")["settings"]
    d = frame["superpixel"].nunique()
    # one row per (seed, ridge, superpixel): 5 runs, lime's ridge and least squares
    assert len(frame) == len(s["seeds"]) * 2 * d and sorted(frame["seed"].unique()) == s["seeds"] == [0, 1, 2, 3, 4]
    assert set(frame["ridge"]) == {0.0, 1.0} and (frame["n_samples"] == 1000).all()
    # the closed form equals the limit computed by enumerating {0,1}^d on real perturbed images
    np.testing.assert_allclose(frame["limit"], frame["limit_enum"], atol=1e-12)
    # the figure's point: a shape across several superpixels; equal large weight on E_-, small elsewhere
    lim = frame.groupby("superpixel")[["limit", "in_shape"]].first()
    assert lim["in_shape"].sum() >= 2
    inside, outside = lim.loc[lim["in_shape"], "limit"], lim.loc[~lim["in_shape"], "limit"]
    assert np.ptp(inside) < 1e-12 and np.ptp(outside) < 1e-12 and inside.iloc[0] > 50 * abs(outside.iloc[0])


def test_shape_detector_lime_mean_matches_closed_form(out):
    """|mean of R runs - limit| <= t_{R-1} quantile * sd / sqrt(R) for every superpixel (Bonferroni, 0.1%).

    The runs' spread estimates the O(n^-1/2) sampling error (docs/theory/limit.md); for lime's ridge
    the mean may also move by the ridge shift, bounded per run by ``ridge_bound``.
    """
    frame = read_results(out, "shape_detector")
    d = frame["superpixel"].nunique()
    for ridge, sub in frame.groupby("ridge"):
        g = sub.groupby("superpixel")
        mean, sd, limit, r = g["coef"].mean(), g["coef"].std(ddof=1), g["limit"].first(), g.size()
        q = stats.t.ppf(1 - 0.001 / (2 * d * 2), r - 1)
        shift = sub["ridge_bound"].max()
        assert np.all(np.abs(mean - limit) <= q * sd / np.sqrt(r) + shift), ridge
        # the errors are of the size the theory predicts for n = 1000: one run's exact sd is
        # exact_sd = sqrt(V_jj / n), so the mean of R runs is within a normal band of exact_sd / sqrt(R)
        # (Bonferroni over 2 ridges x d superpixels, 0.1%), + the ridge shift, + the O(d/n) bias of least
        # squares in units of one sample's sd sqrt(V_jj) = sqrt(n) exact_sd (c = 1)
        exact_sd, n = g["exact_sd"].first(), sub["n_samples"].iloc[0]
        tol = band(exact_sd / np.sqrt(r), m=2 * d) + shift + dn_bias(d, n, np.sqrt(n) * exact_sd)
        assert_within(mean, limit, tol, f"ridge {ridge}")


def test_shape_detector_exact_spread_of_one_run(out):
    """Each run's own standard errors estimate the exact sd sqrt(V_jj / n) of one run around the limit.

    Per run the estimate has a relative error of a few percent at n = 1000 (tests/test_uncertainty.py
    checks its calibration over hundreds of runs): each run's mean over superpixels of coef_se / exact_sd
    is one draw, and their mean over the 5 runs is 1 within a t_4 band of its standard error (0.1%) + the
    O(d/n) bias of the sandwich estimator (c = 1, relative). And the runs land where the exact sd says:
    |coef - limit| / exact_sd behaves like |N(0,1)|.
    """
    frame = read_results(out, "shape_detector")
    wls = frame[frame["ridge"] == 0.0]
    assert (wls["exact_sd"] > 0).all() and (wls["coef_se"] > 0).all()
    per_run = (wls["coef_se"] / wls["exact_sd"]).groupby(wls["seed"]).mean()
    mean, tol = mean_band(per_run, bias=dn_bias(wls["superpixel"].nunique(), wls["n_samples"].iloc[0], 1.0))
    assert_within(mean, 1.0, tol, "mean coef_se / exact_sd")
    z = (wls["coef"] - wls["limit"]) / wls["exact_sd"]
    assert np.abs(z).max() < stats.norm.ppf(1 - 0.001 / (2 * len(z)))  # Bonferroni, 0.1%
    table = pd.read_csv(out / "results" / "shape_detector_agreement.csv")
    assert {"mean_exact_sd", "mean_coef_se"} <= set(table.columns)


def test_shape_detector_ridge_shift_within_bound(out):
    frame = read_results(out, "shape_detector")
    wide = frame.pivot_table(index=["seed", "superpixel"], columns="ridge", values="coef")
    shift = (wide[1.0] - wide[0.0]).pow(2).groupby(level="seed").sum().pow(0.5)
    bound = frame[frame["ridge"] == 1.0].groupby("seed")["ridge_bound"].first()
    assert np.all(shift <= bound + 1e-12) and np.all(shift > 0)
    table = pd.read_csv(out / "results" / "shape_detector_agreement.csv")
    assert set(table["ridge"]) == {0.0, 1.0} and (table.loc[table["ridge"] == 1.0, "max_shift_excess"] <= 1e-12).all()


# --------------------------------------------------------------------------- experiment 2
def test_linear_model_results(out):
    frame = read_results(out, "linear_model")
    assert {"seed", "ridge", "superpixel", "coef", "intercept", "limit", "limit_intercept", "ridge_bound"} <= set(frame.columns)
    scale = frame["limit"].abs().max()
    wls = frame[frame["ridge"] == 0.0]
    # least squares recovers the linear model's closed form exactly, whatever the samples
    np.testing.assert_allclose(wls["coef"], wls["limit"], atol=1e-10 * scale)
    np.testing.assert_allclose(wls["intercept"], wls["limit_intercept"], atol=1e-10 * scale)
    # lime's ridge is off by at most lambda ||b_0|| / (mu_min + lambda), per run
    rid = frame[frame["ridge"] == 1.0]
    err = (rid["coef"] - rid["limit"]).pow(2).groupby(rid["seed"]).sum().pow(0.5)
    assert np.all(err <= rid.groupby("seed")["ridge_bound"].first() + 1e-12)
    # the weights are scaled so that the coefficients share f(xi) - f(0) = 1
    assert abs(frame.groupby("superpixel")["limit"].first().sum() - 1.0) < 1e-9


# --------------------------------------------------------------------------- experiment 3
def test_convergence_results(out):
    frame = read_results(out, "convergence")
    s = read_meta(out, "convergence")["settings"]
    assert {"model", "design", "n", "seed", "d", "err", "err_all", "err_max", "limit_norm",
            "closed_form_gap"} <= set(frame.columns)
    assert len(frame) == len(s["models"]) * len(s["designs"]) * len(s["n_samples"]) * len(s["seeds"])
    assert set(frame["design"]) == {"iid", "paired", "stratified", "weighted"}
    assert (frame["d"] <= 12).all() and {"shape", "linear"} <= set(frame["model"])
    # the analytic closed forms agree with the exact enumeration used as ground truth
    assert frame.loc[frame["model"] != "cnn", "closed_form_gap"].max() < 1e-10
    # linear model: exact recovery at every n (rounding error only)
    lin = frame[frame["model"] == "linear"]
    assert lin["err"].max() < 1e-10 * lin["limit_norm"].iloc[0]


def test_convergence_slopes_near_minus_half(out):
    """The fitted log-log slope is -1/2 within a t band of its standard error (Bonferroni over the rated
    cells, 0.1%) + the bias of the O(d/n) terms: rms = sqrt(tr V / n) (1 + O(d/n)) shifts the slope by
    about d (1/n_min - 1/n_max) / log(n_max / n_min) <= (d / n_min) / log(n_max / n_min) (c = 1)."""
    slopes = pd.read_csv(out / "results" / "convergence_slopes.csv").set_index(["model", "design"])
    assert (out / "results" / "convergence_slopes.md").read_text().startswith("| model | design |")
    rated = [key for key in slopes.index if key[0] != "linear"]
    assert {("shape", design) for design in ("iid", "paired", "stratified", "weighted")} <= set(rated)
    for key in rated:
        row = slopes.loc[key]
        bias = dn_bias(row["d"], row["n_min"], 1 / np.log(row["n_max"] / row["n_min"]))
        tol = band(row["slope_se"], m=len(rated), dof=row["runs"] - 2, bias=bias)
        assert_within(row["slope"], -0.5, tol, str(key))
        assert row["rms_err_at_n_max"] < row["rms_err_at_n_min"]


def test_convergence_matches_the_exact_error_law(out):
    """E||beta_hat_n - beta^f||^2 = trace(V) / n (V: exact sandwich covariance of each design), runs'
    own se and 95% intervals agree: each mean over runs within a t band of its standard error (Bonferroni
    over 3 checks x the rated cells, 0.1%) + the O(d/n) bias at the smallest n (c = 1, relative)."""
    frame = read_results(out, "convergence")
    assert {"predicted_rms", "se_norm", "covered_95"} <= set(frame.columns)
    slopes = pd.read_csv(out / "results" / "convergence_slopes.csv").set_index(["model", "design"])
    rated = [key for key in slopes.index if key[0] != "linear"]
    for m, sampler in rated:
        sub = frame[(frame["model"] == m) & (frame["design"] == sampler)]
        bias = dn_bias(int(sub["d"].iloc[0]), sub["n"].min(), 1.0)
        squared = (sub["err"] / sub["predicted_rms"]) ** 2
        tols = []
        for values, expected in [(squared, 1.0), (sub["se_norm"] / sub["predicted_rms"], 1.0),
                                 (sub["covered_95"], 0.95)]:
            mean, tol = mean_band(values, m=3 * len(rated), bias=bias * expected)
            assert_within(mean, expected, tol, f"{m} {sampler}")
            tols.append(tol)
        # rms_over_predicted = mean over n of sqrt(x_n), x_n = mean over the runs at n of (err / predicted)^2
        # (the same number of runs at each n). Exactly sqrt(x) = 1 + (x - 1)/2 - (sqrt(x) - 1)^2 / 2, so
        # |rms_over_predicted - 1| <= |mean(x) - 1| / 2 + mean((sqrt(x_n) - 1)^2) / 2: half the band above + that
        x_n = squared.groupby(sub["n"]).mean()
        assert sub.groupby("n").size().nunique() == 1
        assert slopes.loc[(m, sampler), "rms_over_predicted"] == pytest.approx(np.sqrt(x_n).mean(), rel=1e-12)
        assert_within(slopes.loc[(m, sampler), "rms_over_predicted"], 1.0,
                      tols[0] / 2 + ((np.sqrt(x_n) - 1) ** 2).mean() / 2, f"{m} {sampler} rms")
    assert frame.loc[frame["model"] == "linear", "covered_95"].isna().all()


# --------------------------------------------------------------------------- experiment 5
def test_bandwidth_theory_tables(out):
    theo = pd.read_csv(out / "results" / "bandwidth_theory.csv")
    assert {"k", "d", "p", "nu", "beta_in", "beta_out", "intercept", "gap", "alpha_ratio"} <= set(theo.columns)
    # the limit always ranks the shape's superpixels first
    assert (theo["gap"] > 0).all()
    # psi in [exp(-1/(2 nu^2)), 1], so with e = 1/(2 nu^2) (in logs, no overflow):
    #   alpha_p / alpha_0 = 2^-p E[psi | z_1..z_p = 1] / E[psi]        in 2^-p [e^-e, e^e]
    #   gap = (alpha_p - alpha_{p+1}) / (alpha_1 - alpha_2)            in 2^-(p-1) [e^-e, e^e]
    alpha = pd.read_csv(out / "results" / "bandwidth_alpha.csv")
    for tab, col, shift in ((alpha, "alpha_ratio", 0), (theo, "alpha_ratio", 0), (theo, "gap", 1)):
        e = 1 / (2 * tab["nu"] ** 2)
        dev = np.log(tab[col]) + (tab["p"] - shift) * np.log(2)
        assert np.all(np.abs(dev) <= e * (1 + 1e-9) + 1e-12), col


def test_bandwidth_lime_runs(out):
    everything = read_results(out, "bandwidth")
    assert {"k", "d", "p", "nu", "sampler", "seed", "limit_beta_in", "limit_gap", "mean_in", "max_out",
            "found"} <= set(everything.columns)
    frame = everything[everything["sampler"] == "bernoulli"]  # lime's design
    # at lime's bandwidth the shape is found by every run (its gap is well above the noise at n = 1000)
    assert frame.loc[frame["nu"] == 0.25, "found"].all()
    # a tiny bandwidth on a fine grid: the weights collapse and the ridge crushes the coefficients
    tiny = frame[(frame["nu"] == 0.05) & (frame["d"] >= 49)]
    assert len(tiny) and not tiny["found"].any()
    assert (tiny["mean_in"] < 0.1 * tiny["limit_beta_in"]).all()
    det = pd.read_csv(out / "results" / "bandwidth_detection.csv")
    assert det["found_rate"].between(0, 1).all() and len(det) == everything.groupby(["sampler", "k", "nu"]).ngroups


def test_bandwidth_weighted_sampler_sees_the_shape_where_lime_does_not(out):
    """Same limit, no sample wasted: at nu = 0.05 on d >= 49 superpixels the pi-weighted sampler's
    runs find E_- and land near the limit weight: the mean over R runs within a t_{R-1} band of its
    standard error sd / sqrt(R) (Bonferroni over the cells, 0.1%). No bias term: lime's ridge (1 against
    n = 1000 samples of weight 1) shifts the coefficients by O(1/n); the band claims that shift is below it."""
    frame = read_results(out, "bandwidth")
    tiny = frame[(frame["nu"] == 0.05) & (frame["d"] >= 49) & (frame["sampler"] == "weighted")]
    assert len(tiny) and tiny["found"].all()
    det = pd.read_csv(out / "results" / "bandwidth_detection.csv")
    cells = det[(det["sampler"] == "weighted") & (det["nu"] == 0.05) & (det["d"] >= 49)]
    tol = band(cells["sd_in"] / np.sqrt(cells["runs"]), dof=cells["runs"] - 1)
    assert_within(cells["mean_in"], cells["limit_beta_in"], tol, "weighted sampler, nu = 0.05")


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("name", MINE)
def test_files_written(out, name):
    meta = read_meta(out, name)
    assert meta["mode"] == "quick" and meta["n_units"] == meta["computed"] + meta["reused"] > 0
    for ext in ("png", "pdf"):
        path = out / "figures" / f"{FIGURES[name]}.{ext}"
        head = path.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if ext == "png" else b"%PDF"), path
    units = list((out / "units" / name).glob("*.csv"))
    assert len(units) == meta["n_units"]
    assert not list((out / "units").rglob("*.tmp"))


# --------------------------------------------------------------------------- plotting helpers
def test_label_edges_are_pixel_exact():
    from limetheory.plotting import label_edges

    labels = np.array([[0, 0, 1], [0, 0, 1], [2, 2, 2]])
    segs = label_edges(labels)
    # 2 vertical unit edges between columns 1|2 in rows 0-1, 3 horizontal edges between rows 1|2
    assert segs.shape == (5, 2, 2)
    vertical = segs[np.isclose(segs[:, 0, 0], segs[:, 1, 0])]
    assert np.allclose(np.sort(vertical[:, :, 0].ravel()), 1.5) and len(vertical) == 2
    horizontal = segs[np.isclose(segs[:, 0, 1], segs[:, 1, 1])]
    assert np.allclose(horizontal[:, :, 1], 1.5) and len(horizontal) == 3


def test_plot_coefficient_boxes_checks_shapes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from limetheory.plotting import plot_coefficient_boxes, plot_convergence

    with pytest.raises(ValueError, match="limit"):
        plot_coefficient_boxes(np.zeros((3, 4)), np.zeros(5))
    ax = plot_coefficient_boxes(np.ones((3, 4)), np.ones(4), highlight=[True, False, False, True])
    assert len(ax.get_xticks()) == 4
    ax = plot_convergence([10, 100], np.array([[1.0, 2.0], [0.3, 0.5]]))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close("all")


def test_enumerated_responses_equal_the_model():
    """Experiment 3 serves stored responses to explain(): they must be the model's own on those images."""
    import limetheory as lt
    from limetheory.experiments._common import bar_mask, digit_image
    from limetheory.experiments.convergence import EnumeratedResponses
    from limetheory.theory import all_patterns
    from limetheory.analytic import LinearModel
    from limetheory.perturb import perturb_batch

    gray, _ = digit_image(2, 32)
    seg = lt.segmentation.grid(gray.shape, 3, 3)
    rng = np.random.default_rng(0)
    model = LinearModel(rng.normal(size=gray.shape))
    for hide in (0.0, None):
        rep = lt.replacement_image(gray, seg, hide)
        served = EnumeratedResponses(gray, rep, seg, model(perturb_batch(gray, rep, seg, all_patterns(9))))
        z = rng.integers(0, 2, size=(200, 9))
        images = perturb_batch(gray, rep, seg, z)
        np.testing.assert_array_equal(served(images), model(images))
        a = lt.explain(gray, model, segments=seg, n_samples=300, ridge=0.0, hide_color=hide, seed=1)
        b = lt.explain(gray, served, segments=seg, n_samples=300, ridge=0.0, hide_color=hide, seed=1)
        np.testing.assert_array_equal(a.coef, b.coef)
    with pytest.raises(ValueError, match="not a LIME perturbation"):
        served(np.full((1,) + gray.shape, 0.123))
    assert bar_mask((4, 4), 1, 2, 2, 1).sum() == 2
