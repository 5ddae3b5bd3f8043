"""nn.to_torch and nn.from_torch: the same outputs and gradients (to 1e-12) for every
activation, round trips, and clear errors for what cannot be converted."""
import sys

import numpy as np
import pytest

import nn
from nn import MLP, Dropout, Layer, Sequential, from_torch, to_torch
from nn.module import ACTIVATIONS

torch = pytest.importorskip("torch")
F64 = torch.float64
X = np.random.default_rng(0).normal(size=(64, 3)) * 3  # negatives, and beyond |x| = 5


def outputs(model, x):
    out = model(x)
    return np.stack([o.data for o in out], axis=1) if isinstance(out, list) else out.data[:, None]


def layer_grads(model):
    """(weight, bias) gradient matrices of each Layer, in order: PyTorch's layout."""
    layers = [m for m in model.modules() if isinstance(m, Layer)]
    layers.sort(key=lambda layer: next(n for n, p in model.named_parameters() if p is layer.neurons[0].b))
    return [(np.array([[w.grad for w in n.w] for n in layer.neurons]), np.array([n.b.grad for n in layer.neurons]))
            for layer in layers]


def torch_grads(net):
    lins = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    return [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in lins]


def check_same(model, net, x=X):
    """Outputs and the gradients of a loss equal to 1e-12."""
    model.zero_grad()
    out = model(x)
    outs = out if isinstance(out, list) else [out]
    loss = sum(((o - 0.5) ** 2).mean() for o in outs)
    loss.backward()
    t = net(torch.tensor(x, dtype=F64))
    tloss = ((t - 0.5) ** 2).mean(0).sum()
    tloss.backward()
    np.testing.assert_allclose(t.detach().numpy(), outputs(model, x), rtol=1e-12, atol=1e-14)
    assert abs(tloss.item() - loss.data) <= 1e-12 * abs(loss.data)
    for (gw, gb), (tw, tb) in zip(layer_grads(model), torch_grads(net)):
        np.testing.assert_allclose(gw, tw, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(gb, tb, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_to_torch_same_outputs_and_gradients(activation):
    model = MLP(3, [6, 5, 2], activation=activation, output_activation=activation, init="xavier", seed=1)
    net = to_torch(model)
    assert all(p.dtype == F64 for p in net.parameters())
    check_same(model, net)


def test_to_torch_of_a_sequential_with_dropout_and_modes():
    model = Sequential(Layer(3, 4, activation="gelu", init="he", rng=np.random.default_rng(0)), Dropout(0.25),
                       MLP(4, [3, 1], activation="elu", seed=2))
    net = to_torch(model)
    assert [type(m).__name__ for m in net] == ["Linear", "GELU", "Dropout", "Linear", "ELU", "Linear"]
    assert net.training and net[2].p == 0.25
    model.eval()
    net = to_torch(model)
    assert not net.training
    check_same(model, net)


def test_from_torch_reads_an_mlp_and_a_sequential():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.SiLU(), torch.nn.Linear(5, 4), torch.nn.SiLU(),
                              torch.nn.Linear(4, 2)).double()
    model = from_torch(net)
    assert isinstance(model, MLP) and model.config["activation"] == "silu" and model.nouts == [5, 4, 2]
    check_same(model, net)
    mixed = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                                torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LeakyReLU()),
                                torch.nn.Identity(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()).double().eval()
    model = from_torch(mixed)
    assert isinstance(model, Sequential) and not model.training
    assert [repr(m) for m in model] == ["Layer(3, 4, activation='tanh')", "Dropout(p=0.1)",
                                        "Layer(4, 3, activation='leaky_relu')", "Layer(3, 1, activation='sigmoid')"]
    check_same(model, torch.nn.Sequential(*[m for m in mixed if not isinstance(m, torch.nn.Identity)]))


def test_round_trip_keeps_every_number_and_float32_converts_exactly():
    model = MLP(3, [4, 2], activation="gelu", output_activation="softplus", seed=3)
    back = from_torch(to_torch(model))
    assert back.state_dict() == model.state_dict()
    assert repr(back) == repr(model)
    lin = torch.nn.Linear(2, 1)  # float32
    m = from_torch(torch.nn.Sequential(lin))
    assert m.layers[0].neurons[0].w[0].data == lin.weight[0, 0].item()


def test_from_torch_without_bias():
    lin = torch.nn.Linear(3, 2, bias=False).double()
    model = from_torch(lin)
    assert [n.b.data for n in model.layers[0].neurons] == [0.0, 0.0]
    np.testing.assert_allclose(outputs(model, X), lin(torch.tensor(X)).detach().numpy(), rtol=1e-14)


@pytest.mark.parametrize("bad, message", [
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)),
     r"layer 1 \(1: BatchNorm1d\(4.*\) is not supported"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(approximate="tanh")),
     r"layer 1 \(1: GELU\(approximate='tanh'\)\) is not supported"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LeakyReLU(0.2)), r"LeakyReLU\(negative_slope=0.2\)"),
    (lambda: torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 4)), r"layer 0 .*ReLU.* must follow a Linear"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Tanh()), r"layer 2 .*Tanh"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(5, 1)), r"takes 5 inputs but .* gives 4"),
    (lambda: torch.nn.Sequential(torch.nn.ReLU()), r"must follow a Linear"),
    (lambda: torch.nn.Sequential(torch.nn.Dropout()), r"holds no Linear layer"),
    (lambda: torch.nn.Conv1d(1, 1, 3), r"layer 0 \(Conv1d: Conv1d.*\) is not supported"),
])
def test_from_torch_names_what_it_cannot_convert(bad, message):
    with pytest.raises(ValueError, match=message):
        from_torch(bad())


def test_clear_errors_for_wrong_arguments_and_missing_torch(monkeypatch):
    with pytest.raises(TypeError, match="from_torch needs a torch.nn.Module, got list"):
        from_torch([1, 2])
    with pytest.raises(TypeError, match="to_torch: cannot convert a Neuron"):
        to_torch(nn.Neuron(2))
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ImportError, match="need PyTorch: pip install torch"):
        to_torch(MLP(2, [1], seed=0))
    with pytest.raises(ImportError, match="need PyTorch"):
        from_torch(object())
