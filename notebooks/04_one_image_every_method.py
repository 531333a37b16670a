# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. One image, every method: what each one converges to
#
# LIME, KernelSHAP, exact Shapley values, Banzhaf values, occlusion and integrated gradients (IG)
# are usually run side by side and then disagree without anyone being able to say why. All the
# perturbation methods among them look at the same object, the **superpixel game**
#
# $$g(z) = f(x(z)), \qquad z \in \{0,1\}^d,$$
#
# the model's score when the superpixels with $z_j = 1$ are kept and the others show LIME's
# replacement image $\bar\xi$ ($g(\mathbf 1) = f(\xi)$, $g(\mathbf 0) = f(\bar\xi)$). They differ
# only in how they weigh the coalitions $z$, and so in what they converge to as the number of
# samples grows:
#
# | method | converges to |
# |---|---|
# | LIME, kernel width $\nu$ (lime: 0.25) | its closed-form limit $\beta^g(\nu) = \Sigma^{-1}\Gamma^g$ (notebook 1) |
# | LIME's limit, $\nu \to 0$ | occlusion, $g(\mathbf 1) - g(\mathbf 1 - e_j)$ |
# | LIME's limit, $\nu \to \infty$ | the Banzhaf value, $\mathbb E[g \mid z_j = 1] - \mathbb E[g \mid z_j = 0]$ ($z$ uniform) |
# | KernelSHAP | the Shapley value |
# | IG summed per superpixel (baseline $\bar\xi$) | the Aumann-Shapley value of the *continuous* game, not a value of $g$ |
#
# This notebook explains **one image** with **one network** by all of them, checks each arrow of
# the table with the numbers it computes, and splits the difference between LIME and IG into
# its two causes (user guide: docs/user_guide/shapley.md; derivations: docs/theory/shapley.md).
# It runs in well under a minute on a CPU.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import limetheory as lt
from limetheory import theory
from limetheory.compare import decompose_lime_ig
from limetheory.data import make_shapes
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.nets import load
from limetheory.perturb import superpixel_game
from limetheory.plotting import plot_superpixel_values, plot_superpixels

# %% [markdown]
# ## The image, the network, the game
#
# `load("shapes-cnn")` is the small CNN of notebook 3, trained in this project to tell circles,
# squares and triangles apart in 64 x 64 images drawn by `make_shapes`. We explain its
# probability of the class it predicts (a bundled `Classifier` explains its probability) on a
# $3 \times 4$ grid of superpixels, $d = 12$: small enough to **tabulate the game once**,
# $2^{12} = 4096$ network calls, from which every exact value below is read off.

# %%
net = load("shapes-cnn")
images, labels, masks = make_shapes(1, seed=123)  # held out: training used seed=1
image, mask = images[0], masks[0]
segments = lt.segment(image, "grid", n_rows=3, n_cols=4)
d = int(segments.max()) + 1
target = int(np.argmax(net.predict(image[None])[0]))

table = theory.ResponseTable.from_function(superpixel_game(net, image, segments, target, dtype=np.float32), d,
                                           batch_size=512)  # g(z) for all 2^d patterns, once
g_all, g_none = table.values[-1], table.values[0]  # g(1) = f(image), g(0) = f(replacement)
print(f"class {net.class_names[target]!r}: g(1) = f(image) = {g_all:.4f}, g(0) = f(replacement) = {g_none:.4f}; "
      f"d = {d}, {table.values.size} patterns")

# %% [markdown]
# ## The exact values
#
# One table, five exact explanations: the Shapley, Banzhaf and occlusion values of the game, LIME's
# limit at lime's kernel width, and the limit of KernelSHAP (the Shapley kernel's limit), which is
# the Shapley value itself.

# %%
nu = 0.25
shapley = theory.exact_shapley(table)
banzhaf = theory.exact_banzhaf(table)
occlusion = theory.exact_occlusion(table)
lime_limit = theory.exact_limit(table, d, nu)[1:]  # [0] is the intercept
shap_limit = theory.exact_limit(table, d, kernel="shap")[1:]

