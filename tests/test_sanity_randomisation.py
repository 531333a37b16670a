"""Model randomisation: the layer schedules, re-initialisation, the exact methods' plumbing, and the
sanity_randomisation experiment's quick run."""
import numpy as np
import pandas as pd
import pytest

import limetheory as lt
from limetheory.analytic import response_of_z
from limetheory.experiments import exact_methods as em
from limetheory.nets import small_cnn, vgg
from limetheory.nets.randomize import (cascading_steps, independent_steps, layer_order, randomize_layers,
                                       reinitialized)
from limetheory.paper_figures._common import read_results
from limetheory.segmentation import grid, replacement_image, superpixel_contrast
from limetheory.theory import ResponseTable


# --------------------------------------------------------------------------- nets.randomize
def test_layer_order_small_cnn_and_vgg():
    cnn = small_cnn.init_params(0, (4, 8, 16), 3)
    assert layer_order(cnn) == ["conv0", "conv1", "conv2", "dense"]
    v3 = vgg.init_params(0, "vgg3", 10)
    assert layer_order(v3) == ["conv0a", "conv0b", "conv1a", "conv1b", "conv2a", "conv2b", "hidden", "out"]
    assert layer_order(vgg.init_params(0, "1layer", 3)) == ["pixel", "out"]
    with pytest.raises(ValueError, match="layer 'lstm'"):
        layer_order({"lstm": {}})
    with pytest.raises(TypeError, match="params"):
        layer_order({})


def test_schedules():
    order = ["a", "b", "c"]
    assert cascading_steps(order) == [("c",), ("b", "c"), ("a", "b", "c")]
    assert independent_steps(order) == [("c",), ("b",), ("a",)]


@pytest.mark.parametrize("arch", ["cnn", "1layer", "vgg2"])
def test_reinitialized_is_the_networks_own_initialiser(arch):
    """A re-initialisation equals the family's init_params from the same seed (same layers, shapes, bits)."""
    if arch == "cnn":
        trained = small_cnn.init_params(7, (4, 8), 10)
        expected = small_cnn.init_params(3, (4, 8), 10)
    else:
        trained = vgg.init_params(7, arch, 3)
        expected = vgg.init_params(3, arch, 3)
    fresh = reinitialized(trained, 3)
    assert list(fresh) == list(expected)
    for layer in expected:
        for key in expected[layer]:
            np.testing.assert_array_equal(fresh[layer][key], expected[layer][key])
    assert not np.array_equal(fresh[layer_order(trained)[0]]["w"], trained[layer_order(trained)[0]]["w"])


def test_randomize_layers_replaces_exactly_those_layers():
    trained = small_cnn.init_params(1, (4, 8), 3)
    fresh = reinitialized(trained, 2)
    out = randomize_layers(trained, fresh, ["conv1", "dense"])
    assert out["conv0"] is trained["conv0"] and out["conv1"] is fresh["conv1"] and out["dense"] is fresh["dense"]
    assert randomize_layers(trained, fresh, [])["dense"] is trained["dense"]
    with pytest.raises(ValueError, match="'conv9'"):
        randomize_layers(trained, fresh, ["conv9"])
    other = small_cnn.init_params(1, (4, 16), 3)
    with pytest.raises(ValueError, match="conv1/w"):
        randomize_layers(trained, other, ["conv1"])


# --------------------------------------------------------------------------- the control, the exact methods
def test_superpixel_contrast_against_a_pixel_loop():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 8, 3))
    image[:3, :4] = 17.0  # superpixel 0 constant: no contrast with its mean colour
    segments = grid(image.shape, 2, 2)
    xbar = replacement_image(image, segments)
    expected = np.zeros(4)
    for r in range(6):
        for c in range(8):
            expected[segments[r, c]] += np.sqrt(np.sum((image[r, c] - xbar[r, c]) ** 2))
    got = superpixel_contrast(image, segments)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == 0.0
    np.testing.assert_allclose(superpixel_contrast(image, segments, hide_color=0.0),
                               np.bincount(segments.ravel(), np.linalg.norm(image, axis=2).ravel()), rtol=1e-12)


def _quadratic_model(images):
    """A smooth non-linear model (no network needed): the mean squared pixel value and its square.
    (The mean pixel value itself is the same for every x(z): the mean colour keeps each superpixel's sum.)"""
    m = (np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0) ** 2
    m = m.mean(axis=1)
    return np.stack([m, m ** 2], axis=1)


def test_sampled_lime_on_the_table_is_lime_on_the_model():
    """One sampled run from the response table equals lt.explain on the model with the same seed."""
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (8, 8, 3))
    segments = grid(image.shape, 2, 3)
    table = ResponseTable.from_function(response_of_z(lambda x: _quadratic_model(x)[:, 1], image, segments), 6)
    got = em.sampled_lime(table, np.random.default_rng(5), n_samples=300, kernel_width=0.25, ridge=1.0)
    ref = lt.explain(image, lambda x: _quadratic_model(x)[:, 1:], segments=segments, labels=[0], n_samples=300,
                     kernel_width=0.25, ridge=1.0, seed=5, progress=False)
    np.testing.assert_allclose(got, ref.coef[0], rtol=1e-9, atol=1e-12)


