"""Draw a model saved by nn: `python -m nn.draw model.json [-o model.png|.svg|.gv|.html]`.

The model runs on --input (one example: every number shown) or on a fixed batch of random
examples (summaries of a real spread), and is backpropagated from its outputs. '.html'
writes the step-by-step backward page (neuron by neuron for a network). This lives in nn,
not in autograd, because the engine never imports nn.

    >>> import tempfile, os
    >>> from nn import MLP
    >>> folder = tempfile.mkdtemp()
    >>> MLP(2, [3, 1], seed=0).save(os.path.join(folder, "m.json"))
    >>> main([os.path.join(folder, "m.json"), "-o", os.path.join(folder, "m.gv")])  # doctest: +ELLIPSIS
    wrote ...m.gv
    0
"""
from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import sys

import numpy as np

import autograd

from .io import ModelFileError, load

_draw = importlib.import_module("autograd.draw")  # the module (autograd.draw is the function)


def model_roots(model, input_text=None, batch=16):
    """The model's outputs on one example ('0.5,-1') or a fixed random batch, after backward."""
    if input_text:
        try:
            x = [float(t) for t in input_text.split(",")]
        except ValueError:
            raise ValueError(f"--input needs numbers separated by commas, got {input_text!r}") from None
        if len(x) != model.nin:
            raise ValueError(f"--input needs {model.nin} numbers, got {len(x)}")
    else:
        x = np.random.default_rng(0).standard_normal((batch, model.nin))
    outs = model(x)
    outs = outs if isinstance(outs, list) else [outs]
    for i, o in enumerate(outs):
        o.label = f"y{i}" if len(outs) > 1 else "y"
        o.backward(grad=np.ones_like(o.data) if isinstance(o.data, np.ndarray) else None)
    return outs


def main(argv=None):
    """`python -m nn.draw MODEL.json [-o out.svg|.png|.gv|.html] [--input 0.5,-1]`."""
    ap = argparse.ArgumentParser(prog="python -m nn.draw", description="Draw a model saved by nn.")
    ap.add_argument("model", help="a model file saved by nn (model.save / nn.save)")
    ap.add_argument("-o", "--output", default="model.svg", help="output file (.svg .png .html .gv)")
    ap.add_argument("--detail", choices=("auto", "full", "neuron"), default="auto")
    ap.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR")
    ap.add_argument("--renderer", choices=_draw.RENDERERS, help=f"overrides ${_draw.RENDERER_ENV}")
    ap.add_argument("--input", help="one input, comma-separated (default: a random batch)")
    ap.add_argument("--batch", type=int, default=16, help="size of the random batch (default 16)")
    args = ap.parse_args(argv)
    if args.renderer:
        os.environ[_draw.RENDERER_ENV] = args.renderer
    try:
        roots = model_roots(load(args.model), args.input, args.batch)
        out = pathlib.Path(args.output)
        if out.suffix.lower() == ".html":
            root = roots[0] if len(roots) == 1 else autograd.sum(roots)
            if isinstance(root.data, np.ndarray):
                root = root.sum()
            autograd.draw_backward(root, out, rankdir=args.rankdir, detail=args.detail)
        else:
            _draw.save(_draw.draw(roots, rankdir=args.rankdir, detail=args.detail), out)
    except (ValueError, ModelFileError, _draw.RendererNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
