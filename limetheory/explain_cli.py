"""``limetheory explain IMAGE``: LIME and integrated gradients of a pretrained network, side by side.

    limetheory explain IMAGE [--model efficientnet-lite0] [--n-samples N] [--out FILE] [--seed S]
                             [--label K] [--output {prob,logit}] [--top-k K] [--ig-steps M]

reads any image file (:func:`skimage.io.imread`), resizes it to the network's input size, prints
the network's top classes, explains one class (the top one, or ``--label K``) with empirical
LIME (lime's defaults: quickshift superpixels, ``n = 1000``, ``nu = 0.25``, ridge 1, superpixels
hidden by their mean colour) and with integrated gradients summed over the same superpixels
(baseline: LIME's replacement image, so that THEORY.md section 5 applies:
``beta_j ~ sum_{u in J_j} IG_u``), and writes one figure: the image, LIME's top superpixels, the
IG superpixel sums and the pixel-level IG map. It prints LIME's top superpixels with their 95%
intervals from the run's own samples (:attr:`limetheory.Explanation.coef_se`), and says whether
the top-k set is separated from the next superpixel.

The module also holds the pieces that experiments 4 and 6 (``experiments/lime_vs_ig.py``,
``experiments/qualitative.py``) share with the command, so that both explain exactly the same
function the same way:

- :func:`scored_net` wraps a :class:`limetheory.nets.Classifier` once per process: a jit-compiled
  batch of logits (padded to a fixed batch size: one compilation), and the single-image JAX
  functions that integrated gradients differentiates (same objects every call: one compilation);
- :data:`OUTPUTS`: what is explained, ``"prob"`` (the softmax probability of the class, what lime
  explains) or ``"logit"`` (its logit); LIME fits both on the same samples;
- :func:`lime_coefficients` (several LIME runs, both outputs), :func:`ig_superpixel_sums`;
- :func:`read_image`, :func:`top_classes`, :func:`plot_top_superpixels`.
"""
from __future__ import annotations

import argparse
import functools
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = [
    "OUTPUTS",
    "SEGMENTATION",
    "IG_DEFAULTS",
    "ScoredNet",
    "add_parser",
    "explanation_figure",
    "ig_superpixel_sums",
    "lime_coefficients",
    "plot_top_superpixels",
    "plot_top_values",
    "read_image",
    "run",
    "scored_net",
    "segment_for",
    "top_classes",
]

#: What is explained: the class's softmax probability (lime's default) or its logit.
OUTPUTS = ("prob", "logit")

#: Superpixels per network. EfficientNet (224 x 224 photos): lime's quickshift defaults
#: (kernel_size=4, max_dist=200, ratio=0.2; d = 31 to 37 on the bundled photos). The small
#: networks' images are 32 and 64 pixels wide, where lime's defaults give 3 to 10 superpixels:
#: finer quickshift parameters give d of the same order as on the photos (digits 32 x 32:
#: kernel_size=1, max_dist=3, d = 16 to 36, median 25; shapes 64 x 64: kernel_size=1.5,
#: d = 22 to 33, median 28; measured on 40 held-out images each).
SEGMENTATION = {
    "efficientnet-lite0": {"method": "quickshift"},
    "shapes-cnn": {"method": "quickshift", "kernel_size": 1.5},
    "digits-cnn": {"method": "quickshift", "kernel_size": 1, "max_dist": 3},
}

#: Integrated-gradients quadrature used by the command (and by the experiments' full runs).
IG_DEFAULTS = {"method": "gausslegendre", "n_steps": 64}


# =========================================================================== the network, compiled once
def _batch_size(n_pixels: int) -> int:
    """Images per compiled model call: small on CPU for large images (cache), large on accelerators."""
    import jax

    if jax.default_backend() != "cpu":
        return 256
    return 32 if n_pixels > 100_000 else 256


