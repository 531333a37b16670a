"""Benchmark: lime 0.2.0.1's explain_instance against limetheory on the same problems.

Same 224x224 photos (float64 in [0, 255], as resized by scikit-image with preserve_range),
the same quickshift segmentation (lime's defaults), a near-free classifier so that the
explainer's own overhead dominates, n = 1000 / 2000 / 5000. For each cell: wall time of lime,
of ``limetheory.compat.lime_explain`` (same random stream, same result), of
``limetheory.explain``, and of the fused JAX path (perturbation + model in one jit), plus the
peak traced memory of ``limetheory.explain``. Also the floor: writing the n float64 images once.

Writes results/bench_explain.json and results/bench_explain.md. A full run with lime also checks the
README's claim (``explain`` at least MIN_SPEEDUP times faster than lime in every cell): the result
files record it under "claim", and the script exits with status 1 and says which cells miss it.

``--busy`` runs the cells with one competing busy process (a Python loop spinning one core) and writes
results/bench_explain_busy.*: explain's small dense algebra runs with one BLAS thread
(:mod:`limetheory.threads`), so BLAS threads do not fight over the cores. Each row also times the
standard errors' algebra alone: one (d + 1)^2 ``eigh`` with the default BLAS threads (how it was
done before) against the Cholesky solve with one thread (how it is done). ``--cells`` picks cells,
e.g. ``--cells astronaut:2000``. The goals are explain within GOAL_FLOOR x of the floor and at least
GOAL_LIME x faster than lime, quiet and busy.
Usage: python benchmarks/bench_explain.py [--quick] [--no-lime] [--busy] [--cells NAME:N ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from skimage import data as skdata
from skimage.transform import resize

import limetheory as lt
from limetheory.compat import lime_explain
from limetheory.files import write_text
from limetheory.perturb import auto_batch_size

from _timing import peak_memory, timed

CELLS = [("chelsea", 1000), ("chelsea", 5000), ("astronaut", 2000), ("astronaut", 5000)]
QUICK_CELLS = [("chelsea", 200)]
MIN_SPEEDUP = 10.0  # README: "`explain` is 10-16x faster than lime in every cell"
GOAL_FLOOR = 2.0  # explain / floor
GOAL_LIME = 15.0  # lime / explain


@contextmanager
def busy_process(on: bool):
    """One competing process spinning a core for the duration of the block (nothing when ``on`` is False)."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def algebra_times(seg, n: int, repeat: int) -> dict:
    """The standard errors' (d + 1)^2 algebra alone: eigh with the default BLAS threads against the
    Cholesky solve of :mod:`limetheory.surrogate` with one thread, on a Hessian of n Bernoulli samples."""
    from limetheory.sampling import draw_design
    from limetheory.surrogate import cholesky_or_none, hessian
    from limetheory.threads import single_blas_thread

    d = int(seg.max() + 1)
    s = draw_design("iid", n, d, 0.25, np.random.default_rng(0))
    h = hessian(s.z, s.weights, 1.0)
    x = np.hstack([np.ones((n, 1)), s.z])

    def eigh_default():
        val, vec = np.linalg.eigh(h)
        return x @ ((vec / val) @ vec.T)

    def cholesky_one_thread():
        import scipy.linalg

        with single_blas_thread():
            return scipy.linalg.cho_solve(cholesky_or_none(h), x.T).T

    return {"eigh_default_threads_s": timed(eigh_default, repeat), "cholesky_one_thread_s": timed(cholesky_one_thread, repeat)}


def photo(name: str, size: int) -> np.ndarray:
    return resize(getattr(skdata, name)(), (size, size), preserve_range=True, anti_aliasing=True)


def near_free_classifier(images):
    """Two class scores from a strided mean colour: microseconds per image."""
    m = np.asarray(images)[:, ::32, ::32].mean(axis=(1, 2, 3)) / 255.0
    return np.stack([m, 1.0 - m], axis=1)


def jax_near_free_classifier(images):
    import jax.numpy as jnp

    m = images[:, ::32, ::32].mean(axis=(1, 2, 3)) / 255.0
    return jnp.stack([m, 1.0 - m], axis=1)


def write_floor(image, n, batch_size):
    for start in range(0, n, batch_size):
        out = np.empty((min(batch_size, n - start),) + image.shape)
        out[...] = image


def run_cell(name: str, n: int, size: int, with_lime: bool, repeat: int) -> dict:
    from lime import lime_image

    img = photo(name, size)
    seg = lt.segment(img)
    d = int(seg.max() + 1)
    row = {"image": name, "size": size, "d": d, "n": n}
    kw = dict(segments=seg, n_samples=n, top_labels=1)
    if with_lime:
        explainer = lime_image.LimeImageExplainer(random_state=0)
        run_lime = lambda: explainer.explain_instance(
            img, near_free_classifier, segmentation_fn=lambda _: seg, top_labels=1, num_samples=n, batch_size=10
        )
        import contextlib, io

        with contextlib.redirect_stderr(io.StringIO()):
            row["lime_s"] = timed(run_lime)
    row["compat_s"] = timed(lambda: lime_explain(img, near_free_classifier, random_state=0, **kw), repeat)
    row["explain_s"] = timed(lambda: lt.explain(img, near_free_classifier, seed=0, progress=False, **kw), repeat)
    lt.explain(img, jax_near_free_classifier, seed=0, fused=True, **kw)  # compile once
    row["fused_jax_s"] = timed(lambda: lt.explain(img, jax_near_free_classifier, seed=0, fused=True, **kw), repeat)
    row["floor_s"] = timed(lambda: write_floor(img, n, auto_batch_size(img.shape)), repeat)
    row["explain_peak_mib"] = peak_memory(lambda: lt.explain(img, near_free_classifier, seed=0, progress=False, **kw))
    row.update(algebra_times(seg, n, repeat))
    row["explain_over_floor"] = row["explain_s"] / row["floor_s"]
    if with_lime:
        row["speedup_compat"] = row["lime_s"] / row["compat_s"]
        row["speedup_explain"] = row["lime_s"] / row["explain_s"]
    return row


