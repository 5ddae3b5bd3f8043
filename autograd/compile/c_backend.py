"""C from a trace, compiled once by the system compiler and cached on disk by a hash of its source.

Forward: each operation's C form from the table (ops.py, `c=`). Backward: the table's Python
rule run on symbols (symbolic.py). A batched node is a static array looped over; a scalar
is a local double. The source holds operation codes, node numbers and numbers only.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile

import numpy as np

from .symbolic import Sym, c_number, symbolic_helpers, to_c

PRELUDE = r"""
#include <math.h>
#include <string.h>
static double vg_sigmoid(double a) { if (a >= 0) return 1.0 / (1.0 + exp(-a)); double e = exp(a); return e / (1.0 + e); }
static double vg_softplus(double a) { return fmax(a, 0.0) + log1p(exp(-fabs(a))); }
static double vg_sign(double a) { return (double)((a > 0) - (a < 0)); }
static double vg_inside(double a, double lo, double hi) { return (a >= lo && a <= hi) ? 1.0 : 0.0; }
static double vg_log_for_pow(double a) { return a > 0 ? log(a) : (a == 0 ? 0.0 : NAN); }
"""
CFLAGS = ["-O2", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off"]  # IEEE: no reassociation, no fma


class CompilerNotFound(RuntimeError):
    pass


def find_compiler():
    """Python's own compiler (sysconfig CC), then cc, gcc, clang; the env var VALUEGRAD_CC wins."""
    candidates = [os.environ.get("VALUEGRAD_CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"]
    for cand in candidates:
        if not cand:
            continue
        argv = shlex.split(cand)
        if argv and shutil.which(argv[0]):
            return argv
    raise CompilerNotFound("no C compiler found (tried VALUEGRAD_CC, sysconfig CC, cc, gcc, clang)")


def cache_dir():
    d = os.environ.get("VALUEGRAD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "valuegrad")
    os.makedirs(d, exist_ok=True)
    return d


def _ref(t, i, index="[i]"):
    n = t.nodes[i]
    return f"v{i}" + (index if n.batch else "")


def generate(t):
    """C source with vg_run(in, par, out, pgrad, guards, want_grad)."""
    B = t.batch
    decl, body = [], []
    for n in t.nodes:  # storage: static arrays for batches, locals for scalars
        if n.batch and n.kind == "op":
            decl.append(f"static double v{n.index}[{n.batch}];")
    arg_off, off = {}, 0
    for slot, shape in enumerate(t.arg_shapes):
        arg_off[slot] = off
        off += int(np.prod(shape)) if shape else 1
    par_off, off = {}, 0
    for n in t.nodes:
        if n.kind == "param":
            par_off[n.index] = off
            off += n.batch or 1
    for n in t.nodes:
        i = n.index
        if n.kind == "arg":
            o = arg_off[n.slot]
            body.append(f"const double *v{i} = in + {o};" if n.batch else f"double v{i} = in[{o}];")
        elif n.kind == "param":
            o = par_off[i]
            body.append(f"const double *v{i} = par + {o};" if n.batch else f"double v{i} = par[{o}];")
        else:
            body.extend(_forward(t, n))
    root = t.nodes[t.root]
    body.append(f"for (int i = 0; i < {root.batch}; i++) out[i] = v{t.root}[i];" if root.batch
                else f"out[0] = v{t.root};")
    o = 0
    for i in t.watched:  # values the guards read, copied out
        b = t.nodes[i].batch
        body.append(f"for (int i = 0; i < {b}; i++) guards[{o} + i] = v{i}[i];" if b else f"guards[{o}] = v{i};")
        o += b or 1
    body.append("if (!want_grad) return;")
    body.extend(_backward(t, decl, par_off))
    src = [PRELUDE, *decl,
           "void vg_run(const double *in, const double *par, double *out, double *pgrad, "
           "double *guards, int want_grad) {", *("  " + line for line in body), "}"]
    return "\n".join(src) + "\n", (B, sum((n.batch or 1) for n in t.nodes if n.kind == "param"))


def _forward(t, n):
    i, op = n.index, n.op
    form = op.c
    if form in ("BATCH_SUM", "BATCH_MEAN"):
        (p,) = n.parents
        pn = t.nodes[p]
        if not pn.batch:
            return [f"double v{i} = v{p};"]
        lines = [f"double v{i} = 0.0;", f"for (int i = 0; i < {pn.batch}; i++) v{i} += v{p}[i];"]
        if form == "BATCH_MEAN":
            lines.append(f"v{i} = v{i} * {c_number(1.0 / pn.batch)};")
        return lines
    if op.arity == "n":
        expr = form([_ref(t, p) for p in n.parents])
    else:
        names = dict(zip("ab", [_ref(t, p) for p in n.parents]))
        k = n.k
        if isinstance(k, tuple):
            names.update(k0=c_number(k[0]), k1=c_number(k[1]))
        elif k is not None:
            names["k"] = c_number(k)
        expr = form.format(**names)
    if n.batch:
        return [f"for (int i = 0; i < {n.batch}; i++) v{i}[i] = {expr};"]
    return [f"double v{i} = {expr};"]


def _sym(t, i):
    return Sym.var(f"v{i}", bool(t.nodes[i].batch))


def _backward(t, decl, par_off):
    need = t.needs_grad
    lines = []
    for i in sorted(need):
        n = t.nodes[i]
        if n.batch:
            decl.append(f"static double g{i}[{n.batch}];")
            lines.append(f"memset(g{i}, 0, sizeof g{i});")
        else:
            lines.append(f"double g{i} = 0.0;")
    if t.root in need:
        lines.append(f"g{t.root} = 1.0;")
    with symbolic_helpers(t.batch or 1):
        for n in reversed(t.nodes):
            i = n.index
            if n.kind != "op" or i not in need:
                continue
            ins = [_sym(t, p) for p in n.parents]
            args = [ins] if n.op.arity == "n" else ins
            if n.op.has_k:
                args.append(n.k)
            grads = n.op.backward(Sym.var(f"g{i}", bool(n.batch)), _sym(t, i), *args)
            lines.extend(_accumulate(t, [(p, Sym.lift(pg)) for p, pg in zip(n.parents, grads) if p in need]))
    for i, o in par_off.items():
        n = t.nodes[i]
        if i not in need:
            continue
        if n.batch:
            lines.append(f"for (int i = 0; i < {n.batch}; i++) pgrad[{o} + i] = g{i}[i];")
        else:
            lines.append(f"pgrad[{o}] = g{i};")
    return lines


def _accumulate(t, contributions):
    """One node's gradient contributions to its parents, in a single loop over the batch:
    batched parents element by element, scalar parents through a running sum."""
    outside, inside, sums = [], [], []
    for j, (p, pg) in enumerate(contributions):
        if t.nodes[p].batch:
            inside.append(f"g{p}[i] += {to_c(pg, '[i]')};")
        elif pg.batched:
            sums.append((f"s{j}", p))
            inside.append(f"s{j} += {to_c(pg, '[i]')};")
        else:
            outside.append(f"g{p} += {to_c(pg, '')};")
    if not inside:
        return outside
    lines = ["{"] + [f"double {name} = 0.0;" for name, _ in sums]
    lines.append(f"for (int i = 0; i < {t.batch}; i++) {{ {' '.join(inside)} }}")
    lines += [f"g{p} += {name};" for name, p in sums] + ["}"]
    return lines + outside


def build(t):
    """Compile (or load from the cache) the trace's C code; returns (call, source, compiled_now)."""
    source, (B, n_par) = generate(t)
    cc = find_compiler()
    key = hashlib.sha256((" ".join(cc + CFLAGS) + "\n" + source).encode()).hexdigest()[:32]
    lib_path = os.path.join(cache_dir(), f"vg_{key}.so")
    compiled_now = False
    if not os.path.exists(lib_path):
        _compile(cc, source, lib_path)
        compiled_now = True
    lib = ctypes.CDLL(lib_path)
    fn = lib.vg_run
    dp = ctypes.POINTER(ctypes.c_double)
    fn.argtypes = [dp, dp, dp, dp, dp, ctypes.c_int]
    fn.restype = None
    return _Runner(fn, lib, t, n_par), source, compiled_now


def _compile(cc, source, lib_path):
    folder = os.path.dirname(lib_path)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        c_path = os.path.join(tmp, "graph.c")
        with open(c_path, "w") as f:
            f.write(source)
        tmp_lib = os.path.join(tmp, "graph.so")
        r = subprocess.run(cc + CFLAGS + ["-o", tmp_lib, c_path, "-lm"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"C compiler {cc[0]} failed:\n{r.stderr[-2000:]}")
        os.replace(tmp_lib, lib_path)  # atomic: another process sees the whole library or none


class _Runner:
    """Packs arguments and parameters into flat double buffers and calls vg_run."""

    def __init__(self, fn, lib, t, n_par):
        self.fn, self.lib, self.t = fn, lib, t
        self.n_in = sum(int(np.prod(s)) if s else 1 for s in t.arg_shapes)
        self.n_par = n_par
        root = t.nodes[t.root]
        self.out = np.zeros(root.batch or 1)
        self.pgrad = np.zeros(max(n_par, 1))
        self.watched_sizes = [t.nodes[i].batch for i in t.watched]
        self.guards = np.zeros(max(sum(b or 1 for b in self.watched_sizes), 1))
        self.sizes = [t.nodes[i].batch or 1 for i in t.param_nodes]
        self.all_scalar = not any(t.nodes[i].batch for i in t.param_nodes)

    def __call__(self, args, params, want_grad):
        inp = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in args]) if args else np.zeros(1)
        if self.all_scalar:
            par = np.fromiter(params, np.float64, len(params)) if params else np.zeros(1)
        else:
            par = np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in params])
        dp = ctypes.POINTER(ctypes.c_double)
        self.pgrad[:] = 0.0
        self.fn(inp.ctypes.data_as(dp), par.ctypes.data_as(dp), self.out.ctypes.data_as(dp),
                self.pgrad.ctypes.data_as(dp), self.guards.ctypes.data_as(dp), int(want_grad))
        root = self.t.nodes[self.t.root]
        out = self.out.copy() if root.batch else float(self.out[0])
        seen, o = [], 0
        for b in self.watched_sizes:
            seen.append(self.guards[o:o + b].copy() if b else float(self.guards[o]))
            o += b or 1
        if not want_grad:
            return out, tuple(seen), None
        if self.all_scalar:
            return out, tuple(seen), self.pgrad[:len(self.sizes)].tolist()
        grads, o = [], 0
        for j, s in enumerate(self.sizes):
            grads.append(self.pgrad[o:o + s].copy() if self._batched(j) else float(self.pgrad[o]))
            o += s
        return out, tuple(seen), grads

    def _batched(self, j):
        return bool(self.t.nodes[self.t.param_nodes[j]].batch)
