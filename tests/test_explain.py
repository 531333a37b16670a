"""Empirical LIME: the estimator, its result object, its input validation."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

import limetheory as lt
from limetheory.data import load_photo
from limetheory.perturb import auto_batch_size, jax_perturb_batch, perturb_batch
from limetheory.sampling import kernel_weights
from limetheory.segmentation import grid
from limetheory.surrogate import fit_weighted_ridge, weighted_r2

from models import BlockSoftmax, PerImageBlockSoftmax


def naive_perturb(image, replacement, segments, z):
    """Reference: lime's per-sample, per-superpixel construction."""
    out = []
    for row in z:
        temp = image.copy()
        mask = np.zeros(segments.shape, bool)
        for j in np.flatnonzero(row == 0):
            mask[segments == j] = True
        temp[mask] = replacement[mask]
        out.append(temp)
    return np.array(out)


@given(
    h=st.integers(2, 9), w=st.integers(2, 9), c=st.sampled_from([None, 1, 3, 4]),
    n_rows=st.integers(1, 2), seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float64, np.float32, np.uint8]),
)
def test_perturb_batch_equals_naive_loop(h, w, c, n_rows, seed, dtype):
    rng = np.random.default_rng(seed)
    shape = (h, w) if c is None else (h, w, c)
    img = rng.integers(0, 255, shape).astype(dtype)
    rep = rng.integers(0, 255, shape).astype(dtype)
    seg = grid(shape, n_rows, 2) if w >= 2 else grid(shape, 2, 1)
    z = rng.integers(0, 2, (5, seg.max() + 1))
    np.testing.assert_array_equal(perturb_batch(img, rep, seg, z, dtype=dtype), naive_perturb(img, rep, seg, z))


@pytest.mark.parametrize("c", [None, 3])
def test_perturb_batch_casts_both_images_to_dtype_and_fills_out(c):
    """``dtype``: both images are cast to it first (uint8 pixels and float64 means into float32 output);
    ``out``: the images are written into it and it is returned; a boolean z keeps where True."""
    rng = np.random.default_rng(8)
    shape = (5, 6) if c is None else (5, 6, c)
    img = rng.integers(0, 256, shape).astype(np.uint8)
    rep = rng.uniform(0, 255, shape)  # float64 replacement, as replacement_image gives
    seg = grid(shape, 2, 3)
    z = rng.integers(0, 2, (7, 6))
    expected = naive_perturb(img.astype(np.float32), rep.astype(np.float32), seg, z)
    got = perturb_batch(img, rep, seg, z, dtype=np.float32)
    assert got.dtype == np.float32 and got.shape == (7,) + shape
    np.testing.assert_array_equal(got, expected)
    out = np.full((7,) + shape, -1.0, dtype=np.float32)
    assert perturb_batch(img, rep, seg, z, dtype=np.float32, out=out) is out
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(perturb_batch(img, rep, seg, z.astype(bool), dtype=np.float32), expected)


def test_jax_perturb_matches_numpy():
    rng = np.random.default_rng(0)
    img, rep = rng.normal(size=(2, 6, 5, 3))
    seg = grid(img.shape, 2, 2)
    z = rng.integers(0, 2, (7, 4))
    np.testing.assert_allclose(np.asarray(jax_perturb_batch(img, rep, seg, z)), perturb_batch(img, rep, seg, z), atol=1e-6)


def test_kernel_weights_are_limes():
    rng = np.random.default_rng(1)
    z = rng.integers(0, 2, (300, 17))
    z[0] = 1
    z[5] = 0  # the all-off sample: distance 1
    dist = pairwise_distances(z, z[0].reshape(1, -1), metric="cosine").ravel()
    np.testing.assert_allclose(kernel_weights(z, 0.25), np.sqrt(np.exp(-(dist**2) / 0.25**2)), rtol=1e-12)


