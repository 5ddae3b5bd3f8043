"""Layers out of a scalar trace: C whose size grows with layers and operation kinds, not weights.

An nn model's graph is regular: the neurons of one layer are `dot` nodes over the same input
list, each followed by the same `+ b` and activation. This pass groups the nodes that can run
side by side (same depth in the graph, so none depends on another; same operation, constant
and batch shape) and lays each group out as one block of memory, so that a group becomes one
loop nest over its members instead of one line per node. Where a group's operands sit in memory
follows a pattern (a slice of another group, a row-major weight matrix, one node shared by
every member) the loops address them by arithmetic; otherwise by a table of offsets. Groups of
one node are the straight-line code of old, so any graph compiles.

The sums keep the eager engine's orders: a dot sums over its inputs left to right for each
example (vectorised across the examples, several neurons at a time), a scalar's gradient sums
over the examples in order (vectorised across the weights, on a transposed copy of the inputs),
and a node's gradient from the members of one group arrives in the eager sweep's order.

    >>> import numpy as np, nn
    >>> from autograd.compiler.trace import trace
    >>> model = nn.MLP(3, [64, 64, 1], seed=0)
    >>> t = trace(lambda X: (model(X) ** 2).mean(), [np.ones((5, 3))])
    >>> plan = Plan(t)
    >>> [(g.op.name, len(g.members)) for g in plan.groups if len(g.members) > 1]
    [('dot', 64), ('add', 64), ('relu', 64), ('dot', 64), ('add', 64), ('relu', 64)]
"""
from __future__ import annotations

import numpy as np

from .symbolic import Sym, c_number, to_c
from .c_backend import fold
from .dot_kernels import KERNELS, scratch_sizes



class Group:
    """Nodes run side by side: same depth, operation, constant and shapes; `base` is where
    their values (one row of `batch` numbers per member) start in the program's memory."""

    __slots__ = ("members", "op", "k", "batch", "depth", "first", "base")

    def __init__(self, op, k, batch, depth, first):
        self.members, self.op, self.k, self.batch, self.depth, self.first = [], op, k, batch, depth, first
        self.base = 0


def _depths(t):
    d = [0] * len(t.nodes)
    get = d.__getitem__
    for n in t.nodes:
        if n.parents:
            d[n.index] = 1 + max(map(get, n.parents))
    return d


def _signature(t, n, depth):
    k = n.k
    key_k = repr(k) if k is not None else None
    flags = tuple(map(bool, map(t.batches.__getitem__, n.parents)))  # batched or not, per parent
    return (depth, n.op.name, key_k, n.batch, len(n.parents) if n.op.arity == "n" else 0, flags)


