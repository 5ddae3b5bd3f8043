"""Hold a hand-derived numpy backprop against exact gradients, and say which mistake it made.

    >>> import numpy as np
    >>> import autograd
    >>> X, y = np.array([[0., 1.], [1., 1.], [2., 0.]]), np.array([1., 0., 1.])
    >>> def loss(p, X, y):                       # the user's numpy forward pass
    ...     out = 1 / (1 + np.exp(-(X @ p['w'])))
    ...     return 0.5 * np.sum((out - y) ** 2)
    >>> w = np.array([0.3, -0.2])
    >>> out = 1 / (1 + np.exp(-(X @ w)))
    >>> autograd.check_backprop(loss, {'w': w}, {'w': X.T @ ((out - y) * out * (1 - out))}, args=(X, y))
    BackpropReport(ok=True, parameters=['w'])

The exact gradients come from running `loss_fn` on lifted parameters (`autograd.lift`: numpy
code on Values) and one reverse sweep. A mismatch is diagnosed by holding the hand array
against transformations of the exact one: transposed, negated, scaled by a constant (named:
1/N, N, 2, ...), not summed over the batch, plus or minus the weight-decay term, the gradient
with an activation's derivative left out (a missing ReLU mask, a missing 1 - tanh²), off only
where the exact gradient is 0, zero everywhere.
"""
from __future__ import annotations

import numbers

import numpy as np

from .backward import topological_order
from .gradcheck import GradcheckError
from .lifted import ValueArray, lift
from .value import Value, _set_grad_enabled

ACTIVATIONS = ("relu", "tanh", "sigmoid", "clamp", "leaky_relu", "softplus")
_DERIVATIVE = {"relu": "the ReLU's mask (z > 0)", "tanh": "tanh's derivative (1 - a**2)",
               "sigmoid": "the sigmoid's derivative (s * (1 - s))", "clamp": "the clamp's mask",
               "leaky_relu": "leaky ReLU's slope", "softplus": "softplus's derivative (sigmoid(z))"}


class Row:
    """One parameter's comparison: errors, the worst element, and a diagnosis when it differs."""

    def __init__(self, name, shape, hand_shape, ok, max_abs=0.0, max_rel=0.0, index=None,
                 hand=None, exact=None, diagnosis="", note=""):
        self.name, self.shape, self.hand_shape, self.ok = name, shape, hand_shape, ok
        self.max_abs, self.max_rel, self.index = max_abs, max_rel, index
        self.hand, self.exact, self.diagnosis, self.note = hand, exact, diagnosis, note

    def __repr__(self):
        return f"Row({self.name!r}, ok={self.ok}, diagnosis={self.diagnosis!r})"


class BackpropReport:
    """What `check_backprop` found: truthy when every parameter matches; `str()` is the table.

    `rows` (one `Row` per parameter), `exact` (name -> the exact gradient array), `loss` (the
    loss as a Value, root of the graph: `autograd.draw(report.loss)` draws the forward pass).
    """

    def __init__(self, rows, exact, loss, rtol, atol):
        self.rows, self.exact, self.loss, self.rtol, self.atol = rows, exact, loss, rtol, atol

    def __bool__(self):
        return all(r.ok for r in self.rows)

    @property
    def mismatched(self):
        return [r.name for r in self.rows if not r.ok]

    def __getitem__(self, name):
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no parameter {name!r} in this report (parameters: {[r.name for r in self.rows]})")

    def __str__(self):
        bad = self.mismatched
        head = (f"check_backprop: all {len(self.rows)} hand-derived gradients match the exact ones"
                if not bad else
                f"check_backprop: {len(bad)} of {len(self.rows)} hand-derived gradients differ "
                f"from the exact ones")
        head += f" (rtol={self.rtol:g}, atol={self.atol:g})"
        cols = ["parameter", "shape", "max abs err", "max rel err", "worst at", "hand", "exact", ""]
        table = [cols]
        for r in self.rows:
            idx = "-" if r.index is None else "[" + ", ".join(map(str, r.index)) + "]"
            table.append([r.name, str(r.shape) + ("" if r.hand_shape == r.shape else f" hand {r.hand_shape}"),
                          _g(r.max_abs), _g(r.max_rel), idx, _g(r.hand), _g(r.exact),
                          "ok" if r.ok else "MISMATCH"])
        widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
        lines = [head] + ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        diagnosed = [r for r in self.rows if not r.ok and r.diagnosis]
        if diagnosed:
            lines.append("diagnosis:")
            lines += [f"  {r.name}: {r.diagnosis}" for r in diagnosed]
        notes = [r for r in self.rows if r.note]
        if notes:
            lines.append("notes:")
            lines += [f"  {r.name}: {r.note}" for r in notes]
        return "\n".join(lines)

    def __repr__(self):
        if self:
            return f"BackpropReport(ok=True, parameters={[r.name for r in self.rows]})"
        return f"BackpropReport(ok=False):\n{self}"


