"""Hooks into `fit`: an object whose methods fit calls at the start, after each epoch and at the end.

fit looks each method up by name (duck typing), so any object with only the methods it needs
works; subclassing `Callback` just supplies the others as no-ops.

    >>> import numpy as np
    >>> from nn import MLP, fit, optim
    >>> from nn.callbacks import Callback
    >>> class Recorder(Callback):
    ...     def on_train_begin(self, model, history):
    ...         self.seen = []
    ...     def on_epoch_end(self, epoch, logs, model):
    ...         self.seen.append((epoch, sorted(logs)))
    >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, -1.0])
    >>> model = MLP(2, [1], seed=0)
    >>> rec = Recorder()
    >>> h = fit(model, "mse", optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
    ...         val=(X, y), verbose=0, callbacks=[rec])
    >>> rec.seen
    [(0, ['loss', 'val_loss']), (1, ['loss', 'val_loss'])]
"""
from __future__ import annotations


class Callback:
    """Base class of fit's callbacks; override what you need.

    on_train_begin(model, history): before the first epoch; `history` is the dict fit fills
    and returns ({'loss': [], 'val_loss': [], metric: [], ...}).
    on_epoch_end(epoch, logs, model): after each epoch (0-based, as in Keras) once the model
    has been evaluated; `logs` holds this epoch's 'loss', 'val_loss' (with val=) and each
    metric (and 'val_' + metric). Return True to stop training after this epoch.
    on_train_end(history, model): after the last epoch (and after EarlyStopping has put the
    best weights back), with the finished history.
    """

    def on_train_begin(self, model, history):
        pass

    def on_epoch_end(self, epoch, logs, model):
        pass

    def on_train_end(self, history, model):
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. `LambdaCallback(on_epoch_end=lambda e, logs, m: ...)`.

        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs, model: print(epoch, logs))
        >>> cb.on_epoch_end(0, {'loss': 0.5}, None)
        0 {'loss': 0.5}
    """

    def __init__(self, on_train_begin=None, on_epoch_end=None, on_train_end=None):
        for name, fn in (("on_train_begin", on_train_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


__all__ = ["Callback", "LambdaCallback"]
