"""autograd.compile against the eager engine, PyTorch and micrograd, side by side in one process.

    python bench/compile.py [--repeat 5] [--steps 20] [--micrograd-steps 3]

(A) micrograd's demo step: moons n=100 (random.seed(1337), np.random.seed(1337)), MLP(2,[16,16,1]),
    hinge loss + 1e-4 L2, full batch, lr 1.0 - 0.9 k/100, the SGD update a Python loop over the
    337 parameters (`p.data -= lr * p.grad`; gradients zeroed by a loop over the same list);
(B) one digits epoch: nn.data.load_digits, StandardScaler (fit on all rows), MLP(64,[32,10]) ReLU
    (He init, seed 0), softmax cross-entropy (mean), minibatches of 32 in one fixed shuffled order
    (57 batches: 56 x 32 + 5), optim.SGD lr 0.1; targets one-hot, so that they are arguments of
    the trace (the last, short batch is a second program).

Contenders: valuegrad eager (batched values, GC paused per step, as nn.fit), the same function
compiled to numpy and to C (autograd.compile), PyTorch eager float64 on one thread (if importable)
and, for (A) only, micrograd 0.1.0 (one graph per example; a few steps, it is slow). All start
from the same weights and see the same data: the losses must agree to rounding (checked first).
Compile times are measured with a fresh VALUEGRAD_CACHE (a temporary folder): the first compile
runs the C compiler; the cached load is `autograd.compile(...)` again once the .so exists, in this
process and in a fresh one. The machine is shared and noisy: trust the ratios, not the times.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, REPO)
import autograd  # noqa: E402
from nn import losses, optim  # noqa: E402
from nn.data import StandardScaler, load_digits, make_moons, minibatches, one_hot  # noqa: E402
from nn.module import MLP  # noqa: E402
from common import layer_arrays, load_micrograd, load_ours, load_torch, max_rel, torch_mlp  # noqa: E402

try:
    from micrograd import engine as mg_engine
    from micrograd import nn as mg_nn
except ImportError:  # pragma: no cover
    mg_nn = None

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None

DIGITS_BATCH, DIGITS_LR = 32, 0.1


# -- the two workloads ------------------------------------------------------------------------

def demo_setup():
    """micrograd's notebook: seeds, data, then the model (its uniform(-1, 1) init)."""
    random.seed(1337)
    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1.0
    model = MLP(2, [16, 16, 1])
    return X, y, model


def demo_loss(model):
    return lambda X, y: losses.hinge(model(X), y) + losses.l2(model.parameters(), 1e-4)


def digits_setup():
    X, y = load_digits()
    X = StandardScaler().fit_transform(X)  # fit on all 1797 rows: this measures speed only
    batches = [(Xb, yb, one_hot(yb, 10)) for Xb, yb in minibatches(X, y, DIGITS_BATCH, shuffle=True, seed=0)]
    model = MLP(64, [32, 10], init="he", seed=0)  # ReLU hidden, linear outputs
    return batches, model


def digits_loss(model):
    return lambda Xb, Yb: losses.cross_entropy(model(Xb), Yb)  # Yb: (n, 10) one-hot


# -- (A) one demo step, each contender ---------------------------------------------------------

def a_eager(model, params, X, y, steps):
    f, out = demo_loss(model), []
    for k in range(steps):
        with autograd.gc_paused():
            L = f(X, y)
            for p in params:
                p.grad = 0.0
            L.backward()
            lr = 1.0 - 0.9 * k / 100
            for p in params:
                p.data -= lr * p.grad
        out.append(L.data)
    return out


def a_compiled(prog, params, X, y, steps):
    out = []
    for k in range(steps):
        with autograd.gc_paused():
            for p in params:
                p.grad = 0.0
            L = prog(X, y)
            lr = 1.0 - 0.9 * k / 100
            for p in params:
                p.data -= lr * p.grad
        out.append(L)
    return out


def a_torch(model, X, y, steps):
    params, out = list(model.parameters()), []
    for k in range(steps):
        scores = model(X)[:, 0]
        loss = torch.relu(1 - y * scores).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        lr = 1.0 - 0.9 * k / 100
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)
        out.append(loss.item())
    return out


def a_micrograd(model, params, X, y, steps):
    inputs = [list(map(mg_engine.Value, row)) for row in X.tolist()]
    out = []
    for k in range(steps):
        scores = list(map(model, inputs))
        per_example = [(1 + -yi * si).relu() for yi, si in zip(y.tolist(), scores)]
        loss = sum(per_example) * (1.0 / len(per_example)) + 1e-4 * sum(p * p for p in params)
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= lr * p.grad
        out.append(loss.data)
    return out