def test_ig_sums_match_integrated_gradients():
    """The parametrised IG (one compilation per network) against limetheory.gradients on the same network."""
    params = small_cnn.init_params(0, (4, 8), 3)
    image = np.random.default_rng(2).uniform(0, 255, (16, 16, 3))
    segments = grid(image.shape, 2, 2)
    sums, gap = em.ig_sums(params, small_cnn.apply, image, segments, 1, n_steps=16)
    x = image.astype(np.float32)
    ref = lt.gradients.integrated_gradients(em.probability_function(params, small_cnn.apply), x,
                                            replacement_image(x, segments).astype(np.float32), n_steps=16,
                                            target=1, dtype="float32")
    expected = lt.gradients.superpixel_sums(ref.attributions, segments)
    np.testing.assert_allclose(sums, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert gap == pytest.approx(ref.relative_gap(), rel=1e-2, abs=1e-5)


def test_exact_explanations_read_one_table():
    """Every exact method from one table: Banzhaf is the wide-kernel LIME limit, occlusion the narrow one."""
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, (8, 8, 3))
    segments = grid(image.shape, 2, 2)
    calls = []

    def f_of_z(z):
        calls.append(len(z))
        return np.sin(z @ np.arange(1.0, 5.0)) + z[:, 0] * z[:, 1]

    table = ResponseTable.from_function(f_of_z, 4)
    out = em.exact_explanations(table, [0.25, 1e4])
    assert sum(calls) == 16 and set(out) == {"limit_0.25", "limit_10000", "shapley", "banzhaf", "occlusion"}
    np.testing.assert_allclose(out["limit_10000"], out["banzhaf"], atol=1e-6)
    z1 = np.ones((1, 4), dtype=np.uint8)
    drops = [f_of_z(z1)[0] - f_of_z(np.where(np.eye(4)[j] == 1, 0, 1)[None].astype(np.uint8))[0] for j in range(4)]
    np.testing.assert_allclose(out["occlusion"], drops, rtol=1e-12)


# --------------------------------------------------------------------------- the experiment's quick run
@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run("sanity_randomisation")


def test_quick_run_rows_and_tables(quick):
    frame = read_results(quick, "sanity_randomisation")
    s_methods = ["limit_0.25", "limit_2", "shapley", "banzhaf", "occlusion", "sampled", "ig", "random", "contrast"]
    assert set(frame["method"]) == set(s_methods)
    n_layers = int(frame["n_layers"].iloc[0])
    per_unit = frame.groupby(["image", "seed"])
    for _, unit in per_unit:
        rnd = unit[unit["comparison"] == "randomized"]
        # every method at every cascading and independent step, and the null pair
        assert len(rnd) == 2 * n_layers * len(s_methods)
        assert len(unit[unit["comparison"] == "random_pair"]) == len(s_methods)
        assert set(unit.loc[unit["comparison"] == "rerun", "method"]) == {"sampled", "random"}
    # the input-only control does not depend on the network: similarity 1 everywhere
    control = frame[frame["method"] == "contrast"]
    assert np.allclose(control[["spearman", "spearman_abs", "jaccard"]], 1.0)
    # fully randomising digits-cnn changes the exact limit's ranking (at these fixed seeds)
    full = frame[(frame["mode"] == "cascading") & (frame["step"] == n_layers) & (frame["method"] == "limit_0.25")]
    assert full["spearman_abs"].mean() < 0.5
    summary = read_results(quick, "sanity_randomisation_summary")
    assert set(summary["method"]) == set(s_methods)
    assert not summary.loc[summary["method"] == "contrast", "passes"].any()
    for stem in ("fig_sanity_randomisation", "fig_sanity_randomisation_all"):
        assert (quick / "figures" / f"{stem}.png").stat().st_size > 10_000


def test_image_counts_per_network():
    """``max_images``: one count for all networks, or {network or "*": count}, never above the full 50;
    the command line's --nets/--max-images reach it (experiment 4's ImageNet networks left out)."""
    from limetheory.cli import _experiment_options
    from limetheory.experiments import sanity_randomisation as sr

    counts = {m["model"]: m["images"]["count"]
              for m in sr.settings(False, max_images={"*": 3, "digits-cnn": 80})["models"]}
    assert counts["digits-cnn"] == 50 and counts["shapes32-vgg3"] == 3 and len(counts) == len(sr.MODEL_ORDER)
    assert {m["images"]["count"] for m in sr.settings(False, max_images=7)["models"]} == {7}
    with pytest.raises(ValueError, match="efficientnet-lite0"):
        sr.settings(False, max_images={"efficientnet-lite0": 3})
    options = _experiment_options("both", None, ["digits-cnn", "efficientnet-lite0"],
                                  {"*": 3, "efficientnet-lite0": 12})["sanity_randomisation"]
    assert options == {"nets": ["digits-cnn"], "max_images": {"*": 3}}
