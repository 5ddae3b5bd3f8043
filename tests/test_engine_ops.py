"""Every operation in autograd.OPS: forward against reference formulas, first and second
derivatives against finite differences (our own helper and autograd.gradcheck)."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd
from autograd import OPS, Value, gradcheck, gradgradcheck

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def fl(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away(lo, hi):
    """|x| in [lo, hi], either sign: keeps kinks (0) out of finite differences."""
    return st.tuples(fl(lo, hi), st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


def central_diff(f, xs, rel=1e-6):
    """Our own finite differences, independent of gradcheck: step scaled to |x|,
    divided by the step actually represented in floating point."""
    xs = [float(x) for x in xs]
    cols = []
    for i, x in enumerate(xs):
        h = rel * max(1.0, abs(x))
        up, dn = list(xs), list(xs)
        up[i], dn[i] = x + h, x - h
        cols.append((np.asarray(f(up), dtype=float) - np.asarray(f(dn), dtype=float)) / (up[i] - dn[i]))
    return np.array(cols)


class Case:
    def __init__(self, op, id, args, build, ref, batched=False, avoid=None):
        self.op, self.id, self.args, self.build, self.ref = op, id, args, build, ref
        self.batched, self.avoid = batched, avoid

    def leaves(self, xs):
        if self.batched:
            return [Value(np.array(xs, dtype=float), label="x")]
        return [Value(x, label=f"x{i}") for i, x in enumerate(xs)]

    def draw(self, data):
        xs, k = data.draw(self.args)
        if self.avoid is not None:
            assume(not self.avoid(xs, k))
        return xs, k

    def value(self, xs, k):
        return self.build(self.leaves(xs), k)


def flat_grads(vs):
    out = []
    for v in vs:
        g = v.grad.data if isinstance(v.grad, Value) else v.grad
        out.extend(np.atleast_1d(np.asarray(g, dtype=float)))
    return np.array(out)


def args(*strats, k=st.none()):
    return st.tuples(st.tuples(*strats), k)


def lists_of(lo, hi, n_min, n_max):
    return st.lists(fl(lo, hi), min_size=n_min, max_size=n_max).map(tuple)


def near(x, points, margin=1e-2):
    return any(abs(x - p) < margin for p in points)


def _dot_args():
    return st.integers(1, 5).flatmap(lambda n: lists_of(-5, 5, 2 * n, 2 * n)).map(lambda xs: (xs, None))


def _shift_back(v, f):
    m = autograd.max_detached(v)
    return f([x - m for x in v], m)


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


CASES = [
    Case("add", "a+b", args(fl(-10, 10), fl(-10, 10)), lambda v, k: v[0] + v[1], lambda x, k: x[0] + x[1]),
    Case("add", "2.5+a", args(fl(-10, 10)), lambda v, k: 2.5 + v[0], lambda x, k: 2.5 + x[0]),
    Case("add", "a+a", args(fl(-10, 10)), lambda v, k: v[0] + v[0], lambda x, k: 2 * x[0]),
    Case("sub", "a-b", args(fl(-10, 10), fl(-10, 10)), lambda v, k: v[0] - v[1], lambda x, k: x[0] - x[1]),
    Case("sub", "1.5-a", args(fl(-10, 10)), lambda v, k: 1.5 - v[0], lambda x, k: 1.5 - x[0]),
    Case("mul", "a*b", args(fl(-10, 10), fl(-10, 10)), lambda v, k: v[0] * v[1], lambda x, k: x[0] * x[1]),
    Case("mul", "a*a", args(fl(-10, 10)), lambda v, k: v[0] * v[0], lambda x, k: x[0] ** 2),
    Case("mul", "-2*a", args(fl(-10, 10)), lambda v, k: -2 * v[0], lambda x, k: -2.0 * x[0]),
    Case("div", "a/b", args(fl(-10, 10), away(0.1, 10)), lambda v, k: v[0] / v[1], lambda x, k: x[0] / x[1]),
    Case("div", "3/b", args(away(0.1, 10)), lambda v, k: 3 / v[0], lambda x, k: 3.0 / x[0]),
    Case("neg", "-a", args(fl(-10, 10)), lambda v, k: -v[0], lambda x, k: -x[0]),
    Case("pow", "a**k real k", args(fl(0.2, 5), k=fl(-3, 3)), lambda v, k: v[0] ** k, lambda x, k: math.pow(x[0], k)),
    Case("pow", "a**k int k", args(away(0.2, 5), k=st.integers(-3, 4)), lambda v, k: v[0] ** k,
         lambda x, k: float(np.power(x[0], float(k)))),
    Case("powv", "a**b", args(fl(0.2, 5), fl(-3, 3)), lambda v, k: v[0] ** v[1], lambda x, k: math.pow(x[0], x[1])),
    Case("powv", "2**b", args(fl(-5, 5)), lambda v, k: 2 ** v[0], lambda x, k: math.pow(2.0, x[0])),
    Case("abs", "abs", args(away(1e-2, 10)), lambda v, k: abs(v[0]), lambda x, k: math.fabs(x[0])),
    Case("exp", "exp", args(fl(-20, 20)), lambda v, k: v[0].exp(), lambda x, k: math.exp(x[0])),
    Case("log", "log", args(fl(1e-2, 100)), lambda v, k: v[0].log(), lambda x, k: math.log(x[0])),
    Case("sqrt", "sqrt", args(fl(1e-2, 100)), lambda v, k: v[0].sqrt(), lambda x, k: math.sqrt(x[0])),
    Case("tanh", "tanh", args(fl(-10, 10)), lambda v, k: v[0].tanh(), lambda x, k: float(np.tanh(x[0]))),
    Case("sigmoid", "sigmoid", args(fl(-30, 30)), lambda v, k: v[0].sigmoid(),
         lambda x, k: float(_np_sigmoid(x[0]))),
    Case("relu", "relu", args(away(1e-2, 10)), lambda v, k: v[0].relu(), lambda x, k: max(x[0], 0.0)),
    Case("leaky_relu", "leaky_relu slope", args(away(1e-2, 10), k=fl(-1, 1)), lambda v, k: v[0].leaky_relu(k),
         lambda x, k: x[0] if x[0] > 0 else k * x[0]),
    Case("leaky_relu", "leaky_relu default", args(away(1e-2, 10)), lambda v, k: v[0].leaky_relu(),
         lambda x, k: x[0] if x[0] > 0 else 0.01 * x[0]),
    Case("softplus", "softplus", args(fl(-30, 30)), lambda v, k: v[0].softplus(),
         lambda x, k: float(np.logaddexp(0.0, x[0]))),
    Case("clamp", "clamp(lo, hi)", args(fl(-5, 5), k=st.tuples(fl(-3, 0), fl(0, 3))),
         lambda v, k: v[0].clamp(*k), lambda x, k: float(np.clip(x[0], *k)),
         avoid=lambda x, k: near(x[0], k)),
    Case("clamp", "clamp(min=)", args(fl(-5, 5), k=fl(-3, 3)), lambda v, k: v[0].clamp(min=k),
         lambda x, k: max(x[0], k), avoid=lambda x, k: near(x[0], [k])),
    Case("clamp", "clamp(max=)", args(fl(-5, 5), k=fl(-3, 3)), lambda v, k: v[0].clamp(max=k),
         lambda x, k: min(x[0], k), avoid=lambda x, k: near(x[0], [k])),
    Case("sum", "sum(values, numbers, repeats)", st.tuples(lists_of(-10, 10, 1, 6), st.none()),
         lambda v, k: autograd.sum([*v, 2.5, v[0]]), lambda x, k: math.fsum([*x, 2.5, x[0]])),
    Case("dot", "dot(ws, xs)", _dot_args(), lambda v, k: autograd.dot(v[:len(v) // 2], v[len(v) // 2:]),
         lambda x, k: math.fsum(a * b for a, b in zip(x[:len(x) // 2], x[len(x) // 2:]))),
    Case("dot", "dot(ws, numbers)", st.tuples(lists_of(-5, 5, 3, 3), st.tuples(fl(-5, 5), fl(-5, 5), fl(-5, 5))),
         lambda v, k: autograd.dot(v, k), lambda x, k: math.fsum(a * b for a, b in zip(x, k))),
    Case("dot", "dot(v, v)", st.tuples(lists_of(-5, 5, 1, 4), st.none()), lambda v, k: autograd.dot(v, v),
         lambda x, k: math.fsum(a * a for a in x)),
    Case("logsumexp", "logsumexp(values)", st.tuples(lists_of(-10, 10, 1, 6), st.none()),
         lambda v, k: autograd.logsumexp(v), lambda x, k: float(np.logaddexp.reduce(x))),
    Case("logsumexp", "logsumexp(values, numbers, repeats)", st.tuples(lists_of(-30, 30, 1, 4), st.none()),
         lambda v, k: autograd.logsumexp([*v, 0.5, v[0]]), lambda x, k: float(np.logaddexp.reduce([*x, 0.5, x[0]]))),
    # max_detached's derivative is 0 by definition, not the max's: its cases are the shift-invariant
    # uses it exists for, whose true derivative (finite differences) ignores the shift
    Case("max_detached", "m + logsumexp(x - m)", st.tuples(lists_of(-30, 30, 1, 5), st.none()),
         lambda v, k: _shift_back(v, lambda s, m: autograd.logsumexp(s) + m),
         lambda x, k: float(np.logaddexp.reduce(x))),
    Case("max_detached", "log_softmax(x)[0]", st.tuples(lists_of(-30, 30, 1, 5), st.none()),
         lambda v, k: _shift_back(v, lambda s, m: s[0] - autograd.logsumexp(s)),
         lambda x, k: x[0] - float(np.logaddexp.reduce(x))),
    Case("batch_sum", "v.sum()", st.tuples(lists_of(-10, 10, 1, 8), st.none()), lambda v, k: v[0].sum(),
         lambda x, k: math.fsum(x), batched=True),
    Case("batch_sum", "tanh(v).sum()", st.tuples(lists_of(-3, 3, 1, 6), st.none()), lambda v, k: v[0].tanh().sum(),
         lambda x, k: math.fsum(np.tanh(x)), batched=True),
    Case("batch_sum", "scalar.sum()", args(fl(-10, 10)), lambda v, k: v[0].sum(), lambda x, k: x[0]),
    Case("batch_mean", "v.mean()", st.tuples(lists_of(-10, 10, 1, 8), st.none()), lambda v, k: v[0].mean(),
         lambda x, k: math.fsum(x) / len(x), batched=True),
    Case("batch_mean", "(v*v).mean()", st.tuples(lists_of(-3, 3, 1, 6), st.none()), lambda v, k: (v[0] * v[0]).mean(),
         lambda x, k: math.fsum(a * a for a in x) / len(x), batched=True),
    Case("sin", "sin", args(fl(-10, 10)), lambda v, k: v[0].sin(), lambda x, k: math.sin(x[0])),
    Case("cos", "cos", args(fl(-10, 10)), lambda v, k: v[0].cos(), lambda x, k: math.cos(x[0])),
    Case("square", "square", args(fl(-10, 10)), lambda v, k: v[0].square(), lambda x, k: x[0] * x[0]),
    Case("erf", "erf", args(fl(-4, 4)), lambda v, k: v[0].erf(), lambda x, k: math.erf(x[0])),
    Case("gelu", "gelu", args(fl(-8, 8)), lambda v, k: v[0].gelu(),
         lambda x, k: 0.5 * x[0] * math.erfc(-x[0] / math.sqrt(2.0))),
    Case("elu", "elu alpha", args(away(1e-2, 10), k=fl(0.1, 2)), lambda v, k: v[0].elu(k),
         lambda x, k: x[0] if x[0] > 0 else k * math.expm1(x[0])),
    Case("silu", "silu", args(fl(-30, 30)), lambda v, k: v[0].silu(), lambda x, k: x[0] / (1.0 + math.exp(-x[0]))),
    Case("maximum", "maximum(a, b)", args(fl(-10, 10), fl(-10, 10)), lambda v, k: autograd.maximum(v[0], v[1]),
         lambda x, k: max(x), avoid=lambda x, k: near(x[0], [x[1]])),
    Case("minimum", "minimum(a, 1.5)", args(fl(-10, 10)), lambda v, k: autograd.minimum(v[0], 1.5),
         lambda x, k: min(x[0], 1.5), avoid=lambda x, k: near(x[0], [1.5])),
]
IDS = [c.id for c in CASES]


def test_every_op_has_a_case():
    # A new defop without a case here fails this test.
    assert set(OPS) == {c.op for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_forward_matches_reference(case, data):
    xs, k = case.draw(data)
    y = case.value(xs, k)
    assert case.op in {v.op for v in autograd.topological_order(y)}
    assert type(y.data) is float
    expected = case.ref(xs, k)
    scale = 1.0 + math.fsum(abs(x) for x in xs)
    assert math.isclose(y.data, expected, rel_tol=1e-13, abs_tol=1e-14 * scale), (y.data, expected)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradient_matches_finite_differences(case, data):
    xs, k = case.draw(data)
    vs = case.leaves(xs)
    case.build(vs, k).backward()
    analytic = flat_grads(vs)
    numeric = central_diff(lambda p: case.value(p, k).data, xs)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)
    # autograd.gradcheck must agree (and leave the leaves' grads alone).
    assert gradcheck(lambda *v: case.build(list(v), k), vs) is True
    np.testing.assert_array_equal(flat_grads(vs), analytic)


def engine_grad(case, xs, k):
    vs = case.leaves(xs)
    case.build(vs, k).backward()
    return flat_grads(vs)


def engine_hessian(case, xs, k):
    """Row i: the derivative of d(out)/d(x_i), itself differentiated by backward()."""
    vs = case.leaves(xs)
    case.build(vs, k).backward(create_graph=True)
    firsts = [v.grad for v in vs]
    rows = []
    for v, g in zip(vs, firsts):
        n = np.size(v.data)
        for e in range(n):
            for w in vs:
                w.grad = np.zeros_like(w.data) if case.batched else 0.0
            if isinstance(g, Value):
                seed = None
                if np.ndim(g.data):
                    seed = np.zeros(n)
                    seed[e] = 1.0
                g.backward(seed)
            rows.append(flat_grads(vs))
    return np.array(rows)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_second_derivative_matches_finite_differences(case, data):
    xs, k = case.draw(data)
    hess = engine_hessian(case, xs, k)
    numeric = central_diff(lambda p: engine_grad(case, p, k), xs).T  # [i, j] = d grad_i / d x_j
    np.testing.assert_allclose(hess, numeric, rtol=1e-5, atol=1e-5)
    # create_graph=True computes the same first derivative as the plain sweep.
    vs = case.leaves(xs)
    case.build(vs, k).backward(create_graph=True)
    np.testing.assert_allclose(flat_grads(vs), engine_grad(case, xs, k), rtol=1e-15, atol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_gradgradcheck(case, data):
    xs, k = case.draw(data)
    assert gradgradcheck(lambda *v: case.build(list(v), k), case.leaves(xs)) is True


def test_closed_form_second_derivatives():
    # Against textbook formulas too, not only finite differences.
    x = 0.7
    s = 1 / (1 + math.exp(-x))
    t = math.tanh(x)
    expected = {
        "exp": math.exp(x), "log": -1 / x**2, "sqrt": -0.25 * x ** -1.5, "tanh": -2 * t * (1 - t * t),
        "sigmoid": s * (1 - s) * (1 - 2 * s), "softplus": s * (1 - s), "pow": 3 * 2 * x,
    }
    for name, want in expected.items():
        v = Value(x)
        y = v ** 3 if name == "pow" else getattr(v, name)()
        y.backward(create_graph=True)
        g = v.grad
        v.grad = 0.0
        g.backward()
        assert math.isclose(v.grad, want, rel_tol=1e-12), name


def test_mixed_partials_of_powv():
    a, b = Value(1.7), Value(-0.6)
    (a ** b).backward(create_graph=True)
    ga = a.grad
    a.grad, b.grad = 0.0, 0.0
    ga.backward()
    # d2/da db a^b = a^(b-1) (1 + b log a)
    assert math.isclose(b.grad, 1.7 ** -1.6 * (1 + -0.6 * math.log(1.7)), rel_tol=1e-12)
    assert math.isclose(a.grad, -0.6 * -1.6 * 1.7 ** -2.6, rel_tol=1e-12)


# -- points that finite differences cannot probe: kinks, zero, and the k/parents bookkeeping --

def test_kink_gradients_follow_pytorch_conventions():
    # PyTorch: d|x|/dx = 0 and relu'(0) = 0 at 0; leaky_relu'(0) = slope; clamp passes at the bounds.
    for build, want in [(abs, 0.0), (Value.relu, 0.0), (lambda v: v.leaky_relu(0.2), 0.2),
                        (lambda v: v.clamp(0.0, 1.0), 1.0), (lambda v: v.clamp(-1.0, 0.0), 1.0)]:
        x = Value(0.0)
        build(x).backward()
        assert x.grad == want


def test_pow_zero_exponent_has_zero_derivative_everywhere():
    # d/dx x**0 is 0 for every x, including x = 0 (PyTorch gives 0 there, not nan).
    for x0 in (2.0, -3.0, 0.0):
        x = Value(x0)
        (x ** 0).backward()
        assert x.grad == 0.0, (x0, x.grad)
    a, b = Value(0.0), Value(0.0)
    (a ** b).backward()
    assert a.grad == 0.0 and b.grad == 0.0, (a.grad, b.grad)


@pytest.mark.parametrize("build", [Value.sqrt, lambda v: v ** 0.5, lambda v: v ** Value(0.5)],
                         ids=["sqrt", "pow", "powv"])
def test_infinite_derivative_at_zero_same_with_create_graph(build):
    # sqrt'(0) = inf; building the graph of the gradient must not turn that into an error.
    x = Value(0.0)
    build(x).backward()
    assert x.grad == math.inf
    x = Value(0.0)
    build(x).backward(create_graph=True)
    assert x.grad.data == math.inf


def test_constant_arguments_are_recorded_as_k():
    x = Value(2.0)
    assert (x ** 3).k == 3.0 and type((x ** 3).k) is float
    assert x.leaky_relu(0.3).k == 0.3
    assert x.clamp(-1, 1).k == (-1.0, 1.0)
    assert (x * 2).k is None and x.exp().k is None and x.k is None
    assert (x ** 3).parents == (x,)
