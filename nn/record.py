"""Watch a network learn: record training epoch by epoch, then replay it as a page or a GIF.

`TrainingRecorder` is a callback for `fit(..., callbacks=[rec])` (the methods fit calls:
on_train_begin, on_epoch_end, on_train_end) and works in a hand-written loop too
(`rec.record(model, loss=...)` after each step). Each frame holds the logs (loss,
val_loss, metrics), the gradient norm of each layer and, for 2-D inputs, the model's
decision boundary on a grid. `save_html` writes one self-contained page (slider, play
button, no network); `save_animation` writes a GIF (matplotlib's PillowWriter) or an MP4
(when ffmpeg is installed).

    >>> import numpy as np
    >>> from nn import MLP, losses, optim
    >>> from nn.data import make_moons
    >>> X, y = make_moons(50, noise=0.1, random_state=0)
    >>> model = MLP(2, [8, 1], seed=0)
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> rec = TrainingRecorder(X, y, unit="step")
    >>> for step in range(3):
    ...     loss = losses.hinge(model(X), 2 * y - 1)
    ...     opt.zero_grad(); loss.backward(); opt.step()
    ...     rec.record(model, loss=loss.data)
    >>> len(rec.frames), sorted(rec.frames[0]["grad_norm"])
    (3, ['layers.0', 'layers.1'])
"""
from __future__ import annotations

import html
import json
import math
import pathlib

import numpy as np

import autograd
from autograd.files import atomic_write

from .train import predict

_LEVELS = "0123456789abcdef"  # a grid cell: 16 levels of the output (or a class index)


