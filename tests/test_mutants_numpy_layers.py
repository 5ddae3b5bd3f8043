"""numpy_layers.py's behaviours that its surviving mutants changed (docs/mutation.md,
"compiler/numpy_layers.py"): a guard's nodes inside a layer's groups, the order of the gradient
terms a leaf waiting in TB gets, a node two members read at two positions. Each compares the
compiled program with the eager engine bit for bit and checks which code served the call (the
layered code, with no call rerun through the straight-line code, or the straight-line code)."""
import math

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.compiler import c_backend

from compare_compiled import compiled, eager


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def same_as_eager(f, params, *args, layers=True):
    """Compile f for numpy, run it and eager f: the output and every gradient the same bits;
    the program is the layered code (layers=True, and no call fell back to the straight-line
    code) or the straight-line code (False)."""
    prog = autograd.compile(f, *args, backend="numpy")
    want_out, want = eager(f, params, *args)
    got_out, got = compiled(prog, params, *args)
    (p,) = prog.programs.values()
    assert ("GM.fill" in p.source) == layers, p.source[:400]
    assert getattr(p.run, "fallbacks", 0) == 0
    assert bits(got_out) == bits(want_out), (got_out, want_out)
    for j, (a, b) in enumerate(zip(got, want)):
        assert bits(a) == bits(b), (j, a, b)
    return p


# -- a guard's nodes: grouped with the loss's, but nobody needs their gradient -------------------

@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_guard_on_a_layers_output_keeps_eagers_order_of_gradient_terms(backend, private_cache):
    """BUG (trace.py, _record): the trace walked the guard's Values before the output, so the
    nodes a guard reaches (z0 and the layers under it) came first in the trace's order, the
    gradient terms were added in another order than eager's, and nine of the 16 gradients
    differed from eager's in the last bit (straight-line and layered code alike)."""
    model = nn.MLP(3, [4, 3], seed=2)
    c = Value(0.7)
    X = np.random.default_rng(0).normal(size=(6, 3))

    def f(X, s):
        z = model(X)
        loss = autograd.sum([(zi * c).mean() for zi in z])
        return loss * 2.0 if (z[0] * s).sum() > 0 else loss
    params = model.parameters() + [c]
    if backend == "c":
        try:
            c_backend.find_compiler()
        except c_backend.CompilerNotFound:
            pytest.skip("no C compiler")
    prog = autograd.compile(f, X, 1.0, backend=backend)
    want_out, want = eager(f, params, X, 1.0)
    got_out, got = compiled(prog, params, X, 1.0)
    assert bits(got_out) == bits(want_out)
    assert [j for j, (a, b) in enumerate(zip(got, want)) if bits(a) != bits(b)] == []
