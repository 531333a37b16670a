"""The HTML viewer (Explanation.to_html): the page's contract, its arguments, and a real headless browser.

The browser tests drive Debian's chromium through selenium and the system chromedriver. Outside
CI a missing browser or selenium skips them; in CI (CI=true) it fails them.
"""
import base64
import json
import os
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import limetheory as lt
from limetheory.data import load_photo
from limetheory.viewer import encode_labels, interior_pixels
from oracles import in_ci, require


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def explanation():
    img = load_photo("chelsea", 224)
    seg = lt.segment(img)  # lime's quickshift defaults on the uint8 photo: a few dozen superpixels
    weights = np.random.default_rng(3).normal(size=(img.size, 6)) * 2.0 / (255 * np.sqrt(img.size))

    def model(images):  # softmax of a linear map of the pixels: O(1) logits, six classes
        s = np.asarray(images, dtype=np.float64).reshape(len(images), -1) @ weights
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return lt.explain(img, model, segments=seg, n_samples=400, seed=1, top_labels=2, progress=False)


@pytest.fixture(scope="module")
def extras(explanation):
    """A stand-in limit and IG sums with another ranking than LIME's (so the toggle must change it)."""
    rng = np.random.default_rng(0)
    d = explanation.n_superpixels
    return {"limit": explanation.coef[0] + 1e-4 * rng.normal(size=d), "ig_sums": rng.normal(size=d) * 1e-3}


@pytest.fixture(scope="module")
def page(explanation, extras, tmp_path_factory):
    path = tmp_path_factory.mktemp("viewer") / "page.html"
    explanation.to_html(path, seed=1, class_names=[f"class {i}" for i in range(6)], **extras)
    return path


