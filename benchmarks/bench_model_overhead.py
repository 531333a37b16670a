"""What LIME adds to a real network's own cost: ``explain`` with default settings against the
model's forward passes alone, EfficientNet-Lite0 (JAX, CPU).

Usage::

    python benchmarks/bench_model_overhead.py             # n = 1000, coffee and chelsea, 3 rounds
    python benchmarks/bench_model_overhead.py --quick     # n = 64, one photo, one round (smoke test)

For each photo: quickshift superpixels (computed once, outside the timings), then ``rounds`` runs
of ``limetheory.explain(image, net, segments=..., n_samples=n, seed=0)`` with every other setting
at its default (the Classifier's own batch size and image dtype, no progress bar). Each run is
timed as a whole (``explain_s``) and, inside it, the time spent in the network's ``predict``
(``forward_s``: the model's own forward passes over the same n images, in the same batches).
``ratio = explain_s / forward_s`` comes from one run, so a change in the machine's load (this
machine is shared) scales both alike; the median over rounds is reported (target <= 1.05). For
reference, ``standalone_forward_s`` times ``predict`` alone on n images built beforehand.

Written atomically to ``OUT/bench_model_overhead.md`` and ``.json`` (``_quick`` with --quick),
with the load average.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import limetheory as lt
from limetheory.data import load_photo
from limetheory.files import write_text
from limetheory.nets import load
from limetheory.perturb import perturb_batch
from limetheory.segmentation import replacement_image

PHOTOS_FULL = ("coffee", "chelsea")


def _batch_size(net) -> int:
    return int(net.batch_size or net.info.get("batch_size") or 32)


def _forward(net, images: np.ndarray, n: int) -> None:
    """``net.predict`` on n images, ``batch_size`` at a time, cycling through ``images``."""
    bs = images.shape[0]
    for start in range(0, n, bs):
        net.predict(images[: min(bs, n - start)])


def run_photo(net, name: str, n: int, rounds: int) -> dict:
    image = load_photo(name)
    seg = lt.segment(image)
    bs = _batch_size(net)
    rep = replacement_image(image, seg)
    z = np.random.default_rng(0).integers(0, 2, size=(bs, int(seg.max()) + 1))
    images = perturb_batch(image, rep, seg, z, dtype=np.float32)
    inside = []

    def timed_predict(x):
        t0 = time.perf_counter()
        out = net.predict(x)
        inside.append(time.perf_counter() - t0)
        return out

    timed = dataclasses.replace(net, predict=timed_predict)  # still a Classifier: explain's defaults apply

    def run_explain() -> tuple:
        inside.clear()
        t0 = time.perf_counter()
        lt.explain(image, timed, segments=seg, n_samples=n, seed=0, progress=False)
        return time.perf_counter() - t0, sum(inside)

    run_explain()  # warm-up: compiles every batch shape explain sends
    runs = [run_explain() for _ in range(rounds)]
    t0 = time.perf_counter()
    _forward(net, images, n)
    standalone = time.perf_counter() - t0
    ratios = [e / f for e, f in runs]
    best = int(np.argsort(ratios)[len(ratios) // 2])  # the median round
    return {"image": name, "d": int(seg.max()) + 1, "n": n, "batch_size": bs, "explain_s": runs[best][0],
            "forward_s": runs[best][1], "ratio": float(np.median(ratios)), "ratios": ratios,
            "standalone_forward_s": standalone}


def to_markdown(rows: list, meta: dict) -> str:
    lines = ["| image | d | n | batch | explain (s) | its forward passes (s) | explain / forward | "
             "forward alone, outside explain (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['d']} | {r['n']} | {r['batch_size']} | {r['explain_s']:.2f} | "
                     f"{r['forward_s']:.2f} | {r['ratio']:.3f}x | {r['standalone_forward_s']:.2f} |")
    lines.append("")
    lines.append(f"EfficientNet-Lite0 (JAX) on {meta['backend']}, {meta['cpus']} CPU(s), median of {meta['rounds']} "
                 f"rounds; load average before/after: {meta['load_before']} / {meta['load_after']}.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 64, one photo, one round (smoke test)")
    parser.add_argument("--out", default="results", help="folder for bench_model_overhead.md/.json")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import jax

    net = load("efficientnet-lite0")
    photos, n, rounds = (("coffee",), 64, 1) if args.quick else (PHOTOS_FULL, 1000, args.rounds)
    load_before = [round(v, 2) for v in os.getloadavg()]
    rows = [run_photo(net, name, n, rounds) for name in photos]
    meta = {"machine": platform.platform(), "python": platform.python_version(), "backend": jax.default_backend(),
            "cpus": os.cpu_count(), "rounds": rounds, "load_before": load_before,
            "load_after": [round(v, 2) for v in os.getloadavg()]}
    stem = "bench_model_overhead_quick" if args.quick else "bench_model_overhead"
    out = Path(args.out)
    write_text(out / f"{stem}.json", json.dumps({"meta": meta, "rows": rows}, indent=2))
    text = to_markdown(rows, meta)
    write_text(out / f"{stem}.md", text)
    print(text)
    return rows


if __name__ == "__main__":
    main()
