"""The self-contained HTML viewer of an explanation: :func:`write_html` (``Explanation.to_html``).

One HTML file with everything inline (the photo as a base64 PNG data URI, the superpixel label
map as base64 little-endian integers, the script and the styles from ``viewer_assets/``): no
network, no CDN; about 0.3 MB for a 224 x 224 image. The page shows

* the photo with superpixel outlines and one value per superpixel as a colour overlay on a
  diverging map symmetric around 0 (``[-max |v|, +max |v|]``): LIME's coefficients beta_hat_j,
  or, when given, the limit explanation beta_j, the integrated-gradients sums
  ``s_j = sum_{u in J_j} IG_u`` or the Shapley values (a toggle); KernelSHAP's estimates for an
  explanation made with ``kernel="shap"``;
* a slider ``<input type="range" name="k">``: the k largest positive and the k most negative
  values are outlined and the rest dimmed; the page reports their number in
  ``#highlight-count``;
* hatching on the superpixels whose 95% interval ``beta_hat_j +- z se_j`` (z:
  :meth:`Explanation.interval_quantile`, from :attr:`Explanation.coef_se`'s degrees of freedom) contains 0: this run cannot tell the sign;
* a readout of the superpixel under the pointer: index, ``beta_hat_j +- z se_j``, the limit
  and the IG sum when given;
* the settings (n_samples, kernel_width, ridge, sampling design, seed when given) and the model's top
  classes.

Contract for outside checks: ``#superpixels`` holds one ``<li>`` per superpixel with
``data-superpixel``, ``data-coef``, ``data-se`` (``data-limit``, ``data-ig``, ``data-shapley`` when given,
``data-pixels``, and ``data-row``/``data-col``: an interior pixel, the one farthest from the
superpixel's boundary); after the page has drawn, ``body[data-ready="true"]`` and each ``<li>``
carries ``data-highlight`` (positive / negative / none).
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np

from .files import write_text
from .plotting import display_image
from .nets.classifier import OUTPUT_UNITS, OUTPUTS
from .validation import check_choice, check_int, check_vector

__all__ = ["explanation_html", "write_html"]

#: Displayed width of the image in CSS pixels (small images are scaled up by an integer factor).
DISPLAY_SIZE = 448


# --------------------------------------------------------------------------- encoding
def png_data_uri(image) -> str:
    """``data:image/png;base64,...`` of an image, scaled to [0, 255] as :func:`plotting.display_image` does."""
    from PIL import Image

    img = display_image(image)
    if img.ndim == 3:
        img = img[:, :, :3] if img.shape[2] >= 3 else img.mean(axis=2)
    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def encode_labels(segments: np.ndarray) -> tuple[str, int]:
    """The label map as base64 of little-endian uint16 (uint32 when d > 65536); (text, bytes per label)."""
    nbytes = 2 if segments.max() < 2**16 else 4
    raw = np.ascontiguousarray(segments, dtype=f"<u{nbytes}").tobytes()
    return base64.b64encode(raw).decode("ascii"), nbytes


def interior_pixels(segments: np.ndarray, d: int) -> np.ndarray:
    """(d, 2) (row, col) of one pixel per superpixel: the one farthest (Euclidean) from its boundary.

    The boundary is every pixel with a 4-neighbour of another label or on the image border.
    """
    from scipy.ndimage import distance_transform_edt

    seg = np.pad(segments, 1, constant_values=-1)
    inside = np.ones(segments.shape, bool)
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        inside &= seg[1 + dr : seg.shape[0] - 1 + dr, 1 + dc : seg.shape[1] - 1 + dc] == segments
    depth = distance_transform_edt(inside).ravel()
    flat = segments.ravel()
    order = np.lexsort((-depth, flat))  # by label, deepest first
    first = order[np.searchsorted(flat[order], np.arange(d))]
    return np.stack(np.unravel_index(first, segments.shape), axis=1)


# --------------------------------------------------------------------------- validation
def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path must end in .html or .htm, got {str(out)!r}")
    if out.is_dir():
        raise ValueError(f"path {str(out)!r} is a folder, not a file")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"path {str(out)!r} is not writable (no write access to {str(parent)!r})")
    return out


def _check_class_names(class_names, n_classes: int):
    if class_names is None:
        return None
    if isinstance(class_names, dict):
        return {int(k): str(v) for k, v in class_names.items()}
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise TypeError(f"class_names must be a sequence of names or a dict, got {type(class_names).__name__}")
    if len(class_names) != n_classes:
        raise ValueError(f"class_names must have one name per class ({n_classes}), got {len(class_names)}")
    return {i: str(name) for i, name in enumerate(class_names)}


# --------------------------------------------------------------------------- page parts
def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _records(d, coef, se, limit, ig_sums, sizes, centres, shapley=None) -> str:
    lines = []
    for j in range(d):
        attrs = {"data-superpixel": j, "data-coef": repr(float(coef[j])),
                 "data-se": repr(float(se[j])) if se is not None else "NaN"}
        if limit is not None:
            attrs["data-limit"] = repr(float(limit[j]))
        if ig_sums is not None:
            attrs["data-ig"] = repr(float(ig_sums[j]))
        if shapley is not None:
            attrs["data-shapley"] = repr(float(shapley[j]))
        attrs.update({"data-pixels": int(sizes[j]), "data-row": int(centres[j, 0]), "data-col": int(centres[j, 1])})
        lines.append("<li " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + f">superpixel {j}</li>")
    return "\n".join(lines)


def _rows(pairs) -> str:
    return "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs)


def _class_table(prediction, labels, explained, names, top_classes: int) -> str:
    order = np.argsort(-prediction, kind="stable")[:top_classes]
    rows = []
    for rank, c in enumerate(order, start=1):
        name = names.get(int(c), "") if names else ""
        cls = ' class="explained"' if int(c) == explained else (' class="other-label"' if c in labels else "")
        rows.append(f"<tr{cls}><td>{rank}</td><td>{int(c)}</td><td>{html.escape(name)}</td>"
                    f'<td class="num">{_fmt(float(prediction[c]))}</td></tr>')
    return "\n".join(rows)


def _mode_inputs(limit, ig_sums, shapley=None, method: str = "LIME") -> str:
    modes = [("lime", method, True), ("limit", "limit", limit is not None), ("ig", "IG sums", ig_sums is not None),
             ("shapley", "Shapley", shapley is not None)]
    shown = [m for m in modes if m[2]]
    if len(shown) == 1:
        return ""
    inputs = "".join(f'<label><input type="radio" name="mode" value="{v}"{" checked" if v == "lime" else ""}> {t}</label> '
                     for v, t, _ in shown)
    return f"<fieldset><legend>show</legend>{inputs}</fieldset>"


def _z95(explanation):
    """The 95% interval's multiplier of the standard errors (None, i.e. JSON null, when not finite)."""
    quantile = getattr(explanation, "interval_quantile", None)
    q = float(quantile(0.95)) if quantile is not None else 1.959963984540054
    return q if np.isfinite(q) else None


