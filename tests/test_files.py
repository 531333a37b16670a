"""limetheory.files: atomic writes (old or new content, never a partial file), one permission policy,
markdown tables, and the removal of temporaries left by killed writers only."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from limetheory import files


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_writer_round_trips_and_uses_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as fh:  # what the process's umask gives a file written by hand
        fh.write("x")
    frame = pd.DataFrame({"a": [1, 2], "b": [0.1, 1 / 3]})
    arrays = {"x": np.arange(5.0), "y": np.eye(2, dtype=np.float32)}
    written = [
        files.write_text(tmp_path / "new" / "t.txt", "héllo\n"),
        files.write_bytes(tmp_path / "b.bin", b"\x00\x01"),
        files.write_csv(tmp_path / "f.csv", frame),
        files.write_npz(tmp_path / "c.npz", arrays),
        files.write_npz(tmp_path / "u.npz", arrays, compressed=False),
    ]
    assert (tmp_path / "new" / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "f.csv"), frame)  # full float precision
    for name in ("c.npz", "u.npz"):
        with np.load(tmp_path / name) as z:
            for k, v in arrays.items():
                np.testing.assert_array_equal(z[k], v)
    assert {_mode(p) for p in written} == {_mode(plain)}
    assert not list(tmp_path.rglob(".*.tmp"))


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = files.write_text(tmp_path / "r.md", "old")

    def fail(tmp):
        with open(tmp, "w") as fh:
            fh.write("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.atomic_write(path, fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]


def test_markdown_table_rounds_finite_floats_only():
    frame = pd.DataFrame({"name": ["a", "b"], "n": [3, 40], "x": [1 / 3, float("nan")]})
    assert files.markdown_table(frame) == ("| name | n | x |\n|---|---|---|\n"
                                           "| a | 3 | 0.3333 |\n| b | 40 | nan |\n")


def test_only_temporaries_of_dead_writers_of_this_host_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid, host = int(dead.stdout), files._HOST
    stale = tmp_path / f".r.csv.{host}.{dead_pid}-k2j4x9_q.tmp"
    mine = tmp_path / f".r.csv.{host}.{os.getpid()}-abc.tmp"  # this process: a write under way
    live = tmp_path / f".s.csv.{host}.{os.getppid()}-zz9x.tmp"  # another running process
    other_host = tmp_path / f".t.csv.otherhost.{dead_pid}-aaaa.tmp"
    foreign = tmp_path / ".notes.tmp"
    for p in (stale, mine, live, other_host, foreign):
        p.write_text("partial")
    assert files.remove_stale_temporaries(tmp_path, tmp_path / "missing") == [stale]
    assert all(p.exists() for p in (mine, live, other_host, foreign))
