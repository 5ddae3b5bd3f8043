"""Optimizers with PyTorch's defaults and update rules, and learning-rate schedules.

    >>> from nn import MLP, optim, losses
    >>> model = MLP(2, [4, 1], seed=0)
    >>> opt = optim.Adam(model.parameters(), lr=0.01)
    >>> loss = losses.mse(model([1.0, 2.0]), 3.0)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    >>> opt.state_dict()["step"]
    1
"""
from __future__ import annotations

import math

import numpy as np

from autograd.value import _packed


class Optimizer:
    """Holds parameters (Values) and updates their data from their grad, all at once in numpy."""

    defaults: dict = {}

    def __init__(self, params, **hyper):
        if hasattr(params, "named_parameters"):  # a Module: keep names for error messages
            named = params.named_parameters()
        else:
            named = [(f"parameter {i}", p) for i, p in enumerate(params)]
        if not named:
            raise ValueError("optimizer got an empty parameter list")
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown arguments {sorted(unknown)}")
        self.hyper = {**self.defaults, **hyper}
        if self.hyper["lr"] <= 0 or not math.isfinite(self.hyper["lr"]):
            raise ValueError(f"learning rate must be a positive number, got {self.hyper['lr']}")
        self.step_count = 0
        self.state = {}
        # What step() wrote last, as a list and an array: the next step compares the Values'
        # data with the list (by identity first, in C) instead of converting them again.
        self._wrote = ([], np.zeros(0))

    @property
    def lr(self):
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value):
        self.hyper["lr"] = value

    def zero_grad(self):
        for p in self.params:
            p.grad = 0.0

    def step(self):
        """Update every parameter's .data from its .grad."""
        params = self.params
        n = len(params)
        datas = [p.data for p in params]
        wrote, last = self._wrote
        try:  # unchanged since the last step wrote them (no zero there: no sign to lose)?
            same = datas == wrote and last.all()
        except (TypeError, ValueError):  # an array among them: the conversion says what is wrong
            same = False
        data = last if same else _floats(datas)
        grads = [p.grad for p in params]
        try:  # floats, numpy scalars, Values of one number (create_graph): float() of each
            grad = _floats(grads)
        except (TypeError, ValueError):  # a batch among them: the error below says which
            grad = np.array([float(getattr(g, "data", g)) for g in grads], dtype=np.float64)
        new = self.update(data, grad)
        wrote = new.tolist()
        for p, x in zip(params, wrote):
            p.data = x
        self._wrote = (wrote, new)

    def update(self, data, grad):
        """One step on arrays (the parameters' data and gradients, in self.params' order):
        returns the new data and leaves the Values alone. `step()` is this on the Values;
        nn.fit(compile=True) calls it directly, with no loop over the parameters."""
        grad = np.asarray(grad, dtype=np.float64)
        bad = ~np.isfinite(grad)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FloatingPointError(f"{type(self).__name__}.step: the gradient of {self.names[i]} is "
                                     f"{grad[i]} ({int(bad.sum())} non-finite gradients in all)")
        wd = self.hyper.get("weight_decay", 0.0)
        self.step_count += 1
        return self._update(data, grad + wd * data if wd else grad)

    def _buffer(self, name, like):
        if name not in self.state:
            self.state[name] = np.zeros_like(like)
        return self.state[name]

    def state_dict(self):
        return {"type": type(self).__name__, "hyper": dict(self.hyper), "step": self.step_count,
                "state": {k: v.tolist() for k, v in self.state.items()}}

    def load_state_dict(self, sd):
        if sd.get("type") != type(self).__name__:
            raise ValueError(f"state_dict is for {sd.get('type')!r}, not {type(self).__name__}")
        state = {k: np.array(v, dtype=np.float64) for k, v in sd["state"].items()}
        for k, v in state.items():
            if v.shape != (len(self.params),):
                raise ValueError(f"state {k!r} has shape {v.shape}, expected ({len(self.params)},)")
        self.hyper.update(sd["hyper"])
        self.step_count = int(sd["step"])
        self.state = state


