"""Backprop, step by step: one HTML page that replays the backward pass node by node.

Each step is one node, in the order `backward()` visits them (reverse topological order:
every node after all the nodes that use it). The step highlights the node, whose gradient is
now complete, and shows the chain-rule products that filled it: for each use of the node,
grad(use) x d(use)/d(node). Buttons (or the arrow keys) go back and forth or play; the
address `page.html#step=3` opens step 3. The page needs no network: the drawing (SVG),
the style and the script are all inside it.

    >>> from autograd import Value
    >>> from autograd.draw_backward import backward_steps
    >>> a, b = Value(2.0, label='a'), Value(-3.0, label='b')
    >>> c = a * b
    >>> c.label = 'c'
    >>> [s.name for s in backward_steps(c)]
    ['c', 'a', 'b']
    >>> print(backward_steps(c)[1].lines()[0])
    c = a * b, so ∂c/∂a = b = -3.0000
    grad(c) × ∂c/∂a = 1.0000 × -3.0000 = -3.0000

`draw_backward(c, 'steps.html')` writes the page (it renders the drawing, so it needs the
renderer that `autograd.draw` uses).
"""
from __future__ import annotations

import html
import json
import pathlib
import re

import numpy as np

from .backward import topological_order
from .draw import GraphInfo, _build, op_label, summary
from .files import atomic_write
from .ops import ndarray

# d(out)/d(input i) of each operation, in words: out is the node, a and b its inputs
_RULES = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{b}", "{a}"), "div": ("1/{b}", "-{out}/{b}"),
    "neg": ("-1",), "pow": ("{k}·{a}^({k}-1)",), "powv": ("{b}·{a}^({b}-1)", "{out}·log {a}"),
    "abs": ("sign({a})",), "exp": ("{out}",), "log": ("1/{a}",), "sqrt": ("0.5/{out}",),
    "tanh": ("1 - {out}²",), "sigmoid": ("{out}·(1 - {out})",), "relu": ("[{a} > 0]",),
    "leaky_relu": ("1 if {a} > 0 else {k}",), "softplus": ("sigmoid({a})",),
    "clamp": ("[{a} inside {k}]",), "batch_sum": ("1",), "batch_mean": ("1/n",),
    "logsumexp": ("exp({x} - {out})",),
    "sin": ("cos({a})",), "cos": ("-sin({a})",), "square": ("2·{a}",), "erf": ("2/√π·exp(-{a}²)",),
    "gelu": ("Φ({a}) + {a}·φ({a})",), "elu": ("1 if {a} > 0 else {k}·exp({a})",),
    "silu": ("s·(1 + {a}·(1 - s)), s = sigmoid({a})",),
    "maximum": ("[{a} > {b}], ½ on a tie", "[{b} > {a}], ½ on a tie"),
    "minimum": ("[{a} < {b}], ½ on a tie", "[{b} < {a}], ½ on a tie"),
}


class Step:
    """One step of the replay: `node`, its completed `grad`, and `terms`, one per use of the
    node: (the using node, the input position, grad of the user, local derivative, product)."""

    def __init__(self, node, grad, terms, names):
        self.node, self.grad, self.terms, self._names = node, grad, terms, names

    @property
    def name(self):
        """The node's label, or '#i' (the drawing shows it so) when it has none."""
        return self._names[self.node]

    def lines(self):
        """The chain rule for this node, as text."""
        name = self.name
        if not self.terms:
            seed = "1 for every example" if type(self.grad) is ndarray else "1"
            return [f"grad({name}) = {seed}  (the start: d{name}/d{name} = 1)"]
        out = []
        for user, i, g, local, part in self.terms:
            u, rule = self._names[user], _rule(user, i, self._names)
            value = "" if _is_number(rule) else f" = {summary(local)}"
            total = " (summed over the batch)" if type(part) is not ndarray and type(g) is ndarray else ""
            out.append(f"{u} = {_formula(user, self._names)}, so ∂{u}/∂{name} = {rule}{value}\n"
                       f"grad({u}) × ∂{u}/∂{name} = {summary(g)} × {summary(local)} = {summary(part)}{total}")
        if len(self.terms) > 1:
            out.append(f"grad({name}) = the sum of these {len(self.terms)} = {summary(self.grad)}")
        else:
            out.append(f"grad({name}) = {summary(self.grad)}")
        return out


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _formula(v, names):
    ps = [names[p] for p in v.parents]
    if v.op in ("add", "sub", "mul", "div", "powv"):
        return f" {op_label(v)} ".join(ps)
    if v.op == "pow":
        return f"{ps[0]}{op_label(v)}"
    if v.op == "dot":
        n = len(ps) // 2
        return f"dot({_few(ps[:n])}; {_few(ps[n:])})"
    return f"{op_label(v)}({_few(ps)})"


def _few(names):
    return ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]}, …, {names[-1]}"


