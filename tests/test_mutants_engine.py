"""The eager engine's behaviours that mutation testing of autograd/backward.py and autograd/ops.py
found unpinned (docs/mutation.md). Expected numbers are worked out by hand or by a plain loop
written here, never by the code under test.

The first tests pin that backward's vectorised paths are *taken* where they apply: a mutant that
switches one off gives the same numbers (that is their contract, pinned by test_engine_fast.py),
so only the count of per-node rule calls tells it apart.
"""
import math
import re

import numpy as np
import pytest

import autograd
from autograd import Value, ops
from nn import losses


@pytest.fixture
def rule_calls(monkeypatch):
    """How many times ops.DOT's and ops.RELU's backward rules run (per-node sweeps call them
    once per node; the vectorised paths once per layer or never)."""
    calls = {"dot": 0, "relu": 0}
    for name, op in (("dot", ops.DOT), ("relu", ops.RELU)):
        rule = op.backward

        def counted(*args, _rule=rule, _name=name):
            calls[_name] += 1
            return _rule(*args)
        monkeypatch.setattr(op, "backward", counted)
    return calls


def layer(rng, k, n, batch):
    weights = [[Value(float(w)) for w in row] for row in rng.standard_normal((k, n))]
    xs = [Value(rng.standard_normal(batch)) for _ in range(n)]
    return weights, xs


def loop_grads(weights, xs, gs):
    """d/dw and d/dx of sum_j gs[j] . dot(weights[j], xs), one product per weight, a plain loop."""
    gw = [[float(np.cumsum(g * x.data)[-1]) for x in xs] for g in gs]
    gx = []
    for i in range(len(xs)):
        t = None
        for g, row in zip(gs, weights):
            p = g * row[i].data
            t = p if t is None else t + p
        gx.append(t)
    return gw, gx


@pytest.mark.parametrize("k,n,batch", [(3, 4, 5), (2, 300, 250)])  # the second: one node at a time
def test_a_layer_over_a_batch_never_runs_the_dot_rule(rule_calls, k, n, batch):
    rng = np.random.default_rng(1)
    weights, xs = layer(rng, k, n, batch)
    outs = autograd.dots(weights, xs)
    gs = [rng.standard_normal(batch) for _ in outs]
    autograd.sum([o * g for o, g in zip(outs, gs)]).sum().backward()
    assert rule_calls["dot"] == 0
    gw, gx = loop_grads(weights, xs, gs)
    assert [[w.grad for w in row] for row in weights] == gw
    assert all(np.array_equal(x.grad, g) for x, g in zip(xs, gx))


def test_relus_feeding_a_layer_run_their_rule_once_for_the_layer(rule_calls):
    rng = np.random.default_rng(2)
    w1, xs = layer(rng, 5, 3, 4)
    w2 = [[Value(float(w)) for w in row] for row in rng.standard_normal((2, 5))]
    h = [v.relu() for v in autograd.dots(w1, xs)]
    autograd.sum(autograd.dots(w2, h)).sum().backward()
    assert rule_calls == {"dot": 0, "relu": 1}
    for j, v in enumerate(h):  # d/dh_j = w2[0][j] + w2[1][j] where its input is > 0
        pre = v.parents[0].data
        want = np.where(pre > 0, 1.0, 0.0) * (w2[0][j].data + w2[1][j].data)
        assert np.array_equal(v.parents[0].grad, want)


def test_dot_over_a_batch_never_runs_the_dot_rule(rule_calls):
    ws = [Value(0.5), Value(-2.0), Value(3.0)]
    xs = [Value(np.array([1.0, 2.0])), Value(np.array([-1.0, 4.0])), Value(np.array([0.25, 0.5]))]
    autograd.dot(ws, xs).sum().backward()
    assert rule_calls["dot"] == 0
    assert [w.grad for w in ws] == [3.0, 3.0, 0.75]
    assert [list(x.grad) for x in xs] == [[0.5, 0.5], [-2.0, -2.0], [3.0, 3.0]]