def _g(x):
    if x is None:
        return "-"
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def check_backprop(loss_fn, params, grads, *, args=(), rtol=1e-7, atol=1e-10, raise_exception=True):
    """Compare hand-derived gradients with exact ones from reverse mode on the user's own numpy code.

    `params` and `grads` are dicts of numpy arrays with the same keys; `loss_fn(params, *args)` is
    numpy code returning the scalar loss; it is called once with lifted parameters (arrays of
    Values, see `autograd.lift`) and a few times with floats (a finite-difference check that all
    of it ran on Values). An element matches when |hand - exact| <= atol + rtol * |exact|.
    On a mismatch raises `autograd.GradcheckError` whose message is the table: a row per
    parameter (max abs and rel error, rel = |hand - exact| / max(|hand|, |exact|), the worst
    element, its hand and exact values) and a diagnosis for each mismatch; with
    `raise_exception=False` returns the `BackpropReport` instead (truthy when all match).

        >>> import numpy as np, autograd
        >>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> r = autograd.check_backprop(lambda p: np.sum(p['W'] ** 2), {'W': W}, {'W': -2 * W},
        ...                             raise_exception=False)
        >>> bool(r), r['W'].diagnosis.split(':')[0]
        (False, 'sign flipped')
    """
    if not callable(loss_fn):
        raise TypeError(f"check_backprop: loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(args, tuple):
        raise TypeError(f"check_backprop: args must be a tuple, got {type(args).__name__} "
                        f"(for one argument write args=(X,))")
    params, grads = _inputs(params, grads)
    lifted = {k: lift(v, k) for k, v in params.items()}
    given = {k: v.copy() for k, v in lifted.items()}  # loss_fn may write into these (W *= 2)
    was = _set_grad_enabled(True)  # inside no_grad() too: the graph is the point
    try:
        root = _loss_value(loss_fn(given, *args))
    finally:
        _set_grad_enabled(was)
    if not np.isfinite(root.data):
        raise ValueError(f"check_backprop: loss_fn gave a non-finite loss ({root.data}) at these parameters")
    exact = _gradients(root, lifted, {})
    _finite_difference_check(loss_fn, params, args, exact, root.data)
    ctx = _Context(root, lifted, params, exact, args, rtol, atol)
    rows = [_compare(k, params[k], grads[k], exact[k], ctx) for k in params]
    report = BackpropReport(rows, exact, root, rtol, atol)
    if not report and raise_exception:
        raise GradcheckError(str(report))
    return report


def _inputs(params, grads):
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"check_backprop: params and grads must be dicts of numpy arrays, got "
                        f"{type(params).__name__} and {type(grads).__name__}")
    if not params:
        raise ValueError("check_backprop: params is empty")
    missing, extra = [k for k in params if k not in grads], [k for k in grads if k not in params]
    if missing or extra:
        raise ValueError(f"check_backprop: params and grads need the same keys; "
                         + (f"no hand gradient for {missing}" if missing else "")
                         + ("; " if missing and extra else "")
                         + (f"grads has {extra}, which params lacks" if extra else ""))
    out_p, out_g = {}, {}
    for k in params:
        if not isinstance(k, str):
            raise TypeError(f"check_backprop: parameter names must be str (they label the Values), got {k!r}")
        for what, d, out in (("params", params, out_p), ("grads", grads, out_g)):
            a = d[k]
            if isinstance(a, ValueArray):
                raise TypeError(f"check_backprop: {what}[{k!r}] is a lifted array; pass the numbers")
            try:
                a = np.asarray(a)
            except Exception as e:  # noqa: BLE001 - anything numpy refuses is reported the same way
                raise TypeError(f"check_backprop: {what}[{k!r}] is not an array ({e})") from None
            if a.dtype.kind not in "biuf":
                raise TypeError(f"check_backprop: {what}[{k!r}] must be a numeric array, got "
                                f"{type(d[k]).__name__} of dtype {a.dtype}")
            out[k] = a.astype(np.float64)
    return out_p, out_g


