"""C from a trace, compiled once by the system compiler and cached on disk by a hash of the trace
and of the generator's own code (a cache hit generates no C).

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
import sysconfig
import threading

import numpy as np

from . import cache
from .symbolic import Sym, c_number, to_c

PRELUDE = r"""
#include <math.h>
#include <string.h>
static double vg_sigmoid(double a) { if (a >= 0) return 1.0 / (1.0 + exp(-a)); double e = exp(a); return e / (1.0 + e); }
static double vg_softplus(double a) { return fmax(a, 0.0) + log1p(exp(-fabs(a))); }
static double vg_iszero(double a) { return a == 0 ? 1.0 : 0.0; }
static double vg_sign(double a) { return (double)((a > 0) - (a < 0)); }
static double vg_inside(double a, double lo, double hi) { return (a >= lo && a <= hi) ? 1.0 : 0.0; }
static double vg_log_for_pow(double a) { return a > 0 ? log(a) : (a == 0 ? 0.0 : NAN); }
"""
def _simd_flags():
    """-mavx2 where the CPU has it (Linux's /proc/cpuinfo says so): the layered kernels then
    use 4-double vectors. Elementwise IEEE arithmetic either way (no -mfma: no fused
    multiply-add), so the numbers do not change; the flag is part of the cache key."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return ["-mavx2"] if " avx2" in line else []
    except OSError:
        pass
    return []


# IEEE: no reassociation, no fma. -fno-trapping-math changes no value (no flag or trap is read):
# it lets gcc turn a select such as relu's `g * (x > 0.0 ? 1.0 : 0.0)` into vector blends
CFLAGS = ["-O3", "-shared", "-fPIC", "-fno-fast-math", "-ffp-contract=off", "-fno-trapping-math"] + _simd_flags()


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


class _Layout:
    """Where every node lives. Values and gradients sit in static arrays (IN, PAR, VAL; PG, GR)
    at offsets fixed at generation time, so n-ary operations can loop over constant tables of
    their inputs' addresses instead of spelling out one term per input."""

    def __init__(self, t):
        self.t = t
        self.val, self.grad, self.declared, self.scratch = {}, {}, set(), {}
        n_par = n_val = n_gr = 0
        arg_off, o = {}, 0
        for slot, shape in enumerate(t.arg_shapes):
            arg_off[slot] = o
            o += int(np.prod(shape)) if shape else 1
        n_in = o
        for i in t.param_nodes:  # in slot order: the scalars, then the batches
            self.val[i] = ("PAR", n_par)
            self.grad[i] = ("PG", n_par)
            n_par += t.nodes[i].batch or 1
        for n in t.nodes:
            size = n.batch or 1
            if n.kind == "arg":
                self.val[n.index] = ("IN", arg_off[n.slot])
            elif n.kind == "param":
                continue
            else:
                self.val[n.index] = ("VAL", n_val)
                n_val += size
                if n.index in t.needs_grad:
                    self.grad[n.index] = ("GR", n_gr)
                    n_gr += size
        self.n_in, self.n_par, self.n_val, self.n_gr = n_in, n_par, n_val, n_gr

    def batched(self, i):
        return bool(self.t.nodes[i].batch)

    def at(self, where, i, index="i"):
        """C for element `index` of a node's value or gradient (scalars ignore the index)."""
        base, off = where[i]
        return f"{base}[{off} + {index}]" if self.batched(i) else f"{base}[{off}]"

    def sym(self, where, i):
        base, off = where[i]
        return Sym.var(f"{base}[{off} + {{i}}]" if self.batched(i) else f"{base}[{off}]", self.t.nodes[i].batch)

    def addr(self, where, i):
        base, off = where.get(i, ("SCRATCH", 0))
        return f"{base} + {off}" if off else base


def generate(t):
    """C source with vg_run(in, par, out, pgrad, guards, want_grad)."""
    L = _Layout(t)
    decl, body = [], []
    for name, size in (("IN", L.n_in), ("PAR", L.n_par), ("PG", L.n_par), ("VAL", L.n_val), ("GR", L.n_gr),
                       ("SCRATCH", max(t.batch, 1))):
        decl.append(f"static double {name}[{max(size, 1)}];")
    body.append(f"memcpy(IN, in, sizeof(double) * {L.n_in});")
    body.append(f"memcpy(PAR, par, sizeof(double) * {L.n_par});")
    for n in t.nodes:
        if n.kind == "op":
            body.extend(_forward(L, n, decl))
    root = t.nodes[t.root]
    body.append(f"for (int i = 0; i < {root.batch}; i++) out[i] = {L.at(L.val, t.root)};" if root.batch
                else f"out[0] = {L.at(L.val, t.root)};")
    o = 0
    for i in t.watched:  # values the guards read, copied out
        b = t.nodes[i].batch
        body.append(f"for (int i = 0; i < {b}; i++) guards[{o} + i] = {L.at(L.val, i)};" if b
                    else f"guards[{o}] = {L.at(L.val, i)};")
        o += b or 1
    body.append(f"int ok = 1; for (int j = 0; j < {L.n_val}; j++) ok &= isfinite(VAL[j]) != 0;")
    body.append("if (!want_grad) return ok;")
    body.append("memset(GR, 0, sizeof GR); memset(PG, 0, sizeof PG);")
    body.extend(_backward(L, decl))
    body.append(f"memcpy(pgrad, PG, sizeof(double) * {L.n_par});")
    body.append("return ok;")
    decl += [f"static double {name}[{size}];" for name, size in L.scratch.items()]
    src = [PRELUDE, *decl,
           "int vg_run(const double *in, const double *par, double *out, double *pgrad, "
           "double *guards, int want_grad) {", *("  " + line for line in body), "}"]
    return "\n".join(src) + "\n", (t.batch, L.n_par)


def _forward(L, n, decl):
    t, i, op = L.t, n.index, n.op
    form = op.c
    out = L.at(L.val, i)
    if op.arity == "n":
        return _forward_nary(L, n, decl)
    ref = [L.at(L.val, p) for p in n.parents]
    if form in ("BATCH_SUM", "BATCH_MEAN"):
        (p,) = n.parents
        b = t.nodes[p].batch
        if not b:
            return [f"{out} = {ref[0]};"]
        lines = [f"{{ double s = 0.0; for (int i = 0; i < {b}; i++) s += {ref[0]};"]
        scale = f" * {c_number(1.0 / b)}" if form == "BATCH_MEAN" else ""
        return lines + [f"  {out} = s{scale}; }}"]
    names = dict(zip("ab", ref))
    k = n.k
    if isinstance(k, tuple):
        names.update(k0=c_number(k[0]), k1=c_number(k[1]))
    elif k is not None:
        names["k"] = c_number(k)
    line = f"{out} = {form.format(**names)};"
    return [f"for (int i = 0; i < {n.batch}; i++) {line}" if n.batch else line]


def _tables(L, n, decl, where, const):
    """Per block of an n-ary node's inputs: a constant table of element addresses and strides."""
    group = L.t.nodes[n.index].op.c["group"]
    m = len(n.parents) // group
    names = []
    for b in range(group):
        block = n.parents[b * m:(b + 1) * m]
        q = "const double *const" if const else "double *const"
        name = f"T{n.index}_{b}_{'v' if const else 'g'}"
        if name not in L.declared:  # the forward and the backward pass share the value tables
            L.declared.add(name)
            decl.append(f"static {q} {name}[{m}] = {{{', '.join(L.addr(where, p) for p in block)}}};")
        strides = [1 if L.batched(p) else 0 for p in block]
        if len(set(strides)) == 1:
            stride = str(strides[0])
        else:
            stride = f"S{n.index}_{b}[k]"
            if stride not in L.declared:
                L.declared.add(stride)
                decl.append(f"static const int S{n.index}_{b}[{m}] = {{{', '.join(map(str, strides))}}};")
        names.append((f"T{n.index}_{b}_{'v' if const else 'g'}[k][i * {stride}]", block))
    return names, m


def _scratch(L, name, size):
    """A static scratch array, declared once at the largest size asked for."""
    L.scratch[name] = max(L.scratch.get(name, 0), size, 1)
    return name


def _forward_nary(L, n, decl):
    """The fold over k runs outside the loop over examples: each example keeps its own
    left-to-right order, and the examples' independent sums run side by side."""
    form = n.op.c
    elems, m = _tables(L, n, decl, L.val, const=True)
    N = max(n.batch, 1)
    fill = {f"x{b}": e for b, (e, _) in enumerate(elems)}
    acc = _scratch(L, "ACC_S", N)
    pre = _scratch(L, "PRE_S", N) if "pre" in form else None
    return fold(form, fill, acc, pre, N, m, L.at(L.val, n.index), "k")


def fold(form, fill, acc, pre, n, count, out, k, indent=""):
    """C lines for an n-ary operation's fold (its `c=` form in ops.py): the loop over the
    `count` inputs (variable `k`) outside, the `n` examples inside, so each example keeps its
    own left-to-right order; `fill` maps x0, x1... to element i of input k; `pre` is the
    scratch array of the form's first fold (logsumexp's max) or None; `out` is element i of
    the result. The straight-line and the layered generators both emit folds through here."""
    lines = []
    if pre is not None:
        init, step = form["pre"]
        lines.append(f"{indent}for (int i = 0; i < {n}; i++) {pre}[i] = {init};")
        lines.append(f"{indent}for (int {k} = 0; {k} < {count}; {k}++) for (int i = 0; i < {n}; i++) "
                     f"{pre}[i] = {step.format(acc=f'{pre}[i]', **fill)};")
        fill = dict(fill, pre=f"{pre}[i]")
    lines.append(f"{indent}for (int i = 0; i < {n}; i++) {acc}[i] = {form['init']};")
    lines.append(f"{indent}for (int {k} = 0; {k} < {count}; {k}++) for (int i = 0; i < {n}; i++) "
                 f"{acc}[i] = {form['step'].format(acc=f'{acc}[i]', **fill)};")
    final = form.get("final", "{acc}").format(acc=f"{acc}[i]", **fill)
    lines.append(f"{indent}for (int i = 0; i < {n}; i++) {out} = {final};")
    return lines


def _backward(L, decl):
    t = L.t
    need = t.needs_grad
    lines = []
    if t.root in need:
        lines.append(f"{L.at(L.grad, t.root, '0')} += 1.0;")
    for n in reversed(t.nodes):
        i = n.index
        if n.kind != "op" or i not in need:
            continue
        g, out = L.sym(L.grad, i), L.sym(L.val, i)
        if n.op.arity == "n":
            lines.extend(_backward_nary(L, n, decl, g, out))
            continue
        args = [L.sym(L.val, p) for p in n.parents]
        if n.op.has_k:
            args.append(n.k)
        batch = max([n.batch] + [t.nodes[p].batch for p in n.parents]) or 1
        grads = n.op.backward(g, out, *args)  # symbols carry their batch, for batch_mean's 1/n
        lines.extend(_accumulate(L, [(p, Sym.lift(pg)) for p, pg in zip(n.parents, grads) if p in need], batch))
    return lines


def _backward_nary(L, n, decl, g, out):
    """The rule run once on a symbolic element k of each block, then looped over k and i.
    Scalar targets (a neuron's weights) sum over the examples in their own accumulators,
    side by side, then add once: the order a loop over examples would use."""
    need = L.t.needs_grad
    elems, m = _tables(L, n, decl, L.val, const=True)
    gelems, _ = _tables(L, n, decl, L.grad, const=False)
    xs = [Sym.var(e.replace("[i * ", "[{i} * "), L.t.nodes[block[0]].batch or n.batch) for e, block in elems]
    grads = n.op.backward(g, out, xs)
    N = max(n.batch, 1)
    lines = []
    for b, ((ge, block), pg) in enumerate(zip(gelems, grads)):
        if not any(p in need for p in block):
            continue  # e.g. the data inputs of a first layer: no gradient wanted
        expr = to_c(Sym.lift(pg), "i")
        if n.batch and not any(L.batched(p) for p in block):
            acc = _scratch(L, "KACC_S", m)
            target = ge.replace("[i * 0]", "[0]")
            lines.append(f"for (int k = 0; k < {m}; k++) {acc}[k] = 0.0;")
            lines.append(f"for (int i = 0; i < {N}; i++) for (int k = 0; k < {m}; k++) {acc}[k] += {expr};")
            lines.append(f"for (int k = 0; k < {m}; k++) {target} += {acc}[k];")
        else:
            lines.append(f"for (int k = 0; k < {m}; k++) for (int i = 0; i < {N}; i++) {ge} += {expr};")
    return lines


def _accumulate(L, contributions, batch):
    """One node's gradient contributions to its parents, in a single loop over the batch:
    batched parents element by element, scalar parents through a running sum."""
    outside, inside, sums = [], [], []
    for j, (p, pg) in enumerate(contributions):
        if L.batched(p):
            inside.append(f"{L.at(L.grad, p)} += {to_c(pg, 'i')};")
        elif pg.batched:
            sums.append((f"s{j}", p))
            inside.append(f"s{j} += {to_c(pg, 'i')};")
        else:
            outside.append(f"{L.at(L.grad, p)} += {to_c(pg, '')};")
    if not inside:
        return outside
    lines = ["{"] + [f"double {name} = 0.0;" for name, _ in sums]
    lines.append(f"for (int i = 0; i < {batch}; i++) {{ {' '.join(inside)} }}")
    lines += [f"{L.at(L.grad, p, '0')} += {name};" for name, p in sums] + ["}"]
    return lines + outside


def generate_any(t):
    """Layers as loops when the graph has them (structured.py), else straight-line code."""
    from . import structured
    plan = structured.Plan(t)
    if plan.layered:
        return structured.generate(t, PRELUDE, plan)
    return generate(t)


def build(t):
    """Compile (or load from the cache) the trace's C code; returns (call, source, compiled_now).
    The cache is keyed by the trace's hash and the generator's version, so a hit generates
    no C: the parameters' order the generator chose comes back from the cache's notes."""
    cc = find_compiler()
    own_order = list(t.param_nodes)

    def generate():
        source, _ = generate_any(t)
        pos = {i: s for s, i in enumerate(own_order)}
        return source, {"param_order": _runs([pos[i] for i in t.param_nodes])}

    decoded = []

    def order_ok(notes):
        decoded[:] = [_unruns(notes.get("param_order"), len(own_order))]
        return decoded[0] is not None

    made_from = f"{generator_version()} {t.key()}"
    lib, key, compiled_now, source, notes = cache.load(made_from, cc, CFLAGS, generate, order_ok)  # cache.py
    if not compiled_now:  # generate() did not run on this trace: give it the cached order
        perm = decoded[0] if decoded else _unruns(notes["param_order"], len(own_order))
        if not (len(perm) == 0 or (perm[0] == 0 and (perm[1:] - perm[:-1] == 1).all())):
            t.permute_params(perm.tolist())
    fn = lib.vg_run
    fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int]  # raw addresses: the cheapest to pass
    fn.restype = ctypes.c_int
    runner = _Runner(fn, lib, t)
    runner.lock = _LOCKS.setdefault(key, threading.Lock())
    return runner, source, compiled_now


