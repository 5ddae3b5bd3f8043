"""The compiler's behaviours (trace.py, symbolic.py, numpy_backend.py, flat.py, __init__.py)
that mutation testing found unpinned (docs/mutation.md): each test pins one behaviour a
surviving mutant changed, against values computed independently (eager valuegrad, numpy,
hand arithmetic)."""
import numpy as np

from autograd import Value
from autograd.compiler.trace import trace


def _two_param_trace():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    t = trace(lambda x: a * x + b, [0.5])
    return t, a, b


def test_permute_params_moves_params_and_their_nodes_slots():
    # the C backend reorders parameters to the order a cached library expects
    t, a, b = _two_param_trace()
    assert [p.label for p in t.params] == ["b", "a"]  # the walk takes a node's last input first
    nb, na = t.param_nodes
    nodes = t.nodes  # built before: permute_params must update their slots too
    assert nodes[nb].slot == 0 and nodes[na].slot == 1
    t.permute_params([1, 0])
    assert t.params[0] is a and t.params[1] is b and t.param_nodes == [na, nb]
    assert nodes[na].slot == 0 and nodes[nb].slot == 1
    assert t.nodes is nodes


def test_permute_params_before_nodes_are_built():
    t, a, b = _two_param_trace()
    nb, na = t.param_nodes
    t.permute_params([1, 0])
    assert "nodes" not in t.__dict__
    assert t.nodes[na].slot == 0 and t.nodes[nb].slot == 1
    assert t.nodes[nb].kind == "param" and t.nodes[nb].index == nb


# -- symbolic.py: the rules on symbols print as these C expressions (written by hand) ----------

import json  # noqa: E402
import math  # noqa: E402

import pytest  # noqa: E402

from autograd import ops  # noqa: E402
from autograd.compiler.symbolic import Sym, c_number, call, to_c  # noqa: E402


def _syms():
    return Sym.var("A[{i}]", 8), Sym.var("B[{i}]", 3), Sym.var("S")


def test_symbolic_operators_print_as_c_with_their_operands_in_order():
    a, b, s = _syms()
    cases = [(a + s, "(A[i] + S)"), (2 + a, "(2.0 + A[i])"), (a - 1, "(A[i] - 1.0)"), (1 - a, "(1.0 - A[i])"),
             (a * s, "(A[i] * S)"), (3 * a, "(3.0 * A[i])"), (a / 2, "(A[i] / 2.0)"), (3 / a, "(3.0 / A[i])"),
             (a > s, "(A[i] > S)"), (a < 1, "(A[i] < 1.0)"), (a >= 0.5, "(A[i] >= 0.5)"), (a <= s, "(A[i] <= S)"),
             (-a, "(-A[i])"), (a ** 2, "pow(A[i], 2.0)"), (2 ** a, "pow(2.0, A[i])"),
             (call("f", a, s, 1), "f(A[i], S, 1.0)")]
    for sym, c in cases:
        assert to_c(sym, "i") == c
    # reflected operators on numbers that are not floats: an int and a bool become C doubles
    assert to_c(True + a, "i") == "(1.0 + A[i])" and to_c(a * 2, "i") == "(A[i] * 2.0)"


def test_symbolic_batch_length_is_the_largest_operand():
    a, b, s = _syms()
    assert (a.batched, b.batched, s.batched) == (8, 3, 0)
    assert Sym.lift(2).batched == 0 and Sym.lift(2.5).batched == 0 and Sym.lift(False).batched == 0
    cases = [(a + s, 8), (s + a, 8), (b - a, 8), (1 - a, 8), (s * 2, 0), (2 / b, 3), (a > b, 8), (b < a, 8),
             (-b, 3), (a ** s, 8), (s ** b, 3), (call("f", s, b, a), 8), (call("f", s), 0)]
    assert [sym.batched for sym, _ in cases] == [n for _, n in cases]
    assert (s + 1).batched == 0 and (-s).batched == 0 and ops.step(s).batched == 0
    assert ops.choose(s > 0, s, b).batched == 3 and ops.choose(b > 0, 1.0, 0.0).batched == 3
    assert ops.choose(s > 0, a, 0.0).batched == 8


def test_symbolic_helpers_print_as_their_c_functions():
    a, b, s = _syms()
    cases = [(ops.data(a), "A[i]"), (ops.exp(a), "exp(A[i])"), (ops.log(a), "log(A[i])"),
             (ops.sigmoid(a), "vg_sigmoid(A[i])"), (ops.power(a, 3.0), "pow(A[i], 3.0)"),
             (ops.div(a, s), "(A[i] / S)"), (ops.div(2.0, a), "(2.0 / A[i])"),
             (ops.step(a), "((A[i] > 0.0) ? 1.0 : 0.0)"), (ops.sign(a), "vg_sign(A[i])"),
             (ops.choose(a > 0, a, 2), "((A[i] > 0.0) ? A[i] : 2.0)"),
             (ops.choose(a > 0, 2, b), "((A[i] > 0.0) ? 2.0 : B[i])"),
             (ops.inside(a, (-1.0, 2.0)), "vg_inside(A[i], -1.0, 2.0)"), (ops.iszero(a), "vg_iszero(A[i])"),
             (ops.ones_like(a), "1.0"), (ops.log_for_pow(a), "vg_log_for_pow(A[i])"),
             (ops.sin(a), "sin(A[i])"), (ops.cos(a), "cos(A[i])"), (ops.erf(a), "erf(A[i])")]
    for sym, c in cases:
        assert to_c(sym, "i") == c
    assert ops._batch_len(a) == 8.0 and ops._batch_len(s) == 1.0  # a scalar's "batch" is one
    (d,) = ops.BATCH_MEAN.backward(Sym.var("G"), Sym.var("V"), a)
    assert to_c(d, "i") == "((G * 1.0) * 0.125)"


def test_symbolic_variables_are_templates_of_the_element_index():
    a, b, s = _syms()
    assert to_c(a + b, "j") == "(A[j] + B[j])"
    assert to_c(a + b, "") == "(A[0] + B[0])"  # no index: the first element
    assert to_c(ops.exp(-a), None) == "exp((-A[0]))"
    assert to_c(2.5, "i") == "2.5"  # a bare number is lifted first
    assert Sym.var("x").node == ("var", "x")


def test_c_numbers():
    assert c_number(math.nan) == "NAN"
    assert c_number(math.inf) == "INFINITY" and c_number(-math.inf) == "(-INFINITY)"
    assert c_number(0.1) == "0.1" and c_number(3) == "3.0" and c_number(-0.0) == "-0.0"
    assert c_number(1e-300) == "1e-300" and c_number(0.0) == "0.0"
    assert to_c(Sym.lift(-math.inf) * 2, "i") == "((-INFINITY) * 2.0)"


def test_symbolic_lift_refuses_what_c_cannot_hold():
    a, b, s = _syms()
    assert Sym.lift(a) is a
    with pytest.raises(TypeError, match=r"^cannot generate code for a str in a rule$"):
        a + "1"
    with pytest.raises(TypeError, match=r"^cannot generate code for a NoneType in a rule$"):
        Sym.lift(None)
    assert Sym.lift(True).node == ("num", 1.0) and type(Sym.lift(3).node[1]) is float