def _loss_value(out):
    if isinstance(out, ValueArray) or isinstance(out, np.ndarray) and out.dtype == object:
        if out.size != 1:
            raise ValueError(f"check_backprop: loss_fn must return a scalar loss; it returned an "
                             f"array of shape {out.shape} (sum or average it)")
        out = out.ravel()[0] if out.ndim else out[()]
        if isinstance(out, ValueArray):
            out = out.item()
    if type(out) is Value:
        if type(out.data) is not float:
            raise ValueError("check_backprop: loss_fn returned a batched Value; reduce it to a scalar")
        return out
    if isinstance(out, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError("check_backprop: loss_fn returned plain numbers, which do not depend on the "
                        "parameters: part of it turned the lifted arrays into floats (float(), "
                        "np.asarray(..., dtype=float), .astype(float), math.exp, writing into a float "
                        "array); keep numpy operations on the arrays it receives")
    raise TypeError(f"check_backprop: loss_fn must return the scalar loss, got {type(out).__name__}")


def _float_loss(loss_fn, params, args):
    out = loss_fn({k: v.copy() for k, v in params.items()}, *args)
    return float(np.asarray(out, dtype=np.float64).reshape(-1)[0])


def _finite_difference_check(loss_fn, params, args, exact, loss):
    """One directional derivative by central differences against the exact gradient: catches a
    forward pass that left the Values part of the way (the exact gradient would miss that part)."""
    rng = np.random.default_rng(12)
    for attempt in range(2):
        d = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        scale = max([1.0] + [float(np.max(np.abs(v))) for v in params.values() if v.size])
        h = 1e-6 * scale / 10 ** attempt
        try:
            plus = _float_loss(loss_fn, {k: v + h * d[k] for k, v in params.items()}, args)
            minus = _float_loss(loss_fn, {k: v - h * d[k] for k, v in params.items()}, args)
        except Exception:  # noqa: BLE001 - loss_fn may run only on lifted arrays: nothing to check
            return
        numeric = (plus - minus) / (2 * h)
        analytic = float(sum(np.sum(exact[k] * d[k]) for k in params))
        # rounding in the two losses is ~1e-16 * loss / h; allow far more (sums that cancel)
        if abs(numeric - analytic) <= 1e-4 * max(abs(numeric), abs(analytic)) + 1e-10 * (abs(loss) + 1) / h:
            return
    raise ValueError(
        f"check_backprop: the exact gradient does not fit loss_fn's own numbers (directional "
        f"derivative {analytic:.6g} by reverse mode, {numeric:.6g} by finite differences): part "
        f"of loss_fn does not run on the lifted arrays (float(), np.asarray(x, dtype=float), "
        f".astype(float), writing Values into a float array), or the loss is not a smooth "
        f"function of the parameters there")


class _Context:
    """What the diagnoses may need beyond the two arrays: batch sizes, the graph, other exacts."""

    def __init__(self, root, lifted, params, exact, args, rtol, atol):
        self.root, self.lifted, self.params, self.rtol, self.atol = root, lifted, params, rtol, atol
        # the batch size: a length every array argument has (X and y), else X's first axis
        dims = [{s for s in a.shape if s > 1} for a in args if isinstance(a, np.ndarray) and a.ndim >= 1]
        arrays = [a for a in args if isinstance(a, np.ndarray) and a.ndim >= 1]
        self.batch = sorted(set.intersection(*dims) if len(dims) > 1 else
                            {arrays[0].shape[0]} - {1} if arrays else set())
        self.exact = exact
        self._without = {}

    def without(self, key):
        """The gradients with one layer's activation derivative taken as 1 (a hand backprop
        that forgot it); `key` is one of `activations()`."""
        if key not in self._without:
            self._without[key] = _gradients(self.root, self.lifted, self.activations()[key])
        return self._without[key]

    def activations(self):
        """(activation, layer) -> {activation node: its input}: relu, tanh, ..., and sigmoid also
        when written out as 1 / (1 + np.exp(-z)); a layer is named by the weights feeding it."""
        if not hasattr(self, "_acts"):
            self._acts = {}
            for v in topological_order(self.root):
                z = v._a if v.op in ACTIVATIONS else _written_sigmoid(v)
                if z is not None:
                    act = v.op if v.op in ACTIVATIONS else "sigmoid"
                    self._acts.setdefault((act, _layer(z)), {})[v] = z
        return self._acts


def _written_sigmoid(v):
    """z when v is 1 / (1 + exp(-z)) (the way tutorials write the sigmoid), else None."""
    if v.op != "div" or v._a.op or v._a.data != 1.0 or v._b.op != "add":
        return None
    one, e = v._b._a, v._b._b
    if e.op != "exp":
        one, e = e, one
    if one.op or one.data != 1.0 or e.op != "exp" or e._a.op != "neg":
        return None
    return e._a._a


def _layer(z, depth=4):
    """The name of the lifted weights that a pre-activation z is computed from ('' if none)."""
    frontier = [z]
    for _ in range(depth):
        nxt = []
        for v in frontier:
            if v.op == "dot":
                labels = [p.label for p in v.parents if not p.parents and p.label]
                if labels:
                    return labels[0].split("[")[0]
            nxt.extend(p for p in v.parents if p.parents)
        frontier = nxt
    return ""


def _gradients(root, lifted, skip):
    """d root / d (each lifted parameter), by one reverse sweep over the graph's float data.

    The same chain rule as `autograd.backward` with the rules of `ops`, but the rules of the
    many-input nodes (`dot`: (g * xs, g * ws); `sum`: g for each) run on whole numpy arrays and
    their gradients are added with one np.add.at: a 10^4-weight layer has ~10^6 edges, which a
    Python loop per edge would take seconds over. `skip` (activation node -> its input) hands
    that node's gradient straight to the input: a backprop that forgot the derivative.
    Leaves' `.grad` are left alone.
    """
    from . import ops
    topo = topological_order(root)
    index = {v: i for i, v in enumerate(topo)}
    data = [v.data for v in topo]
    D = np.array(data, dtype=np.float64)
    g = [0.0] * len(topo)        # from one- and two-input nodes
    G = np.zeros(len(topo))      # from many-input nodes
    g[index[root]] = 1.0
    DOT, SUM = ops.DOT, ops.SUM
    for k in range(len(topo) - 1, -1, -1):
        node = topo[k]
        op = node._op
        if op is None:
            continue
        gk = g[k] + float(G[k])
        if node in skip:
            g[index[skip[node]]] += gk
        elif op.arity == 1:
            a = node._a
            ga, = op.backward(gk, data[k], a.data, node._b) if op.has_k else op.backward(gk, data[k], a.data)
            g[index[a]] += ga
        elif op.arity == 2:
            a, b = node._a, node._b
            ga, gb = op.backward(gk, data[k], a.data, b.data)
            g[index[a]] += ga
            g[index[b]] += gb
        else:
            ids = np.array(list(map(index.__getitem__, node._a)), dtype=np.intp)
            if op is DOT:
                n = len(ids) // 2
                contrib = gk * np.concatenate([D[ids[n:]], D[ids[:n]]])
            elif op is SUM:
                contrib = np.full(len(ids), gk)
            else:
                xs = [data[i] for i in ids]
                contrib = np.array([float(x) for x in (op.backward(gk, data[k], xs, node._b) if op.has_k
                                                        else op.backward(gk, data[k], xs))])
            np.add.at(G, ids, contrib)
    out = {}
    for name, arr in lifted.items():
        items = arr.view(np.ndarray).ravel().tolist()
        out[name] = np.array([g[index[v]] + G[index[v]] if v in index else 0.0 for v in items],
                             dtype=np.float64).reshape(arr.shape)
    return out


# -- comparing one parameter ---------------------------------------------------------------------
def _close(a, b, ctx):
    """Equal up to rounding (a looser bar than the check's own: for recognising a pattern)."""
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= ctx.atol + max(ctx.rtol, 1e-6) * np.abs(b)
                                              + 1e-9 * scale))


