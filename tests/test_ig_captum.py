"""Integrated gradients against captum 0.9's ``IntegratedGradients`` (the oracle, test-only).

Same model, input, baseline, target, ``method`` and ``n_steps``: our attributions for a PyTorch
Classifier equal captum's to 1e-5 relative (float64: to rounding) for Gauss-Legendre and the
left, right and middle Riemann rules. captum's ``riemann_trapezoid`` puts its n nodes at
k / (n - 1) but weighs them 1/n (ends halved), weights summing to (n - 1)/n: its attributions
are our exact trapezoid rule's times (n - 1)/n. The JAX EfficientNet-Lite0 is checked against
captum on the independent PyTorch reference of tests/test_efficientnet.py (slow).
"""
import numpy as np
import pytest

from limetheory import nets
from limetheory.gradients import integrated_gradients
from torch_reference import torch_efficientnet_lite
from user_models import SIZE, require, torch_tiny_cnn

torch = require("torch")
captum_attr = require("captum.attr")

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def setting():
    module = torch_tiny_cnn()
    clf = nets.from_torch(module, input_size=SIZE, preprocess=lambda x: x / 255.0).with_output("logit")
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, size=(*SIZE, 3))
    b = rng.uniform(0, 255, size=(*SIZE, 3))
    return module, clf, x, b


def _captum(module, x, b, target, method, n_steps, dtype):
    net = module.double() if dtype == torch.float64 else module
    try:
        ig = captum_attr.IntegratedGradients(lambda t: net((t / 255.0).permute(0, 3, 1, 2)))
        out = ig.attribute(torch.tensor(x[None], dtype=dtype), torch.tensor(b[None], dtype=dtype), target=target,
                           n_steps=n_steps, method=method)
        return out[0].detach().double().numpy()
    finally:
        module.float()


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle"])
@pytest.mark.parametrize("n_steps", [7, 24])
def test_equals_captum_float64(setting, method, n_steps):
    module, clf, x, b = setting
    ref = _captum(module, x, b, 3, method, n_steps, torch.float64)
    ours = integrated_gradients(clf, x, b, n_steps=n_steps, method=method, target=3, internal_batch_size=5)
    assert ours.dtype == "float64"
    # captum casts its quadrature weights to float32 (``torch.tensor(step_sizes).float()``): each
    # term w_k g_k is off by up to 2^-24 ~ 6e-8 relative, which where the terms cancel is more than
    # 6e-8 of IG_u itself: hence the absolute floor 1e-7 max|IG|
    np.testing.assert_allclose(ours.attributions, ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle"])
def test_equals_captum_float32(setting, method):
    module, clf, x, b = setting
    ref = _captum(module, x, b, 1, method, 16, torch.float32)
    ours = integrated_gradients(clf, x, b, n_steps=16, method=method, target=1, dtype="float32")
    # float32 gradients summed in another order: a few ulp of the largest attribution
    np.testing.assert_allclose(ours.attributions, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("n_steps", [2, 5, 24])
def test_captum_trapezoid_is_ours_times_n_minus_1_over_n(setting, n_steps):
    module, clf, x, b = setting
    ref = _captum(module, x, b, 0, "riemann_trapezoid", n_steps, torch.float64)
    ours = integrated_gradients(clf, x, b, n_steps=n_steps, method="riemann_trapezoid", target=0)
    scale = np.abs(ref).max()
    # to captum's float32 quadrature weights (see above)
    np.testing.assert_allclose(ref, ours.attributions * (n_steps - 1) / n_steps, rtol=1e-5, atol=1e-7 * scale)
    # and not the exact rule itself: the gap is the missing 1/n of the path integral
    assert np.abs(ref - ours.attributions).max() > 0.1 / n_steps * scale


# --------------------------------------------------------------------------- EfficientNet-Lite0


def _relative(a, ref):
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


@pytest.mark.slow
def test_jax_efficientnet_equals_captum_on_the_pytorch_reference():
    """Measured (chelsea, 4 x 4 grid mean-colour baseline, class 285, 8-point Gauss-Legendre, CPU):
    ||ours - captum|| / ||captum|| = 1.6e-3 in float32, the same as captum's own float32 against
    its float64 run (1.6e-3): ReLU6 kinks crossed differently by float32 rounding. Against the
    float64 reference ours is 1.4e-3."""
    from limetheory.data import load_photo
    from limetheory.segmentation import replacement_image, segment

    x = load_photo("chelsea").astype(np.float64)
    b = replacement_image(x, segment(x, "grid", n_rows=4, n_cols=4))
    ref_net = torch_efficientnet_lite(torch)
    x_t = torch.tensor(x[None], dtype=torch.float32)
    with torch.no_grad():
        target = int(ref_net(((x_t - 127.0) / 128.0).permute(0, 3, 1, 2)).argmax())

    def captum(net, dtype):
        ig = captum_attr.IntegratedGradients(lambda t: net(((t - 127.0) / 128.0).permute(0, 3, 1, 2)))
        out = ig.attribute(torch.tensor(x[None], dtype=dtype), torch.tensor(b[None], dtype=dtype), target=target,
                           n_steps=8, method="gausslegendre", internal_batch_size=8)
        return out[0].detach().double().numpy()

    ref32 = captum(ref_net, torch.float32)
    ref64 = captum(ref_net.double(), torch.float64)
    ours = integrated_gradients(nets.load("efficientnet-lite0"), x, b, n_steps=8, target=target,
                                internal_batch_size=8)
    assert ours.dtype == "float32"
    floor = _relative(ref32, ref64)  # float32 against float64, both captum on the same network
    assert _relative(ours.attributions, ref32) <= 2 * floor + 1e-6
    assert _relative(ours.attributions, ref64) <= 2 * floor + 1e-6
    assert floor < 5e-3
