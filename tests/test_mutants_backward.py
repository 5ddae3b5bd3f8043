"""Tests that kill mutants of autograd/backward.py (docs/mutation.md, backward.py section).

Each test pins one behaviour of the reverse sweep that mutation testing found unpinned; the
expected numbers come from an independent reference (hand arithmetic, numpy, the per-node rule).
"""
import math
import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Value, ops
from autograd.ops import Op
from autograd.value import _node


@pytest.fixture
def rule_calls(monkeypatch):
    """How many times ops.ADD's, ops.RELU's and ops.DOT's backward rules run (the per-node
    sweep calls them once per node; backward's layer paths once per layer or never)."""
    calls = {"add": 0, "relu": 0, "dot": 0}
    for name, op in (("add", ops.ADD), ("relu", ops.RELU), ("dot", ops.DOT)):
        def counted(*args, _rule=op.backward, _name=name):
            calls[_name] += 1
            return _rule(*args)
        monkeypatch.setattr(op, "backward", counted)
    return calls


def _rule_term(x):
    """MAX_DETACHED's rule for one input, written out: ones_like(x) * -0.0."""
    return np.ones_like(x) * -0.0 if isinstance(x, np.ndarray) else -0.0


@pytest.mark.parametrize("first", ["mul", "max"])
def test_max_detached_input_made_a_batch_after_forward_gets_the_rules_batch(first):
    """An input whose data became a batch after forward, holding a float gradient from another
    node when max_detached's turn comes, gets the rule's term (a batch of -0.0): its gradient
    becomes that float in every example, as the per-node rule gives (not left a float)."""
    x, y = Value(2.0), Value(3.0)
    m = autograd.max_detached([x, y])
    root = x * 3.0 + m if first == "mul" else m + x * 3.0
    x.data = np.array([1.0, 2.0])
    root.backward()
    want = 3.0 + _rule_term(x.data)  # d(3x)/dx = 3, then the rule's -0.0 per example
    assert type(x.grad) is np.ndarray and np.array_equal(x.grad, want)
    assert math.copysign(1.0, y.grad) == -1.0 and y.grad == 0.0


@pytest.mark.parametrize("first", ["mul", "max"])
def test_max_detached_gives_its_term_to_every_input_after_a_float_one(first):
    """After an input whose gradient is already a float (skipped: cur + -0.0 is cur), the later
    inputs still get the rule's term: an inner node reached through max_detached alone needs
    it, or its own rule has no gradient to run on."""
    a, c = Value(1.5), Value(0.5)
    b = c.exp()
    m = autograd.max_detached([a, b])
    root = a * 2.0 + m if first == "mul" else m + a * 2.0
    root.backward()
    assert a.grad == 2.0
    assert b.grad == 0.0 and math.copysign(1.0, b.grad) == -1.0  # the rule's -0.0
    assert c.grad == 0.0 and math.copysign(1.0, c.grad) == -1.0  # -0.0 * exp(0.5)


def test_a_layer_of_one_weight_over_a_batch():
    """dots() with one weight and one batched input (the smallest layer backward defers): the
    weight's gradient is sum_e g_e * x_e left to right, the input's g_e * w."""
    w, x = Value(-1.5), Value(np.array([0.5, 2.0, -3.0]))
    (out,) = autograd.dots([[w]], [x])
    g = np.array([1.0, -2.0, 0.25])
    out.backward(grad=g)
    assert w.grad == ((0.0 + 1.0 * 0.5) + -2.0 * 2.0) + 0.25 * -3.0
    assert np.array_equal(x.grad, g * -1.5)