@dataclass(frozen=True, eq=False)
class ScoredNet:
    """A :class:`~limetheory.nets.Classifier` with the functions LIME and IG need, compiled once.

    Attributes
    ----------
    net : the Classifier.
    batch_size : images per compiled call of :meth:`logits` (batches are padded to it).
    output_fns : {output: single-image JAX function (H, W, 3) in [0, 255] -> (n_classes,)}:
        ``softmax(logits)`` for ``"prob"``, ``logits`` for ``"logit"``. The same objects are
        returned every time, so :func:`limetheory.gradients.integrated_gradients` compiles once.
    ig_chunk : path points per vectorised IG chunk (fixed, so one compilation serves every
        ``n_steps`` that is a multiple of it or smaller).
    """

    net: object
    batch_size: int
    output_fns: dict
    ig_chunk: int
    _batch_logits: Callable = field(repr=False)

    @property
    def name(self) -> str:
        return self.net.name

    @property
    def input_size(self) -> tuple:
        return tuple(self.net.input_size)

    def logits(self, images) -> np.ndarray:
        """Logits (N, n_classes), float64, of images (N, H, W, 3) in [0, 255].

        Every call of the compiled program gets exactly ``batch_size`` images (the last chunk
        is padded with copies of its first image), so it compiles once per process.
        """
        import jax.numpy as jnp

        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        out = []
        b = self.batch_size
        for start in range(0, x.shape[0], b):
            chunk = x[start : start + b]
            m = chunk.shape[0]
            if m < b:
                chunk = np.concatenate([chunk, np.broadcast_to(chunk[:1], (b - m,) + chunk.shape[1:])])
            out.append(np.asarray(self._batch_logits(jnp.asarray(chunk)), dtype=np.float64)[:m])
        return np.concatenate(out, axis=0)

    def probabilities(self, images) -> np.ndarray:
        """Softmax probabilities (N, n_classes), float64, computed from :meth:`logits`."""
        return _softmax(self.logits(images))

    def scores(self, images, target: int) -> np.ndarray:
        """(N, 2): column 0 the probability of class ``target``, column 1 its logit (OUTPUTS order)."""
        lg = self.logits(images)
        return np.stack([_softmax(lg)[:, target], lg[:, target]], axis=1)

    def predict_for(self, target: int) -> Callable:
        """``predict(images) -> (N, 2)`` for :func:`limetheory.explain` (labels 0 = prob, 1 = logit)."""
        return functools.partial(self.scores, target=int(target))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=None)
def scored_net(name: str) -> ScoredNet:
    """The network ``name`` (see :data:`limetheory.nets.NETWORKS`) as a :class:`ScoredNet`, cached."""
    import jax

    from . import nets

    net = nets.load(name)
    raw_batch = net.batch_logits if getattr(net, "batch_logits", None) is not None else jax.vmap(net.logits)
    h, w = net.input_size
    logits_fn = net.logits

    # Full float32 matrix products and convolutions wherever the network does not set a precision:
    # on GPUs JAX's default lets them run in TF32 (about 3 decimal digits), which measurably moved
    # the small CNNs' LIME coefficients and IG completeness gaps (1e-3 instead of 1e-6 on an H100).
    # No effect on CPU, where float32 is always exact float32.
    def batch(images):
        with jax.default_matmul_precision("highest"):
            return raw_batch(images)

    def prob_fn(image):
        with jax.default_matmul_precision("highest"):
            return jax.nn.softmax(logits_fn(image))

    def logit_fn(image):
        with jax.default_matmul_precision("highest"):
            return logits_fn(image)

    on_cpu = jax.default_backend() == "cpu"
    return ScoredNet(net=net, batch_size=_batch_size(h * w), output_fns={"prob": prob_fn, "logit": logit_fn},
                     ig_chunk=8 if on_cpu else 32, _batch_logits=jax.jit(batch))


