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
# # 3. LIME and integrated gradients
#
# The closing section of Garreau & Mardaoui ("What does LIME really see in images?", ICML 2021)
# links LIME to **integrated gradients** (IG; Sundararajan et al., ICML 2017): for a smooth
# model, LIME's coefficient of superpixel $j$ is approximately the sum of the integrated
# gradients over the pixels of $J_j$, *provided IG uses LIME's replacement image as baseline*.
# This notebook checks where that holds and where it drifts:
#
# 1. exactly, for a linear model;
# 2. on a pretrained CNN, at lime's default settings;
# 3. as the perturbation gets milder (the model looks more and more linear), and as the kernel
#    width changes;
# 4. on a handful of held-out images.

# %%
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import limetheory as lt
from limetheory import theory
from limetheory.analytic import LinearModel
from limetheory.data import make_shapes
from limetheory.compare import CompareSettings, compare_limit
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.metrics import jaccard_topk, rank_correlation
from limetheory.nets import load
from limetheory.nets.batching import batched_predict
from limetheory.perturb import perturb_batch
from limetheory.plotting import plot_superpixel_values, plot_superpixels

# %% [markdown]
# ## The two explanations
#
# **Integrated gradients** of $f$ at $\xi$ with baseline $\bar\xi$ average the gradient along the
# straight path from $\bar\xi$ to $\xi$:
#
# $$\mathrm{IG}_u = (\xi_u - \bar\xi_u)\int_0^1 \frac{\partial f}{\partial x_u}\big(\bar\xi +
#   t(\xi - \bar\xi)\big)\,dt, \qquad \sum_u \mathrm{IG}_u = f(\xi) - f(\bar\xi)
#   \quad\text{(completeness).}$$
#
# **LIME's limit** (notebook 1) is $\beta^f = \Sigma^{-1}\Gamma^f$ with
# $\Gamma^f = \mathbb E[\pi(z) Z f(x(z))]$, where $x(z)$ keeps the superpixels with $z_j = 1$ and
# shows $\bar\xi$ elsewhere. Along the cube of perturbations,
# $x(z) = \bar\xi + \sum_j z_j \,\mathbf 1_{J_j} \odot (\xi - \bar\xi)$. If $f$ is linear,
# $f(x) = \sum_u \lambda_u x_u$, then $f(x(z))$ is linear in $z$, LIME recovers it exactly and
#
# $$\beta_j = \sum_{u \in J_j} \lambda_u(\xi_u - \bar\xi_u) = \sum_{u \in J_j} \mathrm{IG}_u .$$
#
# For a smooth $f$, linearising $f$ along the path gives $\beta_j \approx \sum_{u\in J_j}
# \mathrm{IG}_u$. The approximation is as good as $z \mapsto f(x(z))$ is close to linear.

# %% [markdown]
# ## 1. A linear model: equality
#
# `integrated_gradients` takes any JAX function of one image; `superpixel_sums` adds the
# attributions over each superpixel (and over the colour channels).

# %%
rng = np.random.default_rng(0)
image = rng.uniform(0, 255, size=(32, 32, 3))
segments = lt.segment(image, "grid", n_rows=4)  # 16 square superpixels
weights = rng.normal(size=image.shape)
baseline = lt.replacement_image(image, segments)  # LIME's replacement: superpixel mean colours

ig = integrated_gradients(lambda x: jnp.sum(weights * x), image, baseline, n_steps=8)
lime_limit = LinearModel(weights).limit_explanation(image, segments)  # (d+1,), intercept first
print("max |beta_j - sum_J IG| =", np.abs(lime_limit[1:] - superpixel_sums(ig.attributions, segments)).max())
print("completeness gap        =", ig.completeness_gap)
# f linear: LIME's limit and IG summed per superpixel agree to rounding, and IG is complete
assert np.allclose(lime_limit[1:], superpixel_sums(ig.attributions, segments), rtol=0,
                   atol=1e-9 * np.abs(lime_limit[1:]).max())
assert abs(ig.completeness_gap) <= 1e-9 * abs(ig.f_x - ig.f_baseline)

# %% [markdown]
# ## 2. A pretrained CNN
#
# `load("shapes-cnn")` is a small convolutional network trained in this project (weights ship
# with the package) to tell circles, squares and triangles apart in 64 x 64 images drawn by
# `make_shapes`, which also returns the pixels of the deciding shape. It uses GELU activations and
# average pooling, so its logits are smooth in the pixels, which suits IG. It is fast (hundreds
# of images per second on a CPU), so we can afford the exact limit: we cut the image into a
# $3 \times 3$ grid ($d = 9$, $2^9 = 512$ network calls), which splits the shape over several
# superpixels.
#
# We explain the logit of the true class. `compare_limit` computes both explanations (LIME's exact
# limit and the IG sums) with the same segmentation and baseline, and the usual agreement measures.

# %%
net = load("shapes-cnn")
images, labels, masks = make_shapes(6, size=64, seed=2)  # held out: training used seed=1
i = 2
xi, target = images[i].astype(np.float64), int(labels[i])
grid = lt.segment(xi, "grid", n_rows=3)
d = int(grid.max()) + 1
print("class", net.class_names[target], " p =", net.predict(images[i : i + 1])[0, target].round(3))

