"""Tests written against autograd/ops.py's mutation survivors (docs/mutation.md, "ops.py").

Each pins a behaviour of one rule or helper that the other tests left free, against an
independent reference: finite differences, hand arithmetic, PyTorch (skipped without it), or
the eager engine for compiled code (bit for bit, as the README promises for the numpy backend).
"""
import numpy as np
import pytest

import autograd
from test_compile import OpGraph, check_against_eager, points


@pytest.mark.parametrize("kind", ["scalar", "batched"])
def test_every_op_compiled_by_the_numpy_backend_equals_eager(kind, tmp_path, monkeypatch):
    """Code generation runs every backward rule on symbols (each helper's symbolic branch):
    the numpy program's output and gradients equal eager's to the bit, without compiling C."""
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path))
    g = OpGraph()
    x, s = points(kind)[0]
    prog = autograd.compile(g.fn, x, s, backend="numpy")
    bad = []
    for moved in (False, True):
        g.move(moved)
        for x, s in points(kind):
            bad += check_against_eager(prog, g.fn, g.params, (x, s), "numpy", g.names)
    g.move(False)
    assert not bad, "\n".join(bad[:20])
