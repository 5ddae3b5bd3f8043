"""numpy code on Values: `lift(array, name)` gives an array of Values that ordinary numpy runs on.

    >>> import numpy as np
    >>> from autograd import lift
    >>> W = lift(np.array([[1.0, -2.0], [0.5, 3.0]]), 'W')
    >>> x = np.array([2.0, 1.0])
    >>> loss = np.sum(np.tanh(x @ W) ** 2)          # the user's numpy code, unchanged
    >>> loss.item().backward()
    >>> W[0, 1].item().label, W.grad.shape
    ('W[0,1]', (2, 2))

Why an ndarray subclass (dtype object, one Value per element) and not a wrapper class:
indexing, fancy indexing (`probs[range(N), y]`), `.T`, reshape, broadcasting of shapes,
iteration and in-place assignment are numpy's own, so everything in a forward pass that only
moves numbers around behaves exactly as on floats. Only the arithmetic is ours, reached through
`__array_ufunc__` (operators, `np.exp`, `np.tanh`, ...) and `__array_function__` (`np.sum`,
`np.mean`, `np.max`, `np.dot`, ...). A wrapper would have to re-implement numpy's indexing rules.

The numbers: each operation computes its result with numpy on the float data, the same call the
user's code makes on floats, so a lifted forward pass gives the float loss bit for bit (numpy's
pairwise sums and BLAS products included; the tests pin it). The graph records, per element, an
operation of autograd's table (`@` makes one `dot` node per output element, a reduction one `sum`
node per output element), and their derivatives are exact whatever order numpy summed in.
A function that has no derivative (`np.argmax`) or no entry in the table (`np.sin`) raises a
TypeError naming it; comparisons (`z > 0`) give plain boolean arrays of the data (masks).

(The module is `lifted`, not `lift`: a submodule named like the function `autograd.lift` would
replace it on the package whenever the module is imported again, as pytest's doctests do.)
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops
from .value import Value, _node

_new = object.__new__
_AxisError = getattr(getattr(np, "exceptions", np), "AxisError")  # numpy >= 1.25 moved it


def _const(x):
    """A constant leaf (what an operator makes of a number it meets), without Value()'s checks."""
    v = _new(Value)
    v.data, v.grad, v._op, v._a, v._b, v.label = x, 0.0, None, None, None, ""
    return v


def _objects(items, shape):
    a = np.empty(len(items), dtype=object)
    a[:] = items
    return a.reshape(shape)


def _where(shape, flat_index):
    return list(int(i) for i in np.unravel_index(flat_index, shape)) if shape else "()"


