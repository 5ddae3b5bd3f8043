"""The softmax shift: nn.losses subtracts max(z) as an `autograd.max_detached` node (derivative 0,
PyTorch's `z - z.max().detach()`), not as a number read from `.data`.

- eager: the very bits of the constant shift it replaced (loss and every gradient);
- compiled (C and numpy, straight-line and layered, through Values, `.flat`, `nn.fit`): the max
  is recomputed per example at every call, so a batch other than the traced one gets eager's
  bits, also when its logits are 1000 above the traced batch's (no overflow, no fallback);
- gradients against finite differences and PyTorch, at ties and at +-1000;
- the operation itself: derivative 0 (also where the incoming gradient is inf), a NaN wins,
  drawn with its name.
"""
import math
import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Value, gradcheck
from autograd.compiler.trace import trace
from autograd.draw_backward import backward_steps
from nn import losses as L

from compare_compiled import compiled, eager


pytestmark = pytest.mark.usefixtures("private_cache")


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def _constant_shift(logits):
    """The shift as it was: max(z) read through .data, a constant leaf (frozen under compile)."""
    logits = list(logits)
    m = logits[0].data if isinstance(logits[0], Value) else logits[0]
    for v in logits[1:]:
        m = np.maximum(m, v.data if isinstance(v, Value) else v)
    return [z - m for z in logits]


def _columns(Z):
    return [Value(c, label=f"z{k}") for k, c in enumerate(np.asarray(Z, dtype=np.float64).T)]


def _run(build, leaves, seed=None):
    """(loss bits, [grad bits]) of build() after backward, every leaf's grad zeroed first."""
    for v in leaves:
        v.grad = 0.0
    out = build()
    out.backward(grad=seed)
    return bits(out.data), [bits(v.grad) for v in leaves]


# -- eager: the numbers of the constant shift, bit for bit -------------------------------------

def _problems():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(7, 4)) * 3
    ties = np.array([[1.0, 1.0, -2.0, 0.5], [0.0, -0.0, -1.0, -0.0], [-0.0, 0.0, -0.0, 0.0],
                     [3.0, 3.0, 3.0, 3.0], [-1e-300, 1e-300, 0.0, -0.0]])
    huge = np.array([[1000.0, -1000.0, 0.0, 999.0], [-1000.0, -1000.0, -1000.5, -1e6],
                     [800.0, 0.0, -800.0, 800.0], [1e300, -1e300, 0.0, 1.0]])
    masked = np.array([[-np.inf, 1.0, 2.0, -np.inf], [0.5, -np.inf, -np.inf, -np.inf]])
    return {"normal": Z, "ties": ties, "huge": huge, "masked": masked}


PROBLEMS = _problems()


def _targets(Z, kind):
    n, k = Z.shape
    idx = np.arange(n) % k
    if kind == "indices":
        return idx
    if kind == "one-hot":
        return np.eye(k)[idx]
    soft = np.random.default_rng(n).dirichlet(np.ones(k), size=n)
    soft[:, 0] = 0.0  # zero weights: dot's terms of -0.0
    return soft / soft.sum(axis=1, keepdims=True)


def _losses(Z, kind, reduction, sign):
    """Builders over one leaf per class: cross_entropy, then sums of softmax and log_softmax
    outputs with uneven weights (every output gets its own gradient)."""
    zs = _columns(Z)
    t = _targets(Z, kind)
    w = [0.7, -1.3, 2.1, -0.4]
    return zs, {
        "cross_entropy": lambda: L.cross_entropy(zs, t, reduction) * sign,
        "softmax": lambda: autograd.sum([p * wk for p, wk in zip(L.softmax(zs), w)]).sum() * sign,
        "log_softmax": lambda: autograd.sum([p * wk for p, wk in zip(L.log_softmax(zs), w)]).mean() * sign,
    }


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # -inf logits: 0 * -inf in the dot
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("kind", ["indices", "one-hot", "soft"])
@pytest.mark.parametrize("reduction, sign", [("mean", 1.0), ("sum", -1.0)])
def test_eager_numbers_are_the_constant_shifts_bit_for_bit(monkeypatch, problem, kind, reduction, sign):
    Z = PROBLEMS[problem]
    zs, builders = _losses(Z, kind, reduction, sign)
    got = {name: _run(b, zs) for name, b in builders.items()}
    monkeypatch.setattr(L, "_shifted", _constant_shift)
    want = {name: _run(b, zs) for name, b in builders.items()}
    assert got == want


