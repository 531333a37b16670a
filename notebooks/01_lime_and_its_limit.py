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
# # 1. LIME on an image, and what it converges to
#
# Image LIME is random: run it twice with different seeds and the explanation changes.
# Garreau & Mardaoui ("What does LIME really see in images?", ICML 2021) show that as the number
# of samples $n$ grows the explanation converges to a deterministic **limit explanation**
# $\beta^f$. In this notebook we
#
# 1. explain a real photo with a pretrained ImageNet network (EfficientNet-Lite0, in JAX);
# 2. rerun LIME with other seeds to see the spread;
# 3. compute the limit $\beta^f$ exactly, and by Monte Carlo as one would for a fine segmentation;
# 4. read the error bars a single run carries, and check them against the exact spread;
# 5. measure how many samples make the top superpixels stable.
#
# **About cost.** On a 2-core CPU the network classifies about 70 images per second (a few times fewer on
# a busy machine), and LIME's default of $n = 1000$ samples means 1000 network calls per
# explanation. To afford many runs we use a *coarse* segmentation with $d = 8$ superpixels: the
# perturbed image $x(z)$ then takes only $2^8 = 256$ distinct values, so we evaluate the network
# once on each of them. After that, LIME with any $n$ and any seed, and the exact limit, cost
# nothing more: every LIME sample is a lookup in that table.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import limetheory as lt
from limetheory import theory
from limetheory.analytic import response_of_z
from limetheory.data import load_photo
from limetheory.empirical import fit_explanation
from limetheory.metrics import jaccard_topk
from limetheory.nets import load
from limetheory.plotting import (plot_coefficient_boxes, plot_convergence, plot_superpixel_values,
                                 plot_superpixels)
from limetheory.sampling import bernoulli_samples, kernel_weights
from limetheory.surrogate import fit_weighted_ridge

# %% [markdown]
# ## The photo and the network
#
# `load_photo` returns photos shipped with scikit-image / scikit-learn (nothing is downloaded);
# `load("efficientnet-lite0")` returns a classifier whose `predict` maps a batch of
# (224, 224, 3) RGB images in [0, 255] to the 1000 ImageNet class probabilities, which is what
# LIME explains.

# %%
image = load_photo("coffee")  # uint8 (224, 224, 3)
net = load("efficientnet-lite0")
probs = net.predict(image[None])[0]
for k in np.argsort(probs)[::-1][:3]:
    print(f"{net.class_names[k]:>20s}  {probs[k]:.3f}")
target = int(np.argmax(probs))  # the class we explain

# %% [markdown]
# ## Superpixels
#
# lime's default segmentation (quickshift) would give a few dozen superpixels on this photo.
# We ask SLIC for about 8 compact regions: cup rim, crema, spoon, saucer, table.

# %%
print("lime's default quickshift would give d =", int(lt.segment(image).max()) + 1)
segments = lt.segment(image, "slic", n_segments=8, compactness=20)
d = int(segments.max()) + 1
print("our segmentation: d =", d)
plot_superpixels(image, segments, title=f"{d} SLIC superpixels")
plt.show()

# %% [markdown]
# ## LIME, and its limit
#
# LIME draws $z_1, \dots, z_n \in \{0,1\}^d$ with i.i.d. Bernoulli(1/2) coordinates (the first one
# is $\mathbf 1$, the image itself), replaces the superpixels with $z_j = 0$ by their mean colour
# to build $x(z)$, weights each sample by
#
# $$\pi(z) = \exp\!\Big(-\frac{d_{\cos}(\mathbf 1, z)^2}{2\nu^2}\Big), \qquad
#   d_{\cos}(\mathbf 1, z) = 1 - \sqrt{\textstyle\sum_j z_j / d}, \qquad \nu = 0.25,$$
#
# and fits a weighted ridge regression of $f(x(z))$ on $z$. With $Z = (1, z)$, the
# coefficients converge (as $n \to \infty$, ridge negligible) to
#
# $$\beta^f = \Sigma^{-1}\,\Gamma^f, \qquad \Sigma = \mathbb E[\pi(z) Z Z^\top], \qquad
#   \Gamma^f = \mathbb E[\pi(z)\, Z\, f(x(z))].$$
#
# $\Sigma$ depends only on $d$ and $\nu$, through $\alpha_p = \mathbb E[\pi(z) z_1\cdots z_p]$,
# and has a closed-form inverse (`theory.sigma`, `theory.sigma_inverse`); $\Gamma^f$ is an
# expectation over $2^d$ vectors $z$.
#
# First one honest LIME run on the network, $n = 64$ samples (64 network calls). The
# network works on batches of 32 images, so we hand it batches of 32 perturbed images.

