"""The one table of operations: each one's forward rule beside its local derivative.

An entry is ``defop(name, arity, forward, backward)``:

- ``forward(*inputs)`` computes the output's data from the inputs' data. Data is a
  Python float or a 1-D float64 numpy array (one number per example), so every
  forward rule is written to work on both.
- ``backward(g, out, *inputs)`` returns the gradient for each parent, given ``g``, the
  gradient arriving at the output. It is written with arithmetic and the helpers
  below only, so the *same* rule runs on floats, on numpy arrays, and on Values;
  on Values it builds a graph, which is what ``backward(create_graph=True)`` uses.

``c`` is the forward rule in C, for `autograd.compile`: a template over ``{a}``, ``{b}``,
``{k}`` (``{k0}``, ``{k1}`` for a pair), or for n-ary operations a fold: inputs come in
``group`` blocks (dot: weights, then inputs), ``step`` adds element ``{x0}`` (``{x1}``...) to
``{acc}`` from ``init``; an optional ``pre`` fold runs first (logsumexp's max). The C derivative is not written again: code generation
runs the Python backward rule on symbols (see ``compiler/symbolic.py``), so a rule may use
arithmetic and the helpers in ``HELPERS`` only.

``arity`` is 1, 2 or ``'n'``. An operation with a constant argument (the exponent of
``x ** 3``, the slope of ``leaky_relu``) gets it after its Value inputs as ``k``.
n-ary operations receive their inputs as one tuple and return one gradient per item.

Adding an operation is one ``defop`` call here plus (if it is a method) one line in
``value.py``. Example::

    >>> from autograd import Value
    >>> x = Value(0.5)
    >>> y = x.tanh()
    >>> y.backward()
    >>> round(x.grad, 6)   # 1 - tanh(0.5)**2
    0.786448
"""
from __future__ import annotations

import math

import numpy as np

ndarray = np.ndarray


class Op:
    """One operation: its name, how many inputs, its forward and backward rules."""

    __slots__ = ("name", "arity", "forward", "backward", "has_k", "c")

    def __init__(self, name, arity, forward, backward, has_k, c):
        self.name, self.arity, self.has_k = name, arity, has_k
        self.forward, self.backward, self.c = forward, backward, c

    def __repr__(self):
        return f"<op {self.name}>"


OPS: dict[str, Op] = {}


def defop(name, arity, forward, backward, *, has_k=False, c=None):
    op = Op(name, arity, forward, backward, has_k, c)
    OPS[name] = op
    return op


# ---------------------------------------------------------------------------
# Helpers the rules are written with. Each works on floats and numpy arrays; the
# differentiable ones (exp, log) also on Values. `mask`-like helpers return plain data:
# a step function has derivative 0 almost everywhere, so it needs no graph.
# Code generation runs the rules on symbols (compiler/symbolic.py): a helper given a
# `Symbolic` hands over to the symbol's own twin, so nothing is ever swapped process-wide
# and an eager thread beside a compile keeps its numbers. Floats and arrays are tested
# first: the eager paths pay nothing for it.

class Symbolic:
    """Base of the compiler's symbols: `twin(name, *args)` is the helper `name` on symbols."""

    __slots__ = ()

    def twin(self, name, *args):  # pragma: no cover - compiler/symbolic.py defines it
        raise NotImplementedError


def _is_value(x):
    return hasattr(x, "_op")


def _symbolic(*args):
    """The first symbol among args, if any (the rules' arguments may be mixed)."""
    for a in args:
        if isinstance(a, Symbolic):
            return a
    return None


def data(x):
    """The raw number(s) of a Value, or x itself (a symbol stands for its own data)."""
    if type(x) is ndarray or type(x) is float:  # the sweep's usual case, without hasattr's miss
        return x
    return x.data if _is_value(x) else x


def _batch_index(bad):
    """Where the first offending element of a batch is (for error messages)."""
    return int(np.flatnonzero(bad)[0])


def domain_error(op, cond, value, need):
    """Raise ValueError naming the operation, the value and, in a batch, its index."""
    if type(value) is ndarray:
        i = _batch_index(cond)
        raise ValueError(f"{op}: input must be {need}, got {value[i]!r} at batch index {i}")
    raise ValueError(f"{op}: input must be {need}, got {value!r}")


