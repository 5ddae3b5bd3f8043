"""Draw a computation graph with Graphviz: micrograd's picture, still readable at MLP size.

`draw(root)` returns a `graphviz.Digraph` (it shows inline in Jupyter; `.render()` and
`.pipe()` write files). Values are boxes with label, data and grad, each operation a small
ellipse between its inputs and its result, as in micrograd. Colours tell inputs,
parameters, intermediates, constants and the output apart (a legend says which).
Above ~150 nodes a graph built by `nn` is drawn one node per neuron instead.

    >>> from autograd import Value
    >>> from autograd.draw import draw
    >>> a, b = Value(2.0, label='a'), Value(-3.0, label='b')
    >>> c = a * b
    >>> c.label = 'c'
    >>> c.backward()
    >>> g = draw(c)
    >>> 'data 2.0000' in g.source and 'grad -3.0000' in g.source
    True
    >>> g.source.count(' -> ')   # a -> *, b -> *, * -> c
    3

Rendering runs the system `dot` when there is one, otherwise the `graphviz-pure` command
that pip installs with valuegrad; the environment variable VALUEGRAD_RENDERER picks one
(`dot`, `graphviz-pure` or `auto`). The choice is made each time a drawing is rendered.

From a shell: `python -m autograd.draw "tanh(x*w + b)" x=2 w=-3 b=6.88 -o neuron.svg` (see
`main`); a model saved by nn: `python -m nn.draw model.json -o model.png`.
"""
from __future__ import annotations

import argparse
import ast
import html
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import warnings

import graphviz
import numpy as np

from .backward import topological_order
from .files import atomic_write
from .ops import ndarray
from .value import Value

if sys.argv[:1] == ["-m"]:  # `python -m autograd.draw`: autograd/__init__ imported this module
    warnings.filterwarnings(  # already, as it should; runpy's warning about that is noise
        "ignore", message=r"'autograd\.draw' found in sys\.modules", category=RuntimeWarning)

AUTO_NEURON_VIEW = 150  # more drawn nodes than this: detail='auto' switches to neurons
# softplus is left out: binary_cross_entropy_with_logits applies it to a linear output neuron
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "gelu", "elu", "silu")
RENDERER_ENV = "VALUEGRAD_RENDERER"
RENDERERS = ("auto", "dot", "graphviz-pure")

# fill, border: chosen to stay distinct in grey scale and for red-green colour blindness
STYLE = {
    "input": ("#cfe2f3", "#3d6f9e"),
    "parameter": ("#fde3b5", "#b87514"),
    "intermediate": ("#ffffff", "#666666"),
    "constant": ("#eeeeee", "#9a9a9a"),
    "output": ("#c9ecc4", "#2c7a2c"),
    "neuron": ("#fde3b5", "#b87514"),
    "dead": ("#e4e4e4", "#8a8a8a"),
}
_W = re.compile(r"^(?:(.*)\.)?w\.(\d+)$")   # nn's '<prefix>.w.<k>'
_PARAM = re.compile(r"(^|\.)(w\.\d+|b)$|^(w|b)\d*$|weight|bias|^\w+\[\d+(,\d+)*\]$")
_LIFTED = re.compile(r"^(\w+)\[(\d+(?:,\d+)*)\]$")  # autograd.lift's 'W1[0,3]'
_INDEX = re.compile(r"^(.*?)\.?(\d+)$")       # 'layers.0.neurons.3' -> ('layers.0.neurons', 3)
_PORTS = {"LR": ("e", "w"), "RL": ("w", "e"), "TB": ("s", "n"), "BT": ("n", "s")}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "neg": "-x", "powv": "**",
           "batch_mean": "mean", "batch_sum": "sum (batch)"}


# -- numbers ------------------------------------------------------------------------------
def num(x):
    """A number as micrograd prints it (4 decimals), switching to 3 significant digits when tiny or huge."""
    x = float(x) + 0.0  # -0.0 prints as 0.0000
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def summary(x):
    """A float as `num`; a batch as '(n,) mean m [min..max]', never every number."""
    if type(x) is not ndarray:
        return num(x)
    return f"({x.size},) mean {x.mean():.3g} [{x.min():.3g}..{x.max():.3g}]"


