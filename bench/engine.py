"""valuegrad's engine against micrograd 0.1.0, side by side in one process, as ratios.

    python bench/engine.py [--repeat 3]

(a) micrograd's demo training step (moons n=100, MLP(2,[16,16,1]), hinge loss + 1e-4 L2,
    full batch) with one graph per example; (b) the same step with batched values;
(c) a 10^6-operation chain, nodes/s forward and backward; (d) bytes per scalar node.
The machine is shared and noisy: trust the ratios (same run), not the absolute times.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import autograd  # noqa: E402
from autograd import Value  # noqa: E402
from nn.data import make_moons  # noqa: E402
from nn.module import MLP  # noqa: E402

try:
    from micrograd import engine as mg_engine
    from micrograd import nn as mg_nn
except ImportError:  # pragma: no cover
    sys.exit("bench needs micrograd 0.1.0 from PyPI: pip install -e '.[bench]'")


def best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def moons():
    random.seed(1337)
    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    return X, y * 2 - 1


def micrograd_step(model, X, y):
    inputs = [list(map(mg_engine.Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.5 * p.grad


def ours_per_example_step(model, X, y):
    inputs = [list(map(Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 - yi * si).relu() for yi, si in zip(y, scores)]
    loss = autograd.sum(losses) * (1.0 / len(losses)) + 1e-4 * autograd.sum([p * p for p in model.parameters()])
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.5 * p.grad


def ours_batched_step(model, X, y):
    scores = model(X)
    loss = (1 - y * scores).relu().mean() + 1e-4 * autograd.sum([p * p for p in model.parameters()])
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.5 * p.grad


def paused(step):
    def run(*a):
        with autograd.gc_paused():
            step(*a)
    return run


def chain(n):
    """n operations deep; returns (forward s, backward s)."""
    x0 = Value(0.5)
    t = time.perf_counter()
    x = x0
    for _ in range(n):
        x = x * 1.0000001
    t_fwd = time.perf_counter() - t
    t = time.perf_counter()
    x.backward()
    return t_fwd, time.perf_counter() - t


def bytes_per_node(make_leaf, n=100_000):
    gc.collect()
    tracemalloc.start()
    x = make_leaf(0.5)
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        x = x * 1.0000001  # two nodes in both engines: the constant's leaf and the product
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del x
    return used / (2 * n)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="take the best of this many runs of each")
    args = ap.parse_args()
    X, y = moons()

    random.seed(1337)
    mg_model = mg_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    our_model = MLP(2, [16, 16, 1])

    t_mg = best_time(lambda: micrograd_step(mg_model, X, y), args.repeat)
    t_ex = best_time(lambda: ours_per_example_step(our_model, X, y), args.repeat)
    t_exp = best_time(lambda: paused(ours_per_example_step)(our_model, X, y), args.repeat)
    t_b = best_time(lambda: paused(ours_batched_step)(our_model, X, y), args.repeat * 10)
    print(f"(a) demo step, one graph per example: micrograd {t_mg * 1e3:8.1f} ms | valuegrad "
          f"{t_ex * 1e3:7.1f} ms ({t_mg / t_ex:5.1f}x), with the GC paused {t_exp * 1e3:7.1f} ms "
          f"({t_mg / t_exp:5.1f}x)")
    print(f"(b) demo step, batched values:        valuegrad {t_b * 1e3:7.2f} ms ({t_mg / t_b:6.0f}x micrograd)")

    n = 10**6
    with autograd.gc_paused():
        fwd, bwd = chain(n)
    print(f"(c) 10^6-deep chain: forward {n / fwd / 1e6:.2f} M nodes/s, backward {n / bwd / 1e6:.2f} M nodes/s "
          f"(micrograd: RecursionError past depth ~{sys.getrecursionlimit()})")

    b_ours = bytes_per_node(Value)
    b_mg = bytes_per_node(mg_engine.Value)
    print(f"(d) bytes per scalar node (tracemalloc): valuegrad {b_ours:.0f} | micrograd {b_mg:.0f}")
    print(f"summary: (a) {t_mg / t_ex:.1f}x ({t_mg / t_exp:.1f}x GC paused) (b) {t_mg / t_b:.0f}x "
          f"(c) {n / fwd / 1e6:.2f}/{n / bwd / 1e6:.2f} M nodes/s fwd/bwd (d) {b_ours:.0f} B/node vs {b_mg:.0f}")


if __name__ == "__main__":
    main()