def exp(x):
    if type(x) is ndarray:
        if x.size and x.max() < 709.0:  # nothing overflows (nan fails the test): errstate,
            return np.exp(x)            # several times the cost of this check, is not needed
        with np.errstate(over="ignore"):  # exp(1000) is inf, as in numpy and PyTorch
            return np.exp(x)
    if _is_value(x):
        return x.exp()
    if isinstance(x, Symbolic):
        return x.twin("exp", x)
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log(x):
    if type(x) is ndarray:
        bad = x <= 0
        if bad.any():
            domain_error("log", bad, x, "> 0")
        return np.log(x)
    if _is_value(x):
        return x.log()
    if isinstance(x, Symbolic):
        return x.twin("log", x)
    if x <= 0:
        domain_error("log", None, x, "> 0")
    return math.log(x)


def sigmoid(x):
    if _is_value(x):
        return x.sigmoid()
    if isinstance(x, Symbolic):
        return x.twin("sigmoid", x)
    return _sigmoid(x)


def power(a, k):
    """a ** k inside derivatives: 0 ** negative is inf there (d sqrt(x)/dx at 0), not an error."""
    if type(a) is ndarray or type(k) is ndarray:
        if not (_is_value(k) or isinstance(k, Symbolic)):
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                return np.power(a, k)
    if _is_value(a) or _is_value(k):  # create_graph: a node, built without the forward's checks
        from .value import _node, _wrap
        if _is_value(k):
            return _node(power(data(a), data(k)), POWV, _wrap(a), k)
        return _node(power(data(a), k), POW, a, float(k))
    s = _symbolic(a, k)
    if s is not None:
        return s.twin("power", a, k)
    if a == 0 and k < 0:
        return math.inf
    try:
        return float(a ** k)
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf


def div(x, y):
    """x / y inside derivatives: dividing by 0 gives +-inf (or nan for 0/0), not an error."""
    if _is_value(x) or _is_value(y):
        from .value import _node, _wrap
        return _node(div(data(x), data(y)), DIV, _wrap(x), _wrap(y))
    if type(y) is ndarray or type(x) is ndarray:
        if not isinstance(x, Symbolic) and not isinstance(y, Symbolic):
            with np.errstate(divide="ignore", invalid="ignore"):
                return x / y
    s = _symbolic(x, y)
    if s is not None:
        return s.twin("div", x, y)
    if y == 0:
        return math.nan if x == 0 or x != x else math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def iszero(x):
    """1.0 where x == 0 else 0.0 (data only)."""
    x = data(x)
    if type(x) is ndarray:
        return (x == 0).astype(np.float64)
    if isinstance(x, Symbolic):
        return x.twin("iszero", x)
    return float(x == 0)


def step(x):
    """1.0 where x > 0 else 0.0 (data only)."""
    x = data(x)
    if type(x) is ndarray:
        return (x > 0).astype(np.float64)
    if isinstance(x, Symbolic):
        return x.twin("step", x)
    return float(x > 0)


def sign(x):
    """-1, 0 or 1 (data only); sign(0) = 0, so |x| has derivative 0 at 0, as in PyTorch."""
    x = data(x)
    if type(x) is ndarray:
        return np.sign(x)
    if isinstance(x, Symbolic):
        return x.twin("sign", x)
    return float((x > 0) - (x < 0))


def choose(cond, a, b):
    """a where cond else b, elementwise (data only)."""
    if type(cond) is ndarray:
        return np.where(cond, a, b)
    s = _symbolic(cond, a, b)
    if s is not None:
        return s.twin("choose", cond, a, b)
    return a if cond else b


def inside(x, bounds):
    """1.0 where lo <= x <= hi else 0.0 (data only): clamp passes gradient only inside."""
    x, (lo, hi) = data(x), bounds
    if type(x) is ndarray:
        return ((x >= lo) & (x <= hi)).astype(np.float64)
    if isinstance(x, Symbolic):
        return x.twin("inside", x, bounds)
    return float(lo <= x <= hi)


def ones_like(x):
    x = data(x)
    if type(x) is ndarray:
        return np.ones_like(x)
    if isinstance(x, Symbolic):
        return x.twin("ones_like", x)
    return 1.0


def log_for_pow(a):
    """log(a) for d(a**b)/db: 0 where a == 0 (the term is multiplied by a**b == 0 there,
    as PyTorch does), nan where a < 0 (no real derivative)."""
    if _is_value(a) and np.all(data(a) > 0):
        return a.log()
    a = data(a)
    if type(a) is ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), np.where(a == 0, 0.0, np.nan))
    if isinstance(a, Symbolic):
        return a.twin("log_for_pow", a)
    return math.log(a) if a > 0 else (0.0 if a == 0 else math.nan)