def _floats(xs):
    """np.fromiter(xs, float64) (a new, writable array), packed by struct when every item is a
    real number (a third of fromiter's time); else fromiter's own conversion or error."""
    out = _packed(xs)
    return out.copy() if out is not None else np.fromiter(xs, np.float64, len(xs))


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (PyTorch's form: the buffer starts at g),
    Nesterov momentum, dampening and weight decay."""

    defaults = dict(lr=0.01, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)

    def __init__(self, params, lr=0.01, **kw):
        super().__init__(params, lr=lr, **kw)
        if self.hyper["nesterov"] and (self.hyper["momentum"] <= 0 or self.hyper["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and zero dampening")

    def _update(self, data, g):
        h = self.hyper
        if h["momentum"]:
            if "momentum_buffer" not in self.state:
                buf = self.state["momentum_buffer"] = g.copy()
            else:
                buf = self.state["momentum_buffer"] = h["momentum"] * self.state["momentum_buffer"] \
                    + (1 - h["dampening"]) * g
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        return data - h["lr"] * g


class RMSProp(Optimizer):
    """Divide by a running root-mean-square of the gradient (PyTorch's RMSprop)."""

    defaults = dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)

    def _update(self, data, g):
        h = self.hyper
        sq = self.state["square_avg"] = h["alpha"] * self._buffer("square_avg", g) + (1 - h["alpha"]) * g * g
        if h["centered"]:
            ga = self.state["grad_avg"] = h["alpha"] * self._buffer("grad_avg", g) + (1 - h["alpha"]) * g
            avg = np.sqrt(sq - ga * ga) + h["eps"]
        else:
            avg = np.sqrt(sq) + h["eps"]
        if h["momentum"] > 0:
            buf = self.state["momentum_buffer"] = h["momentum"] * self._buffer("momentum_buffer", g) + g / avg
            return data - h["lr"] * buf
        return data - h["lr"] * g / avg


RMSprop = RMSProp  # PyTorch's spelling


class Adam(Optimizer):
    """Adam with bias correction (PyTorch's Adam; amsgrad optional)."""

    defaults = dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)

    def _update(self, data, g):
        h = self.hyper
        b1, b2 = h["betas"]
        m = self._buffer("exp_avg", g)
        m = self.state["exp_avg"] = m + (1 - b1) * (g - m)  # torch's lerp
        v = self.state["exp_avg_sq"] = b2 * self._buffer("exp_avg_sq", g) + (1 - b2) * g * g
        if h["amsgrad"]:
            v = self.state["max_exp_avg_sq"] = np.maximum(self._buffer("max_exp_avg_sq", g), v)
        t = self.step_count
        step_size = h["lr"] / (1 - b1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + h["eps"]
        return data - step_size * (m / denom)


# -- learning-rate schedules: call .step() once per epoch (or per step), after optimizer.step()

class _Schedule:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self):
        return self.optimizer.lr


class StepLR(_Schedule):
    """lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, k):
        return self.base_lr * self.gamma ** (k // self.step_size)


class LinearLR(_Schedule):
    """From lr * start_factor to lr * end_factor over total_iters steps, then constant.
    micrograd's demo schedule 1.0 - 0.9 * k / 100 is LinearLR(opt(lr=1.0), 1.0, 0.1, 100)."""

    def __init__(self, optimizer, start_factor=1.0, end_factor=0.1, total_iters=100):
        super().__init__(optimizer)
        self.start, self.end, self.total = start_factor, end_factor, total_iters
        optimizer.lr = self.lr_at(0)

    def lr_at(self, k):
        return self.base_lr * (self.start - (self.start - self.end) * min(k, self.total) / self.total)


class CosineAnnealingLR(_Schedule):
    """eta_min + (lr - eta_min) * (1 + cos(pi * k / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, k):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * k / self.T_max)) / 2