def to_markdown(rows: list[dict]) -> str:
    head = ("| image | d | n | lime (s) | compat (s) | explain (s) | fused JAX (s) | floor (s) | lime / explain "
            "| explain / floor | peak MiB | eigh, default threads (ms) | Cholesky, 1 thread (ms) |\n")
    head += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        lines.append(
            f"| {r['image']} | {r['d']} | {r['n']} | {r.get('lime_s', float('nan')):.2f} | {r['compat_s']:.2f} | "
            f"{r['explain_s']:.2f} | {r['fused_jax_s']:.2f} | {r['floor_s']:.2f} | "
            f"{r.get('speedup_explain', float('nan')):.1f}x | {r['explain_s'] / r['floor_s']:.2f}x | "
            f"{r['explain_peak_mib']:.0f} | {1e3 * r.get('eigh_default_threads_s', float('nan')):.1f} | "
            f"{1e3 * r.get('cholesky_one_thread_s', float('nan')):.1f} |"
        )
    return head + "\n".join(lines) + "\n"


def check_claim(rows: list[dict], checked: bool) -> dict:
    """The README's speed claim on these rows: ``met`` is True when every cell's lime / explain time
    ratio is at least MIN_SPEEDUP, None when not checked (quick cells are too small to time, or no lime)."""
    claim = {"text": f"explain >= {MIN_SPEEDUP:g}x faster than lime in every cell", "checked": checked,
             "met": None, "failing_cells": []}
    if checked:
        claim["failing_cells"] = [f"{r['image']} n={r['n']}: {r['speedup_explain']:.1f}x" for r in rows
                                  if not r["speedup_explain"] >= MIN_SPEEDUP]
        claim["met"] = not claim["failing_cells"]
    return claim


def claim_line(claim: dict) -> str:
    if not claim["checked"]:
        return f"README claim ({claim['text']}): not checked (quick run or --no-lime)\n"
    if claim["met"]:
        return f"README claim ({claim['text']}): met\n"
    return f"README claim ({claim['text']}): NOT MET in {', '.join(claim['failing_cells'])}\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small cell (smoke test)")
    parser.add_argument("--out", default="results", help="folder for bench_explain.json/.md")
    parser.add_argument("--no-lime", action="store_true", help="skip the (slow) lime timings")
    parser.add_argument("--busy", action="store_true", help="with one competing busy process")
    parser.add_argument("--cells", nargs="+", default=None, help="cells as NAME:N (default: all)")
    args = parser.parse_args(argv)
    cells = QUICK_CELLS if args.quick else CELLS
    if args.cells:
        cells = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cells]
    size = 64 if args.quick else 224
    with busy_process(args.busy):
        load_before = os.getloadavg()[0]
        rows = [run_cell(name, n, size, not args.no_lime, repeat=1 if args.quick else 3) for name, n in cells]
        load_after = os.getloadavg()[0]
    meta = {"machine": platform.platform(), "processor": platform.processor(), "python": platform.python_version(),
            "cores": os.cpu_count(), "busy_process": args.busy,
            "load_average_1min": [round(load_before, 1), round(load_after, 1)]}
    claim = check_claim(rows, checked=not args.quick and not args.no_lime)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = ("bench_explain_quick" if args.quick else "bench_explain_busy" if args.busy
            else "bench_explain_quiet" if args.cells else "bench_explain")
    conditions = (f"Conditions: {meta['cores']} cores, {'one competing busy process, ' if args.busy else ''}"
                  f"1-minute load average {load_before:.1f} before and {load_after:.1f} after the cells "
                  f"(the machine is shared); image 224 x 224, near-free classifier; best of 3.\n\n")
    goals = (f"Goals: explain within {GOAL_FLOOR:g}x of the floor, at least {GOAL_LIME:g}x faster than lime: "
             + "; ".join(f"{r['image']} n={r['n']}: {r['explain_s'] / r['floor_s']:.2f}x floor "
                         f"({'met' if r['explain_s'] / r['floor_s'] <= GOAL_FLOOR else 'NOT met'}), "
                         + (f"{r['speedup_explain']:.1f}x below lime "
                            f"({'met' if r['speedup_explain'] >= GOAL_LIME else 'NOT met'})" if 'speedup_explain' in r
                            else "lime not timed") for r in rows) + "\n")
    text = conditions + to_markdown(rows) + "\n" + claim_line(claim) + "\n" + goals
    write_text(out / f"{name}.json", json.dumps({"meta": meta, "claim": claim, "rows": rows}, indent=2))
    write_text(out / f"{name}.md", text)
    print(text)
    if claim["met"] is False:
        raise SystemExit(f"bench_explain: the README's claim is not met: {claim_line(claim).strip()}")
    return rows


if __name__ == "__main__":
    main()
