"""The backward page at neuron level: the replay of `draw_backward_steps`, grouped by neuron.

A network's backward pass has hundreds of scalar steps (784 for micrograd's MLP 2-16-16-1
on a batch); a person follows it neuron by neuron. `neuron_groups` cuts the replay into
groups: one per neuron (its activation, weighted sum, bias and weights), one for each run
of the other drawn nodes (the loss and what follows it; the inputs). Each group comes after
every group that uses it, output layer first, and keeps its scalar steps, which the page
opens on demand.

    >>> from autograd import Value, dot
    >>> from autograd.draw import GraphInfo
    >>> from autograd.draw_backward import backward_steps
    >>> w = [Value(0.5, label='n.0.w.0'), Value(-1.0, label='n.0.w.1')]
    >>> x = [Value(1.0, label='x0'), Value(2.0, label='x1')]
    >>> out = (dot(w, x) + Value(0.1, label='n.0.b')).tanh()
    >>> info = GraphInfo([out])
    >>> [g.name for g in neuron_groups(info, backward_steps(out))]
    ['n.0', 'x0, x1']
"""
from __future__ import annotations

import numpy as np

from .draw import Neuron, _Builder, num, summary
from .ops import ndarray


class Group:
    """One step of the neuron-level page: a neuron (`neuron` set) or a run of other nodes."""

    def __init__(self, neuron=None):
        self.neuron, self.steps, self.units = neuron, [], []

    @property
    def name(self):
        if self.neuron is not None:
            return self.neuron.prefix or "neuron"
        names = [s.name for s in self.steps if s.node in self.units]
        return _few(names)

    @property
    def nodes(self):
        return [s.node for s in self.steps]


def _few(names):
    return ", ".join(names) if len(names) <= 3 else f"{names[0]}, {names[1]}, … ({len(names)} nodes)"


def neuron_groups(info, steps):
    """Cut `steps` (backward_steps of info's root) into Groups, each after all its users."""
    own = info.owners()
    hidden = _Builder(info, None, True, None, "LR")._parameter_only(own)
    children = info.children
    unit = {}
    for s in steps:  # reverse topological order: a node's users come before it
        v = s.node
        if v in own:
            unit[v] = own[v]
        elif children[v] and (v in hidden or info.kind(v) == "constant"):
            unit[v] = unit[children[v][0]]  # folded into the drawn node that uses it
        else:
            unit[v] = v
    groups, where = [], {}
    for s in steps:
        u = unit[s.node]
        if u not in where:
            if isinstance(u, Neuron):
                g = Group(neuron=u)
                groups.append(g)
            else:  # a drawn node (met first as itself): join the first run of drawn nodes
                # that is not before any of its users, so that the loss's parts stay together
                after = max((groups.index(where[unit[c]]) for c in children[u]), default=0)
                g = next((g for g in groups[after:] if g.neuron is None), None)
                if g is None:
                    g = Group()
                    groups.append(g)
                g.units.append(u)
            where[u] = g
        where[u].steps.append(s)
    return _layer_order(groups, info)


def _layer_order(groups, info):
    """Neurons of one layer side by side in index order, when nothing forbids it."""
    out, i = [], 0
    while i < len(groups):
        j = i
        nr = groups[i].neuron
        while nr is not None and j + 1 < len(groups) and groups[j + 1].neuron is not None \
                and groups[j + 1].neuron.group == nr.group:
            j += 1
        run = groups[i:j + 1]
        mine = {v for g in run for v in g.nodes}
        # within a layer no neuron should use another; if one does, keep the replay's order
        if all(c not in mine or c in set(g.nodes) for g in run for v in g.nodes
               for c in info.children[v]):
            run = sorted(run, key=lambda g: g.neuron.index if g.neuron is not None else 0)
        out.extend(run)
        i = j + 1
    return out


def names_for_neurons(info, names):
    """Give the unlabelled parts of each neuron names a reader can place: '<prefix>.out' for
    its output, '.z' for w·x + b, '.w·x' for the weighted sum ('[use k]' when used again)."""
    for nr in info.neurons:
        for k, (dot, add, act) in enumerate(nr.uses):
            tail = f"[use {k + 1}]" if len(nr.uses) > 1 else ""
            parts = [(dot, "w·x"), (add, "z" if act is not None else "out"), (act, "out")]
            for v, short in parts:
                if v is not None and not v.label:
                    names[v] = f"{nr.prefix}.{short}{tail}" if nr.prefix else f"{short}{tail}"
    return names


def _first(*nodes):
    """The first node that is not None (not `a or b`: a Value's truth is its number's)."""
    return next(v for v in nodes if v is not None)


