"""Experiment 4's companion, lime_ig_decomposition: exact where d is small, estimated with standard errors above."""
import json

import numpy as np
import pandas as pd
import pytest

from limetheory.analytic import response_of_z
from limetheory.compare import decompose_lime_ig
from limetheory.experiments import run_experiment
from limetheory.experiments import lime_ig_decomposition as exp, lime_vs_ig
from limetheory.pipeline import class_scores

from stats_bounds import assert_within, band, dn_bias

D = 6
SEG = np.repeat(np.arange(D), 6).reshape(6, 6)  # six strips of 6 pixels
ONE_HOT = np.eye(D)[SEG]  # (6, 6, D)


def game(images):
    """A game with interactions between superpixels and curvature inside them (numpy, float64)."""
    m = np.einsum("nhw,hwd->nd", np.asarray(images, dtype=np.float64), ONE_HOT) / 6.0
    return np.tanh(1.5 * m[:, 0] * m[:, 1] - m[:, 2] + 2.0 * m[:, 3] ** 2) + 0.5 * m[:, 4] * m[:, 2] * m[:, 1]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("decomposition")
    run_experiment(exp.NAME, out, quick=True, progress=False)
    return out


def test_exact_branch_equals_decompose_lime_ig(rng):
    image = rng.random((6, 6)) + 0.2
    ig = rng.normal(size=D)
    got = exp.decomposition(game, image, SEG, ig, d_exact=D, kernel_width=0.25, n_lime=100, n_shap=100,
                            seeds=[0, 1], hide_color=0.0)
    ref = decompose_lime_ig(response_of_z(game, image, SEG, 0.0), D, ig, kernel_width=0.25)
    assert got["exact"]
    for name, value in (("lime", ref.lime_limit), ("shapley", ref.shapley), ("interactions", ref.interactions),
                        ("path", ref.path)):
        np.testing.assert_array_equal(got[name], value)
        np.testing.assert_array_equal(got[f"{name}_se"], 0.0)


def test_estimated_intervals_cover_the_exact_decomposition(rng):
    """One LIME run (ridge 0) and one paired KernelSHAP run: every superpixel's interactions and path
    within a Bonferroni band (2 d quantities, alpha 1e-3) of their own standard errors, plus the
    O(d/n) bias of a ratio estimator (c = 1, in units of the largest exact coefficient)."""
    image = rng.random((6, 6)) + 0.2
    ig = rng.normal(size=D)
    exact = exp.decomposition(game, image, SEG, ig, d_exact=D, kernel_width=0.25, n_lime=0, n_shap=0,
                              seeds=[0, 1], hide_color=0.0)
    n = 4000
    est = exp.decomposition(game, image, SEG, ig, d_exact=0, kernel_width=0.25, n_lime=n, n_shap=n,
                            seeds=[11, 12], hide_color=0.0)
    assert not est["exact"]
    assert np.all(est["lime_se"] > 0) and np.all(est["shapley_se"] > 0)
    np.testing.assert_allclose(est["interactions_se"] ** 2, est["lime_se"] ** 2 + est["shapley_se"] ** 2)
    np.testing.assert_array_equal(est["path_se"], est["shapley_se"])
    scale = np.abs(np.concatenate([exact["lime"], exact["shapley"]])).max()
    for name in ("interactions", "path"):
        assert_within(est[name], exact[name], band(est[f"{name}_se"], m=2 * D, bias=dn_bias(D, n, scale)), name)
    np.testing.assert_allclose(est["interactions"] + est["path"], est["lime"] - ig)