# ---------------------------------------------------------------------------
# Forward rules that need care (domains, overflow); the simple ones are inline below.

def _div(a, b):
    if type(b) is ndarray:
        bad = b == 0
        if bad.any():
            i = _batch_index(bad)
            raise ZeroDivisionError(f"div: division by zero (denominator is 0 at batch index {i})")
    elif b == 0:
        raise ZeroDivisionError(f"div: division by zero ({data(a)!r} / 0)")
    return a / b


def _pow(a, k):
    """a ** k for real numbers only: a negative base needs an integer exponent."""
    if type(a) is ndarray or type(k) is ndarray:
        a_, k_ = np.broadcast_arrays(a, k)
        neg = (a_ < 0) & np.isfinite(k_) & (k_ != np.floor(k_))
        if neg.any():
            i = _batch_index(neg)
            raise ValueError(f"pow: negative base {a_[i]!r} ** non-integer exponent {k_[i]!r} "
                             f"(at batch index {i}) has no real value")
        zero = (a_ == 0) & (k_ < 0)
        if zero.any():
            i = _batch_index(zero)
            raise ValueError(f"pow: 0 ** negative exponent {k_[i]!r} (at batch index {i}) is undefined")
        with np.errstate(over="ignore"):
            return np.power(a_, k_)
    if a < 0 and math.isfinite(k) and k != math.floor(k):
        raise ValueError(f"pow: negative base {a!r} ** non-integer exponent {k!r} has no real value")
    if a == 0 and k < 0:
        raise ValueError(f"pow: 0 ** negative exponent {k!r} is undefined")
    try:
        return float(a ** k)
    except OverflowError:
        return math.copysign(math.inf, a) if math.isfinite(k) and k == math.floor(k) and k % 2 else math.inf


def _sqrt(a):
    if type(a) is ndarray:
        bad = a < 0
        if bad.any():
            domain_error("sqrt", bad, a, ">= 0")
        return np.sqrt(a)
    if a < 0:
        domain_error("sqrt", None, a, ">= 0")
    return math.sqrt(a)


def _tanh(a):
    return np.tanh(a) if type(a) is ndarray else math.tanh(a)


def _sigmoid(a):
    # Two forms so that exp never overflows: exp(-|a|) <= 1.
    if type(a) is ndarray:
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _softplus(a):
    # log(1 + e^a) = max(a, 0) + log1p(e^-|a|): no overflow at +-1000.
    if type(a) is ndarray:
        return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _relu(a):
    # Written so that relu(nan) is nan, as for a batch (nan > 0 and nan <= 0 are both False).
    return np.maximum(a, 0.0) if type(a) is ndarray else (0.0 if a <= 0 else a)


def _leaky_relu(a, k):
    return np.where(a > 0, a, a * k) if type(a) is ndarray else (a if a > 0 else a * k)


def _clamp(a, k):
    lo, hi = k
    return np.clip(a, lo, hi) if type(a) is ndarray else min(max(a, lo), hi)


def _abs(a):
    return np.abs(a) if type(a) is ndarray else abs(a)


def _sum(xs):
    s = 0.0
    for x in xs:
        s = s + x
    return s


def _sum_rows(p):
    """p[0] + p[1] + ... strictly in that order, elementwise (p C-contiguous, 2-D or more).
    numpy adds row after row when a row has several elements; a single column it would sum
    pairwise, so that one goes through cumsum (sequential by definition)."""
    if p.size == len(p):
        return p.reshape(-1).cumsum()[-1:].reshape(p.shape[1:])
    return np.add.reduce(p, axis=0, initial=-0.0)  # -0.0 + p[0] is p[0], bit for bit


def _stack(items, batch):
    """Floats and length-`batch` arrays as the rows of one (len(items), batch) array, or None
    when anything else is among them (Values under create_graph, symbols)."""
    kinds = set(map(type, items))
    if not kinds <= {float, ndarray}:
        return None
    if float not in kinds:
        return np.array(items)
    out = np.empty((len(items), batch))
    for i, x in enumerate(items):
        out[i] = x
    return out


def _batch_of(items):
    """The batch length when some item is an array (0 when all are scalars)."""
    for x in items:
        if type(x) is ndarray:
            return len(x)
    return 0


