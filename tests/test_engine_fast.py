"""The eager engine's vectorised paths (issue 10): `dot` over a batch, `autograd.dots` (a layer's
dot nodes sharing their inputs), and the gathered input gradients, pinned bit for bit against
a straightforward per-weight reference: the loop forward `0.0 + w0*x0 + w1*x1 + ...`, one
product per weight in backward, a cumsum per scalar gradient, terms added in sweep order."""
import importlib
import math

import numpy as np
import pytest

import autograd
from autograd import Value, ops, topological_order
from nn import MLP, Layer, losses
from bits import same

SPECIAL = [-0.0, 0.0, math.nan, math.inf, -math.inf, 1e308, -1e-320]


# -- the reference ---------------------------------------------------------------------------

def loop_dot(datas):
    n = len(datas) // 2
    s = 0.0
    for i in range(n):
        s = s + datas[i] * datas[n + i]
    return s


def reference_grads(root, seed=1.0):
    """This call's gradient of every node, the per-weight way (nothing vectorised)."""
    topo = topological_order(root)
    grads = {n: None for n in topo}
    grads[root] = seed
    for node in reversed(topo):
        op = node._op
        if op is None:
            continue
        g, ps = grads[node], node.parents
        xs = [p.data for p in ps]
        k = [node.k] if op.has_k else []
        if op.name == "dot":
            n = len(xs) // 2
            pgs = [g * x for x in xs[n:]] + [g * w for w in xs[:n]]
        elif op.arity == "n":
            pgs = op.backward(g, node.data, xs, *k)
        else:
            pgs = op.backward(g, node.data, *xs, *k)
        with np.errstate(all="ignore"):
            for p, pg in zip(ps, pgs):
                if type(p.data) is not np.ndarray and type(pg) is np.ndarray:
                    pg = float(np.cumsum(pg)[-1])
                cur = grads[p]
                grads[p] = pg if cur is None else cur + pg
    return grads


def merged(old, new):
    """What backward() leaves in .grad: the earlier gradient plus this call's."""
    if new is None:
        return old
    if type(old) is float and old == 0.0 and type(new) is not np.ndarray:
        return new
    return old + new


def check_backward(root, seed=None):
    topo = topological_order(root)
    olds = {n: n.grad for n in topo}
    datas = {n: n.data for n in topo}
    with np.errstate(all="ignore"):
        ref = reference_grads(root, 1.0 if seed is None else seed)
        root.backward() if seed is None else root.backward(grad=seed)
    for n in topo:
        assert n.data is datas[n]
        assert same(n.grad, merged(olds[n], ref[n])), (n, n.grad, merged(olds[n], ref[n]))
    return topo


def rng_values(rng, shape, special=0.0):
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)
    if special:
        mask = rng.random(shape) < special
        x = np.where(mask, rng.choice(SPECIAL, shape), x)
    return x


# -- forward ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 64])
@pytest.mark.parametrize("batch", [1, 2, 5, 33])
@pytest.mark.parametrize("special", [0.0, 0.3])
def test_dot_forward_is_the_loop(n, batch, special):
    rng = np.random.default_rng(n * 100 + batch)
    for scalar_share in (0.0, 0.5, 1.0):
        datas = []
        for _ in range(2 * n):
            if rng.random() < scalar_share:
                datas.append(float(rng_values(rng, (), special)))
            else:
                datas.append(rng_values(rng, (batch,), special))
        with np.errstate(all="ignore"):
            assert same(ops._dot(datas), loop_dot(datas))
            assert same(ops._dot_grad(np.ones(batch) * 0.5, None, datas)[0], 0.5 * datas[n]) if \
                type(datas[n]) is np.ndarray else True


def test_dot_of_negative_zeros_is_positive_zero_as_the_loop():
    w = [-0.0, -0.0, 0.0, -0.0]
    x = [np.array([1.0, -0.0]), np.array([0.0, 2.0]), np.array([-0.0, -0.0]), np.array([5.0, 1.0])]
    assert same(ops._dot(w + x), loop_dot(w + x))
    assert not np.signbit(ops._dot(w + x)).any()
    nodes = autograd.dots([[Value(v) for v in w]], [Value(c) for c in x])
    assert same(nodes[0].data, loop_dot(w + x))