# %%
start = time.perf_counter()
run = lt.explain(image, net.predict, segments=segments, labels=[target], n_samples=64, seed=0,
                 batch_size=32, dtype=np.float32)
seconds = time.perf_counter() - start
print(f"n = 64: {seconds:.1f} s (including the network's compilation)")
print("coefficients:", np.round(run.coef[0], 3))

# %% [markdown]
# Now the table: the network's probability of the explained class on all $2^d$ perturbed images
# (`response_of_z` builds $x(z)$ exactly as LIME does). From it, a LIME run is three library
# calls, the same ones `lt.explain` makes: draw $z$, weight, fit. We check that it reproduces
# the run above.

# %%
start = time.perf_counter()
# f(x(z)) on every z in {0,1}^d, evaluated once; calling the table looks z up (row sum_j z_j 2^j)
responses = response_of_z(net.predict, image, segments, batch_size=64)(theory.all_patterns(d))  # (2^d, classes)
f_of_z = theory.ResponseTable(responses[:, target])
seconds = time.perf_counter() - start
print(f"{2**d} network calls: {seconds:.1f} s, so lime's default n = 1000 would take about "
      f"{1000 * seconds / 2**d:.0f} s per explanation on this machine")


def lime_run(n, seed, kernel_width=0.25, ridge=1.0):
    """One LIME run (exactly lt.explain's sampling, weights and ridge) on the table: coef (d,)."""
    z = bernoulli_samples(n, d, np.random.default_rng(seed))
    _, coef = fit_weighted_ridge(z, f_of_z(z), kernel_weights(z, kernel_width), ridge)
    return coef[0]


print("same run from the table, max |difference|:", np.abs(lime_run(64, seed=0) - run.coef[0]).max())
assert np.allclose(lime_run(64, seed=0), run.coef[0], atol=1e-5)  # float32 network: equal to rounding

# %% [markdown]
# The same coefficients, up to rounding. The exact limit enumerates
# $\{0,1\}^d$ (`theory.exact_limit`); `theory.monte_carlo_limit` estimates it from random $z$
# with the exact $\Sigma^{-1}$, which is what one does when $d$ is too large to enumerate (with
# a real `f_of_z` calling the network, e.g. `response_of_z(net.predict, image, segments)`
# followed by picking the class column).

# %%
limit = theory.exact_limit(f_of_z, d, 0.25)  # (d+1,): intercept first
print("exact limit      ", np.round(limit[1:], 4), " intercept", round(limit[0], 4))
mc, mc_se = theory.monte_carlo_limit(f_of_z, d, 0.25, n_samples=100_000, seed=2, return_se=True)
assert np.all(np.abs(mc - limit) <= 5 * mc_se), (mc - limit) / mc_se  # 5 s.e.: Bonferroni over d + 1
for n_mc in (1_000, 100_000):
    mc = theory.monte_carlo_limit(f_of_z, d, 0.25, n_samples=n_mc, seed=1)
    print(f"Monte Carlo n={n_mc:<7d}", np.round(mc[1:], 4), f" max error {np.abs(mc - limit).max():.1e}")

# %%
# Check: the limit is the weighted least-squares fit on all 2^d patterns, each weighing pi(z) 2^-d.
all_z = theory.all_patterns(d)
root_w = np.sqrt(kernel_weights(all_z, 0.25))
brute_force = np.linalg.lstsq(np.c_[np.ones(len(all_z)), all_z] * root_w[:, None], f_of_z(all_z) * root_w,
                              rcond=None)[0]
