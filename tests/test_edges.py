"""Edges of the network route: a figure of one image, retraining beside the packaged weights."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from pathlib import Path

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from limetheory.nets import small_cnn  # noqa: E402


def test_additivity_figure_without_a_finite_share_draws(tmp_path, monkeypatch):
    # a quick run of one image of a user's model: too few samples for the share R, all NaN
    from limetheory.paper_figures import fig_lime_vs_ig_additivity as fig_add

    frame = pd.DataFrame({"protocol": ["paper"] * 2, "output": ["prob", "logit"]})
    rows = pd.DataFrame({"model": ["torch:user"], "nonadditive_share": [np.nan], "gap": [0.1]})
    monkeypatch.setattr(fig_add, "read_rows", lambda out: (frame, 5, "paper"))
    monkeypatch.setattr(fig_add, "paired_agreement", lambda part, k: rows)
    paths = fig_add.make(tmp_path)  # raised "Data cannot be log-scaled" on an all-NaN panel before
    assert paths and all(Path(p).stat().st_size > 0 for p in paths)
    plt.close("all")


def test_training_without_out_leaves_the_packaged_weights(tmp_path, monkeypatch):
    written = []

    def fake_train(name, *, seed, progress, out):
        written.append(out)
        return None, {"name": name, "heldout_accuracy": 1.0, "n_heldout": 1, "train_accuracy": 1.0,
                      "train_seconds": 0.0, "seed": seed}

    monkeypatch.setattr(small_cnn, "train_net", fake_train)
    monkeypatch.chdir(tmp_path)
    assert small_cnn.main(["--train", "shapes", "--no-progress"]) == 0
    assert written[0].resolve() == (tmp_path / "shapes.npz").resolve()
    assert small_cnn.WEIGHTS_DIR.resolve() not in written[0].resolve().parents


def test_command_line_preprocesses_a_torch_model(tmp_path, capsys):
    from skimage import io

    from limetheory import nets
    from limetheory.cli import main
    from limetheory.data import load_photo
    from limetheory.nets.torch_adapter import scaling
    from limetheory.pipeline import top_classes
    from user_models import require, torch_tiny_cnn

    require("torch")
    path = tmp_path / "photo.png"
    io.imsave(path, load_photo("chelsea", 48), check_contrast=False)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    assert main(["explain", str(path), "--model", "torch:user_models:torch_tiny_cnn", "--input-size", "48",
                 "--scale", str(1 / 255), "--mean", ",".join(map(str, mean)), "--std", ",".join(map(str, std)),
                 "--n-samples", "30", "--ig-steps", "4", "--top-k", "2", "--out", str(tmp_path / "f.png")]) == 0
    text = capsys.readouterr().out
    ref = nets.from_torch(torch_tiny_cnn(), input_size=48, preprocess=scaling(1 / 255, mean, std))
    (index, _, prob), = top_classes(ref, load_photo("chelsea", 48), k=1)
    assert f"1. {index} (class {index}): p = {prob:.4f}" in text  # the module saw (x / 255 - mean) / std


def test_top_says_when_fewer_superpixels_have_the_sign():
    import warnings

    import pytest

    import limetheory as lt

    image = np.random.default_rng(0).uniform(0, 255, (16, 16, 3))
    seg = lt.segment(image, "grid", n_rows=2, n_cols=2)
    w = np.array([3.0, 1.0, -2.0, -1.0])  # two positive, two negative superpixel effects

    def linear(images):
        return (np.asarray(images).mean(axis=3)[:, None] * (np.arange(4)[:, None, None] == seg)).sum(axis=(2, 3)) @ w

    ex = lt.explain(image, linear, segments=seg, n_samples=200, seed=0, hide_color=0.0)
    with pytest.warns(UserWarning, match="only 2 of the 4 coefficients are positive, fewer than the k = 3"):
        assert ex.top(3).tolist() == [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ex.top(3, allow_fewer=True).tolist() == [0, 1]
        assert ex.top(3, sign="abs").tolist() == [0, 2, 1]  # |3| > |-2| > |1| = |-1| (stable: lower index)
