"""PyTorch modules as :class:`~limetheory.nets.Classifier`: LIME through ``predict``, integrated
gradients through ``torch.autograd``.

The toolkit's images are NumPy arrays (N, H, W, C) (RGB in [0, 255] for photos). A module gets

    module( NCHW( preprocess( torch.as_tensor(images) ) ) )

where ``preprocess`` (default: none, the values pass unchanged) is a function of the
(N, H, W, C) torch batch written with torch operations, so that gradients flow through it, and
``NCHW`` moves the channel axis second. The batch is cast to the dtype and device of the
module's parameters at every call (a module moved with ``.double()``, ``.half()`` or ``.to(device)``
after wrapping keeps working); the module is put in eval mode (batch norm with its running
statistics, dropout off).

Logits or probabilities. A module ending in ``torch.nn.Softmax`` inside a ``Sequential`` is run
without it (its logits are reached); any other module whose rows on the probe images are
non-negative and sum to 1 returns probabilities and is used as such (``returns="prob"``: its
probability is explained, its logits cannot be). torch is imported only when an adapter is
built: the core install does not need it.
"""
from __future__ import annotations

import copy
import importlib
from typing import Callable

import numpy as np

from ..validation import check_choice, check_size
from .classifier import OUTPUTS, Classifier, from_function

__all__ = ["from_torch", "load_torch_factory", "scaling"]

_DTYPES = ("float32", "float64")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise ImportError("PyTorch models need torch: pip install 'limetheory[torch]'") from exc
    return torch