# -- trace.py -----------------------------------------------------------------------------------

import autograd  # noqa: E402
import importlib  # noqa: E402

trace_mod = importlib.import_module("autograd.compiler.trace")  # the package's `trace` is the function
from autograd.compiler.trace import Trace, flatten_args, shape_of, _GuardRecorder  # noqa: E402


def _key(fn, *args):
    return trace(fn, list(args)).key()


def test_trace_key_is_the_same_for_the_same_graph_and_differs_for_any_change():
    # the key names generated code: the same graph built again (other Values) has the same
    # key; another operation, constant, batch length, wiring, argument slot, argument shape,
    # root or guard gets another
    w, b = Value(2.0), Value(1.5)
    base = _key(lambda x, y: (w * x + y).tanh(), 0.5, 1.5)
    assert base == _key(lambda x, y: (Value(7.0) * x + y).tanh(), 3.0, -1.0)
    others = [
        _key(lambda x, y: (w * x + y).sigmoid(), 0.5, 1.5),                    # another op
        _key(lambda x, y: (w * x - y).tanh(), 0.5, 1.5),                       # another op in the middle
        _key(lambda x, y: (w * y + x).tanh(), 0.5, 1.5),                       # other wiring
        _key(lambda x, y: (x * w + y).tanh(), 0.5, 1.5),                       # the parents swapped
        _key(lambda x, y: (w * x + y).tanh(), np.array([0.5, 1.0]), 1.5),     # a batch
        _key(lambda x, y: (w * x + y).tanh(), 0.5, np.array([1.5, 2.0, 3.0])),
        _key(lambda x, y: (w * x + y).tanh(), 0.5, np.array([1.5, 2.0])),
        _key(lambda x, y: (w * x + b).tanh(), 0.5, 1.5),                       # a parameter for an argument
        _key(lambda x, y: (w * x + y).tanh() if x > 0 else None, 0.5, 1.5),   # a guard
        _key(lambda x, y: (w * x + y).tanh() if y > 0 else None, 0.5, 1.5),   # a guard on another node
    ]
    assert len({base, *others}) == len(others) + 1


def test_trace_key_tells_constants_and_roots_apart():
    x0 = 0.5
    pow2, pow3 = _key(lambda x: x ** 2, x0), _key(lambda x: x ** 3, x0)
    assert pow2 != pow3 and pow2 == _key(lambda x: x ** 2, 1.5)
    relu, leaky = _key(lambda x: x.leaky_relu(0.1), x0), _key(lambda x: x.leaky_relu(0.2), x0)
    assert relu != leaky
    # the root: the same nodes, the output taken at another one
    a, b = Value(1.0), Value(2.0)

    def f(x, root):
        u = a * x
        v = u + b
        return u if root == 0 else v
    t0 = trace(lambda x: f(x, 0), [x0])
    assert t0.key() != _key(lambda x: f(x, 1), x0)
    # the key is computed once
    t0.ops = []
    assert t0.key() == _key(lambda x: f(x, 0), x0)


def test_trace_key_numbers_operations_in_order_of_first_use():
    # (a*x)+y and (a+x)*y use the same two operations in the same places but in the other order
    k1 = _key(lambda x, y: (Value(2.0) * x) + y, 0.5, 1.5)
    k2 = _key(lambda x, y: (Value(2.0) + x) * y, 0.5, 1.5)
    assert k1 != k2


def test_trace_key_of_n_ary_nodes_counts_their_inputs():
    xs = [Value(float(i)) for i in range(4)]
    k3 = _key(lambda x: autograd.sum([x, xs[0], xs[1]]), 0.5)
    k4 = _key(lambda x: autograd.sum([x, xs[0], xs[1], xs[2]]), 0.5)
    k3b = _key(lambda x: autograd.sum([xs[0], x, xs[1]]), 0.5)
    assert len({k3, k4, k3b}) == 3


def test_trace_watched_and_batch():
    a = Value(np.array([1.0, -2.0, 3.0]))

    def fn(x, y):
        u = x * a
        if u.sum() > y:  # a guard between two nodes
            pass
        if (x < 0.25):  # a guard on a node and a constant
            pass
        return (u * 2.0).sum()
    t = trace(fn, [0.5, 1.0])
    assert t.batch == 3
    nodes = {n.index: n for n in t.nodes}
    watched = t.watched
    assert watched == sorted(watched) and len(watched) == 3
    kinds = sorted(nodes[i].kind if nodes[i].kind != "op" else nodes[i].op.name for i in watched)
    assert kinds == ["arg", "arg", "batch_sum"]
    g = {name: (node, other) for node, name, other, _ in t.guards}
    assert g[">"][1][0] == "node" and g["<"][1] == 0.25
    assert trace(lambda x: x * 2.0, [0.5]).batch == 0
    assert trace(lambda x: x * 2.0, [np.ones(5)]).batch == 5


def test_trace_nodes_describe_each_leaf_and_operation():
    w, c = Value(3.0, label="w"), Value(np.array([1.0, 2.0]), label="c")
    t = trace(lambda x, y: (w * x + c * y).clamp(-1.0, 1.0), [0.5, np.array([1.0, 2.0])])
    by_kind = {}
    for n in t.nodes:
        by_kind.setdefault(n.kind, []).append(n)
    assert sorted((n.slot, n.batch) for n in by_kind["arg"]) == [(0, 0), (1, 2)]
    params = {t.params[n.slot].label: n for n in by_kind["param"]}
    assert params["w"].batch == 0 and params["c"].batch == 2
    assert params["w"].slot == 0 and params["c"].slot == 1  # scalar parameters first
    clamp = t.nodes[t.root]
    assert clamp.op.name == "clamp" and clamp.k == (-1.0, 1.0) and clamp.batch == 2
    assert all(n.k is None for n in t.nodes if n.index != t.root)
    assert all(n.op is None and n.parents == () for n in by_kind["arg"] + by_kind["param"])
    assert [t.nodes[p].op.name for p in clamp.parents] == ["add"]
    assert all(n.index == i for i, n in enumerate(t.nodes))


def test_trace_nodes_are_built_once_and_stored():
    t, a, b = _two_param_trace()
    assert "nodes" not in t.__dict__
    first = t.nodes
    assert t.__dict__["nodes"] is first and t.nodes is first
    need = t.needs_grad
    assert t.__dict__["needs_grad"] is need
    assert Trace.nodes.name == "nodes" and Trace.needs_grad.name == "needs_grad"
    assert Trace.needs_grad.__doc__.startswith("Nodes whose gradient matters")


def test_trace_key_holds_the_shape_of_an_unused_argument():
    w = Value(2.0)
    assert _key(lambda x, y: w * x, 0.5, 1.5) != _key(lambda x, y: w * x, 0.5, np.ones(3))


