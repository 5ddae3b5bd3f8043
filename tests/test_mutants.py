"""Behaviours that mutation testing found unpinned: each test kills a mutant that survived the
rest of the suite (see docs/mutation.md). The expected numbers are worked out by hand, never
by the code under test.
"""
import math
import re

import numpy as np
import pytest

import autograd
from autograd import Value, gradcheck, gradgradcheck
from autograd.gradcheck import GradcheckError


def test_scalar_weight_meeting_a_batch_gets_the_sum_under_create_graph():
    w = Value(2.0)
    x = Value(np.array([1.0, 2.0, 4.0]))
    (w * x).sum().backward(create_graph=True)
    assert isinstance(w.grad, Value)
    assert w.grad.data == 7.0  # 1 + 2 + 4, not their mean
    w.grad.backward()  # w.grad = sum(x): adds 1 to each x.grad (which holds w = 2)
    assert list(x.grad.data if isinstance(x.grad, Value) else x.grad) == [3.0, 3.0, 3.0]


def test_scalar_weight_meeting_a_batch_gets_the_sum_without_create_graph():
    w = Value(2.0)
    x = Value(np.array([1.0, 2.0, 4.0]))
    (w * x).sum().backward()
    assert w.grad == 7.0


def test_c_weight_in_two_batched_dots_gets_both_contributions(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    from autograd.compiler import c_backend
    try:
        c_backend.find_compiler()
    except c_backend.CompilerNotFound:
        pytest.skip("no C compiler")
    w = [Value(0.5), Value(-1.5)]

    def f(x0, x1):
        return (autograd.dot(w, [x0, x1]) + autograd.dot(w, [x1, x0]) * 3.0).sum()

    x0, x1 = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    prog = autograd.compile(f, x0, x1, backend="c")
    assert prog.backend == "c"
    for p in w:
        p.grad = 0.0
    prog(x0, x1)
    # d/dw0 = sum(x0) + 3 sum(x1) = 3 + 24; d/dw1 = sum(x1) + 3 sum(x0) = 8 + 9
    assert [p.grad for p in w] == [27.0, 17.0]


@pytest.mark.parametrize("batched", [False, True])
def test_compiled_relu_of_nan_is_nan(tmp_path, monkeypatch, batched):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    from autograd.compiler import c_backend
    try:
        c_backend.find_compiler()
    except c_backend.CompilerNotFound:
        pytest.skip("no C compiler")
    x = np.array([1.0, -2.0]) if batched else 1.0
    prog = autograd.compile(lambda x: x.relu(), x, backend="c")
    assert prog.backend == "c"
    out = prog(np.array([np.nan, -1.0, 2.0])[:2] if batched else math.nan, grad=False)
    if batched:
        assert math.isnan(out[0]) and out[1] == 0.0
    else:
        assert math.isnan(out)
    assert math.isnan(Value(math.nan).relu().data)  # the eager rule agrees


def test_gradcheck_fails_on_nan_gradient(monkeypatch):
    # A NaN analytic gradient against a finite numeric one: NaN compares False with every
    # tolerance, and that False must count as a mismatch.
    import sys
    gc_mod = sys.modules["autograd.gradcheck"]  # autograd.gradcheck is the function
    real = gc_mod._analytic

    def nan_analytic(fn, inputs):
        cols = real(fn, inputs)
        cols[0][:] = math.nan
        return cols

    monkeypatch.setattr(gc_mod, "_analytic", nan_analytic)
    x = Value(0.5, label="x")
    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(lambda x: x * x, [x])
    assert gradcheck(lambda x: x * x, [x], raise_exception=False) is False


def test_gradgradcheck_checks_every_input():
    # f(x, y) = x^2 + y * stop(y): the first derivative in y is stop(y), a constant to the
    # graph, so its analytic derivative is 0 while its numeric derivative is 1. Only the
    # second input's second derivatives are wrong: a gradgradcheck that looked at the first
    # input alone would pass.
    def f(x, y):
        return x * x + y * Value(y.data)

    x, y = Value(0.3), Value(-0.7)
    assert gradcheck(lambda x: x * x, [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(f, [x, y])
    assert gradgradcheck(f, [x, y], raise_exception=False) is False
    assert gradgradcheck(lambda x, y: x * x * y, [x, y])  # the right rules pass


def test_gradcheck_of_a_function_returning_a_plain_number():
    # fn may return a float (no Value): wrapped, its gradient is 0 everywhere and checks out
    assert gradcheck(lambda x: 3.0, [Value(0.5)])


def test_gradgradcheck_of_a_batched_output():
    # a batched output needs a seed of ones for its first derivative (else backward refuses)
    x = Value(np.array([0.3, -0.7, 1.1]))
    assert gradgradcheck(lambda x: x * x * x, [x])
    assert gradgradcheck(lambda x: (x * x).tanh(), [x])


def test_gradgradcheck_passes_eps_and_tolerances_on():
    # f = x^4 at x = 1: f'' = 12, the central difference of f' = 4x^3 with step h is
    # 12 + 4h^2: h = 0.5 is off by exactly 1.
    f = lambda x: x ** 4  # noqa: E731
    x = Value(1.0)
    assert gradgradcheck(f, [x])  # the default eps (1e-6)
    assert gradgradcheck(f, [x], eps=0.5, raise_exception=False) is False
    assert gradgradcheck(f, [x], eps=0.5, atol=1.01, rtol=0.0)  # 1 <= 1.01
    assert gradgradcheck(f, [x], eps=0.5, atol=0.0, rtol=0.08)  # 1 <= 0.08 * 13
    assert gradgradcheck(f, [x], eps=0.5, atol=0.0, rtol=0.07, raise_exception=False) is False
    with pytest.raises(GradcheckError, match="eps=0.5"):
        gradgradcheck(f, [x], eps=0.5)


def _detached(x):
    return Value(x.data)  # a constant to the graph: its derivative is missed by backward


def test_gradcheck_default_tolerance_catches_a_small_error():
    # analytic 2x, numeric 2x + 1e-3: over atol 1e-5 + rtol 1e-3 * 0.601
    f = lambda x: x * x + _detached(x) * 1e-3  # noqa: E731
    assert gradcheck(f, [Value(0.3)], raise_exception=False) is False


def test_gradcheck_tolerance_is_inclusive():
    # x * 2 at 0.5 with a power-of-two step: numeric and analytic are both exactly 2.0
    assert gradcheck(lambda x: x * 2.0, [Value(0.5)], eps=2.0 ** -20, atol=0.0, rtol=0.0)


def test_gradcheck_fails_when_any_input_is_wrong_not_only_the_last():
    x, y = Value(0.3), Value(-0.4)
    assert gradcheck(lambda x, y: x * _detached(x) + y * y, [x, y], raise_exception=False) is False


def test_gradcheck_message_names_every_input_element_and_output():
    x = Value(0.3)                              # unlabelled scalar: "input 0"
    b = Value(np.array([0.5, -1.0]), label="b")  # labelled batch: "'b' (input 1)[k]"
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda x, b: (x * _detached(x) + b * b), [x, b])  # two outputs
    lines = str(e.value).splitlines()
    assert lines[0].startswith("gradients differ (eps=1e-06, atol=1e-05, rtol=0.001):")
    body = lines[1:]
    assert len(body) == 2 + 4 and all(ln.startswith("  ") for ln in body)
    assert body[0].startswith("  input 0 -> output[0]: analytic ") and body[0].endswith("<-- mismatch")
    assert body[1].startswith("  input 0 -> output[1]: analytic ")
    assert body[2].startswith("  'b' (input 1)[0] -> output[0]: analytic 1, numeric ")
    assert body[5].startswith("  'b' (input 1)[1] -> output[1]: analytic -2, numeric ")
    assert re.fullmatch(r"error [0-9.e+-]+", body[2].split(", ")[-1])  # nothing after a good one
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda x: x * _detached(x), [Value(0.5)])  # one output, one scalar input
    (line,) = str(e.value).splitlines()[1:]
    assert line.startswith("  input 0: analytic 0.5, numeric ") and line.endswith("   <-- mismatch")


# -- nn.optim ------------------------------------------------------------------------------------

from nn import optim  # noqa: E402

_OPTIMIZERS = [(optim.SGD, dict(lr=0.1, momentum=0.9)),
               (optim.RMSProp, dict(lr=0.01, centered=True, momentum=0.5)),
               (optim.Adam, dict(lr=0.05, amsgrad=True))]


@pytest.mark.parametrize("cls,kw", _OPTIMIZERS)
def test_optimizer_state_and_update_are_float64_arrays(cls, kw):
    # update() is what nn.fit(compile=True) calls on its parameter array: the new data and
    # every buffer stay float64 arrays (a zero buffer of dtype object would turn them into
    # arrays of Python objects: same digits, every later step in slow object arithmetic).
    opt = cls([Value(0.5), Value(-1.0)], **kw)
    data = np.array([0.5, -1.0])
    for g in ([0.25, -2.0], [1.0, 0.5]):
        data = opt.update(data, np.array(g))
        assert type(data) is np.ndarray and data.dtype == np.float64
    assert opt.state and all(v.dtype == np.float64 and v.shape == (2,) for v in opt.state.values())


def test_rmsprop_centered_grad_avg_is_the_running_mean_of_the_gradient():
    # torch's RMSprop state: grad_avg = alpha * grad_avg + (1 - alpha) * g (a plus: the sign
    # of the mean cancels in sq - ga^2, but the state is saved and loaded)
    opt = optim.RMSProp([Value(1.0)], lr=0.01, alpha=0.5, centered=True)
    opt.update(np.array([1.0]), np.array([2.0]))
    assert opt.state_dict()["state"]["grad_avg"] == [1.0]  # 0.5 * 0 + 0.5 * 2
    opt.update(np.array([1.0]), np.array([-4.0]))
    assert opt.state_dict()["state"]["grad_avg"] == [-1.5]  # 0.5 * 1 + 0.5 * -4


def test_optimizer_state_holds_only_the_buffers_in_use():
    # as torch's state: no momentum buffer without momentum, no grad_avg unless centered
    for cls, kw, keys in [(optim.RMSProp, {}, {"square_avg"}),
                          (optim.RMSProp, dict(momentum=0.9), {"square_avg", "momentum_buffer"}),
                          (optim.SGD, {}, set()),
                          (optim.Adam, {}, {"exp_avg", "exp_avg_sq"})]:
        p = Value(1.0)
        opt = cls([p], **kw)
        p.grad = 0.5
        opt.step()
        assert set(opt.state_dict()["state"]) == keys, (cls, kw)


def test_infinite_parameter_without_weight_decay_stays_infinite():
    # no weight decay: g is used as it is (g + 0 * inf would be nan), as torch does
    p = Value(math.inf)
    opt = optim.SGD([p], lr=0.1)
    p.grad = 1.0
    opt.step()
    assert p.data == math.inf


def test_optimizer_and_schedule_defaults():
    p = Value(1.0)
    opt = optim.SGD([p])
    assert opt.lr == 0.01
    p.grad = 2.0
    opt.step()
    assert p.data == 1.0 - 0.01 * 2.0
    sched = optim.StepLR(optim.SGD([Value(0.0)], lr=1.0), step_size=1)  # gamma 0.1
    sched.step()
    assert sched.get_last_lr() == 0.1
    opt = optim.SGD([Value(0.0)], lr=1.0)
    sched = optim.LinearLR(opt)  # micrograd's 1 - 0.9 k / 100
    lrs = [opt.lr]
    for _ in range(101):
        sched.step()
        lrs.append(opt.lr)
    assert lrs[0] == 1.0 and lrs[50] == pytest.approx(0.55, abs=1e-15)
    assert lrs[99] == pytest.approx(0.109, abs=1e-15) and lrs[100] == lrs[101] == pytest.approx(0.1, abs=1e-15)


def test_optimizer_messages():
    with pytest.raises(ValueError, match=r"^optimizer got an empty parameter list$"):
        optim.SGD([])
    with pytest.raises(TypeError, match=r"^Adam got unknown arguments \['momentum'\]$"):
        optim.Adam([Value(1.0)], momentum=0.9)
    with pytest.raises(ValueError, match=r"^Nesterov momentum needs momentum > 0 and zero dampening$"):
        optim.SGD([Value(1.0)], nesterov=True)
    with pytest.raises(ValueError, match=r"^state_dict is for 'SGD', not Adam$"):
        optim.Adam([Value(1.0)]).load_state_dict(optim.SGD([Value(1.0)]).state_dict())
    p = Value(1.0, label="w")
    opt = optim.RMSProp([p])
    p.grad = math.nan
    with pytest.raises(FloatingPointError,
                       match=r"^RMSProp\.step: the gradient of parameter 0 is nan \(1 non-finite gradients in all\)$"):
        opt.step()


# -- autograd.backward ---------------------------------------------------------------------------

def test_is_grad_enabled_is_a_bool():
    from autograd import is_grad_enabled, no_grad
    assert is_grad_enabled() is True
    with no_grad():
        assert is_grad_enabled() is False
        with no_grad():
            assert is_grad_enabled() is False
        assert is_grad_enabled() is False
    assert is_grad_enabled() is True


def test_batched_dot_with_an_input_used_twice():
    # dot(w, [x, x, y]) over a batch: x receives w0 + w1 per example, y receives w2
    w = [Value(0.5), Value(-2.0), Value(3.0)]
    x = Value(np.array([1.0, 2.0, 3.0]))
    y = Value(np.array([-1.0, 4.0, 0.25]))
    out = autograd.dot(w, [x, x, y])
    assert list(out.data) == [0.5 - 2.0 - 3.0, 1.0 - 4.0 + 12.0, 1.5 - 6.0 + 0.75]
    (out * Value(np.array([1.0, 10.0, 100.0]))).sum().backward()
    assert list(x.grad) == [-1.5, -15.0, -150.0]
    assert list(y.grad) == [3.0, 30.0, 300.0]
    assert [p.grad for p in w] == [321.0, 321.0, -1.0 + 40.0 + 25.0]


def test_batched_weights_shared_by_two_dots_get_both_contributions():
    # eager twin of the C test above, with dots of three inputs (the batched dot backward):
    # each weight's gradient from the second dot is added to the first's, not written over it
    w = [Value(0.5), Value(-1.5), Value(2.0)]
    x0, x1, x2 = (Value(np.array(v)) for v in ([1.0, 2.0], [3.0, 5.0], [-1.0, 0.25]))
    loss = (autograd.dot(w, [x0, x1, x2]) + autograd.dot(w, [x1, x2, x0]) * 3.0).sum()
    loss.backward()
    # d/dw0 = sum(x0) + 3 sum(x1) = 3 + 24; d/dw1 = sum(x1) + 3 sum(x2) = 8 - 2.25;
    # d/dw2 = sum(x2) + 3 sum(x0) = -0.75 + 9
    assert [p.grad for p in w] == [27.0, 5.75, 8.25]
    assert list(x0.grad) == [0.5 + 3 * 2.0] * 2   # w0 in the first dot, w2 in the second
    assert list(x1.grad) == [-1.5 + 3 * 0.5] * 2
    assert list(x2.grad) == [2.0 + 3 * -1.5] * 2


def test_batched_dot_with_scalar_inputs():
    # a scalar input of a batched dot receives g * w summed over the batch, a batched one g * w
    # (its own weight's, not the first one's); s is also used after the dot, so its gradient
    # from there is already in place: they add
    w = [Value(0.5), Value(-1.5), Value(2.0)]
    x = Value(np.array([1.0, 2.0, 4.0]))
    s = Value(3.0)
    g = Value(np.array([1.0, 10.0, 100.0]))
    d = (autograd.dot(w, [s, x, 0.25]) * g).sum()  # 0.5 * 3 * 111 - 1.5 * 421 + 2 * 0.25 * 111
    assert d.data == -409.5
    (d * s).backward()  # the dot's gradient is 3 g
    assert s.grad == -409.5 + 3.0 * 0.5 * 111.0
    assert list(x.grad) == [-4.5, -45.0, -450.0]
    assert [p.grad for p in w] == [9.0 * 111.0, 3.0 * 421.0, 0.75 * 111.0]


def test_dots_over_a_batch_with_computed_weights_passes_their_gradient_on():
    # autograd.dots takes a group's weights in bulk as leaves only when every weight is a leaf;
    # computed weights (tied, scaled) are nodes whose parents need their gradient
    # (a regression: the flag was inverted, and v got 0)
    v = [Value(1.0), Value(2.0), Value(3.0)]
    xs = [Value(np.array(c)) for c in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0])]
    (out,) = autograd.dots([[p * 2.0 for p in v]], xs)
    out.sum().backward()
    assert [p.grad for p in v] == [6.0, 14.0, 22.0]  # 2 * sum(x_i)
    w = [Value(1.0), Value(2.0), Value(3.0)]
    rows = autograd.dots([w, [w[0] * 1.0, w[1], w[2]]], xs)  # one computed weight in the group
    (rows[0] + rows[1]).sum().backward()
    assert [p.grad for p in w] == [6.0, 14.0, 22.0]
