"""Bad-input corpus of the public functions of empirical, compat, metrics, analytic, segmentation and data.

Each case: a call, the exception type (a wrong type is a TypeError, a wrong value a ValueError, bools
are never numbers) and a ``match=`` naming the argument. Bad inputs are refused before the model runs.
"""
from __future__ import annotations

import numpy as np
import pytest

import limetheory as lt
from limetheory import data, metrics
from limetheory.additivity import nonadditive_share
from limetheory.analytic import LinearModel, response_of_z
from limetheory.compare import CompareSettings
from limetheory.compat import lime_explain
from limetheory.empirical import check_fit_size, check_identifiable
from limetheory.experiments import reproduce
from limetheory.gradients import integrated_gradients
from limetheory.sampling import kernel_weights
from limetheory.segmentation import grid, replacement_image, segment
from limetheory.surrogate import fit_weighted_ridge

IMG = np.random.default_rng(0).uniform(0, 1, (8, 8, 3))
SEG = grid((8, 8), 2, 2)
MODEL = LinearModel(np.random.default_rng(1).normal(size=(8, 8, 3)))


def two_classes(x):
    s = MODEL(x)
    return np.stack([s, -s], axis=1)


class CountingModel:
    """A model that records whether it was called (bad inputs must be refused before)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return two_classes(x)


def explain(**kw):
    args = {"segments": SEG, "n_samples": 50, "seed": 0, "progress": False, **kw}
    return lt.explain(args.pop("image", IMG), args.pop("predict", CountingModel()), **args)


def compat(**kw):
    args = {"segments": SEG, "n_samples": 50, "top_labels": None, "labels": (0,), **kw}
    return lime_explain(args.pop("image", IMG), args.pop("predict", CountingModel()), **args)


def complex_model(x):
    return two_classes(x).astype(complex)


EX = explain(keep_samples=False)
SCORES = np.arange(4.0)
Z40 = np.random.default_rng(3).integers(0, 2, (40, 3))
Y40 = Z40 @ np.array([1.0, -2.0, 0.5]) + 0.1 * np.random.default_rng(4).normal(size=40)


def share(**kw):
    args = {"z": Z40, "y": Y40, "weights": np.ones(40), **kw}
    return nonadditive_share(args.pop("z"), args.pop("y"), args.pop("weights"), **args)


def run_reproduce(**kw):
    """reproduce() with one bad argument: refused before any folder is made or any unit runs."""
    args = {"names": ["linear_model"], "out": "/nonexistent/never-created", "quick": True, "progress": False,
            "figures": False, **kw}
    return reproduce(args.pop("names"), args.pop("out"), **args)

CASES = [
    # ---- explain
    (lambda: explain(kernel_width=True), TypeError, "kernel_width"),
    (lambda: explain(kernel_width=0.0), ValueError, "kernel_width"),
    (lambda: explain(ridge=True), TypeError, "ridge"),
    (lambda: explain(ridge=-1.0), ValueError, "ridge"),
    (lambda: explain(seed=True), TypeError, "seed"),
    (lambda: explain(seed=-1), ValueError, "seed"),
    (lambda: explain(seed=2**70), ValueError, "seed"),
    (lambda: explain(seed=np.random.RandomState(0)), TypeError, "seed"),
    (lambda: explain(n_samples=True), TypeError, "n_samples"),
    (lambda: explain(n_samples=10.0), TypeError, "n_samples"),
    (lambda: explain(n_samples=1), ValueError, "n_samples"),
    (lambda: explain(n_samples=10**10), ValueError, "n_samples=10000000000"),
    (lambda: explain(n_samples=3 * 10**7, segments=grid((8, 8), 8, 8)), ValueError, "GiB"),
    (lambda: explain(batch_size=0), ValueError, "batch_size"),
    (lambda: explain(batch_size=-1), ValueError, "batch_size"),
    (lambda: explain(batch_size=2.0), TypeError, "batch_size"),
    (lambda: explain(sampler="uniform"), ValueError, "sampler"),
    (lambda: explain(keep_samples=1), TypeError, "keep_samples"),
    (lambda: explain(refuse_unidentified=None), TypeError, "refuse_unidentified"),
    (lambda: explain(labels=[1.7]), TypeError, "labels"),
    (lambda: explain(labels=[True]), TypeError, "labels"),
    (lambda: explain(labels=[-1]), ValueError, "labels"),
    (lambda: explain(labels=[5]), ValueError, "labels"),
    (lambda: explain(top_labels=-1), ValueError, "top_labels"),
    (lambda: explain(top_labels=True), TypeError, "top_labels"),
    (lambda: explain(predict=complex_model), TypeError, "real"),
    (lambda: explain(predict="model"), TypeError, "predict"),
    (lambda: explain(image=IMG.astype(complex)), TypeError, "image"),
    (lambda: explain(image=(IMG * 100).astype(np.int8)), TypeError, "image"),
    (lambda: explain(kernel_width=1e-3), ValueError, 'sampler="weighted"'),
    (lambda: explain(kernel_width=1e-3, ridge=0), ValueError, "not identified"),
    (lambda: explain(kernel_width=1e-3, ridge=0, sampler="weighted"), ValueError, "not identified"),
    (lambda: explain(dtype=np.int8), ValueError, "dtype int8"),
    (lambda: explain(dtype=np.uint8, image=IMG * 300), ValueError, "dtype uint8"),
    (lambda: explain(dtype=np.float16, image=IMG * 1e6), ValueError, "dtype float16"),
    (lambda: explain(dtype="foo"), TypeError, "dtype"),
    (lambda: explain(dtype=np.complex128), TypeError, "dtype"),
    (lambda: explain(hide_color="red"), TypeError, "hide_color"),
    (lambda: explain(hide_color=[0.1, 0.2]), ValueError, "hide_color"),
    (lambda: explain(image=(IMG * 100).astype("m8[s]")), TypeError, "image"),
    (lambda: explain(image=(IMG * 100).astype("M8[s]")), TypeError, "image"),
    # ---- Explanation methods
    (lambda: EX.top(k=-1), ValueError, "k"),
    (lambda: EX.top(k=True), TypeError, "k"),
    (lambda: EX.top(sign="both"), ValueError, "sign"),
    (lambda: EX.conf_int(level=1.0), ValueError, "level"),
    (lambda: EX.conf_int(level=True), TypeError, "level"),
    (lambda: EX.n_samples_for(True), TypeError, "target_se"),
    (lambda: EX.n_samples_for(-1.0), ValueError, "target_se"),
    # ---- compat
    (lambda: compat(labels=[1.7]), TypeError, "labels"),
    (lambda: compat(top_labels=-1, labels=None), ValueError, "top_labels"),
    (lambda: compat(top_labels=True, labels=None), TypeError, "top_labels"),
    (lambda: compat(labels=(2,), top_labels=None), ValueError, "labels"),
    (lambda: compat(kernel_width=True), TypeError, "kernel_width"),
    (lambda: compat(random_state=True), TypeError, "random_state"),
    (lambda: compat(random_state=-1), ValueError, "random_state"),
    (lambda: compat(random_state=2**40), ValueError, "random_state"),
    (lambda: compat(batch_size=0), ValueError, "batch_size"),
    (lambda: compat(n_samples=10**10), ValueError, "n_samples"),
    (lambda: compat(predict=complex_model), TypeError, "real"),
    # ---- metrics
    (lambda: metrics.jaccard(None, None), TypeError, "a_set"),
    (lambda: metrics.top_k(SCORES, True), TypeError, "k"),
    (lambda: metrics.top_k(SCORES, 0), ValueError, "k"),
    (lambda: metrics.rank_correlation(SCORES, SCORES, method="pearson"), ValueError, "method"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=99), ValueError, "target"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=-1), ValueError, "target"),
    (lambda: metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=True), TypeError, "target"),
    (lambda: metrics.insertion_curve(IMG, complex_model, SEG, SCORES, target=0), TypeError, "real"),
    (lambda: metrics.insertion_curve(IMG, lambda x: np.full(len(x), np.nan), SEG, SCORES), ValueError, "non-finite"),
    (lambda: metrics.insertion_curve(IMG, lambda x: np.ones(len(x) - 1), SEG, SCORES), ValueError, "shape"),
    (lambda: metrics.faithfulness_correlation(IMG, "model", SEG, SCORES), TypeError, "predict"),
    # ---- analytic
    (lambda: response_of_z(MODEL, IMG, SEG, batch_size=0), ValueError, "batch_size"),
    (lambda: response_of_z(MODEL, IMG, SEG, batch_size=True), TypeError, "batch_size"),
    (lambda: response_of_z(MODEL, IMG, SEG)(np.ones((0, 4))), ValueError, "z must be"),
    (lambda: response_of_z(complex_model, IMG, SEG)(np.ones((2, 4))), TypeError, "real"),
    (lambda: response_of_z(MODEL, IMG, SEG)(np.full((2, 4), 2)), ValueError, "z must hold only 0 and 1"),
    (lambda: response_of_z(MODEL, IMG, SEG)(np.full((2, 4), 0.5)), ValueError, "z must hold only 0 and 1"),
    (lambda: response_of_z(MODEL, IMG, SEG)(np.full((2, 4), "1")), TypeError, "z"),
    (lambda: MODEL(np.where(IMG > 0.5, np.nan, IMG)[None]), ValueError, "images hold .* NaN"),
    (lambda: MODEL(np.full((1, 8, 8, 3), np.inf)), ValueError, "images hold .* NaN or infinite"),
    (lambda: MODEL(IMG[None] + 1j), TypeError, "images"),
    (lambda: MODEL((IMG[None] * 100).astype("m8[s]")), TypeError, "images"),
    # ---- additivity
    (lambda: share(weights=np.full(40, np.nan)), ValueError, "weights"),
    (lambda: share(weights=-np.ones(40)), ValueError, "weights"),
    (lambda: share(weights=np.zeros(40)), ValueError, "weights"),
    (lambda: share(weights=np.ones(39)), ValueError, "weights"),
    (lambda: share(z=Z40 * 2), ValueError, "z must hold only 0 and 1"),
    (lambda: share(z=Z40 * 0.5), ValueError, "z must hold only 0 and 1"),
    (lambda: share(y=3.0), ValueError, "y"),
    (lambda: share(y=np.full(40, np.nan)), ValueError, "y"),
    # ---- sampling, surrogate, gradients, compare
    (lambda: kernel_weights(None), TypeError, "z"),
    (lambda: kernel_weights(np.ones(3)), ValueError, "z"),
    (lambda: kernel_weights(np.full((2, 3), 2)), ValueError, "z must hold only 0 and 1"),
    (lambda: fit_weighted_ridge(np.ones((5, 2)), np.ones(5), np.ones(5), ridge="1"), TypeError, "ridge"),
    (lambda: fit_weighted_ridge(np.ones((5, 2)), np.ones(5), np.ones(5), ridge=-1.0), ValueError, "ridge"),
    (lambda: integrated_gradients(lambda x: x.sum(), np.ones(3), np.zeros(3), dtype=["float64"]), ValueError, "dtype"),
    (lambda: CompareSettings(ks=None), TypeError, "ks"),
    (lambda: CompareSettings(ks=3), TypeError, "ks"),
    (lambda: CompareSettings(ks=(3, 0)), ValueError, r"ks\[1\]"),
    # ---- reproduce: the checks of the command line, in the function
    (lambda: run_reproduce(workers=0), ValueError, "workers"),
    (lambda: run_reproduce(workers=-1), ValueError, "workers"),
    (lambda: run_reproduce(workers=10**6), ValueError, "workers"),
    (lambda: run_reproduce(workers=True), TypeError, "workers"),
    (lambda: run_reproduce(workers=2.0), TypeError, "workers"),
    (lambda: run_reproduce(workers=2, scheduler="tcp://127.0.0.1:8786"), ValueError, "workers or scheduler"),
    (lambda: run_reproduce(quick="no"), TypeError, "quick"),
    (lambda: run_reproduce(progress=1), TypeError, "progress"),
    (lambda: run_reproduce(figures=None), TypeError, "figures"),
    (lambda: run_reproduce(on_error="ignore"), ValueError, "on_error"),
    (lambda: run_reproduce(names="linear_model"), TypeError, "names"),
    (lambda: run_reproduce(names=[1]), TypeError, "names"),
    (lambda: run_reproduce(names=["nope"]), ValueError, "nope"),
    (lambda: run_reproduce(scheduler=8786), TypeError, "scheduler"),
    (lambda: run_reproduce(scheduler="nonsense"), ValueError, "scheduler"),
    (lambda: run_reproduce(scheduler="tcp://127.0.0.1:99999"), ValueError, "scheduler"),
    (lambda: run_reproduce(scheduler="udp://127.0.0.1:8786"), ValueError, "scheduler"),
    (lambda: run_reproduce(scheduler="tcp://127.0.0.1:1"), ValueError, "scheduler .* cannot be reached"),
    # ---- segmentation
    (lambda: grid((8, 8), True), TypeError, "n_rows"),
    (lambda: grid((8, 8), 9), ValueError, "n_rows"),
    (lambda: grid((8, 8), 2, 0), ValueError, "n_cols"),
    (lambda: segment(IMG, "watershed"), ValueError, "method"),
    (lambda: segment(IMG, ["grid"]), ValueError, "method"),
    (lambda: replacement_image(IMG, SEG, hide_color="red"), TypeError, "hide_color"),
    (lambda: replacement_image(IMG.astype("m8[s]"), SEG), TypeError, "image"),
    # ---- data
    (lambda: data.load_photo("nope"), ValueError, "name"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size=10**6), ValueError, "size"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size=True), TypeError, "size"),
    (lambda: data.load_photo(sorted(data.PHOTOS)[0], size="big"), TypeError, "size"),
    (lambda: data.make_shapes(True), TypeError, "n"),
    (lambda: data.make_shapes(2, size=True), TypeError, "size"),
    (lambda: data.make_shapes(2, seed=2**70), ValueError, "seed"),
    (lambda: data.make_shapes(2, noise=True), TypeError, "noise"),
    (lambda: data.load_digits_rgb(test_size=True), TypeError, "test_size"),
    (lambda: data.make_shapes(10**9), ValueError, "make_shapes.n=1000000000"),
    (lambda: data.make_shapes(2, size=10**6), ValueError, "size=1000000"),
]


@pytest.mark.parametrize("call, exc, match", CASES)
def test_bad_input_is_refused_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_explain_refuses_before_calling_the_model():
    """Sizes and unidentifiable weights are refused before the first model call."""
    for kw in ({"n_samples": 10**9}, {"kernel_width": 1e-3}, {"batch_size": 0}, {"seed": -1}):
        model = CountingModel()
        with pytest.raises(ValueError):
            explain(predict=model, **kw)
        assert model.calls == 0, kw


def test_bad_pixels_and_settings_are_refused_before_calling_the_model():
    for kw in ({"dtype": np.int8}, {"dtype": "foo"}, {"hide_color": "red"}, {"kernel_width": 1e-3, "ridge": 0},
               {"kernel_width": 1e-3, "ridge": 0, "sampler": "weighted"}):
        model = CountingModel()
        with pytest.raises((TypeError, ValueError)):
            explain(predict=model, **kw)
        assert model.calls == 0, kw


def test_compat_checks_labels_after_the_unperturbed_image_only():
    model = CountingModel()
    with pytest.raises(ValueError, match="labels"):
        compat(predict=model, labels=(5,))
    assert model.calls == 1  # z_0 = 1 alone, not the n perturbed images


def test_identifiability_counts_copies_of_one_sample_once():
    """Ten copies of z = 1 with weight 1 and 40 samples of weight ~0 are one sample, not ten."""
    z = np.vstack([np.ones((10, 4), dtype=np.uint8), np.random.default_rng(0).integers(0, 2, (40, 4))])
    z[10:, 0] = 0  # never z = 1 again
    weights = np.r_[np.ones(10), np.full(40, 1e-300)]
    for ridge in (0.0, 1.0):
        with pytest.raises(ValueError, match="distinct samples .* = 1 < 2"):
            check_identifiable(z, weights, ridge)
    weights[10:] = 1.0  # the same rows with real weight identify the fit
    check_identifiable(z, weights, 0.0)


def test_ridge_zero_refuses_a_singular_weighted_design():
    """Two distinct patterns with weight: n_eff = 2, but 5 coefficients from 2 points are not identified."""
    z = np.array([[1, 1, 1, 1]] * 5 + [[0, 1, 1, 1]] * 5 + [[1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]],
                 dtype=np.uint8)
    weights = np.r_[np.ones(10), 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="ridge=0 .* singular"):
        check_identifiable(z, weights, 0.0)
    check_identifiable(z, np.ones(13), 0.0)  # with every row weighted: 5 affinely independent patterns


def test_identifiability_advice_fits_the_sampler():
    z = np.vstack([np.ones((5, 4), dtype=np.uint8), np.eye(4, dtype=np.uint8)[[0, 1, 2, 3] * 5]])
    weights = np.ones(25)  # 5 distinct patterns of equal total weight: n_eff = 5, but lambda = 1000 dominates
    with pytest.raises(ValueError, match="dominates") as bernoulli:
        check_identifiable(z, weights, 1000.0, "bernoulli")
    assert 'sampler="weighted"' in str(bernoulli.value)
    with pytest.raises(ValueError, match="dominates") as weighted:
        check_identifiable(z, weights, 1000.0, "weighted")
    assert "sampler" not in str(weighted.value) and "kernel_width" in str(weighted.value)


def test_unidentified_fit_asked_for_anyway_is_warned_about_honestly():
    with pytest.warns(UserWarning, match="not identified") as record:
        ex = explain(kernel_width=1e-3, ridge=0, sampler="weighted", refuse_unidentified=False)
    assert np.all(np.isinf(ex.coef_se))
    messages = " ".join(str(w.message) for w in record)
    assert "does not change what the model responds to" not in messages  # false here: nothing was hidden
    assert "same z" in messages


def test_scheduler_that_never_answers_is_refused_after_the_connect_timeout(monkeypatch):
    """A port that accepts TCP connections but never speaks Dask's protocol (a silent proxy)."""
    import socket

    from limetheory.experiments import executors as _executors

    monkeypatch.setattr(_executors, "CONNECT_TIMEOUT_S", 0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(ValueError, match="scheduler .* cannot be reached within 0.5 s"):
            run_reproduce(scheduler=address)


def test_replacement_image_of_huge_values_is_their_exact_mean():
    """Sums of values near float64's maximum overflow; the mean itself is representable."""
    from fractions import Fraction

    rng = np.random.default_rng(5)
    img = rng.uniform(0.5, 1.7, (8, 8, 3)) * 1e308
    img[0, 0, 0] = -1.7e308
    rep = replacement_image(img, SEG)
    assert np.all(np.isfinite(rep))
    for j in range(4):
        for c in range(3):
            values = img[:, :, c][SEG == j]
            exact = float(sum(map(Fraction, values.tolist())) / len(values))
            assert rep[:, :, c][SEG == j][0] == pytest.approx(exact, rel=1e-14)


def test_read_image_refuses_nan_pixels_instead_of_reading_them_black(tmp_path):
    from PIL import Image

    pixels = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    pixels[2, 3] = np.nan
    path = tmp_path / "nan.tiff"
    Image.fromarray(pixels, mode="F").save(path)
    with pytest.raises(ValueError, match="3 NaN or infinite pixel"):
        data.read_image(path)
    pixels[2, 3] = 0.5
    Image.fromarray(pixels, mode="F").save(path)
    assert data.read_image(path).shape == (8, 8, 3)


def test_memory_check_respects_the_address_space_limit(tmp_path):
    """Under ``ulimit -v`` (RLIMIT_AS) a fit that cannot fit is refused before the model runs, though the
    machine has memory to spare."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import resource
        import numpy as np
        import psutil
        import limetheory as lt
        from limetheory.segmentation import grid

        calls = []
        def model(x):
            calls.append(len(x))
            return x.mean(axis=(1, 2, 3))

        img = np.random.default_rng(0).uniform(size=(32, 32, 3))
        seg = grid((32, 32), 16, 16)  # d = 256: the fit of n = 200000 needs ~0.8 GiB
        assert psutil.virtual_memory().available > 2**30
        room = psutil.Process().memory_info().vms + 300 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (room, resource.RLIM_INFINITY))
        try:
            lt.explain(img, model, segments=seg, n_samples=200000, seed=0, progress=False)
        except ValueError as exc:
            assert "GiB" in str(exc) and "n_samples=200000" in str(exc), exc
            print("refused", len(calls))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "refused 0", out.stdout + out.stderr[-2000:]


def test_memory_estimate_names_need_and_availability():
    with pytest.raises(ValueError, match=r"d=50176 superpixels needs about .* GiB .* of the 1 GiB available"):
        check_fit_size(1000, 224 * 224, available=2**30)
    check_fit_size(1000, 50, available=2**30)  # 1000 x 50: well under 1 GiB


def test_tiny_kernel_is_refused_not_answered_with_false_confidence():
    """With nu = 1e-3 lime's Bernoulli weights put all the weight on z = 1 (coefficients ~1e-31 with
    standard errors ~1e-32 before the check, the ridge's answer); the same samples at nu = 0.25 fit."""
    with pytest.raises(ValueError, match="not identified|dominates"):
        explain(kernel_width=1e-3)
    ex = explain(kernel_width=0.25)
    assert np.all(np.isfinite(ex.coef_se)) and np.all(ex.coef_se > 1e-6)
    lime_like = explain(kernel_width=1e-3, refuse_unidentified=False)  # fitted anyway, as lime does
    assert np.max(np.abs(lime_like.coef)) < 1e-20  # the ridge's answer, not the model's


# ---------------------------------------------------------------- valid edge cases still work
def test_valid_edge_cases_give_valid_results():
    assert explain(seed=2**64 - 1).coef.shape == (1, 4)
    assert explain(seed=[3, 0]).coef.shape == (1, 4)
    assert explain(n_samples=2, ridge=1.0).coef.shape == (1, 4)
    assert sorted(explain(top_labels=2).labels.tolist()) == [0, 1]
    assert explain(batch_size=1).coef.shape == (1, 4)
    assert explain(image=(IMG * 255).astype(np.uint8)).coef.shape == (1, 4)
    assert explain(image=(IMG * 255).astype(np.int16)).coef.shape == (1, 4)
    assert EX.top(k=0).size == 0
    assert metrics.jaccard([], []) != metrics.jaccard([], [])  # NaN: undefined for two empty sets
    assert compat(random_state=np.random.RandomState(0)).coef.shape == (1, 4)
    assert sorted(compat(top_labels=3, labels=None).labels.tolist()) == [0, 1]  # lime: every class there is
    assert data.load_photo(sorted(data.PHOTOS)[0], size=(8, 6)).shape == (8, 6, 3)
    curve = metrics.deletion_curve(IMG, two_classes, SEG, SCORES, target=1)
    assert curve.values.shape == (5,) and np.isfinite(curve.auc)


def test_explain_without_segments_uses_lime_quickshift():
    img = data.load_photo(sorted(data.PHOTOS)[0], size=32)
    model = LinearModel(np.random.default_rng(2).normal(size=(32, 32, 3)))
    ex = lt.explain(img, model, n_samples=50, seed=0, progress=False)
    expected = segment(img, "quickshift")
    np.testing.assert_array_equal(ex.segments, expected)


def test_explanation_repr_is_short():
    text = repr(EX)
    assert "\n" not in text and len(text) < 300
    assert "d=4" in text and "n_samples=50" in text
