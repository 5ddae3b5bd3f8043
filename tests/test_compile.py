"""autograd.compile: every operation through both backends equals the eager engine (numpy: bit
for bit; C: to 1e-12), micrograd's demo digit for digit, the on-disk cache, a missing compiler,
the guards (shapes, branches, non-finite results), what the generated code holds and how it
grows, and nn.fit(compile=True).

C compiles cost ~0.3-2 s each: programs are built once per module (fixtures) from small graphs,
and every compile writes to a temporary VALUEGRAD_CACHE, never to ~/.cache.
"""
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.compiler import c_backend
from autograd.compiler.trace import trace

from autograd import compiler as compile_mod  # the package; autograd.compile is the function
from compare_compiled import micrograd_demo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("numpy", "c")
REL = 1e-12


# -- the cache directory: one temporary folder for the whole module --------------------------

@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("valuegrad_cache")
    with pytest.MonkeyPatch.context() as mp:  # module fixtures compile too: set it here as well
        mp.setenv("VALUEGRAD_CACHE", str(d))
        yield d


@pytest.fixture(autouse=True)
def _cache_env(cache_dir, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(cache_dir))


# -- comparing with the eager engine -----------------------------------------------------------

def fn_args(args):
    """What compile hands fn: a Value per number or 1-D array, a list of column Values per 2-D array."""
    out = []
    for a in args:
        if np.ndim(a) == 2:
            out.append([Value(c) for c in np.asarray(a, dtype=np.float64).T])
        else:
            out.append(Value(a))
    return out


def zero(params):
    for p in params:
        p.grad = np.zeros_like(p.data) if isinstance(p.data, np.ndarray) else 0.0


def eager(fn, params, *args):
    """(output data, gradients of params) by the eager engine."""
    zero(params)
    out = fn(*fn_args(args))
    out.backward()
    grads = [p.grad for p in params]
    zero(params)
    return out.data, grads


def compiled(prog, params, *args):
    zero(params)
    out = prog(*args)
    grads = [p.grad for p in params]
    zero(params)
    return out, grads


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def same(a, b, backend):
    """numpy backend: the same type and the same numbers exactly (NaN where NaN; the sign of a
    zero is checked by test_numpy_backend_bit_for_bit); C: within 1e-12 relative."""
    if backend == "numpy":
        return type(a) is type(b) and bool(np.array_equal(a, b, equal_nan=True))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=REL, atol=0.0, equal_nan=True))


def check_against_eager(prog, fn, params, args, backend, names=None):
    """Run prog and eager on args; return a list of mismatches (empty when all agree)."""
    want_out, want_grads = eager(fn, params, *args)
    got_out, got_grads = compiled(prog, params, *args)
    bad = []
    if not same(got_out, want_out, backend):
        bad.append(f"output: compiled {got_out!r} eager {want_out!r}")
    for j, (g, w) in enumerate(zip(got_grads, want_grads)):
        if not same(g, w, backend):
            bad.append(f"grad of {names[j] if names else j}: compiled {g!r} eager {w!r}")
    return bad


# -- every operation: one case per use of an op, each with its own parameters ------------------
# A case gets x (any real), pos (> 0) and its own parameters P; `real(i)` = P[i] * x + P[i+1]
# covers the real line, `positive(i)` = P[i] * pos + P[i+1] stays > 0 (P[i], P[i+1] > 0).
# The output is sum_c W[c] * case_c (reduced over the batch): dL/dW[c] is case c's value,
# dL/dP is its derivative, so a wrong forward or backward rule names its case.

class Case:
    def __init__(self, op, name, build, n_real=1, n_pos=0, extra=0):
        self.op, self.name, self.build = op, name, build
        self.n_real, self.n_pos, self.extra = n_real, n_pos, extra


def _log_softmax0(z):
    m = autograd.max_detached(z)
    s = [v - m for v in z]
    return s[0] - autograd.logsumexp(s)