def test_quick_run(quick):
    frame = pd.read_csv(quick / "results" / f"{exp.NAME}.csv")
    meta = json.loads((quick / "results" / f"{exp.NAME}.json").read_text())
    s = meta["settings"]
    assert meta["mode"] == "quick" and meta["n_units"] == 2
    per_image = frame.groupby("image")
    assert (per_image.size() == per_image["d"].first()).all()  # one row per superpixel
    assert set(frame["exact"]) == {True, False}  # the quick images cover both branches
    assert ((frame["d"] <= s["d_exact"]) == frame["exact"]).all()
    np.testing.assert_allclose(frame["interactions"] + frame["path"], frame["lime"] - frame["ig"], atol=1e-12)
    np.testing.assert_allclose(frame["total"], frame["lime"] - frame["ig"], atol=1e-12)
    assert (frame.loc[frame["exact"], ["lime_se", "shapley_se", "path_se"]] == 0).all().all()
    summary = pd.read_csv(quick / "results" / f"{exp.NAME}_summary.csv")
    assert list(summary["model"]) == ["digits-cnn"] and summary["images"].iloc[0] == 2
    assert 0 <= summary["share"].iloc[0] <= 1
    assert (quick / "figures" / "fig_lime_ig_decomposition.png").exists()


def test_quick_exact_unit_is_the_enumerated_game(quick):
    """The exact unit's columns are decompose_lime_ig of the network's own game, built here anew."""
    frame = pd.read_csv(quick / "results" / f"{exp.NAME}.csv")
    unit = frame[frame["exact"]]
    key = unit["image"].iloc[0]
    s = exp.settings(True)
    u = lime_vs_ig.unit_input(exp.setup(s), s["models"][0]["model"], int(key), exp.SEGMENTATION)
    target = int(unit["target"].iloc[0])
    assert target == u.target and u.d == int(unit["d"].iloc[0])
    scores = class_scores(u.snet, target)
    f_of_z = response_of_z(lambda x: scores(x)[:, 0], u.image, u.segments, None)
    ref = decompose_lime_ig(f_of_z, int(unit["d"].iloc[0]), unit["ig"].to_numpy(), 0.25)
    np.testing.assert_allclose(unit["lime"], ref.lime_limit, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(unit["shapley"], ref.shapley, rtol=1e-9, atol=1e-12)


def test_join_with_experiment_4(quick):
    """The companion's images join experiment 4's rows of the same protocol on (model, image); a
    mismatched segmentation is refused; without experiment 4's rows nothing is written."""
    from limetheory.paper_figures import table_lime_ig_decomposition as table

    assert table.make(quick) == []  # the quick run holds the companion only
    images = pd.read_csv(quick / "results" / f"{exp.NAME}_images.csv")
    exp4 = pd.DataFrame([{"protocol": p, "model": r.model, "image": r.image, "d": r.d, "target": 0, "output": "prob",
                          "comparison": c, "jaccard_top5": 0.5, "spearman": 0.1 * i, "nonadditive_share": 0.2}
                         for i, r in enumerate(images.itertuples())
                         for p in ("paper", table.PROTOCOL) for c in ("lime_vs_ig", "lime_vs_lime")])
    out = table.joined(images, exp4)
    assert len(out) == len(images) and list(out["spearman"]) == [0.1 * i for i in range(len(images))]
    rho = table.agreement(out)
    assert set(rho["size"]) == {s for s, _ in table.SIZES} and (rho["pairs"] == len(images)).all()
    with pytest.raises(ValueError, match="segment"):
        table.joined(images, exp4.assign(d=exp4["d"] + 1))


def test_cli_networks_and_image_counts_reach_the_companion():
    from limetheory.cli import _experiment_options

    options = _experiment_options("paper", None, ["digits-cnn", "shapes32-vgg1"], {"*": 3})
    assert options["lime_ig_decomposition"] == {"nets": ["digits-cnn", "shapes32-vgg1"], "max_images": {"*": 3}}
    s = exp.settings(False, **options["lime_ig_decomposition"])
    assert [m["model"] for m in s["models"]] == ["digits-cnn", "shapes32-vgg1"]
    assert len(exp.units(s)) == 6 and s["d_exact"] == exp.D_EXACT
