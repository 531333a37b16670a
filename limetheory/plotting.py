"""Figures: explanation overlays, coefficient box plots against theory, convergence plots,
LIME next to integrated gradients; :func:`save_figure` writes any of them atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from .files import atomic_write
from .metrics import jaccard_topk

__all__ = [
    "display_image",
    "explanation_figure",
    "label_edges",
    "mark_top",
    "plot_coefficient_boxes",
    "plot_coefficient_intervals",
    "plot_convergence",
    "plot_explanation",
    "plot_superpixel_values",
    "plot_superpixels",
    "plot_top_superpixels",
    "plot_top_values",
    "save_figure",
    "superpixel_map",
]


def display_image(image) -> np.ndarray:
    """An image scaled to [0, 1] floats for imshow (uint8 and [0, 255] floats divided by 255)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    hi = img.max() if img.size else 1.0
    if np.asarray(image).dtype == np.uint8 or hi > 1.0:
        img = img / 255.0
    return np.clip(img, 0.0, 1.0)


def superpixel_map(values, segments) -> np.ndarray:
    """Paint one value per superpixel onto the pixels: array (H, W)."""
    return np.asarray(values)[segments]


def plot_explanation(explanation, label=None, k: int = 5, ax=None, alpha: float = 0.45, title: str | None = None,
                     mark_uncertain: bool = True):
    """Show the image with the top-k positive superpixels in green and top-k negative in red.

    Superpixel boundaries are drawn in yellow. With ``mark_uncertain`` (and standard errors on
    the explanation), a shown superpixel whose 95% interval contains 0 is hatched: this run
    cannot tell the sign of its coefficient. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from skimage.segmentation import mark_boundaries

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    img = display_image(explanation.image)
    rgb = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img
    seg = explanation.segments
    pos = np.isin(seg, explanation.top(k, label, "positive", allow_fewer=True))
    neg = np.isin(seg, explanation.top(k, label, "negative", allow_fewer=True))
    shown = rgb.copy()
    shown[pos] = (1 - alpha) * shown[pos] + alpha * np.array([0.0, 0.85, 0.0])
    shown[neg] = (1 - alpha) * shown[neg] + alpha * np.array([0.9, 0.0, 0.0])
    ax.imshow(mark_boundaries(shown, seg, color=(1, 1, 0), mode="inner"))
    n_uncertain = 0
    if mark_uncertain and explanation.coef_se is not None:
        ci = explanation.conf_int(label, level=0.95)
        top = np.concatenate([explanation.top(k, label, "positive", allow_fewer=True),
                              explanation.top(k, label, "negative", allow_fewer=True)])
        unsure = top[(ci[top, 0] <= 0) & (ci[top, 1] >= 0)]
        n_uncertain = len(unsure)
        if n_uncertain:
            ax.contourf(np.isin(seg, unsure).astype(float), levels=[0.5, 1.5], colors="none", hatches=["////"])
    ax.set_axis_off()
    lab = explanation.labels[explanation._row(label)]
    default = f"class {lab}: top {k} + (green) / - (red)"
    if n_uncertain:
        default += f"\nhatched: sign not settled at 95% ({n_uncertain})"
    ax.set_title(title if title is not None else default, fontsize=9)
    return ax


def _rgb(image) -> np.ndarray:
    img = display_image(image)
    return np.stack([img] * 3, axis=-1) if img.ndim == 2 else img


def _superpixel_centres(segments) -> np.ndarray:
    """(d, 2) row/column of a pixel inside every superpixel, nearest to its centroid."""
    d = int(segments.max()) + 1
    rows, cols = np.indices(segments.shape)
    flat = segments.ravel()
    counts = np.bincount(flat, minlength=d)
    cr = np.bincount(flat, rows.ravel(), minlength=d) / counts
    cc = np.bincount(flat, cols.ravel(), minlength=d) / counts
    out = np.empty((d, 2))
    for j in range(d):  # a centroid may fall outside a non-convex superpixel: take the nearest member
        r, c = np.nonzero(segments == j)
        k = np.argmin((r - cr[j]) ** 2 + (c - cc[j]) ** 2)
        out[j] = r[k], c[k]
    return out


def label_edges(labels) -> np.ndarray:
    """Pixel-exact boundaries of a label map as line segments, shape (m, 2, 2) of (x, y) points.

    A segment separates two 4-neighbouring pixels with different labels; pixel (r, c) covers
    [c - 0.5, c + 0.5] x [r - 0.5, r + 0.5] as in ``imshow``. Crisp at any image size, unlike
    painting boundary pixels.
    """
    lab = np.asarray(labels)
    r, c = np.nonzero(lab[:, 1:] != lab[:, :-1])  # between (r, c) and (r, c+1)
    vert = np.stack([np.stack([c + 0.5, r - 0.5], -1), np.stack([c + 0.5, r + 0.5], -1)], 1)
    r, c = np.nonzero(lab[1:, :] != lab[:-1, :])  # between (r, c) and (r+1, c)
    horiz = np.stack([np.stack([c - 0.5, r + 0.5], -1), np.stack([c + 0.5, r + 0.5], -1)], 1)
    return np.concatenate([vert, horiz]).astype(float)


def _draw_edges(ax, labels, color, linewidth, pad_outside: bool = False):
    from matplotlib.collections import LineCollection

    lab = np.asarray(labels)
    if pad_outside:  # also outline where the region touches the image border
        lab = np.pad(lab, 1, constant_values=0)
        segs = label_edges(lab) - 1.0
    else:
        segs = label_edges(lab)
    ax.add_collection(LineCollection(segs, colors=[color], linewidths=linewidth, capstyle="projecting"))


def plot_superpixels(image, segments, ax=None, *, shape_mask=None, highlight=None, numbers: bool = True,
                     boundary_color=(1.0, 0.85, 0.0), shape_color="tab:red", title: str | None = None):
    """The image with its superpixel boundaries, their indices, and optionally a shape outlined.

    Parameters
    ----------
    image : (H, W) or (H, W, C) image (uint8 or floats; see :func:`display_image`).
    segments : (H, W) superpixel labels 0..d-1.
    shape_mask : optional (H, W) boolean shape S, outlined in ``shape_color``.
    highlight : optional (d,) boolean mask of superpixels whose index is written in bold red
        (e.g. E_-, the superpixels that carry the shape).
    numbers : write every superpixel's index at a pixel near its centroid.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    seg = np.asarray(segments)
    ax.imshow(_rgb(image), interpolation="nearest")
    _draw_edges(ax, seg, boundary_color, 1.0)
    if shape_mask is not None:
        _draw_edges(ax, np.asarray(shape_mask).astype(np.int8), shape_color, 2.0, pad_outside=True)
    if numbers:
        hl = np.zeros(int(seg.max()) + 1, bool) if highlight is None else np.asarray(highlight, bool)
        for j, (r, c) in enumerate(_superpixel_centres(seg)):
            ax.text(c, r, str(j), ha="center", va="center", fontsize=7,
                    color="tab:red" if hl[j] else "black", fontweight="bold" if hl[j] else "normal",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    ax.set_xlim(-0.5, seg.shape[1] - 0.5)
    ax.set_ylim(seg.shape[0] - 0.5, -0.5)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_superpixel_values(values, segments, ax=None, *, cmap="RdBu_r", symmetric: bool = True,
                           colorbar: bool = True, title: str | None = None, label: str | None = None):
    """Paint one value per superpixel (or a full (H, W) map) with a diverging colour map."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    vals = np.asarray(values, dtype=float)
    seg = np.asarray(segments)
    img = vals if vals.shape == seg.shape else superpixel_map(vals, seg)
    lim = np.max(np.abs(img)) or 1.0
    kw = {"vmin": -lim, "vmax": lim} if symmetric else {}
    im = ax.imshow(img, cmap=cmap, interpolation="nearest", **kw)
    _draw_edges(ax, seg, "0.35", 0.6)
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if label:
            cb.set_label(label, fontsize=8)
        cb.ax.tick_params(labelsize=7)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_coefficient_boxes(coefs, limit, ax=None, *, highlight=None, limit_label: str = "closed-form limit",
                           runs_label: str | None = None, title: str | None = None, show_points: bool = True,
                           spread=None, spread_label: str = "95% band of one run around the limit (exact)"):
    """Box plots of LIME's coefficients per superpixel over several runs, with the theory on top.

    Parameters
    ----------
    coefs : (n_runs, d) empirical coefficients beta_hat_j of every run.
    limit : (d,) the limit explanation beta^f_j, drawn as a short red bar over each box.
    highlight : optional (d,) boolean mask: those superpixels' boxes are shaded (e.g. E_-).
    show_points : overlay every run as a dot (useful with few runs).
    spread : optional (d,) standard deviation of one run around the limit (e.g. sqrt(V_jj / n) from
        :func:`limetheory.theory.exact_limit_covariance`): a pale band limit +- z spread (z the 97.5% normal quantile), where
        95% of runs should land.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
    limit = np.asarray(limit, dtype=float)
    n_runs, d = coefs.shape
    if limit.shape != (d,):
        raise ValueError(f"limit must have shape ({d},) like the coefficients' columns, got {limit.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 0.45 * d + 1), 3))
    pos = np.arange(d)
    hl = np.zeros(d, bool) if highlight is None else np.asarray(highlight, bool)
    box = ax.boxplot(coefs, positions=pos, widths=0.6, patch_artist=True, showfliers=False,
                     medianprops={"color": "black", "linewidth": 1})
    for j, patch in enumerate(box["boxes"]):
        patch.set_facecolor("tab:orange" if hl[j] else "lightsteelblue")
        patch.set_alpha(0.8)
    if show_points:
        jitter = np.linspace(-0.15, 0.15, n_runs) if n_runs > 1 else np.zeros(1)
        for j in range(d):
            ax.plot(pos[j] + jitter, coefs[:, j], ".", color="0.25", ms=3, zorder=3)
    if spread is not None:
        half = norm.ppf(0.975) * np.asarray(spread, dtype=float)
        if half.shape != (d,):
            raise ValueError(f"spread must have shape ({d},) like the coefficients' columns, got {half.shape}")
        ax.bar(pos, 2 * half, bottom=limit - half, width=0.86, color="red", alpha=0.13, zorder=1, linewidth=0)
    ax.hlines(limit, pos - 0.4, pos + 0.4, colors="red", linewidth=2.2, zorder=4)
    ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=0)
    ax.set_xticks(pos, [str(j) for j in pos], fontsize=7)
    ax.set_xlim(-0.7, d - 0.3)
    ax.set_xlabel("superpixel j")
    ax.set_ylabel(r"coefficient $\hat\beta_j$")
    handles = [Line2D([], [], color="red", linewidth=2.2, label=limit_label),
               Patch(facecolor="lightsteelblue", label=runs_label or f"LIME, {n_runs} runs")]
    if hl.any():
        handles.append(Patch(facecolor="tab:orange", label="superpixels carrying the shape"))
    if spread is not None:
        handles.append(Patch(facecolor="red", alpha=0.13, label=spread_label))
    ax.legend(handles=handles, fontsize=7, loc="best")
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_coefficient_intervals(explanation, label=None, k: int = 15, ax=None, level: float = 0.95):
    """Horizontal bars of the ``k`` largest |coef| of one label, with ``level`` confidence intervals.

    An interval that crosses zero, or overlaps its neighbours', says this run cannot tell those
    superpixels' sign or order apart; :meth:`Explanation.n_samples_for` says how many samples would.
    """
    import matplotlib.pyplot as plt

    row = explanation._row(label)
    order = explanation.top(k, label=explanation.labels[row], sign="abs")
    coef = explanation.coef[row, order]
    ci = explanation.conf_int(label=explanation.labels[row], level=level)[order]
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 0.25 * len(order) + 1.0))
    pos = np.arange(len(order))[::-1]
    colors = np.where(coef > 0, "tab:green", "tab:red")
    ax.barh(pos, coef, color=colors, alpha=0.75, height=0.7)
    ax.errorbar(coef, pos, xerr=np.abs(ci.T - coef), fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.axvline(0.0, color="0.5", linewidth=0.7)
    ax.xaxis.set_major_locator(plt.MaxNLocator(5))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_yticks(pos, [f"superpixel {j}" for j in order], fontsize=7)
    ax.set_title(f"label {explanation.labels[row]}: top {len(order)} of {explanation.n_superpixels} by |coef|", fontsize=9)
    ax.set_xlabel(rf"coefficient $\hat\beta_j$ ({level:.0%} interval, n = {explanation.n_samples})")
    return ax


def plot_convergence(n, errors, ax=None, *, label: str | None = None, color=None, reference: bool = True,
                     band: bool = True):
    """||beta_hat_n - beta^f|| against n on log-log axes, with an n^(-1/2) reference line.

    Parameters
    ----------
    n : (m,) sample sizes; errors : (m, n_seeds) errors of every run at each n (or (m,)).
    The line joins the root-mean-square error over seeds; ``band`` shades the 10-90% range of
    the runs. ``reference`` draws ``c n^(-1/2)`` through the RMS error at the largest n.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    n = np.asarray(n, dtype=float)
    err = np.asarray(errors, dtype=float)
    err = err[:, None] if err.ndim == 1 else err
    rms = np.sqrt(np.mean(err**2, axis=1))
    (line,) = ax.loglog(n, rms, "o-", color=color, label=label, ms=4)
    if band and err.shape[1] > 1:
        lo, hi = np.quantile(err, [0.1, 0.9], axis=1)
        ax.fill_between(n, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if reference:
        ref = rms[-1] * np.sqrt(n[-1] / n)
        ax.loglog(n, ref, "--", color=line.get_color(), alpha=0.6, linewidth=1)
    ax.set_xlabel("number of samples n")
    ax.set_ylabel(r"$\|\hat\beta_n - \beta^f\|_2$")
    return ax


# --------------------------------------------------------------------------- LIME next to IG
def mark_top(ax, segments, top, color):
    """Outline the union of the superpixels ``top`` and write their rank (1 = first) inside.

    Returns the (H, W) boolean mask of the outlined pixels.
    """
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
    rgb = _rgb(image)
    seg = np.asarray(segments)
    top = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[: int(k)]
    keep = np.isin(seg, top)
    grey = rgb.mean(axis=2, keepdims=True)
    ax.imshow(np.where(keep[..., None], rgb, 0.2 + 0.35 * grey), interpolation="nearest")
    mark_top(ax, seg, top, color)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_top_values(ax, values, segments, k: int = 5, *, title: str | None = None, label: str | None = None,
                    color=(0.2, 1.0, 0.2)):
    """One value per superpixel painted with a diverging colour map; the top ``k`` outlined and ranked."""
    v = np.asarray(values, dtype=np.float64)
    plot_superpixel_values(v, segments, ax, colorbar=True, label=label, title=title)
    mark_top(ax, segments, np.argsort(-v, kind="stable")[: int(k)], color)
    return ax


def explanation_figure(image, segments, lime_coef, ig_sums, ig_attributions, *, k: int = 5,
                       title: str = "", lime_label: str = "LIME", output: str = "prob"):
    """Four panels: the image; LIME's top-k superpixels; the IG superpixel sums (top k outlined);
    the pixel-level IG map (channels summed)."""
    import matplotlib.pyplot as plt

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


#: File formats :func:`save_figure` writes, by extension.
FIGURE_FORMATS = {"png": "png", "pdf": "pdf", "svg": "svg", "jpg": "jpeg", "jpeg": "jpeg"}


def save_figure(fig, path, *, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    The format follows the extension (:data:`FIGURE_FORMATS`). A failed write (a full disk, an
    interrupt) leaves any earlier file at ``path`` as it was and no temporary file behind.
    """
    path = Path(path)
    fmt = FIGURE_FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        raise ValueError(f"path must end in one of {', '.join('.' + e for e in FIGURE_FORMATS)}, got {path}")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight"))
