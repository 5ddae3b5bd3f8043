"""Tests written against surviving mutants of structured.Plan's parameter layout (`param_order`,
`_placement`, `_table_cost`; docs/mutation.md lists them). Where the parameters sit in the
program's memory (their slots) decides whether the generated code reads a layer's weights and
the parameter operands of elementwise groups as strided views of memory or through tables of
offsets; every layout gives the same numbers. Three layouts are tried in turn: a layer's weight
rows each followed by its neuron's bias, rows in reverse trace order (A) or in trace order (B),
then weight rows first and the other parameters after them (C); the first one needing no table
wins, else the one needing the fewest table entries (the first of equals).

Each case compiles a small graph (numpy backend), checks that the layered code served the call
with eager's numbers and gradients bit for bit, and pins the slot order the plan chose (labels
in slot order) and, for products of parameters, whether they are read through a table."""
import re

import numpy as np
import pytest

import autograd
from autograd import Value

from compare_compiled import compiled, eager

pytestmark = pytest.mark.usefixtures("private_cache")

X = np.random.default_rng(0).normal(size=(5, 3))


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def layer(names, P, seed=0):
    """Neurons named by letter, made in that order: weights `a0, a1...` and a bias `ba`."""
    r = np.random.default_rng(seed)
    W = {n: [Value(float(v), label=f"{n}{i}") for i, v in enumerate(r.normal(size=P))] for n in names}
    B = {n: Value(float(r.normal()), label=f"b{n}") for n in names}
    return W, B


def by_label(W, B, *more):
    return {p.label: p for p in [p for w in W.values() for p in w] + list(B.values()) + list(more)}


def compile_like_eager(f, params, *args):
    """The numpy program of f: layered, no call served by the straight-line code, the output
    and every gradient eager's to the bit. Returns (slot labels, generated source)."""
    prog = autograd.compile(f, *args, backend="numpy")
    want_out, want = eager(f, params, *args)
    got_out, got = compiled(prog, params, *args)
    (p,) = prog.programs.values()
    assert "GM.fill" in p.source and p.run.fallbacks == 0
    assert bits(got_out) == bits(want_out)
    for j, (a, b) in enumerate(zip(got, want)):
        assert bits(a) == bits(b), (j, a, b)
    return [q.label for q in p.trace.params], p.source


def products_line(src, m):
    """The forward line computing the group of m products `p * X[2]`."""
    return src.split(f"# mul: {m} node(s), batch 5\n", 1)[1].split("\n", 1)[0]


# -- which of the three layouts wins ---------------------------------------------------------------

def layer_and_products(picks):
    """Neurons a, b over X[0], X[1] with biases and tanh, plus the products p * X[2] of the
    parameters picked. The trace lists b's nodes before a's, so layout A is nn's order
    a0 a1 ba b0 b1 bb, B is b0 b1 bb a0 a1 ba, C is b0 b1 a0 a1 bb ba."""
    W, B = layer("ab", 2)
    ps = by_label(W, B)

    def f(X):
        z = [(autograd.dot(W[n], [X[0], X[1]]) + B[n]).tanh() for n in "ab"]
        return autograd.sum(z + [ps[k] * X[2] for k in picks]).mean()
    return f, list(ps.values())


@pytest.mark.parametrize("picks, order, table", [
    # nothing else: A, nn's order, needs no table
    ([], ["a0", "a1", "ba", "b0", "b1", "bb"], None),
    # b0 bb a1 sit at 3 5 1 in A (a table of 3), at 0 2 4 in B: B, a view with stride 2
    (["b0", "bb", "a1"], ["b0", "b1", "bb", "a0", "a1", "ba"], False),
    # a0 a1 bb: 0 1 5 in A, 3 4 2 in B, 2 3 4 in C: C
    (["a0", "a1", "bb"], ["b0", "b1", "a0", "a1", "bb", "ba"], False),
    # a0 b1 a1: 0 4 1, 3 1 4, 2 1 3: a table of 3 in every layout, so the first, A
    (["a0", "b1", "a1"], ["a0", "a1", "ba", "b0", "b1", "bb"], True),
])
def test_first_layout_without_a_table_else_fewest_entries(picks, order, table):
    f, params = layer_and_products(picks)
    slots, src = compile_like_eager(f, params, X)
    assert slots == order
    if table is not None:
        assert ("M[T" in products_line(src, len(picks))) == table


