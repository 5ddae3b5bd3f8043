"""`Value`: one scalar (or one scalar per example of a batch) and its gradient.

Operators only look the operation up in `ops` and record it; the rules live there.

    >>> from autograd import Value
    >>> a, b = Value(2.0, label='a'), Value(-3.0, label='b')
    >>> c = a * b + b ** 2
    >>> c.backward()
    >>> (c.data, a.grad, b.grad)
    (3.0, -3.0, -4.0)
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops
from .ops import ndarray

_new = object.__new__
_grad_enabled = [True]  # a list so that no_grad can flip it without `global`
_compare_hook = [None]  # set by autograd.compile while tracing: comparisons choose branches


def _as_data(x):
    """Check and convert what a user passes as data: a real number or a 1-D batch."""
    if type(x) is float:  # the common case, without the slow ABC check below
        return x
    if isinstance(x, bool) or isinstance(x, numbers.Real) and not isinstance(x, ndarray):
        return float(x)
    if isinstance(x, Value):
        raise TypeError("Value() got a Value; pass v itself, or Value(v.data) for a detached copy")
    if isinstance(x, (list, tuple)):
        for i, e in enumerate(x):  # numpy would turn None into nan and '1' into 1.0
            if type(e) is not float and (isinstance(e, (str, bytes)) or e is None or not isinstance(
                    e, (numbers.Real, list, tuple, ndarray))):
                raise TypeError(f"Value() needs numbers; got {type(e).__name__} {e!r} at position {i} "
                                f"of the {type(x).__name__}")
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Value() needs numbers; got a {type(x).__name__} that does not "
                            f"convert to floats ({e})") from None
    if isinstance(x, ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Value() needs a numeric array; got dtype {x.dtype}")
        if x.ndim == 0:
            return float(x)
        if x.ndim != 1:
            raise ValueError(f"Value() holds a scalar or a 1-D batch (one number per example); "
                             f"got an array of shape {x.shape}")
        if x.size == 0:
            raise ValueError("Value() got an empty batch (shape (0,))")
        return np.array(x, dtype=np.float64)  # a copy: a Value never shares the caller's array
    raise TypeError(f"Value() needs a real number or a 1-D numpy array; got {type(x).__name__}: {x!r}")


def _node(data, op, a, b):
    """A graph node without the checks of Value(): data is already a float or a float64 batch."""
    v = _new(Value)
    v.data = data
    v.grad = np.zeros_like(data) if type(data) is ndarray else 0.0
    if _grad_enabled[0]:
        v._op, v._a, v._b = op, a, b
    else:
        v._op = v._a = v._b = None
    v.label = ""
    return v


def _wrap(x):
    """Numbers and arrays met by an operator become constant leaves; anything else is refused."""
    if type(x) is Value:
        return x
    if isinstance(x, (numbers.Real, ndarray)):
        return Value(x)
    return None


def _unary(op, a, k=None):
    return _node(op.forward(a.data) if k is None else op.forward(a.data, k), op, a, k)


def _binary(op, a, b):
    x, y = a.data, b.data
    if type(x) is ndarray and type(y) is ndarray and len(x) != len(y):
        _lengths_differ(op.name, (x, y))
    return _node(op.forward(x, y), op, a, b)


def _lengths_differ(name, datas):
    """Batches of different lengths are different data sets, not a broadcast (a length-1
    batch would silently stretch, and its gradient would no longer fit its data)."""
    lengths = sorted({len(d) for d in datas if type(d) is ndarray})
    if len(lengths) > 1:
        raise ValueError(f"{name}: batches of different lengths {lengths} meet; "
                         f"every batched Value in one graph must hold the same examples")


class Value:
    """A number in a computation graph.

    `data` is a float, or a 1-D float64 numpy array holding one number per example
    (a *batch*: the same graph then runs every example at once). `grad` has the
    shape of `data` and is 0 until `backward()` fills it.

    `==` and `hash` are by identity, not by value: Values are graph nodes, kept in
    sets and dicts during traversal, and two nodes with equal data are still two
    different nodes with two gradients. `<`, `<=`, `>`, `>=` compare data.

        >>> x = Value(3.0, label='x')
        >>> y = (x * x).log()
        >>> y.backward()
        >>> round(x.grad, 6)       # d log(x^2)/dx = 2/x
        0.666667
    """

    __slots__ = ("data", "grad", "_op", "_a", "_b", "label")
    __array_ufunc__ = None  # so that `ndarray + Value` calls Value.__radd__, not numpy's loop

    def __init__(self, data, label=""):
        self.data = _as_data(data)
        self.grad = np.zeros_like(self.data) if type(self.data) is ndarray else 0.0
        self._op = self._a = self._b = None
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        self.label = label

    # -- the graph ---------------------------------------------------------
    @property
    def op(self):
        """The operation that made this Value ('add', 'tanh', ...), '' for a leaf."""
        return self._op.name if self._op is not None else ""

    @property
    def parents(self):
        """The Values this one was computed from, in argument order."""
        op = self._op
        if op is None:
            return ()
        if op.arity == 1:
            return (self._a,)
        if op.arity == 2:
            return (self._a, self._b)
        return self._a

    @property
    def k(self):
        """The constant argument of an operation such as `x ** 3` or `leaky_relu`, else None."""
        return self._b if self._op is not None and self._op.has_k else None

    def backward(self, grad=None, *, create_graph=False):
        """Fill `.grad` of every Value this one depends on (see `autograd.backward`)."""
        from .backward import backward
        backward(self, grad, create_graph=create_graph)

    def detach(self):
        """A new leaf with the same data, cut from the graph."""
        return Value(self.data, self.label)

    # -- arithmetic: numbers and arrays on either side become constant leaves --
    def __add__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.ADD, self, other)

    def __radd__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.ADD, other, self)

    def __sub__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.SUB, self, other)

    def __rsub__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.SUB, other, self)

    def __mul__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.MUL, self, other)

    def __rmul__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.MUL, other, self)

    def __truediv__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.DIV, self, other)

    def __rtruediv__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.DIV, other, self)

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and type(other) is not Value:
            return _unary(ops.POW, self, float(other))
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.POWV, self, other)

    def __rpow__(self, other):
        other = _wrap(other)
        return NotImplemented if other is None else _binary(ops.POWV, other, self)

    def __neg__(self):
        return _unary(ops.NEG, self)

    def __abs__(self):
        return _unary(ops.ABS, self)

    # -- functions ------------------------------------------------------------
    def exp(self):
        return _unary(ops.EXP, self)

    def log(self):
        return _unary(ops.LOG, self)

    def sqrt(self):
        return _unary(ops.SQRT, self)

    def tanh(self):
        return _unary(ops.TANH, self)

    def sigmoid(self):
        return _unary(ops.SIGMOID, self)

    def relu(self):
        return _unary(ops.RELU, self)

    def leaky_relu(self, slope=0.01):
        if not isinstance(slope, numbers.Real):
            raise TypeError(f"leaky_relu: slope must be a real number, got {type(slope).__name__}")
        return _unary(ops.LEAKY_RELU, self, float(slope))

    def softplus(self):
        return _unary(ops.SOFTPLUS, self)

    def clamp(self, min=None, max=None):
        """Limit data to [min, max]; the gradient passes only where the data was inside."""
        lo = -np.inf if min is None else float(min)
        hi = np.inf if max is None else float(max)
        if lo > hi:
            raise ValueError(f"clamp: min {lo} is greater than max {hi}")
        return _unary(ops.CLAMP, self, (lo, hi))

    def sum(self):
        """The sum over the batch, as a scalar Value (a scalar Value is returned as a new node)."""
        return _unary(ops.BATCH_SUM, self)

    def mean(self):
        """The mean over the batch, as a scalar Value."""
        return _unary(ops.BATCH_MEAN, self)

    # -- comparisons look at data; equality stays identity (see the class docstring) --
    def __lt__(self, other):
        return _compare(self, other, "<", self.data < ops.data(other))

    def __le__(self, other):
        return _compare(self, other, "<=", self.data <= ops.data(other))

    def __gt__(self, other):
        return _compare(self, other, ">", self.data > ops.data(other))

    def __ge__(self, other):
        return _compare(self, other, ">=", self.data >= ops.data(other))

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __float__(self):
        if type(self.data) is ndarray:
            raise TypeError(f"float() of a batched Value (batch of {len(self.data)}); use .sum() or .mean()")
        return self.data

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        if type(self.data) is ndarray:
            return f"Value(data={_summary(self.data)}, grad={_summary(self.grad)}{label})"
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"


def _compare(value, other, name, result):
    if _compare_hook[0] is not None:
        _compare_hook[0](value, name, other, result)
    return result


def _summary(x):
    if type(x) is not ndarray:
        return repr(x)
    if x.size <= 6:
        return np.array2string(x, separator=", ")
    return f"<batch of {x.size}: mean {x.mean():.6g}, min {x.min():.6g}, max {x.max():.6g}>"


def sum(values):
    """The sum of many Values (or numbers) as one node.

        >>> import autograd
        >>> autograd.sum([Value(1.0), 2.0, Value(3.0)]).data
        6.0
    """
    xs = tuple(_checked(v, "sum", i) for i, v in enumerate(values))
    if not xs:
        return Value(0.0)
    _lengths_differ(ops.SUM.name, [x.data for x in xs])
    return _node(ops.SUM.forward([x.data for x in xs]), ops.SUM, xs, None)


def dot(ws, xs):
    """sum(w * x for w, x in zip(ws, xs)) as one node: a neuron's weighted sum.

        >>> import autograd
        >>> autograd.dot([Value(2.0), Value(3.0)], [1.0, -1.0]).data
        -1.0
    """
    ws, xs = list(ws), list(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot: {len(ws)} weights but {len(xs)} inputs")
    if not ws:
        return Value(0.0)
    both = tuple(_checked(v, "dot", i) for i, v in enumerate(ws + xs))
    _lengths_differ(ops.DOT.name, [x.data for x in both])
    return _node(ops.DOT.forward([x.data for x in both]), ops.DOT, both, None)


def logsumexp(values):
    """log(sum(exp(v) for v in values)) as one node, stable (the max is taken out first).

        >>> import autograd
        >>> round(autograd.logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
        1000.693147
    """
    xs = tuple(_checked(v, "logsumexp", i) for i, v in enumerate(values))
    if not xs:
        raise ValueError("logsumexp of no values")
    _lengths_differ(ops.LOGSUMEXP.name, [x.data for x in xs])
    return _node(ops.LOGSUMEXP.forward([x.data for x in xs]), ops.LOGSUMEXP, xs, None)


def _checked(v, where, i):
    w = _wrap(v)
    if w is None:
        raise TypeError(f"{where}: item {i} is a {type(v).__name__}, not a Value or a number")
    return w
