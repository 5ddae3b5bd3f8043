"""`to_torch(model)` and `from_torch(module)`: the same network in PyTorch, the same numbers.

For when a model outgrows valuegrad: `to_torch` gives a `torch.nn.Sequential` of float64
`Linear` layers and activation modules holding the model's weights; `from_torch` reads such
a network (Linear layers, the activations valuegrad has, Dropout) back. torch stays optional:
it is imported here, inside the functions.

    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch")
    >>> from nn import MLP, from_torch, to_torch
    >>> model = MLP(3, [4, 1], activation="gelu", seed=0)
    >>> net = to_torch(model)
    >>> net
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): GELU(approximate='none')
      (2): Linear(in_features=4, out_features=1, bias=True)
    )
    >>> x = np.random.default_rng(0).normal(size=(5, 3))
    >>> bool(np.allclose(net(torch.tensor(x)).detach().numpy()[:, 0], model(x).data, rtol=1e-14))
    True
    >>> from_torch(net)
    MLP(3, [4, 1], activation='gelu', output_activation=None)
"""
from __future__ import annotations

import numpy as np

from .module import MLP, Dropout, Layer, Sequential

# valuegrad activation -> (torch class name, keyword arguments); 'linear' has no module.
# Softplus: threshold 40 instead of PyTorch's 20, where log1p(exp(x)) == x in float64 anyway,
# so the numbers are valuegrad's (PyTorch's default returns x from 20 on, ~2e-9 off there).
_TO_TORCH = {
    "relu": ("ReLU", {}), "tanh": ("Tanh", {}), "sigmoid": ("Sigmoid", {}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": 0.01}), "softplus": ("Softplus", {"threshold": 40.0}),
    "gelu": ("GELU", {}), "elu": ("ELU", {"alpha": 1.0}), "silu": ("SiLU", {}),
}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch / from_torch need PyTorch: pip install torch") from None
    return torch


def _layers(model):
    """A model flattened into Layers and Dropouts, in order."""
    if isinstance(model, (Layer, Dropout)):
        return [model]
    if isinstance(model, MLP):
        return list(model.layers)
    if isinstance(model, Sequential):
        return [x for m in model for x in _layers(m)]
    raise TypeError(f"to_torch: cannot convert a {type(model).__name__}; it converts MLP, Sequential, "
                    f"Layer and Dropout")


def to_torch(model):
    """A torch.nn.Sequential (float64) computing what `model` computes, with its weights copied:
    Layer -> Linear (+ its activation module), Dropout -> Dropout. Its train/eval mode is the
    model's. `to_torch(model)(torch.tensor(X))` equals `model(X)` to ~1e-15."""
    torch = _torch()
    mods = []
    for layer in _layers(model):
        if isinstance(layer, Dropout):
            mods.append(torch.nn.Dropout(layer.p))
            continue
        lin = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor([[float(w.data) for w in n.w] for n in layer.neurons], dtype=torch.float64))
            lin.bias.copy_(torch.tensor([float(n.b.data) for n in layer.neurons], dtype=torch.float64))
        mods.append(lin)
        if layer.activation != "linear":
            cls, kwargs = _TO_TORCH[layer.activation]
            mods.append(getattr(torch.nn, cls)(**kwargs))
    net = torch.nn.Sequential(*mods)
    net.train(model.training)
    return net


def from_torch(module):
    """A valuegrad model with the numbers of a torch network made of Linear layers, each
    optionally followed by one activation (ReLU, Tanh, Sigmoid, LeakyReLU(0.01), Softplus(),
    GELU(), ELU(1.0), SiLU(), Identity) and Dropout. An MLP when the network fits one (one
    hidden activation, no dropout), else a Sequential of Layers and Dropouts. Anything else
    raises, naming the layer and its position."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    flat = list(_leaves(module, torch))
    items = []  # [weight, bias, activation] per Linear, or a Dropout
    for pos, (name, m) in enumerate(flat):
        where = f"layer {pos} ({name}: {m!r})"
        if isinstance(m, torch.nn.Linear):
            w = m.weight.detach().to(torch.float64).cpu().numpy()
            b = m.bias.detach().to(torch.float64).cpu().numpy() if m.bias is not None else np.zeros(len(w))
            if items and isinstance(items[-1], list) and items[-1][0].shape[0] != w.shape[1]:
                raise ValueError(f"from_torch: {where} takes {w.shape[1]} inputs but the layer before "
                                 f"gives {items[-1][0].shape[0]}")
            items.append([w, b, "linear"])
        elif isinstance(m, torch.nn.Dropout):
            items.append(Dropout(m.p))
        elif isinstance(m, torch.nn.Identity):
            continue
        else:
            act = _activation(m, torch, where)
            if not items or not isinstance(items[-1], list) or items[-1][2] != "linear":
                raise ValueError(f"from_torch: {where} must follow a Linear layer (valuegrad layers "
                                 f"apply one activation after their weighted sums)")
            items[-1][2] = act
    if not any(isinstance(x, list) for x in items):
        raise ValueError("from_torch: the module holds no Linear layer")
    layers = []
    for x in items:
        if isinstance(x, Dropout):
            layers.append(x)
            continue
        w, b, act = x
        layer = Layer(w.shape[1], w.shape[0], activation=act)
        layer.load_state_dict({"weight": w, "bias": b})
        layers.append(layer)
    model = _as_mlp(layers) or Sequential(*layers)
    model.train(module.training)
    return model


def _leaves(module, torch, prefix=""):
    children = list(module.named_children())
    if isinstance(module, torch.nn.Sequential) or (children and type(module) is torch.nn.Module):
        for name, child in children:
            yield from _leaves(child, torch, f"{prefix}{name}.")
    else:
        yield prefix.rstrip(".") or type(module).__name__, module


def _activation(m, torch, where):
    nn = torch.nn
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu"}
    for cls, name in simple.items():
        if type(m) is cls:
            return name
    if type(m) is nn.LeakyReLU and m.negative_slope == 0.01:
        return "leaky_relu"
    if type(m) is nn.GELU and m.approximate == "none":
        return "gelu"
    if type(m) is nn.ELU and m.alpha == 1.0:
        return "elu"
    if type(m) is nn.Softplus and m.beta == 1.0:
        return "softplus"  # PyTorch's linear piece from `threshold` on differs by < exp(-threshold)
    raise ValueError(f"from_torch: {where} is not supported; supported: Linear, Dropout, Identity, "
                     f"ReLU, Tanh, Sigmoid, SiLU, LeakyReLU(0.01), GELU('none'), ELU(1.0), Softplus(beta=1)")


def _as_mlp(layers):
    """The layers as an MLP when they fit one: no dropout, every hidden layer one activation."""
    if any(not isinstance(x, Layer) for x in layers):
        return None
    hidden = {x.activation for x in layers[:-1]}
    if len(hidden) > 1:
        return None
    activation = hidden.pop() if hidden else "relu"
    out = layers[-1].activation
    model = MLP(layers[0].nin, [x.nout for x in layers], activation=activation,
                output_activation=None if out == "linear" else out, seed=0)
    for mine, theirs in zip(model.layers, layers):
        for a, b in zip(mine.parameters(), theirs.parameters()):
            a.data = b.data
    return model


__all__ = ["to_torch", "from_torch"]
