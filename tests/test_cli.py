"""The ``limetheory`` command: reproduce --only / --out / --quick, resuming, argument errors.

Most tests register a tiny fake experiment (it counts the units it computes and can fail on
demand); one runs a real experiment (shape_detector, quick) twice.
"""
import importlib.metadata
import os
import textwrap
import uuid

import pandas as pd
import pytest

from limetheory import experiments
from limetheory.experiments._runner import unit_path
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
