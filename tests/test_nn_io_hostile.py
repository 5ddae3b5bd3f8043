"""nn.load against hostile and careless files: refused fast, by name, before anything is built;
loading is linear; a killed save leaves nothing behind for long."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nn import MLP, ModelFileError, load
from nn import io as nn_io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def doc(config, parameters=None):
    base = {"nin": 2, "nouts": [1], "activation": "relu", "output_activation": None, "init": "micrograd"}
    base.update(config)
    return {"format": "valuegrad-model", "version": 1, "class": "MLP", "config": base,
            "parameters": parameters or {}}


def refused(path, *needles, within=None):
    t = time.perf_counter()
    with pytest.raises(ModelFileError) as e:
        load(path)
    elapsed = time.perf_counter() - t
    msg = str(e.value)
    assert str(path) in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    if within is not None:
        assert elapsed < within, f"took {elapsed:.3f} s"
    return msg


def test_huge_config_is_refused_before_building_anything(tmp_path, monkeypatch):
    p = tmp_path / "huge.json"
    text = json.dumps({"format": "valuegrad-model", "version": 1, "class": "MLP",
                       "config": {"nin": 3000, "nouts": [3000] * 3000, "activation": "relu",
                                  "output_activation": None, "init": "micrograd"},
                       "parameters": {}}, separators=(",", ":"))
    p.write_text(text)
    import nn.module

    def no_build(*a, **k):
        raise AssertionError("MLP built for a file that does not fit")
    monkeypatch.setattr(nn.module, "MLP", no_build)
    c = time.process_time()
    refused(p, "implies more than", "parameters")
    assert time.process_time() - c < 0.1


def test_small_config_without_its_parameters_is_refused_without_building(tmp_path, monkeypatch):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc({"nin": 300, "nouts": [300, 300]})))
    import nn.module
    monkeypatch.setattr(nn.module, "MLP", None)  # building would raise TypeError, not ModelFileError
    refused(p, "has 180600, the file 0", "missing ['layers.0.neurons.0.w.0'")


def test_58k_parameters_load_in_linear_time(tmp_path):
    m = MLP(64, [256, 128, 64, 10], seed=1)
    assert len(m.parameters()) == 58442
    p = tmp_path / "m.json"
    m.save(p)
    c = time.process_time()  # CPU time: the wall clock of a shared machine says little
    loaded = load(p)
    elapsed = time.process_time() - c
    assert [q.data for q in loaded.parameters()] == [q.data for q in m.parameters()]
    assert elapsed < 1.0, f"{elapsed:.2f} s of CPU"


def test_loading_time_grows_linearly(tmp_path):
    per_parameter = []
    for width in (60, 240):  # 3,901 and 58,801 parameters: 15x
        m = MLP(2, [width, width, 1], seed=0)
        p = tmp_path / f"m{width}.json"
        m.save(p)
        best = float("inf")
        for _ in range(2):
            c = time.process_time()
            load(p)
            best = min(best, time.process_time() - c)
        per_parameter.append(best / len(m.parameters()))
    assert per_parameter[1] < 3 * per_parameter[0], per_parameter  # quadratic: ~15x


@pytest.mark.parametrize("digits", [400, 5000, 100000])
def test_long_integers_are_named(tmp_path, digits):
    p = tmp_path / "m.json"
    text = json.dumps(doc({}, {"layers.0.neurons.0.w.0": 0.5, "layers.0.neurons.0.w.1": "__X__",
                               "layers.0.neurons.0.b": 0.0})).replace('"__X__"', "9" * digits)
    p.write_text(text)
    refused(p, "layers.0.neurons.0.w.1", "not a finite float", within=1.0)


@pytest.mark.parametrize("where", ["nin", "nouts"])
def test_long_integer_in_the_config(tmp_path, where):
    p = tmp_path / "m.json"
    value = "9" * 5000
    d = doc({where: "__X__"} if where == "nin" else {"nouts": ["__X__"]})
    p.write_text(json.dumps(d).replace('"__X__"', value))
    refused(p, where, within=1.0)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json(tmp_path, opener):
    p = tmp_path / "deep.json"
    closer = "]" if opener == "[" else "}"
    p.write_text(opener * 100000 + "1" + closer * 100000)
    refused(p, "nested too deeply", within=2.0)


@pytest.mark.parametrize("field,value,needle", [
    ("version", "1" * 200, "unknown format version"),
    ("class", ["x"] * 1000, "unknown model class"),
])
def test_long_junk_is_shortened_in_messages(tmp_path, field, value, needle):
    d = doc({})
    d[field] = value
    p = tmp_path / "m.json"
    p.write_text(json.dumps(d))
    msg = refused(p, needle)
    assert len(msg) < 400 + len(str(p))


@pytest.mark.parametrize("key,value", [("nouts", [1] * (nn_io.MAX_LAYERS + 1)), ("seed", "abc"),
                                       ("seed", 1.5), ("activation", None), ("init", ["he"]),
                                       ("output_activation", {"a": 1})])
def test_config_types(tmp_path, key, value):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc({key: value})))
    refused(p, key)


def test_dev_zero_is_refused_at_once(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    refused("/dev/zero", "not a regular file", within=1.0)


def test_a_directory_is_refused(tmp_path):
    refused(tmp_path, "not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    result = []
    t = threading.Thread(target=lambda: result.append(pytest.raises(ModelFileError, load, fifo)),
                         daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "load() blocked on a FIFO"
    assert "not a regular file" in str(result[0].value)


def test_a_file_over_the_size_limit(tmp_path, monkeypatch):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc({})) + " " * 2000)
    monkeypatch.setattr(nn_io, "MAX_FILE_BYTES", 1000)
    refused(p, "bytes", "MAX_FILE_BYTES")


def test_a_symlink_to_a_model_loads(tmp_path):
    m = MLP(2, [3, 1], seed=2)
    m.save(tmp_path / "real.json")
    os.symlink(tmp_path / "real.json", tmp_path / "link.json")
    assert [p.data for p in load(tmp_path / "link.json").parameters()] == [p.data for p in m.parameters()]


# -- saving: no temporary file outlives its writer -------------------------------------------

KILLED_SAVE = """
import os, signal, sys
from nn import MLP
real = os.fsync
def die(fd):
    os.kill(os.getpid(), signal.SIGKILL)  # after the bytes are written, before the rename
os.fsync = die
MLP(4, [8, 1], seed=0).save(sys.argv[1])
"""


def test_a_killed_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    target = tmp_path / "model.json"
    old = MLP(4, [8, 1], seed=5)
    old.save(target)
    before = target.read_text()
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target)], env=env, timeout=120,
                       capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert target.read_text() == before
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    assert len(leftovers) == 1  # what a kill leaves: nothing can remove it at that moment
    MLP(4, [8, 1], seed=6).save(target)  # the writer is dead: its file goes
    assert sorted(os.listdir(tmp_path)) == ["model.json"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    live = tmp_path / f".tmp-{os.getppid()}-abcd1234model.json"  # our parent is alive
    live.write_text("{")
    other = tmp_path / ".tmp-999999999-abcd1234other.json"  # another target: not ours to clean
    other.write_text("{")
    MLP(2, [1], seed=0).save(tmp_path / "model.json")
    assert live.exists() and other.exists()
    old = time.time() - 2 * 3600
    os.utime(live, (old, old))  # an hour later it is abandoned whoever holds the id
    MLP(2, [1], seed=0).save(tmp_path / "model.json")
    assert not live.exists() and other.exists()
