"""Figure of experiment 5: how the bandwidth nu and the number of superpixels d decide whether LIME
sees a shape.

(a) the digit, the shape S and one of the k x k grids (superpixels of E_- shaded);
(b) theory: the limit weight beta_in on the superpixels carrying the shape over (nu, d);
(c) theory: the common limit weight beta_out elsewhere;
(d) alpha_p / alpha_0 against p for several nu (dashed: 2^-p, the large-bandwidth limit);
(e) LIME at n samples (ridge 1, lime's Bernoulli sampler): share of the runs whose top-p
    superpixels are exactly E_-;
(f) LIME's mean coefficient on E_- per run against its limit beta_in (diagonal: agreement);

(g), (h) the same as (e), (f) with z drawn from the pi-weighted law (``sampler="weighted"``):
    same limit, no sample wasted on a negligible weight.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, SymLogNorm

import limetheory as lt
from limetheory import analytic
from limetheory.experiments.bandwidth import WIDTH_COLUMN
from limetheory.plotting import plot_superpixels

from ._common import figure_main, read_arrays, read_meta, read_results, save_figure

NAME = "bandwidth"
STEM = "fig_bandwidth"


def _log_edges(x) -> np.ndarray:
    lx = np.log10(np.asarray(x, dtype=float))
    mid = (lx[1:] + lx[:-1]) / 2
    return 10 ** np.concatenate([[lx[0] - (mid[0] - lx[0])], mid, [lx[-1] + (lx[-1] - mid[-1])]])


def _heatmap(ax, table, value, norm, cmap, title, cbar_label, default_nu):
    ks = sorted(table["k"].unique())
    kernel_widths = sorted(table[WIDTH_COLUMN].unique())
    grid = table.pivot(index="k", columns=WIDTH_COLUMN, values=value).reindex(index=ks, columns=kernel_widths).to_numpy()
    mesh = ax.pcolormesh(_log_edges(kernel_widths), np.arange(len(ks) + 1), grid, norm=norm, cmap=cmap, shading="flat")
    ax.set_xscale("log")
    first = table.groupby("k")[["d", "p"]].first()
    ax.set_yticks(np.arange(len(ks)) + 0.5, [f"d={first.loc[k, 'd']}, p={first.loc[k, 'p']}" for k in ks], fontsize=7)
    ax.axvline(default_nu, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlabel(r"kernel width $\nu$ (dashed: lime's 0.25)")
    ax.set_title(title, fontsize=9)
    cb = ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(cbar_label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return grid


def _detection_panel(ax, det, s, label):
    """Heatmap over (nu, d) of the share of runs whose top-p superpixels are exactly E_-."""
    grid = _heatmap(ax, det, "found_rate", None, "Greens",
                    f"{label} (n = {s['n_samples']}, ridge {s['ridge']:g}, {len(s['seeds'])} runs/cell):\n"
                    "share of runs whose top-p superpixels are E$_-$", "share of runs", 0.25)
    ax.collections[0].set_clim(0, 1)
    kernel_widths = sorted(det[WIDTH_COLUMN].unique())
    centres = np.sqrt(_log_edges(kernel_widths)[1:] * _log_edges(kernel_widths)[:-1])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            ax.text(centres[j], i + 0.5, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if grid[i, j] > 0.6 else "black")


def _scatter_panel(ax, runs, title):
    """Each run's mean coefficient on E_- against the limit beta_in, coloured by nu."""
    cmap = plt.get_cmap("plasma")
    run_kernel_widths = sorted(runs[WIDTH_COLUMN].unique())
    for i, kernel_width in enumerate(run_kernel_widths):
        sub = runs[runs[WIDTH_COLUMN] == kernel_width]
        ax.scatter(sub["limit_beta_in"], sub["mean_in"], s=12, color=cmap(i / max(len(run_kernel_widths) - 1, 1)),
                   label=rf"$\nu$ = {kernel_width:g}", alpha=0.8)
    lo = max(runs["limit_beta_in"].min() / 2, 1e-6)
    ax.plot([lo, 1.2], [lo, 1.2], "k--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4, linscale=0.5)
    ax.set_ylim(min(-1e-4, runs["mean_in"].min() * 1.5), 1.5)
    ax.set_xlabel(r"limit $\beta_{in}$")
    ax.set_ylabel(r"LIME: mean coefficient on E$_-$ (one run; symlog)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def make(out) -> list:
    out = Path(out)
    runs = read_results(out, NAME)
    theo = read_results(out, f"{NAME}_theory")
    alpha = read_results(out, f"{NAME}_alpha")
    det = read_results(out, f"{NAME}_detection")
    arr = read_arrays(out, NAME)
    s = read_meta(out, NAME)["settings"]

    fig, axes = plt.subplots(2, 4, figsize=(20, 8.6))
    (ax_img, ax_in, ax_out, ax_alpha), (ax_det, ax_sc, ax_det_w, ax_sc_w) = axes

    # (a) the image, the shape, an example grid
    k_show = 7 if 7 in s["grid_k"] else s["grid_k"][len(s["grid_k"]) // 2]
    segments = lt.segmentation.grid(arr["image"].shape, k_show, k_show)
    members = analytic.ShapeDetector(arr["shape_mask"], s["tau"]).destroying_superpixels(
        arr["image"], segments, s["hide_color"])
    plot_superpixels(arr["image"], segments, ax_img, shape_mask=arr["shape_mask"], numbers=False,
                     title=f"(a) shape S (red) on a {k_show} x {k_show} grid: E_- shaded (p = {int(members.sum())})")
    shade = np.ma.masked_where(~members[segments], np.ones(segments.shape))
    ax_img.imshow(shade, cmap="autumn", alpha=0.35, interpolation="nearest")

    # (b), (c) theory heatmaps
    _heatmap(ax_in, theo, "beta_in", LogNorm(vmin=max(theo["beta_in"].min(), 1e-6), vmax=1), "viridis",
             r"(b) limit $\beta_{in}$ on E$_-$ (theory)", r"$\beta_{in}$", 0.25)
    lim = float(np.abs(theo["beta_out"]).max()) or 1.0
    _heatmap(ax_out, theo, "beta_out", SymLogNorm(linthresh=1e-5, vmin=-lim, vmax=lim), "RdBu_r",
             r"(c) limit $\beta_{out}$ outside E$_-$ (theory)", r"$\beta_{out}$ (symlog)", 0.25)

    # (d) alpha_p / alpha_0
    for kernel_width, sub in alpha.groupby(WIDTH_COLUMN):
        ax_alpha.semilogy(sub["p"], sub["alpha_ratio"], "o-", ms=3, label=rf"$\nu$ = {kernel_width:g}")
    half = alpha.groupby("p")["half_power"].first()
    ax_alpha.semilogy(half.index, half.to_numpy(), "k--", linewidth=1, label=r"$2^{-p}$")
    ax_alpha.set_xlabel("p")
    ax_alpha.set_ylabel(r"$\alpha_p / \alpha_0$")
    ax_alpha.set_title(rf"(d) $\alpha_p/\alpha_0$ for d = {int(alpha['d'].iloc[0])}", fontsize=9)
    ax_alpha.legend(fontsize=7)

    # (e)-(h) LIME runs, one row of panels per sampler
    panels = {"bernoulli": (ax_det, ax_sc, "(e)", "(f)", "lime's sampler"),
              "weighted": (ax_det_w, ax_sc_w, "(g)", "(h)", "pi-weighted sampler")}
    for sampler, (a_det, a_sc, l_det, l_sc, name) in panels.items():
        _detection_panel(a_det, det[det["sampler"] == sampler], s, f"{l_det} LIME, {name}")
        _scatter_panel(a_sc, runs[runs["sampler"] == sampler], f"{l_sc} LIME vs its limit on the shape ({name})")
    return save_figure(fig, out, STEM)


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
