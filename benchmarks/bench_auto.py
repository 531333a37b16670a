"""Benchmark: ``explain(n_samples="auto")`` against lime's fixed n = 1000.

For every image: two independent runs with ``n_samples="auto"`` (top_k = 5, confidence 0.95) and two
with n = 1000, lime's defaults otherwise (nu 0.25, ridge 1, mean-colour replacement, the top class's
probability). Reported: the model calls each auto run made (its samples), whether it settled and
after how many, and the run-to-run agreement of the top-5 sets (Jaccard index of the 5 largest
coefficients of the two runs) for auto and for n = 1000.

Images: the small CNNs' held-out images (shapes-cnn, digits-cnn; ``--heldout`` each) and, unless
``--no-efficientnet``, EfficientNet-Lite0 on the bundled photos (``--photos``). ``--max-samples``
caps auto (20000 by default, the API's default).

Writes results/bench_auto.json and results/bench_auto.md.
Usage: python benchmarks/bench_auto.py [--quick] [--heldout N] [--photos N] [--max-samples N]
                                       [--no-efficientnet] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import limetheory as lt
from limetheory.compare import segment_for
from limetheory.nets.scored import scored_net as load_scored_net
from limetheory.data import PHOTOS, load_photo
from limetheory.nets.small_cnn import load_heldout

TOP_K = 5
FIXED_N = 1000
SEEDS = (0, 1)


def _top(coef, k=TOP_K) -> set:
    return set(np.argsort(-np.asarray(coef), kind="stable")[:k].tolist())


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def image_row(model_name: str, image_name: str, image, snet, max_samples: int) -> dict:
    """Two auto runs and two fixed runs on one image."""
    image = np.asarray(image)
    seg = segment_for(image, model_name)
    target = int(np.argmax(snet.probabilities(image[None])[0]))
    predict = snet.predict_for(target)
    common = dict(segments=seg, labels=[0], batch_size=snet.batch_size, dtype=np.float32, progress=False)
    t0 = time.perf_counter()
    auto = [lt.explain(image, predict, n_samples="auto", top_k=TOP_K, max_samples=max_samples, seed=s, **common)
            for s in SEEDS]
    t_auto = time.perf_counter() - t0
    fixed = [lt.explain(image, predict, n_samples=FIXED_N, seed=100 + s, **common) for s in SEEDS]
    return {
        "model": model_name, "image": image_name, "d": int(seg.max() + 1), "class": target,
        "auto_samples": [int(e.n_samples) for e in auto],
        "auto_settled": [bool(e.settled) for e in auto],
        "auto_rounds": [int(e.n_rounds) for e in auto],
        "jaccard_auto": _jaccard(_top(auto[0].coef[0]), _top(auto[1].coef[0])),
        "jaccard_fixed": _jaccard(_top(fixed[0].coef[0]), _top(fixed[1].coef[0])),
        "seconds_auto": t_auto,
    }


def images_for(model_name: str, args):
    if model_name == "efficientnet-lite0":
        for name in list(PHOTOS)[: args.photos]:
            yield name, load_photo(name)
    else:
        images, _ = load_heldout(model_name.split("-")[0])
        for i in range(args.heldout):
            yield f"heldout {i}", images[i]


def summary(rows: list) -> list:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == model]
        calls = np.array([r["auto_samples"] for r in rs], dtype=float)
        settled = np.array([r["auto_settled"] for r in rs])
        out.append({
            "model": model, "images": len(rs),
            "mean_auto_calls": float(calls.mean()),
            "calls_ratio_fixed_over_auto": float(FIXED_N / calls.mean()),
            "settled_share": float(settled.mean()),
            "settled_within_1000": float(((calls <= FIXED_N) & settled).mean()),
            "jaccard_auto": float(np.mean([r["jaccard_auto"] for r in rs])),
            "jaccard_fixed": float(np.mean([r["jaccard_fixed"] for r in rs])),
            "needs_more_than_1000": [f"{r['image']} ({max(r['auto_samples'])}"
                                     f"{'' if all(r['auto_settled']) else ', not settled'})"
                                     for r in rs if max(r["auto_samples"]) > FIXED_N],
        })
    return out


def markdown(rows: list, summ: list, meta: dict) -> str:
    lines = [
        "# n_samples='auto' against a fixed n = 1000 (top-5, confidence 0.95)", "",
        f"{meta['machine']}; max_samples {meta['max_samples']}; two auto runs (seeds 0, 1) and two fixed "
        "runs (seeds 100, 101) per image; Jaccard: top-5 sets (5 largest coefficients) of the two runs.", "",
        "| model | images | mean model calls (auto) | 1000 / auto | settled | settled within 1000 | "
        "top-5 Jaccard auto | top-5 Jaccard n=1000 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summ:
        lines.append(f"| {s['model']} | {s['images']} | {s['mean_auto_calls']:.0f} | {s['calls_ratio_fixed_over_auto']:.2f}x "
                     f"| {s['settled_share']:.0%} | {s['settled_within_1000']:.0%} | {s['jaccard_auto']:.2f} "
                     f"| {s['jaccard_fixed']:.2f} |")
    lines += ["", "Images that needed more than 1000 samples (samples of the larger of the two runs):", ""]
    for s in summ:
        lines.append(f"- {s['model']}: {', '.join(s['needs_more_than_1000']) or 'none'}")
    lines += ["", "| model | image | d | auto samples | settled | rounds | Jaccard auto | Jaccard n=1000 |",
              "|---|---|---:|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['image']} | {r['d']} | {r['auto_samples']} | {r['auto_settled']} "
                     f"| {r['auto_rounds']} | {r['jaccard_auto']:.2f} | {r['jaccard_fixed']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 held-out images per small CNN, no EfficientNet")
    parser.add_argument("--heldout", type=int, default=20, help="held-out images per small CNN (0: none)")
    parser.add_argument("--photos", type=int, default=len(PHOTOS))
    parser.add_argument("--max-samples", type=int, default=20000)
    parser.add_argument("--no-efficientnet", action="store_true")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.quick:
        args.heldout, args.no_efficientnet, args.max_samples = 2, True, 2000
    models = (["shapes-cnn", "digits-cnn"] if args.heldout > 0 else []) + (
        [] if args.no_efficientnet else ["efficientnet-lite0"])
    rows = []
    for model_name in models:
        snet = load_scored_net(model_name)
        for image_name, image in images_for(model_name, args):
            rows.append(image_row(model_name, image_name, image, snet, args.max_samples))
            print(json.dumps(rows[-1]), flush=True)
    summ = summary(rows)
    meta = {"machine": f"{platform.machine()}, {platform.python_version()}, {__import__('os').cpu_count()} cores",
            "max_samples": args.max_samples}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_auto_quick" if args.quick else "bench_auto"
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "summary": summ, "rows": rows}, indent=1))
    (out / f"{stem}.md").write_text(markdown(rows, summ, meta))
    print(markdown(rows, summ, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
