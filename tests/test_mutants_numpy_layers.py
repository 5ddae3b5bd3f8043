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

def _guarded_on_a_layers_output():
    """An MLP's loss and a guard on its first output (z0 * s): the model, the loss, its
    parameters and a batch."""
    model = nn.MLP(3, [4, 3], seed=2)
    c = Value(0.7)
    X = np.random.default_rng(0).normal(size=(6, 3))

    def f(X, s):
        z = model(X)
        loss = autograd.sum([(zi * c).mean() for zi in z])
        return loss * 2.0 if (z[0] * s).sum() > 0 else loss
    return f, model.parameters() + [c], X


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_guard_on_a_layers_output_keeps_eagers_order_of_gradient_terms(backend, private_cache):
    """BUG (trace.py, _record): the trace walked the guard's Values before the output, so the
    nodes a guard reaches (z0 and the layers under it) came first in the trace's order, the
    gradient terms were added in another order than eager's, and nine of the 32 gradients
    differed from eager's in the last bit (straight-line and layered code alike)."""
    f, params, X = _guarded_on_a_layers_output()
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


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # z0 * inf summed: nan
def test_a_guards_product_in_a_layers_group_adds_no_gradient_term():
    """The guard's z0 * s sits in one group with the loss's z * c products; it needs no
    gradient (only the guard reads it), so its terms are not added: with s = inf one would be
    -0.0 * inf = NaN in z0's gradient, and so in every weight's."""
    f, params, X = _guarded_on_a_layers_output()
    for s in (math.inf, -math.inf):
        p = same_as_eager(f, params, X, s)
        assert "dot_layer(" in p.source


def test_a_guard_reducing_the_batch_the_loss_reduces_keeps_the_layers():
    """The guard's z0.sum() and the loss's z0.sum() reduce one batch at one depth; only the
    loss's needs a gradient, so the batch is reduced once as far as gradients go, and the
    program stays layered."""
    model = nn.MLP(3, [4, 3], seed=3)
    X = np.random.default_rng(1).normal(size=(5, 3))

    def f(X):
        z = model(X)
        loss = autograd.sum([(zi * zi).sum() for zi in z[1:]]) + z[0].sum()
        return loss * 0.5 if z[0].sum() > 0 else loss
    same_as_eager(f, model.parameters(), X)


# -- the order of a node's gradient terms ---------------------------------------------------------

def test_a_node_two_members_read_at_two_positions_gets_their_terms_last_first():
    """z0 is the first operand of z0 * z1 and the second of z2 * z0 (one group, each position's
    operands distinct), after a term from z0 * c: its gradient is (c's term + the second
    product's) + the first's, the consumers last first as eager adds them, not position by
    position (which would add the first product's term before the second's)."""
    model = nn.MLP(3, [4, 3], seed=4)
    c = Value(1.7)
    X = np.random.default_rng(2).normal(size=(16, 3))

    def f(X):
        z = model(X)
        return autograd.sum([(z[0] * c).mean(), (z[2] * z[0]).mean(), (z[0] * z[1]).mean()])
    same_as_eager(f, model.parameters() + [c], X)


def test_a_waiting_leaf_beside_a_square_in_one_group():
    """c's consumers interleave two groups (the z * c products around c * y), so its terms wait
    in TB and are added at the end, consumers last first; c * y shares a group with x * x, whose
    two terms both go to x. The group's terms must not be added position by position (c's
    would come first, not third), nor x's two terms written with one buffered `+=`."""
    model = nn.MLP(3, [4, 3], seed=5)
    c, x, y = Value(0.9), Value(-1.3), Value(0.6)
    X = np.random.default_rng(4).normal(size=(9, 3))  # data where the two orders round apart

    def f(X):
        z = model(X)
        return autograd.sum([(z[0] * c).mean(), (z[1] * c).mean(), c * y + x * x, (z[2] * c).mean()])
    p = same_as_eager(f, model.parameters() + [c, x, y], X)
    assert "TB[" in p.source