def test_biases_of_relus_feeding_a_layer_get_their_sums_without_the_add_rule(rule_calls):
    """relu(w.x + b) feeding a second layer: the biases' gradients (each the sum over the batch
    of its relu's gradient, left to right) are made for the layer at once, so ADD's rule never
    runs, even for a layer of two neurons; the numbers are a plain loop's."""
    rng = np.random.default_rng(3)
    w1 = [[Value(float(v)) for v in row] for row in rng.standard_normal((2, 3))]
    bs = [Value(float(v)) for v in rng.standard_normal(2)]
    xs = [Value(rng.standard_normal(5)) for _ in range(3)]
    w2 = [[Value(float(v)) for v in row] for row in rng.standard_normal((2, 2))]
    adds = [s + b for s, b in zip(autograd.dots(w1, xs), bs)]
    autograd.sum(autograd.dots(w2, [a.relu() for a in adds])).sum().backward()
    assert rule_calls == {"add": 0, "relu": 1, "dot": 0}
    for j, (a, b) in enumerate(zip(adds, bs)):
        up = w2[0][j].data + w2[1][j].data  # d(sum of both outputs)/d relu_j, every example
        want = 0.0
        for pre in a.data:  # left to right over the batch
            want += up if pre > 0 else 0.0
        assert b.grad == want


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 0, 3, 2), (0, 1, 3, 2)])
@pytest.mark.parametrize("earlier", [False, True])  # after zero_grad, or onto earlier gradients
def test_an_nn_layers_weights_get_their_own_rows_gradients(order, earlier):
    """nn.Layer over a batch, each output scaled by its own constant: weight w_jk gets
    sum_e c_j * x_ke (left to right, onto its earlier gradient), input x_k gets the terms
    c_j * w_jk added output after output in the order the sweep meets the outputs (that of
    the sum's terms), whether that is the layer's row order, its reverse (backward then takes
    the whole layer in row order) or another."""
    rng = np.random.default_rng(4)
    layer = nn.Layer(3, 4, activation="linear", rng=rng)
    xs = [Value(rng.standard_normal(5)) for _ in range(3)]
    cs = [1.0, -2.0, 0.5, 3.0]
    layer.zero_grad()
    if earlier:
        for j, n in enumerate(layer.neurons):
            for k, w in enumerate(n.w):
                w.grad = 0.25 * (j - k)
    olds = [[w.grad for w in n.w] for n in layer.neurons]
    terms = [o * c for o, c in zip(layer(xs), cs)]
    autograd.sum([terms[j] for j in order]).sum().backward()
    for j, n in enumerate(layer.neurons):
        for k, w in enumerate(n.w):
            t = float(np.cumsum(cs[j] * xs[k].data)[-1])
            assert w.grad == (olds[j][k] + t if earlier else t)
    for k, x in enumerate(xs):
        want = None
        for j in order:
            p = cs[j] * np.ones(5) * layer.neurons[j].w[k].data
            want = p if want is None else want + p
        assert np.array_equal(x.grad, want)


@pytest.mark.parametrize("extra_first", [False, True])
@pytest.mark.parametrize("use", ["adds", "adds + 1", "biases", "relus", "relus of adds"])
def test_a_relu_layers_nodes_also_used_elsewhere_get_every_term(use, extra_first):
    """relu(w.x + b) feeding a layer, with each w.x + b, each bias or each relu also used by
    another term of the loss (1.5 times it): what backward made ahead for the layer (the
    relus' gradients, the biases' sums) no longer applies, and every node gets both terms.
    Numbers are chosen so that every sum is exact, whatever the order of the two terms."""
    rng = np.random.default_rng(5)
    w1 = [[Value(float(v)) for v in row] for row in rng.standard_normal((3, 2))]
    bs = [Value(float(v)) for v in rng.standard_normal(3)]
    xs = [Value(rng.standard_normal(6)) for _ in range(2)]
    w2 = [[Value(v) for v in row] for row in ([0.5, -0.25, 0.75], [0.25, 1.0, -0.5])]
    adds = [s + b for s, b in zip(autograd.dots(w1, xs), bs)]
    relus = [a.relu() for a in adds]
    layer = autograd.sum(autograd.dots(w2, relus))
    if use == "relus of adds":  # other relus, met while the layer's are made ahead
        extra = autograd.sum([(a * 1.5).relu() for a in adds])
    elif use == "adds + 1":  # other adds, met while the layer's biases are made ahead
        extra = autograd.sum([(a + 1.0) * 1.5 for a in adds])
    else:
        extra = autograd.sum([v * 1.5 for v in {"adds": adds, "biases": bs, "relus": relus}[use]])
    (extra + layer if extra_first else layer + extra).sum().backward()
    for j, (a, b) in enumerate(zip(adds, bs)):
        up = w2[0][j].data + w2[1][j].data + (1.5 if use in ("relus", "relus of adds") else 0.0)
        want = 0.0
        for pre in a.data:  # d/da, example after example, summed left to right
            want += (up if pre > 0 else 0.0) + (1.5 if use in ("adds", "adds + 1") else 0.0)
        assert b.grad == want + (1.5 * 6 if use == "biases" else 0.0)