def _compare(name, p, hand, exact, ctx):
    note = ""
    if hand.shape != p.shape:
        fits = hand.size == p.size and _broadcasts_to(hand.shape, p.shape)
        if not fits:
            return _shape_row(name, p, hand, exact, ctx)
        note = (f"grads[{name!r}] has shape {hand.shape} for a parameter of shape {p.shape}: compared "
                f"after reshaping ({name} - lr * grad keeps the shape {p.shape})")
        hand = hand.reshape(p.shape)
    err = np.abs(hand - exact)
    tol = ctx.atol + ctx.rtol * np.abs(exact)
    bad = ~(err <= tol)  # NaN compares False: a mismatch
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(err == 0, 0.0, err / np.maximum(np.abs(hand), np.abs(exact)))
    if p.size == 0:
        return Row(name, p.shape, hand.shape, True, note=note)
    worst = int(np.argmax(np.where(bad, np.nan_to_num(err - tol, nan=np.inf), -np.inf))) if bad.any() \
        else int(np.argmax(err))
    index = tuple(int(i) for i in np.unravel_index(worst, p.shape))
    row = Row(name, p.shape, hand.shape if not note else p.shape, not bad.any(),
              float(np.nan_to_num(err, nan=np.inf).max()), float(np.nan_to_num(rel, nan=np.inf).max()),
              index, float(hand.ravel()[worst]), float(exact.ravel()[worst]), note=note)
    if not row.ok:
        row.diagnosis = _diagnose(name, p, hand, exact, bad, ctx)
    return row