cmp = compare_limit(xi, net.logits, grid, target=target, settings=CompareSettings(n_steps=32, dtype="float32"))
print(f"IG completeness gap {cmp.ig.completeness_gap:+.1e} "
      f"(f(xi) - f(xi_bar) = {cmp.ig.f_x - cmp.ig.f_baseline:.2f})")
print(f"Spearman {cmp.spearman:.2f}, top-3 Jaccard {cmp.jaccard[3]:.2f}, "
      f"relative difference ||beta - IG|| / ||IG|| = {cmp.relative_error:.2f}")
cmp.to_frame()

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
plot_superpixels(images[i], grid, ax=axes[0], shape_mask=masks[i], title="image, grid, shape (red)")
lim = np.abs(np.r_[cmp.lime_coef, cmp.ig_sums]).max()
plot_superpixel_values(cmp.lime_coef, grid, ax=axes[1], title=r"LIME limit $\beta^f_j$ ($\nu = 0.25$)")
plot_superpixel_values(cmp.ig_sums, grid, ax=axes[2], title=r"$\sum_{u \in J_j} \mathrm{IG}_u$")
for ax in axes[1:]:
    ax.images[0].set_clim(-lim, lim)
plt.show()

# %% [markdown]
# Both point at the superpixels that hold the shape, with similar but not equal weights, and
# the small coefficients come in a different order. The perturbation is large (a hidden
# superpixel becomes a flat patch of its mean colour, which erases the part of the shape's
# outline it holds), and over such a range the CNN is not linear.

# %% [markdown]
# ## 3. Where it holds, and where it drifts
#
# **A milder perturbation.** Replace the hidden superpixels not by $\bar\xi$ but by the blend
# $\bar\xi_\varepsilon = \xi + \varepsilon(\bar\xi - \xi)$. This is LIME and IG applied to
# $g_\varepsilon(x) = f(\xi + \varepsilon(x - \xi))$, whose perturbations are $\varepsilon$ times
# smaller: as $\varepsilon \to 0$, $z \mapsto f(x(z))$ becomes linear and both explanations tend
# to $\varepsilon\,\nabla f(\xi)\cdot \mathbf 1_{J_j}\odot(\xi - \bar\xi)$; the relative gap
# between them should shrink like $\varepsilon$ (the second-order terms over the first-order
# ones).
#
# Here we assemble the comparison from its parts, which also lets us reuse one table of network
# outputs for several kernel widths.

# %%
logits = batched_predict(net.logits, dtype="float32")  # NumPy (m, 64, 64, 3) -> (m, 3) logits


def lime_and_ig(xi, replacement, segments, target, widths=(0.25,)):
    """Exact LIME limits (one per kernel width) and IG superpixel sums, one replacement image."""
    # f(x(z)) on every z in {0,1}^d, once; each exact limit looks the patterns up
    images = perturb_batch(xi, replacement, segments, theory.all_patterns(d))
    table = theory.ResponseTable(logits(images)[:, target])
    betas = [theory.exact_limit(table, d, w)[1:] for w in widths]
    ig = integrated_gradients(net.logits, xi, replacement, n_steps=32, target=target, dtype="float32")
    return np.array(betas), superpixel_sums(ig.attributions, segments)


xi_bar = lt.replacement_image(xi, grid)
epsilons = np.array([1.0, 0.5, 0.25, 0.1, 0.03])
rel, rho = [], []
for eps in epsilons:
    (beta,), s = lime_and_ig(xi, xi + eps * (xi_bar - xi), grid, target)
    rel.append(np.linalg.norm(beta - s) / np.linalg.norm(s))
    rho.append(rank_correlation(beta, s))
# as the path shrinks toward xi, the network is linear along it and LIME meets the IG sums
assert rel[-1] < rel[0], rel

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].loglog(epsilons, rel, "o-", label="measured")
axes[0].loglog(epsilons, rel[-1] * epsilons / epsilons[-1], "k--", lw=1, label=r"$\propto \varepsilon$")
axes[0].set_xlabel(r"perturbation strength $\varepsilon$")
axes[0].set_ylabel(r"$\|\beta - \mathrm{IG}\| / \|\mathrm{IG}\|$")
axes[0].legend(fontsize=8)
axes[1].semilogx(epsilons, rho, "o-")
axes[1].set_ylim(-1.05, 1.05)
axes[1].set_xlabel(r"perturbation strength $\varepsilon$")
axes[1].set_ylabel("Spearman correlation")
fig.suptitle(r"LIME limit vs IG sums, replacement $\xi + \varepsilon(\bar\xi - \xi)$", fontsize=10)
plt.show()

# %% [markdown]
# The gap closes like $\varepsilon$: where the model is close to linear over the perturbations
# LIME makes, LIME and IG agree. At $\varepsilon = 1$ (what LIME really does) the gap is largest
# and the ranking of the superpixels can change.
#
# **The kernel width.** IG does not depend on $\nu$; LIME's limit does, since $\nu$ decides which
# perturbations count: a small $\nu$ weighs the samples with only a few superpixels hidden, a
# large $\nu$ all of them equally. For a non-linear model the two cannot agree for every $\nu$.