@pytest.mark.parametrize("ridge", [0.0, 1.0, 7.5])
def test_surrogate_equals_sklearn_ridge(ridge):
    rng = np.random.default_rng(2)
    z = rng.integers(0, 2, (200, 12)).astype(float)
    y = rng.normal(size=(200, 3))
    w = rng.uniform(0.01, 1, 200)
    intercept, coef = fit_weighted_ridge(z, y, w, ridge)
    for k in range(3):
        ref = Ridge(alpha=ridge, fit_intercept=True).fit(z, y[:, k], sample_weight=w)
        np.testing.assert_allclose(coef[k], ref.coef_, atol=1e-10)
        assert abs(intercept[k] - ref.intercept_) < 1e-10
        assert abs(weighted_r2(z, y[:, k], w, intercept[k : k + 1], coef[k : k + 1])[0] - ref.score(z, y[:, k], sample_weight=w)) < 1e-10


def test_defaults_are_limes():
    """explain's settings default to lime 0.2.0.1's, read from lime's own signatures and regressor."""
    import inspect

    from lime import lime_base, lime_image

    ours = inspect.signature(lt.explain).parameters
    init = inspect.signature(lime_image.LimeImageExplainer.__init__).parameters
    call = inspect.signature(lime_image.LimeImageExplainer.explain_instance).parameters
    assert ours["kernel_width"].default == init["kernel_width"].default == 0.25
    assert ours["n_samples"].default == call["num_samples"].default == 1000
    assert ours["hide_color"].default is call["hide_color"].default is None
    assert call["distance_metric"].default == "cosine"  # the distance kernel_weights implements
    # lime's default regressor (model_regressor=None) is the ridge explain uses by default
    rng = np.random.default_rng(4)
    z = rng.integers(0, 2, (300, 6)).astype(float)
    z[0] = 1
    y = rng.normal(size=(300, 2))
    w = kernel_weights(z, ours["kernel_width"].default)
    base = lime_base.LimeBase(lambda dist: w, random_state=0)
    _, local_exp, _, _ = base.explain_instance_with_data(z, y, np.zeros(300), 1, 6, feature_selection="none")
    intercept, coef = fit_weighted_ridge(z, y[:, 1], w, ours["ridge"].default)
    np.testing.assert_allclose(coef[0], [c for _, c in sorted(local_exp)], atol=1e-10)
    # compat.lime_explain: lime's own label defaults
    from limetheory.compat import lime_explain

    compat = inspect.signature(lime_explain).parameters
    for name, lime_name in (("labels", "labels"), ("top_labels", "top_labels"), ("n_samples", "num_samples"),
                            ("hide_color", "hide_color")):
        assert compat[name].default == call[lime_name].default, name
    assert compat["kernel_width"].default == init["kernel_width"].default


def test_surrogate_default_ridge_is_limes():
    rng = np.random.default_rng(5)
    z = rng.integers(0, 2, (100, 5)).astype(float)
    y = rng.normal(size=100)
    w = rng.uniform(0.1, 1, 100)
    _, coef = fit_weighted_ridge(z, y, w)
    np.testing.assert_allclose(coef[0], Ridge(alpha=1.0).fit(z, y, sample_weight=w).coef_, atol=1e-10)


def test_surrogate_of_one_sample_or_a_constant_response_is_that_constant():
    """With a ridge, one sample is a valid fit: no spread in z, so coef = 0 and the intercept is the
    response; a constant response column gives exactly (constant, 0) next to a varying one."""
    intercept, coef = fit_weighted_ridge(np.ones((1, 4)), np.array([[0.3, -2.0]]), np.array([0.7]), 1.0)
    np.testing.assert_array_equal(intercept, [0.3, -2.0])
    np.testing.assert_array_equal(coef, np.zeros((2, 4)))
    rng = np.random.default_rng(6)
    z = rng.integers(0, 2, (30, 4))
    y = np.stack([np.full(30, 0.1), rng.normal(size=30)], axis=1)
    for ridge in (0.0, 1.0):
        intercept, coef = fit_weighted_ridge(z, y, rng.uniform(0.1, 1, 30), ridge)
        assert intercept[0] == 0.1 and np.all(coef[0] == 0.0)



