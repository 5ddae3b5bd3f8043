"""An MNIST-shaped epoch: valuegrad against PyTorch eager and JAX jit, side by side in one process.

    python bench/mnist.py [--examples 60000] [--rounds 3] [--budget 20] [--quick]

The task: --examples synthetic rows (784 pixels uniform in [0, 1), labels 0-9 uniform, numpy seed 0:
timing only, nothing to learn), MLP(784,[128,10]) (101,770 parameters, ReLU, He init), softmax
cross-entropy (mean), batches of 64 in order (60,000 rows: 937 x 64 + 32), SGD lr 0.01: one epoch.
Contenders: valuegrad eager (batched values); `autograd.compile` to numpy and to C through
`.flat(params)` + `optimizer.update`; one 1-epoch `nn.fit(..., compile=True)` call; PyTorch eager;
JAX jit (value_and_grad + SGD update; its compile timed apart). Float64, one thread each, the same
weights and batches: the losses must agree (printed). A contender too slow for a whole epoch
within --budget seconds (valuegrad eager, the numpy back end) runs the first k steps and its epoch
is EXTRAPOLATED (k/938 of it, said in the output). First compiles run in a child process with a
fresh VALUEGRAD_CACHE, killed after --max-compile-seconds ("skipped: compile over N s"; the C back
end compiles this by layers in a few seconds, the straight-line numpy back end takes ~20 s). The
fit cached load: see bench/scaling.py (here on 3 batches of 64 and a last shorter one: both shapes).
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
import scaling  # noqa: E402
import workload  # noqa: E402
from common import agreement, fmt_ratio, fmt_size, fmt_time, measure  # noqa: E402

ORDER = ("eager", "numpy", "c", "fit", "torch", "jax")
NAMES = {"eager": "valuegrad eager (batched)", "numpy": "compiled numpy, flat", "c": "compiled C, flat",
         "fit": "nn.fit(compile=True), a 1-epoch call", "torch": "PyTorch eager", "jax": "JAX jit"}


def bench(opts):
    wl = workload.mnist_like(examples=opts.examples, hidden=opts.hidden, inputs=opts.inputs)
    cs, info, t_jax = rivals.all_contenders(wl, opts)
    if "load" in info.get("c", {}):  # the library on disk: a fresh process's first fit call
        last = opts.examples % 64 or 64  # both batch shapes of the epoch, in a few batches
        spec = dict(wl.spec, examples=3 * 64 + last)
        info["c"]["fit"] = scaling.fit_load(spec, opts.max_compile_seconds)
    res = measure(cs, wl.steps, opts.rounds, opts.budget, opts.max_step_seconds)
    ref, diffs = agreement(cs, res)
    return wl, res, ref, diffs, info, t_jax


def report(wl, res, ref, diffs, info, t_jax):
    epoch = {}
    for k, r in res.items():
        if r.times:
            whole = k == "fit" or r.steps == wl.steps
            epoch[k] = (r.per_run if whole else r.per_step * wl.steps, None if whole else r.steps)
    j, p = epoch.get("jax", (None,))[0], epoch.get("torch", (None,))[0]
    print(f"MNIST-shaped epoch: {len(wl.X):,} rows, MLP({wl.sizes[0]},{wl.sizes[1:]}) "
          f"({wl.n_params:,} parameters), softmax CE, {wl.steps} batches of {wl.batch_size}, SGD")
    print(f"same computation: max relative difference of the losses vs {ref} (over the steps both ran): "
          + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    print("\n| contender | an epoch | vs JAX | vs PyTorch | runs |")
    print("|---|---|---|---|---|")
    for k in ORDER:
        r = res[k]
        if r.skipped:
            print(f"| {NAMES[k]} | {r.skipped} | | | |")
            continue
        t, part = epoch[k]
        note = f"EXTRAPOLATED from {part} of {wl.steps} steps" if part else f"median of {len(r.times)}"
        print(f"| {NAMES[k]} | {fmt_time(t)} | {fmt_ratio(t, j)} | {fmt_ratio(t, p)} | {note} |")
    c = info.get("c", {})
    print(f"first C compile: {c.get('skipped') or fmt_time(c.get('first'))}"
          + (f" (all {len(wl.shapes)} batch shapes {fmt_time(c['all_shapes'])}), cached load {fmt_time(c['load'])}, "
             f"C {fmt_size(c['chars'], c['lines'])}" if "load" in c else "")
          + f"; numpy compile: {info.get('numpy', {}).get('skipped') or fmt_time(info.get('numpy', {}).get('first'))}"
          + f"; JAX compile {fmt_time(t_jax)} (first shape)")
    if "fit" in c:
        print(f"nn.fit(compile=True) cached load (a fresh process's first 1-epoch call minus the epoch): "
              f"{scaling.fit_load_text(c['fit'])} (in brackets: with the loss traced)")
    if "c" in epoch and j:
        print(f"summary: compiled epoch {epoch['c'][0] / j:.2f}x JAX (target <= 2x)")


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=60000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--inputs", type=int, default=784, help="pixels a row (784: MNIST's)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per contender, about")
    ap.add_argument("--max-step-seconds", type=float, default=60.0)
    ap.add_argument("--max-compile-seconds", type=float, default=60.0)
    common.skip_option(ap, ORDER)
    ap.add_argument("--quick", action="store_true", help="6,400 rows, 2 rounds, budgets of 4 s, compiles 10 s")
    opts = ap.parse_args(argv)
    if opts.quick:
        opts.examples, opts.rounds, opts.budget, opts.max_compile_seconds = 6400, 2, 4.0, 10.0
    if min(opts.examples, opts.rounds, opts.hidden, opts.inputs) < 1:
        ap.error("--examples, --hidden, --inputs and --rounds must be >= 1")
    return opts


def main(argv=None):
    opts = parse(argv)
    cache = tempfile.mkdtemp(prefix="valuegrad_bench_cache_")
    os.environ["VALUEGRAD_CACHE"] = cache
    try:
        out = bench(opts)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    report(*out)
    return out


if __name__ == "__main__":
    main()
