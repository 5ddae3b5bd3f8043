"""Tests written against surviving mutants of structured.py's C generator (`_Gen`, `_forward`,
`_backward`, `_epilogue`, `_finite`, `_zero_gradients`, `generate`...): small layered graphs
compiled to C and compared with the eager engine bit for bit. Every call must be the C code's
own (no rerun through numpy, which would hide a wrong number behind eager's), and each program
runs more than once on other data (GM and the scratch arrays are static: nothing may be left
over from the call before). docs/mutation.md lists the mutants they kill."""
import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Value

from compare_compiled import compiled, eager

pytestmark = pytest.mark.usefixtures("private_cache")  # C programs: never the user's cache


def same(got, want, rtol=0.0):
    """Equal as the README promises for nn's models: ==, NaN where eager has NaN (the sign of an
    all-zero gradient is the C kernels' own: tests/test_compile_dot_tiles.py); or to rtol where
    C's libm and numpy's may differ in the last bit (exp, log)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=0.0, equal_nan=True)


def layered_c(f, *args):
    """f compiled to C; its one program must be structured.py's (the layered code)."""
    with np.errstate(all="ignore"):
        prog = autograd.compile(f, *args, backend="c")
    (p,) = prog.programs.values()
    assert "VG_FIN = VG_Z;" in p.source, p.source[:300]
    return prog, p


def same_as_eager(f, params, *calls, finite=True, rtol=0.0):
    """Compile f on the first call's arguments, then run every call (a tuple of arguments)
    compiled and eager: output and gradients the same bits, each call served by the C code
    alone (finite=True) or handed to numpy as non-finite (finite=False), no retrace."""
    prog, p = layered_c(f, *calls[0])
    for args in calls:
        with np.errstate(all="ignore"):
            want_out, want = eager(f, params, *args)
            got_out, got = compiled(prog, params, *args)
        assert p.run.finite is finite
        assert same(got_out, want_out, rtol), (got_out, want_out)
        for j, (a, b) in enumerate(zip(got, want)):
            assert same(a, b, rtol), (j, a, b)
    assert prog.traces == 1
    return p


