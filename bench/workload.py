"""The workloads the benchmarks time, and valuegrad's contenders on them.

A workload is an MLP (ReLU hidden layers, linear outputs), a loss, the batches of its steps in
order, plain SGD with one learning rate, and initial weights. Two losses:
  "hinge": micrograd's demo loss, mean(relu(1 - y * score)) + l2 * sum(p^2), targets -1/+1;
  "ce":    softmax cross-entropy (mean) from class indices (valuegrad gets them one-hot, so that
           they are arguments of a compiled trace).
Every contender (here and in rivals.py) starts from the same weights and runs the same steps.

    python bench/workload.py --compile-child JSON   (used by the benches: compile in a child)
"""
from __future__ import annotations

import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import common  # noqa: E402,F401  (pins threads before numpy)

import numpy as np  # noqa: E402

import autograd  # noqa: E402
import nn  # noqa: E402
from common import layer_arrays, load_ours, run_child  # noqa: E402
from nn import losses, optim  # noqa: E402
from nn.data import StandardScaler, load_digits, make_moons, minibatches, one_hot  # noqa: E402


class Workload:
    def __init__(self, name, sizes, loss, X, t, batch_size, epochs=1, lr=0.1, l2=0.0, init=None,
                 spec=None):
        if loss not in ("hinge", "ce"):
            raise ValueError(f"loss must be 'hinge' or 'ce', got {loss!r}")
        self.name, self.sizes, self.loss, self.lr, self.l2 = name, list(sizes), loss, lr, l2
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.t = np.asarray(t, dtype=np.float64 if loss == "hinge" else np.int64)
        self.batch_size, self.epochs = batch_size, epochs
        self.spec = spec  # how to build it again (in a child process)
        self.init = init if init is not None else he_init(self.sizes, 0)
        n = len(self.X)
        chunks = [(self.X[i:i + batch_size], self.t[i:i + batch_size]) for i in range(0, n, batch_size)]
        self.per_epoch = len(chunks)
        self.batches = chunks * epochs
        k = self.sizes[-1]
        vg = [(Xb, tb if loss == "hinge" else one_hot(tb, k)) for Xb, tb in chunks]
        self.vg_batches = vg * epochs  # what valuegrad's loss function takes
        self.shapes = list({Xb.shape: (Xb, Tb) for Xb, Tb in vg}.values())  # one per program

    @property
    def steps(self):
        return len(self.batches)

    @property
    def n_params(self):
        return sum(W.size + b.size for W, b in self.init)


def he_init(sizes, seed):
    """Kaiming normal weights (std sqrt(2 / fan_in)), zero biases, from one numpy seed."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i), np.zeros(o)) for i, o in zip(sizes, sizes[1:])]


# -- the workloads --------------------------------------------------------------------------------

def demo(steps=20, lr=0.5):
    """A: micrograd's demo: moons n=100 (its seeds), MLP(2,[16,16,1]) with micrograd's own initial
    weights, hinge + 1e-4 L2, full batch. (micrograd's notebook decays lr from 1.0; one constant lr
    here, the same work per step.)"""
    random.seed(1337)
    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    init = layer_arrays(nn.MLP(2, [16, 16, 1]))
    return Workload("demo", [2, 16, 16, 1], "hinge", X, y * 2.0 - 1, 100, epochs=steps, lr=lr, l2=1e-4,
                    init=init, spec={"kind": "demo", "steps": steps, "lr": lr})


def digits():
    """B: one digits epoch: 1797x64 standardised (on all rows: this measures speed), MLP(64,[32,10])
    He init, softmax CE, batches of 32 in one fixed shuffled order (56 x 32 + 5), SGD lr 0.1."""
    X, y = load_digits()
    X = StandardScaler().fit_transform(X)
    parts = list(minibatches(X, y, 32, shuffle=True, seed=0))
    X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return Workload("digits", [64, 32, 10], "ce", X, y, 32, lr=0.1, spec={"kind": "digits"})


def moons(width, batch, steps=5, lr=0.5):
    """Scaling: MLP(2,[width,width,1]) on `batch` moons (noise 0.1, seed 0), hinge + 1e-4 L2 as
    micrograd's demo, He init (seed 0), full batch, `steps` steps."""
    X, y = make_moons(n_samples=batch, noise=0.1, random_state=0)
    return Workload(f"moons w{width} b{batch}", [2, width, width, 1], "hinge", X, y * 2.0 - 1, batch,
                    epochs=steps, lr=lr, l2=1e-4,
                    spec={"kind": "moons", "width": width, "batch": batch, "steps": steps, "lr": lr})


