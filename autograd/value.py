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

import functools
import numbers
import struct
import threading
from itertools import chain

import numpy as np

from . import layer_kernels, ops
from .ops import ndarray

_new = object.__new__
_zeros = np.zeros
_f64 = np.dtype(np.float64)
_frombuffer = np.frombuffer
_chain = chain.from_iterable
_concatenate = np.concatenate


class _PerThread(threading.local):
    """What one thread switches must never change another thread's graphs."""

    def __init__(self):
        self.grad = True            # grad mode: no_grad() and backward() switch it
        self.compare_hook = None    # autograd.compile's tracer: comparisons choose branches


_thread = _PerThread()
# How many threads have grad mode off / a compare hook on right now. Reading a threading.local
# adds about a fifth to a node (measured), so _node and _compare read these plain counters
# first and look at their own thread's state only while some thread has switched something.
_grad_off = [0]
_hooked = [0]
_switch_lock = threading.Lock()


def _set_grad_enabled(mode):
    """Set this thread's grad mode; returns the previous one, to restore it."""
    prev, mode = _thread.grad, bool(mode)
    if mode != prev:
        with _switch_lock:  # `+=` on a list item is not atomic under the GIL
            _grad_off[0] += -1 if mode else 1
        _thread.grad = mode
    return prev


def is_tracing():
    """True while autograd.compile traces a function in this thread (its comparisons are being
    recorded): code that would freeze a random choice into the trace can refuse.

        >>> is_tracing()
        False
    """
    return _thread.compare_hook is not None


def _set_compare_hook(hook):
    """Install this thread's comparison hook (None removes it); returns the previous one."""
    prev = _thread.compare_hook
    if (hook is None) != (prev is None):
        with _switch_lock:
            _hooked[0] += 1 if prev is None else -1
    _thread.compare_hook = hook
    return prev


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
    v.grad = _zeros(data.shape) if type(data) is ndarray else 0.0  # np.zeros_like, 5x cheaper
    if not _grad_off[0] or _thread.grad:
        v._op, v._a, v._b = op, a, b
    else:
        v._op = v._a = v._b = None
    v.label = ""
    return v


def _nodes(datas, op, parents):
    """[_node(d, op, a, b) for d, (a, b) in zip(datas, parents)] for the rows of a 2-D batch:
    their zero gradients are rows of one array (each row its node's alone)."""
    grads = _zeros(datas.shape)
    record = not _grad_off[0] or _thread.grad
    out = []
    for d, g, (a, b) in zip(datas, grads, parents):
        v = _new(Value)
        v.data, v.grad, v.label = d, g, ""
        if record:
            v._op, v._a, v._b = op, a, b
        else:
            v._op = v._a = v._b = None
        out.append(v)
    return out


def _columns(X, prefix="x"):
    """One leaf per column of a 2-D numeric array X (n, k), labelled x0, x1, ...: what
    `Value(X[:, j], f"x{j}")` makes for every j, built from one copy of X (each leaf's data a
    row of it, shared with no one else)."""
    rows = np.array(X.T, dtype=np.float64, order="C")
    out = []
    for row, g, label in zip(rows, _zeros(rows.shape), _labels(prefix, len(rows))):
        v = _new(Value)
        v.data, v.grad, v.label = row, g, label  # zero gradients: rows of one array, as _nodes
        v._op = v._a = v._b = None
        out.append(v)
    return out


@functools.lru_cache(maxsize=64)
def _labels(prefix, k):
    return tuple(f"{prefix}{j}" for j in range(k))


def _packed(xs):
    """A list of real numbers as a read-only float64 array, packed by struct in C (a third of
    np.fromiter's time); None when an item is no real number (a batch, None, a string), which
    fromiter would turn into nan or parse."""
    try:
        return _frombuffer(struct.pack(f"{len(xs)}d", *xs))
    except (struct.error, TypeError, ValueError, OverflowError):
        return None


def _stack_rows(arrays):
    """np.array(arrays) (a list): for 1-D arrays of one length as one concatenate (numpy's
    array() looks at each item's shape and type in turn: about twice the time)."""
    try:
        if len(set(map(len, arrays))) == 1:
            out = _concatenate(arrays)
            if out.ndim == 1:  # only 1-D arrays concatenate to 1-D
                return out.reshape(len(arrays), -1)
    except (TypeError, ValueError):  # a 0-d array or a number among them: numpy's own way
        pass
    return np.array(arrays)


