"""Tests written against surviving mutants of the layered code: autograd/compiler/numpy_layers.py
(the numpy backend's matrix code for groups of dot nodes) and autograd/compiler/structured.py
(finding the groups). Each compares a compiled program with the eager engine bit for bit on a
small graph that reaches the branch a mutant changed (docs/mutation.md lists them)."""
import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Value

from compare_compiled import compiled, eager

pytestmark = pytest.mark.usefixtures("private_cache")  # C programs: never the user's cache


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def same_as_eager(f, params, *args, backend="numpy", layers=True):
    """Compile f, run it and eager f once: output and gradients the same bits. With
    layers=True the numpy program must be the layered code and no call may fall back to the
    straight-line code (a layered program that raises reruns there, hiding the error)."""
    prog = autograd.compile(f, *args, backend=backend)
    want_out, want = eager(f, params, *args)
    got_out, got = compiled(prog, params, *args)
    if backend == "numpy" and layers is not None:
        for p in prog.programs.values():
            assert ("GM.fill" in p.source) == layers, p.source[:300]
            assert getattr(p.run, "fallbacks", 0) == 0
    assert bits(got_out) == bits(want_out)
    for j, (a, b) in enumerate(zip(got, want)):
        assert bits(a) == bits(b), (j, a, b)
    return prog


def test_odd_width_layer_without_bias_equals_eager():
    """A layer of 5 neurons over 3 inputs and a batch of 7, no bias: numbers and gradients
    bit for bit."""
    rng = np.random.default_rng(0)
    W = [[Value(float(v)) for v in row] for row in rng.normal(size=(5, 3))]
    X = rng.normal(size=(7, 3))

    def f(X):
        return autograd.sum([autograd.dot(w, X).tanh().mean() for w in W])
    prog = same_as_eager(f, [p for row in W for p in row], X)
    assert "dot_layer(" in prog.source


# -- the kernels the generated code calls, against plain loops of rounded numpy steps -------------

from autograd.compiler import numpy_layers as nl  # noqa: E402


def running(start, terms):
    """start + terms[0] + terms[1] + ..., each addition rounded (a loop, as eager sums)."""
    acc = np.array(start, dtype=np.float64, copy=True)
    for t in terms:
        acc = acc + t
    return acc


@pytest.mark.parametrize("m, P, B", [(1, 1, 1), (3, 5, 1), (1, 4, 9), (4097, 3, 1), (4097, 40, 1), (5, 20, 5000),
                                     (2, 3, 2100), (7, 9, 5)])
def test_dot_layer_kernels_sum_in_eager_order(m, P, B):
    """dot_layer, dot_layer_grad_x, dot_layer_grad_w against loops: the same bits, for shapes
    that split the work into blocks of rows (a batch of 5000: one row at a time), of k (20
    inputs in blocks of 6), a last block of one number (4097 neurons, one example: over 40
    inputs numpy would add a lone column pairwise)."""
    rng = np.random.default_rng(m * 1000 + P * 10 + B)
    W = rng.normal(size=(m, P)) * 10.0 ** rng.integers(-8, 8, size=(m, P))
    X = rng.normal(size=(P, B)) * 10.0 ** rng.integers(-8, 8, size=(P, B))
    G = rng.normal(size=(m, B))
    GX = rng.normal(size=(P, B))
    want = running(np.zeros((m, B)), [W[:, q, None] * X[q] for q in range(P)])
    assert nl.dot_layer(W, X).tobytes() == want.tobytes()
    want = running(GX, [W[j][:, None] * G[j] for j in reversed(range(m))])
    assert nl.dot_layer_grad_x(W, G, GX.copy()).tobytes() == want.tobytes()
    want = running(np.full((m, P), -0.0), [G[:, i, None] * X[:, i] for i in range(B)])
    assert nl.dot_layer_grad_w(G, X).tobytes() == want.tobytes()


def test_dot_layer_kernels_keep_signed_zeros():
    """A sum of -0.0 products is -0.0 for a weight's gradient (eager starts it at -0.0) and an
    input's (added to -0.0), 0.0 for a dot's value (eager's dot starts at 0.0)."""
    for m, P, B in [(1, 1, 1), (2, 3, 4), (1, 3, 1)]:
        W = np.full((m, P), -1.0)
        X = np.zeros((P, B))
        G = np.zeros((m, B))
        assert nl.dot_layer(W, X).tobytes() == np.zeros((m, B)).tobytes()
        assert nl.dot_layer_grad_w(-G - 1.0, X).tobytes() == np.full((m, P), -0.0).tobytes()
        assert nl.dot_layer_grad_x(W, G, np.full((P, B), -0.0)).tobytes() == np.full((P, B), -0.0).tobytes()