def _cases():
    C = Case
    return [
        C("add", "r0 + r1 + 0.5", lambda r, p, e, x, s: r[0] + r[1] + 0.5, n_real=2),
        C("add", "2.0 + r0 + r0", lambda r, p, e, x, s: 2.0 + r[0] + r[0]),
        C("sub", "r0 - r1", lambda r, p, e, x, s: r[0] - r[1], n_real=2),
        C("sub", "1.0 - r0", lambda r, p, e, x, s: 1.0 - r[0]),
        C("mul", "r0 * r1", lambda r, p, e, x, s: r[0] * r[1], n_real=2),
        C("mul", "r0 * r0 * 3", lambda r, p, e, x, s: r[0] * r[0] * 3),
        C("div", "r0 / p0", lambda r, p, e, x, s: r[0] / p[0], n_pos=1),
        C("div", "1.5 / p0", lambda r, p, e, x, s: 1.5 / p[0], n_real=0, n_pos=1),
        C("neg", "-r0", lambda r, p, e, x, s: -r[0]),
        C("pow", "r0 ** 3", lambda r, p, e, x, s: r[0] ** 3),
        C("pow", "r0 ** 2", lambda r, p, e, x, s: r[0] ** 2),
        C("pow", "p0 ** 2.5", lambda r, p, e, x, s: p[0] ** 2.5, n_real=0, n_pos=1),
        C("pow", "p0 ** -1.5", lambda r, p, e, x, s: p[0] ** -1.5, n_real=0, n_pos=1),
        C("powv", "p0 ** (r0 / 2)", lambda r, p, e, x, s: p[0] ** (r[0] * 0.5), n_pos=1),
        C("powv", "2.0 ** r0", lambda r, p, e, x, s: 2.0 ** r[0]),
        C("abs", "abs(r0)", lambda r, p, e, x, s: abs(r[0])),
        C("exp", "exp(r0)", lambda r, p, e, x, s: r[0].exp()),
        C("log", "log(p0)", lambda r, p, e, x, s: p[0].log(), n_real=0, n_pos=1),
        C("sqrt", "sqrt(p0)", lambda r, p, e, x, s: p[0].sqrt(), n_real=0, n_pos=1),
        C("tanh", "tanh(r0)", lambda r, p, e, x, s: r[0].tanh()),
        C("sigmoid", "sigmoid(3 r0)", lambda r, p, e, x, s: (r[0] * 3).sigmoid()),
        C("relu", "relu(r0)", lambda r, p, e, x, s: r[0].relu()),
        C("leaky_relu", "leaky_relu(r0)", lambda r, p, e, x, s: r[0].leaky_relu()),
        C("leaky_relu", "leaky_relu(r0, 0.1)", lambda r, p, e, x, s: r[0].leaky_relu(0.1)),
        C("softplus", "softplus(3 r0)", lambda r, p, e, x, s: (r[0] * 3).softplus()),
        C("clamp", "clamp(r0, -1, 1.5)", lambda r, p, e, x, s: r[0].clamp(-1, 1.5)),
        C("clamp", "clamp(r0, min=0.2)", lambda r, p, e, x, s: r[0].clamp(min=0.2)),
        C("clamp", "clamp(r0, max=0.35)", lambda r, p, e, x, s: r[0].clamp(max=0.35)),
        C("sum", "sum(r0, r1, e0, 2.0, r0)", lambda r, p, e, x, s: autograd.sum([r[0], r[1], e[0], 2.0, r[0]]),
          n_real=2, extra=1),
        C("dot", "dot([e0, e1, e2], [r0, x, pos])", lambda r, p, e, x, s: autograd.dot(e[:3], [r[0], x, s]),
          extra=3),
        C("dot", "dot([r0, r1], [r1, r0])", lambda r, p, e, x, s: autograd.dot([r[0], r[1]], [r[1], r[0]]),
          n_real=2),
        C("logsumexp", "logsumexp(r0, 40 r1, e0)",
          lambda r, p, e, x, s: autograd.logsumexp([r[0], r[1] * 40, e[0]]), n_real=2, extra=1),
        C("logsumexp", "logsumexp(r0 + 700, 3 r1 + 700)",  # exp(700 + ...) overflows unless the max goes first
          lambda r, p, e, x, s: autograd.logsumexp([r[0] + 700.0, r[1] * 3 + 700.0]), n_real=2),
        C("logsumexp", "logsumexp(r0 - 800, 3 r1 - 800)",  # and exp(-800 + ...) underflows to 0
          lambda r, p, e, x, s: autograd.logsumexp([r[0] - 800.0, r[1] * 3 - 800.0]), n_real=2),
        C("max_detached", "r1 - max_detached(r0, 3 r1, e0)",  # ties at x = 0
          lambda r, p, e, x, s: r[1] - autograd.max_detached([r[0], r[1] * 3, e[0]]), n_real=2, extra=1),
        C("max_detached", "log_softmax(r0 + 800, 3 r1 + 800)[0]",  # exp(800 + ...) overflows without the shift
          lambda r, p, e, x, s: _log_softmax0([r[0] + 800.0, r[1] * 3 + 800.0]), n_real=2),
        C("batch_sum", "r0.sum() * r1", lambda r, p, e, x, s: r[0].sum() * r[1], n_real=2),
        C("batch_mean", "((r0 - r0.mean()) ** 2).mean() + r1", lambda r, p, e, x, s: ((r[0] - r[0].mean()) ** 2).mean() + r[1],
          n_real=2),
        C("sin", "sin(2 r0)", lambda r, p, e, x, s: (r[0] * 2).sin()),
        C("cos", "cos(r0)", lambda r, p, e, x, s: r[0].cos()),
        C("square", "square(r0)", lambda r, p, e, x, s: r[0].square()),
        C("erf", "erf(r0)", lambda r, p, e, x, s: r[0].erf()),
        C("gelu", "gelu(3 r0)", lambda r, p, e, x, s: (r[0] * 3).gelu()),
        C("elu", "elu(3 r0, 0.7)", lambda r, p, e, x, s: (r[0] * 3).elu(0.7)),
        C("silu", "silu(3 r0)", lambda r, p, e, x, s: (r[0] * 3).silu()),
        C("maximum", "maximum(r0, r1)", lambda r, p, e, x, s: autograd.maximum(r[0], r[1]), n_real=2),
        C("maximum", "maximum(r0, 0.35)", lambda r, p, e, x, s: autograd.maximum(r[0], 0.35)),  # ties at x = 0.35
        C("minimum", "minimum(r0, p0)", lambda r, p, e, x, s: autograd.minimum(r[0], p[0]), n_pos=1),
        C("minimum", "minimum(1.5, r0)", lambda r, p, e, x, s: autograd.minimum(1.5, r[0])),  # ties at x = 1.5
    ]


