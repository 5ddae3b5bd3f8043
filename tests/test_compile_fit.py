"""nn.fit(compile=True) pays tracing, code generation and the cache lookup once per model:
later fit calls reuse the step, give the eager engine's numbers, and the model can still be
freed. Layered graphs (compiler/structured.py) against the eager engine on nn models.
"""
import gc
import weakref

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.compiler import c_backend
from autograd.compiler.trace import trace
from nn.train import _CompiledStep


pytestmark = pytest.mark.usefixtures("private_cache")


def test_fit_twice_traces_once_and_equals_eager():
    X, y = nn.data.make_moons(90, noise=0.1, random_state=0)

    def run(compile):
        model = nn.MLP(2, [8, 2], init="he", seed=0)
        opt = nn.optim.SGD(model.parameters(), lr=0.1)
        hs = [nn.fit(model, "cross_entropy", opt, X, y, epochs=2, batch_size=32, progress=False, seed=k,
                     compile=compile) for k in range(2)]
        return model, hs, [p.data for p in model.parameters()]
    _, h_eager, w_eager = run(False)
    model, h_comp, w_comp = run(True)
    (step,) = _CompiledStep._cache[model].values()
    assert step.flat.compiled.traces == 2  # batches of 32 and the last one of 26: once each
    for he, hc in zip(h_eager, h_comp):
        assert hc["loss"] == pytest.approx(he["loss"], rel=1e-12, abs=0)
    assert w_comp == pytest.approx(w_eager, rel=1e-12, abs=1e-15)


def test_compiled_fit_lets_the_model_go():
    X, y = nn.data.make_moons(40, noise=0.1, random_state=0)
    model = nn.MLP(2, [4, 1], output_activation="sigmoid", seed=0)
    nn.fit(model, "binary_cross_entropy", nn.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
           progress=False, compile=True)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def _eager_and_compiled(f, params, args):
    for p in params:
        p.grad = 0.0
    out = f(*[[Value(c) for c in a.T] if a.ndim == 2 else Value(a) for a in args])
    out.backward()
    want = (out.data, [p.grad for p in params])
    prog = autograd.compile(f, *args, backend="c")
    for p in params:
        p.grad = 0.0
    got = (prog(*args), [p.grad for p in params])
    return prog, want, got


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("batch", [1, 7, 33])
def test_layered_c_equals_eager(activation, batch):
    """Widths that are not multiples of the kernels' blocks, odd batches, every activation,
    hinge + L2 (parameters used by a dot and by the penalty): the eager numbers to 1e-12, and in
    fact the same bits for these relu/hinge graphs (the sums run in the eager order)."""
    rng = np.random.default_rng(batch)
    model = nn.MLP(3, [6, 5, 1], activation=activation, seed=1)
    X = rng.normal(size=(batch, 3))
    y = np.where(rng.normal(size=batch) > 0, 1.0, -1.0)
    f = lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-3)  # noqa: E731
    params = model.parameters()
    prog, (want_out, want), (got_out, got) = _eager_and_compiled(f, params, (X, y))
    assert "vg_dot_fwd(" in prog.source  # the layered generator ran
    assert got_out == pytest.approx(want_out, rel=1e-12, abs=0)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
    if activation == "relu":
        assert got_out == want_out and got == want


def test_layered_cross_entropy_equals_eager():
    rng = np.random.default_rng(0)
    model = nn.MLP(9, [13, 4], init="he", seed=0)
    X = rng.normal(size=(21, 9))
    Y = np.eye(4)[rng.integers(0, 4, 21)]
    f = lambda X, Y: nn.losses.cross_entropy(model(X), Y)  # noqa: E731
    params = model.parameters()
    prog, (want_out, want), (got_out, got) = _eager_and_compiled(f, params, (X, Y))
    assert got_out == pytest.approx(want_out, rel=1e-12, abs=0)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_layered_code_size_grows_with_layers_not_weights():
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    sizes = []
    for width in (8, 64, 256):
        model = nn.MLP(2, [width, width, 1], seed=0)
        f = lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-4)  # noqa: E731
        sizes.append(len(c_backend.generate_any(trace(f, [X, y]))[0]))
    assert max(sizes) < 1.2 * min(sizes), sizes  # 66,000 weights or 100: the same code


