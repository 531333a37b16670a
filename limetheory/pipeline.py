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
- :func:`top_classes`; :func:`check_lime_memory`, the memory a run needs before it starts;
- :func:`compare_class`: what ``limetheory explain`` computes for one class, LIME (and KernelSHAP)
  and the IG sums on the same superpixels, as a :class:`ClassComparison`;
  :func:`sample_budget` turns the command's ``--n-samples`` into what :func:`limetheory.explain`
  takes; :func:`write_figure` and :func:`write_page` write it as a figure and as an HTML page.

The network is a :class:`~limetheory.nets.Classifier` (e.g. :func:`limetheory.nets.load_cached`).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .empirical import explain
from .explanation import Explanation
from .gradients import IGResult, integrated_gradients, superpixel_sums
from .metrics import jaccard_topk, top_k
from .nets import OUTPUTS, Classifier, segmentation_for, softmax
from .plotting import explanation_figure, save_figure
from .segmentation import replacement_image, segment
from .stopping import StoppingRule
from .validation import check_choice

__all__ = [
    "IG_DEFAULTS", "KERNEL_DESIGNS", "OUTPUTS", "ClassComparison", "check_lime_memory", "class_explanation",
    "class_scores", "compare_class", "explain_output", "kernel_design", "ig_superpixel_sums", "intervals_separate", "lime_coefficients",
    "lime_memory_bytes", "lime_run", "outputs_of", "sample_budget", "segment_for", "top_classes", "write_figure",
    "write_page",
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


# --------------------------------------------------------------------------- one class, LIME beside IG
#: The sampling design of each kernel :func:`explain_output` runs, for a fixed number of samples
#: and for ``n_samples="auto"``: lime's independent draws; for KernelSHAP the extreme coalition
#: sizes enumerated and the rest drawn in pairs (the most accurate at equal calls in
#: ``results/bench_shapley.md``), or pairs (z and 1 - z together) when the budget is not fixed in
#: advance (the enumeration plan depends on it).
KERNEL_DESIGNS = {"lime": ("iid", "iid"), "shap": ("enumerated", "paired")}


def kernel_design(kernel: str, n_samples) -> str:
    """The design :func:`explain_output` runs for ``kernel`` (:data:`KERNEL_DESIGNS`) and ``n_samples``
    (a number of samples, or a StoppingRule)."""
    fixed, stopping = KERNEL_DESIGNS[check_choice(kernel, "kernel", tuple(KERNEL_DESIGNS))]
    return stopping if isinstance(n_samples, StoppingRule) else fixed


def sample_budget(n_samples, *, top_k: int, max_samples: int, tolerance: float | None = None):
    """``n_samples`` as :func:`limetheory.explain` takes it: a number of samples as it is;
    ``"auto"`` as the :class:`~limetheory.stopping.StoppingRule` that settles the ``top_k`` set
    within ``max_samples`` (``tolerance`` None: the exact rule)."""
    if n_samples != "auto":
        return int(n_samples)
    return StoppingRule(top_k=top_k, max_samples=max_samples, tolerance=0.0 if tolerance is None else tolerance)


def explain_output(image, net: Classifier, segments, target: int, *, output: str = "prob", kernel: str = "lime",
                   n_samples=1000, seed=0) -> Explanation:
    """LIME (``kernel="lime"``) or KernelSHAP (``"shap"``, :data:`KERNEL_DESIGNS`) of output ``output``
    of class ``target``; its one label is the index of ``output`` in :data:`OUTPUTS`
    (:func:`class_explanation` relabels it by class). ``n_samples``: a number or a StoppingRule
    (:func:`sample_budget`)."""
    return explain(image, class_scores(net, target), segments=segments, labels=[OUTPUTS.index(output)],
                   kernel=kernel, design=kernel_design(kernel, n_samples), n_samples=n_samples, seed=seed,
                   batch_size=net.batch_size, dtype=np.float32, progress=False)


@dataclasses.dataclass(frozen=True)
class ClassComparison:
    """LIME and integrated gradients of one class of one network on one image, on the same superpixels.

    Attributes
    ----------
    image : numpy.ndarray
        The image the network saw.
    segments : numpy.ndarray
        (H, W) its superpixels, 0 .. d - 1.
    target : int
        The class explained.
    output : str
        ``"prob"`` or ``"logit"``: the class's score explained.
    probabilities : numpy.ndarray
        (n_classes,) the network's probabilities on the image.
    explanations : dict
        {kernel: Explanation of class ``target``}, in the order the kernels ran.
    ig_sums : numpy.ndarray
        (d,) integrated gradients summed over each superpixel.
    ig : IGResult
        Their pixel attributions and completeness gap.
    """

    image: np.ndarray
    segments: np.ndarray
    target: int
    output: str
    probabilities: np.ndarray
    explanations: dict
    ig_sums: np.ndarray
    ig: IGResult

    @property
    def shown(self) -> Explanation:
        """The explanation the figure shows and the page opens on: the first kernel's."""
        return next(iter(self.explanations.values()))

    @property
    def probability(self) -> float:
        """The network's probability of the class explained."""
        return float(self.probabilities[self.target])

    def ig_top(self, k: int) -> np.ndarray:
        """The ``k`` superpixels with the largest IG sums, largest first."""
        return top_k(self.ig_sums, k)

    def jaccard(self, k: int) -> float:
        """Jaccard index of the top-``k`` sets of :attr:`shown` and of the IG sums."""
        return jaccard_topk(self.shown.coef[0], self.ig_sums, k)


def compare_class(image, net: Classifier, segments, target: int, *, output: str = "prob", kernels=("lime",),
                  n_samples=1000, seed=0, ig_steps: int = IG_DEFAULTS["n_steps"]) -> ClassComparison:
    """What ``limetheory explain`` computes: :func:`explain_output` of class ``target`` for every
    kernel of ``kernels`` (``"lime"``, ``"shap"``) and :func:`ig_superpixel_sums` with ``ig_steps``
    Gauss-Legendre points, all of output ``output`` on ``segments``."""
    probabilities = net.scores(np.asarray(image)[None], "prob")[0]
    explanations = {
        kernel: class_explanation(explain_output(image, net, segments, target, output=output, kernel=kernel,
                                                 n_samples=n_samples, seed=seed), output, target, probabilities)
        for kernel in kernels
    }
    sums, ig = ig_superpixel_sums(image, net, segments, target, output, n_steps=ig_steps)
    return ClassComparison(image=image, segments=segments, target=int(target), output=output,
                           probabilities=probabilities, explanations=explanations, ig_sums=sums, ig=ig)


def intervals_separate(coef, interval, k: int) -> bool:
    """Whether the intervals ``interval`` ((d, 2)) of the coefficients at rank ``k`` and ``k + 1``
    are disjoint (the top-``k`` set is settled at their level); False when there is no rank ``k + 1``."""
    order = top_k(coef, len(coef))
    if k >= len(order):
        return False
    a, b = order[k - 1], order[k]
    return bool(interval[a, 0] > interval[b, 1])


def write_figure(comparison: ClassComparison, path, *, k: int, title: str, lime_label: str, dpi: int = 120) -> None:
    """Write :func:`limetheory.plotting.explanation_figure` of ``comparison`` to ``path`` atomically
    (:func:`limetheory.plotting.save_figure`); the figure is closed even when the write fails."""
    import matplotlib.pyplot as plt  # matplotlib: a heavy optional dependency

    fig = explanation_figure(comparison.image, comparison.segments, comparison.shown.coef[0], comparison.ig_sums,
                             comparison.ig.attributions, k=k, output=comparison.output, title=title,
                             lime_label=lime_label)
    try:
        save_figure(fig, path, dpi=dpi)
    finally:
        plt.close(fig)


def write_page(comparison: ClassComparison, path, *, class_names, seed, k: int, title: str):
    """Write the interactive HTML page of :attr:`ClassComparison.shown` with the IG sums (and the
    KernelSHAP values when LIME was shown with them) to ``path``; returns the path."""
    shapley = comparison.explanations.get("shap") if next(iter(comparison.explanations)) != "shap" else None
    return comparison.shown.to_html(path, ig_sums=comparison.ig_sums, class_names=class_names, seed=seed, k=k,
                                    title=title, output=comparison.output,
                                    shapley=None if shapley is None else shapley.coef[0])