def test_surrogate_computes_in_float64_whatever_the_input_dtypes():
    """uint8 z, float32 responses and float32 weights are converted to float64 first: the same fit as
    their float64 values, to float64 rounding (not float32's 1e-7)."""
    rng = np.random.default_rng(9)
    z = rng.integers(0, 2, (200, 6)).astype(np.uint8)
    y = rng.normal(size=(200, 2)).astype(np.float32)
    w = rng.uniform(0.01, 1, 200).astype(np.float32)
    for ridge in (0.0, 1.0):
        got = fit_weighted_ridge(z, y, w, ridge)
        ref = fit_weighted_ridge(z.astype(np.float64), y.astype(np.float64), w.astype(np.float64), ridge)
        for a, b in zip(got, ref):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # boolean features and responses (a yes/no model) are their 0/1 values
    yes = y[:, 0] > 0
    for ridge in (0.0, 1.0):
        got = fit_weighted_ridge(z.astype(bool), yes, w, ridge)
        ref = fit_weighted_ridge(z.astype(np.float64), yes.astype(np.float64), w.astype(np.float64), ridge)
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)

def test_linear_model_recovered_exactly_with_ridge_zero():
    rng = np.random.default_rng(3)
    img = rng.uniform(0, 1, (12, 12, 3))
    seg = grid(img.shape, 3, 3)
    lam = rng.normal(size=img.shape)
    predict = lambda x: np.tensordot(x, lam, axes=3)  # one score per image
    rep = lt.replacement_image(img, seg)
    expected = np.bincount(seg.ravel(), weights=((img - rep) * lam).sum(2).ravel())
    ex = lt.explain(img, predict, segments=seg, n_samples=10, ridge=0.0, seed=0)
    np.testing.assert_allclose(ex.coef[0], expected, atol=1e-8)
    assert abs(ex.intercept[0] - (rep * lam).sum()) < 1e-8
    assert ex.score[0] == pytest.approx(1.0)


def test_seed_determinism_and_batching():
    """Same seed and same model outputs: same bits, whatever the batch size. The model computes each
    image on its own, so its outputs do not depend on the batching (a batched BLAS product may)."""
    img = load_photo("chelsea", 40).astype(float)
    seg = lt.segment(img)
    model = PerImageBlockSoftmax(img.shape)
    a = lt.explain(img, model, segments=seg, n_samples=300, seed=5, top_labels=2, batch_size=7)
    b = lt.explain(img, model, segments=seg, n_samples=300, seed=5, top_labels=2, batch_size=300)
    c = lt.explain(img, model, segments=seg, n_samples=300, seed=6, top_labels=2)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert not np.array_equal(a.coef, c.coef)
    assert max(model.calls[:43]) == 7  # batches respected
    assert auto_batch_size((224, 224, 3)) * 224 * 224 * 3 * 8 <= 16 * 2**20


