"""Batched Values (one number per example) must give the per-example results.

Ops that are correctly rounded in both Python and numpy (+ - * / sqrt, abs, relu, ...)
must agree bit for bit. numpy's SIMD exp/log/tanh/log1p/pow differ from libm by up to
2 ulp, so graphs using them are checked per op within 1e-15 relative, and whole graphs
(where cancellation can amplify an ulp) within a looser tolerance."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

EXACT = {
    "add": lambda a, b, c, k: a + b,
    "sub": lambda a, b, c, k: a - b,
    "mul": lambda a, b, c, k: a * b,
    "div": lambda a, b, c, k: a / (b * b + 1.0),
    "rdiv": lambda a, b, c, k: 2.0 / (a * a + 0.5),
    "neg": lambda a, b, c, k: -a,
    "abs": lambda a, b, c, k: abs(a),
    "sqrt": lambda a, b, c, k: (a * a + 0.5).sqrt(),
    "relu": lambda a, b, c, k: a.relu(),
    "leaky_relu": lambda a, b, c, k: a.leaky_relu(k),
    "clamp": lambda a, b, c, k: a.clamp(-1.0, 0.5),
    "sum": lambda a, b, c, k: autograd.sum([a, b, c, a, k]),
    "dot": lambda a, b, c, k: autograd.dot([a, b, k], [c, a, b]),
    "a+a": lambda a, b, c, k: a + a,
    "a*a": lambda a, b, c, k: a * a,
}
ROUNDED = {  # ops whose numpy and libm results may differ by an ulp or two
    "pow": lambda a, b, c, k: (a * a + 0.5) ** (2 * k),
    "cube": lambda a, b, c, k: a ** 3,
    "powv": lambda a, b, c, k: (a * a + 0.5) ** b.tanh(),
    "rpow": lambda a, b, c, k: 2.0 ** a.tanh(),
    "exp": lambda a, b, c, k: a.exp(),
    "log": lambda a, b, c, k: (a * a + 0.5).log(),
    "tanh": lambda a, b, c, k: a.tanh(),
    "sigmoid": lambda a, b, c, k: a.sigmoid(),
    "softplus": lambda a, b, c, k: a.softplus(),
    "logsumexp": lambda a, b, c, k: autograd.logsumexp([a, b, k, c]),
}
ALL = {**EXACT, **ROUNDED}

floats = st.floats(-2, 2, allow_nan=False)


@st.composite
def programs(draw, ops, max_ops=8, max_batch=6):
    """Leaves (each a float or a batch; at least one batch), instructions over any earlier node."""
    n = draw(st.integers(1, max_batch))
    n_leaves = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.booleans(), min_size=n_leaves, max_size=n_leaves))
    kinds[draw(st.integers(0, n_leaves - 1))] = True
    leaves = [np.array(draw(st.lists(floats, min_size=n, max_size=n))) if b else draw(floats) for b in kinds]
    instrs = []
    for m in range(n_leaves, n_leaves + draw(st.integers(1, max_ops))):
        idx = st.one_of(st.integers(max(0, m - 2), m - 1), st.integers(0, m - 1))
        instrs.append((draw(st.sampled_from(sorted(ops))), draw(idx), draw(idx), draw(idx),
                       draw(st.floats(-1, 1, allow_nan=False))))
    return leaves, instrs, n


def run(prog, example=None):
    """The graph on the whole batch, or (example=e) on example e alone with scalar leaves."""
    leaves, instrs, n = prog
    first_batch = next(i for i, d in enumerate(leaves) if type(d) is np.ndarray)
    nodes = [Value(d if example is None or type(d) is not np.ndarray else float(d[example])) for d in leaves]
    for op, i, j, l, k in instrs:
        nodes.append(ALL[op](nodes[i], nodes[j], nodes[l], k))
    root = nodes[-1] + nodes[first_batch] * 0.5  # the root is always batched
    return nodes, root


def check_against_examples(prog, seed, exact):
    leaves, instrs, n = prog
    nodes, root = run(prog)
    assume(np.all(np.isfinite(root.data)))
    w = np.random.default_rng(seed).uniform(-2, 2, n)
    root.backward(grad=w)
    per = []
    for e in range(n):
        ns, r = run(prog, e)
        r.backward(grad=w[e])
        per.append(ns)
    for m, node in enumerate(nodes):
        ref_data = np.array([per[e][m].data for e in range(n)])
        ref_grad = np.array([per[e][m].grad for e in range(n)])
        if type(node.data) is np.ndarray:
            assert node.data.shape == (n,) and node.grad.shape == (n,)
            if exact:
                assert np.array_equal(node.data, ref_data), (m, node.data, ref_data)
                assert np.array_equal(node.grad, ref_grad), (m, node.grad, ref_grad)
            else:
                np.testing.assert_allclose(node.data, ref_data, rtol=1e-9, atol=1e-12)
                np.testing.assert_allclose(node.grad, ref_grad, rtol=1e-9, atol=1e-9)
        else:
            # A scalar that met a batch: the same data for every example, the grad summed over them.
            assert type(node.grad) is float
            assert np.all(ref_data == node.data) if exact else np.allclose(ref_data, node.data, rtol=1e-12)
            bound = 1e-12 * (1.0 + math.fsum(np.abs(ref_grad)))
            assert abs(node.grad - math.fsum(ref_grad)) <= (bound if exact else 1e3 * bound), (m, node.grad, ref_grad)


@SETTINGS
@given(programs(EXACT), st.integers(0, 2 ** 32 - 1))
def test_exact_ops_graph_matches_examples_bit_for_bit(prog, seed):
    check_against_examples(prog, seed, exact=True)


@SETTINGS
@given(programs(ALL), st.integers(0, 2 ** 32 - 1))
def test_any_ops_graph_matches_examples(prog, seed):
    check_against_examples(prog, seed, exact=False)


@pytest.mark.parametrize("op", sorted(ALL))
@settings(max_examples=30, deadline=None)
@given(x=st.lists(floats, min_size=1, max_size=8), y=floats, k=st.floats(-1, 1))
def test_each_op_within_1e15_of_examples(op, x, y, k):
    # Batched first argument, scalar second and third: every broadcasting path of one op.
    a, b = Value(np.array(x)), Value(y)
    out = ALL[op](a, b, b, k)
    out.backward(grad=np.ones(len(x)))
    for e in range(len(x)):
        ae, be = Value(x[e]), Value(y)
        oe = ALL[op](ae, be, be, k)
        oe.backward()
        d, g = out.data[e], a.grad[e]
        assert abs(d - oe.data) <= 1e-15 * abs(oe.data), (op, d, oe.data)
        # tanh' = 1 - out^2 and sigmoid' = out (1 - out) turn an ulp of out into an absolute error.
        assert abs(g - ae.grad) <= 1e-15 * abs(ae.grad) + 4e-15, (op, g, ae.grad)


# -- the rules of batches -----------------------------------------------------------------

def test_scalar_that_met_a_batch_gets_the_sum_over_examples():
    x = Value(1.5)
    b = Value(np.array([0.5, -2.0, 4.0]))
    y = (x * b).tanh()
    y.backward(grad=np.ones(3))
    want = math.fsum(bi * (1 - math.tanh(1.5 * bi) ** 2) for bi in (0.5, -2.0, 4.0))
    assert type(x.grad) is float and math.isclose(x.grad, want, rel_tol=1e-14)
    np.testing.assert_allclose(b.grad, [1.5 * (1 - math.tanh(1.5 * bi) ** 2) for bi in (0.5, -2.0, 4.0)],
                               rtol=1e-14)


def test_scalar_used_once_gets_exactly_the_left_to_right_sum():
    # What a loop over examples accumulates (p.grad += g_e), to the last bit, as batch_sum does.
    d = np.random.default_rng(0).uniform(-1, 1, 100)
    w = Value(0.7)
    # mul and relu only: numpy's tanh/exp may differ from math's in the last bit, sums must not
    ((w * Value(d)).relu() * Value(d)).backward(grad=np.ones(100))
    loop = 0.0
    for e in range(100):
        we = Value(0.7)
        ((we * d[e]).relu() * d[e]).backward()
        loop = loop + we.grad
    assert w.grad == loop


def test_batched_root_needs_grad():
    v = Value(np.array([1.0, 2.0])) * 3
    with pytest.raises(ValueError, match="grad"):
        v.backward()


@pytest.mark.parametrize("grad", [np.ones(3), np.ones((2, 1)), 1.0, np.ones(1), [[1.0, 1.0]]],
                         ids=["len3", "2x1", "scalar", "len1", "nested"])
def test_batched_root_grad_of_wrong_shape_raises(grad):
    v = Value(np.array([1.0, 2.0])) * 3
    with pytest.raises(ValueError, match="shape"):
        v.backward(grad=grad)


def test_scalar_root_grad_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        (Value(1.0) * 2).backward(grad=np.ones(2))


def test_batch_sum_and_mean():
    d = np.array([0.25, -1.5, 3.0, 7.0])
    v = Value(d)
    s, m = v.sum(), v.mean()
    assert type(s.data) is float and s.data == d.sum() and m.data == d.mean()
    s.backward()
    np.testing.assert_array_equal(v.grad, np.ones(4))
    v.grad = np.zeros(4)
    m.backward()
    np.testing.assert_array_equal(v.grad, np.full(4, 0.25))
    # The usual loss: mean over examples of a per-example function.
    x = Value(d)
    ((x * x).mean()).backward()
    np.testing.assert_allclose(x.grad, 2 * d / 4, rtol=1e-15)


@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, v: a + v), ("sub", lambda a, v: a - v), ("mul", lambda a, v: a * v),
    ("div", lambda a, v: a / v), ("pow", lambda a, v: a ** v),
])
def test_numpy_array_on_the_left_gives_a_value(name, fn):
    a = np.array([1.5, 2.0, 3.0])
    v = Value(np.array([0.5, 1.5, 2.5]))
    out = fn(a, v)
    assert type(out) is Value and out.op in (name, "powv")
    np.testing.assert_allclose(out.data, fn(a, v.data), rtol=1e-15)
    out.backward(grad=np.ones(3))
    assert v.grad.shape == (3,) and np.all(v.grad != 0)
    s = fn(np.float64(2.0), v)
    assert type(s) is Value
    np.testing.assert_allclose(s.data, fn(2.0, v.data), rtol=1e-15)


@pytest.mark.parametrize("n1, n2", [(3, 4), (1, 3), (3, 1)])
def test_batches_of_different_lengths_raise(n1, n2):
    a, b = Value(np.ones(n1)), Value(np.arange(1.0, n2 + 1))
    for fn in (lambda: a + b, lambda: a * b, lambda: b / a, lambda: autograd.sum([a, b]),
               lambda: autograd.dot([a], [b])):
        with pytest.raises(ValueError):
            fn()


def test_batch_data_is_copied_and_float64():
    arr = np.array([1, 2, 3])
    v = Value(arr)
    arr[0] = 100
    assert v.data.dtype == np.float64 and v.data[0] == 1.0
    assert Value([1.0, 2.0]).data.dtype == np.float64


def test_batched_leaf_grads_do_not_alias():
    # In-place updates of one grad (an optimizer step) must not change another's.
    a, b = Value(np.ones(3)), Value(np.ones(3))
    (a + b).backward(grad=np.ones(3))
    a.grad *= 5
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_batched_second_derivative():
    d = np.array([0.3, -0.7, 1.1])
    x = Value(d)
    x.tanh().sum().backward(create_graph=True)
    g = x.grad
    x.grad = np.zeros(3)
    g.backward(grad=np.ones(3))
    t = np.tanh(d)
    np.testing.assert_allclose(x.grad, -2 * t * (1 - t * t), rtol=1e-13)
