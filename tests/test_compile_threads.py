"""Code generation beside eager code in other threads: the rules run on symbols without any
process-wide swap of ops' helpers, so an eager thread's gradients stay exact while another
thread compiles, and ops is left as it was.
"""
import threading

import numpy as np
import pytest

import autograd
from autograd import Value, ops
from autograd.compiler import c_backend
from autograd.compiler.trace import trace


pytestmark = pytest.mark.usefixtures("private_cache")


def eager_grads(x):
    """A graph whose backward calls many helpers (sigmoid, step, sign, inside, power,
    ones_like, _batch_len, log, exp): each would break if a symbolic twin leaked in."""
    w, b = Value(0.7), Value(-0.3)
    h = (w * x + b)
    y = (h.softplus() + h.relu() + abs(h) + h.clamp(-0.5, 0.5) + (h * h + 1.0) ** 1.5
         + (h.exp() + 2.0).log() + h.sigmoid()).mean()
    y.backward()
    return y.data, w.grad, b.grad


def graphs():
    """Several small graphs to compile, each with its own parameters."""
    out = []
    for j in range(3):
        w = Value(0.5 + j)
        out.append((lambda x, w=w, j=j: ((w * x).tanh() * (w * x + j).softplus()
                                        + (w * x).clamp(-1.0, 1.0)).mean(), np.linspace(-1, 1, 5 + j)))
    return out


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_eager_thread_beside_compiles_keeps_exact_gradients(backend):
    if backend == "c":
        try:
            c_backend.find_compiler()
        except c_backend.CompilerNotFound:
            pytest.skip("no C compiler")
    x = np.linspace(-2.0, 2.0, 16)
    want = eager_grads(x)
    originals = {name: getattr(ops, name) for name in ops.HELPERS}
    stop = threading.Event()
    results = {"steps": 0, "wrong": 0, "error": None}

    def eager():
        try:
            while not stop.is_set() or results["steps"] < 50:
                got = eager_grads(x)
                results["steps"] += 1
                if got != want:
                    results["wrong"] += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            results["error"] = e

    t = threading.Thread(target=eager)
    t.start()
    try:
        for fn, arg in graphs():
            prog = autograd.compile(fn, arg, backend=backend)
            assert prog(arg) == pytest.approx(fn(Value(arg)).data, rel=1e-12)
            for _ in range(100):  # C code generation alone (no compiler run): many rules on symbols
                c_backend.generate(trace(fn, [arg]))
    finally:
        stop.set()
        t.join()
    assert results["error"] is None, results["error"]
    assert results["wrong"] == 0, f"{results['wrong']} of {results['steps']} eager steps were wrong"
    assert results["steps"] >= 50
    assert {name: getattr(ops, name) for name in ops.HELPERS} == originals


def test_concurrent_compiles_leave_ops_unchanged():
    originals = {name: getattr(ops, name) for name in ops.HELPERS}
    errors = []

    def work():
        try:
            for fn, arg in graphs():
                autograd.compile(fn, arg, backend="numpy")
                c_backend.generate(trace(fn, [arg]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert {name: getattr(ops, name) for name in ops.HELPERS} == originals
