"""nn.fit(compile=True)'s step: traced once per model, or found without a trace.

Within a process the step is kept per model, loss, regularization and parameter list, so a
later fit call pays no set-up. Across processes, for nn's own pieces the whole graph is known
without running the loss: an `MLP` (exactly that class, its layers and neurons unchanged in
kind), a loss of `fit.LOSSES` (by name or as nn.losses' own function), no regularization or
`L2(weight)`, and the batch shapes determine it, together with the sources of nn and autograd
(hashed). The C program is then looked up in the compile cache by that description (an alias
entry beside the library, see autograd/compiler/cache.py) and run without tracing. Anything
else (a loss or regularization of your own, a subclass, a shared weight) is traced as before.

    >>> import numpy as np
    >>> from nn import MLP
    >>> model = MLP(2, [3, 1], seed=0)
    >>> describe(model, LOSSES["hinge"], L2(1e-4), model.parameters()) is not None
    True
    >>> describe(model, lambda out, y: ((out - y) ** 2).mean(), None, model.parameters()) is None
    True
"""
from __future__ import annotations

import hashlib
import math
import operator
import os
import sys
import weakref

import numpy as np

import autograd
import autograd.ops
import autograd.value
from autograd import Value
from autograd.compiler import flat as flat_mod

from . import losses as losses_mod
from . import module as module_mod
from .data import one_hot
from .module import MLP, Layer, Module, Neuron

LOSSES = {
    "mse": losses_mod.mse,
    "hinge": losses_mod.hinge,
    "binary_cross_entropy": losses_mod.binary_cross_entropy,
    "binary_cross_entropy_with_logits": losses_mod.binary_cross_entropy_with_logits,
    "cross_entropy": losses_mod.cross_entropy,
}
_OWN_LOSSES = dict(LOSSES)  # held, so their ids stay theirs
_LOSS_NAMES = {id(f): name for name, f in _OWN_LOSSES.items()}
# what the traced graph of an MLP depends on besides its sizes and activations: the code of these
# modules and classes as imported (a function or method replaced at run time means: trace)
_WATCHED = (module_mod, losses_mod, autograd, autograd.ops, autograd.value, MLP, Layer, Neuron, Module, Value)
_SNAPSHOT = [(obj, dict(vars(obj))) for obj in _WATCHED]
_TABLES = (dict(module_mod.ACTIVATIONS), dict(module_mod._ROWWISE))
_MISSING = object()


class L2:
    """An L2 penalty for fit's `regularization`: weight * sum of p^2 over model.parameters()
    (`nn.losses.l2`). The same numbers as `lambda m: losses.l2(m.parameters(), weight)`, but
    fit knows what it computes: a compiled fit of an MLP then finds its program in the cache
    without tracing (see nn.compiled_fit).

        >>> from nn import MLP, losses
        >>> model = MLP(2, [1], seed=0)
        >>> L2(0.5)(model).data == losses.l2(model.parameters(), 0.5).data
        True
    """

    __slots__ = ("_weight",)

    def __init__(self, weight):
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)):
            raise TypeError(f"L2: weight must be a number, got {type(weight).__name__}")
        weight = float(weight)
        if not math.isfinite(weight):
            raise ValueError(f"L2: weight must be a finite number, got {weight!r}")
        self._weight = weight

    @property
    def weight(self):
        return self._weight  # read-only: a compiled step holds it

    def __call__(self, model):
        return losses_mod.l2(model.parameters(), self.weight)

    def __eq__(self, other):
        return type(other) is L2 and repr(other.weight) == repr(self.weight)

    def __hash__(self):
        return hash(repr(self.weight))

    def __repr__(self):
        return f"L2({self.weight!r})"


def describe(model, loss_fn, regularization, params):
    """A text naming everything the compiled step's graph depends on except the batch shapes,
    or None when that cannot be known without tracing. `params` (the optimizer's) must be
    the model's own parameters, in order."""
    if type(model) is not MLP or _code_changed():
        return None
    name = _LOSS_NAMES.get(id(loss_fn))
    if name is None:
        return None
    if regularization is None:
        reg = "none"
    elif type(regularization) is L2 and type(regularization.weight) is float and math.isfinite(regularization.weight):
        reg = f"l2 {regularization.weight!r}"
    else:
        return None
    layers = model.layers
    if type(layers) is not list or not layers:
        return None
    expected, arch = [], []
    for layer in layers:
        ns = getattr(layer, "neurons", None)
        if type(layer) is not Layer or type(ns) is not list or not ns or type(layer.nin) is not int:
            return None
        acts = []
        for n in ns:
            if type(n) is not Neuron or type(n.w) is not list or len(n.w) != layer.nin:
                return None
            acts.append(n.activation)
            expected += n.w
            expected.append(n.b)
        if not all(type(a) is str and a in module_mod.ACTIVATIONS for a in acts + [layer.activation]):
            return None
        arch.append([layer.nin, len(ns), layer.activation, _runs(acts)])
    if name == "binary_cross_entropy" and not (len(ns) == 1 and acts == ["sigmoid"]):
        return None  # its probabilities check runs on the traced batch's outputs: trace
    if name != "cross_entropy" and len(ns) != 1:
        return None  # one output per example: targets of shape (n,)
    if not (len(params) == len(expected) and params == expected and _own_parameters(model, layers)):
        return None  # the optimizer's parameters are model.parameters() (== on Values: identity)
    # parameters are leaves (their data become numbers in fit's float64 read, which refuses arrays)
    if not all(type(p) is Value and p._op is None for p in expected):
        return None
    if len(set(expected)) != len(expected):
        return None  # (Values hash by identity) a weight in two places: another graph
    return (f"valuegrad nn.fit compiled step\nsources {sources_version()}\npython {sys.version_info[:3]} "
            f"numpy {np.__version__}\nfloat64\nloss {name}\nregularization {reg}\nMLP {arch!r}\n")