def _cell(name, x):
    # a batch's range goes on a second line so that boxes stay narrow
    if type(x) is not ndarray:
        return f"{name} {num(x)}"
    return f"{name} ({x.size},) mean {x.mean():.3g}<br/>[{x.min():.3g} .. {x.max():.3g}]"


def op_label(v):
    """What an operation node shows: '+', '*', 'tanh', '**3', 'leaky_relu(0.01)', ..."""
    name, k = v.op, v.k
    if name == "pow":
        return f"**{k:g}"
    if name == "clamp":
        return f"clamp [{k[0]:g}, {k[1]:g}]"
    if k is not None:
        return f"{name}({k:g})"
    return _SYMBOL.get(name, name)


# -- the graph, read once ---------------------------------------------------------------
class Neuron:
    """One neuron found in the graph: its label prefix and every place it was computed."""

    def __init__(self, prefix):
        self.prefix = prefix
        m = _INDEX.match(prefix)
        self.group, self.index = (m.group(1), int(m.group(2))) if m else (prefix, 0)
        self.weights, self.bias, self.activation = [], None, "linear"
        self.uses = []     # (dot, add or None, activation node or None) per computation
        self.inputs = []   # the Values multiplied by the weights, over all uses

    @property
    def outputs(self):
        return [next(v for v in (act, add, dot) if v is not None) for dot, add, act in self.uses]


class GraphInfo:
    """Everything the drawings need to know about the graph under `roots`.

    Parameters are leaves labelled like nn's names ('layers.0.neurons.3.w.1', '... .b',
    'w1', 'bias'), or given in `params`; other labelled leaves are inputs, unlabelled
    leaves constants. A neuron is a `dot` node whose weights are '<prefix>.w.<k>', then
    an `add` of '<prefix>.b', then relu/tanh/sigmoid/leaky_relu if there is one.
    """

    def __init__(self, roots, params=None):
        self.roots = list(roots)
        seen, order = set(), []
        for r in self.roots:  # the concatenation of topological orders is one
            for v in topological_order(r):
                if v not in seen:
                    seen.add(v)
                    order.append(v)
        self.nodes = order
        self.index = {v: i for i, v in enumerate(order)}
        self.names = {v: v.label for v in order}
        self.params = set()
        for name, p in _named(params):
            if p in self.index:
                self.params.add(p)
                self.names[p] = self.names[p] or name
        self.children = {v: [] for v in order}
        for v in order:
            for p in v.parents:
                self.children[p].append(v)
        self.root_set = set(self.roots)
        self.neurons = self._find_neurons()

    def kind(self, v):
        if v in self.root_set:
            return "output"
        if v.parents:
            return "intermediate"
        if v in self.params or _PARAM.search(self.names[v] or "\0"):
            return "parameter"
        return "input" if self.names[v] else "constant"

    def full_size(self):
        """Nodes a full drawing has: one per Value plus one per operation."""
        return len(self.nodes) + sum(1 for v in self.nodes if v.parents)

    def _find_neurons(self):
        found = {}
        for v in self.nodes:
            if v.op != "dot":
                continue
            ps = v.parents
            n = len(ps) // 2
            ms = [_W.match(self.names[w]) for w in ps[:n]]
            if ms and all(ms) and len({m.group(1) for m in ms}) == 1:
                prefix = ms[0].group(1) or ""
                is_bias = (f"{prefix}.b" if prefix else "b").__eq__
            else:
                prefix, is_bias = _lifted_neuron([self.names[w] for w in ps[:n]]), _LIFTED.match
                if prefix is None:
                    continue
            neuron = found.get(prefix) or found.setdefault(prefix, Neuron(prefix))
            add = next((c for c in self.children[v] if c.op == "add" and any(
                p is not v and not p.parents and is_bias(self.names[p]) for p in c.parents)), None)
            out = v if add is None else add  # not `add or v`: a Value's truth is its number's
            act = next((c for c in self.children[out] if c.op in ACTIVATIONS), None)
            if not neuron.weights:
                neuron.weights = list(ps[:n])
            if add is not None and neuron.bias is None:
                neuron.bias = next(p for p in add.parents if p is not v)
            if act is not None:
                neuron.activation = op_label(act) if act.op == "leaky_relu" else act.op
            neuron.uses.append((v, add, act))
            neuron.inputs.extend(ps[n:])
        return sorted(found.values(), key=lambda nr: (_natural(nr.group), nr.index))

    def owners(self):
        """Value -> the Neuron it is part of (weights, bias, dot, add, activation)."""
        own = {}
        for nr in self.neurons:
            for v in nr.weights + [nr.bias]:
                if v is not None:
                    own[v] = nr
            for use in nr.uses:
                for v in use:
                    if v is not None:
                        own[v] = nr
        return own

    def layers(self):
        """(group name, [neurons]) in a fixed order: layers by name, neurons by index."""
        out = {}
        for nr in self.neurons:
            out.setdefault(nr.group, []).append(nr)
        return list(out.items())