@pytest.mark.parametrize("special", [0.0, 0.25])
def test_dots_forward_is_each_rows_loop(special):
    rng = np.random.default_rng(7)
    for k, n, batch in [(1, 1, 1), (3, 5, 4), (32, 64, 32), (4, 300, 70)]:
        W = rng_values(rng, (k, n), special)
        X = rng_values(rng, (n, batch), special)
        xs = [Value(c) for c in X]
        with np.errstate(all="ignore"):
            rows = autograd.dots([[Value(float(w)) for w in row] for row in W], xs)
            for j, node in enumerate(rows):
                assert same(node.data, loop_dot(list(W[j]) + list(X)))


def test_dots_nodes_are_ordinary_dot_nodes():
    ws = [[Value(1.0), Value(2.0), Value(3.0)], [Value(-1.0), 4.0, Value(0.5)]]
    xs = [Value(np.arange(4.0)), Value(np.ones(4)), Value(np.full(4, -2.0))]
    out = autograd.dots(ws, xs)
    for row, node in zip(ws, out):
        assert node.op == "dot" and node.k is None and len(node.parents) == 6
        assert node.parents[:3][0] is row[0] and node.parents[3:] == tuple(xs)
        plain = autograd.dot(row, xs)
        assert same(node.data, plain.data)
    assert out[1].parents[1].data == 4.0  # a number became a constant leaf, as in dot()


def test_dots_refuses_what_dot_refuses():
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        autograd.dots([[Value(1.0), Value(2.0)]], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="item 1"):
        autograd.dots([[Value(1.0), "w"]], [Value(np.ones(3)), Value(np.ones(3))])
    with pytest.raises(ValueError, match="different lengths"):
        autograd.dots([[Value(1.0), Value(2.0)]], [Value(np.ones(3)), Value(np.ones(4))])


# -- backward --------------------------------------------------------------------------------

def layer_graph(rng, k, n, batch, special=0.0, scalar_inputs=(), share=None):
    W = rng_values(rng, (k, n), special)
    weights = [[Value(float(w)) for w in row] for row in W]
    if share:
        (j1, i1), (j2, i2) = share
        weights[j2][i2] = weights[j1][i1]
    xs = [Value(float(rng_values(rng, (), special))) if i in scalar_inputs else Value(rng_values(rng, (batch,), special))
          for i in range(n)]
    return weights, xs


def loss_of(outs, rng, batch):
    coef = [Value(rng_values(rng, (batch,))) for _ in outs]
    return autograd.sum([(o * c).tanh() for o, c in zip(outs, coef)]).sum()


@pytest.mark.parametrize("special", [0.0, 0.2])
@pytest.mark.parametrize("k,n,batch", [(1, 3, 1), (2, 3, 2), (5, 4, 7), (32, 64, 32), (3, 200, 9)])
def test_dots_backward_is_the_per_weight_reference(k, n, batch, special):
    rng = np.random.default_rng(k * n + batch)
    weights, xs = layer_graph(rng, k, n, batch, special)
    with np.errstate(all="ignore"):
        loss = loss_of(autograd.dots(weights, xs), rng, batch)
    check_backward(loss)


def test_dot_alone_over_a_batch_is_the_reference():
    rng = np.random.default_rng(3)
    weights, xs = layer_graph(rng, 1, 20, 6, special=0.2)
    with np.errstate(all="ignore"):
        loss = loss_of([autograd.dot(weights[0], xs)], rng, 6)
    check_backward(loss)


def test_mixed_scalar_and_batched_inputs():
    rng = np.random.default_rng(4)
    weights, xs = layer_graph(rng, 4, 6, 5, special=0.1, scalar_inputs=(0, 3, 5))
    loss = loss_of(autograd.dots(weights, xs), rng, 5)
    check_backward(loss)


def test_batched_weights_take_the_general_path():
    rng = np.random.default_rng(5)
    weights, xs = layer_graph(rng, 3, 4, 5)
    weights[1][2] = Value(rng_values(rng, (5,)))  # a weight holding a batch
    loss = loss_of(autograd.dots(weights, xs), rng, 5)
    check_backward(loss)


def test_a_weight_shared_by_two_dots_and_twice_in_one():
    rng = np.random.default_rng(6)
    weights, xs = layer_graph(rng, 3, 5, 4, share=((0, 1), (2, 3)))
    weights[1][0] = weights[1][4]  # twice in one row
    loss = loss_of(autograd.dots(weights, xs), rng, 4)
    topo = check_backward(loss)
    assert weights[0][1] in topo


