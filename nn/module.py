"""Module, Neuron, Layer, MLP: micrograd's nn.py with PyTorch's names.

A model takes one example (a list of numbers or Values) or a whole batch (a 2-D numpy
array, one row an example) and gives the same numbers both ways:

    >>> import numpy as np
    >>> from nn import MLP
    >>> model = MLP(2, [4, 1], seed=0)
    >>> one = model([0.5, -1.0]).data
    >>> batch = model(np.array([[0.5, -1.0], [2.0, 3.0]])).data
    >>> bool(batch[0] == one)
    True
    >>> len(model.parameters())
    17
"""
from __future__ import annotations

import math
import operator
import random
from collections import OrderedDict

import numpy as np

import autograd
from autograd import Value
from autograd import ops
from autograd.value import _LayerWeights, _biased, _columns, _dots

ACTIVATIONS = {
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "leaky_relu": lambda v: v.leaky_relu(),
    "softplus": lambda v: v.softplus(),
    "gelu": lambda v: v.gelu(),
    "elu": lambda v: v.elu(),
    "silu": lambda v: v.silu(),
    "linear": lambda v: v,
}
INITS = ("micrograd", "xavier", "he")
_ROWWISE = {"relu": ops.RELU, "linear": None}  # exact elementwise forwards: the same bits on a matrix
_activation_of = operator.attrgetter("activation")


class Module:
    """Base class: finds parameters in attributes (Values, Modules, lists of them)."""

    training = True
    _value_lists = ()  # attributes that hold only Values (a neuron's weights): modules() skips them

    def named_parameters(self, prefix=""):
        """(name, Value) pairs in a fixed order, e.g. ('layers.0.neurons.3.w.1', v)."""
        out = []
        for name, attr in vars(self).items():
            _collect(attr, prefix + name, out)
        return out

    def parameters(self):
        """The Values of named_parameters(), in its order (built without their names: a step
        that calls it for a regulariser pays no string per weight)."""
        if type(self).named_parameters is not Module.named_parameters:  # a subclass's own order
            return [p for _, p in self.named_parameters()]
        out = []
        for attr in vars(self).values():
            _collect_values(attr, out)
        return out

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def modules(self):
        """This module and every module inside it."""
        found, stack = [], [self]
        while stack:
            m = stack.pop()
            found.append(m)
            plain = type(m)._value_lists
            for name, attr in vars(m).items():
                if name in plain:
                    continue
                if isinstance(attr, Module):
                    stack.append(attr)
                elif isinstance(attr, (list, tuple)):  # a neuron's weights: thousands at width 256
                    stack += [x for x in attr if isinstance(x, Module)]
        return found

    def state_dict(self):
        """Parameter name -> float, in parameter order."""
        return OrderedDict((n, float(p.data)) for n, p in self.named_parameters())

    def load_state_dict(self, state, strict=True):
        """Set parameters from a mapping of names to numbers.

        Besides per-parameter names, a Layer's weights can be given whole as numpy
        arrays: 'layers.0.weight' of shape (nout, nin) and 'layers.0.bias' of shape (nout,)
        (PyTorch's layout), so that a tutorial's numpy initialisation is reproduced exactly.
        """
        params = dict(self.named_parameters())
        flat = {}
        for key, val in state.items():
            flat.update(_expand_matrix(self, key, val) if key.endswith((".weight", ".bias"))
                        or key in ("weight", "bias") else {key: val})
        unknown = [k for k in flat if k not in params]
        missing = [k for k in params if k not in flat]
        if strict and (unknown or missing):
            raise KeyError(f"load_state_dict: unknown keys {unknown[:5]}, missing keys {missing[:5]}")
        new = {key: _number(val, key) for key, val in flat.items() if key in params}  # check all first
        for key, x in new.items():
            params[key].data = x

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _label_parameters(self):
        """Name every parameter Value after its place ('layers.0.neurons.3.w.1'), for drawings."""
        for name, p in self.named_parameters():
            p.label = name

    def forward(self, x):
        raise NotImplementedError


