"""Benchmark: ``explain(n_samples="auto")`` against lime's fixed n = 1000.

For every image and every ``--tolerance`` (the indifference zone of :mod:`limetheory.stopping`; 0 is
the exact rule): two independent runs with ``n_samples="auto"`` (top_k = 5, confidence 0.95); and
two with n = 1000; lime's defaults otherwise (nu 0.25, ridge 1, mean-colour replacement, the top
class's probability). Reported: the model calls each auto run made (its samples), whether it settled
and after how many rounds, and the run-to-run agreement of the top-5 sets (Jaccard index of the 5
largest coefficients of the two runs) for auto and for n = 1000.

Images: the small CNNs' held-out images (shapes-cnn, digits-cnn; ``--heldout`` each) and, unless
``--no-efficientnet``, EfficientNet-Lite0 on the bundled photos (``--photos``). ``--max-samples``
caps auto (20000 by default, the API's default).

Writes DIR/NAME.json and DIR/NAME.md (default results/bench_auto.*).
Usage: python benchmarks/bench_auto.py [--quick] [--heldout N] [--photos N] [--max-samples N]
                                       [--tolerance T [T ...]] [--no-efficientnet] [--out DIR] [--name NAME]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import limetheory as lt
from limetheory.pipeline import class_scores, segment_for
from limetheory.nets import load_cached as load_scored_net
from limetheory.data import PHOTOS, load_photo
from limetheory.files import write_text
from limetheory.nets.small_cnn import load_heldout
from limetheory.stopping import StoppingRule

TOP_K = 5
FIXED_N = 1000
SEEDS = (0, 1)


def _top(coef, k=TOP_K) -> set:
    return set(np.argsort(-np.asarray(coef), kind="stable")[:k].tolist())


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def image_row(model_name: str, image_name: str, image, snet, max_samples: int, tolerances) -> dict:
    """Two auto runs per tolerance and two fixed runs on one image."""
    image = np.asarray(image)
    seg = segment_for(image, model_name)
    target = int(np.argmax(snet.scores(image[None], "prob")[0]))
    predict = class_scores(snet, target)
    common = dict(segments=seg, labels=[0], batch_size=snet.batch_size, dtype=np.float32, progress=False)
    fixed = [lt.explain(image, predict, n_samples=FIXED_N, seed=100 + s, **common) for s in SEEDS]
    row = {"model": model_name, "image": image_name, "d": int(seg.max() + 1), "class": target,
           "jaccard_fixed": _jaccard(_top(fixed[0].coef[0]), _top(fixed[1].coef[0])), "auto": {}}
    for tol in tolerances:
        t0 = time.perf_counter()
        rule = StoppingRule(top_k=TOP_K, max_samples=max_samples, tolerance=tol)
        auto = [lt.explain(image, predict, n_samples=rule, seed=s, **common) for s in SEEDS]
        row["auto"][f"{tol:g}"] = {
            "samples": [int(e.n_samples) for e in auto],
            "settled": [bool(e.settled) for e in auto],
            "rounds": [int(e.n_rounds) for e in auto],
            "jaccard": _jaccard(_top(auto[0].coef[0]), _top(auto[1].coef[0])),
            "seconds": time.perf_counter() - t0,
        }
    return row


def images_for(model_name: str, args):
    if model_name == "efficientnet-lite0":
        for name in list(PHOTOS)[: args.photos]:
            yield name, load_photo(name)
    else:
        images, _ = load_heldout(model_name.split("-")[0])
        for i in range(args.heldout):
            yield f"heldout {i}", images[i]


def summary(rows: list) -> list:
    """Per model and tolerance: mean model calls of auto, their ratio to 1000, settled shares, Jaccards."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == model]
        for tol in rs[0]["auto"]:
            runs = [r["auto"][tol] for r in rs]
            calls = np.array([a["samples"] for a in runs], dtype=float)
            settled = np.array([a["settled"] for a in runs])
            out.append({
                "model": model, "tolerance": float(tol), "images": len(rs),
                "mean_auto_calls": float(calls.mean()),
                "calls_ratio_fixed_over_auto": float(FIXED_N / calls.mean()),
                "settled_share": float(settled.mean()),
                "settled_within_1000": float(((calls <= FIXED_N) & settled).mean()),
                "jaccard_auto": float(np.mean([a["jaccard"] for a in runs])),
                "jaccard_fixed": float(np.mean([r["jaccard_fixed"] for r in rs])),
                "needs_more_than_1000": [f"{r['image']} ({max(a['samples'])}"
                                         f"{'' if all(a['settled']) else ', not settled'})"
                                         for r, a in zip(rs, runs) if max(a["samples"]) > FIXED_N],
            })
    return out


