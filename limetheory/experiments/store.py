"""The experiment store's files: self-verifying unit files and arrays files that read back whole.

A unit file ``units/<NAME>/<label>-<hash12>.csv`` is one header line and a CSV body::

    # limetheory-unit 2 {"columns": [...], "identity": {...}, "rows": R, "sha256": "<hex digest of the body>"}
    <the unit's rows as CSV: a header line, then R rows, full float precision>

The header states what makes the file whole: the SHA-256 of the body's bytes, the number of rows
and the column names; and what the rows are the result of, ``identity`` (the runner's: the
experiment, its version, the unit, the SHA-256 of the settings the unit depends on and the unit
key). :func:`read_unit` accepts a file only when its header parses, the digest of the body equals
the stated one, the parsed body has exactly the stated rows and columns, and (when the reader
states the identity it expects) the file's identity is that one; otherwise it raises
:class:`CorruptUnit` (a truncated, emptied, NUL-filled, altered or headerless file, one from an
older format, or an intact file of another unit copied or renamed over this one). Header and
body are written together by one atomic replace
(:func:`limetheory.files.write_bytes`).
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import write_bytes

__all__ = ["CorruptUnit", "read_arrays_if_whole", "read_unit", "write_unit"]

UNIT_MAGIC = b"# limetheory-unit 2 "


class CorruptUnit(ValueError):
    """A stored file that cannot be read or does not verify; ``path`` names it."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


# =========================================================================== unit files
def write_unit(frame: pd.DataFrame, path, identity: dict | None = None) -> Path:
    """Write a unit's rows with a header stating their SHA-256, row count, columns and ``identity``
    (a JSON-serialisable dict naming what the rows are the result of), in one atomic write."""
    body = frame.to_csv(index=False).encode("utf-8")
    header = {"columns": [str(c) for c in frame.columns], "identity": identity, "rows": int(len(frame)),
              "sha256": hashlib.sha256(body).hexdigest()}
    return write_bytes(path, UNIT_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body)


def read_unit(path, identity: dict | None = None) -> pd.DataFrame:
    """The rows of a unit file written by :func:`write_unit`, verified; :class:`CorruptUnit` otherwise.

    ``identity``: the identity the file must state (as given to :func:`write_unit`); None accepts any.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CorruptUnit(path, f"cannot be read ({exc})") from exc
    if not data.startswith(UNIT_MAGIC):
        raise CorruptUnit(path, "no unit header (empty, overwritten or an older format)")
    line, sep, body = data[len(UNIT_MAGIC):].partition(b"\n")
    try:
        header = json.loads(line)
        rows, columns, digest = int(header["rows"]), list(header["columns"]), str(header["sha256"])
        stated = header["identity"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptUnit(path, "unreadable unit header") from exc
    if identity is not None and _same_json(stated) != _same_json(identity):
        raise CorruptUnit(path, f"is the file of another unit or settings: its header states {_same_json(stated)}, "
                                f"its name is that of {_same_json(identity)}")
    if not sep or hashlib.sha256(body).hexdigest() != digest:
        raise CorruptUnit(path, "content does not match its SHA-256 (truncated or altered)")
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except pd.errors.EmptyDataError:  # a unit that produced no rows and no columns
        frame = pd.DataFrame()
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptUnit(path, f"unparseable rows ({exc})") from exc
    if len(frame) != rows or [str(c) for c in frame.columns] != columns:
        raise CorruptUnit(path, f"{len(frame)} rows / {len(frame.columns)} columns where the header "
                                f"states {rows} / {len(columns)}")
    return frame


def _same_json(obj) -> str:
    """``obj`` as canonical JSON (sorted keys, tuples as lists), to compare identities by value."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def read_arrays_if_whole(path, key_name: str, key: str):
    """The arrays of ``path`` when every member reads back (zip CRC-32 checked) and ``key_name`` holds
    ``key``; ``None`` when the file is missing or stale. Raises :class:`CorruptUnit` when unreadable."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}  # reading every member checks its CRC-32
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise CorruptUnit(path, f"unreadable arrays ({type(exc).__name__}: {exc})") from exc
    if key_name not in arrays or str(arrays[key_name]) != key:
        return None
    return arrays
