"""The reverse sweep: topological order without recursion, then the chain rule node by node.

    >>> from autograd import Value
    >>> x = Value(3.0)
    >>> y = x * x + x          # x is used three times
    >>> y.backward()
    >>> x.grad                 # 2x + 1
    7.0
"""
from __future__ import annotations

import gc
import threading
from contextlib import ContextDecorator

import numpy as np

from .ops import ndarray
from .value import Value, _set_grad_enabled, _thread


class no_grad(ContextDecorator):
    """Inside it, operations compute values but record no parents (as torch.no_grad).
    Grad mode belongs to the thread: another thread's graphs keep recording meanwhile.

        >>> from autograd import Value, no_grad
        >>> w = Value(2.0)
        >>> with no_grad():
        ...     y = w * 3
        >>> y.parents
        ()
    """

    def __enter__(self):
        # A stack per thread, so that one instance may be entered again (a recursive
        # @no_grad() function) and shared by threads (one decorated function, many callers).
        stacks = self.__dict__.setdefault("_prev", {})
        stacks.setdefault(threading.get_ident(), []).append(_set_grad_enabled(False))
        return self

    def __exit__(self, *exc):
        me = threading.get_ident()
        stack = self._prev[me]
        _set_grad_enabled(stack.pop())
        if not stack:
            del self._prev[me]
        return False


def is_grad_enabled():
    """Whether operations in this thread record their parents (False inside no_grad).

        >>> from autograd import no_grad
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return _thread.grad


def topological_order(root):
    """Every Value `root` depends on, each after all of its parents; iterative, so a
    graph a million nodes deep needs no recursion."""
    order = []
    expanded = set()
    stack = [(root, False)]
    push, pop, append, add = stack.append, stack.pop, order.append, expanded.add
    while stack:
        node, done = pop()
        if done:
            append(node)
            continue
        if node in expanded:  # reached again by another path after it was pushed
            continue
        add(node)
        push((node, True))
        op = node._op
        if op is None:
            continue
        if op.arity == 1:
            parents = (node._a,)
        elif op.arity == 2:
            parents = (node._a, node._b)
        else:
            parents = node._a
        for p in parents:
            if p not in expanded:
                push((p, False))
    return order


_gc_lock = threading.Lock()
_gc_pauses = [0, False]  # pauses open in all threads; whether the collector ran before the first


class gc_paused(ContextDecorator):
    """Pause Python's cyclic garbage collector (graphs here hold no cycles, so reference
    counting frees them; the collector would only walk millions of live nodes for nothing).

    The collector is one switch for the whole process, so pauses are counted across threads:
    it stays off while any thread is inside one and is restored when the last one leaves
    (unordered exits in several threads can never leave it off for good).

        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """

    def __enter__(self):
        with _gc_lock:
            if _gc_pauses[0] == 0:
                _gc_pauses[1] = gc.isenabled()
                gc.disable()
            _gc_pauses[0] += 1
        return self

    def __exit__(self, *exc):
        with _gc_lock:
            _gc_pauses[0] -= 1
            if _gc_pauses[0] == 0 and _gc_pauses[1]:
                gc.enable()
        return False


def _seed(root, grad, create_graph):
    d = root.data
    if grad is None:
        if type(d) is ndarray:
            raise ValueError(f"backward() on a batched Value (batch of {len(d)}) needs grad=, "
                             f"e.g. v.backward(grad=np.ones({len(d)})), or reduce first: "
                             f"v.sum().backward()")
        g = 1.0
    else:
        g = grad.data if isinstance(grad, Value) else grad
        g = np.asarray(g, dtype=np.float64)
        if g.shape != np.shape(d) and not (g.ndim == 0 and type(d) is not ndarray):
            raise ValueError(f"backward(grad=...) needs shape {np.shape(d)} like the Value's data, "
                             f"got {g.shape}")
        g = float(g) if g.ndim == 0 else g
    return Value(g) if create_graph else g


def backward(root, grad=None, *, create_graph=False):
    """Add d(root)/d(node) to `node.grad` for every node root depends on.

    As in PyTorch, gradients accumulate across calls (call `zero_grad()` between steps),
    and each call propagates only its own gradient: an intermediate node's earlier
    gradient is never sent down again. A scalar root is seeded with 1; a batched root
    needs `grad=` (one number per example). With `create_graph=True` every gradient is a
    Value, itself differentiable (Hessian-vector products, gradient penalties).
    """
    seed = _seed(root, grad, create_graph)
    with gc_paused():
        topo = topological_order(root)
        # Each node's gradient from *this* call is gathered in .grad (None = nothing yet);
        # the earlier gradient is added back at the end.
        olds = [n.grad for n in topo]
        for n in topo:
            n.grad = None
        prev_mode = _set_grad_enabled(create_graph)
        try:
            root.grad = seed
            _sweep(topo, create_graph)
        except BaseException:
            for n, old in zip(topo, olds):
                n.grad = old
            raise
        finally:
            _set_grad_enabled(prev_mode)
        for n, old in zip(topo, olds):
            new = n.grad
            if new is None:
                n.grad = old
            elif type(old) is float and old == 0.0 and type(new) is not ndarray:
                n.grad = new
            else:
                n.grad = old + new


def _sweep(topo, create_graph):
    for node in reversed(topo):
        op = node._op
        if op is None:
            continue
        g = node.grad
        out = node if create_graph else node.data
        arity = op.arity
        if arity == 1:
            a = node._a
            x = a if create_graph else a.data
            grads = op.backward(g, out, x, node._b) if op.has_k else op.backward(g, out, x)
            _accumulate(a, grads[0])
        elif arity == 2:
            a, b = node._a, node._b
            if create_graph:
                ga, gb = op.backward(g, out, a, b)
            else:
                ga, gb = op.backward(g, out, a.data, b.data)
            _accumulate(a, ga)
            _accumulate(b, gb)
        else:
            ps = node._a
            xs = ps if create_graph else [p.data for p in ps]
            grads = op.backward(g, out, xs, node._b) if op.has_k else op.backward(g, out, xs)
            for p, pg in zip(ps, grads):
                _accumulate(p, pg)


def _accumulate(p, pg):
    # A scalar that met a batch receives one gradient per example: sum them.
    if type(p.data) is not ndarray:
        if type(pg) is ndarray:
            pg = float(np.cumsum(pg)[-1])  # left to right, as a loop over the examples would
        elif type(pg) is Value and type(pg.data) is ndarray:
            pg = pg.sum()
    cur = p.grad
    p.grad = pg if cur is None else cur + pg


__all__ = ["backward", "no_grad", "is_grad_enabled", "topological_order", "gc_paused"]