def test_a_weight_that_is_also_an_input():
    rng = np.random.default_rng(8)
    a = Value(0.75)
    xs = [Value(rng_values(rng, (4,))) for _ in range(3)] + [a]
    weights = [[a, Value(2.0), Value(-1.0), Value(0.5)], [Value(1.5), a, Value(3.0), Value(-2.0)]]
    loss = loss_of(autograd.dots(weights, xs), rng, 4)
    check_backward(loss)


def test_an_input_used_twice_in_one_dot_takes_the_general_path():
    x = Value(np.array([1.0, 2.0, -3.0]))
    w = [Value(0.5), Value(-2.0), Value(1.5), Value(0.25)]
    y = Value(np.array([0.5, 0.5, 0.5]))
    loss = loss_of(autograd.dots([w], [x, y, x, y]), np.random.default_rng(0), 3)
    check_backward(loss)


def test_an_input_used_by_two_layers_and_elsewhere():
    # Terms into the shared inputs come from two groups and from other nodes, interleaved in the
    # sweep: each input must receive them in that order.
    rng = np.random.default_rng(9)
    w1, xs = layer_graph(rng, 3, 5, 6, special=0.1)
    w2, _ = layer_graph(rng, 2, 5, 6)
    h1 = autograd.dots(w1, xs)
    h2 = autograd.dots(w2, xs)
    mixed = [h1[0] * xs[2], h2[1] + xs[0] * 3.0, h1[2].tanh() * h2[0], h1[1] - xs[4]]
    loss = loss_of(mixed + [autograd.dot([Value(0.5)] * 5, xs)], rng, 6)
    check_backward(loss)


def test_stacked_layers_and_an_intermediate_input():
    rng = np.random.default_rng(10)
    w1, xs = layer_graph(rng, 6, 4, 5, special=0.1)
    with np.errstate(all="ignore"):  # inf - inf and the like are part of the test
        h = [v.relu() for v in autograd.dots(w1, xs)]
        w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (3, 6))]
        out = autograd.dots(w2, h)
        loss = loss_of(out + [h[2] * h[3]], rng, 5)
    check_backward(loss)


def test_batched_root_and_accumulation_across_calls():
    rng = np.random.default_rng(11)
    weights, xs = layer_graph(rng, 4, 5, 3)
    out = autograd.dots(weights, xs)
    root = autograd.sum([o.tanh() for o in out])
    check_backward(root, seed=np.array([1.0, -0.0, 2.5]))
    check_backward(root, seed=np.array([0.5, 1.0, -1.0]))  # adds again onto the first call's


def test_data_changed_between_forward_and_backward_is_read_at_backward():
    rng = np.random.default_rng(12)
    weights, xs = layer_graph(rng, 3, 4, 5)
    loss = loss_of(autograd.dots(weights, xs), rng, 5)
    weights[1][2].data = -7.0
    xs[3].data[1] = 100.0  # in place
    check_backward(loss)


def test_nn_layer_and_mlp_are_the_reference():
    rng = np.random.default_rng(13)
    model = MLP(5, [8, 6, 3], seed=1)
    X = rng.standard_normal((17, 5))
    loss = losses.cross_entropy(model(X), rng.integers(0, 3, 17))
    check_backward(loss)
    layer = Layer(4, 3, activation="tanh", init="xavier", rng=np.random.default_rng(0))
    outs = layer(rng.standard_normal((6, 4)))
    check_backward(autograd.sum(outs).sum())


def test_nn_layer_one_example_equals_the_batch():
    model = MLP(3, [5, 2], seed=2)
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    batch = model(X)
    for i, row in enumerate(X):
        one = model(list(row))
        assert [o.data for o in one] == [float(b.data[i]) for b in batch]


@pytest.mark.parametrize("l2_first", [False, True])
def test_layer_weights_used_elsewhere_before_and_after_the_layer(l2_first):
    # backward defers a layer's weight gradients; another use of a weight (losses.l2's dot, a
    # scalar product) must still add its term before or after the layer's, as the sweep meets it.
    rng = np.random.default_rng(18)
    w1, xs = layer_graph(rng, 6, 5, 7, special=0.1)
    w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (3, 6))]
    with np.errstate(all="ignore"):
        h = [v.relu() for v in autograd.dots(w1, xs)]
        fit = loss_of(autograd.dots(w2, h), rng, 7)
        params = [w for row in w1 + w2 for w in row]
        extra = losses.l2(params, 1e-3) + w1[2][3] * 5.0 + (w2[1][0] * w1[0][0]).tanh()
        loss = extra + fit if l2_first else fit + extra
    check_backward(loss)


