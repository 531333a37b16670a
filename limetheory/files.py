"""Writing files: every file the package writes goes through here (a leaf: it imports no other module of
the package).

Each writer is atomic: the content goes to a temporary file beside the target, which then replaces
the target with one ``os.replace``. A reader sees either the old file or the complete new one, never
a partial file; an exception removes the temporary. One permission policy: a written file gets the
mode a plain ``open(path, "w")`` would give it, ``0o666 & ~umask`` (``mkstemp``'s private 0600 would
hide results and pages from the people they are for).

Temporary files are named ``.<target>.<host>.<pid>-<random>.tmp``: a kill leaves one behind, and
:func:`remove_stale_temporaries` removes those of this host whose process no longer runs, and
nothing else.
"""
from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["atomic_write", "markdown_table", "remove_stale_temporaries", "write_bytes", "write_csv", "write_npz",
           "write_text"]

_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:40] or "host"
_UMASK = os.umask(0o022)
os.umask(_UMASK)
#: The mode of every file written here: what ``open(path, "w")`` gives under the process's umask.
FILE_MODE = 0o666 & ~_UMASK
_TMP = re.compile(r"^\..*\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")


def atomic_write(path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then ``os.replace`` it onto ``path``.

    The parent folder is created when missing; the file gets :data:`FILE_MODE`. An exception
    removes the temporary; a kill leaves it, named after this host and process, for
    :func:`remove_stale_temporaries`. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write(path, write)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_csv(path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as CSV (no index, full float precision) to ``path`` atomically."""
    return write_bytes(path, frame.to_csv(index=False).encode("utf-8"))


def write_npz(path, arrays: dict, *, compressed: bool = True) -> Path:
    """Write ``arrays`` as an ``.npz`` (compressed unless ``compressed=False``) to ``path`` atomically.

    Each member carries zip's CRC-32, so a reader that reads every member detects a damaged file.
    """
    save = np.savez_compressed if compressed else np.savez

    def write(tmp):
        with open(tmp, "wb") as fh:
            save(fh, **arrays)

    return atomic_write(path, write)


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return f"{value:.4g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (finite floats to 4 significant digits)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale_temporaries(*folders) -> list:
    """Remove the temporaries of :func:`atomic_write` in ``folders`` whose writer (this host, that pid) is gone.

    Temporaries of running processes (a concurrent run on the same folder), of other hosts and
    files not named by :func:`atomic_write` are left alone. Returns the paths removed.
    """
    removed = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for p in folder.glob(".*.tmp"):
            m = _TMP.match(p.name)
            if m and m["host"] == _HOST and int(m["pid"]) != os.getpid() and _process_gone(int(m["pid"])):
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:  # another run removed it first
                    pass
    return removed
