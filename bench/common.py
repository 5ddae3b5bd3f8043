"""What the benchmarks share: moving one set of weights between valuegrad, micrograd and PyTorch,
so that every contender computes the same thing (checked by comparing losses)."""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def layer_arrays(model):
    """valuegrad's weights as [(W (nout, nin), b (nout,)), ...], from its state_dict names."""
    sd = model.state_dict()
    out = []
    for i, layer in enumerate(model.layers):
        W = np.array([[sd[f"layers.{i}.neurons.{j}.w.{k}"] for k in range(layer.nin)]
                      for j in range(layer.nout)])
        b = np.array([sd[f"layers.{i}.neurons.{j}.b"] for j in range(layer.nout)])
        out.append((W, b))
    return out


def load_ours(model, arrays):
    state = {}
    for i, (W, b) in enumerate(arrays):
        state[f"layers.{i}.weight"], state[f"layers.{i}.bias"] = W, b
    model.load_state_dict(state)
    model.zero_grad()


def load_micrograd(model, arrays):
    for layer, (W, b) in zip(model.layers, arrays):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                w.data = float(W[j, k])
            neuron.b.data = float(b[j])


def torch_mlp(sizes):
    """Linear layers with ReLU between them, float64: the MLP of valuegrad's nn."""
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=torch.float64))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def load_torch(model, arrays):
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, arrays):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
            lin.weight.grad = lin.bias.grad = None


def max_rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
