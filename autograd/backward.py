"""The reverse sweep: topological order without recursion, then the chain rule node by node.

    >>> from autograd import Value
    >>> x = Value(3.0)
    >>> y = x * x + x          # x is used three times
    >>> y.backward()
    >>> x.grad                 # 2x + 1
    7.0
"""
from __future__ import annotations

import gc
import operator
import threading
from itertools import chain, compress, islice, repeat
from contextlib import ContextDecorator

import numpy as np

from . import layer_kernels, ops
from .ops import ndarray
from .value import Value, _DotRows, _packed, _set_grad_enabled, _stack_rows, _thread


class no_grad(ContextDecorator):
    """Inside it, operations compute values but record no parents (as torch.no_grad).
    Grad mode belongs to the thread: another thread's graphs keep recording meanwhile.

        >>> from autograd import Value, no_grad
        >>> w = Value(2.0)
        >>> with no_grad():
        ...     y = w * 3
        >>> y.parents
        ()
    """

    def __enter__(self):
        # A stack per thread, so that one instance may be entered again (a recursive
        # @no_grad() function) and shared by threads (one decorated function, many callers).
        stacks = self.__dict__.setdefault("_prev", {})
        stacks.setdefault(threading.get_ident(), []).append(_set_grad_enabled(False))
        return self

    def __exit__(self, *exc):
        me = threading.get_ident()
        stack = self._prev[me]
        _set_grad_enabled(stack.pop())
        if not stack:
            del self._prev[me]
        return False


