"""Tests for the last mutants issue 11 left alive (docs/mutation.md: structured.py's C
generator, `_epilogue` 43-45 and `_forward_nary` 45, 50; backward.py's `_sweep` 12,
`_add_back` 15, `_sweep_plan` 100). Each builds, with the public API, a graph that nn's models
never make but a user may: the compiled C code must give eager's numbers bit for bit, and
eager's batched paths the per-node rule's (`create_graph=True`) and hand arithmetic's."""
import re

import numpy as np
import pytest

import autograd
from autograd import Value

from compare_compiled import compiled, eager


def rows(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


def layered_c_as_eager(f, params, *calls):
    """f compiled to C (structured.py's layered code) on the first call's arguments; every
    call's output and parameter gradients the same bits as eager's, each served by the C code
    alone (no rerun through numpy, no retrace). Returns the C source."""
    prog = autograd.compile(f, *calls[0], backend="c")
    (p,) = prog.programs.values()
    assert "VG_FIN = VG_Z;" in p.source
    for args in calls:
        want_out, want = eager(f, params, *args)
        got_out, got = compiled(prog, params, *args)
        assert p.run.finite
        assert np.float64(got_out).tobytes() == np.float64(want_out).tobytes(), (got_out, want_out)
        assert np.array(got).tobytes() == np.array(want).tobytes(), (got, want)
    assert prog.traces == 1
    return p.source


@pytest.mark.usefixtures("private_cache")
def test_compiled_group_reading_a_layer_at_twice_its_stride_runs_after_it():
    """A layer of 2 dots (z1 first in memory), u = X[0] * 3 laid out right after it, then
    [u + 1, z1 + 1]: the group's first operand is z1, then u, at two rows' stride from the
    layer's start. It is no `+ b` of the layer (which the dot kernel's epilogue may run on each
    tile): it reads u, which is computed after the layer's kernel (0.0 there on the first call,
    the call before's on the next). _epilogue's stride check (`a[1] == B or m == 1`)."""
    W = [[Value(float(v)) for v in r] for r in rows(30, 2, 3)]

    def f(X):
        z = autograd.dots(W, X)
        u = X[0] * 3.0
        h = [u + 1.0, z[1] + 1.0]
        return autograd.sum([(v * v).mean() for v in h + z])
    src = layered_c_as_eager(f, [p for r in W for p in r], (rows(31, 5, 3),), (rows(32, 5, 3),))
    # the group's own loop, over the layer's base at a stride of 2 rows of 5 examples
    assert re.search(r"for \(int j = 0; j < 2; j\+\+\) for \(int i = 0; i < 5; i\+\+\) "
                     r"M\[\d+ \+ j \* 5 \+ i\] = M\[\(\d+ \+ j \* 10\) \+ i\]", src), src


@pytest.mark.usefixtures("private_cache")
def test_compiled_sums_over_a_layers_rows_run_after_it():
    """[sum([z_j, z_j, c]) for each row]: an n-ary group reading the layer's rows at its
    stride, one row each; only unary and binary groups may run in the dot kernel's epilogue
    (an n-ary form is a fold, no expression of a and b). _epilogue 14, 15 let n-ary groups
    through its filter."""
    W = [[Value(float(v)) for v in r] for r in rows(36, 3, 2)]
    c = Value(0.3)

    def f(X):
        h = [autograd.sum([v, v, c]) for v in autograd.dots(W, X)]
        return autograd.sum([(v * v).mean() for v in h])
    layered_c_as_eager(f, [p for r in W for p in r] + [c], (rows(37, 5, 2),), (rows(38, 5, 2),))


@pytest.mark.usefixtures("private_cache")
@pytest.mark.parametrize("B, P", [(1, 2), (1, 3), (4, 2)])
def test_compiled_layer_whose_rows_repeat_one_weight(B, P):
    """A layer of 3 dots, row j = [a_j] * P (one weight per neuron, used for every input): a
    row's weights are not contiguous in memory, so the dot kernel must pack them, not read
    W[j][0..P) in place. A batch of 1 lays the inputs at a stride of 1 (`+ q * 1)`, the form of
    contiguous weights: _forward_nary 45 looked there); P == 2 is no reason to read in place
    either (_forward_nary 50)."""
    A = [Value(float(v)) for v in rows(33, 3)]

    def f(X):
        z = autograd.dots([[a] * P for a in A], X)
        return autograd.sum([(v * v).mean() for v in z])
    src = layered_c_as_eager(f, A, (rows(34, B, P),), (rows(35, B, P),))
    assert re.search(r"vg_dot_fwd\(M, 3, %d, %d, \d+, wa\d+, xa\d+, ep\d+, 0\);" % (B, P), src)


def _weights_grads(loss, ws, **kw):
    """The weights' gradients from one backward() of a fresh loss() (floats; with
    create_graph=True the per-node rule's, as Values: their data), the gradients left at 0."""
    for w in ws:
        w.grad = 0.0
    loss().backward(**kw)
    out = [w.grad.data if kw else w.grad for w in ws]
    for w in ws:
        w.grad = 0.0
    return out


def test_a_layers_weight_used_twice_right_after_the_layer_gets_the_layers_term_first():
    """Two products w * 1.0 of each row's first weight, met by the sweep right after the
    layer's nodes (the row met last still waiting for _flush): the layer's term (1e16) must
    come first, as the per-node rule adds it, (1e16 + 1) + 1 = 1e16, not (1 + 1) + 1e16. _sweep flushes a waiting
    layer before each node that adds to its weights (_sweep 12: before each other node)."""
    W = [[Value(0.5), Value(0.25)], [Value(-1.0), Value(2.0)]]
    X = [Value(np.array([1e16, 1e16])), Value(np.array([3.0, -1.0]))]
    ws = [w for r in W for w in r]

    def loss():
        z = autograd.dots(W, X)
        return ((z[0] + z[1]).mean() + W[0][0] * 1.0 + W[0][0] * 1.0) + W[1][0] * 1.0 + W[1][0] * 1.0
    got = _weights_grads(loss, ws)
    assert got == _weights_grads(loss, ws, create_graph=True)
    assert got == [(1e16 + 1.0) + 1.0, 1.0, (1e16 + 1.0) + 1.0, 1.0] == [1e16, 1.0, 1e16, 1.0]


def test_a_weight_used_between_two_nodes_of_its_layer_gets_the_layers_term_first():
    """The sweep meets z1 (waiting), then w1 * 1.0 twice (w1 one of z1's weights), then z0,
    then the layer's inputs (computed: x * 1.0). The products add to w1: z1's term must come
    first, (1e16 + 1) + 1, as the per-node rule. _sweep_plan marks the nodes using a layer's
    weight for a flush before them (_sweep_plan 100 marked the others, the inputs: too late)."""
    W = [[Value(0.5), Value(0.25)], [Value(-1.0), Value(2.0)]]
    X = [Value(np.array([1e16, 1e16])), Value(np.array([3.0, -1.0]))]
    w1 = W[1][0]
    ws = [w for r in W for w in r]

    def loss():
        z = autograd.dots(W, [x * 1.0 for x in X])
        return (z[1].mean() + (w1 * 1.0 + w1 * 1.0)) + z[0].mean()
    got = _weights_grads(loss, ws)
    assert got == _weights_grads(loss, ws, create_graph=True)
    assert got == [1e16, 1.0, (1e16 + 1.0) + 1.0, 1.0] == [1e16, 1.0, 1e16, 1.0]


def test_earlier_gradients_of_one_example_meet_new_ones_of_three():
    """Two inputs of one example, backward, then their data made batches of three and
    backward again: each earlier gradient (a batch of 1) is added to the new one node by node,
    as numpy adds them (broadcast). The rows do not stack into one array (1 column against 3):
    _add_back's shape check (_add_back 15 stacked them, and numpy refused the in-place sum)."""
    x, y = Value(np.array([2.0])), Value(np.array([-1.0]))
    (x.sum() * y.sum()).backward()
    assert (x.grad.tolist(), y.grad.tolist()) == ([-1.0], [2.0])
    x.data, y.data = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    (x.sum() * y.sum()).backward()
    assert x.grad.tolist() == [-1.0 + 15.0] * 3  # earlier + sum(y)
    assert y.grad.tolist() == [2.0 + 6.0] * 3  # earlier + sum(x)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_earlier_gradients_of_another_dtype_are_added_in_float64(dtype):
    """Earlier gradients set by hand as float32 or integer arrays on two batched leaves (the
    inner nodes scalars, so only the leaves hold batches on both sides): each is added to the
    new float64 gradient node by node, numpy promoting to float64, never summed in place in
    the earlier dtype (_add_back 16: stacked float32 rounds, integers refuse the sum)."""
    x, y = Value(np.array([1.0, 2.0])), Value(np.array([3.0, 0.1]))
    x.grad, y.grad = np.array([1, -2], dtype=dtype), np.array([5, 7], dtype=dtype)
    old_x, old_y = x.grad.astype(np.float64), y.grad.astype(np.float64)
    (x.sum() * y.sum()).backward()
    assert x.grad.dtype == y.grad.dtype == np.float64
    assert x.grad.tolist() == (old_x + (3.0 + 0.1)).tolist()  # earlier + sum(y)
    assert y.grad.tolist() == (old_y + 3.0).tolist()  # earlier + sum(x)
