"""The ``limetheory`` command: argument parsing and printing only::

    limetheory reproduce [--quick] [--only NAME [NAME ...]] [--out DIR] [--no-progress] [--no-figures]
                         [--protocol {paper,corrected,both}]
                         [--model M [--weights FILE] [--input-size H[xW]]] [--images DIR]
    limetheory list
    limetheory explain IMAGE [--model M [--weights FILE] [--input-size H[xW]]] [--n-samples N|auto]
                             [--max-samples N] [--tolerance T] [--out FILE] [--seed S] [--label K]
                             [--output {prob,logit}] [--top-k K] [--ig-steps M]

``reproduce`` runs the registered experiments (``limetheory.experiments.REGISTRY``), writes their
tidy results to ``DIR/results`` and their figures to ``DIR/figures``, and skips the units already
stored under ``DIR/units`` (an interrupted run resumes where it stopped). ``--quick`` runs the
small version of every experiment; the default folder is ``results/quick`` with ``--quick`` and
``results/full`` without. ``--model`` (and ``--images DIR``) run experiments 4 and 6
(``--only lime_vs_ig qualitative``) on a user's network and image folder; their rows carry the
model's name in the ``model`` column.

``explain`` reads an image file, prints the network's top classes (the network: a bundled one,
``keras:<application>`` from a weight file, or ``torch:package.module:factory``), explains one class with
empirical LIME (lime's defaults) and with integrated gradients summed over the same superpixels
(baseline: LIME's replacement image, docs/theory/lime_and_ig.md), prints LIME's top superpixels with
their 95% intervals, and writes one figure (:func:`limetheory.plotting.explanation_figure`).
The work is done by :mod:`limetheory.pipeline` (one network on one image), :mod:`limetheory.nets`
and :mod:`limetheory.data`.

Every argument that can be checked before the computation is checked first (numbers, the image
file, whether the output folder can be written); a bad one ends the command with one line on
stderr naming it and exit status 2. Ctrl-C ends it with one line and exit status 130. Figures
are written atomically.

Adding a subcommand: write ``_add_<name>(subparsers)`` that builds its parser ``p`` and calls
``p.set_defaults(func=<function of the parsed arguments returning the exit status>, parser=p)``
(``args.parser.error(...)`` reports a bad argument), and append it to :data:`SUBCOMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import __version__, experiments, nets, pipeline
from .data import load_photo, read_image, resize_image
from .experiments.lime_vs_ig import MODEL_ORDER
from .experiments.sanity_randomisation import MODEL_ORDER as SANITY_NETS
from .experiments.user_model import folder_image_names
from .gradients import MAX_N_STEPS
from .metrics import top_k
from .nets import NETWORKS, OUTPUT_UNITS, OUTPUTS
from .plotting import FIGURE_FORMATS
from .segmentation import n_superpixels
from .validation import check_int, check_seed, check_tolerance

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- argument checks
def _integer(text: str) -> int:
    """An integer written as ``1000``, ``1_000`` or ``1e3`` (a float that is a whole number)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(value)


def _count_for_net(text: str) -> tuple:
    """``N`` -> ("*", N); ``NET=N`` -> (NET, N): a --max-images entry, NET a network of experiment 4."""
    name, _, count = text.rpartition("=")
    if name and name not in MODEL_ORDER:
        raise argparse.ArgumentTypeError(f"unknown network {name!r} (choose from: {', '.join(MODEL_ORDER)})")
    if _integer(count) < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return (name or "*", _integer(count))


def _integer_or_auto(text: str):
    """``auto`` or an integer as :func:`_integer` reads it."""
    return "auto" if text.strip().lower() == "auto" else _integer(text)


def _check(args, flag: str, check, value, *bounds):
    """``check(value, flag, *bounds)`` (a checker of :mod:`limetheory.validation` or one with its
    signature); its TypeError or ValueError ends the command as ``argument FLAG: ...``."""
    try:
        return check(value, flag, *bounds)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        for prefix in (f"{flag} = ", f"{flag} ", f"{flag.lstrip('-')} "):  # the checker names the argument: say it once
            if message.startswith(prefix):
                message = message[len(prefix):]
                break
        args.parser.error(f"argument {flag}: {message}")


