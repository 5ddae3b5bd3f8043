"""Run a compiled step on parameters held in one numpy array, touching no Value.

With thousands of scalar parameters, the Python loops that move each one's `.data` into the
generated code and its gradient back into `.grad` cost more than the C code itself. A
`FlatStep` takes the parameters' data as one array and returns their gradient as one array,
so that an optimizer can update them as arrays too (nn.fit(compile=True) does). The
Values are left alone: write the array back (`load`) when you need them.

    >>> import numpy as np
    >>> from autograd import Value, compile
    >>> w, b = Value(0.5), Value(0.0)
    >>> prog = compile(lambda x, y: ((w * x + b - y) ** 2).mean(), np.ones(3), np.ones(3), backend="numpy")
    >>> step = prog.flat([w, b])
    >>> loss, grad = step(np.array([0.5, 0.0]), np.ones(3), np.ones(3))
    >>> loss, grad.tolist()
    (0.25, [-1.0, -1.0])
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from ..value import Value
from . import cache
from .trace import shape_of


class FlatStep:
    """`compiled` (a CompiledFunction) on parameters held in one array. Made lazily by
    `lazy(fn, params, ...)`, it traces fn at its first call instead (once per shape), and with
    `describe` it first looks for a program another process built from the same description
    (see `lazy`)."""

    def __init__(self, compiled, params, fn=None, backend="auto", describe=None):
        self.compiled, self.params = compiled, list(params)
        self._fn, self._backend, self.describe = fn, backend, describe
        self._plans = {}
        self.keyed_loads = 0  # programs found by their description, without a trace

    def load(self, theta):
        """Write the array back into the parameters' `.data`."""
        for p, x in zip(self.params, np.asarray(theta, dtype=np.float64).tolist()):
            p.data = x

    def __call__(self, theta, *args):
        """(loss, gradient array) for the parameters at `theta`, on these arguments."""
        # a step is tens of microseconds of C: the program is found by its arguments' shapes
        # without going through compiled.program's general lookup when they are plain arrays
        key = tuple(a.shape if type(a) is np.ndarray else shape_of(a) for a in args)
        found = self._plans.get(key)  # (program or None for a keyed plan, plan) by shapes
        if found is None or (found[0] is not None and self.compiled.programs.get(key) is not found[0]):
            found = self._plans[key] = self._plan(key, args)
        result = found[1].run(theta, args)
        if result is None:  # a guard, a non-finite value or a numpy program: through the Values
            return self._through_values(theta, args)
        return result

    def _compiled_for(self, args):
        if self.compiled is None:
            from . import CompiledFunction
            self.compiled = CompiledFunction(self._fn, args, self._backend)
        return self.compiled

    def _plan(self, key, args):
        name = self.describe(key) if self.describe is not None and self._backend in ("auto", "c") else None
        if name is not None and (self.compiled is None or key not in self.compiled.programs):
            plan = _KeyedPlan.find(name, self.params)
            if plan is not None:
                self.keyed_loads += 1
                return None, plan
        prog = self._compiled_for(args).program(args)
        plan = _Plan(prog, self.params)
        if name is not None:
            plan.remember(name)
        return prog, plan

    def _through_values(self, theta, args):
        compiled = self._compiled_for(args)
        saved = [(p.data, p.grad) for p in self.params]  # left as they were, as the C path does
        self.load(theta)
        for p in self.params:
            p.grad = 0.0
        try:
            loss = compiled(*args)
            grad = np.array([np.sum(p.grad) if isinstance(p.grad, np.ndarray) else float(p.grad)
                             for p in self.params])
        finally:
            for p, (d, g) in zip(self.params, saved):
                p.data, p.grad = d, g
        return loss, grad


def lazy(fn, params, backend="auto", describe=None):
    """A FlatStep for fn(*args) -> Value on `params`, traced at its first call per argument
    shapes. `describe(shapes)` -> str or None: a text naming *everything* the traced graph
    depends on for arguments of these shapes (the caller's guarantee; nn.fit builds it for
    nn's own models and losses). With it, a C program built by an earlier process from the
    same text is loaded without tracing fn (the cache's alias entry: the library's key, where
    each parameter sits in its buffer and the values of the graph's constant leaves); a
    program with data-dependent leaves (batched constants) or guards is never remembered.

        >>> import numpy as np
        >>> from autograd import Value
        >>> w = Value(2.0)
        >>> step = lazy(lambda x: (w * x).mean(), [w], backend="numpy")
        >>> loss, grad = step(np.array([3.0]), np.array([1.0, 2.0]))
        >>> loss, grad.tolist()
        (4.5, [1.5])
    """
    return FlatStep(None, params, fn=fn, backend=backend, describe=describe)


