"""autograd.layer_kernels: the eager engine's layer products in C give numpy's bits, both give
the sums of the stated order (a plain Python loop here), and an eager step is the same with
the kernels on or off."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd
import nn
from autograd import Value
from autograd import layer_kernels as lk
from autograd.compiler import c_backend, dot_kernels

# shapes across the tiles' edges: rows 6 to a tile, 8 columns, 128 examples to a chunk
SHAPES = [(1, 1, 1), (7, 13, 9), (6, 8, 8), (13, 17, 1), (1, 40, 300), (40, 1, 130), (5, 3, 257),
          (32, 64, 32), (10, 32, 57), (8, 100, 200), (3, 200, 200)]  # the last two: numpy's blocks of 3 rows, one buffer


def bits(a):
    """Equal bits, NaN for NaN (a NaN's sign is the hardware's either way)."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).tobytes()


def data(rng, shape, specials=True):
    a = rng.standard_normal(shape)
    if specials:
        u = rng.random(shape)
        a[u < 0.08] = 0.0
        a[(u >= 0.08) & (u < 0.16)] = -0.0
        a[(u >= 0.16) & (u < 0.18)] = 5e-324  # subnormals: no flush to zero in either
        a[(u >= 0.18) & (u < 0.19)] = 1e300   # products overflow to inf
    return a


def have_compiler():
    try:
        c_backend.find_compiler()
    except c_backend.CompilerNotFound:
        return False
    return True


@pytest.fixture
def c_kernels(monkeypatch):
    """The C kernels for every size: skipped only without a compiler (a build that fails
    where a compiler is fails the test)."""
    if not have_compiler():
        pytest.skip("no C compiler: the kernels run in numpy")
    assert lk._lib() is not None
    monkeypatch.setattr(lk, "MIN_C_WORK", 0)


def py_forward(W, X):
    m, P = W.shape
    out = np.empty((m, X.shape[1]))
    for j in range(m):
        for i in range(X.shape[1]):
            s = 0.0
            for q in range(P):
                s = s + W[j, q] * X[q, i]
            out[j, i] = s
    return out


def py_weight_grads(G, xt):
    m, B = G.shape
    T = np.empty((m, xt.shape[1]))
    for j in range(m):
        for q in range(xt.shape[1]):
            s = -0.0
            for i in range(B):
                s = s + G[j, i] * xt[i, q]
            T[j, q] = s
    return T


def py_input_grads(W, G, acc):
    out = acc.copy()
    for q in range(W.shape[1]):
        for i in range(G.shape[1]):
            s = acc[q, i]
            for j in range(W.shape[0]):
                s = s + W[j, q] * G[j, i]
            out[q, i] = s
    return out


@pytest.mark.parametrize("m,n,B", SHAPES)
def test_numpy_forms_sum_in_the_stated_order(m, n, B):
    rng = np.random.default_rng(m * 1000 + n * 10 + B)
    W, X, G = data(rng, (m, n)), data(rng, (n, B)), data(rng, (m, B))
    acc = data(rng, (n, B))
    with np.errstate(all="ignore"):
        assert bits(lk._forward_np(W, X)) == bits(py_forward(W, X))
        assert bits(lk._weight_grads_np(G, np.ascontiguousarray(X.T))) == bits(py_weight_grads(G, X.T))
        assert bits(lk._input_grads_np(W, G, acc.copy())) == bits(py_input_grads(W, G, acc))


@pytest.mark.parametrize("m,n,B", SHAPES)
def test_c_gives_the_numpy_bits(c_kernels, m, n, B):
    rng = np.random.default_rng(m * 7 + n * 3 + B)
    W, X, G = data(rng, (m, n)), data(rng, (n, B)), data(rng, (m, B))
    acc = data(rng, (n, B))
    xt = np.ascontiguousarray(X.T)
    with np.errstate(all="ignore"):
        assert bits(lk.forward(W, X)) == bits(lk._forward_np(W, X)) == bits(py_forward(W, X))
        assert bits(lk.weight_grads(G, xt)) == bits(lk._weight_grads_np(G, xt))
        got = lk.input_grads(W, G, acc.copy())
        assert bits(got) == bits(lk._input_grads_np(W, G, acc.copy())) == bits(py_input_grads(W, G, acc))


