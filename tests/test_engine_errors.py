"""Bad input, domain errors, overflow, NaN, and gradcheck's own failure reporting."""
import math
import warnings

import numpy as np
import pytest

import autograd
from autograd import OPS, GradcheckError, Value, gradcheck, gradgradcheck


# -- what a Value may hold ----------------------------------------------------------------

@pytest.mark.parametrize("bad, exc, names", [
    ("a", TypeError, "str"),
    (None, TypeError, "NoneType"),
    (1j, TypeError, "complex"),
    ({}, TypeError, "dict"),
    (np.zeros((2, 2)), ValueError, "(2, 2)"),
    ([[1.0, 2.0], [3.0, 4.0]], ValueError, "(2, 2)"),
    (np.zeros((1, 3)), ValueError, "(1, 3)"),
    (np.array([]), ValueError, "(0,)"),
    (np.array([1.0, "a"], dtype=object), TypeError, "object"),
    (np.array(["a", "b"]), TypeError, "<U1"),
    (np.array([1 + 2j]), TypeError, "complex"),
    (["a", 1.0], TypeError, "list"),
])
def test_bad_data_is_refused_naming_type_or_shape(bad, exc, names):
    with pytest.raises(exc) as info:
        Value(bad)
    assert names in str(info.value)


def test_value_of_a_value_and_bad_label():
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))
    with pytest.raises(TypeError, match="int"):
        Value(1.0, label=3)


def test_operators_refuse_other_types():
    v = Value(1.0)
    for other in ("a", None, [1.0], {}):
        with pytest.raises(TypeError):
            v + other
        with pytest.raises(TypeError):
            other * v
    with pytest.raises(TypeError, match="str"):
        autograd.sum([v, "a"])
    with pytest.raises(TypeError, match="item 1"):
        autograd.dot([v, None], [1.0, 2.0])
    with pytest.raises(ValueError, match="logsumexp"):
        autograd.logsumexp([])
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        autograd.dot([v, v], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="slope"):
        v.leaky_relu("0.1")
    with pytest.raises(ValueError, match="clamp"):
        v.clamp(1.0, -1.0)


# -- domain errors: name the operation and the value ---------------------------------------

DOMAIN = [
    ("log", ValueError, lambda: Value(0.0).log(), "0.0"),
    ("log", ValueError, lambda: Value(-1.0).log(), "-1.0"),
    ("sqrt", ValueError, lambda: Value(-1.0).sqrt(), "-1.0"),
    ("pow", ValueError, lambda: Value(-8.0) ** (1 / 3), "-8.0"),
    ("pow", ValueError, lambda: (-8.0) ** Value(1 / 3), "-8.0"),
    ("pow", ValueError, lambda: Value(-8.0) ** Value(1 / 3), "-8.0"),
    ("pow", ValueError, lambda: Value(0.0) ** -1, "-1"),
    ("pow", ValueError, lambda: 0 ** Value(-1.0), "-1"),
    ("pow", ValueError, lambda: Value(0.0) ** -0.5, "-0.5"),
    ("div", ZeroDivisionError, lambda: Value(1.5) / 0, "1.5"),
    ("div", ZeroDivisionError, lambda: 1.5 / Value(0.0), "1.5"),
    ("div", ZeroDivisionError, lambda: Value(1.5) / Value(-0.0), "1.5"),
]


@pytest.mark.parametrize("op, exc, fn, value", DOMAIN, ids=[f"{d[0]}-{i}" for i, d in enumerate(DOMAIN)])
def test_domain_errors_name_the_operation_and_value(op, exc, fn, value):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert op in msg and value in msg, msg
    assert "math domain error" not in msg


BATCH_DOMAIN = [
    ("log", ValueError, lambda b: b.log(), np.array([1.0, 2.0, 0.0, 3.0]), 2),
    ("log", ValueError, lambda b: b.log(), np.array([1.0, -1.0, 3.0]), 1),
    ("sqrt", ValueError, lambda b: b.sqrt(), np.array([4.0, 1.0, 0.0, -2.0]), 3),
    ("pow", ValueError, lambda b: b ** 0.5, np.array([4.0, -1.0]), 1),
    ("pow", ValueError, lambda b: b ** -1, np.array([4.0, 1.0, 0.0]), 2),
    ("pow", ValueError, lambda b: b ** Value(np.array([2.0, 0.5, 1.0])), np.array([-1.0, -2.0, 3.0]), 1),
    ("div", ZeroDivisionError, lambda b: 1.0 / b, np.array([1.0, 0.0]), 1),
    ("div", ZeroDivisionError, lambda b: Value(np.ones(3)) / b, np.array([1.0, 2.0, 0.0]), 2),
]


