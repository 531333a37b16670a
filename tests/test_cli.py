"""The ``limetheory`` command: reproduce --only / --out / --quick, resuming, argument errors.

Most tests register a tiny fake experiment (it counts the units it computes and can fail on
demand); one runs a real experiment (shape_detector, quick) twice.
"""
import importlib.metadata
import os
import re
import textwrap
import uuid

import numpy as np
import pandas as pd
import pytest

from limetheory import experiments
from limetheory import files
from limetheory.experiments.runner import CorruptUnitWarning, unit_path
from limetheory.experiments.store import read_unit
from limetheory.cli import main

FAKE = '''
import pandas as pd

NAME = "fake"
TITLE = "a fake experiment for the CLI tests"
VERSION = 1
CALLS = []
FAIL_AT = None


def settings(quick):
    return {"n_units": 4 if quick else 6}


def units(s):
    return [{"i": i} for i in range(s["n_units"])]


def setup(s):
    return s


def run_unit(unit, ctx):
    if FAIL_AT is not None and unit["i"] == FAIL_AT:
        raise RuntimeError("interrupted")
    CALLS.append(unit["i"])
    return pd.DataFrame({"i": [unit["i"]] * 2, "x": [unit["i"] / 2, 1 / 3]})


def tables(frame, s):
    return {"summary": frame.groupby("i", as_index=False)["x"].sum()}


def make(out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from limetheory.paper_figures._common import read_results, save_figure

    frame = read_results(out, NAME)
    fig, ax = plt.subplots()
    ax.plot(frame["i"], frame["x"], "o")
    return save_figure(fig, out, "fig_fake")
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fresh fake experiment module registered as "fake" (its own figure script too)."""
    modname = f"fake_experiment_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / "mods"
    pkg.mkdir()
    (pkg / f"{modname}.py").write_text(textwrap.dedent(FAKE))
    monkeypatch.syspath_prepend(str(pkg))
    module = __import__(modname)
    monkeypatch.setitem(experiments.REGISTRY, "fake", (modname, (modname,)))
    return module


def _run(*args):
    return main(["reproduce", *args, "--no-progress"])


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.csv"))}


def test_only_and_out_write_just_that_experiment(fake, tmp_path):
    out = tmp_path / "out"
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    frame = pd.read_csv(out / "results" / "fake.csv")
    assert list(frame.columns) == ["i", "x"] and frame["i"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert sorted(p.name for p in (out / "results").iterdir()) == [
        "fake.csv", "fake.json", "fake_summary.csv", "fake_summary.md"]
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["fig_fake.pdf", "fig_fake.png"]
    assert len(list((out / "units" / "fake").glob("*.csv"))) == 4
    assert fake.CALLS == [0, 1, 2, 3]


def test_second_run_recomputes_nothing(fake, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    before = _mtimes(out / "units" / "fake")
    results_before = (out / "results" / "fake.csv").read_text()
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    assert fake.CALLS == [0, 1, 2, 3]  # nothing computed the second time
    assert _mtimes(out / "units" / "fake") == before
    assert (out / "results" / "fake.csv").read_text() == results_before
    assert "fake: 0 unit(s) computed, 4 reused" in capsys.readouterr().err


def test_interrupted_run_resumes_where_it_stopped(fake, tmp_path, capsys):
    out = tmp_path / "out"
    fake.FAIL_AT = 2
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 1  # failure reported, exit 1
    assert "fake: FAILED: RuntimeError: interrupted" in capsys.readouterr().err
    assert len(list((out / "units" / "fake").glob("*.csv"))) == 2
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(RuntimeError, match="interrupted"):
        _run("--quick", "--only", "fake", "--out", str(out), "--fail-fast")
    fake.FAIL_AT = None
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    assert fake.CALLS == [0, 1, 2, 3]  # units 0 and 1 were not computed again
    assert len(pd.read_csv(out / "results" / "fake.csv")) == 8


def test_quick_and_full_units_do_not_mix(fake, tmp_path):
    out = tmp_path / "out"
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    assert _run("--only", "fake", "--out", str(out)) == 0
    assert fake.CALLS == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]  # the full run reused nothing of the quick one
    assert len(list((out / "units" / "fake").glob("*.csv"))) == 10
    assert len(pd.read_csv(out / "results" / "fake.csv")) == 12
    assert '"mode": "full"' in (out / "results" / "fake.json").read_text()


def test_default_out_folder(fake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run("--quick", "--only", "fake", "--no-figures") == 0
    assert (tmp_path / "results" / "quick" / "results" / "fake.csv").exists()
    assert not (tmp_path / "results" / "quick" / "figures").exists()


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["reproduce", "--only"],
    ["reproduce", "--only", "no_such_experiment"],
    ["reproduce", "--quick", "--bogus"],
])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_out_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(SystemExit) as exc:
        _run("--quick", "--only", "shape_detector", "--out", str(target))
    assert exc.value.code == 2 and "not a folder" in capsys.readouterr().err


def test_list_and_version(capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for name in experiments.REGISTRY:
        assert name in listed
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0


def test_console_script_declared():
    eps = importlib.metadata.entry_points(group="console_scripts")
    assert any(ep.name == "limetheory" and ep.value == "limetheory.cli:main" for ep in eps)


def test_unit_keys_separate_settings():
    from limetheory.experiments import bandwidth

    quick, full = bandwidth.settings(True), bandwidth.settings(False)
    unit = {"k": 4}
    assert unit_path("o", "bandwidth", 1, quick, unit) != unit_path("o", "bandwidth", 1, full, unit)
    assert unit_path("o", "bandwidth", 1, quick, unit) == unit_path("o", "bandwidth", 1, dict(quick), dict(unit))
    assert unit_path("o", "bandwidth", 1, quick, unit) != unit_path("o", "bandwidth", 2, quick, unit)


def test_real_experiment_resumes(tmp_path):
    out = tmp_path / "real"
    assert _run("--quick", "--only", "shape_detector", "--out", str(out)) == 0
    before = _mtimes(out / "units" / "shape_detector")
    assert len(before) == 5
    assert (out / "figures" / "fig_shape_detector.png").stat().st_size > 0
    results = (out / "results" / "shape_detector.csv").read_text()
    assert _run("--quick", "--only", "shape_detector", "--out", str(out), "--no-figures") == 0
    assert _mtimes(out / "units" / "shape_detector") == before
    assert (out / "results" / "shape_detector.csv").read_text() == results
    meta = (out / "results" / "shape_detector.json").read_text()
    assert '"computed": 0' in meta and '"reused": 5' in meta
    assert os.listdir(out / "units") == ["shape_detector"]


# --------------------------------------------------------------------------- the store never trusts a corrupt unit
def _truncate(data):
    return data[: len(data) // 2]


def _flip_byte(data):
    i = len(data) - 20  # inside the last row of the body
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _alter_number(data):
    head, body = data.split(b"\n", 1)
    return head + b"\n" + body.replace(b"0.3333333333333333", b"0.3333333333333334", 1)


def _drop_checksum(data):
    head, body = data.split(b"\n", 1)
    return re.sub(rb'"sha256": "[0-9a-f]+"', b'"sha": ""', head) + b"\n" + body


CORRUPTIONS = {
    "truncate": _truncate,
    "empty": lambda data: b"",
    "nul_fill": lambda data: b"\0" * len(data),
    "flip_byte": _flip_byte,
    "alter_number": _alter_number,
    "drop_checksum": _drop_checksum,
    "drop_header": lambda data: data.split(b"\n", 1)[1],
    "garbage": lambda data: b"\x89PNG not a unit at all\n" * 7,
}


def _published(out):
    return {p.name: p.read_bytes() for p in sorted((out / "results").iterdir()) if p.suffix in (".csv", ".md")}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_unit_is_recomputed_with_a_warning(fake, tmp_path, how, capsys):
    out = tmp_path / "out"
    assert _run("--quick", "--only", "fake", "--out", str(out), "--no-figures") == 0
    clean = _published(out)
    victim = unit_path(out, "fake", fake.VERSION, fake.settings(True), {"i": 2})
    corrupted = CORRUPTIONS[how](victim.read_bytes())
    assert corrupted != victim.read_bytes()
    victim.write_bytes(corrupted)
    with pytest.warns(CorruptUnitWarning, match=re.escape(str(victim))):
        reports = experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    assert reports[0].computed == 1 and reports[0].reused == 3 and reports[0].recomputed == (victim,)
    assert fake.CALLS == [0, 1, 2, 3, 2]  # only the corrupt unit was computed again
    assert _published(out) == clean
    assert read_unit(victim).equals(pd.read_csv(out / "results" / "fake.csv").iloc[4:6].reset_index(drop=True))


@pytest.mark.parametrize("source", [{"i": 2}, "other settings"])
def test_intact_unit_file_of_another_unit_is_recomputed(fake, tmp_path, source):
    """An intact, self-consistent file copied over another unit's file (another unit of the same run,
    or the same unit of other settings) is refused by the identity in its header."""
    out = tmp_path / "out"
    experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    clean = _published(out)
    victim = unit_path(out, "fake", fake.VERSION, fake.settings(True), {"i": 3})
    if source == "other settings":
        experiments.reproduce(["fake"], out, quick=False, progress=False, figures=False)
        donor = unit_path(out, "fake", fake.VERSION, fake.settings(False), {"i": 3})
    else:
        donor = unit_path(out, "fake", fake.VERSION, fake.settings(True), source)
    assert donor != victim and read_unit(donor) is not None  # the donor is whole
    victim.write_bytes(donor.read_bytes())
    fake.CALLS.clear()
    with pytest.warns(CorruptUnitWarning, match=re.escape(str(victim)) + ".*another unit or settings"):
        reports = experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    assert reports[0].recomputed == (victim,) and fake.CALLS == [3]
    assert _published(out) == clean


def test_results_untouched_until_every_unit_verifies(fake, tmp_path):
    out = tmp_path / "out"
    assert _run("--quick", "--only", "fake", "--out", str(out), "--no-figures") == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "results").iterdir()}
    victim = unit_path(out, "fake", fake.VERSION, fake.settings(True), {"i": 1})
    victim.write_bytes(b"\0" * 10)
    fake.FAIL_AT = 1  # the recomputation fails: nothing may be published
    with pytest.warns(CorruptUnitWarning), pytest.raises(RuntimeError, match="interrupted"):
        experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "results").iterdir()} == before


@pytest.mark.parametrize("how", ["truncate", "garbage", "flip_byte", "empty"])
def test_corrupt_arrays_are_rewritten(fake, tmp_path, monkeypatch, how):
    monkeypatch.setattr(fake, "arrays", lambda ctx: {"grid": np.arange(200.0).reshape(10, 20)}, raising=False)
    out = tmp_path / "out"
    experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    npz = out / "results" / "fake.npz"
    clean = npz.read_bytes()
    npz.write_bytes(CORRUPTIONS[how](clean) if how != "flip_byte" else clean[:60] + bytes([clean[60] ^ 0xFF]) + clean[61:])
    with pytest.warns(CorruptUnitWarning, match=re.escape(str(npz))):
        experiments.reproduce(["fake"], out, quick=True, progress=False, figures=False)
    assert npz.read_bytes() == clean
    assert fake.CALLS == [0, 1, 2, 3]  # the units were whole: none recomputed


def test_stale_temporaries_of_dead_writers_are_removed(fake, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    folder = out / "units" / "fake"
    folder.mkdir(parents=True)
    host = files._HOST
    stale = folder / f".i=0-abc.csv.{host}.{dead_pid}-k2j4x9_q.tmp"
    live = folder / f".i=1-abc.csv.{host}.{os.getppid()}-zz9x.tmp"  # a concurrent run's: kept
    other_host = folder / f".i=2-abc.csv.otherhost.{dead_pid}-aaaa.tmp"  # cannot tell: kept
    foreign = folder / ".notes.tmp"  # not the store's: kept
    for p in (stale, live, other_host, foreign):
        p.write_text("partial")
    (out / "results").mkdir()
    stale_result = out / "results" / f".fake.csv.{host}.{dead_pid}-q1w2e3r4.tmp"
    stale_result.write_text("partial")
    assert _run("--quick", "--only", "fake", "--out", str(out), "--no-figures") == 0
    assert not stale.exists() and not stale_result.exists()
    assert live.exists() and other_host.exists() and foreign.exists()


def test_real_experiment_truncated_unit_and_arrays_give_the_clean_tables(tmp_path):
    """The issue's case: one truncated shape_detector unit used to drop n_runs from 5 to 4."""
    out = tmp_path / "real"
    assert _run("--quick", "--only", "shape_detector", "--out", str(out), "--no-figures") == 0
    clean = _published(out)
    npz = out / "results" / "shape_detector.npz"
    clean_npz = npz.read_bytes()
    victim = sorted((out / "units" / "shape_detector").glob("*.csv"))[3]
    victim.write_bytes(_truncate(victim.read_bytes()))
    npz.write_bytes(_truncate(clean_npz))
    with pytest.warns(CorruptUnitWarning) as record:
        assert _run("--quick", "--only", "shape_detector", "--out", str(out), "--no-figures") == 0
    warned = [str(w.message).split(" ")[2] for w in record if w.category is CorruptUnitWarning]
    assert sorted(warned) == sorted([str(victim), str(npz)])
    assert _published(out) == clean
    assert npz.read_bytes() == clean_npz
    assert pd.read_csv(out / "results" / "shape_detector_agreement.csv")["n_runs"].tolist() == [5, 5]


# --------------------------------------------------------------------------- kills and concurrent runs (subprocesses)
SLOW_FAKE = '''
import os
import time

