"""``limetheory explain IMAGE``: a bundled photo explained end to end, other networks, image files, errors."""
import numpy as np
import pytest
from skimage import io

from limetheory.cli import main
from limetheory.explain_cli import read_image


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from limetheory.data import load_photo

    path = tmp_path_factory.mktemp("img") / "cat.jpg"
    io.imsave(path, load_photo("chelsea", size=None), check_contrast=False)  # 300 x 451: resized by the command
    return path


def test_explain_bundled_photo_writes_png(photo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no --out: IMAGE's name + _explained.png in the current folder
    code = main(["explain", str(photo), "--n-samples", "32", "--ig-steps", "8", "--seed", "1"])
    assert code == 0
    out = tmp_path / "cat_explained.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    text = capsys.readouterr().out
    assert "1. Egyptian cat (class 285)" in text  # EfficientNet-Lite0's top class for this photo
    assert "explained: Egyptian cat (class 285" in text and "Jaccard of the two top-5 sets" in text
    assert "wrote cat_explained.png" in text
    assert "(95% interval from this run's samples)" in text  # 32 samples <= d + 1: intervals are infinite
    assert "+- inf" in text and "overlap: another seed may change the top-5 set" in text


def test_explain_small_network_label_and_logit(tmp_path, capsys):
    from limetheory.data import load_digits_rgb

    digits = load_digits_rgb(32)
    path = tmp_path / "digit.png"
    io.imsave(path, digits.test_images[0][..., 0], check_contrast=False)  # grayscale file
    out = tmp_path / "new" / "folder" / "digit.pdf"
    label = int(digits.test_labels[0])
    assert main(["explain", str(path), "--model", "digits-cnn", "--n-samples", "200", "--label", str(label),
                 "--output", "logit", "--top-k", "3", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"%PDF"
    text = capsys.readouterr().out
    assert f"explained: {label} (class {label}" in text and "output logit" in text and "top 3:" in text


@pytest.mark.parametrize("argv,message", [
    (["explain", "no/such/image.png"], "does not exist"),
    (["explain", "IMG", "--model", "resnet-9000"], "invalid choice: 'resnet-9000'"),
    (["explain", "IMG", "--n-samples", "1"], "--n-samples: must be >= 2"),
    (["explain", "IMG", "--out", "figure.txt"], "must end in .png"),
    (["explain", "IMG", "--label", "1000"], "--label: class index must be in [0, 999]"),
    (["explain", "NOTANIMAGE"], "cannot read it as an image"),
    (["explain"], "the following arguments are required: IMAGE"),
])
def test_errors_exit_2_with_a_message(argv, message, photo, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    argv = [str(photo) if a == "IMG" else str(bad) if a == "NOTANIMAGE" else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_read_image_converts_any_file(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(40, 60, 4), dtype=np.uint8)
    io.imsave(tmp_path / "a.png", rgba, check_contrast=False)
    img = read_image(tmp_path / "a.png", (20, 30))
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    gray16 = (rng.random((16, 16)) * 65535).astype(np.uint16)
    io.imsave(tmp_path / "g.png", gray16, check_contrast=False)
    g = read_image(tmp_path / "g.png", (16, 16))
    assert g.shape == (16, 16, 3) and np.array_equal(g[..., 0], g[..., 2])
    np.testing.assert_allclose(g[..., 0], gray16 * 255.0 / 65535.0, atol=0.5 + 1e-9)
    same = read_image(tmp_path / "a.png", (40, 60))
    np.testing.assert_array_equal(same, rgba[..., :3])  # no resize, alpha dropped
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png", (4, 4))


def test_interval_lines_say_whether_the_top_k_is_settled():
    from limetheory.explain_cli import _interval_lines

    coef = np.array([0.5, 0.1, 0.3, 0.29])
    wide = _interval_lines(coef, np.full(4, 0.01), 2)
    assert wide[0].startswith("superpixel 0: +0.5000 +- 0.0196") and wide[1].startswith("superpixel 2:")
    assert "overlap" in wide[-1] and "superpixel 3" in wide[-1]
    narrow = _interval_lines(coef, np.full(4, 0.001), 2)
    assert "settled" in narrow[-1]
    assert len(_interval_lines(coef, np.full(4, 0.001), 4)) == 4  # nothing after the last rank