# KernelSHAP's limit is the Shapley value, to round-off
assert np.abs(shap_limit - shapley).max() <= 1e-12 * np.abs(shapley).max()
# efficiency: the Shapley value sums to g(1) - g(0); LIME's limit and Banzhaf need not
assert abs(shapley.sum() - (g_all - g_none)) <= 1e-12
print(f"sum of the values: Shapley {shapley.sum():.4f} (= g(1) - g(0) = {g_all - g_none:.4f}), "
      f"LIME limit {lime_limit.sum():.4f}, Banzhaf {banzhaf.sum():.4f}, occlusion {occlusion.sum():.4f}")

# %% [markdown]
# ## The runs
#
# **LIME** (`explain`, 2000 samples) with `ridge=0`: the weighted least squares whose limit is the
# closed form (lime's `ridge=1` adds a bias of order $1/n$, `theory.ridge_bias`).
# **KernelSHAP** (`explain(..., kernel="shap")`, 2000 model calls): $z$ drawn from the Shapley
# kernel's law of $|z|$, in pairs $z$, $\mathbf 1 - z$, with the two constraints
# (intercept $= g(\mathbf 0)$, coefficients summing to $g(\mathbf 1) - g(\mathbf 0)$) imposed
# exactly. Both report standard errors from their own samples. **IG**: integrated gradients of
# the same probability from $\bar\xi$ to $\xi$, summed over each superpixel.

# %%
n = 2000
lime_run = lt.explain(image, net, segments=segments, labels=[target], n_samples=n, ridge=0, seed=0)
shap_run = lt.explain(image, net, segments=segments, labels=[target], n_samples=n, kernel="shap",
                      design="paired", seed=0)
replacement = lt.replacement_image(image, segments)
ig = integrated_gradients(net, image.astype(np.float32), replacement.astype(np.float32), n_steps=64,
                          target=target, output="prob")
ig_sums = superpixel_sums(ig.attributions, segments)

# the runs and the table see the same game: KernelSHAP's intercept is g(0), its prediction g(1)
assert abs(shap_run.intercept[0] - g_none) <= 1e-6 and abs(shap_run.local_pred[0] - g_all) <= 1e-6
# KernelSHAP's efficiency constraint holds exactly in every run
assert abs(shap_run.coef[0].sum() - (g_all - g_none)) <= 1e-9
print(f"IG: f(image) - f(replacement) = {ig.f_x - ig.f_baseline:.4f}, completeness gap {ig.completeness_gap:+.1e}")

# %% [markdown]
# ## All of them in one figure
#
# Column 1: the image and the IG sums; column 2: the two runs; column 3: what they converge to;
# bottom row: the two ends of LIME's kernel width. Each cell shows the superpixel's value; the
# colour scale is each panel's own. The circle (red outline) lies in superpixels 6, 7, 10 and 11.

# %%
def annotate(ax, values, fmt="{:.3f}"):
    """Write each superpixel's value at its centre (white on the darkest cells)."""
    lim = np.abs(values).max() or 1.0
    for j in range(d):
        rows, cols = np.nonzero(segments == j)
        text = fmt.format(values[j]).replace("-0.000", "0.000")
        ax.text(cols.mean(), rows.mean(), text, ha="center", va="center", fontsize=9,
                color="white" if abs(values[j]) > 0.6 * lim else "black")


fig, axes = plt.subplots(3, 3, figsize=(7.6, 8.8))
plot_superpixels(image, segments, ax=axes[0, 0], shape_mask=mask, numbers=False)
axes[0, 0].set_title(f"image, p({net.class_names[target]}) = {g_all:.3f}", fontsize=10)
for j in range(d):  # the superpixels' numbers
    rows, cols = np.nonzero(segments == j)
    axes[0, 0].text(cols.mean(), rows.mean(), str(j), ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.85, "lw": 0})