def markdown(rows: list, summ: list, meta: dict) -> str:
    lines = [
        "# n_samples='auto' against a fixed n = 1000 (top-5, confidence 0.95)", "",
        f"{meta['machine']}; max_samples {meta['max_samples']}; per image and tolerance two auto runs (seeds 0, 1), "
        "and two fixed runs (seeds 100, 101); Jaccard: top-5 sets (5 largest coefficients) of the two runs. "
        "Tolerance: the indifference zone of limetheory.stopping as a fraction of the largest coefficient "
        "(0: the exact rule).", "",
        "| model | tolerance | images | mean model calls (auto) | 1000 / auto | settled | settled within 1000 | "
        "top-5 Jaccard auto | top-5 Jaccard n=1000 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summ:
        lines.append(f"| {s['model']} | {s['tolerance']:g} | {s['images']} | {s['mean_auto_calls']:.0f} "
                     f"| {s['calls_ratio_fixed_over_auto']:.2f}x | {s['settled_share']:.0%} "
                     f"| {s['settled_within_1000']:.0%} | {s['jaccard_auto']:.2f} | {s['jaccard_fixed']:.2f} |")
    lines += ["", "Images that needed more than 1000 samples (samples of the larger of the two runs):", ""]
    for s in summ:
        lines.append(f"- {s['model']}, tolerance {s['tolerance']:g} ({len(s['needs_more_than_1000'])} of "
                     f"{s['images']}): {', '.join(s['needs_more_than_1000']) or 'none'}")
    lines += ["", "| model | image | d | tolerance | auto samples | settled | rounds | Jaccard auto | Jaccard n=1000 |",
              "|---|---|---:|---:|---|---|---|---:|---:|"]
    for r in rows:
        for tol, a in r["auto"].items():
            lines.append(f"| {r['model']} | {r['image']} | {r['d']} | {tol} | {a['samples']} | {a['settled']} "
                         f"| {a['rounds']} | {a['jaccard']:.2f} | {r['jaccard_fixed']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 held-out images per small CNN, no EfficientNet")
    parser.add_argument("--heldout", type=int, default=20, help="held-out images per small CNN (0: none)")
    parser.add_argument("--photos", type=int, default=len(PHOTOS))
    parser.add_argument("--max-samples", type=int, default=20000)
    parser.add_argument("--tolerance", type=float, nargs="+", default=[0.0],
                        help="indifference zone(s) of auto, fractions of the largest coefficient (0: exact rule)")
    parser.add_argument("--no-efficientnet", action="store_true")
    parser.add_argument("--out", default="results")
    parser.add_argument("--name", default="bench_auto", help="stem of the result files")
    args = parser.parse_args(argv)
    if args.quick:
        args.heldout, args.no_efficientnet, args.max_samples = 2, True, 2000
    models = (["shapes-cnn", "digits-cnn"] if args.heldout > 0 else []) + (
        [] if args.no_efficientnet else ["efficientnet-lite0"])
    rows = []
    for model_name in models:
        snet = load_scored_net(model_name)
        for image_name, image in images_for(model_name, args):
            rows.append(image_row(model_name, image_name, image, snet, args.max_samples, args.tolerance))
            print(json.dumps(rows[-1]), flush=True)
    summ = summary(rows)
    meta = {"machine": f"{platform.machine()}, {platform.python_version()}, {__import__('os').cpu_count()} cores",
            "max_samples": args.max_samples, "tolerances": args.tolerance}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.name}_quick" if args.quick else args.name
    text = json.dumps({"meta": meta, "summary": summ, "rows": rows}, indent=1)
    write_text(out / f"{stem}.json", text)
    write_text(out / f"{stem}.md", markdown(rows, summ, meta))
    print(markdown(rows, summ, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
