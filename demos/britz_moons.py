"""Denny Britz's "neural network from scratch": 2 -> h tanh -> 2 softmax on moons.

np.random.seed(0); make_moons(200, noise=0.20); np.random.seed(0) again, then
W1 = randn(2,h)/sqrt(2), W2 = randn(h,2)/sqrt(h), zero biases; loss = cross-entropy summed
over the examples + 0.01/2 * (sum W1^2 + sum W2^2); plain gradient steps of 0.01; 20000
passes. The tutorial prints "loss after iteration i" (that loss / N after i+1 updates):
0.432387 at 0 and 0.068947 at 1000 for h = 3. Here every gradient comes from autograd.
Also: the hidden-size grid h in [1,2,3,4,5,20,50] and logistic regression (no hidden layer).

    >>> r = train(3, steps=1)
    >>> round(r["loss"]["0"], 6)
    0.432387
"""
from __future__ import annotations

import numpy as np

import autograd
from nn import MLP, losses, metrics, predict
from nn.data import make_moons, one_hot

from .common import Timer, finish, parse_args, plot_curves, plot_decision_boundary, progress

SIZES = [1, 2, 3, 4, 5, 20, 50]
REG, STEP = 0.01, 0.01


def data():
    np.random.seed(0)
    return make_moons(200, noise=0.20)


def _model(X_dim, h):
    """The tutorial's initialisation, loaded into an MLP (weights as (nout, nin) matrices)."""
    np.random.seed(0)
    if h == 0:  # logistic regression: straight to the two softmax outputs
        W = np.random.randn(X_dim, 2) / np.sqrt(X_dim)
        model = MLP(X_dim, [2], init="xavier", seed=0)
        model.load_state_dict({"layers.0.weight": W.T, "layers.0.bias": np.zeros(2)})
        return model
    W1 = np.random.randn(X_dim, h) / np.sqrt(X_dim)
    W2 = np.random.randn(h, 2) / np.sqrt(h)
    model = MLP(X_dim, [h, 2], activation="tanh", init="xavier", seed=0)
    model.load_state_dict({"layers.0.weight": W1.T, "layers.0.bias": np.zeros(h),
                           "layers.1.weight": W2.T, "layers.1.bias": np.zeros(2)})
    return model


def train(h, steps=20000, X=None, y=None, log_every=1000):
    if X is None:
        X, y = data()
    model = _model(X.shape[1], h)
    weights = [p for n, p in model.named_parameters() if ".w." in n]  # biases are not regularised
    params = model.parameters()

    def objective(Xs, Ys):  # Ys: one-hot columns, so that the targets are arguments of the trace
        return losses.cross_entropy(model(Xs), Ys, reduction="sum") + losses.l2(weights, REG / 2)

    Y = one_hot(y, 2)
    step = autograd.compile(objective, X, Y)  # traced once, then run as generated code
    log = {}
    for i in progress(range(steps), steps, f"britz h={h}"):
        for p in params:
            p.grad = 0.0
        step(X, Y)
        for p in params:
            p.data -= STEP * p.grad
        if i % log_every == 0:  # the tutorial's "loss after iteration i": after i+1 updates
            log[i] = step(X, Y, grad=False) / len(X)
    accuracy = metrics.accuracy(y, predict(model, X).argmax(axis=1))
    return {"h": h, "loss": {str(k): v for k, v in log.items()}, "train_accuracy": accuracy, "model": model}


def run(steps=20000, sizes=SIZES, out=None):
    X, y = data()
    main = train(3, steps, X, y)
    grid, plots = {}, []
    for h in sizes:
        r = main if h == 3 else train(h, steps, X, y)
        grid[str(h)] = r["train_accuracy"]
        if out:
            plots.append(plot_decision_boundary(lambda G, m=r["model"]: predict(m, G).argmax(axis=1), X, y,
                                                out, f"britz_h{h}.png", f"hidden layer size {h}"))
    logreg = train(0, steps, X, y)
    result = {"loss": main["loss"], "train_accuracy": grid, "logistic_regression_accuracy":
              logreg["train_accuracy"], "steps": steps}
    if out:
        plots.append(plot_decision_boundary(lambda G: predict(logreg["model"], G).argmax(axis=1), X, y,
                                            out, "britz_logreg.png", "logistic regression (no hidden layer)"))
        xs = sorted(int(k) for k in main["loss"])
        plots.append(plot_curves({"h=3": [main["loss"][str(k)] for k in xs]}, out, "britz_loss.png",
                                 "hidden size 3: the tutorial's printed loss", ylabel="loss / N", x=xs,
                                 xlabel="iteration (logged every 1,000)"))
        result["plots"] = [p for p in plots if p]
    return result


def main(argv=None):
    args = parse_args(__doc__, argv, 20000)
    steps = args.steps or (1001 if args.quick else 20000)
    with Timer() as t:
        r = run(steps, out=None if args.no_plots else args.out)
    r["seconds"] = round(t.seconds, 2)
    return finish("britz_moons", r, args)


if __name__ == "__main__":
    main()
