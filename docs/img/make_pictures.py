"""Make the README's pictures of autograd.draw: python docs/img/make_pictures.py

Needs a renderer (see docs/drawing.md) and, for the backward frame, a Chromium on PATH.
Prints how long drawing and rendering MLP(2, [16, 16, 1]) took.
"""
import pathlib
import shutil
import subprocess
import tempfile
import time

import numpy as np

from autograd import Value, draw, draw_backward
from autograd.draw import micrograd_neuron as neuron, save
from nn import MLP, losses, optim
from nn.data import make_moons

HERE = pathlib.Path(__file__).parent



def moons_mlp(steps=30):
    """MLP(2, [16, 16, 1]) after a few steps on make_moons(100): hinge loss plus L2, backward done."""
    X, y = make_moons(100, noise=0.1, random_state=0)
    model = MLP(2, [16, 16, 1], seed=1337)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps + 1):
        loss = losses.hinge(model(X), 2.0 * y - 1) + losses.l2(model.parameters(), 1e-4)
        opt.zero_grad()
        loss.backward()
        if _ < steps:
            opt.step()
    loss.label = "loss"
    return loss


def main():
    save(draw(neuron()), HERE / "neuron.svg")

    loss = moons_mlp()
    t0 = time.perf_counter()
    g = draw(loss)
    t1 = time.perf_counter()
    save(g, HERE / "mlp_2_16_16_1_neurons.png")
    t2 = time.perf_counter()
    print(f"MLP(2, [16, 16, 1]): {g.detail} view, draw {t1 - t0:.3f} s + render PNG {t2 - t1:.3f} s")

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        page = draw_backward(neuron(), pathlib.Path(tmp) / "steps.html")
        pages = [(page.as_uri() + "#step=6", "backward_frame.png"),
                 (draw_backward(moons_mlp(), pathlib.Path(tmp) / "mlp.html").as_uri() + "#step=3",
                  "backward_neurons.png")]
        for url, name in pages:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            f"--user-data-dir={tmp}/profile", "--window-size=1280,720", "--hide-scrollbars",
                            f"--screenshot={HERE / name}", url], check=True, capture_output=True)


if __name__ == "__main__":
    main()