def test_mlp_with_l2_is_the_reference_and_sum_of_squares():
    rng = np.random.default_rng(19)
    X, y = rng.standard_normal((20, 2)), rng.choice([-1.0, 1.0], 20)
    grads = []
    for reg in (lambda ps: losses.l2(ps, 1e-4), lambda ps: 1e-4 * autograd.sum([p * p for p in ps])):
        model = MLP(2, [16, 16, 1], seed=3)
        loss = losses.hinge(model(X), y) + reg(model.parameters())
        check_backward(loss)
        grads.append([loss.data] + [p.grad for p in model.parameters()])
    assert grads[0] == grads[1]  # l2 as one dot: sum(p * p)'s very numbers


def test_a_layers_weight_as_the_input_of_another_layer():
    rng = np.random.default_rng(20)
    w1, xs = layer_graph(rng, 3, 4, 5)
    h = autograd.dots(w1, xs)
    for last in (w1[1][2], Value(0.25)):  # with and without a weight in both layers
        w2 = [[Value(0.5), Value(-1.5), Value(2.0), last]]
        out = autograd.dots(w2, h[:3] + [w1[0][0]])  # a weight of layer 1 is a (scalar) input here
        check_backward(loss_of(h + out, rng, 5))


def test_create_graph_through_dots():
    rng = np.random.default_rng(14)
    weights, xs = layer_graph(rng, 3, 4, 5)
    flat = [w for row in weights for w in row]

    def build(fast):
        outs = autograd.dots(weights, xs) if fast else [autograd.dot(row, xs) for row in weights]
        return autograd.sum([(o * o).tanh() for o in outs]).sum()

    results = []
    for fast in (True, False):
        for v in flat + xs:
            v.grad = np.zeros_like(v.data) if type(v.data) is np.ndarray else 0.0
        loss = build(fast)
        loss.backward(create_graph=True)
        first = [w.grad for w in flat]
        assert all(isinstance(g, Value) for g in first)
        penalty = autograd.sum([g * g for g in first])
        for v in flat + xs:
            v.grad = np.zeros_like(v.data) if type(v.data) is np.ndarray else 0.0
        penalty.backward()
        results.append(([g.data for g in first], [w.grad for w in flat], [x.grad.copy() for x in xs]))
    (g1, h1, x1), (g2, h2, x2) = results
    assert all(same(a, b) for a, b in zip(g1, g2))
    assert all(same(a, b) for a, b in zip(h1, h2))
    assert all(same(a, b) for a, b in zip(x1, x2))
    # and the first-order numbers are the float path's
    loss = build(True)
    ref = reference_grads(loss)
    assert all(same(g, ref[w]) for g, w in zip(g1, flat))


def test_an_error_mid_sweep_leaves_every_gradient_as_it_was():
    rng = np.random.default_rng(15)
    weights, xs = layer_graph(rng, 3, 4, 5)
    out = autograd.dots(weights, xs)
    c = Value(2.0)
    loss = (autograd.sum(out).sum() / c)
    before = {v: (v.grad.copy() if type(v.grad) is np.ndarray else v.grad) for v in topological_order(loss)}
    c.data = 0.0
    with pytest.raises(ZeroDivisionError):
        loss.backward()
    for v, g in before.items():
        assert same(v.grad, g)
        assert type(v.grad) in (float, np.ndarray)


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (40, 1), (300, 1), (2, 3), (17, 8), (129, 2), (3, 4, 5), (33, 1, 1)])
def test_sum_rows_adds_row_after_row(shape):
    # Values spanning 20 orders of magnitude: any other order of additions shows in the bits.
    rng = np.random.default_rng(sum(shape))
    p = rng.standard_normal(shape) * 10.0 ** rng.integers(-10, 10, shape)
    acc = p[0].copy()
    for row in p[1:]:
        acc = acc + row
    assert same(ops._sum_rows(p), acc)
    zeros = np.full(shape, -0.0)
    assert np.signbit(ops._sum_rows(zeros)).all()  # -0.0 + -0.0 stays -0.0, as cumsum keeps it