import pandas as pd

NAME = "slowfake"
TITLE = "a fake experiment that takes its time"
VERSION = 1


def settings(quick):
    return {"n_units": 6}


def units(s):
    return [{"i": i} for i in range(s["n_units"])]


def setup(s):
    return s


def run_unit(unit, ctx):
    with open(os.environ["SLOWFAKE_LOG"], "a") as fh:
        fh.write(f"{unit['i']}\\n")
    time.sleep(float(os.environ["SLOWFAKE_SLEEP"]))
    return pd.DataFrame({"i": [unit["i"]] * 3, "x": [unit["i"] / 7, 1 / 3, 2.0 ** -unit["i"]]})


def tables(frame, s):
    return {"sum": frame.groupby("i", as_index=False)["x"].sum()}
'''
RUN_SLOW_FAKE = ("import sys; from limetheory.experiments import reproduce; "
                 "reproduce(['slowfake'], sys.argv[1], quick=True, progress=False, figures=False, "
                 "registry={'slowfake': ('slowfake_experiment', ())})")


def _start_slow_fake(tmp_path, out, sleep, log="log"):
    import subprocess
    import sys

    mods = tmp_path / "slowmods"
    mods.mkdir(exist_ok=True)
    (mods / "slowfake_experiment.py").write_text(SLOW_FAKE)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(mods)]), "SLOWFAKE_SLEEP": str(sleep),
           "SLOWFAKE_LOG": str(tmp_path / log)}
    return subprocess.Popen([sys.executable, "-c", RUN_SLOW_FAKE, str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _logged(tmp_path, log="log"):
    path = tmp_path / log
    return sorted(int(line) for line in path.read_text().split()) if path.exists() else []


@pytest.fixture(scope="module")
def slow_fake_clean(tmp_path_factory):
    """The published files of one uninterrupted run of the slow fake experiment."""
    tmp = tmp_path_factory.mktemp("clean")
    proc = _start_slow_fake(tmp, tmp / "out", 0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    return _published(tmp / "out")


@pytest.mark.parametrize("sig", ["SIGKILL", pytest.param("SIGINT", marks=pytest.mark.slow),
                                 pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_killed_run_resumes_with_exactly_the_finished_units(tmp_path, sig, slow_fake_clean):
    import signal
    import time

    out = tmp_path / "out"
    folder = out / "units" / "slowfake"
    proc = _start_slow_fake(tmp_path, out, 0.5)
    deadline = time.monotonic() + 120
    while len(list(folder.glob("*.csv"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    assert proc.wait(timeout=60) != 0
    finished = {int(re.match(r"i=(\d+)-", p.name)[1]) for p in folder.glob("*.csv")}
    assert 2 <= len(finished) < 6
    for p in folder.glob("*.csv"):
        read_unit(p)  # every file the killed run left is whole
    proc = _start_slow_fake(tmp_path, out, 0, log="log2")
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    assert _logged(tmp_path, "log2") == sorted(set(range(6)) - finished)  # exactly the missing units
    assert _published(out) == slow_fake_clean
    assert not list(out.rglob("*.tmp"))


def test_two_concurrent_runs_on_one_folder_agree(tmp_path, slow_fake_clean):
    out = tmp_path / "out"
    procs = [_start_slow_fake(tmp_path, out, 0.1, log=f"log{k}") for k in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    assert _published(out) == slow_fake_clean
    assert sorted(read_unit(p)["i"].iloc[0] for p in (out / "units" / "slowfake").glob("*.csv")) == list(range(6))
    assert not list(out.rglob("*.tmp"))


def test_experiment_contract_is_checked_once_with_a_clear_error(fake, monkeypatch):
    monkeypatch.delattr(fake, "run_unit")
    monkeypatch.setattr(fake, "VERSION", True)  # a bool is not a version number
    with pytest.raises(TypeError, match=r"does not define the experiment contract: missing or wrong "
                                        r"VERSION \(int\), run_unit\(\) \(a function\)"):
        experiments.load_experiment("fake")
    with pytest.raises(TypeError, match="experiment contract"):
        experiments.reproduce(["fake"], "unused", quick=True, progress=False)


def test_run_report_is_frozen(fake, tmp_path):
    import dataclasses

    report = experiments.reproduce(["fake"], tmp_path, quick=True, progress=False, figures=False)[0]
    assert (report.n_units, report.computed, report.reused, report.recomputed) == (4, 4, 0, ())
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign"):
        report.computed = 0
@pytest.mark.parametrize("out, phrase", [
    ("AFILE/deeper", "is a file, not a folder"),
    ("/proc/results", "cannot write in /proc"),
])
def test_out_that_cannot_be_written_is_refused_before_any_experiment(out, phrase, fake, tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "AFILE").write_text("x")
    with pytest.raises(SystemExit) as exc:
        _run("--quick", "--only", "fake", "--out", out)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "argument --out" in err and phrase in err, err
    assert "Traceback" not in err and fake.CALLS == []  # nothing computed


def test_ctrl_c_in_reproduce_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "reproduce", interrupted)
    assert _run("--quick", "--only", "shape_detector", "--out", str(tmp_path / "o")) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "limetheory reproduce: interrupted (finished units are kept: run the same command to resume)"
    assert not any("Traceback" in line for line in err)


def test_parser_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--only", "no_such_experiment"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "argument --only: invalid choice" in err


def test_unit_settings_key_units_by_what_they_depend_on(fake, tmp_path):
    """An experiment's ``unit_settings`` decides what a unit's key hashes: with the number of units
    left out, the full run (6 units) reuses the quick run's 4 (without it, it reuses none: above)."""
    fake.unit_settings = lambda s, unit: {k: v for k, v in s.items() if k != "n_units"}
    out = tmp_path / "o"
    assert _run("--quick", "--only", "fake", "--out", str(out)) == 0
    assert _run("--only", "fake", "--out", str(out)) == 0
    assert fake.CALLS == [0, 1, 2, 3, 4, 5]  # the full run computed only units 4 and 5
    fake.unit_settings = "not a function"
    with pytest.raises(TypeError, match=r"unit_settings\(\) \(optional, but a function when given\)"):
        experiments.load_experiment("fake")
