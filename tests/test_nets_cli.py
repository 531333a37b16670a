"""``limetheory explain --model torch:... | keras:...``: the user's own models on the command line."""
import numpy as np
import pytest
from skimage import io

from limetheory.cli import main
from user_models import keras_tiny_application, require, save_legacy_h5

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "pic.png"
    io.imsave(path, np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8), check_contrast=False)
    return path


def _run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def test_torch_factory_returning_a_classifier(png, tmp_path, capsys):
    require("torch")
    out = tmp_path / "fig.png"
    code, text = _run(["explain", str(png), "--model", "torch:user_models:torch_classifier", "--n-samples", "40",
                       "--ig-steps", "4", "--top-k", "2", "--out", str(out)], capsys)
    assert code == 0 and out.stat().st_size > 10_000
    assert "-> torch:user_models:torch_classifier (64 x 64): top classes" in text
    assert any(f"1. {c} (class" in text for c in "abc") and "completeness gap" in text


@pytest.mark.filterwarnings("ignore:the model's output for label")  # raw [0, 255] inputs saturate its softmax
def test_torch_factory_returning_a_module_with_input_size(png, tmp_path, capsys):
    require("torch")
    code, text = _run(["explain", str(png), "--model", "torch:user_models:torch_tiny_cnn", "--input-size", "48x64",
                       "--n-samples", "40", "--ig-steps", "4", "--output", "logit", "--out", str(tmp_path / "f.png")],
                      capsys)
    assert code == 0 and "output: the class's logit" in text


@pytest.mark.parametrize("argv, flag, phrase", [
    (["--model", "torch:no_such_package.models:make", "--input-size", "8"], "--model", "cannot import 'no_such_package.models'"),
    (["--model", "torch:user_models:torch_tiny_cnn"], "--input-size", "input_size is required"),
    (["--model", "torch:user_models:torch_fixed_size", "--input-size", "10"], "--input-size", "refuses a batch"),
    (["--model", "torch:user_models:not_a_model", "--input-size", "8"], "--model", "must return a torch.nn.Module"),
    (["--model", "keras:MobileNetV2"], "--weights", "keras:MobileNetV2 needs the Keras applications weight file"),
])
def test_model_errors_name_the_argument(argv, flag, phrase, png, tmp_path, capsys):
    require("torch")
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(png), "--out", str(tmp_path / "f.png"), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"argument {flag}: " in err and phrase in err, err
    assert not (tmp_path / "f.png").exists()


def test_keras_application_from_a_weight_file(png, tmp_path, monkeypatch, capsys):
    keras = require("keras")
    from limetheory.nets import keras_adapter

    monkeypatch.setitem(keras_adapter.KERAS_APPLICATIONS, "Tiny", ("user_models", "keras_tiny_application", (64, 64)))
    keras.utils.set_random_seed(3)
    weights = save_legacy_h5(keras_tiny_application(), tmp_path / "tiny.h5")
    code, text = _run(["explain", str(png), "--model", "keras:Tiny", "--weights", str(weights), "--n-samples", "40",
                       "--ig-steps", "4", "--out", str(tmp_path / "f.png")], capsys)
    assert code == 0 and "-> keras:Tiny (64 x 64)" in text
    wrong = save_legacy_h5(keras_tiny_application(width=3), tmp_path / "other.h5")
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(png), "--model", "keras:Tiny", "--weights", str(wrong), "--out", str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --weights: " in err and "does not hold the weights of keras:Tiny" in err


# --------------------------------------------------------------------------- reproduce --model --images


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("mine")
    rng = np.random.default_rng(1)
    for name in ("b.png", "a.jpg"):
        io.imsave(path / name, rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), check_contrast=False)
    (path / "notes.txt").write_text("not an image")
    return path


def test_reproduce_experiments_4_and_6_on_a_user_model(folder, tmp_path):
    import pandas as pd

    require("torch")
    model = "torch:user_models:torch_classifier"
    code = main(["reproduce", "--quick", "--only", "lime_vs_ig", "qualitative", "--model", model,
                 "--images", str(folder), "--out", str(tmp_path), "--no-figures", "--no-progress"])
    assert code == 0
    rows = pd.read_csv(tmp_path / "results" / "lime_vs_ig.csv")
    assert set(rows["model"]) == {model} and set(rows["image"]) == {"a.jpg"}  # quick: the first image
    assert {"lime_vs_ig", "lime_vs_lime"} <= set(rows["comparison"])
    qual = pd.read_csv(tmp_path / "results" / "qualitative.csv")
    assert set(qual["model"]) == {model} and set(qual["photo"]) == {"a.jpg"}
    assert np.isfinite(qual[["lime", "limit", "ig"]].to_numpy()).all()


@pytest.mark.parametrize("argv, flag, phrase", [
    (["--model", "torch:user_models:torch_classifier"], "--model/--images", "add --only lime_vs_ig qualitative"),
    (["--only", "convergence", "--images", "FOLDER"], "--model/--images", "add --only"),
    (["--only", "qualitative", "--images", "EMPTY"], "--images", "holds no image file"),
    (["--only", "qualitative", "--model", "torch:user_models:torch_fixed_size", "--input-size", "8"],
     "--input-size", "refuses a batch"),
    (["--only", "qualitative", "--weights", "FOLDER"], "--weights/--input-size", "only with --model"),
])
def test_reproduce_user_model_errors(argv, flag, phrase, folder, tmp_path, capsys):
    require("torch")
    (tmp_path / "empty").mkdir()
    argv = [str(folder) if a == "FOLDER" else str(tmp_path / "empty") if a == "EMPTY" else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--quick", "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"argument {flag}: " in err and phrase in err, err
    assert not (tmp_path / "out" / "results").exists()