def _asset(name: str) -> str:
    return resources.files("limetheory").joinpath("viewer_assets", name).read_text(encoding="utf-8")


def explanation_html(explanation, *, label=None, limit=None, ig_sums=None, class_names=None,
                     top_classes: int = 5, seed=None, k: int | None = None, title: str | None = None,
                     output: str | None = None, shapley=None) -> str:
    """The viewer page of ``explanation`` as one HTML string (see :func:`write_html`)."""
    row = explanation._row(None if label is None else check_int(label, "label", 0))
    explained = int(explanation.labels[row])
    d = int(explanation.n_superpixels)
    limit = None if limit is None else check_vector(limit, "limit", d)
    ig_sums = None if ig_sums is None else check_vector(ig_sums, "ig_sums", d)
    shapley = None if shapley is None else check_vector(shapley, "shapley", d)
    method = "KernelSHAP" if getattr(explanation, "kernel", "lime") == "shap" else "LIME"
    prediction = np.asarray(explanation.prediction, dtype=np.float64).ravel()
    names = _check_class_names(class_names, prediction.size)
    top_classes = min(check_int(top_classes, "top_classes", 0), prediction.size)
    k = min(5, d) if k is None else check_int(k, "k", 0, d)
    if seed is not None:
        seed = check_int(seed, "seed", 0)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    unit = "the model's score" if output is None else f"the {OUTPUT_UNITS[check_choice(output, 'output', OUTPUTS)]} of the class"

    segments = np.asarray(explanation.segments)
    h, w = segments.shape
    se = None if explanation.coef_se is None else np.asarray(explanation.coef_se)[row]
    labels_b64, nbytes = encode_labels(segments)
    payload = {"width": w, "height": h, "scale": max(1, DISPLAY_SIZE // max(h, w)), "labels": labels_b64,
               "label_bytes": nbytes, "method": method,
               "z95": _z95(explanation)}
    label_name = names.get(explained, "") if names else ""
    heading = title or f"{method} explanation of class {explained}" + (f" ({label_name})" if label_name else "")
    settings = [("explained class", f"{explained}" + (f" ({label_name})" if label_name else "")),
                ("explained output", unit),
                ("superpixels d", d), ("n_samples", explanation.n_samples),
                ("kernel_width", _fmt(explanation.kernel_width)), ("ridge", _fmt(explanation.ridge)),
                ("design", explanation.design), ("seed", "not recorded" if seed is None else seed),
                ("intercept", _fmt(float(explanation.intercept[row]))), ("weighted R\u00b2", _fmt(float(explanation.score[row]))),
                ("image", f"{h} x {w}")]
    parts = {
        "title": html.escape(heading),
        "subtitle": html.escape(f"{d} superpixels, n = {explanation.n_samples} samples, kernel width "
                                f"{_fmt(explanation.kernel_width)}; values (LIME, limit and IG sums alike) in "
                                f"units of {unit}, coloured on a map symmetric around 0."),
        "css": _asset("viewer.css"),
        "js": _asset("viewer.js"),
        "modes": _mode_inputs(limit, ig_sums, shapley, method),
        "d": str(d),
        "k": str(k),
        "photo": png_data_uri(explanation.image),
        "records": _records(d, explanation.coef[row], se, limit, ig_sums,
                            np.bincount(segments.ravel(), minlength=d), interior_pixels(segments, d), shapley),
        "settings": _rows(settings),
        "classes": _class_table(prediction, explanation.labels, explained, names, top_classes),
        "payload": json.dumps(payload).replace("<", "\\u003c"),
    }
    # one pass, so that text inserted for one placeholder is never read as another
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("viewer.html"))


