"""Make docs/figures/viewer.png: the HTML viewer of EfficientNet-Lite0 on the cat photo, in headless chromium.

    python docs/viewer_example.py [--html OUT.html] [--n-samples 1000] [--limit-samples 4000]

LIME (lime's settings: quickshift superpixels, n = 1000, kernel width 0.25, ridge 1, seed 0) of the
top class's probability, its limit explanation (Monte Carlo, ``theory.monte_carlo_limit``) and the
integrated-gradients sums over the same superpixels (baseline: LIME's replacement image), all in
one page (``Explanation.to_html``); the screenshot points at the top superpixel so the readout shows.
Needs selenium, /usr/bin/chromium and /usr/bin/chromedriver.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import limetheory as lt
from limetheory.data import load_photo
from limetheory.gradients import integrated_gradients, superpixel_sums
from limetheory.perturb import model_responses
from limetheory.theory import monte_carlo_limit

OUT = Path(__file__).resolve().parent / "figures" / "viewer.png"


def build_page(path: Path, n_samples: int, limit_samples: int) -> lt.Explanation:
    import jax

    net = lt.nets.load("efficientnet-lite0")
    image = load_photo("chelsea", net.input_size[0])
    segments = lt.segment(image)
    t0 = time.perf_counter()
    ex = lt.explain(image, net.predict, segments=segments, n_samples=n_samples, seed=0, dtype=np.float32,
                    progress=False)
    label = int(ex.labels[0])
    print(f"LIME: d = {ex.n_superpixels}, {time.perf_counter() - t0:.1f} s")

    def f_of_z(z):
        return model_responses(net.predict, image, ex.replacement, segments, z, None, np.float32, False)[:, label]

    limit = monte_carlo_limit(f_of_z, ex.n_superpixels, ex.kernel_width, limit_samples, seed=1)[1:]
    print(f"limit: {time.perf_counter() - t0:.1f} s")
    ig = integrated_gradients(lambda x: jax.nn.softmax(net.logits(x)), image.astype(np.float32),
                              ex.replacement.astype(np.float32), n_steps=64, target=label, dtype="float32")
    sums = superpixel_sums(ig.attributions, segments)
    print(f"IG: {time.perf_counter() - t0:.1f} s")
    ex.to_html(path, limit=limit, ig_sums=sums, class_names=net.class_names, seed=0,
               title=f"EfficientNet-Lite0 on the cat photo: {net.class_names[label]}")
    return ex


def screenshot(page: Path, out: Path, superpixel: int) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1000",
                "--force-device-scale-factor=1", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        drv.get(page.resolve().as_uri())
        WebDriverWait(drv, 30).until(lambda b: b.execute_script("return document.body.dataset.ready") == "true")
        canvas = drv.find_element("id", "canvas")
        li = drv.find_element("css selector", f'#superpixels > li[data-superpixel="{superpixel}"]')
        row, col = int(li.get_attribute("data-row")), int(li.get_attribute("data-col"))
        scale = canvas.size["width"] / drv.execute_script(
            "return JSON.parse(document.getElementById('viewer-data').textContent).width")
        dx, dy = (col + 0.5) * scale - canvas.size["width"] / 2, (row + 0.5) * scale - canvas.size["height"] / 2
        ActionChains(drv).move_to_element_with_offset(canvas, int(dx), int(dy)).perform()
        out.parent.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(out))
    finally:
        drv.quit()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=None, help="keep the page here (default: a temporary file)")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--limit-samples", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        page = args.html or Path(tmp) / "viewer.html"
        ex = build_page(page, args.n_samples, args.limit_samples)
        screenshot(page, args.out, int(np.argmax(ex.coef[0])))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
