"""The small CNNs: stored weights, the Classifier interface, deterministic training."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from limetheory import nets
from limetheory.data import make_shapes
from limetheory.nets import small_cnn

NAMES = {"shapes": "shapes-cnn", "digits": "digits-cnn"}


@pytest.fixture(scope="module", params=sorted(NAMES))
def net(request):
    which = request.param
    return which, nets.load(NAMES[which])


@pytest.fixture(scope="module")
def heldout():
    return {which: small_cnn.load_heldout(which) for which in NAMES}


def test_registry_and_metadata(net):
    which, clf = net
    assert isinstance(clf, nets.Classifier)
    spec = small_cnn.SPECS[which]
    assert clf.name == spec.name
    assert clf.input_size == spec.input_size
    assert clf.class_names == spec.class_names
    assert clf.info["seed"] == 0
    assert clf.info["heldout_accuracy"] >= 0.95
    assert {"jax", "optax", "numpy"} <= set(clf.info["versions"])
    assert callable(clf.batch_logits)


def test_stored_weights_are_small():
    for name in NAMES.values():
        path = small_cnn.WEIGHTS_DIR / f"{name}.npz"
        assert path.stat().st_size < 2 * 1024**2


def test_heldout_accuracy_matches_record(net, heldout):
    """Recompute the held-out accuracy from the stored weights: it is the recorded one (up to
    one image flipped by floating-point differences between machines) and above 95 %."""
    which, clf = net
    images, labels = heldout[which]
    assert len(labels) == clf.info["n_heldout"]
    accuracy = np.mean(np.argmax(clf.predict(images), axis=1) == labels)
    assert abs(accuracy - clf.info["heldout_accuracy"]) <= 1.0 / len(labels) + 1e-12
    assert accuracy >= 0.95


def test_predict_is_softmax_of_logits(net, heldout):
    which, clf = net
    images = heldout[which][0][:5]
    probs = clf.predict(images)
    assert probs.shape == (5, len(clf.class_names)) and probs.dtype == np.float64
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    for img, p in zip(images, probs):
        expected = np.asarray(jax.nn.softmax(clf.logits(img.astype(np.float32))))
        np.testing.assert_allclose(p, expected, rtol=1e-5, atol=1e-6)
    # batching and padding do not change the result; __call__ is predict; floats are accepted
    batched = np.asarray(clf.batch_logits(jnp.asarray(images, jnp.float32)))
    np.testing.assert_allclose(np.asarray(jax.nn.softmax(batched)), probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict(images[:3]), probs[:3], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(clf(images.astype(np.float64)), probs, rtol=1e-5, atol=1e-7)


def test_predict_large_batch_in_chunks():
    clf = small_cnn.load_digits_cnn(batch_size=8)
    images, _ = small_cnn.load_heldout("digits")
    np.testing.assert_allclose(clf.predict(images[:19]), nets.load("digits-cnn").predict(images[:19]),
                               rtol=1e-5, atol=1e-7)


def test_logits_are_smooth_and_differentiable(heldout):
    """d logit / d pixel by autodiff equals a central finite difference (float64, locally):
    the network is smooth, as integrated gradients wants."""
    clf = nets.load("shapes-cnn")
    image = heldout["shapes"][0][0].astype(np.float64)
    direction = np.random.default_rng(0).normal(size=image.shape)
    with jax.enable_x64(True):
        f = lambda x: clf.logits(x)[1]  # noqa: E731
        grad = np.asarray(jax.grad(f)(jnp.asarray(image)))
        assert grad.shape == image.shape and np.all(np.isfinite(grad)) and np.any(grad != 0)
        h = 1e-3
        fd = (float(f(jnp.asarray(image + h * direction))) - float(f(jnp.asarray(image - h * direction)))) / (2 * h)
    np.testing.assert_allclose(np.sum(grad * direction), fd, rtol=1e-5, atol=1e-8)


def test_shapes_cnn_looks_at_the_object(heldout):
    """Keep the deciding object, replace every other pixel (distractors included) by the
    background colour: the shapes CNN still classifies >= 95 % correctly."""
    clf = nets.load("shapes-cnn")
    spec = small_cnn.SPECS["shapes"].data
    images, labels, masks = make_shapes(200, size=spec["size"], seed=spec["test_seed"])
    only = images.copy()
    for img, m in zip(only, masks):
        img[~m] = np.median(img[~m], axis=0).astype(np.uint8)
    assert np.mean(np.argmax(clf.predict(only), axis=1) == labels) >= 0.95


def test_predict_validation():
    clf = nets.load("digits-cnn")
    with pytest.raises(ValueError, match="images"):
        clf.predict(np.zeros((32, 32, 3)))  # one image without the batch axis
    with pytest.raises(ValueError, match="images"):
        clf.predict(np.zeros((2, 64, 64, 3)))  # wrong input size
    with pytest.raises(TypeError, match="images"):
        clf.predict(np.full((1, 32, 32, 3), "a"))
    with pytest.raises(ValueError, match="name"):
        nets.load("no-such-net")
    with pytest.raises(ValueError, match="which"):
        small_cnn.load_small_cnn("cifar")


def test_weights_roundtrip(tmp_path):
    params = small_cnn.init_params(1, (4, 8), 3)
    meta = {"seed": 1, "heldout_accuracy": 0.5}
    path = small_cnn.save_weights(tmp_path / "w.npz", params, meta)
    loaded, meta2 = small_cnn.load_weights(path)
    assert meta2 == meta
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(loaded)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(scope="module")
def tiny_digits():
    images, labels = small_cnn.load_training_data("digits")
    return images[:64], labels[:64]


def test_training_is_deterministic(tiny_digits):
    """Same seed, same data: bit-identical losses and parameters; another seed differs."""
    images, labels = tiny_digits
    runs = [small_cnn.train("digits", images, labels, seed=3, max_steps=4, progress=False)
            for _ in range(2)]
    (p1, l1), (p2, l2) = runs
    assert len(l1) == 4
    np.testing.assert_array_equal(l1, l2)
    for a, b in zip(jax.tree_util.tree_leaves(p1), jax.tree_util.tree_leaves(p2)):
        np.testing.assert_array_equal(a, b)
    p3, _ = small_cnn.train("digits", images, labels, seed=4, max_steps=4, progress=False)
    assert not np.array_equal(p1["conv0"]["w"], p3["conv0"]["w"])


def test_short_training_reduces_loss():
    images, labels = small_cnn.load_training_data("digits")
    _, losses = small_cnn.train("digits", images[:320], labels[:320], seed=0, epochs=6,
                                progress=False)
    assert len(losses) == 60
    # chance level is log(10) = 2.30; a few epochs on 320 digits must go well below it
    assert losses[:5].mean() > 2.0
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()


def test_train_validation(tiny_digits):
    images, labels = tiny_digits
    with pytest.raises(ValueError, match="images"):
        small_cnn.train("shapes", images, labels, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        small_cnn.train("digits", images, labels[:3], max_steps=1, progress=False)
    with pytest.raises(ValueError, match="seed"):
        small_cnn.train("digits", images, labels, seed=-1, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="which"):
        small_cnn.train("cifar", images, labels, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="max_steps"):
        small_cnn.train("digits", images, labels, max_steps=0, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        small_cnn.train("digits", images, labels, epochs=0, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("which", sorted(NAMES))
def test_full_retraining_reproduces_the_stored_network(which, tmp_path):
    """Retrain from seed 0 exactly as the CLI does: the held-out accuracy is the stored one
    within 1 % (bit-identical weights are only expected on the same machine and versions)."""
    assert small_cnn.main(["--train", which, "--out", str(tmp_path / "w.npz"), "--no-progress"]) == 0
    _, meta = small_cnn.load_weights(tmp_path / "w.npz")
    stored = nets.load(NAMES[which]).info
    assert meta["heldout_accuracy"] >= 0.95
    assert abs(meta["heldout_accuracy"] - stored["heldout_accuracy"]) <= 0.01