panels = {
    (0, 1): (lime_run.coef[0], f"LIME run, n = {n}"), (0, 2): (lime_limit, rf"LIME's limit, $\nu$ = {nu}"),
    (1, 0): (ig_sums, "IG summed per superpixel"),
    (1, 1): (shap_run.coef[0], f"KernelSHAP run, n = {n}"), (1, 2): (shapley, "Shapley value"),
    (2, 1): (banzhaf, r"Banzhaf value"), (2, 2): (occlusion, r"occlusion"),
}
for (row, col), (values, title) in panels.items():
    plot_superpixel_values(values, segments, ax=axes[row, col], colorbar=False)
    axes[row, col].set_title(title, fontsize=10)
    annotate(axes[row, col], values)
key = axes[2, 0]
key.set_axis_off()
key.text(0.0, 0.95, "run  $\\to$  its limit\n"
         f"LIME ($\\nu$ = {nu})  $\\to$  LIME's limit\n"
         "KernelSHAP  $\\to$  Shapley\n\n"
         "LIME's limit as the kernel\nwidth $\\nu$ goes\n"
         "  to $\\infty$:  Banzhaf\n"
         "  to 0:  occlusion\n\n"
         f"shapes-cnn, d = {d}", transform=key.transAxes, va="top", ha="left", fontsize=9.5, linespacing=1.4)
fig.tight_layout(h_pad=1.0, w_pad=0.3)
plt.show()

# %% [markdown]
# The network needs the whole circle: hiding any one of its four superpixels drops the
# probability from 0.99 to almost 0, so **occlusion** gives each of them about 0.99, each more
# than the whole difference $g(\mathbf 1) - g(\mathbf 0) = 0.70$ (the replacement image alone
# already scores 0.29). **Shapley** shares that difference out: about a quarter each. **Banzhaf**
# averages over all coalitions alike, most of which miss part of the circle, and gives half as
# much. **LIME at lime's width** lies in between, and gives a small weight (0.002) to every
# superpixel the network ignores, where Shapley gives about 0.
# **IG** follows a different path (all superpixels fading in together, through images that are
# not perturbations of LIME's kind) and spreads the total differently: most on superpixel 6,
# negative values on 10 and 11.

# %% [markdown]
# ## Each run converges to its own limit
#
# Each run's standard errors say how far it may be from its limit: the statistic
# $\chi^2 = \sum_j (\hat\beta_j - b_j)^2 / \mathrm{se}_j^2$ against a candidate limit $b$ is about
# $\chi^2_d$ (mean $d = 12$) when $b$ is the run's limit, and large otherwise.

# %%
candidates = {"LIME limit (nu = 0.25)": lime_limit, "Shapley": shapley, "Banzhaf": banzhaf, "occlusion": occlusion}
runs = {"LIME run": lime_run, "KernelSHAP run": shap_run}
chi2 = {r: {c: float(np.sum(((ex.coef[0] - b) / ex.coef_se[0]) ** 2)) for c, b in candidates.items()}
        for r, ex in runs.items()}
print(f"chi-square of each run against each candidate limit (d = {d}; "
      f"99.9% quantile of chi2_{d}: {stats.chi2.ppf(0.999, d):.1f})")
pd.DataFrame(chi2).T.round(1)

# %%
z_lime = (lime_run.coef[0] - lime_limit) / lime_run.coef_se[0]
z_shap = (shap_run.coef[0] - shapley) / shap_run.coef_se[0]
print(f"LIME run - LIME limit:  max |error| {np.abs(lime_run.coef[0] - lime_limit).max():.4f}, "
      f"max |error| / se {np.abs(z_lime).max():.2f}")
print(f"KernelSHAP run - Shapley: max |error| {np.abs(shap_run.coef[0] - shapley).max():.4f}, "
      f"max |error| / se {np.abs(z_shap).max():.2f}")