_MODULE_ATTRS = {MLP: {"layers", "nin", "nouts", "config", "training"},
                 Layer: {"neurons", "nin", "nout", "activation", "training"},
                 Neuron: {"w", "b", "activation", "nin", "training"}}


def _own_parameters(model, layers):
    """Whether model.parameters() is the neurons' (w..., b) layer by layer, as `describe` lists
    them: Module.parameters walks each module's attributes, so no module holds any other
    (a Value or a Module added by hand would join the parameters, and an L2 penalty's dot)."""
    if not _MODULE_ATTRS[MLP].issuperset(vars(model)) or type(model.config) is not dict:
        return False  # (a dict is not walked)
    if type(model.nouts) is not list or any(type(x) is not int for x in model.nouts) or type(model.nin) is not int:
        return False
    la, na = _MODULE_ATTRS[Layer], _MODULE_ATTRS[Neuron]
    for layer in layers:
        attrs = vars(layer)
        seen = attrs.get("_seen")  # what an eager forward learnt about the weights: no parameters
        if seen is not None and type(seen) is not autograd.value._LayerWeights:
            return False
        if not la.issuperset(attrs.keys() - {"_seen"}) or type(layer.nout) is not int:
            return False
        if not all(na.issuperset(vars(n)) and type(n.b) is Value and type(n.nin) is int for n in layer.neurons):
            return False
    return True


def _code_changed():
    """Whether a name of nn.module, nn.losses, autograd, autograd.ops or autograd.value, or an
    attribute of MLP, Layer, Neuron, Module or Value, or an activation, was replaced since import
    (names added to a module later, e.g. a submodule imported, do not count; to a class, they do)."""
    for obj, snap in _SNAPSHOT:
        live = vars(obj)
        if isinstance(obj, type) and len(live) - ("__slotnames__" in live) != len(snap) - ("__slotnames__" in snap):
            return True  # e.g. Layer.__call__ set: it would override Module's (copy and pickle's
            # own cache of slot names, __slotnames__, changes no code)
        for k, v in snap.items():
            if live.get(k, _MISSING) is not v:
                return True
    return (dict(module_mod.ACTIVATIONS), dict(module_mod._ROWWISE)) != _TABLES


def _runs(items):
    """[[item, count], ...]: a layer's activations, usually one run."""
    out = []
    for a in items:
        if out and out[-1][0] == a:
            out[-1][1] += 1
        else:
            out.append([a, 1])
    return out


def signature(model):
    """What a fit call checks again before reusing a step of an MLP: the layers and the
    neurons' activations (changed in place, they make another graph)."""
    if type(model) is not MLP:
        return None
    try:
        return tuple((id(layer), layer.activation, id(layer.neurons), len(layer.neurons),
                      tuple(map(_ACTIVATION, layer.neurons))) for layer in model.layers)
    except (AttributeError, TypeError):
        return ()


_ACTIVATION = operator.attrgetter("activation")
_SOURCES = []


def sources_version():
    """sha256 of nn's and autograd's Python sources: a cached program is found without a
    trace only by the very code that made it."""
    if not _SOURCES:
        h = hashlib.sha256()
        try:
            for pkg in (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(autograd.__file__))):
                for root, dirs, files in os.walk(pkg):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__" and d != "datasets")
                    for f in sorted(files):
                        if f.endswith(".py"):
                            with open(os.path.join(root, f), "rb") as fh:
                                h.update(os.path.relpath(os.path.join(root, f), os.path.dirname(pkg)).encode()
                                         + b"\0" + fh.read() + b"\0")
            _SOURCES.append(h.hexdigest())
        except OSError:  # unreadable sources: never found without a trace
            _SOURCES.append(f"unversioned-{os.getpid()}-{os.urandom(8).hex()}")
    return _SOURCES[0]