def mnist_like(examples=60000, batch=64, hidden=128, inputs=784, seed=0):
    """MNIST-shaped: `examples` random 784-pixel rows in [0, 1) and random labels 0-9 (seed 0),
    MLP(784,[hidden,10]) He init, softmax CE, batches of 64 (the last one shorter), SGD lr 0.01."""
    rng = np.random.default_rng(seed)
    X = rng.random((examples, inputs))
    y = rng.integers(0, 10, examples)
    return Workload("mnist-like", [inputs, hidden, 10], "ce", X, y, batch, lr=0.01,
                    spec={"kind": "mnist", "examples": examples, "batch": batch, "hidden": hidden,
                          "inputs": inputs})


BUILDERS = {"demo": demo, "digits": digits, "moons": moons, "mnist": mnist_like}


def build(spec):
    kw = {k: v for k, v in spec.items() if k != "kind"}
    return BUILDERS[spec["kind"]](**kw)


# -- valuegrad's contenders -----------------------------------------------------------------------

def make_model(wl):
    model = nn.MLP(wl.sizes[0], wl.sizes[1:], init="he", seed=0)
    load_ours(model, wl.init)
    return model


def loss_fn(wl, model):
    """The function valuegrad runs (eager) and traces (compile): (X, targets) -> loss Value."""
    if wl.loss == "hinge":
        return lambda X, y: losses.hinge(model(X), y) + losses.l2(model.parameters(), wl.l2)
    return lambda X, Y: losses.cross_entropy(model(X), Y)


class _Contender:
    skipped = None
    fixed_steps = None

    def losses(self, out):
        return [float(x) for x in out]

    def comparable(self, mine, ref):
        """The losses to compare with a reference contender's per-step losses."""
        n = min(len(mine), len(ref))
        return mine[:n], ref[:n]


class Eager(_Contender):
    """valuegrad's engine on batched values, one graph per step, GC paused per step (as nn.fit);
    targets as the user has them (class indices: cross_entropy makes the one-hot columns)."""
    name = "eager"

    def __init__(self, wl):
        self.wl, self.model = wl, make_model(wl)
        self.f = loss_fn(wl, self.model)
        self.opt = optim.SGD(self.model, lr=wl.lr)

    def reset(self):
        load_ours(self.model, self.wl.init)

    def run(self, n):
        out, f, opt = [], self.f, self.opt
        for X, T in self.wl.batches[:n]:  # class indices, as a user passes them (1.3x quicker than one-hot)
            with autograd.gc_paused():
                L = f(X, T)
                opt.zero_grad()
                L.backward()
                opt.step()
            out.append(L.data)
        return out


class Flat(_Contender):
    """autograd.compile(loss, backend=...).flat(params): the parameters in one array, the update by
    optimizer.update on arrays (the public fast path, as nn.fit(compile=True)); the Values are
    written back once at the end of a run."""

    def __init__(self, wl, backend):
        self.wl, self.backend, self.name = wl, backend, backend
        self.model = make_model(wl)
        self.opt = optim.SGD(self.model, lr=wl.lr)
        self.step = None

    def compile(self):
        """Compile for every batch shape; returns (seconds for the first shape, source)."""
        f = loss_fn(self.wl, self.model)
        t = time.perf_counter()
        prog = autograd.compile(f, *self.wl.shapes[0], backend=self.backend)
        first = time.perf_counter() - t
        for args in self.wl.shapes[1:]:
            prog(*args, grad=False)
        self.step = prog.flat(self.opt.params)
        self.theta0 = np.array([p.data for p in self.opt.params], dtype=np.float64)
        return first, prog.source

    def reset(self):
        pass

    def run(self, n):
        theta, step, opt, out = self.theta0.copy(), self.step, self.opt, []
        for X, T in self.wl.vg_batches[:n]:
            loss, g = step(theta, X, T)
            theta = opt.update(theta, g)
            out.append(loss)
        step.load(theta)
        return out