assert np.allclose(brute_force, limit, rtol=0, atol=1e-8 * np.abs(limit).max())

# %% [markdown]
# ## The spread of LIME runs
#
# Twenty runs with $n = 100$ and twenty with lime's default $n = 1000$ (ridge $\lambda = 1$,
# seeds 0..19), against the exact limit (red bars).

# %%
runs = {n: np.array([lime_run(n, seed) for seed in range(20)]) for n in (100, 1000)}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, n in zip(axes, runs):
    plot_coefficient_boxes(runs[n], limit[1:], ax=ax, limit_label=r"exact limit $\beta^f$",
                           title=f"'{net.class_names[target]}': 20 LIME runs, n = {n}")
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
axes[0].imshow(image)
axes[0].set_axis_off()
axes[0].set_title("photo", fontsize=9)
plot_superpixel_values(limit[1:], segments, ax=axes[1], label=r"$\beta^f_j$",
                       title=r"limit explanation $\beta^f$ (probability of 'espresso')")
plt.show()

# %% [markdown]
# The runs agree on the big picture: the crema and the cup rim carry the prediction, the
# table and saucer count little; at $n = 100$ the small coefficients still trade places.
#
# At $n = 100$ the runs also sit *below* the limit on the large coefficients. That is lime's
# ridge penalty $\lambda = 1$, not noise: it is a bias of order $\lambda / n$, and
# `theory.ridge_bias(d, nu, beta)` gives its first-order value $n(\hat\beta_\lambda - \hat\beta_0)$.

# %%
print("limit                     ", np.round(limit[1:], 3))
print("limit + ridge_bias / 100  ", np.round(limit[1:] + theory.ridge_bias(d, 0.25, limit) / 100, 3))
print("mean of 20 runs, n = 100  ", np.round(runs[100].mean(axis=0), 3))

# %% [markdown]
# The random part of the error is of order $n^{-1/2}$:
# with the ridge set to 0 (the estimator the theory is about) the error
# $\|\hat\beta_n - \beta^f\|$ falls like $n^{-1/2}$ (dashed line).

# %%
ns = np.array([50, 100, 200, 500, 1000, 2000, 5000])
errors = np.array([[np.linalg.norm(lime_run(n, seed, ridge=0.0) - limit[1:]) for seed in range(20)]
                   for n in ns])
ax = plot_convergence(ns, errors, label="LIME, ridge 0, 20 seeds")
ax.set_title(r"distance to the limit explanation; dashed: $\propto n^{-1/2}$", fontsize=9)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Error bars from a single run
#
# In practice one runs LIME once. Its responses are not noisy ($f(x(z))$ is a fixed function of
# $z$), so the whole error comes from which $z$ were drawn, and the fit is an M-estimator of
# i.i.d. samples: $\sqrt n(\hat\beta_n - \beta^f) \to \mathcal N(0, V)$ with the sandwich
# $V = H^{-1} M H^{-1}$, $H = E[\pi x x^\top]$, $M = E[\pi^2 (f - x^\top\beta^f)^2 x x^\top]$,
# $x = (1, z)$. Every `Explanation` estimates it from its own samples (`coef_se`); for small $d$,
# `theory.exact_limit_covariance` gives $V$ exactly. One run of $n = 1000$ from the table
# (`fit_explanation` is the fitting step of `lt.explain`), against the exact value and against
# the spread of the twenty runs above:

# %%
z = bernoulli_samples(1000, d, np.random.default_rng(0))
one = fit_explanation(z, f_of_z(z)[:, None], kernel_weights(z, 0.25), np.array([0]), 1.0,
                      segments=segments, image=image, replacement=lt.replacement_image(image, segments),
                      kernel_width=0.25, keep_samples=False)