def test_needs_grad_is_the_nodes_between_a_parameter_and_the_root():
    w, c = Value(2.0, label="w"), Value(3.0, label="c")

    def fn(x):
        u = x.exp()          # an argument's branch only: no gradient needed
        v = w * u            # below a parameter, above the root
        side = c - x         # below a parameter, not above the root (a guard reads it)
        if side > 0:
            pass
        return v.tanh()
    t = trace(fn, [0.5])
    need = t.needs_grad
    named = {("param:" + t.params[n.slot].label) if n.kind == "param" else n.kind if n.op is None else n.op.name
             for n in t.nodes if n.index in need}
    assert named == {"param:w", "mul", "tanh"}
    assert trace(lambda x: (x * x).exp(), [0.5]).needs_grad == set()  # no parameter at all
    # a parameter that is the root itself
    t = trace(lambda x: w if x > 0 else w, [0.5])
    assert t.needs_grad == {t.root} and t.nodes[t.root].kind == "param"


def test_flatten_args_gives_float64_leaves():
    # a number: a float; a 1-D batch: one float64 array; a 2-D array: its columns (float64)
    flat = flatten_args([3, np.array([1, 2]), np.array([[1, 2, 3], [4, 5, 6]]), Value(2.5), np.float32(0.5)])
    assert type(flat[0]) is float and flat[0] == 3.0
    assert flat[1].dtype == np.float64 and flat[1].tolist() == [1.0, 2.0]
    assert [c.tolist() for c in flat[2:5]] == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    assert all(c.dtype == np.float64 for c in flat[2:5])
    assert flat[5] == 2.5 and type(flat[5]) is float and type(flat[6]) is float
    assert len(flat) == 7
    flat = flatten_args([Value(np.array([1.0, 2.0])), np.float64(4.0)])
    assert flat[0].tolist() == [1.0, 2.0] and flat[1] == 4.0


def test_shape_of():
    assert shape_of(2.0) == () and shape_of(np.ones((2, 3))) == (2, 3)
    assert shape_of(Value(np.ones(4))) == (4,) and shape_of([1.0, 2.0]) == (2,)


def test_trace_hands_fn_labelled_values_and_refuses_3d_arguments():
    got = []

    def fn(x, cols, s):
        got.extend([x, cols, s])
        return x.sum() + cols[0].sum() + s
    trace(fn, [np.array([1, 2]), np.array([[1, 2], [3, 4]]), Value(3.0)])
    x, cols, s = got
    assert x.label == "arg0" and x.data.dtype == np.float64
    assert [c.label for c in cols] == ["arg1[:, 0]", "arg1[:, 1]"]
    assert [c.data.tolist() for c in cols] == [[1.0, 3.0], [2.0, 4.0]]
    assert s.label == "arg2" and s.data == 3.0
    with pytest.raises(ValueError, match=r"^compile: argument 1 has shape \(1, 2, 2\); arguments are numbers, "
                                         r"1-D batches or 2-D \(rows, columns\) arrays$"):
        trace(fn, [1.0, np.ones((1, 2, 2))])


def test_trace_refuses_a_non_value_and_always_restores_the_comparison_hook():
    from autograd import value as value_mod
    with pytest.raises(TypeError, match=r"^compile: fn must return a Value, got float$"):
        trace(lambda x: 1.5, [0.5])
    assert not value_mod.is_tracing()

    def boom(x):
        assert value_mod.is_tracing()
        raise KeyError("boom")
    with pytest.raises(KeyError):
        trace(boom, [0.5])
    assert not value_mod.is_tracing()
    # a trace inside a trace puts the outer recorder back
    inner = []

    def outer(x):
        inner.append(trace(lambda y: y * 2.0, [1.0]))
        if x > 0:
            pass
        return x * 3.0
    t = trace(outer, [0.5])
    assert len(t.guards) == 1 and inner[0].guards == []


def test_guard_recorder_keeps_copies():
    # what fn compared is copied at trace time: arrays the caller changes later do not move it
    rec = _GuardRecorder()
    v = Value(np.array([1.0, 2.0]))
    thr, res = np.array([1.5, 1.5]), np.array([False, True])
    rec(v, ">", thr, res)
    rec(v, "<", 3, True)
    thr[:] = 0.0
    res[:] = False
    (v0, name0, other0, res0), (v1, name1, other1, res1) = rec.seen
    assert v0 is v and name0 == ">" and other0.tolist() == [1.5, 1.5] and res0.tolist() == [False, True]
    assert other0.dtype == np.float64 and other1.dtype == np.float64 and other1 == 3.0 and name1 == "<"
    assert res1.dtype == bool and res1 == True  # noqa: E712
    w = Value(1.0)
    rec(v, "<=", w, False)
    assert rec.seen[2][2] is w  # a Value stays a Value (the trace decides what it is)


def test_guards_name_their_nodes():
    # every Value fn compared is in the trace, even off the output's graph; a Value compared
    # with a Value refers to its node; the result at trace time is kept
    other = Value(np.array([0.5, 2.0]), label="other")

    def fn(x):
        if (x < other).all():
            pass
        if (x * 3.0 >= 0.0).any():
            pass
        return x * 2.0
    t = trace(fn, [np.array([1.0, 1.0])])
    (n0, name0, o0, r0), (n1, name1, o1, r1) = t.guards
    node_of_other = next(i for p, i in zip(t.params, t.param_nodes) if p is other)
    assert n0 == t.args[0] and name0 == "<" and o0 == ("node", node_of_other) and r0.tolist() == [False, True]
    assert t.nodes[n1].op.name == "mul" and n1 != t.root and name1 == ">=" and o1 == 0.0 and r1.tolist() == [True, True]
    assert t.watched == sorted({n0, n1, node_of_other})


def _random_graph(seed, n=40):
    rng = np.random.default_rng(seed)
    pool = [Value(float(i) + 0.5, label=f"l{i}") for i in range(5)]
    for _ in range(n):
        kind = rng.integers(5)
        a, b = (pool[int(j)] for j in rng.integers(len(pool), size=2))
        if kind == 0:
            v = a.tanh()
        elif kind == 1:
            v = a * b
        elif kind == 2:
            v = a + b * b  # a node whose two parents are one leaf (a weight squared)
        elif kind == 3:
            v = autograd.sum([pool[int(j)] for j in rng.integers(len(pool), size=3)])
        else:
            v = a - Value(1.5)  # a fresh leaf
        pool.append(v)
    return pool


def test_trace_order_is_backward_topological_order():
    # the walk places every node after its parents in the order backward's depth-first walk
    # does (last parent first); several roots: each adds what the earlier ones did not reach
    for seed in range(12):
        pool = _random_graph(seed)
        root = pool[-1]
        order, index = trace_mod._topological([root])
        assert [id(v) for v in order] == [id(v) for v in autograd.topological_order(root)], seed
        assert all(index[v] == i for i, v in enumerate(order))
        roots = [pool[-7], pool[3], pool[-3], root]
        order, index = trace_mod._topological(roots)
        expected, seen = [], set()
        for r in roots:
            for v in autograd.topological_order(r):
                if id(v) not in seen:
                    seen.add(id(v))
                    expected.append(v)
        assert [id(v) for v in order] == [id(v) for v in expected], seed
        assert all(index[v] == i for i, v in enumerate(order)) and len(index) == len(order)