# each run is within its own standard errors of its limit (Bonferroni over d superpixels at 1%) ...
z_crit = stats.norm.ppf(1 - 0.01 / (2 * d))
assert np.all(np.abs(z_lime) <= z_crit) and np.all(np.abs(z_shap) <= z_crit), (z_lime, z_shap)
assert chi2["LIME run"]["LIME limit (nu = 0.25)"] <= stats.chi2.ppf(0.999, d)
assert chi2["KernelSHAP run"]["Shapley"] <= stats.chi2.ppf(0.999, d)
# ... and its own limit is the candidate it fits best
assert min(chi2["LIME run"], key=chi2["LIME run"].get) == "LIME limit (nu = 0.25)"
assert min(chi2["KernelSHAP run"], key=chi2["KernelSHAP run"].get) == "Shapley"

# %% [markdown]
# ## The kernel width is a dial from occlusion to Banzhaf
#
# LIME's kernel depends on $z$ only through $k = |z|$:
# $\pi_k = \exp(-d_{\cos}(\mathbf 1, z)^2 / (2\nu^2))$, $d_{\cos} = 1 - \sqrt{k/d}$.
#
# * **Wide** ($\nu \to \infty$): $\pi_k = 1 - d_{\cos}^2/(2\nu^2) + O(\nu^{-4})$, every coalition
#   counts alike, and the weighted regression becomes the unweighted one on the uniform cube, whose
#   slopes are the Banzhaf values. The distance to Banzhaf falls like $1/\nu^2$:
#   $\nu^2\,\|\beta(\nu) - \mathrm{Banzhaf}\|_\infty$ tends to a constant.
# * **Narrow** ($\nu \to 0$): only $z = \mathbf 1$ and the $z$ with one zero keep weight, and the
#   regression interpolates them: occlusion. What is left is set by the weight of the $z$ with two
#   zeros relative to those with one, $r(\nu) = \pi_{d-2} / \pi_{d-1}$ (`theory.log_kernel`), so
#   $\|\beta(\nu) - \mathrm{occlusion}\|_\infty / r(\nu)$ tends to a constant: the distance falls
#   faster than any power of $\nu$.

# %%
widths = np.geomspace(0.01, 1000, 61)
dial = np.array([theory.exact_limit(table, d, w)[1:] for w in widths])
dist = {name: np.abs(dial - b).max(axis=1) for name, b in
        (("occlusion", occlusion), ("Shapley", shapley), ("Banzhaf", banzhaf))}


def r(w):
    """pi_{d-2} / pi_{d-1}: the weight of two zeros relative to one, at kernel width w."""
    log_pi = theory.log_kernel(np.array([d - 2, d - 1]), d, w)
    return np.exp(log_pi[0] - log_pi[1])


wide = np.array([10.0, 100.0, 1000.0])
wide_dist = np.array([np.abs(theory.exact_limit(table, d, w)[1:] - banzhaf).max() for w in wide])
narrow = np.array([0.015, 0.0125, 0.01])
narrow_dist = np.array([np.abs(theory.exact_limit(table, d, w)[1:] - occlusion).max() for w in narrow])
print("nu^2 * distance to Banzhaf at nu = 10, 100, 1000:", np.array2string(wide**2 * wide_dist, precision=6))
print("distance to occlusion / r(nu) at nu = 0.015, 0.0125, 0.01:",
      np.array2string(narrow_dist / [r(w) for w in narrow], precision=4),
      f"(r(0.01) = {r(0.01):.1e}, distance {narrow_dist[-1]:.1e})")
# wide: the distance to Banzhaf is C / nu^2 (to 1% from nu = 10 on)
assert np.ptp(wide**2 * wide_dist) <= 0.01 * (wide**2 * wide_dist).mean()
# narrow: the distance to occlusion is C * r(nu), r(nu) = exp(-(d_cos(d-2)^2 - d_cos(d-1)^2) / (2 nu^2)),
# to 25% where r(nu) falls from 3e-6 to 3e-13
ratio = narrow_dist / np.array([r(w) for w in narrow])
assert np.ptp(ratio) <= 0.25 * ratio.mean(), ratio
assert narrow_dist[-1] <= 1e-11 and wide_dist[-1] <= 1e-8
# lime's width sits in between, far nearer Banzhaf than occlusion here
print(f"at nu = {nu}: distance to occlusion {np.abs(lime_limit - occlusion).max():.3f}, "
      f"to Shapley {np.abs(lime_limit - shapley).max():.3f}, to Banzhaf {np.abs(lime_limit - banzhaf).max():.3f}")

