"""Layers out of a scalar trace, as numpy code: a few lines per group of nodes, not one per node.

The groups are structured.Plan's (nodes at one depth with the same operation, constant and
shapes: a layer's dots, the `+ b` and activation after them). Every node's value lives in one
flat array `M` (its gradient in `GM`), a group's members side by side, so that a group reads its
operands as slices or gathers of `M` and runs as one numpy call on a 2-D block (members x
examples). Code size and build time grow with the number of groups, not of weights; graphs
without a group of n-ary nodes keep the straight-line code (numpy_backend.py).

The numbers are the straight-line code's (so the eager engine's), bit for bit:

- every sum runs in the eager order: a dot over its inputs left to right, a scalar's gradient
  over the examples in order, a node's gradient over its consumers last first. `_fold` keeps
  those orders while working on whole blocks (a running sum across members and examples,
  never numpy's pairwise or BLAS sums);
- elementwise rules are the table's own, called on blocks (unary ones on a flat 1-D array, as
  eager calls them on a batch); where a rule on Python floats could differ from numpy in the
  last bit (math.tanh against np.tanh), scalar nodes go through the rule one float at a time;
- gradients start at -0.0 (-0.0 + x is x, bit for bit, as eager's first assignment);
- the plan is checked before use: a leaf whose gradient terms the groups would add in another
  order than the straight-line code (consumers spread over groups, interleaved) keeps them
  aside and adds them in that order at the end; for an inner node that cannot wait, the trace
  keeps the straight-line code. Any exception reruns the call through the straight-line code,
  so that a domain error is its message, naming the example's index in its batch.

Not BLAS: `@` would sum in its own order (and differ from eager in the last bits), so a layer's
products are summed by `_fold`, a few numpy calls per block (about 3 ns a multiply-add here,
against BLAS's 0.3): the price of the promise above. M and GM are kept between calls, one pair
per thread.

    >>> import numpy as np, nn
    >>> from autograd.compiler.trace import trace
    >>> def lines(width):
    ...     model = nn.MLP(3, [width, width, 1], seed=0)
    ...     t = trace(lambda X: (model(X) ** 2).mean(), [np.ones((5, 3))])
    ...     return generate(t)[0].splitlines()
    >>> len(lines(16)), len(lines(64))
    (68, 68)
    >>> [line.strip() for line in lines(16) if "dot_layer(" in line][1]   # the second layer's dots
    'M[608:688].reshape(16, 5)[:] = dot_layer(M[79:351].reshape(16, 17)[::-1, :16], M[528:608].reshape(16, 5)[::-1])'
"""
from __future__ import annotations

import threading

import numpy as np

from .structured import Plan, reorder_params

LIMIT = 1 << 15  # elements of a block of products in _fold: 256 kB, stays in L2

# Rules whose float and numpy forms agree to the bit (plain IEEE arithmetic): scalar groups of
# these run vectorised; any other scalar group applies its rule float by float.
_EXACT_ON_FLOATS = {"add", "sub", "mul", "div", "neg", "square", "sum", "dot"}
# Binary rules that may meet a scalar operand as a (members, 1) column instead of a float.
_SCALAR_OPERAND_OK = {"add", "sub", "mul", "div", "maximum", "minimum"}


# -- kernels the generated code calls ------------------------------------------------------------