def test_flat_step_copies_one_block_for_nn_models():
    model = nn.MLP(2, [5, 3, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    f = lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-4)  # noqa: E731
    flat = autograd.compile(f, X, y, backend="c").flat(model.parameters())
    theta = np.array([p.data for p in model.parameters()])
    loss, grad = flat(theta, X, y)
    (plan,) = [p for _, p in flat._plans.values()]
    assert plan.span is not None  # the parameters sit in the model's order: no gather
    model.zero_grad()
    L = f(*[[Value(c) for c in X.T], Value(y)])
    L.backward()
    assert loss == L.data
    assert grad.tolist() == [p.grad for p in model.parameters()]


@pytest.mark.parametrize("simd", [True, False])
def test_layered_kernels_same_bits_with_and_without_avx2(monkeypatch, simd):
    """The 4-double vector kernels (built with -mavx2 where the CPU has it) and the portable
    ones give the eager engine's bits on a relu MLP with hinge + L2."""
    flags = [f for f in c_backend.CFLAGS if f != "-mavx2"] + (["-mavx2"] if simd else [])
    if simd and "-mavx2" not in c_backend.CFLAGS:
        pytest.skip("this CPU has no AVX2")
    monkeypatch.setattr(c_backend, "CFLAGS", flags)
    rng = np.random.default_rng(3)
    model = nn.MLP(5, [19, 9, 1], seed=2)
    X = rng.normal(size=(37, 5))
    y = np.where(rng.normal(size=37) > 0, 1.0, -1.0)
    f = lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-3)  # noqa: E731
    prog, (want_out, want), (got_out, got) = _eager_and_compiled(f, model.parameters(), (X, y))
    assert got_out == want_out and got == want


def test_layer_with_a_repeated_input_keeps_every_gradient():
    """Dots sharing an input list that holds one Value twice: the input's gradient is the sum
    of both uses (the blocked kernel would keep one; such a group takes the general loops)."""
    rng = np.random.default_rng(0)
    ws = [[Value(float(v)) for v in rng.normal(size=5)] for _ in range(5)]
    a = Value(0.3)
    params = [w for row in ws for w in row] + [a]

    def f(x):
        h = (a * x).tanh()
        inputs = [h, x, h, (x * a).exp(), x]
        return autograd.sum([autograd.dot(row, inputs).tanh() for row in ws]).mean()
    x = rng.normal(size=9)
    _, (want_out, want), (got_out, got) = _eager_and_compiled(f, params, (x,))
    assert got_out == pytest.approx(want_out, rel=1e-12, abs=0)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)


def _digits_like(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), rng.integers(0, k, n)


def test_compiled_fit_writes_the_values_for_every_epoch_a_callback_sees():
    """The Values are written back once at the end, or after each epoch when something reads
    them (here a callback): the weights it sees are eager's, epoch by epoch."""
    X, y = _digits_like()
    seen = {}
    for compile in (False, True):
        model = nn.MLP(4, [5, 3], init="he", seed=0)

        class Watch:
            def on_epoch_end(self, epoch, logs, m):
                seen.setdefault(compile, []).append([p.data for p in m.parameters()])
        nn.fit(model, "cross_entropy", nn.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3, batch_size=16,
               progress=False, compile=compile, callbacks=[Watch()])
    assert len(seen[True]) == 3
    for a, b in zip(seen[True], seen[False]):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def test_compiled_fit_sees_labels_changed_in_place():
    """The one-hot targets of the last call are reused only for equal labels."""
    X, y = _digits_like()
    model = nn.MLP(4, [5, 3], init="he", seed=0)
    ref = nn.MLP(4, [5, 3], init="he", seed=0)
    kw = dict(epochs=1, batch_size=16, progress=False, shuffle=False)
    opt, opt_ref = nn.optim.SGD(model.parameters(), lr=0.1), nn.optim.SGD(ref.parameters(), lr=0.1)
    nn.fit(model, "cross_entropy", opt, X, y, compile=True, **kw)
    nn.fit(ref, "cross_entropy", opt_ref, X, y, **kw)
    y[:7] = (y[:7] + 1) % 3  # the same array object, other labels
    h = nn.fit(model, "cross_entropy", opt, X, y, compile=True, **kw)
    h_ref = nn.fit(ref, "cross_entropy", opt_ref, X, y, **kw)
    assert h["loss"] == pytest.approx(h_ref["loss"], rel=1e-12)
    assert [p.data for p in model.parameters()] == pytest.approx([p.data for p in ref.parameters()], rel=1e-12,
                                                                  abs=1e-15)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 1e308 * w overflows on purpose
def test_compiled_fit_interrupted_keeps_the_last_steps_weights():
    """An exception inside an epoch (here a non-finite loss at the second batch) leaves the
    Values at the weights of the last good step, as the eager path does."""
    X, y = _digits_like()
    X[20, 0] = 1e308  # batch 2 (rows 16-31): the weights blow up, a later loss is NaN
    runs, messages = [], []
    for compile in (False, True):
        model = nn.MLP(4, [5, 3], init="he", seed=0)
        with pytest.raises(nn.NonFiniteLossError, match="epoch 1, batch") as e:
            nn.fit(model, "cross_entropy", nn.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                   batch_size=16, progress=False, shuffle=False, compile=compile)
        runs.append([p.data for p in model.parameters()])
        messages.append(str(e.value))
    assert messages[0] == messages[1]
    assert runs[1] == pytest.approx(runs[0], rel=1e-12, abs=1e-15, nan_ok=True)
    assert not np.isfinite(runs[0]).all() or runs[0] != [p.data for p in nn.MLP(4, [5, 3], init="he", seed=0).parameters()]