def _physical_memory() -> int:
    """Bytes of physical memory of this machine (a large number where the OS will not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 2**60


def _check_can_write_in(args, flag: str, folder: Path) -> None:
    """Error unless files can be created in ``folder`` or, if it does not exist yet, in its nearest
    existing ancestor (which must be a folder). Probes with a temporary file, removed at once."""
    folder = Path(os.path.abspath(folder))
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        args.parser.error(f"argument {flag}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".limetheory-probe-", dir=existing)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        args.parser.error(f"argument {flag}: cannot write in {existing} ({exc.strerror or exc})")


# --------------------------------------------------------------------------- reproduce
def _add_reproduce(subparsers) -> None:
    names = experiments.experiment_names()
    p = subparsers.add_parser(
        "reproduce",
        help="run the experiments and make the figures",
        description="Run the paper's experiments (all of them, or those given with --only), write "
        "tidy results to OUT/results and figures to OUT/figures. Finished units are stored in "
        "OUT/units and not recomputed when the command is run again.",
    )
    p.add_argument("--quick", action="store_true",
                   help="small version of every experiment (minutes in all; what `make reproduce` runs)")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=names,
                   help=f"run only these experiments (choose from: {', '.join(names)})")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: results/quick with --quick, results/full without)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--no-figures", action="store_true", help="write results only, no figures")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first failing experiment (default: run the others, exit 1)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_integer, default=None, metavar="N",
                       help="run the units on a local Dask cluster of N worker processes (one thread each)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the units on an existing Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--protocol", choices=("paper", "corrected", "both"), default="both",
                   help="lime_vs_ig: the paper's protocol, the corrected one, or both with each difference "
                        "switched alone (default both)")
    p.add_argument("--nets", nargs="+", metavar="NAME", choices=MODEL_ORDER, default=None,
                   help="lime_vs_ig, lime_ig_decomposition and sanity_randomisation: explain only these of their networks "
                        f"(choose from: {', '.join(MODEL_ORDER)}; default all)")
    p.add_argument("--max-images", nargs="+", type=_count_for_net, default=None, metavar="N|NET=N",
                   help="lime_vs_ig, lime_ig_decomposition and sanity_randomisation: explain at most the first N images "
                        "of each network, "
                        "or of network NET (e.g. 20 efficientnet-lite1=4); a run on fewer networks or images "
                        "reuses, and is reused by, the units of a larger one")
    _add_model_arguments(p, NETWORKS, default=None)
    p.add_argument("--images", type=Path, default=None, metavar="DIR",
                   help="with --only lime_vs_ig qualitative: explain the image files of DIR (read as "
                        "`limetheory explain` reads them) instead of the bundled photos")
    p.set_defaults(func=_cmd_reproduce, parser=p)


def _check_dask_arguments(args) -> None:
    """--workers / --scheduler: checked, and Dask importable, before any experiment runs."""
    if args.workers is None and args.scheduler is None:
        return
    flag = "--workers" if args.workers is not None else "--scheduler"
    _check(args, flag, lambda value, name: experiments.check_executor_arguments(**{name.strip("-"): value}),
           args.workers if args.workers is not None else args.scheduler)
    if importlib.util.find_spec("distributed") is None:
        args.parser.error(f"argument {flag}: needs Dask: pip install 'limetheory[dask]'")


#: Experiments that run on a user's model (--model, --images).
USER_MODEL_EXPERIMENTS = ("lime_vs_ig", "qualitative")


def _user_model(args) -> dict | None:
    """The --model/--weights/--input-size/--images of ``reproduce``, checked, the model run once; or None."""
    if args.model is None and args.images is None:
        if args.weights is not None or args.input_size is not None:
            args.parser.error("argument --weights/--input-size: only with --model")
        return None
    if not args.only or not set(args.only) <= set(USER_MODEL_EXPERIMENTS):
        args.parser.error(f"argument --model/--images: only experiments {' and '.join(USER_MODEL_EXPERIMENTS)} "
                          f"run on a user's model: add --only {' '.join(USER_MODEL_EXPERIMENTS)}")
    args.model = args.model or "efficientnet-lite0"
    _check_model_arguments(args)
    names = None
    if args.images is not None:
        try:
            names = folder_image_names(args.images)
        except ValueError as exc:
            args.parser.error(f"argument --images: {str(exc).removeprefix('images: ')}")
    snet = _load_model(args)
    try:  # the model runs once on one image before any long computation
        first = load_photo("chelsea", snet.input_size) if names is None else read_image(args.images / names[0],
                                                                                        snet.input_size)
        snet.scores(first[None])
    except (OSError, ValueError) as exc:
        args.parser.error(f"argument --images: {exc}")
    except Exception as exc:
        args.parser.error(f"argument --model: {args.model} fails on an image of size {snet.input_size}: "
                          f"{type(exc).__name__}: {exc}")
    return {"model": args.model, "weights": None if args.weights is None else str(args.weights.resolve()),
            "input_size": None if args.input_size is None else list(args.input_size),
            "images": None if args.images is None else str(args.images.resolve()),
            **({"scaling": list(_scaling(args))} if _scaling(args) is not None else {})}


def _experiment_options(protocol: str, user_model: dict | None, nets=None, max_images: dict | None = None) -> dict:
    """Keyword arguments of the experiments' ``settings``: experiment 4's protocol, networks and
    image count, and the user's model (and images) for the experiments that run on one."""
    options = {"lime_vs_ig": {"protocol": protocol}, "qualitative": {}, "lime_ig_decomposition": {}}
    for name in ("lime_vs_ig", "lime_ig_decomposition"):  # the companion runs on experiment 4's networks
        if nets:
            options[name]["nets"] = list(dict.fromkeys(nets))
        if max_images is not None:
            options[name]["max_images"] = max_images
    options["sanity_randomisation"] = _sanity_options(nets, max_images)
    if user_model is not None:
        for name in USER_MODEL_EXPERIMENTS:
            options[name]["user_model"] = user_model
    return {name: kw for name, kw in options.items() if kw}


