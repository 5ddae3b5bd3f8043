"""Whole graphs: random expressions against finite differences, accumulation across
backward() calls, very deep chains, freeing memory, no_grad, and the node's own API."""
import gc
import math
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value, gc_paused, is_grad_enabled, no_grad, topological_order


@pytest.fixture(autouse=True)
def _no_leaked_modes():
    # A failing no_grad/gc test must not switch recording or the collector off for the rest.
    yield
    if not is_grad_enabled():
        autograd.value._set_grad_enabled(True)
    gc.enable()


SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- random programs ------------------------------------------------------------------
# A program is leaf values plus instructions (op, i, j, l, k): node n = OP(node i, node j,
# node l, constant k). Any earlier node may be used again, so subgraphs are shared.

def _kink(kinks, x, points):
    if kinks is not None:
        kinks.append((x.data, points))


APPLY = {
    "add": lambda a, b, c, k, K: a + b,
    "sub": lambda a, b, c, k, K: a - b,
    "mul": lambda a, b, c, k, K: a * b,
    "div": lambda a, b, c, k, K: a / (b * b + 1.0),
    "rdiv": lambda a, b, c, k, K: 1.0 / (a * a + 0.5),
    "neg": lambda a, b, c, k, K: -a,
    "pow": lambda a, b, c, k, K: (a * a + 0.5) ** k,
    "cube": lambda a, b, c, k, K: a ** 3,
    "powv": lambda a, b, c, k, K: (a * a + 0.5) ** b.tanh(),
    "rpow": lambda a, b, c, k, K: 2.0 ** a.tanh(),
    "abs": lambda a, b, c, k, K: (_kink(K, a, (0.0,)), abs(a))[1],
    "exp": lambda a, b, c, k, K: a.exp(),
    "log": lambda a, b, c, k, K: (a * a + 0.5).log(),
    "sqrt": lambda a, b, c, k, K: (a * a + 0.5).sqrt(),
    "tanh": lambda a, b, c, k, K: a.tanh(),
    "sigmoid": lambda a, b, c, k, K: a.sigmoid(),
    "relu": lambda a, b, c, k, K: (_kink(K, a, (0.0,)), a.relu())[1],
    "leaky_relu": lambda a, b, c, k, K: (_kink(K, a, (0.0,)), a.leaky_relu(k / 3))[1],
    "softplus": lambda a, b, c, k, K: a.softplus(),
    "clamp": lambda a, b, c, k, K: (_kink(K, a, (-1.0, 1.0)), a.clamp(-1.0, 1.0))[1],
    "sum": lambda a, b, c, k, K: autograd.sum([a, b, c, a, k]),
    "dot": lambda a, b, c, k, K: autograd.dot([a, b, k], [c, a, b]),
    "logsumexp": lambda a, b, c, k, K: autograd.logsumexp([a, b, c, k]),
    "a+a": lambda a, b, c, k, K: a + a,
    "a*a": lambda a, b, c, k, K: a * a,
    "a/a": lambda a, b, c, k, K: a / (a * a + 1.0),
    "batch_sum": lambda a, b, c, k, K: a.sum(),
    "batch_mean": lambda a, b, c, k, K: a.mean(),
}


@st.composite
def programs(draw, max_leaves=4, max_ops=10):
    n_leaves = draw(st.integers(1, max_leaves))
    leaves = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n_leaves, max_size=n_leaves))
    instrs = []
    for n in range(n_leaves, n_leaves + draw(st.integers(1, max_ops))):
        # Prefer recent nodes (depth) but allow any (sharing).
        idx = st.one_of(st.integers(max(0, n - 2), n - 1), st.integers(0, n - 1))
        instrs.append((draw(st.sampled_from(sorted(APPLY))), draw(idx), draw(idx), draw(idx),
                       draw(st.floats(-1.5, 2.5, allow_nan=False))))
    return leaves, instrs