def test_explanation_fields_and_helpers(tmp_path):
    img = load_photo("astronaut", 48).astype(float)
    seg = lt.segment(img)
    model = BlockSoftmax(img.shape)
    ex = lt.explain(img, model, segments=seg, n_samples=200, seed=0, top_labels=3, keep_samples=True)
    d = seg.max() + 1
    assert ex.coef.shape == (3, d) and ex.intercept.shape == (3,)
    np.testing.assert_array_equal(ex.labels, np.argsort(model(img[None])[0])[::-1][:3])
    for row, label in enumerate(ex.labels):  # lime's local_pred: the surrogate's prediction at z_0 = 1
        ref = Ridge(alpha=1.0).fit(ex.samples, ex.responses[:, label], sample_weight=ex.weights)
        assert ex.local_pred[row] == pytest.approx(ref.predict(np.ones((1, d)))[0], abs=1e-9)
    assert ex.samples.shape == (200, d) and np.all(ex.samples[0] == 1)
    np.testing.assert_allclose(ex.responses[0], ex.prediction)
    top = ex.top(4)
    assert np.all(np.diff(ex.coef[0][top]) <= 0) and np.all(ex.coef[0][top] > 0)
    assert np.all(ex.coef[0][ex.top(3, sign="negative")] < 0)
    frame = ex.to_frame()
    assert len(frame) == 3 * d and set(frame.columns) >= {"label", "superpixel", "coef", "rank"}
    ax = ex.plot(k=3)
    ax.figure.savefig(tmp_path / "overlay.png")
    assert (tmp_path / "overlay.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="not explained"):
        ex.coef_for(999)


def test_single_score_model_and_fused_jax_path():
    import jax.numpy as jnp

    img = load_photo("coffee", 32).astype(float)
    seg = grid(img.shape, 4)
    lam = np.random.default_rng(0).normal(size=img.shape) / 2e4  # tanh's argument O(1): not saturated
    np_predict = lambda x: np.tanh(np.tensordot(x, lam, axes=3))
    jax_predict = lambda x: jnp.tanh(jnp.tensordot(x, jnp.asarray(lam, jnp.float32), axes=3))
    a = lt.explain(img, np_predict, segments=seg, n_samples=150, seed=1)
    b = lt.explain(img, jax_predict, segments=seg, n_samples=150, seed=1, fused=True, batch_size=64)
    assert a.labels.tolist() == [0]
    assert np.abs(a.coef).max() > 0.01  # a real explanation, not a constant response's zeros
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-5 * np.abs(a.coef).max())  # float32 in JAX


# ----------------------------------------------------------------------------- validation
def _setup():
    img = np.random.default_rng(0).uniform(0, 1, (8, 8, 3))
    return img, grid(img.shape, 2), BlockSoftmax(img.shape)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 1}, ValueError, "n_samples"),
        ({"n_samples": 10.5}, TypeError, "n_samples"),
        ({"kernel_width": 0}, ValueError, "kernel_width"),
        ({"kernel_width": float("nan")}, ValueError, "kernel_width"),
        ({"ridge": -1}, ValueError, "ridge"),
        ({"ridge": 0, "n_samples": 4}, ValueError, "d \\+ 1"),
        ({"labels": [6]}, ValueError, "labels"),
        ({"labels": [-1]}, ValueError, "labels"),
        ({"top_labels": 7}, ValueError, "top_labels"),
        ({"labels": [1], "top_labels": 2}, ValueError, "not both"),
        ({"hide_color": [0, 0]}, ValueError, "hide_color"),
    ],
)
def test_bad_settings(kwargs, error, match):
    img, seg, model = _setup()
    with pytest.raises(error, match=match):
        lt.explain(img, model, segments=seg, **{"n_samples": 20, **kwargs})


def test_bad_image_segments_and_predict():
    img, seg, model = _setup()
    with pytest.raises(ValueError, match="image"):
        lt.explain(img[None], model, segments=seg)
    bad = img.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lt.explain(bad, model, segments=seg)
    with pytest.raises(ValueError, match="segments"):
        lt.explain(img, model, segments=seg[:4])
    with pytest.raises(ValueError, match="at least 2"):
        lt.explain(img, model, segments=np.zeros((8, 8), int))
    with pytest.raises(TypeError, match="predict must be callable"):
        lt.explain(img, "model", segments=seg)
    with pytest.raises(ValueError, match="shape"):
        lt.explain(img, lambda x: np.zeros((len(x) + 1, 2)), segments=seg, n_samples=10)
    with pytest.raises(ValueError, match="shape"):
        lt.explain(img, lambda x: np.zeros((len(x), 2, 2)), segments=seg, n_samples=10)

    def nan_at_13(x, seen=[0]):
        out = np.ones((len(x), 2))
        idx = 13 - seen[0]
        if 0 <= idx < len(x):
            out[idx, 1] = np.nan
        seen[0] += len(x)
        return out

    with pytest.raises(ValueError, match="sample 13"):
        lt.explain(img, nan_at_13, segments=seg, n_samples=30, batch_size=8)


