"""Tests written against autograd/ops.py's mutation survivors (docs/mutation.md, "ops.py").

Each pins a behaviour of one rule or helper that the other tests left free, against an
independent reference: finite differences, hand arithmetic (a loop over the examples, bit for
bit where the README promises the eager engine's last bit), PyTorch (skipped without it).
"""
import math
import warnings

import numpy as np
import pytest

import autograd
from autograd import OPS, ops


# What each defop call must have recorded: the C backend writes every operation from its `c`
# form, and `has_k` tells the engine which operations take a constant after their inputs.
C_FORMS = {"add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "div": "{a} / {b}",
           "neg": "-{a}", "pow": "pow({a}, {k})", "powv": "pow({a}, {b})", "abs": "fabs({a})",
           "exp": "exp({a})", "log": "log({a})", "sqrt": "sqrt({a})", "tanh": "tanh({a})",
           "sigmoid": "vg_sigmoid({a})", "relu": "({a} <= 0 ? 0.0 : {a})",
           "leaky_relu": "({a} > 0 ? {a} : {a} * {k})", "softplus": "vg_softplus({a})",
           "clamp": "fmin(fmax({a}, {k0}), {k1})", "batch_sum": "BATCH_SUM",
           "batch_mean": "BATCH_MEAN", "sin": "sin({a})", "cos": "cos({a})",
           "square": "{a} * {a}", "erf": "erf({a})", "elu": "({a} > 0 ? {a} : {k} * expm1({a}))",
           "silu": "{a} * vg_sigmoid({a})"}
N_ARY = {"sum", "dot", "logsumexp", "max_detached"}
WITH_K = {"pow", "leaky_relu", "clamp", "elu"}


def test_the_table_of_operations_holds_each_ops_name_arity_constant_and_c_form():
    assert set(C_FORMS) | N_ARY | {"gelu", "maximum", "minimum"} == set(OPS)
    for name, op in OPS.items():
        assert type(op) is ops.Op and op.name == name and repr(op) == f"<op {name}>"
        assert callable(op.forward) and callable(op.backward)
        assert op.has_k is (name in WITH_K)
        want_arity = "n" if name in N_ARY else 2 if name in ("add", "sub", "mul", "div", "powv",
                                                               "maximum", "minimum") else 1
        assert op.arity == want_arity
        if name in C_FORMS:
            assert op.c == C_FORMS[name]
        elif name in N_ARY:
            assert type(op.c) is dict and op.c["group"] == (2 if name == "dot" else 1)
        else:
            assert type(op.c) is str and "{a}" in op.c
    assert ops.DOT.c["step"] == "{acc} + {x0} * {x1}" and ops.SUM.c["init"] == "0.0"
    assert ops.LOGSUMEXP.c["pre"] == ("-INFINITY", "fmax({acc}, {x0})")
    assert ops.MAX_DETACHED.c["init"] == "-INFINITY"


@pytest.mark.parametrize("top", [709.5, 709.9, 709.99])
def test_exp_of_a_batch_just_below_710_overflows_quietly_to_inf(top):
    """exp overflows from 709.78 on: a batch reaching it takes the errstate path (no warning),
    and its result is numpy's, inf there; 709.5 is still finite."""
    a = np.array([1.0, top])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ops.exp(a)
    assert got[0] == math.exp(1.0)
    assert got[1] == (math.inf if top > 709.79 else math.exp(top))


# Columns of a batched logsumexp: every special case of the max-first form.
LSE_COLUMNS = [(-math.inf, -math.inf, -math.inf), (math.inf, 1.0, -2.0), (1.0, math.inf, math.inf),
               (math.nan, 1000.0, 0.5), (1000.0, 1000.5, -3.0), (-1000.0, -1001.0, -999.5),
               (0.25, -0.5, 2.0), (-math.inf, 3.0, -math.inf), (709.0, 750.0, 0.0)]


def _lse_reference(col):
    """logsumexp of one column by hand: its max where that is +-inf, nan with a nan, else
    m + log(sum exp(x - m)) in math's arithmetic."""
    if any(math.isnan(x) for x in col):
        return math.nan
    m = max(col)
    if math.isinf(m):
        return m
    return m + math.log(sum(math.exp(x - m) for x in col))


def test_logsumexp_of_a_batch_is_each_columns_to_the_bit_with_no_warning():
    xs = [np.array(row) for row in zip(*LSE_COLUMNS)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ops._logsumexp(xs)
        one_batch = ops._logsumexp([xs[0], 0.5, xs[2]])  # a plain number among the batches
    want = [_lse_reference(col) for col in LSE_COLUMNS]
    assert np.array_equal(got, want, equal_nan=True)
    want = [_lse_reference((c[0], 0.5, c[2])) for c in LSE_COLUMNS]
    assert np.array_equal(one_batch, want, equal_nan=True)
    for col in LSE_COLUMNS:  # the scalar path gives the same numbers
        assert np.array_equal(ops._logsumexp(list(col)), _lse_reference(col), equal_nan=True)


def test_logsumexp_of_a_batch_against_torch():
    torch = pytest.importorskip("torch")
    rows = [np.array(r) for r in zip(*LSE_COLUMNS)]
    got = ops._logsumexp(rows)
    want = torch.logsumexp(torch.tensor(np.array(rows), dtype=torch.float64), 0).numpy()
    ok = np.isnan(got) == np.isnan(want)
    assert ok.all() and np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-15, atol=0)