def _dot(xs):
    # xs holds ws then the inputs. Summed left to right, as a hand-written loop would:
    # 0.0 + w0*x0 + w1*x1 + ...; over a batch, every product at once, then the same sum.
    n = len(xs) // 2
    if n > 16 and set(map(type, xs)) == {float}:  # losses.l2's dot: the loop's sum by cumsum
        a = np.array(xs)
        p = np.empty(n + 1)
        p[0] = 0.0
        np.multiply(a[:n], a[n:], out=p[1:])
        return float(p.cumsum()[-1])
    batch = _batch_of(xs) if n > 2 else 0
    a = _stack(xs, batch) if batch else None
    if a is None:
        s = 0.0
        for i in range(n):
            s = s + xs[i] * xs[n + i]
        return s
    p = a[:n] * a[n:]
    p[0] += 0.0  # the loop's first step, 0.0 + p0: turns -0.0 into +0.0
    return _sum_rows(p)


def _logsumexp(xs):
    # The max comes out first so that exp never overflows; where the max is infinite
    # (all -inf, or a +inf) the answer is that max, as in PyTorch.
    m = xs[0]
    for x in xs[1:]:
        m = np.maximum(m, x) if type(m) is ndarray or type(x) is ndarray else max(m, x)
    if type(m) is ndarray:
        inf = ~np.isfinite(m)
        shift = np.where(inf, 0.0, m)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            s = 0.0
            for x in xs:  # x - shift is a batch: numpy's exp, under this errstate (exp's own)
                s = s + np.exp(x - shift)
            return np.where(inf, m, shift + np.log(s))
    if not math.isfinite(m):
        return m
    s = 0.0
    for x in xs:
        s = s + exp(x - m)
    return m + log(s)


def _dot_grad(g, out, xs):
    n = len(xs) // 2
    if type(g) is ndarray and n > 2:
        a = _stack(xs, len(g))
        if a is not None:  # every product at once; rows of one array, the same numbers
            p = a * g
            return list(p[n:]) + list(p[:n])
    return [g * x for x in xs[n:]] + [g * w for w in xs[:n]]


def _batch_sum(a):
    # Left to right (cumsum), not numpy's pairwise sum: the very numbers of a loop over examples.
    return float(a.cumsum()[-1]) if type(a) is ndarray else a


def _batch_mean(a):
    # sum * (1/n), as `sum(losses) * (1.0 / len(losses))` over per-example graphs.
    return _batch_sum(a) * (1.0 / len(a)) if type(a) is ndarray else a


def _batch_len(a):
    a = data(a)
    if type(a) is ndarray:
        return len(a)
    if isinstance(a, Symbolic):  # a symbol knows the batch it stands for
        return a.twin("_batch_len", a)
    return 1


# ---------------------------------------------------------------------------
#     name          arity forward       backward: (g, out, *inputs) -> one gradient per input
ADD = defop("add", 2, lambda a, b: a + b, lambda g, out, a, b: (g, g), c="{a} + {b}")
SUB = defop("sub", 2, lambda a, b: a - b, lambda g, out, a, b: (g, -g), c="{a} - {b}")
MUL = defop("mul", 2, lambda a, b: a * b, lambda g, out, a, b: (g * b, g * a), c="{a} * {b}")
DIV = defop("div", 2, _div,               lambda g, out, a, b: (g / b, -g * out / b), c="{a} / {b}")
NEG = defop("neg", 1, lambda a: -a,       lambda g, out, a: (-g,), c="-{a}")
POW = defop("pow", 1, _pow,               lambda g, out, a, k: (g * k * power(a, k - 1) if k != 0 else g * 0.0,), has_k=True,
            c="pow({a}, {k})")
POWV = defop("powv", 2, _pow,             lambda g, out, a, b: (g * b * power(a, b - 1 + iszero(a) * iszero(b)), g * out * log_for_pow(a)),
             c="pow({a}, {b})")
ABS = defop("abs", 1, _abs,               lambda g, out, a: (g * sign(a),), c="fabs({a})")
EXP = defop("exp", 1, exp,                lambda g, out, a: (g * out,), c="exp({a})")
LOG = defop("log", 1, log,                lambda g, out, a: (g / a,), c="log({a})")
SQRT = defop("sqrt", 1, _sqrt,            lambda g, out, a: (div(g * 0.5, out),), c="sqrt({a})")
TANH = defop("tanh", 1, _tanh,            lambda g, out, a: (g * (1 - out * out),), c="tanh({a})")
SIGMOID = defop("sigmoid", 1, _sigmoid,   lambda g, out, a: (g * out * (1 - out),), c="vg_sigmoid({a})")
RELU = defop("relu", 1, _relu,            lambda g, out, a: (g * step(a),), c="({a} <= 0 ? 0.0 : {a})")
LEAKY_RELU = defop("leaky_relu", 1, _leaky_relu, lambda g, out, a, k: (g * choose(data(a) > 0, 1.0, k),),
                   has_k=True, c="({a} > 0 ? {a} : {a} * {k})")
