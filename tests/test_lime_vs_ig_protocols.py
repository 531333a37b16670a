"""Experiment 4's protocols (limetheory.experiments.protocols) and the claim behind them (docs/theory/lime_and_ig.md).

- the paper's metric (top-k positive coefficients, two empty sets = 1) against a direct
  construction of the sets it describes, for every number of positive coefficients;
- the paper's rule (20 steps, 21 points, mean of the pairwise averages) is ``riemann_trapezoid``
  with ``n_steps = 21``;
- LIME on the [0, 255] image equals LIME on the preprocessed image: the networks' preprocessing
  commutes with the mean-colour replacement;
- the claim: LIME's limit equals the IG sums where the response to switching superpixels off is
  additive (non-additive share R = 0), and departs from them exactly in proportion to the root of
  the variance that the best affine function of z leaves unexplained (sqrt(R Var g)) elsewhere;
- ``--protocol`` reaches the experiment's settings.
"""
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from limetheory import analytic, theory
from limetheory.additivity import nonadditive_share_exact
from limetheory.cli import main
from limetheory.experiments import lime_vs_ig as exp4
from limetheory.experiments.protocols import (PROTOCOLS, paper_segmentation, protocols_for, segment_kinds,
                                               topk_agreement)
from limetheory.experiments.runner import run_experiment
from limetheory.gradients import integrated_gradients, quadrature, superpixel_sums
from limetheory.perturb import perturb_batch
from limetheory.sampling import kernel_weights
from limetheory.segmentation import grid, replacement_image

pytestmark = pytest.mark.usefixtures("jax_float64")  # float64 in this module only


# --------------------------------------------------------------------------- the paper's metric
def _paper_top(scores, k):
    """The k largest positive scores' indices as a set: all positives if fewer than k (the paper's rule)."""
    positive = [(s, j) for j, s in enumerate(scores) if s > 0]
    return {j for _, j in sorted(positive, reverse=True)[:k]}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), d=st.integers(2, 14))
def test_positive_topk_jaccard_is_the_papers_rule(data, d):
    # distinct values (no ties) with any number of positives, including none on either side
    values = st.lists(st.integers(-50, 50), min_size=d, max_size=d, unique=True)
    a = np.array(data.draw(values), dtype=float)
    b = np.array(data.draw(values), dtype=float)
    for k in (1, 3, 5, 10):
        ta, tb = _paper_top(a, k), _paper_top(b, k)
        expected = 1.0 if not (ta | tb) else len(ta & tb) / len(ta | tb)
        assert topk_agreement(a, b, [k], "positive")[f"jaccard_top{k}"] == expected


def test_signed_topk_ignores_the_sign_and_is_undefined_for_k_at_least_d():
    a = np.array([-1.0, -2.0, -3.0, -4.0])
    b = np.array([-4.0, -3.0, -2.0, -1.0])
    out = topk_agreement(a, b, [2, 4], "signed")
    assert out["jaccard_top2"] == 0.0 and np.isnan(out["jaccard_top4"])
    assert topk_agreement(a, b, [2, 4], "positive") == {"jaccard_top2": 1.0, "jaccard_top4": 1.0,
                                                         "spearman": pytest.approx(-1.0)}


def test_papers_trapezoid_is_21_points():
    """compute_approx.py: 21 points alpha = k / 20, the mean over 20 steps of the two ends' average."""
    alpha, w = quadrature(21, "riemann_trapezoid")
    np.testing.assert_allclose(alpha, np.arange(21) / 20, rtol=0, atol=1e-15)
    g = np.random.default_rng(0).normal(size=21)
    assert w @ g == pytest.approx(np.mean((g[:-1] + g[1:]) / 2), rel=1e-13)


