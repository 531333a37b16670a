"""Experiment units as Dask tasks (limetheory.experiments.executors, `reproduce --workers/--scheduler`):
the same stored results as in process bit for bit, the context built once per worker, failures
reported while the others go on, a killed worker's units moved elsewhere, a killed client resumed."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from oracles import require

require("distributed")

from distributed import LocalCluster  # noqa: E402

from limetheory import experiments  # noqa: E402
from limetheory.cli import main  # noqa: E402
from limetheory.experiments import UnitsFailed, reproduce  # noqa: E402
from limetheory.experiments.executors import InProcess, executor  # noqa: E402

FAKE = '''
import os, time
from pathlib import Path
import numpy as np
import pandas as pd

NAME = "fake"
TITLE = "fake experiment"
VERSION = 1
MARKS = Path(MARKS_FOLDER)

def settings(quick):
    return {"n": 6}

def units(s):
    return [{"i": i, "seed": 10 + i} for i in range(s["n"])]

def setup(s):
    (MARKS / f"setup-{os.getpid()}-{time.monotonic_ns()}").touch()
    return {"scale": np.pi}

def run_unit(unit, ctx):
    if unit["i"] == 4 and (MARKS / "fail-4").exists():
        raise RuntimeError("unit 4 fails")
    kill = MARKS / "kill-once"
    if unit["i"] == 2 and kill.exists():
        kill.unlink()
        os._exit(1)  # the worker process dies mid-unit
    if (MARKS / "slow").exists():
        time.sleep(0.5)
    (MARKS / f"unit-{unit['i']}-{time.monotonic_ns()}").touch()
    rng = np.random.default_rng(unit["seed"])
    x = rng.normal(size=50) @ rng.normal(size=(50, 3)) * ctx["scale"]
    return pd.DataFrame({"i": unit["i"], "k": range(3), "x": x})

def tables(frame, s):
    return {"summary": frame.groupby("i", as_index=False)["x"].sum()}
'''


@pytest.fixture(scope="module")
def cluster():
    """One local cluster of 2 single-threaded worker processes for the tests that share it."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as c:
        yield c.scheduler_address


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fresh fake experiment registered as "fake"; ``marks`` records setups and computed units."""
    name = f"lt_fake_{uuid.uuid4().hex[:8]}"
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / f"{name}.py").write_text(f"MARKS_FOLDER = {str(marks)!r}\n" + textwrap.dedent(FAKE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(experiments.REGISTRY, "fake", (name, ()))
    return name, __import__(name), marks


def _units_computed(marks):
    return sorted(int(p.name.split("-")[1]) for p in marks.glob("unit-*"))


def _collect(outcomes):
    frames, errors = {}, {}
    for o in outcomes:
        (frames if o.error is None else errors)[o.index] = o.frame if o.error is None else o.error
    return frames, errors


def _results(out):
    return {p.name: p.read_bytes() for p in sorted((out / "results").glob("*.csv"))}


def test_executor_rows_equal_in_process_rows_and_setup_once_per_worker(fake, cluster):
    name, mod, marks = fake
    s = mod.settings(True)
    with threadpool_limits(limits=1):  # as on the workers: one BLAS thread, the same blocking of products
        expected, _ = _collect(InProcess().run(name, s, mod.units(s), lambda: mod.setup(s)))
    with executor(scheduler=cluster) as ex:
        frames, errors = _collect(ex.run(name, s, mod.units(s)))
    assert not errors and sorted(frames) == list(range(6))
    for i in frames:
        pd.testing.assert_frame_equal(frames[i], expected[i], check_exact=True)
    assert 2 <= len(list(marks.glob("setup-*"))) <= 3  # once in process, at most once per worker
    assert _units_computed(marks) == sorted(2 * list(range(6)))


def test_reproduce_on_dask_stores_the_in_process_results_bit_for_bit(fake, cluster, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    reproduce(["fake"], local, quick=True, progress=False, figures=False)
    reproduce(["fake"], remote, quick=True, progress=False, figures=False, scheduler=cluster)
    assert _results(local) == _results(remote) and len(_results(local)) == 2
    units = lambda out: {p.name: p.read_bytes() for p in (out / "units" / "fake").iterdir()}  # noqa: E731
    assert units(local) == units(remote)


def test_real_experiment_on_two_workers_equals_in_process(tmp_path):
    """The `--workers 2` command line on a real quick experiment: the same files, byte for byte."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main(["reproduce", "--quick", "--only", "shape_detector", "--out", str(local), "--no-progress",
                 "--no-figures"]) == 0
    assert main(["reproduce", "--quick", "--only", "shape_detector", "--out", str(remote), "--no-progress",
                 "--no-figures", "--workers", "2"]) == 0
    assert _results(local) == _results(remote) and _results(local)


