"""fit(): mini-batch training with validation, early stopping, metrics and a progress bar.

    >>> import numpy as np
    >>> from nn import MLP, fit, losses, optim
    >>> from nn.data import make_moons
    >>> X, y = make_moons(200, noise=0.1, random_state=0)
    >>> model = MLP(2, [8, 1], output_activation="sigmoid", init="he", seed=0)
    >>> h = fit(model, losses.binary_cross_entropy, optim.Adam(model.parameters(), lr=0.05),
    ...         X, y, epochs=30, batch_size=32, metrics=["accuracy"], verbose=0, seed=0)
    >>> h["accuracy"][-1] > 0.85
    True
"""
from __future__ import annotations

import contextlib
import math
import sys
import warnings

import numpy as np

import autograd

from . import metrics as metrics_mod
from .callbacks import Callback  # noqa: F401  (nn.callbacks, beside fit)
from .compiled_fit import L2, LOSSES, _CompiledStep  # noqa: F401  (L2: fit's regularization)
from .data import minibatches
METRICS = {name: getattr(metrics_mod, name) for name in ("accuracy", "precision", "recall", "f1")}


class EarlyStopping:
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs; with
    restore_best, put back the weights of the best epoch."""

    def __init__(self, patience=10, min_delta=0.0, monitor="val_loss", restore_best=True, mode="auto"):
        self.patience, self.min_delta, self.monitor, self.restore_best = patience, min_delta, monitor, restore_best
        if mode == "auto":  # losses go down; accuracy, precision, recall, f1 go up
            mode = "min" if monitor.endswith("loss") else "max"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.best, self.best_epoch, self.best_state, self.wait = math.inf, -1, None, 0

    def update(self, epoch, value, model):
        """Record this epoch; True when training should stop."""
        score = value if self.mode == "min" else -value  # smaller is better
        if score < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            self.best_state = model.state_dict() if self.restore_best else None
            return False
        self.wait += 1
        return self.wait >= self.patience


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and batch."""


def predict(model, X):
    """Raw outputs for a batch, without building a graph: (n,) for one output, else (n, K)."""
    with autograd.no_grad():
        out = model(np.asarray(X, dtype=np.float64))
    if isinstance(out, list):
        return np.stack([np.broadcast_to(o.data, (len(X),)) for o in out], axis=1)
    return np.broadcast_to(out.data, (len(X),)).copy()


def predict_classes(model, X):
    """Class predictions: argmax for several outputs; for one output, > 0.5 after a
    sigmoid, else > 0 (logits or scores)."""
    out = predict(model, X)
    if out.ndim == 2:
        return out.argmax(axis=1)
    act = getattr(model, "config", {}).get("output_activation")
    return (out > (0.5 if act == "sigmoid" else 0.0)).astype(np.int64)


def _targets_for_metrics(y):
    y = np.asarray(y)
    if y.ndim == 2:  # one-hot
        return y.argmax(axis=1)
    return (y > 0).astype(np.int64) if np.any(y < 0) else y  # -1/+1 labels -> 0/1