@pytest.mark.parametrize("op, exc, fn, data, index", BATCH_DOMAIN,
                         ids=[f"{d[0]}-{i}" for i, d in enumerate(BATCH_DOMAIN)])
def test_batch_domain_errors_name_the_batch_index(op, exc, fn, data, index):
    with pytest.raises(exc) as info:
        fn(Value(data))
    msg = str(info.value)
    assert op in msg and f"index {index}" in msg, msg


def test_results_are_real_floats_never_complex():
    for y in (Value(-8.0) ** 3, Value(-8.0) ** Value(2.0), (-2.0) ** Value(3.0), Value(-8.0) ** -1):
        assert type(y.data) is float
    assert (Value(-8.0) ** 3).data == -512.0 and (Value(-8.0) ** -1).data == -0.125


# -- overflow: saturate, never raise ------------------------------------------------------

def _grad_at(fn, x, create_graph=False):
    v = Value(x)
    fn(v).backward(create_graph=create_graph)
    return v.grad


def test_extreme_inputs_saturate_without_overflow_error():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(1000.0).softplus().data == 1000.0
    sp = Value(-1000.0).softplus().data
    assert 0.0 <= sp < 1e-300
    assert Value(1000.0).tanh().data == 1.0 and Value(-1000.0).tanh().data == -1.0
    assert Value(1000.0).exp().data == math.inf and Value(-1000.0).exp().data == 0.0
    assert (Value(10.0) ** 400).data == math.inf and (Value(-10.0) ** 401).data == -math.inf
    assert (2 ** Value(5000.0)).data == math.inf
    xs = [Value(1000.0), Value(1000.0), Value(-1000.0)]
    lse = autograd.logsumexp(xs)
    assert math.isclose(lse.data, 1000.0 + math.log(2.0), rel_tol=1e-15)
    lse.backward()
    assert [x.grad for x in xs] == pytest.approx([0.5, 0.5, 0.0], abs=1e-13)  # as torch: exp(x - out)
    assert math.isclose(autograd.logsumexp([Value(-1000.0)] * 2).data, -1000.0 + math.log(2.0), rel_tol=1e-15)