def test_backward_visits_nodes_in_topological_order():
    # backward() orders op nodes as topological_order() does (the order terms are added in)
    # and takes leaves in bulk; the set of nodes is the same.
    from autograd.backward import _sweep_order
    rng = np.random.default_rng(16)
    w1, xs = layer_graph(rng, 4, 5, 3)
    w2, _ = layer_graph(rng, 3, 4, 3)
    h = [v.relu() for v in autograd.dots(w1, xs)]
    out = autograd.dots(w2, h) + autograd.dots(w1[:2], xs)
    model = MLP(3, [4, 2], seed=0)
    roots = [loss_of(out + [h[0] * xs[1]], rng, 3),
             losses.cross_entropy(model(rng.standard_normal((5, 3))), [0, 1, 1, 0, 1]),
             Value(2.0), Value(1.0) * 3.0]
    for root in roots:
        topo = topological_order(root)
        inner, leaves = _sweep_order(root)
        assert inner == [n for n in topo if n.op]
        assert set(leaves) == {n for n in topo if not n.op} and len(leaves) + len(inner) == len(topo)


@pytest.mark.parametrize("special", [0.0, 0.01])
def test_big_layers_computed_in_pieces_are_the_reference(special):
    # Big enough that forward, weight and input gradients go through the cache-sized pieces.
    # With 1 % special values (NaN, inf...) nearly every weight gradient is NaN: the finite case
    # pins the pieces' sums themselves (a sum started at -1.0 instead of -0.0 passed the other).
    rng = np.random.default_rng(17)
    weights, xs = layer_graph(rng, 3, 300, 230, special=special)
    with np.errstate(all="ignore"):
        outs = autograd.dots(weights, xs)
        for row, node in zip(weights, outs):
            assert same(node.data, loop_dot([w.data for w in row] + [x.data for x in xs]))
        loss = loss_of(outs, rng, 230)
    check_backward(loss)


def test_gathered_marker_adds_in_either_order():
    # An input whose gradient is being gathered: `array + it` and `it + array` both write the
    # gathered terms back first (numpy must not broadcast over the marker object).
    from autograd.backward import _Gathered, _write_back  # noqa: F401
    from autograd.value import _DotRows
    x = Value(np.array([1.0, 2.0]))
    rows = _DotRows(1)
    rows.bx, rows.gx = [x], np.array([[0.5, -0.0]])
    x.grad = _Gathered(rows, 0)
    total = np.array([1.0, 1.0]) + x.grad
    assert same(total, np.array([1.5, 1.0])) and same(x.grad, np.array([0.5, -0.0]))
    rows.gx = np.array([[2.0, 3.0]])
    x.grad = _Gathered(rows, 0)
    assert same(x.grad + np.array([1.0, -1.0]), np.array([3.0, 2.0]))


def test_dot_over_many_scalars_adds_to_gradients_of_any_kind():
    # backward of a dot over floats runs as arrays; gradients already there (a float from an
    # earlier term; an int a user wrote, added back at the end) keep the rule's order.
    rng = np.random.default_rng(21)
    ps = [Value(float(x)) for x in rng_values(rng, (40,), special=0.1)]
    qs = [Value(float(x)) for x in rng_values(rng, (40,))]
    with np.errstate(all="ignore"):
        for ws, xs in ((ps, ps), (ps, qs)):
            root = autograd.dot(ws, xs) * 3.0 + ps[3] * qs[5] + autograd.dot(ps, ps) * 0.5
            check_backward(root)
            for p in ps:
                p.grad = 0
            ps[0].grad = 2.5
            check_backward(root)


def test_a_weight_that_became_a_batch_after_forward_takes_the_rule():
    # A layer's nodes wait in backward and read their weights when they run; a weight whose
    # data was replaced by a batch since forward sends the waiting nodes through the rule.
    rng = np.random.default_rng(22)
    weights, xs = layer_graph(rng, 4, 5, 3)
    with np.errstate(all="ignore"):
        h = [v.tanh() for v in autograd.dots(weights, xs)]
        loss = loss_of(h + [xs[0] * 2.0], rng, 3)
    weights[2][1].data = rng_values(rng, (3,))
    check_backward(loss)


