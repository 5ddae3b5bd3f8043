"""The Value as a Python number (item, format, round, bool, int, float) and the operations
sin, cos, square, erf, gelu, elu, silu, maximum, minimum: extremes, infinities and NaN, ties,
first and second derivatives (closed forms, gradcheck, gradgradcheck), batch against one
example at a time, and compiled code (numpy: bit for bit; C: to 1e-15) against eager.
Values and derivatives against PyTorch at ordinary points are in test_engine_torch.py
(its ELEMENTWISE and GRAPH_OPS tables); here: the extremes, against PyTorch too."""
import math
import warnings

import numpy as np
import pytest

import autograd
from autograd import Value, gradcheck, gradgradcheck

NEW = {  # name -> f(Value)
    "sin": Value.sin, "cos": Value.cos, "square": Value.square, "erf": Value.erf, "gelu": Value.gelu,
    "elu": Value.elu, "elu_alpha": lambda v: v.elu(0.7), "silu": Value.silu,
    "maximum": lambda v: autograd.maximum(v, 0.25), "minimum": lambda v: autograd.minimum(0.25, v),
}


# -- the Value as a number ------------------------------------------------------------------

def test_item_is_the_float_and_a_batch_raises():
    v = Value(2.5) * 2
    assert v.item() == 5.0 and type(v.item()) is float
    with pytest.raises(TypeError, match=r"item\(\) of a batched Value \(batch of 3\)"):
        Value([1.0, 2.0, 3.0]).item()
    with pytest.raises(TypeError, match="batch of 1"):  # a batch of one is still a batch
        Value(np.array([1.0])).item()


def test_format_a_number_and_a_batch():
    loss = Value(0.123456) * 1.0
    assert f"{loss:.4f}" == "0.1235"
    assert f"{loss:>12.3e}" == format(loss.data, ">12.3e")
    assert f"{loss}" == str(loss) == repr(loss)
    assert f"{Value([1.0, 2.5, -0.125]):.2f}" == "[1.00 2.50 -0.12]"
    long = f"{Value(np.arange(5000.0)):.1f}"
    assert long.startswith("[0.0 1.0 2.0") and "..." in long and long.endswith("4999.0]")
    with pytest.raises(ValueError):
        f"{loss:.4q}"
    with pytest.raises(ValueError):
        f"{Value([1.0, 2.0]):.4q}"


def test_round_int_float():
    assert round(Value(2.567), 2) == 2.57 and type(round(Value(2.567), 2)) is float
    assert round(Value(2.5)) == 2 and type(round(Value(2.5))) is int  # as round(2.5)
    assert int(Value(2.7)) == 2 and int(Value(-2.7)) == -2
    assert float(Value(0.1)) == 0.1
    # math functions call float(): a number comes back, outside the graph (documented).
    x = Value(1.0)
    assert math.exp(x) == math.e and type(math.exp(x)) is float
    for f in (round, int, float):
        with pytest.raises(TypeError, match="batched Value"):
            f(Value([1.0, 2.0]))


def test_bool_is_the_truth_of_the_number():
    assert not Value(0.0) and not Value(-0.0) and not (Value(1.0) - 1.0)
    assert Value(0.3) and Value(-2.0) and Value(math.nan)  # as bool(float)
    with pytest.raises(TypeError, match="ambiguous"):
        bool(Value([0.0, 1.0]))
    with pytest.raises(TypeError, match="ambiguous"):
        if Value(np.array([1.0])):
            pass


def test_bool_inside_compile_is_a_guarded_branch():
    def f(x):
        return x * 2.0 if x else x + 1.0

    prog = autograd.compile(f, 1.0, backend="numpy")
    assert prog(3.0, grad=False) == 6.0
    assert prog(0.0, grad=False) == 1.0  # the other branch: traced again, not the first one's 0.0
    assert prog(-2.0, grad=False) == -4.0
    assert prog.traces == 3


# -- operations: definitions and edges ------------------------------------------------------

def grad_at(f, x, create_graph=False):
    v = Value(x)
    f(v).backward(create_graph=create_graph)
    return v.grad