# =========================================================================== LIME and IG of one image
def segment_for(image, model: str, segmentation: dict | None = None) -> np.ndarray:
    """Superpixels of ``image`` with the parameters of :data:`SEGMENTATION` for ``model``."""
    from .segmentation import segment

    kw = dict(SEGMENTATION.get(model, {"method": "quickshift"}) if segmentation is None else segmentation)
    return segment(image, kw.pop("method", "quickshift"), **kw)


def lime_coefficients(image, snet: ScoredNet, segments, target: int, seeds, *, n_samples: int = 1000,
                      kernel_width: float = 0.25, ridge: float = 1.0, hide_color=None, with_se: bool = False):
    """Empirical LIME of class ``target``, one run per seed, for both outputs on the same samples.

    Each run is :func:`limetheory.explain` with ``predict = snet.predict_for(target)`` (columns
    probability and logit of the class), so the two surrogates of a run share z, pi and the
    perturbed images.

    Returns
    -------
    (n_runs, len(OUTPUTS), d) float64 coefficients beta_hat_j; with ``with_se``, also their
    standard errors (same shape, :attr:`limetheory.Explanation.coef_se`).
    """
    from .empirical import explain

    predict = snet.predict_for(target)
    coefs, ses = [], []
    for seed in seeds:
        ex = explain(image, predict, segments=segments, labels=[0, 1], n_samples=int(n_samples),
                     kernel_width=kernel_width, ridge=ridge, hide_color=hide_color, seed=seed,
                     batch_size=snet.batch_size, dtype=np.float32, progress=False)
        coefs.append(np.asarray(ex.coef, dtype=np.float64))
        ses.append(ex.coef_se)
    return (np.stack(coefs), np.stack(ses)) if with_se else np.stack(coefs)


def ig_superpixel_sums(image, snet: ScoredNet, segments, target: int, output: str = "prob", *,
                       n_steps: int = IG_DEFAULTS["n_steps"], method: str = IG_DEFAULTS["method"],
                       hide_color=None):
    """Integrated gradients of ``output`` of class ``target``, baseline LIME's replacement image.

    ``IG_u = (xi_u - xi_bar_u) int_0^1 df/dx_u(xi_bar + t (xi - xi_bar)) dt`` in float32 (the
    network's precision), summed over every superpixel: ``s_j = sum_{u in J_j} IG_u``.

    Returns
    -------
    sums : (d,) float64;  ig : :class:`limetheory.gradients.IGResult` (pixel attributions,
    completeness gap).
    """
    from .gradients import integrated_gradients, superpixel_sums
    from .segmentation import replacement_image

    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
    x = np.asarray(image, dtype=np.float64)
    baseline = replacement_image(x, segments, hide_color)
    ig = integrated_gradients(snet.output_fns[output], x.astype(np.float32), baseline.astype(np.float32),
                              n_steps=int(n_steps), method=method, target=int(target),
                              internal_batch_size=min(snet.ig_chunk, int(n_steps)), dtype="float32")
    return superpixel_sums(ig.attributions, segments), ig


def top_classes(snet: ScoredNet, image, k: int = 5) -> list:
    """The ``k`` most probable classes of ``image``: [(index, name, probability), ...]."""
    p = snet.probabilities(np.asarray(image)[None])[0]
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), str(snet.net.class_names[i]), float(p[i])) for i in order]