def _rule(v, i, names):
    ps = v.parents
    if v.op == "dot":  # d(sum w_j x_j)/dw_i = x_i and /dx_i = w_i
        n = len(ps) // 2
        return names[ps[(i + n) % (2 * n)]]
    if v.op == "sum":
        return "1"
    rules = _RULES.get(v.op)
    if rules is None:  # an operation added to ops.py after this table: the number still shows
        return f"the {v.op} rule"
    k = v.k
    words = dict(out=names[v], a=names[ps[0]], b=names[ps[1]] if len(ps) > 1 else "",
                 x=names[ps[i]], k=f"{k:g}" if isinstance(k, float) else k)
    return rules[min(i, len(rules) - 1)].format(**words)


def backward_steps(root):
    """The backward pass of `root`, one Step per node, without touching any `.grad`."""
    topo = topological_order(root)
    names = {v: v.label or f"#{i}" for i, v in enumerate(topo)}  # '#3' is the drawing's v3
    grads = {root: np.ones_like(root.data) if type(root.data) is ndarray else 1.0}
    terms = {v: [] for v in topo}
    steps = []
    for node in reversed(topo):
        g = grads.get(node, 0.0)
        steps.append(Step(node, g, terms[node], names))
        op = node._op
        if op is None:
            continue
        ps = node.parents
        xs = [p.data for p in ps]
        ones = np.ones_like(node.data) if type(node.data) is ndarray else 1.0
        parts, locals_ = _grads(op, g, node, xs), _grads(op, ones, node, xs)
        for i, (p, part, local) in enumerate(zip(ps, parts, locals_)):
            if type(p.data) is not ndarray and type(part) is ndarray:
                part = float(part.sum())  # a scalar used by a whole batch: as backward() does
            terms[p].append((node, i, g, local, part))
            grads[p] = part if p not in grads else grads[p] + part
    return steps


def _grads(op, g, node, xs):
    k = node._b
    if op.arity == "n":
        return op.backward(g, node.data, xs, k) if op.has_k else op.backward(g, node.data, xs)
    return op.backward(g, node.data, *xs, k) if op.has_k else op.backward(g, node.data, *xs)


