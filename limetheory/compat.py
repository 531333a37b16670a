"""Bit-for-bit reproduction of lime 0.2.0.1's ``LimeImageExplainer.explain_instance``.

Given the same ``random_state`` integer, the same segments, ``hide_color`` and ``n_samples``,
:func:`lime_explain` draws exactly lime's samples from the same ``numpy.random.RandomState``
stream and returns coefficients and intercepts equal to lime's up to floating-point rounding
(<= 1e-8; the tests check it against the installed package). What it reproduces:

1. A 2-D image is turned into RGB with ``skimage.color.gray2rgb`` (the model sees RGB).
2. lime draws ``random_state.randint(0, high=1000)`` (a segmentation seed) before anything else;
   we consume that draw too, unless ``random_seed`` is passed, as lime skips it then (lime's
   ``explain_instance(..., random_seed=7)`` is ``lime_explain(..., random_seed=7)``; the same
   stream is otherwise shifted by one draw: other samples, other numbers).
3. The replacement image has the image's dtype: superpixel means are computed with ``np.mean``
   per channel and cast into that dtype, as lime's assignment does (uint8 images truncate).
4. z = ``randint(0, 2, n*d).reshape(n, d)``, first row ones; perturbed images in the image's dtype.
5. Cosine distance to z_0, kernel ``sqrt(exp(-d^2 / w^2))``, ``Ridge(alpha=1)`` per label.
6. ``top_labels=K``: the K classes with the highest score on sample 0, ordered as lime orders them
   (all the model's classes when it has fewer than K, as lime does with its default K = 5).
"""
from __future__ import annotations

import numpy as np
from skimage.color import gray2rgb

from .empirical import check_fit_size, check_settings, fit_explanation, model_responses
from .explanation import Explanation
from .validation import check_int, check_kernel_width, check_seed, validate_params
from .sampling import kernel_weights, lime_samples
from .segmentation import check_image, check_segments, n_superpixels

__all__ = ["lime_explain", "lime_replacement_image"]


def lime_replacement_image(image: np.ndarray, segments: np.ndarray, hide_color=None) -> np.ndarray:
    """lime's ``fudged_image``: in the image's dtype, means per superpixel via ``np.mean``.

    Computes one mean per (superpixel, channel) exactly as lime does, so that the cast into an
    integer dtype truncates the same way; the image itself is then painted with one vectorised
    gather (no per-superpixel masks over the image).
    """
    fudged = image.copy()
    if hide_color is not None:
        fudged[:] = hide_color
        return fudged
    d = n_superpixels(segments)
    order = np.argsort(segments.ravel(), kind="stable")
    bounds = np.searchsorted(segments.ravel()[order], np.arange(d + 1))
    pixels = image.reshape(-1, image.shape[2])[order]
    means = np.array([[np.mean(pixels[bounds[j] : bounds[j + 1], c]) for c in range(3)] for j in range(d)])
    table = np.empty((d, image.shape[2]), dtype=image.dtype)
    table[...] = means  # the same unsafe float -> dtype cast as lime's item assignment
    return table[segments]


def _check_lime_n_samples(value, name: str) -> int:
    return check_int(value, name, 2)


@validate_params(n_samples=_check_lime_n_samples, kernel_width=check_kernel_width)
def lime_explain(
    image,
    predict,
    *,
    segments,
    labels=(1,),
    top_labels=5,
    n_samples: int = 1000,
    hide_color=None,
    kernel_width: float = 0.25,
    random_state: int = 0,
    random_seed=None,
    segmentation_seed=None,
    batch_size: int | None = None,
    keep_samples: bool = False,
) -> Explanation:
    """lime 0.2.0.1's ``LimeImageExplainer(kernel_width, random_state=random_state).explain_instance(
    image, predict, labels, hide_color, top_labels, num_samples=n_samples,
    segmentation_fn=lambda x: segments)``, computed without lime's per-sample loops.

    Defaults follow lime (``labels=(1,)``, ``top_labels=5``: with ``top_labels`` set, ``labels`` is
    ignored, as in lime; pass ``top_labels=None`` to explain ``labels``). ``random_seed``: lime's
    argument of the same name (the segmentation's seed; given, lime does not draw it from
    ``random_state``); ``segmentation_seed`` is another name for it.
    Returns an :class:`~limetheory.explanation.Explanation` (ridge = 1); ``labels`` is ordered as
    lime's ``top_labels`` when those are used. ``score`` and ``local_pred`` are per label (lime keeps
    only the last label's).
    """
    img = check_image(image)
    if img.ndim == 2:
        img = gray2rgb(img)
    if img.shape[2] != 3:
        raise ValueError(f"image must be grayscale or RGB for lime, got {img.shape[2]} channels")
    seg = check_segments(segments, img.shape)
    d = n_superpixels(seg)
    n = check_settings(n_samples, 1.0, d)
    if top_labels is not None:
        top_labels = check_int(top_labels, "top_labels", 1)
    else:
        labs = np.atleast_1d(np.asarray(labels))
        if labs.ndim != 1 or labs.size == 0 or labs.dtype == bool or not np.issubdtype(labs.dtype, np.integer):
            raise TypeError(f"labels must be a non-empty sequence of class indices, got {labels!r}")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    check_fit_size(n, d)
    if isinstance(random_state, np.random.Generator):
        raise TypeError("random_state must be an int in [0, 2**32) or numpy RandomState (lime's stream), got Generator")
    random_state = check_seed(random_state, "random_state")
    if random_state is None:
        raise TypeError("random_state must be an int in [0, 2**32) or numpy RandomState (lime's stream), got None")
    if isinstance(random_state, np.random.RandomState):
        rs = random_state
    else:
        rs = np.random.RandomState(check_int(random_state, "random_state", 0, 2**32 - 1))
    if random_seed is not None and segmentation_seed is not None and random_seed != segmentation_seed:
        raise ValueError(f"random_seed and segmentation_seed are one argument (lime's random_seed); got "
                         f"{random_seed!r} and {segmentation_seed!r}")
    if random_seed is None and segmentation_seed is None:
        rs.randint(0, high=1000)  # lime's segmentation seed draw
    rep = lime_replacement_image(img, seg, hide_color)
    z = lime_samples(n, d, rs)
    # the unperturbed image (z_0 = 1) first: the labels are checked against the model's classes
    # after one image, not after n
    y0 = model_responses(predict, img, rep, seg, z[:1], batch_size=batch_size, dtype=img.dtype, progress=False)
    if top_labels is not None:
        # lime's np.argsort(scores)[-top_labels:]: every class when the model has fewer than top_labels
        labs = np.argsort(y0[0])[-top_labels:][::-1]
    else:
        labs = labs.astype(np.int64)
        if labs.min() < 0 or labs.max() >= y0.shape[1]:
            raise ValueError(f"labels must be class indices in [0, {y0.shape[1] - 1}], got {labs.tolist()}")
    y = np.concatenate([y0, model_responses(predict, img, rep, seg, z[1:], batch_size=batch_size, dtype=img.dtype,
                                            progress=False)])
    # lime: sqrt(exp(-d^2 / w^2)) == exp(-d^2 / (2 w^2)) with d the cosine distance to z_0.
    weights = kernel_weights(z, kernel_width)
    return fit_explanation(
        z, y, weights, labs, 1.0, segments=seg, image=img, replacement=rep,
        kernel_width=kernel_width, keep_samples=keep_samples,
    )