@pytest.mark.parametrize("n,B", [(3, 9), (200, 200)])  # numpy: blocks of rows; one buffer
@pytest.mark.parametrize("form", ["c", "numpy"])
def test_zero_sums_keep_their_sign(c_kernels, n, B, form):
    """A dead relu's gradient row is 0.0: its weights' gradients are sums of +-0.0, whose sign
    depends on the start (-0.0 for the weights, so all-negative inputs give -0.0)."""
    weight_grads, input_grads, forward = (lk.weight_grads, lk.input_grads, lk.forward) if form == "c" else \
        (lk._weight_grads_np, lk._input_grads_np, lk._forward_np)
    G = np.zeros((2, B))
    xt = -np.ones((B, n))
    xt[4, 1] = 1.0
    T = weight_grads(G, xt)
    want = [True] * n
    want[1] = False
    assert np.signbit(T).tolist() == [want] * 2
    acc = np.full((n, B), -0.0)
    out = input_grads(-np.ones((2, n)), G, acc)
    assert np.signbit(out).all()  # -0.0 + (-1 * 0.0) + ... stays -0.0
    assert np.signbit(forward(-np.ones((2, n)), np.zeros((n, B)))).sum() == 0  # from +0.0


@pytest.mark.parametrize("form", ["c", "numpy"])
def test_one_long_column_sums_in_order(c_kernels, form):
    """A batch of one (or one input) is a single column: numpy would sum it pairwise, not in
    order. 1 + 1e-16 + ... (40,000 times) stays 1 in order; pairwise it would not."""
    k = 40000
    forward, weight_grads = (lk.forward, lk.weight_grads) if form == "c" else (lk._forward_np, lk._weight_grads_np)
    W, X = np.ones((1, k)), np.full((k, 1), 1e-16)
    X[0] = 1.0
    assert forward(W, X).tolist() == [[1.0]] == py_forward(W, X).tolist()
    assert weight_grads(W, X).tolist() == [[1.0]]
    assert weight_grads(np.ones((1, 3)), np.ones((3, k)))[0, :3].tolist() == [3.0] * 3
    out = forward(-np.ones((2, 1)), np.zeros((1, k)))  # one input, a long batch: 0.0 + (-0.0)
    assert out.shape == (2, k) and not np.signbit(out).any()


def test_strided_inputs_are_read_as_their_values(c_kernels):
    rng = np.random.default_rng(3)
    W, G = rng.standard_normal((12, 20)), rng.standard_normal((12, 30))
    Wr, Gr = W[::-1], G[::-1]  # as _flush passes the sweep's order
    acc = rng.standard_normal((20, 30))
    assert bits(lk.input_grads(Wr, Gr, acc.copy())) == bits(lk._input_grads_np(Wr, Gr, acc.copy()))
    xt = rng.standard_normal((60, 20))[::2]
    assert bits(lk.weight_grads(Gr, xt)) == bits(lk._weight_grads_np(Gr, np.ascontiguousarray(xt)))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 20), n=st.integers(1, 20), B=st.integers(1, 140), seed=st.integers(0, 2**32 - 1))
def test_c_gives_the_numpy_bits_for_any_shape(m, n, B, seed):
    if not have_compiler():
        pytest.skip("no C compiler")
    rng = np.random.default_rng(seed)
    W, X, G, acc = data(rng, (m, n)), data(rng, (n, B)), data(rng, (m, B)), data(rng, (n, B))
    xt = np.ascontiguousarray(X.T)
    old, lk.MIN_C_WORK = lk.MIN_C_WORK, 0
    try:
        with np.errstate(all="ignore"):
            assert bits(lk.forward(W, X)) == bits(lk._forward_np(W, X))
            assert bits(lk.weight_grads(G, xt)) == bits(lk._weight_grads_np(G, xt))
            assert bits(lk.input_grads(W, G, acc.copy())) == bits(lk._input_grads_np(W, G, acc.copy()))
    finally:
        lk.MIN_C_WORK = old