def _sanity_options(nets, max_images: dict | None) -> dict:
    """The sanity checks' share of ``--nets`` and ``--max-images``: the networks it runs on (small CNNs
    and Table 1's; the ImageNet networks are experiment 4's alone)."""
    options = {}
    if nets and any(n in SANITY_NETS for n in nets):
        options["nets"] = [n for n in dict.fromkeys(nets) if n in SANITY_NETS]
    if max_images is not None:
        options["max_images"] = {k: v for k, v in max_images.items() if k == "*" or k in SANITY_NETS}
    return options


def _cmd_reproduce(args) -> int:
    out = args.out if args.out is not None else Path("results/quick" if args.quick else "results/full")
    if out.exists() and not out.is_dir():
        args.parser.error(f"argument --out: {out} exists and is not a folder")
    _check_can_write_in(args, "--out", out)
    _check_dask_arguments(args)
    names = list(dict.fromkeys(args.only)) if args.only else None
    args.max_images = dict(args.max_images) if args.max_images else None
    if args.nets and (args.model is not None or args.images is not None):
        args.parser.error("argument --nets: not with --model/--images (a user's model is explained alone)")
    user_model = _user_model(args)
    mode = "quick" if args.quick else "full"
    where = (f", {args.workers} Dask worker(s)" if args.workers else "") + (
        f", Dask scheduler {args.scheduler}" if args.scheduler else "")
    _log(f"limetheory reproduce ({mode}{where}) -> {out}")
    reports = experiments.reproduce(
        names, out, quick=args.quick, progress=not args.no_progress, figures=not args.no_figures,
        on_error="raise" if args.fail_fast else "continue", log=_log, workers=args.workers,
        scheduler=args.scheduler,
        options=_experiment_options(args.protocol, user_model, args.nets, args.max_images),
    )
    failed = [r for r in reports if isinstance(r, Exception)]
    if failed:
        _log(f"{len(failed)} experiment(s) failed")
        return 1
    return 0


# --------------------------------------------------------------------------- list
def _add_list(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the registered experiments",
                              description="List the registered experiments and their figure scripts.")
    p.set_defaults(func=_cmd_list, parser=p)