class Plan:
    """The trace's groups, their memory layout and the parameters' order (scalars first)."""

    def __init__(self, t):
        self.t = t
        depth = _depths(t)
        groups, by_sig = [], {}
        for n in t.nodes:
            if n.kind != "op":
                continue
            sig = _signature(t, n, depth[n.index])
            g = by_sig.get(sig)
            if g is None:
                g = by_sig[sig] = Group(n.op, n.k, n.batch, depth[n.index], n.index)
                groups.append(g)
            g.members.append(n.index)
        groups.sort(key=lambda g: (g.depth, g.first))  # a node's parents are all at lower depths
        self.groups = groups
        self.layered = any(g.op.arity == "n" and len(g.members) > 1 for g in groups)

    # -- parameters: placed so that weight matrices and parameter vectors are contiguous ----------

    def param_order(self):
        """Scalars first, then batched ones (as the C runner packs them). Layouts are tried
        in turn and the first needing no offset table (else the one needing the fewest) wins:
        a layer's weight rows each followed by its neuron's bias (nn's own order, so a flat
        parameter array needs no reordering), rows in either order, or weight matrices first,
        then parameter vectors."""
        best = None
        # the trace lists a layer's neurons last first (it is a depth-first walk from the
        # output), so rows in reverse come out in the model's order when nothing else decides
        for attach, reverse in ((True, True), (True, False), (False, False)):
            order = self._placement(attach, reverse)
            cost = self._table_cost(order)
            if best is None or cost < best[0]:
                best = (cost, order)
            if cost == 0:
                break
        return best[1]

    def _placement(self, attach_bias, reverse=False):
        t = self.t
        placed, order = set(), []
        consumers = self._consumers() if attach_bias else {}
        scalar_param = self._scalar_params()

        def free(p):
            return p in scalar_param and p not in placed

        def place(nodes):
            if len(set(nodes)) == len(nodes) and all(free(p) for p in nodes):
                order.extend(nodes)
                placed.update(nodes)
                return True
            return False

        for g in self.groups:  # weight matrices first, row by row
            if g.op.arity != "n":
                continue
            for block in _blocks(t, g):
                if any(row == block[0] for row in block[1:]):
                    continue
                flat = [p for row in block for p in row]
                if len(set(flat)) != len(flat) or not all(free(p) for p in flat):
                    continue
                pairs = list(zip(block, g.members))
                for row, member in reversed(pairs) if reverse else pairs:
                    place(list(row))
                    if attach_bias:  # the bias a neuron adds right after its dot
                        c = consumers.get(member, [])
                        if len(c) == 1 and t.nodes[c[0]].op.arity == 2:
                            other = [p for p in t.nodes[c[0]].parents if p != member]
                            if len(other) == 1 and free(other[0]):
                                place(other)
        for g in self.groups:
            if g.op.arity != "n" and len(g.members) > 1:
                for pos in range(len(t.nodes[g.members[0]].parents)):
                    place([t.nodes[m].parents[pos] for m in g.members])
        rest = [i for i in t.param_nodes if i not in placed]
        scalars = [i for i in rest if not t.nodes[i].batch]
        return order + scalars + [i for i in rest if t.nodes[i].batch]

    def _scalar_params(self):
        if not hasattr(self, "_sp"):
            self._sp = {i for i in self.t.param_nodes if not self.t.nodes[i].batch}
        return self._sp

    def _consumers(self):
        """Who uses each member of an n-ary group (to find the bias a neuron adds)."""
        if not hasattr(self, "_cons"):
            members = {m for g in self.groups if g.op.arity == "n" for m in g.members}
            cons = {}
            for n in self.t.nodes:
                if n.op is not None:
                    for p in set(n.parents):
                        if p in members:
                            cons.setdefault(p, []).append(n.index)
            self._cons = cons
        return self._cons

    def _table_cost(self, order):
        """How many table entries the groups' parameter operands would need in this layout."""
        t = self.t
        off = {p: k for k, p in enumerate(order)}
        cost = 0
        for g in self.groups:
            if len(g.members) < 2:
                continue
            if g.op.arity == "n":
                for block in _blocks(t, g):
                    flat = [p for row in block for p in row]
                    if not all(p in off for p in flat) or all(row == block[0] for row in block):
                        continue
                    rows = [[off[p] for p in row] for row in block]
                    sq = _affine(rows[0])
                    firsts = _affine([r[0] for r in rows])
                    if sq is None or firsts is None or any(_affine(r) != (r[0], sq[1]) for r in rows):
                        cost += len(flat)
            else:
                for pos in range(len(t.nodes[g.members[0]].parents)):
                    ps = [t.nodes[m].parents[pos] for m in g.members]
                    if all(p in off for p in ps) and _affine([off[p] for p in ps]) is None:
                        cost += len(ps)
        return cost


def _blocks(t, g):
    """An n-ary group's operands: per block (dot: weights, inputs) the members' rows of nodes."""
    group = g.op.c["group"]
    out = []
    for b in range(group):
        rows = []
        for m in g.members:
            ps = t.nodes[m].parents
            P = len(ps) // group
            rows.append(ps[b * P:(b + 1) * P])
        out.append(rows)
    return out