def test_a_batch_sum_whose_terms_would_come_out_of_order_keeps_the_straight_line_code():
    """z2's consumers, last first: z2 * d, z2.sum(), z2 * c. The products are one group, the
    sums another, so the groups would add z2's terms as (z2 * d, z2 * c), then z2.sum()'s:
    out of eager's order, and z2 is not a leaf that could wait. The sums' group (spread)
    finds the conflict, and the trace keeps the straight-line code."""
    model = nn.MLP(3, [4, 3], seed=6)
    c, d = Value(0.8), Value(-1.1)
    X = np.random.default_rng(5).normal(size=(7, 3))

    def f(X):
        z = model(X)
        return autograd.sum([(z[2] * d).mean(), z[2].sum(), (z[2] * c).mean(), z[1].sum()])
    same_as_eager(f, model.parameters() + [c, d], X, layers=False)


def test_a_scalar_group_runs_its_rule_on_floats_as_eager_does():
    """Scalar nodes of a rule that is not plain arithmetic (sqrt) go through the rule one float
    at a time, as eager runs it on numbers: sqrt's gradient at 0 with a zero seed is the float
    rule's nan (its sign bit too), not the one numpy's division of arrays makes."""
    model = nn.MLP(3, [4, 3], seed=7)
    a = [Value(0.0), Value(0.25), Value(4.0)]
    X = np.random.default_rng(6).normal(size=(5, 3))

    def f(X):
        s = [v.sqrt() for v in a]
        return autograd.sum([z.mean() for z in model(X)] + [s[0] * 0.0, s[1] * 2.0, s[2] * -1.0])
    same_as_eager(f, model.parameters() + a, X)


def test_scalar_groups_of_one_operand_arithmetic():
    """Groups of scalar negations and squares (plain arithmetic: one numpy call on the members'
    floats, as a 1-D block) beside a layer."""
    model = nn.MLP(3, [4, 3], seed=8)
    a = [Value(0.5), Value(-1.5), Value(2.25)]
    X = np.random.default_rng(7).normal(size=(5, 3))

    def f(X):
        return autograd.sum([z.mean() for z in model(X)] + [-v for v in a] + [v.square() for v in a])
    same_as_eager(f, model.parameters() + a, X)


def test_two_batched_leaves_each_at_its_own_place():
    """Two batched leaves (per-example weights and offsets): each is copied to its own place in
    M, and each gets its own gradient back."""
    model = nn.MLP(3, [4, 3], seed=9)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(6, 3))
    weights, offsets = Value(rng.uniform(0.5, 1.5, size=6)), Value(rng.normal(size=6))

    def f(X):
        return autograd.sum([(zi * weights + offsets * zi).mean() for zi in model(X)])
    p = same_as_eager(f, model.parameters() + [weights, offsets], X)
    assert "batched[1]" in p.source


def test_parameters_only_guards_read_get_a_zero_gradient():
    """d and the batch m are compared, never computed with (two guards): they need no gradient,
    and the layered code gives them eager's 0.0 (a float for the batch too), the other
    gradients as eager's."""
    model = nn.MLP(3, [4, 3], seed=10)
    d, m = Value(0.5), Value(np.array([1.0, 2.0, 0.5, 3.0, 1.5, 0.25]))
    X = np.random.default_rng(9).normal(size=(6, 3))

    def f(X):
        loss = autograd.sum([zi.mean() for zi in model(X)])
        return loss * 2.0 if d > 0.25 and (m > 0).all() else loss
    p = same_as_eager(f, model.parameters() + [d, m], X)
    assert "dot_layer(" in p.source and len(p.trace.guards) == 2


def test_a_batched_output_and_a_guard_on_a_batch_without_gradients():
    """A layered program whose output is a batch, called with grad=False, behind a guard on a
    batch (gate > 0 for every example): the output and the guarded batch are copied out whole,
    and a call whose gate fails at one example only (not the first) takes the other branch."""
    model = nn.MLP(3, [4, 3], seed=11)
    rng = np.random.default_rng(10)
    X1 = np.abs(rng.normal(size=(6, 3))) + 0.1
    X2 = X1.copy()
    X2[3, 0] = -1.0

    def f(X):
        z = model(X)
        y = z[0] * 2.0 + z[1] * z[2]
        return y if (X[0] * 1.0 > 0).all() else y * 0.5
    prog = autograd.compile(f, X1, backend="numpy")
    for X, traces in [(X1, 1), (X2, 2), (X1, 3)]:
        got = prog(X, grad=False)
        want = f([Value(col) for col in X.T]).data
        assert bits(got) == bits(want) and prog.traces == traces
    assert all("dot_layer(" in p.source and p.run.fallbacks == 0 for p in prog.programs.values())
