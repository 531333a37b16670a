"""EfficientNet-Lite0/1/2 in JAX: top-5 on the bundled photos, the preprocessing measurement, speed.

Usage::

    python benchmarks/bench_nets.py                      # everything, all three variants
    python benchmarks/bench_nets.py --what speed --repeats 7 --variants lite1

Writes (atomically) into ``--out`` (default ``results/``):

- ``efficientnet_top5.md``: top-5 classes and probabilities for every photo in ``limetheory.data.PHOTOS``
  at each variant's resolution (default preprocessing), one section per variant;
- ``efficientnet_preprocessing.md`` / ``.json``: ``"tf"`` ``(x - 127) / 128`` against ``"imagenet"``
  ``(x / 255 - mean) / std``: top-1/top-5 hits against plausible classes per photo, confidence,
  entropy, agreement, and how well each matches the stem batch-norm's running statistics;
- ``bench_nets.json`` (Lite0), ``bench_nets_lite1.json``, ``bench_nets_lite2.json``: images/s at
  batch 32 on this machine, single-image logits and gradient latency. The machine may be
  shared: the load average is recorded with the timings. The preprocessing measurement is Lite0's.
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
from jax import lax

from limetheory.data import PHOTOS, load_photo
from limetheory.files import write_text
from limetheory.nets import checkpoint, efficientnet as eff

#: Plausible ImageNet-1k classes per photo (judged from the picture; ImageNet has no
#: "astronaut", "motorcycle", "pagoda" or "dahlia" class, so the nearest ones are listed).
PLAUSIBLE = {
    "chelsea": {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat", 285: "Egyptian cat"},
    "coffee": {967: "espresso", 968: "cup", 504: "coffee mug"},
    "astronaut": {812: "space shuttle", 557: "flagpole", 518: "crash helmet"},
    "rocket": {657: "missile", 744: "projectile", 812: "space shuttle"},
    "motorcycle": {665: "moped", 670: "motor scooter"},
    "china": {698: "palace", 663: "monastery", 832: "stupa", 442: "bell cote"},
    "flower": {985: "daisy"},
}


def _photos(size=224):
    names = list(PHOTOS)
    return names, np.stack([load_photo(n, size) for n in names])


def top5(out: Path, variants=("lite0",)) -> str:
    lines = [
        "# EfficientNet-Lite (JAX): top-5 on the bundled photos",
        "",
        "Default preprocessing (`tf`); photos from `limetheory.data.load_photo(name, size)` at each "
        "network's resolution. Written by `benchmarks/bench_nets.py`.",
        "",
    ]
    for variant in variants:
        clf = eff.load_efficientnet_lite(variant)
        names, x = _photos(clf.input_size)
        probs = clf.predict(x)
        top1 = sum(int(np.argmax(p)) in PLAUSIBLE[n] for n, p in zip(names, probs))
        top5_ = sum(bool(set(np.argsort(p)[::-1][:5].tolist()) & set(PLAUSIBLE[n])) for n, p in zip(names, probs))
        lines += [f"## {clf.name} ({clf.input_size[0]} x {clf.input_size[1]})", "",
                  f"Top-1 plausible on {top1} of {len(names)} photos, top-5 on {top5_}.", "",
                  "| photo | top-5 (probability) |", "|---|---|"]
        for name, p in zip(names, probs):
            order = np.argsort(p)[::-1][:5]
            cells = [f"{clf.class_names[c].split(',')[0]}{'*' if c in PLAUSIBLE[name] else ''} {p[c]:.3f}"
                     for c in order]
            lines.append(f"| {name} | {', '.join(cells)} |")
        lines.append("")
    lines.append("`*`: a class judged plausible for the photo (see `PLAUSIBLE` in the script).")
    text = "\n".join(lines) + "\n"
    write_text(out / "efficientnet_top5.md", text)
    return text


def _stem_bn_match(x: np.ndarray, mode: str) -> dict:
    """Standardise the stem convolution's outputs by the stem BN's running statistics.

    For channel c, with conv outputs y_c over all photos and positions,
    ``z_c = (mean(y_c) - mu_c) / sqrt(var_c)`` and ``r_c = var(y_c) / var_c``. Inputs scaled
    the way the network was trained give |z_c| of order 1 and r_c near 1 (up to the photos
    not being ImageNet); a wrong input scale s multiplies r_c by about s^2.
    """
    state = checkpoint.load_state_dict_cached(eff.weights_path())
    w = jnp.asarray(state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    inp = eff.preprocess(jnp.asarray(x, jnp.float32), mode)
    pad = (eff._same_padding(224, 3, 2), eff._same_padding(224, 3, 2))
    y = lax.conv_general_dilated(inp, w, (2, 2), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = np.asarray(y, np.float64).reshape(-1, w.shape[-1])
    mu, var = state["_bn0.running_mean"].astype(np.float64), state["_bn0.running_var"].astype(np.float64)
    live = var > 1e-6  # channels that never fired in training have running_var 0: skipped
    z = (y.mean(0)[live] - mu[live]) / np.sqrt(var[live])
    r = y.var(0)[live] / var[live]
    return {
        "channels_used": int(live.sum()),
        "median_abs_z": float(np.median(np.abs(z))),
        "geomean_var_ratio": float(np.exp(np.mean(np.log(r)))),
        "median_var_ratio": float(np.median(r)),
    }


def preprocessing(out: Path) -> dict:
    names, x = _photos()
    res = {}
    probs = {}
    for mode in ("tf", "imagenet"):
        p = eff.load_efficientnet_lite0(preprocessing=mode).predict(x).astype(np.float64)
        probs[mode] = p
        order = np.argsort(p, axis=1)[:, ::-1]
        top1 = [int(order[i, 0]) in PLAUSIBLE[n] for i, n in enumerate(names)]
        top5_ = [bool(set(order[i, :5].tolist()) & set(PLAUSIBLE[n])) for i, n in enumerate(names)]
        ent = -(p * np.log(np.clip(p, 1e-30, None))).sum(1)
        res[mode] = {
            "top1_plausible": int(sum(top1)),
            "top5_plausible": int(sum(top5_)),
            "n_photos": len(names),
            "mean_max_prob": float(p.max(1).mean()),
            "mean_entropy_nats": float(ent.mean()),
            "per_photo_top1": {n: int(order[i, 0]) for i, n in enumerate(names)},
            "per_photo_max_prob": {n: float(p[i].max()) for i, n in enumerate(names)},
            "stem_bn": _stem_bn_match(x, mode),
        }
    a, b = probs["tf"], probs["imagenet"]
    res["agreement"] = {
        "top1_equal": int((a.argmax(1) == b.argmax(1)).sum()),
        "mean_total_variation": float(0.5 * np.abs(a - b).sum(1).mean()),
    }
    write_text(out / "efficientnet_preprocessing.json", json.dumps(res, indent=2) + "\n")
    names_ = eff.load_efficientnet_lite0().class_names
    lines = [
        "# EfficientNet-Lite0: which preprocessing do the weights expect?",
        "",
        "| measure | `tf` (x - 127) / 128 | `imagenet` (x/255 - mean) / std |",
        "|---|---:|---:|",
    ]
    t, i = res["tf"], res["imagenet"]
    rows = [
        ("top-1 plausible (of 7)", "top1_plausible", "{}"),
        ("top-5 contains a plausible class (of 7)", "top5_plausible", "{}"),
        ("mean max probability", "mean_max_prob", "{:.3f}"),
        ("mean entropy (nats)", "mean_entropy_nats", "{:.3f}"),
    ]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {fmt.format(t[key])} | {fmt.format(i[key])} |")
    for label, key in [("stem BN: median abs z of channel means", "median_abs_z"),
                       ("stem BN: geometric mean var(y)/running_var (1 = match)", "geomean_var_ratio"),
                       ("stem BN: median var(y)/running_var (1 = match)", "median_var_ratio")]:
        lines.append(f"| {label} | {t['stem_bn'][key]:.3f} | {i['stem_bn'][key]:.3f} |")
    lines += ["", f"Top-1 equal on {res['agreement']['top1_equal']} of 7 photos; mean total-variation "
              f"distance between the two output distributions {res['agreement']['mean_total_variation']:.3f}.",
              "", "| photo | top-1 `tf` | top-1 `imagenet` |", "|---|---|---|"]
    for n in names:
        ct, ci = t["per_photo_top1"][n], i["per_photo_top1"][n]
        lines.append(f"| {n} | {names_[ct]} ({t['per_photo_max_prob'][n]:.3f}) "
                     f"| {names_[ci]} ({i['per_photo_max_prob'][n]:.3f}) |")
    write_text(out / "efficientnet_preprocessing.md", "\n".join(lines) + "\n")
    return res


def _time(fn, repeats: int) -> list:
    fn()  # warm-up (compile)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def speed(out: Path, repeats: int = 5, batch: int = 32, variant: str = "lite0") -> dict:
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    eff.load_efficientnet_lite.cache_clear()
    clf = eff.load_efficientnet_lite(variant, batch_size=batch)
    load_s = time.perf_counter() - t0
    _, photos = _photos(clf.input_size)
    x = np.concatenate([photos] * (-(-batch // len(photos))))[:batch]
    t0 = time.perf_counter()
    clf.predict(x)
    first_s = time.perf_counter() - t0
    res = {"variant": variant, "batch_size": batch, "load_s": load_s, "first_predict_s_incl_compile": first_s}
    t = _time(lambda: clf.predict(x), repeats)
    res["predict"] = {"times_s": t, "images_per_s_median": batch / float(np.median(t)),
                      "images_per_s_best": batch / min(t)}
    xi = jnp.asarray(photos[0], jnp.float32)
    t = _time(lambda: clf.logits(xi).block_until_ready(), repeats)
    res["logits_one_image_ms_median"] = 1e3 * float(np.median(t))
    grad = jax.jit(jax.grad(lambda im: clf.logits(im)[285]))
    t = _time(lambda: grad(xi).block_until_ready(), repeats)
    res["grad_one_image_ms_median"] = 1e3 * float(np.median(t))
    conv = eff.load_efficientnet_lite(variant, batch_size=batch, depthwise="conv")
    t = _time(lambda: conv.predict(x), max(2, repeats // 2))
    res["predict_depthwise_conv"] = {"times_s": t, "images_per_s_median": batch / float(np.median(t))}
    res["machine"] = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "jax": jax.__version__,
        "loadavg_before": load0,
        "loadavg_after": os.getloadavg(),
        "note": "shared, noisy machine: other jobs ran at the same time (see loadavg)",
    }
    write_text(out / ("bench_nets.json" if variant == "lite0" else f"bench_nets_{variant}.json"),
           json.dumps(res, indent=2) + "\n")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", default="top5,preprocessing,speed")
    ap.add_argument("--out", default="results")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", default="lite0,lite1,lite2", help="EfficientNet-Lite variants (top5, speed)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    what = set(args.what.split(","))
    variants = tuple(args.variants.split(","))
    if "top5" in what:
        print(top5(out, variants))
    if "preprocessing" in what:
        print(json.dumps(preprocessing(out), indent=2))
    if "speed" in what:
        for variant in variants:
            print(json.dumps(speed(out, args.repeats, variant=variant), indent=2))


if __name__ == "__main__":
    main()