def _cmd_list(args) -> int:
    for name, (_, figures) in experiments.REGISTRY.items():
        try:
            title = experiments.load_experiment(name).title
        except Exception as exc:  # an experiment whose dependencies are missing still lists
            title = f"(cannot import: {type(exc).__name__}: {exc})"
        print(f"{name:16s} {title}  [{', '.join(f.rsplit('.', 1)[-1] for f in figures)}]")
    return 0


# --------------------------------------------------------------------------- explain
def _add_explain(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="explain one image with LIME and integrated gradients",
        description="Explain one image file with a pretrained network: print its top classes, run "
        "LIME (quickshift superpixels, lime's defaults) and integrated gradients summed over the "
        "same superpixels (baseline: LIME's replacement image), and write a figure with both.",
    )
    p.add_argument("image", metavar="IMAGE", type=Path, help="an image file (PNG, JPEG, ...; any size)")
    _add_model_arguments(p, NETWORKS)
    p.add_argument("--n-samples", type=_integer_or_auto, default=1000, metavar="N|auto",
                   help="LIME samples (default 1000); auto: draw in rounds until the top-k superpixels are "
                        "settled at 95%% confidence (limetheory.stopping), at most --max-samples")
    p.add_argument("--max-samples", type=_integer, default=20000, metavar="N",
                   help="the most samples --n-samples auto draws (default 20000)")
    p.add_argument("--tolerance", type=float, default=None, metavar="T",
                   help="--n-samples auto only: settle a top-k set whose members may trail an outsider by up "
                        "to T times the largest coefficient (0 <= T < 1; default 0, the exact rule)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="figure file, .png, .pdf, .svg or .jpg (default: IMAGE's name + _explained.png "
                        "in the current folder)")
    p.add_argument("--seed", type=_integer, default=0, metavar="S", help="LIME's random seed (default 0)")
    p.add_argument("--label", type=_integer, default=None, metavar="K",
                   help="class index to explain (default: the most probable class)")
    p.add_argument("--output", choices=OUTPUTS, default="prob",
                   help="explain the class's probability (default, as lime) or its logit")
    p.add_argument("--top-k", type=_integer, default=5, metavar="K", help="superpixels highlighted (default 5)")
    p.add_argument("--method", choices=("lime", "shap", "both"), default="lime",
                   help="lime (default), shap (KernelSHAP: estimates the superpixels' Shapley values; the "
                        "extreme coalition sizes enumerated, the rest in pairs, or pairs with --n-samples auto) or both (the figure shows LIME, the --html page toggles to KernelSHAP)")
    p.add_argument("--ig-steps", type=_integer, default=pipeline.IG_DEFAULTS["n_steps"], metavar="M",
                   help=f"Gauss-Legendre points of integrated gradients (default {pipeline.IG_DEFAULTS['n_steps']})")
    p.add_argument("--html", type=Path, default=None, metavar="OUT.html",
                   help="also write a self-contained interactive page (LIME with its 95%% intervals, the IG "
                        "sums, the top classes) to OUT.html")
    p.set_defaults(func=_cmd_explain, parser=p)


def _add_model_arguments(p, networks, default: str | None = "efficientnet-lite0") -> None:
    """``--model``, ``--weights`` and ``--input-size``: a bundled network or the user's own."""
    p.add_argument("--model", default=default, metavar="MODEL",
                   help=f"network: {', '.join(sorted(networks))} (bundled; default "
                        f"{default or 'the experiments own networks'}), "
                        "keras:MobileNetV2, keras:DenseNet121 or keras:InceptionV3 (with --weights), or "
                        "torch:package.module:factory (a function returning a torch.nn.Module or a "
                        "limetheory Classifier; the current folder is importable)")
    p.add_argument("--weights", type=Path, default=None, metavar="FILE",
                   help="weight file of a keras: model (the Keras applications .h5 file; nothing is downloaded)")
    p.add_argument("--input-size", type=_size, default=None, metavar="H[xW]",
                   help="image size a torch: module takes, e.g. 224 or 299x299")
    p.add_argument("--scale", type=float, default=None, metavar="S",
                   help="torch: models: multiply the [0, 255] pixels by S first (1/255 = 0.00392156862745098 "
                        "as torchvision's ToTensor; default 1)")
    p.add_argument("--mean", type=_floats, default=None, metavar="M[,M,M]",
                   help="torch: models: then subtract this mean per channel (as torchvision's Normalize)")
    p.add_argument("--std", type=_floats, default=None, metavar="S[,S,S]",
                   help="torch: models: then divide by this standard deviation per channel")


def _floats(text: str) -> tuple:
    """``0.5`` or ``0.485,0.456,0.406`` as a tuple of floats."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _scaling(args):
    """(scale, mean, std) of --scale/--mean/--std, or None when none is given."""
    values = (getattr(args, "scale", None), getattr(args, "mean", None), getattr(args, "std", None))
    if all(v is None for v in values):
        return None
    scale, mean, std = values
    return (1.0 if scale is None else scale, (0.0,) if mean is None else mean, (1.0,) if std is None else std)


def _size(text: str) -> tuple:
    """``224`` or ``224x224`` (also ``224,224``) as (height, width)."""
    parts = text.lower().replace(",", "x").split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size such as 224 or 224x224, got {text!r}")
    return (int(parts[0]), int(parts[-1]))


def _check_model_arguments(args) -> None:
    """--weights and --input-size only where the model takes them; the weight file exists."""
    kind = args.model.partition(":")[0] if ":" in args.model else None
    if kind not in (None, "keras", "torch"):
        args.parser.error(f"argument --model: {args.model!r} is not one of {', '.join(sorted(NETWORKS))}, "
                          "keras:<application> or torch:package.module:factory")
    if kind is None and args.model not in NETWORKS:
        args.parser.error(f"argument --model: unknown network {args.model!r}; bundled: {', '.join(sorted(NETWORKS))}; "
                          "or keras:<application>, torch:package.module:factory")
    if args.weights is not None and kind != "keras":
        args.parser.error("argument --weights: only a keras: model takes a weight file")
    if args.input_size is not None and kind != "torch":
        args.parser.error("argument --input-size: only a torch: model takes an input size")
    for flag in ("scale", "mean", "std"):
        if getattr(args, flag, None) is not None and kind != "torch":
            args.parser.error(f"argument --{flag}: only a torch: model takes a preprocessing")
    if getattr(args, "std", None) is not None and min(args.std) <= 0:
        args.parser.error(f"argument --std: must be > 0, got {args.std}")
    if getattr(args, "scale", None) is not None and not args.scale > 0:
        args.parser.error(f"argument --scale: must be > 0, got {args.scale}")
    if args.weights is not None and not args.weights.is_file():
        args.parser.error(f"argument --weights: {args.weights} is not a file")


def _load_model(args):
    """The :class:`~limetheory.nets.Classifier` of --model, or a one-line error naming the argument."""
    if args.model.startswith("torch:") and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `limetheory` as a console script: the user's own package
    weights = None if args.weights is None else str(args.weights)
    try:
        return nets.load_cached(args.model, weights, args.input_size, _scaling(args))
    except (TypeError, ValueError, OSError, ImportError, RuntimeError) as exc:
        message = str(exc)  # the adapters' messages start with the argument they are about
        flag = next((f for p, f in (("weights", "--weights"), ("input_size", "--input-size")) if message.startswith(p)),
                    "--model")
        head, _, rest = message.partition(": ")
        args.parser.error(f"argument {flag}: {rest if head in ('weights', 'input_size', 'model') else message}")


def _interval_lines(coef, interval, k: int) -> list:
    """The top-k coefficients with their 95% intervals ``interval`` ((d, 2), from
    :meth:`~limetheory.explanation.Explanation.conf_int`), and whether rank k is separated from rank k + 1."""
    interval = np.asarray(interval)
    half = (interval[:, 1] - interval[:, 0]) / 2
    order = np.argsort(-np.asarray(coef), kind="stable")
    lines = [f"superpixel {j}: {coef[j]:+.4f} +- {half[j]:.4f} (95% interval from this run's samples)"
             for j in order[:k]]
    if k < len(order):
        b = order[k]
        if pipeline.intervals_separate(coef, interval, k):
            lines.append(f"rank {k} and rank {k + 1} (superpixel {b}) are separated: the top-{k} set is settled")
        else:
            lines.append(f"rank {k} and rank {k + 1} (superpixel {b}, {coef[b]:+.4f} +- {half[b]:.4f}) overlap: "
                         f"another seed may change the top-{k} set; more samples (--n-samples) narrow the intervals")
    return lines


def _check_explain_arguments(args) -> tuple:
    """Every check that needs no network: numbers, the output file, the image. Returns (out, image)."""
    _check(args, "--max-samples", check_int, args.max_samples, 2)
    if args.n_samples != "auto":
        _check(args, "--n-samples", check_int, args.n_samples, 2)
    _check(args, "--n-samples", pipeline.check_lime_memory, _most_samples(args), 1, _physical_memory())  # d >= 1
    _check(args, "--top-k", check_int, args.top_k, 1)
    if args.tolerance is not None:
        if args.n_samples != "auto":
            args.parser.error("argument --tolerance: applies only to --n-samples auto")
        _check(args, "--tolerance", check_tolerance, args.tolerance)
    _check(args, "--ig-steps", check_int, args.ig_steps, 1, MAX_N_STEPS["gausslegendre"])
    _check(args, "--seed", check_seed, args.seed)
    _check_model_arguments(args)
    if args.label is not None:
        _check(args, "--label", check_int, args.label, 0)
    out = args.out if args.out is not None else Path(f"{args.image.stem}_explained.png")
    if out.is_dir():
        args.parser.error(f"argument --out: {out} is a folder, not a file")
    if out.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
        args.parser.error(f"argument --out: {out} must end in .png, .pdf, .svg or .jpg")
    _check_can_write_in(args, "--out", out.parent)
    if args.html is not None:
        if args.html.is_dir():
            args.parser.error(f"argument --html: {args.html} is a folder, not a file")
        if args.html.suffix.lower() not in (".html", ".htm"):
            args.parser.error(f"argument --html: {args.html} must end in .html or .htm")
        _check_can_write_in(args, "--html", args.html.parent)
    if not args.image.exists():
        args.parser.error(f"argument IMAGE: {args.image} does not exist")
    if not args.image.is_file():
        args.parser.error(f"argument IMAGE: {args.image} is not a file")
    try:
        image = read_image(args.image)
    except (OSError, ValueError) as exc:
        args.parser.error(f"argument IMAGE: {exc}")
    return out, image


def _most_samples(args) -> int:
    return args.max_samples if args.n_samples == "auto" else args.n_samples


def _run_label(run, kernel: str, args, k: int) -> str:
    """How ``run`` (the :class:`~limetheory.explanation.Explanation` of ``kernel``) was drawn, in one line."""
    if kernel == "shap":
        return f"KernelSHAP ({run.design}, n = {run.n_samples}, seed {args.seed})"
    if args.n_samples != "auto":
        return f"LIME (n = {run.n_samples}, seed {args.seed})"
    how = "settled" if run.settled else f"NOT settled at --max-samples {args.max_samples}"
    return (f"LIME (auto: n = {run.n_samples} in {run.n_rounds} round(s), top-{k} {how}, "
            f"tolerance {run.stopping.tolerance:g}, seed {args.seed})")


#: The kernels each --method runs, the first one shown in the figure.
METHOD_KERNELS = {"lime": ("lime",), "shap": ("shap",), "both": ("lime", "shap")}


def _cmd_explain(args) -> int:
    """Run ``limetheory explain`` on parsed arguments; returns the exit status."""
    import matplotlib  # a heavy optional dependency: only the explain command draws

    matplotlib.use("Agg")

    out, raw = _check_explain_arguments(args)
    t0 = time.perf_counter()
    net = _load_model(args)
    image = resize_image(raw, net.input_size)
    n_classes = net.n_classes
    if args.output == "logit" and net.returns == "prob":
        args.parser.error(f"argument --output: {args.model} returns probabilities; its logits cannot be reached")
    if args.label is not None and not 0 <= args.label < n_classes:
        args.parser.error(f"argument --label: class index must be in [0, {n_classes - 1}] for {args.model}, "
                          f"got {args.label}")

    try:  # the model runs once on the image before any long computation
        top = pipeline.top_classes(net, image, k=min(5, n_classes))
    except Exception as exc:
        args.parser.error(f"argument --model: {args.model} fails on IMAGE resized to {image.shape}: "
                          f"{type(exc).__name__}: {exc}")
    _say(f"{args.image} -> {args.model} ({image.shape[0]} x {image.shape[1]}): top classes")
    for rank, (idx, name, prob) in enumerate(top, start=1):
        _say(f"  {rank}. {name} (class {idx}): p = {prob:.4f}")
    target = top[0][0] if args.label is None else int(args.label)

    segments = pipeline.segment_for(image, args.model)
    d = n_superpixels(segments)
    _check(args, "--n-samples", pipeline.check_lime_memory, _most_samples(args), d, _physical_memory())
    k = min(int(args.top_k), d)
    if args.n_samples == "auto" and k >= d:
        args.parser.error(f"argument --top-k: --n-samples auto needs top-k < d = {d} superpixels, got {args.top_k}")
    budget = pipeline.sample_budget(args.n_samples, top_k=k, max_samples=args.max_samples, tolerance=args.tolerance)
    comparison = pipeline.compare_class(image, net, segments, target, output=args.output,
                                        kernels=METHOD_KERNELS[args.method], n_samples=budget, seed=int(args.seed),
                                        ig_steps=args.ig_steps)

    name, unit = str(net.class_names[target]), OUTPUT_UNITS[args.output]
    labels = {kernel: _run_label(ex, kernel, args, k) for kernel, ex in comparison.explanations.items()}
    _say(f"explained: {name} (class {target}, p = {comparison.probability:.4f}), output: the class's {unit}; "
         f"d = {d} superpixels")
    for kernel, ex in comparison.explanations.items():
        _say(f"  {labels[kernel]} top {k} (coefficients in {unit}): {top_k(ex.coef[0], k).tolist()}")
        for line in _interval_lines(ex.coef[0], ex.conf_int(level=0.95), k):
            _say("    " + line)
    ig = comparison.ig
    _say(f"  IG sums ({args.ig_steps}-point Gauss-Legendre, in {unit}) top {k}: {comparison.ig_top(k).tolist()}; "
         f"completeness gap {ig.completeness_gap:+.3g} ({100 * ig.relative_gap():.2g}% of f(x) - f(baseline))")
    _say(f"  Jaccard of the two top-{k} sets: {comparison.jaccard(k):.3f}")

    try:
        pipeline.write_figure(comparison, out, k=k, title=f"{args.image.name}\n{args.model}: {name} "
                              f"(p = {comparison.probability:.3f})",
                              lime_label=next(iter(labels.values())).replace(", top-", "\ntop-"))
    except OSError as exc:
        _log(f"limetheory explain: error: cannot write {out}: {exc.strerror or exc}")
        return 1
    _say(f"wrote {out} ({time.perf_counter() - t0:.1f} s)")
    if args.html is not None:
        try:
            pipeline.write_page(comparison, args.html, class_names=net.class_names, seed=int(args.seed), k=k,
                                title=f"{args.image.name}, {args.model}: {name} ({args.output})")
        except OSError as exc:
            _log(f"limetheory explain: error: cannot write {args.html}: {exc.strerror or exc}")
            return 1
        _say(f"wrote {args.html}")
    return 0


#: Builders of the subcommands, in the order ``limetheory --help`` lists them.
SUBCOMMANDS = [_add_reproduce, _add_list, _add_explain]


def build_parser() -> argparse.ArgumentParser:
    """The ``limetheory`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = _Parser(
        prog="limetheory",
        description="Image LIME, its closed-form limit (Garreau & Mardaoui, ICML 2021), and the "
        "experiments that check it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``limetheory`` console script; returns the exit status.

    Ctrl-C (KeyboardInterrupt) prints one line and returns 130; outputs are written atomically,
    so nothing half-written is left (``reproduce`` resumes from the units already stored).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        resume = " (finished units are kept: run the same command to resume)" if args.command == "reproduce" else ""
        _log(f"limetheory {args.command}: interrupted{resume}")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
