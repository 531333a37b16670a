"""Benchmark: KernelSHAP estimates of superpixel Shapley values against exact ones, per model call.

1. Games: g(z) = p_c(x(z)), the top class's probability, for shapes-cnn and digits-cnn on a 3 x 4
   grid of superpixels (d = 12) and EfficientNet-Lite0 on a coarse SLIC segmentation of a bundled
   photo; each game is tabulated once over {0,1}^d (2^d model calls) and its exact Shapley values
   come from :func:`limetheory.theory.exact_shapley`. The estimators then query the table, so every
   one sees the same game and its model calls are counted exactly.
2. Estimators at equal budgets of model calls: shap's KernelExplainer (``l1_reg=False``; paired
   sampling and exact enumeration of small coalition sizes, as shap does), captum's KernelShap
   (its default constraint weight), and ours (``explain(kernel="shap")``'s sampler and fit:
   i.i.d., paired and enumerated, :func:`limetheory.sampling.enumerated_samples`, whose model calls
   are its distinct rows), ``R`` seeds each. Error: ||phi_hat - phi||_2 / ||phi||_2, mean over seeds.
   Coverage: share of our 95% intervals (phi_hat_j -+ t se_j, t the quantile of their degrees of
   freedom, as ``Explanation.conf_int``) that hold the exact phi_j.
3. The cost of exact values at d = 16, 20, 24: the 2^d-pattern table of a cheap game, and the
   arithmetic of exact_shapley on it; the model calls are 2^d (captum's ShapleyValues: d * d!).

Writes results/bench_shapley.json and results/bench_shapley.md (with the machine and its load), and
the games' tables to results/bench_shapley_games.npz (for the kernel-width figure).
Usage: python benchmarks/bench_shapley.py [--quick] [--out DIR] [--runs R] [--reuse-tables | --games FILE]
(``--reuse-tables``: the tables of OUT/bench_shapley_games.npz, the committed ones by default, instead of
2^d model calls per network; EfficientNet-Lite0's took 813 s.)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from limetheory import theory
from limetheory.sampling import enumerated_samples, shapley_samples
from limetheory.surrogate import constrained_df, fit_constrained

BUDGETS = (50, 100, 200, 400, 800)
QUICK_BUDGETS = (50, 200)
EXACT_DS = (16, 20, 24)
QUICK_EXACT_DS = (12,)


# --------------------------------------------------------------------------- games
def network_games(quick: bool, cached: dict | None = None, save=None) -> dict:
    """{name: (d, values (2^d,), info)} for the networks (each tabulated once, or read from ``cached``:
    the arrays of an earlier run's games file); ``save(games)`` after each new table."""
    from limetheory.data import load_digits_rgb, load_photo, make_shapes
    from limetheory.nets import load
    from limetheory.perturb import superpixel_game
    from limetheory.segmentation import grid, n_superpixels, segment

    shapes = make_shapes(1, seed=123)[0][0]
    digit = load_digits_rgb(32).test_images[0]
    cases = [("shapes-cnn", shapes, grid(shapes.shape, 3, 4)), ("digits-cnn", digit, grid(digit.shape, 3, 4))]
    if not quick:
        photo = load_photo("chelsea")
        cases.append(("efficientnet-lite0", photo, segment(photo, "slic", n_segments=13, compactness=20)))
    games = {}
    for name, image, seg in cases:
        clf = load(name)
        d = n_superpixels(seg)
        top = int(np.argmax(clf.predict(image[None])[0]))
        t0 = time.perf_counter()
        reused = bool(cached) and f"{name}__values" in cached and np.array_equal(cached[f"{name}__segments"], seg)
        if reused:
            values, seconds = cached[f"{name}__values"], float(cached[f"{name}__table_s"])
        else:
            game = superpixel_game(clf.predict, image, seg, top, dtype=np.float32)
            values = theory.ResponseTable.from_function(game, d, batch_size=512).values
            seconds = time.perf_counter() - t0
        games[name] = (d, values, {"class": top, "class_name": str(clf.class_names[top]), "table_s": seconds,
                                   "segments": seg})
        print(f"{name}: d = {d}, 2^d = {1 << d} calls in {seconds:.1f} s" + (" (table reused)" if reused else ""),
              flush=True)
        if save is not None and not reused:
            save(games)
    return games


class Counted:
    """The table as a model of real 0/1 rows, counting the rows it is asked for (model calls)."""

    def __init__(self, values):
        self.table = theory.ResponseTable(values)
        self.calls = 0

    def __call__(self, x):
        x = np.asarray(x)
        self.calls += x.shape[0]
        return self.table((x > 0.5).astype(np.uint8))


# --------------------------------------------------------------------------- estimators
def ours(values, d, n, seed, paired):
    z, pairs = shapley_samples(n, d, seed, paired)
    y = theory.ResponseTable(values)(z)
    coef, cov = fit_constrained(z, y, y[1], y[0], pairs)
    return coef[0], _half_width(cov, z, pairs), n


def ours_enumerated(values, d, n, seed):
    """design="enumerated" as ``explain`` runs it: the distinct rows are the model calls."""
    s = enumerated_samples(n, d, seed)
    distinct, back = np.unique(s.z, axis=0, return_inverse=True)
    y = theory.ResponseTable(values)(distinct)[back.reshape(-1)]
    coef, cov = fit_constrained(s.z, y, y[1], y[0], s.clusters, s.weights, s.fixed)
    return coef[0], _half_width(cov, s.z, s.clusters, s.fixed), distinct.shape[0]


def _half_width(cov, z, clusters, fixed=None):
    """Half-widths of the 95% intervals ``explain`` reports: t quantile (its degrees of freedom) x se."""
    return stats.t.ppf(0.975, constrained_df(z, clusters, fixed)) * np.sqrt(np.diag(cov[0]))


def shap_kernel(values, d, n, seed):
    import shap

    model = Counted(values)
    np.random.seed(seed)  # shap's KernelExplainer draws from NumPy's global stream
    explainer = shap.KernelExplainer(model, np.zeros((1, d)))
    model.calls = 0  # its set-up evaluates the background once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi = explainer.shap_values(np.ones((1, d)), nsamples=n - 2, l1_reg=False, silent=True)
    return np.asarray(phi).reshape(-1), None, model.calls + 1  # + the background row, once


def captum_kernel(values, d, n, seed):
    import torch
    from captum.attr import KernelShap

    model = Counted(values)
    torch.manual_seed(seed)
    forward = lambda x: torch.as_tensor(model(x.numpy()))
    phi = KernelShap(forward).attribute(torch.ones(1, d, dtype=torch.float64),
                                        baselines=torch.zeros(1, d, dtype=torch.float64),
                                        n_samples=n, perturbations_per_eval=n)
    return phi.numpy().reshape(-1).astype(np.float64), None, model.calls


OURS = ("ours (iid)", "ours (paired)", "ours (enumerated)")

ESTIMATORS = {
    "ours (iid)": lambda v, d, n, s: ours(v, d, n, s, False),
    "ours (paired)": lambda v, d, n, s: ours(v, d, n, s, True),
    "ours (enumerated)": ours_enumerated,
    "shap KernelExplainer": shap_kernel,
    "captum KernelShap": captum_kernel,
}


def error_rows(games: dict, budgets, runs: int) -> list:
    rows = []
    for name, (d, values, _) in games.items():
        exact = theory.exact_shapley(theory.ResponseTable(values))
        norm = float(np.linalg.norm(exact))
        for n in budgets:
            for method, estimate in ESTIMATORS.items():
                errors, covered, calls = [], [], []
                for seed in range(runs):
                    phi, half, used = estimate(values, d, n, seed)
                    errors.append(float(np.linalg.norm(phi - exact)) / norm)
                    calls.append(used)
                    if half is not None:
                        covered.append(np.mean(np.abs(phi - exact) <= half))
                rows.append({"game": name, "d": d, "budget": n, "method": method, "runs": runs,
                             "model_calls_mean": float(np.mean(calls)), "rel_error_mean": float(np.mean(errors)),
                             "rel_error_se": float(np.std(errors, ddof=1) / np.sqrt(runs)),
                             "coverage": float(np.mean(covered)) if covered else None})
                print(f"{name} n={n} {method}: {rows[-1]['rel_error_mean']:.4f} "
                      f"(calls {rows[-1]['model_calls_mean']:.0f}, coverage {rows[-1]['coverage']})", flush=True)
    return rows


def exact_cost_rows(ds) -> list:
    rows = []
    for d in ds:
        rng = np.random.default_rng(d)
        w = rng.normal(size=d)
        f = lambda z: np.tanh(z @ w) + z[:, 0] * z[:, 1]
        t0 = time.perf_counter()
        table = theory.ResponseTable.from_function(f, d, batch_size=1 << 16)
        t1 = time.perf_counter()
        phi = theory.exact_shapley(table)
        t2 = time.perf_counter()
        rows.append({"d": d, "model_calls": 1 << d, "table_s_cheap_game": t1 - t0, "exact_shapley_s": t2 - t1,
                     "table_mib": table.values.nbytes / 2**20, "efficiency_error": float(abs(
                         phi.sum() - (table.values[-1] - table.values[0]))),
                     "captum_shapley_values_calls": d * math.factorial(d)})
        print(f"exact d={d}: table {t1 - t0:.2f} s, shapley {t2 - t1:.2f} s", flush=True)
        del table
    return rows


# --------------------------------------------------------------------------- report
def _fmt(x):
    return "-" if x is None else f"{x:.3g}"


def to_markdown(rows, exact, games, meta) -> str:
    lines = [f"Conditions: {meta['conditions']}", "",
             "Relative error ||phi_hat - phi|| / ||phi|| to the exact Shapley values (mean over "
             f"{rows[0]['runs'] if rows else 0} seeds; +- its standard error), at equal model calls; coverage of our "
             "95% intervals (nominal 0.95).", ""]
    for name, (d, _, info) in games.items():
        lines += [f"**{name}**, d = {d}, class {info['class']} ({info['class_name']}); table of 2^{d} calls: "
                  f"{info['table_s']:.1f} s", "",
                  "| model calls | " + " | ".join(ESTIMATORS) + " | " + " | ".join(f"coverage ({m[6:-1]})" for m in OURS)
                  + " |", "|---:|" + "---:|" * (len(ESTIMATORS) + len(OURS))]
        for n in sorted({r["budget"] for r in rows if r["game"] == name}):
            cell = {r["method"]: r for r in rows if r["game"] == name and r["budget"] == n}
            vals = [f"{cell[m]['rel_error_mean']:.3g} +- {cell[m]['rel_error_se']:.1g}" for m in ESTIMATORS]
            lines.append(f"| {n} | " + " | ".join(vals) + " | " + " | ".join(_fmt(cell[m]["coverage"]) for m in OURS)
                         + " |")
        lines.append("")
    lines += ["Exact values from one table of 2^d responses (a cheap analytic game; for a network add 2^d model calls):",
              "", "| d | model calls 2^d | table (s) | exact_shapley (s) | table (MiB) | captum ShapleyValues calls d*d! |",
              "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['d']} | {r['model_calls']} | {r['table_s_cheap_game']:.2f} | {r['exact_shapley_s']:.2f} | "
              f"{r['table_mib']:.1f} | {r['captum_shapley_values_calls']:.3g} |" for r in exact]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small-CNN games, two budgets, d = 12 exact")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    parser.add_argument("--runs", type=int, default=None, help="seeds per cell (default 10; quick 3)")
    tables = parser.add_mutually_exclusive_group()
    tables.add_argument("--games", default=None, help="an earlier games file (.npz) whose tables to reuse")
    tables.add_argument("--reuse-tables", action="store_true",
                        help="reuse the tables of OUT/bench_shapley_games.npz (OUT/bench_shapley_quick_games.npz "
                             "with --quick) instead of tabulating the networks")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 10)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    name = "bench_shapley_quick" if args.quick else "bench_shapley"
    cached = None
    if args.reuse_tables:
        args.games = out / f"{name}_games.npz"
        if not args.games.exists():
            parser.error(f"--reuse-tables: no {args.games}; run once without it")
    if args.games:
        with np.load(args.games) as f:
            cached = {k: f[k] for k in f.files}
    games = network_games(args.quick, cached, lambda g: save_games(out / f"{name}_games.npz", g))
    rows = error_rows(games, QUICK_BUDGETS if args.quick else BUDGETS, runs)
    exact = exact_cost_rows(QUICK_EXACT_DS if args.quick else EXACT_DS)
    meta = {"machine": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "load_1min_start": load_before, "load_1min_end": os.getloadavg()[0],
            "wall_s": time.perf_counter() - t0, "runs": runs}
    meta["tables_from"] = str(Path(args.games).name) if args.games else None
    reused = f"; the games' tables read from {meta['tables_from']} (tabulated by an earlier run)" if args.games else ""
    meta["conditions"] = (f"{meta['cpu_count']} CPU cores shared with other jobs (1-min load average "
                          f"{load_before:.1f} at start, {meta['load_1min_end']:.1f} at end), no GPU; networks in "
                          f"float32 (JAX, CPU); {runs} seeds per cell; total {meta['wall_s'] / 60:.1f} min{reused}.")
    info = {k: {kk: vv for kk, vv in v[2].items() if kk != "segments"} for k, v in games.items()}
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "games": info, "errors": rows, "exact": exact},
                                                 indent=2))
    (out / f"{name}.md").write_text(to_markdown(rows, exact, games, meta))
    return rows, exact


def save_games(path, games: dict) -> None:
    """The games' tables, segmentations and tabulation times, for a later run (``--games``) or the figure."""
    arrays = {}
    for k, (_, values, info) in games.items():
        arrays.update({f"{k}__values": values, f"{k}__segments": info["segments"], f"{k}__table_s": info["table_s"]})
    np.savez_compressed(path, **arrays)


if __name__ == "__main__":
    main()