@pytest.mark.filterwarnings("ignore:the model's output for label")  # n = 2 or 3 samples can all be alike
@given(
    h=st.integers(3, 12), w=st.integers(3, 12), channels=st.sampled_from([0, 1, 3]),
    n_rows=st.integers(1, 3), n=st.integers(2, 60), nu=st.floats(0.05, 5.0),
    ridge=st.sampled_from([0.0, 0.1, 1.0]), hide=st.sampled_from([None, 0.0, 0.5]), seed=st.integers(0, 1000),
)
def test_valid_space_gives_finite_consistent_explanations(h, w, channels, n_rows, n, nu, ridge, hide, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 0 else (h, w, channels)
    img = rng.uniform(0, 1, shape)
    seg = grid(shape, n_rows, 2)
    d = seg.max() + 1
    if ridge == 0 and n < d + 1:
        n = d + 1
    model = BlockSoftmax(shape, n_classes=3, scale=1.0)
    calls = []

    def counted(x):
        calls.append(len(x))
        return model(x)

    try:
        ex = lt.explain(img, counted, segments=seg, n_samples=n, kernel_width=nu, ridge=ridge, hide_color=hide,
                        seed=seed, top_labels=2, keep_samples=True)
    except ValueError as exc:  # the documented refusal of weights that cannot identify the fit
        assert 'sampler="weighted"' in str(exc) and n > d + 1 and calls == []  # only where se < inf, before f runs
        return
    assert ex.coef.shape == (2, d)
    assert np.all(np.isfinite(ex.coef)) and np.all(np.isfinite(ex.intercept))
    assert np.all(ex.score <= 1 + 1e-9)
    # local_pred is the surrogate at z = 1, here equal (to rounding) to the weighted least-squares /
    # ridge prediction of scikit-learn on the same samples
    for row, label in enumerate(ex.labels):
        ref = Ridge(alpha=ridge).fit(ex.samples, ex.responses[:, label], sample_weight=ex.weights)
        scale = 1.0 + np.abs(ex.responses[:, label]).max()
        assert abs(ex.local_pred[row] - ref.predict(np.ones((1, d)))[0]) <= 1e-6 * scale


def test_constant_response_gives_exact_zero_fit():
    """A saturated model (constant scores) gets b = 0, b0 = the constant and R^2 = 1, as sklearn."""
    rng = np.random.default_rng(4)
    z = rng.integers(0, 2, (50, 6)).astype(float)
    y = np.column_stack([np.ones(50), rng.normal(size=50)])
    w = rng.uniform(0.1, 1, 50)
    intercept, coef = fit_weighted_ridge(z, y, w, 1.0)
    assert np.all(coef[0] == 0) and intercept[0] == 1.0
    assert weighted_r2(z, y, w, intercept, coef)[0] == 1.0
    ref = Ridge(alpha=1.0).fit(z, y[:, 1], sample_weight=w)
    np.testing.assert_allclose(coef[1], ref.coef_, atol=1e-10)


def test_a_model_blind_to_the_perturbation_gets_a_warning_and_a_zero_explanation():
    """The mean-colour replacement keeps each superpixel's mean, so a global-mean model never changes."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(12, 12, 3))
    segments = lt.segmentation.grid(image.shape, 3, 3)

    def global_mean(images):
        return images.reshape(len(images), -1).mean(axis=1)

    with pytest.warns(UserWarning, match=r"label\(s\) \[0\] is the same on all 300 samples"):
        ex = lt.explain(image, global_mean, segments=segments, n_samples=300, seed=0)
    np.testing.assert_allclose(ex.coef, 0.0, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a model that sees the perturbation: no warning
        lt.explain(image, lambda x: x[:, :2].reshape(len(x), -1).mean(axis=1), segments=segments, n_samples=300, seed=0)
