"""The layered C compiler against JAX (jax.jit, float64, one thread), side by side in one process.

    OMP_NUM_THREADS=1 python bench/compile_vs_jax.py [A] [B] [W64] [W256] [MNIST] [FIT]

A: micrograd's demo step (moons n=100, seeds 1337, MLP(2,[16,16,1]), hinge + 1e-4 L2, SGD);
B: a digits epoch (1797x64 standardised, MLP(64,[32,10]) He init, softmax CE, batches of 32, SGD);
W64, W256: MLP(2,[w,w,1]) on 1000 random points, hinge + L2, one full-batch SGD step;
MNIST: one epoch of 60,000 synthetic 784-pixel rows, MLP(784,[128,10]), CE, batches of 64;
FIT: a 1-epoch nn.fit(compile=True) call against the raw compiled epoch (B's data).
Ours: `autograd.compile(loss, ...).flat(params)` (the C back end) and a numpy SGD update; JAX:
`jax.jit` of value_and_grad plus the update. Contenders alternate round by round; medians; the
first-compile time is `compile(...).flat(...)` on an empty VALUEGRAD_CACHE. Written by the
compiler work (issue 10); the full scaling table is bench/scaling.py.
"""
import os, sys, time, tempfile, statistics
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ["JAX_ENABLE_X64"] = "1"
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import autograd, nn
from nn import losses
try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - JAX is optional
    sys.exit("bench/compile_vs_jax.py needs jax (pip install jax); skipped")
jax.config.update("jax_enable_x64", True)

def mlp_params(model):
    out = []
    for layer in model.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons]); b = np.array([n.b.data for n in layer.neurons])
        out.append((jnp.array(W), jnp.array(b)))
    return out

def jax_forward(params, X):
    h = X
    for k, (W, b) in enumerate(params):
        h = h @ W.T + b
        if k < len(params) - 1: h = jax.nn.relu(h)
    return h

def jax_hinge_step(lr, l2):
    def loss(params, X, y):
        s = jax_forward(params, X)[:, 0]
        L = jnp.mean(jax.nn.relu(1.0 - y * s))
        if l2: L = L + 1e-4 * sum(jnp.sum(W * W) + jnp.sum(b * b) for W, b in params)
        return L
    @jax.jit
    def step(params, X, y):
        L, g = jax.value_and_grad(loss)(params, X, y)
        return L, jax.tree_util.tree_map(lambda p, q: p - lr * q, params, g)
    return step

def jax_ce_step(lr):
    def loss(params, X, Y):
        z = jax_forward(params, X)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(z) * Y, axis=1))
    @jax.jit
    def step(params, X, Y):
        L, g = jax.value_and_grad(loss)(params, X, Y)
        return L, jax.tree_util.tree_map(lambda p, q: p - lr * q, params, g)
    return step

def interleave(fns, rounds):
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}

def hinge_workload(width, B, rounds, reps, l2=True):
    rng = np.random.default_rng(0)
    if width == 16 and B == 100:
        import random; random.seed(1337); np.random.seed(1337)
        X, y = nn.data.make_moons(n_samples=100, noise=0.1); y = y * 2 - 1.0
        model = nn.MLP(2, [16, 16, 1])
    else:
        X = rng.normal(size=(B, 2)); y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
        model = nn.MLP(2, [width, width, 1], seed=0)
    params = model.parameters()
    f = lambda X, y: losses.hinge(model(X), y) + (losses.l2(model.parameters(), 1e-4) if l2 else 0.0)
    t0 = time.perf_counter(); flat = autograd.compile(f, X, y, backend="c").flat(params); tc = time.perf_counter() - t0
    theta = np.array([p.data for p in params])
    jp = mlp_params(model); step = jax_hinge_step(0.1, l2)
    Lj, _ = step(jp, jnp.array(X), jnp.array(y)); jax.block_until_ready(Lj)
    Lc, _ = flat(theta, X, y)
    st = {"theta": theta, "jp": jp}
    Xj, yj = jnp.array(X), jnp.array(y)
    def ours():
        th = st["theta"]
        for _ in range(reps):
            L, g = flat(th, X, y); th = th - 0.1 * g
        st["theta"] = th
    def jx():
        p = st["jp"]
        for _ in range(reps):
            L, p = step(p, Xj, yj)
        jax.block_until_ready(L); st["jp"] = p
    t = interleave({"ours": ours, "jax": jx}, rounds)
    return tc, Lc, float(Lj), t["ours"] / reps, t["jax"] / reps, len(flat.compiled.source)

