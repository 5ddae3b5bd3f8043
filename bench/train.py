"""One training epoch on the digits: valuegrad against micrograd 0.1.0 and PyTorch, as ratios.

    python bench/train.py [--repeat 5] [--micrograd-batches 3]

The task: nn.data.load_digits() (1797 rows, 64 pixels, 10 classes), standardised with a
StandardScaler fit on all rows (a speed benchmark, not a model evaluation), MLP(64, [32, 10])
(ReLU hidden, linear outputs, He init, seed 0), softmax cross-entropy (mean), SGD lr 0.1,
minibatches of 32 in one fixed shuffled order: one pass is 57 batches (56 x 32 + 5).

(a) valuegrad, batched values (model(Xb) on the 2-D batch), one graph per minibatch, the
    cyclic GC paused around each step (autograd.gc_paused(), as nn.fit does);
(b) micrograd 0.1.0, one graph per example (micrograd.nn.MLP, scalar Values), its default GC;
    it takes minutes per epoch, so only the first --micrograd-batches batches are timed and
    the epoch is extrapolated from them by rows. Its graphs are reference cycles (each node's
    _backward closure holds the node), freed only by the cyclic GC, so its first batch is
    cheaper than the later ones: a short extrapolation understates micrograd's time a little;
(c) PyTorch eager, float64, nn.Sequential(Linear, ReLU, Linear) + F.cross_entropy +
    torch.optim.SGD, on one thread (skipped if torch is not importable);
(d) (a) with the GC left on, for the gain of pausing it (backward() pauses it by itself in both,
    so this is the gain on the forward pass and the optimizer step).
All start from valuegrad's initial weights (copied into micrograd and torch) and see the same
batches, so the losses they report must agree to rounding: the script checks that first.
The demo step of micrograd's README is bench/engine.py's (a)/(b); not repeated here.
The machine is shared and noisy: trust the ratios (same run), not the absolute times.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import autograd  # noqa: E402
from nn import losses, optim  # noqa: E402
from nn.data import StandardScaler, load_digits, minibatches  # noqa: E402
from nn.module import MLP  # noqa: E402
from common import layer_arrays, load_micrograd, load_ours, load_torch, max_rel, torch_mlp  # noqa: E402

try:
    from micrograd import engine as mg_engine
    from micrograd import nn as mg_nn
except ImportError:  # pragma: no cover
    sys.exit("bench needs micrograd 0.1.0 from PyPI: pip install -e '.[bench]'")

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None

BATCH, LR, SIZES = 32, 0.1, (64, [32, 10])


def digits_batches():
    X, y = load_digits()
    X = StandardScaler().fit_transform(X)  # fit on all 1797 rows: this measures speed only
    return list(minibatches(X, y, BATCH, shuffle=True, seed=0)), len(X)


# -- weights copied back out of torch, to compare after the epoch ---------------------------

def torch_arrays(model):
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, torch.nn.Linear)]


# -- (a)/(d) valuegrad, batched -------------------------------------------------------------

def ours_step(model, opt, Xb, yb):
    loss = losses.cross_entropy(model(Xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.data


def ours_epoch(model, opt, batches, pause_gc):
    out = []
    for Xb, yb in batches:
        if pause_gc:
            with autograd.gc_paused():
                out.append(ours_step(model, opt, Xb, yb))
        else:
            out.append(ours_step(model, opt, Xb, yb))
    return out


# -- (b) micrograd, one graph per example ---------------------------------------------------
# micrograd 0.1.0's Value has no exp() or log(); these two helpers add them in micrograd's own
# style (an output Value whose _backward closure adds the local derivative times out.grad),
# so that the softmax cross-entropy is built from micrograd Values like everything else.

def mg_exp(x):
    out = mg_engine.Value(math.exp(x.data), (x,), 'exp')

    def _backward():
        x.grad += out.data * out.grad
    out._backward = _backward
    return out


def mg_log(x):
    out = mg_engine.Value(math.log(x.data), (x,), 'log')

    def _backward():
        x.grad += (1.0 / x.data) * out.grad
    out._backward = _backward
    return out


def mg_cross_entropy(logits, target):
    """logsumexp(z) - z[target], the max subtracted first as a plain number (micrograd has no detached
    max; nn.losses records it as a node, `autograd.max_detached`, with derivative 0: the same values)."""
    m = max(z.data for z in logits)
    shifted = [z - m for z in logits]
    return mg_log(sum(mg_exp(s) for s in shifted)) - shifted[target]


def micrograd_step(model, params, Xb, yb):
    per_example = []
    for row, t in zip(Xb.tolist(), yb.tolist()):
        logits = model(list(map(mg_engine.Value, row)))
        per_example.append(mg_cross_entropy(logits, t))
    loss = sum(per_example) * (1.0 / len(per_example))
    model.zero_grad()
    loss.backward()
    for p in params:
        p.data -= LR * p.grad
    return loss.data


# -- (c) PyTorch eager float64 --------------------------------------------------------------


def torch_epoch(model, opt, batches):
    out = []
    for Xb, yb in batches:
        loss = F.cross_entropy(model(torch.from_numpy(Xb)), torch.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def timed(fn):
    gc.collect()  # every contender starts with the same (empty) collector generations
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5,
                    help="best of this many epochs for valuegrad (GC paused / on, interleaved) and torch")
    ap.add_argument("--micrograd-batches", type=int, default=3,
                    help="time micrograd on this many batches and extrapolate to the epoch")
    args = ap.parse_args()
    if args.repeat < 1 or not 1 <= args.micrograd_batches <= 57:
        ap.error("--repeat must be >= 1 and --micrograd-batches in 1..57")
    batches, n_rows = digits_batches()
    nb = len(batches)

    ours = MLP(*SIZES, init="he", seed=0)  # ReLU hidden, linear outputs
    init = layer_arrays(ours)

    # (a) GC paused and (d) GC on, interleaved so that both see the same machine; every epoch
    # starts from the same weights, so each does exactly the same work.
    t_on = t_off = float("inf")
    for _ in range(args.repeat):
        for pause in (True, False):
            load_ours(ours, init)
            opt = optim.SGD(ours, lr=LR)
            t, ours_losses = timed(lambda: ours_epoch(ours, opt, batches, pause))
            if pause:
                t_off = min(t_off, t)
            else:
                t_on = min(t_on, t)
    ours_final = layer_arrays(ours)

    # (b) micrograd: the first N batches, with its default GC.
    mg = mg_nn.MLP(*SIZES)
    load_micrograd(mg, init)
    if not gc.isenabled():  # pragma: no cover
        gc.enable()
    n_mg = args.micrograd_batches
    mg_params, mg_losses, mg_times = mg.parameters(), [], []
    gc.collect()
    for Xb, yb in batches[:n_mg]:  # timed batch by batch: the first is the cheapest (docstring, (b))
        t = time.perf_counter()
        mg_losses.append(micrograd_step(mg, mg_params, Xb, yb))
        mg_times.append(time.perf_counter() - t)
    t_mg_part = sum(mg_times)
    rows_mg = sum(len(yb) for _, yb in batches[:n_mg])
    t_mg = t_mg_part * n_rows / rows_mg

    # (c) torch eager float64, one thread (the Python engines use one core).
    if torch is not None:
        torch.set_num_threads(1)
        tm = torch_mlp([64, 32, 10])
        t_torch = float("inf")
        for _ in range(args.repeat):
            load_torch(tm, init)
            topt = torch.optim.SGD(tm.parameters(), lr=LR)
            t, torch_losses = timed(lambda: torch_epoch(tm, topt, batches))
            t_torch = min(t_torch, t)
        torch_final = torch_arrays(tm)

    # Same computation? The first batch's loss from the same weights, then the next batches.
    first = {"micrograd": max_rel(mg_losses[0], ours_losses[0])}
    if torch is not None:
        first["torch"] = max_rel(torch_losses[0], ours_losses[0])
    worst_first = max(first.values())
    print(f"same computation: first-batch loss {ours_losses[0]:.12g} (valuegrad); max relative difference "
          + ", ".join(f"{k} {v:.1e}" for k, v in first.items()))
    line = f"losses of batches 1-{n_mg}: micrograd vs valuegrad {max_rel(mg_losses, ours_losses[:n_mg]):.1e}"
    if torch is not None:
        w_diff = max(max_rel(t, o) for tl, ol in zip(torch_final, ours_final) for t, o in zip(tl, ol))
        line += (f"; all {nb} batches: torch vs valuegrad {max_rel(torch_losses, ours_losses):.1e}, "
                 f"weights after the epoch {w_diff:.1e}")
    print(" " * 18 + line)

    speedup = t_mg / t_off
    print(f"(a) valuegrad, batched, GC paused:  {t_off * 1e3:9.1f} ms/epoch (best of {args.repeat})")
    print(f"(b) micrograd, one graph/example:   {t_mg:9.1f} s/epoch, EXTRAPOLATED from the first {n_mg} of "
          f"{nb} batches ({rows_mg} of {n_rows} rows, {t_mg_part:.1f} s: "
          f"{' + '.join(f'{t:.2f}' for t in mg_times)}) -> valuegrad is {speedup:.0f}x faster "
          f"(target >= 200x: {'met' if speedup >= 200 else 'NOT met'})")
    if torch is not None:
        print(f"(c) torch eager float64, 1 thread:  {t_torch * 1e3:9.1f} ms/epoch (best of {args.repeat}) -> "
              f"torch is {t_off / t_torch:.1f}x faster than valuegrad")
    else:
        print("(c) torch eager: skipped, torch is not importable")
    print(f"(d) valuegrad, batched, GC on:      {t_on * 1e3:9.1f} ms/epoch (best of {args.repeat}) -> "
          f"pausing the GC gains {t_on / t_off:.2f}x")
    torch_part = f"torch {t_off / t_torch:.1f}x faster than valuegrad" if torch is not None else "torch skipped"
    print(f"summary: valuegrad {speedup:.0f}x micrograd (extrapolated from {n_mg} batches; target 200x "
          f"{'met' if speedup >= 200 else 'NOT met'}), {torch_part}, GC pause {t_on / t_off:.2f}x, "
          f"first-batch loss max rel diff {worst_first:.1e}")


if __name__ == "__main__":
    main()