def _broadcasts_to(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _diagnose(name, p, hand, exact, bad, ctx):
    if not np.all(np.isfinite(hand)):
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(hand))[0])
        return f"not finite: grads[{name!r}] holds {hand[i]} at {list(i)}"
    if not exact.any():
        return ("the exact gradient is 0 everywhere: the loss does not depend on this parameter at these "
                "numbers (a layer whose units are all inactive, or a parameter loss_fn does not use)")
    if not hand.any():
        return "zero everywhere: the hand gradient is all zeros (never filled in, or cut off upstream)"
    if _close(hand, -exact, ctx):
        return ("sign flipped: hand == -exact everywhere (the gradient of -loss: (y - out) where "
                "(out - y) belongs, or a step's minus sign folded into the gradient)")
    if hand.ndim == 2 and hand.shape[0] == hand.shape[1] and _close(hand, exact.T, ctx):
        return f"transposed: hand == exact.T (a product in the wrong order, e.g. delta.T @ X for X.T @ delta)"
    c = float(np.sum(hand * exact) / np.sum(exact * exact))
    if np.isfinite(c) and c != 0 and _close(hand, c * exact, ctx):
        return _scaled(c, ctx)
    diff = hand - exact
    if p.any() and exact.size > 2:  # a * exact + lam * p: a wrong factor in the loss term, not in the L2 term
        (a, lam), *_ = np.linalg.lstsq(np.stack([exact.ravel(), p.ravel()], axis=1), hand.ravel(), rcond=None)
        if abs(a - 1) > 1e-6 and lam != 0 and _close(hand, a * exact + lam * p, ctx) and not _close(hand, a * exact, ctx):
            if abs(a + 1) <= 1e-6:
                return ("sign flipped in the data term: hand == -(exact - reg * W) + reg * W (the "
                        "weight-decay term has the right sign, the gradient of the rest is negated)")
            return f"the data term's gradient is {_scaled(float(a), ctx)}; the weight-decay term is right"
    if p.any():
        lam = float(np.sum(diff * p) / np.sum(p * p))
        if lam != 0 and _close(diff, lam * p, ctx):
            what = "missing" if lam < 0 else "extra"
            return (f"off by {lam:.6g} * {name}: the weight-decay term's gradient (reg * {name}) is "
                    f"{what} (hand - exact = {lam:.6g} * {name}; reg = {abs(lam):.6g})")
    for act, layer in ctx.activations():
        alt = ctx.without((act, layer))[name]
        if not _close(exact, alt, ctx) and _close(hand, alt, ctx):
            after = f" after {layer}" if layer else ""
            head = ("off only where the activation is inactive" if act in ("relu", "clamp")
                    else "an activation's derivative is missing")
            return (f"{head}: hand equals the gradient with {_DERIVATIVE[act]}{after} left out; "
                    f"multiply by it in the backward pass")
    inactive = exact == 0
    if bad.any() and inactive.any() and np.all(inactive[bad]):
        return (f"off only where the exact gradient is 0 ({int(bad.sum())} of {bad.size} elements): "
                f"where an activation is inactive (a ReLU unit that does not fire, a saturated clamp), "
                f"which the hand gradient does not mask")
    return "no simple pattern (not transposed, negated, scaled, or a missing activation derivative)"