def _lifted_neuron(names):
    """'W1.3' when a dot's weights are column 3 (X @ W1) or row 3 (W1 @ x) of one lifted array
    (autograd.lift labels 'W1[k,3]'), 'w' for a whole 1-D 'w[k]'; else None."""
    ms = [_LIFTED.match(n) for n in names]
    if not ms or not all(ms) or len({m.group(1) for m in ms}) != 1:
        return None
    name, idx = ms[0].group(1), [m.group(2).split(",") for m in ms]
    if len(idx[0]) == 1:
        return name
    if len(idx[0]) == 2:
        for axis in (1, 0):
            if len({i[axis] for i in idx}) == 1:
                return f"{name}.{idx[0][axis]}"
    return None


def _named(params):
    if params is None:
        return []
    if hasattr(params, "named_parameters"):
        return params.named_parameters()
    if isinstance(params, dict):
        return params.items()
    return [(p if isinstance(p, tuple) else ("", p)) for p in params]


def _natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# -- building the Digraph ------------------------------------------------------------------
class Drawing(graphviz.Digraph):
    """A graphviz.Digraph that picks its renderer (see `use_renderer`) when it renders."""

    detail = "full"

    def pipe(self, *args, **kwargs):
        use_renderer()
        return super().pipe(*args, **kwargs)

    def render(self, *args, **kwargs):
        """As graphviz's, but cleanup=True by default: `render("loss", format="png")` leaves
        loss.png only, not also the DOT source in a file named `loss`."""
        use_renderer()
        if len(args) < 4:  # (filename, directory, view, cleanup, ...)
            kwargs.setdefault("cleanup", True)
        return super().render(*args, **kwargs)