def _fold(A, Y, acc):
    """acc += A[0][:, None] * Y[0], then A[1] ..., each step rounded (in place, returns acc):
    the running sum a loop over k would make, for every (r, c) at once. A block of rows at a
    time (so that it stays in cache), the products of several k in one buffer behind the running
    sum, summed by numpy's add.reduce over the first axis, which adds row after row."""
    K, R = A.shape
    C = Y.shape[1]
    if K == 0 or R == 0 or C == 0:
        return acc
    r = max(1, min(R, (LIMIT // 8) // C))
    for r0 in range(0, R, r):
        r1 = min(R, r0 + r)
        if (r1 - r0) * C == 1:  # one number: numpy would sum a single column pairwise
            v = np.empty(K + 1)
            v[0] = acc[r0, 0]
            np.multiply(A[:, r0], Y[:, 0], out=v[1:])
            acc[r0, 0] = np.cumsum(v)[-1]
            continue
        a = np.array(acc[r0:r1])
        kc = min(K, max(1, LIMIT // ((r1 - r0) * C)))
        buf = np.empty((kc + 1, r1 - r0, C))
        for k0 in range(0, K, kc):
            k1 = min(K, k0 + kc)
            buf[0] = a
            np.multiply(A[k0:k1, r0:r1, None], Y[k0:k1, None, :], out=buf[1:k1 - k0 + 1])
            np.add.reduce(buf[:k1 - k0 + 1], axis=0, out=a, initial=-0.0)  # no 0.0 first: it drops a sign
        acc[r0:r1] = a
    return acc


def dot_layer(W, X):
    """W (m, P) times X (P, B) as eager's dot: 0.0 + W[j, 0] * X[0] + W[j, 1] * X[1] + ..."""
    return _fold(np.ascontiguousarray(W.T), X, np.zeros((W.shape[0], X.shape[1])))


def dot_layer_grad_x(W, G, GX):
    """GX (P, B) plus W[j, q] * G[j] for the neurons j last to first (the sweep's order)."""
    return _fold(np.ascontiguousarray(W[::-1]), np.ascontiguousarray(G[::-1]), GX)


def dot_layer_grad_w(G, X):
    """sum over the examples, in order, of G[j, i] * X[q, i]: (m, P), as eager's cumsum of a
    weight's products (starting from -0.0, which adds nothing, not even a sign)."""
    acc = np.full((G.shape[0], X.shape[0]), -0.0)
    return _fold(np.ascontiguousarray(G.T), np.ascontiguousarray(X.T), acc)


def dot_any(W3, X3):
    """Dots of any shape, inputs gathered as (P, members, width): 0.0 + w0 * x0 + ..."""
    acc = np.zeros(np.broadcast_shapes(W3.shape[1:], X3.shape[1:]))
    for w, x in zip(W3, X3):
        acc = acc + w * x
    return acc


def seq_sum(X3, init):
    """init + X3[0] + X3[1] + ... (rows in order), for sum nodes."""
    if X3[0].size == 1:
        v = np.concatenate([[init], X3.reshape(-1)])
        return np.cumsum(v)[-1:].reshape(X3.shape[1:])
    return np.add.reduce(X3, axis=0, initial=init)


def fit(c, shape):
    """c as an array of this shape (a read-only view when it must be broadcast)."""
    return c if getattr(c, "shape", None) == shape else np.broadcast_to(c, shape)


def row_sums(c):
    """Each row summed left to right (a scalar's gradient over a batch, as eager's cumsum)."""
    return np.cumsum(c, axis=-1)[..., -1]


# -- code generation -----------------------------------------------------------------------------

def _aff(offs):
    """(start, stride) when offs (a 1-D int array) is start + j * stride, else None."""
    if len(offs) == 1:
        return int(offs[0]), 0
    d = np.diff(offs)
    return (int(offs[0]), int(d[0])) if (d == d[0]).all() else None


def _distinct(a):
    """Whether no number repeats in the 1-D int array a."""
    s = np.sort(a, kind="stable")
    return not (s[1:] == s[:-1]).any()


class _Gen:
    """One trace's layout (offsets of every node in M and GM) and generated lines."""

    def __init__(self, t, plan):
        self.t, self.plan = t, plan
        self.ns = {"np": np, "dot_layer": dot_layer, "dot_layer_grad_x": dot_layer_grad_x,
                   "dot_layer_grad_w": dot_layer_grad_w, "dot_any": dot_any, "seq_sum": seq_sum,
                   "row_sums": row_sums, "fit": fit}
        self.lines = []
        nodes = t.nodes
        self.batch = np.array([n.batch for n in nodes], dtype=np.int64)
        width = np.maximum(self.batch, 1)
        self.off = np.zeros(len(nodes), dtype=np.int64)
        o = 0
        for i, shape in zip(t.args, t.arg_shapes):  # every argument is packed, used or not
            if i is not None:
                self.off[i] = o
            o += int(np.prod(shape)) if shape else 1
        self.n_in = self.par0 = o
        order = list(t.param_nodes)
        self.n_scalar = int((self.batch[list(t.param_nodes)] == 0).sum()) if t.param_nodes else 0
        for g in plan.groups:
            order.extend(g.members)
        order = np.array(order, dtype=np.int64)
        ends = o + np.cumsum(width[order])
        self.off[order] = ends - width[order]
        self.total = int(ends[-1]) if len(ends) else o
        for g in plan.groups:
            g.base = int(self.off[g.members[0]])
        self.need = np.zeros(len(nodes), dtype=bool)
        self.need[list(t.needs_grad)] = True
        self.lowest = np.full(len(nodes), len(nodes), dtype=np.int64)  # see `received`
        self.conflicts = set()  # targets whose terms the groups would add out of order
        self.deferred = np.zeros(len(nodes), dtype=bool)  # leaves whose terms wait till the end
        self.terms = []  # (TB start, count, sort keys, GM offsets) of the deferred terms
        self.n_terms = 0
        self._layers = {}

    def const(self, prefix, value):
        name = f"{prefix}{len(self.ns)}"
        self.ns[name] = value
        return name

    def positions(self, g):
        """(P, m) array: the node at operand position q of member j."""
        key = ("pos", id(g))
        if key not in self._layers:
            nodes = self.t.nodes
            if len(g.members) == 1:
                ps = nodes[g.members[0]].parents
                self._layers[key] = np.fromiter(ps, np.int64, len(ps))[:, None]
            else:
                self._layers[key] = np.array([nodes[mm].parents for mm in g.members], dtype=np.int64).T
        return self._layers[key]

    # -- addressing ------------------------------------------------------------------------------

    def read(self, arr, nodes, batched, group_batch):
        """An expression for the nodes' values: (len(nodes), width) when batched, else
        (len(nodes),), or (len(nodes), 1) beside a batch."""
        nodes = np.asarray(nodes, dtype=np.int64)
        m = len(nodes)
        offs = self.off[nodes]
        a = _aff(offs)
        if batched:
            w = int(self.batch[nodes[0]])
            if a is not None and (m == 1 or a[1] == w):
                return f"{arr}[{a[0]}:{a[0] + m * w}].reshape({m}, {w})"
            if a is not None and a[1] == -w:  # members in reverse order (the trace's, for a layer)
                lo = a[0] - (m - 1) * w
                return f"{arr}[{lo}:{lo + m * w}].reshape({m}, {w})[::-1]"
            if a is not None and a[1] == 0:
                return f"{arr}[{a[0]}:{a[0] + w}].reshape(1, {w})"
            return f"{arr}[{self.const('T', offs[:, None] + np.arange(w))}]"
        if a is not None and (m == 1 or a[1] == 0):
            e = f"{arr}[{a[0]}:{a[0] + 1}]"
        elif a is not None and a[1] == 1:
            e = f"{arr}[{a[0]}:{a[0] + m}]"
        elif a is not None and a[1] > 0:
            e = f"{arr}[{a[0]}:{a[0] + (m - 1) * a[1] + 1}:{a[1]}]"
        elif a is not None:
            lo = a[0] + (m - 1) * a[1]
            e = f"{arr}[{lo}:{a[0] + 1}:{-a[1]}][::-1]"
        else:
            e = f"{arr}[{self.const('T', offs)}]"
        return e + "[:, None]" if group_batch else e

    def gather3(self, arr, pos, B):
        """Operands of an n-ary group as one (positions, members, width) array."""
        w = B or 1
        step = (self.batch[pos] > 0)[:, :, None] * np.arange(w)[None, None, :]
        return f"{arr}[{self.const('T', self.off[pos][:, :, None] + step)}]"

    def matrix(self, arr, ws):
        """(m, P) weights: a strided view of `arr` when they sit in rows of a matrix."""
        m, P = ws.shape
        offs = self.off[ws]
        firsts = _aff(offs[:, 0])
        if P and firsts is not None and (P == 1 or (np.diff(offs, axis=1) == 1).all()):
            s, rs = firsts
            if m == 1:
                return f"{arr}[{s}:{s + P}][None, :]"
            if rs >= P and s + m * rs <= self.total:
                return f"{arr}[{s}:{s + m * rs}].reshape({m}, {rs})[:, :{P}]"
            lo = s + (m - 1) * rs
            if rs <= -P and lo - m * rs <= self.total:
                return f"{arr}[{lo}:{lo - m * rs}].reshape({m}, {-rs})[::-1, :{P}]"
        return f"{arr}[{self.const('T', offs)}]"

    def out(self, g):
        m, w = len(g.members), g.batch or 1
        return f"M[{g.base}:{g.base + m * w}]" + (f".reshape({m}, {w})[:]" if g.batch else "")

    # -- order of gradient terms -------------------------------------------------------------------

    def received(self, consumers, targets):
        """Note the terms one group adds (consumer node -> target node); False when a target
        would get them out of the straight-line order (consumers last first): every earlier
        group's consumers of a target must come after this group's in the trace."""
        consumers, targets = np.ravel(consumers), np.ravel(targets)
        keep = ~self.deferred[targets]
        consumers, targets = consumers[keep], targets[keep]
        if not len(targets):
            return True
        late = consumers >= self.lowest[targets]
        if late.any():
            self.conflicts.update(targets[late].tolist())
            return False
        np.minimum.at(self.lowest, targets, consumers)
        return True

    # -- forward -----------------------------------------------------------------------------------

    def forward(self, g):
        t = self.t
        m, B = len(g.members), g.batch
        op = g.op
        K = self.const("K", g.k) if op.has_k else None
        F = self.const("F", op.forward)
        L = self.lines
        L.append(f"    # {op.name}: {m} node(s), batch {B}")
        pos = self.positions(g)
        if op.arity == "n":
            return self.forward_nary(g, F, pos)
        flags = (self.batch[pos[:, 0]] > 0).tolist()
        ins = [self.read("M", ps, f, B) for ps, f in zip(pos, flags)]
        kk = f", {K}" if K else ""
        if op.name in ("batch_sum", "batch_mean"):
            if not flags[0]:
                L.append(f"    {self.out(g)} = {ins[0]}")
                return
            b = int(self.batch[pos[0][0]])
            scale = f" * {1.0 / b!r}" if op.name == "batch_mean" else ""
            L.append(f"    {self.out(g)} = row_sums({ins[0]}){scale}")
            return
        args = ", ".join(f"x{q}" for q in range(len(ins)))
        if not B:
            if op.name in _EXACT_ON_FLOATS:
                L.append(f"    {self.out(g)} = {F}({', '.join(ins)}{kk})")
            else:  # a float at a time: math's functions, as eager on scalars
                it = ", ".join(f"fit({e}, ({m},)).tolist()" for e in ins)
                L.append(f"    {self.out(g)} = [{F}({args}{kk}) for {args}{',' if len(ins) == 1 else ''} in zip({it})]")
        elif len(ins) == 1:  # on a flat batch, as eager calls the rule
            L.append(f"    {self.out(g)} = {F}(np.ascontiguousarray(fit({ins[0]}, ({m}, {B}))).reshape(-1){kk}).reshape({m}, {B})")
        elif all(flags) or op.name in _SCALAR_OPERAND_OK:
            L.append(f"    {self.out(g)} = {F}({', '.join(ins)}{kk})")
        else:  # a scalar operand this rule might treat with math's functions: member by member
            rows = ", ".join(f"fit({e}, ({m}, {B}))" if f else f"fit({e}, ({m}, 1))[:, 0].tolist()"
                             for e, f in zip(ins, flags))
            L.append(f"    {self.out(g)} = [{F}({args}{kk}) for {args} in zip({rows})]")

    def forward_nary(self, g, F, pos):
        L = self.lines
        m, B = len(g.members), g.batch
        layer = self.dot_layer(g)
        if layer is not None:
            ws, xs = layer
            L.append(f"    {self.out(g)} = dot_layer({self.matrix('M', ws)}, {self.read('M', xs, True, B)})")
            return
        P = len(pos)
        X3 = self.gather3("M", pos, B) + ("" if B else f".reshape({P}, {m})")
        if g.op.name == "dot":
            L.append(f"    _x = {X3}")
            L.append(f"    {self.out(g)} = dot_any(_x[:{P // 2}], _x[{P // 2}:])")
        elif g.op.name == "sum":
            L.append(f"    {self.out(g)} = seq_sum({X3}, 0.0)")
        elif B:
            L.append(f"    {self.out(g)} = {F}(list({X3}))")
        else:
            L.append(f"    {self.out(g)} = [{F}(xs) for xs in {X3}.T.tolist()]")

    def dot_layer(self, g):
        """(weights (m, P), inputs (P,)) node arrays when g is a layer's dots: scalar weights,
        each used once, batched inputs shared by every member, each once; else None."""
        if id(g) in self._layers:
            return self._layers[id(g)]
        self._layers[id(g)] = None
        if g.op.name != "dot" or not g.batch:
            return None
        pos = self.positions(g)
        P = len(pos) // 2
        ws, xs = pos[:P].T, pos[P:].T
        if not P or not (xs == xs[0]).all() or not _distinct(xs[0]):
            return None
        if not _distinct(np.concatenate([ws.ravel(), xs[0]])):
            return None
        if self.batch[ws].any() or (self.batch[xs[0]] != g.batch).any():
            return None
        needed = self.need[g.members]
        if needed.any() and not needed.all():
            return None
        self._layers[id(g)] = (ws, xs[0])
        return self._layers[id(g)]

    # -- backward ----------------------------------------------------------------------------------

    def backward(self, g):
        L = self.lines
        members = np.array(g.members, dtype=np.int64)
        if not self.need[members].any():
            return True
        m, B = len(g.members), g.batch
        op = g.op
        pos = self.positions(g)
        P = len(pos)
        flags = (self.batch[pos[:, 0]] > 0).tolist()
        L.append(f"    # {op.name}: {m} node(s), batch {B}")
        gexpr = self.read("GM", members, bool(B), 0)
        oexpr = self.read("M", members, bool(B), 0)
        if op.arity == "n" and self.dot_layer(g) is not None:
            return self.backward_layer(g)
        Bk = self.const("B", op.backward)
        K = f", {self.const('K', g.k)}" if op.has_k else ""
        if op.arity == "n":
            X3 = self.gather3("M", pos, B) + ("" if B else f".reshape({P}, {m})")
            L.append(f"    _g = {gexpr}")
            if op.name == "dot":
                h = P // 2
                L.append(f"    _x = {X3}")
                L.append(f"    _c = np.concatenate([_g * _x[{h}:], _g * _x[:{h}]])")
            elif op.name == "sum":
                L.append(f"    _c = np.broadcast_to(_g, ({P},) + _g.shape)")
            elif B:
                L.append(f"    _c = np.array(np.broadcast_arrays(*{Bk}(_g, {oexpr}, list({X3}){K})))")
            else:
                L.append(f"    _c = np.array([{Bk}(gj, oj, xs{K}) for gj, oj, xs in zip(_g.tolist(), {oexpr}.tolist(), "
                         f"{X3}.T.tolist())]).T")
            return self.scatter(g, pos, flags, "_c", stacked=True)
        ins = [self.read("M", ps, f, B) for ps, f in zip(pos, flags)]
        args = ", ".join(f"x{q}" for q in range(len(ins)))
        if op.name in ("batch_sum", "batch_mean"):
            if flags[0]:  # a scalar's gradient spread over its batch: targets wider than the group
                return self.spread(g, pos[0], op.name == "batch_mean")
            L.append(f"    _c = [{gexpr} * 1.0]")
        elif not B and op.name not in _EXACT_ON_FLOATS:
            it = ", ".join(f"fit({e}, ({m},)).tolist()" for e in ins)
            L.append(f"    _c = list(zip(*[{Bk}(gj, oj, {args}{K}) for gj, oj, {args} in zip({gexpr}.tolist(), "
                     f"{oexpr}.tolist(), {it})]))")
        elif B and len(ins) == 1:
            L.append(f"    _c = [np.reshape(c, ({m}, {B})) for c in {Bk}({gexpr}.reshape(-1), {oexpr}.reshape(-1), "
                     f"np.ascontiguousarray(fit({ins[0]}, ({m}, {B}))).reshape(-1){K})]")
        elif not B or all(flags) or op.name in _SCALAR_OPERAND_OK:
            L.append(f"    _c = {Bk}({gexpr}, {oexpr}, {', '.join(ins)}{K})")
        else:
            rows = ", ".join(f"fit({e}, ({m}, {B}))" if f else f"fit({e}, ({m}, 1))[:, 0].tolist()"
                             for e, f in zip(ins, flags))
            L.append(f"    _c = [np.array(c) for c in zip(*[{Bk}(gj, oj, {args}{K}) for gj, oj, {args} in "
                     f"zip({gexpr}, {oexpr}, {rows})])]")
        return self.scatter(g, pos, flags, "_c")

    def spread(self, g, targets, mean):
        """batch_sum / batch_mean of batches: each member's gradient (times 1/b) to every
        example of its operand, as the rule's g * ones_like(a) * (1 / b)."""
        members = np.array(g.members, dtype=np.int64)
        ok = self.need[members] & self.need[targets]
        if not ok.any():
            return True
        if not _distinct(targets[ok]) or self.deferred[targets[ok]].any():
            return False  # one batch reduced twice at one depth: left to the straight-line code
        if not self.received(members[ok], targets[ok]):
            return False
        b = int(self.batch[targets[0]])
        scale = f" * {1.0 / b!r}" if mean else ""
        rows = np.flatnonzero(ok)
        gexpr = self.read("GM", members[rows], False, 0)
        tgt = self.read("GM", targets[rows], True, 0)
        self.lines.append(f"    {_target(tgt)} += fit({gexpr}[:, None] * 1.0, ({len(rows)}, {b})){scale}")
        return True

    def backward_layer(self, g):
        L = self.lines
        ws, xs = self.dot_layer(g)
        members = np.array(g.members, dtype=np.int64)
        W = self.matrix("M", ws)
        Gx = self.read("GM", members, True, 0)
        X = self.read("M", xs, True, g.batch)
        cons, tgts = [], []
        xn = xs[self.need[xs]]
        if len(xn):  # every neuron adds to every input, last first (the kernel's order too)
            GX = self.read("GM", xs, True, g.batch)
            L.append(f"    {_target(GX)} = dot_layer_grad_x({W}, {Gx}, np.array({GX}))")
            cons.append(np.repeat(members, len(xn)))
            tgts.append(np.tile(xn, len(members)))
        wn = self.need[ws]
        if wn.any():
            L.append(f"    {_target(self.matrix('GM', ws))} += dot_layer_grad_w({Gx}, {X})")
            cons.append(np.broadcast_to(members[:, None], ws.shape)[wn])
            tgts.append(ws[wn])
        if not cons:
            return True
        if self.deferred[np.concatenate(tgts)].any():
            return False  # the layer's kernels add straight into GM
        return self.received(np.concatenate(cons), np.concatenate(tgts))

    def scatter(self, g, pos, flags, c, stacked=False):
        """Add the group's gradient terms (`c`: one block per operand position) to GM, for the
        members and operands that need them, in the straight-line order."""
        L = self.lines
        m, B = len(g.members), g.batch
        members = np.array(g.members, dtype=np.int64)
        ok = self.need[members][None, :] & self.need[pos]  # (P, m): terms that count
        if not ok.any():
            return True
        if not self.received(np.broadcast_to(members[None, :], pos.shape)[ok], pos[ok]):
            return False
        targets = pos[ok]
        unique = _distinct(targets)
        later = self.deferred[pos] & ok  # terms that wait (deferred leaves): the flat path below
        defer = bool(later.any())

        def block(v, q):
            v = f"fit({v}, ({m}, {B}))" if B else f"fit({v}, ({m},))"
            return f"row_sums({v})" if B and not flags[q] else v
        if not unique and not stacked and not defer:  # x * x: a target's terms all from one member, one per
            # position, are in order when the positions are added one after another
            j = np.broadcast_to(np.arange(m)[None, :], pos.shape)[ok]
            o = np.lexsort((j, targets))
            same = targets[o][1:] == targets[o][:-1]
            unique = (j[o][1:][same] == j[o][:-1][same]).all() and all(
                _distinct(ps[ok[q]]) for q, ps in enumerate(pos))
        if unique and not stacked and not defer:  # each target once a position: slices where the layout allows
            for q, ps in enumerate(pos):
                rows = np.flatnonzero(ok[q])
                if not len(rows):
                    continue
                v = block(f"{c}[{q}]", q)
                if len(rows) < m:
                    v = f"{v}[{self.const('R', rows)}]"
                tgt = self.read("GM", ps[rows], flags[q] and bool(B), 0)
                L.append(f"    {_target(tgt)} += {v}")
            return True
        # all terms as one flat array, put in the straight-line order (members last first, then
        # positions); np.add.at adds repeated targets one after another, in index order
        P, w = len(pos), B or 1
        wq = np.array([w if (B and f) else 1 for f in flags])
        starts = np.concatenate([[0], np.cumsum(m * wq)[:-1]])
        qs, js = np.nonzero(ok)
        d = later[qs, js]  # which terms wait (deferred leaves)
        we = wq[qs]
        rep = np.repeat(np.arange(len(qs)), we)
        i = np.arange(len(rep)) - np.repeat(np.cumsum(we) - we, we)
        qs, js = qs[rep], js[rep]
        cat = starts[qs] + js * wq[qs] + i
        idx = self.off[pos[qs, js]] + i
        d = d[rep]
        keys = (i, qs, -members[js])
        if stacked and len(set(flags)) == 1:
            v = f"fit({c}, ({P}, {m}, {B}))" if B else f"fit({c}, ({P}, {m}))"
            flat = f"np.ravel(row_sums({v}))" if B and not flags[0] else f"np.ravel({v})"
        else:
            flat = "np.concatenate([" + ", ".join(f"np.ravel({block(f'{c}[{q}]', q)})" for q in range(P)) + "])"
        if d.any():  # kept in TB, added in the straight-line order at the end (`deferred_sum`)
            n = int(d.sum())
            self.terms.append((self.n_terms, [k[d] for k in keys], idx[d]))
            L.append(f"    _f = {flat}")
            L.append(f"    TB[{self.n_terms}:{self.n_terms + n}] = _f[{self.const('P', cat[d])}]")
            self.n_terms += n
            cat, idx, keys = cat[~d], idx[~d], [k[~d] for k in keys]
            flat = "_f"
            if not len(cat):
                return True
        order = np.lexsort(keys)
        perm = self.const("P", cat[order])
        tix = self.const("T", idx[order])
        if unique:
            L.append(f"    GM[{tix}] += {flat}[{perm}]")
        else:
            L.append(f"    np.add.at(GM, {tix}, {flat}[{perm}])")
        return True

    def deferred_sum(self):
        """The deferred leaves' terms, added in the straight-line order: consumers last first
        (np.add.at adds one after another, in index order)."""
        if not self.terms:
            return
        starts = np.concatenate([np.arange(a, a + len(ix)) for a, _, ix in self.terms])
        keys = [np.concatenate([k[n] for _, k, _ in self.terms]) for n in range(3)]
        idx = np.concatenate([ix for _, _, ix in self.terms])
        order = np.lexsort(keys)
        self.lines.append(f"    np.add.at(GM, {self.const('T', idx[order])}, TB[{self.const('P', starts[order])}])")


def _target(expr):
    """An expression one can assign to: a reshaped slice gets [...]."""
    return expr + "[...]" if expr.endswith(")") else expr


def generate(t, plan=None):
    """(source, namespace) of `run(args, params, want_grad)` as numpy_backend's, or None when
    the plan has no layer or its gradient order differs from the straight-line code's."""
    plan = plan or Plan(t)
    if not plan.layered:
        return None
    reorder_params(t, plan.param_order())  # as the C code does: a layer's weights as a matrix
    leaves = {n.index for n in t.nodes if n.kind != "op"}
    deferred = set()
    for _ in range(8):  # again with the leaves whose terms came out of order deferred
        result, conflicts = _generate(t, plan, deferred)
        if result is not None or not conflicts <= leaves or conflicts <= deferred:
            return result
        deferred |= conflicts
    return None


def _generate(t, plan, deferred):
    G = _Gen(t, plan)
    G.deferred[list(deferred)] = True
    L = G.lines
    L.append("def run(args, params, want_grad):")
    # M and GM are kept between calls (one pair per thread): fresh megabytes every call cost
    # more in page faults than small layers cost in arithmetic
    G.ns["_local"] = threading.local()
    L.append("    M, GM = getattr(_local, 'buffers', None) or _buffers(_local)")
    if G.n_in and all(len(shape) == 1 for shape in t.arg_shapes):  # batches only: no ravel
        L.append(f"    M[:{G.n_in}] = np.concatenate(args)")
    elif G.n_in:
        L.append(f"    M[:{G.n_in}] = np.concatenate([np.ravel(a) for a in args])")
    ns_ = G.n_scalar
    # params: the parameters' data in slot order, or (FlatStep) a tuple (scalars as one array,
    # the batched ones): then the scalars' gradient comes back as one array
    L.append("    flat = type(params) is tuple")
    L.append(f"    scalars, batched = params if flat else (params[:{ns_}], params[{ns_}:])")
    if ns_:
        L.append(f"    M[{G.par0}:{G.par0 + ns_}] = scalars if flat else np.fromiter(scalars, np.float64, {ns_})")
    o = G.par0 + ns_
    for k, i in enumerate(t.param_nodes[ns_:]):
        b = t.nodes[i].batch
        L.append(f"    M[{o}:{o + b}] = batched[{k}]")
        o += b
    for g in plan.groups:
        G.forward(g)

    def value(i):
        b = t.nodes[i].batch
        return f"M[{G.off[i]}:{G.off[i] + b}].copy()" if b else f"float(M[{G.off[i]}])"
    L.append(f"    out = {value(t.root)}")
    L.append(f"    seen = ({''.join(value(i) + ', ' for i in t.watched)})")
    L.append("    if not want_grad:\n        return out, seen, None")
    L.append("    GM.fill(-0.0)")
    if G.need[t.root]:
        L.append(f"    GM[{G.off[t.root]}] = 1.0")
    if deferred:
        L.append("    TB = np.empty(N_TERMS)")
    for g in reversed(plan.groups):
        if not G.backward(g):
            return None, G.conflicts
    G.deferred_sum()
    G.ns["N_TERMS"] = G.n_terms
    total = max(G.total, 1)
    G.ns["_buffers"] = lambda local: setattr(local, "buffers", (np.empty(total), np.empty(total))) or local.buffers
    grads = []
    if ns_:
        L.append(f"    grads = GM[{G.par0}:{G.par0 + ns_}].copy()")
        idle = [k for k, i in enumerate(t.param_nodes[:ns_]) if not G.need[i]]
        if idle:
            L.append(f"    grads[{G.const('I', np.array(idle, dtype=np.intp))}] = 0.0")
        L.append("    if flat:\n        return out, seen, grads")
        L.append("    grads = grads.tolist()")
    else:
        L.append("    if flat:\n        return out, seen, np.zeros(0)")
        L.append("    grads = []")
    o = G.par0 + ns_
    for i in t.param_nodes[ns_:]:
        b = t.nodes[i].batch
        L.append(f"    grads.append(GM[{o}:{o + b}].copy())" if G.need[i] else "    grads.append(0.0)")
        o += b
    L.append("    return out, seen, tuple(grads)")
    return ("\n".join(L) + "\n", G.ns), set()