def test_fold_of_empty_blocks_returns_acc():
    acc = np.arange(6.0).reshape(2, 3)
    for K, R, C in [(0, 2, 3), (2, 0, 3), (2, 2, 0)]:
        out = nl._fold(np.ones((K, R)), np.ones((K, C)), acc[:R, :C])
        assert out is not None and out.tobytes() == acc[:R, :C].tobytes()


def test_dot_any_seq_sum_row_sums_fit():
    rng = np.random.default_rng(5)
    W3, X3 = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 1, 5))
    want = running(np.zeros((3, 5)), [W3[q] * X3[q] for q in range(4)])
    assert nl.dot_any(W3, X3).tobytes() == want.tobytes()
    assert nl.dot_any(np.full((2, 3), -0.0), np.ones((2, 3))).tobytes() == np.zeros(3).tobytes()
    X3 = rng.normal(size=(6, 2, 3)) * 1e8
    assert nl.seq_sum(X3, 0.0).tobytes() == running(0.0, X3).tobytes()
    assert nl.seq_sum(X3, -0.0).tobytes() == running(-0.0, X3).tobytes()
    one = rng.normal(size=(7, 1)) * 10.0 ** np.arange(7)[:, None]   # one column: not pairwise
    assert nl.seq_sum(one, 0.5).tobytes() == running(0.5, one).tobytes()
    assert nl.seq_sum(one, 0.5).shape == (1,)
    assert nl.seq_sum(np.full((3, 1), -0.0), -0.0).tobytes() == np.full(1, -0.0).tobytes()
    one = rng.normal(size=(40, 1)) * 10.0 ** rng.integers(-12, 12, size=(40, 1))  # numpy: pairwise
    assert nl.seq_sum(one, 0.0).tobytes() == running(0.0, one).tobytes()
    assert nl.seq_sum(one[:1], 0.25).tobytes() == running(0.25, one[:1]).tobytes()  # one operand
    two = rng.normal(size=(3, 2))
    assert nl.seq_sum(two, 0.0).tobytes() == running(0.0, two).tobytes()
    assert nl.seq_sum(np.full((2, 4), -0.0), 0.0).tobytes() == np.zeros(4).tobytes()  # 0.0 + -0.0
    assert nl.seq_sum(np.full((2, 4), -0.0), -0.0).tobytes() == np.full(4, -0.0).tobytes()  # init first
    c = rng.normal(size=(3, 200)) * 10.0 ** rng.integers(-8, 8, size=(3, 200))
    assert nl.row_sums(c).tobytes() == running(np.zeros(3), c.T).tobytes()
    assert nl.row_sums(c[0]).shape == ()
    a = np.ones((2, 3))
    assert nl.fit(a, (2, 3)) is a
    b = nl.fit(2.5, (2, 3))
    assert b.shape == (2, 3) and (b == 2.5).all()
    assert nl.fit(np.ones(3), (2, 3)).shape == (2, 3)


def test_affine_and_distinct():
    assert nl._aff(np.array([7])) == (7, 0)
    assert nl._aff(np.array([3, 5, 7])) == (3, 2)
    assert nl._aff(np.array([9, 6, 3])) == (9, -3)
    assert nl._aff(np.array([4, 4, 4])) == (4, 0)
    assert nl._aff(np.array([1, 2, 4])) is None
    assert nl._aff(np.array([1, 3, 4])) is None
    assert all(type(v) is int for v in nl._aff(np.array([3, 5])))
    assert nl._distinct(np.array([3, 1, 2]))
    assert not nl._distinct(np.array([3, 1, 3]))
    assert not nl._distinct(np.array([2, 2]))
    assert nl._distinct(np.array([5]))


# -- structured.Plan: groups and the parameters' layout --------------------------------------------

def program_of(prog):
    (p,) = prog.programs.values()
    return p


