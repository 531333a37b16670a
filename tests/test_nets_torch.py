"""limetheory.nets.from_torch: a PyTorch module as a Classifier for LIME and integrated gradients.

The oracle for integrated gradients is captum 0.9 (tests/test_ig_captum.py); here: what the
adapter computes, its batching, eval mode, the factory loader and the errors.
"""

import numpy as np
import pytest

from limetheory import explain, nets, segment
from limetheory.compare import CompareSettings, compare_limit
from limetheory.gradients import integrated_gradients
from user_models import SIZE, require, torch_tiny_cnn

torch = require("torch")

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def module():
    return torch_tiny_cnn()


@pytest.fixture(scope="module")
def clf(module):
    return nets.from_torch(module, input_size=SIZE, preprocess=lambda x: x / 255.0, batch_size=4)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, size=(7, *SIZE, 3))


def _reference_logits(module, images):
    x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    module.eval()
    with torch.no_grad():
        return module(x).double().numpy()


def test_predict_is_softmax_of_the_module(clf, module, images):
    z = _reference_logits(module, images)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = clf.predict(images)
    assert out.shape == (7, 5) and out.dtype == np.float64
    np.testing.assert_allclose(out, p, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(clf.batch_logits(images), z, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(clf.logits(images[3]), z[3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(clf.scores(images, "logit"), z, rtol=1e-6, atol=1e-6)


def test_fields_eval_mode_and_defaults(clf, module, images):
    assert not module.training  # dropout off: the same output twice
    np.testing.assert_array_equal(clf.predict(images[:2]), clf.predict(images[:2]))
    assert clf.backend == "torch" and clf.batch_size == 4 and clf.input_size == SIZE
    assert clf.class_names == tuple("01234") and clf.n_classes == 5 and clf.name == "Sequential"
    assert nets.from_torch(module, input_size=SIZE).batch_size == nets.default_batch_size(SIZE)  # always set
    assert clf(images[:1]).shape == (1, 5)


def test_preprocess_none_passes_values_unchanged_as_float32_nchw():
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(x)
            return x.mean(dim=(2, 3))

    x = np.arange(2 * 3 * 4 * 3, dtype=np.float64).reshape(2, 3, 4, 3)
    out = nets.from_torch(Probe(), input_size=(3, 4)).batch_logits(x)
    assert seen[-1].dtype == torch.float32 and tuple(seen[-1].shape) == (2, 3, 3, 4)
    np.testing.assert_array_equal(seen[-1].numpy(), x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(out, x.mean(axis=(1, 2)))


def test_value_and_grad_matches_central_differences(clf, images):
    x = images[:2]
    for output in ("logit", "prob"):
        v, g = clf.value_and_grad(x, 2, output, "float64")
        assert v.shape == (2,) and g.shape == x.shape
        scores = clf.scores(x, output)[:, 2]
        np.testing.assert_allclose(v, scores, rtol=1e-5)
        u = np.random.default_rng(1).normal(size=x.shape[1:])
        h = 1e-3
        for i in range(2):
            hi = clf.value_and_grad(np.stack([x[i] + h * u]), 2, output, "float64")[0][0]
            lo = clf.value_and_grad(np.stack([x[i] - h * u]), 2, output, "float64")[0][0]
            # float64 module: central difference error O(h^2 f''') + rounding 1e-16 / h
            np.testing.assert_allclose((hi - lo) / (2 * h), np.sum(g[i] * u), rtol=1e-6)


def test_float64_copy_leaves_the_module_float32(clf, module, images):
    v64, _ = clf.value_and_grad(images[:3], 1, "logit", "float64")
    v32, _ = clf.value_and_grad(images[:3], 1, "logit", "float32")
    assert next(module.parameters()).dtype == torch.float32
    np.testing.assert_allclose(v64, v32, rtol=1e-5)


def test_batches_of_batch_size(images):
    sizes = []
    net = torch_tiny_cnn()
    net.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
    clf = nets.from_torch(net, input_size=SIZE, preprocess=lambda x: x / 255.0, batch_size=3)
    sizes.clear()
    clf.predict(images)
    assert sizes == [3, 3, 1]
    # explain sends the Classifier batches of its own batch_size
    seg = segment(images[0], "grid", n_rows=2, n_cols=3)
    sizes.clear()
    explain(images[0], clf, segments=seg, n_samples=10, seed=0)
    assert sizes == [3, 3, 3, 1]
    sizes.clear()
    explain(images[0], clf, segments=seg, n_samples=10, seed=0, batch_size=4)
    assert sizes == [3, 1, 3, 1, 2]  # batches of 4 images, each run in model calls of batch_size 3


def test_integrated_gradients_completeness(clf, images):
    x, b = images[0], np.zeros_like(images[0])
    r = integrated_gradients(clf, x, b, n_steps=32, target=1, output="prob")
    assert r.dtype == "float64" and r.target == 1 and r.attributions.shape == x.shape
    np.testing.assert_allclose(r.f_x, clf.predict(x[None])[0, 1], rtol=1e-5)
    # a smooth network: 32-point Gauss-Legendre resolves the path to rounding
    assert abs(r.completeness_gap) < 1e-9 * max(1.0, abs(r.f_x - r.f_baseline))
    chunked = integrated_gradients(clf, x, b, n_steps=32, target=1, output="prob", internal_batch_size=5)
    np.testing.assert_allclose(chunked.attributions, r.attributions, rtol=1e-9, atol=1e-15)


def test_lime_limit_of_a_linear_torch_model_is_the_ig_sum():
    # docs/theory/lime_and_ig.md: for a linear f the LIME limit beta_j equals sum_{u in J_j} IG_u exactly
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 3, 3)).double()
    clf = nets.from_torch(lin, input_size=(8, 8), preprocess=lambda x: x.double() / 255.0)
    image = np.random.default_rng(2).uniform(0, 255, size=(8, 8, 3))
    seg = segment(image, "grid", n_rows=2, n_cols=3)
    cmp = compare_limit(image, clf.with_output("logit"), seg, target=2, settings=CompareSettings(n_steps=4))
    # the network runs in float64 (the preprocess casts the batch); predict passes float32 images
    np.testing.assert_allclose(cmp.lime_coef, cmp.ig_sums, rtol=1e-5, atol=1e-6 * np.abs(cmp.ig_sums).max())
    assert cmp.spearman == pytest.approx(1.0)


# --------------------------------------------------------------------------- the factory loader


def test_load_torch_factory_module_or_classifier():
    clf = nets.load("torch:user_models:torch_tiny_cnn", input_size=SIZE, batch_size=2)
    assert clf.name == "torch:user_models:torch_tiny_cnn" and clf.backend == "torch" and clf.batch_size == 2
    ready = nets.load("torch:user_models:torch_classifier")
    assert ready.name == "tiny" and ready.class_names == ("a", "b", "c")
    assert nets.load("torch:user_models:torch_classifier", input_size=64).input_size == (64, 64)


@pytest.mark.parametrize("spec, kwargs, err, match", [
    ("torch:no_such_package.models:make", {"input_size": 8}, ValueError, "cannot import 'no_such_package.models'"),
    ("torch:user_models:no_such_factory", {"input_size": 8}, ValueError, "no callable 'no_such_factory'"),
    ("torch:user_models", {"input_size": 8}, ValueError, "torch:package.module:factory"),
    ("torch:user_models:not_a_model", {"input_size": 8}, TypeError, "must return a torch.nn.Module or a Classifier"),
    ("torch:user_models:torch_tiny_cnn", {}, ValueError, "input_size is required"),
    ("torch:user_models:torch_classifier", {"input_size": 9}, ValueError, "input_size"),
    ("torch:user_models:torch_fixed_size", {"input_size": (10, 12)}, ValueError, "input_size: .* refuses a batch"),
])
def test_load_torch_factory_errors(spec, kwargs, err, match):
    with pytest.raises(err, match=match):
        nets.load(spec, **kwargs)


# --------------------------------------------------------------------------- bad input


def test_from_torch_refuses_bad_arguments(module, clf):
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        nets.from_torch(lambda x: x, input_size=SIZE)
    with pytest.raises(ValueError, match="input_size: .* refuses a batch of 3"):
        nets.from_torch(torch_tiny_cnn(in_features=144), input_size=(8, 8))
    with pytest.raises(ValueError, match=r"input_size must be \(height, width\)"):
        nets.from_torch(module, input_size=(1, 2, 3))
    with pytest.raises(TypeError, match=r"input_size\[0\] must be an integer"):
        nets.from_torch(module, input_size=(12.0, 12))
    with pytest.raises(TypeError, match=r"must return real scores \(N, n_classes\)"):
        nets.from_torch(torch.nn.Flatten(0), input_size=SIZE)
    with pytest.raises(ValueError, match="class_names must have one name per class"):
        nets.from_torch(module, input_size=SIZE, class_names=["a"])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        nets.from_torch(module, input_size=SIZE, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        nets.from_torch(module, input_size=SIZE, batch_size=True)
    with pytest.raises(TypeError, match="preprocess must be callable"):
        nets.from_torch(module, input_size=SIZE, preprocess=3)
    with pytest.raises(ValueError, match="device must be a torch device"):
        nets.from_torch(module, input_size=SIZE, device="no-such-device")
    with pytest.raises(ValueError, match=r"images: 8 x 8 pixels, but .* takes 12 x 12 \(input_size\): resize"):
        clf.predict(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="target must be <= 4"):
        integrated_gradients(clf, np.zeros((*SIZE, 3)), np.zeros((*SIZE, 3)), target=5)
    with pytest.raises(ValueError, match="target must be a class index"):
        integrated_gradients(clf, np.zeros((*SIZE, 3)), np.zeros((*SIZE, 3)))
    with pytest.raises(ValueError, match="input_size"):
        integrated_gradients(clf, np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), target=0)


@pytest.mark.slow  # a minute on 2 busy cores: LIME n = 1000 and 64-point IG at 224 x 224
def test_readme_example_runs_with_a_stand_in_module(capsys):
    """The README's PyTorch example, torchvision's ResNet replaced by a small module (no download)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Your own models: PyTorch and Keras", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    assert "torchvision.models.resnet18" in block
    block = block.replace("import torch, torchvision", "import torch")
    block = re.sub(r"module = torchvision\.models\.resnet18\([^)]*\)", "module = torch_tiny_cnn(1000)", block)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme_example", "torch_tiny_cnn": torch_tiny_cnn})
    assert capsys.readouterr().out.strip()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_gives_the_cpu_results(module, clf, images):
    gpu = nets.from_torch(torch_tiny_cnn(), input_size=SIZE, preprocess=lambda x: x / 255.0, device="cuda")
    assert gpu.info["device"].startswith("cuda") and gpu.batch_size == 128
    np.testing.assert_allclose(gpu.predict(images), clf.predict(images), rtol=1e-4, atol=1e-6)
    _, g_gpu = gpu.value_and_grad(images[:2], 1, "prob", "float64")
    _, g_cpu = clf.value_and_grad(images[:2], 1, "prob", "float64")
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-7, atol=1e-12)
