"""Benchmark: integrated gradients on a 224x224 image, and LIME-IG agreement on smooth models.

Part 1, cost. IG costs about ``n_steps`` forward+backward passes (batched ``internal_batch_size``
at a time) plus two forward passes. For a small JAX CNN (written here) and, when it loads, the
pretrained EfficientNet-Lite0 of ``limetheory.nets``: wall time of one forward+backward pass
(batch of 1, for scale), and of ``integrated_gradients`` for n_steps = 20 and 50, several
internal batch sizes, float32 / float64; the first call (compile + run) is reported apart from
the steady state (best of ``--repeat``). CPU only; the machine's cores are shared: noisy.

Part 2, agreement (docs/theory/lime_and_ig.md). Exact LIME limit (enumeration of {0,1}^12, nu = 0.25)
against the IG superpixel sums (baseline: LIME's replacement image, 32-point Gauss-Legendre) on
a 12x12 RGB image with a 3x4 grid: a logistic of a linear score swept in temperature, a random
tanh MLP and a small tanh CNN swept in input scale. Reports ||beta - s|| / ||s||, Spearman,
Kendall, top-3 / top-5 Jaccard. With ``--lime-photo`` also empirical LIME (mean of 5 runs,
n = 1000, as in the paper) against the 20-step trapezoid IG sum on EfficientNet-Lite0 for a
bundled photo (the paper's protocol).

Writes results/bench_gradients.json and results/bench_gradients.md.
Usage: python benchmarks/bench_gradients.py [--quick] [--repeat R] [--no-efficientnet]
       [--lime-photo] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from limetheory import data, segment
from limetheory.compare import CompareSettings, compare_empirical, compare_limit
from limetheory.files import write_text
from limetheory.gradients import integrated_gradients
from limetheory.segmentation import grid, replacement_image


# --------------------------------------------------------------------------- models
def small_cnn(seed: int = 0, n_classes: int = 10, activation=jax.nn.relu):
    """Three 3x3 stride-2 convolutions (3->16->32->64), global average, dense: ~0.1 GFLOP."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 3, 3, 16), (3, 3, 16, 32), (3, 3, 32, 64)]
    kernels = [jnp.asarray(rng.normal(size=s) / np.sqrt(np.prod(s[:3])), jnp.float32) for s in shapes]
    dense = jnp.asarray(rng.normal(size=(64, n_classes)) / 8, jnp.float32)

    def logits(image):
        h = (image / 255.0 - 0.5)[None]
        for k in kernels:
            k = k.astype(h.dtype)
            h = jax.lax.conv_general_dilated(h, k, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = activation(h)
        return jnp.mean(h, axis=(0, 1, 2)) @ dense.astype(h.dtype)

    return logits


def load_efficientnet():
    from limetheory import nets

    return nets.load("efficientnet-lite0")


# --------------------------------------------------------------------------- timing
def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_forward_backward(f, x, target, dtype, repeat):
    """One forward+backward pass (batch 1), jit-compiled: the unit IG's cost is counted in.

    Best of ``3 * repeat`` (cheap, and the unit every IG time is divided by)."""
    with jax.enable_x64(dtype == "float64"):
        g = jax.jit(jax.grad(lambda im: f(im)[target]))
        xj = jnp.asarray(x, dtype=jnp.float64 if dtype == "float64" else jnp.float32)
        g(xj).block_until_ready()
        return _best(lambda: g(xj).block_until_ready(), 3 * repeat)


def time_ig(model_name, f, x, baseline, target, cells, repeat):
    rows = []
    for dtype in sorted({c[2] for c in cells}):
        fb = time_forward_backward(f, x, target, dtype, repeat)
        rows.append({"model": model_name, "what": "forward+backward", "dtype": dtype, "seconds": fb})
        print(f"{model_name:20s} forward+backward {dtype}: {fb * 1e3:.1f} ms", flush=True)
    for n_steps, batch, dtype in cells:
        kw = dict(n_steps=n_steps, method="riemann_trapezoid", target=target, internal_batch_size=batch, dtype=dtype)
        t0 = time.perf_counter()
        res = integrated_gradients(f, x, baseline, **kw)
        first = time.perf_counter() - t0
        steady = _best(lambda: integrated_gradients(f, x, baseline, **kw), repeat)
        fb = next(r["seconds"] for r in rows if r["what"] == "forward+backward" and r["dtype"] == dtype)
        row = {
            "model": model_name,
            "what": "integrated_gradients",
            "n_steps": n_steps,
            "internal_batch_size": batch,
            "dtype": dtype,
            "first_call_s": first,
            "seconds": steady,
            "passes_equivalent": steady / fb,
            "completeness_gap": res.completeness_gap,
            "relative_gap": res.relative_gap(),
        }
        rows.append(row)
        print(
            f"{model_name:20s} IG n={n_steps:3d} batch={batch:3d} {dtype}: first {first:6.2f} s, "
            f"steady {steady:6.2f} s (= {steady / fb:5.1f} fwd+bwd), gap {res.completeness_gap:+.2e}",
            flush=True,
        )
    return rows


def convergence(model_name, f, x, baseline, target, steps, dtype):
    """Completeness gap against n_steps for the trapezoid rule and Gauss-Legendre."""
    rows = []
    for method in ("riemann_trapezoid", "gausslegendre"):
        for n in steps:
            r = integrated_gradients(f, x, baseline, n_steps=n, method=method, target=target, dtype=dtype)
            rows.append(
                {
                    "model": model_name,
                    "method": method,
                    "n_steps": n,
                    "dtype": dtype,
                    "f_x": r.f_x,
                    "f_baseline": r.f_baseline,
                    "completeness_gap": r.completeness_gap,
                    "relative_gap": r.relative_gap(),
                }
            )
            print(f"{model_name:20s} {method:18s} n={n:4d}: gap {r.completeness_gap:+.2e} ({r.relative_gap():.1e})", flush=True)
    return rows


# --------------------------------------------------------------------------- agreement
def agreement_rows(quick: bool):
    rng = np.random.default_rng(20210607)
    img = rng.uniform(0.0, 1.0, size=(12, 12, 3))
    seg = grid(img.shape, 3, 4)
    with jax.enable_x64(True):
        w = jnp.asarray(rng.normal(size=img.shape) / np.sqrt(img.size))
        w1 = jnp.asarray(rng.normal(size=(img.size, 16)) / np.sqrt(img.size))
        w2 = jnp.asarray(rng.normal(size=16) / 4)
        k1 = jnp.asarray(rng.normal(size=(3, 3, 3, 4)) / 3)
        v = jnp.asarray(rng.normal(size=(4,)))

    def logistic(t):
        return lambda im: jax.nn.sigmoid(t * jnp.sum(w * (im - 0.5)) + 0.3) / t

    def mlp(a):
        return lambda im: jnp.dot(jnp.tanh(a * (jnp.ravel(im) - 0.5) @ w1), w2) / a

    def cnn(a):
        def f(im):
            h = jax.lax.conv_general_dilated(
                (a * (im - 0.5))[None], k1, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            return jnp.dot(jnp.mean(jnp.tanh(h), axis=(0, 1, 2)), v) / a

        return f

    sweeps = {
        "logistic (temperature)": (logistic, (0.01, 0.3, 1, 2, 4, 8, 16)),
        "tanh MLP 432-16-1 (input scale)": (mlp, (0.01, 0.3, 1, 2, 4, 8, 16)),
        "tanh CNN 3x3x4 (input scale)": (cnn, (0.05, 1, 4, 8, 16)),
    }
    rows = []
    for name, (make, params) in sweeps.items():
        for p in params[:3] if quick else params:
            c = compare_limit(img, make(p), seg, settings=CompareSettings(n_steps=32, ks=(3, 5)))
            rows.append(
                {
                    "model": name,
                    "parameter": p,
                    "relative_error": c.relative_error,
                    "spearman": c.spearman,
                    "kendall": c.kendall,
                    "jaccard_top3": c.jaccard[3],
                    "jaccard_top5": c.jaccard[5],
                    "ig_completeness_gap": c.ig.completeness_gap,
                }
            )
            print(f"{name:32s} {p:6g}: rel {c.relative_error:.2e} rho {c.spearman:.3f} J3 {c.jaccard[3]:.2f}", flush=True)
    return rows


def photo_agreement(clf, photo: str, n_runs: int, n_samples: int):
    """The paper's protocol on a real network: empirical LIME (mean of runs) vs 20-step trapezoid IG."""
    img = data.load_photo(photo, clf.input_size).astype(np.float64)
    seg = segment(img)
    probs = clf.predict(img[None])[0]
    target = int(np.argmax(probs))

    def prob(im):
        return jax.nn.softmax(clf.logits(im))

    t0 = time.perf_counter()
    settings = CompareSettings(n_samples=n_samples, n_runs=n_runs, n_steps=20, method="riemann_trapezoid",
                               ks=(5, 10), batch_size=32, dtype="float32")
    c = compare_empirical(img, prob, seg, target=target, settings=settings, seed=0)
    return {
        "photo": photo,
        "class": clf.class_names[target],
        "d": c.d,
        "n_runs": n_runs,
        "n_samples": n_samples,
        "spearman": c.spearman,
        "kendall": c.kendall,
        "jaccard_top5": c.jaccard.get(5),
        "jaccard_top10": c.jaccard.get(10),
        "relative_error": c.relative_error,
        "ig_relative_gap": c.ig.relative_gap(),
        "seconds": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------- report
def markdown(result) -> str:
    lines = [
        "# Integrated gradients: cost and agreement with LIME",
        "",
        f"Machine: {result['machine']}. CPU, shared cores: timings are noisy (best of {result['repeat']}).",
        "",
        f"## Cost of IG on a 224x224x3 image ({result['image']}; trapezoid rule; every rule costs the same)",
        "",
        "First call = compile + run, unless the same chunk shape was compiled by an earlier row.",
        "",
        "| model | n_steps | internal batch | dtype | first call (s) | steady (s) | = fwd+bwd passes | relative completeness gap |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in result["timings"]:
        if r["what"] != "integrated_gradients":
            continue
        lines.append(
            f"| {r['model']} | {r['n_steps']} | {r['internal_batch_size']} | {r['dtype']} | {r['first_call_s']:.2f} "
            f"| {r['seconds']:.2f} | {r['passes_equivalent']:.1f} | {r['relative_gap']:.1e} |"
        )
    lines += ["", "One forward+backward pass (batch 1):", ""]
    for r in result["timings"]:
        if r["what"] == "forward+backward":
            lines.append(f"- {r['model']}, {r['dtype']}: {r['seconds'] * 1e3:.1f} ms")
    lines += [
        "",
        "## Completeness gap sum(IG) - (f(x) - f(baseline)) against n_steps (explained logit)",
        "",
        "| model | dtype | f(x) - f(baseline) | method | " + " | ".join(f"n={n}" for n in sorted({r["n_steps"] for r in result["convergence"]})) + " |",
        "|---|---|---:|---|" + "---:|" * len({r["n_steps"] for r in result["convergence"]}),
    ]
    keys = []
    for r in result["convergence"]:
        if (r["model"], r["method"]) not in keys:
            keys.append((r["model"], r["method"]))
    for model, method in keys:
        rs = [r for r in result["convergence"] if r["model"] == model and r["method"] == method]
        lines.append(
            f"| {model} | {rs[0]['dtype']} | {rs[0]['f_x'] - rs[0]['f_baseline']:.3g} | {method} | "
            + " | ".join(f"{r['completeness_gap']:.1e}" for r in rs)
            + " |"
        )
    lines += [
        "",
        "## Exact LIME limit vs IG superpixel sums (12x12 image, 3x4 grid, d = 12, nu = 0.25)",
        "",
        "| model | parameter | ‖β − s‖/‖s‖ | Spearman | Kendall | Jaccard top-3 | Jaccard top-5 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["agreement"]:
        lines.append(
            f"| {r['model']} | {r['parameter']:g} | {r['relative_error']:.2e} | {r['spearman']:.3f} "
            f"| {r['kendall']:.3f} | {r['jaccard_top3']:.2f} | {r['jaccard_top5']:.2f} |"
        )
    if result.get("photo_agreement"):
        lines += [
            "",
            "## EfficientNet-Lite0, empirical LIME (mean of runs) vs 20-step trapezoid IG sums (probability of the top class)",
            "",
            "| photo | class | d | runs x n | Spearman | Jaccard top-5 | Jaccard top-10 | seconds |",
            "|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for r in result["photo_agreement"]:
            lines.append(
                f"| {r['photo']} | {r['class']} | {r['d']} | {r['n_runs']} x {r['n_samples']} | {r['spearman']:.3f} "
                f"| {r['jaccard_top5']:.2f} | {r['jaccard_top10']:.2f} | {r['seconds']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few cells, for a smoke test")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-efficientnet", action="store_true")
    ap.add_argument("--lime-photo", action="append", default=[], help="photo(s) for the paper's protocol")
    ap.add_argument("--out", default="results")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat

    # the image LIME and IG explain: a bundled photo, LIME's default segmentation, its replacement image
    x = data.load_photo("chelsea", 224).astype(np.float64)
    baseline = replacement_image(x, segment(x))
    if args.quick:
        cells, steps = [(20, 10, "float32")], (10, 20)
    else:
        cells = [(n, b, dt) for dt in ("float32", "float64") for n in (20, 50) for b in (1, 10, n)]
        steps = (5, 10, 20, 50, 100)
    timings = time_ig("small CNN (JAX)", small_cnn(), x, baseline, 0, cells, repeat)
    conv = convergence("small tanh CNN (JAX)", small_cnn(activation=jnp.tanh), x, baseline, 0, steps, "float64")

    clf, photo_rows = None, []
    if not args.no_efficientnet:
        try:
            clf = load_efficientnet()
        except Exception as exc:  # not there yet, or weights missing
            print(f"EfficientNet-Lite0 not available: {exc}")
    if clf is not None:
        target = int(np.argmax(clf.predict(x[None])[0]))
        net_cells = [(20, 10, "float32")] if args.quick else [(n, b, "float32") for n in (20, 50) for b in (5, 10)]
        net_cells += [] if args.quick else [(20, 10, "float64")]
        timings += time_ig("EfficientNet-Lite0", clf.logits, x, baseline, target, net_cells, repeat)
        conv += convergence("EfficientNet-Lite0", clf.logits, x, baseline, target, steps, "float32")
        for photo in args.lime_photo:
            photo_rows.append(photo_agreement(clf, photo, n_runs=5, n_samples=1000))
            print(photo_rows[-1], flush=True)

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}",
        "repeat": repeat,
        "quick": args.quick,
        "image": "chelsea 224x224 (bundled photo), baseline: LIME's replacement image, quickshift superpixels",
        "timings": timings,
        "convergence": conv,
        "agreement": agreement_rows(args.quick),
        "photo_agreement": photo_rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "bench_gradients.json", json.dumps(result, indent=2))
    write_text(out / "bench_gradients.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