def draw_backward(root, path, *, rankdir="LR", title=None):
    """Write the step-by-step page for `root`'s backward pass to `path`; return the path.

    The drawing shows every node (the full view); the gradients shown are those of this
    replay from `root` (seeded with 1), whatever `.grad` holds now.
    """
    steps = backward_steps(root)
    info = GraphInfo([root])
    ids = {v: f"v{i}" for i, v in enumerate(info.nodes)}
    graph = _build(info, "full", rankdir, "svg", page=True, grads={s.node: s.grad for s in steps})
    svg = graph.pipe(format="svg", encoding="utf-8", quiet=True)
    svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
    data = [{"id": ids[s.node], "name": s.name, "grad": summary(s.grad),
             "kind": info.kind(s.node), "lines": s.lines(),
             "users": [ids[u] for u, *_ in s.terms],
             "via": [f"o{ids[u][1:]}" for u, *_ in s.terms]} for s in steps]
    title = title or f"Backpropagation of {steps[0].name}, step by step"
    parts = {"TITLE": html.escape(title), "SVG": svg,
             "STEPS": json.dumps(data, ensure_ascii=False).replace("</", "<\\/")}
    # in one pass, since a label may hold '%SVG%'
    page = re.sub(r"%(TITLE|SVG|STEPS)%", lambda m: parts[m.group(1)], _PAGE)
    path = pathlib.Path(path)
    atomic_write(path, page)
    return path


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; display: flex; flex-direction: column; height: 100vh; }
header { padding: 8px 12px; border-bottom: 1px solid #ccc; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
button { font: inherit; padding: 3px 10px; }
#slider { flex: 1; min-width: 120px; }
main { flex: 1; display: flex; flex-direction: column; min-height: 0; }
#graph { flex: 1; overflow: auto; padding: 8px; min-height: 0; }
#graph.fit { overflow: hidden; }
#graph.fit svg { width: 100%; height: 100%; }
aside { max-height: 45vh; border-top: 1px solid #ccc; padding: 8px 14px; overflow: auto; background: #fafafa; }
#name { font-weight: bold; font-size: 16px; }
#grad { font-family: ui-monospace, monospace; font-size: 15px; margin: 6px 0; }
#formula div { font-family: ui-monospace, monospace; font-size: 14px; margin: 6px 0; padding: 6px; background: #fff; border: 1px solid #ddd; white-space: pre-wrap; }
.hint { color: #666; font-size: 12px; }
g.node.current polygon:first-of-type, g.node.current ellipse { fill: #fff3a0 !important; }
g.node.current polygon, g.node.current ellipse { stroke: #d62728 !important; stroke-width: 3px; }
g.node.user polygon { stroke: #1f77b4 !important; stroke-width: 2px; }
g.node.via ellipse { stroke: #d62728 !important; stroke-width: 2px; fill: #ffe3e3 !important; }
g.edge.via path { stroke: #d62728 !important; stroke-width: 2.5px; }
g.edge.via polygon { stroke: #d62728 !important; fill: #d62728 !important; }
g.node.pending text.grad { fill: #999; }
</style></head>
<body data-step="0">
<header><h1>%TITLE%</h1>
<button id="first" title="first step (Home)">|&lt;</button>
<button id="prev" title="previous step (left arrow)">&lt; prev</button>
<button id="play" title="play / pause (space)">play</button>
<button id="next" title="next step (right arrow)">next &gt;</button>
<button id="last" title="last step (End)">&gt;|</button>
<input id="slider" type="range" min="1" value="1">
<span id="counter"></span>
<label><input id="fit" type="checkbox" checked> fit</label>
</header>
<main><div id="graph" class="fit">%SVG%</div>
<aside><div id="name"></div><div id="grad"></div><div id="formula"></div>
<p class="hint">Red: the node whose gradient is complete at this step, and the operations
it went through. Blue: the nodes that used it, whose gradients were complete before.
Gradients not yet known show "grad ?". The address #step=N opens step N.</p></aside></main>
<script>
"use strict";
(function () {
  const steps = %STEPS%;
  const $ = (id) => document.getElementById(id);
  let k = 0, timer = null;
  // the grad cell of a node: its first text starting with "grad" and the lines after it
  const gradTexts = {};
  for (const s of steps) {
    const el = $(s.id);
    if (!el) continue;
    const texts = Array.from(el.querySelectorAll("text"));
    const i = texts.findIndex((t) => t.textContent.startsWith("grad"));
    gradTexts[s.id] = texts.slice(i < 0 ? texts.length : i).map((t) => [t, t.textContent]);
    gradTexts[s.id].forEach(([t]) => t.classList.add("grad"));
  }
  const marked = [];
  function mark(id, cls) {
    const el = $(id);
    if (el) { el.classList.add(cls); marked.push([el, cls]); }
  }
  function show(n) {
    k = Math.max(0, Math.min(steps.length - 1, n));
    steps.forEach((s, j) => {
      const el = $(s.id);
      if (!el) return;
      el.classList.toggle("current", j === k);
      el.classList.toggle("pending", j > k);
      (gradTexts[s.id] || []).forEach(([t, text], line) => {
        t.textContent = j <= k ? text : (line === 0 ? "grad ?" : "");
      });
    });
    marked.splice(0).forEach(([el, cls]) => el.classList.remove(cls));
    const s = steps[k];
    s.users.forEach((u, i) => {
      mark(u, "user"); mark(s.via[i], "via");
      mark("e_" + s.id + "_" + s.via[i], "via"); mark("e_" + s.via[i] + "_" + u, "via");
    });
    $("name").textContent = "step " + (k + 1) + ": " + s.name + " (" + s.kind + ")";
    $("grad").textContent = "grad(" + s.name + ") = " + s.grad;
    $("formula").replaceChildren(...s.lines.map((line) => {
      const d = document.createElement("div"); d.textContent = line; return d;
    }));
    $("counter").textContent = "step " + (k + 1) + " of " + steps.length;
    $("slider").value = k + 1;
    document.body.dataset.step = k + 1;
    document.body.dataset.node = s.id;
    if (location.hash !== "#step=" + (k + 1)) history.replaceState(null, "", "#step=" + (k + 1));
    const el = $(s.id), box = $("graph").getBoundingClientRect();
    if (el) {
      const r = el.getBoundingClientRect();
      if (r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom)
        el.scrollIntoView({block: "center", inline: "center"});
    }
  }
  function pause() { clearInterval(timer); timer = null; $("play").textContent = "play"; }
  function play() {
    if (timer) return pause();
    if (k === steps.length - 1) show(0);
    $("play").textContent = "pause";
    timer = setInterval(() => { if (k >= steps.length - 1) pause(); else show(k + 1); }, 900);
  }
  const fromHash = () => { const m = /step=(\d+)/.exec(location.hash); return m ? +m[1] - 1 : 0; };
  $("first").onclick = () => { pause(); show(0); };
  $("prev").onclick = () => { pause(); show(k - 1); };
  $("next").onclick = () => { pause(); show(k + 1); };
  $("last").onclick = () => { pause(); show(steps.length - 1); };
  $("play").onclick = play;
  $("slider").max = steps.length;
  $("slider").oninput = (e) => { pause(); show(+e.target.value - 1); };
  $("fit").onchange = (e) => $("graph").classList.toggle("fit", e.target.checked);
  window.addEventListener("hashchange", () => show(fromHash()));
  document.addEventListener("keydown", (e) => {
    const act = {ArrowRight: () => show(k + 1), ArrowLeft: () => show(k - 1), " ": play,
                 Home: () => show(0), End: () => show(steps.length - 1)}[e.key];
    if (act && e.target.tagName !== "INPUT") { e.preventDefault(); if (e.key !== " ") pause(); act(); }
  });
  window.vg = {steps, show: (n) => show(n - 1), next: () => show(k + 1), prev: () => show(k - 1),
               play, pause, step: () => k + 1};
  show(fromHash());
})();
</script></body></html>
"""

from ._callable import make_callable  # noqa: E402

make_callable(__name__)  # `autograd.draw_backward(root, path)` writes the page; the module's names stay reachable