CASES = _cases()
# Points: every op at a kink (x = 0 with r = x: relu, abs, leaky_relu), on clamp's bounds
# (x = 1.5, 0.35), on both sides of them, and large and small positives.
XS = [-2.2, -0.6, 0.0, 0.35, 1.5, 1.7, -1.0]
POS = [0.05, 0.4, 1.0, 2.5, 7.0, 0.9, 3.3]
REAL_INIT, REAL_MOVED = (1.0, 0.0), (0.75, 0.25)  # moved: the program must read .data at every call
POS_INIT, POS_MOVED = (1.0, 0.1), (1.3, 0.2)


class OpGraph:
    """All cases as one function fn(x, pos) of their parameters (closed over)."""

    def __init__(self):
        self.params, self.names, self.slices = [], [], []
        self.real, self.pos, self.extra, self.weight = [], [], [], []
        for c in CASES:
            start = len(self.params)
            r = [self._new(c, f"r{i}.{k}", v) for i in range(c.n_real) for k, v in zip("ab", REAL_INIT)]
            p = [self._new(c, f"p{i}.{k}", v) for i in range(c.n_pos) for k, v in zip("ab", POS_INIT)]
            e = [self._new(c, f"e{i}", 0.3 + 0.2 * i) for i in range(c.extra)]
            w = self._new(c, "W", 1.0)
            self.real.append(r), self.pos.append(p), self.extra.append(e), self.weight.append(w)
            self.slices.append((start, len(self.params)))

    def _new(self, case, what, v):
        p = Value(v, label=f"secret_label_xyz {case.name} {what}")
        self.params.append(p)
        self.names.append(f"{case.op}: {case.name} [{what}]")
        return p

    def case_value(self, k, x, s):
        r, p = self.real[k], self.pos[k]
        reals = [r[2 * i] * x + r[2 * i + 1] for i in range(len(r) // 2)]
        poss = [p[2 * i] * s + p[2 * i + 1] for i in range(len(p) // 2)]
        return CASES[k].build(reals, poss, self.extra[k], x, s)

    def fn(self, x, s):
        terms = [w * self.case_value(k, x, s) for k, w in enumerate(self.weight)]
        total = autograd.sum(terms)
        return total.sum() if isinstance(total.data, np.ndarray) else total

    def move(self, moved):
        """Set every parameter to its initial (moved=False) or moved value."""
        for k in range(len(CASES)):
            for pairs, (init, mv) in ((self.real[k], (REAL_INIT, REAL_MOVED)), (self.pos[k], (POS_INIT, POS_MOVED))):
                for i in range(0, len(pairs), 2):
                    pairs[i].data, pairs[i + 1].data = mv if moved else init
            for i, e in enumerate(self.extra[k]):
                e.data = (0.3 + 0.2 * i) * (1.5 if moved else 1.0)


def points(kind):
    if kind == "scalar":
        return [(x, s) for x, s in zip(XS, POS)]
    xs, ss = np.array(XS), np.array(POS)
    return [(xs, ss), (xs[::-1] * 0.5, ss[::-1] * 2.0), (xs[:5], ss[:5])]  # the last: a new batch length


@pytest.fixture(scope="module")
def op_programs(cache_dir):
    g = OpGraph()
    progs = {}
    for backend in BACKENDS:
        for kind in ("scalar", "batched"):
            x, s = points(kind)[0]
            progs[backend, kind] = autograd.compile(g.fn, x, s, backend=backend)
    return g, progs


def test_every_op_has_a_case():
    """A new operation in autograd.OPS fails here until it gets a case above."""
    covered = set()
    g = OpGraph()
    for k, case in enumerate(CASES):
        out = g.case_value(k, Value(np.array(XS)), Value(np.array(POS)))
        ops_in_graph = {v.op for v in autograd.topological_order(out)}
        assert case.op in ops_in_graph, f"case {case.name!r} does not use {case.op!r}"
        covered.add(case.op)
    assert covered == set(autograd.OPS)


@pytest.mark.parametrize("kind", ["scalar", "batched"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_ops_equal_eager(op_programs, backend, kind):
    g, progs = op_programs
    prog = progs[backend, kind]
    assert prog.backend == backend
    bad = []
    for moved in (False, True):
        g.move(moved)
        for x, s in points(kind):
            found = check_against_eager(prog, g.fn, g.params, (x, s), backend, g.names)
            bad += [f"x={x!r} pos={s!r} moved={moved}: {m}" for m in found]
    g.move(False)
    assert not bad, "\n".join(bad[:20])
    if backend == "c":  # every number came from C: no call fell back to the numpy code
        assert all(p._numpy is None for p in prog.programs.values())


@pytest.mark.parametrize("kind", ["scalar", "batched"])
def test_numpy_backend_bit_for_bit(op_programs, kind):
    """BUG (compiler/__init__.py, CompiledFunction.__call__, since c1f1264): `p.grad = p.grad + g`
    turns a -0.0 gradient into +0.0 (0.0 + -0.0), where backward() keeps -0.0 (it assigns the new
    gradient when the old one is the float 0.0): not bit for bit (relu below 0, clamp outside its
    bounds, neg/sub at 0, ...)."""
    g, progs = op_programs
    prog = progs["numpy", kind]
    bad = []
    for x, s in points(kind):
        want_out, want = eager(g.fn, g.params, x, s)
        got_out, got = compiled(prog, g.params, x, s)
        bad += [f"x={x!r}: output {got_out!r} vs {want_out!r}"] if bits(got_out) != bits(want_out) else []
        bad += [f"x={x!r}: grad of {g.names[j]}: {a!r} vs {b!r}" for j, (a, b) in enumerate(zip(got, want))
                if bits(a) != bits(b)]
    assert not bad, "\n".join(bad[:10])


@pytest.mark.parametrize("backend", BACKENDS)
def test_ops_without_grad(op_programs, backend):
    g, progs = op_programs
    prog = progs[backend, "batched"]
    x, s = points("batched")[1]
    want, _ = eager(g.fn, g.params, x, s)
    zero(g.params)
    out = prog(x, s, grad=False)
    assert same(out, want, backend)
    assert all(p.grad == 0.0 for p in g.params)  # grad=False leaves .grad alone


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_accumulate_like_backward(op_programs, backend):
    """Two calls without zero_grad add up, as two backward() calls do."""
    g, progs = op_programs
    prog = progs[backend, "scalar"]
    (x1, s1), (x2, s2) = points("scalar")[:2]
    zero(g.params)
    for x, s in ((x1, s1), (x2, s2)):
        g.fn(*fn_args((x, s))).backward()
    want = [p.grad for p in g.params]
    zero(g.params)
    prog(x1, s1)
    prog(x2, s2)
    got = [p.grad for p in g.params]
    zero(g.params)
    assert all(same(a, b, backend) for a, b in zip(got, want))


def test_generated_source_holds_no_labels(op_programs, demo):
    _, progs = op_programs
    for (backend, kind), prog in progs.items():
        assert "secret_label_xyz" not in prog.source, (backend, kind)
    for backend in BACKENDS:
        src = demo[backend]["prog"].source
        assert "layers." not in src and "neurons" not in src  # nn's parameter labels


# -- micrograd's demo ----------------------------------------------------------------------

STEP0_LOSS, STEP99_LOSS = 0.8958441028683222, 0.010978370135492717


def demo_run(backend):
    X, y, model, f = micrograd_demo()
    prog = autograd.compile(f, X, y, backend=backend)
    history = []
    for k in range(100):
        model.zero_grad()
        L = prog(X, y)
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        history.append(L)
    return {"prog": prog, "history": history, "model": model, "X": X, "y": y, "f": f}


@pytest.fixture(scope="module")
def demo(cache_dir):
    return {backend: demo_run(backend) for backend in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
def test_micrograd_demo(demo, backend):
    h = demo[backend]["history"]
    assert demo[backend]["prog"].backend == backend
    assert type(h[0]) is float and len(h) == 100
    if backend == "numpy":
        assert (h[0], h[99]) == (STEP0_LOSS, STEP99_LOSS)
    else:
        assert h[0] == pytest.approx(STEP0_LOSS, rel=REL, abs=0)
        assert h[99] == pytest.approx(STEP99_LOSS, rel=REL, abs=0)
        assert all(p._numpy is None for p in demo[backend]["prog"].programs.values())  # all in C
    assert demo[backend]["prog"].traces == 1


# -- the on-disk cache ---------------------------------------------------------------------

CACHE_CHILD = textwrap.dedent("""
    import json, subprocess, numpy as np, autograd
    from autograd import Value
    calls = []
    real_run = subprocess.run
    subprocess.run = lambda *a, **k: calls.append(a) or real_run(*a, **k)
    w, b = Value(0.7), Value(-0.2)
    f = lambda x: ((w * x + b).tanh() * (w * x).softplus()).sum()
    prog = autograd.compile(f, np.array([0.5, -1.0, 2.0]), backend="c")
    out = prog(np.array([0.5, -1.0, 2.0]))
    print(json.dumps({"compiled_now": prog.programs[((3,),)].compiled_now, "calls": len(calls),
                      "out": out, "grads": [w.grad, b.grad]}))
""")


def test_cache_same_process_and_new_process(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path))  # empty: the first compile must run gcc
    calls = []
    real_run = subprocess.run
    real_compiler = c_backend.cache.run_compiler

    def counting_run(*a, **k):
        calls.append(a)
        return real_compiler(*a, **k)
    monkeypatch.setattr(c_backend.cache, "run_compiler", counting_run)
    w, b = Value(0.7), Value(-0.2)
    f = lambda x: ((w * x + b).tanh() * (w * x).softplus()).sum()  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    first = autograd.compile(f, x, backend="c")
    assert first.programs[((3,),)].compiled_now and len(calls) == 1
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".so")]) == 1
    second = autograd.compile(f, x, backend="c")
    assert not second.programs[((3,),)].compiled_now and len(calls) == 1
    out = second(x)
    monkeypatch.undo()  # the child below must not be counted, and gets the same cache folder
    env = dict(os.environ, VALUEGRAD_CACHE=str(tmp_path), PYTHONPATH=REPO)
    r = real_run([sys.executable, "-c", CACHE_CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    child = json.loads(r.stdout.strip().splitlines()[-1])
    assert child["compiled_now"] is False and child["calls"] == 0
    assert child["out"] == pytest.approx(out, rel=REL, abs=0)
    assert child["grads"] == pytest.approx([w.grad, b.grad], rel=REL, abs=0)


# -- no compiler ----------------------------------------------------------------------------

def test_missing_compiler(monkeypatch):
    def no_compiler():
        raise c_backend.CompilerNotFound("no C compiler found (test)")
    monkeypatch.setattr(compile_mod.c_backend, "find_compiler", no_compiler)
    monkeypatch.setattr(compile_mod, "_warned", [False])
    w = Value(1.5)
    f = lambda x: (w * x).tanh()  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = autograd.compile(f, 0.3)
        again = autograd.compile(lambda x: (w * x).exp(), 0.3)  # warned once per process
        prog(-0.4), again(0.1)
    runtime = [c for c in caught if issubclass(c.category, RuntimeWarning)]
    assert len(runtime) == 1, [str(c.message) for c in caught]
    assert "numpy" in str(runtime[0].message)
    assert runtime[0].filename == __file__  # the user's compile(...) line, not the library's
    assert prog.backend == "numpy" and again.backend == "numpy"
    assert not check_against_eager(prog, f, [w], (0.7,), "numpy")
    with pytest.raises(c_backend.CompilerNotFound):
        autograd.compile(f, 0.3, backend="c")


def test_fallback_warnings_point_at_the_users_line(monkeypatch):
    """compile(...), a later call that traces again, and nn.fit(compile=True) reach the warning
    at three depths; each names the caller's file and line."""
    def broken(t):
        raise RuntimeError("cc: internal error (test)")
    monkeypatch.setattr(compile_mod.c_backend, "find_compiler", lambda: "cc")
    monkeypatch.setattr(compile_mod.c_backend, "build", broken)
    w = Value(1.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        prog = autograd.compile(lambda x: (w * x).tanh(), 0.3)
        prog(np.array([0.1, 0.2]), grad=False)  # a new shape: traced and built again, from __call__
        model = nn.MLP(2, [3, 1], seed=0)
        fit_line = sys._getframe().f_lineno + 1
        nn.fit(model, nn.losses.mse, nn.optim.SGD(model.parameters(), lr=0.1), np.ones((4, 2)), np.zeros(4), epochs=1, verbose=0, compile=True)
    runtime = [c for c in caught if issubclass(c.category, RuntimeWarning) and "numpy backend" in str(c.message)]
    assert [(c.filename, c.lineno) for c in runtime[:2]] == [(__file__, line), (__file__, line + 1)]
    assert runtime[2:] and {(c.filename, c.lineno) for c in runtime[2:]} == {(__file__, fit_line)}


# -- shapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_new_batch_length_retraces(backend):
    model = nn.MLP(3, [4, 1], seed=0)
    seen = []

    def f(X, t):
        seen.append(X)
        return ((model(X) - t) ** 2).mean()
    rng = np.random.default_rng(0)
    X5, t5 = rng.normal(size=(5, 3)), rng.normal(size=5)
    X3, t3 = rng.normal(size=(3, 3)), rng.normal(size=3)
    prog = autograd.compile(f, X5, t5, backend=backend)
    assert prog.traces == 1
    # a 2-D argument reaches fn as a list of its columns, each a batched Value
    cols = seen[0]
    assert isinstance(cols, list) and len(cols) == 3 and all(type(c) is Value for c in cols)
    assert all(np.array_equal(c.data, X5[:, j]) for j, c in enumerate(cols))
    params = model.parameters()
    assert not check_against_eager(prog, f, params, (X5, t5), backend)
    assert prog.traces == 1
    assert not check_against_eager(prog, f, params, (X3, t3), backend)
    assert prog.traces == 2
    assert not check_against_eager(prog, f, params, (X5 * 2, t5), backend)
    assert not check_against_eager(prog, f, params, (X3 - 1, t3), backend)
    assert prog.traces == 2  # both shapes kept: no trace per call


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_parameter(backend):
    """A leaf holding a batch (per-example weights) is read at every call like any parameter."""
    pw = Value(np.array([0.5, 1.0, 2.0, -1.0]))
    w = Value(0.3)
    f = lambda x: (pw * (w * x).tanh()).mean()  # noqa: E731
    x = np.array([0.1, -0.4, 2.0, 0.7])
    prog = autograd.compile(f, x, backend=backend)
    assert not check_against_eager(prog, f, [pw, w], (x,), backend)
    pw.data = pw.data * -3.0
    assert not check_against_eager(prog, f, [pw, w], (x * 2,), backend)


# -- control flow -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_guards_retrace(backend):
    fn = lambda x: x * 2 if x > 0 else x * -3  # noqa: E731
    prog = autograd.compile(fn, 1.0, backend=backend)
    assert prog(1.0) == 2.0 and prog.traces == 1
    assert prog(-2.0) == 6.0 and prog.traces == 2  # x > 0 came out False: traced again
    assert prog(-1.0) == 3.0 and prog.traces == 2
    assert prog(1.5) == 3.0 and prog.traces == 3   # and back
    w = Value(0.5)

    def g(x):
        u = w * x
        return u.relu() if u > 0.25 else u.exp()
    prog = autograd.compile(g, 1.0, backend=backend)
    for x in (1.0, 0.2, -3.0, 4.0, 0.5):
        assert not check_against_eager(prog, g, [w], (x,), backend), x
    h = lambda x: (w * x).sum() if (x > 0).all() else (w * x * x).sum()  # noqa: E731
    prog = autograd.compile(h, np.array([1.0, 2.0]), backend=backend)
    for x in ([1.0, 2.0], [1.0, -2.0], [3.0, 0.5]):
        assert not check_against_eager(prog, h, [w], (np.array(x),), backend), x


OFF_GRAPH_GUARDS = {
    # the compared Value is not part of the output's graph
    "unused argument": (lambda x, y: x * 2 if y > 0 else x * 3, (1.0, 1.0), (1.0, -1.0)),
    "intermediate": (lambda x, y: x if x * x > 1 else -x, (2.0, 0.0), (0.5, 0.0)),
    "recomputed": (lambda x, y: (x * 0.5).relu() if x * 0.5 > 0.25 else (x * 0.5).exp(), (1.0, 0.0), (0.2, 0.0)),
}


@pytest.mark.parametrize("case", sorted(OFF_GRAPH_GUARDS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_guard_on_value_outside_output_graph(backend, case):
    """BUG (compiler/trace.py): a comparison on a Value that the output does not depend on is dropped
    from the guards, so the branch is frozen and the result silently wrong."""
    fn, at, then = OFF_GRAPH_GUARDS[case]
    prog = autograd.compile(fn, *at, backend=backend)
    want = fn(*fn_args(then)).data
    assert prog(*then) == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_guard_on_parameter_outside_output_graph(backend):
    """BUG (compiler/trace.py): `x > threshold` with threshold a Value (a parameter) not in the output's
    graph is frozen at its trace-time data; changing threshold.data does not re-trace."""
    thr = Value(0.0)
    fn = lambda x: x * 2 if x > thr else x * 3  # noqa: E731
    prog = autograd.compile(fn, 1.0, backend=backend)
    thr.data = 5.0
    assert prog(1.0) == fn(Value(1.0)).data == 3.0


# -- non-finite results -------------------------------------------------------------------------

def test_non_finite_reruns_through_eager_rules():
    fn = lambda x: x.log()  # noqa: E731
    prog = autograd.compile(fn, 2.0, backend="c")
    assert prog.backend == "c"
    with pytest.raises(ValueError) as want:
        fn(Value(-1.0))
    with pytest.raises(ValueError, match="log") as got:
        prog(-1.0)
    assert str(got.value) == str(want.value)
    assert prog(2.0) == math.log(2.0)  # and the program still works


MASKED = {
    # a domain error inside, hidden from the output and the gradients by clamp / relu:
    # C computes log(-1.5) = nan, then fmax/fmin or the relu's comparison drop it
    "clamp(log)": (lambda w: lambda x: (w * x).log().clamp(-1, 1), ValueError, True),
    "relu(log)": (lambda w: lambda x: (w * x).log().relu(), ValueError, True),
    "relu(-(w/x)), grad=False": (lambda w: lambda x: (-(w / x)).relu(), ZeroDivisionError, False),
}


@pytest.mark.parametrize("case", sorted(MASKED))
def test_non_finite_inside_masked_from_output(case):
    """BUG (compiler/c_backend.py, compiler/__init__.py): only the output and the parameter gradients are checked
    for NaN/inf, so a domain error whose NaN/inf is absorbed by a later clamp or relu goes
    unnoticed: the C program returns a finite number where eager raises."""
    make, error, grad = MASKED[case]
    w = Value(1.5)
    fn = make(w)
    prog = autograd.compile(fn, 2.0, backend="c")
    x = -1.0 if error is ValueError else 0.0
    with pytest.raises(error):
        fn(Value(x))
    with pytest.raises(error):
        prog(x, grad=grad)


# -- the generated code ------------------------------------------------------------------------

def test_generated_code_grows_linearly():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    sizes = {"numpy": [], "c": []}
    for h in (4, 8, 16):
        model = nn.MLP(2, [h, 1], seed=0)
        f = lambda X, y: nn.losses.hinge(model(X), y)  # noqa: E731
        sizes["numpy"].append(len(autograd.compile(f, X, y, backend="numpy").source))
        sizes["c"].append(len(c_backend.generate(trace(f, [X, y]))[0]))  # what build() compiles
    s4, s8, s16 = sizes["c"]
    assert 1.5 <= s8 / s4 <= 2.5 and 1.5 <= s16 / s8 <= 2.5, ("c", s4, s8, s16)
    s4, s8, s16 = sizes["numpy"]  # numpy: a layer is a few lines whatever its width (numpy_layers.py)
    assert s4 <= s8 <= s16 <= 1.05 * s4, ("numpy", s4, s8, s16)  # only the numbers in it get longer


# -- other bugs ----------------------------------------------------------------------------------

def test_c_mixed_batch_lengths():
    """BUG (compiler/c_backend.py): a graph with batches of two lengths (a loss on two data sets) gets
    wrong gradients from C: backward loops run over the trace's largest batch, and batch_mean's
    derivative divides by it, instead of each node's own length."""
    w = Value(1.5)
    f = lambda a, b: (w * a).mean() + (w * b * b).sum()  # noqa: E731
    a, b = np.array([1.0, 2.0, 3.0]), np.arange(1.0, 6.0)
    prog = autograd.compile(f, a, b, backend="c")
    assert not check_against_eager(prog, f, [w], (a, b), "c")


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_output_with_grad(backend):
    """BUG (compiler/__init__.py): a batched output's backward() raises in eager (it needs grad=); the
    numpy program seeds every example with 1 (w.grad = sum x) and the C program only the first
    (w.grad = x[0]): the two backends disagree, silently. Both should raise as eager does."""
    w = Value(1.5)
    f = lambda x: w * x  # noqa: E731
    x = np.array([1.0, 2.0, 3.0])
    prog = autograd.compile(f, x, backend=backend)
    assert same(prog(x, grad=False), f(Value(x)).data, backend)
    with pytest.raises(ValueError, match="batched"):
        f(Value(x)).backward()
    with pytest.raises(ValueError, match="batched"):
        prog(x)


def test_float32_arguments_numpy_backend():
    """BUG (compiler/trace.py flatten_args): 1-D float32 arguments reach the numpy program unconverted,
    so it computes in float32 while eager (Value()) converts to float64."""
    w = Value(0.3)
    f = lambda x: (w * x).tanh().sum()  # noqa: E731
    x32 = np.array([0.1, 0.7, -2.3], dtype=np.float32)
    prog = autograd.compile(f, x32, backend="numpy")
    assert not check_against_eager(prog, f, [w], (x32,), "numpy")


def test_c_program_from_two_threads():
    """BUG (compiler/c_backend.py): the generated C keeps every value in static arrays, and ctypes.CDLL
    releases the GIL during the call, so two threads calling the same program (or two programs
    of the same source: dlopen shares the library) overwrite each other's values; _Runner's
    out/pgrad/guards buffers and its .finite flag are shared too."""
    model = nn.MLP(8, [32, 1], seed=0)
    f = lambda X: (model(X) ** 2).mean()  # noqa: E731
    Xs = [np.random.default_rng(j).normal(size=(1000, 8)) for j in range(2)]
    prog = autograd.compile(f, Xs[0], backend="c")
    want = [prog(X, grad=False) for X in Xs]
    wrong = [0]

    def work(j):
        for _ in range(400):
            if prog(Xs[j], grad=False) != want[j]:
                wrong[0] += 1
    threads = [threading.Thread(target=work, args=(j,)) for j in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong[0] == 0, f"{wrong[0]} of 800 calls gave another thread's numbers"


# -- nn.fit(compile=True) --------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["binary_cross_entropy", "cross_entropy"])
def test_fit_compiled_equals_eager(loss):
    X, y = nn.data.make_moons(100, noise=0.1, random_state=0)  # batches of 32, 32, 32 and 4

    def run(compile):
        if loss == "cross_entropy":
            model = nn.MLP(2, [8, 2], init="he", seed=0)
        else:
            model = nn.MLP(2, [8, 1], output_activation="sigmoid", init="he", seed=0)
        opt = nn.optim.SGD(model.parameters(), lr=0.1)
        h = nn.fit(model, loss, opt, X, y, epochs=3, batch_size=32, metrics=["accuracy"],
                   progress=False, seed=0, compile=compile)
        return h, [p.data for p in model.parameters()]
    h_eager, w_eager = run(False)
    h_comp, w_comp = run(True)
    assert set(h_eager) == set(h_comp)
    assert h_comp["epochs"] == h_eager["epochs"] == 3
    for key in ("loss", "accuracy"):
        assert h_comp[key] == pytest.approx(h_eager[key], rel=1e-9, abs=0), key
    assert w_comp == pytest.approx(w_eager, rel=1e-9, abs=1e-15)