def test_closed_form_first_and_second_derivatives():
    x = -0.7
    s = 1 / (1 + math.exp(-x))
    phi = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    want = {  # name: (first, second)
        "sin": (math.cos(x), -math.sin(x)), "cos": (-math.sin(x), -math.cos(x)), "square": (2 * x, 2.0),
        "erf": (2 / math.sqrt(math.pi) * math.exp(-x * x), -4 * x / math.sqrt(math.pi) * math.exp(-x * x)),
        "gelu": (0.5 * math.erfc(-x / math.sqrt(2)) + x * phi, phi * (2 - x * x)),
        "elu": (math.exp(x), math.exp(x)), "elu_alpha": (0.7 * math.exp(x), 0.7 * math.exp(x)),
        "silu": (s * (1 + x * (1 - s)), s * (1 - s) * (2 + x * (1 - 2 * s))),
        "maximum": (0.0, 0.0), "minimum": (1.0, 0.0),
    }
    for name, (d1, d2) in want.items():
        v = Value(x)
        NEW[name](v).backward(create_graph=True)
        g = v.grad
        assert math.isclose(g.data, d1, rel_tol=1e-13, abs_tol=1e-15), name
        v.grad = 0.0
        g.backward()
        assert math.isclose(v.grad, d2, rel_tol=1e-12, abs_tol=1e-15), name


@pytest.mark.parametrize("name", sorted(NEW))
def test_gradcheck_and_gradgradcheck(name):
    f = NEW[name]
    for x in (-3.1, -0.4, 0.6, 2.2):
        assert gradcheck(f, [Value(x)])
        assert gradgradcheck(f, [Value(x)])
    assert gradcheck(f, [Value(np.array([-3.1, -0.4, 0.6, 2.2]))])
    assert gradgradcheck(f, [Value(np.array([-3.1, -0.4, 0.6, 2.2]))])


def test_maximum_minimum_of_two_values_and_their_tie_rule():
    for fn, big, small in ((autograd.maximum, 3.0, 1.0), (autograd.minimum, 1.0, 3.0)):
        a, b = Value(big), Value(small)
        y = fn(a, b)
        y.backward()
        assert y.op == fn.__name__ and y.data == big and (a.grad, b.grad) == (1.0, 0.0)
        a, b = Value(2.0), Value(2.0)
        fn(a, b).backward()
        assert (a.grad, b.grad) == (0.5, 0.5)  # PyTorch's rule
        a = Value(2.0)
        fn(a, a).backward()
        assert a.grad == 1.0
    # A scalar against a batch: the scalar's gradient is summed over the examples.
    a, b = Value(0.5), Value(np.array([0.0, 0.5, 1.0, 2.0]))
    autograd.maximum(a, b).sum().backward()
    assert a.grad == 1.5 and b.grad.tolist() == [0.0, 0.5, 1.0, 1.0]
    # NaN wins, both ways round, scalar and batched.
    assert math.isnan(autograd.maximum(math.nan, Value(1.0)).data)
    assert math.isnan(autograd.minimum(Value(1.0), math.nan).data)
    assert np.isnan(autograd.maximum(Value([1.0, math.nan]), Value([math.nan, 1.0])).data).all()
    with pytest.raises(TypeError, match="maximum: item 1 is a str"):
        autograd.maximum(Value(1.0), "2")
    with pytest.raises(ValueError, match="different lengths"):
        autograd.minimum(Value([1.0, 2.0]), Value([1.0, 2.0, 3.0]))


def test_sin_cos_of_infinity_raise_and_nan_passes():
    for f, name in ((Value.sin, "sin"), (Value.cos, "cos")):
        with pytest.raises(ValueError, match=rf"{name}: input must be finite, got inf"):
            f(Value(math.inf))
        with pytest.raises(ValueError, match=r"got .*-inf.* at batch index 1"):
            f(Value([0.0, -math.inf]))
        assert math.isnan(f(Value(math.nan)).data)


def test_elu_alpha_must_be_a_number():
    with pytest.raises(TypeError, match="elu: alpha must be a real number"):
        Value(1.0).elu("1")
    with pytest.raises(TypeError, match="elu: alpha"):
        Value(1.0).elu(True)


