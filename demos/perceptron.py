"""A one-layer perceptron (the "neural network in 11 lines" tutorial), gradients from autograd.

Inputs [[0,0,1],[1,1,1],[1,0,1],[0,1,1]], targets [0,1,1,0]; np.random.seed(1);
W = 2*np.random.random((3,1)) - 1; no bias; sigmoid. The tutorial's update
W += X.T @ ((y - out) * out * (1 - out)) is one step of size 1 down the gradient of
0.5 * sum (y - out)^2, summed over the 4 rows: here autograd computes that gradient.
After 20000 iterations the output for [1,1,0] is 0.99996185.

    >>> r = run(steps=10)
    >>> len(r["weights"])
    3
"""
from __future__ import annotations

import numpy as np

import autograd
from autograd import Value

from .common import Timer, finish, parse_args, plot_curves, progress

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float64)
Y = np.array([0, 1, 1, 0], dtype=np.float64)


def run(seed=1, steps=20000, out=None):
    np.random.seed(seed)
    W = [Value(w, f"w{i}") for i, w in enumerate((2 * np.random.random((3, 1)) - 1).ravel())]
    columns = [Value(c, f"x{i}") for i, c in enumerate(X.T)]  # the 4 examples as one batch
    losses = []
    for _ in progress(range(steps), steps, "perceptron"):
        pred = autograd.dot(W, columns).sigmoid()
        loss = 0.5 * ((Y - pred) ** 2).sum()
        for w in W:
            w.grad = 0.0
        loss.backward()
        for w in W:
            w.data -= 1.0 * w.grad
        losses.append(loss.data)
    predict_110 = autograd.dot(W, [1.0, 1.0, 0.0]).sigmoid().data
    result = {"predict_110": predict_110, "weights": [w.data for w in W], "steps": steps,
              "final_loss": losses[-1]}
    if out:
        result["plots"] = [p for p in [plot_curves({"0.5 * sum (y - out)^2": losses}, out,
                                                   "perceptron_loss.png", "perceptron: loss",
                                                   xlabel="iteration (full batch of 4 rows)")] if p]
    return result


def main(argv=None):
    args = parse_args(__doc__, argv, 20000)
    with Timer() as t:
        r = run(args.seed if args.seed is not None else 1, args.steps or 20000,
                None if args.no_plots else args.out)
    r["seconds"] = round(t.seconds, 2)
    return finish("perceptron", r, args)


if __name__ == "__main__":
    main()
