"""Analytic models (docs/theory/closed_forms.md): closed forms against exact enumeration on real images."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from limetheory import theory as th
from limetheory.analytic import LinearModel, ShapeDetector, response_of_z
from limetheory.segmentation import grid, replacement_image


# =========================================================================== strategies
@st.composite
def scenes(draw):
    """A small image (grey or RGB), a grid segmentation (2..12 superpixels) and a hide colour."""
    h, w = draw(st.integers(4, 8)), draw(st.integers(4, 8))
    rows, cols = draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))
    if rows * cols < 2:
        cols = 2
    channels = draw(st.sampled_from([None, 3]))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    image = rng.uniform(0.0, 1.0, size=shape)
    hide = draw(st.sampled_from(["none", "scalar", "channels"]))
    hide_color = {"none": None, "scalar": float(rng.uniform()), "channels": rng.uniform(size=channels or 1)}[hide]
    if hide == "channels" and channels is None:
        hide_color = hide_color[:1]
    return image, grid((h, w), rows, cols), hide_color, rng


# =========================================================================== shape detector
@settings(max_examples=40)
@given(scene=scenes(), nu=st.floats(0.15, 3.0), tau=st.floats(0.2, 0.7), bright=st.booleans())
def test_shape_detector_closed_form_equals_enumeration(scene, nu, tau, bright):
    image, seg, hide_color, rng = scene
    mask = rng.uniform(size=seg.shape) < 0.35
    mask[rng.integers(seg.shape[0]), rng.integers(seg.shape[1])] = True
    if bright:  # light the shape (otherwise it is lit only by chance)
        image[mask] = rng.uniform(tau + 0.05, 1.0, size=image[mask].shape)
    model = ShapeDetector(mask, tau)
    d = int(seg.max()) + 1
    closed = model.limit_explanation(image, seg, hide_color=hide_color, kernel_width=nu)
    exact = th.exact_limit(model.response_of_z(image, seg, hide_color), d, nu)
    assert closed.shape == (d + 1,)
    assert np.allclose(closed, exact, rtol=1e-9, atol=1e-9)
    if not model.lights(image) and not model(model_images_all_replaced(image, seg, hide_color)).any():
        assert np.array_equal(closed, np.zeros(d + 1))


def model_images_all_replaced(image, seg, hide_color):
    return replacement_image(image, seg, hide_color)[None]


def _striped_scene():
    """Dark 9x9 image, 3x3 grid; a bright bar crossing superpixels 3, 4, 5 (partly 4)."""
    image = np.full((9, 9), 0.1)
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 0:7] = True  # covers all of row 4 in superpixels 3 and 4, and one pixel of 5
    image[mask] = 0.95
    return image, grid(image.shape, 3, 3), mask


def test_shape_detector_weights_exactly_the_superpixels_carrying_the_shape():
    """docs/theory/closed_forms.md, *Shape detectors*: equal large weight on E_-, one small common
    weight elsewhere; a superpixel
    that only partly overlaps the shape gets the full weight."""
    image, seg, mask = _striped_scene()
    model = ShapeDetector(mask, 0.5)
    e_minus = model.destroying_superpixels(image, seg)
    assert np.flatnonzero(e_minus).tolist() == [3, 4, 5]
    beta = model.limit_explanation(image, seg)
    inside, outside = beta[1:][e_minus], beta[1:][~e_minus]
    assert np.ptp(inside) < 1e-12 and np.ptp(outside) < 1e-12
    assert inside[0] > 0.3 and abs(outside[0]) < 0.01 * inside[0]
    assert np.allclose(beta, th.product_limit(9, 0.25, [3, 4, 5]), rtol=1e-12)


def test_shape_detector_hide_color_decides_which_superpixels_destroy_the_shape():
    image, seg, mask = _striped_scene()
    model = ShapeDetector(mask, 0.5)
    assert not model.destroying_superpixels(image, seg, hide_color=0.9).any()  # harmless replacement
    beta = model.limit_explanation(image, seg, hide_color=0.9)
    assert np.array_equal(beta, np.eye(10)[0])  # f = 1 for every z
    assert np.flatnonzero(model.destroying_superpixels(image, seg, hide_color=0.0)).tolist() == [3, 4, 5]
    # mean-colour replacement: a superpixel mostly covered by the shape keeps it lit
    bright = image.copy()
    bright[3:6, 0:3] = 0.95
    assert np.flatnonzero(model.destroying_superpixels(bright, seg)).tolist() == [4, 5]


def test_shape_detector_not_lit_gives_zero():
    image, seg, mask = _striped_scene()
    image[4, 2] = 0.2
    model = ShapeDetector(mask, 0.5)
    assert not model.lights(image)
    assert np.array_equal(model.limit_explanation(image, seg), np.zeros(10))


def test_shape_detector_on_rgb_batches():
    image, seg, mask = _striped_scene()
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    model = ShapeDetector(mask, 0.5)
    batch = np.stack([rgb, rgb * 0.1])
    assert model(batch).tolist() == [1.0, 0.0]
    assert model(batch[..., 0]).tolist() == [1.0, 0.0]
    rgb[4, 0, 1] = 0.3  # one channel of one pixel below tau
    assert model(rgb[None]).tolist() == [0.0]


# =========================================================================== linear model
@settings(max_examples=40)
@given(scene=scenes(), nu=st.floats(0.1, 3.0))
def test_linear_model_closed_form_equals_enumeration(scene, nu):
    image, seg, hide_color, rng = scene
    model = LinearModel(rng.normal(size=image.shape))
    d = int(seg.max()) + 1
    closed = model.limit_explanation(image, seg, hide_color=hide_color, kernel_width=nu)
    exact = th.exact_limit(model.response_of_z(image, seg, hide_color), d, nu)
    assert np.allclose(closed, exact, rtol=1e-9, atol=1e-9 * (1 + np.abs(closed).max()))
    # beta_0 = f(xi_bar) and beta_0 + sum_j beta_j = f(xi)
    xi_bar = replacement_image(image, seg, hide_color)
    assert closed[0] == pytest.approx(model(xi_bar[None])[0], rel=1e-12, abs=1e-12)
    assert closed.sum() == pytest.approx(model(image[None])[0], rel=1e-10, abs=1e-10)


def test_linear_model_formula_by_hand():
    image = np.arange(16, dtype=float).reshape(4, 4)
    seg = grid(image.shape, 2, 2)
    lam = np.zeros((4, 4))
    lam[0, 0], lam[3, 3] = 2.0, -1.0
    beta = LinearModel(lam).limit_explanation(image, seg)
    # superpixel 0 = rows 0-1, cols 0-1, mean 2.5; superpixel 3 = rows 2-3, cols 2-3, mean 12.5
    assert beta.tolist() == pytest.approx([2 * 2.5 - 12.5, 2 * (0 - 2.5), 0.0, 0.0, -(15 - 12.5)])


def test_linear_model_accepts_trailing_channel_of_one():
    rng = np.random.default_rng(0)
    lam = rng.normal(size=(5, 5))
    model = LinearModel(lam)
    x = rng.normal(size=(3, 5, 5))
    assert np.allclose(model(x[..., None]), model(x))
    assert np.allclose(LinearModel(lam[..., None])(x), model(x))


def test_response_of_z_of_any_model_multi_output():
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(6, 6, 3))
    seg = grid(image.shape, 2, 3)

    def model(images):
        s = images.reshape(len(images), -1)
        return np.stack([np.tanh(s.mean(1)), s.max(1)], axis=1)

    f = response_of_z(model, image, seg, batch_size=5)
    z = rng.integers(0, 2, size=(11, 6))
    assert f(z).shape == (11, 2)
    beta = th.exact_limit(f, 6, 0.3)
    assert beta.shape == (2, 7)
    assert np.allclose(beta[0], th.exact_limit(lambda zz: f(zz)[:, 0], 6, 0.3), rtol=1e-12)


# =========================================================================== validation
@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: ShapeDetector(np.ones((3, 3)), 0.5), TypeError, "shape_mask"),
        (lambda: ShapeDetector(np.zeros((3, 3), dtype=bool), 0.5), ValueError, "shape_mask"),
        (lambda: ShapeDetector(np.ones((3, 3, 1), dtype=bool), 0.5), ValueError, "shape_mask"),
        (lambda: ShapeDetector(np.ones((3, 3), dtype=bool), float("nan")), ValueError, "tau"),
        (lambda: ShapeDetector(np.ones((3, 3), dtype=bool), "0.5"), TypeError, "tau"),
        (lambda: ShapeDetector(np.ones((3, 3), dtype=bool), True), TypeError, "tau"),
        (lambda: LinearModel(np.ones(5)), ValueError, "weights"),
        (lambda: LinearModel(np.array([[1.0, np.inf]])), ValueError, "weights"),
        (lambda: LinearModel(np.array([["a"]])), TypeError, "weights"),
    ],
)
def test_constructor_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_call_and_limit_validation():
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    sd, lm = ShapeDetector(mask, 0.5), LinearModel(np.ones((4, 4, 3)))
    seg = grid((4, 4), 2, 2)
    with pytest.raises(ValueError, match="batch"):
        sd(np.ones((4, 4)))  # a single image, not a batch
    with pytest.raises(ValueError, match="batch"):
        sd(np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="weights"):
        lm(np.ones((2, 4, 4, 2)))
    with pytest.raises(ValueError, match="weights"):
        lm.limit_explanation(np.ones((4, 4)), seg)
    with pytest.raises(ValueError, match="kernel_width"):
        sd.limit_explanation(np.ones((4, 4)), seg, kernel_width=0.0)
    with pytest.raises(ValueError, match="image must have"):
        sd.limit_explanation(np.ones((5, 4)), grid((5, 4), 2, 2))
    with pytest.raises(ValueError, match="z must be"):
        sd.response_of_z(np.ones((4, 4)), seg)(np.ones((3, 5)))
    with pytest.raises(TypeError, match="predict must be callable"):
        response_of_z("model", np.ones((4, 4)), seg)


def test_shape_lit_only_by_a_replacement():
    """Not lit by the image, but lit once a superpixel is replaced by its (brighter) mean:
    f(x(z)) = prod_{E_-} z_j prod_{E_+} (1 - z_j), not 0 (the 'beta = 0' of docs/theory/closed_forms.md needs f = 0)."""
    image, seg, mask = _striped_scene()
    image[3:6, 6:9] = 0.95  # superpixel 5 bright: its mean stays above tau
    image[4, 6] = 0.3  # ... but the shape pixel in it is dark
    model = ShapeDetector(mask, 0.5)
    assert not model.lights(image)
    beta = model.limit_explanation(image, seg)
    exact = th.exact_limit(model.response_of_z(image, seg), 9, 0.25)
    assert np.allclose(beta, exact, rtol=1e-9, atol=1e-12)
    assert beta[6] < 0 < beta[4]  # switching 5 off creates the shape; switching 3 or 4 off destroys it