SOFTPLUS = defop("softplus", 1, _softplus, lambda g, out, a: (g * sigmoid(a),), c="vg_softplus({a})")
CLAMP = defop("clamp", 1, _clamp,         lambda g, out, a, k: (g * inside(a, k),), has_k=True,
              c="fmin(fmax({a}, {k0}), {k1})")
SUM = defop("sum", "n", _sum,             lambda g, out, xs: [g] * len(xs), c={"group": 1, "init": "0.0", "step": "{acc} + {x0}"})
DOT = defop("dot", "n", _dot,             _dot_grad,
            c={"group": 2, "init": "0.0", "step": "{acc} + {x0} * {x1}"})
LOGSUMEXP = defop("logsumexp", "n", _logsumexp, lambda g, out, xs: [g * exp(x - out) for x in xs],
                  c={"group": 1, "pre": ("-INFINITY", "fmax({acc}, {x0})"), "init": "0.0",
                     "step": "{acc} + exp({x0} - {pre})", "final": "{pre} + log({acc})"})
# Reductions over the batch: the C backend writes them as loops.
BATCH_SUM = defop("batch_sum", 1, _batch_sum, lambda g, out, a: (g * ones_like(a),), c="BATCH_SUM")
BATCH_MEAN = defop("batch_mean", 1, _batch_mean,
                   lambda g, out, a: (g * ones_like(a) * (1.0 / _batch_len(a)),), c="BATCH_MEAN")

# What backward rules may call besides arithmetic; each hands symbols to their twins (compiler/symbolic.py).
HELPERS = ("data", "exp", "log", "sigmoid", "power", "div", "step", "sign", "choose", "inside", "iszero",
           "ones_like", "log_for_pow", "_batch_len")

# ---------------------------------------------------------------------------
# sin, cos, square, erf, GELU, ELU, SiLU, maximum, minimum. Their helpers sin, cos and erf
# are differentiable like exp and log (on Values they build nodes), so that second
# derivatives through these rules work; on symbols they hand over to C's sin, cos, erf.

SQRT1_2 = 0.7071067811865476       # M_SQRT1_2
TWO_SQRTPI = 1.1283791670955126    # M_2_SQRTPI = 2 / sqrt(pi): erf' = TWO_SQRTPI * exp(-x^2)
INV_SQRT_2PI = TWO_SQRTPI * SQRT1_2 * 0.5  # the normal density's factor, as PyTorch's GELU has it


def sin(x):
    if _is_value(x):
        return x.sin()
    if isinstance(x, Symbolic):
        return x.twin("sin", x)
    return np.sin(x) if type(x) is ndarray else math.sin(x)


def cos(x):
    if _is_value(x):
        return x.cos()
    if isinstance(x, Symbolic):
        return x.twin("cos", x)
    return np.cos(x) if type(x) is ndarray else math.cos(x)


def _erf(a):
    # numpy has no erf: libm's, one element at a time (the very numbers of the scalar path
    # and of C; ~10x the time of a numpy ufunc such as tanh, which compiled code avoids).
    if type(a) is ndarray:
        return np.fromiter(map(math.erf, a.tolist()), np.float64, len(a))
    return math.erf(a)


def erf(x):
    if isinstance(x, Symbolic):
        return x.twin("erf", x)
    return x.erf() if _is_value(x) else _erf(x)


def _finite_only(name, f):
    """sin and cos of +-inf have no value: an error naming it, as log(0) (nan passes through)."""
    def forward(a):
        if type(a) is ndarray:
            bad = np.isinf(a)
            if bad.any():
                domain_error(name, bad, a, "finite")
        elif a in (math.inf, -math.inf):
            domain_error(name, None, a, "finite")
        return f(a)
    return forward


def _gelu(a):
    # The order of PyTorch's kernel: x * 0.5 * (1 + erf(x / sqrt 2)).
    return a * 0.5 * (1.0 + _erf(a * SQRT1_2))


