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
# # 2. Shape detectors and linear models: LIME in closed form
#
# For two simple families of models, Garreau & Mardaoui ("What does LIME really see in images?",
# ICML 2021) compute **exactly** what image LIME converges to. This notebook puts those closed
# forms next to real LIME runs on a photo and shows what the kernel width $\nu$ does.
#
# 1. An elementary **shape detector**: LIME puts one large, equal weight on exactly the
#    superpixels that carry the shape, and (almost) nothing elsewhere.
# 2. What the **kernel width** $\nu$ does to those weights.
# 3. A **linear model**: LIME recovers $\sum_{u \in J_j} \lambda_u (\xi_u - \bar\xi_u)$ exactly,
#    whatever $\nu$; the replacement image $\bar\xi$ decides what LIME can see.
#
# Everything here runs in a few seconds: the models are cheap, so we can afford many LIME runs
# and even enumerate all $2^d$ perturbations.

# %%
import matplotlib.pyplot as plt
import numpy as np
from skimage.color import rgb2gray

import limetheory as lt
from limetheory import theory
from limetheory.analytic import LinearModel, ShapeDetector
from limetheory.data import load_photo
from limetheory.plotting import plot_coefficient_boxes, plot_superpixel_values, plot_superpixels

# %% [markdown]
# ## LIME and its limit, in one paragraph
#
# LIME splits the image $\xi$ into $d$ superpixels $J_1, \dots, J_d$, draws $n$ vectors
# $z \in \{0,1\}^d$ with i.i.d. Bernoulli(1/2) coordinates, and builds the perturbed image $x(z)$:
# pixel $u \in J_j$ keeps its value $\xi_u$ if $z_j = 1$ and takes the replacement value
# $\bar\xi_u$ (the superpixel's mean colour, or a fixed `hide_color`) if $z_j = 0$. Each sample is
# weighted by $\pi(z) = \exp(-d_{\cos}(\mathbf 1, z)^2 / (2\nu^2))$ and LIME fits a weighted
# linear regression of $f(x(z))$ on $z$; its coefficients $\hat\beta_j$ are the explanation.
#
# With $\alpha_p = \mathbb E[\pi(z)\, z_1 \cdots z_p]$ (a number that depends only on $d$, $\nu$
# and $p$), the weighted second-moment matrix $\Sigma = \mathbb E[\pi Z Z^\top]$, $Z = (1, z)$, has
# an explicit inverse, and as $n \to \infty$ (ridge $\lambda = 0$)
#
# $$\hat\beta_n \longrightarrow \beta^f = \Sigma^{-1}\,\Gamma^f, \qquad
#   \Gamma^f = \mathbb E[\pi(z)\, Z\, f(x(z))].$$
#
# `limetheory.theory` computes $\alpha_p$, $\Sigma^{-1}$ and $\beta^f$ from the moments
# $\mathbb E[\pi f]$, $\mathbb E[\pi z_j f]$; for the two models below those moments have
# closed forms.

# %% [markdown]
# ## The image
#
# A real photo (scikit-image's cat, shipped with the package), in grayscale, 64 x 64 pixels,
# split into superpixels with SLIC. A small image keeps $d$ small enough to enumerate
# $\{0,1\}^d$ exactly.

# %%
image = rgb2gray(load_photo("chelsea", size=64))  # float64 in [0, 1], shape (64, 64)
segments = lt.segment(image, "slic", n_segments=20, compactness=0.1)
d = int(segments.max()) + 1
print(f"image {image.shape}, d = {d} superpixels")