def test_trace_order_of_small_shapes():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    for fn in (lambda: a * b, lambda: a * a, lambda: (a * b).exp(), lambda: a.exp() * b, lambda: a * b.exp(),
               lambda: (a * a) * (a * a), lambda: a.exp().exp() + (b * a).tanh(), lambda: autograd.sum([a, b * b, a])):
        root = fn()
        order, _ = trace_mod._topological([root])
        assert [id(v) for v in order] == [id(v) for v in autograd.topological_order(root)]
    order, index = trace_mod._topological([a, b, a])  # leaves as roots
    assert [id(v) for v in order] == [id(a), id(b)] and index[a] == 0 and index[b] == 1


def _op_names(t, nodes):
    return sorted(t.nodes[i].op.name if t.nodes[i].op else t.nodes[i].kind for i in nodes)


def test_max_detached_needs_no_gradient_when_its_inputs_get_one_elsewhere():
    # softmax's shift: derivative 0 (-0.0). Its node is dropped from the gradient pass when
    # every input it has that needs a gradient gets one from another node; kept otherwise
    a, b = Value(1.0, label="a"), Value(3.0, label="b")
    t = trace(lambda x: (a - autograd.max_detached([a, b])).exp() * b + x, [0.5])
    assert "max_detached" not in _op_names(t, t.needs_grad)
    t = trace(lambda x: (a - autograd.max_detached([a, b])).exp() + x, [0.5])  # b: only through the max
    assert "max_detached" in _op_names(t, t.needs_grad)
    # an input that needs no gradient (an argument) does not keep it
    t = trace(lambda x: (a - autograd.max_detached([a, x])).exp(), [0.5])
    assert "max_detached" not in _op_names(t, t.needs_grad)
    # two shifts: each is judged by the other nodes, not by the other shift
    t = trace(lambda x: autograd.max_detached([a, b]) * autograd.max_detached([b, a]) + a, [0.5])
    assert _op_names(t, t.needs_grad).count("max_detached") == 2
    # the gradients equal eager's (b's: -0.0 from the shift alone)
    t = trace(lambda x: (a - autograd.max_detached([a, b])).exp() + x, [0.5])
    prog = autograd.compile(lambda x: (a - autograd.max_detached([a, b])).exp() + x, 0.5, backend="numpy")
    a.grad = b.grad = 0.0
    prog(0.5)
    ga, gb = a.grad, b.grad
    a.grad = b.grad = 0.0
    ((a - autograd.max_detached([a, b])).exp() + 0.5).backward()
    assert (ga, gb) == (a.grad, b.grad) and math.copysign(1.0, gb) == math.copysign(1.0, b.grad)


# -- numpy_backend.py ---------------------------------------------------------------------------

from autograd.compiler import numpy_backend  # noqa: E402


def _wide_gradients():
    rng = np.random.default_rng(0)
    return rng.standard_normal(1000) * np.exp(rng.uniform(-20, 20, 1000))


def test_numpy_backend_sums_a_scalars_gradients_example_after_example():
    # as the eager sweep: left to right, not numpy's pairwise sum (they differ in the last bit)
    g = _wide_gradients()
    total = 0.0
    for x in g.tolist():
        total += x
    assert total != float(np.sum(g))  # the case tells the two orders apart
    got = numpy_backend._reduce_to_scalar(g)
    assert type(got) is float and got == total
    assert numpy_backend._reduce_to_scalar(2.5) == 2.5 and numpy_backend._reduce_to_scalar(None) is None
    # through a program: a scalar weight meeting a batch
    w = Value(1.0)
    prog = autograd.compile(lambda x: (w * x).sum(), g, backend="numpy")
    w.grad = 0.0
    prog(g)
    assert w.grad == total


# -- compiler/__init__.py -------------------------------------------------------------------------

import warnings  # noqa: E402

from autograd import compiler as compile_pkg  # noqa: E402
from autograd.compiler import c_backend  # noqa: E402


def test_compile_refuses_what_it_cannot_compile():
    with pytest.raises(TypeError, match=r"^compile needs a function, got float$"):
        autograd.compile(1.5, 0.5)
    with pytest.raises(ValueError, match=r"^backend must be 'auto', 'c' or 'numpy', got 'cuda'$"):
        autograd.compile(lambda x: x * 2.0, 0.5, backend="cuda")
    prog = autograd.compile(lambda x: x * 2.0, np.ones(3), backend="numpy")
    with pytest.raises(ValueError, match=r"^compile: fn returned a batched Value \(batch of 3\); backward\(\) "
                                         r"needs one number: reduce it \(\.sum\(\), \.mean\(\)\) or call with grad=False$"):
        prog(np.ones(3))
    assert prog(np.array([1.0, 2.0, 3.0]), grad=False).tolist() == [2.0, 4.0, 6.0]


def test_compiled_gradients_accumulate_with_the_sign_of_zero_as_backward():
    # a parameter whose gradient is -0.0 ends at -0.0 from 0.0 (0.0 + -0.0 would be 0.0);
    # otherwise gradients are added to what is there, as backward() does
    for start, x in [(0.0, -0.0), (0.0, 0.0), (-0.0, -0.0), (2.0, -0.0), (0.0, 3.0), (1.5, 3.0), (-0.0, 0.0)]:
        w = Value(2.0)
        prog = autograd.compile(lambda x: w * x, x, backend="numpy")
        w.grad = start
        prog(x)
        got = w.grad
        w.grad = start
        (w * x).backward()
        assert got == w.grad and math.copysign(1.0, got) == math.copysign(1.0, w.grad), (start, x)
    # a batched parameter: arrays are added
    c = Value(np.array([1.0, 2.0]))
    prog = autograd.compile(lambda x: (c * x).sum(), np.array([3.0, 4.0]), backend="numpy")
    c.grad = np.array([1.0, 1.0])
    prog(np.array([3.0, 4.0]))
    assert c.grad.tolist() == [4.0, 5.0]


def test_compiled_function_keeps_one_program_per_shape_and_reports_its_backend_and_source():
    w = Value(2.0)
    prog = autograd.compile(lambda x: (w * x).sum(), np.ones(3), backend="numpy")
    assert prog.traces == 1 and prog.backend == "numpy" and "def run(args, params, want_grad):" in prog.source
    first = prog.program((np.ones(3),))
    prog(np.ones(4))
    assert prog.traces == 2 and set(prog.programs) == {((3,),), ((4,),)}
    assert prog(np.ones(3)) == 6.0 and prog.traces == 2 and prog.program((np.ones(3),)) is first
    assert prog.source == first.source  # the first program's
    assert prog.program((np.ones(3),), retrace=True) is not first and prog.traces == 3
    step = prog.flat([w])
    assert step.compiled is prog and step.params == [w]