def rows(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


def test_mlp_over_a_batch_called_three_times():
    """A three-layer MLP with tanh and relu, mse: three calls on other data (the second and
    third find GM and the kernels' scratch as the call before left them)."""
    model = nn.MLP(3, [5, 4, 1], seed=1)

    def f(X, y):
        return nn.losses.mse(model(X), y)
    same_as_eager(f, model.parameters(), *[(rows(s, 7, 3), rows(s + 9, 7)) for s in range(3)])


def test_mlp_over_scalars():
    """Batch 0: every value one number; the layers are folds (no dot kernel), the biases'
    gradients added outside the loops over examples."""
    model = nn.MLP(3, [4, 3, 1], seed=2)

    def f(*x):
        return (model(list(x)) - 0.5) ** 2
    p = same_as_eager(f, model.parameters(), *[tuple(rows(s, 3)) for s in range(2)])
    assert not re.search(r"vg_dot_fwd\(M, \d", p.source)


def test_groups_with_constants_and_batch_reductions():
    """Elementwise groups with a constant (leaky_relu's slope, clamp's two bounds, a power),
    and batch means and sums of several members, of batched and of scalar operands."""
    model = nn.MLP(3, [4, 4], seed=3)
    c = Value(0.7)

    def f(X):
        z = model(X)
        a = [v.leaky_relu(0.3) for v in z]
        b = [v.clamp(-0.2, 0.4) for v in z]
        d = [v ** 3 for v in z]
        means = [v.mean() for v in a] + [v.sum() for v in b]
        s = [(c * (k + 1.0)).mean() for k in range(3)]
        return autograd.sum(means + s + [v.mean() for v in d])
    same_as_eager(f, model.parameters() + [c], (rows(4, 6, 3),), (rows(5, 6, 3),))


def test_guards_on_numbers_and_a_batch_after_a_layer():
    """Three guarded values, a number, a batch and a number (each at its own place in the
    guards buffer, the batch whole): all hold on both calls, so one trace serves them. Each
    guard fails if it reads 0.0 or its neighbour instead of its own value."""
    model = nn.MLP(2, [3, 2], seed=4)

    def f(X):
        z = model(X)
        s = autograd.sum([(v * v).mean() for v in z]) + 1.0  # >= 1
        u = z[1] * z[1] + 2.0  # every example >= 2
        r = s * -1.0 - 5.0  # <= -6
        t = s * 2.0 if s > 0.5 else s * 3.0
        t = t if (u > 1.5).all() else t * 5.0
        return t * 7.0 if r < -5.5 else t
    same_as_eager(f, model.parameters(), (rows(6, 5, 2),), (rows(7, 5, 2),))


def test_batched_output_without_gradient():
    """A batched root (grad=False): every example of it copied out."""
    model = nn.MLP(3, [4, 1], seed=5)
    X = rows(8, 6, 3)
    prog, p = layered_c(lambda X: model(X), X)
    for X in (X, rows(9, 6, 3)):
        want = model([Value(c) for c in X.T]).data
        assert same(prog(X, grad=False), want)


@pytest.mark.parametrize("where", ["layer", "activation", "root"])
def test_a_non_finite_value_anywhere_is_seen(where):
    """An infinity in a layer's output, in the group after it, or in the root (the first and
    the last stretch of M's values): the call is handed to numpy (run.finite False), and the
    eager numbers come out; a finite call afterwards is C's own again."""
    model = nn.MLP(2, [3, 1], seed=6)
    w = model.layers[0].neurons[1].w

    def f(X):
        z = model(X)
        return (((z * z + 1.0) * scale) * 10.0 if where == "root" else z).mean()  # a scale of 1e308: inf
    X = rows(10, 4, 2)
    big, scale = X.copy(), Value(1.0)
    if where == "layer":  # a pre-activation of -inf that relu turns into 0
        w[0].data, big = -1e308, np.full((4, 2), 10.0)
    elif where == "activation":
        big[2, 0] = np.inf
    else:
        scale.data = 1e308
    same_as_eager(f, model.parameters() + [scale], (big,), finite=False)
    w[0].data, scale.data = 0.5, 1.0
    same_as_eager(f, model.parameters() + [scale], (X,))


def test_a_large_layer_checks_its_own_values():
    """64 neurons over 512 examples (32768 values: the kernel's epilogue checks them, and
    vg_all_finite the rest), gradients written first over long stretches (GM not zeroed
    there): two calls on other data, then a hidden infinity in the big layer."""
    model = nn.MLP(2, [64, 1], seed=7)

    def f(X, y):
        return nn.losses.hinge(model(X), y)
    calls = [(rows(s, 512, 2), np.sign(rows(s + 1, 512)) + 0.0) for s in (11, 12)]
    p = same_as_eager(f, model.parameters(), *calls)
    assert "vg_fin8(M" in p.source
    w = model.layers[0].neurons[5].w
    w[0].data = -1e308
    same_as_eager(f, model.parameters(), (np.full((512, 2), 10.0), calls[0][1]), finite=False)
    w[0].data = 0.25


def test_blocks_mixing_scalars_and_batches():
    """Dots whose input block holds a batch and a scalar parameter (the stride over examples
    read from a table), and a single member whose scalar operand meets a batch (its gradient
    summed over the examples in a loop of its own)."""
    rng = np.random.default_rng(13)
    W = [[Value(float(v)) for v in r] for r in rng.normal(size=(3, 3))]
    c, d = Value(0.3), Value(-1.1)

    def f(X):
        zs = [autograd.dot(W[j], [X[0], c, X[1]]) for j in range(3)]
        e = (X[0] * d).relu()  # arithmetic only (C's tanh and numpy's may differ in the last bit)
        return autograd.sum([(z * z).mean() for z in zs] + [e.mean()])
    params = [p for r in W for p in r] + [c, d]
    same_as_eager(f, params, (rows(14, 5, 2),), (rows(15, 5, 2),))


@pytest.mark.parametrize("batch", [0, 3])
def test_logsumexp_and_sums_of_layers(batch):
    """n-ary groups other than a layer's dots: logsumexp of several rows (the fold's PRE
    scratch) and sums of a layer's outputs, over a batch and over scalars."""
    model = nn.MLP(3, [4, 4], seed=8)

    def f(*a):
        z = model(a[0] if batch else list(a))
        ls = [autograd.logsumexp([z[j], z[(j + 1) % 4]]) for j in range(4)]
        ss = [autograd.sum([z[j], z[3 - j], z[0]]) for j in range(4)]
        out = autograd.sum([u * v for u, v in zip(ls, ss)])
        return out.mean() if batch else out
    calls = [(rows(s, batch, 3),) if batch else tuple(rows(s, 3)) for s in (16, 17)]
    same_as_eager(f, model.parameters(), *calls, rtol=1e-13)  # exp and log: libm's last bit


def test_a_layer_over_eighty_examples_twice():
    """Batch 80 (whole rows of 64 bytes: groups aligned to 8 doubles), layers whose input
    gradient is written first over stretches of more than 64 doubles: GM zeroed around them,
    and the second call still finds every sum starting from zero."""
    model = nn.MLP(3, [8, 6, 1], seed=9)

    def f(X):
        return (model(X) ** 2).mean()
    same_as_eager(f, model.parameters(), (rows(18, 80, 3),), (rows(19, 80, 3),))


def test_two_groups_chained_over_the_first_rows_of_a_layer():
    """A layer of 4 dots, then z0 * 2, z1 * 2 and their + 1 (groups of 2 members over the
    layer's first rows, one reading the other): not the layer's epilogue, which runs over all 4
    rows and would write past them into the next group's values."""
    rng = np.random.default_rng(20)
    W = [[Value(float(v)) for v in r] for r in rng.normal(size=(4, 3))]

    def f(X):
        z = [autograd.dot(w, X) for w in W]
        h1 = [z[0] * 2.0, z[1] * 2.0]
        h2 = [v + 1.0 for v in h1]
        return autograd.sum([v.mean() for v in z] + [(v * v).mean() for v in h2])
    same_as_eager(f, [p for r in W for p in r], (rows(21, 5, 3),), (rows(22, 5, 3),))


def test_a_scalar_computed_after_the_layer_is_read_after_it():
    """z = a layer of 4 dots, s = z[0].mean() (computed after the layer, in a loop of its own),
    then z[j] * s for every row: that group reads s, so it cannot run inside the layer's kernel
    (s is not there yet: 0.0 on the first call, the call before's on the next)."""
    rng = np.random.default_rng(23)
    W = [[Value(float(v)) for v in r] for r in rng.normal(size=(4, 3))]

    def f(X):
        z = [autograd.dot(w, X) for w in W]
        s = z[0].mean()
        return autograd.sum([(v * s).mean() for v in reversed(z)])  # (the layer's row order)
    p = same_as_eager(f, [p for r in W for p in r], (rows(24, 5, 3),), (rows(25, 5, 3),))
    assert re.search(r"M\[\(\d+ \+ j \* 5\) \+ i\] \* M\[\d+\];", p.source)  # its own loop, rows by stride


def test_dots_over_inputs_without_a_layer_pattern():
    """Dots that are not a layer: each over its own pair of columns (pairs in no order: rows of
    one stride whose starts follow no pattern, a table), over one column twice (every member's
    row the same node three times), and over the batch as weights with scalar parameters as inputs
    (only the inputs need a gradient)."""
    rng = np.random.default_rng(26)
    W = [[Value(float(v)) for v in r] for r in rng.normal(size=(3, 2))]
    V = [[Value(float(v)) for v in r] for r in rng.normal(size=(3, 3))]
    c = [Value(0.4), Value(-0.8)]
    pairs = [(2, 3), (0, 1), (4, 5)]

    def f(X):
        own = [autograd.dot(W[j], [X[a], X[b]]) for j, (a, b) in enumerate(pairs)]
        twice = [autograd.dot(V[j], [X[0], X[0], X[0]]) for j in range(3)]  # a group of its own
        back = [autograd.dot([X[j], X[j + 1]], c) for j in range(3)]
        return autograd.sum([(v * v).mean() for v in own + twice + back])
    params = [p for r in W + V for p in r] + c
    same_as_eager(f, params, (rows(27, 4, 6),), (rows(28, 4, 6),))
