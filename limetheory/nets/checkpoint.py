"""Read PyTorch checkpoints (state dicts of tensors) without PyTorch, and cache them as .npz.

A ``.pth`` file is a pickle plus raw storage bytes. Unpickling an arbitrary pickle runs
arbitrary code, so this reader uses a *restricted* unpickler: ``find_class`` resolves only the
few names a state dict of plain tensors needs, each mapped to a NumPy constructor written here,

- ``torch._utils._rebuild_tensor_v2``  -> a strided view into a storage (copied to an ndarray),
- ``torch.<Dtype>Storage``             -> a marker for the storage's dtype,
- ``collections.OrderedDict``          -> ``collections.OrderedDict``,

and every other global raises :class:`pickle.UnpicklingError`. ``persistent_load`` accepts
only ``('storage', <storage marker>, key, location, numel[, view_metadata=None])`` records
and reads the raw bytes itself: from ``<archive>/data/<key>`` in the zip format (PyTorch >=
1.6) or, in the legacy format (what ``efficientnet-lite0-57934424.pth`` uses), from the
``int64 numel`` + bytes records that follow the pickles, in the order of the key list.

The top-level object must be a mapping from ``str`` to tensors; anything else raises.

:func:`load_state_dict_cached` converts once to ``<cache>/<stem>-<sha256[:16]>.npz`` (cache
dir: ``$LIMETHEORY_CACHE``, else ``$XDG_CACHE_HOME/limetheory``, else ``~/.cache/limetheory``)
and reads that ``.npz`` (``allow_pickle=False``) afterwards.
"""
from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import write_npz

__all__ = [
    "CheckpointError",
    "read_state_dict",
    "load_state_dict_cached",
    "cache_dir",
]

#: First pickle of a legacy (pre-zip) torch.save file, and the protocol version after it.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

#: torch storage class name -> NumPy dtype (byte order applied when reading).
_STORAGE_DTYPES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class CheckpointError(pickle.UnpicklingError):
    """A checkpoint that is malformed or asks for anything but plain tensors."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for ``torch.<Name>Storage``: only its dtype matters."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_STORAGE_DTYPES[self.name])


@dataclass
class _Storage:
    """A flat typed buffer, filled when its bytes are read (legacy files read them last)."""

    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    """What ``_rebuild_tensor_v2`` returns: a strided window on a storage, materialised later."""

    storage: _Storage
    offset: int
    size: tuple
    stride: tuple

    def materialize(self) -> np.ndarray:
        """Copy ``storage[offset + sum_i idx_i * stride_i]`` into a C-contiguous array."""
        flat = self.storage.data
        if flat is None:
            raise CheckpointError("tensor refers to a storage whose bytes were never read")
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=flat.dtype)
        last = self.offset + sum((n - 1) * st for n, st in zip(self.size, self.stride))
        if self.offset < 0 or last >= flat.size or any(st < 0 for st in self.stride):
            raise CheckpointError("tensor view lies outside its storage")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(st * item for st in self.stride),
            writeable=False,
        )
        return np.array(view, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """NumPy stand-in for ``torch._utils._rebuild_tensor_v2`` (hooks and grad flags ignored)."""
    if not isinstance(storage, _Storage):
        raise CheckpointError("_rebuild_tensor_v2 expects a storage as first argument")
    ints = (storage_offset, *size, *stride)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
        raise CheckpointError("tensor offset, size and stride must be integers")
    if len(size) != len(stride):
        raise CheckpointError("tensor size and stride differ in length")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


#: (module, name) -> object: everything the restricted unpickler will ever resolve.
_ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`_ALLOWED_GLOBALS` and storage persistent ids."""

    def __init__(self, file, storages: dict | None = None, allow_globals: bool = True):
        super().__init__(file)
        self._storages = {} if storages is None else storages
        self._allow_globals = allow_globals

    def find_class(self, module, name):
        if self._allow_globals and (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise CheckpointError(f"checkpoint refers to {module}.{name}, which is not allowed")

    def persistent_load(self, pid):
        if not self._allow_globals:
            raise CheckpointError("unexpected persistent id")
        if not (isinstance(pid, tuple) and len(pid) in (5, 6)):
            raise CheckpointError(f"unsupported persistent id {pid!r}")
        typename, storage_type, key, _location, numel = pid[:5]
        if isinstance(typename, bytes):
            typename = typename.decode("ascii")
        if typename != "storage" or not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unsupported persistent id {pid!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise CheckpointError("storage views (view_metadata) are not supported")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"malformed storage record {pid!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = self._storages[key] = _Storage(storage_type.dtype, numel)
        elif storage.dtype != storage_type.dtype:
            raise CheckpointError(f"storage {key} is used with two dtypes")
        return storage


def _check_state_dict(obj) -> dict:
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint holds a {type(obj).__name__}, expected a dict of tensors")
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, _TensorRef):
            raise CheckpointError(f"checkpoint entry {k!r} is not a tensor")
    return obj


def _read_zip(fileobj) -> dict:
    with zipfile.ZipFile(fileobj) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise CheckpointError("zip checkpoint must contain exactly one <archive>/data.pkl")
        prefix = pkls[0][: -len("data.pkl")]
        order = "<"
        if prefix + "byteorder" in zf.namelist():
            order = "<" if zf.read(prefix + "byteorder").strip() == b"little" else ">"
        storages: dict = {}
        obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkls[0])), storages).load()
        for key, st in storages.items():
            raw = zf.read(f"{prefix}data/{key}")
            nbytes = st.numel * st.dtype.itemsize
            if len(raw) < nbytes:
                raise CheckpointError(f"storage {key} is truncated")
            st.data = np.frombuffer(raw[:nbytes], dtype=st.dtype.newbyteorder(order))
    return obj


