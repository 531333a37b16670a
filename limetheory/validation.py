"""The one place for argument checks, in the manner of scikit-learn's ``utils.validation``.

Rules, the same for every public function of the toolkit:

* bools are never numbers (``True`` is refused where an int or a real is expected);
* a wrong type raises ``TypeError``, a wrong value ``ValueError``;
* every message names the argument and says what was expected.

Validate at the boundary, once; inside, trust the data. A public function declares its checks
where it is defined, with :func:`validate_params`; a call made while another declared function runs
(the library calling itself) skips them.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import numbers
import operator
import warnings
from typing import Callable, Iterable

import numpy as np

__all__ = [
    "available_memory",
    "as_generator",
    "check_binary_z",
    "check_memory",
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_array",
    "check_kernel_width",
    "check_real",
    "check_ridge",
    "check_seed",
    "check_tolerance",
    "check_vector",
    "check_size",
    "renamed_keywords",
    "validate_params",
]


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int in [minimum, maximum].

    Raises
    ------
    TypeError
        If ``value`` is not an integer (bools and floats such as 10.0 included).
    ValueError
        If it lies outside the bounds.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """``value`` as a Python float within the given bounds (closed unless ``*_open``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools and complex numbers included).
    ValueError
        If it is NaN, infinite (unless ``finite=False``) or outside the bounds.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    x = float(value)
    if np.isnan(x) or (finite and not np.isfinite(x)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return x


def check_kernel_width(value, name: str = "kernel_width") -> float:
    """The kernel width nu of pi(z) = exp(-d_cos(1, z)^2 / (2 nu^2)): a finite real number > 0."""
    return check_real(value, name, low=0.0, low_open=True)


def check_ridge(value, name: str = "ridge") -> float:
    """The ridge penalty lambda of LIME's surrogate: a finite real number >= 0 (0: weighted least squares)."""
    return check_real(value, name, low=0.0)


def check_tolerance(value, name: str = "tolerance") -> float:
    """An indifference zone as a fraction of a largest coefficient: a real number with 0 <= value < 1."""
    return check_real(value, name, low=0.0, high=1.0, high_open=True)


def check_int_array(value, name: str, minimum: int, maximum: int) -> np.ndarray:
    """An integer or an array of integers in [minimum, maximum], as an int64 array (0-d for a scalar).

    Floats with integral values (2.0) are accepted; bools, other floats and complex numbers are a
    TypeError, values out of bounds a ValueError.
    """
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if not (arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must be an integer or an array of integers, got {value!r}")
    if arr.size and (np.any(arr < minimum) or np.any(arr > maximum)):
        raise ValueError(f"{name} must lie in {minimum}..{maximum}, got {value!r}")
    return arr.astype(np.int64)


def renamed_keywords(**old_to_new: str) -> Callable:
    """Decorator: keep old keyword names of a function working, with a ``DeprecationWarning``.

    ``@renamed_keywords(nu="kernel_width")`` lets ``f(..., nu=0.3)`` mean ``f(..., kernel_width=0.3)``;
    passing both names is a TypeError.
    """

    def wrap(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= and its new name {new}=")
                    warnings.warn(f"{func.__name__}(): the keyword {old}= is deprecated; use {new}=",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return inner

    return wrap


#: True while a function declared with :func:`validate_params` runs (in this thread or task).
_VALIDATED = contextvars.ContextVar("limetheory_validated", default=False)


def validate_params(_together: Callable | None = None, /, **checks: Callable) -> Callable:
    """Decorator: the checks of a public function's arguments, declared where it is defined.

    ``@validate_params(kernel_width=check_kernel_width, d=check_d)`` calls
    ``check(value, name)`` on each named argument that the call binds (defaults included), passes
    the value it returns on to the function, and then ``_together(arguments)`` (optional) on the
    dict of all bound arguments, for checks that tie several together (it returns the arguments it
    changes). The declared checks stay readable as the function's ``parameter_checks``. Checks run at the public
    boundary only: a call made while another declared function runs (the library calling itself
    with values it has already checked) skips them, so each concept is checked once per call of
    the public API. Each check raises the TypeError or ValueError that names the argument.
    """

    def wrap(func):
        signature = inspect.signature(func)
        unknown = set(checks) - set(signature.parameters)
        if unknown:
            raise TypeError(f"validate_params: {func.__name__} has no argument {', '.join(sorted(unknown))}")

        @functools.wraps(func)
        def inner(*args, **kwargs):
            if _VALIDATED.get():
                return func(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, check in inner.parameter_checks.items():
                bound.arguments[name] = check(bound.arguments[name], name)
            if _together is not None:
                bound.arguments.update(_together(dict(bound.arguments)))
            token = _VALIDATED.set(True)
            try:
                return func(*bound.args, **bound.kwargs)
            finally:
                _VALIDATED.reset(token)

        inner.parameter_checks = dict(checks)
        return inner

    return wrap


def check_choice(value, name: str, choices: Iterable[str]):
    """``value`` if it is one of ``choices``; ValueError (TypeError for a non-hashable) otherwise."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError as exc:
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}") from exc
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (NumPy bools included); TypeError otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_seed(seed, name: str = "seed"):
    """A seed as NumPy accepts it, checked: None, an int in [0, 2**64), a non-empty sequence of such
    ints (entropy for ``numpy.random.SeedSequence``, e.g. ``[seed, run]``), or a Generator / RandomState.

    Returns the value unchanged (ints as Python ints, a sequence as a list).
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if isinstance(seed, (list, tuple)) and seed:
        return [check_int(s, f"{name}[{i}]", 0, 2**64 - 1) for i, s in enumerate(seed)]
    return check_int(seed, name, 0, 2**64 - 1)


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from None (fresh entropy), an int >= 0 or a Generator (returned as is).

    A ``RandomState`` is refused with a TypeError: its stream is lime's (``limetheory.compat``), and
    turning it into a Generator silently would make results depend on which one was passed.
    """
    seed = check_seed(seed, name)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        raise TypeError(f"{name} must be an int, None or a numpy Generator; use limetheory.compat for RandomState")
    return np.random.default_rng(seed)


def check_vector(value, name: str, length: int) -> np.ndarray:
    """``value`` as a finite float64 array of shape (length,).

    Raises
    ------
    TypeError
        If ``value`` does not hold real numbers (bools included).
    ValueError
        If its shape is not (length,) or it holds NaN or infinite values.
    """
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if arr.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(arr)))} NaN or infinite values")
    return arr


def check_size(value, name: str) -> tuple:
    """An image size ``(height, width)`` as a tuple of two ints >= 1 (an int n means (n, n))."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name} must be (height, width), got {value!r}")
        return (check_int(value[0], f"{name}[0]", 1), check_int(value[1], f"{name}[1]", 1))
    n = check_int(value, name, 1)
    return (n, n)


def check_binary_z(z, d: int, name: str = "z") -> np.ndarray:
    """``z`` as a non-empty (m, d) array whose entries are all 0 or 1 (bools included).

    Raises
    ------
    TypeError
        If it does not hold real numbers.
    ValueError
        If its shape is not (m, d) with m >= 1, or a value is neither 0 nor 1 (2 or 0.5 is no on/off
        state of a superpixel).
    """
    arr = np.asarray(z)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of 0/1, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != d or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (m, {d}) array of 0/1, got shape {arr.shape}")
    if arr.dtype.kind != "b" and not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0 and 1 (superpixel hidden or kept), got values "
                         f"{np.unique(arr[(arr != 0) & (arr != 1)])[:3].tolist()}")
    return arr


def _cgroup_room() -> float:
    """Bytes this process's cgroup may still allocate (cgroup v2 or v1); inf where there is no limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge v1 number: no limit
            return float(max(0, int(limit) - usage))
        return float("inf")
    return float("inf")


def _address_space_room() -> float:
    """Bytes of address space left under ``ulimit -v`` (RLIMIT_AS); inf where there is no limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return float("inf")
    if soft == resource.RLIM_INFINITY:
        return float("inf")
    import psutil

    return float(max(0, soft - psutil.Process().memory_info().vms))


def available_memory() -> int:
    """Bytes this process can still allocate: the least of the machine's available memory, the room
    left under the process's address-space limit (``ulimit -v``) and under its cgroup's memory limit."""
    import psutil

    return int(min(psutil.virtual_memory().available, _address_space_room(), _cgroup_room()))


def check_memory(need: int, what: str, available: int | None = None, share: float = 0.8) -> None:
    """ValueError starting with ``what`` unless ``need`` bytes are at most ``share`` of the memory this
    process can still allocate (default :func:`available_memory`), checked before the work starts."""
    available = available_memory() if available is None else available
    if need > share * available:
        raise ValueError(f"{what} needs about {need / 2**30:.3g} GiB, more than {share:.0%} of the "
                         f"{available / 2**30:.3g} GiB this process can still allocate")
