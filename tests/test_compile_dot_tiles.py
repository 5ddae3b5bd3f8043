"""The dot kernels' register tiles (compiler/dot_kernels.py: 6 rows x 8 columns, rows and
columns padded with zeros to whole tiles) at widths and batches that leave every kind of
remainder: a tile of one row or one example, the weight gradient's chunks of 128 examples.
Micrograd's demo loss (hinge + L2) and softmax cross-entropy, compiled C equal to the eager
engine to the last bit."""
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
    out = f(*[[Value(c) for c in a.T] if a.ndim == 2 else Value(a) for a in args])
    out.backward()
    return out.data, [p.grad for p in params]


def _same_bits(got, want):
    """Equal as the README promises (==, NaN where the eager engine has NaN; +0.0 == -0.0: an
    all-zero gradient's sign of zero is the flat step's own, as before these kernels)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and np.array_equal(got, want, equal_nan=True)


# (width, batch): widths 2, 3, 7, 9, 17 leave 2, 3, 1, 3, 5 rows in the last tile of 6 and
# 2, 3, 7, 1, 1 inputs in the last panel of 8 (the output layer: a tile of 1 row); batches 1,
# 5, 13, 257 leave 1, 5, 5, 1 examples in the last tile of 8, and 257 is two chunks of 128 and
# one more example. (Width 1 has no layer of several dots: straight-line code, tested elsewhere.)
CASES = [(2, 1), (3, 5), (7, 13), (9, 257), (17, 13), (17, 257), (3, 257), (7, 1)]


@pytest.mark.parametrize("width, batch", CASES)
def test_demo_loss_equals_eager_bit_for_bit(monkeypatch, width, batch):
    use_simd(monkeypatch, True)
    rng = np.random.default_rng(width * 1000 + batch)
    model = nn.MLP(2, [width, width, 1], seed=batch)
    X = rng.normal(size=(batch, 2))
    y = np.where(rng.random(batch) < 0.5, -1.0, 1.0)

    def f(X, y):
        return nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-4)
    params = model.parameters()
    want_loss, want = _eager(f, params, (X, y))
    prog = autograd.compile(f, X, y, backend="c")
    assert "vg_dot_fwd(" in prog.source and "vg_dot_bwd_x(" in prog.source
    theta = np.array([p.data for p in params])
    loss, grad = prog.flat(params)(theta, X, y)
    assert _same_bits(loss, want_loss)
    assert _same_bits(grad, want)


@pytest.mark.parametrize("simd", [True, False], ids=["avx2", "portable"])
@pytest.mark.parametrize("width, batch", [(9, 13), (17, 257)])
def test_cross_entropy_equals_eager_bit_for_bit(monkeypatch, simd, width, batch):
    """Three layers (the middle one's input gradient runs too), ten classes."""
    use_simd(monkeypatch, simd)
    rng = np.random.default_rng(width + batch)
    model = nn.MLP(5, [width, width + 2, 10], seed=width)
    X = rng.normal(size=(batch, 5))
    Y = nn.data.one_hot(rng.integers(0, 10, batch), 10)
    f = lambda X, Y: nn.losses.cross_entropy(model(X), Y)  # noqa: E731
    params = model.parameters()
    want_loss, want = _eager(f, params, (X, Y))
    prog = autograd.compile(f, X, Y, backend="c")
    theta = np.array([p.data for p in params])
    for _ in range(2):  # twice: no sum left over from the first call
        loss, grad = prog.flat(params)(theta, X, Y)
        assert _same_bits(loss, want_loss)
        assert _same_bits(grad, want)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # the eager engine's, on -1e308 * 10
@pytest.mark.parametrize("width, batch", [(7, 8), (7, 13), (64, 512)])
def test_a_hidden_infinity_the_activation_hides_is_still_seen(monkeypatch, width, batch):
    """A pre-activation of -inf that relu turns into 0: the loss and the gradient are finite,
    but a value is not, so the step goes through the Values (as the straight-line code does).
    A large layer's kernel checks the values it writes (its epilogue), a small one's are left
    to vg_all_finite."""
    from autograd.compiler import flat
    model = nn.MLP(2, [width, 1], seed=0)
    model.layers[0].neurons[3].w[0].data = -1e308
    X = np.full((batch, 2), 10.0)
    y = np.ones(batch)
    f = lambda X, y: nn.losses.hinge(model(X), y)  # noqa: E731
    params = model.parameters()
    prog = autograd.compile(f, X, y, backend="c")
    assert ("vg_fin8(M" in prog.source) == (width * batch >= 32768)
    calls = []
    through = flat.FlatStep._through_values
    monkeypatch.setattr(flat.FlatStep, "_through_values", lambda self, *a: calls.append(1) or through(self, *a))
    theta = np.array([p.data for p in params])
    with np.errstate(all="ignore"):
        loss, grad = prog.flat(params)(theta, X, y)
        want_loss, want = _eager(f, params, (X, y))
    assert calls and np.isfinite(loss) and np.isfinite(grad).all()
    assert _same_bits(loss, want_loss) and _same_bits(grad, want)
    model.layers[0].neurons[3].w[0].data = -1.0  # all finite again: the C code's own numbers
    theta = np.array([p.data for p in params])
    calls.clear()
    loss, grad = prog.flat(params)(theta, X, y)
    want_loss, want = _eager(f, params, (X, y))
    assert not calls and _same_bits(loss, want_loss) and _same_bits(grad, want)