def test_per_example_graphs_and_a_model_keep_their_bits(monkeypatch):
    rng = np.random.default_rng(1)
    model = nn.MLP(5, [6, 3], init="he", seed=2)
    X = rng.normal(size=(11, 5))
    y = rng.integers(0, 3, 11)
    params = model.parameters()
    zs = [[Value(v) for v in row] for row in rng.normal(size=(4, 3)) * 10]
    scalars = [v for row in zs for v in row]
    builders = [(lambda: L.cross_entropy(model(X), y), params),
                (lambda: L.cross_entropy(zs, [0, 2, 1, 1]), scalars),
                (lambda: L.cross_entropy(zs[0], [0.25, 0.0, 0.75]), scalars),
                (lambda: autograd.sum(L.softmax(zs[1]) + L.log_softmax(zs[2])), scalars)]
    got = [_run(b, leaves) for b, leaves in builders]
    monkeypatch.setattr(L, "_shifted", _constant_shift)
    assert got == [_run(b, leaves) for b, leaves in builders]


# -- compiled: the max per example, per call -------------------------------------------------------

def test_the_shift_is_a_node_of_the_trace_not_a_frozen_leaf():
    rng = np.random.default_rng(0)
    w = [Value(1.0 + 0.1 * k) for k in range(3)]
    t = trace(lambda Z: L.cross_entropy([wk * z for wk, z in zip(w, Z)], np.array([0, 1, 2, 0])),
              [rng.normal(size=(4, 3))])
    assert "max_detached" in {op.name for op in t.ops if op is not None}
    assert [p for p in t.params if isinstance(p.data, np.ndarray) and p.data.dtype == np.float64
            and not set(np.unique(p.data)) <= {0.0, 1.0}] == []  # the one-hot columns only


def test_generated_code_skips_the_shifts_zero_gradient():
    """Every logit gets its gradient through z - m anyway: the max node needs none (its -0.0
    terms would add nothing). A leaf reached through the max alone keeps it: its gradient is
    that -0.0, as in eager (tests/test_compile.py checks the bits)."""
    w = [Value(1.0 + 0.1 * k) for k in range(3)]
    e = Value(0.5)
    t = trace(lambda Z: L.cross_entropy([wk * z for wk, z in zip(w, Z)], np.array([0, 1, 2, 0])),
              [np.ones((4, 3))])
    (m,) = [i for i, op in enumerate(t.ops) if op is autograd.OPS["max_detached"]]
    assert m not in t.needs_grad and t.parents[m][0] in t.needs_grad
    f = lambda x: (x * w[0] - autograd.max_detached([x * w[0], e])).sum()  # noqa: E731
    t = trace(f, [np.ones(3)])
    (m,) = [i for i, op in enumerate(t.ops) if op is autograd.OPS["max_detached"]]
    assert m in t.needs_grad
    x = np.array([0.25, 2.0, -1.0])
    want_out, want = eager(f, [w[0], e], x)
    got_out, got = compiled(autograd.compile(f, x, backend="numpy"), [w[0], e], x)
    assert bits(got_out) == bits(want_out) and [bits(g) for g in got] == [bits(g) for g in want]
    assert want[1] == 0.0 and math.copysign(1.0, want[1]) == -1.0


def _linear_logits(K=4, y=None):
    """The loss of logits w_k z_k + b_k: targets an argument (one-hot columns, the soft form), or
    with y the class indices, a constant (the index form: logsumexp(s) - dot(s, onehot))."""
    ws = [Value(0.5 + 0.25 * k, label=f"w{k}") for k in range(K)]
    bs = [Value(0.1 * k - 0.2, label=f"b{k}") for k in range(K)]

    def f(Z, Y):
        return L.cross_entropy([w * z + b for w, z, b in zip(ws, Z, bs)], Y if y is None else y)
    return f, ws + bs


def _batches(rng, n=6, K=4):
    Z1 = rng.normal(size=(n, K)) * 2
    Y = np.eye(K)[rng.integers(0, K, n)]
    return Z1, rng.normal(size=(n, K)) * 5, Z1 + 1000.0, Y


@pytest.mark.parametrize("targets", ["one-hot argument", "constant indices"])
@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_compiled_cross_entropy_on_other_batches_is_eagers_bit_for_bit(backend, targets):
    """Traced on Z1; Z2 other logits, Z1 + 1000 logits 1000 above the traced ones: eager's bits,
    through Values and through .flat, and from the generated code itself (C never reruns the
    call through numpy)."""
    Z1, Z2, Z3, Y = _batches(np.random.default_rng(5))
    f, params = _linear_logits(y=None if targets == "one-hot argument" else Y.argmax(axis=1))
    prog = autograd.compile(f, Z1, Y, backend=backend)
    flat = prog.flat(params)
    theta = np.array([p.data for p in params])
    for Z in (Z1, Z2, Z3, Z1):
        want_out, want = eager(f, params, Z, Y)
        got_out, got = compiled(prog, params, Z, Y)
        assert bits(got_out) == bits(want_out) and np.isfinite(got_out)
        assert [bits(g) for g in got] == [bits(g) for g in want]
        loss, grad = flat(theta, Z, Y)
        assert bits(loss) == bits(want_out)
        assert bits(grad) == bits(np.array(want))
    assert prog.traces == 1
    if backend == "c":
        assert all(p._numpy is None for p in prog.programs.values())  # no fallback