def _collect(attr, name, out):
    if isinstance(attr, Value):
        out.append((name, attr))
    elif isinstance(attr, Module):
        out.extend(attr.named_parameters(name + "."))
    elif isinstance(attr, (list, tuple)):
        for i, item in enumerate(attr):
            if type(item) is Value:  # a neuron's weights: no call per weight (nn.load of 58k)
                out.append((f"{name}.{i}", item))
            else:
                _collect(item, f"{name}.{i}", out)


def _collect_values(attr, out):
    """_collect without the names."""
    if isinstance(attr, Value):
        out.append(attr)
    elif isinstance(attr, Module):
        out.extend(attr.parameters())
    elif isinstance(attr, (list, tuple)):
        if set(map(type, attr)) == {Value}:  # a neuron's weights
            out.extend(attr)
            return
        for item in attr:
            if type(item) is Value:
                out.append(item)
            else:
                _collect_values(item, out)


def _number(val, key):
    arr = np.asarray(val, dtype=np.float64) if not isinstance(val, (int, float)) else None
    if arr is not None and arr.ndim != 0:
        raise ValueError(f"load_state_dict: {key!r} needs one number, got shape {arr.shape}")
    x = float(val)
    if not math.isfinite(x):
        raise ValueError(f"load_state_dict: {key!r} is {x}, not a finite number")
    return x


def _expand_matrix(module, key, val):
    """'layers.0.weight' (nout, nin) -> the per-neuron names it stands for."""
    prefix, _, kind = key.rpartition(".")
    layer = module
    try:
        for part in prefix.split(".") if prefix else []:
            layer = layer[int(part)] if isinstance(layer, (list, Sequential)) else getattr(layer, part)
    except (AttributeError, IndexError, ValueError):
        layer = None
    if not isinstance(layer, Layer):
        raise KeyError(f"load_state_dict: {key!r} does not name a Layer's weight or bias")
    arr = np.asarray(val, dtype=np.float64)
    base = f"{prefix}.neurons" if prefix else "neurons"
    nout, nin = len(layer.neurons), layer.nin
    if kind == "weight":
        if arr.shape != (nout, nin):
            raise ValueError(f"load_state_dict: {key!r} needs shape ({nout}, {nin}), got {arr.shape}")
        return {f"{base}.{i}.w.{j}": arr[i, j] for i in range(nout) for j in range(nin)}
    if arr.shape != (nout,):
        raise ValueError(f"load_state_dict: {key!r} needs shape ({nout},), got {arr.shape}")
    return {f"{base}.{i}.b": arr[i] for i in range(nout)}