# %% [markdown]
# ## 1. An elementary shape detector
#
# The shape $S$ is a set of pixels and $\tau$ a threshold:
#
# $$f(x) = \begin{cases} 1 & \text{if } x_u > \tau \text{ for every } u \in S,\\
#                         0 & \text{otherwise.}\end{cases}$$
#
# Our $\xi$ lights the shape. Hiding superpixel $j$ destroys it when its replacement value is
# $\le \tau$ somewhere on $S$; call $E_-$ the set of those superpixels and $p = |E_-|$. Then
# $f(x(z)) = \prod_{j \in E_-} z_j$, so $\mathbb E[\pi f] = \alpha_p$ and
# $\mathbb E[\pi z_j f] = \alpha_p$ for $j \in E_-$, $\alpha_{p+1}$ otherwise, and with the
# coefficients $c_d, \sigma_0, \dots, \sigma_3$ of $\Sigma^{-1}$:
#
# $$\beta_j = \frac{(\sigma_1 + \sigma_2 + (p-1)\sigma_3)\,\alpha_p + (d-p)\,\sigma_3\,\alpha_{p+1}}{c_d}
#   \quad (j \in E_-), \qquad
#   \beta_j = \frac{(\sigma_1 + p\,\sigma_3)\,\alpha_p + (\sigma_2 + (d-p-1)\sigma_3)\,\alpha_{p+1}}{c_d}
#   \quad (j \notin E_-).$$
#
# One value for every superpixel that carries the shape, however little of it it holds, and one
# (small) value for all the others. Here $S$ is a thin vertical bar on the cat's cheek; hidden
# superpixels are painted black (`hide_color=0`), so every superpixel that meets $S$ is in $E_-$.

# %%
rows, cols = np.indices(image.shape)
shape_mask = (rows >= 32) & (rows < 52) & (cols >= 24) & (cols < 26)  # 20 x 2 pixels
tau = 0.4
detector = ShapeDetector(shape_mask, tau)
hide_color = 0.0

print("the image lights the shape:", detector.lights(image))
e_minus = detector.destroying_superpixels(image, segments, hide_color)
print("E_- =", np.flatnonzero(e_minus), " pixels of S in each:",
      np.bincount(segments[shape_mask], minlength=d)[e_minus])

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
axes[0].set_axis_off()
axes[0].set_title("the photo (grayscale, 64 x 64)", fontsize=9)
plot_superpixels(image, segments, ax=axes[1], shape_mask=shape_mask, highlight=e_minus,
                 title=r"superpixels; shape $S$ in red, $E_-$ in bold red")
plt.show()

# %% [markdown]
# Three ways to get LIME's answer:
#
# * the **closed form** above (`ShapeDetector.limit_explanation`);
# * **exact enumeration**: $\beta^f = \Sigma^{-1}\Gamma^f$ with $\Gamma^f$ summed over all
#   $2^d$ vectors $z$ on real perturbed images, no formula for $f(x(z))$ used
#   (`theory.exact_limit`, with `response_of_z` building $z \mapsto f(x(z))$);
# * **LIME itself**, 20 runs of $n = 1000$ samples with different seeds (`lt.explain`, lime's
#   defaults: $\nu = 0.25$, ridge $\lambda = 1$).

# %%
nu = 0.25
limit = detector.limit_explanation(image, segments, hide_color=hide_color, kernel_width=nu)
by_enumeration = theory.exact_limit(detector.response_of_z(image, segments, hide_color), d, nu)
print("closed form vs enumeration: max |difference| =", np.abs(limit - by_enumeration).max())
assert np.allclose(limit, by_enumeration, rtol=1e-9, atol=1e-12)  # two exact computations
print(f"intercept {limit[0]:.4f}, inside E_- {limit[1:][e_minus][0]:.4f}, "
      f"outside {limit[1:][~e_minus][0]:.4f}")
assert np.abs(limit - by_enumeration).max() <= 1e-10  # the closed form is the enumeration, to rounding
assert np.ptp(limit[1:][e_minus]) <= 1e-12 and np.ptp(limit[1:][~e_minus]) <= 1e-12  # two values only

runs = np.array([
    lt.explain(image, detector, segments=segments, n_samples=1000, hide_color=hide_color,
               kernel_width=nu, seed=seed).coef[0]
    for seed in range(20)
])

fig, ax = plt.subplots(figsize=(8, 3.2))
plot_coefficient_boxes(runs, limit[1:], ax=ax, highlight=e_minus, show_points=False,
                       title=r"shape detector: 20 LIME runs ($n=1000$) against the limit $\beta^f$")
plt.show()