def fit(model, loss, optimizer, X, y, epochs=10, batch_size=None, val=None, early_stopping=None,
        metrics=(), verbose=1, callbacks=(), seed=0, shuffle=True, regularization=None, compile=False,
        progress=None):
    """Train `model` on (X, y); return the history: {'loss': [...], 'val_loss': [...], metric: [...]}.

    X: shape (n, features). y: shape (n,) (a number or class index per example), or (n, 1)
    for a model with one output (taken as (n,), as Keras does), or (n, K) one-hot for K
    outputs. loss: a function (outputs, targets) -> Value, or a name in LOSSES.
    batch_size None means full batch. val: (X_val, y_val). early_stopping: an EarlyStopping
    or a patience (int). metrics: names in METRICS or functions (y_true, y_pred).
    regularization: a function model -> Value added to every batch's loss (e.g.
    lambda m: 1e-4 * losses.l2(m.parameters())), or `L2(weight)` (the same numbers, and a
    compiled fit of an MLP then needs no trace in a new process: see nn.compiled_fit).
    verbose (Keras' meaning): 0 silent; 1 a progress bar (tqdm's auto mode: a terminal, or
    Jupyter) that stays on screen with the last epoch's numbers (without a terminal, that
    line alone at the end); 2 one line per epoch. progress: the old switch (True is
    verbose=1, False verbose=0).
    callbacks: objects with any of on_train_begin(model, history), on_epoch_end(epoch, logs,
    model) and on_train_end(history, model) (see nn.callbacks); on_epoch_end returning True
    stops training.
    The cyclic GC is paused during each step (graphs hold no cycles). A NaN or infinite loss
    stops training with NonFiniteLossError naming the epoch and batch. compile=True traces
    the step once and runs it as generated code (`autograd.compile`; C when a compiler
    works) on the parameters held in one array, updated by `optimizer.update`: the same
    numbers to ~1e-12, many times faster; the parameters' `.grad` is then left untouched, and
    their `.data` is read at the start of every call and written back after the last epoch
    (after each one when metrics, validation, early stopping or callbacks read them).
    """
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
    X, y = check_data(model, X, y)
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val must be a pair (X_val, y_val), got {type(val).__name__}")
        val = check_data(model, val[0], val[1], names=("val X", "val y"))
    if progress is not None:
        verbose = 1 if progress else 0
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch), got {verbose!r}")
    batch_size = batch_size or len(X)
    if isinstance(early_stopping, int):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None and val is None and early_stopping.monitor.startswith("val"):
        raise ValueError("early stopping on a validation metric needs val=(X_val, y_val)")
    metric_fns = [(m, METRICS[m]) if isinstance(m, str) else (m.__name__, m) for m in metrics]
    history = {"loss": []}
    if val is not None:
        history["val_loss"] = []
    for name, _ in metric_fns:
        history[name] = []
        if val is not None:
            history["val_" + name] = []
    callbacks = list(callbacks or ())

    params = optimizer.params
    step = _CompiledStep.get(model, loss_fn, regularization, params) if compile else None
    _call(callbacks, "on_train_begin", model, history)
    bar = _progress(epochs) if verbose == 1 else None
    rng = np.random.default_rng(seed) if shuffle else None  # (26 us: only when it is used)
    stopped = None
    if step is None:
        model.train()
    else:
        step.train_mode()
        # read at every call (a user may set p.data between calls); inside fit only `load` writes them
        theta = np.fromiter([p.data for p in params], np.float64, len(params))
        y_step = step.targets(y)  # one-hot once, not per batch
        run, update, synced = step.flat, optimizer.update, True
        # the Values are written back after the last epoch, or after each one when its end reads them
        sync_each = bool(metric_fns or val is not None or early_stopping is not None or callbacks)
    try:
        for epoch in range(epochs):
            total, count = 0.0, 0
            if step is not None:
                batches = minibatches(X, y_step, batch_size, shuffle=True, seed=rng) if shuffle else \
                    [(X[i:i + batch_size], y_step[i:i + batch_size]) for i in range(0, len(X), batch_size)]
                synced = False
                for b, (Xb, yb) in enumerate(batches):
                    loss_value, grad = run(theta, Xb, yb)  # a compiled step builds no graph: no GC pause
                    if not math.isfinite(loss_value):
                        _non_finite(loss_value, epoch, b, Xb)
                    theta = update(theta, grad)
                    total += loss_value * len(Xb)
                    count += len(Xb)
                if sync_each or epoch == epochs - 1:
                    run.load(theta)  # the Values again, for evaluation, early stopping and the caller
                    synced = True
            else:
                for b, (Xb, yb) in enumerate(minibatches(X, y, batch_size, shuffle=shuffle, seed=rng)):
                    with autograd.gc_paused():
                        optimizer.zero_grad()
                        L = loss_fn(model(Xb), yb)
                        if regularization is not None:
                            L = L + regularization(model)
                        loss_value = L.data
                        if not math.isfinite(loss_value):
                            _non_finite(loss_value, epoch, b, Xb)
                        L.backward()
                        optimizer.step()
                    total += loss_value * len(Xb)
                    count += len(Xb)
            history["loss"].append(total / count)
            if metric_fns or val is not None:  # eval mode (Dropout off) only where something is measured
                model.eval()
                _evaluate(model, loss_fn, X, y, metric_fns, history, "")
                if val is not None:
                    _evaluate(model, loss_fn, val[0], val[1], metric_fns, history, "val_", with_loss=True)
                model.train()
            logs = {k: v[-1] for k, v in history.items()}
            if bar is not None:
                bar.set_postfix_str(_line(logs), refresh=False)
                bar.update(1)
            elif verbose == 2:
                print(f"epoch {epoch + 1}/{epochs}: {_line(logs)}", flush=True)
            if any(r is True for r in _call(callbacks, "on_epoch_end", epoch, logs, model)):
                stopped = f"stopped by a callback after epoch {epoch + 1}"
                break
            if early_stopping is not None and early_stopping.update(epoch, history[early_stopping.monitor][-1], model):
                stopped = f"early stopping after epoch {epoch + 1}"
                break
    finally:
        if step is not None and not synced:  # stopped inside an epoch: the last good weights
            run.load(theta)
        if bar is not None:
            bar.close()
    if early_stopping is not None and early_stopping.best_state is not None:
        model.load_state_dict(early_stopping.best_state)
        history["best_epoch"] = early_stopping.best_epoch + 1
        if stopped and stopped.startswith("early"):
            stopped += f": best {early_stopping.monitor} at epoch {history['best_epoch']}, its weights restored"
    history["epochs"] = len(history["loss"])
    if verbose == 1 and bar is None and history["loss"]:  # no terminal: the bar's last line alone
        print(f"epoch {history['epochs']}/{epochs}: {_line(logs)}", flush=True)
    if verbose and stopped:
        print(stopped, flush=True)
    _call(callbacks, "on_train_end", history, model)
    return history