class _Plan:
    """Where each parameter sits in one C program's parameter buffer, and the buffers and their
    addresses made once: a call copies theta, the arguments and the few other leaves in, and
    the gradient out, with no other allocation."""

    def __init__(self, prog, params):
        self.prog, self.runner = prog, prog.run
        t = prog.trace
        self.numpy = prog.backend == "numpy" and getattr(prog.run, "layers", False)  # numpy_layers
        self.ok = (prog.backend == "c" or self.numpy) and not t.guards
        slot = {id(v): j for j, v in enumerate(t.params)}
        r = prog.run if self.ok else None
        if self.numpy and self.ok:  # (a guarded program has no plan: the Values serve it)
            r.n_scalar = sum(1 for i in t.param_nodes if not t.nodes[i].batch)
        where = [slot.get(id(p), -1) for p in params] if self.ok else None
        if self.ok and max(where, default=-1) >= r.n_scalar:
            self.ok = False  # a batched parameter: rare, served by the general path
        if not self.ok:
            return
        self.reached = np.array([j >= 0 for j in where])
        self.pos = np.array([j for j in where if j >= 0], dtype=np.intp)
        mine = set(self.pos.tolist())
        ns = r.n_scalar
        # other leaves (constants & co.): read at every call, as a compiled call does
        self.scalar_others = [(j, v) for j, v in enumerate(t.params) if j not in mine and j < ns]
        self.batched_others = [v for j, v in enumerate(t.params) if j >= ns]
        self.n_par = ns + sum(np.size(v.data) for v in t.params[ns:])  # the scalars first, one slot each
        self.buffer = np.zeros(max(self.n_par, 1))
        self.tail = self.buffer[ns:self.n_par]
        # the layered C code lays nn's parameters out in the model's own order: then theta is
        # one slice of the buffer, copied as a block (no gather, no scatter)
        a = int(self.pos[0]) if len(self.pos) else 0
        self.span = a if (self.reached.all() and np.array_equal(self.pos, np.arange(a, a + len(self.pos)))) else None
        self.inp = None  # made at the first call, from the arguments' shapes
        if self.numpy:  # its arrays are the runner's, per thread: only the buffer needs a lock
            self.lock, self.grad_checked = threading.Lock(), False
            return
        self.lock = r.lock  # the C code's arrays are the library's
        # the structured C code checks the gradient's finiteness itself (its return value)
        try:
            self.grad_checked = bool(ctypes.c_int.in_dll(r.lib, "vg_grad_checked").value)
        except (ValueError, AttributeError):
            self.grad_checked = False
        self.args = (self.buffer.ctypes.data,) + tuple(r._buffers)

    def remember(self, name):
        """Store, under the caller's description `name`, what a later process needs to run this
        C program without tracing (see `lazy`): only for a program whose every parameter is
        reached, with no guard and no batched leaf (a batched constant may come from the
        traced batch's data) and finite constants."""
        t = self.prog.trace
        if not (self.ok and not self.numpy and self.reached.all() and not self.batched_others
                and self.runner.n_scalar == self.n_par and not t.batches[t.root]):
            return
        constants = [v.data for _, v in self.scalar_others]
        if not all(type(x) is float and np.isfinite(x) for x in constants):
            return
        from . import c_backend
        slots = self.pos.tolist() + [j for j, _ in self.scalar_others]  # a permutation of the buffer
        payload = {"library": t.key(), "n_par": int(self.n_par), "n_params": len(self.pos),
                   "slots": c_backend._runs(slots), "constants": constants}
        cache.write_alias(name, c_backend.find_compiler(), c_backend.CFLAGS, payload)

    def _views(self, args):
        """One input buffer, and per argument the view of it its data is copied into: columns
        of a 2-D argument one after the other, as flatten_args lays them out."""
        sizes = [int(np.size(a.data if isinstance(a, Value) else a)) for a in args]
        self.inp = np.zeros(max(sum(sizes), 1))
        views, o = [], 0
        for a, n in zip(args, sizes):
            shape = shape_of(a)
            v = self.inp[o:o + n]
            views.append(v.reshape(shape[::-1]).T if len(shape) == 2 else v if shape else None)
            o += n
        self.views = views
        self.scalar_at = [o for o, v in zip(np.cumsum([0] + sizes), views) if v is None]
        self.inp_addr = self.inp.ctypes.data

    def run(self, theta, args):
        if not self.ok:
            return None
        r = self.runner
        par, span = self.buffer, self.span
        with self.lock:  # the buffers are this plan's, the C code's arrays the library's
            for j, v in self.scalar_others:
                par[j] = v.data
            if span is not None:
                par[span:span + len(self.pos)] = theta
            else:
                par[self.pos] = np.asarray(theta)[self.reached]
            if self.numpy:  # it reads the batched leaves and the arguments itself
                return self._run_numpy(args)
            if self.inp is None:
                self._views(args)
            if self.batched_others:
                np.concatenate([v.data for v in self.batched_others], out=self.tail)
            k = 0
            for view, a in zip(self.views, args):
                d = a.data if isinstance(a, Value) else a
                if view is None:
                    self.inp[self.scalar_at[k]] = float(d)
                    k += 1
                else:
                    view[...] = d
            ok = r.fn(self.inp_addr, *self.args, 1)
            if not ok:
                return None
            if span is not None:
                grad = r.pgrad[span:span + len(self.pos)].copy()
            else:
                grad = np.zeros(len(self.reached))
                grad[self.reached] = r.pgrad[self.pos]
            loss = float(r.out[0])
        if not self.grad_checked and not np.isfinite(grad).all():
            return None
        return loss, grad

    def _run_numpy(self, args):
        """The layered numpy code (numpy_layers.py) on the same buffer; batched leaves read now."""
        from .trace import flatten_args
        r = self.prog.run
        ns = r.n_scalar
        batched = [v.data for v in self.prog.trace.params[ns:]]
        try:
            loss, _, g = r(flatten_args(args), (self.buffer[:ns], batched), True)
        except Exception:  # through the Values: the eager engine's errors
            return None
        if self.span is not None:
            grad = g[self.span:self.span + len(self.pos)].copy()
        else:
            grad = np.zeros(len(self.reached))
            grad[self.reached] = g[self.pos]
        if not np.isfinite(grad).all() or not np.isfinite(loss):
            return None
        return loss, grad