class _CompiledStep:
    """The step traced once and run as generated code on the parameters held in one array
    (autograd's FlatStep), so that no per-parameter Python loop runs inside an epoch.
    Class indices become one-hot columns, so that the targets are arguments of the trace.

    Kept per model (weakly: the step holds the model only through a weak reference), per loss,
    regularization and parameter list, so that tracing, code generation and the cache lookup
    are paid once, not at every fit call; each new batch shape is traced once too (autograd's
    CompiledFunction keeps a program per shape). A loss or regularization written as a lambda
    inside a loop of fit calls is a new function object each time, but the same code with the
    same captured objects: it finds the same step. For nn's own models and losses (`describe`)
    a new process finds the program in the cache without tracing; an MLP whose layers or
    activations were changed in place gets a new step. Any other model changed in place
    (other layers, other activations) after a compiled fit needs a new model object or
    `_CompiledStep.forget(model)`.
    """

    _cache = weakref.WeakKeyDictionary()  # model -> {(loss, regularization, n params): step}

    def __init__(self, model, loss_fn, regularization, params):
        self._model = weakref.ref(model)
        self.loss_fn, self.regularization, self.params = loss_fn, regularization, list(params)
        self.n_classes = model.nouts[-1] if hasattr(model, "nouts") else None
        self.one_hot = loss_fn is losses_mod.cross_entropy
        self.signature = signature(model)
        self._last_one_hot = None
        self.modules = model.modules()[1:]  # not the model itself: held weakly
        base = describe(model, loss_fn, regularization, self.params)
        self.loss_name = _LOSS_NAMES.get(id(loss_fn)) if base is not None else None
        describe_shapes = (lambda shapes: base + f"shapes {shapes!r}\n") if base is not None else None
        self.flat = flat_mod.lazy(self._fn, self.params, describe=describe_shapes)

    @classmethod
    def get(cls, model, loss_fn, regularization, params):
        key = (_same_code(loss_fn), _same_code(regularization), len(params))
        try:
            steps = cls._cache.setdefault(model, {})
        except TypeError:  # a model that cannot be weakly referenced: no reuse
            return cls(model, loss_fn, regularization, params)
        step = steps.get(key)
        # the parameter list by identity (list == compares identical items first: ~1 ns each)
        if step is None or step.params != params or (step.signature is not None and step.signature != signature(model)):
            step = steps[key] = cls(model, loss_fn, regularization, params)
        return step

    @classmethod
    def forget(cls, model):
        cls._cache.pop(model, None)

    def _fn(self, Xb, yb):
        model = self._model()
        L = self.loss_fn(model(Xb), yb)
        return L + self.regularization(model) if self.regularization is not None else L

    def targets(self, y):
        """Class indices as one-hot columns (arguments of the trace), for all rows at once; the
        loss's own target checks when the program may run without a trace (a trace runs them
        on its batch)."""
        if self.loss_name == "hinge":
            losses_mod._check_binary(y, (-1, 1), "hinge")
        elif self.loss_name in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
            losses_mod._check_binary(y, (0, 1), self.loss_name, exact=False)
        if not (self.one_hot and np.ndim(y) == 1):
            return y
        last = self._last_one_hot  # the same labels as the last call (compared, not trusted): reused
        if last is not None and last[0].dtype == y.dtype and np.array_equal(last[0], y):
            return last[1]
        k = self.n_classes
        if y.dtype.kind in "iu" and k and len(y) and 0 <= y.min() and y.max() < k:  # (one_hot's checks)
            out = np.zeros((len(y), k))
            out[np.arange(len(y)), y] = 1.0
        else:
            out = one_hot(y, k)  # floats, or a bad label: its checks and messages
        out.flags.writeable = False  # handed out again: nobody writes it
        self._last_one_hot = (y.copy(), out)
        return out

    def train_mode(self):
        """model.train() without walking the model again."""
        self._model().training = True
        for m in self.modules:
            m.training = True


class _Same:
    """An object compared by identity, held (so its id is never reused while a key holds it)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Same and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def _same(obj):
    """Numbers and strings by value (a strength computed again is another float object),
    anything else by identity."""
    if type(obj) in (int, float, bool, str, complex) or obj is None:
        return ("value", type(obj), repr(obj))  # repr: -0.0 is not 0.0
    return _Same(obj)


def _same_code(fn):
    """What a function computes, for reuse: a plain Python function is its code, globals,
    defaults and the very objects its closure captured (a lambda made again with the same
    captures is the same); an L2 is its weight; anything else is itself."""
    if type(fn) is L2:
        return ("L2", repr(fn.weight))
    if type(fn).__name__ != "function":
        return fn
    try:
        captured = tuple(_same(c.cell_contents) for c in fn.__closure__ or ())
    except ValueError:  # a captured variable not assigned yet
        return fn
    defaults = tuple(map(_same, fn.__defaults__ or ()))
    kwdefaults = tuple(sorted((k, _same(v)) for k, v in (fn.__kwdefaults__ or {}).items()))
    return ("function", fn.__code__, _Same(fn.__globals__), defaults, kwdefaults, captured)