def fit_workload(rounds):
    X, y = nn.data.load_digits(); X = nn.data.StandardScaler().fit_transform(X)
    model = nn.MLP(64, [32, 10], init="he", seed=0)
    params = model.parameters(); opt = nn.optim.SGD(params, lr=0.1)
    Y = np.eye(10)[y]
    batches = [(X[i:i + 32], Y[i:i + 32]) for i in range(0, len(X), 32)]
    flat = autograd.compile(lambda X, Y: losses.cross_entropy(model(X), Y), *batches[0], backend="c").flat(params)
    flat(np.array([p.data for p in params]), *batches[-1])
    def raw():
        th = np.array([p.data for p in params])
        for a, b in batches:
            L, g = flat(th, a, b); th = opt.update(th, g)
    def fit():
        nn.fit(model, "cross_entropy", opt, X, y, epochs=1, batch_size=32, progress=False, compile=True)
    fit()
    t = interleave({"raw": raw, "fit": fit}, rounds)
    return t["raw"], t["fit"]

def ce_epoch_workload(nin, hidden, nout, batch, n, rounds, lr=0.1, digits=False):
    rng = np.random.default_rng(0)
    if digits:
        X, yl = nn.data.load_digits(); X = nn.data.StandardScaler().fit_transform(X)
    else:
        X = rng.normal(size=(n, nin)); yl = rng.integers(0, nout, n)
    Y = np.eye(nout)[yl]
    model = nn.MLP(nin, [hidden, nout], init="he", seed=0)
    params = model.parameters()
    f = lambda X, Y: losses.cross_entropy(model(X), Y)
    batches = [(X[i:i + batch], Y[i:i + batch]) for i in range(0, len(X), batch)]
    t0 = time.perf_counter()
    cf = autograd.compile(f, *batches[0], backend="c"); flat = cf.flat(params)
    flat(np.array([p.data for p in params]), *batches[-1])
    tc = time.perf_counter() - t0
    jbatches = [(jnp.array(a), jnp.array(b)) for a, b in batches]
    step = jax_ce_step(lr)
    st = {"theta": np.array([p.data for p in params]), "jp": mlp_params(model)}
    for a, b in jbatches: L, _ = step(st["jp"], a, b)  # compile both shapes
    def ours():
        th = st["theta"]
        for a, b in batches:
            L, g = flat(th, a, b); th = th - lr * g
        st["theta"] = th
    def jx():
        p = st["jp"]
        for a, b in jbatches:
            L, p = step(p, a, b)
        jax.block_until_ready(L); st["jp"] = p
    t = interleave({"ours": ours, "jax": jx}, rounds)
    return tc, t["ours"], t["jax"], len(cf.source)

if __name__ == "__main__":
    which = sys.argv[1:] or ["A", "B", "W64", "W256", "MNIST", "FIT"]
    with tempfile.TemporaryDirectory() as d:
        os.environ["VALUEGRAD_CACHE"] = d
        for w in which:
            if w == "A":
                tc, Lc, Lj, to, tj, src = hinge_workload(16, 100, 21, 20)
                print(f"A demo step: compile {tc:.2f}s src {src/1e3:.0f} kB; loss {Lc} jax {Lj}; ours {to*1e6:.1f} us jax {tj*1e6:.1f} us ratio {to/tj:.2f}")
            elif w.startswith("W"):
                width = int(w[1:])
                tc, Lc, Lj, to, tj, src = hinge_workload(width, 1000, 7, 3 if width >= 256 else 10)
                print(f"width {width} B1000 step: compile {tc:.2f}s src {src/1e3:.0f} kB; loss {Lc:.12g} jax {Lj:.12g}; ours {to*1e3:.2f} ms jax {tj*1e3:.2f} ms ratio {to/tj:.2f}")
            elif w == "B":
                tc, to, tj, src = ce_epoch_workload(64, 32, 10, 32, None, 11, digits=True)
                print(f"B digits epoch: compile {tc:.2f}s src {src/1e3:.0f} kB; ours {to*1e3:.2f} ms jax {tj*1e3:.2f} ms ratio {to/tj:.2f}")
            elif w == "FIT":
                r, f_ = fit_workload(15)
                print(f"FIT digits: raw compiled epoch {r*1e3:.2f} ms, 1-epoch fit(compile=True) {f_*1e3:.2f} ms, ratio {f_/r:.2f}")
            elif w == "MNIST":
                tc, to, tj, src = ce_epoch_workload(784, 128, 10, 64, 60000, 3)
                print(f"MNIST epoch: compile {tc:.2f}s src {src/1e3:.0f} kB; ours {to*1e3:.0f} ms jax {tj*1e3:.0f} ms ratio {to/tj:.2f}")
