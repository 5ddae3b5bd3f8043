"""What every demo shares: its command line, progress, plots and saving results."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def parse_args(doc, argv, default_steps):
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: the tutorial's)")
    ap.add_argument("--steps", type=int, default=None, help=f"training iterations (default {default_steps})")
    ap.add_argument("--out", default="out", help="output folder for plots and results (default out/)")
    ap.add_argument("--quick", action="store_true", help="a shorter run, for CI")
    ap.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    return ap.parse_args(argv)


def progress(iterable, total, desc):
    """A tqdm bar on a terminal, the bare iterable otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def pyplot():
    """matplotlib without a display, or None when it is not installed (plots are skipped)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_fig(fig, out, name):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    # what each axis says, inside the PNG (a text chunk), so that tests can read it back
    axes = [{"title": ax.get_title(), "x": ax.get_xlabel(), "y": ax.get_ylabel(),
             "legend": [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []}
            for ax in fig.axes if ax.get_label() != "<colorbar>"]
    fig.savefig(path, dpi=90, bbox_inches="tight", metadata={"Description": json.dumps(axes)})
    pyplot().close(fig)
    return name


def plot_decision_boundary(predict, X, y, out, name, title):
    """Colour the plane by predict(points) -> class, with the data on top."""
    plt = pyplot()
    if plt is None:
        return None
    pad = 0.5
    xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 120),
                         np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 120))
    grid = np.c_[xx.ravel(), yy.ravel()]
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    ax.contourf(xx, yy, zz, cmap="Spectral", alpha=0.6)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="Spectral", s=14, edgecolors="k", linewidths=0.3)
    ax.set_title(title, fontsize=9)
    return save_fig(fig, out, name)


def plot_curves(curves, out, name, title, ylabel="loss", logy=True, xlabel="iteration", x=None, best=None):
    """Curves against their real unit: x gives each point's position (default 1, 2, ...),
    xlabel says what it counts and how often it was logged; best marks a restored epoch."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for label, ys in curves.items():
        ax.plot(np.arange(1, len(ys) + 1) if x is None else x[:len(ys)], ys, label=label)
    if best is not None:
        ax.axvline(best, color="#2c7a2c", ls="--", lw=1, label=f"best epoch {best} (weights restored)")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return save_fig(fig, out, name)


def plot_confusion(cm, labels, out, name, title):
    plt = pyplot()
    if plt is None:
        return None
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(0.45 * len(labels) + 2, 0.45 * len(labels) + 1.6))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return save_fig(fig, out, name)


def draw_graph(root, out, name):
    """The graph of `root` (its neuron view for a network) as SVG, or None without a renderer."""
    import importlib

    draw = importlib.import_module("autograd.draw")  # the module (it can also be called: draw(root))
    try:
        os.makedirs(out, exist_ok=True)
        draw.save(draw.draw(root), os.path.join(out, name))
    except draw.RendererNotFoundError as e:
        print(f"(no graph drawing: {e})", file=sys.stderr)
        return None
    return name


def draw_backward_page(root, out, name):
    """The step-by-step backward page of `root` (neuron by neuron for a network), or None
    without a renderer."""
    import importlib

    draw = importlib.import_module("autograd.draw")
    from autograd.draw_backward import draw_backward
    try:
        os.makedirs(out, exist_ok=True)
        draw_backward(root, os.path.join(out, name))
    except draw.RendererNotFoundError as e:
        print(f"(no backward page: {e})", file=sys.stderr)
        return None
    return name


def write_json(path, obj):
    """Write JSON atomically: a reader never sees half a file."""
    from nn.io import atomic_write_text
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=1, default=_jsonable))


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def finish(name, result, args):
    """Print the result of a demo run on its own and save it to <out>/<name>.json."""
    write_json(os.path.join(args.out, f"{name}.json"), result)
    shown = {k: v for k, v in result.items()
             if not isinstance(v, (list, dict)) or k in ("weights", "loss", "test_accuracy")}
    print(f"{name}: {json.dumps(shown, default=_jsonable)}")
    return result
