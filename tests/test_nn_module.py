"""nn.module: parameters and their names, zero_grad, train/eval, state_dict, init, forward."""
import math
import random
import re

import numpy as np
import pytest

import nn
from autograd import Value
from nn import MLP, Layer, Module, Neuron

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "linear"]
INITS = ["micrograd", "xavier", "he"]


def weights(model):
    return [p.data for p in model.parameters()]


# -- parameters and names ----------------------------------------------------------------

def test_parameter_counts():
    assert len(MLP(2, [16, 16, 1], seed=0).parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert len(MLP(3, [4, 2], seed=0).parameters()) == 3 * 4 + 4 + 4 * 2 + 2
    assert len(Layer(5, 3).parameters()) == 18
    assert len(Neuron(7).parameters()) == 8


def test_named_parameters_names_and_order():
    model = MLP(2, [4, 3, 1], seed=0)
    names = [n for n, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.0.neurons.3.w.1" in names
    assert "layers.1.neurons.2.w.3" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(names) == len(set(names)) == len(model.parameters())
    # every name has the same shape
    for n in names:
        assert re.fullmatch(r"layers\.\d+\.neurons\.\d+\.(w\.\d+|b)", n), n
    # the expected order: layer by layer, neuron by neuron, weights then bias
    expected = []
    for li, (nin, nout) in enumerate([(2, 4), (4, 3), (3, 1)]):
        for ni in range(nout):
            expected += [f"layers.{li}.neurons.{ni}.w.{j}" for j in range(nin)]
            expected.append(f"layers.{li}.neurons.{ni}.b")
    assert names == expected


def test_named_parameters_are_the_parameters():
    model = MLP(3, [2, 2], seed=0)
    named = model.named_parameters()
    assert all(a is b for (_, a), b in zip(named, model.parameters()))
    assert all(isinstance(p, Value) for p in model.parameters())
    layer = model.layers[1]
    assert [n for n, _ in layer.named_parameters()][:3] == ["neurons.0.w.0", "neurons.0.w.1", "neurons.0.b"]
    assert [n for n, _ in Neuron(2).named_parameters()] == ["w.0", "w.1", "b"]


def test_parameters_are_labelled_with_their_names():
    model = MLP(2, [3, 1], seed=0)
    assert all(p.label == n for n, p in model.named_parameters())
    layer = Layer(2, 2)
    assert [p.label for p in layer.parameters()][:3] == ["neurons.0.w.0", "neurons.0.w.1", "neurons.0.b"]


def test_custom_module_finds_values_modules_and_lists():
    class Two(Module):
        def __init__(self):
            self.scale = Value(2.0)
            self.body = MLP(1, [2], seed=0)
            self.extra = [Value(1.0), (Value(3.0),)]
            self.not_a_param = 5.0

        def forward(self, x):
            return [o * self.scale for o in self.body(x)]

    m = Two()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "body.layers.0.neurons.0.w.0", "body.layers.0.neurons.0.b",
                     "body.layers.0.neurons.1.w.0", "body.layers.0.neurons.1.b",
                     "extra.0", "extra.1.0"]
    assert len(m([1.0])) == 2
    assert [p.label for p in m.parameters()] == [p.label for _, p in m.named_parameters()]
    assert all(a is b for a, (_, b) in zip(m.parameters(), m.named_parameters()))
    with pytest.raises(NotImplementedError):
        Module()(1.0)


def test_parameters_follow_an_overridden_named_parameters():
    # parameters() is built without names; a subclass that orders its own names keeps its order
    class Reversed(Module):
        def __init__(self):
            self.a, self.b = Value(1.0), Value(2.0)

        def named_parameters(self, prefix=""):
            return [(prefix + "b", self.b), (prefix + "a", self.a)]

    class Outer(Module):
        def __init__(self):
            self.inner = Reversed()
            self.seq = nn.Sequential(Reversed(), nn.Dropout(0.1), Layer(1, 2))

    o = Outer()
    assert [p.data for p in o.parameters()] == [p.data for _, p in o.named_parameters()]
    assert all(a is b for a, (_, b) in zip(o.parameters(), o.named_parameters()))
    assert len(o.parameters()) == 2 + 2 + 4


def test_zero_grad():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 and type(p.grad) is float for p in model.parameters())