def second_layer_of_first_layers_weights(rows, early=(), late=(), lone=False):
    """Neurons a, b (as above), then dots over their outputs (and X[2]) whose weight rows are
    the first layer's parameters named in `rows`; optionally products p * X[2] (early: before
    the layers) or p * u (late: after them), and a lone exp(X[2]) node (a group of one)."""
    W, B = layer("ab", 2)
    ps = by_label(W, B)
    R = [[ps[k] for k in r] for r in rows]

    def f(X):
        h = [(autograd.dot(W[n], [X[0], X[1]]) + B[n]).tanh() for n in "ab"]
        u = [autograd.dot((h + [X[2]])[:len(r)], r).tanh() for r in R]
        terms = u + [ps[k] * u[0] for k in late] + [ps[k] * X[2] for k in early]
        if lone:
            terms.append(X[2].exp())
        return autograd.sum(terms).mean()
    return f, list(ps.values())


LAYOUT_A = ["a0", "a1", "ba", "b0", "b1", "bb"]
LAYOUT_B = ["b0", "b1", "bb", "a0", "a1", "ba"]
TANGLED = ["a1", "bb", "b0", "ba", "b1"]  # 1 5 3 2 4 in A, 4 2 0 5 1 in B: a table either way


@pytest.mark.parametrize("kw, order", [
    # rows a0 a1 | bb a0: at 0 1 | 5 0 in A (a table of 4 for a group of 2 dots), 3 4 | 2 3 in B
    ({}, LAYOUT_B),
    # the same after a group of one node: groups after it still count
    ({"lone": True}, LAYOUT_B),
    # plus 5 tangled products after the layers: A needs 4 + 5 entries, B 0 + 5
    ({"late": TANGLED}, LAYOUT_B),
    # the same products before the layers: the entries of every group add up
    ({"early": TANGLED}, LAYOUT_B),
    # rows a0 a1 b1 | bb a0 a1: the first row is no stride in any layout: 6 entries each, A
    ({"rows": (("a0", "a1", "b1"), ("bb", "a0", "a1"))}, LAYOUT_A),
])
def test_weights_shared_with_a_second_layer(kw, order):
    kw.setdefault("rows", (("a0", "a1"), ("bb", "a0")))
    f, params = second_layer_of_first_layers_weights(**kw)
    slots, _ = compile_like_eager(f, params, X)
    assert slots == order


def test_a_row_every_member_shares_needs_no_table():
    """Two dots with one weight row for both (ba b0 b1) need no table whatever the layout:
    A wins (in this graph the trace lists a's nodes first, so A is b's row first), although
    there the shared row sits at 5 0 1."""
    W, B = layer("ab", 2)
    ps = by_label(W, B)
    S = [ps["ba"], ps["b0"], ps["b1"]]

    def f(X):
        h = [(autograd.dot(W[n], [X[0], X[1]]) + B[n]).tanh() for n in "ab"]
        u = [autograd.dot(S, [h[0], h[1], X[2]]), autograd.dot(S, [h[1], h[0], X[2]])]
        return autograd.sum([v.tanh() for v in u]).mean()
    slots, _ = compile_like_eager(f, list(ps.values()), X)
    assert slots == LAYOUT_B


# -- what is laid out as a matrix, and which bias goes with a row ----------------------------------

def layer_of_three(P=2, inputs="shared", after="bias"):
    """Neurons a, b, c over P inputs: dot(inputs, weights) with the inputs first ('shared':
    X[0..P-1] for every neuron, 'own': X[j..] for neuron j) or dot(weights, X) ('second');
    then `+ b`, `* b + z` (z used twice) or `(z + z) + b`."""
    W, B = layer("abc", P)

    def f(X):
        z = []
        for j, n in enumerate("abc"):
            xs = [X[(j + i) % 3] for i in range(P)] if inputs == "own" else [X[i] for i in range(P)]
            z.append(autograd.dot(W[n], xs) if inputs == "second" else autograd.dot(xs, W[n]))
        if after == "bias":
            z = [a + B[n] for a, n in zip(z, "abc")]
        elif after == "twice":
            z = [a * B[n] + a for a, n in zip(z, "abc")]
        else:
            z = [(a + a) + B[n] for a, n in zip(z, "abc")]
        return autograd.sum([a.tanh() for a in z]).mean()
    return f, list(by_label(W, B).values())