def draw(root, *, rankdir="LR", detail="auto", format="svg", params=None):
    """The graph of everything `root` depends on, as a `graphviz.Digraph`.

    root: a Value, or a list of Values (a model with several outputs).
    detail: 'full' (every Value and operation, neurons in clusters inside layer clusters),
    'neuron' (one node per neuron: activation, bias and gradient summaries), or 'auto'
    (full up to AUTO_NEURON_VIEW drawn nodes, neurons above, when the graph has neurons).
    params: names for parameters that carry no label: a Module, a dict or (name, Value)s.

        >>> from autograd import Value
        >>> x, w = Value(0.5, label='x0'), Value(-1.0, label='n.0.w.0')
        >>> y = (x * w).tanh()
        >>> g = draw(y, rankdir='TB')
        >>> [k for k in ('input', 'parameter', 'output') if k in g.source]
        ['input', 'parameter', 'output']
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    if rankdir not in _PORTS:
        raise ValueError(f"rankdir must be one of {', '.join(_PORTS)}, got {rankdir!r}")
    if detail not in ("auto", "full", "neuron"):
        raise ValueError(f"detail must be 'auto', 'full' or 'neuron', got {detail!r}")
    info = GraphInfo(roots, params)
    if detail == "auto":
        detail = "neuron" if info.neurons and info.full_size() > AUTO_NEURON_VIEW else "full"
    if detail == "neuron" and not info.neurons:
        raise ValueError("detail='neuron' needs neurons: dot nodes whose weights are labelled "
                         "'<prefix>.w.<k>' (as nn labels them); this graph has none")
    return _build(info, detail, rankdir, format)


def _build(info, detail, rankdir, format, page=False, grads=None):
    g = Drawing(comment=f"valuegrad: {detail} view", format=format)
    g.detail = detail
    g.attr(rankdir=rankdir, newrank="true", fontname="Helvetica", fontsize="11")
    if detail == "neuron":  # room for the faint mesh; no final reordering across clusters,
        g.attr(nodesep="0.1", ranksep="0.9", remincross="false")  # which would rotate neurons
    else:
        g.attr(nodesep="0.2", ranksep="0.35")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", color="#555555", arrowsize="0.6")
    b = _Builder(info, g, page, grads, rankdir)
    (b.neuron_view if detail == "neuron" else b.full_view)()
    _legend(g, detail)
    return g


class _Builder:
    def __init__(self, info, g, page, grads, rankdir):
        self.info, self.g, self.page, self.rankdir = info, g, page, rankdir
        self.grads = grads  # the page shows the gradients of its own replay
        self.ids = {v: f"v{i}" for i, v in enumerate(info.nodes)}

    def value(self, g, v, vid=None, note="", prefix=""):
        info, vid = self.info, vid or self.ids[v]
        kind = info.kind(v)
        fill, line = STYLE[kind]
        name = info.names[v]
        if prefix and name.startswith(prefix + "."):  # inside the neuron's cluster: 'w.0', 'b'
            name = name[len(prefix) + 1:]
        elif self.page and not name:  # the step-by-step text names every node
            name = "#" + vid[1:]
        name = _html(name)
        grad = self.grad(v)
        cells = [f"<td><b>{name}</b></td>"] if name else []
        cells += [f"<td>{_cell('data', v.data)}</td>", f"<td>{_cell('grad', grad)}</td>"]
        if note:
            cells.append(f"<td><i>{_html(note)}</i></td>")
        border = 2 if kind == "output" else 1
        label = (f'<<table border="{border}" cellborder="1" cellspacing="0" cellpadding="3" '
                 f'bgcolor="{fill}" color="{line}">{"<tr>" + "".join(cells) + "</tr>"}</table>>')
        g.node(vid, label, shape="plain", tooltip=_plain(f"{kind} {info.names[v]}".strip()),
               **({"id": vid} if self.page else {}))

    def grad(self, v):
        return v.grad if self.grads is None else self.grads.get(v, 0.0)

    def op(self, g, v):
        oid = "o" + self.ids[v][1:]
        g.node(oid, op_label(v), shape="ellipse", style="filled", fillcolor="#f2f2f2",
               color="#888888", margin="0.04,0.02", height="0.3",
               **({"id": oid} if self.page else {}))
        self.edge(oid, self.ids[v])
        return oid

    def edge(self, a, b, **attrs):
        if self.page:
            attrs["id"] = f"e_{a}_{b}"
        self.g.edge(a, b, **attrs)

    def full_view(self):
        info, own = self.info, self.info.owners()
        for v in info.nodes:
            if v not in own:
                self._value_and_op(self.g, v)
        members = {}
        for v in info.nodes:
            if v in own:
                members.setdefault(own[v], []).append(v)
        for gi, (group, neurons) in enumerate(info.layers()):
            with self.g.subgraph(name=f"cluster_L{gi}") as lay:
                lay.attr(label=_plain(_layer_title(group, neurons)), style="rounded", color="#aaaaaa")
                for ni, nr in enumerate(neurons):
                    with lay.subgraph(name=f"cluster_L{gi}_N{ni}") as c:
                        c.attr(label=_plain(nr.prefix or "neuron"), style="rounded,dashed", color="#cccccc")
                        for v in members[nr]:
                            self._value_and_op(c, v, nr.prefix)
        for v in info.nodes:
            for p in v.parents:
                self.edge(self.ids[p], "o" + self.ids[v][1:])

    def _value_and_op(self, g, v, prefix=""):
        self.value(g, v, prefix=prefix)
        if v.parents:
            self.op(g, v)

    def neuron_view(self):
        info, own = self.info, self.info.owners()
        nid = {nr: f"n{i}" for i, nr in enumerate(info.neurons)}
        src = {v: nid[own[v]] if v in own else self.ids[v] for v in info.nodes}
        hidden = self._parameter_only(own)
        inputs = sorted({x: 0 for nr in info.neurons for x in nr.inputs
                         if not x.parents and x not in own and x not in info.root_set},
                        key=lambda x: _natural(info.names[x]))
        for v in info.nodes:
            if v in own or v in hidden or v in inputs:
                continue
            cut = [p for p in v.parents if p in hidden or (not p.parents and p in own)]
            self.value(self.g, v, note=f"from {self._count_params(v, own)} parameters" if cut else "")
            if v.parents:
                oid = self.op(self.g, v)
                for p in {src[p]: p for p in v.parents if p not in cut}:
                    self.edge(p, oid)
        columns = [("cluster_inputs", "inputs", [(x, self.ids[x]) for x in inputs])] if inputs else []
        columns += [(f"cluster_L{i}", _layer_title(group, neurons), [(nr, nid[nr]) for nr in neurons])
                    for i, (group, neurons) in enumerate(info.layers())]
        for name, title, column in columns:
            with self.g.subgraph(name=name) as lay:
                lay.attr(label=_plain(title), style="rounded", color="#aaaaaa")
                for item, node_id in column:
                    (self.neuron if item in nid else self.value)(lay, item, node_id)
                # invisible edges in one rank keep the column in index order (with
                # remincross=false: the final reordering across clusters would rotate it).
                # dot puts an edge's tail left of its head, which LR turns into below.
                with lay.subgraph() as rank:
                    rank.attr(rank="same")
                    pairs = zip(column[1:], column) if self.rankdir in ("LR", "RL") else zip(column, column[1:])
                    for (_, a), (_, b) in pairs:
                        rank.edge(a, b, style="invis")
        tail, head = _PORTS[self.rankdir]
        faint = dict(color="#3c4d7080", penwidth="0.5", arrowhead="none", tailport=tail, headport=head)
        for nr in info.neurons:
            for s in dict.fromkeys(src[x] for x in nr.inputs if x not in hidden):
                self.edge(s, nid[nr], **faint)

    def neuron(self, g, nr, node_id):
        acts = np.concatenate([np.atleast_1d(np.asarray(o.data, float)) for o in nr.outputs])
        grads = np.concatenate([np.atleast_1d(np.asarray(self.grad(o), float)) for o in nr.outputs])
        dead = nr.activation == "relu" and not acts.any()
        fill, line = STYLE["dead" if dead else "neuron"]
        if any(o in self.info.root_set for o in nr.outputs):
            fill, line = STYLE["output"]
        wgrad = math.sqrt(sum(float(np.sum(np.square(self.grad(w)))) for w in nr.weights))
        rows = [f"<b>{_html(_short(nr))}</b> {_html(nr.activation)}{' (dead)' if dead else ''}",
                f"out {_stats(acts)}",
                f"grad {_stats(grads)}"]
        if nr.bias is not None:
            rows.append(f"b {num(nr.bias.data)}  grad b {num(self.grad(nr.bias))}")
        rows.append(f"|grad w| {num(wgrad)}")
        # one width for all, so that a layer is a clean column
        label = ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="1" width="190">'
                 + "".join(f'<tr><td align="left">{r}</td></tr>' for r in rows) + "</table>>")
        g.node(node_id, label, shape="box", style="rounded,filled", fillcolor=fill, color=line,
               penwidth="2" if fill == STYLE["output"][0] else "1", margin="0.06,0.03",
               tooltip=_plain(nr.prefix))

    def _count_params(self, v, own):
        return sum(1 for u in topological_order(v) if not u.parents and u in own)

    def _parameter_only(self, own):
        """Values (not drawn) computed from parameters alone below a drawn one, e.g. the
        p*p terms of a weight penalty: in the neuron view their parameters are gone."""
        only = set()
        for v in self.info.nodes:
            if v.parents and v not in own and all(
                    (not p.parents and (p in own or self.info.kind(p) == "constant")) or p in only
                    for p in v.parents):
                only.add(v)
        children = self.info.children
        hidden = {v for v in only if v not in self.info.root_set and all(c in only for c in children[v])}
        # and the constants that only they used
        return hidden | {v for v in self.info.nodes if not v.parents and v not in own
                         and children[v] and all(c in hidden for c in children[v])}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean(text):
    """User text without what no DOT or SVG file may hold (control characters, lone
    surrogates), each shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", str(text))