# %% [markdown]
# The boxes sit on the red bars: the four superpixels of $E_-$ get the same weight (about
# 0.16), the one that holds only 2 of the bar's 40 pixels as much as the one that holds 28,
# and every other superpixel gets about $10^{-3}$. LIME's runs scatter around the limit with a spread of order
# $n^{-1/2}$; the ridge penalty $\lambda = 1$ shifts them by $O(1/n)$ only.
#
# **The replacement image matters.** With lime's default `hide_color=None` a hidden superpixel
# takes its mean grey level; where that mean is still above $\tau$, hiding the superpixel does
# not destroy the shape and it leaves $E_-$. Here only one superpixel remains, and
# $f(x(z)) = z_j$ is linear: LIME gives it weight exactly 1 and nothing to anybody else.

# %%
e_minus_mean = detector.destroying_superpixels(image, segments, hide_color=None)
limit_mean = detector.limit_explanation(image, segments, hide_color=None, kernel_width=nu)
print("E_- with mean replacement:", np.flatnonzero(e_minus_mean))
print("limit:", np.round(limit_mean[1:], 4))

# %% [markdown]
# ## 2. What the kernel width does
#
# Only $\alpha_p$ depends on $\nu$. Since $\alpha_p = 2^{-d}\sum_{s=0}^{d-p}\binom{d-p}{s}\psi(s/d)$
# with $\psi(t) = \exp(-(1 - \sqrt{1-t})^2 / (2\nu^2))$, a small $\nu$ gives weight only to
# samples with few superpixels switched off, and $\alpha_p$ decays slowly in $p$; a large $\nu$
# makes $\pi \approx 1$ and $\alpha_p \approx 2^{-p}$.

# %%
ps = np.arange(d + 1)
fig, ax = plt.subplots(figsize=(5, 3.2))
for width in (0.05, 0.1, 0.25, 1.0, 10.0):
    a = theory.alpha(d, width, ps)
    ax.semilogy(ps, a / a[0], "o-", ms=3, label=rf"$\nu = {width:g}$")
ax.semilogy(ps, 0.5**ps, "k--", lw=1, label=r"$2^{-p}$ ($\nu \to \infty$)")
ax.set_xlabel("p")
ax.set_ylabel(r"$\alpha_p / \alpha_0$")
ax.set_title(f"kernel moments, d = {d}", fontsize=9)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# The weights of the shape detector follow. Two limits are easy to read off:
#
# * $\nu \to \infty$: all samples count equally, LIME is ordinary least squares over the cube,
#   and the slope of $\prod_{j \in E_-} z_j$ on $z_j$ is $2^{1-p}$ inside, 0 outside.
# * $\nu \to 0$: only $z$ near $\mathbf 1$ count, where
#   $\prod_{j\in E_-} z_j \approx 1 - \sum_{j \in E_-}(1 - z_j)$: weight 1 inside, intercept
#   $1 - p$.
#
# `theory.product_limit(d, nu, members)` gives $\beta^f$ for any $\nu$ (it stays accurate where
# the textbook formula cancels catastrophically). The dots are means of 10 LIME runs
# ($n = 2000$, ridge 0) at three widths, with $\pm$ one standard deviation.

# %%
p = int(e_minus.sum())
widths = np.logspace(-1.7, 1, 40)
curves = np.array([theory.product_limit(d, w, e_minus) for w in widths])
inside = curves[:, 1:][:, e_minus][:, 0]
outside = curves[:, 1:][:, ~e_minus][:, 0]

check_widths = (0.1, 0.25, 1.0)
lime_inside = []
for w in check_widths:
    coefs = np.array([
        lt.explain(image, detector, segments=segments, n_samples=2000, hide_color=hide_color,
                   kernel_width=w, ridge=0.0, seed=100 + seed).coef[0]
        for seed in range(10)
    ])
    lime_inside.append(coefs[:, e_minus].mean(axis=1))  # mean over E_- in each run
lime_inside = np.array(lime_inside)

fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.semilogx(widths, inside, label=r"$\beta_j,\ j \in E_-$")
ax.semilogx(widths, outside, label=r"$\beta_j,\ j \notin E_-$")
ax.semilogx(widths, curves[:, 0], label=r"intercept $\beta_0$")
ax.errorbar(check_widths, lime_inside.mean(axis=1), yerr=lime_inside.std(axis=1), fmt="o",
            color="C0", ms=4, capsize=3, label="LIME, 10 runs (inside)")
