"""What one nn.fit(compile=True) call costs beyond its compiled steps: CPU time, interleaved rounds.

    python bench/fit_overhead.py [--rounds 41] [--workload digits|demo|mnist]

digits (issue 10's B): a 1-epoch `nn.fit(model, "cross_entropy", SGD, X, y, batch_size=32,
compile=True, shuffle=False)` call against the raw compiled epoch (`autograd.compile(...).flat(params)`
and `optimizer.update` over the same 57 batches, the Values written back once at the end). Both
compiled and warm before timing (the C library built once, in a private temporary cache). Each
round times one of each, in alternating order, with time.process_time (CPU time: the machine is
shared); medians. Also timed alone: reading every parameter's `.data` into one array and writing an
array back (`FlatStep.load`), the two per-call costs a fit cannot skip (a user may set `p.data` by
hand between calls). mnist: the MNIST-shaped epoch of bench/mnist.py on 20,000 rows (313 batches
of 64).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (pins threads first)
import workload  # noqa: E402

import numpy as np  # noqa: E402


def cpu(fn, *args):
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--workload", choices=("digits", "demo", "mnist"), default="digits")
    opts = ap.parse_args(argv)
    cache = tempfile.mkdtemp(prefix="valuegrad_bench_cache_")
    os.environ["VALUEGRAD_CACHE"] = cache
    try:
        wl = {"digits": workload.digits, "demo": lambda: workload.demo(steps=1),
              "mnist": lambda: workload.mnist_like(examples=20000)}[opts.workload]()
        raw, fit = workload.Flat(wl, "c"), workload.Fit(wl)
        raw.compile()
        n = wl.steps if wl.per_epoch != 1 else 1
        fit.run(1)  # compiled and cached in this process
        raw.run(n)
        params = fit.opt.params
        step = raw.step
        theta = np.array([p.data for p in params])
        read = lambda: np.fromiter([p.data for p in params], np.float64, len(params))  # noqa: E731
        t_raw, t_fit, t_read, t_load = [], [], [], []
        for r in range(opts.rounds):
            fit.reset()
            pair = [(t_raw, raw.run, n), (t_fit, fit.run, 1)]
            for out, f, arg in (pair if r % 2 else pair[::-1]):
                out.append(cpu(f, arg))
            t_read.append(cpu(read))
            t_load.append(cpu(step.load, theta))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    m = {k: statistics.median(v) for k, v in (("raw", t_raw), ("fit", t_fit), ("read", t_read), ("load", t_load))}
    print(f"{wl.name}: {len(params):,} parameters, {wl.steps} compiled steps a call; CPU time, median of "
          f"{opts.rounds} interleaved rounds")
    print(f"  raw compiled epoch       {m['raw'] * 1e3:8.3f} ms")
    print(f"  1-epoch nn.fit call      {m['fit'] * 1e3:8.3f} ms  = {m['fit'] / m['raw']:.3f}x the raw epoch "
          f"(fixed cost {(m['fit'] - m['raw']) * 1e3:.3f} ms a call)")
    print(f"  of which unavoidable: read .data {m['read'] * 1e6:.0f} us, write back {m['load'] * 1e6:.0f} us")
    return m


if __name__ == "__main__":
    main()
