"""Run the table's Python backward rules on symbols, to get each derivative as C code.

The rules in ops.py are written with arithmetic and a few helpers (ops.HELPERS). Called with
`Sym` arguments, a rule returns expression trees instead of numbers (each helper hands a
symbol to its twin below: nothing is swapped in `ops`, so eager code in other threads never
sees a symbol); `to_c` prints them. So the C derivative is never written by hand: it is the
Python rule itself. A symbol's `batched` is the length of the batch it stands for (0 for a
scalar): batch_mean's derivative reads it.

    >>> from autograd import ops
    >>> g, out, a = Sym.var("G[{i}]", 8), Sym.var("V[{i}]", 8), Sym.var("A[{i}]", 8)
    >>> (d,) = ops.TANH.backward(g, out, a)
    >>> to_c(d, "i")
    '(G[i] * (1.0 - (V[i] * V[i])))'
    >>> to_c(ops.BATCH_MEAN.backward(Sym.var("G", 0), Sym.var("V", 0), a)[0], "i")
    '((G * 1.0) * 0.125)'
"""
from __future__ import annotations

import math

from .. import ops


class Sym(ops.Symbolic):
    """An expression: ('var', name) | ('num', x) | (operator, *children) | ('call', f, *args);
    `batched` is its batch length (0: a scalar)."""

    __slots__ = ("node", "batched")

    def __init__(self, node, batched):
        self.node, self.batched = node, int(batched)

    @staticmethod
    def var(name, batched=0):
        return Sym(("var", name), batched)

    def twin(self, name, *args):
        return SYMBOLIC_HELPERS[name](*args)

    @staticmethod
    def lift(x):
        if isinstance(x, Sym):
            return x
        if isinstance(x, bool):
            x = float(x)
        if isinstance(x, (int, float)):
            return Sym(("num", float(x)), False)
        raise TypeError(f"cannot generate code for a {type(x).__name__} in a rule")

    def _bin(self, op, other, swap=False):
        o = Sym.lift(other)
        l, r = (o, self) if swap else (self, o)
        return Sym((op, l, r), max(l.batched, r.batched))

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __gt__(self, o): return self._bin(">", o)
    def __lt__(self, o): return self._bin("<", o)
    def __ge__(self, o): return self._bin(">=", o)
    def __le__(self, o): return self._bin("<=", o)

    def __pow__(self, o):
        return call("pow", self, o)

    def __rpow__(self, o):
        return call("pow", o, self)

    def __neg__(self):
        return Sym(("neg", self), self.batched)


def call(f, *args):
    args = [Sym.lift(a) for a in args]
    return Sym(("call", f) + tuple(args), max(a.batched for a in args))


def _where(cond, a, b):
    cond, a, b = Sym.lift(cond), Sym.lift(a), Sym.lift(b)
    return Sym(("?", cond, a, b), max(cond.batched, a.batched, b.batched))


# The symbolic twins of ops.HELPERS (same names), each printing as a C expression.
SYMBOLIC_HELPERS = {
    "data": lambda x: x,
    "exp": lambda x: call("exp", x),
    "log": lambda x: call("log", x),
    "sigmoid": lambda x: call("vg_sigmoid", x),
    "power": lambda a, k: call("pow", a, k),   # C's pow(0, -1) is inf, as the rule wants
    "div": lambda x, y: Sym.lift(x) / y,       # C's division by 0 is +-inf or nan
    "step": lambda x: _where(Sym.lift(x) > 0, 1.0, 0.0),
    "sign": lambda x: call("vg_sign", x),
    "choose": _where,
    "inside": lambda x, k: call("vg_inside", x, k[0], k[1]),
    "iszero": lambda x: call("vg_iszero", x),
    "ones_like": lambda x: 1.0,
    "log_for_pow": lambda x: call("vg_log_for_pow", x),
    "_batch_len": lambda x: float(Sym.lift(x).batched or 1),
    "sin": lambda x: call("sin", x),
    "cos": lambda x: call("cos", x),
    "erf": lambda x: call("erf", x),
}
assert set(SYMBOLIC_HELPERS) == set(ops.HELPERS), "a helper in ops.HELPERS has no symbolic twin"


def c_number(x):
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return repr(float(x))


def to_c(s, index):
    """C source of an expression, with `index` (e.g. 'i') for the element of batched variables."""
    s = Sym.lift(s)
    node = s.node
    kind = node[0]
    if kind == "var":  # a template: "{i}" stands for the element index
        return node[1].format(i=index) if index else node[1].replace("{i}", "0")
    if kind == "num":
        return c_number(node[1])
    if kind == "neg":
        return f"(-{to_c(node[1], index)})"
    if kind == "call":
        return f"{node[1]}({', '.join(to_c(a, index) for a in node[2:])})"
    if kind == "?":
        return f"({to_c(node[1], index)} ? {to_c(node[2], index)} : {to_c(node[3], index)})"
    return f"({to_c(node[1], index)} {kind} {to_c(node[2], index)})"