def _as_inputs(x, nin):
    """One example (a list of numbers/Values) or a batch (2-D array) -> nin Values.
    Inputs made here are labelled x0, x1, ... so that drawings can name them."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        if x.shape[1] != nin:
            raise ValueError(f"expected a batch of shape (n, {nin}), got {x.shape}")
        if x.dtype.kind in "biuf" and x.shape[0]:  # Value(col)'s checks, once for the array
            return _columns(x)
        return [Value(col, f"x{j}") for j, col in enumerate(x.T)]
    x = list(x)
    if len(x) != nin:
        raise ValueError(f"expected {nin} inputs, got {len(x)}")
    return [v if isinstance(v, Value) else Value(v, f"x{j}") for j, v in enumerate(x)]


class Neuron(Module):
    """activation(w . x + b), the weighted sum as one `dot` node."""

    _value_lists = ("w",)

    def __init__(self, nin, activation="relu", init="micrograd", nout=1, rng=None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.w = [Value(x) for x in _draw(init, nin, nout, rng)]
        self.b = Value(0.0)
        self.activation = activation
        self.nin = nin
        self._label_parameters()

    def forward(self, x):
        act = autograd.dot(self.w, _as_inputs(x, self.nin)) + self.b
        return ACTIVATIONS[self.activation](act)

    def __repr__(self):
        return f"Neuron({self.nin}, activation={self.activation!r})"


class Layer(Module):
    """nout neurons on the same inputs; always returns a list."""

    def __init__(self, nin, nout, activation="relu", init="micrograd", rng=None):
        self.neurons = [Neuron(nin, activation, init, nout, rng) for _ in range(nout)]
        self.nin, self.nout, self.activation = nin, nout, activation
        self._label_parameters()

    def forward(self, x):
        x = _as_inputs(x, self.nin)
        neurons = self.neurons
        if set(map(type, neurons)) != {Neuron}:  # a subclass may forward its own way
            return [n(x) for n in neurons]
        seen = self.__dict__.get("_seen")
        if seen is None:  # what dots found out about the weights, kept for the next calls
            seen = self._seen = _LayerWeights()
        sums = _dots([n.w for n in neurons], x, seen)  # = each Neuron's dot, inputs stacked once
        if self.activation in _ROWWISE and set(map(_activation_of, neurons)) == {self.activation}:
            out = _biased(sums, [n.b for n in self.neurons], _ROWWISE[self.activation])
            if out is not None:  # the same nodes and numbers, each operation once for the layer
                return out
        return [ACTIVATIONS[n.activation](s + n.b) for n, s in zip(self.neurons, sums)]

    def __repr__(self):
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: hidden layers with `activation`, the last with
    `output_activation` (None = linear, as in micrograd).

    init: 'micrograd' (uniform(-1, 1) from Python's `random`, in micrograd 0.1.0's order:
    with random.seed(1337) the weights are micrograd's own), 'xavier' (Glorot uniform) or
    'he' (Kaiming normal, for ReLU); biases start at 0. `seed` makes the draw independent
    of global state; None uses the global `random` / `np.random` state.
    Returns a Value when the last layer has one neuron, else a list (as micrograd).
    """

    def __init__(self, nin, nouts, activation="relu", output_activation=None, init="micrograd", seed=None):
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {INITS}")
        nin, nouts = operator.index(nin), [operator.index(n) for n in nouts]
        seed = None if seed is None else operator.index(seed)
        for a in (activation, output_activation or "linear"):
            if a not in ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; choose from {sorted(ACTIVATIONS)}")
        sizes = [nin] + list(nouts)
        rng = _rng(init, seed)
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1],
                             activation if i != last else (output_activation or "linear"), init, rng)
                       for i in range(len(nouts))]
        self.nin, self.nouts = nin, list(nouts)
        self.config = dict(nin=nin, nouts=list(nouts), activation=activation,
                           output_activation=output_activation, init=init, seed=seed)
        self._label_parameters()

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def save(self, path):
        """Write architecture and weights as JSON, atomically (see nn.io)."""
        from .io import save
        save(self, path)

    def __repr__(self):
        return f"MLP({self.nin}, {self.nouts}, activation={self.config['activation']!r}, " \
               f"output_activation={self.config['output_activation']!r})"


def _rng(init, seed):
    if init == "micrograd":
        return random.Random(seed) if seed is not None else random  # the module: global state
    return np.random.default_rng(seed) if seed is not None else np.random  # np.random: global


def _draw(init, nin, nout, rng):
    if rng is None:
        rng = _rng(init, None)
    if init == "micrograd":
        return [rng.uniform(-1, 1) for _ in range(nin)]
    if init == "xavier":
        a = math.sqrt(6.0 / (nin + nout))
        return [float(v) for v in rng.uniform(-a, a, nin)]
    if init == "he":
        return [float(v) for v in rng.normal(0.0, math.sqrt(2.0 / nin), nin)]
    raise ValueError(f"unknown init {init!r}; choose from {INITS}")


# ---------------------------------------------------------------------------
# Sequential and Dropout (PyTorch's names and behaviour), and `summary` (in summary.py).