def run(prog, leaf_data=None, override=None, kinks=None):
    """Build the program's graph; override = (n, x) replaces node n by a new leaf x."""
    leaves_data, instrs = prog
    leaf_data = leaves_data if leaf_data is None else leaf_data
    nodes = [Value(x, label=f"x{i}") for i, x in enumerate(leaf_data)]
    if override is not None and override[0] < len(nodes):
        nodes[override[0]] = Value(override[1])
    for op, i, j, l, k in instrs:
        out = APPLY[op](nodes[i], nodes[j], nodes[l], k, kinks)
        if override is not None and override[0] == len(nodes):
            out = Value(override[1])
        nodes.append(out)
    return nodes


def sane(prog):
    """Finite, moderate values and no kink within reach of a finite-difference step."""
    kinks = []
    nodes = run(prog, kinks=kinks)
    assume(all(math.isfinite(n.data) and abs(n.data) < 1e4 for n in nodes))
    assume(all(abs(x - p) > 1e-3 for x, pts in kinks for p in pts))
    return nodes


@SETTINGS
@given(programs())
def test_random_graph_gradients_of_every_node_match_finite_differences(prog):
    nodes = sane(prog)
    root = nodes[-1]
    root.backward()
    scale = 1.0 + max(abs(n.data) for n in nodes)
    for n, node in enumerate(nodes):
        x = node.data
        h = 1e-7 * max(1.0, abs(x))
        up, dn = x + h, x - h
        numeric = (run(prog, override=(n, up))[-1].data - run(prog, override=(n, dn))[-1].data) / (up - dn)
        assert math.isclose(node.grad, numeric, rel_tol=1e-4, abs_tol=1e-6 * scale), (n, node.op, node.grad, numeric)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs(max_ops=6))
def test_random_graph_gradcheck(prog):
    sane(prog)
    leaves = [Value(x) for x in prog[0]]
    assert autograd.gradcheck(lambda *xs: _rebuild(prog, xs), leaves, atol=1e-5, rtol=1e-4) is True


def _rebuild(prog, xs):
    nodes = list(xs)
    for op, i, j, l, k in prog[1]:
        nodes.append(APPLY[op](nodes[i], nodes[j], nodes[l], k, None))
    return nodes[-1]


@SETTINGS
@given(programs())
def test_create_graph_gives_the_same_first_derivatives(prog):
    nodes = sane(prog)
    nodes[-1].backward()
    plain = [n.grad for n in nodes]
    nodes = run(prog)
    nodes[-1].backward(create_graph=True)
    graphed = [n.grad.data if isinstance(n.grad, Value) else n.grad for n in nodes]
    assert graphed == plain


@SETTINGS
@given(programs())
def test_topological_order_lists_each_node_once_after_its_parents(prog):
    nodes = run(prog)
    order = topological_order(nodes[-1])
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(pos) == len(order)
    assert order[-1] is nodes[-1]
    for n in order:
        for p in n.parents:
            assert pos[id(p)] < pos[id(n)]
    # Everything reachable is listed: walk parents independently.
    reach, todo = set(), [nodes[-1]]
    while todo:
        n = todo.pop()
        if id(n) not in reach:
            reach.add(id(n))
            todo.extend(n.parents)
    assert reach == set(pos)


def test_shared_node_reached_late_by_a_shorter_path():
    # r = p + tanh(p): p is pushed from r, then reached again through tanh before it is expanded.
    x = Value(0.5)
    p = x.exp()
    r = p + p.tanh()
    r.backward()
    e = math.exp(0.5)
    assert math.isclose(x.grad, e * (2 - math.tanh(e) ** 2), rel_tol=1e-14)
    assert math.isclose(p.grad, 2 - math.tanh(e) ** 2, rel_tol=1e-14)


# -- accumulation across backward() calls, as PyTorch with retain_grad --------------------

def test_backward_twice_doubles_every_grad():
    x = Value(3.0)
    y = x * x
    z = y + y
    z.backward()
    first = (x.grad, y.grad, z.grad)
    assert first == (4 * 3.0, 2.0, 1.0)
    z.backward()
    assert (x.grad, y.grad, z.grad) == tuple(2 * g for g in first)


