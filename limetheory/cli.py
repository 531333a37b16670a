"""The ``limetheory`` command.

    limetheory reproduce [--quick] [--only NAME [NAME ...]] [--out DIR] [--no-progress] [--no-figures]
    limetheory list

``reproduce`` runs the registered experiments (``experiments.REGISTRY``), writes their tidy
results to ``DIR/results`` and their figures to ``DIR/figures``, and skips the units already
stored under ``DIR/units`` (an interrupted run resumes where it stopped). ``--quick`` runs the
small version of every experiment (minutes in all); the default folder is ``results/quick``
with ``--quick`` and ``results/full`` without.

Adding a subcommand: write ``_add_<name>(subparsers)`` that builds its parser ``p`` and calls
``p.set_defaults(func=<function of the parsed arguments returning the exit status>, parser=p)``
(``args.parser.error(...)`` reports a bad argument), and append it to :data:`SUBCOMMANDS`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["SUBCOMMANDS", "build_parser", "main"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- reproduce
def _add_reproduce(subparsers) -> None:
    from limetheory.experiments import experiment_names

    names = experiment_names()
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
    p.set_defaults(func=_cmd_reproduce, parser=p)


def _cmd_reproduce(args) -> int:
    from limetheory.experiments import reproduce

    out = args.out if args.out is not None else Path("results/quick" if args.quick else "results/full")
    if out.exists() and not out.is_dir():
        args.parser.error(f"argument --out: {out} exists and is not a folder")
    names = list(dict.fromkeys(args.only)) if args.only else None
    mode = "quick" if args.quick else "full"
    _log(f"limetheory reproduce ({mode}) -> {out}")
    reports = reproduce(
        names, out, quick=args.quick, progress=not args.no_progress, figures=not args.no_figures,
        on_error="raise" if args.fail_fast else "continue", log=_log,
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
    from limetheory.experiments import REGISTRY, load_experiment

    for name, (_, figures) in REGISTRY.items():
        try:
            title = load_experiment(name).title
        except Exception as exc:  # an experiment whose dependencies are missing still lists
            title = f"(cannot import: {type(exc).__name__}: {exc})"
        print(f"{name:16s} {title}  [{', '.join(f.rsplit('.', 1)[-1] for f in figures)}]")
    return 0


# --------------------------------------------------------------------------- explain
def _add_explain(subparsers) -> None:
    from .explain_cli import add_parser  # the implementation lives in limetheory/explain_cli.py

    add_parser(subparsers)


#: Builders of the subcommands, in the order ``limetheory --help`` lists them.
SUBCOMMANDS = [_add_reproduce, _add_list, _add_explain]


def build_parser() -> argparse.ArgumentParser:
    """The ``limetheory`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    from . import __version__

    parser = argparse.ArgumentParser(
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
    """Entry point of the ``limetheory`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