class Fit(_Contender):
    """nn.fit(..., compile=True): for a repeated full batch, `epochs=n` (one step an epoch); else
    one epoch (a 1-epoch call) over the workload's rows, shuffle=False (the rows are in batch
    order already). Its losses are fit's per-epoch means."""
    name = "fit"

    def __init__(self, wl):
        self.wl, self.model = wl, make_model(wl)
        self.opt = optim.SGD(self.model, lr=wl.lr)
        if wl.per_epoch != 1:
            self.fixed_steps = wl.steps
        # made once: fit may keep its compiled step per (model, loss, regularization)
        self.reg = (lambda m: losses.l2(m.parameters(), wl.l2)) if wl.loss == "hinge" else None
        self.loss = losses.hinge if wl.loss == "hinge" else losses.cross_entropy

    def reset(self):
        load_ours(self.model, self.wl.init)

    def run(self, n):
        wl = self.wl
        epochs = n if wl.per_epoch == 1 else 1
        h = nn.fit(self.model, self.loss, self.opt, wl.X, wl.t, epochs=epochs, batch_size=wl.batch_size,
                   shuffle=False, progress=False, regularization=self.reg, compile=True)
        return h["loss"]

    def comparable(self, mine, ref):
        wl = self.wl
        if wl.per_epoch == 1:
            return super().comparable(mine, ref)
        if len(ref) < wl.steps:
            return [], []
        sizes = [len(Xb) for Xb, _ in wl.batches]
        return mine[:1], [float(np.dot(ref[:wl.steps], sizes) / sum(sizes))]


def valuegrad_contenders(wl, fit=False):
    """Eager, compiled numpy and compiled C (flat), nn.fit if asked. Compiled contenders are
    built by `prepare_compiled`."""
    cs = [Eager(wl), Flat(wl, "numpy"), Flat(wl, "c")]
    if fit:
        cs.append(Fit(wl))
    return cs


def prepare_compiled(c, limit, info):
    """Compile contender `c` (a Flat): first in a child process bounded by `limit` seconds (the
    numbers of a first compile: for C with a fresh VALUEGRAD_CACHE, set by the caller), then in
    this process (for C, a cached load). Marks `c.skipped` when the child ran out of time.
    Fills info[backend] with first / load seconds and the source size."""
    if c.skipped:
        return
    spec = {"workload": c.wl.spec, "backend": c.backend}
    child = run_child([os.path.join(HERE, "workload.py"), "--compile-child", json.dumps(spec)], limit)
    d = info.setdefault(c.backend, {})
    if "timeout" in child:
        c.skipped = d["skipped"] = f"skipped: compile over {limit:g} s"
        return
    if "error" in child:
        c.skipped = d["skipped"] = "skipped: compile failed: " + child["error"].strip().splitlines()[-1]
        return
    d.update(first=child["first"], all_shapes=child["total"], chars=child["chars"], lines=child["lines"])
    cache = os.environ.get("VALUEGRAD_CACHE")
    before = set(os.listdir(cache)) if cache and os.path.isdir(cache) else set()
    d["load"], _ = c.compile()  # the first shape's, as d["first"]
    after = set(os.listdir(cache)) if cache and os.path.isdir(cache) else set()
    d["recompiled"] = c.backend == "c" and bool(after - before)


def compile_child(spec_json):
    """Build the workload again and compile its loss; print the times and the source size."""
    spec = json.loads(spec_json)
    wl = build(spec["workload"])
    c = Flat(wl, spec["backend"])
    t = time.perf_counter()
    first, source = c.compile()
    total = time.perf_counter() - t
    print(json.dumps({"first": first, "total": total, "chars": len(source), "lines": source.count("\n")}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--compile-child":
        compile_child(sys.argv[2])
    else:
        sys.exit(__doc__)