class ValueArray(np.ndarray):
    """An array of scalar Values (dtype object) on which numpy code runs: see the module docstring.

    `.data` and `.grad` are float arrays of the elements' data and gradients. Indexing one
    element gives a 0-d ValueArray (so that it mixes with arrays); `.item()` gives the Value.
    """

    # float_array.dot(lifted) runs numpy's own object loop (ndarray.dot has no hook): Python's
    # * and + on the elements, so 2n nodes instead of one dot node; exact gradients all the same.
    # The priority makes its result a ValueArray, so that everything after it is ours again.
    __array_priority__ = 100

    def __getitem__(self, index):
        r = super().__getitem__(index)
        if type(r) is Value:
            return _objects([r], ()).view(ValueArray)
        return r

    @property
    def data(self):
        """The elements' numbers, as a float64 array of the same shape."""
        return _unpack(self)[1]

    @property
    def grad(self):
        """The elements' gradients, as a float64 array of the same shape."""
        items = self.view(np.ndarray).ravel().tolist()
        return np.array([v.grad if type(v) is Value else 0.0 for v in items],
                        dtype=np.float64).reshape(self.shape)

    def __repr__(self):
        return f"ValueArray({np.array2string(self.data, separator=', ')})"

    __str__ = __repr__

    def __format__(self, spec):
        return format(self.data.item(), spec) if self.ndim == 0 else format(str(self), spec)

    def __float__(self):
        raise TypeError("float() of a lifted array would drop its gradient; keep it an array "
                        "(use .data for the numbers)")

    def astype(self, dtype, *args, **kwargs):
        if np.dtype(dtype) == object:
            return self.copy()
        raise TypeError(f"astype({np.dtype(dtype)}) of a lifted array would drop its gradient; "
                        f"use .data for the numbers")

    # the methods numpy would run with Python's + and * on the elements: ours instead
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _sum(self, axis, dtype, out, keepdims, **kw)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return _mean(self, axis, dtype, out, keepdims, **kw)

    def max(self, axis=None, out=None, keepdims=False, **kw):
        return _max(self, axis, out, keepdims, **kw)

    def min(self, axis=None, out=None, keepdims=False, **kw):
        return _min(self, axis, out, keepdims, **kw)

    def dot(self, b, out=None):
        return _dot(self, b, out)

    def clip(self, min=None, max=None, out=None, **kw):
        return _clip(self, min, max, out, **kw)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        name = ufunc.__name__
        if method == "reduce" and name in _REDUCE_UFUNCS:
            if out is not None:
                raise TypeError(f"np.{name}.reduce(..., out=) is not supported on lifted arrays")
            return _REDUCE_UFUNCS[name](*inputs, **kwargs)
        if method != "__call__":
            raise TypeError(f"np.{name}.{method} is not supported on lifted arrays of Values")
        extra = {k: v for k, v in kwargs.items() if not (k == "casting" or (k == "where" and v is True))}
        if extra:
            raise TypeError(f"np.{name}(..., {', '.join(extra)}=) is not supported on lifted arrays")
        if name in _MASKS:
            return ufunc(*[_unpack(x)[1] if _is_lifted(x) else x for x in inputs])
        rule = _UFUNCS.get(name)
        if rule is None:
            raise TypeError(_unsupported(name))
        return _into(out, rule(*inputs))

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if func in _FUNCTIONS:
            return _FUNCTIONS[func](*args, **kwargs)
        if func in _SHAPE_FUNCTIONS:
            return _relift(super().__array_function__(func, types, args, kwargs))
        raise TypeError(_unsupported(name))


def _refuse(name):
    def method(self, *args, **kwargs):
        raise TypeError(_unsupported(name))
    method.__name__ = name
    return method


# ndarray methods that would run Python arithmetic on the elements, or have no derivative
for _name in ("argmax", "argmin", "argsort", "sort", "nonzero", "round", "cumsum", "cumprod", "prod",
              "std", "var", "ptp", "trace", "searchsorted", "partition", "argpartition"):
    setattr(ValueArray, _name, _refuse(_name))