exact_sd = np.sqrt(np.diag(theory.exact_limit_covariance(f_of_z, d, 0.25))[1:] / 1000)
print("this run's standard errors", np.round(one.coef_se[0], 4))
print("exact sqrt(V_jj / n)       ", np.round(exact_sd, 4))
print("std of the 20 runs         ", np.round(runs[1000].std(axis=0, ddof=1), 4))
inside = (one.conf_int()[:, 0] <= limit[1:]) & (limit[1:] <= one.conf_int()[:, 1])
print(f"95% intervals containing the exact limit: {inside.sum()} of {d}")
print("samples for every se to reach 0.002:", one.n_samples_for(0.002))
# each interval holds its limit with probability 0.95: four or more misses of d would have
# probability below 1e-3 for independent intervals
assert inside.sum() >= d - 3, inside
one.plot_coefficients(k=d)
plt.show()

# %% [markdown]
# One run's standard errors agree with the exact ones to within a few percent: a single LIME
# run can say how much to trust its own coefficients, and how many samples a target precision
# needs (the error falls like $n^{-1/2}$: halving it takes four times the samples).
#
# ## When are the top superpixels stable?
#
# What a user looks at is the few superpixels with the largest coefficients. We measure, for
# each $n$, the Jaccard index of the top-3 superpixels
# $J = |T_3(a) \cap T_3(b)| / |T_3(a) \cup T_3(b)|$ between two independent runs, and between
# a run and the limit (30 runs each, ridge 1 as in lime).

# %%
k = 3
ns = np.array([20, 50, 100, 200, 500, 1000, 2000])
between, to_limit = [], []
for n in ns:
    coefs = [lime_run(int(n), 1000 + seed) for seed in range(30)]
    between.append([jaccard_topk(coefs[i], coefs[i + 1], k) for i in range(0, 30, 2)])
    to_limit.append([jaccard_topk(c, limit[1:], k) for c in coefs])
between, to_limit = np.array(between), np.array(to_limit)

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogx(ns, between.mean(axis=1), "o-", label="two independent runs")
ax.semilogx(ns, to_limit.mean(axis=1), "s-", label=r"a run and the limit $\beta^f$")
ax.semilogx(ns, (to_limit == 1).mean(axis=1), "^:", label="fraction of runs with the limit's top 3")
ax.set_ylim(0, 1.05)
ax.set_xlabel("number of samples n")
ax.set_ylabel(f"top-{k} Jaccard index (mean)")
ax.set_title(f"stability of the top-{k} superpixels (d = {d})", fontsize=9)
ax.legend(fontsize=7)
plt.show()
print("limit's top 3:", np.argsort(limit[1:])[::-1][:k])

# %% [markdown]
# With a handful of superpixels a few hundred samples already pin down the top 3; the smaller
# the gaps between the limit's coefficients, the more samples it takes to order them (the
# spread of each coefficient is about $\sigma/\sqrt n$, and two superpixels swap places as long
# as their gap is within a couple of those). With lime's usual 30 to 100 superpixels the
# coefficients share the prediction between many more regions, so the gaps are smaller, and
# the number of samples the paper's concentration bound asks for grows with $d$: 1000 samples
# are not always enough. Compare two seeds before trusting a top-k list.
#
# ## Code to reuse
#
# ```python
# import limetheory as lt
# from limetheory import theory
# from limetheory.analytic import response_of_z
#
# segments = lt.segment(image)                              # lime's quickshift, labels 0..d-1
# ex = lt.explain(image, predict, segments=segments, labels=[target], n_samples=1000, seed=0)
# ex.coef[0], ex.top(5)                                     # coefficients, top-5 superpixels
# ex.coef_se[0], ex.conf_int(level=0.95)                    # this run's error bars
#
# d = int(segments.max()) + 1
# f = response_of_z(predict, image, segments)               # z (m, d) -> f(x(z)) (m, n_classes)
# f_target = lambda z: f(z)[:, target]
# beta = theory.exact_limit(f_target, d, 0.25)              # d <= 24: enumerates 2^d images
# beta = theory.monte_carlo_limit(f_target, d, 0.25, n_samples=20_000, seed=0)   # any d
# ```
