"""Check your own backprop: the tutorials' hand-derived numpy gradients against exact ones.

Each tutorial's forward pass (the numpy code of demos/tutorial_backprops.py, run on lifted
parameters) gives exact gradients by reverse mode; `autograd.check_backprop` holds the hand
derivation against them: all five agree. Then a mistake of each kind is planted in a hand
derivation (a sign, a transposed product, a missing 1/N, a bias not summed over the batch, a
missing ReLU mask or tanh derivative, a missing weight-decay term, a gradient left at zero) and
the check must catch it and name it. Also: numerical gradient checking, as the generic article
does it (two forward passes per parameter), against the exact check on Andy Thomas's 2,260
parameters; and the time for 10^4 parameters.

    >>> r = run(quick=True, out=None)
    >>> all(t["ok"] for t in r["tutorials"].values()), all(p["caught"] for p in r["planted"])
    (True, True)
"""
from __future__ import annotations

import os
import time

import numpy as np

import autograd

from . import tutorial_backprops as tb
from .common import Timer, draw_graph, finish, parse_args

# (tutorial, mistake, the parameter it shows in, the words its diagnosis starts with)
PLANTED = [
    ("perceptron", "sign", "W", "sign flipped"),
    ("britz", "transposed", "W2", "shape mismatch"),
    ("britz", "scale", "W1", "scaled by 1/N"),
    ("britz", "batch", "b2", "shape mismatch"),
    ("britz", "reg", "W2", "off by -0.01 * W2"),
    ("britz", "activation", "W1", "an activation's derivative is missing"),
    ("britz", "zero", "b1", "zero everywhere"),
    ("ideami", "relu_mask", "W1", "off only where the activation is inactive"),
    ("ideami", "scale", "W2", "scaled by N"),
    ("thomas", "activation", "W1", "an activation's derivative is missing"),
    ("thomas", "transposed", "W1", "shape mismatch"),
    ("relu_net", "scale", "W1", "scaled by 1/2"),
    ("relu_net", "relu_mask", "b1", "off only where the activation is inactive"),
]


def cases(quick):
    sizes = {"ideami": {"rows": 100}, "thomas": {"rows": 30}} if quick else {}
    return {name: make(**sizes.get(name, {})) for name, make in tb.TUTORIALS.items()}


def numeric_gradients(loss, params, args, eps=1e-6):
    """What the generic article does: central differences, one parameter element at a time."""
    grads = {}
    for k, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            shifted = {j: q.copy() for j, q in params.items()}
            shifted[k][idx] += eps
            plus = float(np.asarray(loss(shifted, *args)).ravel()[0])
            shifted[k][idx] -= 2 * eps
            minus = float(np.asarray(loss(shifted, *args)).ravel()[0])
            g[idx] = (plus - minus) / (2 * eps)
        grads[k] = g
    return grads


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)))


def ten_thousand():
    rng = np.random.default_rng(0)
    N, D, H, C = 64, 64, 140, 10
    X, y = rng.standard_normal((N, D)), rng.integers(0, C, N)
    P = {"W1": rng.standard_normal((D, H)) * 0.1, "b1": np.zeros(H),
         "W2": rng.standard_normal((H, C)) * 0.1, "b2": np.zeros(C)}

    def loss(p, X, y):
        a = np.tanh(X @ p["W1"] + p["b1"])
        z = a @ p["W2"] + p["b2"]
        e = np.exp(z - np.max(z, axis=1, keepdims=True))
        return np.mean(-np.log((e / np.sum(e, axis=1, keepdims=True))[range(len(X)), y]))

    a = np.tanh(X @ P["W1"] + P["b1"])
    z = a @ P["W2"] + P["b2"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    d = e / e.sum(axis=1, keepdims=True)
    d[range(N), y] -= 1
    d /= N
    dh = d @ P["W2"].T * (1 - a ** 2)
    grads = {"W1": X.T @ dh, "b1": dh.sum(0), "W2": a.T @ d, "b2": d.sum(0)}
    cpu = time.process_time()
    with Timer() as t:
        ok = bool(autograd.check_backprop(loss, P, grads, args=(X, y)))
    return {"parameters": sum(v.size for v in P.values()), "batch": N, "ok": ok, "seconds": round(t.seconds, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2)}


def run(quick=False, out=None):
    all_cases = cases(quick)
    tutorials = {}
    for name, c in all_cases.items():
        with Timer() as t:
            report = autograd.check_backprop(c.loss, c.params, c.grads, args=c.args, raise_exception=False)
        tutorials[name] = {"ok": bool(report), "parameters": int(sum(p.size for p in c.params.values())),
                           "max_rel_err": max(r.max_rel for r in report.rows), "seconds": round(t.seconds, 3),
                           "loss_bit_equal": report.loss.data == float(np.asarray(c.loss(c.params, *c.args)).ravel()[0])}
    planted = []
    for name, mistake, param, words in PLANTED:
        c = all_cases[name]
        grads = c.backprop(c.params, *c.args, mistake=mistake)
        report = autograd.check_backprop(c.loss, c.params, grads, args=c.args, raise_exception=False)
        diagnosis = report[param].diagnosis
        planted.append({"tutorial": name, "mistake": mistake, "parameter": param,
                        "caught": not report and diagnosis.startswith(words), "diagnosis": diagnosis})
    c = all_cases["relu_net" if quick else "thomas"]
    with Timer() as tn:
        numeric = numeric_gradients(c.loss, c.params, c.args)
    with Timer() as te:
        report = autograd.check_backprop(c.loss, c.params, c.grads, args=c.args)
    comparison = {"tutorial": c.name, "parameters": int(sum(p.size for p in c.params.values())),
                  "numeric_seconds": round(tn.seconds, 3), "exact_seconds": round(te.seconds, 3),
                  "numeric_max_rel_err": max(_rel(numeric[k], report.exact[k]) for k in numeric),
                  "hand_vs_exact_max_rel_err": max(r.max_rel for r in report.rows)}
    result = {"tutorials": tutorials, "planted": planted, "numeric_vs_exact": comparison}
    if not quick:
        result["ten_thousand_parameters"] = ten_thousand()
    if out:
        result["plots"] = [p for p in [_drawing(out)] if p]
    return result


def _britz_at(p, X, y):
    # Britz's forward pass with X @ W1 for X.dot(W1): a float array's own .dot method runs
    # numpy's object loop (2n nodes), @ makes one dot node per neuron and example
    a1 = np.tanh(X @ p["W1"] + p["b1"])
    exp_scores = np.exp(a1 @ p["W2"] + p["b2"])
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    data_loss = np.sum(-np.log(probs[range(len(X)), y]))
    return data_loss + tb.BRITZ_REG / 2 * (np.sum(np.square(p["W1"])) + np.sum(np.square(p["W2"])))


def _drawing(out):
    """Britz's forward pass on 8 examples, drawn: the neuron view groups it by array name."""
    c = tb.britz(n=8)
    report = autograd.check_backprop(_britz_at, c.params, c.grads, args=c.args)
    report.loss.backward()  # the check leaves .grad alone; the drawing shows gradients
    os.makedirs(out, exist_ok=True)
    return draw_graph(report.loss, out, "check_backprop_britz.svg")


def main(argv=None):
    args = parse_args(__doc__, argv, 0)
    with Timer() as t:
        r = run(args.quick, None if args.no_plots else args.out)
    r["seconds"] = round(t.seconds, 2)
    return finish("check_backprop", r, args)


if __name__ == "__main__":
    main()