# %%
circle = np.array([6, 7, 10, 11])
fig, axes = plt.subplots(2, 1, figsize=(7.4, 7.6))
ax = axes[0]
colours = plt.get_cmap("tab10")
for j in range(d):
    inside = j in circle
    c = colours(list(circle).index(j)) if inside else "0.7"
    ax.plot(widths, dial[:, j], color=c, lw=1.8 if inside else 0.8, label=f"superpixel {j}" if inside else None)
    ax.plot(widths[0], occlusion[j], "<", color=c, ms=7, clip_on=False)
    ax.plot(widths[-1], banzhaf[j], ">", color=c, ms=7, clip_on=False)
ax.axhline(shapley[circle].mean(), color="k", ls=":", lw=1, label="Shapley (circle, mean)")
ax.axvline(nu, color="k", ls="--", lw=0.8)
ax.set_xscale("log")
ax.set_xlabel(r"kernel width $\nu$ (dashed: lime's 0.25)", fontsize=10)
ax.set_ylabel(r"LIME's exact limit $\beta_j(\nu)$", fontsize=10)
ax.set_title("per superpixel, from occlusion (<) to Banzhaf (>); grey: outside the circle", fontsize=10)
ax.legend(fontsize=9, ncol=2)
ax = axes[1]
for name, style in (("occlusion", "C3-"), ("Shapley", "k-"), ("Banzhaf", "C0-")):
    ax.loglog(widths, dist[name], style, label=f"to {name}")
ax.loglog(wide, wide_dist, "o", color="C0", ms=5)
ax.loglog(widths[widths > 3], (wide**2 * wide_dist).mean() / widths[widths > 3] ** 2, "k:", lw=1.5,
          label=r"$C/\nu^2$")
