"""``limetheory explain IMAGE``: a bundled photo explained end to end, other networks, errors.

Bad arguments are checked before any computation: the corpus below runs with the network
loader replaced by one that fails, so every case must end before a network is loaded.
"""
import os

import numpy as np
import pytest
from skimage import io

from limetheory import pipeline
from limetheory.cli import _interval_lines, main
from limetheory.stopping import StoppingRule


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from limetheory.data import load_photo

    path = tmp_path_factory.mktemp("img") / "cat.jpg"
    io.imsave(path, load_photo("chelsea", size=None), check_contrast=False)  # 300 x 451: resized by the command
    return path


def _top_class(path, model):
    """The network's own most probable class on the image as the command reads it: (index, name)."""
    from limetheory.data import read_image
    from limetheory.nets import load_cached
    from limetheory.pipeline import top_classes

    net = load_cached(model)
    (index, name, _), = top_classes(net, read_image(path, net.input_size), k=1)
    return index, name


def test_explain_bundled_photo_writes_png(photo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no --out: IMAGE's name + _explained.png in the current folder
    code = main(["explain", str(photo), "--n-samples", "32", "--ig-steps", "8", "--seed", "1"])
    assert code == 0
    out = tmp_path / "cat_explained.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file
    text = capsys.readouterr().out
    index, name = _top_class(photo, "efficientnet-lite0")
    assert f"1. {name} (class {index})" in text  # the network's own top class for this file
    assert f"explained: {name} (class {index}" in text and "Jaccard of the two top-5 sets" in text
    assert "wrote cat_explained.png" in text
    assert "(95% interval from this run's samples)" in text  # 32 samples <= d + 1: intervals are infinite
    assert "+- inf" in text and "overlap: another seed may change the top-5 set" in text


@pytest.fixture(scope="module")
def digit(tmp_path_factory):
    from limetheory.data import load_digits_rgb

    digits = load_digits_rgb(32)
    path = tmp_path_factory.mktemp("digit") / "digit.png"
    io.imsave(path, digits.test_images[0][..., 0], check_contrast=False)  # grayscale file
    return path, int(digits.test_labels[0])


def test_explain_small_network_label_and_logit(digit, tmp_path, capsys):
    path, label = digit
    out = tmp_path / "new" / "folder" / "digit.pdf"
    page = tmp_path / "pages" / "digit.html"
    assert main(["explain", str(path), "--model", "digits-cnn", "--n-samples", "200", "--label", str(label),
                 "--output", "logit", "--top-k", "3", "--out", str(out), "--html", str(page)]) == 0
    assert out.read_bytes()[:4] == b"%PDF"
    text = capsys.readouterr().out
    assert f"explained: {label} (class {label}" in text and "output: the class's logit" in text
    assert "top 3 (coefficients in logit):" in text and "IG sums (64-point Gauss-Legendre, in logit)" in text
    assert f"wrote {page}" in text
    html = page.read_text(encoding="utf-8")  # the viewer: the logit's LIME of the class, IG sums, top 3
    assert "LIME explanation of class" not in html and f"digit.png, digits-cnn: {label} (logit)" in html
    assert "in units of the logit of the class" in html  # the unit of every value on the page
    d = html.count("<li data-superpixel=")
    assert d > 1 and html.count(" data-ig=") == d and 'name="k" min="0" max="%d" step="1" value="3"' % d in html


@pytest.mark.parametrize("argv,message", [
    (["explain", "no/such/image.png"], "does not exist"),
    (["explain", "IMG", "--model", "resnet-9000"], "unknown network 'resnet-9000'"),
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


# --------------------------------------------------------------------------- bad-input corpus
class _LoaderCalled(Exception):
    """Raised by the replaced network loader: the command got past its argument checks."""


@pytest.fixture
def no_network(monkeypatch):
    """Replace the network loader by one that fails, so a case that loads a network cannot pass."""
    from limetheory import nets
    from limetheory.nets import registry

    def refuse(*args, **kwargs):
        raise _LoaderCalled("the network was loaded")

    monkeypatch.setattr(nets, "load_cached", refuse)
    monkeypatch.setattr(nets, "load", refuse)
    monkeypatch.setattr(registry, "load", refuse)


@pytest.fixture
def small_png(tmp_path):
    path = tmp_path / "small.png"
    io.imsave(path, np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8), check_contrast=False)
    return path


_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

BAD = [  # (extra arguments, the argument named, a phrase of the message)
    (["--seed", "-1"], "--seed", "must be >= 0, got -1"),
    (["--seed", str(2**70)], "--seed", "must be <= 18446744073709551615"),
    (["--seed", "1.5"], "--seed", "expected an integer, got '1.5'"),
    (["--n-samples", "1e12"], "--n-samples", "GiB"),  # refused with the memory it would need
    (["--n-samples", "0"], "--n-samples", "must be >= 2"),
    (["--n-samples", "many"], "--n-samples", "expected an integer"),
    (["--n-samples", "auto", "--max-samples", "1"], "--max-samples", "must be >= 2"),
    (["--n-samples", "auto", "--max-samples", "1e12"], "--n-samples", "GiB"),
    (["--n-samples", "auto", "--tolerance", "1"], "--tolerance", "must be < 1.0, got 1.0"),
    (["--n-samples", "auto", "--tolerance", "-0.1"], "--tolerance", "must be >= 0.0, got -0.1"),
    (["--n-samples", "auto", "--tolerance", "x"], "--tolerance", "invalid float value"),
    (["--tolerance", "0.1"], "--tolerance", "applies only to --n-samples auto"),
    (["--ig-steps", "1e6"], "--ig-steps", "must be <= 1024, got 1000000"),
    (["--ig-steps", "0"], "--ig-steps", "must be >= 1"),
    (["--top-k", "0"], "--top-k", "must be >= 1"),
    (["--label", "-1"], "--label", "must be >= 0"),
    (["--output", "odds"], "--output", "invalid choice"),
    (["--model", "resnet-9000"], "--model", "unknown network 'resnet-9000'"),
    (["--model", "tf:resnet"], "--model", "is not one of"),
    (["--weights", "AFILE"], "--weights", "only a keras: model takes a weight file"),
    (["--model", "keras:MobileNetV2", "--weights", "missing.h5"], "--weights", "missing.h5 is not a file"),
    (["--input-size", "224"], "--input-size", "only a torch: model takes an input size"),
    (["--model", "torch:pkg.mod:make", "--input-size", "2x3x4"], "--input-size", "expected a size such as 224"),
    (["--out", "figure.txt"], "--out", "must end in .png"),
    (["--out", "FOLDER"], "--out", "is a folder, not a file"),
    (["--out", "AFILE/fig.png"], "--out", "is a file, not a folder"),
    (["--out", "AFILE/deeper/fig.png"], "--out", "is a file, not a folder"),
    (["--out", "/proc/fig.png"], "--out", "cannot write in /proc"),
    pytest.param(["--out", "READONLY/fig.png"], "--out", "cannot write in",
                 marks=pytest.mark.skipif(_AS_ROOT, reason="root may write into a read-only folder")),
    (["--html", "page.txt"], "--html", "must end in .html or .htm"),
    (["--html", "FOLDER"], "--html", "is a folder, not a file"),
    (["--html", "AFILE/page.html"], "--html", "is a file, not a folder"),
    (["IMAGE=missing.png"], "IMAGE", "does not exist"),
    (["IMAGE=FOLDER"], "IMAGE", "is not a file"),
    (["IMAGE=AFILE"], "IMAGE", "cannot read it as an image"),
]


@pytest.mark.parametrize("extra, argument, phrase", BAD)
def test_bad_input_corpus(extra, argument, phrase, small_png, tmp_path, no_network, monkeypatch, capsys):
    """Each bad argument: exit 2, one line on stderr naming it, no traceback, no network loaded."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FOLDER").mkdir()
    (tmp_path / "AFILE").write_text("a file, not a folder, and not an image")
    (tmp_path / "READONLY").mkdir(mode=0o555)
    image = str(small_png)
    args = []
    for a in extra:
        if a.startswith("IMAGE="):
            image = a.removeprefix("IMAGE=")
        else:
            args.append(a)
    with pytest.raises(SystemExit) as exc:
        main(["explain", image, *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith("limetheory explain: error: "), err
    assert argument in err and phrase in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AFILE", "FOLDER", "READONLY", "small.png"]  # nothing new


def test_good_arguments_reach_the_network(small_png, tmp_path, no_network):
    """The corpus's control: with valid arguments the command gets as far as loading the network."""
    with pytest.raises(_LoaderCalled):
        main(["explain", str(small_png), "--out", str(tmp_path / "f.png"), "--n-samples", "1e3"])


# --------------------------------------------------------------------------- interrupts and full disks
def test_ctrl_c_prints_one_line_and_exits_130(digit, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "explain_output", interrupted)
    out = tmp_path / "digit.png"
    assert main(["explain", str(digit[0]), "--model", "digits-cnn", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err == "limetheory explain: interrupted\n"
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_failed_write_keeps_the_old_figure(digit, tmp_path, monkeypatch, capsys):
    """A full disk mid-write: exit 1 with one line, the earlier figure intact, no temporary file."""
    import errno

    from matplotlib.figure import Figure

    out = tmp_path / "digit.png"
    out.write_bytes(b"an earlier figure")

    def disk_full(self, fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG\r\n\x1a\n truncated")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    assert main(["explain", str(digit[0]), "--model", "digits-cnn", "--n-samples", "50", "--ig-steps", "4",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"limetheory explain: error: cannot write {out}: No space left on device\n"
    assert out.read_bytes() == b"an earlier figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png"]


@pytest.mark.parametrize("tolerance", [None, "0.15"])
def test_auto_samples_says_how_many_whether_settled_and_the_tolerance(digit, tmp_path, capsys, tolerance):
    path, label = digit
    out = tmp_path / "auto.png"
    extra = [] if tolerance is None else ["--tolerance", tolerance]
    assert main(["explain", str(path), "--model", "digits-cnn", "--n-samples", "auto", "--max-samples", "600",
                 "--top-k", "2", "--ig-steps", "4", "--out", str(out), *extra]) == 0
    text = capsys.readouterr().out
    line = next(t for t in text.splitlines() if "LIME (auto: n = " in t)
    n = int(line.split("n = ")[1].split()[0])
    assert 2 <= n <= 600 and ("top-2 settled" in line) != ("top-2 NOT settled at --max-samples 600" in line)
    assert "NOT settled" not in line or n == 600  # only the cap stops an unsettled run
    assert f"tolerance {tolerance or 0}," in line
    assert out.exists()


def test_interval_lines_say_whether_the_top_k_is_settled():
    coef = np.array([0.5, 0.1, 0.3, 0.29])

    def interval(half):
        return np.stack([coef - half, coef + half], axis=1)

    wide = _interval_lines(coef, interval(0.0196), 2)
    assert wide[0].startswith("superpixel 0: +0.5000 +- 0.0196") and wide[1].startswith("superpixel 2:")
    assert "overlap" in wide[-1] and "superpixel 3" in wide[-1]
    narrow = _interval_lines(coef, interval(0.002), 2)
    assert "settled" in narrow[-1]
    assert len(_interval_lines(coef, interval(0.002), 4)) == 4  # nothing after the last rank
    assert pipeline.intervals_separate(coef, interval(0.002), 2)
    assert not pipeline.intervals_separate(coef, interval(0.0196), 2)
    assert not pipeline.intervals_separate(coef, interval(0.002), 4)  # no rank 5 to be separated from


def test_sample_budget_is_the_number_or_the_stopping_rule():
    assert pipeline.sample_budget(500, top_k=3, max_samples=900) == 500
    assert pipeline.sample_budget("auto", top_k=3, max_samples=900) == StoppingRule(top_k=3, max_samples=900,
                                                                                    tolerance=0.0)
    assert pipeline.sample_budget("auto", top_k=2, max_samples=900, tolerance=0.1).tolerance == 0.1


def test_kernelshap_enumerates_with_a_fixed_budget_and_pairs_when_it_stops_by_itself():
    """The enumeration plan needs the budget in advance: a StoppingRule gets the paired design."""
    assert pipeline.kernel_design("shap", 500) == "enumerated"
    assert pipeline.kernel_design("shap", StoppingRule(top_k=3, max_samples=900)) == "paired"
    assert pipeline.kernel_design("lime", 500) == pipeline.kernel_design("lime", StoppingRule(top_k=3)) == "iid"
    with pytest.raises(ValueError, match="kernel must be one of"):
        pipeline.kernel_design("banzhaf", 500)


def test_method_both_prints_kernelshap_and_the_page_toggles_to_it(digit, tmp_path, capsys):
    """--method both: LIME and KernelSHAP intervals in the text; the page toggles to KernelSHAP's estimates."""
    path, label = digit
    page = tmp_path / "both.html"
    assert main(["explain", str(path), "--model", "digits-cnn", "--n-samples", "200", "--method", "both",
                 "--ig-steps", "4", "--out", str(tmp_path / "f.png"), "--html", str(page)]) == 0
    text = capsys.readouterr().out
    assert "LIME (n = 200, seed 0) top 5 (coefficients in" in text and "KernelSHAP (enumerated, n = 200, seed 0) top 5 (coefficients in" in text
    html = page.read_text(encoding="utf-8")
    d = html.count("<li data-superpixel=")
    assert html.count(" data-shapley=") == d and 'value="shapley"' in html


def test_method_shap_alone(digit, tmp_path, capsys):
    path, _ = digit
    assert main(["explain", str(path), "--model", "digits-cnn", "--n-samples", "120", "--method", "shap",
                 "--ig-steps", "4", "--out", str(tmp_path / "f.png")]) == 0
    text = capsys.readouterr().out
    assert "KernelSHAP (enumerated, n = 120, seed 0) top 5 (coefficients in" in text and "LIME (n =" not in text
