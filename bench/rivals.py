"""PyTorch eager and JAX jit on a bench Workload (workload.py): the same MLP, loss, batches, SGD
and initial weights as valuegrad's contenders; float64, one thread (common.py pins the pools).

Both are optional: `Torch(wl).skipped` / `Jax(wl).skipped` say why when the library is missing.
JAX: `jax.jit` of value_and_grad plus the SGD update, compiled ahead of time for each batch
shape (`.lower(...).compile()`, timed apart); a run dispatches its steps and blocks once at the
end (block_until_ready), as a JAX training loop does.
"""
from __future__ import annotations

import time

import common  # noqa: F401  (pins threads before torch and jax start)
import numpy as np

try:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    torch = None

try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError:  # pragma: no cover
    jax = None

from common import load_torch, torch_mlp  # noqa: E402


class Torch:
    """nn.Sequential(Linear, ReLU, ...) float64, loss.item() each step, the SGD update in place
    (p -= lr * grad under no_grad: torch.optim.SGD's arithmetic, without its first-use import of
    torch._dynamo, seconds long)."""
    name = "torch"
    fixed_steps = None

    def __init__(self, wl):
        self.wl, self.skipped = wl, None
        if torch is None:
            self.skipped = "skipped: torch is not installed (pip install -e '.[torch]')"
            return
        self.model = torch_mlp(wl.sizes)
        self.params = list(self.model.parameters())
        tt = torch.float64 if wl.loss == "hinge" else torch.int64
        self.batches = [(torch.from_numpy(X), torch.from_numpy(t).to(tt)) for X, t in wl.batches]

    def reset(self):
        load_torch(self.model, self.wl.init)

    def run(self, n):
        out, model, params, lr, l2 = [], self.model, self.params, self.wl.lr, self.wl.l2
        hinge = self.wl.loss == "hinge"
        for X, t in self.batches[:n]:
            z = model(X)
            if hinge:
                loss = torch.relu(1 - t * z[:, 0]).mean() + l2 * sum((p * p).sum() for p in params)
            else:
                loss = F.cross_entropy(z, t)
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.add_(p.grad, alpha=-lr)
            out.append(loss.item())
        return out

    def losses(self, out):
        return out

    def comparable(self, mine, ref):
        n = min(len(mine), len(ref))
        return mine[:n], ref[:n]


class Jax:
    name = "jax"
    fixed_steps = None

    def __init__(self, wl):
        self.wl, self.skipped = wl, None
        if jax is None:
            self.skipped = "skipped: jax is not installed (pip install -e '.[jax]')"
            return
        k = wl.sizes[-1]
        if wl.loss == "hinge":
            self.batches = [(jax.device_put(X), jax.device_put(t)) for X, t in wl.batches]
        else:
            eye = np.eye(k)
            self.batches = [(jax.device_put(X), jax.device_put(eye[t])) for X, t in wl.batches]
        self.step = jax.jit(_make_step(wl.loss, wl.lr, wl.l2))
        self.compiled = {}

    def params0(self):
        return [(jnp.asarray(W), jnp.asarray(b)) for W, b in self.wl.init]

    def compile(self):
        """Compile for every batch shape; returns the seconds for the first one."""
        times = []
        for X, t in self.batches:
            if X.shape not in self.compiled:
                s = time.perf_counter()
                self.compiled[X.shape] = self.step.lower(self.params0(), X, t).compile()
                times.append(time.perf_counter() - s)
        return times[0]

    def reset(self):
        if not self.compiled:
            self.compile()
        self.params = self.params0()

    def run(self, n):
        p, out, compiled = self.params, [], self.compiled
        for X, t in self.batches[:n]:
            loss, p = compiled[X.shape](p, X, t)
            out.append(loss)
        jax.block_until_ready((p, out))
        return out

    def losses(self, out):
        return [float(x) for x in out]

    def comparable(self, mine, ref):
        n = min(len(mine), len(ref))
        return mine[:n], ref[:n]


def _make_step(loss_kind, lr, l2):
    def forward(params, X):
        h = X
        for i, (W, b) in enumerate(params):
            h = h @ W.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)  # derivative 0 at 0, as valuegrad's relu (jnp.maximum splits it)
        return h

    def loss_fn(params, X, t):
        z = forward(params, X)
        if loss_kind == "hinge":
            return jnp.mean(jax.nn.relu(1.0 - t * z[:, 0])) + l2 * sum(jnp.sum(W * W) + jnp.sum(b * b)
                                                                     for W, b in params)
        return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(z, axis=1), axis=1))

    def step(params, X, t):
        loss, g = jax.value_and_grad(loss_fn)(params, X, t)
        return loss, [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, g)]
    return step


def rival_contenders(wl):
    return [Torch(wl), Jax(wl)]


def all_contenders(wl, opts):
    """valuegrad's contenders (fit included) and the rivals, the compiled ones built (bounded by
    --max-compile-seconds); returns (contenders, compile info, JAX's compile time or None)."""
    import workload
    cs = workload.valuegrad_contenders(wl, fit=True) + rival_contenders(wl)
    common.leave_out(cs, opts.skip)
    by = {c.name: c for c in cs}
    info = {}
    for name in ("numpy", "c"):
        workload.prepare_compiled(by[name], opts.max_compile_seconds, info)
    if by["c"].skipped and not by["fit"].skipped:  # fit would compile the same C here, unbounded
        by["fit"].skipped = by["c"].skipped
    t_jax = by["jax"].compile() if not by["jax"].skipped else None
    return cs, info, t_jax