def _plain(text):
    """User text (a label, a name, a title) as a quoted DOT string: backslashes and quotes
    escaped (a trailing backslash cannot end the string early, so no attribute such as
    URL=... can follow it), and never read as an HTML-like label, even when it is '<...>'."""
    return graphviz.escape(_clean(text))


def _html(text):
    """User text inside an HTML-like label: <, >, & and quotes as entities (a crafted label
    cannot open a cell with HREF=...)."""
    return html.escape(_clean(text), quote=True)


def _short(nr):
    parts = nr.prefix.split(".")
    return ".".join(parts[-2:]) if nr.prefix else "neuron"


def _stats(x):
    if x.size == 1:
        return num(x[0])
    return f"mean {x.mean():.3g} [{x.min():.3g}..{x.max():.3g}]"


def _layer_title(group, neurons):
    name = re.sub(r"\.?neurons$", "", group) or "layer"
    acts = sorted({nr.activation for nr in neurons})
    return f"{name}: {len(neurons)} x {', '.join(acts)}"


def _legend(g, detail):
    kinds = ["input", "parameter", "intermediate", "output", "constant"]
    rows = [f'<tr><td bgcolor="{STYLE[k][0]}" border="1" color="{STYLE[k][1]}">{k}</td></tr>'
            for k in kinds]
    rows.append('<tr><td bgcolor="#f2f2f2" border="1" color="#888888" style="rounded">operation</td></tr>')
    if detail == "neuron":
        rows.append(f'<tr><td bgcolor="{STYLE["neuron"][0]}" border="1">neuron: activation, '
                    f'output,<br/>gradients, bias</td></tr>')
        rows.append(f'<tr><td bgcolor="{STYLE["dead"][0]}" border="1">dead relu (output all 0)</td></tr>')
    rows.append('<tr><td>batch: (n,) mean [min..max]</td></tr>')
    g.node("legend", '<<table border="0" cellspacing="2" cellpadding="3">'
           '<tr><td><b>legend</b></td></tr>' + "".join(rows) + "</table>>", shape="plain")


