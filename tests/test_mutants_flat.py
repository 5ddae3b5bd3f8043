"""flat.py's and c_backend.py's behaviours that mutation testing found unpinned (docs/mutation.md,
"compiler/flat.py" and "compiler/c_backend.py"): the flat C plan on straight-line C code (which,
unlike the layered C code, does not check its gradient's finiteness itself), keyed plans of a
library this process did not build, and a cached parameter order that keeps the first parameter
first. Values come from the eager engine; C tests skip without a compiler."""
import numpy as np
import pytest

import autograd
from autograd import Value
from autograd.compiler import c_backend, cache
from autograd.compiler import flat as flat_mod


def _own_cache(tmp_path, monkeypatch):
    """Skip without a C compiler; a compile cache of the test's own."""
    try:
        c_backend.find_compiler()
    except c_backend.CompilerNotFound:
        pytest.skip("no C compiler")
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))


def _eager(fn, params, theta, *args):
    """(loss, gradients) of the eager engine at theta (a 2-D argument given to fn as its
    columns, as compile does); the parameters are left as they were."""
    args = [[Value(col) for col in a.T] if np.ndim(a) == 2 else a for a in args]
    saved = [(p.data, p.grad) for p in params]
    for p, x in zip(params, theta):
        p.data, p.grad = float(x), 0.0
    try:
        out = fn(*args)
        out.backward()
        return out.data, [float(np.sum(p.grad)) for p in params]
    finally:
        for p, (d, g) in zip(params, saved):
            p.data, p.grad = d, g


def _spy(step):
    """Count the calls served by the Values' path (they still run it)."""
    calls = []
    real = step._through_values
    step._through_values = lambda *a: calls.append(1) or real(*a)
    return calls


# -- the flat C plan on straight-line C code ---------------------------------------------------

def _six_arguments():
    w1, w2, w3 = Value(0.5), Value(-1.25), Value(0.75)

    def f(X, a, y, b, z, c):  # every argument read in its own role, so a misplaced one shows
        e = w1 * X[0] + w2 * X[1] * a - y * b + z * c + w3
        return (e * e).mean()
    rng = np.random.default_rng(11)
    X, y, z = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=4)
    return [w1, w2, w3], f, (X, 1.5, y, -0.5, z, 2.5)


def test_flat_step_on_straight_line_c_code_copies_every_argument_to_its_place(tmp_path, monkeypatch):
    # a 2-D argument (column by column), three numbers between three arrays, a batch given as a
    # Value: each lands at its own offset of the input buffer (scalars at theirs, in order),
    # and a finite result is C's own (straight-line C reports the values' finiteness, flat.py
    # checks the gradient's): eager's numbers, never the Values' path
    _own_cache(tmp_path, monkeypatch)
    params, f, args = _six_arguments()
    prog = autograd.compile(f, *args, backend="c")
    assert "dot_layer" not in prog.source and "vg_grad_checked" not in prog.source  # straight-line C
    step = prog.flat(params[::-1])
    monkeypatch.setattr(step, "_through_values", lambda *a: pytest.fail("went through the Values"))
    X, a, y, b, z, c = args
    theta = np.array([0.25, -1.0, 0.5])
    for call in [(X, a, Value(y), b, z, c), (X * 2.0, -a, y, Value(b * 3.0), Value(z), c - 1.0)]:
        loss, grad = step(theta, *call)
        want_loss, want = _eager(f, params[::-1], theta, *call)
        assert loss == pytest.approx(want_loss, rel=1e-13) and grad == pytest.approx(want, rel=1e-12)
    plan = next(iter(step._plans.values()))[1]
    assert plan.ok and not plan.numpy and not plan.grad_checked


def _overflowing():
    # the values are finite (w * x ~ 1e298), the gradient of w (x summed) overflows to inf
    w = Value(1e-10)
    return w, (lambda x: (w * x).sum()), np.array([1e308, 1e308])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_infinite_gradient_of_straight_line_c_code_goes_through_the_values(tmp_path, monkeypatch):
    # straight-line C's `ok` covers the values only: flat.py checks the gradient, and an
    # infinite one is served by the Values' path (the numpy rerun's numbers, eager's)
    _own_cache(tmp_path, monkeypatch)
    w, fn, x = _overflowing()
    step = autograd.compile(fn, x, backend="c").flat([w])
    calls = _spy(step)
    theta = np.array([1e-10])
    loss, grad = step(theta, x)
    assert calls == [1] and loss == _eager(fn, [w], theta, x)[0] and grad.tolist() == [np.inf]
    loss, grad = step(theta, np.array([1.0, 2.0]))
    assert calls == [1] and loss == _eager(fn, [w], theta, np.array([1.0, 2.0]))[0] and grad.tolist() == [3.0]
    assert not next(iter(step._plans.values()))[1].grad_checked