def eager_step(width, batch, seed=0):
    """One eager step of an MLP with L2 (as micrograd's demo): loss, every parameter's grad."""
    rng = np.random.default_rng(seed)
    model = nn.MLP(3, [width, width, 2], seed=seed)
    X, y = rng.standard_normal((batch, 3)), rng.integers(0, 2, batch)
    loss = nn.losses.cross_entropy(model(X), y) + nn.losses.l2(model.parameters(), 1e-3)
    loss.backward()
    return loss.data, [p.grad for p in model.parameters()]


def test_an_eager_step_is_the_same_with_the_kernels_on_or_off(c_kernels):
    on = eager_step(24, 50)
    lk._state.off = True
    try:
        off = eager_step(24, 50)
    finally:
        lk._state.off = False
    assert on[0] == off[0]
    assert bits(on[1]) == bits(off[1])
    assert len(on[1]) == 24 * 4 + 24 * 25 + 2 * 25


def test_the_kernels_run_in_an_eager_step(c_kernels, monkeypatch):
    """Not only equal: the C functions are the ones called (a numpy form that stood in
    everywhere would pass the test above)."""
    calls = numpy_calls(monkeypatch)
    eager_step(8, 40)
    assert calls == []
    # MLP(3, [8, 8, 2]) on 40 examples: layers of 960, 2560 and 640 products
    monkeypatch.setattr(lk, "MIN_C_WORK", 960)  # the last layer under it
    eager_step(8, 40)
    assert calls == ["forward", "weight_grads", "input_grads"]
    del calls[:]
    monkeypatch.setattr(lk, "MIN_C_WORK", 961)  # the first and the last
    eager_step(8, 40)
    assert calls == ["forward", "forward", "weight_grads", "input_grads", "weight_grads", "input_grads"]


def test_other_number_types_are_read_as_float64(c_kernels):
    W, X = np.array([[1, 2], [3, -1]]), np.array([[0.5, 1.0], [2.0, -3.0]], dtype=np.float32)
    assert lk.forward(W, X).tolist() == [[4.5, -5.0], [-0.5, 6.0]]
    assert lk.weight_grads(W, X.T).tolist() == lk._weight_grads_np(W.astype(float), X.T.astype(float)).tolist()
    acc = np.zeros((2, 2))
    assert lk.input_grads(W, X, acc).tolist() == [[6.5, -8.0], [-1.0, 5.0]]


def numpy_calls(monkeypatch):
    """The names of the numpy forms called from here on (they still compute)."""
    calls = []
    for name in ("forward", "weight_grads", "input_grads"):
        f = getattr(lk, f"_{name}_np")
        monkeypatch.setattr(lk, f"_{name}_np", lambda *a, _n=name, _f=f: calls.append(_n) or _f(*a))
    return calls


@pytest.mark.parametrize("how", ["env", "env with spaces", "thread"])
def test_switched_off(c_kernels, monkeypatch, how):
    """VALUEGRAD_EAGER_C=0, or the thread's switch: numpy computes, for this thread only."""
    calls = numpy_calls(monkeypatch)
    if how == "thread":
        monkeypatch.setattr(lk._state, "off", True, raising=False)
        other = []
        t = threading.Thread(target=lambda: other.append(lk._lib()))
        t.start()
        t.join()
        assert other[0] is not None
    else:
        monkeypatch.setenv("VALUEGRAD_EAGER_C", "0" if how == "env" else " 0 ")
    assert lk._lib() is None
    eager_step(8, 40)
    assert sorted(set(calls)) == ["forward", "input_grads", "weight_grads"]
    monkeypatch.setenv("VALUEGRAD_EAGER_C", "1")
    monkeypatch.setattr(lk._state, "off", False, raising=False)
    del calls[:]
    eager_step(8, 40)
    assert calls == []
    monkeypatch.setattr(lk, "MIN_C_WORK", 0)
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    assert bits(lk.forward(W, X)) == bits(py_forward(W, X))


