"""Record one call of a function on Values as a flat, numbered graph (a trace).

    >>> from autograd import Value
    >>> w = Value(2.0, label="w")
    >>> t = trace(lambda x: (w * x).tanh(), [0.5])
    >>> [n.op.name if n.op else n.kind for n in t.nodes]
    ['arg', 'param', 'mul', 'tanh']
"""
from __future__ import annotations

import hashlib
import json
from array import array
from itertools import chain
from dataclasses import dataclass

import numpy as np

from .. import ops as ops_mod
from .. import value as value_mod
from ..backward import gc_paused
from ..value import Value

ndarray = np.ndarray


@dataclass
class Node:
    index: int
    kind: str                 # 'arg', 'param' (any other leaf: read at every call) or 'op'
    op: object = None         # the ops.Op
    parents: tuple = ()       # indices into Trace.nodes
    k: object = None          # the constant argument (exponent, slope, bounds)
    batch: int = 0            # 0 for a scalar, else the batch length
    slot: int = -1            # position among args or params


class _built_once:
    """A computed attribute stored in the instance on first use, so that later reads are plain
    attribute reads (generators read `t.nodes[i]` a million times)."""

    def __init__(self, fn):
        self.fn, self.name = fn, fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class Trace:
    """One traced call as flat per-node lists (ops, parents, constants, batch lengths), so that
    tracing costs little per node and a cache key is a hash of them. `nodes` (Node objects)
    and `needs_grad` are built on first use: a cache hit needs neither."""

    def __init__(self, ops, parents, ks, batches, arg_slots, root, args, arg_shapes, params, param_nodes,
                 guards=None):
        self.ops, self.parents, self.ks, self.batches = ops, parents, ks, batches
        self.arg_slots = arg_slots  # node index -> argument position, for the 'arg' leaves
        self.root, self.args, self.arg_shapes = root, args, arg_shapes
        self.params, self.param_nodes = params, param_nodes  # the leaf Values read at every call
        self.guards = guards if guards is not None else []  # (node, comparison, other, result)
        self._key = None

    @_built_once
    def nodes(self):
        slots = dict(self.arg_slots)
        slots.update((i, s) for s, i in enumerate(self.param_nodes))
        nodes = []
        for i, (op, ps, k, b) in enumerate(zip(self.ops, self.parents, self.ks, self.batches)):
            if op is None:
                nodes.append(Node(i, "arg" if i in self.arg_slots else "param", batch=b, slot=slots[i]))
            else:
                nodes.append(Node(i, "op", op, ps, k, b))
        return nodes

    def permute_params(self, perm):
        """Slot s gets the parameter that was at slot perm[s]."""
        self.params = list(map(self.params.__getitem__, perm))
        self.param_nodes = list(map(self.param_nodes.__getitem__, perm))
        nodes = self.__dict__.get("nodes")
        if nodes is not None:
            for slot, i in enumerate(self.param_nodes):
                nodes[i].slot = slot

    @_built_once
    def needs_grad(self):
        """Nodes whose gradient matters: a param is at or below them and the root depends on
        them (arguments need none; guards' nodes need none)."""
        return _needs_grad(self)

    @property
    def watched(self):
        """Nodes whose values the guards read, in a fixed order."""
        ids = {g[0] for g in self.guards} | {g[2][1] for g in self.guards if isinstance(g[2], tuple)}
        return sorted(ids)

    @property
    def batch(self):
        return max(self.batches, default=0)

    def key(self):
        """sha256 (hex) of everything generated code depends on: the graph (operations, their
        constants, shapes and wiring, in node order), which leaves are arguments, the
        argument shapes, the root and the nodes the guards read; each operation by its name,
        rules and C form (`_op_fingerprint`). Two traces with one key get the same code."""
        if self._key is None:
            code = {op: c for c, op in enumerate(dict.fromkeys(self.ops))}  # first met, first numbered
            h = hashlib.sha256()
            for part in (list(map(code.__getitem__, self.ops)), self.batches, list(map(len, self.parents)),
                         chain.from_iterable(self.parents)):
                h.update(array("q", part).tobytes())
            meta = [[None if op is None else _op_fingerprint(op) for op in code],
                    [(i, type(k).__name__, repr(k)) for i, k in enumerate(self.ks) if k is not None]
                    if any(op is not None and op.has_k for op in code) else [],
                    sorted(self.arg_slots.items()), [list(s) for s in self.arg_shapes], self.root, self.watched]
            h.update(json.dumps(meta).encode())
            self._key = h.hexdigest()
        return self._key


_OP_PRINTS = {}


def _op_fingerprint(op):
    """An operation as the generated code sees it: its name, arity, constant flag, C form and
    the bytecode of its rules (so an operation redefined at run time never meets code cached
    for the old one). The compiler's own source files are hashed in by c_backend."""
    fp = _OP_PRINTS.get(id(op))
    if fp is None or fp[0] is not op:
        parts = [op.name, op.arity, op.has_k, repr(op.c)]
        for f in (op.forward, op.backward):
            code = getattr(f, "__code__", None)
            parts.append(_code_text(code) if code is not None else getattr(f, "__qualname__", type(f).__name__))
        fp = _OP_PRINTS[id(op)] = (op, hashlib.sha256(repr(parts).encode()).hexdigest())
    return fp[1]