ax.axhline(1.0, color="0.5", ls=":", lw=1)
ax.axhline(2.0 ** (1 - p), color="0.5", ls="--", lw=1)
ax.axvline(0.25, color="0.8", lw=1)
ax.text(0.26, -1.9, "lime's default", fontsize=7, color="0.4")
ax.set_xlabel(r"kernel width $\nu$")
ax.set_ylabel("limit coefficient")
ax.set_title(rf"shape detector, $d = {d}$, $p = {p}$: dotted 1, dashed $2^{{1-p}}$", fontsize=9)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# At lime's default $\nu = 0.25$ the weight inside is already close to its large-$\nu$ value
# $2^{1-p}$: it shrinks geometrically with the number of superpixels that carry the shape. The
# outside weight stays near zero for every $\nu$. The same curve against $p$ at $\nu = 0.25$:
# the bigger the shape in superpixels, the less LIME credits each of them.

# %%
for q in range(1, 8):
    b = theory.product_limit(d, 0.25, np.arange(q))
    print(f"p = {q}: inside {b[1]:.4f}   outside {b[-1]:+.5f}   intercept {b[0]:+.4f}")

# %% [markdown]
# ### A narrow kernel wastes samples
#
# With a small $\nu$, almost every Bernoulli sample lies far from $\mathbf 1$ and gets a weight
# near zero: LIME's error at a given $n$ grows. The limit does not depend on how $z$ is drawn,
# only on the $\pi$-weighted law, so one can draw $z$ from that law directly and fit with equal
# weights (`lt.explain(..., sampler="weighted")`). `theory.exact_limit_covariance` gives the
# exact spread of one run under either sampler: the root-mean-square error at $n$ samples is
# $\sqrt{\mathbb E\|\hat\beta_n - \beta^f\|^2} = \sqrt{\operatorname{tr} V / n}$.

# %%
f_z = detector.response_of_z(image, segments, hide_color)
n = 2000
print(f"root-mean-square error of one run, n = {n} (exact):")
for width in (0.05, 0.1, 0.25, 1.0):
    rms = {s: np.sqrt(np.trace(theory.exact_limit_covariance(f_z, d, width, sampler=s)[1:, 1:]) / n)
           for s in ("bernoulli", "weighted")}
    print(f"  nu = {width:<5g} Bernoulli (lime) {rms['bernoulli']:.4f}   weighted {rms['weighted']:.4f}   "
          f"-> {(rms['bernoulli'] / rms['weighted']) ** 2:.1f}x fewer samples")

# %% [markdown]
# At lime's default width the two samplers are close; at $\nu = 0.05$ Bernoulli sampling needs
# dozens of times more samples for the same error. Whatever the sampler, every explanation
# carries its own standard errors (`coef_se`), so one run tells whether $n$ was enough.

# %% [markdown]
# ## 3. A linear model
#
# For $f(x) = \sum_u \lambda_u x_u$, $f(x(z)) = f(\bar\xi) + \sum_j z_j \sum_{u \in J_j}
# \lambda_u(\xi_u - \bar\xi_u)$ is *exactly* linear in $z$, so LIME (ridge 0) recovers
#
# $$\beta_j = \sum_{u \in J_j} \lambda_u (\xi_u - \bar\xi_u), \qquad \beta_0 = f(\bar\xi)$$
#
# from any $n \ge d + 1$ samples in general position, for every kernel width. This is also the
# sum over the superpixel of the integrated gradients of $f$ with baseline $\bar\xi$
# (notebook 3). Our model looks at the cat's left eye: $\lambda$ is a Gaussian bump there.

# %%
weights = np.exp(-((rows - 28) ** 2 + (cols - 22) ** 2) / (2 * 6.0**2))
linear = LinearModel(weights)

for hc in (0.0, None):
    beta = linear.limit_explanation(image, segments, hide_color=hc)
    for w in (0.1, 0.25, 5.0):
        ex = lt.explain(image, linear, segments=segments, n_samples=d + 5, ridge=0.0,
                        hide_color=hc, kernel_width=w, seed=0)
        err = np.abs(ex.coef[0] - beta[1:]).max() / np.abs(beta[1:]).max()
        print(f"hide_color={hc!s:4}  nu={w:<4}  n={d + 5}: relative max error {err:.1e}")
        assert err < 1e-8, err  # least squares is exact on an affine function of z

