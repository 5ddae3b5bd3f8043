"""micrograd's demo notebook, digit for digit: MLP(2,[16,16,1]) on moons, hinge loss + L2, SGD.

random.seed(1337) and np.random.seed(1337), make_moons(n_samples=100, noise=0.1), labels
-1/+1, loss = mean relu(1 - y*score) + 1e-4 * sum p^2, learning rate 1.0 - 0.9*k/100,
100 full-batch steps. micrograd prints step 0 loss 0.8958441028683222 (accuracy 50%) and
step 99 loss 0.010978370135492717 (accuracy 100%); so must we. The batch runs as one graph of
batched values. With plots it also writes the backward page of step 0 (neuron by neuron) and the
training replayed (nn.record: a page with a slider, and a GIF); they only read the model.

    >>> r = run(steps=1)
    >>> r["step0_loss"]
    0.8958441028683222
"""
from __future__ import annotations

import os
import random
import sys

import numpy as np

import autograd
from nn import MLP, losses, optim
from nn.data import make_moons

from nn.record import TrainingRecorder

from .common import (Timer, draw_backward_page, draw_graph, finish, parse_args, plot_curves,
                     plot_decision_boundary, progress)


def run(seed=1337, steps=100, out=None):
    random.seed(seed)
    np.random.seed(seed)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1
    model = MLP(2, [16, 16, 1])
    opt = optim.SGD(model.parameters(), lr=1.0)
    schedule = optim.LinearLR(opt, 1.0, 0.1, 100)
    history, accs = [], []
    recorder = TrainingRecorder(X, y, unit="step") if out else None  # reads the model, changes nothing
    backward_page = None
    for k in progress(range(steps), steps, "micrograd_moons"):
        with autograd.gc_paused():
            scores = model(X)
            loss = losses.hinge(scores, y) + losses.l2(model.parameters(), 1e-4)
            opt.zero_grad()
            loss.backward()
            if out and k == 0:  # the first step's backward pass, while every gradient still flows
                loss.label = "loss"
                backward_page = draw_backward_page(loss, out, "micrograd_moons_backward.html")
            opt.step()
        schedule.step()
        history.append(loss.data)
        accs.append(float(np.mean((y > 0) == (scores.data > 0))))
        if recorder is not None:
            recorder.record(model, loss=loss.data, accuracy=accs[-1])
    result = {"step0_loss": history[0], f"step{steps - 1}_loss": history[-1],
              "accuracy": accs[-1], "step0_accuracy": accs[0], "steps": steps, "loss_curve": history}
    if out:
        result["plots"] = [p for p in (
            plot_decision_boundary(lambda G: model(G).data > 0, X, y, out, "micrograd_moons_boundary.png",
                                   "micrograd's demo: decision boundary after training"),
            plot_curves({"loss": history}, out, "micrograd_moons_loss.png",
                        "micrograd's demo: hinge loss + L2, every step", x=np.arange(steps),
                        xlabel="step (one SGD step on the full batch of 100)"),
            draw_graph(loss, out, "micrograd_moons_graph.svg")) if p]
        pages = [backward_page, recorder.save_html(os.path.join(out, "micrograd_moons_training.html"),
                                                   "micrograd's demo: watching MLP(2, [16, 16, 1]) learn").name]
        try:
            result["plots"].append(recorder.save_animation(os.path.join(out, "micrograd_moons_training.gif"),
                                                           max_frames=30).name)
        except RuntimeError as e:  # no matplotlib: the page is enough
            print(f"(no animation: {e})", file=sys.stderr)
        result["pages"] = [p for p in pages if p]
    return result


def main(argv=None):
    args = parse_args(__doc__, argv, 100)
    steps = args.steps or (100 if not args.quick else 100)  # 100 steps take ~0.3 s: always the real run
    with Timer() as t:
        r = run(args.seed if args.seed is not None else 1337, steps, None if args.no_plots else args.out)
    r["seconds"] = round(t.seconds, 2)
    return finish("micrograd_moons", r, args)


if __name__ == "__main__":
    main()
