"""The HTML, style and script of the backward page (see draw_backward). %TITLE%, %SVG%,
%STEPS%, %HINT% and %DETAIL% are filled in once; every user string reaches the page escaped (the
title as HTML, the steps as JSON without '<', '>' or '&'), and the script writes text with
textContent only, never as HTML."""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; display: flex; flex-direction: column; height: 100vh; }
header { padding: 6px 12px; border-bottom: 1px solid #ccc; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
button { font: inherit; padding: 2px 9px; }
#slider { flex: 1; min-width: 100px; }
#find { width: 14em; }
#found { color: #a33; font-size: 12px; }
main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1; overflow: hidden; min-width: 0; cursor: grab; background: #fff; }
#graph svg { width: 100%; height: 100%; display: block; }
aside { width: 44%; min-width: 320px; max-width: 720px; border-left: 1px solid #ccc; padding: 8px 12px; overflow: auto; background: #fafafa; }
body.full aside { width: 30%; }
#name { font-weight: bold; font-size: 16px; overflow-wrap: anywhere; }
#grad { font-family: ui-monospace, monospace; font-size: 14px; margin: 6px 0; overflow-wrap: anywhere; }
#formula div, #sub div.line { font-family: ui-monospace, monospace; font-size: 13px; margin: 5px 0; padding: 5px; background: #fff; border: 1px solid #ddd; white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 11px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 1px 5px; text-align: right; }
th { background: #f0f0f0; font-family: system-ui, sans-serif; }
#sub section { border-left: 3px solid #ccc; padding-left: 6px; margin: 6px 0; }
#sub section.here { border-left-color: #d62728; background: #fff6e0; }
#sub h3 { font-size: 13px; margin: 4px 0; overflow-wrap: anywhere; }
.hint { color: #666; font-size: 12px; }
g.node.current polygon:first-of-type, g.node.current ellipse, g.node.current path { fill: #fff3a0 !important; }
g.node.current polygon, g.node.current ellipse, g.node.current path { stroke: #d62728 !important; stroke-width: 3px; }
g.node.user polygon, g.node.user path, g.node.user ellipse { stroke: #1f77b4 !important; stroke-width: 2.5px; }
g.node.via ellipse { stroke: #d62728 !important; stroke-width: 2px; fill: #ffe3e3 !important; }
g.edge.via path { stroke: #d62728 !important; stroke-width: 2.5px; }
g.edge.via polygon { stroke: #d62728 !important; fill: #d62728 !important; }
g.node.pending text.grad { fill: #999; }
g.node.flash polygon, g.node.flash path { stroke: #ff7f0e !important; stroke-width: 5px; }
</style></head>
<body data-step="0" class="%DETAIL%">
<header><h1>%TITLE%</h1>
<button id="first" title="first step (Home)">|&lt;</button>
<button id="prev" title="previous step (left arrow)">&lt; prev</button>
<button id="play" title="play / pause (space)">play</button>
<button id="next" title="next step (right arrow)">next &gt;</button>
<button id="last" title="last step (End)">&gt;|</button>
<input id="slider" type="range" min="1" value="1" aria-label="step">
<span id="counter"></span>
<input id="find" type="search" placeholder="find a label (/)" aria-label="find a node by its label">
<span id="found"></span>
<button id="zoomout" title="zoom out (-)">&minus;</button>
<button id="fit" title="fit the whole graph (0)">fit</button>
<button id="zoomin" title="zoom in (+)">+</button>
</header>
<main><div id="graph">%SVG%</div>
<aside><div id="name"></div><div id="grad"></div><div id="formula"></div><div id="table"></div>
<p><button id="open" hidden title="the scalar chain-rule steps of this neuron (o)"></button></p>
<div id="sub"></div>
<p class="hint">%HINT% Drag to pan, wheel to zoom. The address #step=N opens step N.</p></aside></main>
<script>
"use strict";
(function () {
  const steps = %STEPS%;
  const $ = (id) => document.getElementById(id);
  const svg = $("graph").querySelector("svg");
  const byTitle = {};
  for (const g of svg.querySelectorAll("g.node")) {
    const t = g.querySelector("title");
    if (t && !(t.textContent in byTitle)) byTitle[t.textContent] = g;
  }
  const el = (id) => { const e = document.getElementById(id); return e && svg.contains(e) ? e : byTitle[id] || null; };
  let k = 0, timer = null, opened = false, sub = 0;
  // the grad lines of a node: its first text starting with "grad" and the lines after it
  const gradTexts = new Map();
  for (const s of steps) for (const id of s.ids) {
    const e = el(id);
    if (!e || gradTexts.has(e)) continue;
    const texts = Array.from(e.querySelectorAll("text"));
    const i = texts.findIndex((t) => t.textContent.startsWith("grad"));
    const kept = texts.slice(i < 0 ? texts.length : i).map((t) => [t, t.textContent]);
    kept.forEach(([t]) => t.classList.add("grad"));
    gradTexts.set(e, kept);
  }
  // -- pan and zoom: the viewBox moves, the page never scrolls
  const vb0 = svg.viewBox.baseVal;
  const home = [vb0.x, vb0.y, vb0.width, vb0.height];
  let vb = home.slice();
  svg.removeAttribute("width"); svg.removeAttribute("height");
  const setVB = () => svg.setAttribute("viewBox", vb.join(" "));
  const perPx = () => { const r = svg.getBoundingClientRect(); return Math.max(vb[2] / r.width, vb[3] / r.height) || 1; };
  function toUser(cx, cy) {
    const r = svg.getBoundingClientRect(), s = perPx();
    return [vb[0] + vb[2] / 2 + (cx - r.left - r.width / 2) * s, vb[1] + vb[3] / 2 + (cy - r.top - r.height / 2) * s];
  }
  function zoom(f, cx, cy) {
    const r = svg.getBoundingClientRect();
    const [ux, uy] = toUser(cx === undefined ? r.left + r.width / 2 : cx, cy === undefined ? r.top + r.height / 2 : cy);
    vb = [ux - (ux - vb[0]) * f, uy - (uy - vb[1]) * f, vb[2] * f, vb[3] * f];
    setVB();
  }
  function fit() { vb = home.slice(); setVB(); }
  function bounds(ids) {  // the screen box around the step's nodes
    let r = null;
    for (const id of ids) {
      const e = el(id);
      if (!e) continue;
      const b = e.getBoundingClientRect();
      r = r ? {left: Math.min(r.left, b.left), top: Math.min(r.top, b.top), right: Math.max(r.right, b.right),
               bottom: Math.max(r.bottom, b.bottom)} : {left: b.left, top: b.top, right: b.right, bottom: b.bottom};
    }
    return r;
  }
  function centre(ids, readable) {  // bring the nodes into view; readable: zoom to ~1 px per point
    const r = svg.getBoundingClientRect(), b = bounds(ids);
    if (!b) return;
    if (readable && perPx() > 1.25) {
      let [x0, y0] = toUser(b.left, b.top), [x1, y1] = toUser(b.right, b.bottom);
      let s = Math.max(1, (x1 - x0) / (0.9 * r.width), (y1 - y0) / (0.9 * r.height));
      if (s > 1.6) {  // too spread out to read whole: read the first node, pan for the rest
        const f = bounds(ids.slice(0, 1));
        [x0, y0] = toUser(f.left, f.top); [x1, y1] = toUser(f.right, f.bottom); s = 1.6;
        x0 -= 0.35 * r.width * s; x1 -= 0.35 * r.width * s;  // and what comes before it, on its left
      }
      vb = [(x0 + x1) / 2 - r.width * s / 2, (y0 + y1) / 2 - r.height * s / 2, r.width * s, r.height * s];
      setVB(); return;
    }
    if (b.left < r.left || b.right > r.right || b.top < r.top || b.bottom > r.bottom) {
      const s = perPx();
      vb[0] += ((b.left + b.right) / 2 - r.left - r.width / 2) * s;
      vb[1] += ((b.top + b.bottom) / 2 - r.top - r.height / 2) * s;
      setVB();
    }
  }
  let drag = null;
  svg.addEventListener("pointerdown", (e) => { drag = [e.clientX, e.clientY]; svg.setPointerCapture(e.pointerId); });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const s = perPx();
    vb[0] -= (e.clientX - drag[0]) * s; vb[1] -= (e.clientY - drag[1]) * s;
    drag = [e.clientX, e.clientY]; setVB();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY > 0 ? 1.2 : 1 / 1.2, e.clientX, e.clientY); }, {passive: false});
  // -- the steps
  const marked = [];
  function mark(id, cls) {
    const e = el(id);
    if (e) { e.classList.add(cls); marked.push([e, cls]); }
  }
  function text(tag, content, cls) {
    const d = document.createElement(tag); d.textContent = content; if (cls) d.className = cls; return d;
  }
  function table(t) {
    if (!t) return [];
    const tab = document.createElement("table"), head = document.createElement("tr");
    t.cols.forEach((c) => head.appendChild(text("th", c)));
    tab.appendChild(head);
    for (const row of t.rows) {
      const tr = document.createElement("tr");
      row.forEach((c) => tr.appendChild(text("td", c)));
      tab.appendChild(tr);
    }
    return [tab];
  }
  function showSub() {
    const s = steps[k];
    $("open").hidden = !(s.sub && s.sub.length);
    if (!s.sub) return;
    $("open").textContent = (opened ? "close" : "open") + ": " + s.sub.length + " scalar steps (o)";
    if (!opened) { $("sub").replaceChildren(); document.body.dataset.sub = ""; return; }
    sub = Math.max(0, Math.min(s.sub.length - 1, sub));
    $("sub").replaceChildren(...s.sub.map(([name, lines], j) => {
      const sec = document.createElement("section");
      if (j === sub) sec.className = "here";
      sec.appendChild(text("h3", (j + 1) + ". " + name));
      lines.forEach((l) => sec.appendChild(text("div", l, "line")));
      return sec;
    }));
    document.body.dataset.sub = sub + 1;
    const here = $("sub").querySelector("section.here");
    if (here && here.scrollIntoView) here.scrollIntoView({block: "nearest"});
  }
  function show(n) {
    if (n !== k) sub = 0;
    k = Math.max(0, Math.min(steps.length - 1, n));
    steps.forEach((s, j) => {
      for (const id of s.ids) {
        const e = el(id);
        if (!e) continue;
        e.classList.toggle("current", j === k);
        e.classList.toggle("pending", j > k);
        (gradTexts.get(e) || []).forEach(([t, content], line) => {
          t.textContent = j <= k ? content : (line === 0 ? "grad ?" : "");
        });
      }
    });
    marked.splice(0).forEach(([e, cls]) => e.classList.remove(cls));
    const s = steps[k];
    s.users.forEach((u) => mark(u, "user"));
    s.via.forEach((v) => mark(v, "via"));
    s.edges.forEach((e) => mark(e, "via"));
    $("name").textContent = "step " + (k + 1) + ": " + s.name + " (" + s.kind + ")";
    $("grad").textContent = s.grad;
    $("formula").replaceChildren(...s.lines.map((line) => text("div", line)));
    $("table").replaceChildren(...table(s.table));
    showSub();
    $("counter").textContent = "step " + (k + 1) + " of " + steps.length;
    $("slider").value = k + 1;
    document.body.dataset.step = k + 1;
    document.body.dataset.node = s.id;
    try {  // (a sandboxed notebook frame may refuse to change its address: the page works on)
      if (location.hash !== "#step=" + (k + 1)) history.replaceState(null, "", "#step=" + (k + 1));
    } catch (e) { /* ignored */ }
    centre(s.ids, false);
  }
  function pause() { clearInterval(timer); timer = null; $("play").textContent = "play"; }
  function play() {
    if (timer) return pause();
    if (k === steps.length - 1) show(0);
    $("play").textContent = "pause";
    timer = setInterval(() => { if (k >= steps.length - 1) pause(); else show(k + 1); }, 900);
  }
  function open(on) { opened = on === undefined ? !opened : on; showSub(); }
  let lastFind = -1;
  function find(q) {
    q = q.trim().toLowerCase();
    if (!q) return;
    const hit = (j) => steps[j].find.some((f) => f.toLowerCase() === q);
    const near = (j) => steps[j].find.some((f) => f.toLowerCase().includes(q));
    const order = steps.map((_, i) => (i + lastFind + 1) % steps.length);
    const j = order.find(hit) ?? order.find(near);
    if (j === undefined) { $("found").textContent = "no node labelled " + q; return; }
    lastFind = j;
    $("found").textContent = "";
    pause(); show(j);
    const s = steps[j], e = el(s.id);
    centre(s.ids, true);
    if (e) { e.classList.add("flash"); setTimeout(() => e.classList.remove("flash"), 1200); }
    const i = s.sub ? s.sub.findIndex(([name]) => name.toLowerCase().includes(q)) : -1;
    if (i >= 0 && s.sub.length > 1) { sub = i; open(true); }
  }
  const fromHash = () => { const m = /step=(\d+)/.exec(location.hash); return m ? +m[1] - 1 : 0; };
  $("first").onclick = () => { pause(); show(0); };
  $("prev").onclick = () => { pause(); show(k - 1); };
  $("next").onclick = () => { pause(); show(k + 1); };
  $("last").onclick = () => { pause(); show(steps.length - 1); };
  $("play").onclick = play;
  $("open").onclick = () => open();
  $("zoomin").onclick = () => zoom(1 / 1.4);
  $("zoomout").onclick = () => zoom(1.4);
  $("fit").onclick = fit;
  $("slider").max = steps.length;
  $("slider").oninput = (e) => { pause(); show(+e.target.value - 1); };
  $("find").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); find(e.target.value); }
    if (e.key === "Escape") e.target.blur();
  });
  window.addEventListener("hashchange", () => show(fromHash()));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
    const act = {ArrowRight: () => show(k + 1), ArrowLeft: () => show(k - 1), " ": play,
                 Home: () => show(0), End: () => show(steps.length - 1), o: () => open(),
                 ArrowDown: () => { if (opened) { sub += 1; showSub(); } },
                 ArrowUp: () => { if (opened) { sub -= 1; showSub(); } },
                 "+": () => zoom(1 / 1.4), "=": () => zoom(1 / 1.4), "-": () => zoom(1.4), "0": fit,
                 "/": () => $("find").focus()}[e.key];
    if (act) {
      e.preventDefault();
      if (e.key !== " ") pause();
      act();
    }
  });
  window.vg = {steps, show: (n) => show(n - 1), next: () => show(k + 1), prev: () => show(k - 1),
               play, pause, open, find, zoom, fit, step: () => k + 1, viewBox: () => vb.slice()};
  show(fromHash());
  if (steps.length > 30) centre(steps[k].ids, true);
  document.body.dataset.ready = Math.round(performance.now());  // ms since the page began to load
})();
</script></body></html>
"""