@pytest.mark.parametrize("n", [17, 40])
def test_l2_over_many_parameters_never_runs_the_dot_rule(rule_calls, n):
    ps = [Value(float(i) - 7.5) for i in range(n)]
    losses.l2(ps, 0.5).backward()
    assert rule_calls["dot"] == 0
    assert [p.grad for p in ps] == [p.data for p in ps]  # d(0.5 * sum p^2)/dp = p


def test_dot_over_many_scalars_with_a_repeated_weight_sums_its_terms():
    a, b = Value(2.0), Value(-3.0)
    ws = [a] * 10 + [b] * 10
    xs = [Value(float(i)) for i in range(20)]
    autograd.dot(ws, xs).backward()
    assert a.grad == float(sum(range(10)))        # 45: one term per place
    assert b.grad == float(sum(range(10, 20)))    # 145
    assert [x.grad for x in xs] == [2.0] * 10 + [-3.0] * 10


def test_dot_of_many_scalars_with_themselves_repeated_sums_its_terms():
    a = Value(1.5)
    ps = [a] * 9 + [Value(float(i)) for i in range(9)]
    autograd.dot(ps, ps).backward()  # 9 a^2 + sum i^2
    assert a.grad == 27.0  # 9 * 2a
    assert [p.grad for p in ps[9:]] == [2.0 * i for i in range(9)]


@pytest.mark.parametrize("k", [2, 5])
def test_relus_feeding_a_layer_run_their_rule_once_for_any_number_of_them(rule_calls, k):
    rng = np.random.default_rng(3)
    w1, xs = layer(rng, k, 3, 4)
    w2 = [[Value(float(w)) for w in row] for row in rng.standard_normal((2, k))]
    h = [v.relu() for v in autograd.dots(w1, xs)]
    autograd.sum(autograd.dots(w2, h)).sum().backward()
    assert rule_calls == {"dot": 0, "relu": 1}


def test_a_layer_of_one_input_over_a_big_batch_sums_each_weight_in_order():
    # batch * n beyond the block: node by node; one column must still be summed left to right
    # (numpy's reduce of a column is pairwise: other last bits).
    rng = np.random.default_rng(3)
    x = Value(rng.standard_normal(70000))
    ws = [[Value(1.5)], [Value(-0.5)]]
    gs = [rng.standard_normal(70000) for _ in ws]
    outs = autograd.dots(ws, [x])
    autograd.sum([o * g for o, g in zip(outs, gs)]).sum().backward()
    assert [row[0].grad for row in ws] == [float(np.cumsum(g * x.data)[-1]) for g in gs]


@pytest.mark.parametrize("k,n,batch", [(3, 4, 5), (2, 300, 250)])
def test_a_weight_whose_every_term_is_negative_zero_keeps_the_sign(k, n, batch):
    rng = np.random.default_rng(4)
    weights, xs = layer(rng, k, n, batch)
    xs[1].data[:] = 0.0
    (-autograd.sum(autograd.dots(weights, xs)).sum()).backward()  # g = -1: terms -0.0
    assert all(row[1].grad == 0.0 and math.copysign(1.0, row[1].grad) == -1.0 for row in weights)
    assert all(row[0].grad == -float(np.cumsum(xs[0].data)[-1]) for row in weights)


def test_a_layer_of_many_nodes_in_several_blocks_is_the_loop():
    rng = np.random.default_rng(5)
    weights, xs = layer(rng, 20, 128, 64)  # 8 nodes per block: three blocks
    outs = autograd.dots(weights, xs)
    gs = [rng.standard_normal(64) for _ in outs]
    autograd.sum([o * g for o, g in zip(outs, gs)]).sum().backward()
    gw, gx = loop_grads(weights, xs, gs)
    assert [[w.grad for w in row] for row in weights] == gw
    assert all(np.array_equal(x.grad, g) for x, g in zip(xs, gx))


