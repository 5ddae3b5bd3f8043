"""nn.io: JSON save/load, atomic writes, and a ModelFileError naming the file and the
problem for every kind of malformed file. No pickle anywhere."""
import ast
import json
import math
import os
import pathlib

import numpy as np
import pytest

import nn
from nn import MLP, ModelFileError, load, save

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def model():
    return MLP(3, [5, 4, 2], activation="tanh", output_activation="sigmoid", init="xavier", seed=3)


@pytest.fixture
def saved(tmp_path, model):
    path = tmp_path / "model.json"
    model.save(path)
    return path


def write_doc(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")


def edited(saved, change):
    """Load the saved JSON, change it, write it back; return the path."""
    doc = json.loads(saved.read_text(encoding="utf-8"))
    change(doc)
    write_doc(saved, doc)
    return saved


def with_raw_parameter(saved, name, raw):
    """Write the saved file back with parameter `name` spelt as the raw JSON text `raw`."""
    doc = json.loads(saved.read_text(encoding="utf-8"))
    doc["parameters"][name] = "__RAW__"
    saved.write_text(json.dumps(doc, indent=1).replace('"__RAW__"', raw), encoding="utf-8")
    return saved


def refuses(path, *needles):
    with pytest.raises(ModelFileError) as e:
        load(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


# round trip ------------------------------------------------------------------------------------

def test_round_trip_gives_identical_predictions_and_names(model, saved):
    loaded = load(saved)
    assert isinstance(loaded, MLP)
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    X = np.random.default_rng(0).normal(size=(20, 3))
    for a, b in zip(model(X), loaded(X)):
        np.testing.assert_array_equal(a.data, b.data)
    assert [o.data for o in loaded([0.1, 0.2, 0.3])] == [o.data for o in model([0.1, 0.2, 0.3])]
    assert loaded.config == model.config
    assert all(p.label == n for n, p in loaded.named_parameters())


def test_round_trip_after_training_and_str_paths(tmp_path):
    X, y = nn.data.make_moons(60, noise=0.1, random_state=0)
    model = MLP(2, [6, 1], init="he", seed=0)
    nn.fit(model, "binary_cross_entropy_with_logits", nn.optim.Adam(model, lr=0.05), X, y, epochs=5,
           progress=False)
    path = str(tmp_path / "trained.json")
    save(model, path)
    loaded = load(path)
    np.testing.assert_array_equal(nn.predict(loaded, X), nn.predict(model, X))
    assert loaded.config["seed"] == 0 and loaded.config["output_activation"] is None


def test_round_trip_of_a_model_built_from_numpy_integers(tmp_path):
    """Sizes and seeds that are numpy integers (X.shape[1] of a numpy array is an int, but
    rng.integers() gives np.int64) save as plain JSON numbers (today: TypeError, not JSON
    serializable)."""
    model = MLP(np.int64(2), [np.int64(3), 1], init="he", seed=np.int64(4))
    path = tmp_path / "m.json"
    model.save(path)
    loaded = load(path)
    assert loaded.config == {"nin": 2, "nouts": [3, 1], "activation": "relu", "output_activation": None,
                             "init": "he", "seed": 4}
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]


def test_round_trip_keeps_every_bit(tmp_path):
    model = MLP(2, [2], seed=0)
    awkward = [0.1, -1e-300, 5e-324, 1.7976931348623157e308, 1 / 3, -0.0]
    model.load_state_dict(dict(zip(model.state_dict(), awkward)))
    path = tmp_path / "m.json"
    model.save(path)
    values = [p.data for p in load(path).parameters()]
    assert values == awkward
    assert math.copysign(1.0, values[-1]) == -1.0


def test_file_layout(saved, model):
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert set(doc) == {"format", "version", "class", "config", "parameters"}
    assert doc["format"] == "valuegrad-model"
    assert doc["version"] == 1
    assert doc["class"] == "MLP"
    assert doc["config"] == {"nin": 3, "nouts": [5, 4, 2], "activation": "tanh",
                             "output_activation": "sigmoid", "init": "xavier", "seed": 3}
    assert list(doc["parameters"]) == [n for n, _ in model.named_parameters()]
    assert all(type(v) is float for v in doc["parameters"].values())


def test_save_overwrites(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    second = MLP(2, [4, 4, 1], seed=1)
    save(second, path)
    assert load(path).config["nouts"] == [4, 4, 1]
    assert sorted(os.listdir(tmp_path)) == ["m.json"]


# atomic save ------------------------------------------------------------------------------------

def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, model):
    path = tmp_path / "model.json"
    MLP(2, [1], seed=0).save(path)
    old = path.read_bytes()

    def broken_replace(src, dst):
        assert os.path.exists(src)  # the temporary file was fully written first
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["model.json"]
    assert load(path).config["nin"] == 2


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch, model):
    path = tmp_path / "model.json"
    MLP(2, [1], seed=0).save(path)
    old = path.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(model, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["model.json"]


def test_saving_a_non_finite_weight_raises_and_writes_nothing(tmp_path, model):
    path = tmp_path / "model.json"
    params = dict(model.named_parameters())
    params["layers.1.neurons.3.w.2"].data = math.nan
    with pytest.raises(ValueError, match=r"layers\.1\.neurons\.3\.w\.2.*non-finite") as e:
        model.save(path)
    assert not isinstance(e.value, ModelFileError)
    assert os.listdir(tmp_path) == []
    params["layers.1.neurons.3.w.2"].data = math.inf
    with pytest.raises(ValueError, match="inf"):
        save(model, path)


def test_save_refuses_other_modules(tmp_path):
    with pytest.raises(TypeError, match="Layer"):
        save(nn.Layer(2, 3), tmp_path / "layer.json")


# malformed files ---------------------------------------------------------------------------------

def test_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("this is not json at all", encoding="utf-8")
    refuses(path, "not valid JSON")


def test_truncated_json(saved):
    text = saved.read_text(encoding="utf-8")
    saved.write_text(text[: len(text) // 2], encoding="utf-8")
    refuses(saved, "truncated")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("", encoding="utf-8")
    refuses(path)


def test_binary_file(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x04\x95\xff\xfe binary")
    refuses(path, "UTF-8")


@pytest.mark.parametrize("doc", [[1, 2, 3], "a string", 42, None])
def test_json_that_is_not_an_object(tmp_path, doc):
    path = tmp_path / "m.json"
    write_doc(path, doc)
    refuses(path, "not a valuegrad model file")


@pytest.mark.parametrize("tag", ["keras-model", None, "VALUEGRAD-MODEL"])
def test_wrong_format_tag(saved, tag):
    edited(saved, lambda d: d.__setitem__("format", tag))
    refuses(saved, "not a valuegrad model file", "valuegrad-model")


def test_missing_format_tag(saved):
    edited(saved, lambda d: d.pop("format"))
    refuses(saved, "not a valuegrad model file")


@pytest.mark.parametrize("version", [2, 0, "1", None, 1.5])
def test_unknown_version(saved, version):
    edited(saved, lambda d: d.__setitem__("version", version))
    refuses(saved, "version", repr(version))


def test_unknown_class(saved):
    edited(saved, lambda d: d.__setitem__("class", "Transformer"))
    refuses(saved, "unknown model class", "'Transformer'")


@pytest.mark.parametrize("key", ["nin", "nouts", "activation", "output_activation", "init"])
def test_missing_config_key(saved, key):
    edited(saved, lambda d: d["config"].pop(key))
    refuses(saved, "config is missing", repr(key))


def test_config_without_seed_loads(saved, model):
    edited(saved, lambda d: d["config"].pop("seed"))
    loaded = load(saved)
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    assert loaded.config["seed"] is None


@pytest.mark.parametrize("nouts", ["5,4,2", 5, [], [5, "4", 2], [5, 4.0, 2], [5, 0, 2], [True, 4, 2], None])
def test_wrong_nouts(saved, nouts):
    edited(saved, lambda d: d["config"].__setitem__("nouts", nouts))
    refuses(saved, "nouts", repr(nouts))


@pytest.mark.parametrize("nin", ["3", 3.0, 0, -1, True, None])
def test_wrong_nin(saved, nin):
    edited(saved, lambda d: d["config"].__setitem__("nin", nin))
    refuses(saved, "nin")


@pytest.mark.parametrize("key,value", [("activation", "mish"), ("output_activation", "softmax"),
                                       ("init", "orthogonal"), ("activation", 3)])
def test_bad_config_values(saved, key, value):
    edited(saved, lambda d: d["config"].__setitem__(key, value))
    refuses(saved, "bad config", repr(value))


@pytest.mark.parametrize("field", ["config", "parameters"])
@pytest.mark.parametrize("value", [[], "x", None, 3])
def test_config_and_parameters_must_be_objects(saved, field, value):
    edited(saved, lambda d: d.__setitem__(field, value))
    refuses(saved, field, "must be an object")


def test_a_missing_parameter(saved):
    edited(saved, lambda d: d["parameters"].pop("layers.1.neurons.2.w.4"))
    refuses(saved, "missing", "layers.1.neurons.2.w.4")


def test_an_extra_parameter(saved):
    edited(saved, lambda d: d["parameters"].__setitem__("layers.3.neurons.0.b", 0.0))
    refuses(saved, "unexpected", "layers.3.neurons.0.b")


def test_parameters_of_another_architecture(saved):
    edited(saved, lambda d: d["config"].__setitem__("nouts", [5, 4, 3]))
    refuses(saved, "missing", "layers.2.neurons.2.w.0")


@pytest.mark.parametrize("value", ["0.5", None, [0.5], {"v": 0.5}, True])
def test_a_parameter_that_is_not_a_number(saved, value):
    edited(saved, lambda d: d["parameters"].__setitem__("layers.0.neurons.1.b", value))
    refuses(saved, "layers.0.neurons.1.b", "must be a number", type(value).__name__)


def test_an_integer_parameter_is_fine(saved):
    edited(saved, lambda d: d["parameters"].__setitem__("layers.0.neurons.1.b", 2))
    assert dict(load(saved).named_parameters())["layers.0.neurons.1.b"].data == 2.0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_the_file(saved, literal):
    with_raw_parameter(saved, "layers.1.neurons.0.w.2", literal)
    refuses(saved, literal, "not allowed")


def test_a_number_too_large_for_a_float_in_the_file(saved):
    """1e999 is valid JSON that Python reads as inf: refused like NaN, as a ModelFileError
    that names the file (today a bare ValueError from load_state_dict, without the path)."""
    with_raw_parameter(saved, "layers.1.neurons.0.w.2", "1e999")
    refuses(saved, "layers.1.neurons.0.w.2")


def test_an_integer_too_large_for_a_float_in_the_file(saved):
    """A 400-digit integer is valid JSON; float() of it overflows. Refused as a ModelFileError
    naming the file and the parameter (today an OverflowError escapes)."""
    with_raw_parameter(saved, "layers.2.neurons.1.b", "9" * 400)
    refuses(saved, "layers.2.neurons.1.b")


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.json")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# no pickle ----------------------------------------------------------------------------------------

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}


def _sources():
    files = sorted(p for d in ("autograd", "nn") for p in (ROOT / d).rglob("*.py"))
    assert len(files) >= 10
    return files


def test_no_pickle_import_anywhere():
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "__import__", "import_module"):
                names = [a.value.split(".")[0] for a in node.args if isinstance(a, ast.Constant)
                         and isinstance(a.value, str)]
            else:
                continue
            bad = UNSAFE_MODULES.intersection(names)
            assert not bad, f"{path.relative_to(ROOT)}:{node.lineno} imports {bad}"


def test_no_pickle_through_numpy():
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, \
                    f"{path.relative_to(ROOT)}:{node.value.lineno} allow_pickle"
            if isinstance(node, ast.Attribute) and node.attr in ("dumps", "loads", "dump", "load"):
                base = getattr(node.value, "id", "")
                assert base not in UNSAFE_MODULES, f"{path.relative_to(ROOT)}:{node.lineno}"