def _placement(torch, module):
    """(dtype, device) of the module's first floating parameter or buffer now (float32 on the CPU if none)."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype, t.device
    return torch.float32, torch.device("cpu")


def _without_final_softmax(torch, module):
    """``(module, True)`` with a ``Sequential``'s last ``Softmax`` (over the class axis) removed, else
    ``(module, False)``."""
    if isinstance(module, torch.nn.Sequential) and len(module) > 1 and isinstance(module[-1], torch.nn.Softmax) \
            and module[-1].dim in (1, -1):
        return module[:-1], True
    return module, False


def scaling(scale: float = 1.0, mean=None, std=None) -> Callable:
    """``preprocess`` for :func:`from_torch` as torchvision's ``ToTensor`` then ``Normalize`` do it:
    ``(x * scale - mean) / std`` per channel (e.g. ``scale=1/255`` with ImageNet's mean and std)."""
    torch = _torch()
    mean_t = torch.as_tensor(0.0 if mean is None else mean, dtype=torch.float64)
    std_t = torch.as_tensor(1.0 if std is None else std, dtype=torch.float64)
    if (std_t <= 0).any():
        raise ValueError(f"std must be > 0, got {std!r}")

    def preprocess(x):
        return (x * scale - mean_t.to(x.dtype).to(x.device)) / std_t.to(x.dtype).to(x.device)

    return preprocess


def from_torch(module, *, input_size, preprocess: Callable | None = None, class_names=None, device=None,
               batch_size: int | None = None, name: str | None = None, output: str = "prob",
               input_range=(0, 255)) -> Classifier:
    """Wrap a ``torch.nn.Module`` returning class scores as a :class:`~limetheory.nets.Classifier`.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a float NCHW batch to logits or probabilities (N, n_classes). Put in eval mode (in
        place); moved to ``device`` when one is given.
    input_size : (H, W) or int
        The image size the module takes. The module is run here on three images (one row
        each is required), so a size it refuses is reported now, not in an explanation.
    preprocess : callable or None
        Applied to the (N, H, W, C) float torch batch before the channel axis is moved (torch
        operations, so gradients flow through it), e.g. :func:`scaling` ``(1 / 255, mean, std)``.
        None: the module receives the images' values unchanged.
    class_names : sequence of str or None (default "0", "1", ...).
    device : str, torch.device or None
        Where the module runs (None: where its parameters are at each call).
    batch_size : int or None
        Images per model call (default :func:`limetheory.nets.default_batch_size`).
    name : str or None (default: the module's class name).
    output : {"prob", "logit"}, default "prob";  input_range : (0, 255) or (0, 1)
        See :func:`limetheory.nets.from_function`.

    Returns
    -------
    Classifier with ``backend="torch"``: ``predict`` (under ``torch.no_grad``, in chunks of
    ``batch_size``, float64) and ``value_and_grad(images, target, output, dtype)`` for
    integrated gradients (``dtype="float64"`` or ``"float32"`` runs a copy of the module in that
    dtype when its parameters are in another, remade when they change; ``None``: the module as it is).
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    size = check_size(input_size, "input_size")
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be callable or None, got {type(preprocess).__name__}")
    if device is not None:
        try:
            module = module.to(torch.device(device))
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}") from exc
    module.eval()
    body, stripped = _without_final_softmax(torch, module)
    prep = (lambda x: x) if preprocess is None else preprocess
    copies = {}  # dtype -> (state key, copy of the module in that dtype) for integrated gradients

    def run(m, x):
        """``m``'s scores of a NumPy or torch batch, cast to ``m``'s dtype and device now."""
        dtype, dev = _placement(torch, m)
        xt = torch.as_tensor(x).to(device=dev, dtype=dtype)
        return m(prep(xt).permute(0, 3, 1, 2))

    def batch_scores(images) -> np.ndarray:
        with torch.no_grad():
            return run(body, np.asarray(images)).double().cpu().numpy()

    def in_dtype(dtype):
        """The module in ``dtype`` (itself when it is already; else a copy, remade when its values change)."""
        if dtype is None or _placement(torch, body)[0] == getattr(torch, dtype):
            return body
        if dtype not in copies or copies[dtype][0] != _state_key(body):
            copies[dtype] = (_state_key(body), copy.deepcopy(body).to(getattr(torch, dtype)))
        return copies[dtype][1]

    def value_and_grad(images, target: int, output: str = "prob", dtype: str | None = None):
        """Scores ``s_i`` of class ``target`` (``output``) and ``d s_i / d images_i``, ``batch_size`` at a time.

        Each image's score depends on that image only (eval mode), so the gradient of
        ``sum_i s_i`` is every image's own gradient.
        """
        check_choice(output, "output", OUTPUTS)
        check_choice(dtype, "dtype", _DTYPES + (None,))
        m = in_dtype(dtype)
        x = np.asarray(images, dtype=np.float64)
        values, grads = np.empty(x.shape[0]), np.empty(x.shape)
        bs = clf.batch_size
        for start in range(0, x.shape[0], bs):
            mdtype, dev = _placement(torch, m)
            chunk = torch.tensor(x[start:start + bs], dtype=mdtype, device=dev, requires_grad=True)
            with torch.enable_grad():
                z = run(m, chunk)
                if clf.returns == "logit" and output == "prob":
                    z = torch.softmax(z.to(torch.float64 if mdtype == torch.float64 else torch.float32), dim=1)
                s = z[:, target]
                (g,) = torch.autograd.grad(s.sum(), chunk)
            values[start:start + s.shape[0]] = s.detach().double().cpu().numpy()
            grads[start:start + s.shape[0]] = g.double().cpu().numpy()
        return values, grads

    clf = from_function(
        batch_scores, name=name if name is not None else type(module).__name__, class_names=class_names,
        input_size=size, batch_size=batch_size, backend="torch", value_and_grad=value_and_grad,
        output=output, input_range=input_range,
        info={"backend": "torch", "module": type(module).__name__, "final_softmax_removed": stripped},
    )
    return clf


def _state_key(module) -> tuple:
    """What identifies a module's parameter values now (a float64 copy is remade when they change)."""
    return tuple((p.data_ptr(), p._version) for p in module.parameters())


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