def reorder_params(t, order):
    """Give the trace's parameters the slots `order` (node indices) says."""
    pos = {i: s for s, i in enumerate(t.param_nodes)}
    t.params = [t.params[pos[i]] for i in order]
    t.param_nodes = list(order)
    for slot, i in enumerate(order):
        t.nodes[i].slot = slot


# -- addressing ---------------------------------------------------------------------------------

def _affine(offs):
    """(start, stride) when offs[j] == start + j * stride, else None."""
    if len(offs) == 1:
        return offs[0], 0
    a, s, n = offs[0], offs[1] - offs[0], len(offs)
    if (offs.count(a) == n) if s == 0 else list(offs) == list(range(a, a + s * n, s)):  # one pass in C
        return a, s
    return None


class _Gen:
    def __init__(self, plan):
        self.plan, self.t = plan, plan.t
        t = self.t
        self.off = {}
        o = 0
        for slot, shape in enumerate(t.arg_shapes):
            self.off[t.args[slot]] = o
            o += int(np.prod(shape)) if shape else 1
        self.n_in = o
        self.par0 = o
        for i in t.param_nodes:
            self.off[i] = o
            o += t.nodes[i].batch or 1
        self.n_par = o - self.par0
        self.val0 = o
        for g in plan.groups:
            B = g.batch or 1
            if B % 8 == 0 and len(g.members) > 1:  # whole rows of 64 bytes: a tile's store touches one line a row
                o = -(-o // 8) * 8
            g.base = o
            for j, m in enumerate(g.members):
                self.off[m] = o + j * B
            o += len(g.members) * B
        self.total = o
        self.decl, self.tables, self.table_names = [], 0, {}
        self.scratch = {}
        # the backward pass, as generated: nodes whose gradient has been written, and those whose
        # first write stores (0.0 + the term, the bits of adding it to a zeroed slot) so that
        # their part of GM needs no zeroing
        self.written, self.fresh = set(), set()
        # groups the dot kernels' epilogues compute, and the stretches of M they check
        self.fused, self.checked = set(), []

    def first_write(self, nodes, batch):
        """Whether a loop writing these nodes' gradients (each once, whole) writes them first."""
        return (len(set(nodes)) == len(nodes) and not self.written.intersection(nodes)
                and all(self.t.nodes[p].batch == batch for p in nodes))

    def table(self, values):
        key = tuple(values)
        if key in self.table_names:  # the forward and the backward pass share their tables
            return self.table_names[key]
        name = self.table_names[key] = f"TB{self.tables}"
        self.tables += 1
        self.decl.append(f"static const int {name}[{len(values)}] = {{{', '.join(map(str, values))}}};")
        return name

    def vec(self, nodes):
        """C for the offset of member j's operand (an expression in j)."""
        offs = [self.off[p] for p in nodes]
        a = _affine(offs)
        if a is None:
            return f"{self.table(offs)}[j]"
        start, s = a
        return str(start) if s == 0 else f"({start} + j * {s})"

    def mat(self, rows):
        """C for the offset of member j's operand at position q, and whether rows are shared."""
        if all(r == rows[0] for r in rows):
            offs = [self.off[p] for p in rows[0]]
            a = _affine(offs)
            if a is None:
                return f"{self.table(offs)}[q]", True
            start, s = a
            return (str(start) if s == 0 else f"({start} + q * {s})"), True
        P = len(rows[0])
        offs = [self.off[p] for r in rows for p in r]
        sq = _affine([self.off[p] for p in rows[0]])
        firsts = _affine([self.off[r[0]] for r in rows])
        if sq is not None and firsts is not None and all(
                _affine([self.off[p] for p in r]) == (self.off[r[0]], sq[1]) for r in rows):
            return f"({firsts[0]} + j * {firsts[1]} + q * {sq[1]})", False
        return f"{self.table(offs)}[j * {P} + q]", False

    def need(self, nodes):
        return any(p in self.t.needs_grad for p in nodes)

    def scratch_array(self, name, size):
        self.scratch[name] = max(self.scratch.get(name, 1), size)
        return name


def _el(arr, addr, batched):
    return f"{arr}[{addr} + i]" if batched else f"{arr}[{addr}]"


def _sym(arr, addr, batch):
    return Sym.var(f"{arr}[{addr} + {{i}}]" if batch else f"{arr}[{addr}]", batch)


# -- forward --------------------------------------------------------------------------------------

def _forward(G, g):
    if id(g) in G.fused:  # run inside a dot layer's kernel (_epilogue)
        return []
    t = G.t
    n0 = t.nodes[g.members[0]]
    m, B = len(g.members), g.batch or 1
    out = f"M[{g.base} + j * {B} + i]"
    form = g.op.c
    if g.op.arity == "n":
        return _forward_nary(G, g)
    pbatch = [t.nodes[p].batch for p in n0.parents]
    addrs = [G.vec([t.nodes[mm].parents[pos] for mm in g.members]) for pos in range(len(n0.parents))]
    if form in ("BATCH_SUM", "BATCH_MEAN"):
        b = pbatch[0]
        if not b:
            return [f"for (int j = 0; j < {m}; j++) {{ int i = 0; {out} = M[{addrs[0]}]; }}"]
        scale = f" * {c_number(1.0 / b)}" if form == "BATCH_MEAN" else ""
        return [f"for (int j = 0; j < {m}; j++) {{ double s = 0.0; "
                f"for (int i = 0; i < {b}; i++) s += M[{addrs[0]} + i]; M[{g.base} + j] = s{scale}; }}"]
    return [f"for (int j = 0; j < {m}; j++) for (int i = 0; i < {B}; i++) {out} = {_elementwise(G, g)};"]


def _elementwise(G, g):
    """C for element i of member j of an elementwise group."""
    t = G.t
    n0 = t.nodes[g.members[0]]
    pbatch = [t.nodes[p].batch for p in n0.parents]
    addrs = [G.vec([t.nodes[mm].parents[pos] for mm in g.members]) for pos in range(len(n0.parents))]
    names = {name: _el("M", a, pb) for name, a, pb in zip("ab", addrs, pbatch)}
    k = g.k
    if isinstance(k, tuple):
        names.update(k0=c_number(k[0]), k1=c_number(k[1]))
    elif k is not None:
        names["k"] = c_number(k)
    return g.op.c.format(**names)


def _epilogue(G, g):
    """A function run on each tile a dot layer's forward kernel writes (rows j0.., examples
    i0..): the elementwise groups that follow the layer member by member (its `+ b`, its
    activation) on the tile while it is in L1, instead of passes of their own over memory; and
    the finiteness check of all these values (VG_FIN), which vg_all_finite then skips."""
    t, groups = G.t, G.plan.groups
    m, B = len(g.members), g.batch
    at = next(k for k, h in enumerate(groups) if h is g)
    ready = {n for h in groups[:at] for n in h.members}
    rows = {g.base}  # groups whose member j sits at base + j * B: the layer and its chain
    chain = []
    for h in groups[at + 1:]:
        if (h.op.arity not in (1, 2) or h.op.c in ("BATCH_SUM", "BATCH_MEAN") or h.batch != B
                or len(h.members) != m):
            continue
        fits, uses = True, False
        for pos in range(len(t.nodes[h.members[0]].parents)):
            ps = [t.nodes[mm].parents[pos] for mm in h.members]
            if t.nodes[ps[0]].batch:
                a = _affine([G.off[p] for p in ps])
                fits = fits and a is not None and a[0] in rows and (a[1] == B or m == 1)
                uses = True
            else:  # a scalar per member: a parameter, or computed before the layer
                fits = fits and all(t.nodes[p].kind != "op" or p in ready for p in ps)
        if fits and uses:
            chain.append(h)
            rows.add(h.base)
            G.fused.add(id(h))
    name = f"ep{len(G.decl)}"
    part = []
    for h in chain:
        out = f"M[{h.base} + j * {B} + i]"
        expr = _elementwise(G, h)
        part.append(f"    for (int i = i0; i < i0 + n; i++) {out} = {expr};")
    bases = [g.base] + [h.base for h in chain]
    # large layers only: a small one's values are still in cache for vg_all_finite, and rereading
    # a tile just stored costs more there (unaligned rows: the loads wait for the stores)
    check = m * B >= 32768
    if check:
        for base in bases:
            G.checked.append((base, m * B))
    pf = [f"    __builtin_prefetch(M + {h.base} + j * {B} + i0 + 16, 1, 3);" for h in chain]  # as vg_tile
    # per row one sum of the x * 0.0 (a tree), then one addition to one of two running sums
    fin8 = "f[j & 1] = f[j & 1] + (" + " + ".join(f"vg_fin8(M + {b} + j * {B} + i0)" for b in bases) + ");"
    fin = " ".join(f"f[0][0] = f[0][0] + M[{b} + j * {B} + i] * 0.0;" for b in bases)
    # the loops run to n, not to a literal 8: gcc would unroll those into scalar code that
    # selects with integer moves, and the 8-byte stores would then stall vg_fin8's vector loads
    G.decl.append("\n".join([
        f"static inline void {name}(int j0, int rows, int i0, int n) {{",
        *(["  vg_v4 f[2] = {VG_Z, VG_Z};"] if check else []),
        "  for (int j = j0; j < j0 + rows; j++) {", *pf, *part,
        *([f"    if (n == 8) {fin8}", f"    else for (int i = i0; i < i0 + n; i++) {{ {fin} }}"] if check else []),
        "  }", *(["  VG_FIN = VG_FIN + (f[0] + f[1]);"] if check else []), "}"]))
    return name


def _nary_parts(G, g):
    """Per block: the element address (in j, q), its stride over examples (0, 1 or a table
    by q: a block may mix scalars and batches) and whether all members share the block."""
    t = G.t
    blocks = _blocks(t, g)
    P = len(blocks[0][0])
    flags = [t.nodes[p].batch > 0 for p in t.nodes[g.members[0]].parents]
    parts = []
    for b, rows in enumerate(blocks):
        a, shared = G.mat(rows)
        fl = flags[b * P:(b + 1) * P]
        st = "1" if all(fl) else "0" if not any(fl) else f"{G.table([int(f) for f in fl])}[q]"
        parts.append((a, st, shared, any(fl)))
    return blocks, P, flags, parts


def _is_dot_layer(g, P, flags, parts, blocks):
    """A layer's dots: scalar weights, batched inputs shared by every member, each input once
    (the input-gradient kernel keeps four inputs' sums in registers: a repeated input would
    lose one)."""
    return (g.op.name == "dot" and g.batch and not any(flags[:P]) and all(flags[P:])
            and parts[1][2] and len(set(blocks[1][0])) == P)


def _forward_nary(G, g):
    form = g.op.c
    m, B = len(g.members), g.batch or 1
    blocks, P, flags, parts = _nary_parts(G, g)
    if _is_dot_layer(g, P, flags, parts, blocks):
        _dot_scratch(G, m, B, P)
        wa, xa = _fn_w(G, parts[0][0]), _fn_x(G, parts[1][0])
        direct = int(parts[0][0].endswith(" + q * 1)") or P == 1)  # weight rows contiguous (G.mat)
        return [f"vg_dot_fwd(M, {m}, {B}, {P}, {g.base}, {wa}, {xa}, {_epilogue(G, g)}, {direct});"]
    fill = {f"x{b}": f"M[{a} + i * {st}]" for b, (a, st, _, _) in enumerate(parts)}
    acc = G.scratch_array("ACC", B)
    lines = [f"for (int j = 0; j < {m}; j++) {{"]
    pre = G.scratch_array("PRE", B) if "pre" in form else None
    lines += fold(form, fill, acc, pre, B, P, f"M[{g.base} + j * {B} + i]", "q", indent="  ")
    lines.append("}")
    return lines


def _fn_w(G, expr):
    """A tiny static function for a weight address (j, q) -> offset, inlined by the compiler."""
    name = f"wa{len(G.decl)}"
    G.decl.append(f"static inline int {name}(int j, int q) {{ return {expr}; }}")
    return name


def _fn_x(G, expr):
    name = f"xa{len(G.decl)}"
    G.decl.append(f"static inline int {name}(int q) {{ return {expr}; }}")
    return name


# -- backward -------------------------------------------------------------------------------------

def _backward(G, g):
    t = G.t
    if not any(mm in t.needs_grad for mm in g.members):
        return []
    if g.op.arity == "n":
        return _backward_nary(G, g)
    m, B = len(g.members), g.batch or 1
    n0 = t.nodes[g.members[0]]
    pnodes = [[t.nodes[mm].parents[pos] for mm in g.members] for pos in range(len(n0.parents))]
    pbatch = [t.nodes[ps[0]].batch for ps in pnodes]
    addrs = [G.vec(ps) for ps in pnodes]
    gs = _sym("GM", f"{g.base} + j * {B}", g.batch)
    out = _sym("M", f"{g.base} + j * {B}", g.batch)
    args = [_sym("M", a, pb) for a, pb in zip(addrs, pbatch)]
    if g.op.has_k:
        args.append(g.k)
    grads = g.op.backward(gs, out, *args)
    inside, sums, outside = [], [], []
    loop_batch = max(g.batch, *pbatch) or 1
    for pos, (pg, a, pb, ps) in enumerate(zip(grads, addrs, pbatch, pnodes)):  # noqa: B007
        if not G.need(ps):
            continue
        pg = Sym.lift(pg)
        if pb:
            elsewhere = {p for o, qs in enumerate(pnodes) if o != pos for p in qs}
            if G.first_write(ps, loop_batch) and not elsewhere.intersection(ps):
                inside.append(f"GM[{a} + i] = 0.0 + {to_c(pg, 'i')};")
                G.fresh.update(ps)
            else:
                inside.append(f"GM[{a} + i] += {to_c(pg, 'i')};")
        elif pg.batched:
            sums.append((f"s{pos}", a))
            inside.append(f"s{pos} += {to_c(pg, 'i')};")
        else:
            outside.append(f"GM[{a}] += {to_c(pg, '')};")
        G.written.update(ps)
    # members in reverse: a node fed to several members gets their gradients in the sweep's order
    if sums and m > 1:
        return _backward_rows(m, loop_batch, inside, sums, outside)
    lines = [f"for (int j = {m - 1}; j >= 0; j--) {{"]
    if inside:
        lines += [f"  double {s} = 0.0;" for s, _ in sums]
        lines.append(f"  for (int i = 0; i < {loop_batch}; i++) {{ {' '.join(inside)} }}")
        lines += [f"  GM[{a}] += {s};" for s, a in sums]
    lines += ["  " + o for o in outside]
    lines.append("}")
    return lines


def _backward_rows(m, batch, inside, sums, outside, R=4):
    """As one member at a time, R members (rows) at a time: a sum over the examples per row (a
    bias's gradient) is one chain of dependent additions; R of them side by side run R times
    as fast. Every address still gets its terms in the same order: for an example, the rows
    come last first, as they would one row after the other."""
    body = " ".join(inside)
    for name, _ in sums:
        body = body.replace(f"{name} += ", f"{name}[r] += ")
    zeros = ", ".join(["0.0"] * R)
    return [f"for (int j0 = {m - 1}; j0 >= 0; j0 -= {R}) {{",
            f"  const int nr = j0 + 1 < {R} ? j0 + 1 : {R};",
            *[f"  double {name}[{R}] = {{{zeros}}};" for name, _ in sums],
            f"  for (int i = 0; i < {batch}; i++) for (int r = 0; r < nr; r++) {{ const int j = j0 - r; {body} }}",
            "  for (int r = 0; r < nr; r++) { const int j = j0 - r; "
            + " ".join([f"GM[{a}] += {name}[r];" for name, a in sums] + outside) + " }",
            "}"]


def _backward_nary(G, g):
    m, B = len(g.members), g.batch or 1
    blocks, P, flags, parts = _nary_parts(G, g)
    needs = [G.need([p for r in rows for p in r]) for rows in blocks]
    if _is_dot_layer(g, P, flags, parts, blocks):
        return _dot_backward_kernel(G, g, [(a, shared) for a, _, shared, _ in parts], P, needs)
    gs = _sym("GM", f"{g.base} + j * {B}", g.batch)
    out = _sym("M", f"{g.base} + j * {B}", g.batch)
    xs = [Sym.var(f"M[{a} + {{i}} * {st}]", g.batch if anyb else 0) for a, st, _, anyb in parts]
    grads = g.op.backward(gs, out, xs)
    lines = []
    for b, (pg, (a, st, _, anyb)) in enumerate(zip(grads, parts)):
        if not needs[b]:
            continue
        expr = to_c(Sym.lift(pg), "i")
        G.written.update(p for r in blocks[b] for p in r)
        lines.append(f"for (int j = {m - 1}; j >= 0; j--) for (int q = 0; q < {P}; q++) {{")
        if g.batch and st != "1":  # a scalar meets the batch: its per-example terms summed first
            lines.append(f"  if (!({st})) {{ double s = 0.0; for (int i = 0; i < {B}; i++) s += {expr}; "
                         f"GM[{a}] += s; continue; }}")
        lines.append(f"  for (int i = 0; i < {B}; i++) GM[{a} + i * {st}] += {expr};")
        lines.append("}")
    return lines


def _dot_scratch(G, m, B, P):
    """The kernels' packed operands and sums (dot_kernels.py), at the largest size a layer needs."""
    for name, size in zip(("VG_AP", "VG_BP", "VG_WS"), scratch_sizes(m, B, P)):
        G.scratch_array(name, size)


def _dot_backward_kernel(G, g, addr, P, needs):
    m, B = len(g.members), g.batch
    w, x = _fn_w(G, addr[0][0]), _fn_x(G, addr[1][0])
    _dot_scratch(G, m, B, P)
    lines = []
    if needs[1]:  # inputs: sum over the neurons (last first, as the sweep) of W[j][q] * G[j][i]
        xs = _blocks(G.t, g)[1][0]
        fresh = G.first_write(xs, B)
        if fresh:
            G.fresh.update(xs)
        G.written.update(xs)
        lines.append(f"vg_dot_bwd_x(M, GM, {int(fresh)}, {m}, {B}, {P}, {g.base}, {w}, {x});")
    if needs[0]:  # weights: sum over the examples, in order, of G[j][i] * X[q][i]
        G.written.update(p for r in _blocks(G.t, g)[0] for p in r)
        lines.append(f"vg_dot_bwd_w(M, GM, {m}, {B}, {P}, {g.base}, {w}, {x});")
    return lines


# C every layered program holds: fmax as glibc's, the finiteness check, and the dot kernels
COMMON = r"""
/* glibc's fmax on x86-64 (maxsd, then NaN handling): the larger; of two equal values (+0, -0)
   the second; a NaN loses to a number. Inline, so that loops using it vectorise. */
static inline double vg_fmax(double a, double b) { return a > b ? a : (b != b ? a : b); }
#define fmax(a, b) vg_fmax(a, b)

/* 1 when x[0..n) are all finite: x * 0.0 is +-0 for a finite x and NaN otherwise, and a NaN
   survives every later sum, so eight running sums side by side (vectorised) answer exactly. */
static int vg_all_finite(const double *x, int n) {
  double a[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  int i = 0;
  for (; i + 8 <= n; i += 8) for (int t = 0; t < 8; t++) a[t] = a[t] + x[i + t] * 0.0;
  double s = 0.0;
  for (; i < n; i++) s = s + x[i] * 0.0;
  for (int t = 0; t < 8; t++) s = s + a[t];
  return s == s;
}
int vg_grad_checked = 1;  /* vg_run's result covers the gradient's finiteness too */
"""


def _zero_gradients(G):
    """memsets for GM from the parameters on, leaving out the larger stretches that the
    backward pass writes first (G.fresh): a pass over memory fewer per step."""
    skip = sorted((G.off[n], G.off[n] + (G.t.nodes[n].batch or 1)) for n in G.fresh)
    merged = []
    for a, b in skip:
        if merged and a == merged[-1][1]:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    lines, start = [], G.par0
    for a, b in merged:
        if b - a < 64 or b <= start:  # small: zeroing it costs less than another call
            continue
        if a > start:
            lines.append(f"memset(GM + {start}, 0, sizeof(double) * {a - start});")
        start = max(start, b)
    if start < G.total:
        lines.append(f"memset(GM + {start}, 0, sizeof(double) * {G.total - start});")
    return lines


def _finite(G):
    """`ok`: every value finite. The epilogues checked theirs; vg_all_finite reads the rest."""
    lines, start = [], G.val0
    for a, n in sorted(G.checked) + [(G.total, 0)]:
        if a > start:
            lines.append(f"ok &= vg_all_finite(M + {start}, {a - start});")
        start = max(start, a + n)
    return ["int ok = vg_fin_ok();"] + lines


def generate(t, prelude, plan=None):
    """C source with vg_run(in, par, out, pgrad, guards, want_grad), as c_backend.generate."""
    plan = plan or Plan(t)
    reorder_params(t, plan.param_order())
    G = _Gen(plan)
    body = ["VG_FIN = VG_Z;", f"memcpy(M, in, sizeof(double) * {G.n_in});",
            f"memcpy(M + {G.par0}, par, sizeof(double) * {G.n_par});"]
    for g in plan.groups:
        body.extend(_forward(G, g))
    root = t.nodes[t.root]
    ro = G.off[t.root]
    body.append(f"for (int i = 0; i < {root.batch}; i++) out[i] = M[{ro} + i];" if root.batch
                else f"out[0] = M[{ro}];")
    o = 0
    for i in t.watched:
        b = t.nodes[i].batch
        body.append(f"for (int i = 0; i < {b}; i++) guards[{o} + i] = M[{G.off[i]} + i];" if b
                    else f"guards[{o}] = M[{G.off[i]}];")
        o += b or 1
    body += _finite(G)
    body.append("if (!want_grad) return ok;")
    backward = []
    if t.root in t.needs_grad:
        backward.append(f"GM[{ro}] += 1.0;")
        G.written.add(t.root)
    for g in reversed(plan.groups):
        backward.extend(_backward(G, g))
    body += _zero_gradients(G) + backward
    body.append(f"memcpy(pgrad, GM + {G.par0}, sizeof(double) * {G.n_par});")
    body.append(f"ok &= vg_all_finite(pgrad, {G.n_par});  /* flat.py reads vg_grad_checked */")
    body.append("return ok;")
    decl = [COMMON, KERNELS, f"static double M[{max(G.total, 1)}] __attribute__((aligned(64)));",
            f"static double GM[{max(G.total, 1)}] __attribute__((aligned(64)));"]
    decl += G.decl
    decl += [f"static double {name}[{size}] __attribute__((aligned(64)));" for name, size in G.scratch.items()]
    src = [prelude, *decl,
           "int vg_run(const double *in, const double *par, double *out, double *pgrad, "
           "double *guards, int want_grad) {", *("  " + line for line in body), "}"]
    return "\n".join(src) + "\n", (t.batch, G.n_par)