# -- the layers' weights are not reset by backward(): each adds its one term to its earlier
# gradient where the layer's nodes run (mode 1), whatever that earlier gradient is

OLD_GRADS = [0.0, -0.0, 1.5, -2.0, 0, np.float64(0.0), math.inf, 1e-320]


def with_old_grads(weights, rng):
    for row in weights:
        for w in row:
            w.grad = OLD_GRADS[rng.integers(len(OLD_GRADS))]


@pytest.mark.parametrize("case", ["flush", "scalar inputs", "rule", "stacked", "mlp"])
def test_earlier_weight_gradients_of_any_kind_are_added_as_backward_adds_them(case):
    rng = np.random.default_rng(23)
    with np.errstate(all="ignore"):
        if case == "mlp":
            model = MLP(5, [8, 6, 3], seed=1)
            loss = losses.cross_entropy(model(rng.standard_normal((9, 5))), rng.integers(0, 3, 9))
            weights = [n.w for layer in model.layers for n in layer.neurons]
        elif case == "stacked":
            w1, xs = layer_graph(rng, 4, 5, 3, special=0.1)
            w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (3, 4))]
            h = [v.tanh() for v in autograd.dots(w1, xs)]
            loss = loss_of(autograd.dots(w2, h), rng, 3)
            weights = w1 + w2
        else:
            weights, xs = layer_graph(rng, 4, 6, 3, special=0.1,
                                      scalar_inputs=(1, 4) if case == "scalar inputs" else ())
            loss = loss_of(autograd.dots(weights, xs), rng, 3)
            if case == "rule":  # read at backward: the waiting nodes go through ops.DOT's rule
                weights[2][1].data = rng_values(rng, (3,))
    with_old_grads(weights, rng)
    check_backward(loss)
    with_old_grads(weights, rng)
    check_backward(loss)  # and again, onto the first call's


def test_an_error_after_a_layer_wrote_its_weights_leaves_every_gradient_as_it_was():
    # Layer 2's nodes run (and add to their weights) when the sweep reaches layer 1's outputs;
    # the division below them fails after that: every gradient is back as it was.
    rng = np.random.default_rng(24)
    w1, xs = layer_graph(rng, 3, 4, 5)
    w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (2, 3))]
    c = Value(np.full(5, 2.0))
    h = [v / c for v in autograd.dots(w1, xs)]
    loss = autograd.sum(autograd.dots(w2, h)).sum()
    with_old_grads(w1 + w2, rng)
    before = {v: (v.grad.copy() if type(v.grad) is np.ndarray else v.grad) for v in topological_order(loss)}
    c.data[2] = 0.0
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        loss.backward()
    for v, g in before.items():
        assert same(v.grad, g) if type(g) is not int else (type(v.grad) is int and v.grad == g)


@pytest.mark.parametrize("case", ["flush", "scalar inputs", "rule", "by the rule"])
def test_a_negative_zero_weight_gradient_after_zero_grad_keeps_its_sign(case, monkeypatch):
    # An input column of zeros and a gradient of -1 for every example: that weight's term is
    # -0.0, and after zero_grad (0.0) backward leaves -0.0 (0.0 + -0.0 would be 0.0).
    rng = np.random.default_rng(25)
    weights, xs = layer_graph(rng, 3, 5, 4, scalar_inputs=(2,) if case == "scalar inputs" else ())
    xs[1].data[:] = 0.0
    loss = -autograd.sum(autograd.dots(weights, xs)).sum()
    if case == "rule":
        weights[0][3].data = rng_values(rng, (4,))
    if case == "by the rule":  # the sweep leaves every layer node to ops.DOT's rule
        monkeypatch.setattr(importlib.import_module("autograd.backward"), "_dot_backward",
                            lambda *a: False)
    for row in weights:
        for w in row:
            w.grad = 0.0
    check_backward(loss)
    assert all(math.copysign(1.0, row[1].grad) == -1.0 and row[1].grad == 0.0 for row in weights)