def _read_legacy(f) -> dict:
    plain = lambda: _RestrictedUnpickler(f, allow_globals=False).load()  # noqa: E731
    if plain() != _LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (bad magic number)")
    if plain() != _LEGACY_PROTOCOL:
        raise CheckpointError("unsupported legacy checkpoint protocol")
    sys_info = plain()
    order = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"
    storages: dict = {}
    obj = _RestrictedUnpickler(f, storages).load()
    keys = plain()
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise CheckpointError("storage key list does not match the tensors")
    for key in keys:
        st = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise CheckpointError(f"storage {key} is truncated")
        (numel,) = struct.unpack(order + "q", header)
        if numel != st.numel:
            raise CheckpointError(f"storage {key} has {numel} elements, expected {st.numel}")
        nbytes = numel * st.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"storage {key} is truncated")
        st.data = np.frombuffer(raw, dtype=st.dtype.newbyteorder(order))
    return obj


def read_state_dict(path) -> dict:
    """Read a PyTorch state dict of tensors into ``{name: np.ndarray}`` without PyTorch.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``torch.save(state_dict)`` in the zip or the legacy format.

    Returns
    -------
    dict
        Parameter name -> native-byte-order, C-contiguous ndarray, in file order.

    Raises
    ------
    CheckpointError
        If the file asks for any global other than the tensor-rebuilding names, holds anything
        but a ``str -> tensor`` mapping, or is malformed/truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be an existing file, got {str(path)!r}")
    with open(path, "rb") as f:
        if zipfile.is_zipfile(f):
            f.seek(0)
            obj = _read_zip(f)
        else:
            f.seek(0)
            obj = _read_legacy(f)
    state = _check_state_dict(obj)
    return {k: v.materialize().astype(v.storage.dtype, copy=False) for k, v in state.items()}


def cache_dir() -> Path:
    """The user cache directory: ``$LIMETHEORY_CACHE``, ``$XDG_CACHE_HOME/limetheory`` or
    ``~/.cache/limetheory``."""
    env = os.environ.get("LIMETHEORY_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "limetheory"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state_dict_cached(path, cache: str | os.PathLike | None = None) -> dict:
    """:func:`read_state_dict`, converted once to a ``.npz`` in the cache and read from there.

    The cache file is ``<cache>/<stem>-<sha256(file)[:16]>.npz``, so a changed checkpoint is
    converted again. It is written atomically (temporary file + rename) and read with
    ``allow_pickle=False``. A cache that cannot be written is skipped silently.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be an existing file, got {str(path)!r}")
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    target = folder / f"{path.stem}-{_sha256(path)[:16]}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            pass  # corrupt cache: convert again
    state = read_state_dict(path)
    try:
        write_npz(target, state, compressed=False)
    except OSError:
        pass  # a cache that cannot be written: the converted tensors are still returned
    return state
