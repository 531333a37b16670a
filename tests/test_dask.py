"""Experiment units as Dask tasks (limetheory.experiments._executors): the same rows as in process,
the context built once per worker, failures reported while the others go on, a killed worker's
units moved elsewhere."""
import textwrap
import uuid

import pandas as pd
import pytest

pytest.importorskip("distributed")

from limetheory.experiments._executors import InProcess, executor  # noqa: E402

FAKE = '''
import os, time
from pathlib import Path
import numpy as np
import pandas as pd

NAME = "fake"
MARKS = Path(os.environ["LT_FAKE_MARKS"])

def settings(quick):
    return {"n": 6, "sleep": 0.0}

def units(s):
    return [{"i": i, "seed": 10 + i} for i in range(s["n"])]

def setup(s):
    (MARKS / f"setup-{os.getpid()}-{time.monotonic_ns()}").touch()
    return {"scale": np.pi}

def run_unit(unit, ctx):
    if unit["i"] == 4 and os.environ.get("LT_FAKE_FAIL"):
        raise RuntimeError("unit 4 fails")
    kill = MARKS / "kill-once"
    if unit["i"] == 2 and kill.exists():
        kill.unlink()
        os._exit(1)  # the worker process dies mid-unit
    (MARKS / f"unit-{unit['i']}-{time.monotonic_ns()}").touch()
    rng = np.random.default_rng(unit["seed"])
    x = rng.normal(size=50) @ rng.normal(size=(50, 3)) * ctx["scale"]
    return pd.DataFrame({"i": unit["i"], "k": range(3), "x": x})
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    name = f"lt_fake_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(FAKE))
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("LT_FAKE_MARKS", str(marks))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = __import__(name)
    return name, mod, marks


def _collect(outcomes):
    frames, errors = {}, {}
    for o in outcomes:
        if o.error is None:
            frames[o.index] = o.frame
        else:
            errors[o.index] = o.error
    return frames, errors


def _in_process(name, mod):
    s = mod.settings(True)
    return _collect(InProcess().run(name, s, mod.units(s), lambda: mod.setup(s)))


def test_same_rows_on_two_workers_and_setup_once_per_worker(fake):
    name, mod, marks = fake
    expected, _ = _in_process(name, mod)
    assert len(list(marks.glob("setup-*"))) == 1
    s = mod.settings(True)
    with executor(workers=2) as ex:
        frames, errors = _collect(ex.run(name, s, mod.units(s)))
    assert not errors and sorted(frames) == list(range(6))
    for i in frames:
        pd.testing.assert_frame_equal(frames[i], expected[i], check_exact=True)
    setups = list(marks.glob("setup-*"))
    assert 2 <= len(setups) <= 3  # once in process, at most once on each of the two workers
    assert len(list(marks.glob("unit-*"))) == 12  # each unit once in process, once on Dask


def test_a_failing_unit_is_reported_and_the_others_go_on(fake, monkeypatch):
    name, mod, marks = fake
    monkeypatch.setenv("LT_FAKE_FAIL", "1")
    s = mod.settings(True)
    with executor(workers=2) as ex:
        frames, errors = _collect(ex.run(name, s, mod.units(s)))
    assert sorted(frames) == [0, 1, 2, 3, 5]
    assert list(errors) == [4] and "RuntimeError: unit 4 fails" in errors[4]
    in_frames, in_errors = _in_process(name, mod)
    assert sorted(in_frames) == sorted(frames) and in_errors == errors


def test_killed_worker_units_move_elsewhere(fake):
    name, mod, marks = fake
    expected, _ = _in_process(name, mod)
    (marks / "kill-once").touch()
    s = mod.settings(True)
    with executor(workers=2) as ex:
        frames, errors = _collect(ex.run(name, s, mod.units(s)))
    assert not (marks / "kill-once").exists()  # a worker did die
    assert not errors and sorted(frames) == list(range(6))
    for i in frames:
        pd.testing.assert_frame_equal(frames[i], expected[i], check_exact=True)


def test_executor_arguments():
    with pytest.raises(ValueError, match="workers or scheduler"):
        with executor(workers=2, scheduler="tcp://127.0.0.1:1"):
            pass
    with executor() as ex:
        assert isinstance(ex, InProcess)