# --------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("which", ["efficientnet", "small_cnn", "vgg"])
def test_lime_on_raw_image_equals_lime_on_preprocessed_image(which):
    """preprocess(x(z)) = x'(z), x' built from the preprocessed image: the same function of z."""
    if which == "efficientnet":
        from limetheory.nets.efficientnet import preprocess

        pre = preprocess
    elif which == "small_cnn":
        from limetheory.nets.small_cnn import preprocess as pre
    else:
        from limetheory.nets.vgg import preprocess as pre
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(12, 10, 3)).astype(np.float64)
    segments = grid(image.shape, 3, 2)
    z = rng.integers(0, 2, size=(20, 6))
    raw = perturb_batch(image, replacement_image(image, segments), segments, z)
    pre_image = pre(image[None])[0]
    on_pre = perturb_batch(pre_image, replacement_image(pre_image, segments), segments, z)
    np.testing.assert_allclose(pre(raw), on_pre, rtol=0, atol=1e-12)


def test_paper_segmentation_parameters():
    assert paper_segmentation(224) == {"method": "quickshift", "kernel_size": 4, "max_dist": 200, "ratio": 0.2}
    assert paper_segmentation(32)["kernel_size"] == 1


def test_segment_unit_needs_a_documented_preprocessing():
    snet = types.SimpleNamespace(preprocess=None, name="user-net")
    with pytest.raises(ValueError, match="does not document its preprocessing"):
        exp4.segment_unit(np.zeros((8, 8, 3), np.uint8), snet, "preprocessed", paper_segmentation(8))


# --------------------------------------------------------------------------- the claim
SIDE, BLOCKS, NU = 6, 3, 0.25  # 6 x 6 grey image, 3 x 3 grid: d = 9


