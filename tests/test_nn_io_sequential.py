"""nn.save / nn.load of a Sequential (Layer, Dropout, MLP, Sequential inside): the same
modules, names and bits back; every malformed description refused by place before anything
is built."""
import json
import random
import time

import numpy as np
import pytest

import nn
from nn import MLP, Dropout, Layer, ModelFileError, Sequential, load, save
from nn.draw import main as draw_main


def nested():
    return Sequential(Layer(3, 4, activation="tanh", init="xavier", rng=np.random.default_rng(1)),
                      Dropout(0.25, seed=5),
                      Sequential(MLP(4, [5, 2], activation="gelu", init="he", seed=2),
                                 Layer(2, 1, activation="linear", rng=random.Random(3))))


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "seq.json"
    nested().save(path)
    return path


def edited(path, change):
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def refuses(path, *needles):
    with pytest.raises(ModelFileError) as e:
        load(path)
    msg = str(e.value)
    for needle in (str(path),) + needles:
        assert needle in msg, (needle, msg)


def test_round_trip_gives_the_same_modules_names_and_bits(saved):
    model, loaded = nested(), load(saved)
    assert repr(loaded) == repr(model)
    assert [(n, p.data) for n, p in loaded.named_parameters()] == \
        [(n, p.data) for n, p in model.named_parameters()]
    x = np.random.default_rng(0).standard_normal((7, 3))
    assert np.array_equal(loaded.eval()(x).data, model.eval()(x).data)
    assert loaded[2][0].config == model[2][0].config  # the inner MLP keeps its seed and init


def test_a_loaded_dropout_draws_the_masks_of_its_seed(saved):
    loaded, fresh = load(saved), Dropout(0.25, seed=5)
    assert loaded[1].p == 0.25 and loaded[1].seed == 5
    ones = np.ones((9, 4))
    for _ in range(2):  # the same sequence of masks, from the first
        assert [v.data.tolist() for v in loaded[1](ones)] == [v.data.tolist() for v in fresh(ones)]


def test_loading_moves_no_global_random_state(saved):
    random.seed(11)
    np.random.seed(11)
    load(saved)
    assert random.random() == random.Random(11).random()
    assert np.random.random() == np.random.RandomState(11).random_sample()


def test_the_file_holds_the_modules_by_class(saved):
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert doc["class"] == "Sequential"
    assert [m["class"] for m in doc["config"]["modules"]] == ["Layer", "Dropout", "Sequential"]
    assert doc["config"]["modules"][0] == {"class": "Layer", "nin": 3, "nout": 4, "activation": "tanh"}
    assert doc["config"]["modules"][2]["modules"][0]["nouts"] == [5, 2]
    assert len(doc["parameters"]) == 4 * 4 + (5 * 5 + 2 * 6) + 3 and "2.0.layers.1.neurons.1.b" in doc["parameters"]


def test_an_empty_sequential_round_trips(tmp_path):
    Sequential().save(tmp_path / "e.json")
    assert len(load(tmp_path / "e.json")) == 0


def test_the_draw_command_draws_a_saved_sequential(saved, tmp_path, capsys):
    assert draw_main([str(saved), "-o", str(tmp_path / "m.gv")]) == 0
    text = (tmp_path / "m.gv").read_text()
    assert "digraph" in text and "0.neurons.3.w.2" in text


class Twice(nn.Module):
    def forward(self, x):
        return [v * 2 for v in x]


@pytest.mark.parametrize("model, place", [
    (Sequential(Layer(2, 2), Twice()), r"the model\[1\]"),
    (Sequential(Sequential(Dropout(0.1, seed=np.random.default_rng(0)))), r"the model\[0\]\[0\]"),
    (Twice(), "Twice"),
    (Layer(2, 3), "Layer"),
])
def test_save_refuses_what_load_could_not_build(tmp_path, model, place):
    with pytest.raises(TypeError, match=place):
        save(model, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_save_refuses_a_layer_whose_neurons_were_changed(tmp_path):
    model = Sequential(Layer(2, 3, activation="relu"))
    model[0].neurons[1].activation = "tanh"
    with pytest.raises(TypeError, match=r"the model\[0\]"):
        model.save(tmp_path / "m.json")


@pytest.mark.parametrize("change, needles", [
    (lambda d: d["config"]["modules"].__setitem__(1, {"class": "Conv2d"}),
     ["modules[1]", "unknown module class 'Conv2d'"]),
    (lambda d: d["config"]["modules"].__setitem__(1, "Dropout"), ["modules[1] must be an object"]),
    (lambda d: d["config"].__setitem__("modules", {"0": 1}), ["needs \"modules\", a list"]),
    (lambda d: d["config"]["modules"][0].__setitem__("nout", 5), ["modules[2] takes 4 inputs but modules[0] gives 5"]),
    (lambda d: d["config"]["modules"][0].__setitem__("nin", 0), ["modules[0]", "nin must be a positive integer"]),
    (lambda d: d["config"]["modules"][0].__setitem__("nout", True), ["modules[0]", "nout"]),
    (lambda d: d["config"]["modules"][0].__setitem__("activation", "__import__('os')"),
     ["modules[0]", "activation"]),
    (lambda d: d["config"]["modules"][1].__setitem__("p", 1.5), ["modules[1]", "probability", "1.5"]),
    (lambda d: d["config"]["modules"][1].__setitem__("seed", "5"), ["modules[1]", "seed"]),
    (lambda d: d["config"]["modules"][2]["modules"][0].__setitem__("nouts", [5, "2"]), ["modules[2][0]", "nouts"]),
    (lambda d: d["parameters"].pop("0.neurons.3.b"), ["do not fit", "0.neurons.3.b"]),
    (lambda d: d["parameters"].__setitem__("1.neurons.0.w.0", 1.0), ["do not fit", "unexpected", "1.neurons.0.w.0"]),
])
def test_malformed_descriptions_are_refused_by_place(saved, change, needles):
    refuses(edited(saved, change), *needles)


def test_huge_modules_are_refused_before_anything_is_built(tmp_path):
    path = tmp_path / "huge.json"
    layer = {"class": "Layer", "nin": 1500, "nout": 1500, "activation": "relu"}  # 2.25 million each
    path.write_text(json.dumps({"format": "valuegrad-model", "version": 1, "class": "Sequential",
                                "config": {"modules": [layer] * 3}, "parameters": {}}))
    start = time.process_time()
    refuses(path, "modules[2]: the modules imply more than 5000000 parameters")  # counted, not listed
    assert time.process_time() - start < 0.1


def test_too_many_or_too_deep_modules_are_refused(tmp_path):
    path = tmp_path / "deep.json"
    node = {"class": "Dropout", "p": 0.1, "seed": None}
    for _ in range(40):
        node = {"class": "Sequential", "modules": [node]}
    path.write_text(json.dumps({"format": "valuegrad-model", "version": 1, "class": "Sequential",
                                "config": {"modules": [node]}, "parameters": {}}))
    refuses(path, "nested more than")
    many = [{"class": "Dropout", "p": 0.0, "seed": None}] * (nn.io.MAX_LAYERS + 1)
    refuses(edited(path, lambda d: d["config"].__setitem__("modules", many)), "more than 10000 modules")
