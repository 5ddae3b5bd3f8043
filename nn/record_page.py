"""The training page's HTML, style and script (see nn.record). %TITLE% is HTML-escaped and
%DATA% is JSON without '<', '>' or '&'; the script draws text on canvases only."""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; }
header { padding: 8px 12px; border-bottom: 1px solid #ccc; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
button { font: inherit; padding: 2px 10px; }
#slider { flex: 1; min-width: 160px; }
#frame { font-family: ui-monospace, monospace; min-width: 26em; }
main { display: flex; flex-wrap: wrap; gap: 12px; padding: 10px; }
figure { margin: 0; width: min-content; }
figcaption { color: #555; font-size: 12px; }
canvas { border: 1px solid #ddd; background: #fff; }
</style></head>
<body data-frame="0">
<header><h1>%TITLE%</h1>
<button id="play" title="play / pause (space)">play</button>
<button id="prev" title="previous (left arrow)">&lt;</button>
<button id="next" title="next (right arrow)">&gt;</button>
<input id="slider" type="range" min="1" value="1" aria-label="frame">
<span id="frame"></span>
</header>
<main>
<figure id="fig-boundary"><canvas id="boundary" width="380" height="380"></canvas>
<figcaption>The decision boundary: the colour is the model's output at each point (blue one class,
orange the other, white undecided); the dots are the training data, coloured by their label.</figcaption></figure>
<figure><canvas id="loss" width="430" height="260"></canvas>
<figcaption id="losscap">Loss (log scale) up to the current frame; the faint line is the whole run.</figcaption></figure>
<figure><canvas id="grads" width="430" height="260"></canvas>
<figcaption>Gradient norm of each layer (log scale): how strongly each layer is being pushed.
They shrink as the loss flattens (with a hinge loss they drop once every point is past the
margin); a layer stuck near zero is not learning.</figcaption></figure>
</main>
<script>
"use strict";
(function () {
  const data = %DATA%;
  const $ = (id) => document.getElementById(id);
  const frames = data.frames, n = frames.length, unit = data.unit || "epoch";
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  let k = 0, timer = null;
  if (!data.box) $("fig-boundary").style.display = "none";
  const logNames = Array.from(new Set(frames.flatMap((f) => Object.keys(f.logs))));
  const lossNames = logNames.filter((s) => /loss/.test(s));
  const series = (names, get) => names.map((name, i) => ({name, color: palette[i % 10], ys: frames.map((f) => get(f, name))}));
  const lossSeries = series(lossNames.length ? lossNames : logNames.slice(0, 1), (f, s) => f.logs[s]);
  const gradSeries = series(data.layers, (f, s) => f.grad_norm[s]);
  function mix(a, b, t) { return a.map((x, i) => Math.round(x + (b[i] - x) * t)); }
  const blue = [59, 111, 182], white = [247, 247, 247], orange = [230, 126, 34];
  function cellColour(c) {
    const v = parseInt(c, 16);
    if (data.classes) return palette[v % 10];
    const t = v / 15;
    const rgb = t < 0.5 ? mix(blue, white, t * 2) : mix(white, orange, (t - 0.5) * 2);
    return "rgb(" + rgb.join(",") + ")";
  }
  function boundary() {
    if (!data.box) return;
    const cv = $("boundary"), g = cv.getContext("2d"), m = data.grid, f = frames[k];
    const [x0, x1, y0, y1] = data.box, W = cv.width, H = cv.height;
    g.clearRect(0, 0, W, H);
    // the grid at one pixel a cell, then scaled up smoothly
    const small = document.createElement("canvas"); small.width = m; small.height = m;
    const sg = small.getContext("2d");
    for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) {
      sg.fillStyle = cellColour(f.grid[r * m + c]);
      sg.fillRect(c, r, 1, 1);
    }
    g.imageSmoothingEnabled = true;
    g.drawImage(small, 0, 0, W, H);
    (data.points || []).forEach(([px, py], i) => {
      const label = data.labels ? data.labels[i] : 0;
      g.beginPath();
      g.arc((px - x0) / (x1 - x0) * W, (y1 - py) / (y1 - y0) * H, 3.5, 0, 2 * Math.PI);
      g.fillStyle = label === 0 ? "#1d4e89" : label === 1 ? "#c0392b" : palette[label % 10];
      g.fill(); g.strokeStyle = "#000"; g.lineWidth = 0.6; g.stroke();
    });
    g.fillStyle = "#000"; g.font = "12px system-ui, sans-serif";
    g.fillText(unit + " " + f.epoch, 6, 16);
  }
  function chart(id, ss, ylabel, best) {
    const cv = $(id), g = cv.getContext("2d"), W = cv.width, H = cv.height;
    const L = 62, R = 12, T = 12, B = 40;
    g.clearRect(0, 0, W, H);
    const vals = ss.flatMap((s) => s.ys).filter((v) => v !== null && v > 0);
    if (!vals.length) { g.fillText("no data", L, T + 20); return; }
    const lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals));
    const span = Math.max(hi - lo, 1e-9), first = frames[0].epoch, last = frames[n - 1].epoch;
    const X = (e) => L + (last === first ? 0.5 : (e - first) / (last - first)) * (W - L - R);
    const Y = (v) => T + (hi - Math.log10(v)) / span * (H - T - B);
    g.strokeStyle = "#999"; g.lineWidth = 1; g.beginPath(); g.moveTo(L, T); g.lineTo(L, H - B); g.lineTo(W - R, H - B); g.stroke();
    g.fillStyle = "#333"; g.font = "11px system-ui, sans-serif"; g.textAlign = "right";
    const steps = hi - lo < 2.5 ? [1, 2, 5] : [1];
    for (let p = Math.floor(lo); p <= Math.ceil(hi); p++) for (const m of steps) {
      const v = m * Math.pow(10, p), lv = Math.log10(v);
      if (lv < lo - 1e-9 || lv > hi + 1e-9) continue;
      g.fillText(String(+v.toPrecision(1)), L - 4, Y(v) + 4);
      g.strokeStyle = "#eee"; g.beginPath(); g.moveTo(L + 1, Y(v)); g.lineTo(W - R, Y(v)); g.stroke();
    }
    g.textAlign = "center";
    [first, Math.round((first + last) / 2), last].forEach((e) => g.fillText(String(e), X(e), H - B + 14));
    g.fillText(unit, (L + W - R) / 2, H - 6);
    g.save(); g.translate(12, (T + H - B) / 2); g.rotate(-Math.PI / 2); g.fillText(ylabel, 0, 0); g.restore();
    if (best) {
      g.strokeStyle = "#2c7a2c"; g.setLineDash([4, 3]); g.beginPath(); g.moveTo(X(best), T); g.lineTo(X(best), H - B); g.stroke(); g.setLineDash([]);
      g.fillStyle = "#2c7a2c"; g.textAlign = "left"; g.fillText("best " + unit + " " + best + " (restored)", X(best) + 3, T + 10);
    }
    ss.forEach((s, si) => {
      for (const [upto, alpha, width] of [[n - 1, 0.25, 1], [k, 1, 2]]) {
        g.strokeStyle = s.color; g.globalAlpha = alpha; g.lineWidth = width; g.beginPath();
        let pen = false;
        for (let i = 0; i <= upto; i++) {
          const v = s.ys[i];
          if (v === null || !(v > 0)) { pen = false; continue; }
          if (pen) g.lineTo(X(frames[i].epoch), Y(v)); else g.moveTo(X(frames[i].epoch), Y(v));
          pen = true;
        }
        g.stroke();
      }
      g.globalAlpha = 1;
      const v = s.ys[k];
      if (v !== null && v > 0) { g.fillStyle = s.color; g.beginPath(); g.arc(X(frames[k].epoch), Y(v), 3, 0, 2 * Math.PI); g.fill(); }
      g.fillStyle = s.color; g.textAlign = "left"; g.fillRect(W - R - 120, T + 4 + 14 * si, 10, 3);
      g.fillStyle = "#333"; g.fillText(s.name, W - R - 106, T + 9 + 14 * si);
    });
  }
  function fmt(v) { return v === null || v === undefined ? "—" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(2); }
  function show(i) {
    k = Math.max(0, Math.min(n - 1, i));
    const f = frames[k];
    boundary();
    chart("loss", lossSeries, lossSeries.map((s) => s.name).join(", "), data.best_epoch);
    chart("grads", gradSeries, "gradient norm", data.best_epoch);
    $("frame").textContent = unit + " " + f.epoch + " of " + frames[n - 1].epoch + ": " +
      Object.entries(f.logs).map(([a, b]) => a + " " + fmt(b)).join(", ");
    $("slider").value = k + 1;
    document.body.dataset.frame = k + 1;
  }
  function pause() { clearInterval(timer); timer = null; $("play").textContent = "play"; }
  function play() {
    if (timer) return pause();
    if (k === n - 1) show(0);
    $("play").textContent = "pause";
    timer = setInterval(() => { if (k >= n - 1) pause(); else show(k + 1); }, Math.max(40, 4000 / n));
  }
  $("play").onclick = play;
  $("prev").onclick = () => { pause(); show(k - 1); };
  $("next").onclick = () => { pause(); show(k + 1); };
  $("slider").max = n;
  $("slider").oninput = (e) => { pause(); show(+e.target.value - 1); };
  document.addEventListener("keydown", (e) => {
    const act = {ArrowRight: () => show(k + 1), ArrowLeft: () => show(k - 1), " ": play,
                 Home: () => show(0), End: () => show(n - 1)}[e.key];
    if (act && e.target.tagName !== "INPUT") { e.preventDefault(); if (e.key !== " ") pause(); act(); }
  });
  window.vg = {frames, show: (i) => show(i - 1), play, pause, frame: () => k + 1};
  show(n - 1);
  document.body.dataset.ready = "1";
})();
</script></body></html>
"""