def is_grad_enabled():
    """Whether operations in this thread record their parents (False inside no_grad).

        >>> from autograd import no_grad
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return _thread.grad


def topological_order(root):
    """Every Value `root` depends on, each after all of its parents; iterative, so a
    graph a million nodes deep needs no recursion."""
    order = []
    expanded = set()
    stack = [(root, False)]
    push, pop, append, add = stack.append, stack.pop, order.append, expanded.add
    while stack:
        node, done = pop()
        if done:
            append(node)
            continue
        if node in expanded:  # reached again by another path after it was pushed
            continue
        add(node)
        push((node, True))
        op = node._op
        if op is None:
            continue
        if op.arity == 1:
            parents = (node._a,)
        elif op.arity == 2:
            parents = (node._a, node._b)
        else:
            parents = node._a
        for p in parents:
            if p not in expanded:
                push((p, False))
    return order


_gc_lock = threading.Lock()
_gc_pauses = [0, False]  # pauses open in all threads; whether the collector ran before the first


class gc_paused(ContextDecorator):
    """Pause Python's cyclic garbage collector (graphs here hold no cycles, so reference
    counting frees them; the collector would only walk millions of live nodes for nothing).

    The collector is one switch for the whole process, so pauses are counted across threads:
    it stays off while any thread is inside one and is restored when the last one leaves
    (unordered exits in several threads can never leave it off for good).

        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """

    def __enter__(self):
        with _gc_lock:
            if _gc_pauses[0] == 0:
                _gc_pauses[1] = gc.isenabled()
                gc.disable()
            _gc_pauses[0] += 1
        return self

    def __exit__(self, *exc):
        with _gc_lock:
            _gc_pauses[0] -= 1
            if _gc_pauses[0] == 0 and _gc_pauses[1]:
                gc.enable()
        return False


def _seed(root, grad, create_graph):
    d = root.data
    if grad is None:
        if type(d) is ndarray:
            raise ValueError(f"backward() on a batched Value (batch of {len(d)}) needs grad=, "
                             f"e.g. v.backward(grad=np.ones({len(d)})), or reduce first: "
                             f"v.sum().backward()")
        g = 1.0
    else:
        g = grad.data if isinstance(grad, Value) else grad
        g = np.asarray(g, dtype=np.float64)
        if g.shape != np.shape(d) and not (g.ndim == 0 and type(d) is not ndarray):
            raise ValueError(f"backward(grad=...) needs shape {np.shape(d)} like the Value's data, "
                             f"got {g.shape}")
        g = float(g) if g.ndim == 0 else g
    return Value(g) if create_graph else g


def backward(root, grad=None, *, create_graph=False):
    """Add d(root)/d(node) to `node.grad` for every node root depends on.

    As in PyTorch, gradients accumulate across calls (call `zero_grad()` between steps),
    and each call propagates only its own gradient: an intermediate node's earlier
    gradient is never sent down again. A scalar root is seeded with 1; a batched root
    needs `grad=` (one number per example). With `create_graph=True` every gradient is a
    Value, itself differentiable (Hessian-vector products, gradient penalties).
    """
    seed = _seed(root, grad, create_graph)
    with gc_paused():
        inner, leaves, touch, defer, wsets = _sweep_plan(root)
        mode = 0 if create_graph or not defer else 2 if touch else 1
        # In mode 1 each weight of the layers gets one term, from its layer's nodes: they add
        # it to the earlier gradient themselves (no pass over the weights here), recording
        # the earlier gradients in `late`.
        late = [] if mode == 1 else None
        if late is not None:
            everything = inner + leaves
            n_weights = 0
        else:
            weights = list(chain.from_iterable(wsets))
            everything = inner + leaves + weights
            n_weights = len(weights)
        # Each node's gradient from *this* call is gathered in .grad (None = nothing yet);
        # the earlier gradient is added back at the end.
        olds = [n.grad for n in everything]
        for n in everything:
            n.grad = None
        prev_mode = _set_grad_enabled(create_graph)
        try:
            root.grad = seed
            _sweep(inner, create_graph, touch, mode, late)
        except BaseException:
            for n, old in zip(everything, olds):
                n.grad = old
            for ws, wolds, _ in late or ():
                for w, old in zip(ws, wolds):
                    w.grad = old
            raise
        finally:
            _set_grad_enabled(prev_mode)
        for ws, wolds, added in late or ():
            if not added:  # reset by a path that does not add them back: as below
                everything += ws
                olds += wolds
        # Earlier gradients back: old + new, or new alone where old is the float 0.0 and new
        # not a batch (0.0 + -0.0 would lose the sign). After zero_grad() that holds for every
        # parameter: checked in bulk (the leaves, else the layers' weights, last in `leaves`),
        # so the usual step has no Python loop over them.
        for k in (len(inner), len(everything) - n_weights):
            tail = olds[k:]
            if tail and set(map(type, tail)) == {float} and set(tail) == {0.0} and \
                    set(map(type, [n.grad for n in everything[k:]])) == {float}:
                everything, olds = everything[:k], olds[:k]
                break
        both = []  # batches on both sides: added in one array operation below
        for n, old in zip(everything, olds):
            new = n.grad
            if new is None:
                n.grad = old
            elif type(old) is ndarray and type(new) is ndarray:
                both.append((n, old, new))
            elif type(old) is not float or old != 0.0 or type(new) is ndarray:
                n.grad = old + new
        if both:
            _add_back(both)


def _add_back(both):
    """old + new for every (node, old, new): stacked, one elementwise sum for all when they are
    float64 batches of one length (each node's gradient then a row of the result, its own)."""
    ns, olds, news = zip(*both)
    if len(both) > 1:
        try:  # batches of different lengths do not stack (numpy refuses ragged lists)
            total, add = _stack_rows(olds), _stack_rows(news)
        except ValueError:
            total = add = None
        if total is not None and total.ndim == 2 and total.shape == add.shape and \
                total.dtype == _F64 and add.dtype == _F64:
            total += add
            for n, g in zip(ns, total):
                n.grad = g
            return
    for n, old, new in both:
        n.grad = old + new


def _sweep_order(root):
    """(the op nodes in topological_order's order, the leaves in any order): the sweep needs
    only the first; leaves are gathered in bulk, so a layer's weights cost no Python loop."""
    order, leaves, _, _, sets = _sweep_plan(root)
    return order, leaves + list(chain.from_iterable(sets))


def _sweep_plan(root):
    """_sweep_order's two lists, then what the sweep needs to defer the weight gradients of
    `autograd.dots` layers: whether it may (no weight in two places of the layers), and the
    nodes that must see those gradients written first (another use of a layer's weight, as
    losses.l2's dot)."""
    order, leaves, groups = [], set(), {}  # groups: each _DotRows met -> its nodes met
    leafy = []  # nodes with leaf parents
    expanded = set()
    stack = [(root, False)]
    push, pop, append, add = stack.append, stack.pop, order.append, expanded.add
    if root._op is None:
        return [], [root], (), False, []
    while stack:
        node, done = pop()
        if done:
            append(node)
            continue
        if node in expanded:
            continue
        add(node)
        push((node, True))
        op = node._op
        if op.arity == 1:
            parents = (node._a,)
        elif op.arity == 2:
            parents = (node._a, node._b)
        else:
            parents = node._a
        if op.arity == "n":  # a dot's weights, say: leaves in bulk
            rows = node._b
            if type(rows) is _DotRows and rows.leaf_ws:  # a node of autograd.dots
                met = groups.get(rows)
                if met is not None:  # the shared inputs were pushed by an earlier node of the
                    met.append(node)  # group, and (no cycles) expanded before this one
                    continue
                groups[rows] = [node]
                parents = parents[rows.n:]
            kinds = [p._op for p in parents]
            if None in kinds:
                leaves.update(compress(parents, map(operator.not_, kinds)))
                leafy.append((node, parents))
                parents = list(compress(parents, kinds))
            for p in parents:
                if p not in expanded:
                    push((p, False))
            continue
        seen_leaf = False
        for p in parents:
            if p._op is None:
                leaves.add(p)
                seen_leaf = True
            elif p not in expanded:
                push((p, False))
        if seen_leaf:
            leafy.append((node, parents))
    sets, slots = _weights_of(groups)
    n_weights = sum(map(len, sets))
    # deferring needs every weight of the layers in one place only
    defer = n_weights > 0 and slots == n_weights and \
        all(a.isdisjoint(b) for i, a in enumerate(sets) for b in sets[i + 1:])
    if not defer and len(sets) > 1:
        sets = [set().union(*sets)]
    touch = set()
    shared = set().union(*[w & leaves for w in sets]) if defer else ()
    if shared:
        for node, parents in leafy:
            if not shared.isdisjoint(parents):
                if type(node._b) is _DotRows and node._b.leaf_ws:  # a layer's weight is its input
                    defer = False
                    break
                touch.add(node)
    if not defer or shared:  # else no weight is among the leaves (no pass over the weights)
        for w in sets:
            leaves -= w
    return order, list(leaves), touch, defer, sets


def _weights_of(groups):
    """The weights of the autograd.dots nodes met, as a list of sets (one a layer), and how
    many places they fill: a layer all of whose nodes were met gives the set its dots() call
    kept (no pass over its weights here), the others their nodes' weights one by one."""
    sets, slots = [], 0
    for rows, nodes in groups.items():
        if rows.wset is not None and len(nodes) == len(rows.nodes):
            sets.append(rows.wset)
            slots += len(rows.wset)
        else:
            part = set()
            for node in nodes:
                part.update(islice(node._a, rows.n))
            sets.append(part)
            slots += rows.n * len(nodes)
    return sets, slots


def _sweep(topo, create_graph, touch=(), defer=0, late=None):
    """The chain rule node by node; `defer` (1, or 2 when `touch` names other users of the
    layers' weights) lets the nodes of autograd.dots layers wait for _flush. With `late` (a
    list, in mode 1) the layers' weights were not reset: whatever writes their gradient
    records their earlier ones there, (weights, grads, whether it added them already)."""
    active = []  # the _DotRows met in this sweep: their stacked inputs and gathered gradients
    pre = {} if not create_graph else None  # relu node -> (its gradient, its input's data, result)
    ok = False
    try:
        for node in reversed(topo):
            op = node._op
            if touch and node in touch:  # it adds to a layer's weight: the layers' terms go first
                for rows in active:
                    if rows.pend:
                        _flush(rows)
            g = node.grad
            if type(g) is _Gathered:
                g = g.resolve()
            if op is _DOT and type(g) is ndarray:
                rows = node._b
                if type(rows) is _DotRows and rows.pend is not None:  # its layer is waiting:
                    rows.pend.append((node, g))                       # _dot_backward's last step
                    continue
            if pre and op is _RELU:
                hit = pre.pop(node, None)
                if hit is not None and hit[0] is node.grad and hit[1] is node._a.data:
                    _accumulate(node._a, hit[2])  # RELU's rule, run for its layer at once
                    continue
            if pre and op is _ADD:
                hit = pre.pop(node, None)  # its relu's result alone, and a bias still a number:
                b = node._b                # ADD's rule (g, g), the bias's sum made ahead
                if hit is not None and hit[0] is g and type(b.data) is float:
                    _accumulate(node._a, g)
                    cur = b.grad
                    b.grad = hit[2] if cur is None else cur + hit[2]
                    continue
            if op is _MAXD and not create_graph:
                _max_detached_backward(node._a)
                continue
            if op is _DOT and not create_graph:
                if type(g) is ndarray and _dot_backward(node, g, active, defer, late, pre):
                    continue
                if late is not None and type(node._b) is _DotRows and node._b.leaf_ws:
                    _reset_weights(node, late)  # what follows adds onto .grad: reset it first
                if type(g) is float and len(node._a) > 16 and _dot_scalars_backward(node, g):
                    continue
            out = node if create_graph else node.data
            arity = op.arity
            if arity == 1:
                a = node._a
                x = a if create_graph else a.data
                grads = op.backward(g, out, x, node._b) if op.has_k else op.backward(g, out, x)
                _accumulate(a, grads[0])
            elif arity == 2:
                a, b = node._a, node._b
                if create_graph:
                    ga, gb = op.backward(g, out, a, b)
                else:
                    ga, gb = op.backward(g, out, a.data, b.data)
                _accumulate(a, ga)
                _accumulate(b, gb)
            else:
                ps = node._a
                xs = ps if create_graph else [p.data for p in ps]
                grads = op.backward(g, out, xs, node._b) if op.has_k else op.backward(g, out, xs)
                for p, pg in zip(ps, grads):
                    _accumulate(p, pg)
        for rows in active:
            if rows.pend:
                _flush(rows)
        ok = True
    finally:
        for rows in active:
            if rows.gx is not None and ok:
                _write_back(rows)
            rows.xt = rows.bx = rows.bi = rows.si = rows.gx = rows.pend = rows.cur = rows.shared = None
            rows.late = rows.pre = None


_MAXD = ops.MAX_DETACHED


def _max_detached_backward(xs):
    """MAX_DETACHED's rule (each input gets ones_like(x) * -0.0), skipping the inputs whose
    gradient is already a float, or a float64 batch of their shape: cur + -0.0 is cur bit for
    bit (+0.0 + -0.0 is +0.0, -0.0 + -0.0 is -0.0, nan stays nan), so they keep it. The
    others (no gradient yet, a gathered one, another type) get the rule's term."""
    todo = []
    for x in xs:
        cur, d = x.grad, x.data
        if type(cur) is ndarray and type(d) is ndarray and cur.dtype == _F64 and cur.shape == d.shape:
            continue
        if type(cur) is float and type(d) is float:
            continue
        todo.append(x)
    for x in todo:  # decided above for all first: an input met twice is treated as the rule does
        _accumulate(x, ops.ones_like(x.data) * -0.0)


def _reset_weights(node, late):
    """A layer node's weights to None (their gradients recorded in `late`), for a path that
    adds onto .grad as the per-node sweep does."""
    ws = node._a[:node._b.n]
    late.append((ws, [w.grad for w in ws], False))
    for w in ws:
        w.grad = None


def _accumulate(p, pg):
    # A scalar that met a batch receives one gradient per example: sum them.
    if type(p.data) is not ndarray:
        if type(pg) is ndarray:
            pg = float(pg.cumsum()[-1])  # left to right, as a loop over the examples would
        elif type(pg) is Value and type(pg.data) is ndarray:
            pg = pg.sum()
    cur = p.grad
    p.grad = pg if cur is None else cur + pg  # cur may be a _Gathered: it adds its terms first


# -- a dot over many scalars (losses.l2: the parameters with themselves) -----------------------

def _dot_scalars_backward(node, g):
    """ops.DOT's rule on float data as two array products, added to the weights' gradients,
    then to the inputs' (the order of the rule's list): False leaves it to the rule (a batch
    among the data, a Value twice on one side, a gradient that is not a float)."""
    ps = node._a
    n = len(ps) // 2
    ws, xs = ps[:n], ps[n:]
    same = ws == xs  # the parameters with themselves (losses.l2): each gets its two terms at once
    half = ws if same else ps
    datas = [p.data for p in half]
    if set(map(type, datas)) != {float} or len(set(ws)) != n or not same and len(set(xs)) != n or \
            not {type(p.grad) for p in half} <= {float, type(None)}:
        return False
    a = np.array(datas)
    if same:
        pg = g * a
        parts = ((ws, pg, pg),)
    else:
        parts = ((ws, g * a[n:], None), (xs, g * a[:n], None))
    for part, pg, pg2 in parts:
        curs = [p.grad for p in part]
        nones = curs.count(None)
        if nones == n:
            new = pg
        else:
            have = [c is not None for c in curs]
            base = np.array([c if c is not None else 0.0 for c in curs])
            new = np.where(have, base + pg, pg)  # None + t is t, even for t = -0.0
        if pg2 is not None:
            new = new + pg2
        for p, v in zip(part, new.tolist()):
            p.grad = v
    return True


# -- dot nodes over a batch: a few array operations per node, not a few per weight ------------
# The rule is the same as ops.DOT's (d/dw_i = g * x_i, d/dx_i = g * w_i) and so are the
# numbers: products are elementwise, every sum runs left to right (ops._sum_rows), and each
# Value receives its terms in the order the per-weight sweep would give them.

_DOT = ops.DOT


class _Gathered:
    """Stands in `.grad` of a batched input whose gradient a _DotRows gathers in one array
    (row i). Reading it (the sweep reaches that input) or adding to it (another node's
    term) first writes every gathered gradient back, so no term is added out of order."""

    __slots__ = ("rows", "i")
    __array_ufunc__ = None  # `array + marker` must come to __radd__, never to numpy's loop

    def __init__(self, rows, i):
        self.rows, self.i = rows, i

    def resolve(self):
        rows = self.rows
        return (_flush(rows) if rows.pend else _write_back(rows))[self.i]

    def __add__(self, other):
        return self.resolve() + other

    def __radd__(self, other):
        return other + self.resolve()


_F64 = np.dtype(np.float64)


def _flush(rows):
    """The waiting nodes of a layer at once, the numbers of one node at a time: each weight
    gets g_j * x summed over the batch in order (one term: no weight is in two places), each
    input the terms w_ji * g_j added to its earlier gradient in the sweep's order. Returns
    the inputs' gradients (rows of one array), written to their `.grad`."""
    pend, rows.pend = rows.pend, None
    xt = rows.xt                                   # (batch, n): every input is a batch here
    batch, n = xt.shape
    m = len(pend)
    Gp = _stack_rows([g for _, g in pend])         # (m, batch), the nodes' gradients
    order = _row_order(rows, pend)
    if order is None:  # some of the layer's nodes, or in another order: theirs
        ws = []
        for node, _ in pend:
            ws += node._a[:n]
    else:  # the whole layer: weights (and gradients) in dots' row order
        ws = rows.flat
    W = _packed([w.data for w in ws])  # the weights' data now, as the rule reads them
    if W is None:  # a weight made a batch since forward
        return _flush_by_the_rule(rows, pend)
    W = W.reshape(m, n)
    G = Gp if not order else Gp[::-1]              # rows as W's
    T = layer_kernels.weight_grads(G, xt)  # each weight's products summed over the examples in order
    new = T.ravel().tolist()
    if rows.shared:  # another node may have added a term first: add after it
        new = [t if c is None else c + t for c, t in zip([w.grad for w in ws], new)]
    elif rows.late is not None:  # not reset: add to the earlier gradient as backward() would
        olds = [w.grad for w in ws]
        rows.late.append((ws, olds, True))
        if not _zeroed(olds):  # else (after zero_grad) t alone
            new = [t if type(o) is float and o == 0.0 else o + t for o, t in zip(olds, new)]
    for w, t in zip(ws, new):
        w.grad = t
    # inputs: (node, input, example) products, added node after node onto the earlier gradient
    if order:  # the sweep's order, rows reversed
        W, G = W[::-1], Gp
    cur, rows.cur = rows.cur, None
    acc = _start(cur, batch)
    layer_kernels.input_grads(W, G, acc)
    for x, g in zip(rows.bx, acc):
        x.grad = g
    if rows.pre is not None:
        _relus_ahead(rows.bx, acc, rows.pre)
    return acc


def _start(cur, batch):
    """The rows the inputs' sums start from: an input's gradient so far, -0.0 where it has
    none (-0.0 + t is t, bit for bit, even for t = -0.0)."""
    acc = np.full((len(cur), batch), -0.0)
    for i, c in enumerate(cur):
        if c is not None:
            acc[i] = c
    return acc


def _row_order(rows, pend):
    """0 when the waiting nodes are all of dots' nodes in its row order, 1 when in the
    reverse order (the sweep's usual one), None otherwise."""
    nodes = rows.nodes  # their ids
    if nodes is None or len(pend) != len(nodes):
        return None
    met = [id(node) for node, _ in pend]
    if met == nodes:
        return 0
    met.reverse()
    return 1 if met == nodes else None


def _zeroed(olds):
    """Whether every item is one float zero object (as zero_grad leaves them): identity, so
    that an int 0 or a numpy zero among them (whose sum with a gradient differs in type or
    in the sign of a zero) is never taken for it."""
    z = olds[0] if olds else None
    return type(z) is float and z == 0.0 and all(map(operator.is_, olds, repeat(z)))


_RELU = ops.RELU
_ADD = ops.ADD


def _relus_ahead(xs, acc, pre):
    """RELU's rule for every relu node among a layer's inputs at once, on the gradients just
    written (rows of acc): the sweep takes a node's row when it reaches it, if the node's
    gradient and input are still those objects (nothing added since), else runs the rule.
    Elementwise compare and multiply: each row's numbers are the rule's on that row alone."""
    idx = [i for i, x in enumerate(xs) if x._op is _RELU]
    if len(idx) < 2:
        return
    ins = [xs[i]._a.data for i in idx]
    if set(map(type, ins)) != {ndarray} or {d.shape for d in ins} != {acc.shape[1:]} or \
            {d.dtype for d in ins} != {_F64}:
        return
    out = _RELU.backward(acc[idx], _stack_rows([xs[i].data for i in idx]), _stack_rows(ins))[0]
    rs = list(out)
    for i, d, r in zip(idx, ins, rs):
        x = xs[i]
        pre[x] = (x.grad, d, r)
    # Their `add` nodes (a layer's w.x + b): each bias's term, the sum over the batch of the
    # relu's result, for all rows at once (cumsum along a row: left to right, as _accumulate)
    adds = [xs[i]._a for i in idx]
    bias = [j for j, a in enumerate(adds) if a._op is _ADD and a._b._op is None and type(a._b.data) is float]
    if len(bias) > 1:
        sums = out[bias].cumsum(axis=1)[:, -1].tolist()
        for j, t in zip(bias, sums):
            pre[adds[j]] = (rs[j], None, t)


def _flush_by_the_rule(rows, pend):
    """The waiting nodes one by one through ops.DOT's rule, in order (the inputs get back
    their earlier gradients first): what the sweep would have done had they not waited."""
    for x, c in zip(rows.bx, rows.cur):
        x.grad = c
    rows.cur = None
    for node, g in pend:
        if rows.late is not None:
            _reset_weights(node, rows.late)
        ps = node._a
        for p, pg in zip(ps, _DOT.backward(g, node.data, [p.data for p in ps])):
            _accumulate(p, pg)
    return [x.grad for x in rows.bx]


def _write_back(rows):
    gx, rows.gx = rows.gx, None
    for x, g in zip(rows.bx, gx):
        x.grad = g
    return gx


def _dot_backward(node, g, active, defer=False, late=None, pre=None):
    """Backward of one dot node whose gradient g is a batch; False leaves it to the rule
    (weights holding batches, an input used twice, or too few inputs to gain). A node of a
    layer (autograd.dots) whose weights are leaves only waits, with `defer`: `_flush` does
    all its waiting nodes at once when something needs their terms."""
    ps, rows = node._a, node._b
    if type(rows) is not _DotRows:  # made by dot(): a group of its own
        n = len(ps) // 2
        if n < 3 or set(map(type, [w.data for w in ps[:n]])) != {float} or len(set(map(id, ps[n:]))) != n:
            return False
        rows = _DotRows(n)
        defer = False
    n = rows.n
    if rows.xt is None:  # the first of its nodes in this sweep: stack the inputs once
        xs = ps[n:]
        datas = [x.data for x in xs]
        x = _stack_rows(datas) if set(map(type, datas)) == {ndarray} else ops._stack(datas, len(g))
        if x is None or x.shape != (n, len(g)):
            return False
        rows.xt = np.ascontiguousarray(x.T)
        rows.bi = [i for i, d in enumerate(datas) if type(d) is ndarray]
        rows.si = [i for i, d in enumerate(datas) if type(d) is not ndarray]
        rows.bx = [xs[i] for i in rows.bi]
        if rows.leaf_ws:
            rows.late = late
        rows.pre = pre
        active.append(rows)
    if defer and rows.leaf_ws and not rows.si:  # its weights are read when it runs (_flush)
        if rows.pend is None:  # gather the inputs' gradients from here on
            bx = rows.bx
            for x in bx:  # another layer still gathering for these inputs writes back first
                if type(x.grad) is _Gathered:
                    x.grad.resolve()
            rows.cur = [x.grad for x in bx]
            for i, x in enumerate(bx):
                x.grad = _Gathered(rows, i)
            rows.pend = []
            rows.shared = defer == 2
        rows.pend.append((node, g))
        return True
    ws = ps[:n]
    wd = [w.data for w in ws]
    if set(map(type, wd)) != {float}:
        return False
    if rows.late is not None:
        _reset_weights(node, rows.late)
    w = np.array(wd)
    # weights: g * x_i summed over the batch, one number each
    for v, t in zip(ws, ops._sum_rows(g[:, None] * rows.xt).tolist()):
        cur = v.grad
        v.grad = t if cur is None else cur + t
    if rows.si:  # scalar inputs met the batch too: one number each
        xs = ps[n:]
        for i, t in zip(rows.si, ops._sum_rows(g[:, None] * w[rows.si]).tolist()):
            x = xs[i]
            cur = x.grad
            x.grad = t if cur is None else cur + t
    if rows.bi:  # batched inputs: g * w_i, gathered in one array across the group's nodes
        p = (w if not rows.si else w[rows.bi])[:, None] * g
        if rows.gx is not None:
            rows.gx += p
            return True
        bx = rows.bx
        for x in bx:  # another group still gathering for these inputs writes back first
            if type(x.grad) is _Gathered:
                x.grad.resolve()
        for i, x in enumerate(bx):
            cur = x.grad
            if cur is not None:
                p[i] = cur + p[i]
            x.grad = _Gathered(rows, i)
        rows.gx = p
    return True


__all__ = ["backward", "no_grad", "is_grad_enabled", "topological_order", "gc_paused"]