# -- rendering -------------------------------------------------------------------------------
class RendererNotFoundError(RuntimeError):
    """Neither the system `dot` nor the `graphviz-pure` command could be found."""


def find_renderer(choice=None):
    """The path of the program that renders: `choice`, else $VALUEGRAD_RENDERER, else 'auto'.

    'auto' is the system Graphviz `dot` on PATH when there is one, else `graphviz-pure`
    (pip installs it in the scripts folder of the running Python, which is often not on PATH).
    """
    choice = choice or os.environ.get(RENDERER_ENV, "").strip() or "auto"
    if choice not in RENDERERS:
        raise ValueError(f"{RENDERER_ENV}={choice!r}: choose one of {', '.join(RENDERERS)}")
    if choice in ("auto", "dot"):
        found = shutil.which("dot")
        if found:
            return pathlib.Path(found)
    if choice in ("auto", "graphviz-pure"):
        for folder in _script_folders():
            found = shutil.which("graphviz-pure", path=folder)
            if found:
                return pathlib.Path(found)
        found = shutil.which("graphviz-pure")
        if found:
            return pathlib.Path(found)
    wanted = {"dot": "the system Graphviz `dot`", "graphviz-pure": "`graphviz-pure`"}.get(choice)
    raise RendererNotFoundError(
        f"cannot render: {wanted or 'neither the system Graphviz `dot` nor `graphviz-pure`'} "
        f"was found. Install one: `pip install graphviz-pure` (no system packages needed), or "
        f"Graphviz from https://graphviz.org/download/ (which gives `dot`); then pick it with "
        f"{RENDERER_ENV}=dot or {RENDERER_ENV}=graphviz-pure ({RENDERER_ENV}=auto tries both).")


