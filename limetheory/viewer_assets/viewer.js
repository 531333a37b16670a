// limetheory's explanation viewer: everything it shows comes from this page (no network).
// Records: one <li data-superpixel data-coef data-se [data-limit] [data-ig] [data-shapley]> per superpixel.
(function () {
  "use strict";
  var STOPS = [[142, 1, 82], [222, 119, 174], [247, 247, 247], [127, 188, 65], [39, 100, 25]];  // PiYG
  var POS_EDGE = [20, 90, 10], NEG_EDGE = [120, 0, 70], HOVER_EDGE = [255, 214, 0];

  var data = JSON.parse(document.getElementById("viewer-data").textContent);
  // 95% intervals coef +- Z95 * se: Student's t quantile of the standard errors' degrees of freedom
  var Z95 = typeof data.z95 === "number" && isFinite(data.z95) ? data.z95 : Infinity;
  var W = data.width, H = data.height, S = data.scale, DW = W * S, DH = H * S;
  var items = Array.prototype.slice.call(document.querySelectorAll("#superpixels > li"));
  var d = items.length;
  var METHOD = data.method || "LIME";  // the explanation's own method: LIME or KernelSHAP
  var MODE_ATTR = {lime: "coef", limit: "limit", ig: "ig", shapley: "shapley"};
  var MODE_NAME = {lime: METHOD, limit: "limit", ig: "IG sum", shapley: "Shapley"};

  function column(attr) {
    var out = new Float64Array(d);
    for (var i = 0; i < d; i++) {
      var v = items[i].getAttribute("data-" + attr);
      if (v === null) return null;
      out[+items[i].getAttribute("data-superpixel")] = Number(v);
    }
    return out;
  }
  var values = {lime: column("coef"), limit: column("limit"), ig: column("ig"), shapley: column("shapley")};
  var se = column("se");  // all NaN when the explanation carries no standard errors
  if (se !== null && !Array.prototype.some.call(se, isFinite)) se = null;
  var sizes = column("pixels");
  var byIndex = new Array(d);
  items.forEach(function (li) { byIndex[+li.getAttribute("data-superpixel")] = li; });

  // Per-pixel superpixel labels: little-endian unsigned integers, base64.
  function decodeLabels() {
    var raw = atob(data.labels), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var view = new DataView(bytes.buffer), out = new Int32Array(W * H), nb = data.label_bytes;
    for (var p = 0; p < W * H; p++) out[p] = nb === 2 ? view.getUint16(2 * p, true) : view.getUint32(4 * p, true);
    return out;
  }
  var seg = decodeLabels();
  var lab = new Int32Array(DW * DH);  // label of each displayed pixel
  for (var y = 0; y < DH; y++) {
    var row = ((y / S) | 0) * W;
    for (var x = 0; x < DW; x++) lab[y * DW + x] = seg[row + ((x / S) | 0)];
  }
  // Chessboard distance (displayed pixels) to the nearest pixel with a 4-neighbour of another label.
  var dist = new Float32Array(DW * DH);
  (function () {
    var BIG = 1e9, p, x, y;
    for (y = 0; y < DH; y++) for (x = 0; x < DW; x++) {
      p = y * DW + x; var l = lab[p];
      var edge = (x > 0 && lab[p - 1] !== l) || (x < DW - 1 && lab[p + 1] !== l) ||
                 (y > 0 && lab[p - DW] !== l) || (y < DH - 1 && lab[p + DW] !== l);
      dist[p] = edge ? 0 : BIG;
    }
    for (y = 0; y < DH; y++) for (x = 0; x < DW; x++) {
      p = y * DW + x;
      if (x > 0) dist[p] = Math.min(dist[p], dist[p - 1] + 1);
      if (y > 0) dist[p] = Math.min(dist[p], dist[p - DW] + 1);
      if (x > 0 && y > 0) dist[p] = Math.min(dist[p], dist[p - DW - 1] + 1);
      if (x < DW - 1 && y > 0) dist[p] = Math.min(dist[p], dist[p - DW + 1] + 1);
    }
    for (y = DH - 1; y >= 0; y--) for (x = DW - 1; x >= 0; x--) {
      p = y * DW + x;
      if (x < DW - 1) dist[p] = Math.min(dist[p], dist[p + 1] + 1);
      if (y < DH - 1) dist[p] = Math.min(dist[p], dist[p + DW] + 1);
      if (x < DW - 1 && y < DH - 1) dist[p] = Math.min(dist[p], dist[p + DW + 1] + 1);
      if (x > 0 && y < DH - 1) dist[p] = Math.min(dist[p], dist[p + DW - 1] + 1);
    }
  })();

  var canvas = document.getElementById("canvas");
  canvas.width = DW; canvas.height = DH;
  document.getElementById("view").style.maxWidth = Math.max(DW, 440) + "px";
  var ctx = canvas.getContext("2d");
  var form = document.getElementById("controls");
  var slider = form.elements.k;
  var readout = document.getElementById("readout");
  var photo = null, hover = -1;

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(4)));
    return v.toExponential(3);
  }
  function ramp(t) {  // t in [-1, 1] -> [r, g, b]
    var u = (Math.max(-1, Math.min(1, t)) + 1) * 2, i = Math.min(3, Math.floor(u)), f = u - i;
    var a = STOPS[i], b = STOPS[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }
  function state() {
    var mode = form.elements.mode ? form.elements.mode.value : "lime";
    return {mode: values[mode] ? mode : "lime", k: +slider.value, alpha: +form.elements.opacity.value / 100,
            outlines: form.elements.outlines.checked, hatch: form.elements.hatch.checked};
  }
  // Top-k positive (largest > 0) and top-k negative (most negative < 0): +1 / -1 / 0 per superpixel.
  function highlight(vals, k) {
    var order = Array.prototype.map.call(vals, function (_, i) { return i; });
    var pos = order.filter(function (i) { return vals[i] > 0; }).sort(function (a, b) { return vals[b] - vals[a] || a - b; });
    var neg = order.filter(function (i) { return vals[i] < 0; }).sort(function (a, b) { return vals[a] - vals[b] || a - b; });
    var hl = new Int8Array(d);
    pos.slice(0, k).forEach(function (i) { hl[i] = 1; });
    neg.slice(0, k).forEach(function (i) { hl[i] = -1; });
    return {hl: hl, pos: pos.slice(0, k), neg: neg.slice(0, k)};
  }
  function uncertain(j) { return se !== null && isFinite(se[j]) && Math.abs(values.lime[j]) <= Z95 * se[j]; }

  function render() {
    var st = state(), vals = values[st.mode], vmax = 0, j;
    for (j = 0; j < d; j++) vmax = Math.max(vmax, Math.abs(vals[j]));
    if (!(vmax > 0)) vmax = 1;
    var top = highlight(vals, st.k), hl = top.hl, col = new Array(d), hatch = new Uint8Array(d);
    for (j = 0; j < d; j++) {
      col[j] = ramp(vals[j] / vmax);
      hatch[j] = st.hatch && st.mode === "lime" && uncertain(j) ? 1 : 0;
    }
    var out = ctx.createImageData(DW, DH), o = out.data, base = photo.data, dimRest = st.k > 0;
    for (var p = 0, y = 0; y < DH; y++) for (var x = 0; x < DW; x++, p++) {
      j = lab[p];
      var q = 4 * p, r = base[q], g = base[q + 1], b = base[q + 2], a = st.alpha, c = col[j];
      if (dimRest && !hl[j]) {  // the rest: half the overlay, a washed-out photo
        a *= 0.5; var grey = 0.3 * r + 0.59 * g + 0.11 * b;
        r = 0.55 * r + 0.25 * grey + 40; g = 0.55 * g + 0.25 * grey + 40; b = 0.55 * b + 0.25 * grey + 40;
      }
      r += a * (c[0] - r); g += a * (c[1] - g); b += a * (c[2] - b);
      if (hatch[j] && (x + y) % 10 < 2) { r *= 0.35; g *= 0.35; b *= 0.35; }
      var e = dist[p];
      if (hl[j] && e < 3) { c = hl[j] > 0 ? POS_EDGE : NEG_EDGE; r = c[0]; g = c[1]; b = c[2]; }
      else if (st.outlines && e < 1) { r = 0.4 * r + 153; g = 0.4 * g + 153; b = 0.4 * b + 153; }
      if (j === hover && e < 2) { c = HOVER_EDGE; r = c[0]; g = c[1]; b = c[2]; }
      o[q] = r; o[q + 1] = g; o[q + 2] = b; o[q + 3] = 255;
    }
    ctx.putImageData(out, 0, 0);
    items.forEach(function (li) {
      var i = +li.getAttribute("data-superpixel");
      li.classList.toggle("highlighted", hl[i] !== 0);
      li.setAttribute("data-highlight", hl[i] > 0 ? "positive" : hl[i] < 0 ? "negative" : "none");
    });
    var count = top.pos.length + top.neg.length;
    document.getElementById("highlight-count").textContent = String(count);
    document.getElementById("highlight-count").setAttribute("data-count", String(count));
    document.getElementById("k-value").textContent = String(st.k);
    document.getElementById("vmin").textContent = fmt(-vmax);
    document.getElementById("vmax").textContent = fmt(vmax);
    document.getElementById("mode-name").textContent = MODE_NAME[st.mode];
    document.getElementById("top-value-head").textContent = st.mode === "lime" && se ? "value (\u00b1 95% half-width)" : "value";
    fillTop(top, vals, st.mode);
    document.body.setAttribute("data-mode", st.mode);
  }

  function fillTop(top, vals, mode) {
    var body = document.getElementById("top-body");
    while (body.firstChild) body.removeChild(body.firstChild);
    top.pos.concat(top.neg).forEach(function (j) {
      var tr = document.createElement("tr");
      var cells = [String(j), fmt(vals[j]) + (mode === "lime" && se && isFinite(se[j]) ? " \u00b1 " + fmt(Z95 * se[j]) : ""),
                   mode === "lime" && uncertain(j) ? "contains 0" : ""];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i === 1) td.className = vals[j] > 0 ? "pos-text" : "neg-text";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function span(cls, text) { var s = document.createElement("span"); s.className = cls; s.textContent = text; return s; }
  function showReadout(j) {
    while (readout.firstChild) readout.removeChild(readout.firstChild);
    if (j < 0) { readout.removeAttribute("data-superpixel"); readout.textContent = "Point at a superpixel."; return; }
    var li = byIndex[j], c = values.lime[j];
    readout.setAttribute("data-superpixel", String(j));
    var b = document.createElement("b"); b.appendChild(document.createTextNode("Superpixel "));
    b.appendChild(span("readout-index", String(j)));
    readout.appendChild(b);
    readout.appendChild(document.createTextNode(" (" + sizes[j] + " pixels)  " + METHOD + ": "));
    readout.appendChild(span("readout-coef", fmt(c)));
    if (se !== null && isFinite(se[j])) {
      readout.appendChild(document.createTextNode(" \u00b1 "));
      readout.appendChild(span("readout-halfwidth", fmt(Z95 * se[j])));
      readout.appendChild(document.createTextNode(" (95%: [" + fmt(c - Z95 * se[j]) + ", " + fmt(c + Z95 * se[j]) + "]) "));
      if (uncertain(j)) readout.appendChild(span("uncertain", "interval contains 0 "));
    }
    if (values.limit) { readout.appendChild(document.createTextNode(" \u00b7 limit: ")); readout.appendChild(span("readout-limit", fmt(values.limit[j]))); }
    if (values.ig) { readout.appendChild(document.createTextNode(" \u00b7 IG sum: ")); readout.appendChild(span("readout-ig", fmt(values.ig[j]))); }
    if (values.shapley) { readout.appendChild(document.createTextNode(" \u00b7 Shapley: ")); readout.appendChild(span("readout-shapley", fmt(values.shapley[j]))); }
    readout.appendChild(document.createTextNode(" \u00b7 highlighted: " + li.getAttribute("data-highlight")));
  }
  function pointed(ev) {
    var rect = canvas.getBoundingClientRect();
    var x = Math.floor((ev.clientX - rect.left) * DW / rect.width), y = Math.floor((ev.clientY - rect.top) * DH / rect.height);
    return x >= 0 && y >= 0 && x < DW && y < DH ? lab[y * DW + x] : -1;
  }
  function setHover(j) { if (j !== hover) { hover = j; showReadout(j); render(); } }

  function start() {
    var off = document.createElement("canvas");
    off.width = DW; off.height = DH;
    var octx = off.getContext("2d");
    octx.imageSmoothingEnabled = S < 4;  // small images (digits) stay crisp pixels
    octx.drawImage(document.getElementById("photo"), 0, 0, DW, DH);
    photo = octx.getImageData(0, 0, DW, DH);
    form.addEventListener("input", render);
    form.addEventListener("change", render);
    canvas.addEventListener("pointermove", function (ev) { setHover(pointed(ev)); });
    canvas.addEventListener("pointerleave", function () { setHover(-1); });
    if (se === null) {  // nothing to hatch
      form.elements.hatch.checked = false;
      form.elements.hatch.disabled = true;
      document.getElementById("hatch-legend").hidden = true;
    }
    showReadout(-1);
    render();
    document.body.setAttribute("data-ready", "true");
  }
  var img = document.getElementById("photo");
  if (img.complete && img.naturalWidth > 0) start(); else img.addEventListener("load", start);
})();