def test_backward_takes_a_batched_value_as_its_seed():
    """grad= may be a Value: its data seeds the sweep (for a batch as for one number)."""
    x = Value(np.array([1.0, -2.0, 3.0]))
    (x * 2.0).backward(grad=Value(np.array([0.5, 1.0, -4.0])))
    assert np.array_equal(x.grad, np.array([1.0, 2.0, -8.0]))
    s = Value(1.5)
    (s * 3.0).backward(grad=Value(2.0))
    assert type(s.grad) is float and s.grad == 6.0  # a 0-d seed becomes a float


def test_a_float32_seed_is_taken_as_float64():
    """A seed of another dtype is converted to float64 first: the gradients are float64 products
    of its values (not float32 arithmetic)."""
    x = Value(np.array([1.0, -2.0, 3.0]))
    seed = np.array([0.1, 0.2, -0.3], dtype=np.float32)
    (x * 3.0).backward(grad=seed)
    assert x.grad.dtype == np.float64
    assert np.array_equal(x.grad, seed.astype(np.float64) * 3.0)


def test_a_seed_of_the_wrong_shape_is_refused_naming_both_shapes():
    x = Value(np.array([1.0, 2.0, 3.0]))
    msg = "backward(grad=...) needs shape (3,) like the Value's data, got (2,)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        (x * 2.0).backward(grad=np.ones(2))


def test_a_one_input_rule_with_a_constant_gets_the_nodes_output():
    """A one-input operation with a constant (has_k) gets (g, out, x, k), `out` its forward's
    result, as every rule does (defop's contract): exp(k * x), whose rule reads out."""
    op = Op("expk", 1, lambda a, k: math.exp(k * a), lambda g, out, a, k: (g * k * out,), True, None)
    x = Value(0.5)
    node = _node(math.exp(2.0 * 0.5), op, x, 2.0)
    (node * 3.0).backward()
    assert x.grad == 6.0 * math.exp(1.0)  # g = 3, times k = 2, times out, bit for bit


def test_an_n_input_rule_with_a_constant_gets_g_out_inputs_and_constant():
    """An n-input operation with a constant gets (g, out, xs, k) from the per-node sweep:
    exp(sum k_i * x_i**2), whose rule 2 * g * k_i * x_i * out reads all four."""
    def forward(xs, k):
        return math.exp(sum(ki * x * x for ki, x in zip(k, xs)))

    def rule(g, out, xs, k):
        return [g * 2.0 * ki * x * out for ki, x in zip(k, xs)]

    op = Op("expsq", "n", forward, rule, True, None)
    x, y = Value(0.5), Value(-0.25)
    k = (1.5, 2.0)
    node = _node(forward([0.5, -0.25], k), op, [x, y], k)
    (node * 3.0).backward()
    out = math.exp(0.5)  # 1.5 * 0.25 + 2 * 0.0625
    assert x.grad == 4.5 * out and y.grad == -3.0 * out  # 3 * 2 * 1.5 * 0.5, 3 * 2 * 2 * -0.25


def test_create_graph_through_logsumexp_keeps_the_inputs_in_the_gradient():
    """With create_graph an n-input rule gets the input Values, so the gradient of
    logsumexp([x, y]) (the softmax p_x) depends on x directly: d p_x / dx = p_x * (1 - p_x),
    d p_x / dy = -p_x * p_y (numpy's softmax)."""
    x, y = Value(0.3), Value(-0.2)
    autograd.logsumexp([x, y]).backward(create_graph=True)
    gx = x.grad
    p = np.exp(np.array([0.3, -0.2]) - np.logaddexp(0.3, -0.2))
    assert type(gx) is Value and gx.data == pytest.approx(p[0], rel=1e-15)
    x.grad = y.grad = 0.0
    gx.backward()
    assert x.grad == pytest.approx(p[0] * p[1], rel=1e-12)
    assert y.grad == pytest.approx(-p[0] * p[1], rel=1e-12)