def test_second_call_propagates_only_its_own_gradient():
    x = Value(3.0)
    y = x * x
    z = y + y
    y.backward()          # y.grad = 1, x.grad = 2x
    z.backward()          # adds dz/dy = 2 to y and dz/dx = 4x to x; y's old 1 is not resent
    assert y.grad == 3.0
    assert x.grad == 2 * 3.0 + 4 * 3.0


@SETTINGS
@given(programs())
def test_random_graph_backward_twice_doubles_exactly(prog):
    nodes = run(prog)
    assume(all(math.isfinite(n.data) for n in nodes))
    nodes[-1].backward()
    first = [n.grad for n in nodes]
    assume(all(math.isfinite(g) for g in first))
    nodes[-1].backward()
    assert [n.grad for n in nodes] == [2 * g for g in first]


@SETTINGS
@given(programs(), st.integers(0, 20))
def test_two_roots_accumulate_their_sum(prog, pick):
    nodes = run(prog)
    assume(all(math.isfinite(n.data) for n in nodes))
    other = pick % len(nodes)
    nodes[-1].backward()
    g1 = [n.grad for n in nodes]
    for n in nodes:
        n.grad = 0.0
    nodes[other].backward()
    g2 = [n.grad for n in nodes]
    for n in nodes:
        n.grad = 0.0
    nodes[-1].backward()
    nodes[other].backward()
    assume(all(math.isfinite(a + b) for a, b in zip(g1, g2)))
    assert [n.grad for n in nodes] == [a + b for a, b in zip(g1, g2)]


def test_seed_grad_scales_everything():
    x = Value(0.3)
    y = (x * x).tanh()
    y.backward(grad=2.5)
    x2 = Value(0.3)
    (x2 * x2).tanh().backward()
    assert math.isclose(x.grad, 2.5 * x2.grad, rel_tol=1e-15)


def test_failed_backward_leaves_grads_and_grad_mode_as_they_were():
    x, c = Value(2.0), Value(4.0)
    y = x / c
    x.grad, y.grad = 5.0, 7.0
    c.data = 0.0  # the local derivative 1/c now divides by zero mid-sweep
    with pytest.raises(ZeroDivisionError):
        y.backward()
    assert (x.grad, y.grad, c.grad) == (5.0, 7.0, 0.0)
    assert is_grad_enabled()


# -- deep graphs and memory -------------------------------------------------------------

def test_million_deep_chain_at_default_recursion_limit():
    limit = sys.getrecursionlimit()
    n = 10 ** 6
    x0, c = Value(1.0), Value(1.0000001)
    x = x0
    for _ in range(n):
        x = x * c
    x.backward()
    assert sys.getrecursionlimit() == limit
    assert math.isclose(x0.grad, 1.0000001 ** n, rel_tol=1e-9)
    assert math.isclose(c.grad, n * 1.0000001 ** (n - 1), rel_tol=1e-8)
    assert len(topological_order(x)) == n + 2
    del x  # a million-deep chain is freed without recursing either


def test_backward_leaves_the_collector_as_it_found_it():
    x = Value(1.0)
    was = gc.isenabled()
    try:
        gc.disable()
        (x * x).backward()
        assert not gc.isenabled()
        gc.enable()
        (x * x).backward()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()


def test_dropped_graph_is_freed_without_the_collector():
    gc.disable()
    try:
        x = Value(np.linspace(-1, 1, 1000))
        h = (x * 2.0).tanh()
        y = (h * h + x).sum()
        y.backward()
        data_ref, grad_ref = weakref.ref(h.data), weakref.ref(h.grad)
        del h, y
        assert data_ref() is None and grad_ref() is None
        assert x.grad.shape == (1000,)
    finally:
        gc.enable()


def test_memory_returns_to_baseline_after_dropping_a_big_graph():
    gc.disable()
    tracemalloc.start()
    try:
        x, c = Value(0.5), Value(0.999)
        base = tracemalloc.get_traced_memory()[0]
        y = x
        for _ in range(10 ** 5):
            y = y * c
        y.backward()
        used = tracemalloc.get_traced_memory()[0] - base
        assert used > 10 ** 5 * 80  # the graph really was alive
        del y
        left = tracemalloc.get_traced_memory()[0] - base
        assert left < 0.01 * used, (left, used)
    finally:
        tracemalloc.stop()
        gc.enable()