def write_html(explanation, path, *, label=None, limit=None, ig_sums=None, class_names=None,
               top_classes: int = 5, seed=None, k: int | None = None, title: str | None = None,
               output: str | None = None, shapley=None) -> Path:
    """Write the self-contained viewer of ``explanation`` to ``path`` (atomically); return the path.

    Parameters
    ----------
    explanation : :class:`~limetheory.explanation.Explanation`.
    path : where to write, ending in ``.html`` or ``.htm``; missing folders are created.
    label : the explained class to show (default: the first explained label).
    limit : (d,) the limit explanation beta_1..beta_d of the same label (e.g.
        ``limetheory.theory.limit_explanation(...)[1:]``: drop the intercept), or None.
    ig_sums : (d,) integrated-gradients sums per superpixel
        (:func:`limetheory.gradients.superpixel_sums`), or None.
    class_names : a name per class (sequence of length n_classes, or {index: name}), or None.
    top_classes : how many of the model's top classes to list (by the score on the image).
    seed : the seed of the run, shown with the settings (the Explanation does not record it).
    k : the slider's starting value, 0..d (default: min(5, d)).
    title : the page's heading (default: "LIME explanation of class ...").
    output : "prob" or "logit", what the explained model's values are (shown as the unit of every
        value on the page), or None ("the model's score").
    shapley : (d,) Shapley values of the same label (e.g. :func:`limetheory.theory.exact_shapley` of the
        superpixel game, or the ``coef`` of a ``kernel="shap"`` explanation), shown as a toggle, or None.
    """
    out = _check_path(path)
    page = explanation_html(explanation, label=label, limit=limit, ig_sums=ig_sums, class_names=class_names,
                            top_classes=top_classes, seed=seed, k=k, title=title, output=output, shapley=shapley)
    return write_text(out, page)