@pytest.mark.parametrize("old", [1.0, 0, np.float64(0.0)])
def test_a_layers_earlier_weight_gradients_of_one_kind_are_added(old):
    rng = np.random.default_rng(6)
    weights, xs = layer(rng, 3, 4, 5)
    xs[2].data[:] = 0.0
    for row in weights:
        for w in row:
            w.grad = old
    (-autograd.sum(autograd.dots(weights, xs)).sum()).backward()
    for row in weights:
        for i, w in enumerate(row):
            t = -float(np.cumsum(xs[i].data)[-1]) if i != 2 else -0.0
            assert w.grad == old + t and type(w.grad) is type(old + t)
            assert math.copysign(1.0, w.grad) == math.copysign(1.0, old + t)  # 0 + -0.0 is 0.0


@pytest.mark.parametrize("first", [False, True])
def test_a_layer_input_with_a_gradient_before_the_layer_keeps_it_on_the_rule_path(first):
    # A weight holding a batch since forward: the layer's waiting nodes go through the rule,
    # after giving the inputs back what other nodes had added to them.
    rng = np.random.default_rng(7)
    weights, xs = layer(rng, 3, 4, 5)
    other = (xs[0] * 3.0).sum()
    fit = autograd.sum(autograd.dots(weights, xs)).sum()
    root = other + fit if first else fit + other
    weights[1][2].data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    root.backward()
    for i, x in enumerate(xs):
        want = (3.0 if i == 0 else 0.0) + 0.0 * x.data
        for row in weights:
            want = want + row[i].data
        assert np.allclose(x.grad, want, rtol=1e-15, atol=0)


@pytest.mark.parametrize("first", [False, True])
def test_a_layers_weight_used_elsewhere_gets_both_terms(first):
    rng = np.random.default_rng(8)
    weights, xs = layer(rng, 3, 4, 5)
    w = weights[0][1]
    other = w * 5.0 + losses.l2([w], 0.5) * 0.0
    fit = autograd.sum(autograd.dots(weights, xs)).sum()
    (other + fit if first else fit + other).backward()
    assert w.grad == pytest.approx(5.0 + float(np.cumsum(xs[1].data)[-1]), rel=1e-15)
    assert weights[2][1].grad == float(np.cumsum(xs[1].data)[-1])


def test_dot_over_many_distinct_scalars_never_runs_the_dot_rule(rule_calls):
    ws = [Value(float(i)) for i in range(20)]
    xs = [Value(0.5 * i - 3.0) for i in range(20)]
    autograd.dot(ws, xs).backward()
    assert rule_calls["dot"] == 0
    assert [w.grad for w in ws] == [x.data for x in xs]
    assert [x.grad for x in xs] == [w.data for w in ws]


def test_dot_over_many_scalars_with_a_repeated_input_sums_its_terms():
    a = Value(-1.5)
    ws = [Value(float(i)) for i in range(20)]
    xs = [a] * 20
    autograd.dot(ws, xs).backward()
    assert a.grad == float(sum(range(20)))
    assert [w.grad for w in ws] == [-1.5] * 20


@pytest.mark.parametrize("first", [False, True])
def test_l2_after_another_term_on_some_parameters_adds_to_it(rule_calls, first):
    # Some parameters already hold this call's gradient when the l2 dot runs, others none.
    ps = [Value(float(i) - 9.5) for i in range(20)]
    other = ps[0] * 3.0 + ps[7] * -2.0
    reg = losses.l2(ps, 0.5)
    (other + reg if first else reg + other).backward()
    assert rule_calls["dot"] == 0
    want = [p.data for p in ps]
    want[0] += 3.0
    want[7] -= 2.0
    assert [p.grad for p in ps] == want


def test_a_layer_with_a_weight_in_two_places_and_a_weight_now_a_batch_takes_the_rule():
    # A weight in two rows: the layer's nodes run one by one (no waiting); a weight that
    # became a batch since forward sends its node through ops.DOT's rule.
    rng = np.random.default_rng(9)
    weights, xs = layer(rng, 3, 4, 5)
    weights[2][0] = weights[0][3]
    outs = autograd.dots(weights, xs)
    autograd.sum(outs).sum().backward()
    first = [[w.grad for w in row] for row in weights]
    for row in weights:
        for w in row:
            w.grad = 0.0
    for x in xs:
        x.grad = np.zeros(5)
    weights[1][2].data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    autograd.sum(outs).sum().backward()
    sums = [float(np.cumsum(x.data)[-1]) for x in xs]
    assert first[1] == sums and first[0][:3] == sums[:3]
    assert weights[0][3].grad == pytest.approx(sums[3] + sums[0], rel=1e-15)
    # the batch weight got one number per example: g * x, g = 1
    assert np.array_equal(weights[1][2].grad, xs[2].data)
    assert np.allclose(xs[1].grad, sum(row[1].data for row in weights), rtol=1e-15, atol=0)