class TrainingRecorder:
    """Record what training does, one frame per epoch (or per call of `record`).

    X, y: the 2-D inputs and labels to draw under the boundary (no boundary for other
    inputs; y may be None). loss: a function (outputs, targets) -> Value; with it, the
    gradient norms come from a forward/backward on (X, y) (the parameters' .grad is put
    back afterwards), which also works when fit runs compiled code; without it they are
    read from the parameters' .grad (the last batch's gradient). grid: cells per side of
    the boundary picture. every: keep one epoch in `every`. unit: what one frame is
    ('epoch', or 'step' in a loop that records each step).
    """

    def __init__(self, X=None, y=None, *, loss=None, grid=48, every=1, unit="epoch"):
        self.X = None if X is None else np.asarray(X, dtype=np.float64)
        self.y = None if y is None else np.asarray(y)
        self.loss, self.grid, self.every, self.unit = loss, int(grid), int(every), unit
        if self.every < 1 or self.grid < 2:
            raise ValueError(f"every must be >= 1 and grid >= 2, got every={every}, grid={grid}")
        self.frames, self.best_epoch, self.count = [], None, 0
        self._box, self._classes = None, False
        if self.X is not None and self.X.ndim == 2 and self.X.shape[1] == 2:
            lo, hi = self.X.min(axis=0) - 0.5, self.X.max(axis=0) + 0.5
            self._box = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
            xs, ys = np.linspace(lo[0], hi[0], self.grid), np.linspace(hi[1], lo[1], self.grid)
            self._cells = np.array([[a, b] for b in ys for a in xs])  # row by row, top first

    # -- the callback interface of nn.fit
    def on_train_begin(self, model, history=None):
        """Start a new record."""
        self.frames, self.best_epoch, self.count = [], None, 0

    def on_epoch_end(self, epoch, logs, model):
        """Record the epoch that just ended (logs: 'loss', 'val_loss', metrics)."""
        self.record(model, **{k: v for k, v in (logs or {}).items() if _is_number(v)})

    def on_train_end(self, history=None, model=None):
        """Note the epoch whose weights early stopping put back, if any."""
        if history and history.get("best_epoch"):
            self.best_epoch = int(history["best_epoch"])

    # -- by hand
    def record(self, model, **logs):
        """Record one frame now: logs are numbers (loss=..., accuracy=...)."""
        self.count += 1
        if (self.count - 1) % self.every:
            return
        frame = {"epoch": self.count, "logs": {k: _finite(v) for k, v in logs.items()},
                 "grad_norm": self.grad_norms(model)}
        if self._box is not None:
            frame["grid"] = self._boundary(model)
        self.frames.append(frame)

    def grad_norms(self, model):
        """Layer name -> the Euclidean norm of its parameters' gradient."""
        groups = _layers(model)
        params = [p for _, ps in groups for p in ps]
        saved = None
        if self.loss is not None and self.X is not None and self.y is not None:
            saved = [p.grad for p in params]
            for p in params:
                p.grad = 0.0
            with autograd.gc_paused():
                self.loss(model(self.X), self.y).backward()
        norms = {name: _finite(_norm([p.grad for p in ps])) for name, ps in groups}
        if saved is not None:
            for p, g in zip(params, saved):
                p.grad = g
        return norms

    def _boundary(self, model):
        out = predict(model, self._cells)
        self._classes = out.ndim == 2
        if out.ndim == 2:  # several outputs: the class
            return "".join(_LEVELS[int(c) % 16] for c in out.argmax(axis=1))
        if getattr(model, "config", {}).get("output_activation") == "sigmoid":
            s = 2.0 * out - 1.0
        else:  # a score or logit: its sign is the class, tanh keeps the size readable
            s = np.tanh(out)
        return "".join(_LEVELS[i] for i in np.clip(np.rint((s + 1) * 7.5), 0, 15).astype(int))

    def to_dict(self):
        """The whole record as plain data (what the page holds)."""
        d = {"unit": self.unit, "frames": self.frames, "best_epoch": self.best_epoch,
             "layers": list(self.frames[0]["grad_norm"]) if self.frames else []}
        if self._box is not None:
            d.update(box=self._box, grid=self.grid, classes=self._classes, points=np.round(self.X, 4).tolist(),
                     labels=None if self.y is None else _labels(self.y))
        return d

    def save_html(self, path, title="Watching the network learn"):
        """Write the self-contained page (slider, play button, no network); return the path."""
        from .record_page import PAGE
        if not self.frames:
            raise ValueError("nothing recorded yet: call record() or pass the recorder to fit")
        parts = {"TITLE": html.escape(title), "DATA": _script_json(self.to_dict())}
        page = PAGE.replace("%TITLE%", parts["TITLE"]).replace("%DATA%", parts["DATA"], 1)
        path = pathlib.Path(path)
        atomic_write(path, page)
        return path

    def save_animation(self, path, fps=8, max_frames=60, title="Watching the network learn"):
        """An animated GIF (.gif, matplotlib's PillowWriter) or MP4 (.mp4, needs ffmpeg) of the
        record, at most max_frames frames spread over it; return the path."""
        from .record_movie import save_animation
        if not self.frames:
            raise ValueError("nothing recorded yet: call record() or pass the recorder to fit")
        return save_animation(self, pathlib.Path(path), fps, max_frames, title)


def _norm(grads):
    try:  # scalar parameters: one array, one sum
        return float(np.sqrt(np.sum(np.square(np.array(grads, dtype=np.float64)))))
    except ValueError:  # some gradient is an array
        return math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None  # JSON has no NaN; the page leaves a gap


def _is_number(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)


def _labels(y):
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    return [int(v > 0) if np.any(y < 0) else int(v) for v in y.tolist()]


def _layers(model):
    """(name, parameters) per layer: model.layers of an MLP, else everything as one."""
    layers = getattr(model, "layers", None)
    if isinstance(layers, (list, tuple)) and all(hasattr(m, "parameters") for m in layers):
        return [(f"layers.{i}", m.parameters()) for i, m in enumerate(layers)]
    return [("all", model.parameters())]


def _script_json(obj):
    """JSON that is safe inside <script>, whatever the strings hold."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=float)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


__all__ = ["TrainingRecorder"]
