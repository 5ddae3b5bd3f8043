"""`summary(model)`: a model's layers as a table, as Keras' model.summary() prints it.

    >>> from nn import MLP, summary
    >>> print(summary(MLP(2, [16, 16, 1], seed=0)))
    Layer             Type   Output shape  Activation  Params
    =========================================================
    layers.0          Layer  (n, 16)       relu            48
    layers.1          Layer  (n, 16)       relu           272
    layers.2          Layer  (n, 1)        linear          17
    =========================================================
    Total params: 337 (inputs: 2; n = examples in a batch)
"""
from __future__ import annotations

from .module import MLP, Dropout, Layer, Module, Neuron, Sequential


class Summary:
    """The table: `rows` (name, type, output shape, activation, parameter count) and
    `total_params`; str() and repr() are the printed table."""

    def __init__(self, rows, total, nin):
        self.rows, self.total_params, self.nin = rows, total, nin

    def __str__(self):
        head = ("Layer", "Type", "Output shape", "Activation", "Params")
        cells = [head] + [(n, t, s, a, f"{p:,}") for n, t, s, a, p in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(5)]
        widths[0] = max(widths[0], 16)

        def line(r):
            return "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        rule = "=" * len(line(head))
        inputs = f"inputs: {self.nin}; " if self.nin is not None else ""
        return "\n".join([line(head), rule, *(line(r) for r in cells[1:]), rule,
                          f"Total params: {self.total_params:,} ({inputs}n = examples in a batch)"])

    __repr__ = __str__


def summary(model):
    """The layers of `model` (an MLP, a Sequential, a Layer, ...) with their output shapes,
    activations and parameter counts, and the total. Print it, or read `.rows`."""
    if not isinstance(model, Module):
        raise TypeError(f"summary() needs an nn Module, got {type(model).__name__}")
    rows = []
    _rows(model, "", rows)
    total = len(model.parameters())
    nin = getattr(model, "nin", None)
    return Summary(rows, total, nin)


def _rows(m, name, rows, width=None):
    """Append one row per layer-like module; returns the output width after it."""
    if isinstance(m, Sequential):
        for i, child in enumerate(m):
            width = _rows(child, f"{name}{i}", rows, width) if not isinstance(child, (MLP, Sequential)) \
                else _rows(child, f"{name}{i}.", rows, width)
        return width
    if isinstance(m, MLP):
        for i, layer in enumerate(m.layers):
            width = _rows(layer, f"{name}layers.{i}", rows, width)
        return width
    if isinstance(m, Layer):
        rows.append((name or "layer", "Layer", f"(n, {m.nout})", m.activation, len(m.parameters())))
        return m.nout
    if isinstance(m, Neuron):
        rows.append((name or "neuron", "Neuron", "(n,)", m.activation, len(m.parameters())))
        return 1
    if isinstance(m, Dropout):
        rows.append((name or "dropout", "Dropout", f"(n, {width})" if width else "?", f"p={m.p:g}", 0))
        return width
    rows.append((name or type(m).__name__, type(m).__name__, "?", "", len(m.parameters())))
    return None
