"""Smoke test of the benchmark scripts bench_explain.py and bench_uncertainty.py.

What it checks, and only that: each script runs end to end on its tiny ``--quick`` configuration
(bench_explain with lime, which must be importable in CI) and writes well-formed result files (the
JSON parses, has one row per cell with positive timings and the documented keys; the markdown
table has a header and one line per row). It does NOT check the README's timings: those come from
full runs (``make bench``), and bench_explain then checks its own claimed speed-up
(``check_claim``, tested here on made-up rows) and exits with status 1 when it is not met.
"""
import json
import sys
from pathlib import Path

import pytest
from oracles import require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _table_lines(text):
    return [line for line in text.splitlines() if line.startswith("|")]


def test_bench_uncertainty_quick(tmp_path):
    import bench_uncertainty

    sandwich, exact = bench_uncertainty.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench_uncertainty_quick.json").read_text())
    assert saved["sandwich"] == sandwich and saved["exact"] == exact
    assert saved["sandwich"][0]["d"] == 32 and all(r["se_s"] > 0 for r in sandwich)
    assert all(r["exact_covariance_s"] > 0 for r in exact)
    table = (tmp_path / "bench_uncertainty_quick.md").read_text()
    assert table.startswith("| d | n |") and len(_table_lines(table)) >= 2 + len(sandwich)


def test_bench_explain_quick_with_lime(tmp_path):
    require("lime")
    import bench_explain

    rows = bench_explain.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench_explain_quick.json").read_text())
    assert saved["rows"] == rows and len(rows) == len(bench_explain.QUICK_CELLS)
    for row in rows:
        for key in ("lime_s", "compat_s", "explain_s", "fused_jax_s", "floor_s", "explain_peak_mib"):
            assert row[key] > 0, key
        assert row["speedup_explain"] == pytest.approx(row["lime_s"] / row["explain_s"])
    assert saved["claim"]["checked"] is False and saved["claim"]["met"] is None  # quick: too small to time
    table = (tmp_path / "bench_explain_quick.md").read_text()
    assert len(_table_lines(table)) == 2 + len(rows) and "not checked" in table


def test_bench_explain_claim_check():
    import bench_explain

    fast = {"image": "a", "n": 1000, "speedup_explain": bench_explain.MIN_SPEEDUP}
    slow = {"image": "b", "n": 5000, "speedup_explain": bench_explain.MIN_SPEEDUP * 0.9}
    assert bench_explain.check_claim([fast], checked=True)["met"] is True
    claim = bench_explain.check_claim([fast, slow], checked=True)
    assert claim["met"] is False and claim["failing_cells"] == ["b n=5000: 9.0x"]
    assert "NOT MET in b n=5000" in bench_explain.claim_line(claim)
    nan = dict(slow, speedup_explain=float("nan"))
    assert bench_explain.check_claim([nan], checked=True)["met"] is False


def test_bench_explain_full_run_fails_loudly_when_the_claim_is_not_met(tmp_path, monkeypatch):
    import bench_explain

    def slow_cell(name, n, size, with_lime, repeat):  # stands in for the timings of a slow machine
        return {"image": name, "size": size, "d": 10, "n": n, "lime_s": 1.0, "compat_s": 0.5, "explain_s": 0.5,
                "fused_jax_s": 0.1, "floor_s": 0.1, "explain_peak_mib": 1.0, "speedup_compat": 2.0,
                "speedup_explain": 2.0}

    monkeypatch.setattr(bench_explain, "run_cell", slow_cell)
    with pytest.raises(SystemExit, match="README's claim is not met"):
        bench_explain.main(["--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench_explain.json").read_text())
    assert saved["claim"]["met"] is False and len(saved["claim"]["failing_cells"]) == len(bench_explain.CELLS)
    assert "NOT MET" in (tmp_path / "bench_explain.md").read_text()


def test_bench_shapley_cells_on_a_toy_game():
    """bench_shapley's estimators on a d = 6 table: every method counts its model calls within the budget
    (shap's and captum's calls are counted by the table they query), errors are finite, our coverage is a
    share; and the exact-cost rows satisfy efficiency."""
    require("shap")
    require("captum")
    import numpy as np

    import bench_shapley

    values = np.sin(np.arange(64) * 0.37)
    rows = bench_shapley.error_rows({"toy": (6, values, {})}, budgets=(40,), runs=2)
    assert [r["method"] for r in rows] == list(bench_shapley.ESTIMATORS)
    for r in rows:
        assert 0 < r["model_calls_mean"] <= 42 and np.isfinite(r["rel_error_mean"]), r
        assert (r["coverage"] is None) == (not r["method"].startswith("ours"))
    exact = bench_shapley.exact_cost_rows((8,))
    assert exact[0]["model_calls"] == 256 and exact[0]["efficiency_error"] < 1e-12


def test_bench_designs_quick(tmp_path):
    """One held-out image per small CNN, a small pilot: every design's calls ratio is positive and
    iid's is 1, the settle predictions are round sizes of lime's schedule, the files are written."""
    import bench_designs

    bench_designs.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench_designs_quick.json").read_text())
    assert {r["model"] for r in saved["rows"]} == {"shapes-cnn", "digits-cnn"}
    for row in saved["rows"]:
        assert row["calls_ratio_trace"]["iid"] == pytest.approx(1.0) and min(row["calls_ratio_trace"].values()) > 0
        assert row["auto_choice"] == max(row["calls_ratio_trace"], key=row["calls_ratio_trace"].get)
        for calls in row["settle_calls"]["0.1"].values():
            assert calls is None or calls >= 10 * (row["d"] + 1)  # the first round of lime's schedule
    assert "| model | width |" in (tmp_path / "bench_designs_quick.md").read_text()