def test_guards_hold_compares_as_at_trace_time():
    a = Value(0.5)

    def fn(x):
        return (x * a) if x > a else (x + a)
    prog = autograd.compile(fn, 1.0, backend="numpy")
    for x in (1.0, 0.25, 2.0, 0.5, 0.75, -1.0):
        assert prog(x) == (x * 0.5 if x > 0.5 else x + 0.5), x
    assert prog.traces == 6  # one program per shape: each change of branch traces again

    def fn2(x):
        if x >= 1.0:
            return x * 2.0
        if x <= -1.0:
            return x * 3.0
        return x * 4.0 if x < 0.5 else x * 5.0
    prog = autograd.compile(fn2, 0.0, backend="numpy")
    for x in (0.0, 1.0, 0.25, -1.0, 0.75, 0.5, -2.0, 3.0):
        expected = x * 2.0 if x >= 1.0 else x * 3.0 if x <= -1.0 else x * 4.0 if x < 0.5 else x * 5.0
        assert prog(x) == expected, x


def test_trace_key_hashes_the_wiring_and_the_batches_themselves():
    # the same node count, operations, root, argument node and shapes: only the wiring (or a
    # parameter's batch length) differs
    a, b = Value(2.0), Value(3.0)
    k1 = _key(lambda x: (a * x) * (b * x), 0.5)
    k2 = _key(lambda x: (a * b) * (x * x), 0.5)
    assert k1 != k2
    c1, c3 = Value(2.0), Value(np.array([1.0, 2.0, 3.0]))
    xs = np.array([1.0, 2.0, 3.0])
    assert _key(lambda x: (c1 * x).sum(), xs) != _key(lambda x: (c3 * x).sum(), xs)


def test_an_operations_fingerprint_is_computed_once(monkeypatch):
    # every key() asks for each operation's fingerprint: its bytecode is read once per Op
    # (and again for another Op object that happens to reuse the id)
    from autograd.ops import Op
    calls = []
    real = trace_mod._code_text
    monkeypatch.setattr(trace_mod, "_code_text", lambda code: calls.append(code) or real(code))
    op = Op("t", 1, lambda a: a * 2.0, lambda g, out, a: (g * 2.0,), False, "{a}")
    first = trace_mod._op_fingerprint(op)
    assert len(calls) == 2  # forward and backward
    assert trace_mod._op_fingerprint(op) == first and len(calls) == 2
    monkeypatch.setitem(trace_mod._OP_PRINTS, id(op), (object(), "stale"))  # another object, same id
    assert trace_mod._op_fingerprint(op) == first and len(calls) == 4


def test_an_operations_fingerprint_holds_its_c_form_and_takes_rules_without_bytecode():
    from autograd.ops import Op
    rule = lambda g, out, a: (g * 2.0,)  # noqa: E731
    a = Op("t", 1, math.exp, rule, False, "exp({a})")
    b = Op("t", 1, math.exp, rule, False, "expm1({a})")  # another C form: another program
    c = Op("t", 1, math.log, rule, False, "exp({a})")    # a builtin rule enters by its name
    prints = {trace_mod._op_fingerprint(op) for op in (a, b, c)}
    assert len(prints) == 3


class _Doubler:
    def __call__(self, a):
        return a * 2.0


def test_a_rule_without_bytecode_or_qualified_name_enters_by_its_type():
    # a functools.partial or a callable object has neither __code__ nor __qualname__
    import functools
    from autograd.ops import Op
    rule = lambda g, out, a: (g * 2.0,)  # noqa: E731
    a = Op("t", 1, functools.partial(math.pow, 2.0), rule, False, "{a}")
    b = Op("t", 1, _Doubler(), rule, False, "{a}")
    assert trace_mod._op_fingerprint(a) != trace_mod._op_fingerprint(b)


def test_needs_grad_reaches_the_first_nodes():
    # the parameter is node 0, its first child node 1: the walk up from the root reaches both
    w = Value(0.3)
    t = trace(lambda x: w.exp().tanh(), [0.5])
    assert [n.kind for n in t.nodes] == ["param", "op", "op"] and t.root == 2  # x is unused
    assert t.needs_grad == {0, 1, 2}


class _Batch(np.ndarray):
    pass


def test_leaves_whose_data_was_replaced_keep_their_batch_length():
    # `.data` is a plain attribute: an optimizer step can leave a numpy scalar there, a user an
    # ndarray subclass; a numpy scalar is one number (not a batch of 1), a subclass a batch
    w, c = Value(2.0), Value(np.ones(3))
    w.data = np.float64(2.0)
    c.data = np.array([1.0, 2.0, 3.0]).view(_Batch)
    t = trace(lambda x: (w * x + c).sum(), [0.5])
    kinds = {t.params[n.slot] is w: n.batch for n in t.nodes if n.kind == "param"}
    assert kinds == {True: 0, False: 3}
    w.grad = 0.0
    prog = autograd.compile(lambda x: w * x, 0.5, backend="numpy")
    assert prog(0.5) == 1.0 and w.grad == 0.5


# -- flat.py (numpy backend: no C compiled) -------------------------------------------------------

from autograd.compiler import flat as flat_mod  # noqa: E402


def _eager_loss_grad(fn, params, theta, *args):
    saved = [(p.data, p.grad) for p in params]
    for p, x in zip(params, theta):
        p.data, p.grad = float(x), 0.0
    out = fn(*args)
    out.backward()
    res = out.data, [float(np.sum(p.grad)) for p in params]
    for p, (d, g) in zip(params, saved):
        p.data, p.grad = d, g
    return res


def test_flat_step_load_writes_floats():
    w, b = Value(0.5), Value(1.0)
    step = autograd.compile(lambda x: w * x + b, 1.0, backend="numpy").flat([w, b])
    step.load([2, 3])
    assert type(w.data) is float and (w.data, b.data) == (2.0, 3.0)
    step.load(np.array([4.5, -1.0], dtype=np.float32))
    assert type(b.data) is float and (w.data, b.data) == (4.5, -1.0)


def test_flat_step_through_the_values_leaves_them_as_they_were():
    # straight-line numpy code has no flat plan: the step goes through the Values, at theta,
    # then puts their data and gradients back
    w, c = Value(0.5), Value(np.array([1.0, -2.0, 0.5]))
    fn = lambda x: ((w * x + c) ** 2).sum()  # noqa: E731
    x = np.array([1.0, 2.0, 3.0])
    prog = autograd.compile(fn, x, backend="numpy")
    step = prog.flat([w, c])
    w.grad, c.grad = 7.0, np.array([1.0, 1.0, 1.0])
    loss, grad = step(np.array([1.5, 2.0]), x)
    assert w.data == 0.5 and w.grad == 7.0 and c.data.tolist() == [1.0, -2.0, 0.5] and c.grad.tolist() == [1.0] * 3
    exp_loss, exp_grad = _eager_loss_grad(fn, [w, c], [1.5, 2.0], x)  # theta's 2.0 for c, as load() does
    assert loss == exp_loss and grad.tolist() == exp_grad and grad.dtype == np.float64


