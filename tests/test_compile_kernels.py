"""The layered C kernels (compiler/structured.py) at the edges of their tiles, chunks and panels:
batches of 1, one under and over a tile, over a chunk of the weight-gradient kernel (256
examples), inputs that do not fill a panel of 8; with 4-double vectors (AVX2) and without.
The same bits as the eager engine. And the flat step's own checks (compile(...).flat)."""
import numpy as np
import pytest

import autograd
import nn
from autograd import Value

from compare_compiled import use_simd


pytestmark = pytest.mark.usefixtures("private_cache")


def _eager(f, params, args):
    for p in params:
        p.grad = 0.0
    out = f(*[[Value(c) for c in a.T] for a in args])
    out.backward()
    return out.data, [p.grad for p in params]


@pytest.mark.parametrize("simd", [True, False], ids=["avx2", "portable"])
@pytest.mark.parametrize("batch, nin", [(1, 13), (31, 2), (32, 13), (33, 2), (257, 13), (600, 2)])
def test_kernels_equal_eager_bit_for_bit(monkeypatch, simd, batch, nin):
    use_simd(monkeypatch, simd)
    rng = np.random.default_rng(batch)
    model = nn.MLP(nin, [11, 9, 3], seed=batch)
    X = rng.normal(size=(batch, nin))
    Y = nn.data.one_hot(rng.integers(0, 3, batch), 3)
    f = lambda X, Y: nn.losses.cross_entropy(model(X), Y)  # noqa: E731
    params = model.parameters()
    want_loss, want = _eager(f, params, (X, Y))
    prog = autograd.compile(f, X, Y, backend="c")
    assert "vg_dot_bwd_w" in prog.source  # the layered kernels ran, not straight-line code
    theta = np.array([p.data for p in params])
    loss, grad = prog.flat(params)(theta, X, Y)
    assert loss == want_loss
    assert grad.tolist() == want


def test_flat_step_takes_integer_arrays_and_values():
    """Arguments are copied into the program's own buffer: ints are converted, Values read."""
    model = nn.MLP(3, [4, 1], seed=0)
    X = np.arange(15).reshape(5, 3) % 4
    y = np.array([1, -1, 1, 1, -1])
    f = lambda X, y: nn.losses.hinge(model(X), y)  # noqa: E731
    prog = autograd.compile(f, X.astype(float), y.astype(float), backend="c")
    step = prog.flat(model.parameters())
    theta = np.array([p.data for p in model.parameters()])
    want = step(theta, X.astype(float), y.astype(float))
    for args in [(X, y), (X.astype(float), Value(y.astype(float)))]:
        loss, grad = step(theta, *args)
        assert loss == want[0] and grad.tolist() == want[1].tolist()
    loss, _ = step(theta, X[:2].astype(float), y[:2].astype(float))  # another shape: another program
    assert loss == f([Value(c) for c in X[:2].T.astype(float)], Value(y[:2].astype(float))).data


def test_flat_step_non_finite_gradient_goes_through_the_values():
    """A finite loss whose gradient is not (sqrt at 0): the C code says so, and the step gives
    the eager engine's numbers (NaN where it has NaN)."""
    model = nn.MLP(2, [3, 1], seed=0)
    X = np.ones((4, 2))
    f = lambda X: ((model(X) * 0.0) ** 0.5).mean()  # noqa: E731
    params = model.parameters()
    prog = autograd.compile(f, X, backend="c")
    assert "vg_dot_bwd_w" in prog.source
    with np.errstate(all="ignore"):
        loss, grad = prog.flat(params)(np.array([p.data for p in params]), X)
        want_loss, want = _eager(f, params, (X,))
    assert loss == want_loss == 0.0
    assert not np.isfinite(grad).all()
    np.testing.assert_array_equal(grad, want)


@pytest.mark.parametrize("batch", [5, 40])
def test_gradients_written_first_or_added(batch):
    """A layer's outputs feed the next layer and also h * h, h + h (a node twice in one
    operation) and exp(h): the first gradient written into a slot stores (0.0 + the term, so
    the slot needs no zeroing), later ones add. The eager engine's numbers (to 1e-12: a node
    with consumers in several groups gets their terms in another order than the sweep)."""
    rng = np.random.default_rng(batch)
    model = nn.MLP(4, [6, 3], seed=batch)
    l1, l2 = model.layers
    X = rng.normal(size=(batch, 4))

    def f(X):
        h = l1(X)
        extra = autograd.sum([a * a + (a + a).tanh() + a.exp() for a in h])
        return (autograd.sum(l2(h)) + extra).mean()
    params = model.parameters()
    want_loss, want = _eager(f, params, (X,))
    prog = autograd.compile(f, X, backend="c")
    assert "vg_dot_bwd_x(M, GM, 1," in prog.source  # the next layer writes h's gradient first
    for p in params:
        p.grad = 0.0
    for _ in range(2):  # twice: nothing left over from the first call
        got_loss, grad = prog.flat(params)(np.array([p.data for p in params]), X)
        assert got_loss == pytest.approx(want_loss, rel=1e-12)
        np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-300)
