"""The benchmark scripts run (their --quick cells), so the numbers the README quotes stay reproducible."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_bench_uncertainty_quick(tmp_path):
    import bench_uncertainty

    sandwich, exact = bench_uncertainty.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench_uncertainty_quick.json").read_text())
    assert saved["sandwich"][0]["d"] == 32 and saved["sandwich"][0]["se_s"] > 0
    assert exact[0]["exact_covariance_s"] > 0
    assert (tmp_path / "bench_uncertainty_quick.md").read_text().startswith("| d | n |")


def test_bench_explain_quick_without_lime(tmp_path):
    import bench_explain

    rows = bench_explain.main(["--quick", "--no-lime", "--out", str(tmp_path)])
    assert rows[0]["explain_s"] > 0 and rows[0]["floor_s"] > 0
    assert (tmp_path / "bench_explain_quick.md").exists()