# %% [markdown]
# Exact to rounding with $d + 5$ samples. With lime's ridge ($\lambda = 1$) the estimate is
# biased by $O(1/n)$, and `theory.ridge_bias` predicts the bias: $n(\hat\beta_{\lambda} -
# \hat\beta_0) \to$ `ridge_bias(d, nu, beta)`.

# %%
beta = linear.limit_explanation(image, segments, hide_color=0.0)
predicted = theory.ridge_bias(d, 0.25, beta, ridge=1.0)
ns = np.array([100, 300, 1000, 3000])
measured = []
for n in ns:
    ex = lt.explain(image, linear, segments=segments, n_samples=int(n), ridge=1.0,
                    hide_color=0.0, seed=1)
    measured.append(np.linalg.norm(ex.coef[0] - beta[1:]))

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.loglog(ns, measured, "o", label=r"$\|\hat\beta_{\lambda=1} - \beta\|$, one run")
ax.loglog(ns, np.linalg.norm(predicted) / ns, "-", label="theory.ridge_bias / n")
ax.set_xlabel("n")
ax.set_ylabel("error")
ax.set_title("linear model: lime's ridge bias", fontsize=9)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# **What the replacement image hides.** With black replacement the weight is
# $\beta_j = \sum_{u\in J_j} \lambda_u \xi_u$: every superpixel under the bump lights up, in
# proportion to how much model weight and brightness it holds. With the mean replacement
# (`hide_color=None`), $\sum_{u \in J_j}(\xi_u - \bar\xi_u) = 0$ on every superpixel, so
# $\beta_j = |J_j|\,\mathrm{Cov}_{u \in J_j}(\lambda_u, \xi_u)$: LIME only sees how the model's
# weights co-vary with the brightness *inside* each superpixel. A superpixel where $\lambda$ is
# large but its brighter pixels lie where $\lambda$ is smaller gets a *negative* weight, although
# every $\lambda_u > 0$; and the values are an order of magnitude smaller (note the colour bars).

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
axes[0].contour(weights, levels=[0.25, 0.5, 0.75], colors="tab:orange", linewidths=1)
axes[0].set_axis_off()
axes[0].set_title(r"model weights $\lambda$ (contours)", fontsize=9)
for ax, hc, name in ((axes[1], 0.0, "black"), (axes[2], None, "superpixel mean")):
    b = linear.limit_explanation(image, segments, hide_color=hc)[1:]
    plot_superpixel_values(b, segments, ax=ax, title=rf"$\beta_j$, replacement: {name}")
plt.show()

# %% [markdown]
# ## Take-aways and code to reuse
#
# * For a shape detector, LIME's limit is **one weight for every superpixel whose removal
#   destroys the shape**, equal whatever its overlap, and about zero elsewhere; the weight
#   shrinks like $2^{1-p}$ with the number $p$ of such superpixels once $\nu$ is not tiny.
# * For a linear model LIME is exact, independent of $\nu$, and equal to $\sum_{u\in J_j}
#   \lambda_u(\xi_u - \bar\xi_u)$: what LIME sees depends on the replacement image.
#
# ```python
# from limetheory import theory
# from limetheory.analytic import ShapeDetector, LinearModel
#
# det = ShapeDetector(mask, tau)                        # mask: (H, W) bool, tau: float
# beta = det.limit_explanation(image, segments, hide_color=0.0, kernel_width=0.25)  # (d+1,)
# beta_enum = theory.exact_limit(det.response_of_z(image, segments, 0.0), d, 0.25)  # d <= 24
# beta_nu = theory.product_limit(d, nu, members)        # f = prod_{j in members} z_j, any nu
# alphas = theory.alpha(d, nu, np.arange(d + 1))        # alpha_p
# lin = LinearModel(weights)                            # weights: (H, W) or (H, W, C)
# beta_lin = lin.limit_explanation(image, segments, hide_color=None)
# ```