def _wrap(x):
    """Numbers and arrays met by an operator become constant leaves; anything else is refused."""
    if type(x) is Value:
        return x
    if type(x) is ndarray and x.dtype == _f64 and x.ndim == 1 and x.size:  # Value(x)'s checks
        v = _new(Value)
        v.data = x.copy()  # never the caller's array
        v.grad = _zeros(x.shape)
        v._op = v._a = v._b = None
        v.label = ""
        return v
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
        self.grad = _zeros(self.data.shape) if type(self.data) is ndarray else 0.0
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

    # -- more functions; the Value as a Python number -------------------------------
    def sin(self):
        """sin(x); sin of +-inf has no value and raises (as log(0) does); nan passes through."""
        return _unary(ops.SIN, self)

    def cos(self):
        """cos(x); cos of +-inf raises, as sin."""
        return _unary(ops.COS, self)

    def square(self):
        """x * x as one node, as torch.square."""
        return _unary(ops.SQUARE, self)

    def erf(self):
        """The error function, as torch.erf (the exact GELU is built on it)."""
        return _unary(ops.ERF, self)

    def gelu(self):
        """GELU, the exact form of torch.nn.GELU(): x * Phi(x) = x * 0.5 * (1 + erf(x / sqrt 2)).

            >>> x = Value(1.0)
            >>> y = x.gelu()
            >>> y.backward()
            >>> f"{y:.6f} {x.grad:.6f}"
            '0.841345 1.083315'

        As in PyTorch, 1 + erf cancels for x below about -5: tiny values there carry a relative
        (not an absolute) error; the result is -0.0 from x < -38 on.
        """
        return _unary(ops.GELU, self)

    def elu(self, alpha=1.0):
        """ELU, as torch.nn.ELU(alpha): x for x > 0, alpha * (exp(x) - 1) (by expm1) otherwise.
        The derivative below 0 is alpha * exp(x) from x itself; at x = +inf it is nan here
        (PyTorch: 1), the one point where the mask times inf cannot be avoided."""
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"elu: alpha must be a real number, got {type(alpha).__name__}")
        return _unary(ops.ELU, self, float(alpha))

    def silu(self):
        """SiLU (swish), as torch.nn.SiLU(): x * sigmoid(x), finite at +-1000."""
        return _unary(ops.SILU, self)

    def item(self):
        """The number as a Python float, as PyTorch's `.item()`: outside the graph (no gradient
        flows through it). A batch raises: it holds one number per example, even a batch of one
        (so that code does not work at batch size 1 and break at 2); use `.data`, or reduce first.

            >>> Value(2.5).item()
            2.5
        """
        return _one_number(self, "item()")

    def __float__(self):
        """float(v) is `v.item()`: the number, out of the graph. So `math.exp(v)` gives a float
        and no gradient (math calls float()): use `v.exp()` to stay in the graph."""
        return _one_number(self, "float()")

    def __int__(self):
        """int(v): the number truncated, as int(float), outside the graph."""
        return int(_one_number(self, "int()"))

    def __round__(self, ndigits=None):
        """round(v) and round(v, n) round the number as for a float (outside the graph)."""
        return round(_one_number(self, "round()"), ndigits)

    def __bool__(self):
        """PyTorch's meaning: the truth of the number (Value(0.0) is false). A batch raises, as a
        tensor of several numbers does: whether all or any example should count is ambiguous."""
        x = _one_number(self, "bool()", "the truth value of a batch is ambiguous; use "
                                          "(v.data != 0).any() or .all()")
        if _hooked[0]:  # autograd.compile records a branch on the sign, as `v > 0` would
            _compare(self, 0.0, ">", x > 0.0)
            _compare(self, 0.0, "<", x < 0.0)
        return x != 0.0

    def __format__(self, spec):
        """f"{loss:.4f}" formats the number; a batch formats each number, numpy-style:
        '[0.1235 0.5000]' (long batches are summarised with '...', as numpy prints them).
        An empty spec gives str(v), the repr.

            >>> f"{Value(0.123456):.3f}", f"{Value([1.0, 2.5]):.2f}"
            ('0.123', '[1.00 2.50]')
        """
        if not spec:
            return str(self)
        if type(self.data) is ndarray:
            format(0.0, spec)  # an invalid spec raises format's own ValueError here
            return np.array2string(self.data, separator=" ",
                                   formatter={"float_kind": lambda x: format(float(x), spec)})
        return format(self.data, spec)

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

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        if type(self.data) is ndarray:
            return f"Value(data={_summary(self.data)}, grad={_summary(self.grad)}{label})"
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"