def test_gradients_accumulate_until_zero_grad():
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    model([1.0, -2.0]).backward()
    once = [p.grad for p in model.parameters()]
    model([1.0, -2.0]).backward()
    np.testing.assert_allclose([p.grad for p in model.parameters()], 2 * np.array(once), rtol=1e-15)


def test_train_eval_flags():
    model = MLP(2, [3, 3, 1], seed=0)
    mods = model.modules()
    assert len(mods) == 1 + 3 + 7  # the MLP, its layers, their neurons
    assert all(m.training for m in mods)
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())
    # the flag is per instance: another model is unaffected
    assert MLP(2, [1], seed=0).training


# -- state_dict ------------------------------------------------------------------------

def test_state_dict_round_trip():
    a, b = MLP(3, [4, 2], seed=1), MLP(3, [4, 2], seed=2)
    sd = a.state_dict()
    assert list(sd) == [n for n, _ in a.named_parameters()]
    assert all(type(v) is float for v in sd.values())
    assert weights(a) != weights(b)
    b.load_state_dict(sd)
    assert weights(a) == weights(b)
    x = [0.3, -1.2, 2.0]
    assert [o.data for o in a(x)] == [o.data for o in b(x)]
    # the state dict is a copy: changing the model later does not change it
    a.parameters()[0].data = 99.0
    assert sd["layers.0.neurons.0.w.0"] != 99.0


def test_load_state_dict_accepts_numpy_scalars_and_ints():
    m = MLP(2, [1], seed=0)
    sd = {n: np.float64(i) for i, n in enumerate(m.state_dict())}
    sd["layers.0.neurons.0.b"] = 7  # an int
    m.load_state_dict(sd)
    assert weights(m) == [0.0, 1.0, 7.0]
    assert all(type(p.data) is float for p in m.parameters())


def test_load_state_dict_from_numpy_layer_matrices():
    model = MLP(3, [4, 2], seed=0)
    rng = np.random.default_rng(0)
    W0, b0 = rng.normal(size=(4, 3)), rng.normal(size=4)
    W1, b1 = rng.normal(size=(2, 4)), rng.normal(size=2)
    model.load_state_dict({"layers.0.weight": W0, "layers.0.bias": b0,
                           "layers.1.weight": W1, "layers.1.bias": b1})
    sd = model.state_dict()
    assert sd["layers.0.neurons.2.w.1"] == W0[2, 1]
    assert sd["layers.0.neurons.3.b"] == b0[3]
    assert sd["layers.1.neurons.1.w.3"] == W1[1, 3]
    # the model computes relu(W0 x + b0) then W1 h + b1 (PyTorch's layout)
    x = np.array([0.5, -1.0, 2.0])
    expected = W1 @ np.maximum(W0 @ x + b0, 0.0) + b1
    np.testing.assert_allclose([o.data for o in model(list(x))], expected, rtol=1e-14)


def test_load_state_dict_mixes_matrices_and_names_and_layers_take_weight_bias():
    model = MLP(2, [2, 1], seed=0)
    model.load_state_dict({"layers.0.weight": [[1.0, 2.0], [3.0, 4.0]], "layers.0.bias": [0.5, -0.5],
                           "layers.1.neurons.0.w.0": 1.0, "layers.1.neurons.0.w.1": -1.0,
                           "layers.1.neurons.0.b": 0.25})
    assert weights(model) == [1.0, 2.0, 0.5, 3.0, 4.0, -0.5, 1.0, -1.0, 0.25]
    layer = Layer(2, 3)
    layer.load_state_dict({"weight": np.arange(6.0).reshape(3, 2), "bias": np.zeros(3)})
    assert [p.data for p in layer.parameters()] == [0.0, 1.0, 0.0, 2.0, 3.0, 0.0, 4.0, 5.0, 0.0]


@pytest.mark.parametrize("key,shape", [("layers.0.weight", (3, 4)), ("layers.0.weight", (4,)),
                                       ("layers.0.weight", (4, 3, 1)), ("layers.0.bias", (3,)),
                                       ("layers.0.bias", (4, 1)), ("layers.1.weight", (4, 2))])
def test_load_state_dict_wrong_matrix_shape(key, shape):
    model = MLP(3, [4, 2], seed=0)
    with pytest.raises(ValueError, match=re.escape(key)) as e:
        model.load_state_dict({key: np.zeros(shape)}, strict=False)
    assert str(shape) in str(e.value)


