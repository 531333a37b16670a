"""limetheory.nets.from_keras and load("keras:..."): Keras 3 models on the JAX backend.

Fast tests use small functional models and a keras.applications-like constructor registered for
the test (the real loading path: a seeded random initialisation saved to a weight file, built
again without weights and loaded back). The paper's applications themselves (MobileNetV2,
DenseNet121, InceptionV3) take 20 s to minutes to build on CPU: marked slow.
"""
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limetheory import explain, nets, segment
from limetheory.compare import CompareSettings, compare_limit
from limetheory.gradients import integrated_gradients
from limetheory.nets import keras_adapter
from user_models import keras_tiny_application, require, save_keras3_h5, save_legacy_h5

keras = require("keras")
pytestmark = pytest.mark.oracle


def _dense_model(activation="softmax", head="dense"):
    keras.utils.set_random_seed(0)
    inp = keras.Input((10, 10, 3))
    h = keras.layers.Conv2D(4, 3, activation="tanh")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    if head == "dense":
        out = keras.layers.Dense(6, activation=activation)(h)
    else:  # a linear Dense, then a separate softmax layer
        out = head(keras.layers.Dense(6)(h))
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, size=(5, 10, 10, 3)).astype(np.float32)


def _features(model, x):
    """The input of the last Dense layer, computed by a sub-model (independently of the adapter)."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    return np.asarray(keras.Model(model.input, dense.input)(x)), dense


@pytest.mark.parametrize("head", ["dense", "softmax_layer", "activation_layer"])
def test_logits_are_the_pre_softmax_values(images, head):
    layer = {"dense": "dense", "softmax_layer": keras.layers.Softmax(),
             "activation_layer": keras.layers.Activation("softmax")}[head]
    model = _dense_model(head=layer)
    clf = nets.from_keras(model, preprocess=lambda x: x / 255.0)
    x = images / 255.0
    h, dense = _features(model, x)
    z = h @ np.asarray(dense.kernel.value) + np.asarray(dense.bias.value)
    np.testing.assert_allclose(clf.scores(images, "logit"), z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(clf.logits(jnp.asarray(images[2]))), z[2], rtol=1e-5, atol=1e-6)
    # predict = softmax(logits) = the model's own outputs
    np.testing.assert_allclose(clf.predict(images), np.asarray(model(x)), rtol=1e-5, atol=1e-7)
    assert clf.backend == "jax" and clf.input_size == (10, 10) and clf.n_classes == 6 and clf.batch_size == nets.default_batch_size((10, 10))


def test_a_model_without_softmax_gives_its_outputs_as_logits(images):
    model = _dense_model(activation=None)
    clf = nets.from_keras(model, class_names=list("abcdef"), batch_size=2, name="mine")
    z = np.asarray(model(images))
    np.testing.assert_allclose(clf.scores(images, "logit"), z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(clf.predict(images), np.asarray(jax.nn.softmax(z)), rtol=1e-5, atol=1e-7)
    assert clf.class_names == tuple("abcdef") and clf.name == "mine" and clf.batch_size == 2


def test_jax_integrated_gradients_jit_and_fused_lime_apply_unchanged(images):
    clf = nets.from_keras(_dense_model(), preprocess=lambda x: x / 255.0)
    x, b = images[0].astype(np.float64), np.full(images[0].shape, 127.0)
    r = integrated_gradients(clf, x, b, n_steps=32, target=4, output="logit")
    same = integrated_gradients(clf.logits, x, b, n_steps=32, target=4, dtype="float32")
    assert r.dtype == "float32"
    np.testing.assert_array_equal(r.attributions, same.attributions)
    assert abs(r.completeness_gap) < 1e-4 * abs(r.f_x - r.f_baseline)  # float32 rounding floor
    prob = integrated_gradients(clf, x, b, n_steps=32, target=4, output="prob")
    np.testing.assert_allclose(prob.f_x, clf.predict(x[None])[0, 4], rtol=1e-5)
    seg = segment(x, "grid", n_rows=2, n_cols=2)
    fused = explain(x, clf.batch_logits, segments=seg, labels=[4], n_samples=50, seed=0, fused=True)
    plain = explain(x, lambda im: clf.scores(im, "logit"), segments=seg, labels=[4], n_samples=50, seed=0)
    np.testing.assert_allclose(fused.coef, plain.coef, rtol=1e-4, atol=1e-6)
    cmp = compare_limit(x, clf, seg, target=4, settings=CompareSettings(n_steps=16, output="prob"))
    assert cmp.ig.dtype == "float32" and cmp.d == 4


def test_from_keras_refuses_bad_input():
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        nets.from_keras(lambda x: x)
    inp = keras.Input((None, None, 3))
    flexible = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inp)))
    with pytest.raises(ValueError, match="model must take images of a fixed size"):
        nets.from_keras(flexible)
    with pytest.raises(ValueError, match="class_names must have one name per class"):
        nets.from_keras(_dense_model(), class_names=["a"])
    with pytest.raises(TypeError, match="preprocess must be callable"):
        nets.from_keras(_dense_model(), preprocess="tf")


def test_another_keras_backend_is_refused_clearly():
    code = "from limetheory.nets import from_keras\nfrom_keras(None)"
    env = {**__import__("os").environ, "KERAS_BACKEND": "numpy"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode != 0
    assert "RuntimeError: Keras runs on the 'numpy' backend" in run.stderr and "KERAS_BACKEND=jax" in run.stderr


# --------------------------------------------------------------------------- load("keras:...") from a weight file


@pytest.fixture()
def tiny_registered(monkeypatch):
    monkeypatch.setitem(keras_adapter.KERAS_APPLICATIONS, "Tiny",
                        ("user_models", "keras_tiny_application", (16, 16)))


@pytest.mark.parametrize("fmt", ["legacy.h5", "weights.h5"])
def test_load_application_from_a_seeded_weight_file(tmp_path, tiny_registered, fmt):
    keras.utils.set_random_seed(7)
    source = keras_tiny_application(input_shape=(16, 16, 3))
    path = tmp_path / f"tiny.{fmt}"
    (save_legacy_h5 if fmt == "legacy.h5" else save_keras3_h5)(source, path)
    keras.utils.set_random_seed(8)  # a different initialisation: the file must overwrite it
    clf = nets.load("keras:Tiny", weights=path)
    x = np.random.default_rng(1).uniform(0, 255, size=(3, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(clf.predict(x), np.asarray(source(x / 127.5 - 1.0)), rtol=1e-5, atol=1e-7)
    assert clf.name == "keras:Tiny" and clf.input_size == (16, 16) and clf.info["weights"] == str(path)
    assert clf.class_names == tuple(str(k) for k in range(10))


def test_load_application_errors(tmp_path, tiny_registered):
    with pytest.raises(ValueError, match="weights: keras:Tiny needs the Keras applications weight file"):
        nets.load("keras:Tiny")
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        nets.load("keras:Tiny", weights=tmp_path / "missing.h5")
    with pytest.raises(ValueError, match=r"'keras:' \+ one of"):
        nets.load("keras:ResNet50", weights=tmp_path / "x.h5")
    other = save_legacy_h5(keras_tiny_application(input_shape=(16, 16, 3), width=5), tmp_path / "other.h5")
    with pytest.raises(ValueError, match="weights: .* does not hold the weights of keras:Tiny"):
        nets.load("keras:Tiny", weights=other)
    with pytest.raises(ValueError, match="'keras:<MobileNetV2|DenseNet121|InceptionV3"):
        nets.load("mobilenet")


@pytest.mark.slow
@pytest.mark.parametrize("name, options, size", [
    ("MobileNetV2", {"alpha": 0.35}, (96, 96)),
    ("DenseNet121", {}, (224, 224)),
    ("InceptionV3", {}, (299, 299)),
])
def test_the_papers_applications_from_a_seeded_weight_file(tmp_path, name, options, size):
    module_name, constructor, default = keras_adapter.KERAS_APPLICATIONS[name]
    module = __import__(module_name, fromlist=[constructor])
    keras.utils.set_random_seed(0)
    source = getattr(module, constructor)(weights=None, input_shape=(*size, 3), **options)
    path = save_legacy_h5(source, tmp_path / f"{name}.h5")
    clf = nets.load(f"keras:{name}", weights=path, input_size=size, **options)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, *size, 3)).astype(np.float32)
    ref = np.asarray(source(module.preprocess_input(x.copy())))  # the application's own softmax output
    np.testing.assert_allclose(clf.predict(x), ref, rtol=1e-4, atol=1e-6)
    assert clf.input_size == size == (default if not options else size) and len(clf.class_names) == 1000
    assert clf.class_names[281] == "tabby, tabby cat"