def _model(seed, interaction):
    """f(x) = sum_j a_j tanh(<u_j, x> + c_j) + interaction * <u_0, x> <u_1, x>, u_j zero outside superpixel j."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 1.0, size=(SIDE, SIDE))
    segments = grid(image.shape, BLOCKS, BLOCKS)
    d = BLOCKS * BLOCKS
    u = rng.normal(scale=2.0, size=(d, SIDE, SIDE)) * (segments[None] == np.arange(d)[:, None, None])
    a, c = rng.normal(size=d), rng.normal(size=d)

    def f(x):
        xp = jnp if isinstance(x, jax.Array) else np
        s = xp.tensordot(x, u, axes=([-2, -1], [1, 2]))
        return (a * xp.tanh(s + c)).sum(axis=-1) + interaction * s[..., 0] * s[..., 1]

    return image, segments, f


def _limit_ig_share(seed, interaction):
    image, segments, f = _model(seed, interaction)
    d = BLOCKS * BLOCKS
    f_of_z = analytic.response_of_z(f, image, segments)
    beta = theory.exact_limit(f_of_z, d, NU)[1:]
    ig = integrated_gradients(f, image, replacement_image(image, segments), n_steps=64, method="gausslegendre")
    share = float(nonadditive_share_exact(f_of_z, d, NU)[0])
    z = ((np.arange(1 << d)[:, None] >> np.arange(d)) & 1).astype(float)
    g, w = f_of_z(z), kernel_weights(z, NU)
    var = float(w @ (g - (w @ g) / w.sum()) ** 2 / w.sum())
    return beta, superpixel_sums(ig.attributions, segments), share, var


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lime_equals_ig_sums_where_additive_and_departs_with_the_nonadditive_share(seed):
    """beta and IG are linear in f, so with f = f_0 + lam f_1 (f_0 additive: beta_0 = IG_0)
    beta - IG = lam (beta_1 - IG_1), while the residual of the affine fit is lam r_1:
    ||beta - IG|| / sqrt(R Var_pi g) = ||beta_1 - IG_1|| / sqrt(E_pi r_1^2), the same for every lam != 0.

    Tolerances: 64-point Gauss-Legendre on this analytic integrand is exact to rounding (the
    additive case is checked to 1e-10 relative, as the property test of test_additivity.py); the
    ratio is then constant to rounding in the solves (1e-8 relative)."""
    beta0, ig0, share0, _ = _limit_ig_share(seed, 0.0)
    assert share0 < 1e-24
    np.testing.assert_allclose(beta0, ig0, rtol=0, atol=1e-10 * np.abs(ig0).max())
    ratios = []
    for lam in (1e-3, 0.1, 1.0, 10.0):
        beta, ig, share, var = _limit_ig_share(seed, lam)
        assert share > 1e-10
        ratios.append(np.linalg.norm(beta - ig) / np.sqrt(share * var))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-8)


# --------------------------------------------------------------------------- selection
def test_protocol_selection():
    assert protocols_for("paper") == ("paper",) and protocols_for("corrected") == ("corrected",)
    assert protocols_for("both") == tuple(PROTOCOLS)
    assert segment_kinds(["corrected", "paper"]) == ["preprocessed", "raw"]
    assert segment_kinds(["paper_signed_topk"]) == ["preprocessed"]
    with pytest.raises(ValueError, match="protocol must be one of"):
        protocols_for("table2")


def test_reproduce_protocol_reaches_the_settings(monkeypatch, tmp_path):
    seen = []
    mod = types.ModuleType("fake_protocol_experiment")
    mod.NAME, mod.TITLE, mod.VERSION = "fakeproto", "fake", 1

    def fake_settings(quick, protocol="both"):
        seen.append(protocol)
        return {"protocol": protocol}

    mod.settings = fake_settings
    mod.units = lambda s: [{"i": 0}]
    mod.setup = lambda s: s
    mod.run_unit = lambda unit, ctx: pd.DataFrame({"protocol": [ctx["protocol"]]})
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    registry = {"fakeproto": (mod.__name__, ())}
    run_experiment("fakeproto", tmp_path, quick=True, progress=False, registry=registry,
                   options={"protocol": "paper"})
    assert seen == ["paper"]
    assert pd.read_csv(tmp_path / "results" / "fakeproto.csv")["protocol"].tolist() == ["paper"]

    calls = []
    import limetheory.experiments as experiments

    monkeypatch.setattr(experiments, "reproduce", lambda *a, **kw: calls.append(kw["options"]) or [])
    assert main(["reproduce", "--quick", "--only", "lime_vs_ig", "--protocol", "paper", "--out",
                 str(tmp_path / "o"), "--no-progress"]) == 0
    assert main(["reproduce", "--quick", "--only", "lime_vs_ig", "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert calls == [{"lime_vs_ig": {"protocol": "paper"}}, {"lime_vs_ig": {"protocol": "both"}}]
    with pytest.raises(SystemExit):
        main(["reproduce", "--protocol", "table2"])


def test_reproduce_nets_and_max_images_reach_the_settings(monkeypatch, tmp_path, capsys):
    calls = []
    import limetheory.experiments as experiments

    monkeypatch.setattr(experiments, "reproduce", lambda *a, **kw: calls.append(kw["options"]) or [])
    out = str(tmp_path / "o")
    assert main(["reproduce", "--only", "lime_vs_ig", "--nets", "digits-vgg1", "efficientnet-lite1",
                 "--max-images", "20", "efficientnet-lite1=4", "--out", out, "--no-progress"]) == 0
    chosen = {"nets": ["digits-vgg1", "efficientnet-lite1"], "max_images": {"*": 20, "efficientnet-lite1": 4}}
    sanity = {"nets": ["digits-vgg1"], "max_images": {"*": 20}}  # its networks only (no ImageNet one)
    assert calls == [{"lime_vs_ig": {"protocol": "both", **chosen}, "lime_ig_decomposition": chosen,  # and its companion
                      "sanity_randomisation": sanity}]
    for args, message in ((["--nets", "resnet50"], "argument --nets: invalid choice"),
                          (["--max-images", "0"], "argument --max-images: must be >= 1"),
                          (["--max-images", "resnet50=3"], "argument --max-images: unknown network 'resnet50'"),
                          (["--max-images", "digits-cnn=y"], "expected an integer"),
                          (["--nets", "digits-cnn", "--model", "efficientnet-lite0"], "argument --nets: not with")):
        with pytest.raises(SystemExit) as exit_info:
            main(["reproduce", "--only", "lime_vs_ig", "--out", out, *args])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err, args
    assert len(calls) == 1
