"""What the compile tests share: running a function eagerly and compiled with the same
parameters, and picking the C flags."""
import random

import numpy as np
import pytest

import nn

from autograd import Value
from autograd.compiler import c_backend


def micrograd_demo():
    """micrograd's demo set-up (seeds 1337): X, y in {-1, 1} (moons, n=100), MLP(2, [16, 16, 1])
    and its loss f(X, y) = hinge + 1e-4 L2."""
    random.seed(1337)
    np.random.seed(1337)
    X, y = nn.data.make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1.0
    model = nn.MLP(2, [16, 16, 1])

    def f(X, y):
        return nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-4)
    return X, y, model, f


def values_of(args):
    """A compiled function's arguments as eager Values: a 2-D array is one batched Value per column."""
    return [[Value(c) for c in np.asarray(a, dtype=np.float64).T] if np.ndim(a) == 2 else Value(a) for a in args]


def eager(f, params, *args):
    """(loss, gradients of params) of f run on Values; the gradients are left at 0."""
    return _run(lambda: f(*values_of(args)), params, backward=True)


def compiled(prog, params, *args):
    """(loss, gradients of params) of a compiled program; the gradients are left at 0."""
    return _run(lambda: prog(*args), params, backward=False)


def _run(call, params, backward):
    for p in params:
        p.grad = 0.0
    out = call()
    if backward:
        out.backward()
        out = out.data
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return out, grads


def use_simd(monkeypatch, simd):
    """Compile with -mavx2 (simd) or without it; skips where the CPU has no AVX2."""
    if simd and "-mavx2" not in c_backend.CFLAGS:
        pytest.skip("this CPU has no AVX2")
    monkeypatch.setattr(c_backend, "CFLAGS", [f for f in c_backend.CFLAGS if f != "-mavx2"]
                        + (["-mavx2"] if simd else []))