def _remembered(tmp_path, monkeypatch, fn, params, x, name):
    """Trace fn in a lazy step that remembers its program under `name`; forget every loaded
    library, as a new process would start."""
    _own_cache(tmp_path, monkeypatch)
    first = flat_mod.lazy(fn, params, backend="c", describe=lambda shapes: name)
    first(np.array([p.data for p in params]), x)
    with cache._lock:
        cache._loaded.clear()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_infinite_gradient_of_a_keyed_plan_goes_through_the_values(tmp_path, monkeypatch):
    # a keyed plan of straight-line C (no vg_grad_checked in the library): an overflowing
    # gradient is not the plan's answer; the Values serve it, tracing fn then
    w, fn, x = _overflowing()
    _remembered(tmp_path, monkeypatch, fn, [w], x, "test_mutants_flat overflow")
    traced = []
    step = flat_mod.lazy(lambda x: traced.append(1) or fn(x), [w], backend="c",
                         describe=lambda shapes: "test_mutants_flat overflow")
    theta = np.array([1e-10])
    assert step(theta, np.array([1.0, 2.0]))[1].tolist() == [3.0] and step.keyed_loads == 1 and traced == []
    loss, grad = step(theta, x)
    assert traced == [1] and loss == _eager(fn, [w], theta, x)[0] and grad.tolist() == [np.inf]
    plan = next(iter(step._plans.values()))[1]
    assert isinstance(plan, flat_mod._KeyedPlan) and not plan.grad_checked


def test_a_keyed_plan_of_a_library_built_elsewhere_shares_the_librarys_lock(tmp_path, monkeypatch):
    # in a process that never built the library (no lock for it yet), the keyed plan makes the
    # library's lock; a program traced later from the same library takes that same lock (the
    # library's static arrays are shared by both)
    w, b = Value(0.5), Value(-0.25)
    fn = lambda x: (w * x + b * 2.0).tanh()  # noqa: E731
    _remembered(tmp_path, monkeypatch, fn, [w, b], 2.0, "test_mutants_flat lock")
    monkeypatch.setattr(c_backend, "_LOCKS", {})
    step = flat_mod.lazy(lambda x: pytest.fail("traced"), [w, b], backend="c",
                         describe=lambda shapes: "test_mutants_flat lock")
    theta = np.array([0.75, 0.5])
    loss, grad = step(theta, 2.0)
    want_loss, want = _eager(fn, [w, b], theta, 2.0)
    assert step.keyed_loads == 1
    assert loss == pytest.approx(want_loss, rel=1e-14) and grad == pytest.approx(want, rel=1e-13)
    plan = next(iter(step._plans.values()))[1]
    (lock,) = c_backend._LOCKS.values()
    assert plan.lock is lock and plan.runner.lock is lock
    traced = autograd.compile(fn, 2.0, backend="c")
    assert next(iter(traced.programs.values())).run.lock is lock


# -- c_backend.build: a cached parameter order that keeps the first parameter first ------------

def test_a_cached_parameter_order_starting_at_0_is_applied_on_a_cache_hit(tmp_path, monkeypatch):
    # a generator that keeps the first parameter first but swaps the other two (as a layered
    # plan may): the library is built in that order and its notes say so; a second trace of
    # the same graph, served by the cache, must be permuted to it too (only the identity order
    # may be skipped), or the parameters would be read from each other's slots
    _own_cache(tmp_path, monkeypatch)
    a, b, c = Value(2.0), Value(3.0), Value(5.0)
    fn = lambda x: (a * x + b) * x - c  # noqa: E731
    real = c_backend.generate_any

    def keeps_the_first(t):
        t.permute_params([0, 2, 1])
        return real(t)
    monkeypatch.setattr(c_backend, "generate_any", keeps_the_first)
    first = autograd.compile(fn, 0.5, backend="c")
    (built,) = first.programs.values()
    assert built.compiled_now and len(built.trace.params) == 3
    order = [next(k for k, p in enumerate((a, b, c)) if p is q) for q in built.trace.params]
    with cache._lock:
        cache._loaded.clear()
    again = autograd.compile(fn, 0.5, backend="c")
    (hit,) = again.programs.values()
    assert not hit.compiled_now
    assert [next(k for k, p in enumerate((a, b, c)) if p is q) for q in hit.trace.params] == order
    for x in (0.5, -1.5):
        for p in (a, b, c):
            p.grad = 0.0
        out = again(x)
        assert out == (2.0 * x + 3.0) * x - 5.0
        assert (a.grad, b.grad, c.grad) == (x * x, x, -1.0)