def test_no_compiler_or_a_failed_build_falls_back_to_numpy(monkeypatch, tmp_path):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(lk, "_loaded", {})

    def missing():
        raise c_backend.CompilerNotFound("none here")
    monkeypatch.setattr(c_backend, "find_compiler", missing)
    assert lk._lib() is None
    monkeypatch.setattr(lk, "_loaded", {})
    monkeypatch.setattr(c_backend, "find_compiler", lambda: ["false"])  # a compiler that fails
    assert lk._lib() is None
    monkeypatch.setattr(lk, "MIN_C_WORK", 0)
    G, xt = np.ones((2, 3)), np.ones((3, 4))
    assert lk.weight_grads(G, xt).tolist() == [[3.0] * 4] * 2


def test_a_failed_build_does_not_stick_to_other_settings(c_kernels, monkeypatch, tmp_path):
    """A test (or a user) that points VALUEGRAD_CC at a broken compiler for a while leaves the
    kernels of the usual setting alone."""
    usual = lk._lib()
    with monkeypatch.context() as mp:
        mp.setenv("VALUEGRAD_CC", "false")
        mp.setenv("VALUEGRAD_CACHE", str(tmp_path))
        assert lk._lib() is None
    assert lk._lib() is usual


def test_the_tile_sizes_are_the_compiled_kernels(c_kernels):
    k = lk._lib()
    assert (k.mr, k.kw) == (dot_kernels.MR, dot_kernels.KC_W)
    assert k.rows(1) == k.rows(6) == 6 and k.rows(7) == 12


def test_threads_share_the_kernels():
    """ctypes lets go of the GIL in the kernels: threads at once keep their own numbers."""
    rng = np.random.default_rng(5)
    jobs = [(rng.standard_normal((40, 50)), rng.standard_normal((50, 200))) for _ in range(4)]
    want = [lk._forward_np(W, X) for W, X in jobs]
    got = [None] * 4

    def run(i):
        for _ in range(20):
            got[i] = lk.forward(*jobs[i])
    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [bits(g) for g in got] == [bits(w) for w in want]


@pytest.mark.parametrize("kernels", ["c", "numpy"])
def test_an_inputs_gradient_of_only_zero_terms_is_minus_zero(kernels, monkeypatch):
    """Dead relus give every dot node the gradient 0.0; negative weights make every term of an
    input's gradient -0.0, and -0.0 + -0.0 is -0.0 (the inputs' sums start from -0.0, not 0.0):
    what the same graph written with one scalar per example gives."""
    if kernels == "numpy":
        monkeypatch.setattr(lk._state, "off", True, raising=False)
    else:
        monkeypatch.setattr(lk, "MIN_C_WORK", 0)
    batch = np.array([1.0, 2.0, 3.0])
    W = [[Value(-0.5 - j - q) for q in range(3)] for j in range(4)]
    s = [Value(1.0 + q) for q in range(3)]  # scalars that meet the batch: their grads are sums
    xs = [sq * batch for sq in s]
    sum(o.relu() for o in autograd.dots(W, xs)).sum().backward()
    ref = [Value(1.0 + q) for q in range(3)]
    sum(autograd.dot([w.data for w in ws], [r * e for r in ref]).relu() for e in batch for ws in W).backward()
    assert [np.signbit(r.grad) for r in ref] == [True] * 3 and [r.grad for r in ref] == [0.0] * 3
    assert bits([x.grad for x in s]) == bits([r.grad for r in ref])


def test_an_accumulator_c_cannot_write_in_place_goes_to_numpy(c_kernels):
    rng = np.random.default_rng(9)
    W, G = rng.standard_normal((5, 7)), rng.standard_normal((5, 11))
    acc = rng.standard_normal((7, 11))
    want = lk._input_grads_np(W, G, acc.copy())
    fortran = np.asfortranarray(acc)
    assert lk.input_grads(W, G, fortran) is fortran and bits(fortran) == bits(want)
    low = acc.astype(np.float32)
    assert lk.input_grads(W, G, low).dtype == np.float32
    assert bits(low) == bits(lk._input_grads_np(W, G, acc.astype(np.float32)))