def lift(array, name):
    """An array of Values labelled like `name[0,3]`, one per element, on which numpy code runs.

    `array` is a numeric numpy array (or anything np.asarray turns into one); its numbers are
    copied. Supported: `@` and `np.dot`/`np.matmul` (one `dot` node per output element),
    broadcasting `+ - * / **`, `-x`, `abs`, `np.exp`, `np.log`, `np.sqrt`, `np.tanh`,
    `np.square`, `np.maximum(c, z)`/`np.minimum` (relu for c = 0, else clamp: derivative 1
    where z is past c, 0 elsewhere, and 0 at z == 0 for relu), `np.clip`, `np.where`,
    `np.sum`/`np.mean`/`np.max`/`np.min` with `axis` and `keepdims`, indexing, fancy indexing,
    `.T` and numpy's other shape functions; comparisons give boolean masks of the data.

        >>> import numpy as np
        >>> b = lift(np.zeros((1, 2)), 'b1')
        >>> [v.label for v in b.view(np.ndarray).ravel()]
        ['b1[0,0]', 'b1[0,1]']
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"lift: name must be a non-empty str, got {name!r}")
    if isinstance(array, ValueArray):
        raise TypeError(f"lift({name!r}): the array is lifted already")
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"lift({name!r}): needs a numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    items = []
    for idx, x in zip(np.ndindex(a.shape), a.ravel().tolist()):
        v = _const(x)
        v.label = f"{name}[{','.join(map(str, idx))}]" if idx else name
        items.append(v)
    return _objects(items, a.shape).view(ValueArray)


# -- operands ------------------------------------------------------------------------------
def _is_lifted(x):
    return isinstance(x, ValueArray) or (isinstance(x, np.ndarray) and x.dtype == object)


def _unpack(x):
    """(object array of Values, float64 data array) of an operand; numbers become constants."""
    if type(x) is Value:
        x = _objects([x], ())
    if isinstance(x, np.ndarray) and x.dtype == object:
        items = x.view(np.ndarray).ravel().tolist()
        data = []
        for i, v in enumerate(items):
            if type(v) is not Value:
                if not isinstance(v, numbers.Real):
                    raise TypeError(f"a lifted array holds a {type(v).__name__} at {_where(x.shape, i)}; "
                                    f"it may hold only Values and numbers")
                v = items[i] = _const(float(v))
            d = v.data
            if type(d) is not float:
                raise TypeError(f"a lifted array holds a batched Value at {_where(x.shape, i)}; "
                                f"it may hold only scalar Values")
            data.append(d)
        return _objects(items, x.shape), np.array(data, dtype=np.float64).reshape(x.shape)
    d = _constant_data(x)
    return None, d


def _constant_data(x):
    if isinstance(x, (bool, numbers.Real)) or isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return np.asarray(x, dtype=np.float64)
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"cannot combine a lifted array with a {type(x).__name__}")


def _values(objs, d):
    """The Values of an operand: constants made for a plain float operand (once per element)."""
    if objs is not None:
        return objs
    return _objects([_const(x) for x in d.ravel().tolist()], d.shape)


def _result(items, shape):
    return _objects(items, shape).view(ValueArray)


def _into(out, result):
    """Write `result` into `out` (an in-place operator such as `loss += ...`)."""
    if out is None:
        return result
    target = out[0] if isinstance(out, tuple) else out
    if not isinstance(target, ValueArray):
        raise TypeError("an in-place operation writes Values into a plain numpy array "
                        f"({getattr(target, 'dtype', type(target).__name__)}): that would drop the "
                        "gradient; write `x = x + ...` instead of `x += ...`")
    target.view(np.ndarray)[...] = result.view(np.ndarray)
    return target


def _relift(r):
    if isinstance(r, np.ndarray) and r.dtype == object:
        return r.view(ValueArray)
    if isinstance(r, (list, tuple)):
        return type(r)(_relift(x) for x in r)
    return r


def _index_error(exc, name, shape, bad, value):
    i = int(np.flatnonzero(bad.ravel())[0])
    raise exc(f"np.{name}: {value(i)} at index {_where(shape, i)}")


# -- elementwise operations ------------------------------------------------------------------
def _binary(op, numpy_fn, a, b, check=None):
    A, ad = _unpack(a)
    B, bd = _unpack(b)
    with np.errstate(all="ignore"):
        d = numpy_fn(ad, bd)
    if check is not None:
        check(ad, bd, d)
    A, B = np.broadcast_arrays(_values(A, ad), _values(B, bd))
    items = [_node(x, op, p, q) for x, p, q in
             zip(d.ravel().tolist(), A.ravel().tolist(), B.ravel().tolist())]
    return _result(items, d.shape)


def _unary(op, numpy_fn, a, check=None, k=None):
    A, ad = _unpack(a)
    with np.errstate(all="ignore"):
        d = numpy_fn(ad)
    if check is not None:
        check(ad)
    items = [_node(x, op, p, k) for x, p in zip(d.ravel().tolist(), A.ravel().tolist())]
    return _result(items, d.shape)


def _no_zero(ad, bd, d):
    bad = np.broadcast_to(bd == 0, d.shape)
    if bad.any():
        _index_error(ZeroDivisionError, "divide", d.shape, bad, lambda i: "division by zero")


def _domain(name, need, test):
    def check(ad):
        bad = ~test(ad)
        if bad.any():
            _index_error(ValueError, name, ad.shape, bad,
                         lambda i: f"input must be {need}, got {float(ad.ravel()[i])!r}")
    return check


def _power(a, b):
    A, ad = _unpack(a)
    B, bd = _unpack(b)
    with np.errstate(all="ignore"):
        d = np.power(ad, bd)
    base, exponent = np.broadcast_arrays(ad, bd)
    bad = (base < 0) & (exponent != np.floor(exponent)) | (base == 0) & (exponent < 0)
    if bad.any():
        _index_error(ValueError, "power", d.shape, bad, lambda i: f"{float(base.ravel()[i])!r} ** "
                     f"{float(exponent.ravel()[i])!r} has no real value")
    A = np.broadcast_to(_values(A, ad), d.shape).ravel().tolist()
    xs = d.ravel().tolist()
    if B is None:  # a number exponent: pow, as `x ** 3` on a Value
        ks = np.broadcast_to(bd, d.shape).ravel().tolist()
        items = [_node(x, ops.POW, p, k) for x, p, k in zip(xs, A, ks)]
    else:
        B = np.broadcast_to(B, d.shape).ravel().tolist()
        items = [_node(x, ops.POWV, p, q) for x, p, q in zip(xs, A, B)]
    return _result(items, d.shape)


def _extremum(name, numpy_fn, a, b):
    """np.maximum/np.minimum: relu or clamp against a constant, the larger Value between two."""
    A, ad = _unpack(a)
    B, bd = _unpack(b)
    with np.errstate(all="ignore"):
        d = numpy_fn(ad, bd)
    shape = d.shape
    xs = d.ravel().tolist()
    if A is not None and B is not None:  # pick what numpy picked (the first on ties and NaN)
        first = (d == ad) | np.isnan(np.broadcast_to(ad, shape))
        pa, pb = np.broadcast_to(A, shape).ravel().tolist(), np.broadcast_to(B, shape).ravel().tolist()
        return _result([p if f else q for p, q, f in zip(pa, pb, first.ravel().tolist())], shape)
    vals, cs = (A, bd) if B is None else (B, ad)
    vals = np.broadcast_to(vals, shape).ravel().tolist()
    cs = np.broadcast_to(cs, shape).ravel().tolist()
    items = []
    for x, v, c in zip(xs, vals, cs):
        if c == 0 and name == "maximum":
            items.append(_node(x, ops.RELU, v, None))
        else:
            items.append(_node(x, ops.CLAMP, v, (c, np.inf) if name == "maximum" else (-np.inf, c)))
    return _result(items, shape)


_UFUNCS = {
    "add": lambda a, b: _binary(ops.ADD, np.add, a, b),
    "subtract": lambda a, b: _binary(ops.SUB, np.subtract, a, b),
    "multiply": lambda a, b: _binary(ops.MUL, np.multiply, a, b),
    "divide": lambda a, b: _binary(ops.DIV, np.divide, a, b, _no_zero),
    "true_divide": lambda a, b: _binary(ops.DIV, np.divide, a, b, _no_zero),  # its name in numpy 1.x
    "reciprocal": lambda a: _binary(ops.DIV, np.divide, 1.0, a, _no_zero),
    "negative": lambda a: _unary(ops.NEG, np.negative, a),
    "positive": lambda a: _relift(_values(*_unpack(a))),
    "absolute": lambda a: _unary(ops.ABS, np.absolute, a),
    "square": lambda a: _square(a),
    "power": _power,
    "float_power": _power,
    "exp": lambda a: _unary(ops.EXP, np.exp, a),
    "log": lambda a: _unary(ops.LOG, np.log, a, _domain("log", "> 0", lambda d: d > 0)),
    "sqrt": lambda a: _unary(ops.SQRT, np.sqrt, a, _domain("sqrt", ">= 0", lambda d: d >= 0)),
    "tanh": lambda a: _unary(ops.TANH, np.tanh, a),
    "expit": lambda a: _unary(ops.SIGMOID, _expit, a),  # scipy.special.expit
    "maximum": lambda a, b: _extremum("maximum", np.maximum, a, b),
    "minimum": lambda a, b: _extremum("minimum", np.minimum, a, b),
    "matmul": lambda a, b: _matmul(a, b),
}
_MASKS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "isnan",
          "isfinite", "isinf", "logical_not", "signbit"}


def _expit(d):
    from scipy.special import expit
    return expit(d)


def _square(a):
    # x * x: numpy's square is that product, so the data and the mul rule's 2x are exact
    A, ad = _unpack(a)
    d = np.square(ad)
    A = _values(A, ad).ravel().tolist()
    return _result([_node(x, ops.MUL, p, p) for x, p in zip(d.ravel().tolist(), A)], d.shape)


# -- products --------------------------------------------------------------------------------
def _is_parameter(items):
    return all(type(v) is Value and v._op is None and v.label for v in items)


def _matmul(a, b):
    A, ad = _unpack(a)
    B, bd = _unpack(b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError("matmul: an operand is a scalar; use * for that")
    if ad.ndim > 2 or bd.ndim > 2:
        raise TypeError(f"@ of lifted arrays of shapes {ad.shape} and {bd.shape}: only 1-D and 2-D "
                        f"operands are supported (loop over the leading axes)")
    d = np.matmul(ad, bd)  # raises numpy's own error for shapes that do not fit
    A2, B2 = _values(A, ad), _values(B, bd)
    A2 = A2 if A2.ndim == 2 else A2[None, :]
    B2 = B2 if B2.ndim == 2 else B2[:, None]
    rows = [tuple(r) for r in A2.tolist()]
    cols = [tuple(c) for c in B2.T.tolist()]
    # the weights go first in a dot node (a neuron's view in drawings): the parameter side
    right = B is not None and _is_parameter(B.ravel().tolist()) and not (
        A is not None and _is_parameter(A.ravel().tolist()))
    d2 = d.reshape(len(rows), len(cols)).tolist()
    DOT, items = ops.DOT, []
    for r, drow in zip(rows, d2):
        if not r:
            items.extend(_const(x) for x in drow)
        elif right:
            items.extend(_node(x, DOT, c + r, None) for c, x in zip(cols, drow))
        else:
            items.extend(_node(x, DOT, r + c, None) for c, x in zip(cols, drow))
    return _result(items, d.shape)


def _dot(a, b, out=None):
    if out is not None:
        raise TypeError("np.dot(..., out=) is not supported on lifted arrays")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _UFUNCS["multiply"](a, b)
    return _matmul(a, b)


# -- reductions ------------------------------------------------------------------------------
def _axes(axis, ndim, name):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out = []
    for ax in axes:
        if not isinstance(ax, numbers.Integral) or not -ndim <= ax < ndim:
            raise _AxisError(f"np.{name}: axis {ax} is out of bounds for an array of dimension {ndim}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"np.{name}: repeated axis in {axis}")
    return tuple(out)


def _check_kw(name, dtype, out, kw):
    bad = [k for k, v in kw.items() if not (k == "where" and v is True or k == "initial" and v is np._NoValue)]
    if out is not None:
        bad.append("out")
    if dtype is not None and np.dtype(dtype) not in (np.dtype(np.float64), np.dtype(object)):
        bad.append("dtype")
    if bad:
        raise TypeError(f"np.{name}(..., {', '.join(bad)}=) is not supported on lifted arrays")


def _groups(a, axis, keepdims, name):
    """The Values reduced into each output element: (rows of Values, rows of data, output shape)."""
    A, ad = _unpack(a)
    A = _values(A, ad)
    axes = _axes(axis, ad.ndim, name)
    kept = [ax for ax in range(ad.ndim) if ax not in axes]
    order = kept + list(axes)
    shape = tuple(ad.shape[ax] for ax in kept)
    n = int(np.prod([ad.shape[ax] for ax in axes], dtype=np.int64))
    rows = A.transpose(order).reshape(-1, n).tolist() if A.size else [[] for _ in range(int(np.prod(shape)))]
    out_shape = tuple(1 if ax in axes else s for ax, s in enumerate(ad.shape)) if keepdims else shape
    return rows, ad, axes, out_shape


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _check_kw("sum", dtype, out, kw)
    rows, ad, axes, shape = _groups(a, axis, keepdims, "sum")
    d = np.sum(ad, axis=axes, keepdims=keepdims).ravel().tolist()
    SUM = ops.SUM
    items = [(r[0] if len(r) == 1 else _node(x, SUM, tuple(r), None)) if r else _const(x)
             for x, r in zip(d, rows)]
    return _result(items, shape)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _check_kw("mean", dtype, out, kw)
    rows, ad, axes, shape = _groups(a, axis, keepdims, "mean")
    if not rows or not rows[0]:
        raise ValueError("np.mean of an empty lifted array")
    sums = np.sum(ad, axis=axes, keepdims=keepdims).ravel().tolist()
    means = np.mean(ad, axis=axes, keepdims=keepdims).ravel().tolist()
    n = _const(float(len(rows[0])))
    SUM, DIV = ops.SUM, ops.DIV
    items = [_node(m, DIV, r[0] if len(r) == 1 else _node(s, SUM, tuple(r), None), n)
             for s, m, r in zip(sums, means, rows)]
    return _result(items, shape)


def _extreme(name, arg_fn, a, axis, out, keepdims, kw):
    _check_kw(name, None, out, kw)
    rows, ad, axes, shape = _groups(a, axis, keepdims, name)
    if not rows or not rows[0]:
        raise ValueError(f"np.{name} of an empty lifted array (zero-size: no identity)")
    kept = [ax for ax in range(ad.ndim) if ax not in axes]
    data_rows = ad.transpose(kept + list(axes)).reshape(len(rows), -1)
    picks = arg_fn(data_rows, axis=1).tolist()  # the element numpy's max is (first on ties, NaN wins)
    return _result([r[i] for r, i in zip(rows, picks)], shape)


def _max(a, axis=None, out=None, keepdims=False, **kw):
    return _extreme("max", np.argmax, a, axis, out, keepdims, kw)


def _min(a, axis=None, out=None, keepdims=False, **kw):
    return _extreme("min", np.argmin, a, axis, out, keepdims, kw)


def _clip(a, a_min=None, a_max=None, out=None, **kw):
    if out is not None or kw:
        raise TypeError(f"np.clip(..., {', '.join(list(kw) + (['out'] if out is not None else []))}=) "
                        f"is not supported on lifted arrays")
    if _is_lifted(a_min) or _is_lifted(a_max) or np.ndim(a_min) or np.ndim(a_max):
        raise TypeError("np.clip on a lifted array needs number bounds (or None)")
    lo = -np.inf if a_min is None else float(a_min)
    hi = np.inf if a_max is None else float(a_max)
    return _unary(ops.CLAMP, lambda d: np.clip(d, lo, hi), a, k=(lo, hi))


def _where_fn(condition, x=None, y=None):
    if x is None or y is None:
        raise TypeError("np.where(condition) on a lifted array gives indices, which have no "
                        "derivative; call it on the numbers: np.where(z.data > 0)")
    if _is_lifted(condition):
        raise TypeError("np.where: the condition is a lifted array; use a comparison such as z > 0")
    X, xd = _unpack(x)
    Y, yd = _unpack(y)
    return np.where(np.asarray(condition, dtype=bool), _values(X, xd), _values(Y, yd)).view(ValueArray)


def _outer(a, b, out=None):
    if out is not None:
        raise TypeError("np.outer(..., out=) is not supported on lifted arrays")
    return _UFUNCS["multiply"](np.ravel(a)[:, None], np.ravel(b)[None, :])


def _zeros_like(a, dtype=None, *args, **kwargs):
    return np.zeros(np.shape(a), dtype=np.float64 if dtype is None else dtype)


def _ones_like(a, dtype=None, *args, **kwargs):
    return np.ones(np.shape(a), dtype=np.float64 if dtype is None else dtype)


_REDUCE_UFUNCS = {"add": _sum, "maximum": _max, "minimum": _min}

_FUNCTIONS = {
    np.sum: _sum, np.mean: _mean, np.max: _max, np.min: _min, np.dot: _dot, np.clip: _clip,
    np.where: _where_fn, np.outer: _outer, np.zeros_like: _zeros_like, np.ones_like: _ones_like,
}
for _alias in ("amax", "amin"):
    if hasattr(np, _alias):
        _FUNCTIONS[getattr(np, _alias)] = _max if _alias == "amax" else _min

# numpy functions that only move elements around: numpy's own code runs on the Values
_SHAPE_FUNCTIONS = {getattr(np, n) for n in (
    "transpose", "reshape", "ravel", "squeeze", "expand_dims", "swapaxes", "moveaxis",
    "concatenate", "stack", "vstack", "hstack", "column_stack", "atleast_1d", "atleast_2d",
    "atleast_3d", "broadcast_to", "broadcast_arrays", "copy", "flip", "fliplr", "flipud", "roll",
    "tile", "repeat", "take", "split", "array_split", "hsplit", "vsplit", "shape", "ndim", "size",
    "diagonal", "append", "delete", "insert", "take_along_axis", "rot90", "result_type",
) if hasattr(np, n)}

_NO_DERIVATIVE = {
    "argmax": "an index", "argmin": "an index", "argsort": "indices", "argwhere": "indices",
    "nonzero": "indices", "flatnonzero": "indices", "searchsorted": "indices", "digitize": "indices",
    "unique": "a set of values", "count_nonzero": "a count", "round": "rounded numbers (a step function)",
    "around": "rounded numbers (a step function)", "rint": "rounded numbers (a step function)",
    "floor": "a step function", "ceil": "a step function", "trunc": "a step function",
    "sign": "a step function", "sort": "a reordering (not supported)", "partition": "a reordering (not supported)",
    "argpartition": "indices", "isclose": "booleans", "allclose": "a boolean", "array_equal": "a boolean",
}
_HINTS = {
    "log1p": "write np.log(1 + x)", "expm1": "write np.exp(x) - 1",
    "var": "write np.mean((x - np.mean(x)) ** 2)", "std": "write np.sqrt(np.mean((x - np.mean(x)) ** 2))",
    "norm": "write np.sqrt(np.sum(np.square(x)))", "linalg.norm": "write np.sqrt(np.sum(np.square(x)))",
    "prod": "multiply the factors with *", "cumsum": "sum slices with np.sum",
    "einsum": "write it with @, * and np.sum", "tensordot": "write it with @ and reshape",
}


def _unsupported(name):
    if name in _NO_DERIVATIVE:
        return (f"np.{name} on a lifted array: its result is {_NO_DERIVATIVE[name]}, which has no "
                f"derivative to follow back to the parameters; it is fine on the numbers: "
                f"np.{name}(x.data)")
    hint = f"; {_HINTS[name]}" if name in _HINTS else ""
    return (f"np.{name} is not supported on lifted arrays of Values: it has no entry in autograd's "
            f"table of operations{hint} (supported: + - * / ** @, np.dot, np.exp, np.log, np.sqrt, "
            f"np.tanh, np.square, np.abs, np.maximum, np.minimum, np.clip, np.where, np.sum, np.mean, "
            f"np.max, np.min, comparisons, indexing and shape functions)")


__all__ = ["lift", "ValueArray"]
