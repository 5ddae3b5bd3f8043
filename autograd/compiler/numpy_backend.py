"""Straight-line Python/numpy code from a trace: one line per node, forward then backward.

Each line calls the operation's own forward or backward rule from the table, in the order
the eager engine would, so the numbers are the eager engine's, bit for bit; what goes is the
per-node overhead (no Value objects, no topological sort, no dispatch), and gradients flow
only where a parameter needs them.

A trace with layers (structured.Plan finds groups of n-ary nodes) is built by numpy_layers.py
instead: a few lines per group, the same numbers bit for bit (its sums keep these orders; where
they cannot, the trace stays here).
"""
from __future__ import annotations

import numpy as np


def _reduce_to_scalar(g):
    # As the eager sweep: a scalar that met a batch gets the sum of its per-example gradients.
    return float(np.cumsum(g)[-1]) if type(g) is np.ndarray else g


def generate(t):
    """Python source of `run(args, params, want_grad) -> (out, guard values, param grads)`."""
    lines = ["def run(args, params, want_grad):"]
    ns = {"R": _reduce_to_scalar}
    for n in t.nodes:
        i = n.index
        if n.kind == "arg":
            lines.append(f"    v{i} = args[{n.slot}]")
        elif n.kind == "param":
            lines.append(f"    v{i} = params[{n.slot}]")
        else:
            ns[f"F{i}"] = n.op.forward
            ins = ", ".join(f"v{p}" for p in n.parents)
            if n.op.arity == "n":
                ins = f"[{ins}]"
            if n.op.has_k:
                ns[f"K{i}"] = n.k
                ins += f", K{i}"
            lines.append(f"    v{i} = F{i}({ins})")
    watched = t.watched
    lines.append(f"    seen = ({''.join(f'v{i}, ' for i in watched)})")
    lines.append(f"    if not want_grad:\n        return v{t.root}, seen, None")
    need = t.needs_grad
    for i in need:
        lines.append(f"    g{i} = None")
    if t.root in need:
        lines.append(f"    g{t.root} = 1.0")
    for n in reversed(t.nodes):
        i = n.index
        if n.kind != "op" or i not in need:
            continue
        ns[f"B{i}"] = n.op.backward
        ins = ", ".join(f"v{p}" for p in n.parents)
        if n.op.arity == "n":
            ins = f"[{ins}]"
        if n.op.has_k:
            ins += f", K{i}"
        lines.append(f"    t = B{i}(g{i}, v{i}, {ins})")
        for j, p in enumerate(n.parents):
            if p not in need:
                continue
            pg = f"R(t[{j}])" if t.nodes[p].batch == 0 else f"t[{j}]"
            lines.append(f"    g{p} = {pg} if g{p} is None else g{p} + {pg}")
    grads = ", ".join(f"g{i}" if i in need else "0.0" for i in t.param_nodes) + ("," if t.param_nodes else "")
    lines.append(f"    return v{t.root}, seen, ({grads})")
    return "\n".join(lines) + "\n", ns


def _load(source, ns, name):
    code = compile(source, name, "exec")
    exec(code, ns)  # our own generated source: operation names and node numbers only
    return ns["run"]


def build(t):
    """`(run, source)`: layers as numpy blocks when the trace has them (numpy_layers.py),
    else straight-line code."""
    from . import numpy_layers
    layered = numpy_layers.generate(t)
    if layered is None:
        source, ns = generate(t)
        return _load(source, ns, "<autograd.compile numpy>"), source
    source, ns = layered
    fast = _load(source, ns, "<autograd.compile numpy layers>")
    plain = []

    def run(args, params, want_grad):
        try:
            return fast(args, params, want_grad)
        except Exception:  # the straight-line code raises eager's own error, naming the example
            if type(params) is tuple:  # FlatStep's call: it goes through the Values instead
                raise
            run.fallbacks += 1
            if not plain:
                plain.append(_load(*generate(t), "<autograd.compile numpy>"))
            return plain[0](args, params, want_grad)
    run.fallbacks = 0  # calls the straight-line code served (tests check that layers ran)
    run.layers = True  # takes FlatStep's (scalars, batched) parameters (flat.py)
    return run, source
