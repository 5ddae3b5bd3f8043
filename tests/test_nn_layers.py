"""nn.Sequential, nn.Dropout, the activations a layer can have, print(model) and nn.summary."""
import math

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.draw import GraphInfo
from nn import MLP, Dropout, Layer, Neuron, Sequential, summary
from nn.module import ACTIVATIONS

X = np.random.default_rng(3).normal(size=(7, 2)) * 2


def model3():
    return Sequential(Layer(2, 4, activation="gelu", rng=np.random.default_rng(0), init="he"),
                      Dropout(0.3, seed=1),
                      Layer(4, 3, activation="silu", rng=np.random.default_rng(1), init="he"),
                      Layer(3, 1, activation="linear", rng=np.random.default_rng(2), init="he"))


# -- Sequential -------------------------------------------------------------------------------

def test_sequential_is_indexable_and_iterable():
    m = model3()
    assert len(m) == 4 and isinstance(m[1], Dropout) and list(m) == [m[0], m[1], m[2], m[3]]
    assert isinstance(m[-1], Layer) and m[-1].nout == 1
    tail = m[2:]
    assert isinstance(tail, Sequential) and len(tail) == 2 and tail[0] is m[2]
    assert m.nin == 2 and m.nouts == [4, 3, 1]
    assert m.modules()[0] is m and all(x in m.modules() for x in m)


def test_sequential_names_and_labels_parameters_by_position():
    m = model3()
    names = [n for n, _ in m.named_parameters()]
    assert names[0] == "0.neurons.0.w.0" and "0.neurons.3.w.1" in names and "2.neurons.2.b" in names
    assert names[-1] == "3.neurons.0.b" and len(names) == 4 * 3 + 3 * 5 + 4
    assert all(p.label == n for n, p in m.named_parameters())
    assert list(m.state_dict()) == names
    # and the drawing finds its neurons, grouped by layer
    info = GraphInfo([m.eval()([0.5, -1.0])])
    assert [(g, len(ns)) for g, ns in info.layers()] == [("0.neurons", 4), ("2.neurons", 3), ("3.neurons", 1)]
    assert {nr.activation for nr in info.neurons} == {"gelu", "silu", "linear"}


def test_sequential_nested_in_a_module_and_matrices_in_load_state_dict():
    m = model3()
    w = np.arange(8.0).reshape(4, 2)
    m.load_state_dict({"0.weight": w, "0.bias": np.ones(4)}, strict=False)
    assert [[v.data for v in n.w] for n in m[0].neurons] == w.tolist()
    assert [n.b.data for n in m[0].neurons] == [1.0] * 4

    class Net(nn.Module):
        def __init__(self):
            self.body = Sequential(Layer(2, 2, activation="elu"))

        def forward(self, x):
            return self.body(x)
    assert [n for n, _ in Net().named_parameters()][0] == "body.0.neurons.0.w.0"


def test_sequential_one_example_equals_the_batch_and_one_output_is_a_value():
    m = model3().eval()
    batch = m(X)
    assert isinstance(batch, Value) and batch.data.shape == (7,)
    ones = [m(list(row)) for row in X]
    assert all(isinstance(o, Value) for o in ones)
    np.testing.assert_array_equal(batch.data, [o.data for o in ones])
    wide = Sequential(Layer(2, 3, rng=np.random.default_rng(0)))
    assert isinstance(wide([1.0, 2.0]), list) and len(wide([1.0, 2.0])) == 3


def test_sequential_mixes_mlps_and_layers():
    mlp = MLP(2, [3, 2], activation="tanh", seed=0)
    m = Sequential(mlp, Layer(2, 1, activation="sigmoid", rng=np.random.default_rng(0)))
    x = [0.3, -0.2]
    want = m[1](mlp(x))[0].data
    assert m(x).data == want
    assert [n for n, _ in m.named_parameters()][0] == "0.layers.0.neurons.0.w.0"


def test_sequential_refuses_bad_parts():
    with pytest.raises(ValueError, match=r"module 2 \(Layer\(5, 1, activation='relu'\)\) takes 5 inputs "
                                         r"but module 0 \(Layer\(2, 4, activation='relu'\)\) gives 4"):
        Sequential(Layer(2, 4), Dropout(0.1), Layer(5, 1))
    with pytest.raises(TypeError, match="Sequential: item 1 is a function, not a Module"):
        Sequential(Layer(2, 4), lambda x: x)


def test_fit_trains_a_sequential_and_refuses_to_compile_dropout():
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    m = Sequential(Layer(2, 8, activation="elu", rng=np.random.default_rng(0), init="he"), Dropout(0.1, seed=0),
                   Layer(8, 1, activation="linear", rng=np.random.default_rng(1), init="he"))
    opt = nn.optim.Adam(m.parameters(), lr=0.05)
    h = nn.fit(m, "mse", opt, X, y, epochs=20)
    assert h["loss"][-1] < h["loss"][0]
    assert m.training  # fit leaves the model in training mode, as it found it
    with pytest.raises(RuntimeError, match="Dropout in training mode cannot be compiled"):
        nn.fit(m, "mse", opt, X, y, epochs=1, compile=True)


# -- Dropout --------------------------------------------------------------------------------------