def test_flat_step_keeps_a_plan_per_shape_and_replans_after_a_retrace():
    w = Value(1.0)
    prog = autograd.compile(lambda x: (w * x).sum() if (w * x).sum() > 0 else (w * x * 3.0).sum(),
                            np.ones(2), backend="numpy")
    step = prog.flat([w])
    assert step(np.array([1.0]), np.ones(2)) == (2.0, pytest.approx(np.array([2.0])))
    assert step(np.array([1.0]), np.ones(3))[0] == 3.0 and set(step._plans) == {((2,),), ((3,),)}
    plan = step._plans[((2,),)]
    step(np.array([1.0]), np.ones(2))
    assert step._plans[((2,),)] is plan  # found again by the shapes
    assert step(np.array([-1.0]), np.ones(2)) == (-6.0, pytest.approx(np.array([6.0])))  # the other branch
    assert prog.traces == 3
    # the retraced program replaced the first: the next call makes a new plan for it
    step(np.array([-1.0]), np.ones(2))
    assert step._plans[((2,),)] is not plan and step._plans[((2,),)][0] is prog.programs[((2,),)]


def test_lazy_flat_step_traces_at_its_first_call():
    w = Value(2.0)
    calls = []

    def fn(x):
        calls.append(1)
        return (w * x).mean()
    step = flat_mod.lazy(fn, [w], backend="numpy", describe=lambda shapes: "never used for numpy")
    assert step.compiled is None and calls == [] and step.keyed_loads == 0
    loss, grad = step(np.array([3.0]), np.array([1.0, 2.0]))
    assert (loss, grad.tolist()) == (4.5, [1.5]) and len(calls) == 1
    assert step.compiled.requested == "numpy" and step.compiled.backend == "numpy"
    step(np.array([3.0]), np.array([1.0, 2.0]))
    assert len(calls) == 1 and step.keyed_loads == 0


def test_numpy_backend_passes_each_operations_constant():
    # operations with a constant (clamp's bounds, leaky_relu's slope, a power) forward and
    # backward, against the eager engine bit for bit
    w = Value(0.7)

    def fn(x):
        u = w * x
        return u.clamp(-1.0, 0.5) + (-u).leaky_relu(0.1) + u ** 3 + (u * 2.0).clamp(0.0, 10.0)
    prog = autograd.compile(fn, 0.9, backend="numpy")
    for x in (0.9, -2.0, 3.0):
        w.grad = 0.0
        got = prog(x)
        g = w.grad
        w.grad = 0.0
        out = fn(x)
        out.backward()
        assert got == out.data and g == w.grad, x


def test_numpy_backend_names_its_code_in_tracebacks():
    import traceback
    w = Value(1.0)
    prog = autograd.compile(lambda x: (w * x).log(), 2.0, backend="numpy")
    with pytest.raises(ValueError) as e:
        prog(-1.0)
    assert "<autograd.compile numpy>" in [f.filename for f in traceback.extract_tb(e.value.__traceback__)]


def test_numpy_backend_falls_back_to_straight_line_code_when_the_layered_code_fails(monkeypatch):
    # the layered code raising (here: made to raise) -> the straight-line code serves the call,
    # with gradients, built once; counted in run.fallbacks. FlatStep's own calls (parameters as
    # a tuple) get the error instead: they go through the Values
    import traceback
    from autograd.compiler import numpy_layers
    made = []
    real_generate = numpy_backend.generate
    monkeypatch.setattr(numpy_layers, "generate", lambda t: (
        "def run(args, params, want_grad):\n    raise RuntimeError('layered')\n", {}))
    monkeypatch.setattr(numpy_backend, "generate", lambda t: made.append(1) or real_generate(t))
    w = Value(0.5)
    run, source = numpy_backend.build(trace(lambda x: (w * x).tanh(), [2.0]))
    assert run.layers is True and run.fallbacks == 0 and "raise RuntimeError('layered')" in source
    out, seen, grads = run([2.0], [0.5], True)
    assert out == math.tanh(1.0) and grads == (2.0 * (1.0 - math.tanh(1.0) ** 2),) and seen == ()
    assert run([2.0], [0.5], True)[0] == out and run.fallbacks == 2 and made == [1]
    assert run([2.0], [0.5], False)[2] is None and run.fallbacks == 3
    with pytest.raises(RuntimeError, match="layered") as e:
        run([2.0], (np.array([0.5]), []), True)
    assert run.fallbacks == 3
    assert "<autograd.compile numpy layers>" in [f.filename for f in traceback.extract_tb(e.value.__traceback__)]
    run, _ = numpy_backend.build(trace(lambda x: (w * x).log(), [2.0]))
    with pytest.raises(ValueError, match="log") as e:  # the straight-line code's own error
        run([-2.0], [0.5], True)
    assert "<autograd.compile numpy>" in [f.filename for f in traceback.extract_tb(e.value.__traceback__)]


def test_numpy_backend_gives_a_gradient_to_nodes_placed_before_a_leaf():
    # nodes in reverse order: x + exp(w) puts w, exp(w), then x; the backward lines go past
    # the leaf x to reach exp(w)
    w = Value(0.3)
    prog = autograd.compile(lambda x: x + w.exp(), 0.5, backend="numpy")
    w.grad = 0.0
    prog(0.5)
    assert w.grad == math.exp(0.3)


def _layered_problem():
    import nn
    rng = np.random.default_rng(5)
    model = nn.MLP(3, [16, 16, 1], seed=0)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=7)
    weights = Value(rng.uniform(0.5, 1.5, size=7))  # a batched leaf outside theta, read at every call

    def f(X, y):
        return (nn.losses.mse(model(X), y) * weights).mean() + nn.losses.l2(model.parameters(), 1e-3)
    return model, f, X, y


@pytest.mark.parametrize("order", ["model", "reversed", "some"])
def test_flat_step_on_layered_numpy_code_never_goes_through_the_values(order, monkeypatch):
    # the layered numpy code runs on the flat buffer itself (one block when theta is the
    # model's parameters in order, gathered otherwise): the same numbers as eager, bit for bit
    model, f, X, y = _layered_problem()
    params = model.parameters()
    params = params if order == "model" else params[::-1] if order == "reversed" else params[::3]
    prog = autograd.compile(f, X, y, backend="numpy")
    assert all("dot_layer(" in p.source for p in prog.programs.values())
    step = prog.flat(params)
    monkeypatch.setattr(step, "_through_values", lambda *a: pytest.fail("went through the Values"))
    theta = np.array([p.data for p in params]) + 0.01
    loss, grad = step(theta, X, y)
    want_loss, want = _eager_loss_grad(f, params, theta, X, y)
    assert loss == want_loss and grad.tolist() == want and grad.dtype == np.float64
    plan = step._plans[((7, 3), (7,))][1]
    assert plan.numpy and plan.ok and (plan.span is not None) == (order == "model") and plan.batched_others
    assert next(iter(prog.programs.values())).run.fallbacks == 0


# -- flat.py's keyed plans (C: skipped without a compiler) ---------------------------------------

def _c_with_own_cache(tmp_path, monkeypatch):
    """The C compiler's command (the test skips without one), and a compile cache of the test's own."""
    try:
        cc = c_backend.find_compiler()
    except c_backend.CompilerNotFound:
        pytest.skip("no C compiler")
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    return cc


