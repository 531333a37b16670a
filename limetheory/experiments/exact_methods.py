"""Exact explanations of a bundled JAX network's parameter state, shared by the sanity and
remove-and-retrain experiments.

The network is a pure function ``forward(params, images) -> logits`` (:mod:`limetheory.nets.small_cnn`
or :mod:`limetheory.nets.vgg`) and its parameters are an argument, so a randomised or retrained
state runs through the same compiled program. The game explained is
``g(z) = softmax(forward(params, x(z)))_target`` (the class probability lime explains), evaluated
once on all of {0,1}^d (:class:`limetheory.theory.ResponseTable`); every exact method reads that table:

- ``limit_<nu>``: the LIME limit beta^f at kernel width nu (:func:`limetheory.theory.exact_limit`);
- ``shapley``, ``banzhaf``, ``occlusion``: the exact game values of :mod:`limetheory.theory.games`;
- ``sampled``: one empirical LIME run (lime's Bernoulli design, kernel width, ridge), its samples'
  responses read from the same table;
- ``ig``: integrated gradients of the probability from LIME's replacement image, summed per
  superpixel (needs the network, not the table);
- ``random``: a random ranking; ``contrast``: the input-only control
  (:func:`limetheory.segmentation.superpixel_contrast`).
"""
from __future__ import annotations

import functools

import numpy as np

from limetheory.analytic import response_of_z
from limetheory.gradients import quadrature, superpixel_sums
from limetheory.nets import load, small_cnn, softmax, vgg
from limetheory.nets.small_cnn import batched_logits
from limetheory.sampling import samples_and_weights
from limetheory.segmentation import n_superpixels, replacement_image
from limetheory.surrogate import fit_weighted_ridge
from limetheory.theory import ResponseTable, exact_limit
from limetheory.theory.games import exact_banzhaf, exact_occlusion, exact_shapley

#: The exact game values, by method name.
GAMES = {"shapley": exact_shapley, "banzhaf": exact_banzhaf, "occlusion": exact_occlusion}

__all__ = ["GAMES", "exact_explanations", "ig_sums", "limit_name", "network", "probability_function",
           "response_table", "sampled_lime"]


def limit_name(kernel_width: float) -> str:
    """The method name of the LIME limit at ``kernel_width``: ``limit_0.25``."""
    return f"limit_{float(kernel_width):g}"


@functools.lru_cache(maxsize=None)
def network(name: str) -> tuple:
    """``(params, forward)`` of a bundled small CNN or Table 1 network (weights read once per process)."""
    net = load(name)
    return net.info["params"], (vgg.apply if name in vgg.NAMES else small_cnn.apply)


def response_table(params, forward, image, segments, target: int, hide_color=None) -> ResponseTable:
    """``g(z) = softmax(forward(params, x(z)))_target`` on every z in {0,1}^d, x(z) as LIME builds it."""
    def predict(images):
        return softmax(batched_logits(params, images, 512, forward))[:, int(target)]

    f_of_z = response_of_z(predict, image, segments, hide_color, batch_size=512)
    return ResponseTable.from_function(f_of_z, n_superpixels(segments), batch_size=4096)


def exact_explanations(table: ResponseTable, kernel_widths, games=tuple(GAMES)) -> dict:
    """{method: (d,) explanation} of the game in ``table``: the LIME limits and the exact game values."""
    out = {limit_name(kernel_width): exact_limit(table, table.d, kernel_width)[1:] for kernel_width in kernel_widths}
    for name in games:
        out[name] = np.asarray(GAMES[name](table), dtype=np.float64)
    return out


def sampled_lime(table: ResponseTable, rng, *, n_samples: int = 1000, kernel_width: float = 0.25,
                 ridge: float = 1.0) -> np.ndarray:
    """One empirical LIME run on the game: lime's design (z ~ Bernoulli(1/2)^d, z_0 = 1, weights pi(z)),
    responses ``table(z)``, weighted ridge with an unpenalised intercept; the (d,) coefficients."""
    z, w = samples_and_weights(int(n_samples), table.d, kernel_width, rng)
    _, coef = fit_weighted_ridge(z, table(z), w, ridge)
    return coef[0]


def probability_function(params, forward):
    """The single-image JAX function ``image -> softmax(forward(params, image[None])[0])`` (compiled
    anew for every function object by :func:`limetheory.gradients.integrated_gradients`)."""
    import jax

    def prob(image):
        return jax.nn.softmax(forward(params, image[None])[0])

    return prob


@functools.lru_cache(maxsize=None)
def _path_gradients(forward):
    """``sum_k w_k grad_x softmax(forward(params, x_k))_target`` at the path points
    ``x_k = b + alpha_k (x - b)``, jit-compiled once per network function with the parameters as an
    argument, so every randomised state of a network reuses one program."""
    import jax
    import jax.numpy as jnp

    def weighted(params, x, baseline, alphas, weights, target):
        def g(img):
            return jax.nn.softmax(forward(params, img[None])[0])[target]

        grads = jax.vmap(lambda a: jax.grad(g)(baseline + a * (x - baseline)))(alphas)
        return jnp.tensordot(weights, grads, axes=1)

    return jax.jit(weighted)


def ig_sums(params, forward, image, segments, target: int, *, n_steps: int, hide_color=None) -> tuple:
    """Integrated gradients of class ``target``'s probability from LIME's replacement image, summed
    per superpixel: ``(sums (d,), relative completeness gap)``.

    ``IG_u = (x_u - b_u) sum_k w_k d g / d x_u (b + alpha_k (x - b))`` with the Gauss-Legendre rule
    of :func:`limetheory.gradients.quadrature`, in float32, 8 path points per compiled call; the
    same numbers as :func:`limetheory.gradients.integrated_gradients` of
    :func:`probability_function` (to float32 rounding), without a compilation per state.
    """
    x = np.asarray(image, dtype=np.float32)
    baseline = replacement_image(x, segments, hide_color).astype(np.float32)
    alphas, weights = quadrature(int(n_steps), "gausslegendre")
    run = _path_gradients(forward)
    mean_grad = np.zeros(x.shape, dtype=np.float64)
    for start in range(0, alphas.shape[0], 8):  # equal chunks (padded with weight 0): one compilation
        a = np.zeros(8, np.float32)
        w = np.zeros(8, np.float32)
        a[: alphas.shape[0] - start] = alphas[start:start + 8]
        w[: alphas.shape[0] - start] = weights[start:start + 8]
        mean_grad += np.asarray(run(params, x, baseline, a, w, int(target)), dtype=np.float64)
    attributions = mean_grad * (x.astype(np.float64) - baseline.astype(np.float64))
    ends = softmax(batched_logits(params, np.stack([x, baseline]), 512, forward))[:, int(target)]
    change = float(ends[0] - ends[1])
    gap = abs(float(attributions.sum()) - change) / abs(change) if change != 0 else float("inf")
    return superpixel_sums(attributions, segments), gap