def test_value_is_small_and_has_no_weakref_slot():
    v = Value(1.0)
    assert sys.getsizeof(v) < 110
    assert not hasattr(v, "__dict__")
    with pytest.raises(TypeError):
        weakref.ref(v)


# -- no_grad ----------------------------------------------------------------------------

def test_no_grad_context_manager():
    w = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = w * 3
        assert y.parents == () and y.op == ""
        assert y.data == 6.0
    assert is_grad_enabled()
    z = w * 3
    assert z.parents[0] is w and z.op == "mul"


def test_no_grad_decorator():
    w = Value(2.0)

    @no_grad()
    def f(v):
        assert not is_grad_enabled()
        return v.tanh()

    assert f(w).parents == ()
    assert is_grad_enabled()
    assert w.tanh().parents == (w,)


def test_no_grad_nested_and_restored_after_exception():
    w = Value(2.0)
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
        assert (w + 1).parents == ()
    assert is_grad_enabled()
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError("boom")
    assert is_grad_enabled()

    @no_grad()
    def fails():
        raise KeyError("x")

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled() and (w + 1).parents[0] is w


def test_no_grad_decorated_function_may_recurse():
    # The decorator's one instance is entered again while already active.
    @no_grad()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert is_grad_enabled()


def test_same_no_grad_instance_nested():
    ng = no_grad()
    with ng:
        with ng:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_gc_paused_reentrant():
    was = gc.isenabled()
    gc.enable()
    try:
        pause = gc_paused()
        with pause:
            with pause:
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()


def test_backward_inside_no_grad():
    x = Value(2.0)
    y = x * x
    with no_grad():
        y.backward()
        assert not is_grad_enabled()
    assert x.grad == 4.0


# -- the node's API ---------------------------------------------------------------------

def test_op_parents_label():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    assert a.op == "" and a.parents == () and a.label == "a"
    c = a * b
    assert c.op == "mul" and c.parents == (a, b) and c.label == ""
    assert (b * a).parents == (b, a)
    d = 2 + a
    assert d.op == "add" and d.parents[1] is a and d.parents[0].data == 2.0 and d.parents[0].op == ""
    s = autograd.sum([a, b, a])
    assert s.op == "sum" and s.parents[0] is a and s.parents[1] is b and s.parents[2] is a
    t = a.tanh()
    assert t.op == "tanh" and t.parents == (a,)
    c.label = "c"
    assert c.label == "c"


def test_repr_shows_data_grad_and_label():
    v = Value(2.5, label="w")
    v.grad = -1.25
    r = repr(v)
    assert "2.5" in r and "-1.25" in r and "'w'" in r
    assert "label" not in repr(Value(1.0))
    b = repr(Value(np.array([1.5, -2.0])))
    assert "1.5" in b and "-2." in b
    big = repr(Value(np.arange(1000.0)))
    assert len(big) < 200 and "1000" in big


def test_comparisons_return_bool_and_compare_data():
    a, b = Value(1.0), Value(2.0)
    for got, want in [(a < b, True), (a <= b, True), (a > b, False), (a >= b, False),
                      (a < 1.5, True), (b >= 2, True), (3 > b, True), (0.5 >= a, False)]:
        assert type(got) is bool and got is want


def test_equality_and_hash_are_identity():
    a, b = Value(1.0), Value(1.0)
    assert a == a and not (a == b) and a != b
    assert not (a == 1.0)
    s = {a, b}
    assert len(s) == 2 and a in s and b in s
    assert Value(1.0) not in s
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) == hash(a)


def test_detach_and_float():
    x = Value(3.0, label="x")
    y = (x * x).detach()
    assert y.op == "" and y.parents == () and y.data == 9.0
    y.backward()
    assert x.grad == 0.0
    assert float(Value(2.5)) == 2.5
    with pytest.raises(TypeError, match="batch"):
        float(Value(np.array([1.0, 2.0])))