def _script_folders():
    folders = [sysconfig.get_path("scripts")]
    try:
        folders.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    return [f for f in folders if f and os.path.isdir(f)]


def use_renderer(choice=None):
    """Point the graphviz package at `find_renderer(choice)` and return its path.

    Drawings call it each time they render, so VALUEGRAD_RENDERER may change in between.
    It sets `graphviz.backend.dot_command.DOT_BINARY`, which is global: other Digraphs
    rendered afterwards use the same program. (It never runs `graphviz.version()`, which
    graphviz-pure does not answer in dot's format.)
    """
    path = find_renderer(choice)
    graphviz.backend.dot_command.DOT_BINARY = path
    return path


def save(graph, path, format=None):
    """Render `graph` to exactly `path` (format from the extension: .svg, .png, ...; .gv or
    .dot write the source). Returns the path."""
    path = pathlib.Path(path)
    format = format or path.suffix.lstrip(".").lower() or "svg"
    if format in ("gv", "dot"):
        atomic_write(path, graph.source)
        return path
    use_renderer()
    atomic_write(path, graphviz.Digraph.pipe(graph, format=format, quiet=True))
    return path


def micrograd_neuron():
    """micrograd's example neuron, o = tanh(x1*w1 + x2*w2 + b), after backward: a graph to try
    drawings on (the README's first picture).

        >>> micrograd_neuron().data
        0.7071067811865477
    """
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


# -- the command line -----------------------------------------------------------------------
def functions():
    """The functions an expression may call: every operation of the table that is a method
    of Value (tanh, exp, clamp, ...), every two-input one that autograd defines as a function
    (maximum, ...), and abs. Read from the table each time, so new operations appear here.

        >>> {'tanh', 'relu', 'exp', 'abs'} <= set(functions())
        True
    """
    from . import value as value_module
    from .ops import OPS
    homes = (value_module, sys.modules[__package__])  # where a function of two Values may live
    found = {"abs": abs}
    for name, op in OPS.items():
        if op.arity == "n" or name.startswith("_"):
            continue
        if callable(getattr(Value, name, None)):
            found[name] = (lambda name: lambda v, *a: getattr(_as_value(v), name)(*a))(name)
        elif op.arity == 2:
            fn = next((getattr(m, name) for m in homes if callable(getattr(m, name, None))), None)
            if fn is not None:
                found[name] = fn
    return dict(sorted(found.items()))


def _as_value(v):
    return v if isinstance(v, Value) else Value(float(v))


MAX_EXPRESSION = 2000  # characters: a drawing of more would be unreadable anyway


class _Floats(ast.NodeTransformer):
    def visit_Constant(self, node):
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(float(node.value)), node)
        return node


