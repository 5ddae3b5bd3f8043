"""What a cached compile skips, and what the trace must keep (behaviour, not timing).

A cache hit is found from the trace's hash and the generator's version, so it generates no C
and runs no compiler; the parameters' order the generator chose, and the source, come back
from the verified cache entry, and the numbers are the first compile's, bit for bit. A
second nn.fit on the same model and shapes neither traces, nor hashes, nor looks the cache up.
"""
import json
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autograd
import autograd.compiler as compiler_pkg
import nn
from autograd import Value
from autograd.backward import topological_order
from autograd.compiler import c_backend, cache
from autograd.compiler import flat
from autograd.compiler.trace import Trace, trace

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    c_backend.find_compiler()
    HAVE_CC = True
except c_backend.CompilerNotFound:
    HAVE_CC = False
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler")


pytestmark = pytest.mark.usefixtures("private_cache")


def _mlp_loss(seed=0):
    model = nn.MLP(3, [16, 16, 1], init="he", seed=seed)
    X = np.random.default_rng(1).standard_normal((20, 3))
    y = np.sign(np.random.default_rng(2).standard_normal(20))

    def f(X, y):
        return nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters(), 1e-4)
    return model, f, X, y


def _run(prog, model, X, y):
    for p in model.parameters():
        p.grad = 0.0
    out = prog(X, y)
    return out, [p.grad for p in model.parameters()]


def _forget_loaded():
    """As a new process would be: nothing loaded yet (the files stay on disk)."""
    with cache._lock:
        cache._loaded.clear()


@needs_cc
def test_a_cache_hit_generates_no_c_and_gives_the_same_bits(monkeypatch):
    model, f, X, y = _mlp_loss()
    first = autograd.compile(f, X, y, backend="c")
    prog1 = next(iter(first.programs.values()))
    assert prog1.compiled_now and "vg_dot_fwd(" in prog1.source  # layered: parameters reordered
    want = _run(first, model, X, y)
    pos = {id(p): j for j, p in enumerate(model.parameters())}
    slots = lambda t: [pos.get(id(p), -1) for p in t.params]  # noqa: E731  (-1: the loss's constants)
    order1 = slots(prog1.trace)
    assert order1 != slots(trace(f, [X, y]))  # the generator did reorder them

    def no_generation(*a, **k):
        raise AssertionError("a cache hit generated C")

    def no_compiler(*a, **k):
        raise AssertionError("a cache hit ran the compiler")
    monkeypatch.setattr(c_backend, "generate_any", no_generation)
    monkeypatch.setattr(cache, "run_compiler", no_compiler)
    for from_disk in (False, True):  # loaded in this process already; then only on disk
        if from_disk:
            _forget_loaded()
        again = autograd.compile(f, X, y, backend="c")
        prog = next(iter(again.programs.values()))
        assert not prog.compiled_now
        assert prog.source == prog1.source
        assert slots(prog.trace) == order1
        out, grads = _run(again, model, X, y)
        assert out == want[0] and grads == want[1]  # bit for bit
        step = again.flat(model.parameters())
        theta = np.array([p.data for p in model.parameters()])
        loss, g = step(theta, X, y)
        assert loss == want[0] and g.tolist() == want[1]


@needs_cc
def test_another_generator_version_compiles_again(monkeypatch):
    model, f, X, y = _mlp_loss()
    autograd.compile(f, X, y, backend="c")
    _forget_loaded()
    monkeypatch.setattr(c_backend, "_VERSION", ["a valuegrad that generates other C"])
    prog = autograd.compile(f, X, y, backend="c")
    assert next(iter(prog.programs.values())).compiled_now


@needs_cc
@pytest.mark.parametrize("damage", ["missing", "not a permutation", "too short", "not numbers", "huge run"])
def test_a_damaged_parameter_order_means_rebuild(damage):
    model, f, X, y = _mlp_loss()
    first = autograd.compile(f, X, y, backend="c")
    want = _run(first, model, X, y)
    folder = cache.cache_dir()
    (meta,) = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".json")]
    m = json.loads(open(meta).read())
    runs = m["notes"]["param_order"]
    m["notes"]["param_order"] = {
        "missing": None,
        "not a permutation": [[0, 0, len(first.programs[next(iter(first.programs))].trace.params)]],
        "too short": runs[:-1],
        "not numbers": [["0", 1, 3]],
        "huge run": [[0, 1, 10 ** 12]],
    }[damage]
    open(meta, "w").write(json.dumps(m))
    _forget_loaded()
    again = autograd.compile(f, X, y, backend="c")
    assert next(iter(again.programs.values())).compiled_now
    assert _run(again, model, X, y) == want