def _gelu_grad(g, out, a):
    cdf = 0.5 * (1.0 + erf(a * SQRT1_2))
    pdf = exp(-0.5 * a * a) * INV_SQRT_2PI
    return (g * (cdf + a * pdf),)


def _elu(a, k):
    # expm1 of the negative part only: no overflow warning for large positive a.
    if type(a) is ndarray:
        return np.where(a > 0, a, k * np.expm1(np.where(a > 0, 0.0, a)))
    return a if a > 0 else k * math.expm1(a)


def _elu_grad(g, out, a, k):
    # k * exp(a) below 0, computed from the input (not out + k, which cancels for a << 0);
    # exp of the negative part only, so that a > 709 does not overflow into 0 * inf. At a = 0
    # exactly: k (the side below 0), and its own derivative 0 (exp's argument is a * [a < 0]),
    # as PyTorch's ELU and its double backward give.
    neg = 1.0 - step(a)
    return (g * (step(a) + neg * k * exp(a * step(-a))),)


def _silu(a):
    return a * _sigmoid(a)  # the stable sigmoid: finite at +-1000


def _maximum(a, b):
    # NaN wins, as in numpy and PyTorch; on a tie b is returned (numpy's choice, kept in C).
    if type(a) is ndarray or type(b) is ndarray:
        return np.maximum(a, b)
    return a if a > b or a != a else b


def _minimum(a, b):
    if type(a) is ndarray or type(b) is ndarray:
        return np.minimum(a, b)
    return a if a < b or a != a else b


def _max_min_grad(lose_a, lose_b, a, b, g):
    # PyTorch's rule: the gradient goes to the larger (smaller) input, split 0.5 / 0.5 on a tie.
    tie = inside(ones_like(b) * data(a), (data(b), data(b)))  # 1.0 where a == b, batch-shaped
    return g * choose(lose_a, 0.0, 1.0 - 0.5 * tie), g * choose(lose_b, 0.0, 1.0 - 0.5 * tie)


SIN = defop("sin", 1, _finite_only("sin", sin), lambda g, out, a: (g * cos(a),), c="sin({a})")
COS = defop("cos", 1, _finite_only("cos", cos), lambda g, out, a: (-g * sin(a),), c="cos({a})")
SQUARE = defop("square", 1, lambda a: a * a, lambda g, out, a: (g * 2.0 * a,), c="{a} * {a}")
ERF = defop("erf", 1, _erf, lambda g, out, a: (g * (TWO_SQRTPI * exp(-(a * a))),),
            c="erf({a})")
GELU = defop("gelu", 1, _gelu, _gelu_grad, c="{a} * 0.5 * (1.0 + erf({a} * 0.7071067811865476))")
ELU = defop("elu", 1, _elu, _elu_grad, has_k=True, c="({a} > 0 ? {a} : {k} * expm1({a}))")
SILU = defop("silu", 1, _silu, lambda g, out, a: (g * sigmoid(a) * (1.0 + a * (1.0 - sigmoid(a))),),
             c="{a} * vg_sigmoid({a})")
MAXIMUM = defop("maximum", 2, _maximum,
                lambda g, out, a, b: _max_min_grad(data(a) < data(b), data(b) < data(a), a, b, g),
                c="(({a} > {b} || {a} != {a}) ? {a} : {b})")
MINIMUM = defop("minimum", 2, _minimum,
                lambda g, out, a, b: _max_min_grad(data(b) < data(a), data(a) < data(b), a, b, g),
                c="(({a} < {b} || {a} != {a}) ? {a} : {b})")
HELPERS += ("sin", "cos", "erf")


def _max_detached(xs):
    # np.maximum folded from -inf, as the C form: a NaN wins (so that it is reported, not hidden)
    # and of two equal inputs (0.0, -0.0) the later is kept.
    m = -math.inf
    for x in xs:
        m = _maximum(m, x)
    return m


# The max as a node whose derivative is 0 (PyTorch's x.max(dim).values.detach(), JAX's
# lax.stop_gradient(max)): softmax's shift, recomputed at every call of compiled code. The 0 is
# -0.0, which adds nothing to a gradient, not even a sign.
MAX_DETACHED = defop("max_detached", "n", _max_detached, lambda g, out, xs: [ones_like(x) * -0.0 for x in xs],
                     c={"group": 1, "init": "-INFINITY", "step": "(({acc} > {x0} || {acc} != {acc}) ? {acc} : {x0})"})
