"""What the benchmarks share: one thread everywhere, one set of weights moved between valuegrad,
micrograd and PyTorch (so that every contender computes the same thing, checked by comparing
losses), and the timing harness: contenders interleaved round by round, medians, every slow
thing bounded (a step by an alarm, a compile by a child process with a timeout).

Import this module before numpy, torch or jax: it pins their thread pools on import.
"""
from __future__ import annotations

import os

# One core per contender, set before any numerical library starts its thread pools.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _XLA).strip()

import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def layer_arrays(model):
    """valuegrad's weights as [(W (nout, nin), b (nout,)), ...], read from model.parameters()
    (each neuron's weights, then its bias, layer by layer) and checked against load_state_dict's
    reading of the same arrays, so that a change of parameter order cannot pass unnoticed."""
    values = [float(p.data) for p in model.parameters()]
    sizes = [model.nin] + list(model.nouts)
    out, o = [], 0
    for nin, nout in zip(sizes, sizes[1:]):
        block = np.array(values[o:o + nout * (nin + 1)]).reshape(nout, nin + 1)
        out.append((block[:, :nin].copy(), block[:, nin].copy()))
        o += nout * (nin + 1)
    if o != len(values):
        raise RuntimeError(f"layer_arrays: {len(values)} parameters, the layer sizes {sizes} need {o}")
    load_ours(model, out)
    if [float(p.data) for p in model.parameters()] != values:
        raise RuntimeError("layer_arrays: model.parameters() is not in (neuron weights, bias) order")
    return out


def load_ours(model, arrays):
    """Set a valuegrad MLP's weights from [(W, b), ...] (PyTorch's layout) and zero its grads."""
    state = {}
    for i, (W, b) in enumerate(arrays):
        state[f"layers.{i}.weight"], state[f"layers.{i}.bias"] = W, b
    model.load_state_dict(state)
    model.zero_grad()


def load_micrograd(model, arrays):
    for layer, (W, b) in zip(model.layers, arrays):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                w.data = float(W[j, k])
            neuron.b.data = float(b[j])


def torch_mlp(sizes):
    """Linear layers with ReLU between them, float64: the MLP of valuegrad's nn."""
    import torch  # only here: a compile child process need not load it
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=torch.float64))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def load_torch(model, arrays):
    import torch
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, arrays):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
            lin.weight.grad = lin.bias.grad = None


def max_rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# -- bounds ------------------------------------------------------------------------------------

class StepTimeout(Exception):
    """A contender's step ran past the bench's limit."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise StepTimeout in this (main) thread after `seconds`. Python code only: a long call
    into C is interrupted when it returns."""
    def on_alarm(signum, frame):
        raise StepTimeout
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_child(argv, timeout, env=None):
    """Run a child Python process in its own process group; on timeout kill the whole group
    (the C compiler it started too). Returns the JSON of its last stdout line, or
    {"timeout": seconds} or {"error": text}."""
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"timeout": timeout}
    if proc.returncode != 0:
        return {"error": (err or out)[-1500:]}
    return json.loads(out.strip().splitlines()[-1])


def leave_out(contenders, names):
    """Mark the contenders named in `names` (a script's --skip) as skipped."""
    for c in contenders:
        if c.name in names:
            c.skipped = "skipped (--skip)"


def skip_option(ap, choices):
    """Add --skip NAME,NAME to an argparse parser."""
    def names(text):
        out = [x for x in text.split(",") if x]
        bad = [x for x in out if x not in choices]
        if bad:
            raise ValueError(bad)
        return out
    names.__name__ = "contender list"
    ap.add_argument("--skip", type=names, default=[], help=f"contenders to leave out, of {','.join(choices)}")


# -- the harness ---------------------------------------------------------------------------------

class Result:
    def __init__(self, name):
        self.name, self.times, self.steps, self.losses, self.skipped = name, [], 0, None, None

    @property
    def per_step(self):
        return statistics.median(self.times) / self.steps if self.times else None

    @property
    def per_run(self):
        return statistics.median(self.times) if self.times else None