def _runs(perm):
    """A permutation as [start, step, length] runs: nn models' orders are a few runs long."""
    runs = []
    for x in perm:
        if runs:
            r = runs[-1]
            if r[2] == 1:
                r[1], r[2] = x - r[0], 2
                continue
            if x == r[0] + r[1] * r[2]:
                r[2] += 1
                continue
        runs.append([x, 1, 1])
    return runs


def _unruns(runs, n):
    """The permutation of range(n) (an int array) back from its runs, or None when they do
    not make one (a damaged cache entry: rebuilt)."""
    if not isinstance(runs, list):
        return None
    parts, total = [], 0
    for r in runs:
        if not (isinstance(r, list) and len(r) == 3 and all(type(v) is int for v in r)):
            return None
        start, step, length = r
        total += length
        if length < 1 or total > n:
            return None
        parts.append(start + step * np.arange(length, dtype=np.int64))
    perm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(perm) != n or (n and (perm.min() < 0 or perm.max() >= n or not (np.bincount(perm, minlength=n) == 1).all())):
        return None
    return perm


_VERSION = []


def generator_version():
    """sha256 of the code generator's source files (this package and the operations' table),
    so that a cached library is never reused by a valuegrad that would generate other C."""
    if not _VERSION:
        here = os.path.dirname(os.path.abspath(__file__))
        files = sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py"))
        files.append(os.path.join(os.path.dirname(here), "ops.py"))
        h = hashlib.sha256()
        try:
            for path in files:
                with open(path, "rb") as f:
                    h.update(os.path.basename(path).encode() + b"\0" + f.read() + b"\0")
            _VERSION.append(h.hexdigest())
        except OSError:  # sources not readable (a frozen install): no reuse across processes
            _VERSION.append(f"unversioned-{os.getpid()}-{id(_VERSION)}-{os.urandom(8).hex()}")
    return _VERSION[0]


