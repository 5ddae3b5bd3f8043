"""Record one call of a function on Values as a flat, numbered graph (a trace).

    >>> from autograd import Value
    >>> w = Value(2.0, label="w")
    >>> t = trace(lambda x: (w * x).tanh(), [0.5])
    >>> [n.op.name if n.op else n.kind for n in t.nodes]
    ['arg', 'param', 'mul', 'tanh']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import value as value_mod
from ..backward import topological_order
from ..value import Value


@dataclass
class Node:
    index: int
    kind: str                 # 'arg', 'param' (any other leaf: read at every call) or 'op'
    op: object = None         # the ops.Op
    parents: tuple = ()       # indices into Trace.nodes
    k: object = None          # the constant argument (exponent, slope, bounds)
    batch: int = 0            # 0 for a scalar, else the batch length
    slot: int = -1            # position among args or params


@dataclass
class Trace:
    nodes: list
    root: int
    args: list                # node index per argument
    arg_shapes: list
    params: list              # the leaf Values read at every call, in node order
    param_nodes: list
    guards: list = field(default_factory=list)   # (node index, comparison, other data, result)
    needs_grad: set = field(default_factory=set)  # nodes on a path from a param to the root

    @property
    def watched(self):
        """Nodes whose values the guards read, in a fixed order."""
        ids = {g[0] for g in self.guards} | {g[2][1] for g in self.guards if isinstance(g[2], tuple)}
        return sorted(ids)

    @property
    def batch(self):
        return max((n.batch for n in self.nodes), default=0)


class _GuardRecorder:
    """Collect the comparisons fn makes on Values while it is traced: they choose Python
    branches, so a call whose comparisons come out differently must be traced again."""

    def __init__(self):
        self.seen = []

    def __call__(self, value, name, other, result):
        if not isinstance(other, Value):
            other = np.array(other, dtype=np.float64, copy=True)
        self.seen.append((value, name, other, np.array(result, copy=True)))


def shape_of(x):
    d = x.data if isinstance(x, Value) else x
    return tuple(np.shape(d))


def flatten_args(args):
    """The leaves' data: a number or 1-D array is one leaf; a 2-D array is one leaf per column
    (a batch of rows, as nn models take it)."""
    flat = []
    for x in args:
        d = x.data if isinstance(x, Value) else x
        if np.ndim(d) == 2:
            flat.extend(np.asarray(d, dtype=np.float64).T)
        else:
            flat.append(np.asarray(d, dtype=np.float64) if np.ndim(d) else float(d))
    return flat


def _as_fn_args(example_args):
    """What fn receives: a Value per number or 1-D array, a list of column Values per 2-D array."""
    fn_args, leaves = [], []
    for i, x in enumerate(example_args):
        d = x.data if isinstance(x, Value) else x
        if np.ndim(d) == 2:
            cols = [Value(c, f"arg{i}[:, {j}]") for j, c in enumerate(np.asarray(d, dtype=np.float64).T)]
            fn_args.append(cols)
            leaves.extend(cols)
        elif np.ndim(d) > 2:
            raise ValueError(f"compile: argument {i} has shape {np.shape(d)}; arguments are numbers, "
                             f"1-D batches or 2-D (rows, columns) arrays")
        else:
            v = Value(d, f"arg{i}")
            fn_args.append(v)
            leaves.append(v)
    return fn_args, leaves


def trace(fn, example_args):
    fn_args, args = _as_fn_args(example_args)
    recorder = _GuardRecorder()
    previous = value_mod._set_compare_hook(recorder)  # this thread's comparisons only
    try:
        out = fn(*fn_args)
    finally:
        value_mod._set_compare_hook(previous)
    if not isinstance(out, Value):
        raise TypeError(f"compile: fn must return a Value, got {type(out).__name__}")
    # The compared Values belong to the trace even when the output does not depend on them
    # (a branch on an unused argument, on a recomputed intermediate, on a threshold parameter).
    compared = [v for v, *_ in recorder.seen] + [o for _, _, o, _ in recorder.seen if isinstance(o, Value)]
    order, placed = [], set()
    for r in compared + [out]:
        if id(r) in placed:
            continue
        for v in topological_order(r):
            if id(v) not in placed:
                placed.add(id(v))
                order.append(v)
    index = {id(v): i for i, v in enumerate(order)}
    arg_ids = {id(a): i for i, a in enumerate(args)}
    nodes, params, param_nodes, arg_nodes = [], [], [], [None] * len(args)
    ndarray = np.ndarray
    for i, v in enumerate(order):
        d = v.data
        batch = len(d) if type(d) is ndarray or isinstance(d, ndarray) else 0
        if v._op is None:
            if id(v) in arg_ids:
                slot = arg_ids[id(v)]
                arg_nodes[slot] = i
                nodes.append(Node(i, "arg", batch=batch, slot=slot))
            else:
                nodes.append(Node(i, "param", batch=batch))
                params.append(v)
                param_nodes.append(i)
            continue
        parents = tuple([index[id(p)] for p in v.parents])
        nodes.append(Node(i, "op", v._op, parents, v.k, batch))
    # Scalar parameters first, then batched ones: the C runner packs them with one fromiter.
    order_p = sorted(range(len(params)), key=lambda j: nodes[param_nodes[j]].batch > 0)
    params = [params[j] for j in order_p]
    param_nodes = [param_nodes[j] for j in order_p]
    for slot, i in enumerate(param_nodes):
        nodes[i].slot = slot
    guards = []  # (node, comparison, other node or constant, result at trace time)
    for v, name, other, result in recorder.seen:
        if id(v) not in index:
            continue
        if isinstance(other, Value):
            if id(other) not in index:  # compared with something outside the graph: its data now
                other = np.array(other.data, dtype=np.float64, copy=True)
            else:
                other = ("node", index[id(other)])
        guards.append((index[id(v)], name, other, result))
    t = Trace(nodes, index[id(out)], arg_nodes, [shape_of(a) for a in args], params, param_nodes, guards)
    t.needs_grad = _needs_grad(t)
    return t


def _needs_grad(t):
    """Nodes whose gradient matters: a param is at or below them (arguments need none)."""
    nodes = t.nodes
    below = [False] * len(nodes)
    for n in nodes:
        if n.kind == "param":
            below[n.index] = True
        else:
            for p in n.parents:
                if below[p]:
                    below[n.index] = True
                    break
    above = [False] * len(nodes)  # and the root depends on them (guards' nodes need no gradient)
    above[t.root] = True
    for n in reversed(nodes):
        if above[n.index]:
            for p in n.parents:
                above[p] = True
    return {i for i in range(len(nodes)) if below[i] and above[i]}
