"""Benchmark: the cost of LIME's error bars, against the cost of the explanation they come with.

1. ``surrogate.sandwich_standard_errors`` (every ``Explanation.coef_se``) for d in {32, 128, 308}
   and n in {1000, 5000, 20000}, one explained label, with the time of the surrogate fit itself
   (``fit_weighted_ridge``) on the same samples for comparison, and the peak memory traced
   during the standard errors (computed in 4 MiB blocks of samples: flat in n).
2. ``theory.exact_limit_covariance`` (enumeration of {0,1}^d) for d in {8, 12, 16, 20} on a
   cheap function of z, next to ``theory.exact_limit`` (the same enumeration, first moments only).

Writes results/bench_uncertainty.json and results/bench_uncertainty.md.
Usage: python benchmarks/bench_uncertainty.py [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from limetheory import theory
from limetheory.files import write_text
from limetheory.sampling import bernoulli_samples, kernel_weights
from limetheory.surrogate import fit_weighted_ridge, predict_linear, sandwich_standard_errors

from _timing import peak_memory, timed

SANDWICH_CELLS = [(d, n) for d in (32, 128, 308) for n in (1000, 5000, 20000)]
EXACT_DS = (8, 12, 16, 20)
QUICK_SANDWICH = [(32, 1000)]
QUICK_EXACT = (8,)


def sandwich_cell(d: int, n: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    z = bernoulli_samples(n, d, rng)
    w = kernel_weights(z, 0.25)
    y = np.tanh(z @ rng.normal(size=d) / np.sqrt(d))[:, None]
    intercept, coef = fit_weighted_ridge(z, y, w, 1.0)
    resid = y - predict_linear(z, intercept, coef)
    return {
        "d": d, "n": n,
        "fit_s": timed(lambda: fit_weighted_ridge(z, y, w, 1.0), repeat),
        "se_s": timed(lambda: sandwich_standard_errors(z, w, resid, 1.0), repeat),
        "se_peak_mib": peak_memory(lambda: sandwich_standard_errors(z, w, resid, 1.0)),
    }


def exact_cell(d: int, repeat: int) -> dict:
    weights = np.random.default_rng(1).normal(size=d)

    def f(z):
        return np.tanh(z @ weights / np.sqrt(d))

    return {
        "d": d,
        "exact_limit_s": timed(lambda: theory.exact_limit(f, d, 0.25), repeat),
        "exact_covariance_s": timed(lambda: theory.exact_limit_covariance(f, d, 0.25), repeat),
    }


def to_markdown(sandwich: list[dict], exact: list[dict]) -> str:
    lines = ["| d | n | surrogate fit (ms) | standard errors (ms) | se / fit | se peak MiB |",
             "|---|---|---|---|---|---|"]
    for r in sandwich:
        lines.append(f"| {r['d']} | {r['n']} | {1e3 * r['fit_s']:.1f} | {1e3 * r['se_s']:.1f} | "
                     f"{r['se_s'] / r['fit_s']:.2f} | {r['se_peak_mib']:.1f} |")
    lines += ["", "| d | exact_limit (s) | exact_limit_covariance (s) |", "|---|---|---|"]
    for r in exact:
        lines.append(f"| {r['d']} | {r['exact_limit_s']:.3f} | {r['exact_covariance_s']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small cell of each (smoke test)")
    parser.add_argument("--out", default="results", help="folder for bench_uncertainty.json/.md")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 3
    sandwich = [sandwich_cell(d, n, repeat) for d, n in (QUICK_SANDWICH if args.quick else SANDWICH_CELLS)]
    exact = [exact_cell(d, repeat) for d in (QUICK_EXACT if args.quick else EXACT_DS)]
    meta = {"machine": platform.platform(), "processor": platform.processor(), "python": platform.python_version()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "bench_uncertainty_quick" if args.quick else "bench_uncertainty"
    write_text(out / f"{name}.json", json.dumps({"meta": meta, "sandwich": sandwich, "exact": exact}, indent=2))
    text = to_markdown(sandwich, exact)
    write_text(out / f"{name}.md", text)
    print(text)
    return sandwich, exact


if __name__ == "__main__":
    main()