# -- (B) one digits epoch, each contender ------------------------------------------------------

def b_eager(model, opt, batches):
    f, out = digits_loss(model), []
    for Xb, _, Yb in batches:
        with autograd.gc_paused():
            L = f(Xb, Yb)
            opt.zero_grad()
            L.backward()
            opt.step()
        out.append(L.data)
    return out


def b_compiled(prog, opt, batches):
    out = []
    for Xb, _, Yb in batches:
        with autograd.gc_paused():
            opt.zero_grad()
            out.append(prog(Xb, Yb))
            opt.step()
    return out


def b_flat(step, opt, batches):
    """As nn.fit(compile=True): parameters in one array, updated by opt.update, no Value touched."""
    theta = np.array([p.data for p in opt.params])
    out = []
    for Xb, _, Yb in batches:
        loss, g = step(theta, Xb, Yb)
        theta = opt.update(theta, g)
        out.append(loss)
    step.load(theta)
    return out


def b_torch(model, opt, batches):
    out = []
    for Xb, yb, _ in batches:
        loss = F.cross_entropy(model(Xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


# -- helpers -------------------------------------------------------------------------------------

def best_of(repeat, reset, run):
    """(best seconds, result of the first run): each run starts from reset()."""
    best, first = float("inf"), None
    for r in range(repeat):
        reset()
        gc.collect()
        t = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t)
        if r == 0:
            first = result
    return best, first


def per_call(fn, n, repeat):
    """Best mean seconds per call of fn() over `repeat` runs of n calls."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def breakdown(prog, args, update, repeat):
    """Where a compiled step's time goes: the call (and its C/numpy code without gradients), the update."""
    run = the_program(prog).run
    from autograd.compiler.trace import flatten_args
    data = flatten_args(args)
    params = [p.data for p in the_program(prog).trace.params]
    with autograd.gc_paused():
        return {"call": per_call(lambda: prog(*args), 50, repeat),
                "runner": per_call(lambda: run(data, params, True), 50, repeat),
                "update": per_call(update, 50, repeat)}


def timed_compile(fn, *args, backend):
    t = time.perf_counter()
    prog = autograd.compile(fn, *args, backend=backend)
    return time.perf_counter() - t, prog


def cached_load(fn, *args):
    """Best of 3: a collection of the cyclic GC may land inside one (~0.1 s here)."""
    best = float("inf")
    for _ in range(3):
        t, prog = timed_compile(fn, *args, backend="c")
        assert not the_program(prog).compiled_now, "the cached load ran the C compiler"
        best = min(best, t)
    return best, prog


def the_program(prog):
    return next(iter(prog.programs.values()))


def size(source):
    return f"{len(source):,} chars / {source.count(chr(10)):,} lines"


def cached_load_child():
    """In a fresh process (VALUEGRAD_CACHE already holds the .so files): autograd.compile's wall time."""
    X, y, model = demo_setup()
    t_a, pa = timed_compile(demo_loss(model), X, y, backend="c")
    batches, dmodel = digits_setup()
    t_b, pb = timed_compile(digits_loss(dmodel), batches[0][0], batches[0][2], backend="c")
    print(json.dumps({"A": t_a, "B": t_b,
                      "compiled_now": [the_program(pa).compiled_now, the_program(pb).compiled_now]}))


def fresh_process_load(cache):
    env = dict(os.environ, VALUEGRAD_CACHE=cache)
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--cached-load-child"],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"cached-load child failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def ms(t):
    return f"{t * 1e3:9.3f} ms"


def ratio_line(name, t, t_torch):
    vs = f"{t / t_torch:7.2f}x torch" if t_torch else "  (no torch)"
    return f"  {name:<32}{ms(t)}  {vs}"


# -- main --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="best of this many runs of each contender")
    ap.add_argument("--steps", type=int, default=20, help="(A): demo steps per timed run")
    ap.add_argument("--micrograd-steps", type=int, default=3, help="(A): micrograd steps (slow)")
    ap.add_argument("--cached-load-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cached_load_child:
        return cached_load_child()
    if args.repeat < 1 or args.steps < 1 or args.micrograd_steps < 0:
        ap.error("--repeat and --steps must be >= 1, --micrograd-steps >= 0")
    cache = tempfile.mkdtemp(prefix="valuegrad_bench_cache_")
    os.environ["VALUEGRAD_CACHE"] = cache  # fresh: the first compile must run the C compiler
    try:
        run(args, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run(args, cache):
    if torch is not None:
        torch.set_num_threads(1)
    steps = args.steps

    # ---- (A) micrograd's demo step ----
    X, y, model = demo_setup()
    params = model.parameters()
    init_a = layer_arrays(model)
    f_a = demo_loss(model)
    comp_a = {}
    for backend in ("numpy", "c"):
        comp_a[backend] = timed_compile(f_a, X, y, backend=backend)
    assert the_program(comp_a["c"][1]).compiled_now, "the C compile was not fresh"
    t_load_a, prog = cached_load(f_a, X, y)
    reset_a = lambda: load_ours(model, init_a)  # noqa: E731
    ta, losses_a = {}, {}
    ta["eager"], losses_a["eager"] = best_of(args.repeat, reset_a, lambda: a_eager(model, params, X, y, steps))
    for backend in ("numpy", "c"):
        p = comp_a[backend][1]
        ta[backend], losses_a[backend] = best_of(args.repeat, reset_a, lambda: a_compiled(p, params, X, y, steps))
    if torch is not None:
        tm = torch_mlp([2, 16, 16, 1])
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        ta["torch"], losses_a["torch"] = best_of(args.repeat, lambda: load_torch(tm, init_a),
                                                 lambda: a_torch(tm, Xt, yt, steps))
    if mg_nn is not None and args.micrograd_steps:
        mg = mg_nn.MLP(2, [16, 16, 1])
        mg_params = mg.parameters()
        ta["micrograd"], losses_a["micrograd"] = best_of(
            1, lambda: load_micrograd(mg, init_a), lambda: a_micrograd(mg, mg_params, X, y, args.micrograd_steps))
        ta["micrograd"] *= steps / args.micrograd_steps  # per `steps` steps, as the others
    for k in ta:
        ta[k] /= steps  # per step

    # ---- (B) one digits epoch ----
    batches, dmodel = digits_setup()
    init_b = layer_arrays(dmodel)
    f_b = digits_loss(dmodel)
    Xb0, _, Yb0 = batches[0]
    comp_b = {}
    for backend in ("numpy", "c"):
        comp_b[backend] = timed_compile(f_b, Xb0, Yb0, backend=backend)
    assert the_program(comp_b["c"][1]).compiled_now, "the C compile was not fresh"
    t_load_b, prog = cached_load(f_b, Xb0, Yb0)
    for backend in ("numpy", "c"):  # the short last batch: its program is built before timing
        comp_b[backend][1](batches[-1][0], batches[-1][2], grad=False)
    dopt = optim.SGD(dmodel, lr=DIGITS_LR)
    reset_b = lambda: load_ours(dmodel, init_b)  # noqa: E731
    tb, losses_b = {}, {}
    tb["eager"], losses_b["eager"] = best_of(args.repeat, reset_b, lambda: b_eager(dmodel, dopt, batches))
    for backend in ("numpy", "c"):
        p = comp_b[backend][1]
        tb[backend], losses_b[backend] = best_of(args.repeat, reset_b, lambda: b_compiled(p, dopt, batches))
    flat = comp_b["c"][1].flat(dopt.params)
    tb["flat"], losses_b["flat"] = best_of(args.repeat, reset_b, lambda: b_flat(flat, dopt, batches))
    if torch is not None:
        tmb = torch_mlp([64, 32, 10])
        topt = torch.optim.SGD(tmb.parameters(), lr=DIGITS_LR)
        tbatches = [(torch.from_numpy(Xb), torch.from_numpy(yb), None) for Xb, yb, _ in batches]
        tb["torch"], losses_b["torch"] = best_of(args.repeat, lambda: load_torch(tmb, init_b),
                                                 lambda: b_torch(tmb, topt, tbatches))

    # where the C step's time goes (params move a little: timing only)
    def a_update():
        for p in params:
            p.grad = 0.0
        for p in params:
            p.data -= 1e-12 * p.grad
    parts_a = breakdown(comp_a["c"][1], (X, y), a_update, args.repeat)
    reset_a()

    def b_update():
        dopt.zero_grad()
        dopt.step()
    parts_b = breakdown(comp_b["c"][1], (Xb0, Yb0), b_update, args.repeat)
    reset_b()

    child = fresh_process_load(cache)

    # ---- report ----
    names = {"eager": "valuegrad eager (batched)", "numpy": "compiled, numpy backend", "c": "compiled, C backend",
             "flat": "compiled C, flat parameters",
             "torch": "torch eager float64, 1 thread", "micrograd": "micrograd (one graph/example)"}
    diff_a = {k: max_rel(v, losses_a["eager"][:len(v)]) for k, v in losses_a.items() if k != "eager"}
    diff_b = {k: max_rel(v, losses_b["eager"]) for k, v in losses_b.items() if k != "eager"}
    worst = max(list(diff_a.values()) + list(diff_b.values()))
    print(f"same computation: (A) step-0 loss {losses_a['eager'][0]!r} (micrograd's 0.8958441028683222); "
          f"max relative difference of the losses vs valuegrad eager over {steps} steps: "
          + ", ".join(f"{k} {v:.1e}" for k, v in diff_a.items())
          + (f" (micrograd: {args.micrograd_steps} steps)" if "micrograd" in diff_a else ""))
    print(f"                  (B) first-batch loss {losses_b['eager'][0]!r}; over the {len(batches)} batches: "
          + ", ".join(f"{k} {v:.1e}" for k, v in diff_b.items()))
    t_torch_a, t_torch_b = ta.get("torch"), tb.get("torch")
    print(f"(A) micrograd's demo step (moons n=100, MLP(2,[16,16,1]), hinge + L2, SGD loop), per step, "
          f"best of {args.repeat} x {steps} steps:")
    for k in ("eager", "numpy", "c", "torch", "micrograd"):
        if k in ta:
            extra = f"  (extrapolated from {args.micrograd_steps} steps)" if k == "micrograd" else ""
            print(ratio_line(names[k], ta[k], t_torch_a) + extra)
    print(f"(B) one digits epoch ({len(batches)} batches of 32, MLP(64,[32,10]), softmax CE, SGD 0.1), "
          f"best of {args.repeat}:")
    for k in ("eager", "numpy", "c", "flat", "torch"):
        if k in tb:
            print(ratio_line(names[k], tb[k], t_torch_b)
                  + ("  (as nn.fit(compile=True): one array, optimizer.update)" if k == "flat" else ""))
    for tag, parts, t_step, t_torch in (("A", parts_a, ta["c"], t_torch_a), ("B", parts_b, tb["c"] / len(batches),
                                                                          t_torch_b and t_torch_b / len(batches))):
        print(f"  ({tag}) a C step: {t_step * 1e6:.0f} us = prog(...) {parts['call'] * 1e6:.0f} us (its runner: packing, "
              f"the C code, unpacking {parts['runner'] * 1e6:.0f} us) + zero/update loop {parts['update'] * 1e6:.0f} us"
              + (f"; torch's whole step {t_torch * 1e6:.0f} us" if t_torch else ""))
    print(f"speed-up of compile over eager: (A) numpy {ta['eager'] / ta['numpy']:.1f}x, C {ta['eager'] / ta['c']:.1f}x; "
          f"(B) numpy {tb['eager'] / tb['numpy']:.1f}x, C {tb['eager'] / tb['c']:.1f}x")
    print("compile (fresh VALUEGRAD_CACHE):")
    for tag, comp, t_load, key in (("A", comp_a, t_load_a, "A"), ("B", comp_b, t_load_b, "B")):
        print(f"  ({tag}) numpy {comp['numpy'][0]:.3f} s | C first {comp['c'][0]:.3f} s (target <= 3 s), "
              f"cached load {t_load:.3f} s in this process (best of 3), {child[key]:.3f} s in a fresh process "
              f"(target <= 0.1 s; compiled_now {child['compiled_now'][0 if tag == 'A' else 1]})")
    print("generated code:")
    for tag, comp in (("A", comp_a), ("B", comp_b)):
        print(f"  ({tag}) numpy {size(comp['numpy'][1].source)} | C {size(comp['c'][1].source)}")
    t_compile = max(comp_a["c"][0], comp_b["c"][0])
    t_load = max(t_load_a, t_load_b, child["A"], child["B"])
    if t_torch_a:
        ra, rb = ta["c"] / t_torch_a, tb["flat"] / t_torch_b
        torch_part = (f"C vs torch: (A) {ra:.2f}x (target <= 0.5x: {'met' if ra <= 0.5 else 'NOT met'}), "
                      f"(B) {rb:.2f}x with flat parameters (target <= 1x: {'met' if rb <= 1.0 else 'NOT met'})")
    else:
        torch_part = "torch skipped"
    print(f"summary: {torch_part}; compile {t_compile:.2f} s (target 3 s: {'met' if t_compile <= 3 else 'NOT met'}), "
          f"cached load {t_load:.3f} s (target 0.1 s: {'met' if t_load <= 0.1 else 'NOT met'}); "
          f"losses agree to {worst:.1e}")


if __name__ == "__main__":
    main()
