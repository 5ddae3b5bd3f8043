"""The compiler's behaviours (trace.py, symbolic.py, numpy_backend.py, flat.py, __init__.py)
that mutation testing found unpinned (docs/mutation.md): each test pins one behaviour a
surviving mutant changed, against values computed independently (eager valuegrad, numpy,
hand arithmetic)."""
import numpy as np

from autograd import Value
from autograd.compiler.trace import trace


def _two_param_trace():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    t = trace(lambda x: a * x + b, [0.5])
    return t, a, b


def test_permute_params_moves_params_and_their_nodes_slots():
    # the C backend reorders parameters to the order a cached library expects
    t, a, b = _two_param_trace()
    assert [p.label for p in t.params] == ["b", "a"]  # the walk takes a node's last input first
    nb, na = t.param_nodes
    nodes = t.nodes  # built before: permute_params must update their slots too
    assert nodes[nb].slot == 0 and nodes[na].slot == 1
    t.permute_params([1, 0])
    assert t.params[0] is a and t.params[1] is b and t.param_nodes == [na, nb]
    assert nodes[na].slot == 0 and nodes[nb].slot == 1
    assert t.nodes is nodes


def test_permute_params_before_nodes_are_built():
    t, a, b = _two_param_trace()
    nb, na = t.param_nodes
    t.permute_params([1, 0])
    assert "nodes" not in t.__dict__
    assert t.nodes[na].slot == 0 and t.nodes[nb].slot == 1
    assert t.nodes[nb].kind == "param" and t.nodes[nb].index == nb
