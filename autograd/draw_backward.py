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
renderer that `autograd.draw` uses); `draw_backward(c)` returns it as a BackwardPage, which
shows inline in Jupyter. A network's page goes neuron by neuron (draw_backward_neurons):
one step per neuron, each opening to its scalar steps.
"""
from __future__ import annotations

import html
import json
import pathlib
import re

import numpy as np

from .backward import topological_order
from .draw import AUTO_NEURON_VIEW, GraphInfo, _build, _Builder, num, op_label, summary
from .draw_backward_page import PAGE as _PAGE
from .draw_backward_neurons import describe, names_for_neurons, neuron_groups
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
    "max_detached": ("0",),  # a stop-gradient: the max is not differentiated
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
            value = "" if _is_number(rule) else f" = {_factor(local)}"
            total = " (summed over the batch)" if type(part) is not ndarray and type(g) is ndarray else ""
            out.append(f"{u} = {_formula(user, self._names)}, so ∂{u}/∂{name} = {rule}{value}\n"
                       f"grad({u}) × ∂{u}/∂{name} = {summary(g)} × {_factor(local)} = {summary(part)}{total}")
        if len(self.terms) > 1:
            out.append(f"grad({name}) = the sum of these {len(self.terms)} = {summary(self.grad)}")
        else:
            out.append(f"grad({name}) = {summary(self.grad)}")
        return out


def _factor(x):
    """A local derivative: one number when it is the same for every example (a scalar
    weight, the 1 of a sum), so that a scalar reads as a scalar."""
    if type(x) is ndarray and x.size and x.min() == x.max():
        return num(x.flat[0])
    return summary(x)


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


def backward_steps(root, names=None):
    """The backward pass of `root`, one Step per node, without touching any `.grad`.
    names: Value -> the name its lines use (default its label, or '#i' as the drawing shows it)."""
    topo = topological_order(root)
    names = {v: v.label or f"#{i}" for i, v in enumerate(topo)} | (names or {})  # '#3' is the drawing's v3
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


def draw_backward(root, path=None, *, rankdir="LR", title=None, detail="auto"):
    """The step-by-step page of `root`'s backward pass: written to `path` (the path is
    returned), or, without a path, a BackwardPage (inline in Jupyter; `.save(path)`).

    detail: 'full' (one step per node), 'neuron' (one step per neuron, output layer first;
    each neuron opens to its scalar steps) or 'auto' (neurons above AUTO_NEURON_VIEW drawn
    nodes, when the graph has neurons, as `draw` does). The gradients shown are those of this
    replay from `root` (seeded with 1), whatever `.grad` holds now.

        >>> from autograd.draw import micrograd_neuron
        >>> page = draw_backward(micrograd_neuron())
        >>> page.detail, len(page.steps)
        ('full', 10)
    """
    page = BackwardPage(root, rankdir=rankdir, title=title, detail=detail)
    return page if path is None else page.save(path)


class BackwardPage:
    """One self-contained HTML page (`.html`): the drawing, the steps and the script, no
    network. Shows inline in Jupyter (in a sandboxed iframe); `.save(path)` writes it."""

    def __init__(self, root, *, rankdir="LR", title=None, detail="auto"):
        if detail not in ("auto", "full", "neuron"):
            raise ValueError(f"detail must be 'auto', 'full' or 'neuron', got {detail!r}")
        info = GraphInfo([root])
        if detail == "auto":
            detail = "neuron" if info.neurons and info.full_size() > AUTO_NEURON_VIEW else "full"
        if detail == "neuron" and not info.neurons:
            raise ValueError("detail='neuron' needs neurons: dot nodes whose weights are labelled "
                             "'<prefix>.w.<k>' (as nn labels them); this graph has none")
        names = {v: v.label or f"#{i}" for i, v in enumerate(info.nodes)}
        if detail == "neuron":
            names_for_neurons(info, names)
        scalar = backward_steps(root, names)
        self.detail = detail
        self.steps = _full_data(scalar, info) if detail == "full" else _neuron_data(scalar, info, names)
        graph = _build(info, detail, rankdir, "svg", page=True, grads={s.node: s.grad for s in scalar})
        svg = graph.pipe(format="svg", encoding="utf-8", quiet=True)
        svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
        title = title or f"Backpropagation of {scalar[0].name}, step by step"
        parts = {"TITLE": html.escape(title), "SVG": svg, "STEPS": _script_json(self.steps),
                 "HINT": _HINTS[detail], "DETAIL": detail}
        # in one pass, since a label may hold '%SVG%'
        self.html = re.sub(r"%(TITLE|SVG|STEPS|HINT|DETAIL)%", lambda m: parts[m.group(1)], _PAGE)

    def save(self, path):
        """Write the page to `path` (atomically); return the path."""
        path = pathlib.Path(path)
        atomic_write(path, self.html)
        return path

    def _repr_html_(self):
        # an iframe keeps the page's style, ids and script apart from the notebook's
        return ('<iframe sandbox="allow-scripts" style="width:100%;height:640px;border:1px solid #ccc" '
                f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>')


def _script_json(obj):
    """JSON that is safe inside <script>: no '<', '>' or '&' (so no '</script>' or '<!--')
    and no line separators, whatever a label holds."""
    text = json.dumps(obj, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _full_data(steps, info):
    ids = {v: f"v{i}" for i, v in enumerate(info.nodes)}
    out = []
    for s in steps:
        via = [f"o{ids[u][1:]}" for u, *_ in s.terms]
        users = [ids[u] for u, *_ in s.terms]
        out.append({"id": ids[s.node], "ids": [ids[s.node]],
                    "name": s.name, "grad": f"grad({s.name}) = {summary(s.grad)}",
                    "kind": info.kind(s.node), "lines": s.lines(), "users": users, "via": via,
                    "edges": [e for o, u in zip(via, users) for e in (f"e_{ids[s.node]}_{o}", f"e_{o}_{u}")],
                    "find": [s.name]})
    return out


def _neuron_data(steps, info, names):
    own = info.owners()
    nid = {nr: f"n{i}" for i, nr in enumerate(info.neurons)}
    ids = {v: f"v{i}" for i, v in enumerate(info.nodes)}
    terms_of = {(user, s.node): (user, i, g, local, part)
                for s in steps for user, i, g, local, part in s.terms}

    hidden = _Builder(info, None, True, None, "LR")._parameter_only(own)
    drawable = {v for v in info.nodes if v not in hidden}

    def drawn(v):  # the id a Value has in the neuron view
        return nid[own[v]] if v in own else ids[v]

    out = []
    for group in neuron_groups(info, steps):
        mine = set(group.nodes)
        if group.neuron is not None:
            marks = [nid[group.neuron]]
            kind = f"neuron, {group.neuron.activation}"
        else:
            marks = [m for v in group.units for m in (ids[v], f"o{ids[v][1:]}" if v.parents else None) if m]
            kind = "operations" if any(v.parents for v in group.units) else "inputs"
        users, edges = {}, []
        tops = group.neuron.outputs if group.neuron is not None else group.units
        for v in tops:  # what used this step's result: blue, and the edges to it red
            a = [drawn(v)] + ([f"o{ids[v][1:]}"] if v not in own and v.parents else [])
            for c in info.children[v]:
                if c in mine or c not in drawable:
                    continue
                u = drawn(c)
                users[u] = 1
                edges += [f"e_{t}_{h}" for t in a for h in ([u, f"o{u[1:]}"] if u[0] == "v" else [u])]
        grad, lines, table = describe(group, info, terms_of, own, names)
        out.append({"id": marks[0], "ids": marks, "name": group.name, "kind": kind, "grad": grad,
                    "lines": lines, "table": table, "users": list(users), "via": [],
                    "edges": list(dict.fromkeys(edges)),
                    "sub": [[s.name, s.lines()] for s in group.steps],
                    "find": [names[v] for v in group.nodes]})
    return out


_HINTS = {
    "full": "Red: the node whose gradient is complete at this step, and the operations it went "
            "through. Blue: the nodes that used it, whose gradients were complete before. "
            "Gradients not yet known show \"grad ?\". Keys: arrows step, space plays, / finds a "
            "label, + - 0 zoom.",
    "neuron": "One step per neuron, output layer first. Red: the neuron whose output gradient is "
              "complete at this step; blue: the nodes that used its output. The table lists what it "
              "sends to each weight (summed over the batch: one number) and to each input (one "
              "number per example). Open the neuron (o) for its scalar chain-rule steps. Keys: arrows "
              "step, space plays, o opens, up/down move inside an opened neuron, / finds a label, "
              "+ - 0 zoom.",
}


from ._callable import make_callable  # noqa: E402

make_callable(__name__)  # `autograd.draw_backward(root, path)` writes the page; the module's names stay reachable