def _keyed_steps(tmp_path, monkeypatch, fn, params, x):
    """A step that traces fn and remembers its program under a description, then a second one
    that must find it by the description alone (fn refused), as a new process would."""
    from autograd.compiler import cache
    _c_with_own_cache(tmp_path, monkeypatch)
    desc = lambda shapes: f"test_mutants_trace {shapes}"  # noqa: E731
    first = flat_mod.lazy(fn, params, backend="c", describe=desc)
    theta = np.array([p.data for p in params]) + 0.25
    want = first(theta, x)
    with cache._lock:
        cache._loaded.clear()
    second = flat_mod.lazy(lambda *a: pytest.fail("traced"), params, backend="c", describe=desc)
    got = second(theta, x)
    assert second.keyed_loads == 1 and second.compiled is None
    return want, got, next(iter(second._plans.values()))[1], theta


@pytest.mark.parametrize("order", ["traced", "reversed"])
def test_a_keyed_plan_lays_the_parameters_out_as_the_traced_one(tmp_path, monkeypatch, order):
    ws = [Value(0.1 * (i + 1)) for i in range(4)]
    fn = lambda x: ((ws[0] * x + ws[1]) * ws[2] + ws[3] * 0.5 - x).tanh() * 3.0  # noqa: E731
    probe = trace(fn, [0.5])
    params = [p for p in probe.params if any(p is w for w in ws)]  # the order the trace met them
    params = params if order == "traced" else params[::-1]
    want, got, plan, theta = _keyed_steps(tmp_path, monkeypatch, fn, params, 0.5)
    assert got[0] == want[0] and got[1].tolist() == want[1].tolist()
    exp_loss, exp_grad = _eager_loss_grad(fn, params, theta, 0.5)
    assert got[0] == pytest.approx(exp_loss, rel=1e-12) and got[1] == pytest.approx(exp_grad, rel=1e-12)
    assert plan.reached.dtype == bool and plan.pos.dtype == np.intp
    if order == "traced":
        assert plan.span is not None and plan.span == int(plan.pos[0])
    else:
        assert plan.span is None


def test_a_keyed_plan_of_one_parameter(tmp_path, monkeypatch):
    w = Value(0.5)
    fn = lambda x: (w * x).tanh()  # noqa: E731
    want, got, plan, theta = _keyed_steps(tmp_path, monkeypatch, fn, [w], 2.0)
    assert got[0] == want[0] and got[1].tolist() == want[1].tolist() and plan.span == 0


@pytest.mark.parametrize("damage", ["library", "n_par type", "n_params", "constants type", "n_par",
                                    "int constant", "nan constant"])
def test_a_keyed_plan_refuses_a_payload_that_does_not_fit(tmp_path, monkeypatch, damage):
    # a payload written by hand (valid JSON, right hashes) whose fields do not fit these
    # parameters: find() gives None (the caller traces), never a plan of the wrong size
    from autograd.compiler import cache
    w, b = Value(0.5), Value(-0.25)
    fn = lambda x: (w * x + b * 2.0).tanh()  # noqa: E731
    _keyed_steps(tmp_path, monkeypatch, fn, [w, b], 2.0)
    cc = c_backend.find_compiler()
    name = "test_mutants_trace ((),)"
    good = cache.read_alias(name, cc, c_backend.CFLAGS)
    assert good is not None and flat_mod._KeyedPlan.find(name, [w, b]) is not None
    bad = dict(good)
    if damage == "library":
        bad["library"] = 7
    elif damage == "n_par type":
        bad["n_par"] = float(good["n_par"])
    elif damage == "n_params":
        bad["n_params"] = 3
    elif damage == "constants type":
        bad["constants"] = {"0": 2.0}
    elif damage == "n_par":
        bad["n_par"] = good["n_par"] + 1
    elif damage == "int constant":
        bad["constants"] = [2]
    else:
        bad["constants"] = [math.nan]
    cache.write_alias(name, cc, c_backend.CFLAGS, bad)
    assert json.dumps(cache.read_alias(name, cc, c_backend.CFLAGS), sort_keys=True) == json.dumps(bad, sort_keys=True)
    assert flat_mod._KeyedPlan.find(name, [w, b]) is None