# =========================================================================== images
def read_image(path, size) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3) resized to ``size`` = (H, W).

    Grayscale is repeated over three channels, an alpha channel dropped, the first frame of an
    animation kept; uint16 is scaled by 255/65535, floats in [0, 1] by 255 (other floats clipped
    to [0, 255]). Resizing: anti-aliased bilinear interpolation, aspect ratio not kept (as
    :func:`limetheory.data.load_photo`).

    Raises
    ------
    FileNotFoundError : no such file;  ValueError : not an image skimage can read.
    """
    from skimage import io
    from skimage.transform import resize

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # imageio's plugin probing warns about its own deprecations
            warnings.simplefilter("ignore", DeprecationWarning)
            img = np.asarray(io.imread(str(path)))
    except Exception as exc:  # skimage raises many kinds, depending on the plugin
        raise ValueError(f"{path}: cannot read it as an image ({type(exc).__name__}: {exc})") from exc
    if img.ndim == 4:  # animation: first frame
        img = img[0]
    if img.ndim == 3 and img.shape[2] in (1, 2):  # gray (+ alpha)
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[2] < 3 or img.shape[0] < 2 or img.shape[1] < 2:
        raise ValueError(f"{path}: expected a 2-D grayscale or RGB(A) image, got an array of shape {img.shape}")
    img = img[:, :, :3]
    if img.dtype == np.uint8:
        arr = img.astype(np.float64)
    elif img.dtype == np.uint16:
        arr = img.astype(np.float64) * (255.0 / 65535.0)
    elif img.dtype == bool:
        arr = img.astype(np.float64) * 255.0
    elif np.issubdtype(img.dtype, np.number):
        arr = img.astype(np.float64)
        if np.isfinite(arr).all() and arr.max() <= 1.0:
            arr = arr * 255.0
    else:
        raise ValueError(f"{path}: unsupported pixel type {img.dtype}")
    arr = np.clip(np.nan_to_num(arr), 0.0, 255.0)
    shape = (int(size[0]), int(size[1]))
    if arr.shape[:2] != shape:
        arr = resize(arr, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


# =========================================================================== figures
def _mark_top(ax, segments, top, color):
    """Outline the union of the superpixels ``top`` and write their rank (1 = first) inside."""
    from .plotting import _draw_edges, _superpixel_centres

    seg = np.asarray(segments)
    keep = np.isin(seg, top)
    _draw_edges(ax, keep.astype(np.int8), color, 1.6, pad_outside=True)
    centres = _superpixel_centres(seg)
    for rank, j in enumerate(top, start=1):
        r, c = centres[j]
        ax.text(c, r, str(rank), ha="center", va="center", fontsize=7, color="black",
                bbox={"boxstyle": "round,pad=0.12", "fc": color, "ec": "none", "alpha": 0.85})
    ax.set_xlim(-0.5, seg.shape[1] - 0.5)
    ax.set_ylim(seg.shape[0] - 0.5, -0.5)
    return keep


def plot_top_superpixels(ax, image, segments, scores, k: int = 5, *, title: str | None = None,
                         color=(0.2, 1.0, 0.2)):
    """The image with its ``k`` highest-scoring superpixels in colour, the rest dimmed and grey.

    The top superpixels are outlined in ``color``; their rank (1 = highest score) is written inside.
    """
    from .plotting import _rgb

    rgb = _rgb(image)
    seg = np.asarray(segments)
    top = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[: int(k)]
    keep = np.isin(seg, top)
    grey = rgb.mean(axis=2, keepdims=True)
    ax.imshow(np.where(keep[..., None], rgb, 0.2 + 0.35 * grey), interpolation="nearest")
    _mark_top(ax, seg, top, color)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_top_values(ax, values, segments, k: int = 5, *, title: str | None = None, label: str | None = None,
                    color=(0.2, 1.0, 0.2)):
    """One value per superpixel painted with a diverging colour map; the top ``k`` outlined and ranked."""
    from .plotting import plot_superpixel_values

    v = np.asarray(values, dtype=np.float64)
    plot_superpixel_values(v, segments, ax, colorbar=True, label=label, title=title)
    _mark_top(ax, segments, np.argsort(-v, kind="stable")[: int(k)], color)
    return ax


def explanation_figure(image, segments, lime_coef, ig_sums, ig_attributions, *, k: int = 5,
                       title: str = "", lime_label: str = "LIME", output: str = "prob"):
    """Four panels: the image; LIME's top-k superpixels; the IG superpixel sums (top k outlined);
    the pixel-level IG map (channels summed)."""
    import matplotlib.pyplot as plt

    from .metrics import jaccard_topk
    from .plotting import _rgb, plot_superpixel_values

    d = int(np.max(segments)) + 1
    k = min(int(k), d)
    fig, axes = plt.subplots(1, 4, figsize=(15.5, 4.3), gridspec_kw={"width_ratios": [1, 1, 1.2, 1.2]})
    axes[0].imshow(_rgb(image), interpolation="nearest")
    axes[0].set_axis_off()
    axes[0].set_title(title, fontsize=9)
    jac = jaccard_topk(lime_coef, ig_sums, k)
    plot_top_superpixels(axes[1], image, segments, lime_coef, k,
                         title=f"{lime_label}\ntop {k} of d = {d} superpixels (rest greyed)")
    plot_top_values(axes[2], ig_sums, segments, k, label=f"sum of IG over the superpixel ({output})",
                    title=f"IG summed over superpixels, top {k} outlined\n"
                          f"Jaccard with LIME's top {k}: {jac:.2f}")
    pixel = np.asarray(ig_attributions, dtype=np.float64)
    pixel = pixel.sum(axis=2) if pixel.ndim == 3 else pixel
    clip = float(np.quantile(np.abs(pixel), 0.995)) or 1.0  # a few extreme pixels would wash out the map
    plot_superpixel_values(np.clip(pixel, -clip, clip), segments, axes[3], colorbar=True,
                           label=f"IG per pixel ({output}), clipped at the 99.5th percentile of |IG|",
                           title="integrated gradients per pixel, channels summed\n"
                                 "(baseline: LIME's replacement image)")
    fig.tight_layout()
    return fig


# =========================================================================== the subcommand
def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``explain`` to the ``limetheory`` subcommands (see :mod:`limetheory.cli`)."""
    from .nets import NETWORKS

    p = subparsers.add_parser(
        "explain",
        help="explain one image with LIME and integrated gradients",
        description="Explain one image file with a pretrained network: print its top classes, run "
        "LIME (quickshift superpixels, lime's defaults) and integrated gradients summed over the "
        "same superpixels (baseline: LIME's replacement image), and write a figure with both.",
    )
    p.add_argument("image", metavar="IMAGE", type=Path, help="an image file (PNG, JPEG, ...; any size)")
    p.add_argument("--model", default="efficientnet-lite0", choices=sorted(NETWORKS),
                   help="network (default efficientnet-lite0, ImageNet)")
    p.add_argument("--n-samples", type=int, default=1000, metavar="N", help="LIME samples (default 1000)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="figure file, .png or .pdf (default: IMAGE's name + _explained.png in the "
                        "current folder)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="LIME's random seed (default 0)")
    p.add_argument("--label", type=int, default=None, metavar="K",
                   help="class index to explain (default: the most probable class)")
    p.add_argument("--output", choices=OUTPUTS, default="prob",
                   help="explain the class's probability (default, as lime) or its logit")
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="superpixels highlighted (default 5)")
    p.add_argument("--ig-steps", type=int, default=IG_DEFAULTS["n_steps"], metavar="M",
                   help=f"Gauss-Legendre points of integrated gradients (default {IG_DEFAULTS['n_steps']})")
    p.set_defaults(func=run, parser=p)
    return p


def _interval_lines(coef, se, k: int) -> list:
    """The top-k coefficients with 95% intervals, and whether rank k is separated from rank k + 1."""
    half = 1.959963984540054 * np.asarray(se)
    order = np.argsort(-np.asarray(coef), kind="stable")
    lines = [f"superpixel {j}: {coef[j]:+.4f} +- {half[j]:.4f} (95% interval from this run's samples)"
             for j in order[:k]]
    if k < len(order):
        a, b = order[k - 1], order[k]
        if coef[a] - half[a] > coef[b] + half[b]:
            lines.append(f"rank {k} and rank {k + 1} (superpixel {b}) are separated: the top-{k} set is settled")
        else:
            lines.append(f"rank {k} and rank {k + 1} (superpixel {b}, {coef[b]:+.4f} +- {half[b]:.4f}) overlap: "
                         f"another seed may change the top-{k} set; more samples (--n-samples) narrow the intervals")
    return lines


def _say(message: str) -> None:
    print(message, flush=True)


def run(args) -> int:
    """Run ``limetheory explain`` on parsed arguments; returns the exit status."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import jaccard_topk

    error = args.parser.error
    if args.n_samples < 2:
        error(f"argument --n-samples: must be >= 2, got {args.n_samples}")
    if args.top_k < 1:
        error(f"argument --top-k: must be >= 1, got {args.top_k}")
    if args.ig_steps < 1:
        error(f"argument --ig-steps: must be >= 1, got {args.ig_steps}")
    out = args.out if args.out is not None else Path(f"{args.image.stem}_explained.png")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg", "jpg", "jpeg"):
        error(f"argument --out: {out} must end in .png, .pdf, .svg or .jpg")
    if out.exists() and out.is_dir():
        error(f"argument --out: {out} is a folder, not a file")
    if not args.image.exists():
        error(f"argument IMAGE: {args.image} does not exist")
    if not args.image.is_file():
        error(f"argument IMAGE: {args.image} is not a file")

    from .nets import NETWORKS

    if args.model not in NETWORKS:  # pragma: no cover - argparse's choices catch it first
        error(f"argument --model: unknown network {args.model!r}; choose from {', '.join(sorted(NETWORKS))}")
    t0 = time.perf_counter()
    snet = scored_net(args.model)
    try:
        image = read_image(args.image, snet.input_size)
    except ValueError as exc:
        error(f"argument IMAGE: {exc}")
    n_classes = len(snet.net.class_names)
    if args.label is not None and not 0 <= args.label < n_classes:
        error(f"argument --label: class index must be in [0, {n_classes - 1}] for {args.model}, got {args.label}")

    top = top_classes(snet, image, k=min(5, n_classes))
    _say(f"{args.image} -> {args.model} ({image.shape[0]} x {image.shape[1]}): top classes")
    for rank, (idx, name, prob) in enumerate(top, start=1):
        _say(f"  {rank}. {name} (class {idx}): p = {prob:.4f}")
    target = top[0][0] if args.label is None else int(args.label)
    name = str(snet.net.class_names[target])
    prob = float(snet.probabilities(image[None])[0, target])

    segments = segment_for(image, args.model)
    d = int(segments.max()) + 1
    out_index = OUTPUTS.index(args.output)
    coefs, ses = lime_coefficients(image, snet, segments, target, [int(args.seed)], n_samples=args.n_samples,
                                   with_se=True)
    lime, lime_se = coefs[0, out_index], ses[0, out_index]
    sums, ig = ig_superpixel_sums(image, snet, segments, target, args.output, n_steps=args.ig_steps)
    k = min(int(args.top_k), d)
    jac = jaccard_topk(lime, sums, k)
    lime_top = np.argsort(-lime, kind="stable")[:k]
    ig_top = np.argsort(-sums, kind="stable")[:k]
    _say(f"explained: {name} (class {target}, p = {prob:.4f}), output {args.output}; d = {d} superpixels")
    _say(f"  LIME (n = {args.n_samples}, seed {args.seed}) top {k}: {lime_top.tolist()}")
    for line in _interval_lines(lime, lime_se, k):
        _say("    " + line)
    _say(f"  IG sums ({args.ig_steps}-point Gauss-Legendre) top {k}: {ig_top.tolist()}; "
         f"completeness gap {ig.completeness_gap:+.3g} ({100 * ig.relative_gap():.2g}% of f(x) - f(baseline))")
    _say(f"  Jaccard of the two top-{k} sets: {jac:.3f}")

    fig = explanation_figure(image, segments, lime, sums, ig.attributions, k=k, output=args.output,
                             title=f"{args.image.name}\n{args.model}: {name} (p = {prob:.3f})",
                             lime_label=f"LIME (n = {args.n_samples}, seed {args.seed})")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    _say(f"wrote {out} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="python -m limetheory.explain_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    ns = parser.parse_args(["explain", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
