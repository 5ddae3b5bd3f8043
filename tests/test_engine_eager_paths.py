"""The eager engine's shortcuts of issue 10's fourth round, each pinned bit for bit against the
path it replaces (the per-node rule, run by switching the shortcut off): max_detached's zero
gradient, exp without errstate, a layer's graph freed by reference counting."""
import gc
import importlib
import math
import warnings
import weakref

import numpy as np
import pytest

import autograd
from autograd import Value, ops
from nn import MLP, losses, optim
from bits import same

bw = importlib.import_module("autograd.backward")

SPECIAL = [-0.0, 0.0, math.nan, math.inf, -math.inf, 1e308, -1e-320]


def _rule_max_detached(xs):
    for x in xs:  # what the sweep did before the shortcut: the rule, input by input
        bw._accumulate(x, ops.MAX_DETACHED.backward(None, None, [x.data])[0])


def grads_both_ways(build, monkeypatch):
    """Run build() (-> (root, seed, values to look at)) with the shortcuts, then with the rule."""
    out = []
    for rule in (False, True):
        with monkeypatch.context() as m:
            if rule:
                m.setattr(bw, "_max_detached_backward", _rule_max_detached)
            with np.errstate(all="ignore"):
                root, seed, vs = build()
                root.backward() if seed is None else root.backward(grad=seed)
            out.append([v.grad for v in vs] + [root.data])
    return out


@pytest.mark.parametrize("case", range(8))
def test_max_detached_gradient_is_the_rules_to_the_bit(case, monkeypatch):
    batch = 5

    def data(kind, rng):
        if kind == "s":
            return float(rng.choice(SPECIAL + [1.5, -2.0]))
        x = rng.standard_normal(batch)
        x[rng.random(batch) < 0.4] = rng.choice(SPECIAL)
        return x

    kinds = [["b", "b", "b"], ["s", "s"], ["b", "s", "b"], ["b"]][case % 4]

    def build():
        r = np.random.default_rng(case)  # the same graph and numbers both times
        zs = [Value(data(k, r)) for k in kinds]
        for z in zs:  # earlier gradients of every kind, some none at all
            if r.random() < 0.5:
                z.grad = np.where(r.random(batch) < 0.5, -0.0, r.choice(SPECIAL, batch)) if \
                    type(z.data) is np.ndarray else float(r.choice(SPECIAL))
        twice = case >= 4  # an input met twice by the max
        m = autograd.max_detached(zs + zs[:1] if twice else zs)
        users = [z - m for z in zs] if case % 2 else [zs[0] * 2.0 - m]  # some inputs reach only the max
        total = autograd.sum(users)
        seed = r.choice(SPECIAL + [1.0], batch) if type(total.data) is np.ndarray else None
        return total, seed, zs + [m]

    fast, rule = grads_both_ways(build, monkeypatch)
    assert all(same(a, b) for a, b in zip(fast, rule)), (fast, rule)


def test_max_detached_leaves_an_array_gradient_alone_and_gives_others_the_rules_term():
    a, b = Value(np.array([1.0, -0.0])), Value(2.0)
    for x in (a, b):
        x.grad = None  # as backward() leaves them before the sweep reaches them
    bw._max_detached_backward([a, b])
    assert same(a.grad, np.array([-0.0, -0.0])) and same(b.grad, -0.0)
    keep = a.grad = np.array([0.0, math.nan])
    b.grad = 0.0
    bw._max_detached_backward([a, b])
    assert a.grad is keep and same(b.grad, 0.0)
    a.grad = np.zeros(3)  # a gradient of another shape: the rule (numpy broadcasting refuses it)
    with pytest.raises(ValueError):
        bw._max_detached_backward([a])


@pytest.mark.parametrize("x", [[0.0, 1.0], [708.9, -1e308], [709.0, 1.0], [709.5, 710.0],
                               [1000.0, math.inf], [math.nan, 1.0], [-math.inf, math.nan]])
def test_exp_over_a_batch_is_numpys_with_no_warning(x):
    a = np.array(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ops.exp(a)
        v = Value(a).exp()
        v.backward(grad=np.ones(len(a)))
    with np.errstate(over="ignore", invalid="ignore"):
        want = np.exp(a)
    assert same(got, want) and same(v.data, want)


def test_exp_of_an_empty_or_0d_array():
    assert ops.exp(np.zeros(0)).shape == (0,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ops.exp(np.array(800.0)) == math.inf


def test_a_training_steps_graph_is_freed_without_the_cyclic_gc():
    # A layer's dot nodes share one _DotRows: it must not point back at them, or every
    # step's graph would live until the cyclic collector runs.
    model = MLP(4, [6, 3], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    X = np.random.default_rng(0).standard_normal((5, 4))
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        loss = losses.cross_entropy(model(X), np.array([0, 1, 2, 0, 1]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        # Values take no weak references: their data arrays (each held by its node alone) do
        refs = [weakref.ref(n.data) for n in autograd.topological_order(loss)
                if n.parents and type(n.data) is np.ndarray]
        assert len(refs) > 20
        del loss
        assert [r for r in refs if r() is not None] == []
    finally:
        if enabled:
            gc.enable()


def _rule_add_back(both):
    for n, old, new in both:  # the per-node sum the stacked one stands for
        n.grad = old + new


@pytest.mark.parametrize("olds", ["born", "negative zero", "nan", "one changed", "replaced", "2-d"])
def test_earlier_batched_gradients_added_back_are_the_per_node_sums(olds, monkeypatch):
    # A layer's nodes are born with zero gradients, rows of one block; earlier gradients of
    # every kind are added back in one stacked sum: the per-node sums, bit for bit.
    def build():
        model = MLP(3, [4, 2], seed=1)
        X = np.array([[1.0, -0.0, 2.0], [0.0, 0.0, 0.0], [-1.0, 3.0, math.nan]])
        out = model(X)
        nodes = [n for n in autograd.topological_order(autograd.sum(out)) if type(n.data) is np.ndarray]
        if olds == "negative zero":
            nodes[3].grad[1] = -0.0  # a row of a block: the block is no longer +0.0 alone
        elif olds == "nan":
            nodes[5].grad[0] = math.nan
        elif olds == "one changed":
            nodes[-1].grad[2] = 1.5
        elif olds == "replaced":
            nodes[2].grad = np.array([-0.0, 0.0, -0.0])
        elif olds == "2-d":
            nodes[4].grad = np.zeros((3, 1))
        root = autograd.sum([o * w for o, w in zip(out, (1.0, -0.0))])
        return root, np.array([1.0, -0.0, math.inf]), nodes

    got, want = [], []
    for res, rule in ((got, False), (want, True)):
        with monkeypatch.context() as m:
            if rule:
                m.setattr(bw, "_add_back", _rule_add_back)
            with np.errstate(all="ignore"):
                root, seed, nodes = build()
                root.backward(grad=seed)
            res += [n.grad for n in nodes]
    assert len(got) > 10 and all(same(a, b) for a, b in zip(got, want))


def test_exp_of_a_2d_array_as_the_layered_numpy_code_calls_it():
    a = np.array([[1.0, 800.0], [math.nan, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ops.exp(a)
        small = ops.exp(a[:, :1] * 0.0)
    with np.errstate(over="ignore"):
        assert same(got, np.exp(a)) and same(small, np.ones((2, 1)) * np.exp(a[:, :1] * 0.0))