def test_load_state_dict_scalar_key_given_an_array():
    model = MLP(2, [1], seed=0)
    sd = model.state_dict()
    sd["layers.0.neurons.0.w.1"] = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.0\.w\.1.*shape"):
        model.load_state_dict(sd)


def test_load_state_dict_unknown_and_missing_keys():
    model = MLP(2, [2, 1], seed=0)
    sd = model.state_dict()
    with pytest.raises(KeyError, match="bogus"):
        model.load_state_dict({**sd, "bogus": 1.0})
    partial = dict(list(sd.items())[:3])
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict(partial)
    # strict=False: only the known keys are loaded
    before = weights(model)
    model.load_state_dict({"layers.0.neurons.0.w.0": 42.0, "bogus": 1.0}, strict=False)
    assert weights(model) == [42.0] + before[1:]


@pytest.mark.parametrize("key", ["foo.weight", "layers.5.weight", "layers.x.bias", "layers.0.neurons.0.weight",
                                 "weight"])
def test_load_state_dict_matrix_key_that_names_no_layer_is_a_key_error(key):
    """Unknown keys are KeyErrors, whichever way they are spelt (not AttributeError /
    IndexError / int() ValueError from walking the name)."""
    model = MLP(3, [4, 2], seed=0)
    with pytest.raises(KeyError, match=re.escape(key)):
        model.load_state_dict({key: np.zeros((4, 3))}, strict=False)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_load_state_dict_non_finite(bad):
    model = MLP(2, [2, 1], seed=0)
    sd = model.state_dict()
    sd["layers.1.neurons.0.w.1"] = bad
    with pytest.raises(ValueError, match=r"layers\.1\.neurons\.0\.w\.1.*not a finite number"):
        model.load_state_dict(sd)
    W = np.ones((2, 2))
    W[1, 0] = bad
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.1\.w\.0"):
        model.load_state_dict({"layers.0.weight": W}, strict=False)


def test_failed_load_state_dict_leaves_the_model_unchanged():
    """A state dict that is refused must not be half applied: the model keeps all of
    its old weights (now every entry before the bad one is already written)."""
    model = MLP(2, [2, 1], seed=0)
    before = weights(model)
    sd = {k: v + 1.0 for k, v in model.state_dict().items()}
    sd["layers.1.neurons.0.b"] = math.nan  # the last parameter
    with pytest.raises(ValueError):
        model.load_state_dict(sd)
    assert weights(model) == before


# -- forward -----------------------------------------------------------------------------

def test_layer_always_returns_a_list():
    for nout in (1, 3):
        out = Layer(2, nout)([1.0, 2.0])
        assert isinstance(out, list) and len(out) == nout
        assert all(isinstance(o, Value) for o in out)
    out = Layer(2, 1)(np.ones((5, 2)))
    assert isinstance(out, list) and out[0].data.shape == (5,)


def test_mlp_returns_a_value_for_one_output_else_a_list():
    one = MLP(2, [3, 1], seed=0)([1.0, 2.0])
    assert isinstance(one, Value) and isinstance(one.data, float)
    many = MLP(2, [3, 4], seed=0)([1.0, 2.0])
    assert isinstance(many, list) and len(many) == 4
    batch = MLP(2, [3, 1], seed=0)(np.ones((6, 2)))
    assert isinstance(batch, Value) and batch.data.shape == (6,)
    batch = MLP(2, [3, 4], seed=0)(np.ones((6, 2)))
    assert isinstance(batch, list) and len(batch) == 4 and batch[0].data.shape == (6,)


def test_neuron_computes_activation_of_w_dot_x_plus_b():
    n = Neuron(3, activation="linear")
    n.load_state_dict({"w.0": 1.0, "w.1": -2.0, "w.2": 0.5, "b": 0.25})
    assert n([2.0, 1.0, 4.0]).data == 2.0 - 2.0 + 2.0 + 0.25
    n.activation = "relu"
    assert n([-2.0, 1.0, 0.0]).data == 0.0
    n.activation = "sigmoid"
    assert n([0.0, 0.0, 0.0]).data == 1.0 / (1.0 + math.exp(-0.25))
    n.activation = "leaky_relu"
    assert n([-2.0, 1.0, 0.0]).data == pytest.approx(0.01 * (-2.0 - 2.0 + 0.25), rel=1e-15)
    n.activation = "tanh"
    assert n([1.0, 0.0, 0.0]).data == pytest.approx(math.tanh(1.25), rel=1e-15)