def expression(text, values):
    """Evaluate an expression such as 'tanh(x*w + b)' on labelled Values.

        >>> y = expression("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.5})
        >>> round(y.data, 4), y.label
        (0.4621, 'out')
    """
    if len(text) > MAX_EXPRESSION:
        raise ValueError(f"expression too long: {len(text)} characters, at most {MAX_EXPRESSION}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"{text!r} is not an expression: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # 5,000 digits, 1,000 parentheses
        raise ValueError(f"{text!r} is not an expression: {e or type(e).__name__}") from None
    fns = functions()
    known = f"known functions: {', '.join(fns)}"
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
               ast.operator, ast.unaryop, ast.Attribute)
    for node in ast.walk(tree):  # arithmetic, numbers, names and the functions: nothing else
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name is not None and name not in fns:
                raise ValueError(f"{name} is not a known function ({known})")
        if not isinstance(node, allowed) or (
                isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))) or (
                isinstance(node, ast.Attribute) and not (  # x.tanh(): an operation's method only
                    node.attr in fns and callable(getattr(Value, node.attr, None)))) or (
                isinstance(node, ast.Name) and node.id.startswith("_")):
            raise ValueError(f"not allowed in an expression: {ast.unparse(node)!r}")
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called
    clash = sorted(names & set(fns))
    if clash:
        raise ValueError(f"{clash[0]} is a function: call it, as {clash[0]}(x)")
    missing = sorted(names - set(values))
    if missing:
        raise ValueError(f"give a value for {', '.join(missing)} (e.g. {missing[0]}=1.5)")
    try:  # numbers as floats: 9**9**9 overflows at once instead of computing a huge integer
        tree = ast.fix_missing_locations(_Floats().visit(tree))
    except OverflowError:
        raise ValueError(f"{text!r}: a number too large for a float") from None
    env = {name: Value(float(values[name]), label=name) for name in names}
    env.update(fns)
    try:
        out = eval(compile(tree, "<expression>", "eval"), {"__builtins__": {}}, env)
    except OverflowError:
        raise ValueError(f"{text!r}: a number overflows (too large for a float)") from None
    except (ZeroDivisionError, TypeError, AttributeError) as e:  # e.g. tanh(x, 2), or calling a number
        raise ValueError(f"{text!r}: {e}") from None
    if not hasattr(out, "backward"):
        raise ValueError(f"{text!r} does not depend on any named value")
    out.label = out.label or "out"
    return out


def main(argv=None):
    """`python -m autograd.draw WHAT [name=value ...] [-o out.svg|.png|.html|.gv]`.

    WHAT is an expression ('tanh(x*w + b)': Python's arithmetic and the functions of
    `functions()`, i.e. the operations of the table). '.html' writes the step-by-step backward
    page. A model saved by nn is drawn by `python -m nn.draw model.json` (autograd never imports nn).
    Exit status: 0 done, 1 bad input, 2 the renderer failed (e.g. a format it cannot write).
    """
    ap = argparse.ArgumentParser(prog="python -m autograd.draw", description=main.__doc__.split("\n")[0])
    ap.add_argument("what", help="an expression (a saved model: python -m nn.draw model.json)")
    ap.add_argument("values", nargs="*", metavar="name=value", help="values of the expression's names")
    ap.add_argument("-o", "--output", default="graph.svg", help="output file (.svg .png .html .gv)")
    ap.add_argument("--detail", choices=("auto", "full", "neuron"), default="auto")
    ap.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR")
    ap.add_argument("--renderer", choices=RENDERERS, help=f"overrides ${RENDERER_ENV}")
    args = ap.parse_args(argv)
    if args.renderer:
        os.environ[RENDERER_ENV] = args.renderer
    try:
        if args.what.lower().endswith(".json"):
            raise ValueError(f"{args.what} looks like a saved model: draw it with "
                             f"`python -m nn.draw {args.what}`")
        else:
            values = dict(_pair(s) for s in args.values)
            roots = [expression(args.what, values)]
            if type(roots[0].data) is not ndarray:
                roots[0].backward()
        out = pathlib.Path(args.output)
        if out.suffix.lower() == ".html":
            from .draw_backward import draw_backward
            draw_backward(roots[0], out, rankdir=args.rankdir, detail=args.detail)
        else:
            save(draw(roots, rankdir=args.rankdir, detail=args.detail), out)
    except subprocess.CalledProcessError as e:
        print(f"error: cannot write {out}: {_render_failure(e)}", file=sys.stderr)
        return 2
    except (ValueError, RendererNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _render_failure(e):
    """What the renderer said, in one line, without the traceback of the graphviz package."""
    said = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    said = " ".join(said.split()) or "no message"
    program = pathlib.Path(str(e.cmd[0])).name if e.cmd else "the renderer"
    return (f"{program} failed (exit status {e.returncode}): {said} "
            f"(.svg, .png, .gv and .html always work)")


def _pair(text):
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"expected name=value, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a number") from None


from ._callable import make_callable  # noqa: E402  (the module is the last thing set up)

make_callable(__name__)  # `autograd.draw(root)` draws; `autograd.draw.save` is this module's

if __name__ == "__main__":
    sys.exit(main())
