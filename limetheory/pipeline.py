"""One network on one image, as the experiments and the ``limetheory explain`` command run it.

The pieces experiments 4 (``lime_vs_ig``) and 6 (``qualitative``) and the command line share, so
that they explain the same function the same way:

- :func:`segment_for`: the superpixels of an image with the network's parameters
  (:data:`limetheory.nets.SEGMENTATION`);
- :func:`lime_run` / :func:`lime_coefficients`: empirical LIME of one class for both outputs on
  the same samples (columns :data:`OUTPUTS`: the probability, then the logit), one run per seed;
  :func:`class_explanation` turns one output of a run into an explanation of the class;
- :func:`ig_superpixel_sums`: integrated gradients with LIME's replacement image as baseline,
  summed over the superpixels;
- :func:`top_classes`; :func:`check_lime_memory`, the memory a run needs before it starts.

The network is a :class:`~limetheory.nets.Classifier` (e.g. :func:`limetheory.nets.load_cached`).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .empirical import explain
from .gradients import integrated_gradients, superpixel_sums
from .nets import OUTPUTS, Classifier, segmentation_for, softmax
from .segmentation import replacement_image, segment
from .validation import check_choice

__all__ = [
    "IG_DEFAULTS", "OUTPUTS", "check_lime_memory", "class_explanation", "class_scores", "ig_superpixel_sums",
    "lime_coefficients", "lime_memory_bytes", "lime_run", "outputs_of", "segment_for", "top_classes",
]

#: Integrated-gradients quadrature used by the command (and by the experiments' full runs).
IG_DEFAULTS = {"method": "gausslegendre", "n_steps": 64}


def segment_for(image, model: str, segmentation: dict | None = None) -> np.ndarray:
    """Superpixels of ``image`` with the parameters of :data:`limetheory.nets.SEGMENTATION` for ``model``."""
    kw = segmentation_for(model) if segmentation is None else dict(segmentation)
    return segment(image, kw.pop("method", "quickshift"), **kw)


def lime_memory_bytes(n_samples: int, d: int, n_outputs: int = len(OUTPUTS)) -> int:
    """Bytes one LIME run of :func:`lime_coefficients` holds for its samples, at least.

    ``n (d + 8 (n_outputs + 2))``: the binary vectors z (n x d, one byte each), the model's
    outputs (n x n_outputs, float64), the kernel weights and distances (2 n, float64). The
    perturbed images and the surrogate's blocks are bounded by the batch size, not by n.
    """
    return int(n_samples) * (int(d) + 8 * (int(n_outputs) + 2))


def check_lime_memory(n_samples: int, name: str, d: int, available: int) -> int:
    """``n_samples`` if :func:`lime_memory_bytes` fits in ``available`` bytes, else a ValueError
    that names the argument ``name`` and says how much memory the run would need."""
    need = lime_memory_bytes(n_samples, d)
    if need > available:
        raise ValueError(f"{name} = {n_samples} needs at least {need / 2**30:.3g} GiB for LIME's samples "
                         f"(n (d + {need // n_samples - d}) bytes with d = {d}), more than the {available / 2**30:.3g} GiB of "
                         "memory here")
    return n_samples


def outputs_of(net: Classifier) -> tuple:
    """The outputs ``net`` can give, in :data:`OUTPUTS` order: both, or the probability alone for a
    network that returns probabilities (its logits cannot be reached)."""
    return OUTPUTS if net.returns == "logit" else OUTPUTS[:1]


def _class_scores(images, net: Classifier, target: int) -> np.ndarray:
    if net.returns == "prob":
        return net.scores(images, "prob")[:, [target]]
    z = net.scores(images, "logit")
    return np.stack([softmax(z, axis=1)[:, target], z[:, target]], axis=1)


def class_scores(net: Classifier, target: int):
    """``predict(images) -> (N, len(outputs_of(net)))``: the columns of :data:`OUTPUTS` of class
    ``target`` (probability, logit) from one model call per batch."""
    return functools.partial(_class_scores, net=net, target=int(target))


def lime_run(image, net: Classifier, segments, target: int, seed, *, n_samples: int = 1000,
             kernel_width: float = 0.25, ridge: float = 1.0, hide_color=None, keep_samples: bool = False):
    """One empirical LIME run of class ``target`` for every output on the same samples.

    :func:`limetheory.explain` with ``predict = class_scores(net, target)``, so the surrogates
    share z, pi and the perturbed images. The returned Explanation's labels are the columns, in
    :data:`OUTPUTS` order (0: ``"prob"``, 1: ``"logit"``); :func:`class_explanation` turns one of
    them into an explanation of the class. ``keep_samples``: keep z, pi and y on it.
    """
    net.check_image(image)
    labels = list(range(len(outputs_of(net))))
    return explain(image, class_scores(net, target), segments=segments, labels=labels, n_samples=int(n_samples),
                   kernel_width=kernel_width, ridge=ridge, hide_color=hide_color, seed=seed,
                   batch_size=net.batch_size, dtype=np.float32, progress=False, keep_samples=keep_samples)


def class_explanation(run, output: str, target: int, scores):
    """Output ``output`` of a :func:`lime_run` (or of any run whose labels are :data:`OUTPUTS` indices)
    as an Explanation of class ``target``.

    The row of ``output`` (coefficients, intercept, their standard errors, R^2, local prediction),
    labelled with the class index ``target``, with ``scores`` (the model's scores for every class
    on the image) as ``prediction``: what :meth:`Explanation.to_html` and lime's helpers expect.
    """
    check_choice(output, "output", OUTPUTS)
    labels = list(np.asarray(run.labels))
    if OUTPUTS.index(output) not in labels:
        raise ValueError(f"output: this run has no {output!r} column (the network returns probabilities)")
    row = labels.index(OUTPUTS.index(output))

    def pick(values):
        return None if values is None else np.asarray(values)[row : row + 1]

    return dataclasses.replace(
        run, coef=pick(run.coef), intercept=pick(run.intercept), score=pick(run.score),
        local_pred=pick(run.local_pred), coef_se=pick(run.coef_se), intercept_se=pick(run.intercept_se),
        labels=np.array([int(target)]), prediction=np.asarray(scores, dtype=np.float64),
        samples=None, weights=None, responses=None,
    )


def lime_coefficients(image, net: Classifier, segments, target: int, seeds, *, n_samples: int = 1000,
                      kernel_width: float = 0.25, ridge: float = 1.0, hide_color=None, with_se: bool = False,
                      with_samples: bool = False):
    """Empirical LIME of class ``target``, one :func:`lime_run` per seed (every output on the same samples).

    Returns
    -------
    (n_runs, n_outputs, d) float64 coefficients beta_hat_j (n_outputs = ``len(outputs_of(net))``);
    with ``with_se``, also their standard errors (same shape,
    :attr:`limetheory.Explanation.coef_se`); with ``with_samples``, last, every run's samples
    stacked: ``(z (n_runs n, d), pi (n_runs n,), y (n_runs n, n_outputs))``.
    """
    coefs, ses, samples = [], [], []
    for seed in seeds:
        ex = lime_run(image, net, segments, target, seed, n_samples=n_samples, kernel_width=kernel_width,
                      ridge=ridge, hide_color=hide_color, keep_samples=with_samples)
        coefs.append(np.asarray(ex.coef, dtype=np.float64))
        ses.append(ex.coef_se)
        samples.append((ex.samples, ex.weights, ex.responses))
    out = (np.stack(coefs),) + ((np.stack(ses),) if with_se else ())
    if with_samples:
        out += (tuple(np.concatenate(part, axis=0) for part in zip(*samples)),)
    return out if len(out) > 1 else out[0]


def _ig_chunk(net: Classifier) -> int:
    """Path points per integrated-gradients chunk: fixed per network (one compilation serves every
    ``n_steps``): 8 on a CPU, 32 on an accelerator for JAX; the batch size for PyTorch."""
    if net.backend != "jax":
        return net.batch_size
    import jax

    return 8 if jax.default_backend() == "cpu" else 32


def ig_superpixel_sums(image, net: Classifier, segments, target: int, output: str | None = None, *,
                       n_steps: int = IG_DEFAULTS["n_steps"], method: str = IG_DEFAULTS["method"],
                       hide_color=None):
    """Integrated gradients of ``output`` (None: the network's own) of class ``target``, baseline
    LIME's replacement image.

    ``IG_u = (xi_u - xi_bar_u) int_0^1 df/dx_u(xi_bar + t (xi - xi_bar)) dt`` in float32 (the
    network's precision), summed over every superpixel: ``s_j = sum_{u in J_j} IG_u``.

    Returns
    -------
    sums : (d,) float64;  ig : :class:`limetheory.gradients.IGResult` (pixel attributions,
    completeness gap).
    """
    output = net.output if output is None else check_choice(output, "output", OUTPUTS)
    x = np.asarray(image, dtype=np.float64)
    baseline = replacement_image(x, segments, hide_color)
    ig = integrated_gradients(net, x.astype(np.float32), baseline.astype(np.float32), n_steps=int(n_steps),
                              method=method, target=int(target), internal_batch_size=min(_ig_chunk(net), int(n_steps)),
                              dtype="float32", output=output)
    return superpixel_sums(ig.attributions, segments), ig


def top_classes(net: Classifier, image, k: int = 5) -> list:
    """The ``k`` most probable classes of ``image``: [(index, name, probability), ...]."""
    p = net.scores(np.asarray(image)[None], "prob")[0]
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), str(net.class_names[i]), float(p[i])) for i in order]