def test_output_activation():
    model = MLP(2, [3, 2], activation="tanh", output_activation="sigmoid", seed=0)
    assert [l.activation for l in model.layers] == ["tanh", "sigmoid"]
    assert all(0 < o.data < 1 for o in model([5.0, -5.0]))
    assert [l.activation for l in MLP(2, [3, 3, 1], seed=0).layers] == ["relu", "relu", "linear"]


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_single_example_and_batch_agree(activation, init):
    model = MLP(4, [6, 5, 3], activation=activation, output_activation=activation, init=init, seed=7)
    X = np.random.default_rng(3).normal(size=(25, 4)) * 2
    batch = np.stack([o.data for o in model(X)], axis=1)
    single = np.array([[o.data for o in model(list(row))] for row in X])
    assert batch.shape == single.shape == (25, 3)
    if activation in ("relu", "leaky_relu", "linear"):  # + and * only: the very same floats
        np.testing.assert_array_equal(batch, single)
    else:  # np.tanh / np.exp may differ from math.tanh / math.exp in the last bit
        np.testing.assert_allclose(batch, single, rtol=0, atol=1e-15)
    # the batch's gradient is the sum of the examples' gradients
    model.zero_grad()
    for o in model(X):
        o.sum().backward()
    g_batch = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    for row in X:
        for o in model(list(row)):
            o.backward()
    g_single = np.array([p.grad for p in model.parameters()])
    np.testing.assert_allclose(g_batch, g_single, rtol=1e-12, atol=1e-12)


def test_one_dimensional_array_is_one_example():
    model = MLP(3, [2, 1], seed=0)
    x = np.array([0.1, -0.2, 0.3])
    assert model(x).data == model(list(x)).data
    assert model(x.reshape(1, 3)).data.tolist() == [model(list(x)).data]


def test_inputs_may_be_values():
    model = MLP(2, [3, 1], seed=0)
    xs = [Value(1.0), Value(-2.0)]
    out = model(xs)
    out.backward()
    assert xs[0].grad != 0.0 or xs[1].grad != 0.0
    assert out.data == model([1.0, -2.0]).data


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0, 3.0], []])
def test_wrong_input_length_raises(bad):
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="expected 2 inputs, got"):
        model(bad)


def test_wrong_batch_width_raises():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        model(np.ones((5, 3)))
    with pytest.raises(ValueError):
        Layer(2, 3)(np.ones((4, 1)))


# -- init ----------------------------------------------------------------------------------

@pytest.mark.parametrize("init", INITS)
def test_seed_reproduces_weights(init):
    a = MLP(5, [8, 3], init=init, seed=11)
    b = MLP(5, [8, 3], init=init, seed=11)
    c = MLP(5, [8, 3], init=init, seed=12)
    assert weights(a) == weights(b)
    assert weights(a) != weights(c)
    assert a.config["seed"] == 11 and a.config["init"] == init


@pytest.mark.parametrize("init", INITS)
def test_numpy_integer_sizes_and_seed(init):
    """nin=X.shape[1]-like numpy integers and seed=rng.integers(...) work as plain ints
    (today init='micrograd' passes np.int64 to random.Random, which raises TypeError)."""
    a = MLP(np.int64(3), [np.int64(4), 1], init=init, seed=np.int64(5))
    b = MLP(3, [4, 1], init=init, seed=5)
    assert weights(a) == weights(b)
    assert a.config == b.config
    assert all(type(v) is int for v in [a.config["nin"], a.config["seed"], *a.config["nouts"]])


@pytest.mark.parametrize("init", INITS)
def test_biases_start_at_zero(init):
    model = MLP(5, [8, 3], init=init, seed=0)
    biases = [p.data for n, p in model.named_parameters() if n.endswith(".b")]
    assert len(biases) == 11 and all(b == 0.0 for b in biases)
    ws = [p.data for n, p in model.named_parameters() if not n.endswith(".b")]
    assert len(set(ws)) == len(ws)  # all different draws