class Sequential(Module):
    """Modules applied one after the other, as torch.nn.Sequential: indexing, len, iteration.
    Parameters are named by position ('0.neurons.3.w.1'), and so labelled, for drawings.
    As MLP, a last output of one Value is returned as that Value, not a list of one.

        >>> import numpy as np
        >>> from nn import Sequential, Layer, Dropout
        >>> model = Sequential(Layer(2, 8, activation="gelu"), Dropout(0.2, seed=0),
        ...                    Layer(8, 1, activation="linear"))
        >>> len(model), model[0].nout, [n for n, _ in model.named_parameters()][0]
        (3, 8, '0.neurons.0.w.0')
        >>> model.eval()(np.zeros((5, 2))).data.shape   # eval: dropout is the identity
        (5,)
    """

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
        sizes = [(i, m, _sizes(m)) for i, m in enumerate(modules)]
        known = [(i, m, io) for i, m, io in sizes if io is not None]
        for (i, m, (_, out)), (j, n, (nin, _)) in zip(known, known[1:]):
            if out != nin:
                raise ValueError(f"Sequential: module {j} ({n!r}) takes {nin} inputs but module {i} "
                                 f"({m!r}) gives {out}")
        self._modules = list(modules)
        self._label_parameters()

    def named_parameters(self, prefix=""):
        out = []
        for i, m in enumerate(self._modules):
            out.extend(m.named_parameters(f"{prefix}{i}."))
        return out

    def parameters(self):
        if type(self).named_parameters is not Sequential.named_parameters:
            return [p for _, p in self.named_parameters()]
        return [p for m in self._modules for p in m.parameters()]

    def forward(self, x):
        for m in self._modules:
            x = m(x)
        return x[0] if isinstance(x, list) and len(x) == 1 else x

    def save(self, path):
        """Write the modules and their weights as JSON, atomically (see nn.io)."""
        from .io import save
        save(self, path)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*self._modules[i])
        return self._modules[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    @property
    def nin(self):
        return next((io[0] for io in map(_sizes, self._modules) if io is not None), None)

    @property
    def nouts(self):
        """The output sizes of the layers, in order (as MLP.nouts)."""
        outs = []
        for m in self._modules:
            outs.extend(m.nouts if isinstance(m, (MLP, Sequential)) else [m.nout] if isinstance(m, Layer) else [])
        return outs

    def __repr__(self):
        lines = [f"  ({i}): " + repr(m).replace("\n", "\n  ") for i, m in enumerate(self._modules)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"


def _sizes(m):
    """(inputs, outputs) of a module with a fixed size, else None (Dropout)."""
    if isinstance(m, (Layer, Neuron)):
        return m.nin, getattr(m, "nout", 1)
    if isinstance(m, MLP):
        return m.nin, m.nouts[-1]
    if isinstance(m, Sequential):
        io = [x for x in map(_sizes, m._modules) if x is not None]
        return (io[0][0], io[-1][1]) if io else None
    return None


class Dropout(Module):
    """Inverted dropout, as torch.nn.Dropout(p): in training each input is zeroed with
    probability p and the others scaled by 1/(1-p), so that eval (the identity) needs no
    rescaling. Each example of a batch gets its own mask. `seed` makes the masks reproducible
    (the same sequence of masks for the same seed); None draws from fresh entropy.

        >>> from autograd import Value
        >>> d = Dropout(0.5, seed=0)
        >>> [v.data for v in d([Value(1.0), Value(1.0), Value(1.0), Value(1.0)])]
        [0.0, 2.0, 2.0, 2.0]
        >>> [v.data for v in d.eval()([Value(1.0), Value(1.0)])]
        [1.0, 1.0]

    Inside `autograd.compile` (fit(compile=True)) a training-mode Dropout raises: the trace
    would freeze one mask into the program.
    """

    def __init__(self, p=0.5, seed=None):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def forward(self, x):
        one = isinstance(x, Value)
        xs = [x] if one else _as_values(x)
        if not self.training or self.p == 0.0:
            return xs[0] if one else xs
        if autograd.is_tracing():
            raise RuntimeError("Dropout in training mode cannot be compiled (autograd.compile, "
                               "fit(compile=True)): the trace would freeze one random mask; "
                               "use compile=False, or call model.eval() for inference")
        keep = 1.0 - self.p
        scale = 0.0 if keep == 0.0 else 1.0 / keep
        out = []
        for v in xs:
            n = len(v.data) if isinstance(v.data, np.ndarray) else None
            mask = (self._rng.random(n) < keep) * scale  # 0.0 or 1/(1-p)
            out.append(v * (mask if n is not None else float(mask)))
        return out[0] if one else out

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


def _as_values(x):
    """Values, numbers, or a 2-D batch (rows are examples) -> a list of Values."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return [Value(col, f"x{j}") for j, col in enumerate(x.T)]
    return [v if isinstance(v, Value) else Value(v, f"x{j}") for j, v in enumerate(x)]
