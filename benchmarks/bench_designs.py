"""Benchmark: model calls each sampling design needs for the same standard error, against lime's iid.

For every image (EfficientNet-Lite0 on the bundled photos; the held-out images of the small CNNs),
the explained output is the top class's probability, segments as the experiments cut them, and
at each kernel width (0.25, lime's default, and 0.1):

* one pilot per image: ``--pairs`` rows in pairs (z, 1 - z) with z ~ Bernoulli(1/2)^d (their model
  outputs shared by both widths: the law does not depend on the width, only the weights do), and
  ``--weighted`` rows from the pi-weighted law of each width;
* the fit on the whole pilot (pairs weighted pi / alpha_0, pi-weighted rows 1; ridge 0), and from
  its residuals every design's per-call covariance V_D of the coefficients
  (:func:`limetheory.design_choice.pilot_covariances`; exact theory: docs/theory/designs.md);
* calls ratio for the same standard error, iid over design D: trace(V_iid) / trace(V_D), and
  c^T V_iid c / c^T V_D c for the top-5 gap c = e_(5) - e_(6) (the 5th and 6th largest coefficients):
  above 1, the design needs that many times fewer calls than iid;
* the calls ``n_samples="auto"`` needs to settle the top 5 with each design (tolerance 0 and 0.1,
  confidence 0.95, lime's schedule 10 (d + 1) x 1.5^r), predicted from V_D: the first round whose
  covariance V_D / n separates the pilot's top-5 coefficients (:func:`limetheory.stopping.separated`)
  at that round's level; "auto" adds its pilot (the first round, half pairs, half pi-weighted).

No repeated runs: the pilot's plug-in variances replace them (each is a mean over the pilot's rows,
so its relative error is about sqrt(2 / pilot size) for a trace).

Writes results/bench_designs.json and .md. Usage: python benchmarks/bench_designs.py [--quick]
[--photos N] [--heldout N] [--pairs N] [--weighted N] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from bench_auto import images_for  # the same photos and held-out images

from limetheory.pipeline import class_scores, segment_for
from limetheory.data import PHOTOS
from limetheory.design_choice import pilot_covariances
from limetheory.kernel import weighted_law
from limetheory.nets.registry import load_cached
from limetheory.perturb import model_responses
from limetheory.sampling import DESIGNS, DesignSample, kernel_weights, paired_samples, weighted_samples
from limetheory.segmentation import replacement_image
from limetheory.stopping import StoppingRule, round_level, separated
from limetheory.surrogate import fit_weighted_ridge, predict_linear

WIDTHS = (0.25, 0.1)
TOLERANCES = (0.0, 0.1)
TOP_K = 5
MAX_CALLS = 10**6  # the settle prediction looks this far (beyond: reported as not settled)


def settle_calls(beta, v, d, tolerance, pilot_info=None) -> int | None:
    """First round size n of lime's auto schedule at which V / n separates the top-k of beta (None: never
    within MAX_CALLS). ``pilot_info``: (n_1, efficiency of the pilot's calls) for ``design="auto"``."""
    rule = StoppingRule(top_k=TOP_K, max_samples=MAX_CALLS, tolerance=tolerance)
    for r, n in enumerate(rule.schedule(d, d + 1), start=1):
        if pilot_info is None:
            n_eff = n
        else:  # round 1 is the pilot alone; later rounds add calls of the best design
            n_eff = n * pilot_info[1] if r == 1 else (n - pilot_info[0]) + pilot_info[0] * pilot_info[1]
        if separated(beta[None], (v / n_eff)[None], TOP_K, round_level(r, rule.confidence), tolerance)[0]:
            return int(n)
    return None


def image_rows(model, image_name, image, snet, args, rng) -> list:
    seg = segment_for(image, model)
    d = int(seg.max() + 1)
    target = int(np.argmax(snet.scores(np.asarray(image)[None], "prob")[0]))
    predict = class_scores(snet, target)
    rep = replacement_image(image, seg, None)

    def evaluate(z):
        return model_responses(predict, image, rep, seg, z, snet.batch_size, np.float32, False)[:, 0]  # the probability

    z_pairs = paired_samples(args.pairs, d, rng)
    y_pairs = evaluate(z_pairs)
    rows = []
    for nu in WIDTHS:
        z_w = weighted_samples(args.weighted, d, nu, rng, first_row_ones=False)
        y_w = evaluate(z_w)
        log_a0 = weighted_law(d, nu)[1]
        pairs = DesignSample(z_pairs, kernel_weights(z_pairs, nu), clusters=np.arange(args.pairs) // 2)
        weighted = DesignSample(z_w, np.ones(args.weighted))
        z = np.concatenate([z_pairs, z_w])
        y = np.concatenate([y_pairs, y_w])
        w = np.concatenate([pairs.weights * np.exp(-log_a0), weighted.weights])
        b0, b = fit_weighted_ridge(z, y, w, 0.0)
        resid = y - predict_linear(z, b0, b)[:, 0]
        covs = {k: v[0] for k, v in pilot_covariances(pairs, weighted, resid[: args.pairs], resid[args.pairs :],
                                                      log_a0, 0.0).items()}
        beta = b[0]
        order = np.argsort(-beta, kind="stable")
        gap = np.zeros(d)
        gap[order[TOP_K - 1]], gap[order[TOP_K]] = 1.0, -1.0
        trace = {k: float(np.trace(v)) for k, v in covs.items()}
        gap_var = {k: float(gap @ v @ gap) for k, v in covs.items()}
        best = min(DESIGNS, key=lambda k: trace[k])
        n1 = 10 * (d + 1)
        efficiency = 0.5 * trace[best] / trace["paired"] + 0.5 * trace[best] / trace["weighted"]
        settle = {f"{tol:g}": {**{k: settle_calls(beta, covs[k], d, tol) for k in DESIGNS},
                               "auto": settle_calls(beta, covs[best], d, tol, (n1, efficiency))}
                  for tol in TOLERANCES}
        rows.append({"model": model, "image": image_name, "d": d, "class": target, "kernel_width": nu,
                     "pilot_calls": args.pairs + args.weighted, "trace": trace, "gap_var": gap_var,
                     "calls_ratio_trace": {k: trace["iid"] / trace[k] for k in DESIGNS},
                     "calls_ratio_gap": {k: gap_var["iid"] / gap_var[k] for k in DESIGNS},
                     "auto_choice": best, "settle_calls": settle})
    return rows


def _quantiles(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{np.median(v):.2f} ({np.min(v):.2f}-{np.max(v):.2f})"


def summary(rows) -> list:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        for nu in WIDTHS:
            rs = [r for r in rows if r["model"] == model and r["kernel_width"] == nu]
            if not rs:
                continue
            row = {"model": model, "kernel_width": nu, "images": len(rs)}
            for k in DESIGNS[1:]:
                row[f"trace_{k}"] = [r["calls_ratio_trace"][k] for r in rs]
                row[f"gap_{k}"] = [r["calls_ratio_gap"][k] for r in rs]
            row["best_trace"] = [max(r["calls_ratio_trace"].values()) for r in rs]
            row["auto_choices"] = {k: sum(r["auto_choice"] == k for r in rs) for k in DESIGNS}
            for tol in TOLERANCES:
                key = f"{tol:g}"
                row[f"settle_{key}"] = {k: [r["settle_calls"][key][k] for r in rs] for k in DESIGNS + ("auto",)}
            out.append(row)
    return out


def _median_calls(calls) -> str:
    """Median of predicted settle calls, None (never within MAX_CALLS) counted as infinite."""
    v = np.array([np.inf if c is None else c for c in calls], dtype=float)
    med = np.median(v)
    never = int(np.sum(~np.isfinite(v)))
    return (f"{med:,.0f}" if np.isfinite(med) else f"> {MAX_CALLS:,}") + (f" ({never} never)" if never else "")


def markdown(rows, summ, meta) -> str:
    lines = ["# Sampling designs: model calls for the same standard error, relative to iid", "",
             f"Conditions: {meta['conditions']}", "",
             "Calls ratio = calls iid needs / calls the design needs for the same standard error (above 1: fewer "
             "calls than iid), from each image's pilot variance estimates; median (min-max) over the images. "
             "'best' is the best of the four designs per image (what design='auto' aims at).", "",
             "| model | width | images | paired (trace) | stratified (trace) | weighted (trace) | best (trace) "
             "| paired (top-5 gap) | stratified (top-5 gap) | weighted (top-5 gap) | auto picks |",
             "|---|---:|---:|---|---|---|---|---|---|---|---|"]
    for s in summ:
        picks = ", ".join(f"{k} {v}" for k, v in s["auto_choices"].items() if v)
        lines.append(f"| {s['model']} | {s['kernel_width']:g} | {s['images']} | "
                     + " | ".join(_quantiles(s[f"trace_{k}"]) for k in DESIGNS[1:])
                     + f" | {_quantiles(s['best_trace'])} | "
                     + " | ".join(_quantiles(s[f"gap_{k}"]) for k in DESIGNS[1:]) + f" | {picks} |")
    for tol in TOLERANCES:
        key = f"{tol:g}"
        lines += ["", f"Predicted calls for n_samples='auto' to settle the top 5 (tolerance {key}, confidence "
                  "0.95), median over the images (images never settled within "
                  f"{MAX_CALLS:,} calls counted as infinite):", "",
                  "| model | width | " + " | ".join(DESIGNS) + " | auto |", "|---|---:|" + "---:|" * 5]
        for s in summ:
            calls = s[f"settle_{key}"]
            lines.append(f"| {s['model']} | {s['kernel_width']:g} | "
                         + " | ".join(_median_calls(calls[k]) for k in DESIGNS + ("auto",)) + " |")
    lines += ["", "| model | image | d | width | paired | stratified | weighted (trace ratios) | gap: paired | "
              "stratified | weighted |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['image']} | {r['d']} | {r['kernel_width']:g} | "
                     + " | ".join(f"{r['calls_ratio_trace'][k]:.2f}" for k in DESIGNS[1:]) + " | "
                     + " | ".join(f"{r['calls_ratio_gap'][k]:.2f}" for k in DESIGNS[1:]) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 held-out image per small CNN, no photos, small pilot")
    parser.add_argument("--photos", type=int, default=3, help="bundled photos for EfficientNet-Lite0")
    parser.add_argument("--heldout", type=int, default=20, help="held-out images per small CNN")
    parser.add_argument("--pairs", type=int, default=600, help="paired Bernoulli pilot rows per image")
    parser.add_argument("--weighted", type=int, default=200, help="pi-weighted pilot rows per image and width")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.quick:
        args.photos, args.heldout, args.pairs, args.weighted = 0, 1, 200, 100
    models = (["shapes-cnn", "digits-cnn"] if args.heldout else []) + (["efficientnet-lite0"] if args.photos else [])
    rng = np.random.default_rng(0)
    rows, t0 = [], time.perf_counter()
    for model in models:
        snet = load_cached(model)
        for image_name, image in images_for(model, args):
            rows += image_rows(model, image_name, np.asarray(image), snet, args, rng)
            print(f"{time.perf_counter() - t0:7.0f}s {model} {image_name}", flush=True)
    summ = summary(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    conditions = (f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores shared with "
                  f"other jobs (load average {load:.1f} at the end); per image one pilot of {args.pairs} paired "
                  f"Bernoulli rows (shared by both widths) and {args.weighted} pi-weighted rows per width; "
                  f"EfficientNet-Lite0 on {args.photos} of the {len(PHOTOS)} bundled photos, {args.heldout} "
                  f"held-out images per small CNN; explained output: the top class's probability; mean-colour "
                  f"replacement; ridge 0; {time.perf_counter() - t0:.0f} s in all")
    meta = {"conditions": conditions, "pairs": args.pairs, "weighted": args.weighted, "photos": args.photos,
            "heldout": args.heldout}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_designs_quick" if args.quick else "bench_designs"
    text = json.dumps({"meta": meta, "summary": summ, "rows": rows}, indent=1)
    (out / f"{stem}.json").write_text(text)
    md = markdown(rows, summ, meta)
    (out / f"{stem}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
