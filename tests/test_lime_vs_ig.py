"""Experiments 4 (LIME vs integrated gradients, the paper's Tables 1-2) and 6 (qualitative figure), quick.

Both run once into a temporary folder, as ``limetheory reproduce --quick`` does, inside ONE test
(``test_quick_run``) that calls every check on their results: with ``pytest -n 2`` a module fixture
shared by several tests may be built once per worker, and this run is the expensive part (about a
minute on 2 cores, EfficientNet compilation included). The helpers are then tested on small exact cases.
"""
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from limetheory.experiments import reproduce
from limetheory.experiments import lime_vs_ig as exp4
from limetheory.data import PHOTOS
from limetheory.experiments._lime_vs_ig_tables import additivity_table
from limetheory.experiments.protocols import PROTOCOLS
from limetheory.experiments.runner import load_experiment, unit_path
from limetheory.nets.vgg import NAMES as TABLE1_NAMES
from limetheory.paper_figures._common import read_meta, read_results
from stats_bounds import assert_within, mean_band, quantile

NAMES = ["lime_vs_ig", "qualitative"]
QUICK_NETS = ("digits-cnn", "shapes-cnn", "digits-vgg1", "shapes32-vgg1", "efficientnet-lite0")


def test_quick_run(tmp_path):
    reports = reproduce(NAMES, tmp_path, quick=True, progress=False)
    assert [r.name for r in reports] == NAMES
    check_lime_vs_ig_rows_and_ranges(tmp_path)
    check_lime_vs_ig_noise_floor_above_chance(tmp_path)
    check_lime_vs_ig_tables_and_figure(tmp_path)
    check_qualitative_results(tmp_path)
    check_second_run_reuses_every_unit(tmp_path)


# --------------------------------------------------------------------------- experiment 4
def check_lime_vs_ig_rows_and_ranges(out):
    frame = read_results(out, "lime_vs_ig")
    s = read_meta(out, "lime_vs_ig")["settings"]
    expected = {"protocol", "model", "image", "segmentation", "output", "comparison", "d", "target", "target_name",
                "prob_target", "n_samples", "n_runs", "jaccard_top5", "jaccard_top10", "spearman", "ig_rule",
                "ig_n_steps", "ig_rel_gap", "path_curvature", "nonadditive_share", "nonadditive_share_se",
                "additivity_exact", "iou_top1", "iou_top3", "iou_oracle", "object_removed"}
    assert expected <= set(frame.columns)
    assert [m["model"] for m in s["models"]] == list(QUICK_NETS)
    assert s["protocols"] == list(PROTOCOLS) and list(dict.fromkeys(frame["protocol"])) == list(PROTOCOLS)
    # one row per (protocol, model, image, output, comparison); 4 comparisons, +3 against the mask for shapes
    assert not frame.duplicated(["protocol", "model", "image", "output", "comparison"]).any()
    n_images = {m["model"]: (len(m["images"]["names"]) if "names" in m["images"] else m["images"]["count"])
                for m in s["models"]}
    per_model = frame.groupby(["protocol", "model"]).size()
    for p, proto in PROTOCOLS.items():
        for m in s["models"]:
            outputs = [o for o in proto.outputs if o in m.get("outputs", ["prob", "logit"])]
            per_image = len(outputs) * (4 + (3 if m["images"]["kind"] == "shapes" else 0))
            assert per_model[p, m["model"]] == n_images[m["model"]] * per_image, (p, m["model"])
    # each protocol's segmentation, rule and quadrature as defined
    for p, proto in PROTOCOLS.items():
        sub = frame[frame["protocol"] == p]
        assert set(sub["segmentation"]) == {proto.segmentation} and set(sub["ig_rule"]) == {proto.ig_rule}, p
    assert set(frame.loc[frame["ig_rule"] == "trapezoid", "ig_n_steps"]) == {21}
    pair = frame[frame["comparison"].isin(exp4.PAIR_COMPARISONS)]
    signed = pair[pair["protocol"].map(lambda p: PROTOCOLS[p].topk) == "signed"]
    positive = pair[pair["protocol"].map(lambda p: PROTOCOLS[p].topk) == "positive"]
    for col in ("jaccard_top5", "jaccard_top10"):
        # the paper's positive top-k is defined for every d (two empty sets count 1); the signed one for k < d
        assert positive[col].notna().all() and positive[col].between(0, 1).all(), col
        assert signed.loc[signed["d"] > int(col[11:]), col].between(0, 1).all(), col
    assert pair["spearman"].between(-1, 1).all()
    # protocols on the same segmentation share their LIME runs: the same LIME-vs-LIME ranks (Spearman)
    same = pair[(pair["comparison"] == "lime_vs_lime") & (pair["output"] == "prob")]
    wide = same.pivot_table(index=["model", "image"], columns="protocol", values="spearman")
    np.testing.assert_array_equal(wide["paper"], wide["paper_signed_topk"])
    np.testing.assert_array_equal(wide["paper_raw_segmentation"], wide["corrected"])
    # additivity: a share of a variance, exact (se 0) when d <= 16; curvature a relative gap
    first = frame.drop_duplicates(["model", "image", "segmentation", "output"])
    ok = first["nonadditive_share"].notna()
    assert (first.loc[first["d"] <= exp4.EXACT_ADDITIVITY_D, "additivity_exact"]).all()
    assert (first.loc[first["additivity_exact"], "nonadditive_share_se"] == 0).all()
    assert first.loc[ok & first["additivity_exact"], "nonadditive_share"].between(0, 1).all()
    assert (first["path_curvature"] >= 0).all()
    mask = frame[frame["comparison"].isin(exp4.MASK_COMPARISONS)]
    assert set(mask["model"]) == {"shapes-cnn", "shapes32-vgg1"}  # the networks of the drawn shapes
    for col in ("iou_top1", "iou_top3", "iou_oracle", "object_removed"):
        assert mask[col].between(0, 1).all(), col
    assert (mask["iou_oracle"] > 0).all()
    # IG explains the same function as LIME: f(xi) is the probability of the explained class
    prob = frame[frame["output"] == "prob"]
    np.testing.assert_allclose(prob["ig_f_x"], prob["prob_target"], rtol=1e-4)


