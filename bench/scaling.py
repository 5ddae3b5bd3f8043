"""How valuegrad scales with width and batch, against PyTorch eager and JAX jit, in one process.

    python bench/scaling.py [--widths 16,64,256] [--batches 100,1000,10000] [--rounds 3]
                            [--steps 5] [--max-compile-seconds 30] [--quick]

The task: MLP(2,[w,w,1]) (ReLU, He init, seed 0) on `batch` moons (noise 0.1, seed 0), micrograd's
demo loss (hinge + 1e-4 L2 over all parameters), full-batch SGD lr 0.5: `--steps` steps from the
same weights for every contender. Contenders: valuegrad eager (batched values), the same loss
compiled (`autograd.compile`) to numpy and to C, run through `.flat(params)` with
`optimizer.update` (the public fast path, as nn.fit(compile=True)), PyTorch eager, JAX jit
(value_and_grad + the SGD update). Float64, one thread each. Per cell: interleaved rounds,
median time per step; the losses of every step must agree with valuegrad eager's (printed).

Per width: the first C compile (autograd.compile's wall time with a fresh VALUEGRAD_CACHE, in a
child process killed after --max-compile-seconds: "skipped: compile over N s"), the cached load
(autograd.compile again in this process, the .so on disk), the generated C's size, and JAX's
compile. "fit cached load": a 1-epoch nn.fit(model, "hinge", SGD, regularization=nn.L2(1e-4),
compile=True) call in a fresh child process with the program on disk, minus the same call once
warm (the epoch itself): first after the library alone was cached (the loss is traced: in
brackets), then in three more children once a fit has remembered the program under the model's
description (no trace: the figure to read; median wall time, and CPU time, which a busy machine
moves less). A compile is per batch shape (each batch size compiles again; only the first is
reported). A step slower than --max-step-seconds is not timed; slow contenders run fewer steps
and rounds (about --budget seconds each per cell). The machine is shared: trust the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (pins threads first)
import rivals  # noqa: E402
import workload  # noqa: E402
from common import agreement, fmt_ratio, fmt_size, fmt_time, measure  # noqa: E402

ORDER = ("eager", "numpy", "c", "torch", "jax")
NAMES = {"eager": "eager", "numpy": "compiled numpy", "c": "compiled C", "torch": "PyTorch", "jax": "JAX jit"}


def cell(width, batch, opts, compile_info, skip_backends):
    """Measure one (width, batch): returns (results, reference, diffs, jax compile seconds)."""
    wl = workload.moons(width, batch, steps=opts.steps)
    cs = workload.valuegrad_contenders(wl) + rivals.rival_contenders(wl)
    common.leave_out(cs, opts.skip)
    for c in cs:
        if c.name in ("numpy", "c") and not c.skipped:
            if c.name in skip_backends:
                c.skipped = skip_backends[c.name]
                continue
            info = {}
            workload.prepare_compiled(c, opts.max_compile_seconds, info)
            compile_info.setdefault(c.name, info[c.name])  # the first batch size's numbers
            if c.skipped:
                skip_backends[c.name] = c.skipped  # a bigger batch would not do better
            elif c.name == "c" and "fit" not in compile_info:
                compile_info["fit"] = fit_load(wl.spec, opts.max_compile_seconds)
    jax_c = next(c for c in cs if c.name == "jax")
    t_jax = jax_c.compile() if not jax_c.skipped else None
    res = measure(cs, opts.steps, opts.rounds, opts.budget, opts.max_step_seconds)
    ref, diffs = agreement(cs, res)
    return res, ref, diffs, t_jax


def fit_load(spec, limit):
    """nn.fit(compile=True)'s cached load for workload `spec`, its C library already on disk:
    {"traced": s, "keyed": s} (first call minus a warm call, each in a fresh child process;
    the first child traces and remembers the program, the second finds it without a trace)."""
    argv = [os.path.abspath(__file__), "--fit-load-child", json.dumps(spec)]
    limit = max(limit, 120.0)  # a child builds the model and data again: big ones take a while
    out = {}
    for name, runs in (("traced", 1), ("keyed", 3)):
        got = []
        for _ in range(runs):
            child = common.run_child(argv, limit)
            if "first" not in child:
                out[name + "_error"] = "timeout" if "timeout" in child else child.get("error", "?").strip().splitlines()[-1]
                return out
            got.append(child)
            out[name + "_path"] = "no trace" if child["traces"] == 0 else f"{child['traces']} trace(s)"
        out[name] = statistics.median(c["first"] - c["warm"] for c in got)
        out[name + "_cpu"] = statistics.median(c["first_cpu"] - c["warm_cpu"] for c in got)
    return out


def fit_load_child(spec_json):
    """In this fresh process: time a 1-epoch compiled fit call, then the same call warm."""
    import nn
    from nn.train import L2, _CompiledStep
    wl = workload.build(json.loads(spec_json))
    model = workload.make_model(wl)
    opt = nn.optim.SGD(model.parameters(), lr=wl.lr)
    reg = L2(wl.l2) if wl.l2 else None
    loss = "hinge" if wl.loss == "hinge" else "cross_entropy"

    def call():
        t, c = time.perf_counter(), time.process_time()
        nn.fit(model, loss, opt, wl.X, wl.t, epochs=1, batch_size=wl.batch_size, shuffle=False,
               progress=False, regularization=reg, compile=True)
        return time.perf_counter() - t, time.process_time() - c
    first = call()
    warm = sorted(call() for _ in range(3))[1]
    flat = next(iter(_CompiledStep._cache[model].values())).flat
    traces = flat.compiled.traces if flat.compiled is not None else 0
    print(json.dumps({"first": first[0], "warm": warm[0], "first_cpu": first[1], "warm_cpu": warm[1],
                      "traces": traces, "keyed": flat.keyed_loads}))


def run(opts):
    rows, per_width = [], []
    print("| width | batch | params | " + " | ".join(NAMES[k] for k in ORDER) + " | losses: max rel. diff vs eager |")
    print("|---|---|---|" + "---|" * len(ORDER) + "---|")
    for w in opts.widths:
        compile_info, skip, t_jax_first = {}, {}, None
        for b in opts.batches:
            res, ref, diffs, t_jax = cell(w, b, opts, compile_info, skip)
            t_jax_first = t_jax_first if t_jax_first is not None else t_jax
            rows.append((w, b, res, ref, diffs))
            print_row(w, b, res, ref, diffs, opts)
        per_width.append((w, compile_info, t_jax_first))
    return rows, per_width


def cell_text(r, res, opts):
    """'time (ratio to JAX, to torch)', and [steps x runs] when a slow contender ran fewer."""
    if r.skipped:
        return r.skipped
    t = r.per_step
    j, p = res["jax"].per_step, res["torch"].per_step
    text = fmt_time(t)
    if r.name in ("eager", "numpy", "c"):
        text += f" ({fmt_ratio(t, j)} JAX, {fmt_ratio(t, p)} torch)"
    if r.steps < opts.steps or len(r.times) < opts.rounds:
        text += f" [{r.steps} step{'s' * (r.steps > 1)} x {len(r.times)}]"
    return text


def print_row(w, b, res, ref, diffs, opts):
    params = 2 * w + w + w * w + w + w + 1
    agree = ", ".join(f"{k} {v:.0e}" for k, v in diffs.items()) if diffs else "-"
    if ref != "eager" and ref:
        agree = f"(vs {ref}) " + agree
    print(f"| {w} | {b} | {params:,} | " + " | ".join(cell_text(res[k], res, opts) for k in ORDER) + f" | {agree} |",
          flush=True)


def print_compiles(per_width):
    print("\nPer width (the first batch size's compile; C in a fresh VALUEGRAD_CACHE):")
    print("| width | first C compile | cached load | fit cached load (traced) | generated C | numpy compile | JAX compile |")
    print("|---|---|---|---|---|---|---|")
    for w, info, t_jax in per_width:
        c, npy = info.get("c", {}), info.get("numpy", {})
        first = c.get("skipped") or fmt_time(c.get("first"))
        load = fmt_time(c.get("load")) + (" (compiled again!)" if c.get("recompiled") else "") if "load" in c else "-"
        size = fmt_size(c["chars"], c["lines"]) if "chars" in c else "-"
        nfirst = npy.get("skipped") or fmt_time(npy.get("first"))
        print(f"| {w} | {first} | {load} | {fit_load_text(info.get('fit'))} | {size} | {nfirst} | {fmt_time(t_jax)} |")


def fit_load_text(f):
    if not f:
        return "-"
    if "traced" not in f:
        return "failed: " + f.get("traced_error", "?")
    keyed = f"{fmt_time(f['keyed'])}, CPU {fmt_time(f['keyed_cpu'])}" + (
        "" if f.get("keyed_path") == "no trace" else f" ({f.get('keyed_path')})") \
        if "keyed" in f else "failed: " + f.get("keyed_error", "?")
    return f"{keyed} ({fmt_time(f['traced'])})"


def print_summary(rows):
    print("\nRatios (median step time / JAX jit's; / PyTorch eager's):")
    for w, b, res, _, _ in rows:
        j, p = res["jax"].per_step, res["torch"].per_step
        parts = []
        for k in ("c", "numpy", "eager"):
            t = res[k].per_step
            parts.append(f"{k} {fmt_ratio(t, j)} / {fmt_ratio(t, p)}" if t else f"{k} -")
        print(f"  w{w} b{b}: " + ", ".join(parts))


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    ap.add_argument("--widths", type=ints, default=[16, 64, 256])
    ap.add_argument("--batches", type=ints, default=[100, 1000, 10000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5, help="steps per timed run")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds per contender per cell, about")
    ap.add_argument("--max-step-seconds", type=float, default=10.0)
    ap.add_argument("--max-compile-seconds", type=float, default=30.0)
    common.skip_option(ap, ORDER)
    ap.add_argument("--quick", action="store_true",
                    help="widths 16,64, batches 100,1000, 2 rounds of 2 steps, compiles bounded at 15 s")
    opts = ap.parse_args(argv)
    if opts.quick:
        opts.widths, opts.batches, opts.rounds, opts.steps = [16, 64], [100, 1000], 2, 2
        opts.budget, opts.max_step_seconds, opts.max_compile_seconds = 2.0, 5.0, 15.0
    if opts.rounds < 1 or opts.steps < 1 or min(opts.widths + opts.batches) < 1:
        ap.error("--rounds, --steps, widths and batches must be >= 1")
    return opts


def main(argv=None):
    opts = parse(argv)
    cache = tempfile.mkdtemp(prefix="valuegrad_bench_cache_")
    os.environ["VALUEGRAD_CACHE"] = cache  # fresh: a first compile runs the C compiler
    print(f"valuegrad scaling: MLP(2,[w,w,1]) hinge + L2, full-batch SGD, {opts.steps} steps a run, "
          f"median of up to {opts.rounds} interleaved rounds, time per step")
    for k in ("torch", "jax"):
        s = getattr(rivals, k)
        if s is None:
            print(f"{k}: not installed, its column is skipped")
    try:
        rows, per_width = run(opts)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print_compiles(per_width)
    print_summary(rows)
    return rows, per_width


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--fit-load-child":
        fit_load_child(sys.argv[2])
    else:
        main()