@pytest.mark.parametrize("order", ["model", "reversed", "some"])
def test_flat_step_on_c_code_never_goes_through_the_values(order, tmp_path, monkeypatch):
    # the C plan copies theta (a block, or gathered), the arguments (a 2-D one column by column,
    # a 1-D one, a number) and the batched leaf outside theta into its buffers, and the gradient
    # out: eager's numbers, without the Values' path
    import nn
    _c_with_own_cache(tmp_path, monkeypatch)
    rng = np.random.default_rng(7)
    model = nn.MLP(3, [4, 1], seed=0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    weights = Value(rng.uniform(0.5, 1.5, size=5))

    def f(X, y, s):
        return ((nn.losses.mse(model(X), y) * weights).mean() + nn.losses.l2(model.parameters(), 1e-3)) * s
    params = model.parameters()
    params = params if order == "model" else params[::-1] if order == "reversed" else params[::3]
    prog = autograd.compile(f, X, y, 1.5, backend="c")
    step = prog.flat(params)
    monkeypatch.setattr(step, "_through_values", lambda *a: pytest.fail("went through the Values"))
    theta = np.array([p.data for p in params]) + 0.01
    for s in (1.5, 2.0):  # the second call reuses the plan's buffers
        loss, grad = step(theta, X, y, s)
        want_loss, want = _eager_loss_grad(f, params, theta, X, y, s)
        assert loss == pytest.approx(want_loss, rel=1e-12) and grad == pytest.approx(want, rel=1e-10, abs=1e-14)
    plan = step._plans[((5, 3), (5,), ())][1]
    assert plan.ok and not plan.numpy and plan.batched_others and (plan.span is not None) == (order == "model")


def test_a_failing_c_build_falls_back_to_numpy_only_under_auto(monkeypatch):
    # (which line the warning points at is not checked: mutmut's trampolines add frames)
    def broken(t):
        raise RuntimeError("cc: internal error (test)")
    monkeypatch.setattr(c_backend, "find_compiler", lambda: "cc")
    monkeypatch.setattr(c_backend, "build", broken)
    w = Value(1.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = autograd.compile(lambda x: (w * x).tanh(), 0.3)
    assert prog.backend == "numpy" and prog.requested == "auto"
    (warning,) = [c for c in caught if issubclass(c.category, RuntimeWarning)]
    assert str(warning.message) == "autograd.compile: cc: internal error (test); using the numpy backend"
    w.grad = 0.0
    assert prog(0.3) == math.tanh(0.45) and w.grad == 0.3 * (1.0 - math.tanh(0.45) ** 2)
    with pytest.raises(RuntimeError, match="internal error"):
        autograd.compile(lambda x: (w * x).tanh(), 0.3, backend="c")


def test_a_missing_compiler_warns_once(monkeypatch):
    def no_compiler():
        raise c_backend.CompilerNotFound("no C compiler found (test)")
    monkeypatch.setattr(c_backend, "find_compiler", no_compiler)
    monkeypatch.setattr(compile_pkg, "_warned", [False])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = autograd.compile(lambda x: x * 2.0, 0.3)
        autograd.compile(lambda x: x * 3.0, 0.3)
    (warning,) = [c for c in caught if issubclass(c.category, RuntimeWarning)]
    assert str(warning.message) == "autograd.compile: no C compiler found (test); using the numpy backend"
    assert prog.backend == "numpy" and compile_pkg._warned == [True]


def test_flat_step_tells_batches_given_as_values_or_lists_by_their_length():
    w = Value(1.0)
    step = autograd.compile(lambda x: (w * x).sum(), np.ones(2), backend="numpy").flat([w])
    assert step(np.array([2.0]), Value(np.array([1.0, 2.0])))[0] == 6.0
    assert step(np.array([2.0]), Value(np.array([1.0, 2.0, 3.0])))[0] == 12.0
    assert step(np.array([2.0]), [1.0, 2.0, 3.0, 4.0])[0] == 20.0
    assert set(step._plans) == {((2,),), ((3,),), ((4,),)}


def test_a_numpy_program_runs_once_per_call_and_compiles_nothing():
    w = Value(2.0)
    prog = autograd.compile(lambda x: (w * x).tanh(), 0.5, backend="numpy")
    (program,) = prog.programs.values()
    assert program.compiled_now is False  # no C library was built for it
    program._numpy = (lambda *a: pytest.fail("ran a second time"), "")  # the rerun's entry
    w.grad = 0.0
    assert prog(0.5) == math.tanh(1.0) and w.grad == 0.5 * (1.0 - math.tanh(1.0) ** 2)


def test_a_non_finite_c_result_reruns_through_numpy_with_gradients(tmp_path, monkeypatch):
    # C's result is not finite: the call is run again by the numpy code (eager's rules): the
    # output and the gradients are the numpy code's; a finite result is C's alone
    _c_with_own_cache(tmp_path, monkeypatch)
    w = Value(2.0)
    prog = autograd.compile(lambda x: w * x, 0.5, backend="c")
    (program,) = prog.programs.values()
    w.grad = 0.0
    assert prog(0.5) == 1.0 and w.grad == 0.5 and program._numpy is None  # finite: no numpy code made
    assert prog(math.inf) == math.inf and w.grad == math.inf and program._numpy is not None


def test_a_lazy_step_loads_each_remembered_shape_by_its_description(tmp_path, monkeypatch):
    # shapes 2 and 3 remembered by one step; a new step (as in a new process) traces shape 4,
    # then finds 2 and 3 by their description (two keyed loads, no trace); a non-finite call
    # of a keyed plan goes through the Values, tracing fn then
    from autograd.compiler import cache
    _c_with_own_cache(tmp_path, monkeypatch)
    w = Value(0.5)
    fn = lambda x: (w * x).sum()  # noqa: E731
    desc = lambda shapes: f"test_mutants_trace lazy {shapes}"  # noqa: E731
    first = flat_mod.lazy(fn, [w], backend="c", describe=desc)
    theta = np.array([1.5])
    for n in (2, 3):
        assert first(theta, np.ones(n))[0] == 1.5 * n
    with cache._lock:
        cache._loaded.clear()
    traced = []
    second = flat_mod.lazy(lambda x: traced.append(x) or fn(x), [w], backend="c", describe=desc)
    assert second(theta, np.ones(4))[0] == 6.0 and len(traced) == 1 and second.keyed_loads == 0
    assert second(theta, np.ones(2))[0] == 3.0 and second(theta, np.ones(3))[0] == 4.5
    assert len(traced) == 1 and second.keyed_loads == 2
    third = flat_mod.lazy(lambda x: traced.append(x) or fn(x), [w], backend="c", describe=desc)
    loss, grad = third(theta, np.array([1.0, math.inf]))
    assert third.keyed_loads == 1 and len(traced) == 2 and loss == math.inf and grad.tolist() == [math.inf]


def test_a_c_program_with_guards_is_never_remembered(tmp_path, monkeypatch):
    from autograd.compiler import cache
    cc = _c_with_own_cache(tmp_path, monkeypatch)
    w = Value(0.5)
    step = flat_mod.lazy(lambda x: w * x if w * x > 0 else w * x * 3.0, [w], backend="c",
                         describe=lambda shapes: "test_mutants_trace guards")
    assert step(np.array([1.0]), 2.0) == (2.0, pytest.approx(np.array([2.0])))
    assert cache.read_alias("test_mutants_trace guards", cc, c_backend.CFLAGS) is None


def test_flat_step_on_layered_numpy_code_with_a_guard_goes_through_the_values():
    """BUG (flat.py, _Plan.__init__): a layered numpy program with a guard has no flat plan
    (ok False), but the plan still set `n_scalar` on its runner, None there: AttributeError."""
    model, f, X, y = _layered_problem()

    def g(X, y):
        loss = f(X, y)
        return loss * 2.0 if loss > 0 else loss
    params = model.parameters()
    prog = autograd.compile(g, X, y, backend="numpy")
    assert all("dot_layer(" in p.source for p in prog.programs.values())
    theta = np.array([p.data for p in params]) + 0.01
    loss, grad = prog.flat(params)(theta, X, y)
    want_loss, want = _eager_loss_grad(g, params, theta, X, y)
    assert loss == want_loss and grad.tolist() == want


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_flat_step_gives_zero_to_a_parameter_the_graph_does_not_reach(backend, tmp_path, monkeypatch):
    import nn
    if backend == "c":
        _c_with_own_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    model, f, X, y = _layered_problem()
    unused = Value(4.0)
    params = model.parameters()[:5] + [unused] + model.parameters()[5:9]
    prog = autograd.compile(f, X, y, backend=backend)
    step = prog.flat(params)
    monkeypatch.setattr(step, "_through_values", lambda *a: pytest.fail("went through the Values"))
    theta = np.array([p.data for p in params]) + 0.01
    loss, grad = step(theta, X, y)
    want_loss, want = _eager_loss_grad(f, params, theta, X, y)
    assert loss == pytest.approx(want_loss, rel=1e-12) and grad == pytest.approx(want, rel=1e-10, abs=1e-14)
    assert grad[5] == 0.0 and not step._plans[((7, 3), (7,))][1].reached[5]
    loss0, grad0 = prog.flat([])(np.zeros(0), X, y)  # no parameter at all: the loss only
    assert loss0 == pytest.approx(f(X, y).data, rel=1e-12) and grad0.shape == (0,)


def test_flat_step_with_a_batched_parameter_goes_through_the_values():
    # a batched leaf among theta's parameters: no flat plan (its slot is past the scalars)
    model, f, X, y = _layered_problem()
    prog = autograd.compile(f, X, y, backend="numpy")
    (program,) = prog.programs.values()
    batched = program.trace.params[-1]
    assert type(batched.data) is np.ndarray
    params = model.parameters()[:3] + [batched]
    step = prog.flat(params)
    calls = []
    real = step._through_values
    step._through_values = lambda *a: calls.append(1) or real(*a)
    theta = np.array([p.data if p is not batched else 1.0 for p in params]) + 0.01
    loss, grad = step(theta, X, y)
    want_loss, want = _eager_loss_grad(f, params, theta, X, y)
    assert calls == [1] and not step._plans[((7, 3), (7,))][1].ok
    assert loss == want_loss and grad == pytest.approx(want, rel=1e-12)
