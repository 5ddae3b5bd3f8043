"""Losses, in their numerically stable forms.

Predictions are Values: one scalar Value per example (a list, micrograd style) or one batched
Value for the whole batch; for classes, a list of K Values (one per class, each batched or
not). Targets are numbers or numpy arrays. `reduction` is 'mean' (default) or 'sum'.

    >>> import numpy as np
    >>> from autograd import Value
    >>> from nn import losses
    >>> z = Value(np.array([2.0, -1.0]))                    # logits for two examples
    >>> round(losses.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0])).data, 6)
    0.220095
"""
from __future__ import annotations

import numpy as np

import autograd
from autograd import Value

REDUCTIONS = ("mean", "sum")


def _reduce(losses, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if isinstance(losses, list):  # one graph per example
        total = autograd.sum(losses)
        return total * (1.0 / len(losses)) if reduction == "mean" else total
    if isinstance(losses.data, np.ndarray):
        return losses.mean() if reduction == "mean" else losses.sum()
    return losses


def _pairwise(pred, target, f, reduction):
    """f(prediction, target) per example, then reduced."""
    if isinstance(pred, (list, tuple)):
        target = np.asarray(target, dtype=np.float64).reshape(-1)
        if len(pred) != len(target):
            raise ValueError(f"{len(pred)} predictions but {len(target)} targets")
        return _reduce([f(p, float(t)) for p, t in zip(pred, target)], reduction)
    if isinstance(target, (list, tuple)):
        target = np.asarray(target, dtype=np.float64)
    n_pred, n_t = np.size(pred.data), np.size(target.data if isinstance(target, Value) else target)
    if n_t != n_pred and n_t != 1:
        raise ValueError(f"predictions for {n_pred} examples but {n_t} targets")
    return _reduce(f(pred, target), reduction)


def mse(pred, target, reduction="mean"):
    """(pred - target)^2."""
    return _pairwise(pred, target, lambda p, t: (p - t) ** 2, reduction)


def hinge(score, target, margin=1.0, reduction="mean"):
    """max(0, margin - target * score), targets -1/+1 (micrograd's demo loss)."""
    _check_binary(target, (-1, 1), "hinge")
    return _pairwise(score, target, lambda s, t: (margin - t * s).relu(), reduction)


def binary_cross_entropy(prob, target, reduction="mean", eps=1e-12):
    """-(t log p + (1-t) log(1-p)) from probabilities in [0, 1] (anything else is refused,
    naming its position); prefer the logits form.

    Below `eps` each log is continued by its tangent line, log(eps) + (x - eps) / eps: the
    loss stays finite (at most 1 - log(eps) ~ 28.6 per example) and its gradient keeps
    pushing, -1/eps at x < eps, where a clamped log would give exactly 0 and training
    would stall at a wrong answer. PyTorch keeps the same gradient there ((p - t) /
    max(p (1 - p), 1e-12)) but clamps the loss at 100 instead.

        >>> from autograd import Value
        >>> p = Value(1e-13)                  # a confident wrong answer
        >>> loss = binary_cross_entropy(p, 1.0)
        >>> loss.backward()
        >>> round(loss.data, 3), p.grad      # finite, and the gradient still says "go up"
        (28.531, -1000000000000.0)
    """
    _check_binary(target, (0, 1), "binary_cross_entropy", exact=False)
    _check_probabilities(prob, "binary_cross_entropy")
    below = float(np.nextafter(eps, 0.0))  # the two pieces meet without sharing a point

    def safe_log(x):
        return x.clamp(eps).log() + (x.clamp(max=below) - below) * (1.0 / eps)

    def f(p, t):
        return -(t * safe_log(p) + (1.0 - t) * safe_log(1.0 - p))
    return _pairwise(prob, target, f, reduction)


def _check_probabilities(prob, name):
    """Probabilities are in [0, 1]: refuse anything else (NaN too), naming its position."""
    items = prob if isinstance(prob, (list, tuple)) else [prob]
    for i, p in enumerate(items):
        d = np.asarray(p.data if isinstance(p, Value) else p, dtype=np.float64)
        bad = ~((d >= 0.0) & (d <= 1.0))
        if np.any(bad):
            j = int(np.flatnonzero(np.atleast_1d(bad))[0])
            where = f"index {j}" if isinstance(prob, Value) else f"index {i}"
            if isinstance(prob, (list, tuple)) and d.ndim:
                where += f" (example {j})"
            raise ValueError(f"{name}: probabilities must be within [0, 1], got "
                             f"{float(np.atleast_1d(d)[j])!r} at {where}; from logits use "
                             f"binary_cross_entropy_with_logits")


def binary_cross_entropy_with_logits(logit, target, reduction="mean"):
    """BCE of sigmoid(z), computed as softplus(z) - t*z: never overflows, never log(0)."""
    _check_binary(target, (0, 1), "binary_cross_entropy_with_logits", exact=False)
    return _pairwise(logit, target, lambda z, t: z.softplus() - t * z, reduction)


def l2(params, weight=1.0):
    """weight * sum of p^2 (add it to the loss for weight decay), as one `dot` of the parameters
    with themselves: 0.0 + p0*p0 + p1*p1 + ... and 2 p gradients, the very numbers of
    `sum(p * p for p in params)`, in one node instead of one per parameter.

        >>> from autograd import Value
        >>> ps = [Value(1.0), Value(-2.0)]
        >>> loss = l2(ps, 0.5)
        >>> loss.backward()
        >>> loss.data, [p.grad for p in ps]
        (2.5, [1.0, -2.0])
    """
    params = list(params)
    return weight * autograd.dot(params, params)


def log_softmax(logits):
    """[s_k - logsumexp(s)] for a list of K Values, s = z - max(z) (see `_shifted`): stable,
    as torch.log_softmax.

        >>> from autograd import Value
        >>> [round(p.data, 6) for p in log_softmax([Value(1000.0), Value(1000.0)])]
        [-0.693147, -0.693147]
    """
    shifted = _shifted(logits)
    lse = autograd.logsumexp(shifted)
    return [s - lse for s in shifted]


def softmax(logits):
    """[exp(s_k) / sum_j exp(s_j)] for a list of K Values, s = z - max(z): stable.

        >>> from autograd import Value
        >>> [round(p.data, 6) for p in softmax([Value(1000.0), Value(0.0)])]
        [1.0, 0.0]
    """
    exps = [s.exp() for s in _shifted(logits)]
    total = autograd.sum(exps)
    return [e / total for e in exps]


def _shifted(logits):
    """[z_k - m], m = max(z) per example as a node whose derivative is 0 (autograd.max_detached,
    as PyTorch's `z - z.max().detach()`): exp(z_k - m) <= 1 never overflows, z_k - m is exact
    near the max, the gradients are those of z (softmax does not change when every z_k moves
    by the same amount), and compiled code computes m for each example at every call."""
    logits = list(logits)
    m = autograd.max_detached(logits)
    return [z - m for z in logits]


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy from logits (log-sum-exp inside).

    logits: K Values (one per class; scalar or batched), or a list of such lists, one per
    example. target: a class index (an int, or an int array for a batch) or one-hot
    (K numbers, or an (n, K) array).
    """
    logits = list(logits)
    if logits and isinstance(logits[0], (list, tuple)):  # one graph per example
        targets = list(target)
        if len(targets) != len(logits):
            raise ValueError(f"{len(logits)} examples of logits but {len(targets)} targets")
        return _reduce([_cross_entropy_one(z, t) for z, t in zip(logits, targets)], reduction)
    return _reduce(_cross_entropy_one(logits, target), reduction)


def _cross_entropy_one(logits, target):
    batched = any(isinstance(z, Value) and isinstance(z.data, np.ndarray) for z in logits)
    batched = batched or np.ndim(target) == 2
    onehot = _one_hot_columns(target, len(logits), batched=batched)
    indices = not isinstance(target, (list, tuple)) and np.ndim(target) == (1 if batched else 0)
    if not indices and not _exact_one_hot(onehot):  # soft targets, or Values: -sum_k t_k log_softmax_k
        return -autograd.dot(log_softmax(logits), onehot)
    # One 1 per example: lse - s_target, the very numbers of -sum_k t_k (s_k - lse) (the zero
    # terms add nothing and a - b = -(b - a) exactly; backward too: each s_k gets the same two
    # terms), with one node where that form has K + 1.
    shifted = _shifted(logits)
    return autograd.logsumexp(shifted) - autograd.dot(shifted, onehot)


def _exact_one_hot(columns):
    """Whether the target columns are numbers (not Values) with exactly one 1 and zeros
    elsewhere per example."""
    if any(isinstance(c, Value) for c in columns):
        return False
    t = np.array(columns, dtype=np.float64)
    return bool(((t == 0.0) | (t == 1.0)).all() and (t.sum(axis=0) == 1.0).all())


def _one_hot_columns(target, k, batched):
    """Targets -> K columns (numbers, or arrays over the batch): column j is [target == j].
    For one example a 1-D target is one-hot; for a batch a 1-D target holds class indices."""
    if isinstance(target, (list, tuple)) and any(isinstance(c, Value) for c in target):
        if len(target) != k:  # one-hot columns as Values (e.g. under autograd.compile)
            raise ValueError(f"cross_entropy: {len(target)} one-hot columns for {k} classes")
        return list(target)
    t = np.asarray(target)
    if t.ndim == (1 if batched else 0):  # class indices
        if t.dtype.kind not in "iu" and not (t.dtype.kind == "f" and np.all(t == np.round(t))):
            raise ValueError(f"cross_entropy: class indices must be integers, got {target!r}")
        bad = np.atleast_1d((t < 0) | (t >= k))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"cross_entropy: class indices must be in [0, {k}), got "
                             f"{np.atleast_1d(t)[i].item()!r} at index {i}")
        idx = t.astype(np.int64)
        if batched:  # column j = [idx == j], all K at once
            return list((idx == np.arange(k)[:, None]).astype(np.float64))
        return [float(idx == j) for j in range(k)]
    t = t.astype(np.float64)
    if t.ndim != (2 if batched else 1) or t.shape[-1] != k:
        raise ValueError(f"cross_entropy: one-hot targets need shape {'(n, ' if batched else '('}{k}), "
                         f"got {t.shape}")
    return [t[:, j] for j in range(k)] if batched else [float(v) for v in t]


def _check_binary(target, allowed, name, exact=True):
    t = np.asarray(target.data if isinstance(target, Value) else target, dtype=np.float64)
    if exact:
        bad = ~np.isin(t, allowed)
    else:
        bad = (t < allowed[0]) | (t > allowed[1]) | np.isnan(t)
    if np.any(bad):
        i = int(np.flatnonzero(np.atleast_1d(bad))[0])
        lo, hi = allowed
        must = f"{lo:g} or {hi:g}" if exact else f"between {lo:g} and {hi:g}"
        raise ValueError(f"{name}: targets must be {must}, got {float(np.atleast_1d(t)[i])!r} at index {i}")
