"""PyTorch modules as :class:`~limetheory.nets.Classifier`: LIME through ``predict``, integrated
gradients through ``torch.autograd``.

The toolkit's images are NumPy arrays (N, H, W, C) (RGB in [0, 255] for photos). A module gets

    module( NCHW( preprocess( torch.as_tensor(images, float32) ) ) )

where ``preprocess`` (default: none, the values pass unchanged) is a function of the
(N, H, W, C) torch batch written with torch operations, so that gradients flow through it, and
``NCHW`` moves the channel axis second. The module must return logits (N, n_classes) (not
probabilities: ``predict`` applies the softmax); it is put in eval mode (batch norm with its
running statistics, dropout off). torch is imported only when an adapter is built: the core
install does not need it.
"""
from __future__ import annotations

import copy
import importlib
from typing import Callable

import numpy as np

from ..validation import check_choice, check_int, check_size
from . import Classifier, check_images

__all__ = ["DEFAULT_BATCH_SIZE", "OUTPUTS", "from_torch", "load_torch_factory"]

#: Images per model call when ``batch_size=None``: {device type: batch}.
DEFAULT_BATCH_SIZE = {"cpu": 32, "cuda": 128}

#: What ``value_and_grad`` differentiates: the class's logit or its softmax probability.
OUTPUTS = ("logit", "prob")

_DTYPES = ("float32", "float64")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise ImportError("PyTorch models need torch: pip install 'limetheory[torch]'") from exc
    return torch


def _device(torch, module, device):
    if device is None:
        first = next(iter(module.parameters()), None)
        return first.device if first is not None else torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}") from exc