# %%
widths = np.array([0.05, 0.1, 0.25, 0.5, 1.0, 3.0])
fig, ax = plt.subplots(figsize=(5, 3.2))
for eps in (1.0, 0.25, 0.03):
    betas, s = lime_and_ig(xi, xi + eps * (xi_bar - xi), grid, target, widths)
    ax.loglog(widths, np.linalg.norm(betas - s, axis=1) / np.linalg.norm(s), "o-",
              label=rf"$\varepsilon = {eps:g}$")
ax.axvline(0.25, color="0.8", lw=1)
ax.set_xlabel(r"kernel width $\nu$")
ax.set_ylabel(r"$\|\beta - \mathrm{IG}\| / \|\mathrm{IG}\|$")
ax.set_title("relative gap against the kernel width", fontsize=9)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Two things show. The gap shrinks with $\varepsilon$ for every $\nu$. And a *large* kernel
# width agrees best. That has a simple reason: write $F(z) = f(x(z))$ for real $z \in [0,1]^d$
# (IG's path from $\bar\xi$ to $\xi$ is $z = t\mathbf 1$, $t \in [0, 1]$). If $F$ is quadratic,
# $F(z) = c + \sum_j a_j z_j + \sum_{j<k} b_{jk} z_j z_k$, then
#
# $$\sum_{u \in J_j}\mathrm{IG}_u = \int_0^1 \partial_j F(t\mathbf 1)\,dt
#   = a_j + \tfrac12 \sum_{k \ne j} b_{jk},$$
#
# which is exactly the least-squares slope of $F$ on the uniform cube, LIME's limit as
# $\nu \to \infty$ (every sample weighted alike). As $\nu \to 0$, LIME only sees $z$ near
# $\mathbf 1$ and its slope tends to $a_j + \sum_{k \ne j} b_{jk}$: the second-order terms count
# double, and the gap is first order in $\varepsilon$ instead of second. lime's default
# $\nu = 0.25$ sits in between.
#
# ## 4. Several held-out images
#
# The paper's measure: the Jaccard index of the top superpixels of the two explanations. For 6
# held-out images, top-3 Jaccard and rank correlation at lime's perturbation ($\varepsilon = 1$)
# and at a mild one ($\varepsilon = 0.1$), $\nu = 0.25$.

# %%
rows = []
for k, (img, lab) in enumerate(zip(images, labels)):
    x = img.astype(np.float64)
    rep = lt.replacement_image(x, grid)
    for eps in (1.0, 0.1):
        (beta,), s = lime_and_ig(x, x + eps * (rep - x), grid, int(lab))
        rows.append((k, eps, jaccard_topk(beta, s, 3), rank_correlation(beta, s)))
rows = np.array(rows)
for eps in (1.0, 0.1):
    r = rows[rows[:, 1] == eps]
    print(f"eps = {eps:<4}: top-3 Jaccard {np.round(r[:, 2], 2)}  mean {r[:, 2].mean():.2f} | "
          f"Spearman mean {r[:, 3].mean():.2f}")

fig, ax = plt.subplots(figsize=(5, 3))
for j, eps in enumerate((1.0, 0.1)):
    r = rows[rows[:, 1] == eps]
    ax.plot(np.arange(len(r)) + 0.15 * (j - 0.5), r[:, 2], "o", label=rf"$\varepsilon = {eps:g}$")
ax.set_xlabel("held-out image")
ax.set_ylabel("top-3 Jaccard, LIME vs IG")
ax.set_ylim(-0.05, 1.05)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Take-aways and code to reuse
#
# * For a linear model, LIME's coefficient of a superpixel **is** the sum of the integrated
#   gradients over it, when IG's baseline is LIME's replacement image.
# * For a smooth non-linear model the two agree to first order in the size of the perturbation:
#   closely when hiding a superpixel changes the image a little, loosely (and depending on the
#   kernel width) when it changes it a lot, as LIME usually does.
#
# ```python
# from limetheory.compare import CompareSettings, compare_empirical, compare_limit
# from limetheory.gradients import integrated_gradients, superpixel_sums
#
# # f: a JAX function of ONE image returning scores (e.g. net.logits), target: the class
# cmp = compare_limit(image, f, segments, target=target)                     # d <= 24
# cmp = compare_empirical(image, f, segments, target=target, seed=0,
#                         settings=CompareSettings(n_samples=1000, n_runs=5))  # any d (the paper's setting)
# cmp.jaccard, cmp.spearman, cmp.to_frame()
#
# baseline = lt.replacement_image(image, segments)       # IG's baseline = LIME's replacement
# ig = integrated_gradients(f, image, baseline, n_steps=32, target=target, dtype="float32")
# sums = superpixel_sums(ig.attributions, segments)      # compare with LIME's coefficients
# ```
#
# The same calls work with the ImageNet network of notebook 1 (`load("efficientnet-lite0")`,
# `dtype="float32"`); there each gradient costs a few tenths of a second on a CPU, so a
# comparison with a coarse segmentation takes about a minute.
