"""Tests written against surviving mutants of the layered code: autograd/compiler/numpy_layers.py
(the numpy backend's matrix code for groups of dot nodes) and autograd/compiler/structured.py
(finding the groups). Each compares a compiled program with the eager engine bit for bit on a
small graph that reaches the branch a mutant changed (docs/mutation.md lists them)."""
import numpy as np
import pytest

import autograd
import nn
from autograd import Value

from compare_compiled import compiled, eager


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def same_as_eager(f, params, *args, backend="numpy"):
    prog = autograd.compile(f, *args, backend=backend)
    want_out, want = eager(f, params, *args)
    got_out, got = compiled(prog, params, *args)
    assert bits(got_out) == bits(want_out)
    for j, (a, b) in enumerate(zip(got, want)):
        assert bits(a) == bits(b), (j, a, b)
    return prog


def test_odd_width_layer_without_bias_equals_eager():
    """A layer of 5 neurons over 3 inputs and a batch of 7, no bias: numbers and gradients
    bit for bit."""
    rng = np.random.default_rng(0)
    W = [[Value(float(v)) for v in row] for row in rng.normal(size=(5, 3))]
    X = rng.normal(size=(7, 3))

    def f(X):
        return autograd.sum([autograd.dot(w, X).tanh().mean() for w in W])
    prog = same_as_eager(f, [p for row in W for p in row], X)
    assert "dot_layer(" in prog.source