def _class_names(class_names, n_classes: int) -> tuple:
    if class_names is None:
        return tuple(str(k) for k in range(n_classes))
    names = tuple(str(c) for c in class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names must have one name per output of the module ({n_classes}), got {len(names)}")
    return names


def _probe(torch, forward, input_size, device) -> int:
    """Run the module once on one grey image; the number of classes, or a clear error."""
    h, w = input_size
    x = torch.full((1, h, w, 3), 127.5, dtype=torch.float32, device=device)
    try:
        with torch.no_grad():
            out = forward(x)
    except Exception as exc:
        raise ValueError(
            f"input_size: the module refuses a batch of one ({h}, {w}, 3) image "
            f"({type(exc).__name__}: {exc}); pass the input size the model was built for"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1 or not out.is_floating_point():
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"module must return a floating (N, n_classes) tensor of logits, got {shape}")
    if not torch.isfinite(out).all():
        raise ValueError("module returns NaN or infinite logits on a grey image")
    return int(out.shape[1])


def from_torch(module, *, input_size, preprocess: Callable | None = None, class_names=None, device=None,
               batch_size: int | None = None, name: str | None = None) -> Classifier:
    """Wrap a ``torch.nn.Module`` returning logits as a :class:`~limetheory.nets.Classifier`.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a float NCHW batch to logits (N, n_classes). Put in eval mode (in place) and moved
        to ``device``.
    input_size : (H, W) or int
        The image size the module takes. The module is run once on one image here, so a size
        it refuses is reported now, not in the middle of an explanation.
    preprocess : callable or None
        Applied to the (N, H, W, C) float torch batch before the channel axis is moved (torch
        operations, so gradients flow through it), e.g. ``lambda x: (x / 255 - mean) / std``.
        None: the module receives the images' values unchanged.
    class_names : sequence of str or None (default "0", "1", ...).
    device : str, torch.device or None
        Where the module runs (None: where its parameters are, CPU for a module without any).
    batch_size : int or None
        Images per model call (default :data:`DEFAULT_BATCH_SIZE` of the device type).
    name : str or None (default: the module's class name).

    Returns
    -------
    Classifier
        With ``backend="torch"``: ``predict`` (softmax probabilities, float64, computed
        under ``torch.no_grad`` in chunks of ``batch_size``), ``logits`` (one image) and
        ``batch_logits`` (NumPy float64), and
        ``value_and_grad(images, target, output="logit", dtype="float32")`` for integrated
        gradients. ``dtype="float64"`` runs a float64 copy of the module (made once, on first use).
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    size = check_size(input_size, "input_size")
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be callable or None, got {type(preprocess).__name__}")
    dev = _device(torch, module, device)
    bs = DEFAULT_BATCH_SIZE.get(dev.type, 32) if batch_size is None else check_int(batch_size, "batch_size", 1)
    net = module.to(dev).eval()
    prep = (lambda x: x) if preprocess is None else preprocess

    def forward_with(m):
        return lambda x: m(prep(x).permute(0, 3, 1, 2))

    forward = forward_with(net)
    n_classes = _probe(torch, forward, size, dev)
    names = _class_names(class_names, n_classes)
    doubles = {}  # the float64 copy, made on first use

    def forward_in(dtype):
        if dtype == "float32":
            return forward, torch.float32
        if "f64" not in doubles:
            doubles["f64"] = forward_with(copy.deepcopy(net).to(torch.float64))
        return doubles["f64"], torch.float64

    def batch_logits(images) -> np.ndarray:
        """Logits (N, n_classes), float64, of images (N, H, W, C)."""
        x = check_images(images, size)
        out = np.empty((x.shape[0], n_classes))
        with torch.no_grad():
            for start in range(0, x.shape[0], bs):
                chunk = torch.from_numpy(x[start:start + bs]).to(dev)
                out[start:start + chunk.shape[0]] = forward(chunk).double().cpu().numpy()
        return out

    def predict(images) -> np.ndarray:
        """Softmax probabilities (N, n_classes), float64."""
        z = batch_logits(images)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def logits(image) -> np.ndarray:
        """Logits (n_classes,) of ONE image (H, W, C)."""
        return batch_logits(np.asarray(image)[None])[0]

    def value_and_grad(images, target: int, output: str = "logit", dtype: str = "float32"):
        """Scores ``s_i`` of class ``target`` and ``d s_i / d images_i``, in chunks of ``batch_size``.

        ``s`` is the logit (``output="logit"``) or the softmax probability (``"prob"``); each
        image's score depends on that image only (eval mode), so the gradient of ``sum_i s_i``
        is every image's own gradient.
        """
        check_choice(output, "output", OUTPUTS)
        check_choice(dtype, "dtype", _DTYPES)
        tgt = check_int(target, "target", 0, n_classes - 1)
        fwd, tdtype = forward_in(dtype)
        x = np.asarray(images, dtype=np.float64)
        values, grads = np.empty(x.shape[0]), np.empty(x.shape)
        for start in range(0, x.shape[0], bs):
            chunk = torch.tensor(x[start:start + bs], dtype=tdtype, device=dev, requires_grad=True)
            with torch.enable_grad():
                z = fwd(chunk)
                s = torch.softmax(z, dim=1)[:, tgt] if output == "prob" else z[:, tgt]
                (g,) = torch.autograd.grad(s.sum(), chunk)
            values[start:start + s.shape[0]] = s.detach().double().cpu().numpy()
            grads[start:start + s.shape[0]] = g.double().cpu().numpy()
        return values, grads

    return Classifier(
        name=name if name is not None else type(module).__name__,
        predict=predict,
        logits=logits,
        class_names=names,
        input_size=size,
        batch_logits=batch_logits,
        info={"backend": "torch", "device": str(dev), "module": type(module).__name__},
        batch_size=bs,
        backend="torch",
        value_and_grad=value_and_grad,
    )


def load_torch_factory(spec: str, *, input_size=None, **kwargs) -> Classifier:
    """``"package.module:factory"`` -> the Classifier of the module that ``factory()`` returns.

    ``factory`` is called without arguments and returns a ``torch.nn.Module`` (wrapped by
    :func:`from_torch` with ``input_size`` and ``kwargs``) or a ready
    :class:`~limetheory.nets.Classifier` (returned as is; ``input_size``, when given, must be its own).

    Raises
    ------
    ValueError : a spec that is not ``module:factory``, a module that does not import, no such
        factory, or a module without ``input_size``;  TypeError : the factory returns something else.
    """
    if not isinstance(spec, str):
        raise TypeError(f"model must be 'torch:package.module:factory', got {spec!r}")
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr.isidentifier():
        raise ValueError(f"model must be 'torch:package.module:factory', got 'torch:{spec}'")
    try:
        mod = importlib.import_module(mod_name)
    except Exception as exc:
        raise ValueError(f"model: cannot import {mod_name!r} from 'torch:{spec}' ({type(exc).__name__}: {exc})") from exc
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ValueError(f"model: {mod_name!r} has no callable {attr!r} ('torch:{spec}')")
    obj = factory()
    if isinstance(obj, Classifier):
        if input_size is not None and check_size(input_size, "input_size") != tuple(obj.input_size):
            raise ValueError(f"input_size {input_size!r} differs from the Classifier's own {tuple(obj.input_size)}")
        return obj
    torch = _torch()
    if not isinstance(obj, torch.nn.Module):
        raise TypeError(f"model: 'torch:{spec}' must return a torch.nn.Module or a Classifier, got {type(obj).__name__}")
    if input_size is None:
        raise ValueError(f"input_size is required for the module of 'torch:{spec}' (its image size, e.g. (224, 224))")
    kwargs.setdefault("name", f"torch:{spec}")
    return from_torch(obj, input_size=input_size, **kwargs)