def _loop_dot(ws, xs):
    """The dot as a hand-written loop: 0.0 + w0*x0 + w1*x1 + ... (the README's order)."""
    s = 0.0
    for w, x in zip(ws, xs):
        s = s + w * x
    return s


@pytest.mark.parametrize("n", [3, 16, 17, 40])
def test_dot_of_numbers_is_the_loops_sum_to_the_bit(n):
    """The products added left to right from +0.0: 1e16 + 1 loses the 1 before -1e16 comes,
    so any other order (pairwise, from the end) gives another number."""
    ws = [1e16, 1.0, -1e16] + [0.1 * i - 0.7 for i in range(n - 3)]
    xs = [1.0, 1.0, 1.0] + [0.3 * i + 0.2 for i in range(n - 3)]
    got = ops._dot(ws + xs)
    assert type(got) is float and got == _loop_dot(ws, xs)
    assert ops._dot([-0.0] * n + [1.0] * n) == 0.0 and math.copysign(1.0, ops._dot([-0.0] * n + [1.0] * n)) == 1.0


@pytest.mark.parametrize("n", [3, 5])
def test_dot_over_a_batch_is_each_examples_loop_to_the_bit(n):
    """Over a batch (some weights plain numbers), example j is the loop over column j: the
    same order, from +0.0 (a column of -0.0 products sums to +0.0)."""
    ws = [np.array([1e16, -0.0, 2.0]), 1.0, np.array([-1e16, -0.0, 0.5])] + [0.25] * (n - 3)
    xs = [np.array([1.0, 1.0, 3.0]), np.array([1.0, -0.0, 0.1]), np.array([1.0, 2.0, -7.0])]
    xs += [np.array([0.1, -0.0, 0.3])] * (n - 3)
    got = ops._dot(ws + xs)
    want = [_loop_dot([w if type(w) is float else w[j] for w in ws], [x[j] for x in xs]) for j in range(3)]
    assert type(got) is np.ndarray and got.tolist() == want
    assert np.signbit(got).tolist() == np.signbit(want).tolist() == [False, False, False]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_dots_rule_gives_each_weight_its_input_times_g(n):
    """ops.DOT's backward rule: one gradient per item, the weights' (g * x_i) then the inputs'
    (g * w_i), for g over a batch (the rows of one array) and g a number."""
    ws = [np.array([1.0, -2.0]), 0.5] + [np.array([3.0, -0.0])] * (n - 2)
    xs = [np.array([0.25, 4.0])] * (n - 1) + [-1.5]
    for g in (np.array([2.0, -0.5]), 3.0):
        got = ops.DOT.backward(g, None, ws + xs)
        assert len(got) == 2 * n
        want = [np.multiply(g, x) for x in xs] + [np.multiply(g, w) for w in ws]
        for a, b in zip(got, want):
            assert np.shape(a) == np.shape(b) and np.array_equal(a, b)
            assert np.signbit(a).tolist() == np.signbit(b).tolist()