def test_seed_does_not_touch_global_state():
    random.seed(5)
    np.random.seed(5)
    r, n = random.random(), np.random.random()
    random.seed(5)
    np.random.seed(5)
    for init in INITS:
        MLP(4, [4, 1], init=init, seed=3)
    assert random.random() == r and np.random.random() == n


def test_no_seed_uses_global_state():
    random.seed(9)
    a = weights(MLP(3, [4, 1]))
    random.seed(9)
    b = weights(MLP(3, [4, 1]))
    assert a == b
    assert weights(MLP(3, [4, 1])) != a  # the global state moved on
    for init in ("xavier", "he"):
        np.random.seed(9)
        a = weights(MLP(3, [4, 1], init=init))
        np.random.seed(9)
        assert weights(MLP(3, [4, 1], init=init)) == a


def test_micrograd_init_is_uniform_minus_one_one_in_order():
    rng = random.Random(4)
    expected = []
    for nin, nout in [(3, 4), (4, 2)]:
        for _ in range(nout):
            expected += [rng.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert weights(MLP(3, [4, 2], seed=4)) == expected


def _layer_weights(nin, nout, init, seed=0):
    model = MLP(nin, [nout], init=init, seed=seed)
    return np.array([p.data for n, p in model.named_parameters() if not n.endswith(".b")])


def test_xavier_statistics():
    nin, nout = 300, 200
    w = _layer_weights(nin, nout, "xavier")
    assert w.size == nin * nout
    bound = math.sqrt(6.0 / (nin + nout))
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # uniform over the whole range
    assert abs(w.std() - math.sqrt(2.0 / (nin + nout))) < 0.01 * math.sqrt(2.0 / (nin + nout))
    assert abs(w.mean()) < 0.01 * bound


def test_he_statistics():
    nin, nout = 400, 150
    w = _layer_weights(nin, nout, "he")
    std = math.sqrt(2.0 / nin)
    assert abs(w.std() - std) < 0.01 * std
    assert abs(w.mean()) < 0.01 * std
    # normal, not uniform: about 4.6% of draws lie beyond 2 std
    assert 0.04 < np.mean(np.abs(w) > 2 * std) < 0.052


def test_micrograd_init_statistics():
    w = _layer_weights(300, 200, "micrograd")
    assert np.abs(w).max() <= 1.0
    assert abs(w.std() - 1 / math.sqrt(3)) < 0.01


def test_xavier_uses_fan_in_and_fan_out_per_layer():
    model = MLP(100, [400, 10], init="xavier", seed=0)
    for layer, (nin, nout) in zip(model.layers, [(100, 400), (400, 10)]):
        w = np.array([p.data for n in layer.neurons for p in n.w])
        assert np.abs(w).max() <= math.sqrt(6.0 / (nin + nout))
        assert np.abs(w).max() > 0.95 * math.sqrt(6.0 / (nin + nout))


def test_bad_activation_names_the_choices():
    for kwargs in ({"activation": "mish"}, {"output_activation": "softmax"}):
        with pytest.raises(ValueError) as e:
            MLP(2, [3, 1], seed=0, **kwargs)
        msg = str(e.value)
        assert "unknown activation" in msg
        for choice in ACTIVATIONS:
            assert choice in msg
    with pytest.raises(ValueError, match="leaky_relu"):
        Neuron(2, activation="swish")
    with pytest.raises(ValueError, match="sigmoid"):
        Layer(2, 2, activation="swish")


def test_bad_init_names_the_choices():
    with pytest.raises(ValueError) as e:
        MLP(2, [3, 1], init="kaiming", seed=0)
    assert "kaiming" in str(e.value)
    for choice in INITS:
        assert choice in str(e.value)
    with pytest.raises(ValueError, match="xavier"):
        Layer(2, 2, init="orthogonal")


def test_repr():
    assert repr(MLP(2, [3, 1], seed=0)) == "MLP(2, [3, 1], activation='relu', output_activation=None)"
    assert repr(Layer(2, 3)) == "Layer(2, 3, activation='relu')"
    assert repr(Neuron(2, activation="tanh")) == "Neuron(2, activation='tanh')"


def test_nn_exports():
    for name in ("Module", "Neuron", "Layer", "MLP", "fit", "save", "load", "ModelFileError",
                 "EarlyStopping", "NonFiniteLossError", "predict", "predict_classes"):
        assert hasattr(nn, name)