def test_dots_with_computed_weights_backward_twice_on_one_graph():
    """A layer of autograd.dots whose weights are computed (2 * v), over a batch: a second
    backward() on the same graph runs as the first (nothing of the first sweep left on the
    layer) and adds the same gradients: 2 * sum(x_i) twice, 2 * v_i per example twice."""
    v = [Value(1.0), Value(2.0), Value(3.0)]
    xs = [Value(np.array(c)) for c in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0])]
    (out,) = autograd.dots([[p * 2.0 for p in v]], xs)
    root = out.sum()
    root.backward()
    root.backward()
    assert [p.grad for p in v] == [12.0, 28.0, 44.0]  # 2 * (2 * (x_i0 + x_i1))
    for p, x in zip(v, xs):
        assert np.array_equal(x.grad, np.full(2, 4.0 * p.data))  # 2 * (2 * v_i), each example


def test_the_backward_function_gives_plain_gradients_by_default():
    """autograd.backward(root) (the function, no create_graph) leaves floats, not Values."""
    x = Value(3.0)
    autograd.backward(x * x)
    assert type(x.grad) is float and x.grad == 6.0


def test_create_graph_makes_every_gradient_a_value_the_roots_too():
    """With create_graph=True the root's own gradient is the seed Value(1.0), and the
    others are Values (2 * x for x * x)."""
    x = Value(3.0)
    y = x * x
    y.backward(create_graph=True)
    assert type(y.grad) is Value and y.grad.data == 1.0
    assert type(x.grad) is Value and x.grad.data == 6.0


def test_a_batch_gradient_is_added_to_a_float_zero():
    """A batched leaf whose gradient was reset to the float 0.0 gets 0.0 + new: the new
    batch's -0.0 become +0.0 (IEEE: 0.0 + -0.0 is +0.0), and each leaf its own array."""
    x, y = Value(np.array([1.0, -2.0])), Value(np.array([3.0, 4.0]))
    x.grad = y.grad = 0.0
    ((x + y) * -0.0).sum().backward()
    for v in (x, y):
        assert np.array_equal(v.grad, [0.0, 0.0]) and not np.signbit(v.grad).any()
    assert x.grad is not y.grad


@pytest.mark.parametrize("alone", [0.0, 2.0])  # w[0] also used outside the layers, or not
def test_two_layers_sharing_weights_add_each_earlier_gradient_once(alone):
    """Two autograd.dots layers over one weight list (not deferred: a weight in two places),
    the weights holding earlier gradients, w[0] maybe also a leaf of `w[0] * 2`: each gets
    old + its terms, the old one once."""
    w = [Value(1.0), Value(2.0), Value(3.0)]
    xs = [Value(np.array(c)) for c in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0])]
    zs = [Value(np.array(c)) for c in ([0.5, 1.5], [2.5, 3.5], [4.5, 5.5])]
    for p in w:
        p.grad = 10.0
    (a,) = autograd.dots([w], xs)
    (b,) = autograd.dots([w], zs)
    root = (a + b).sum()
    (root + w[0] * alone if alone else root).backward()
    want = [10.0 + (x.data[0] + x.data[1]) + (z.data[0] + z.data[1]) for x, z in zip(xs, zs)]
    want[0] += alone
    assert [p.grad for p in w] == want  # every sum exact


def test_a_layers_weights_also_in_an_l2_term_get_this_calls_sum_then_the_earlier_gradient():
    """Weights of an autograd.dots layer over a batch, also in dot(w, w) (an l2 term), holding
    an earlier gradient 1.0: this call's terms are summed first (layer 1e16, then the l2's two
    -5e15: exactly 0), then added to the earlier gradient, as PyTorch accumulates: 1.0 (adding
    1.0 to 1e16 first would lose it)."""
    w = [Value(1.0), Value(1.0), Value(1.0)]
    xs = [Value(np.array([1e16])) for _ in w]
    for p in w:
        p.grad = 1.0
    (out,) = autograd.dots([w], xs)
    (out.sum() + autograd.dot(w, w) * -5e15).backward()
    assert [p.grad for p in w] == [1.0, 1.0, 1.0]  # 1.0 + ((1e16 + -5e15) + -5e15)