def test_power_and_div_inside_derivatives_give_ieee_values_without_warnings():
    """The rules' power and div (d sqrt(x)/dx at 0, d x**k/dx at the edges) return numpy's
    inf and nan quietly over a batch, and the same values for one number (no ZeroDivisionError,
    no OverflowError): 0 ** -0.5 = inf, 10 ** 400 = inf, (-2) ** 0.5 = nan, 1/0 = inf, 0/0 = nan."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = ops.power(np.array([0.0, 10.0, -2.0, 4.0]), np.array([-0.5, 400.0, 0.5, 0.5]))
        d = ops.div(np.array([1.0, 0.0, -1.0, 3.0]), np.array([0.0, 0.0, 0.0, 2.0]))
        d2 = ops.div(-2.0, np.array([0.0, -0.0]))
    assert np.array_equal(p, [math.inf, math.inf, math.nan, 2.0], equal_nan=True)
    assert np.array_equal(d, [math.inf, math.nan, -math.inf, 1.5], equal_nan=True)
    assert d2.tolist() == [-math.inf, math.inf]
    assert ops.power(0.0, -0.5) == math.inf and ops.power(10.0, 400.0) == math.inf
    assert ops.power(0.0, -1.0) == math.inf and ops.power(4.0, 0.5) == 2.0
    assert type(ops.power(2, 3)) is float and ops.power(2, 3) == 8.0
    assert ops.power(0.0, 0.0) == 1.0 and ops.power(0.0, 0.5) == 0.0 and ops.power(2.0, -1.0) == 0.5
    assert ops.div(1.0, 0.0) == math.inf and ops.div(-1.0, 0.0) == -math.inf
    assert ops.div(1.0, -0.0) == -math.inf and ops.div(-1.0, -0.0) == math.inf
    assert math.isnan(ops.div(0.0, 0.0)) and math.isnan(ops.div(math.nan, 0.0))
    assert ops.div(3.0, 2.0) == 1.5


@pytest.mark.parametrize("k, want", [(1.0, 1.0), (1.5, 0.0), (2.0, 0.0), (3.0, 0.0), (0.5, math.inf)])
def test_pow_derivative_at_zero_against_torch_conventions(k, want):
    """d(x ** k)/dx at x = 0 is k * 0 ** (k - 1): 1 for k = 1 (0 ** 0 is 1), 0 above 1,
    inf below (as PyTorch gives), for one number and for a batch."""
    x = autograd.Value(0.0)
    (x ** k).backward()
    assert x.grad == want
    xb = autograd.Value(np.array([0.0, 0.0]))
    (xb ** k).sum().backward()
    assert xb.grad.tolist() == [want, want]


@pytest.mark.parametrize("a0", [0.5, 1.0, 2.0, [0.5, 2.0]])
def test_exponents_gradient_differentiated_by_the_base(a0):
    """d/da of d(a ** b)/db = d/da (a ** b log a) = a ** (b - 1) (1 + b log a): log_for_pow
    builds a node on a Value base (any base > 0, below 1 too), so the exponent's gradient
    depends on the base; against hand arithmetic and finite differences."""
    a, b = autograd.Value(np.array(a0) if type(a0) is list else a0), autograd.Value(1.3)
    y = a ** b
    (y.sum() if type(a0) is list else y).backward(create_graph=True)
    gb = b.grad
    a.grad, b.grad = 0.0 * a.data, 0.0
    gb.backward()
    x = np.array(a0, dtype=np.float64)
    want = x ** 0.3 * (1.0 + 1.3 * np.log(x))
    h = 1e-6
    fd = ((x + h) ** 1.3 * np.log(x + h) - (x - h) ** 1.3 * np.log(x - h)) / (2 * h)
    assert np.allclose(a.grad, want, rtol=1e-12, atol=0) and np.allclose(a.grad, fd, rtol=1e-6)


def test_exponents_gradient_over_a_batch_at_zero_and_negative_bases():
    """d(a ** b)/db = a ** b log a: 0 where a == 0 (PyTorch's value, a ** b being 0), nan
    where a < 0 (no real logarithm), a ** b log a elsewhere; the same per example as for one
    number."""
    xs, ks = [0.0, 2.0, -2.0, 0.5, 0.0], [2.0, 3.0, 2.0, 1.5, 0.0]  # 0 ** 0 = 1: still 0
    a, b = autograd.Value(np.array(xs)), autograd.Value(np.array(ks))
    (a ** b).sum().backward()
    want = [0.0, 8.0 * math.log(2.0), math.nan, 0.5 ** 1.5 * math.log(0.5), 0.0]
    assert np.allclose(b.grad, want, rtol=1e-15, atol=0, equal_nan=True)
    for x, k, w in zip(xs, ks, want):
        a1, b1 = autograd.Value(x), autograd.Value(k)
        (a1 ** b1).backward()
        assert b1.grad == w or (math.isnan(b1.grad) and math.isnan(w))


def test_pow_forward_at_zero_and_past_the_largest_float():
    """0 ** 0.5 is 0 (a zero base is not a negative one), over a batch too; a power past the
    largest float is inf with the sign real arithmetic gives: (-10) ** 400 = +inf,
    (-10) ** 401 = -inf, for one number and, quietly, for a batch."""
    assert (autograd.Value(0.0) ** 0.5).data == 0.0
    assert (autograd.Value(np.array([0.0, 4.0])) ** 0.5).data.tolist() == [0.0, 2.0]
    assert (autograd.Value(-10.0) ** 400).data == math.inf
    assert (autograd.Value(-10.0) ** 401).data == -math.inf
    assert (autograd.Value(10.0) ** 400.5).data == math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = autograd.Value(np.array([-10.0, 10.0, 2.0])) ** 401
    assert big.data.tolist() == [-math.inf, math.inf, 2.0 ** 401]


def test_logsumexp_of_a_number_then_a_batch_and_a_dot_over_many_batches():
    """A plain number before the batches (the max then meets an array second), and a dot of
    more than 16 pairs over a batch (not the all-numbers shortcut): each example's numbers."""
    x = np.array([1.0, -2.0, 700.0])
    got = ops._logsumexp([0.5, x])
    assert got.tolist() == [_lse_reference((0.5, v)) for v in x]
    ws = [np.array([0.5, -1.0]) * (i + 1) for i in range(20)]
    xs = [np.array([0.25, 3.0]) - 0.1 * i for i in range(20)]
    got = ops._dot(ws + xs)
    assert got.tolist() == [_loop_dot([w[j] for w in ws], [v[j] for v in xs]) for j in range(2)]