@pytest.mark.parametrize("x", [1000.0, -1000.0, 745.0, -745.0, 40.0, -40.0])
@pytest.mark.parametrize("name", ["gelu", "elu", "silu", "erf"])
def test_extremes_finite_and_equal_to_torch(name, x):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tf = {"gelu": F.gelu, "elu": F.elu, "silu": F.silu, "erf": torch.erf}[name]
    v = Value(x)
    y = NEW[name](v)
    y.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = tf(t)
    ty.backward()
    assert math.isfinite(y.data) and math.isfinite(v.grad)
    assert math.isclose(y.data, ty.item(), rel_tol=1e-15, abs_tol=1e-300)
    assert math.isclose(v.grad, t.grad.item(), rel_tol=1e-15, abs_tol=1e-300)
    b = Value(np.array([x, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings on a batch
        NEW[name](b).backward(grad=np.ones(2))
    assert b.grad[0] == v.grad


@pytest.mark.parametrize("x", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("name", ["square", "erf", "gelu", "elu", "silu"])
def test_infinities_and_nan_as_torch(name, x):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tf = {"square": torch.square, "erf": torch.erf, "gelu": F.gelu, "elu": F.elu, "silu": F.silu}[name]
    y = NEW[name](Value(x)).data
    ty = tf(torch.tensor(x, dtype=torch.float64)).item()
    assert y == ty or (math.isnan(y) and math.isnan(ty)), (y, ty)


def test_elu_gradient_at_plus_infinity_is_nan_as_documented():
    # The one documented difference from PyTorch (which gives 1): mask * exp(inf * 0).
    assert math.isnan(grad_at(Value.elu, math.inf))
    assert grad_at(Value.elu, 1e308) == 1.0 and grad_at(Value.elu, -math.inf) == 0.0


# -- a batch against one example at a time -------------------------------------------------

EXACT = {"square", "erf", "maximum", "minimum"}  # arithmetic, or libm called per element


@pytest.mark.parametrize("name", sorted(NEW))
def test_batch_equals_one_example_at_a_time(name):
    """Bit for bit where the rule is arithmetic or calls libm per element; within 2 ulp where it
    calls numpy's sin, cos, exp or expm1 on the array (SIMD versions on some CPUs; on the
    machine this was written on they agree bit for bit too)."""
    f = NEW[name]
    xs = np.concatenate([np.linspace(-12, 12, 997), [0.0, -0.0, 0.25, 40.0, -40.0, 1000.0, -1000.0]])
    if name in ("sin", "cos"):
        xs = xs[np.abs(xs) < 100]
    b = Value(xs)
    yb = f(b)
    yb.backward(grad=np.ones(len(xs)))
    ys, gs = [], []
    for x in xs:
        v = Value(float(x))
        y = f(v)
        y.backward()
        ys.append(y.data)
        gs.append(v.grad)
    ys, gs = np.array(ys), np.array(gs)
    if name in EXACT:
        assert np.array_equal(yb.data, ys) and np.array_equal(b.grad, gs)
        assert np.array_equal(np.signbit(yb.data), np.signbit(ys))
    else:
        np.testing.assert_array_max_ulp(yb.data, ys, maxulp=2)
        np.testing.assert_array_max_ulp(b.grad, gs, maxulp=2)


# -- compiled code against eager --------------------------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("valuegrad_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VALUEGRAD_CACHE", str(d))
        yield d


POINTS = np.array([-1000.0, -40.0, -3.3, -1.0, -0.0, 0.0, 0.25, 0.7, 2.0, 40.0, 745.0, 1000.0])


def new_ops_loss(weights):
    def loss(x):
        terms = [w * NEW[name](x if name not in ("sin", "cos") else x * 0.01) for name, w in zip(sorted(NEW), weights)]
        total = autograd.sum(terms)
        return total.sum() if isinstance(total.data, np.ndarray) else total
    return loss


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_compiled_equals_eager(cache, backend):
    if backend == "c":
        from autograd.compiler import c_backend
        try:
            c_backend.find_compiler()
        except c_backend.CompilerNotFound:
            pytest.skip("no C compiler")
    weights = [Value(0.5 + 0.1 * i, label=f"w{i}") for i in range(len(NEW))]
    loss = new_ops_loss(weights)
    for x0 in (POINTS, 0.7):  # one batch, one scalar
        prog = autograd.compile(loss, x0, backend=backend)
        xs = [POINTS, POINTS[::-1] * 0.5] if isinstance(x0, np.ndarray) else list(POINTS)
        for x in xs:
            for w in weights:
                w.grad = 0.0
            want = loss(Value(x))
            want.backward()
            want_g = [w.grad for w in weights]
            for w in weights:
                w.grad = 0.0
            got = prog(x)
            got_g = [w.grad for w in weights]
            if backend == "numpy":
                assert type(got) is type(want.data) and got == want.data
                assert [np.float64(g).tobytes() for g in got_g] == [np.float64(g).tobytes() for g in want_g]
            else:
                np.testing.assert_allclose(got, want.data, rtol=1e-15, atol=0)
                np.testing.assert_allclose(got_g, want_g, rtol=1e-15, atol=0)
