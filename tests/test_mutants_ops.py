"""Tests written against autograd/ops.py's mutation survivors (docs/mutation.md, "ops.py").

Each pins a behaviour of one rule or helper that the other tests left free, against an
independent reference: finite differences, hand arithmetic, PyTorch (skipped without it), or
the eager engine for compiled code (bit for bit, as the README promises for the numpy backend).
"""
import math
import warnings

import numpy as np
import pytest

from autograd import OPS, ops


# What each defop call must have recorded: the C backend writes every operation from its `c`
# form, and `has_k` tells the engine which operations take a constant after their inputs.
C_FORMS = {"add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}", "div": "{a} / {b}",
           "neg": "-{a}", "pow": "pow({a}, {k})", "powv": "pow({a}, {b})", "abs": "fabs({a})",
           "exp": "exp({a})", "log": "log({a})", "sqrt": "sqrt({a})", "tanh": "tanh({a})",
           "sigmoid": "vg_sigmoid({a})", "relu": "({a} <= 0 ? 0.0 : {a})",
           "leaky_relu": "({a} > 0 ? {a} : {a} * {k})", "softplus": "vg_softplus({a})",
           "clamp": "fmin(fmax({a}, {k0}), {k1})", "batch_sum": "BATCH_SUM",
           "batch_mean": "BATCH_MEAN", "sin": "sin({a})", "cos": "cos({a})",
           "square": "{a} * {a}", "erf": "erf({a})", "elu": "({a} > 0 ? {a} : {k} * expm1({a}))",
           "silu": "{a} * vg_sigmoid({a})"}
N_ARY = {"sum", "dot", "logsumexp", "max_detached"}
WITH_K = {"pow", "leaky_relu", "clamp", "elu"}


def test_the_table_of_operations_holds_each_ops_name_arity_constant_and_c_form():
    assert set(C_FORMS) | N_ARY | {"gelu", "maximum", "minimum"} == set(OPS)
    for name, op in OPS.items():
        assert type(op) is ops.Op and op.name == name and repr(op) == f"<op {name}>"
        assert callable(op.forward) and callable(op.backward)
        assert op.has_k is (name in WITH_K)
        want_arity = "n" if name in N_ARY else 2 if name in ("add", "sub", "mul", "div", "powv",
                                                               "maximum", "minimum") else 1
        assert op.arity == want_arity
        if name in C_FORMS:
            assert op.c == C_FORMS[name]
        elif name in N_ARY:
            assert type(op.c) is dict and op.c["group"] == (2 if name == "dot" else 1)
        else:
            assert type(op.c) is str and "{a}" in op.c
    assert ops.DOT.c["step"] == "{acc} + {x0} * {x1}" and ops.SUM.c["init"] == "0.0"
    assert ops.LOGSUMEXP.c["pre"] == ("-INFINITY", "fmax({acc}, {x0})")
    assert ops.MAX_DETACHED.c["init"] == "-INFINITY"


@pytest.mark.parametrize("top", [709.5, 709.9, 709.99])
def test_exp_of_a_batch_just_below_710_overflows_quietly_to_inf(top):
    """exp overflows from 709.78 on: a batch reaching it takes the errstate path (no warning),
    and its result is numpy's, inf there; 709.5 is still finite."""
    a = np.array([1.0, top])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ops.exp(a)
    assert got[0] == math.exp(1.0)
    assert got[1] == (math.inf if top > 709.79 else math.exp(top))