# -- the domain errors' whole messages (test_engine_errors.py checks the name and value are in
# them; a mutant renaming the operation to "XXsqrtXX" passed that) -----------------------------

def _np(x):  # a batch element's repr: -2.0 or np.float64(-2.0), as numpy prints it
    return rf"(np\.float64\()?{re.escape(x)}\)?"


DOMAIN_MESSAGES = [
    (lambda: Value(0.0).log(), ValueError, r"log: input must be > 0, got 0\.0"),
    (lambda: Value(-1.0).log(), ValueError, r"log: input must be > 0, got -1\.0"),
    (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt: input must be >= 0, got -1\.0"),
    (lambda: Value(-8.0) ** 0.5, ValueError,
     r"pow: negative base -8\.0 \*\* non-integer exponent 0\.5 has no real value"),
    (lambda: Value(0.0) ** -1, ValueError, r"pow: 0 \*\* negative exponent -1(\.0)? is undefined"),
    (lambda: Value(1.5) / 0, ZeroDivisionError, r"div: division by zero \(1\.5 / 0\)"),
    (lambda: Value(math.inf).sin(), ValueError, r"sin: input must be finite, got inf"),
    (lambda: Value(-math.inf).cos(), ValueError, r"cos: input must be finite, got -inf"),
    (lambda: Value(np.array([1.0, 0.0])).log(), ValueError,
     rf"log: input must be > 0, got {_np('0.0')} at batch index 1"),
    (lambda: Value(np.array([4.0, 1.0, -2.0])).sqrt(), ValueError,
     rf"sqrt: input must be >= 0, got {_np('-2.0')} at batch index 2"),
    (lambda: Value(np.array([4.0, -1.0])) ** 0.5, ValueError,
     rf"pow: negative base {_np('-1.0')} \*\* non-integer exponent {_np('0.5')} \(at batch index 1\) "
     r"has no real value"),
    (lambda: Value(np.array([4.0, 0.0])) ** -1, ValueError,
     rf"pow: 0 \*\* negative exponent {_np('-1.0')} \(at batch index 1\) is undefined"),
    (lambda: 1.0 / Value(np.array([1.0, 2.0, 0.0])), ZeroDivisionError,
     r"div: division by zero \(denominator is 0 at batch index 2\)"),
    (lambda: Value(np.array([0.0, math.inf])).sin(), ValueError,
     rf"sin: input must be finite, got {_np('inf')} at batch index 1"),
    (lambda: Value(np.array([-math.inf, 1.0])).cos(), ValueError,
     rf"cos: input must be finite, got {_np('-inf')} at batch index 0"),
]


@pytest.mark.parametrize("fn, exc, message", DOMAIN_MESSAGES)
def test_domain_error_messages_in_full(fn, exc, message):
    with pytest.raises(exc) as info:
        fn()
    assert re.fullmatch(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("fn, want", [(autograd.maximum, [3.0, 5.0, 3.0]), (autograd.minimum, [1.0, 3.0, -2.0])])
def test_maximum_minimum_of_a_batch_and_a_scalar_either_way(fn, want):
    b = np.array([1.0, 5.0, -2.0])
    assert list(fn(Value(b), Value(3.0)).data) == want
    assert list(fn(Value(3.0), Value(b)).data) == want


@pytest.mark.parametrize("a, b", [(0.0, -0.0), (-0.0, 0.0)])
@pytest.mark.parametrize("fn, ref", [(autograd.maximum, np.maximum), (autograd.minimum, np.minimum)])
def test_maximum_minimum_of_signed_zeros_return_numpys_zero(fn, ref, a, b):
    # a tie returns b, as numpy does: the sign of the zero tells which
    got = fn(Value(a), Value(b)).data
    assert math.copysign(1.0, got) == math.copysign(1.0, float(ref(a, b))) == math.copysign(1.0, b)


@pytest.mark.parametrize("x, signs", [(0.0, (1.0, -1.0)), (-0.0, (-1.0, 1.0))])
def test_sqrt_gradient_at_zero_is_a_signed_infinity_or_nan(x, signs):
    # d sqrt(x)/dx = g * 0.5 / sqrt(x): +-inf at a zero (its sign from g and the zero's), nan for g = 0
    for c, sign in zip((1.0, -1.0), signs):
        v = Value(x)
        (v.sqrt() * c).backward()
        assert v.grad == math.copysign(math.inf, sign)
    v = Value(x)
    (v.sqrt() * 0.0).backward()
    assert math.isnan(v.grad)


def test_sqrt_gradient_of_a_batch_at_zero_warns_nothing():
    import warnings
    v = Value(np.array([0.0, 0.0, 4.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (v.sqrt() * Value(np.array([1.0, 0.0, 1.0]))).sum().backward()
    assert v.grad[0] == math.inf and math.isnan(v.grad[1]) and v.grad[2] == 0.25


def test_a_layer_over_scalar_and_batched_inputs_never_runs_the_dot_rule(rule_calls):
    ws = [[Value(0.5), Value(-1.0), Value(2.0)], [Value(1.5), Value(0.25), Value(-3.0)]]
    xs = [Value(np.array([1.0, 2.0])), Value(4.0), Value(np.array([-1.0, 0.5]))]
    autograd.sum(autograd.dots(ws, xs)).sum().backward()
    assert rule_calls["dot"] == 0
    assert [[w.grad for w in row] for row in ws] == [[3.0, 8.0, -0.5]] * 2
    assert xs[1].grad == 2 * (-1.0 + 0.25)
    assert list(xs[0].grad) == [2.0, 2.0] and list(xs[2].grad) == [-1.0, -1.0]


def _bits(x):
    return [(float(v), math.copysign(1.0, v)) for v in np.atleast_1d(x)]


@pytest.mark.parametrize("k", [0.1, 1.0, -0.5])
def test_activations_at_signed_zeros(k):
    # relu, leaky_relu and elu at +-0.0, one at a time and as a batch: x > 0 ? x : (the other
    # branch), as PyTorch writes them; the sign of a zero result comes from that branch.
    zs = [0.0, -0.0]
    for a in zs:
        assert _bits(Value(a).relu().data) == _bits(0.0)
        assert _bits(Value(a).leaky_relu(k).data) == _bits(a * k)
        assert _bits(Value(a).elu(k).data) == _bits(k * math.expm1(a))
    b = Value(np.array(zs))
    assert _bits(b.relu().data) == _bits([0.0, 0.0])
    assert _bits(b.leaky_relu(k).data) == _bits([a * k for a in zs])
    assert _bits(b.elu(k).data) == _bits([k * math.expm1(a) for a in zs])


@pytest.mark.parametrize("a", [0.0, 0.25, 0.9, 5.0, -0.9])
def test_sigmoid_uses_the_form_without_overflow_for_each_sign(a):
    # 1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) below: at 0.9 the two differ in the last bit
    want = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
    assert Value(a).sigmoid().data == want
    assert Value(np.array([a])).sigmoid().data[0] == want


def test_pow_of_two_batches_gradient_at_zero_to_the_zero():
    # d(a**b)/da = b * a**(b - 1): 0 at a = b = 0 (not 0 * inf), 3 * 2**2 = 12 at (2, 3)
    a, b = Value(np.array([0.0, 2.0])), Value(np.array([0.0, 3.0]))
    (a ** b).sum().backward()
    assert list(a.grad) == [0.0, 12.0]


def test_mean_of_a_scalar_passes_the_gradient_on_whole():
    v = Value(3.0)
    (v.mean() * 2.0).backward()
    assert v.grad == 2.0
