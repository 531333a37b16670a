"""Arguments are checked once, at the public boundary (limetheory.validation.validate_params): a
declared check runs when a user calls the function, and is skipped when the library calls it again
with values it has already checked."""
import warnings

import numpy as np
import pytest

import limetheory as lt
from limetheory import sampling, validation
from limetheory.kernel import weighted_law
from limetheory.compare import CompareSettings, compare_limit
from limetheory.segmentation import grid
from limetheory.stopping import StoppingRule
from limetheory.validation import check_kernel_width, validate_params


def _counting(check, seen, label=None):
    def counted(value, name):
        seen.append(label or name)
        return check(value, name)

    return counted


def test_a_declared_check_runs_at_the_boundary_and_not_inside():
    seen = []

    @validate_params(width=_counting(check_kernel_width, seen))
    def inner(width):
        return width

    @validate_params(width=_counting(check_kernel_width, seen))
    def outer(width):
        return inner(width) + inner(width)

    assert outer(0.5) == 1.0 and seen == ["width"]  # the two nested calls skip it
    assert inner(2) == 2.0 and isinstance(inner(2), float) and seen == ["width", "width", "width"]
    with pytest.raises(ValueError, match="width must be > 0.0"):
        outer(0.0)
    assert validation._VALIDATED.get() is False  # an error leaves the boundary as it was


def test_together_checks_several_arguments_and_unknown_names_are_refused():
    def same_length(arguments):
        if len(arguments["a"]) != len(arguments["b"]):
            raise ValueError("a and b must have the same length")
        return {"a": list(arguments["a"])}

    @validate_params(same_length)
    def pair(a, b=(1, 2)):
        return a

    assert pair((3, 4)) == [3, 4]
    with pytest.raises(ValueError, match="same length"):
        pair((1,))
    with pytest.raises(TypeError, match="has no argument nope"):
        validate_params(nope=check_kernel_width)(pair)


@pytest.mark.parametrize("sampler,checked_inside", [("bernoulli", sampling.kernel_weights), ("weighted", weighted_law)])
def test_explain_checks_the_kernel_width_once(monkeypatch, sampler, checked_inside):
    """Under n_samples="auto" the samples and weights are drawn once per round (the weighted design
    draws from weighted_law, the Bernoulli design weighs with kernel_weights); the kernel width is
    checked once per call of explain, and still checked by a direct call of the inner function."""
    seen = []
    for name, func in (("explain", lt.explain), ("inside", checked_inside)):
        monkeypatch.setitem(func.parameter_checks, "kernel_width",
                            _counting(func.parameter_checks["kernel_width"], seen, name))
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(12, 12))
    weights = rng.normal(size=144)
    ex = lt.explain(image, lambda x: np.tanh(np.asarray(x).reshape(len(x), -1) @ weights),
                    segments=grid(image.shape, 3, 3), n_samples=StoppingRule(top_k=2, max_samples=3000), seed=0,
                    sampler=sampler, progress=False)
    assert ex.n_rounds > 1 and seen == ["explain"]
    if checked_inside is weighted_law:
        weighted_law(9, 0.25)
    else:
        sampling.kernel_weights(np.ones((2, 9)), 0.25)
    assert seen == ["explain", "inside"]
    with pytest.raises(ValueError, match="kernel_width must be > 0"):
        lt.explain(image, lambda x: np.ones(len(x)), segments=grid(image.shape, 3, 3), kernel_width=-1.0)
    with pytest.raises(ValueError, match="kernel_width must be > 0"):
        checked_inside(np.ones((2, 9)), 0.0) if checked_inside is sampling.kernel_weights else weighted_law(9, 0.0)


def test_weighted_law_checks_its_kernel_with_its_width():
    q, _ = weighted_law(4, None, kernel="shap")  # the Shapley kernel has no width
    np.testing.assert_allclose(q, np.array([0, 4, 3, 4, 0]) / 11, atol=1e-15)  # 1 / (k (4 - k)), normalised
    with pytest.raises(TypeError, match='kernel_width is required for kernel="lime"'):
        weighted_law(4, None)
    with pytest.raises(ValueError, match="kernel must be one of"):
        weighted_law(4, 0.25, kernel="gauss")
    with pytest.raises(ValueError, match="d must be >= 2"):
        weighted_law(1, None, kernel="shap")
    with pytest.raises(ValueError, match="kernel_width must be > 0"):
        weighted_law(4, -1.0, kernel="shap")  # unused by the Shapley kernel, but never a wrong value


def test_compare_limit_checks_segments_once_and_uses_the_model_path():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(6, 6))
    segments = grid(image.shape, 2, 2) * 3 + 5  # labels 5, 8, 11, 14: relabelled once, to 0..3
    w = rng.normal(size=(6, 6))

    def f(x):
        return (x * w).sum()

    c = compare_limit(image, f, segments, settings=CompareSettings(n_steps=8, ks=(2,)))
    assert c.lime_coef.shape == (4,) and c.ig_sums.shape == (4,)
    # f is linear: its limit is the IG sums (the limit of a linear f is exact, docs/theory/lime_and_ig.md)
    np.testing.assert_allclose(c.lime_coef, c.ig_sums, rtol=1e-6, atol=1e-9)
    with pytest.raises(TypeError, match="settings must be a CompareSettings"):
        compare_limit(image, f, segments, settings={"n_steps": 8})
    with pytest.raises(ValueError, match="segments must have the image's height and width"):
        compare_limit(image, f, segments[:3])
    with pytest.raises(ValueError, match="kernel_width must be > 0"):
        CompareSettings(kernel_width=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_limit(image, f, segments, settings=CompareSettings(n_steps=8, ks=(2,)))