def measure(contenders, steps, rounds, budget, step_limit):
    """Time each contender's `run(n)` (n steps from its `reset()` weights): first one warm-up step
    (bounded by `step_limit` seconds; past it the contender is skipped), then interleaved rounds,
    in each one timed run of every contender. A slow contender runs fewer rounds, then fewer
    steps, so that it spends about `budget` seconds. Contenders with `fixed_steps` always run that many.
    Returns {name: Result}; Result.losses are those of the first timed run."""
    gc.collect()
    gc.freeze()  # the libraries' objects out of the collector's way: gc.collect() below stays cheap
    try:
        return _measure(contenders, steps, rounds, budget, step_limit)
    finally:
        gc.unfreeze()


def _measure(contenders, steps, rounds, budget, step_limit):
    results, plan = {}, {}
    for c in contenders:
        r = results[c.name] = Result(c.name)
        if getattr(c, "skipped", None):
            r.skipped = c.skipped
            continue
        probe = None
        for _ in range(2):  # a second probe when the first was quick: first calls pay one-off costs
            c.reset()
            gc.collect()
            t = time.perf_counter()
            try:
                with time_limit(step_limit):
                    c.run(getattr(c, "fixed_steps", None) or 1)
            except StepTimeout:
                r.skipped = f"skipped: a step took over {step_limit:g} s"
                break
            probe = min(probe or float("inf"), max(time.perf_counter() - t, 1e-9))
            if probe > budget / 10:
                break
        if r.skipped:
            continue
        fixed = getattr(c, "fixed_steps", None)
        if fixed:
            n, per = fixed, probe
        else:  # all the steps if one run fits the budget, then as many rounds as fit
            n = min(steps, max(1, int(budget / probe)))
            per = probe * n
        plan[c.name] = (c, n, min(rounds, max(1, int(budget / per))))
    for k in range(rounds):
        for name, (c, n, nr) in plan.items():
            if k >= nr:
                continue
            c.reset()
            gc.collect()
            t = time.perf_counter()
            out = c.run(n)
            dt = time.perf_counter() - t
            results[name].times.append(dt)
            results[name].steps = n
            if results[name].losses is None:
                results[name].losses = c.losses(out)
                # the rounds again from a whole run's time (a one-step probe is noisy)
                plan[name] = (c, n, min(rounds, max(1, int(budget / dt))))
    return results


def agreement(contenders, results, reference_order=("eager", "numpy", "c", "torch", "jax")):
    """(reference name, {name: max relative difference of its losses vs the reference's}). A
    contender whose losses cannot be set against the reference's (nn.fit's epoch mean when the
    reference ran only some steps) is compared with the next contender in reference_order that
    ran enough, under the key 'name (vs other)'."""
    have = [n for n in reference_order if results.get(n) and results[n].losses]
    if not have:
        return None, {}
    diffs = {}
    for c in contenders:
        r = results[c.name]
        if c.name == have[0] or not r.losses:
            continue
        for ref in have:
            if ref == c.name:
                continue
            mine, theirs = c.comparable(r.losses, results[ref].losses)
            if len(mine):
                diffs[c.name if ref == have[0] else f"{c.name} (vs {ref})"] = max_rel(mine, theirs)
                break
    return have[0], diffs


def fmt_time(t):
    if t is None:
        return "-"
    if t >= 100:
        return f"{t:.0f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.3g} ms"
    return f"{t * 1e6:.3g} us"


def fmt_size(chars, lines):
    size = f"{chars / 1e6:.2f} MB" if chars >= 1e6 else f"{chars / 1e3:.0f} kB"
    return f"{size}, {lines:,} lines"


def fmt_ratio(t, ref):
    if not (t and ref):
        return "-"
    r = t / ref
    return f"{r:.0f}x" if r >= 10 else f"{r:.2g}x"