def test_a_failing_unit_is_reported_the_others_stored_and_the_rerun_computes_only_it(fake, cluster, tmp_path):
    name, mod, marks = fake
    out = tmp_path / "out"
    (marks / "fail-4").touch()
    with pytest.raises(UnitsFailed, match=r"1 unit\(s\) of fake failed.*RuntimeError: unit 4 fails") as info:
        reproduce(["fake"], out, quick=True, progress=False, figures=False, scheduler=cluster)
    assert list(info.value.errors.values()) == ["RuntimeError: unit 4 fails"]
    assert _units_computed(marks) == [0, 1, 2, 3, 5]
    assert len(list((out / "units" / "fake").glob("*.csv"))) == 5
    assert not (out / "results").exists() or not list((out / "results").glob("fake*.csv"))
    (marks / "fail-4").unlink()
    reproduce(["fake"], out, quick=True, progress=False, figures=False, scheduler=cluster)
    assert _units_computed(marks) == [0, 1, 2, 3, 4, 5]  # only unit 4 the second time
    clean = tmp_path / "clean"
    reproduce(["fake"], clean, quick=True, progress=False, figures=False)
    assert _results(out) == _results(clean)


def test_killed_worker_units_move_elsewhere(fake, cluster, tmp_path):
    name, mod, marks = fake
    (marks / "kill-once").touch()
    out, clean = tmp_path / "out", tmp_path / "clean"
    reproduce(["fake"], out, quick=True, progress=False, figures=False, scheduler=cluster)
    assert not (marks / "kill-once").exists()  # a worker did die mid-unit
    reproduce(["fake"], clean, quick=True, progress=False, figures=False)
    assert _results(out) == _results(clean)


def _kill_client_mid_run(cmd, env, units_dir, at_least):
    """Start ``cmd`` (a `reproduce --workers 2` client), SIGKILL it and its local cluster once
    ``at_least`` units are stored; return the stored unit files' names and mtimes."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if units_dir.exists() and len(list(units_dir.glob("*.csv"))) >= at_least:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return {p.name: p.stat().st_mtime_ns for p in units_dir.glob("*.csv")}


CLIENT = """
import sys
from limetheory import experiments
from limetheory.cli import main
if __name__ == "__main__":  # the local cluster's worker processes re-import this file
    experiments.REGISTRY["fake"] = ({name!r}, ())
    sys.exit(main(["reproduce", "--quick", "--only", "fake", "--no-figures", "--no-progress", "--workers", "2",
                   "--out", {out!r}]))
"""


def test_killed_client_resumes_without_recomputing_what_was_stored(fake, tmp_path):
    """SIGKILL the client (and its local cluster) mid-run; the rerun computes exactly the units that
    were not stored, and the results equal an uninterrupted in-process run."""
    name, mod, marks = fake
    (marks / "slow").touch()  # units take 0.5 s each, so the kill lands mid-run
    out, clean = tmp_path / "out", tmp_path / "clean"
    script = tmp_path / "client.py"
    script.write_text(CLIENT.format(name=name, out=str(out)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    units_dir = out / "units" / "fake"
    before = _kill_client_mid_run([sys.executable, str(script)], env, units_dir, at_least=2)
    assert 2 <= len(before) < 6
    (marks / "slow").unlink()
    reproduce(["fake"], out, quick=True, progress=False, figures=False, workers=2)
    after = {p.name: p.stat().st_mtime_ns for p in units_dir.glob("*.csv")}
    assert len(after) == 6 and {k: after[k] for k in before} == before  # stored units untouched
    reproduce(["fake"], clean, quick=True, progress=False, figures=False)
    assert _results(out) == _results(clean)


@pytest.mark.slow
def test_killed_client_resumes_a_real_experiment(tmp_path):
    """The same with a real experiment (convergence, quick: 30 units) through the command line."""
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = ["reproduce", "--quick", "--only", "convergence", "--no-figures", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    units_dir = out / "units" / "convergence"
    before = _kill_client_mid_run([sys.executable, "-m", "limetheory.cli", *args, "--workers", "2", "--out", str(out)],
                                  env, units_dir, at_least=3)
    assert main([*args, "--workers", "2", "--out", str(out)]) == 0
    meta = json.loads((out / "results" / "convergence.json").read_text())
    after = {p.name: p.stat().st_mtime_ns for p in units_dir.glob("*.csv")}
    assert {k: after[k] for k in before} == before
    assert meta["reused"] == len(before) and meta["computed"] == len(after) - len(before)
    assert main([*args, "--out", str(clean)]) == 0
    assert _results(out) == _results(clean)


def test_bad_dask_arguments(capsys, tmp_path):
    for args, message in ((["--workers", "0"], "argument --workers: must be >= 1"),
                          (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
                          (["--workers", "two"], "expected an integer"),
                          (["--workers", "1000000"], "argument --workers: must be <="),
                          (["--scheduler", "nonsense"], "argument --scheduler: must be an address host:port"),
                          (["--scheduler", "tcp://127.0.0.1:1"],
                           "argument --scheduler: 'tcp://127.0.0.1:1' cannot be reached within 5 s")):
        with pytest.raises(SystemExit) as exit_info:
            main(["reproduce", "--quick", "--out", str(tmp_path / "o"), *args])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(ValueError, match="workers or scheduler"):
        with executor(workers=2, scheduler="tcp://127.0.0.1:1"):
            pass
    with executor() as ex:
        assert isinstance(ex, InProcess)
    assert not Path(tmp_path / "o").exists()