NN_ORDER = ["a0", "a1", "ba", "b0", "b1", "bb", "c0", "c1", "bc"]
ROWS_THEN_BIASES = ["a0", "a1", "b0", "b1", "c0", "c1", "bc", "bb", "ba"]


@pytest.mark.parametrize("kw, order", [
    # weights as the second operand of the dots, after inputs every neuron shares
    ({}, NN_ORDER),
    # after inputs of each neuron's own (not a matrix of inputs)
    ({"inputs": "own"}, NN_ORDER),
    # one input: rows of one weight
    ({"P": 1}, ["a0", "ba", "b0", "bb", "c0", "bc"]),
    # a neuron's output used twice: no bias follows its row; the biases come as the `* b`
    # group's operand (its members in trace order: c, b, a)
    ({"inputs": "second", "after": "twice"}, ROWS_THEN_BIASES),
    # z + z: the add has no other operand to take as the bias
    ({"inputs": "second", "after": "zz"}, ROWS_THEN_BIASES),
])
def test_rows_and_their_biases(kw, order):
    f, params = layer_of_three(**kw)
    slots, _ = compile_like_eager(f, params, X)
    assert slots == order


def test_a_dot_as_the_output():
    """The last dot (the program's output, used by nothing) gets no bias; its weights follow."""
    W, B = layer("ab", 2)
    v = [Value(0.5, label="v0"), Value(-0.25, label="v1")]
    xs = [0.3, -1.2]

    def f(*x):
        h = [(autograd.dot(W[n], list(x)) + B[n]).tanh() for n in "ab"]
        return autograd.dot(v, h)
    slots, _ = compile_like_eager(f, list(by_label(W, B, *v).values()), *xs)
    assert slots == LAYOUT_A + ["v0", "v1"]


def test_a_weight_in_two_rows_is_not_a_matrix():
    """Rows a0 a1 | a1 b1 | c0 c1 share a1: no row is placed as a matrix row; the biases come
    as the `+ b` group's operand (trace order c, b, a), the weights in the trace's order."""
    W, B = layer("abc", 2)
    W["b"][0] = W["a"][1]

    def f(X):
        return autograd.sum([(autograd.dot(W[n], [X[0], X[1]]) + B[n]).tanh() for n in "abc"]).mean()
    slots, _ = compile_like_eager(f, list(by_label(W, B).values()), X)
    assert slots == ["bc", "bb", "ba", "c1", "c0", "b1", "a1", "a0"]


def test_loose_parameters_of_groups_and_of_lone_nodes():
    """Parameters of no layer: those of a group of two products X[2] * e0, X[2] * e1 take the
    group's member order (e1, e0); those of a lone product d0 * d1 keep the trace's order (d1
    first: the last term, met first, holds it), after the layer in nn's order."""
    W, B = layer("ab", 2)
    d = [Value(0.1, label="d0"), Value(0.2, label="d1")]
    e = [Value(0.3, label="e0"), Value(0.4, label="e1")]

    def f(X):
        h = [(autograd.dot(W[n], [X[0], X[1]]) + B[n]).tanh() for n in "ab"]
        return autograd.sum(h + [d[0] * d[1], X[2] * e[0], X[2] * e[1], (X[1] * X[2] + d[1]) + e[0]]).mean()
    slots, _ = compile_like_eager(f, list(by_label(W, B, *d, *e).values()), X)
    assert slots == LAYOUT_A + ["e1", "e0", "d1", "d0"]


def test_products_line_reads_the_group():
    """The helper finds the products' line (a guard against testing a wrong line)."""
    f, params = layer_and_products(["b0", "bb", "a1"])
    _, src = compile_like_eager(f, params, X)
    assert re.fullmatch(r"\s+M\[\d+:\d+\]\.reshape\(3, 5\)\[:\] = F\d+\(.*\)", products_line(src, 3))