class _Records(HTMLParser):
    """Collects the attributes of every tag, and every src/href."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(path):
    parser = _Records()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags


# --------------------------------------------------------------------------- the page (no browser)
def test_page_contract_and_self_contained(explanation, extras, page):
    text = page.read_text(encoding="utf-8")
    assert page.stat().st_size < 2_000_000  # a 224 x 224 image: well under a few MB
    tags = _parse(page)
    records = [a for t, a in tags if "data-superpixel" in a]
    d = explanation.n_superpixels
    assert [int(a["data-superpixel"]) for a in records] == list(range(d))
    np.testing.assert_array_equal([float(a["data-coef"]) for a in records], explanation.coef[0])  # repr round-trips
    np.testing.assert_array_equal([float(a["data-se"]) for a in records], explanation.coef_se[0])
    np.testing.assert_array_equal([float(a["data-limit"]) for a in records], extras["limit"])
    np.testing.assert_array_equal([float(a["data-ig"]) for a in records], extras["ig_sums"])
    sliders = [a for t, a in tags if t == "input" and a.get("type") == "range" and a.get("name") == "k"]
    assert len(sliders) == 1 and sliders[0]["max"] == str(d)
    for tag, attrs in tags:  # nothing fetched from anywhere
        for key in ("src", "href"):
            assert not attrs.get(key, "data:").split(":")[0] in ("http", "https", "file", "//"), (tag, attrs)
        assert tag != "link"
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert re.search(r'<img id="photo"[^>]+src="data:image/png;base64,', text)


def test_page_without_standard_errors_or_colour(explanation, tmp_path):
    import dataclasses

    grey = dataclasses.replace(explanation, coef_se=None, image=explanation.image.mean(axis=2))
    path = grey.to_html(tmp_path / "grey.html", k=0)
    records = [a for _, a in _parse(path) if "data-superpixel" in a]
    assert len(records) == grey.n_superpixels and all(a["data-se"] == "NaN" for a in records)
    assert not any("data-limit" in a or "data-ig" in a for a in records)
    assert 'name="mode"' not in path.read_text(encoding="utf-8")  # nothing to toggle


def test_label_map_round_trips(explanation, page):
    text = page.read_text(encoding="utf-8")
    payload = json.loads(re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', text).group(1))
    raw = base64.b64decode(payload["labels"])
    labels = np.frombuffer(raw, dtype=f"<u{payload['label_bytes']}").reshape(payload["height"], payload["width"])
    np.testing.assert_array_equal(labels, explanation.segments)


@given(st.integers(1, 7), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_interior_pixel_lies_in_its_superpixel(n_labels, h, w, seed):
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, n_labels, size=(h, w))
    _, seg = np.unique(seg, return_inverse=True)
    seg = seg.reshape(h, w)
    d = int(seg.max()) + 1
    centre = interior_pixels(seg, d)
    assert np.array_equal(seg[centre[:, 0], centre[:, 1]], np.arange(d))


def test_label_map_widens_past_uint16():
    seg = np.arange(70_000).reshape(350, 200)
    text, nbytes = encode_labels(seg)
    assert nbytes == 4
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(text), "<u4").reshape(seg.shape), seg)


def test_write_is_atomic_and_replaces(explanation, tmp_path):
    path = tmp_path / "sub" / "out.html"
    assert explanation.to_html(path) == path and path.exists()
    first = path.read_text(encoding="utf-8")
    explanation.to_html(path, label=int(explanation.labels[1]))
    second = path.read_text(encoding="utf-8")
    assert second != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.html"]  # no temporary left behind
    with pytest.raises(ValueError, match="limit must have shape"):
        explanation.to_html(path, limit=np.zeros(3))
    assert path.read_text(encoding="utf-8") == second  # a refused call leaves the file as it was


def test_arguments_validated(explanation, tmp_path):
    d = explanation.n_superpixels
    good = tmp_path / "x.html"
    cases = [
        (TypeError, "path must be a str", dict(path=3)),
        (ValueError, "must end in .html", dict(path=tmp_path / "x.png")),
        (ValueError, "is a folder", dict(path=tmp_path / "dir.html")),
        (ValueError, "not writable", dict(path=tmp_path / "file.txt" / "x.html")),
        (ValueError, "not explained", dict(label=99)),
        (TypeError, "label must be an integer", dict(label=True)),
        (ValueError, r"limit must have shape \(%d,\)" % d, dict(limit=np.zeros(d + 1))),
        (TypeError, "ig_sums must be an array of real numbers", dict(ig_sums=["a"] * d)),
        (ValueError, "ig_sums must be finite", dict(ig_sums=np.full(d, np.nan))),
        (ValueError, "k must be <=", dict(k=d + 1)),
        (TypeError, "k must be an integer", dict(k=True)),
        (TypeError, "top_classes must be an integer", dict(top_classes=2.0)),
        (ValueError, "class_names must have one name per class", dict(class_names=["a", "b"])),
        (TypeError, "class_names must be a sequence", dict(class_names="abc")),
        (TypeError, "title must be a str", dict(title=3)),
        (ValueError, "seed must be >= 0", dict(seed=-1)),
    ]
    (tmp_path / "dir.html").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for exc, match, kwargs in cases:
        path = kwargs.pop("path", good)
        with pytest.raises(exc, match=match):
            explanation.to_html(path, **kwargs)
    assert not good.exists()


# --------------------------------------------------------------------------- a real browser
def _browser():
    webdriver = require("selenium.webdriver")
    Service = require("selenium.webdriver.chrome.service").Service
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.path.exists(binary) and os.path.exists(driver)):
        if in_ci():
            pytest.fail("chromium and chromium-driver are missing (apt-get install chromium chromium-driver)")
        pytest.skip("chromium / chromedriver not installed")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.binary_location = binary
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser(page):
    from selenium.webdriver.support.ui import WebDriverWait

    drv = _browser()
    try:
        drv.get(page.as_uri())
        WebDriverWait(drv, 30).until(lambda b: b.execute_script("return document.body.dataset.ready") == "true")
        yield drv
    finally:
        drv.quit()


def _count(browser):
    shown = browser.find_element("id", "highlight-count").get_attribute("data-count")
    marked = len(browser.find_elements("css selector", "#superpixels > li.highlighted"))
    assert int(shown) == marked
    return marked


def _expected_count(values, k):
    return min(k, int(np.sum(values > 0))) + min(k, int(np.sum(values < 0)))


def test_page_loads_without_errors(browser):
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    # nothing was requested from anywhere (data URIs are not resources)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_slider_changes_highlighted_count(browser, explanation):
    from selenium.webdriver.common.keys import Keys

    slider = browser.find_element("css selector", 'input[type="range"][name="k"]')
    beta = explanation.coef[0]
    assert int(slider.get_attribute("value")) == 5 and _count(browser) == _expected_count(beta, 5)
    slider.send_keys(Keys.HOME)
    assert _count(browser) == 0
    for k in (1, 2, 3):
        slider.send_keys(Keys.ARROW_RIGHT)
        assert _count(browser) == _expected_count(beta, k)
    slider.send_keys(Keys.END)
    assert _count(browser) == explanation.n_superpixels - int(np.sum(beta == 0))
    top = explanation.top(3, sign="positive")
    slider.send_keys(*[Keys.ARROW_LEFT] * (explanation.n_superpixels - 3))
    marked = browser.find_elements("css selector", '#superpixels > li[data-highlight="positive"]')
    assert sorted(int(li.get_attribute("data-superpixel")) for li in marked) == sorted(top.tolist())


def _point_at(browser, j):
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = browser.find_element("id", "canvas")
    li = browser.find_element("css selector", f'#superpixels > li[data-superpixel="{j}"]')
    row, col = int(li.get_attribute("data-row")), int(li.get_attribute("data-col"))
    h, w = (int(canvas.get_attribute(a)) for a in ("height", "width"))
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
    scale = w / browser.execute_script("return JSON.parse(document.getElementById('viewer-data').textContent).width")
    dx = (col + 0.5) * scale * box[0] / w - box[0] / 2  # offsets from the element's centre
    dy = (row + 0.5) * scale * box[1] / h - box[1] / 2
    ActionChains(browser).move_to_element_with_offset(canvas, int(round(dx)), int(round(dy))).perform()
    return browser.find_element("id", "readout")


def test_pointing_shows_the_coefficient(browser, explanation, extras):
    beta, se = explanation.coef[0], explanation.coef_se[0]
    for j in (int(np.argmax(beta)), int(np.argmin(beta)), int(np.argmin(np.abs(beta)))):
        readout = _point_at(browser, j)
        assert readout.get_attribute("data-superpixel") == str(j)
        assert readout.find_element("class name", "readout-index").text == str(j)
        shown = float(readout.find_element("class name", "readout-coef").text)
        assert shown == pytest.approx(beta[j], rel=5e-4)  # printed to 4 significant digits
        half = float(readout.find_element("class name", "readout-halfwidth").text)
        assert half == pytest.approx(explanation.interval_quantile(0.95) * se[j], rel=5e-4)  # t quantile, its df
        assert float(readout.find_element("class name", "readout-limit").text) == pytest.approx(extras["limit"][j], rel=5e-4)
        assert float(readout.find_element("class name", "readout-ig").text) == pytest.approx(extras["ig_sums"][j], rel=5e-4)


def test_toggle_shows_ig_ranking(browser, extras):
    from selenium.webdriver.common.keys import Keys

    browser.find_element("css selector", 'input[name="mode"][value="ig"]').click()
    slider = browser.find_element("css selector", 'input[type="range"][name="k"]')
    slider.send_keys(Keys.HOME)
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert browser.find_element("tag name", "body").get_attribute("data-mode") == "ig"
    ig = extras["ig_sums"]
    want = set(np.argsort(-ig)[:2].tolist()) | set(np.argsort(ig)[:2].tolist())
    marked = browser.find_elements("css selector", "#superpixels > li.highlighted")
    assert {int(li.get_attribute("data-superpixel")) for li in marked} == want
    browser.find_element("css selector", 'input[name="mode"][value="lime"]').click()
    assert browser.find_element("tag name", "body").get_attribute("data-mode") == "lime"


def _n_colours(rgb):
    packed = rgb.reshape(-1, 3).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    return np.unique(packed).size


def test_screenshot_is_not_blank(browser, tmp_path):
    from PIL import Image

    path = tmp_path / "viewer.png"
    assert browser.save_screenshot(str(path))
    shot = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert shot.shape[0] > 400 and shot.shape[1] > 400
    assert shot.std() > 20  # not one flat colour
    assert _n_colours(shot) > 1000  # a photo with an overlay, not a blank page with some text
    canvas = browser.find_element("id", "canvas").screenshot_as_png
    import io

    region = np.asarray(Image.open(io.BytesIO(canvas)).convert("RGB"), dtype=np.float64)
    assert region.std() > 20 and _n_colours(region) > 1000


def test_shapley_toggle_and_kernelshap_heading(tmp_path):
    """A kernel="shap" explanation is titled KernelSHAP, and given Shapley values get their own toggle and records."""
    rng = np.random.default_rng(0)
    img = rng.random((8, 16))
    seg = np.broadcast_to(np.repeat(np.arange(8), 2)[None, :], (8, 16)).copy()  # 8 vertical strips
    w = rng.normal(size=img.size)
    ex = lt.explain(img, lambda x: np.tanh(x.reshape(len(x), -1) @ w), segments=seg, kernel="shap", n_samples=200,
                    seed=0)
    shapley = np.linspace(-1, 1, 8)
    path = ex.to_html(tmp_path / "shap.html", shapley=shapley)
    text = path.read_text(encoding="utf-8")
    assert "KernelSHAP explanation of class 0" in text
    tags = _parse(path)
    modes = [a["value"] for t, a in tags if t == "input" and a.get("name") == "mode"]
    assert modes == ["lime", "shapley"]
    records = [a for t, a in tags if t == "li" and "data-superpixel" in a]
    np.testing.assert_array_equal([float(a["data-shapley"]) for a in records], shapley)
    assert '"method": "KernelSHAP"' in text
    with pytest.raises(ValueError, match="shapley"):
        ex.to_html(tmp_path / "bad.html", shapley=np.zeros(3))