def _mlp_problem(rng, n=13):
    model = nn.MLP(6, [9, 5], init="he", seed=3)
    X1, X2 = rng.normal(size=(n, 6)), rng.normal(size=(n, 6)) * 3
    Y = np.eye(5)[rng.integers(0, 5, n)]
    return model, X1, X2, Y


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_layered_programs_recompute_the_max(backend):
    """An MLP's layered code (structured C kernels, numpy layers): other inputs, then output
    biases moved up by 1000 (logits 1000 above the traced ones): eager's bits."""
    model, X1, X2, Y = _mlp_problem(np.random.default_rng(6))
    params = model.parameters()
    f = lambda X, Y: L.cross_entropy(model(X), Y)  # noqa: E731
    prog = autograd.compile(f, X1, Y, backend=backend)
    (p0,) = prog.programs.values()
    assert ("vg_dot_fwd(" if backend == "c" else "dot_layer(") in p0.source  # the layered generators
    biases = [n.b for n in model.layers[-1].neurons]
    for X, up in ((X2, 0.0), (X1, 1000.0), (X2, 1000.0)):
        for b in biases:
            b.data += up
        want_out, want = eager(f, params, X, Y)
        got_out, got = compiled(prog, params, X, Y)
        assert bits(got_out) == bits(want_out) and np.isfinite(got_out)
        assert [bits(g) for g in got] == [bits(g) for g in want]
    if backend == "c":
        assert p0._numpy is None
    else:
        assert p0.run.fallbacks == 0