small = widths[widths < 0.05]
ax.loglog(small, ratio.mean() * np.array([r(w) for w in small]), "k--", lw=1, label=r"$C\,\pi_{d-2}/\pi_{d-1}$")
ax.axvline(nu, color="k", ls="--", lw=0.8)
ax.set_ylim(1e-14, 10)
ax.set_xlabel(r"kernel width $\nu$", fontsize=10)
ax.set_ylabel(r"$\max_j |\beta_j(\nu) - \cdot\,|$", fontsize=10)
ax.set_title("distance of LIME's limit to each value", fontsize=10)
ax.legend(fontsize=9, loc="lower right", ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# No kernel width gives the Shapley value: LIME's limit passes closest to it on the way from
# occlusion to Banzhaf, but the black curve never reaches 0. That is KernelSHAP's job: its kernel,
# $\pi(k) \propto (d-1) / (\binom dk k (d-k))$ with the two end points imposed as constraints, is
# not one of LIME's.

# %% [markdown]
# ## LIME against IG, decomposed
#
# Per superpixel, exactly,
#
# $$\underbrace{\beta_j(\nu) - \mathrm{IG}_j}_{\text{LIME} - \text{IG}}
#   = \underbrace{\beta_j(\nu) - \phi_j}_{\text{interactions between superpixels}}
#   + \underbrace{\phi_j - \mathrm{IG}_j}_{\text{the model inside superpixels, along the path}},$$
#
# with $\phi$ the Shapley value. The Shapley value is the integral of the gradient of $g$'s
# multilinear extension along the diagonal (Owen 1972); the IG sums integrate the gradient of the
# continuous game $h(t) = f(\bar\xi + \sum_j t_j \mathbf 1_{J_j} \odot (\xi - \bar\xi))$ along the
# same diagonal. So the first term vanishes when $g$ has no interactions ($g$ affine in $z$), the
# second when $h$ is multilinear in $t$. `compare.decompose_lime_ig` computes every term from the
# table.

# %%
parts = decompose_lime_ig(table, d, ig_sums, nu)
assert np.array_equal(parts.lime_limit, lime_limit) and np.array_equal(parts.shapley, shapley)
assert np.allclose(parts.total, parts.interactions + parts.path, rtol=0, atol=1e-12)
# the path terms sum to minus IG's completeness gap (Shapley is efficient, IG complete up to quadrature
# and float32 rounding)
assert abs(parts.path.sum() + ig.completeness_gap) <= 1e-5, (parts.path.sum(), ig.completeness_gap)
parts.to_frame().round(4)

# %%
fig, ax = plt.subplots(figsize=(7.4, 3.6))
x = np.arange(d)
ax.bar(x - 0.2, parts.interactions, 0.4, label=r"interactions: LIME limit $-$ Shapley")
ax.bar(x + 0.2, parts.path, 0.4, label=r"path: Shapley $-$ IG sums")
ax.plot(x, parts.total, "kD", ms=6, label=r"LIME limit $-$ IG sums (their sum)")
ax.axhline(0, color="k", lw=0.5)
ax.set_xticks(x)
ax.set_xlabel("superpixel (the circle: 6, 7, 10, 11)", fontsize=10)
ax.set_title(rf"why LIME ($\nu$ = {nu}) and IG disagree, per superpixel", fontsize=10)
ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
share = np.abs(parts.path[circle]).sum() / (np.abs(parts.path[circle]).sum() + np.abs(parts.interactions[circle]).sum())
print(f"on the circle's superpixels, the path term is {share:.0%} of |interactions| + |path|")

# %% [markdown]
# On this image the two explanations disagree mainly through the **path** term: the network's
# response along IG's straight path is far from multilinear in the superpixels' intensities
# (along it the four quarters of the circle brighten together, and IG credits most of the rise to
# superpixel 6), while the **interactions** term is a uniform pull of LIME's limit on the circle
# superpixels toward Banzhaf, about $-0.03$ each, and the small weight on the others.
#
# ## What each method converges to, measured here
#
# The numbers of this notebook, in one table:

# %%
summary = pd.DataFrame([
    ("LIME, n = 2000, nu = 0.25", "LIME's exact limit (nu = 0.25)",
     np.abs(lime_run.coef[0] - lime_limit).max(), np.abs(z_lime).max()),
    ("KernelSHAP, n = 2000, paired", "Shapley value",
     np.abs(shap_run.coef[0] - shapley).max(), np.abs(z_shap).max()),
    ("KernelSHAP's exact limit", "Shapley value", np.abs(shap_limit - shapley).max(), np.nan),
    ("LIME's exact limit, nu = 1000", "Banzhaf value", wide_dist[-1], np.nan),
    ("LIME's exact limit, nu = 0.01", "occlusion", narrow_dist[-1], np.nan),
    ("LIME's exact limit, nu = 0.25", "Shapley value (not its limit)", np.abs(lime_limit - shapley).max(), np.nan),
    ("IG superpixel sums", "Shapley value (not its limit)", np.abs(ig_sums - shapley).max(), np.nan),
], columns=["method", "converges to / compared with", "max_j |difference|", "max_j |difference| / se"])
summary.style.format({"max_j |difference|": "{:.1e}", "max_j |difference| / se": "{:.2f}"},
                     na_rep="").hide(axis="index")

# %% [markdown]
# ## Code to reuse
#
# ```python
# import numpy as np
# import limetheory as lt
# from limetheory import theory
# from limetheory.compare import decompose_lime_ig
# from limetheory.perturb import superpixel_game
#
# # predict: images -> scores, segments: d <= 24 superpixels, c: the class explained
# table = theory.ResponseTable.from_function(superpixel_game(predict, image, segments, c), d)  # 2^d calls
# theory.exact_shapley(table), theory.exact_banzhaf(table), theory.exact_occlusion(table)
# theory.exact_limit(table, d, 0.25)[1:]                # LIME's limit at lime's width
# lt.explain(image, predict, segments=segments, labels=[c], kernel="shap", design="paired")  # any d
# decompose_lime_ig(table, d, ig_sums, 0.25).to_frame()  # LIME - IG = interactions + path
# ```