def test_dropout_zeroes_with_probability_p_and_scales_the_rest():
    d = Dropout(0.3, seed=0)
    n = 20000
    x = Value(np.full(n, 2.0))
    (y,) = d([x])
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.015
    assert np.all(y.data[kept] == 2.0 * (1 / 0.7))  # exactly x / (1 - p)
    y.backward(grad=np.ones(n))
    np.testing.assert_array_equal(x.grad, np.where(kept, 1 / 0.7, 0.0))  # the gradient is the mask
    assert not np.array_equal(*(d([Value(np.ones(50)), Value(np.ones(50))])[i].data for i in (0, 1)))


def test_dropout_eval_is_the_identity_and_train_eval_reach_it():
    m = model3()
    d = m[1]
    vs = [Value(1.5), Value(-2.0)]
    m.eval()
    assert not d.training and d(vs) == vs  # the very same Values
    m.train()
    assert d.training
    out = m(X)
    m.eval()
    assert not np.array_equal(out.data, m(X).data)


def test_dropout_is_reproducible_by_seed_and_works_on_one_example():
    a, b = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    for _ in range(3):
        xs = [Value(1.0) for _ in range(10)]
        assert [v.data for v in a(xs)] == [v.data for v in b(xs)]
    one = a(Value(3.0))
    assert isinstance(one, Value) and one.data in (0.0, 6.0)
    assert [v.data for v in a([1.0, 2.0]) if v.data] and all(
        v.data in (0.0, 2.0, 4.0) for v in a([1.0, 2.0]))
    raw = Dropout(0.5, seed=0)(np.ones((4, 3)))  # a raw batch: its columns
    assert len(raw) == 3 and raw[0].data.shape == (4,)


def test_dropout_edges():
    x = [Value(1.0), Value(2.0)]
    assert Dropout(0.0)(x) == x
    assert [v.data for v in Dropout(1.0, seed=0)(x)] == [0.0, 0.0]  # no division by zero
    for p in (-0.1, 1.5, "0.5", True, math.nan):
        with pytest.raises(ValueError, match="p must be a probability"):
            Dropout(p)


# -- activations per layer --------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["gelu", "elu", "silu", "softplus"])
def test_new_activations_per_layer(activation):
    layer = Layer(3, 2, activation=activation, rng=np.random.default_rng(0))
    x = [0.5, -1.5, 2.0]
    for n, out in zip(layer.neurons, layer(x)):
        pre = autograd.dot(n.w, x) + n.b
        assert out.op == activation and out.data == getattr(pre, activation)().data
    m = MLP(3, [4, 1], activation=activation, output_activation=activation, seed=0)
    assert m(x).op == activation and m.layers[0](x)[0].op == activation
    assert activation in ACTIVATIONS


# -- print(model) and summary ------------------------------------------------------------------

def test_print_model():
    assert repr(model3()) == (
        "Sequential(\n"
        "  (0): Layer(2, 4, activation='gelu')\n"
        "  (1): Dropout(p=0.3)\n"
        "  (2): Layer(4, 3, activation='silu')\n"
        "  (3): Layer(3, 1, activation='linear')\n"
        ")")
    nested = Sequential(Sequential(Layer(2, 2)), Dropout(0.5))
    assert repr(nested) == ("Sequential(\n  (0): Sequential(\n    (0): Layer(2, 2, activation='relu')\n  )\n"
                            "  (1): Dropout(p=0.5)\n)")
    assert repr(Sequential()) == "Sequential()"


def test_summary_rows_and_total():
    m = Sequential(model3(), MLP(1, [2, 1], activation="tanh", seed=0))
    s = summary(m)
    assert s.total_params == len(m.parameters()) == 31 + 4 + 3
    assert s.rows == [
        ("0.0", "Layer", "(n, 4)", "gelu", 12), ("0.1", "Dropout", "(n, 4)", "p=0.3", 0),
        ("0.2", "Layer", "(n, 3)", "silu", 15), ("0.3", "Layer", "(n, 1)", "linear", 4),
        ("1.layers.0", "Layer", "(n, 2)", "tanh", 4), ("1.layers.1", "Layer", "(n, 1)", "linear", 3)]
    text = str(s)
    assert text == repr(s)
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Activation", "Params"]
    assert lines[-1] == "Total params: 38 (inputs: 2; n = examples in a batch)"
    assert len({len(line) for line in lines[:-1]}) == 1  # a table: every row as wide
    assert summary(Layer(3, 2)).rows == [("layer", "Layer", "(n, 2)", "relu", 8)]
    assert summary(Neuron(3)).total_params == 4
    with pytest.raises(TypeError, match="summary\\(\\) needs an nn Module, got list"):
        summary([Layer(2, 2)])


def test_models_with_the_new_activations_save_and_load(tmp_path):
    m = MLP(2, [3, 1], activation="silu", output_activation="elu", seed=0)
    path = str(tmp_path / "m.json")
    m.save(path)
    back = nn.load(path)
    assert repr(back) == repr(m) and back([0.3, -1.0]).data == m([0.3, -1.0]).data
    seq = Sequential(Layer(2, 3, activation="gelu"), Layer(3, 1, activation="softplus"))
    nn.save(seq, path)
    back = nn.load(path)
    assert repr(back) == repr(seq) and back([0.3, -1.0]).data == seq([0.3, -1.0]).data