def test_mlp_parameters_keep_nn_order_and_need_no_tables():
    """An MLP's parameters get the slots of model.parameters() (each neuron's weights, then its
    bias: a flat parameter array needs no reordering), and every weight matrix and bias vector
    is read as a strided view of M, no table of offsets."""
    model = nn.MLP(3, [4, 5, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.ones(6)

    def f(X, y):
        return nn.losses.mse(model(X), y)
    prog = same_as_eager(f, model.parameters(), X, y)
    p = program_of(prog)
    assert [id(q) for q in p.trace.params] == [id(q) for q in model.parameters()]
    assert "[T" not in p.source
    assert p.source.count("dot_layer(") == 3
    assert " for x" not in p.source  # `+ b` (a scalar per row) and the rest: one call per group


def own_inputs_problem(scalar):
    """Dots whose members read inputs of their own (not a layer: dot_any over a gather), sums of
    one and of three operands (one of them repeated), products and means."""
    rng = np.random.default_rng(1)
    W = [[Value(float(v)) for v in row] for row in rng.normal(size=(4, 2))]
    args = list(rng.normal(size=5)) if scalar else [rng.normal(size=(6, 5))]

    def f(*a):
        X = a if scalar else a[0]
        zs = [autograd.dot(W[j], [X[j], X[j + 1]]) for j in range(4)]
        s1 = [autograd.sum([z]) for z in zs]
        s3 = [autograd.sum([z, X[0], z]) for z in zs]
        return autograd.sum([(a * b).mean() for a, b in zip(s1, s3)])
    return f, [p for row in W for p in row], args


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("scalar", [False, True])
def test_dots_over_their_own_inputs_and_sums(scalar, backend):
    f, params, args = own_inputs_problem(scalar)
    prog = same_as_eager(f, params, *args, backend=backend)
    src = program_of(prog).source
    if backend == "numpy":
        assert "dot_any(" in src and "seq_sum(" in src and "dot_layer(" not in src


from autograd.compiler.structured import Plan  # noqa: E402
from autograd.compiler.trace import trace  # noqa: E402


def plan_is_sound(t, plan):
    """Every op node in exactly one group; a group's members share depth (counted here, apart
    from the code), operation, constant, batch, arity and which parents are batches; groups in
    (depth, first member) order, members in trace order."""
    depth = {}
    for n in t.nodes:
        depth[n.index] = 1 + max((depth[p] for p in n.parents), default=-1) if n.parents else 0
    seen = [m for g in plan.groups for m in g.members]
    assert sorted(seen) == [n.index for n in t.nodes if n.kind == "op"]
    keys = []
    for g in plan.groups:
        sigs = {(depth[m], t.nodes[m].op.name, repr(t.nodes[m].k), t.nodes[m].batch, len(t.nodes[m].parents),
                 tuple(t.nodes[p].batch > 0 for p in t.nodes[m].parents)) for m in g.members}
        assert len(sigs) == 1, sigs
        assert g.members == sorted(g.members) and g.first == g.members[0]
        assert g.depth == depth[g.first] and g.batch == t.nodes[g.first].batch and g.op is t.nodes[g.first].op
        assert g.k is t.nodes[g.first].k
        keys.append((g.depth, g.first))
    assert keys == sorted(keys)
    # nodes with one signature at one depth are one group
    assert len(keys) == len({(depth[m], t.nodes[m].op.name, repr(t.nodes[m].k), t.nodes[m].batch,
                              len(t.nodes[m].parents) if t.nodes[m].op.arity == "n" else 0,
                              tuple(t.nodes[p].batch > 0 for p in t.nodes[m].parents))
                             for g in plan.groups for m in g.members})


def test_plan_groups_a_layer_per_depth():
    """MLP(3, [4, 5, 1]): the groups of more than one node are the two hidden layers' dots,
    `+ b` and relus, in depth order; the plan is layered."""
    model = nn.MLP(3, [4, 5, 1], seed=0)
    t = trace(lambda X: (model(X) ** 2).mean(), [np.ones((6, 3))])
    plan = Plan(t)
    plan_is_sound(t, plan)
    assert [(g.op.name, len(g.members)) for g in plan.groups if len(g.members) > 1] == [
        ("dot", 4), ("add", 4), ("relu", 4), ("dot", 5), ("add", 5), ("relu", 5)]
    assert plan.layered


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_plan_keeps_apart_what_differs(backend):
    """Nodes at one depth are grouped only with the same operation, constant, batch and kinds
    of operands: leaky_relu's slopes, clamp's bounds, a scalar against a batched operand, a dot
    of another length stay apart; the numbers are eager's."""
    rng = np.random.default_rng(2)
    W = [[Value(float(v)) for v in rng.normal(size=3)] for _ in range(6)]
    c = Value(0.7)

    def f(X):
        z = [autograd.dot(w, X) for w in W]
        z.append(autograd.dot(W[0][:2], X[:2]))
        a = [z[0].leaky_relu(0.1), z[1].leaky_relu(0.2), z[2].leaky_relu(0.1),
             z[3].clamp(-0.5, 0.5), z[4].clamp(-0.5, 0.25), z[5] * c, z[6] * X[0]]
        return autograd.sum([(v * v).mean() for v in a])
    X = rng.normal(size=(5, 3))
    t = trace(f, [X])
    plan = Plan(t)
    plan_is_sound(t, plan)
    sizes = sorted((g.op.name, len(g.members)) for g in plan.groups if g.op.name in ("dot", "leaky_relu", "clamp"))
    assert sizes == [("clamp", 1), ("clamp", 1), ("dot", 1), ("dot", 6), ("leaky_relu", 1), ("leaky_relu", 2)]
    same_as_eager(f, [p for w in W for p in w] + [c], X, backend=backend)


def test_plan_without_an_nary_group_is_not_layered():
    """Elementwise groups alone (or n-ary nodes one per depth) leave the straight-line code."""
    w = Value(0.3)
    t = trace(lambda x: ((w * x).tanh() + (w * x).exp()).sum(), [np.ones(4)])
    assert not Plan(t).layered
    W = [Value(0.5), Value(-0.5)]
    t = trace(lambda X: autograd.dot(W, X).tanh().sum(), [np.ones((4, 2))])
    assert not Plan(t).layered


PAIRS = {"stride 2": [(0, 1), (2, 3), (4, 5)], "same member": [(0, 0), (1, 1), (2, 2)],
         "one shared": [(0, 5), (0, 4), (0, 3)], "no pattern": [(0, 1), (1, 3), (3, 2), (5, 0)],
         "backwards": [(5, 4), (3, 2), (1, 0)], "stride 3": [(0, 3), (3, 0)], "two": [(1, 0)]}


@pytest.mark.parametrize("backend, pairs, batch", [
    (b, p, n) for b in ("numpy", "c") for p in sorted(PAIRS) for n in (5, 0)
    if b == "numpy" or p in ("no pattern", "one shared", "stride 2")])  # C: each case a compile
def test_operands_in_every_layout(backend, pairs, batch):
    """A group of products z[i] * z[j] over a layer's outputs, (i, j) in patterns that put
    the operands at strides 2w and 3w, 0 (one node for every member), no pattern (a table),
    backwards, or one member's both operands; over a batch and over scalars (a scalar input
    row), after a layer of 2 neurons (read in reverse, two rows)."""
    model = nn.MLP(3, [2, 6], seed=7)
    rng = np.random.default_rng(len(pairs) + batch)
    X = rng.normal(size=(batch, 3)) if batch else rng.normal(size=3)

    def f(*a):
        z = model(a[0] if batch else list(a))
        prods = [z[i] * z[j] for i, j in PAIRS[pairs]]
        return autograd.sum([(p.mean() if batch else p) * (k + 1.0) for k, p in enumerate(prods)])
    args = [X] if batch else list(X)
    src = program_of(same_as_eager(f, model.parameters(), *args, backend=backend)).source
    if pairs == "one shared" and batch and backend == "numpy":  # one node for every member: one row, broadcast
        assert re.search(r"= F\d+\(M\[\d+:\d+\]\.reshape\(1, 5\), ", src), src


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_layers_without_parameters(backend):
    """Dots of arguments only: no parameter, nothing needs a gradient; still layered."""
    X = np.random.default_rng(3).normal(size=(5, 4))

    def f(X):
        return autograd.sum([autograd.dot([X[0], X[1]], [X[2], X[3]]),
                             autograd.dot([X[1], X[2]], [X[3], X[0]])]).mean()
    prog = same_as_eager(f, [], X, backend=backend)
    assert prog(X) == f(*values_of_args(X)).data


def values_of_args(X):
    return [[Value(c) for c in X.T]]


def generator_over(N):
    """A numpy_layers._Gen of a small layered trace, its layout replaced by node k at offset k
    in an M of N numbers, to ask matrix() and read() for the expressions of chosen nodes."""
    model = nn.MLP(2, [2, 1], seed=0)
    t = trace(lambda X: model(X).mean(), [np.ones((3, 2))])
    G = nl._Gen(t, Plan(t))
    G.off = np.arange(N, dtype=np.int64)
    G.batch = np.zeros(N, dtype=np.int64)
    G.total = N
    return G


@pytest.mark.parametrize("ws, view", [
    ([[0, 1, 2], [4, 5, 6]], True), ([[0, 1, 2], [3, 4, 5]], True), ([[4, 5, 6], [0, 1, 2]], True),
    ([[3, 4, 5]], True), ([[2], [5], [8]], True), ([[8], [5], [2]], True), ([[7]], True),
    ([[0, 2, 4], [6, 8, 10]], False), ([[0, 1], [3, 4], [9, 10]], False), ([[1, 0], [3, 2]], False),
    ([[0, 1], [2, 3], [4, 5]], True), ([[4, 5], [2, 3], [0, 1]], True),
    ([[14, 15], [17, 18]], False), ([[17, 18], [14, 15]], False),   # a view would run past M's end
    ([[13, 14], [16, 17]], True), ([[16, 17], [13, 14]], True),     # ... or end exactly there
    ([[2, 3, 4], [1, 2, 3]], False), ([[1, 2, 3], [1, 2, 3]], False)])  # rows overlapping, repeated
def test_weight_matrix_expressions(ws, view):
    """matrix(): the (m, P) weights as a strided view of M when they sit in rows at one stride
    (either order, any gap after a row), else a table; the numbers are M at their offsets."""
    G = generator_over(19)
    M = np.arange(19) * 1.5 + 0.25
    ws = np.array(ws, dtype=np.int64)
    expr = G.matrix("M", ws)
    got = eval(expr, {**G.ns, "M": M})
    assert got.tobytes() == M[ws].tobytes() and got.shape == ws.shape, expr
    assert ("[T" not in expr) == view, expr


def test_group_whose_only_target_waits():
    """c and d get terms from two groups in turn (each neuron's z * c and z / d, and c * d
    beside them): their terms wait in TB; the group of the c * d has no other target, and the
    trace stays layered."""
    model = nn.MLP(3, [4, 3], seed=2)
    c, d = Value(1.3), Value(-0.6)
    X = np.random.default_rng(0).normal(size=(6, 3))

    def f(X):
        return autograd.sum([(zi * c + zi / d).mean() + c * d for zi in model(X)])
    prog = same_as_eager(f, model.parameters() + [c, d], X)
    assert "TB[" in program_of(prog).source


@pytest.mark.parametrize("batch", [0, 1, 2])
def test_binary_rules_on_scalars_and_batches_of_one(batch):
    """Groups of two-operand rules that are not plain arithmetic (max, pow) over scalars (one
    float at a time through the rule), over batches of one example and of two."""
    model = nn.MLP(3, [4, 3], seed=5)
    c = Value(0.8)
    rng = np.random.default_rng(batch)
    X = rng.normal(size=(batch, 3)) if batch else rng.normal(size=3)

    def f(*a):
        z = model(a[0] if batch else list(a))
        terms = [autograd.maximum(zi, c) + (zi * zi + 0.5) ** c + c ** zi + zi.clamp(-0.2, 0.3) for zi in z]
        return autograd.sum([(t.sum() if batch else t) for t in terms])
    same_as_eager(f, model.parameters() + [c], *([X] if batch else list(X)))


def order_cases():
    rng = np.random.default_rng(0)
    model = nn.MLP(3, [4, 3], seed=2)
    c = Value(1.3)
    W = [[Value(float(v)) for v in rng.normal(size=3)] for _ in range(4)]
    return rng.normal(size=(6, 3)), model.parameters() + [c] + [p for w in W for p in w], {
        # one batch reduced twice at one depth: its gradient would be added twice at once
        "reduced twice": (False, lambda X: autograd.sum([zi.sum() * zi.sum() for zi in model(X)])),
        "sum then mul": (True, lambda X: autograd.sum([zi.sum() + (zi * c).sum() for zi in model(X)])),
        "mul then sum": (True, lambda X: autograd.sum([(zi * c).sum() + zi.sum() for zi in model(X)])),
        # a layer's weight used around its dot by two other groups: the layer's kernel would add
        # its terms out of the straight-line order
        "weight around its dot": (False, lambda X: autograd.sum(
            [(W[i][0] * X[0] + autograd.dot(W[i], X) + W[i][0] * X[1]).mean() for i in range(4)])),
        "weight before its dot": (True, lambda X: autograd.sum(
            [(W[i][0] * X[0] + autograd.dot(W[i], X)).mean() for i in range(4)])),
        # one product's second operand is an argument (no gradient), the other's a node
        "some rows need no gradient": (True, lambda X: autograd.sum(
            [(z[1] * X[0] + z[2] * z[0]).mean() for z in [model(X)]])),
        # c waits (terms from z * c and z / c in turn), and meets itself and d in c * d, d * d
        "waiting leaf in products": (True, lambda X: autograd.sum(
            [(zi * c + zi / c).mean() + W[0][1] * W[0][1] + c * W[0][2] for zi in model(X)]))}


@pytest.mark.parametrize("case", sorted(order_cases()[2]))
def test_gradient_order_decides_layered_or_straight(case):
    """Where the groups would add a node's gradient terms in another order than the
    straight-line code (or twice at once), the trace keeps the straight-line code; else it is
    layered. The numbers are eager's either way."""
    X, params, cases = order_cases()
    layers, f = cases[case]
    same_as_eager(f, params, X, layers=layers)


@pytest.mark.parametrize("batch", [0, 4])
def test_logsumexp_of_a_layer(batch):
    """An n-ary rule other than dot and sum (logsumexp) over a layer's outputs, on scalars (one
    call per member, on floats) and on a batch."""
    model = nn.MLP(3, [5, 3], seed=6)
    rng = np.random.default_rng(batch)
    X = rng.normal(size=(batch, 3)) if batch else rng.normal(size=3)

    def f(*a):
        z = model(a[0] if batch else list(a))
        out = autograd.logsumexp(z) + autograd.logsumexp([z[0], z[2]]) * 0.5
        return out.mean() if batch else out
    same_as_eager(f, model.parameters(), *([X] if batch else list(X)))


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_tables_and_a_computed_scalar_after_a_layer(backend):
    """Three groups whose operands follow no pattern (three offset tables, each its own name in
    C), and a layer followed by products with a scalar computed before it (c2 = c * 2.0), which
    the C layer's epilogue may run only once c2 is there."""
    model = nn.MLP(3, [3, 6], seed=8)
    c = Value(0.9)
    X = np.random.default_rng(9).normal(size=(5, 3))

    def f(X):
        c2 = c * 2.0
        z = model(X)
        a = [z[0] * z[1], z[1] * z[3], z[3] * z[2], z[5] * z[0]]
        b = [z[4] - z[0], z[2] - z[5], z[0] - z[3]]
        d = [autograd.maximum(z[3], z[1]), autograd.maximum(z[0], z[4]), autograd.maximum(z[5], z[2])]
        e = [zi * c2 for zi in z]
        return autograd.sum([v.mean() for v in a + b + d + e])
    same_as_eager(f, model.parameters() + [c], X, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_elementwise_groups_over_part_of_a_layer(backend):
    """After a layer of 4, groups over only some of its outputs (2 of 4, 3 of 4, each start):
    in C such a group is not the layer's epilogue (which runs over all its rows)."""
    model = nn.MLP(3, [4, 4], seed=10)
    X = np.random.default_rng(11).normal(size=(5, 3))

    def f(X):
        z = model(X)
        parts = [z[0].tanh(), z[1].tanh(), z[1].sigmoid(), z[2].sigmoid(), z[3].sigmoid(),
                 z[2].exp(), z[3].exp(), z[0] * 0.5, z[1] * 0.5, z[2] * 0.5]
        return autograd.sum([v.mean() for v in parts + z])
    same_as_eager(f, model.parameters(), X, backend=backend)


def test_structured_affine():
    """structured._affine: (start, stride) of an arithmetic sequence of offsets, else None."""
    from autograd.compiler.structured import _affine
    assert _affine([7]) == (7, 0)
    assert _affine([3, 5, 7]) == (3, 2)
    assert _affine([9, 6, 3]) == (9, -3)
    assert _affine([4, 4, 4]) == (4, 0)
    assert _affine([2, 1]) == (2, -1)
    for offs in ([1, 2, 4], [4, 4, 5], [3, 5, 8], [5, 3, 3], [0, 0, 1]):
        assert _affine(offs) is None, offs