def test_the_trace_keeps_topological_order():
    """The trace's own walk places nodes exactly as backward.topological_order (the order
    the generated code's sums follow), on graphs with shared nodes, repeated parents,
    squares of leaves and n-ary nodes."""
    rng = random.Random(0)
    for _ in range(30):
        leaves = [Value(rng.uniform(-1, 1)) for _ in range(rng.randint(1, 6))]
        pool = list(leaves)
        for _ in range(rng.randint(1, 40)):
            kind = rng.randrange(5)
            a, b = rng.choice(pool), rng.choice(pool)
            if kind == 0:
                v = a * b
            elif kind == 1:
                v = a * a
            elif kind == 2:
                v = a.tanh()
            elif kind == 3:
                v = autograd.sum(rng.sample(pool, min(len(pool), rng.randint(1, 5))))
            else:
                v = a ** 2 + b
            pool.append(v)
        out = autograd.sum(pool[-3:])
        t = trace(lambda: out, [])
        order = topological_order(out)
        assert len(t.nodes) == len(order)
        index = {id(v): i for i, v in enumerate(order)}
        for n, v in zip(t.nodes, order):
            assert (n.op.name if n.op else None) == (v.op or None)
            assert n.parents == tuple(index[id(p)] for p in v.parents)


def test_the_key_follows_everything_the_code_depends_on():
    w = Value(0.5)
    x = np.array([1.0, 2.0, 3.0])
    key = lambda f, *args: trace(f, list(args)).key()  # noqa: E731
    base = key(lambda x: (w * x).sum(), x)
    assert base == key(lambda x: (w * x).sum(), x)  # another function, the same graph
    assert base == key(lambda x: (Value(9.0) * x).sum(), x)  # parameters' values are read at each call
    assert base != key(lambda x: (x * w).sum(), x)  # wiring
    assert base != key(lambda x: (w * x).mean(), x)  # operation
    assert base != key(lambda x: (w * x).sum(), np.ones(4))  # shapes
    assert key(lambda x: (w * x ** 2.0).sum(), x) != key(lambda x: (w * x ** 3.0).sum(), x)  # constants
    assert key(lambda x: (w * x).leaky_relu(0.0).sum(), x) != key(lambda x: (w * x).leaky_relu(-0.0).sum(), x)

    def branch(x):
        s = (w * x).sum()
        return s if s > 0 else -s
    assert trace(branch, [x]).key() != base  # the guards' nodes are copied out: part of the key


def test_the_key_is_the_same_in_another_process():
    """No memory address or set order leaks into the key: a new process finds the entry."""
    code = textwrap.dedent("""
        import numpy as np, nn
        from autograd.compiler.trace import trace
        model = nn.MLP(3, [4, 1], seed=0)
        X = np.ones((5, 3)); y = np.ones(5)
        print(trace(lambda X, y: nn.losses.hinge(model(X), y) + nn.losses.l2(model.parameters()), [X, y]).key())
    """)
    keys = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                           env=dict(os.environ, PYTHONPATH=REPO, PYTHONHASHSEED=str(seed))).stdout.strip()
            for seed in (1, 2)]
    assert keys[0] == keys[1] and len(keys[0]) == 64


@pytest.mark.parametrize("backend", ["numpy"] + (["c"] if HAVE_CC else []))
def test_a_second_fit_pays_no_set_up(monkeypatch, backend):
    """Tracing, hashing, the cache lookup and the parameters' placement happen in the first
    fit call only (per batch shape); later calls on the same model reuse them."""
    X, y = nn.data.make_moons(64, noise=0.1, random_state=0)
    model = nn.MLP(2, [8, 1], init="he", seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    calls = {"trace": 0, "load": 0, "key": 0, "plan": 0}
    real_trace, real_load, real_key, real_plan = compiler_pkg.trace, cache.load, Trace.key, flat._Plan.__init__

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped
    monkeypatch.setattr(compiler_pkg, "trace", count("trace", real_trace))
    monkeypatch.setattr(cache, "load", count("load", real_load))
    monkeypatch.setattr(Trace, "key", count("key", real_key))
    monkeypatch.setattr(flat._Plan, "__init__", count("plan", real_plan))
    monkeypatch.setattr(compiler_pkg.CompiledFunction, "_backend", lambda self: backend)
    fit = lambda: nn.fit(model, "hinge", opt, X, y * 2 - 1, epochs=2, batch_size=64, progress=False,  # noqa: E731
                         compile=True)
    fit()
    first = dict(calls)
    assert first["trace"] == 1 and first["plan"] == 1
    assert first["load"] == (1 if backend == "c" else 0)
    assert (first["key"] > 0) == (backend == "c")  # the library's key (and the alias's record of it)
    fit()
    fit()
    assert calls == first


def test_a_lambda_made_again_finds_the_same_step(monkeypatch):
    """fit(..., regularization=lambda m: ...) written inside a loop: a new function object at
    every call, the same code and captures: no new trace. Other captures: a new step."""
    X, y = nn.data.make_moons(32, noise=0.1, random_state=0)
    model = nn.MLP(2, [4, 1], init="he", seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    traces = []
    real_trace = compiler_pkg.trace
    monkeypatch.setattr(compiler_pkg, "trace", lambda *a: traces.append(1) or real_trace(*a))
    monkeypatch.setattr(compiler_pkg.CompiledFunction, "_backend", lambda self: "numpy")

    def fit(strength):
        return nn.fit(model, "hinge", opt, X, y * 2 - 1, epochs=1, progress=False, compile=True,
                      regularization=lambda m: nn.losses.l2(m.parameters(), strength))
    for _ in range(3):
        fit(float("1e-4"))  # an equal number, another float object each time
    assert len(traces) == 1
    fit(1e-3)  # another captured number: another function
    assert len(traces) == 2