def test_fit_compiled_equals_fit_eager_bit_for_bit():
    """Every batch but the first is one the step was not traced on; the later rows' inputs are
    500 times larger (logits far above the traced batch's)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(70, 4))
    X[32:] *= 500.0
    y = rng.integers(0, 3, 70)

    def run(compile):
        model = nn.MLP(4, [6, 3], init="he", seed=0)
        opt = nn.optim.SGD(model.parameters(), lr=1e-4)
        h = nn.fit(model, "cross_entropy", opt, X, y, epochs=2, batch_size=16, shuffle=False, progress=False,
                   compile=compile)
        return [bits(v) for v in h["loss"]], [bits(p.data) for p in model.parameters()]
    assert run(True) == run(False)


# -- gradients: finite differences and PyTorch ------------------------------------------------------

@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0])
def test_gradients_match_finite_differences_at_ties_and_far_away(offset):
    z = [Value(np.array([1.0, 2.0, 0.5]) + offset), Value(np.array([1.0, -1.0, 0.5]) + offset),
         Value(np.array([-0.5, 2.0, 0.5]) + offset)]  # each example has a tie for the max
    w = [0.3, -1.1, 0.8]
    assert gradcheck(lambda *v: autograd.sum([p * c for p, c in zip(L.softmax(v), w)]), z)
    assert gradcheck(lambda *v: autograd.sum([p * c for p, c in zip(L.log_softmax(v), w)]), z)
    assert gradcheck(lambda *v: L.cross_entropy(v, np.array([0, 1, 2])), z)
    assert gradcheck(lambda *v: L.cross_entropy(v, np.array([[0.2, 0.8, 0.0]] * 3)), z)


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_gradients_match_torch(offset):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    Z = rng.normal(size=(9, 4)) * 4 + offset
    Z[0, 1] = Z[0, 3] = Z[0].max() + 1.0  # a tie for the max
    y = rng.integers(0, 4, 9)
    w = np.array([0.3, -1.1, 0.8, 2.0])
    for name in ("softmax", "log_softmax", "cross_entropy"):
        zs = _columns(Z)
        tz = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
        if name == "cross_entropy":
            out, tout = L.cross_entropy(zs, y), F.cross_entropy(tz, torch.tensor(y))
        else:
            ps = getattr(L, name)(zs)
            out = autograd.sum([p * c for p, c in zip(ps, w)]).mean()
            tout = (getattr(F, name)(tz, dim=1) @ torch.tensor(w)).mean()
        out.backward()
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-13, abs=1e-13), name
        np.testing.assert_allclose(np.array([z.grad for z in zs]).T, tz.grad.numpy(), rtol=1e-10, atol=1e-13,
                                   err_msg=name)


# -- the operation -----------------------------------------------------------------------------------

def test_max_detached_value_is_the_max_per_example_and_a_nan_wins():
    a, b = Value(np.array([1.0, -2.0, math.nan, 0.0, -math.inf])), Value(np.array([0.5, 3.0, 1.0, -0.0, -math.inf]))
    c = 0.75  # numbers take part as constants
    m = autograd.max_detached([a, b, c])
    np.testing.assert_array_equal(m.data, [1.0, 3.0, math.nan, 0.75, 0.75])
    assert math.isnan(autograd.max_detached([Value(1.0), Value(math.nan)]).data)
    assert math.isnan(autograd.max_detached([Value(math.nan), Value(1.0)]).data)
    assert autograd.max_detached([Value(-math.inf)] * 2).data == -math.inf
    assert m.data is not a.data and autograd.max_detached([a]).data is not a.data  # its own array
    with pytest.raises(ValueError, match="max_detached of no values"):
        autograd.max_detached([])
    with pytest.raises(ValueError, match="max_detached: batches of different lengths"):
        autograd.max_detached([a, Value(np.ones(3))])
    with pytest.raises(TypeError, match="max_detached: item 1 is a str"):
        autograd.max_detached([a, "x"])


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_compiled_max_detached_is_eagers_to_the_bit(backend):
    """Ties of 0.0 and -0.0 (the later one wins, as np.maximum) and extremes, computed by the
    generated code itself; a NaN before the last input still wins (C must not return a finite
    max, which would skip its rerun through numpy); -inf."""
    nan, inf = math.nan, math.inf
    w = [Value(1.0), Value(1.0), Value(0.5)]

    def f(Z):
        return autograd.max_detached([wk * z for wk, z in zip(w, Z)])

    def g(Z):
        return autograd.max_detached(Z)
    ties = np.array([[0.0, -0.0, -1.0], [-0.0, 0.0, -2.0], [-0.0, -0.0, -0.0], [1e308, -1e308, 5e-324],
                     [-1e-300, -2e-300, -1e300]])
    for fn, Z in ((f, ties), (g, np.array([[nan, 1.0, 2.0], [1.0, nan, 2.0], [3.0, 1.0, 2.0]])),
                  (g, np.array([[1.0, 2.0, nan], [-inf, -inf, -inf], [-inf, 3.0, -inf]]))):
        want = fn(_columns(Z)).data
        prog = autograd.compile(fn, np.ones(Z.shape), backend=backend)
        assert bits(prog(Z, grad=False)) == bits(want)
        if fn is f and backend == "c":
            assert all(p._numpy is None for p in prog.programs.values())  # the C numbers themselves
    np.testing.assert_array_equal(np.signbit(f(_columns(ties)).data[:3]), [True, False, True])


def test_max_detached_has_derivative_zero():
    a, b = Value(2.0), Value(np.array([1.0, 5.0]))
    m = autograd.max_detached([a, b])
    m.backward(grad=np.array([math.inf, -3.0]))  # not g * 0 (inf * 0 is nan): a zero that adds nothing
    assert a.grad == 0.0 and list(b.grad) == [0.0, 0.0]
    z, c = Value(2.0), Value(-0.0)
    ((z - autograd.max_detached([z, 1.0])) * c).backward()
    assert z.grad == 0.0 and math.copysign(1.0, z.grad) == -1.0  # -0.0 + its zero: still -0.0
    x = Value(1.5)
    y = (x - autograd.max_detached([x, Value(1.0)])) * x  # (x - c) * x with c = x detached
    y.backward(create_graph=True)
    assert x.grad.data == 1.5  # 2x - c
    g = x.grad
    x.grad = 0.0
    g.backward()
    assert x.grad == 2.0  # d/dx (2x - c)


def test_a_nan_logit_is_reported_eager_andcompiled():
    f, params = _linear_logits(3)
    Z = np.array([[0.5, 1.0, -1.0], [2.0, math.nan, 0.0]])
    Y = np.eye(3)[[0, 1]]
    want, _ = eager(f, params, Z, Y)
    assert math.isnan(want)
    for backend in ("c", "numpy"):
        prog = autograd.compile(f, np.zeros((2, 3)), Y, backend=backend)
        got, grads = compiled(prog, params, Z, Y)
        assert math.isnan(got)
        assert all(np.isnan(g) for g in grads)
        softmax = autograd.compile(lambda Z: L.softmax(Z)[0], np.zeros((2, 3)), backend=backend)
        np.testing.assert_array_equal(softmax(Z, grad=False), [L.softmax([0.5, 1.0, -1.0])[0].data, math.nan])


def test_max_detached_is_drawn_with_its_name_and_its_zero_rule():
    z0, z1 = Value(np.array([1.0, 2.0]), label="z0"), Value(np.array([3.0, -1.0]), label="z1")
    loss = L.cross_entropy([z0, z1], np.array([0, 1]))
    assert "label=max_detached" in autograd.draw(loss).source
    text = "\n".join(line for s in backward_steps(loss) for line in s.lines())
    assert re.search(r"= max_detached\(z0, z1\), so ∂#\d+/∂z0 = 0\n", text), text