def _compare(value, other, name, result):
    if _hooked[0]:
        hook = _thread.compare_hook
        if hook is not None:
            hook(value, name, other, result)
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
    same = ws is xs  # dot(params, params), losses.l2: each half checked and read once
    ws = list(ws)
    xs = ws if same else list(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot: {len(ws)} weights but {len(xs)} inputs")
    if not ws:
        return Value(0.0)
    if same and set(map(type, ws)) == {Value}:
        both = (*ws, *ws)
        datas = [x.data for x in ws]
        datas += datas
    else:
        both = ws + xs
        both = tuple(both) if set(map(type, both)) == {Value} else \
            tuple(_checked(v, "dot", i) for i, v in enumerate(both))
        datas = [x.data for x in both]
    if ndarray in set(map(type, datas)):
        _lengths_differ(ops.DOT.name, datas)
    return _node(ops.DOT.forward(datas), ops.DOT, both, None)


def dots(weights, inputs):
    """[dot(ws, inputs) for ws in weights]: a layer's weighted sums, each one `dot` node as
    `dot` makes it (same parents, same numbers), with the shared inputs stacked once, so that
    a batch runs as a few array operations per layer instead of one per weight.

        >>> import autograd
        >>> [v.data for v in autograd.dots([[Value(1.0), Value(2.0)], [Value(3.0), 4.0]], [0.5, -1.0])]
        [-1.5, -2.5]
    """
    return _dots(weights, inputs, None)


class _LayerWeights:
    """What `_dots` found out about a layer's weights, kept by the layer (nn.Layer) from call
    to call: their flat list, and that they are distinct Values, all leaves (the set of
    them for backward's plan). The next call compares its flat list with it (one C-level
    identity comparison) instead of checking every weight again in Python. One tuple,
    replaced whole, so that threads sharing a layer never see half of an update; a copy
    or a pickle of the layer starts empty."""

    __slots__ = ("state",)

    def __init__(self):
        self.state = (None, False, None)  # (flat list, all leaves, their frozenset or None)

    def __reduce__(self):
        return _LayerWeights, ()


def _dots(weights, inputs, seen):
    """dots(); `seen` (a _LayerWeights or None) remembers the checks on the weights."""
    rows = [list(ws) for ws in weights]
    xs = tuple(inputs)
    if set(map(type, xs)) != {Value}:
        xs = tuple(_checked(v, "dot", i) for i, v in enumerate(xs))
    n = len(xs)
    for ws in rows:
        if len(ws) != n:
            raise ValueError(f"dot: {len(ws)} weights but {len(xs)} inputs")
    datas = [x.data for x in xs]
    kinds = set(map(type, datas))
    if ndarray in kinds and (kinds != {ndarray} or len(set(map(len, datas))) > 1):
        _lengths_differ(ops.DOT.name, datas)  # (batches alone, of one length: nothing to say)
    batch = ops._batch_of(datas)
    X = None
    if batch and n and len(set(map(id, xs))) == n:
        X = _stack_rows(datas) if kinds == {ndarray} else ops._stack(datas, batch)
    if X is None:  # scalars, or an input used twice: one dot at a time
        return [dot(ws, xs) for ws in rows]
    flat = list(_chain(rows))
    known = seen.state if seen is not None else None
    if known is not None and known[0] == flat:  # the same Values as last time (by identity)
        _, leaf, wset = known
    else:
        if set(map(type, flat)) != {Value}:
            rows = [ws if set(map(type, ws)) == {Value} else [_checked(w, "dot", i) for i, w in enumerate(ws)]
                    for ws in rows]
            flat = list(_chain(rows))
        leaf = {w._op for w in flat} == {None}
        wset = None
        if seen is not None:  # kept for the next calls: worth the set
            wset = frozenset(flat) if leaf else None
            if wset is not None and len(wset) != len(flat):
                wset = None  # a weight in two places: backward's plan goes node by node
            seen.state = (flat, leaf, wset)
    W = _packed([w.data for w in flat])  # floats (or other real numbers: the same products)
    if W is None:  # a weight holds a batch (or is no number): the general path
        return [dot(ws, xs) for ws in rows]
    W = W.reshape(len(rows), n)
    out = layer_kernels.forward(W, X)
    shared = _DotRows(n)
    shared.leaf_ws = leaf
    shared.wset = wset
    nodes = _nodes(out, ops.DOT, [((*ws, *xs), shared) for ws in rows])
    if wset is not None:
        shared.nodes, shared.flat = list(map(id, nodes)), flat  # ids: no cycle node -> rows -> node
    return nodes


def _biased(sums, biases, op=None):
    """[op(s + b) for s, b in zip(sums, biases)] (op None: s + b) for a layer's dot nodes, each
    an `add` node and an `op` node as `+` and the method make them, with the data computed for
    all rows at once; None when it does not apply (a scalar sum, a batched bias)."""
    datas = [s.data for s in sums]
    if not datas or {type(d) for d in datas} != {ndarray} or not all(type(b) is Value for b in biases):
        return None
    bs = [b.data for b in biases]
    if {type(d) for d in bs} != {float} or len({len(d) for d in datas}) != 1:
        return None
    A = _stack_rows(datas)
    A += np.array(bs)[:, None]  # each row s + b, as ADD's forward
    out = _nodes(A, ops.ADD, zip(sums, biases))
    if op is not None:
        out = _nodes(op.forward(A), op, [(a, None) for a in out])
    return out


class _DotRows:
    """Kept in the `_b` slot of the dot nodes that `dots` made together (their `.k` stays None):
    backward() stacks the shared inputs once per sweep (`xt`) and gathers the inputs'
    gradients in one array (`gx`) until something else reads or adds to them."""

    __slots__ = ("n", "leaf_ws", "xt", "gx", "bx", "bi", "si", "pend", "cur", "shared", "late", "pre",
                 "wset", "nodes", "flat")

    def __init__(self, n):
        self.n = n
        self.leaf_ws = False  # every weight a leaf: backward's ordering takes them in bulk
        # From dots, when the weights are distinct leaves: their set (backward's plan takes it
        # whole), the nodes' ids in row order and the weights in that order. Ids, not the nodes:
        # a reference would make a cycle (node -> rows -> node), and every step's graph would
        # wait for the cyclic GC instead of going when its last reference does. An id stays
        # the node's while the node lives, and only these nodes hold this _DotRows.
        self.wset = self.nodes = self.flat = None
        self.xt = self.gx = self.bx = self.bi = self.si = None
        self.pend = self.cur = None  # nodes waiting for backward's _flush; the inputs' earlier grads
        self.shared = None  # whether other nodes add to the weights too (in this sweep)
        self.late = None  # backward's list of weights it did not reset (their earlier grads)
        self.pre = None  # backward's relu gradients computed ahead for the inputs (see _flush)




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


def max_detached(values):
    """The largest of the values (per example over a batch; a NaN wins) as one node whose
    derivative is 0: PyTorch's `x.max(dim).values.detach()`, JAX's `lax.stop_gradient(x.max())`.
    What softmax subtracts so that exp never overflows: a node of the graph, so compiled code
    computes it at every call (a number read from `.data` would be frozen at trace time).

        >>> import autograd
        >>> a, b = Value(1.0), Value(3.0)
        >>> m = autograd.max_detached([a, b])
        >>> (a - m).backward()
        >>> m.data, a.grad, b.grad == 0
        (3.0, 1.0, True)
    """
    xs = tuple(_checked(v, "max_detached", i) for i, v in enumerate(values))
    if not xs:
        raise ValueError("max_detached of no values")
    _lengths_differ(ops.MAX_DETACHED.name, [x.data for x in xs])
    return _node(ops.MAX_DETACHED.forward([x.data for x in xs]), ops.MAX_DETACHED, xs, None)


def _checked(v, where, i):
    w = _wrap(v)
    if w is None:
        raise TypeError(f"{where}: item {i} is a {type(v).__name__}, not a Value or a number")
    return w


def _one_number(v, what, hint="use .data for the numbers, or reduce first: .sum() or .mean()"):
    if type(v.data) is ndarray:
        raise TypeError(f"{what} of a batched Value (batch of {len(v.data)}): {hint}")
    return v.data


def maximum(a, b):
    """The larger of a and b, elementwise, as one node (torch.maximum). The gradient goes to
    the larger input; on a tie each gets half (PyTorch's rule); nan wins.

        >>> import autograd
        >>> a, b = Value(2.0), Value(2.0)
        >>> autograd.maximum(a, b).backward()
        >>> (a.grad, b.grad)
        (0.5, 0.5)
    """
    a, b = _checked(a, "maximum", 0), _checked(b, "maximum", 1)
    return _binary(ops.MAXIMUM, a, b)


def minimum(a, b):
    """The smaller of a and b, elementwise, as one node (torch.minimum); ties as `maximum`.

        >>> import autograd
        >>> autograd.minimum(Value(3.0), 1.5).data
        1.5
    """
    a, b = _checked(a, "minimum", 0), _checked(b, "minimum", 1)
    return _binary(ops.MINIMUM, a, b)