def _non_finite(loss_value, epoch, b, Xb):
    raise NonFiniteLossError(f"loss is {loss_value} at epoch {epoch + 1}, batch {b + 1} "
                             f"({len(Xb)} rows); check the data for NaN/inf or "
                             f"try a smaller learning rate")


def check_data(model, X, y, names=("X", "y")):
    """X and y as fit uses them: float X of shape (n, features), y of shape (n,) or (n, K);
    every problem named with the argument and its shape.

        >>> from nn import MLP
        >>> X, y = check_data(MLP(2, [1]), [[0, 1], [1, 0]], [[1], [0]])
        >>> X.shape, y.shape            # (n, 1) for one output is taken as (n,)
        ((2, 2), (2,))
        >>> check_data(MLP(2, [1]), [0.5, 1.0], [1, 0])
        Traceback (most recent call last):
        ...
        ValueError: X must be 2-D, (examples, features), got shape (2,); one example per row (for one feature: X.reshape(-1, 1))
    """
    xname, yname = names
    X, y = _numbers(X, xname), _numbers(y, yname, keep_integers=True)
    if X.ndim != 2:
        hint = "; one example per row (for one feature: X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ValueError(f"{xname} must be 2-D, (examples, features), got shape {X.shape}{hint}")
    nin = getattr(model, "nin", None)
    if nin is not None and X.shape[1] != nin:
        raise ValueError(f"{xname} has {X.shape[1]} features (shape {X.shape}) but the model takes {nin}")
    nout = (getattr(model, "nouts", None) or [None])[-1]
    if y.ndim == 2 and y.shape[1] == 1 and nout in (1, None):
        y = y[:, 0]  # a column of targets for a model with one output
    if y.ndim not in (1, 2) or (y.ndim == 2 and nout is not None and y.shape[1] != nout):
        want = "(n,) or (n, 1)" if nout == 1 else f"(n,) class indices or (n, {nout}) one-hot" if nout else "(n,) or (n, K)"
        raise ValueError(f"{yname} has shape {y.shape}; a model with {nout or 'K'} output"
                         f"{'' if nout == 1 else 's'} needs {want}")
    if len(X) != len(y):
        raise ValueError(f"{xname} has {len(X)} rows (shape {X.shape}) but {yname} has {len(y)} (shape {y.shape})")
    if len(X) == 0:
        raise ValueError(f"{xname} and {yname} have no rows")
    for name, arr in ((xname, X), (yname, y)):
        if arr.dtype.kind in "iub" or np.isfinite(arr.sum()):  # NaN and inf reach a sum: one pass
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} holds {arr[where]} at index {where[0] if len(where) == 1 else where}; "
                             f"fit needs finite numbers")
    return X, y


def _numbers(a, name, keep_integers=False):
    arr = np.asarray(a) if keep_integers else None
    if arr is not None and arr.dtype.kind in "iub":  # class indices stay integers
        return arr
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must hold numbers: {e}") from None


def _call(callbacks, method, *args):
    """Each callback's `method`, where it has one (duck typing: plain objects work)."""
    return [getattr(cb, method)(*args) for cb in callbacks if callable(getattr(cb, method, None))]


def _line(logs):
    return " - ".join(f"{k} {v:.4g}" for k, v in logs.items())


def _evaluate(model, loss_fn, X, y, metric_fns, history, prefix, with_loss=False):
    if not metric_fns and not with_loss:
        return
    X = np.asarray(X, dtype=np.float64)
    if with_loss:
        with autograd.no_grad():
            history[prefix + "loss"].append(float(loss_fn(model(X), np.asarray(y)).data))
    if metric_fns:
        pred = predict_classes(model, X)
        truth = _targets_for_metrics(y)
        for name, fn in metric_fns:
            history[prefix + name].append(float(fn(truth, pred)))


def _progress(epochs):
    """tqdm's auto bar (a widget in Jupyter with ipywidgets, text otherwise) where someone
    watches: a terminal or a notebook; None in a log or a pipe."""
    if not (sys.stderr.isatty() or _in_notebook()):
        return None
    with warnings.catch_warnings():  # tqdm.auto warns in Jupyter without ipywidgets, then
        warnings.simplefilter("ignore")  # draws text, which notebooks show as well
        from tqdm.auto import tqdm
    return tqdm(total=epochs, unit="epoch", leave=True, file=sys.stderr, dynamic_ncols=True)


def _in_notebook():
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


__all__ = ["fit", "check_data", "EarlyStopping", "NonFiniteLossError", "predict", "predict_classes", "L2"]
