"""Figure: the kernel width as a dial from occlusion through LIME to Banzhaf, beside Shapley and the IG sums.

For three superpixel games g(z) = f(x(z)) (a shape detector, the small shapes CNN, EfficientNet-Lite0
on a coarse segmentation; d <= 12 so that {0,1}^d is tabulated once), each panel draws LIME's exact
limit beta_j(nu) of every superpixel against the kernel width nu (log scale, lime's 0.25 dashed).
At the narrow end the curves reach occlusion g(1) - g(1 - e_j) (left triangles), at the wide end
the Banzhaf value (right triangles); the strip on the right shows the Shapley value (the Shapley
kernel's limit, circles) and the IG superpixel sums with LIME's replacement image as baseline
(diamonds; the detector is a step function, which has no gradient). Colours: the superpixels with
the largest |Shapley| value; the others grey (superpixels with equal values draw one curve).

Usage: python -m limetheory.paper_figures.fig_kernel_dial [--out DIR] [--games FILE.npz]
(``--games``: the tables written by benchmarks/bench_shapley.py, to skip tabulating the networks).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from limetheory import theory
from limetheory.analytic import ShapeDetector
from limetheory.data import load_photo, make_shapes
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.nets import load
from limetheory.perturb import superpixel_game
from limetheory.segmentation import grid, n_superpixels, replacement_image, segment

from ._common import save_figure

STEM = "fig_kernel_dial"
WIDTHS = np.geomspace(0.01, 100.0, 41)
N_COLOURED = 4


def shape_detector_case():
    """A bright bar over three cells of a 3 x 4 grid, and the detector of that bar (tau = 0.5)."""
    image = np.full((24, 32), 0.1)
    image[11:14, 4:24] = 0.9  # a thin bar over cells 4 (half), 5 and 6: their mean colours stay below tau
    seg = grid(image.shape, 3, 4)
    shape = np.zeros(image.shape, dtype=bool)
    shape[11:14, 6:22] = True  # inside cells 4, 5, 6
    return "shape detector (tau = 0.5)", image, seg, ShapeDetector(shape, 0.5), None


def network_cases():
    """(title, image, segments, classifier, class) for shapes-cnn and EfficientNet-Lite0 (the benchmark's games)."""
    shapes = make_shapes(1, seed=123)[0][0]
    photo = load_photo("chelsea")
    cases = []
    for name, image, seg in (("shapes-cnn", shapes, grid(shapes.shape, 3, 4)),
                             ("efficientnet-lite0", photo, segment(photo, "slic", n_segments=13, compactness=20))):
        clf = load(name)
        top = int(np.argmax(clf.predict(image[None])[0]))
        cases.append((f"{name}: p({clf.class_names[top]})", image, seg, clf, top))
    return cases


def dial(title, image, seg, model, target, tables: dict | None = None) -> dict:
    """Every value of one game: LIME's limit over WIDTHS, occlusion, Banzhaf, Shapley, IG sums."""
    d = n_superpixels(seg)
    key = title.split(":")[0]
    if tables and f"{key}__values" in tables and tables[f"{key}__values"].shape[0] == 1 << d:
        table = theory.ResponseTable(tables[f"{key}__values"])
    else:
        predict = model.predict if target is not None else model
        table = theory.ResponseTable.from_function(
            superpixel_game(predict, image, seg, 0 if target is None else target, dtype=np.float32), d, batch_size=512)
    ig = None
    if target is not None:
        rep = replacement_image(image, seg)
        res = integrated_gradients(model, image.astype(np.float32), rep.astype(np.float32), n_steps=64,
                                   target=target, output="prob")
        ig = superpixel_sums(res.attributions, seg)
    lime = np.array([theory.exact_limit(table, d, w)[1:] for w in WIDTHS])
    return {"title": title, "d": d, "lime": lime, "occlusion": theory.exact_occlusion(table),
            "banzhaf": theory.exact_banzhaf(table), "shapley": theory.exact_shapley(table), "ig": ig,
            "limit_025": theory.exact_limit(table, d, 0.25)[1:]}


def draw(panels: list, out) -> list:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4.2 * len(panels), 3.9))
    outer = fig.add_gridspec(1, len(panels), wspace=0.32)
    cmap = plt.get_cmap("tab10")
    for i, p in enumerate(panels):
        inner = outer[i].subgridspec(1, 2, width_ratios=[5, 1], wspace=0.05)
        ax, side = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        side.sharey(ax)
        order = np.argsort(-np.abs(p["shapley"]), kind="stable")
        colour = {int(j): (cmap(r) if r < N_COLOURED else (0.7, 0.7, 0.7)) for r, j in enumerate(order)}
        for j in order[::-1]:  # coloured ones on top
            c, lw = colour[int(j)], (1.8 if colour[int(j)] != (0.7, 0.7, 0.7) else 0.8)
            ax.plot(WIDTHS, p["lime"][:, j], color=c, lw=lw)
            ax.plot(WIDTHS[0], p["occlusion"][j], "<", color=c, ms=6, clip_on=False)
            ax.plot(WIDTHS[-1], p["banzhaf"][j], ">", color=c, ms=6, clip_on=False)
            side.plot(0, p["shapley"][j], "o", color=c, ms=6)
            if p["ig"] is not None:
                side.plot(1, p["ig"][j], "D", color=c, ms=5, mfc="none")
        ax.set_xscale("log")
        ax.axvline(0.25, color="k", ls="--", lw=0.8)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("kernel width (dashed: lime's 0.25)")
        ax.set_title(f"{p['title']}, d = {p['d']}", fontsize=9)
        ax.text(0.02, 0.98, "occlusion", transform=ax.transAxes, fontsize=7, va="top")
        ax.text(0.98, 0.98, "Banzhaf", transform=ax.transAxes, fontsize=7, va="top", ha="right")
        if i == 0:
            ax.set_ylabel("LIME's exact limit per superpixel")
        side.set_xlim(-0.6, 1.6)
        side.set_xticks([0, 1], ["Shapley", "IG sums" if p["ig"] is not None else "(no IG)"], rotation=90, fontsize=8)
        side.tick_params(axis="y", labelleft=False)
        side.axhline(0, color="k", lw=0.5)
    from matplotlib.lines import Line2D

    keys = [Line2D([], [], ls="none", marker=m, color="k", mfc=f, label=t) for m, f, t in
            (("<", "k", "occlusion (width -> 0)"), (">", "k", "Banzhaf (width -> inf)"), ("o", "k", "Shapley"),
             ("D", "none", "IG sums"))]
    fig.axes[0].legend(handles=keys, loc="center right", fontsize=7, frameon=False)
    fig.suptitle("LIME's limit moves from occlusion (narrow kernel) to Banzhaf (wide); Shapley and IG beside it; "
                 f"{N_COLOURED} largest |Shapley| in colour", fontsize=9)
    return save_figure(fig, out, STEM, rect=(0, 0, 1, 0.95))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="writes OUT/figures/fig_kernel_dial.png and .pdf")
    parser.add_argument("--games", default=None, help="results/bench_shapley_games.npz, to reuse its tables")
    args = parser.parse_args(argv)
    tables = None
    if args.games:
        with np.load(args.games) as f:
            tables = {k: f[k] for k in f.files}
    panels = [dial(*case, tables) for case in [shape_detector_case(), *network_cases()]]
    for p in panels:
        print(p["title"], "shapley", np.round(p["shapley"], 4), "limit(0.25)", np.round(p["limit_025"], 4))
    return draw(panels, Path(args.out))


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    main()
