"""Table and figure of experiment 4 (the paper's Tables 1 and 2): LIME against integrated gradients.

Reads ``out/results/lime_vs_ig_jaccard.csv`` (and ``_iou.csv``), written by
``experiments/lime_vs_ig.py``, and writes

- ``figures/table_lime_vs_ig.md``: per protocol (the paper's, each difference switched alone, the
  corrected one), mean ± standard error over images of the top-5 and top-10 Jaccard indices of
  LIME (mean of R runs) against the IG superpixel sums, beside the two noise floors (two
  independent LIME estimates; two single runs), a random ranking and the exact chance level of
  the signed top-k; for the networks of the drawn shapes, the IoU of the top superpixels with the
  object's mask (the figure shows the first of them, the shapes CNN); the test of "LIME is close to
  the IG sums where the response is additive" (``lime_vs_ig_additivity.csv``);
- ``figures/table_lime_vs_ig.png`` / ``.pdf``: the same numbers as bars (rows: protocol and
  explained output; columns: top-5 Jaccard, top-10 Jaccard, IoU with the mask), error bars one
  standard error, black ticks the chance level.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from limetheory.experiments._store import write_text  # noqa: E402

from limetheory.experiments._protocols import PROTOCOLS  # noqa: E402

from ._common import figure_main, read_meta, read_results, save_figure  # noqa: E402

NAME = "lime_vs_ig"
STEM = "table_lime_vs_ig"

LABELS = {
    "lime_vs_ig": "LIME vs IG sums",
    "lime_vs_lime": "LIME vs LIME (noise floor)",
    "run_vs_run": "one run vs one run",
    "lime_vs_random": "LIME vs random ranking",
    "lime_vs_mask": "LIME",
    "ig_vs_mask": "IG sums",
    "random_vs_mask": "random ranking",
}
COLOURS = {
    "lime_vs_ig": "tab:blue", "lime_vs_lime": "tab:green", "run_vs_run": "tab:olive",
    "lime_vs_random": "0.6", "lime_vs_mask": "tab:blue", "ig_vs_mask": "tab:orange", "random_vs_mask": "0.6",
}
OUTPUT_LABELS = {"prob": "probability of the class", "logit": "logit of the class"}


def _pm(mean, se, digits: int = 2) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(se):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def markdown(jac: pd.DataFrame, iou: pd.DataFrame | None, meta: dict) -> str:
    """The pretty markdown tables (mean ± standard error over images)."""
    s = meta["settings"]
    ks = s["ks"]
    head = ["protocol", "model", "output", "images", "d (median)"]
    for k in ks:
        head += [f"LIME vs IG top-{k}", f"LIME vs LIME top-{k}", f"run vs run top-{k}", f"random top-{k}",
                 f"chance top-{k}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    d_median = {(m["model"], m.get("segmentation")): m.get("d_median") for m in meta.get("models_summary", [])}
    for (protocol, model, output), g in jac.groupby(["protocol", "model", "output"], sort=False):
        g = g.set_index("comparison")
        dm = d_median.get((model, PROTOCOLS[protocol].segmentation if protocol in PROTOCOLS else None))
        cells = [protocol, model, output, str(int(g["n_images"].max())), "" if dm is None else f"{dm:g}"]
        for k in ks:
            col = f"jaccard_top{k}"
            for comp in ("lime_vs_ig", "lime_vs_lime", "run_vs_run", "lime_vs_random"):
                cells.append(_pm(g.loc[comp, col], g.loc[comp, f"{col}_se"]) if comp in g.index else "")
            cells.append(f"{g[f'chance_top{k}'].iloc[0]:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if iou is not None and len(iou):
        iks = s["iou_ks"]
        masks = ("lime_vs_mask", "ig_vs_mask", "random_vs_mask")
        head = ["protocol", "model", "output", "images"] + [f"{LABELS[c]} IoU top-{k}" for k in iks for c in masks] + [
            "best IoU"]
        rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * (len(head) - 4)) + "|"]
        for (subset, protocol, model, output), g in iou.groupby(["subset", "protocol", "model", "output"], sort=False):
            g = g.set_index("comparison")
            what = "all" if subset == "all" else "object removed by the replacement"
            cells = [protocol, model, output, f"{int(g['n_images'].max())} ({what})"]
            for k in iks:
                col = f"iou_top{k}"
                for comp in ("lime_vs_mask", "ig_vs_mask", "random_vs_mask"):
                    cells.append(_pm(g.loc[comp, col], g.loc[comp, f"{col}_se"]) if comp in g.index else "")
            cells.append(_pm(g["iou_oracle"].iloc[0], g["iou_oracle_se"].iloc[0]))
            rows.append("| " + " | ".join(cells) + " |")
        text += ("\nIoU of the pixels of the top superpixels with the mask of the object that decides the class "
                 "(all images; and only those where LIME's replacement image visibly changes at least half of the "
                 "object's pixels):\n\n")
        text += "\n".join(rows) + "\n"
    return text


def additivity_markdown(add: pd.DataFrame) -> str:
    """The test of "LIME is close to the IG sums where the response is additive, and not elsewhere"."""
    head = ["protocol", "output", "model", "images", "median R", "rho(R, J)", "rho(curvature, J)",
            "gap, low R", "gap, high R", "p (gap high > low)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for _, r in add.iterrows():
        rho = "n/a" if not np.isfinite(r["rho_R_jaccard"]) else f"{r['rho_R_jaccard']:.2f} (p {r['p_rho_R']:.2g})"
        rho_c = ("n/a" if not np.isfinite(r["rho_curvature_jaccard"])
                 else f"{r['rho_curvature_jaccard']:.2f} (p {r['p_rho_curvature']:.2g})")
        p = "n/a" if not np.isfinite(r["p_gap_high_gt_low"]) else f"{r['p_gap_high_gt_low']:.2g}"
        lines.append("| " + " | ".join([
            r["protocol"], r["output"], r["model"], str(int(r["n_images"])),
            "n/a" if not np.isfinite(r["R_median"]) else f"{r['R_median']:.3g}", rho, rho_c,
            _pm(r["gap_low_R"], r["gap_low_R_se"]), _pm(r["gap_high_R"], r["gap_high_R_se"]), p]) + " |")
    k = int(add["k"].iloc[0]) if len(add) else 5
    return (f"\nWhy they disagree (docs/theory/lime_and_ig.md): per image, the top-{k} Jaccard J of LIME against the IG "
            "sums, Spearman's rho with the non-additive share R of g(z) = f(x(z)) and with the path curvature; "
            "the gap is the noise floor (LIME against LIME) minus J, mean ± s.e. over the images below and above "
            "the median R; p: one-sided Mann-Whitney test that the gap is larger above the median:\n\n"
            + "\n".join(lines) + "\n")


def _values(s: dict, get) -> str:
    """One setting over the models: "1000" when they agree, "300/64" (model order) when not."""
    vals = list(dict.fromkeys(str(get(m)) for m in s["models"]))
    return "/".join(vals) if vals else "?"


def _bars(ax, table: pd.DataFrame, groups, comparisons, value, se, *, chance=None, group_labels=None):
    width = 0.8 / len(comparisons)
    x = np.arange(len(groups))
    for i, comp in enumerate(comparisons):
        means, errs = [], []
        for gname in groups:
            row = table[(table["group"] == gname) & (table["comparison"] == comp)]
            means.append(float(row[value].iloc[0]) if len(row) else np.nan)
            errs.append(float(row[se].iloc[0]) if len(row) else np.nan)
        ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=np.nan_to_num(errs), capsize=2,
               color=COLOURS[comp], label=LABELS[comp], error_kw={"linewidth": 0.8})
    if chance is not None:
        for xi, c in zip(x, chance):
            if np.isfinite(c):
                ax.hlines(c, xi - 0.45, xi + 0.45, colors="black", linewidth=1.2, linestyles="--")
    many = len(groups) >= 5
    ax.set_xticks(x, group_labels or groups, fontsize=7 if many else 8, rotation=35 if many else 0,
                  ha="right" if many else "center")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


def make(out) -> list:
    out = Path(out)
    meta = read_meta(out, NAME)
    jac = read_results(out, f"{NAME}_jaccard")
    try:
        iou = read_results(out, f"{NAME}_iou")
    except FileNotFoundError:
        iou = None
    try:
        meta["models_summary"] = read_results(out, f"{NAME}_models").to_dict("records")
    except FileNotFoundError:
        meta["models_summary"] = []
    text = markdown(jac, iou, meta)
    try:
        text += additivity_markdown(read_results(out, f"{NAME}_additivity"))
    except FileNotFoundError:
        pass
    md_path = write_text(out / "figures" / f"{STEM}.md", text)

    s = meta["settings"]
    ks = s["ks"]
    panels = list(dict.fromkeys(zip(jac["protocol"], jac["output"])))
    models = list(dict.fromkeys(jac["model"]))
    n_img = jac.groupby("model")["n_images"].max()
    has_iou = iou is not None and len(iou) > 0
    iou_model = iou["model"].iloc[0] if has_iou else None  # the panel shows the first shapes network
    ncols = len(ks) + (1 if has_iou else 0)
    width = max(4.6, 0.6 * len(models) + 1.0)  # each network's group of bars keeps its room
    fig, axes = plt.subplots(len(panels), ncols, figsize=(width * ncols, 3.3 * len(panels)), squeeze=False)
    comps = ["lime_vs_ig", "lime_vs_lime", "run_vs_run", "lime_vs_random"]
    labels = [f"{m}\n({int(n_img[m])} images)" for m in models]
    for r, (protocol, output) in enumerate(panels):
        tab = jac[(jac["protocol"] == protocol) & (jac["output"] == output)].assign(group=lambda f: f["model"])
        for c, k in enumerate(ks):
            ax = axes[r, c]
            first = tab.groupby("model")[f"chance_top{k}"].first()
            chance = [float(first.get(m, np.nan)) for m in models]
            _bars(ax, tab, models, comps, f"jaccard_top{k}", f"jaccard_top{k}_se", chance=chance, group_labels=labels)
            ax.set_title(f"{protocol}: top-{k} Jaccard, {OUTPUT_LABELS[output]}", fontsize=9)
            if c == 0:
                ax.set_ylabel("Jaccard index (mean ± s.e.)")
        if has_iou:
            ax = axes[r, -1]
            sub = iou[(iou["protocol"] == protocol) & (iou["output"] == output) & (iou["model"] == iou_model)]
            if sub.empty:
                ax.set_axis_off()
                continue
            long, groups, oracle = [], [], []
            for k in s["iou_ks"]:
                for subset in dict.fromkeys(sub["subset"]):
                    part = sub[sub["subset"] == subset]
                    group = f"top-{k}\n" + ("all" if subset == "all" else "object\nremoved")
                    groups.append(group)
                    oracle.append(float(part["iou_oracle"].iloc[0]))
                    for _, row in part.iterrows():
                        long.append({"group": group, "comparison": row["comparison"],
                                     "v": row[f"iou_top{k}"], "se": row[f"iou_top{k}_se"]})
            _bars(ax, pd.DataFrame(long), groups, ["lime_vs_mask", "ig_vs_mask", "random_vs_mask"], "v", "se")
            for xi, o in enumerate(oracle):
                ax.hlines(o, xi - 0.45, xi + 0.45, colors="black", linestyles=":", linewidth=1.2,
                          label="best possible (superpixels)" if xi == 0 else None)
            name = sub["model"].iloc[0] if len(sub) else "shapes-cnn"
            n_all = int(sub.loc[sub["subset"] == "all", "n_images"].max())
            n_rem = int(sub.loc[sub["subset"] != "all", "n_images"].max()) if (sub["subset"] != "all").any() else 0
            ax.set_title(f"{name}: IoU of the top superpixels with the object's mask\n"
                         f"({OUTPUT_LABELS[output]}; {n_all} images, object removed in {n_rem})", fontsize=9)
            ax.set_ylim(0, 1.3)
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.legend(fontsize=7, loc="upper center", ncol=2)
    handles, leg_labels = axes[0, 0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="black", linestyle="--"))
    leg_labels.append("chance (two random signed top-k sets)")
    fig.legend(handles, leg_labels, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"LIME (mean of {_values(s, lambda m: m['n_runs'])} runs of n = "
                 f"{_values(s, lambda m: m['n_samples'])}, lime's defaults) against integrated gradients summed "
                 f"over superpixels (baseline: LIME's replacement image; trapezoid {s['paper_ig']['n_steps']} points "
                 f"or Gauss-Legendre {_values(s, lambda m: m['gl_steps'])}); {meta['mode']} run", fontsize=10)
    return [md_path] + save_figure(fig, out, STEM, rect=(0, 0.05, 1, 0.97))


def main(argv=None) -> int:
    return figure_main(make, argv, __doc__)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
