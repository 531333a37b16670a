"""LIME limit - IG sums = (LIME limit - Shapley) + (Shapley - IG sums): each part vanishes where the theory says."""
import jax.numpy as jnp
import numpy as np
import pytest

import limetheory as lt
from limetheory import theory as th
from limetheory.compare import decompose_lime_ig
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.perturb import perturb_batch

D = 6
SEG = np.repeat(np.arange(D), 6).reshape(6, 6)  # six vertical-ish strips of 6 pixels
ONE_HOT = np.eye(D)[SEG]  # (6, 6, D)


def superpixel_means(x):
    return jnp.einsum("hw,hwd->d", x, jnp.asarray(ONE_HOT, dtype=x.dtype)) / 6.0


def game_and_ig(f, image, hide_color):
    """The game z -> f(x(z)) and the IG superpixel sums, both with LIME's replacement image as baseline."""
    rep = lt.replacement_image(image, SEG, hide_color)
    game = lambda z: np.array([float(f(jnp.asarray(x))) for x in perturb_batch(image, rep, SEG, z)])
    ig = integrated_gradients(f, image, rep, n_steps=16, method="gausslegendre")
    return th.ResponseTable.from_function(game, D), superpixel_sums(ig.attributions, SEG)


def test_no_interactions_and_no_path_term_for_a_model_additive_over_superpixels(rng):
    """f = sum_j h_j(x on J_j), non-linear inside each superpixel: LIME = Shapley = IG sums for every width."""
    image = rng.random((6, 6))
    w = rng.normal(size=(6, 6))
    f = lambda x: jnp.sum(jnp.sin(3.0 * superpixel_means(x * jnp.asarray(w, dtype=x.dtype))) + 0.5 * superpixel_means(x) ** 2)
    table, ig = game_and_ig(f, image, 0.0)
    out = decompose_lime_ig(table, D, ig, kernel_width=0.25)
    tol = 20 * np.finfo(np.float32).eps * np.abs(table.values).max()  # the game is computed in float32
    np.testing.assert_allclose(out.interactions, 0.0, atol=tol)
    np.testing.assert_allclose(out.path, 0.0, atol=tol)  # and so are the gradients (16-node quadrature)
    np.testing.assert_allclose(out.banzhaf, out.shapley, atol=tol)
    np.testing.assert_allclose(out.occlusion, out.shapley, atol=tol)


def test_no_path_term_for_a_multilinear_continuous_game(rng):
    """f multilinear in the superpixel means, baseline 0: h(t) = G(t), the multilinear extension, so the IG sums
    are its Aumann-Shapley value along the diagonal, i.e. the Shapley value (Owen); LIME keeps an interaction term."""
    image = rng.random((6, 6)) + 0.5
    f = lambda x: (lambda m: m[0] * m[1] + 2.0 * m[1] * m[2] * m[3] - m[4])(superpixel_means(x))
    table, ig = game_and_ig(f, image, 0.0)
    out = decompose_lime_ig(table, D, ig, kernel_width=0.25)
    tol = 20 * np.finfo(np.float32).eps * np.abs(table.values).max()  # float32 game and gradients
    np.testing.assert_allclose(out.path, 0.0, atol=tol)  # Gauss-Legendre with 16 nodes is exact for degree <= 31
    assert np.abs(out.interactions[:4]).max() > 1e-2  # superpixels 0..3 interact
    assert out.interactions[5] != 0.0 and out.shapley[5] == 0.0  # LIME weighs the null superpixel 5
    np.testing.assert_allclose(out.total, out.interactions + out.path, atol=1e-15)
    frame = out.to_frame()
    assert list(frame.columns[:3]) == ["superpixel", "lime_limit", "shapley"] and len(frame) == D


def test_checks():
    table = th.ResponseTable(np.arange(8.0))
    with pytest.raises(ValueError, match="ig_sums"):
        decompose_lime_ig(table, 3, np.zeros(4))
    with pytest.raises(ValueError, match="game"):
        decompose_lime_ig(table, 2, np.zeros(2))
    with pytest.raises(ValueError, match="d"):
        decompose_lime_ig(table, 25, np.zeros(25))
