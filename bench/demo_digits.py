"""Issue 10's two small workloads against PyTorch eager and JAX jit, side by side in one process.

    python bench/demo_digits.py [--rounds 5] [--steps 20] [--quick]

A: micrograd's demo step: moons n=100 (its seeds), MLP(2,[16,16,1]) with micrograd's initial
   weights, hinge + 1e-4 L2 over the 337 parameters, full-batch SGD (lr 0.5 constant).
B: one digits epoch: 1797x64 standardised, MLP(64,[32,10]) He init, softmax cross-entropy,
   57 batches of 32 (the last of 5) in one fixed shuffled order, SGD lr 0.1.
Contenders: valuegrad eager (batched values); the loss compiled with `autograd.compile` to numpy
and to C, run through `.flat(params)` + `optimizer.update` (the parameters in one array: the raw
compiled loop); `nn.fit(..., compile=True)` (A: `epochs=n`, one step an epoch; B: one 1-epoch call,
its per-call set-up included, compared with the raw compiled epoch); PyTorch eager; JAX jit
(value_and_grad + SGD update, compiled ahead, timed apart). Float64, one thread each, the same
weights and batches: the losses must agree (printed first). Interleaved rounds, medians.
First C compiles run in a child process with a fresh VALUEGRAD_CACHE (killed after
--max-compile-seconds); the cached load is autograd.compile in this process once the .so exists.
The fit column's per-call cost alone, in CPU time over many rounds: bench/fit_overhead.py.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (pins threads first)
import rivals  # noqa: E402
import workload  # noqa: E402
from common import agreement, fmt_ratio, fmt_size, fmt_time, measure  # noqa: E402

ORDER = ("eager", "numpy", "c", "fit", "torch", "jax")
NAMES = {"eager": "valuegrad eager (batched)", "numpy": "compiled numpy, flat", "c": "compiled C, flat",
         "fit": "nn.fit(compile=True)", "torch": "PyTorch eager", "jax": "JAX jit"}


def bench(wl, opts, per_epoch):
    """Measure every contender on `wl`; returns a dict for the report."""
    cs, info, t_jax = rivals.all_contenders(wl, opts)
    steps = wl.steps if per_epoch else opts.steps
    res = measure(cs, steps, opts.rounds, opts.budget, opts.max_step_seconds)
    ref, diffs = agreement(cs, res)
    times = {}
    for name, r in res.items():
        if r.times:
            # B: an epoch (extrapolated by steps when a slow contender ran fewer); A: a step
            whole = per_epoch and (name == "fit" or r.steps == wl.steps)
            times[name] = (r.per_run if whole else r.per_step * (wl.steps if per_epoch else 1),
                           None if whole or not per_epoch else r.steps)
    return dict(res=res, ref=ref, diffs=diffs, times=times, info=info, t_jax=t_jax, wl=wl)


def report(a, b):
    def line(d, k):
        r = d["res"][k]
        if r.skipped:
            return r.skipped
        t, extrapolated = d["times"][k]
        j, p = d["times"].get("jax", (None,))[0], d["times"].get("torch", (None,))[0]
        s = f"{fmt_time(t)}"
        if k not in ("torch", "jax"):
            s += f" ({fmt_ratio(t, j)} JAX, {fmt_ratio(t, p)} torch)"
        if extrapolated:
            s += f" [extrapolated from {extrapolated} of {d['wl'].steps} steps]"
        if k == "fit" and "c" in d["times"] and d is b:
            s += f" = {fmt_ratio(t, d['times']['c'][0])} the raw compiled epoch"
        return s

    for tag, d in (("A", a), ("B", b)):
        if d is None:
            continue
        agree = ", ".join(f"{k} {v:.1e}" for k, v in d["diffs"].items())
        print(f"same computation ({tag}): max relative difference of the losses vs {d['ref']}: {agree}")
    print("\n| contender | A: micrograd's demo, a step | B: a digits epoch |")
    print("|---|---|---|")
    for k in ORDER:
        print(f"| {NAMES[k]} | " + " | ".join(line(d, k) if d else "-" for d in (a, b)) + " |")
    for what, key in (("first C compile", "first"), ("cached C load", "load")):
        cells = []
        for d in (a, b):
            c = d["info"].get("c", {}) if d else {}
            cells.append(c.get("skipped") or fmt_time(c.get(key)) + (" (compiled again!)" if key == "load" and c.get("recompiled") else ""))
        print(f"| {what} | " + " | ".join(cells) + " |")
    print("| generated C | " + " | ".join(
        fmt_size(d['info']['c']['chars'], d['info']['c']['lines']) if d and "chars" in d["info"].get("c", {}) else "-"
        for d in (a, b)) + " |")
    print("| JAX compile (each shape) | " + " | ".join(fmt_time(d["t_jax"]) if d else "-" for d in (a, b)) + " |")
    goals = []
    if a and "c" in a["times"] and "jax" in a["times"]:
        goals.append(f"A: compiled C flat {a['times']['c'][0] / a['times']['jax'][0]:.2f}x JAX"
                     + (f", nn.fit {a['times']['fit'][0] / a['times']['jax'][0]:.2f}x" if "fit" in a["times"] else "")
                     + " (target <= 1.0x)")
    if b and "c" in b["times"] and "jax" in b["times"]:
        goals.append(f"B: compiled epoch {b['times']['c'][0] / b['times']['jax'][0]:.2f}x JAX (target <= 1.0x)")
        if "fit" in b["times"]:
            goals.append(f"1-epoch nn.fit call {b['times']['fit'][0] / b['times']['c'][0]:.2f}x the raw epoch (target <= 1.2x)")
    if b and "eager" in b["times"] and "torch" in b["times"]:
        goals.append(f"B eager {b['times']['eager'][0] / b['times']['torch'][0]:.1f}x PyTorch (target <= 10x)")
    print("summary: " + "; ".join(goals))


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="A: steps per timed run")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds per contender per workload, about")
    ap.add_argument("--max-step-seconds", type=float, default=20.0)
    ap.add_argument("--max-compile-seconds", type=float, default=60.0)
    common.skip_option(ap, ORDER)
    ap.add_argument("--only", choices=("A", "B"), help="one workload")
    ap.add_argument("--quick", action="store_true", help="2 rounds, 5 steps for A, budgets of 3 s")
    opts = ap.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.steps, opts.budget = 2, 5, 3.0
    if opts.rounds < 1 or opts.steps < 1:
        ap.error("--rounds and --steps must be >= 1")
    return opts


def main(argv=None):
    opts = parse(argv)
    cache = tempfile.mkdtemp(prefix="valuegrad_bench_cache_")
    os.environ["VALUEGRAD_CACHE"] = cache
    try:
        a = bench(workload.demo(steps=opts.steps), opts, per_epoch=False) if opts.only != "B" else None
        b = bench(workload.digits(), opts, per_epoch=True) if opts.only != "A" else None
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    report(a, b)
    return a, b


if __name__ == "__main__":
    main()