def check_lime_vs_ig_noise_floor_above_chance(out):
    """LIME agrees with itself far more than with a random ranking; the random rows match the exact chance.

    Paired over images (small CNNs, both outputs): mean(J_lime_vs_lime - J_random) and
    mean(J_lime_vs_ig - J_random) exceed a one-sided t quantile times their standard errors, and the
    random ranking's mean Jaccard (k = 5, 10) lies within a two-sided t band of E[J] = E[I / (2k - I)]:
    four checks, Bonferroni, false-failure probability 0.1% (stats_bounds).
    """
    frame = read_results(out, "lime_vs_ig")
    frame = frame[frame["protocol"] == "corrected"]  # signed top-k: the chance level is E[I / (2k - I)]
    small = frame[frame["model"].isin(["digits-cnn", "shapes-cnn"])]
    wide = small.pivot_table(index=["model", "image", "output"], columns="comparison", values="jaccard_top5")
    diff = wide["lime_vs_lime"] - wide["lime_vs_random"]
    q_one_sided = quantile(m=4, dof=len(diff) - 1, sided=1)
    assert diff.mean() > q_one_sided * diff.std(ddof=1) / np.sqrt(len(diff)), diff.describe()
    assert (wide["lime_vs_lime"] < 1).any()  # two independent groups of runs, not one reused
    # LIME agrees with the IG sums well above chance on the small CNNs too (the paper's claim)
    lig = wide["lime_vs_ig"] - wide["lime_vs_random"]
    assert lig.mean() > q_one_sided * lig.std(ddof=1) / np.sqrt(len(lig)), lig.describe()
    table = pd.read_csv(out / "results" / "lime_vs_ig_jaccard.csv")
    table = table[table["protocol"] == "corrected"]
    for k in (5, 10):
        rnd = table[table["comparison"] == "lime_vs_random"]
        rows = small[small["comparison"] == "lime_vs_random"]
        mean, tol = mean_band(rows[f"jaccard_top{k}"], m=4)
        assert_within(mean, rnd[rnd["model"] != "efficientnet-lite0"][f"chance_top{k}"].mean(), tol, f"k = {k}")


