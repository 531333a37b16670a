"""limetheory.nets.Classifier, the one network type: what every adapter hands LIME and IG.

Oracles: the model's own outputs (a PyTorch module, a Keras model, a JAX or NumPy function),
computed here without the adapter.
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limetheory import explain, nets, segment
from limetheory.compare import CompareSettings, compare_limit
from limetheory.gradients import integrated_gradients
from user_models import SIZE, require, torch_tiny_cnn

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, size=(5, *SIZE, 3))
W = RNG.normal(size=(3, 4)) / 100.0


def linear_logits(x):
    """A JAX network: mean colour -> 4 logits."""
    return jnp.mean(x, axis=(1, 2)) @ W


def _torch_output(module, images):
    torch = require("torch")
    with torch.no_grad():
        x = torch.as_tensor(images).to(next(module.parameters()).dtype).permute(0, 3, 1, 2)
        return module(x).double().numpy()


# --------------------------------------------------------------------------- one constructor
def test_from_function_defaults_and_outputs():
    clf = nets.from_function(linear_logits, input_size=SIZE, name="linear")
    z = np.asarray(linear_logits(IMAGES.astype(np.float32)), dtype=np.float64)
    assert clf.returns == "logit" and clf.output == "prob" and clf.unit == "probability"
    assert isinstance(clf.batch_size, int) and clf.batch_size == nets.default_batch_size(SIZE)
    np.testing.assert_allclose(clf.predict(IMAGES), nets.softmax(z), rtol=1e-6)
    np.testing.assert_allclose(clf.scores(IMAGES, "logit"), z, rtol=1e-5, atol=1e-7)
    logit = clf.with_output("logit")
    np.testing.assert_allclose(logit.predict(IMAGES), z, rtol=1e-5, atol=1e-7)
    assert logit.unit == "logit" and clf.output == "prob"


def test_a_function_returning_probabilities_is_used_as_such():
    probs = nets.from_function(lambda x: jax.nn.softmax(linear_logits(x)), input_size=SIZE, name="p")
    assert probs.returns == "prob"
    p = np.asarray(jax.nn.softmax(linear_logits(IMAGES.astype(np.float32))), dtype=np.float64)
    np.testing.assert_allclose(probs.predict(IMAGES), p, rtol=1e-6)  # not softmax(p)
    with pytest.raises(ValueError, match="output: p returns probabilities and its logits cannot be reached"):
        probs.with_output("logit")
    with pytest.warns(UserWarning, match="declared to return logits, but its rows"):
        nets.from_function(lambda x: jax.nn.softmax(linear_logits(x)), input_size=SIZE, returns="logit")


@pytest.mark.parametrize("backend", ["jax", "numpy"])
def test_a_batch_reduced_to_one_row_is_refused(backend):
    def broadcast(x):  # one row whatever the batch: every image would get the same scores
        return (jnp if backend == "jax" else np).mean(x, axis=(0, 1, 2))[None, :] @ W

    with pytest.raises(ValueError, match="returns 1 row\\(s\\) for a batch of 3 images"):
        nets.from_function(broadcast, input_size=SIZE, backend=backend)


def test_a_numpy_function_explains_but_has_no_gradients():
    clf = nets.from_function(lambda x: np.asarray(linear_logits(x)), input_size=SIZE, backend="numpy")
    seg = segment(IMAGES[0], "grid", n_rows=2, n_cols=2)
    ex = explain(IMAGES[0], clf, segments=seg, n_samples=20, seed=0)
    assert ex.coef.shape == (1, 4)
    with pytest.raises(ValueError, match="has no gradients"):
        integrated_gradients(clf, IMAGES[0], IMAGES[1], target=0)


# --------------------------------------------------------------------------- the images a network takes
@pytest.fixture(scope="module")
def clf():
    return nets.from_function(linear_logits, input_size=SIZE, name="linear")


@pytest.mark.parametrize("bad, err, match", [
    (np.full((1, *SIZE, 3), np.nan), ValueError, "images hold NaN or infinite values"),
    (np.full((1, *SIZE, 3), np.inf), ValueError, "images hold NaN or infinite values"),
    (np.ones((1, *SIZE, 3), complex), TypeError, "images must hold real numbers, got dtype complex128"),
    (np.ones((1, *SIZE, 3), "m8[s]"), TypeError, "images must hold real numbers, got dtype timedelta64"),
    (np.ones((1, *SIZE, 3), np.int8), ValueError, "images of dtype int8 cannot hold values up to 255"),
    (np.ones((1, 16, 16, 3)), ValueError, "images: 16 x 16 pixels, but linear takes 12 x 12 .input_size.: resize first"),
    (np.ones((*SIZE, 3)), ValueError, r"one image: pass images\[None\]"),
])
def test_bad_pixels_are_refused_naming_the_argument(clf, bad, err, match):
    with pytest.raises(err, match=match):
        clf.predict(bad)


def test_explain_checks_the_image_against_the_network_first(clf):
    big = RNG.uniform(0, 255, size=(40, 40, 3))
    with pytest.raises(ValueError, match="image: 40 x 40 pixels, but linear takes 12 x 12"):
        explain(big, clf, n_samples=10)
    with pytest.warns(UserWarning, match=r"expects \[0, 255\]: a \[0, 1\] image"):
        explain(IMAGES[0] / 255.0, clf, segments=segment(IMAGES[0], "grid", n_rows=2, n_cols=2), n_samples=10)
    with pytest.raises(ValueError, match="dtype int8 cannot hold the pixel values"):
        explain(IMAGES[0], clf.predict, segments=segment(IMAGES[0], "grid", n_rows=2, n_cols=2), n_samples=10,
                dtype=np.int8)
    unit = nets.from_function(linear_logits, input_size=SIZE, input_range=(0, 1))
    with pytest.warns(UserWarning, match="outside the input range"):
        unit.check_image(IMAGES[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.check_image(IMAGES[0])  # a photo in [0, 255]: no warning


def test_one_output_everywhere_probability_by_default(clf):
    x, seg = IMAGES[0], segment(IMAGES[0], "grid", n_rows=2, n_cols=2)
    p = clf.predict(x[None])[0]
    ex = explain(x, clf, segments=seg, labels=[1], n_samples=40, seed=0)
    np.testing.assert_allclose(ex.prediction, p, rtol=1e-6)  # LIME: the probability
    ig = integrated_gradients(clf, x, np.zeros_like(x), n_steps=8, target=1)
    assert ig.f_x == pytest.approx(p[1], rel=1e-5)  # IG: the probability
    cmp = compare_limit(x, clf, seg, target=1, settings=CompareSettings(n_steps=8))
    assert cmp.ig.f_x == pytest.approx(p[1], rel=1e-5)  # the comparison: the probability
    logit = clf.with_output("logit")
    assert integrated_gradients(logit, x, np.zeros_like(x), n_steps=8, target=1).f_x == pytest.approx(
        clf.scores(x[None], "logit")[0, 1], rel=1e-5)


def test_reprs_are_short(clf):
    x, seg = IMAGES[0], segment(IMAGES[0], "grid", n_rows=2, n_cols=2)
    cmp = compare_limit(x, clf, seg, target=1, settings=CompareSettings(n_steps=4))
    assert len(repr(cmp)) < 600 and "array(" not in repr(cmp)
    assert len(repr(clf)) < 400


# --------------------------------------------------------------------------- PyTorch
def _wrapping(torch, head):
    """A module whose forward is ``head(torch_tiny_cnn()(x))``."""

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch_tiny_cnn()

        def forward(self, x):
            return head(self.net(x))

    return Wrapped()


def test_torch_double_softmax_is_avoided():
    torch = require("torch")
    net = torch_tiny_cnn()
    module = torch.nn.Sequential(net, torch.nn.Softmax(dim=1))
    clf = nets.from_torch(module, input_size=SIZE)
    assert clf.returns == "logit" and clf.info["final_softmax_removed"]
    np.testing.assert_allclose(clf.predict(IMAGES), _torch_output(module, IMAGES), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(clf.scores(IMAGES, "logit"), _torch_output(net, IMAGES), rtol=1e-5, atol=1e-6)


def test_torch_opaque_softmax_is_detected():
    torch = require("torch")

    module = _wrapping(torch, lambda z: torch.softmax(z, dim=1))  # a softmax inside forward: not seen
    clf = nets.from_torch(module, input_size=SIZE)
    assert clf.returns == "prob"
    np.testing.assert_allclose(clf.predict(IMAGES), _torch_output(module.eval(), IMAGES), rtol=1e-5, atol=1e-7)
    ig = integrated_gradients(clf, IMAGES[0], np.zeros_like(IMAGES[0]), n_steps=16, target=2)
    assert ig.f_x == pytest.approx(clf.predict(IMAGES[:1])[0, 2], rel=1e-5)
    with pytest.raises(ValueError, match="output='logit' is not available"):
        integrated_gradients(clf, IMAGES[0], np.zeros_like(IMAGES[0]), target=2, output="logit")


def test_torch_module_broadcasting_one_row_is_refused():
    torch = require("torch")

    one_row = _wrapping(torch, lambda z: z.mean(dim=0, keepdim=True))  # the same row for every image
    with pytest.raises(ValueError, match="returns 1 row\\(s\\) for a batch of 3 images"):
        nets.from_torch(one_row, input_size=SIZE)


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_torch_precisions_follow_the_module(dtype):
    torch = require("torch")
    module = torch_tiny_cnn().to(getattr(torch, dtype))
    clf = nets.from_torch(module, input_size=SIZE)
    ref = nets.softmax(_torch_output(module.eval(), IMAGES))
    tol = {"float64": 1e-10, "float16": 1e-2, "bfloat16": 5e-2}[dtype]
    np.testing.assert_allclose(clf.predict(IMAGES), ref, rtol=tol, atol=tol / 10)
    ig = integrated_gradients(clf, IMAGES[0], np.zeros_like(IMAGES[0]), n_steps=8, target=1)
    assert np.isfinite(ig.attributions).all()


def test_torch_module_moved_after_wrapping():
    torch = require("torch")
    module = torch_tiny_cnn()
    clf = nets.from_torch(module, input_size=SIZE)
    module.double()
    np.testing.assert_allclose(clf.predict(IMAGES), nets.softmax(_torch_output(module, IMAGES)), rtol=1e-10)


def test_torch_scaling_is_torchvisions_normalize():
    torch = require("torch")
    from limetheory.nets.torch_adapter import scaling

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    module = torch_tiny_cnn()
    clf = nets.from_torch(module, input_size=SIZE, preprocess=scaling(1 / 255, mean, std))
    x = (torch.as_tensor(IMAGES, dtype=torch.float32) / 255 - torch.tensor(mean)) / torch.tensor(std)
    with torch.no_grad():
        ref = module.eval()(x.permute(0, 3, 1, 2)).double().numpy()
    np.testing.assert_allclose(clf.scores(IMAGES, "logit"), ref, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- Keras
def _keras_head(keras):
    return [keras.layers.Conv2D(3, 3, activation="tanh"), keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5, activation="softmax")]


def test_keras_sequential_ending_in_softmax():
    keras = require("keras")
    keras.utils.set_random_seed(0)
    seq = keras.Sequential([keras.Input((*SIZE, 3))] + _keras_head(keras))
    clf = nets.from_keras(seq)
    assert clf.returns == "logit"
    np.testing.assert_allclose(clf.predict(IMAGES), np.asarray(seq(IMAGES.astype(np.float32))), rtol=1e-5, atol=1e-7)
    dense = seq.layers[-1]
    h = np.asarray(keras.Sequential([keras.Input((*SIZE, 3))] + seq.layers[:-1])(IMAGES.astype(np.float32)))
    z = h @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    np.testing.assert_allclose(clf.scores(IMAGES, "logit"), z, rtol=1e-5, atol=1e-6)


def test_keras_functional_around_a_sequential_is_not_softmaxed_twice():
    keras = require("keras")
    keras.utils.set_random_seed(1)
    seq = keras.Sequential([keras.Input((*SIZE, 3))] + _keras_head(keras))
    inp = keras.Input((*SIZE, 3))
    model = keras.Model(inp, seq(inp))
    clf = nets.from_keras(model)
    assert clf.returns == "logit"
    np.testing.assert_allclose(clf.predict(IMAGES), np.asarray(model(IMAGES.astype(np.float32))), rtol=1e-5,
                               atol=1e-7)


def test_keras_subclassed_softmax_is_detected():
    keras = require("keras")
    keras.utils.set_random_seed(2)

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.body = keras.Sequential(_keras_head(keras))

        def call(self, x, training=False):
            return self.body(x, training=training)

    model = Net()
    model(np.zeros((1, *SIZE, 3), np.float32))  # builds the layers
    clf = nets.from_keras(model, input_size=SIZE)
    assert clf.returns == "prob"
    np.testing.assert_allclose(clf.predict(IMAGES), np.asarray(model(IMAGES.astype(np.float32))), rtol=1e-5,
                               atol=1e-7)