_LOCKS = {}  # one per library: its static arrays are shared by every program loaded from it


class _Runner:
    """Packs arguments and parameters into flat double buffers and calls vg_run."""

    def __init__(self, fn, lib, t):
        self.fn, self.lib, self.t = fn, lib, t
        batches = t.batches
        sizes = list(map(batches.__getitem__, t.param_nodes))  # 0: a scalar (the scalars come first)
        self.n_scalar = sizes.count(0)
        self.n_par = n_par = sum(sizes) + self.n_scalar
        self.root_batch = batches[t.root]
        self.out = np.zeros(self.root_batch or 1)
        self.pgrad = np.zeros(max(n_par, 1))
        self.watched_sizes = [batches[i] for i in t.watched]
        self.guards = np.zeros(max(sum(b or 1 for b in self.watched_sizes), 1))
        self.batch_sizes = [batches[i] for i in t.param_nodes[self.n_scalar:]]
        self.finite = True
        self._buffers = (self.out.ctypes.data, self.pgrad.ctypes.data, self.guards.ctypes.data)

    def __call__(self, args, params, want_grad):
        inp = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in args]) if args else np.zeros(1)
        ns = self.n_scalar
        par = np.fromiter(params[:ns], np.float64, ns) if ns else np.zeros(0)
        if self.batch_sizes:
            par = np.concatenate([par] + [np.asarray(p, dtype=np.float64) for p in params[ns:]])
        if not len(par):
            par = np.zeros(1)
        ok = self.fn(inp.ctypes.data, par.ctypes.data, *self._buffers, int(want_grad))
        out = self.out.copy() if self.root_batch else float(self.out[0])
        seen, o = [], 0
        for b in self.watched_sizes:
            seen.append(self.guards[o:o + b].copy() if b else float(self.guards[o]))
            o += b or 1
        if not want_grad:
            self.finite = bool(ok)
            return out, tuple(seen), None
        self.finite = bool(ok) and bool(np.isfinite(self.pgrad).all())
        grads = self.pgrad[:ns].tolist()
        o = ns
        for b in self.batch_sizes:
            grads.append(self.pgrad[o:o + b].copy())
            o += b
        return out, tuple(seen), grads