def _scaled(c, ctx):
    names = []
    for n in ctx.batch:
        names += [(float(n), f"N = {n}", f"N (N = {n}): a mean's 1/N missing (the loss averages over "
                                         f"the {n} examples, the hand gradient sums them)"),
                  (1.0 / n, f"1/N", f"1/N (N = {n}): the hand gradient averages over the {n} examples "
                                    f"where the loss sums them (or divides by N twice)")]
    names += [(2.0, "2", "2: the derivative of x**2 is 2x; the loss and the hand gradient disagree "
                         "about a factor 0.5"),
              (0.5, "1/2", "1/2: the derivative of x**2 is 2x; the loss and the hand gradient disagree "
                           "about a factor 0.5 (a 2 dropped)")]
    for value, _, text in names:
        for sign in (1.0, -1.0):
            if abs(c - sign * value) <= 1e-6 * value:
                return f"scaled by {'-' if sign < 0 else ''}{text}" + (" and sign flipped" if sign < 0 else "")
    k = round(1 / c) if abs(c) < 1 else round(c)
    if k and abs((1 / c if abs(c) < 1 else c) - k) <= 1e-6 * abs(k):
        return f"scaled by a constant: hand == {'1/' if abs(c) < 1 else ''}{abs(k)} * exact" + \
            (" (and sign flipped)" if c < 0 else "")
    return f"scaled by a constant: hand == {c:.6g} * exact"


def _shape_row(name, p, hand, exact, ctx):
    row = Row(name, p.shape, hand.shape, False, max_abs=None, max_rel=None)
    row.diagnosis = _shape_cause(name, p, hand, exact, ctx)
    return row


def _shape_cause(name, p, hand, exact, ctx):
    head = f"shape mismatch: grads[{name!r}] has shape {hand.shape}, params[{name!r}] {p.shape}"
    if hand.size == p.size and hand.ndim == p.ndim == 2 and hand.shape == p.shape[::-1]:
        same = _close(hand.T, exact, ctx)
        return (f"{head}: transposed (a product in the wrong order, e.g. delta.T @ X for X.T @ delta)"
                + ("; grads.T equals the exact gradient" if same else "; and grads.T still differs"))
    if hand.size == p.size:
        same = _close(hand.reshape(p.shape), exact, ctx)
        return (f"{head}: the same number of elements, but {name} - lr * grad would broadcast to "
                f"{_broadcast(p.shape, hand.shape)}" + ("; the numbers are right: reshape it" if same else ""))
    for ax in range(hand.ndim):  # one axis too many: the examples, not summed
        for keep in (True, False):
            reduced = hand.sum(axis=ax, keepdims=keep)
            if reduced.size == p.size and _broadcasts_to(reduced.shape, p.shape):
                n = hand.shape[ax]
                batch = f"the batch: {n} examples" if n in ctx.batch else f"{n} rows"
                verdict = ""
                r = reduced.reshape(p.shape)
                if _close(r, exact, ctx):
                    verdict = f"; its sum over axis {ax} equals the exact gradient"
                elif _close(r / n, exact, ctx):
                    verdict = f"; its mean over axis {ax} equals the exact gradient"
                return (f"{head}: not summed over the batch: axis {ax} has one entry per example ({batch}); "
                        f"np.sum(..., axis={ax}{', keepdims=True' if keep else ''}) gives the "
                        f"parameter's shape" + verdict)
    if hand.size == 1 and p.size > 1:
        return f"{head}: a single number: summed over every axis, where only the batch axis should go"
    for other, arr in ctx.params.items():
        if other != name and arr.shape == hand.shape:
            same = _close(hand, ctx.exact[other], ctx)
            return (f"{head}, the shape of params[{other!r}]: keys swapped?"
                    + (f" (it equals the exact gradient of {other})" if same else ""))
    return head


def _broadcast(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return "an error"


__all__ = ["check_backprop", "BackpropReport"]