def check_lime_vs_ig_tables_and_figure(out):
    jac = pd.read_csv(out / "results" / "lime_vs_ig_jaccard.csv")
    assert {"protocol", "model", "output", "comparison", "n_images", "jaccard_top5", "jaccard_top5_se",
            "jaccard_top10", "jaccard_top10_se", "chance_top5", "chance_top10"} <= set(jac.columns)
    # 4 paper protocols: 5 models x prob; corrected: small nets prob and logit, EfficientNet (quick) prob
    assert len(jac) == (4 * 5 + 4 * 2 + 1) * 4
    assert list(dict.fromkeys(jac["protocol"])) == list(PROTOCOLS)
    iou = pd.read_csv(out / "results" / "lime_vs_ig_iou.csv")
    assert set(iou["comparison"]) == set(exp4.MASK_COMPARISONS) and "all" in set(iou["subset"])
    models = pd.read_csv(out / "results" / "lime_vs_ig_models.csv")
    assert list(models["model"]) == [m for m in QUICK_NETS for _ in range(2)]
    assert list(models["segmentation"]) == ["preprocessed", "raw"] * len(QUICK_NETS)
    # the Table 1 networks report their held-out accuracy (the images are held out, labels known)
    assert models.loc[models["model"].isin(["digits-vgg1", "shapes32-vgg1"]), "accuracy"].between(0, 1).all()
    add = pd.read_csv(out / "results" / "lime_vs_ig_additivity.csv")
    assert set(add["protocol"]) == set(PROTOCOLS) and "all" in set(add["model"])
    assert add["rho_R_jaccard"].dropna().between(-1, 1).all() and add["p_gap_high_gt_low"].dropna().between(0, 1).all()
    md = (out / "figures" / "table_lime_vs_ig.md").read_text()
    assert md.startswith("| protocol | model | output |") and "±" in md and "IoU" in md and "Mann-Whitney" in md
    claim = (out / "results" / "lime_vs_ig_claim.md").read_text()
    assert "**paper protocol, probability of the class**" in claim and "| EfficientNet-Lite | efficientnet-lite0 |" in claim
    assert not (out / "figures" / "table_lime_vs_ig.png").exists()  # the tables are markdown, not a figure
    for name in ("fig_lime_vs_ig", "fig_lime_vs_ig_additivity", "fig_qualitative"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (out / "figures" / f"{name}.pdf").read_bytes()[:4] == b"%PDF", name
    assert len(list((out / "units" / "lime_vs_ig").glob("*.csv"))) == read_meta(out, "lime_vs_ig")["n_units"]
    assert not list(out.rglob("*.tmp"))


# --------------------------------------------------------------------------- experiment 6
def check_qualitative_results(out):
    frame = read_results(out, "qualitative")
    s = read_meta(out, "qualitative")["settings"]
    assert {"photo", "superpixel", "d", "lime", "limit", "limit_half1", "limit_half2", "ig", "target_name",
            "prob_target", "ig_rel_gap"} <= set(frame.columns)
    assert sorted(frame["photo"].unique()) == sorted(s["photos"])
    for _, sub in frame.groupby("photo"):
        assert len(sub) == sub["d"].iloc[0] and (sub["superpixel"].to_numpy() == np.arange(len(sub))).all()
        # the limit is the mean of the two independent Monte-Carlo halves
        np.testing.assert_allclose(sub["limit"], (sub["limit_half1"] + sub["limit_half2"]) / 2, rtol=1e-12, atol=1e-15)
        assert not np.allclose(sub["limit_half1"], sub["limit_half2"])
    agree = pd.read_csv(out / "results" / "qualitative_agreement.csv")
    jac_cols = [c for c in agree.columns if c.startswith("jaccard")]
    assert len(jac_cols) == 4 and agree[jac_cols].stack().between(0, 1).all()


def check_second_run_reuses_every_unit(out):
    reports = reproduce(NAMES, out, quick=True, progress=False, figures=False)
    assert [(r.computed, r.reused > 0) for r in reports] == [(0, True), (0, True)]


# --------------------------------------------------------------------------- helpers, exact
@pytest.mark.parametrize("d,k", [(6, 2), (7, 3), (8, 4), (5, 1)])
def test_chance_jaccard_by_enumeration(d, k):
    subsets = list(itertools.combinations(range(d), k))
    a = set(subsets[0])  # by symmetry, one fixed set against every other
    exact = np.mean([len(a & set(b)) / len(a | set(b)) for b in subsets])
    assert exp4.chance_jaccard(d, k) == pytest.approx(exact, rel=1e-12)
    assert np.isnan(exp4.chance_jaccard(k, k))


def test_oracle_superpixels_and_object_removed():
    segments = np.zeros((6, 6), dtype=np.int64)
    segments[:, 3:] = 1
    segments[4:, :] = 2
    mask = np.zeros((6, 6), bool)
    mask[:4, :3] = True  # exactly superpixel 0
    np.testing.assert_array_equal(exp4.oracle_superpixels(segments, mask), [0])
    # an object that is a superpixel of its own keeps its colour under the mean-colour replacement
    image = np.full((6, 6, 3), 20.0)
    image[mask] = 200.0
    assert exp4.object_removed(image, segments, mask) == 0.0
    # black replacement removes it; a mask across two superpixels is blurred by the mean colour
    assert exp4.object_removed(image, segments, mask, hide_color=0.0) == 1.0
    mask2 = np.zeros((6, 6), bool)
    mask2[:4, 2:4] = True
    image2 = np.full((6, 6, 3), 20.0)
    image2[mask2] = 200.0
    assert exp4.object_removed(image2, segments, mask2) == 1.0
    np.testing.assert_array_equal(exp4.oracle_superpixels(segments, mask2), [0])  # 4 of 12 pixels: none >= half


def test_unit_seeds_differ_and_are_stable():
    s = {"seed": 3}
    assert exp4.unit_seed(s, "digits-cnn", 1) == exp4.unit_seed(s, "digits-cnn", 1)
    assert exp4.unit_seed(s, "digits-cnn", 1) != exp4.unit_seed(s, "digits-cnn", 2)
    assert exp4.unit_seed(s, "digits-cnn", 1) != exp4.unit_seed(s, "shapes-cnn", 1)


def test_random_scores_give_chance_jaccard():
    """A random ranking against a fixed one: mean Jaccard within 4 s.e. of the closed form (seeded)."""
    rng = np.random.default_rng(0)
    d, k = 30, 5
    fixed = np.arange(d, dtype=float)
    from limetheory.metrics import jaccard_topk

    vals = np.array([jaccard_topk(fixed, rng.permutation(d).astype(float), k) for _ in range(2000)])
    se = vals.std(ddof=1) / np.sqrt(vals.size)
    assert abs(vals.mean() - exp4.chance_jaccard(d, k)) < 4 * se
    # and the hypergeometric law of the overlap itself
    overlaps = np.rint(2 * k * vals / (1 + vals)).astype(int)
    counts = np.bincount(overlaps, minlength=k + 1)
    expected = stats.hypergeom.pmf(np.arange(k + 1), d, k, k) * vals.size
    keep = expected > 5
    assert stats.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > 1e-3


# --------------------------------------------------------------------------- networks, images, unit keys
def test_full_settings_have_every_network_and_table1_segmentation():
    s = exp4.settings(False)
    assert [m["model"] for m in s["models"]] == list(exp4.MODEL_ORDER)
    table1 = {m["model"]: m for m in s["models"] if m["model"] in TABLE1_NAMES}
    assert len(table1) == 8
    for name, m in table1.items():
        # the paper's Table 1 segmentation (quickshift(1, 200, 0.2) of the [0, 1] input), 100 held-out images
        assert m["segmentations"]["preprocessed"] == {"method": "quickshift", "kernel_size": 1, "max_dist": 200,
                                                      "ratio": 0.2}
        assert m["images"]["count"] == 100 and m["images"]["size"] == 32
        assert m["images"]["kind"] == ("digits" if name.startswith("digits-") else "shapes")


def test_nets_and_max_images_leave_unit_keys_unchanged():
    exp = load_experiment("lime_vs_ig")
    full = exp4.settings(False)
    unit = {"model": "digits-vgg2", "image": 3, "segmentation": "raw"}
    key = unit_path("o", exp.name, exp.version, exp.key_settings(full, unit), unit)
    part = exp4.settings(False, nets=["digits-vgg2", "shapes-cnn"], max_images={"*": 5, "shapes-cnn": 2})
    assert unit in exp4.units(part)
    assert unit_path("o", exp.name, exp.version, exp.key_settings(part, unit), unit) == key
    counts = {m["model"]: m["images"]["count"] for m in part["models"]}
    assert counts == {"digits-vgg2": 5, "shapes-cnn": 2}
    # what the rows depend on does change the key: another protocol selection, another network's unit
    other = exp4.settings(False, protocol="paper", nets=["digits-vgg2"])
    assert unit_path("o", exp.name, exp.version, exp.key_settings(other, unit), unit) != key
    photos = exp4.settings(False, nets=["efficientnet-lite0"], max_images=3)
    assert photos["models"][0]["images"]["names"] == list(PHOTOS)[:3]


@pytest.mark.parametrize("kwargs,error,match", [
    ({"nets": ["resnet50"]}, ValueError, "nets"),
    ({"nets": "digits-cnn"}, ValueError, "non-empty list"),
    ({"nets": []}, ValueError, "non-empty list"),
    ({"max_images": 0}, ValueError, "max_images"),
    ({"max_images": True}, TypeError, "max_images"),
    ({"max_images": {"resnet50": 3}}, ValueError, "max_images network"),
    ({"max_images": {"digits-cnn": 2.5}}, TypeError, "max_images"),
])
def test_settings_refuse_bad_nets_and_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        exp4.settings(True, **kwargs)


def test_additivity_table_by_hand():
    """Six images of one network: J falls as R rises; the floor is 1 everywhere."""
    r = np.array([0.01, 0.02, 0.03, 0.2, 0.3, 0.4])
    j = np.array([1.0, 1.0, 0.8, 0.6, 0.4, 0.2])
    rows = []
    for i in range(6):
        common = {"protocol": "paper", "model": "m", "output": "prob", "image": str(i), "nonadditive_share": r[i],
                  "path_curvature": 0.1 * (i + 1)}
        rows.append({**common, "comparison": "lime_vs_ig", "jaccard_top5": j[i]})
        rows.append({**common, "comparison": "lime_vs_lime", "jaccard_top5": 1.0})
    table = additivity_table(pd.DataFrame(rows), 5)
    row = table.iloc[0]
    assert (row["protocol"], row["model"], row["n_images"]) == ("paper", "m", 6)
    assert row["R_median"] == pytest.approx(np.median(r))
    assert row["rho_R_jaccard"] == pytest.approx(stats.spearmanr(r, j).statistic)
    assert row["rho_curvature_jaccard"] == pytest.approx(stats.spearmanr(np.arange(6), j).statistic)
    low, high = r <= np.median(r), r > np.median(r)
    assert row["gap_low_R"] == pytest.approx(np.mean(1 - j[low]))
    assert row["gap_high_R"] == pytest.approx(np.mean(1 - j[high]))
    assert row["gap_high_R_se"] == pytest.approx(np.std(1 - j[high], ddof=1) / np.sqrt(3))
    assert row["p_gap_high_gt_low"] == pytest.approx(
        stats.mannwhitneyu(1 - j[high], 1 - j[low], alternative="greater").pvalue)