def describe(group, info, terms_of, own, names):
    """What the panel shows for a group: (grad line, lines, table or None)."""
    if group.neuron is None:
        drawn = [s for s in group.steps if s.node in group.units]
        lines = []
        for s in drawn:  # a node with many uses (an input of a whole layer): its sum only
            lines.extend(s.lines() if len(s.terms) <= 3 else
                         [f"{s.lines()[-1]}  (open the step for the {len(s.terms)} products)"])
        return (f"grad({drawn[0].name}) = {summary(drawn[0].grad)}" if drawn else ""), lines, None
    nr = group.neuron
    step = {s.node: s for s in group.steps}
    dot, add, act = nr.uses[0]
    z = _first(add, dot)
    many = len(nr.uses) > 1
    g_out = _concat([step[_first(a, b, d)].grad for d, b, a in nr.uses])
    users = list(dict.fromkeys(_unit_name(c, own, names) for o in nr.outputs for c in info.children[o]))
    lines = [f"incoming: grad(out) = {summary(g_out)}"
             + (f", from {_few(users)}" if users else "") + (f" (over its {len(nr.uses)} uses)" if many else "")]
    zs = [_first(add_, dot_) for dot_, add_, _ in nr.uses]
    if act is not None:
        local = _concat([terms_of[(a, z_)][3] for (_, _, a), z_ in zip(nr.uses, zs)])
        lines.append(f"activation {nr.activation}: ∂out/∂z = {_rule(act.op)} = {_local(local, act.op)}")
        lines.append(f"grad(z) = grad(out) × ∂out/∂z = {summary(_concat([step[z_].grad for z_ in zs]))}")
    else:
        lines.append("no activation: z is the output, grad(z) = grad(out)")
    if nr.bias is not None:
        over = " and its uses" if many else ""
        lines.append(f"to the bias: grad(b) += Σ over the batch{over} of grad(z) = {num(_sent(nr.bias, nr, terms_of))}"
                     if type(step[z].grad) is ndarray or many else
                     f"to the bias: grad(b) += grad(z) = {num(_sent(nr.bias, nr, terms_of))}")
    rows = []
    n = len(nr.weights)
    for j, w in enumerate(nr.weights):
        x = dot.parents[n + j]
        sent_w = _sent(w, nr, terms_of)
        sent_x = terms_of.get((dot, x))
        rows.append([f"w.{j}", num(w.data), num(sent_w), num(step[w].grad) if w in step else "",
                     _short(_unit_name(x, own, names)),
                     _brief(sent_x[4]) if sent_x else ""])
    lines.append("to the weights: grad(w_j) += Σ grad(z)·x_j; to the inputs: grad(x_j) += grad(z)·w_j"
                 + (" (the inputs of use 1 shown)" if many else "") + ":")
    batch = next((f" ({x.size} examples: mean [min..max])" for x in [step[z].grad] if type(x) is ndarray), "")
    table = {"cols": ["j", "w_j", "grad(w_j) +=", "grad(w_j) total", "input x_j", "grad(x_j) +=" + batch],
             "rows": rows}
    dots = {d for d, _, _ in nr.uses}
    if any(u not in dots for w in nr.weights if w in step for u, *_ in step[w].terms):
        lines.append("A weight's total also holds what its other uses sent (e.g. a weight penalty): "
                     "open the neuron for every product.")
    return f"grad({nr.prefix or 'neuron'} out) = {summary(g_out)}", lines, table


def _brief(x):
    if type(x) is not ndarray:
        return num(x)
    return f"{x.mean():.3g} [{x.min():.3g}..{x.max():.3g}]"


def _short(name):
    parts = name.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 and parts[-2] == "neurons" else name


def _concat(xs):
    if len(xs) == 1:
        return xs[0]
    return np.concatenate([np.atleast_1d(np.asarray(x, float)) for x in xs])


def _sent(p, nr, terms_of):
    """What neuron `nr` sent to parameter p, summed over its uses (a scalar)."""
    total = 0.0
    for dot, add, _ in nr.uses:
        for user in (dot, add):
            t = terms_of.get((user, p)) if user is not None else None
            if t is not None:
                total = total + t[4]
    return total


def _unit_name(v, own, names):
    nr = own.get(v)
    return (nr.prefix or "neuron") if nr is not None else names[v]


_WORDS = {"relu": "[z > 0]", "tanh": "1 - out²", "sigmoid": "out·(1 - out)",
          "leaky_relu": "1 if z > 0 else slope"}


def _rule(op):
    return _WORDS.get(op, f"the {op} rule")


def _local(local, op):
    if type(local) is not ndarray:
        return num(local)
    if op in ("relu", "leaky_relu"):
        on = int(np.count_nonzero(local == 1))
        rest = {float(v) for v in local[local != 1]}
        return f"1 for {on} of {local.size} examples, {min(rest):g} for the rest" if on < local.size \
            else f"1 for all {local.size} examples"
    return summary(local)
