"""Superpixel removal (ROAR's fill, ROAD's noisy linear imputation) and the remove_retrain quick run."""
import numpy as np
import pytest

from limetheory.paper_figures._common import read_results
from limetheory.removal import fill_superpixels, noisy_linear_imputation, top_k_mask
from limetheory.segmentation import grid


# --------------------------------------------------------------------------- removal
def test_top_k_mask():
    scores = np.array([[0.1, 0.5, -2.0, 0.5], [3.0, 2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(top_k_mask(scores, 2), [[False, True, False, True], [True, True, False, False]])
    assert not top_k_mask(scores, 0).any() and top_k_mask(scores, 4).all()
    np.testing.assert_array_equal(top_k_mask(scores[0], 1), [False, True, False, False])  # ties: lower index
    with pytest.raises(ValueError, match="k"):
        top_k_mask(scores, 5)
    with pytest.raises(ValueError, match="NaN"):
        top_k_mask([np.nan, 1.0], 1)


def test_fill_superpixels():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 6, 6, 3))
    segments = grid((6, 6), 2, 2)
    removed = np.array([[True, False, False, False], [False, False, False, False], [False, True, True, True]])
    out = fill_superpixels(images, segments, removed, [1.0, 2.0, 3.0])
    for i in range(3):
        gone = removed[i][segments]
        np.testing.assert_array_equal(out[i][gone], np.broadcast_to([1.0, 2.0, 3.0], out[i][gone].shape))
        np.testing.assert_array_equal(out[i][~gone], images[i][~gone])
    with pytest.raises(ValueError, match="removed"):
        fill_superpixels(images, segments, removed[:, :3], 0.0)
    with pytest.raises(ValueError, match="fill"):
        fill_superpixels(images, segments, removed, [1.0, 2.0])


def test_imputation_reproduces_harmonic_images():
    """Without noise, the imputation of a hole away from the border reproduces a linear ramp exactly
    (the symmetric weighted mean of a linear function is its centre value) and a constant image."""
    r, c = np.mgrid[0:12, 0:10].astype(float)
    ramp = np.stack([3 * r + 2 * c, 100 - r, 0 * r + 50], axis=-1)
    hole = np.zeros((12, 10), bool)
    hole[3:9, 2:7] = True
    out = noisy_linear_imputation(ramp, hole, noise_sd=0.0, clip=None)
    np.testing.assert_allclose(out, ramp, atol=1e-9)
    # a hole touching the border of a constant image
    edge = np.zeros((12, 10), bool)
    edge[:5, :4] = True
    np.testing.assert_allclose(noisy_linear_imputation(np.full((12, 10), 7.0), edge, noise_sd=0.0), 7.0)


def test_imputation_noise_and_kept_pixels():
    rng = np.random.default_rng(4)
    image = rng.uniform(60, 200, (40, 40, 3))
    hole = np.zeros((40, 40), bool)
    hole[5:35, 5:35] = True
    clean = noisy_linear_imputation(image, hole, noise_sd=0.0)
    noisy = noisy_linear_imputation(image, hole, noise_sd=2.55, rng=5)
    np.testing.assert_array_equal(noisy[~hole], image[~hole])
    residual = (noisy - clean)[hole]
    n = residual.size
    # sample sd of n i.i.d. normals: relative standard error 1 / sqrt(2 (n - 1)); 5 of them
    assert abs(residual.std(ddof=1) / 2.55 - 1) < 5 / np.sqrt(2 * (n - 1))
    with pytest.raises(ValueError, match="every pixel"):
        noisy_linear_imputation(image, np.ones((40, 40), bool))
    with pytest.raises(ValueError, match="removed_pixels"):
        noisy_linear_imputation(image, np.ones((40, 41), bool))


# --------------------------------------------------------------------------- the experiment's quick run
@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run("remove_retrain")


def test_quick_run(quick):
    frame = read_results(quick, "remove_retrain")
    assert set(frame["kind"]) == {"retrain", "road", "metrics"}
    assert frame["accuracy"].dropna().between(0, 1).all()
    roar = read_results(quick, "remove_retrain_roar")
    assert set(roar["method"]) == {"none", "limit_0.25", "occlusion", "random"}
    assert set(roar.loc[roar["method"] != "none", "k"]) == {1, 3}
    np.testing.assert_allclose(roar["fraction"], roar["k"] / 4)
    # the recipe with seed 0 on the original images is the explainer: ROAR's k = 0 equals ROAD's
    base = roar[roar["method"] == "none"].iloc[0]
    assert base["roar_accuracy"] == base["road_accuracy"]
    # occlusion is, exactly, the drop that the faithfulness correlation correlates with
    metrics = read_results(quick, "remove_retrain_metrics")
    occ = metrics[metrics["method"] == "occlusion"]
    assert occ["faithfulness"].iloc[0] == pytest.approx(1.0, abs=1e-9)
    assert set(metrics.columns) >= {"deletion_auc", "insertion_auc", "faithfulness", "roar_mean_accuracy",
                                    "road_mean_accuracy"}
    assert (quick / "figures" / "fig_remove_retrain.png").stat().st_size > 10_000