def test_batched_gradients_added_back_in_one_operation_are_each_their_own():
    rng = np.random.default_rng(26)
    weights, xs = layer_graph(rng, 3, 4, 5)
    h = [v.tanh() for v in autograd.dots(weights, xs)]
    loss = loss_of(h, rng, 5)
    check_backward(loss)
    check_backward(loss)  # earlier batches + this call's: summed for all nodes at once
    grads = [v.grad for v in h + xs]
    before = [g.copy() for g in grads]
    grads[0][:] = 7.0  # in place, on one node's gradient: the others keep theirs
    assert all(np.array_equal(g, b) for g, b in zip(grads[1:], before[1:]))


@pytest.mark.parametrize("extra", [(), (0,), (5,), (0, 3, 7), (7,)])
@pytest.mark.parametrize("special", [0.0, 0.2])
def test_relus_feeding_a_layer_run_together_and_as_the_rule_when_used_elsewhere(extra, special):
    # The relu nodes feeding a layer get their rule's results all at once when the layer's
    # nodes run; a relu used elsewhere too (its gradient added to after that) takes the rule.
    rng = np.random.default_rng(27 + len(extra))
    w1, xs = layer_graph(rng, 8, 5, 6, special)
    w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (3, 8), special)]
    with np.errstate(all="ignore"):
        h = [v.relu() for v in autograd.dots(w1, xs)]
        outs = autograd.dots(w2, h)
        loss = loss_of(outs + [h[i] * float(i + 1) for i in extra], rng, 6)
    check_backward(loss)
    check_backward(loss)


def test_relus_feeding_a_layer_read_their_inputs_at_backward():
    rng = np.random.default_rng(28)
    w1, xs = layer_graph(rng, 4, 5, 6)
    w2 = [[Value(float(w)) for w in row] for row in rng_values(rng, (3, 4))]
    adds = autograd.dots(w1, xs)
    h = [v.relu() for v in adds]
    loss = loss_of(autograd.dots(w2, h), rng, 6)
    adds[1].data = -adds[1].data  # replaced since forward: the rule reads the new data
    adds[2].data[:3] = 0.0        # in place
    check_backward(loss)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0, 1e3])
@pytest.mark.parametrize("batched", [True, False])
def test_cross_entropy_with_class_indices_is_minus_dot_of_log_softmax_to_the_bit(scale, batched):
    # cross_entropy builds lse - dot(shifted, onehot) for exact one-hot targets: the numbers
    # of -dot(log_softmax, onehot), loss and gradients (signs of zero included).
    rng = np.random.default_rng(int(scale * 7) + batched)
    n, k = (13, 6) if batched else (1, 6)
    Z = rng.standard_normal((n, k)) * scale
    Z[:, 1] = Z[:, 2]  # ties
    y = rng.integers(0, k, n)
    got, want = [], []
    for out, form in ((got, "new"), (want, "old")):
        zs = [Value(Z[:, j].copy()) for j in range(k)] if batched else [Value(float(v)) for v in Z[0]]
        t = y if batched else int(y[0])
        if form == "new":
            loss = losses.cross_entropy(zs, t)
        else:
            onehot = losses._one_hot_columns(t, k, batched)
            loss = -autograd.dot(losses.log_softmax(zs), onehot)
            loss = loss.mean() if batched else loss
        loss.backward()
        out += [loss.data] + [z.grad for z in zs]
    assert all(same(a, b) for a, b in zip(got, want))


def test_nn_layer_weights_replaced_tied_or_computed_after_a_call_are_the_reference():
    # A Layer keeps what dots() checked about its weights from call to call: a weight Value
    # replaced, a new list, a Value in two places, a weight that is no leaf are all seen.
    rng = np.random.default_rng(40)
    layer = Layer(4, 3, activation="relu", rng=np.random.default_rng(2))
    X = rng.standard_normal((6, 4))
    check_backward(autograd.sum(layer(X)).sum())
    edits = [lambda: layer.neurons[1].w.__setitem__(2, Value(3.0)),
             lambda: setattr(layer.neurons[2], "w", [Value(w.data) for w in layer.neurons[2].w]),
             lambda: layer.neurons[0].w.__setitem__(0, layer.neurons[1].w[3]),
             lambda: layer.neurons[2].w.__setitem__(1, Value(0.5) * 2.0)]
    for change in edits:
        change()
        out = layer(X)
        assert [o.data.tobytes() for o in out] == [n(X).data.tobytes() for n in layer.neurons]
        topo = check_backward(autograd.sum(out).sum())
        assert all(w in topo for n in layer.neurons for w in n.w)
        layer.zero_grad()