def _code_text(code):
    """A code object's bytecode, names and constants, nested functions included (their repr
    would hold a memory address, different in every process)."""
    consts = [_code_text(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts]
    return repr((code.co_qualname if hasattr(code, "co_qualname") else code.co_name, code.co_code,
                 code.co_names, consts))


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
    with gc_paused():  # a graph holds no cycles: the collector would walk every node for nothing
        previous = value_mod._set_compare_hook(recorder)  # this thread's comparisons only
        try:
            out = fn(*fn_args)
        finally:
            value_mod._set_compare_hook(previous)
        if not isinstance(out, Value):
            raise TypeError(f"compile: fn must return a Value, got {type(out).__name__}")
        return _record(out, args, recorder)


def _record(out, args, recorder):
    # The compared Values belong to the trace even when the output does not depend on them
    # (a branch on an unused argument, on a recomputed intermediate, on a threshold parameter).
    # They are walked after the output, so that its nodes get eager's order (which orders the
    # gradient terms: a node the guard reaches first would move them, changing the last bits).
    compared = [v for v, *_ in recorder.seen] + [o for _, _, o, _ in recorder.seen if isinstance(o, Value)]
    order, index = _topological([out] + compared)
    get = index.__getitem__
    # per-node lists built by comprehensions: a graph has one node per weight
    ops = [v._op for v in order]
    batches = [0 if type(d) is float else len(d) if type(d) is ndarray or isinstance(d, ndarray) else 0
               for d in [v.data for v in order]]
    if any(op is not None and op.has_k for op in dict.fromkeys(ops)):
        ks = [None if op is None or not op.has_k else v._b for v, op in zip(order, ops)]  # Value.k
    else:
        ks = [None] * len(ops)
    parents = [() if op is None else (get(v._a),) if op.arity == 1 else (get(v._a), get(v._b))
               if op.arity == 2 else tuple(map(get, v._a)) for v, op in zip(order, ops)]
    arg_slots, arg_nodes = {}, [None] * len(args)
    for slot, a in enumerate(args):
        i = index.get(a)
        if i is not None:
            arg_slots[i] = slot
            arg_nodes[slot] = i
    leaves = [i for i, op in enumerate(ops) if op is None and i not in arg_slots]
    # scalar parameters first, then batched ones: the C runner packs them so
    batched = [i for i in leaves if batches[i]]
    param_nodes = [i for i in leaves if not batches[i]] + batched if batched else leaves
    params = [order[i] for i in param_nodes]
    guards = []  # (node, comparison, other node or constant, result at trace time)
    for v, name, other, result in recorder.seen:
        if v not in index:
            continue
        if isinstance(other, Value):
            if other not in index:  # compared with something outside the graph: its data now
                other = np.array(other.data, dtype=np.float64, copy=True)
            else:
                other = ("node", index[other])
        guards.append((index[v], name, other, result))
    return Trace(ops, parents, ks, batches, arg_slots, index[out], arg_nodes, [shape_of(a) for a in args],
                 params, param_nodes, guards)


def _topological(roots):
    """Every Value the roots depend on, each after its parents, and each one's position:
    backward.topological_order's order exactly (a depth-first walk taking a node's parents
    last first), for several roots (each new root adds what the earlier ones did not reach),
    in one pass. Leaves, and nodes whose one or two parents are leaves (a weight squared),
    are placed without a stack entry. A node being walked is in `index` at -1."""
    order, index = [], {}
    append = order.append
    for r in roots:
        if r in index:
            continue
        if r._op is None:
            index[r] = len(order)
            append(r)
            continue
        index[r] = -1
        stack = [(r, _reversed_parents(r))]
        push, pop = stack.append, stack.pop
        while stack:
            node, it = stack[-1]
            for p in it:
                if p in index:
                    continue
                op = p._op
                if op is None:
                    index[p] = len(order)
                    append(p)
                    continue
                a = op.arity
                if a == 2 or a == 1:
                    ins = (p._b, p._a) if a == 2 else (p._a,)  # last first
                    if ins[0]._op is None and ins[-1]._op is None:  # leaves only: no push
                        for x in ins:
                            if x not in index:
                                index[x] = len(order)
                                append(x)
                        index[p] = len(order)
                        append(p)
                        continue
                    push((p, iter(ins)))
                else:
                    push((p, reversed(p._a)))
                index[p] = -1
                break
            else:
                pop()
                index[node] = len(order)
                append(node)
    return order, index


def _reversed_parents(v):
    a = v._op.arity
    return iter((v._a,)) if a == 1 else iter((v._b, v._a)) if a == 2 else reversed(v._a)


def _needs_grad(t):
    """Nodes whose gradient matters: a param is at or below them (arguments need none)."""
    ops, parents, n = t.ops, t.parents, len(t.ops)
    below = bytearray(n)
    for i in t.param_nodes:
        below[i] = 1
    for i, ps in enumerate(parents):
        if ops[i] is not None:
            for p in ps:
                if below[p]:
                    below[i] = 1
                    break
    above = bytearray(n)  # and the root depends on them (guards' nodes need no gradient)
    above[t.root] = 1
    for i in range(n - 1, -1, -1):
        if above[i]:
            for p in parents[i]:
                above[p] = 1
    need = {i for i in range(n) if below[i] and above[i]}
    if ops_mod.MAX_DETACHED in dict.fromkeys(ops):
        _drop_zero_derivatives(t, need)
    return need


def _drop_zero_derivatives(t, need):
    """A max_detached node (softmax's shift: derivative 0) needs no gradient when each of its
    inputs gets one from some other node anyway: its terms (-0.0) would add nothing, not even
    a sign. Left in where an input is reached through it alone (that input's gradient is its
    -0.0, as in eager)."""
    ops, parents = t.ops, t.parents
    stops = [i for i in need if ops[i] is ops_mod.MAX_DETACHED]
    fed = set()  # inputs of the other nodes that need a gradient
    for i in need:
        if ops[i] is not ops_mod.MAX_DETACHED:
            fed.update(parents[i])
    for i in stops:
        if fed.issuperset(p for p in parents[i] if p in need):
            need.discard(i)
