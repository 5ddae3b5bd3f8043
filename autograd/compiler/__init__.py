"""Trace a function of Values once, then run it as generated code (numpy or C).

    >>> import numpy as np
    >>> from autograd import Value, compile
    >>> w = Value(0.5, label="w")
    >>> loss = lambda x, y: ((w * x - y) ** 2).mean()
    >>> prog = compile(loss, np.array([1.0, 2.0]), np.array([1.0, 1.0]), backend="numpy")
    >>> prog(np.array([1.0, 2.0]), np.array([1.0, 1.0]))   # returns the loss, fills w.grad
    0.125
    >>> w.grad
    -0.5

`prog(*args)` runs the recorded graph on new arguments, returns the output's data and (unless
`grad=False`) adds the gradient to `.grad` of every other leaf the graph reached (the
parameters), reading their current `.data` at every call. Guards, so that a trace never
silently gives wrong numbers:

- arguments are numbers, 1-D batches, or 2-D arrays (rows of a batch), which reach `fn` as
  a list of batched Values, one per column: what nn models take;
- arguments of other shapes: the function is traced again for those shapes (kept beside
  the first, so that a last, smaller mini-batch costs one more trace, not one per epoch);
- control flow: every comparison the function makes on Values (`<`, `<=`, `>`, `>=`, which
  choose Python branches) is recorded; when a call's comparisons come out differently, the
  function is traced again along the new path. Reading `.data` inside `fn` is not seen by
  the guards: values computed that way are frozen at trace time (use Value operations);
- a non-finite result from C reruns the call through the numpy code, which raises the
  eager engine's clear errors (log of a negative number, ...).
"""
from __future__ import annotations


import numpy as np

from .. import _caller
from . import c_backend, numpy_backend
from .trace import flatten_args, shape_of, trace

__all__ = ["compile", "CompiledFunction"]
_warned = [False]
_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


class Program:
    """One trace and its generated code."""

    def __init__(self, t, backend):
        self.trace, self.backend = t, backend
        self.compiled_now = False
        self._numpy = None
        if backend == "c":
            self.run, self.source, self.compiled_now = c_backend.build(t)
        else:
            self.run, self.source = self.numpy_run()

    def numpy_run(self):
        if self._numpy is None:
            self._numpy = numpy_backend.build(self.trace)
        return self._numpy

    def guards_hold(self, seen):
        t = self.trace
        where = {i: k for k, i in enumerate(t.watched)}
        for node, name, other, result in t.guards:
            a = seen[where[node]]
            b = seen[where[other[1]]] if isinstance(other, tuple) else other
            if not np.array_equal(_COMPARE[name](a, b), result):
                return False
        return True


class CompiledFunction:
    def __init__(self, fn, example_args, backend):
        if backend not in ("auto", "c", "numpy"):
            raise ValueError(f"backend must be 'auto', 'c' or 'numpy', got {backend!r}")
        self.fn, self.requested = fn, backend
        self.programs = {}
        self.traces = 0
        self.program(example_args)

    @property
    def backend(self):
        return next(iter(self.programs.values())).backend

    def _backend(self):
        if self.requested != "auto":
            return self.requested
        try:
            c_backend.find_compiler()
            return "c"
        except c_backend.CompilerNotFound as e:
            if not _warned[0]:
                _caller.warn(f"autograd.compile: {e}; using the numpy backend", RuntimeWarning)
                _warned[0] = True
            return "numpy"

    def program(self, args, retrace=False):
        key = tuple(shape_of(a) for a in args)
        if retrace or key not in self.programs:
            self.traces += 1
            t = trace(self.fn, args)
            backend = self._backend()
            try:
                self.programs[key] = Program(t, backend)
            except RuntimeError as e:  # the compiler ran but failed: numpy still works
                if self.requested == "c":
                    raise
                _caller.warn(f"autograd.compile: {e}; using the numpy backend", RuntimeWarning)
                self.programs[key] = Program(t, "numpy")
        return self.programs[key]

    def flat(self, params):
        """A FlatStep: this function on parameters held in one array (see flat.py)."""
        from .flat import FlatStep
        return FlatStep(self, params)

    @property
    def source(self):
        return next(iter(self.programs.values())).source

    def __call__(self, *args, grad=True):
        prog = self.program(args)
        root_batch = prog.trace.batches[prog.trace.root]
        if grad and root_batch:
            raise ValueError(f"compile: fn returned a batched Value (batch of {root_batch}); backward() "
                             f"needs one number: reduce it (.sum(), .mean()) or call with grad=False")
        data = flatten_args(args)
        out, seen, grads = self._run(prog, data, grad)
        if prog.trace.guards and not prog.guards_hold(seen):
            prog = self.program(args, retrace=True)
            out, seen, grads = self._run(prog, data, grad)
        if grads is not None:
            for p, g in zip(prog.trace.params, grads):
                old = p.grad  # accumulate as backward() does: 0.0 + -0.0 would lose the sign
                p.grad = old + g if type(g) is np.ndarray or g or old else g
        return out

    def _run(self, prog, data, grad):
        params = [p.data for p in prog.trace.params]
        if prog.backend == "c":
            with prog.run.lock:  # the C code's arrays are static: one call at a time per library
                out, seen, grads = prog.run(data, params, grad)
                finite = prog.run.finite
        else:
            out, seen, grads = prog.run(data, params, grad)
            finite = True
        if not finite:
            run, _ = prog.numpy_run()  # the eager rules: the same clear errors, the same NaNs
            out, seen, grads = run(data, params, grad)
        return out, seen, grads


def compile(fn, *example_args, backend="auto"):
    """Trace `fn(*example_args)` (floats or numpy arrays) once and return a fast callable."""
    if not callable(fn):
        raise TypeError(f"compile needs a function, got {type(fn).__name__}")
    return CompiledFunction(fn, example_args, backend)