class _KeyedPlan(_Plan):
    """A _Plan made from a cache alias (`_Plan.remember`) instead of a trace."""

    @classmethod
    def find(cls, name, params):
        """The plan another process remembered under `name` for these parameters, with its
        library verified and loaded; None when anything is missing or does not fit."""
        from . import c_backend
        try:
            cc = c_backend.find_compiler()
        except c_backend.CompilerNotFound:
            return None
        payload = cache.read_alias(name, cc, c_backend.CFLAGS)
        if payload is None:
            return None
        lib_key, n_par, constants = payload.get("library"), payload.get("n_par"), payload.get("constants")
        if not (isinstance(lib_key, str) and type(n_par) is int and payload.get("n_params") == len(params)
                and isinstance(constants, list) and n_par == len(params) + len(constants)):
            return None
        perm = c_backend._unruns(payload.get("slots"), n_par)  # a permutation of range(n_par), or None
        if perm is None or not all(type(x) is float and np.isfinite(x) for x in constants):
            return None
        pos = perm[:len(params)]
        try:
            found = cache.find(f"{c_backend.generator_version()} {lib_key}", cc, c_backend.CFLAGS)
        except RuntimeError:  # an unusable cache folder: the caller traces (and reports it)
            return None
        if found is None:
            return None
        plan = cls.__new__(cls)
        plan.prog, plan.runner = None, _LibRunner(found.lib, found.key, n_par)
        plan.numpy, plan.ok = False, True
        plan.reached = np.ones(len(params), dtype=bool)
        plan.pos = pos.astype(np.intp)
        plan.scalar_others, plan.batched_others = [], []
        plan.n_par = n_par
        plan.buffer = np.zeros(max(n_par, 1))
        plan.buffer[perm[len(params):]] = constants  # constants of nn's own graphs: written once
        plan.tail = plan.buffer[n_par:n_par]
        a = int(plan.pos[0]) if len(plan.pos) else 0
        plan.span = a if np.array_equal(plan.pos, np.arange(a, a + len(plan.pos))) else None
        plan.inp = None
        plan.lock = plan.runner.lock
        try:
            plan.grad_checked = bool(ctypes.c_int.in_dll(found.lib, "vg_grad_checked").value)
        except (ValueError, AttributeError):
            plan.grad_checked = False
        plan.args = (plan.buffer.ctypes.data,) + tuple(plan.runner._buffers)
        return plan

    def remember(self, name):
        pass


class _LibRunner:
    """What _Plan.run needs of a loaded library (c_backend's runner, without its trace): the
    entry point, the output and gradient buffers, the library's lock."""

    def __init__(self, lib, key, n_par):
        from . import c_backend
        fn = lib.vg_run
        fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int]
        fn.restype = ctypes.c_int
        self.fn, self.lib, self.n_scalar = fn, lib, n_par
        self.out, self.pgrad, self.guards = np.zeros(1), np.zeros(max(n_par, 1)), np.zeros(1)
        self._buffers = (self.out.ctypes.data, self.pgrad.ctypes.data, self.guards.ctypes.data)
        self.lock = c_backend._LOCKS.setdefault(key, threading.Lock())
