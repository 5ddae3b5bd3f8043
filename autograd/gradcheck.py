"""Check backward() against central finite differences, for your own tests.

    >>> from autograd import Value, gradcheck
    >>> x, y = Value(0.3, label='x'), Value(-1.2, label='y')
    >>> gradcheck(lambda x, y: (x * y).tanh() + x.exp(), [x, y])
    True
"""
from __future__ import annotations

import numpy as np

from .backward import backward, topological_order
from .ops import ndarray
from .value import Value


class GradcheckError(AssertionError):
    """Analytic and numeric gradients differ; the message lists every input."""


def _as_value(v):
    return v if isinstance(v, Value) else Value(v)


def _flat(x):
    return np.atleast_1d(np.asarray(x, dtype=np.float64)).copy()


def _evaluate(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, Value) else Value(out)


def _numeric(fn, inputs, eps):
    """d out[j] / d input[i][e] by central differences: {i: array (elements, outputs)}."""
    columns = {}
    for i, x in enumerate(inputs):
        orig = x.data
        rows = []
        for e in range(np.size(orig)):
            def shifted(h):
                if type(orig) is ndarray:
                    d = orig.copy()
                    d[e] += h
                    return d
                return orig + h
            try:
                x.data = shifted(eps)
                f_plus = _flat(_evaluate(fn, inputs).data)
                x.data = shifted(-eps)
                f_minus = _flat(_evaluate(fn, inputs).data)
            finally:
                x.data = orig
            rows.append((f_plus - f_minus) / (2 * eps))
        columns[i] = np.array(rows)
    return columns


def _analytic(fn, inputs):
    """The same derivatives from backward(), one backward per output element."""
    out = _evaluate(fn, inputs)
    n_out = np.size(out.data)
    nodes = topological_order(out)
    saved = [(n, n.grad) for n in nodes] + [(x, x.grad) for x in inputs]
    columns = {i: np.zeros((np.size(x.data), n_out)) for i, x in enumerate(inputs)}
    try:
        for j in range(n_out):
            for x in inputs:
                x.grad = np.zeros_like(x.data) if type(x.data) is ndarray else 0.0
            seed = None
            if type(out.data) is ndarray:
                seed = np.zeros(n_out)
                seed[j] = 1.0
            backward(out, seed)
            for i, x in enumerate(inputs):
                g = x.grad.data if isinstance(x.grad, Value) else x.grad
                columns[i][:, j] = _flat(g)
    finally:
        for n, g in saved:  # the caller's gradients are left as they were
            n.grad = g
    return columns


def _name(x, i):
    return f"{x.label!r} (input {i})" if x.label else f"input {i}"


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare the gradients of `fn(*inputs)` from backward() with central differences.

    `inputs` are Values (numbers are wrapped); `fn` returns a Value, scalar or batched
    (then every output element is checked). Returns True when every derivative agrees
    within `atol + rtol * |numeric|`; otherwise raises `GradcheckError` listing, for each
    input, its label, the analytic and the numeric value and the error (or returns False
    with `raise_exception=False`). The inputs' data and grad are left as they were.
    """
    inputs = [_as_value(x) for x in inputs]
    numeric = _numeric(fn, inputs, eps)
    analytic = _analytic(fn, inputs)
    lines, bad = [], False
    for i, x in enumerate(inputs):
        a, n = analytic[i], numeric[i]
        err = np.abs(a - n)
        ok = err <= atol + rtol * np.abs(n)  # NaN anywhere compares False: reported
        bad |= not ok.all()
        for (e, j), a_ej in np.ndenumerate(a):
            where = _name(x, i) + (f"[{e}]" if type(x.data) is ndarray else "")
            if a.shape[1] > 1:
                where += f" -> output[{j}]"
            mark = "" if ok[e, j] else "   <-- mismatch"
            lines.append(f"  {where}: analytic {a_ej:.10g}, numeric {n[e, j]:.10g}, "
                         f"error {err[e, j]:.3g}{mark}")
    if not bad:
        return True
    if not raise_exception:
        return False
    raise GradcheckError(f"gradients differ (eps={eps}, atol={atol}, rtol={rtol}):\n" + "\n".join(lines))


def gradgradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check second derivatives: gradcheck of each first derivative, built with create_graph.

        >>> from autograd import Value, gradgradcheck
        >>> gradgradcheck(lambda x: x.sigmoid() * x ** 3, [Value(0.7)])
        True
    """
    inputs = [_as_value(x) for x in inputs]
    saved = [(x, x.grad) for x in inputs]  # first_derivative replaces them with Values
    try:
        return _gradgradcheck(fn, inputs, eps, atol, rtol, raise_exception)
    finally:
        for x, g in saved:
            x.grad = g


def _gradgradcheck(fn, inputs, eps, atol, rtol, raise_exception):
    for i in range(len(inputs)):
        def first_derivative(*xs, i=i):
            out = _evaluate(fn, xs)
            for x in xs:
                x.grad = np.zeros_like(x.data) if type(x.data) is ndarray else 0.0
            seed = np.ones_like(out.data) if type(out.data) is ndarray else None
            backward(out, seed, create_graph=True)
            return xs[i].grad
        ok = gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                       raise_exception=raise_exception)
        if not ok:
            return False
    return True