@pytest.mark.parametrize("x", [1000.0, -1000.0])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "exp"])
def test_extreme_gradients_finite_where_mathematically_finite(name, x):
    fn = getattr(Value, name)
    g = _grad_at(fn, x)
    if name == "exp" and x > 0:
        assert g == math.inf  # e^1000 itself is not representable
        return
    assert math.isfinite(g)
    want = {"sigmoid": 0.0, "tanh": 0.0, "softplus": 1.0 if x > 0 else 0.0, "exp": 0.0}[name]
    assert g == want
    g2 = _grad_at(fn, x, create_graph=True)
    assert g2.data == want
    # Batched: the same, without numpy overflow warnings.
    b = Value(np.array([x, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(b).backward(grad=np.ones(2))
    assert b.grad[0] == want


# -- NaN flows through ----------------------------------------------------------------------

UNARY = {
    "neg": lambda v: -v, "pow": lambda v: v ** 3, "abs": abs, "exp": Value.exp, "log": Value.log,
    "sqrt": Value.sqrt, "tanh": Value.tanh, "sigmoid": Value.sigmoid, "relu": Value.relu,
    "leaky_relu": lambda v: v.leaky_relu(0.1), "softplus": Value.softplus,
    "clamp": lambda v: v.clamp(-1.0, 1.0), "batch_sum": Value.sum, "batch_mean": Value.mean,
    "sin": Value.sin, "cos": Value.cos, "square": Value.square, "erf": Value.erf, "gelu": Value.gelu,
    "elu": Value.elu, "silu": Value.silu,
}


def test_unary_nan_table_covers_every_unary_op():
    assert set(UNARY) == {name for name, op in OPS.items() if op.arity == 1}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_nan_propagates_through_unary_ops(name):
    v = Value(math.nan)
    y = UNARY[name](v)
    assert y.op == name and math.isnan(y.data), (name, y.data)
    y.backward()  # no exception; the gradient may be NaN or 0
    b = Value(np.array([1.0, math.nan]))
    yb = UNARY[name](b)
    assert math.isnan(np.atleast_1d(yb.data)[-1]), (name, yb.data)


@pytest.mark.parametrize("fn", [
    lambda: Value(math.nan) ** 0.5, lambda: Value(math.nan) ** Value(2.0), lambda: Value(2.0) ** Value(math.nan),
    lambda: Value(-2.0) ** Value(math.nan), lambda: Value(-2.0) ** math.nan, lambda: Value(math.nan) / 2.0,
    lambda: autograd.sum([Value(1.0), Value(math.nan)]),
    lambda: autograd.logsumexp([Value(1.0), Value(math.nan)]), lambda: autograd.logsumexp([Value(math.nan), 1.0]),
], ids=["nan**k", "nan**v", "2**nan", "-2**nan(v)", "-2**nan(k)", "nan/2", "sum", "lse(1,nan)", "lse(nan,1)"])
def test_nan_propagates_through_other_ops(fn):
    assert math.isnan(fn().data)


def test_infinite_exponent_follows_ieee():
    # (-2) ** inf is inf in IEEE 754, Python and PyTorch: no bare OverflowError.
    assert (Value(-2.0) ** math.inf).data == math.inf
    assert (Value(-0.5) ** math.inf).data == 0.0


# -- gradcheck reports its failures -----------------------------------------------------------

def wrong(x):
    return x * Value(x.data)  # d/dx is 2x, but backward only sees x


def test_gradcheck_detects_a_wrong_gradient():
    x = Value(1.5, label="xin")
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong, [x])
    msg = str(info.value)
    assert "xin" in msg and "analytic" in msg and "numeric" in msg
    assert "1.5" in msg and "3" in msg  # analytic x, numeric 2x
    assert isinstance(info.value, AssertionError)
    assert gradcheck(wrong, [x], raise_exception=False) is False


def test_gradcheck_points_at_the_wrong_input():
    a, b = Value(0.5, label="good"), Value(2.0, label="bad")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a.tanh() + wrong(b), [a, b])
    lines = str(info.value).splitlines()
    assert any("bad" in ln and "mismatch" in ln for ln in lines)
    assert not any("good" in ln and "mismatch" in ln for ln in lines)


def test_gradcheck_accepts_correct_functions():
    x, y = Value(0.3, label="x"), Value(-1.2, label="y")
    assert gradcheck(lambda x, y: (x * y).tanh() + x.exp(), [x, y]) is True
    assert gradcheck(lambda x: x ** 3 - 2 * x, [0.7]) is True  # numbers are wrapped
    b = Value(np.array([0.1, -0.4, 2.0]))
    assert gradcheck(lambda b: (b * b).sigmoid(), [b]) is True  # batched output: every element
    assert gradcheck(lambda b, x: (b * x).softplus().mean(), [b, x]) is True


def test_gradcheck_detects_wrong_batched_gradients():
    b = Value(np.array([0.1, -0.4, 2.0]), label="batch")
    with pytest.raises(GradcheckError, match="batch"):
        gradcheck(lambda b: b * Value(b.data), [b])


@pytest.mark.parametrize("fn", [lambda x, b: (x * b).tanh().sum(), lambda x, b: wrong(x) * b.mean()],
                         ids=["correct", "wrong"])
def test_gradcheck_leaves_inputs_unchanged(fn):
    x = Value(0.8)
    b = Value(np.array([0.5, -1.0]))
    x.grad, b.grad = 3.0, np.array([7.0, -7.0])
    gradcheck(fn, [x, b], raise_exception=False)
    assert x.data == 0.8 and x.grad == 3.0
    np.testing.assert_array_equal(b.data, [0.5, -1.0])
    np.testing.assert_array_equal(b.grad, [7.0, -7.0])


def test_gradgradcheck_detects_a_wrong_second_derivative():
    # f = x^2 / 2 with a right first derivative (c == x) whose graph is cut: f'' is 1, seen as 0.
    def f(x):
        c = Value(x.data)
        return (x - c) * c + 0.5 * c * c

    x = Value(0.9, label="x")
    assert gradcheck(f, [x]) is True
    with pytest.raises(GradcheckError, match="analytic"):
        gradgradcheck(f, [x])
    assert gradgradcheck(f, [x], raise_exception=False) is False
    assert gradgradcheck(lambda x: x.sigmoid() * x ** 3, [x]) is True


def test_gradgradcheck_leaves_inputs_unchanged():
    x = Value(0.7)
    x.grad = 2.0
    gradgradcheck(lambda x: x.sigmoid() * x ** 3, [x])
    assert x.data == 0.7 and x.grad == 2.0, x.grad
