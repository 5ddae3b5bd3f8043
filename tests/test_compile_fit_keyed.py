"""nn.fit(compile=True) finds its C program without tracing (nn/compiled_fit.py, the cache's alias
entries): only when the model, loss, regularization and shapes say everything about the graph.

A key that missed an ingredient would hand a fit another graph's program: silently wrong numbers.
So each ingredient is changed in turn, after a program was remembered for the first variant, and
the fit must give the bits of a traced fit of its own graph. "Fresh process" is simulated by new
model objects and an emptied in-memory library table (the files stay), and once for real.
"""
import contextlib
import copy
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import autograd.compiler as compiler_pkg
import nn
from autograd import Value
from autograd.compiler import c_backend, cache, flat
from nn import compiled_fit
from nn.train import L2, _CompiledStep

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    c_backend.find_compiler()
except c_backend.CompilerNotFound:
    pytest.skip("no C compiler", allow_module_level=True)


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))
    _forget_loaded()


def _forget_loaded():
    with cache._lock:
        cache._loaded.clear()


BASE = dict(nin=3, nouts=[5, 1], activation="relu", output_activation=None, loss="hinge", reg=1e-3,
            rows=16, batch=8, seed=0)


def _data(v):
    rng = np.random.default_rng(v["seed"] + 100)
    X = rng.normal(size=(v["rows"], v["nin"]))
    k = v["nouts"][-1]
    if v["loss"] == "cross_entropy":
        y = rng.integers(0, k, v["rows"])
    elif v["loss"] == "hinge":
        y = np.where(rng.normal(size=v["rows"]) > 0, 1.0, -1.0)
    elif v["loss"] == "mse":
        y = rng.normal(size=v["rows"])
    else:
        y = (rng.normal(size=v["rows"]) > 0).astype(float)
    return X, y


def _fit(v, keyed=True, monkeypatch=None):
    """A new model (same initial weights for the same variant), one 2-epoch compiled fit:
    (history losses, final weights, the step's FlatStep)."""
    model = nn.MLP(v["nin"], v["nouts"], activation=v["activation"], output_activation=v["output_activation"],
                   init="he", seed=v["seed"])
    opt = nn.optim.SGD(model.parameters(), lr=0.05)
    X, y = _data(v)
    reg = v["reg"] if not isinstance(v["reg"], float) else L2(v["reg"])
    with monkeypatch.context() if monkeypatch is not None else _nothing() as mp:
        if not keyed:
            mp.setattr(compiled_fit, "describe", lambda *a: None)
        h = nn.fit(model, v["loss"], opt, X, y, epochs=2, batch_size=v["batch"], progress=False, compile=True,
                   regularization=reg, seed=1)
    (step,) = _CompiledStep._cache[model].values()
    return h["loss"], [p.data for p in model.parameters()], step.flat


@contextlib.contextmanager
def _nothing():
    yield None


def _traces(f):
    return f.compiled.traces if f.compiled is not None else 0


VARIANTS = [
    dict(activation="tanh"),
    dict(nouts=[6, 1]),
    dict(nouts=[5, 5, 1]),
    dict(nin=4),
    dict(loss="mse"),
    dict(loss="binary_cross_entropy_with_logits"),
    dict(loss="binary_cross_entropy", output_activation="sigmoid"),
    dict(reg=2e-3),
    dict(reg=None),
    dict(batch=7),  # other batch shapes (7, 7 and a last one of 2)
    dict(rows=20),  # the same full batches, and a last one of 4
    dict(loss="cross_entropy", nouts=[5, 3]),
    dict(loss="cross_entropy", nouts=[5, 4]),  # another number of classes
    dict(output_activation="tanh"),
]


@pytest.mark.parametrize("change", VARIANTS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_each_ingredient_gets_its_own_program(change, monkeypatch):
    """A program remembered for BASE is never used for a variant: the variant's keyed fit gives
    the bits of its own traced fit; its own program, remembered then, is found without a trace."""
    first = _fit(BASE)
    assert _traces(first[2]) >= 1 and first[2].keyed_loads == 0
    v = dict(BASE, **change)
    want = _fit(v, keyed=False, monkeypatch=monkeypatch)  # traced (its library compiled, no alias)
    _forget_loaded()
    got = _fit(v)
    assert got[0] == want[0] and got[1] == want[1]
    # BASE's programs serve only shapes of the very same graph (rows=20: its batches of 8)
    same = all(v[k] == BASE[k] for k in BASE if k not in ("rows", "batch"))
    shared = {v["batch"], v["rows"] % v["batch"] or v["batch"]} & {BASE["batch"]} if same else set()
    assert got[2].keyed_loads == len(shared)
    _forget_loaded()
    again = _fit(v)
    if not _batched_constants(got[2]):
        assert _traces(again[2]) == 0 and again[2].keyed_loads >= 1
    assert again[0] == want[0] and again[1] == want[1]


def _batched_constants(f):
    """Whether a traced program holds a batched leaf that is no parameter (cross_entropy's shift,
    read from the traced batch, until it becomes part of the graph): never remembered."""
    return any(prog is not None and plan.batched_others for prog, plan in f._plans.values())


def test_the_keyed_path_runs_no_user_code_and_no_trace(monkeypatch):
    """Found by its description: neither the loss, the model's forward nor the tracer runs."""
    want = _fit(BASE)
    _forget_loaded()

    def refuse(*a, **k):
        raise AssertionError("called on the keyed path")
    monkeypatch.setattr(compiler_pkg, "trace", refuse)
    monkeypatch.setattr(_CompiledStep, "_fn", refuse)
    monkeypatch.setattr(nn.MLP, "forward", refuse)  # (the description checks it is MLP's own: restored below)
    monkeypatch.setattr(compiled_fit, "_code_changed", lambda: False)
    got = _fit(BASE)
    assert got[2].keyed_loads == 1  # the two batches of 8
    assert got[0] == want[0] and got[1] == want[1]


def test_a_new_process_finds_the_program_without_tracing(tmp_path):
    """The real thing: a child process with the same cache folder loads the program by its
    description (the sources' hash is the same in another process) and gives the same bits."""
    want = _fit(BASE)
    code = f"""
import json, numpy as np, nn, autograd.compiler as C
from nn.train import L2, _CompiledStep
def refuse(*a): raise AssertionError("traced")
C.trace = refuse
v = json.loads({json.dumps(json.dumps(BASE))})
rng = np.random.default_rng(v["seed"] + 100)
X = rng.normal(size=(v["rows"], v["nin"])); y = np.where(rng.normal(size=v["rows"]) > 0, 1.0, -1.0)
model = nn.MLP(v["nin"], v["nouts"], activation=v["activation"], init="he", seed=v["seed"])
opt = nn.optim.SGD(model.parameters(), lr=0.05)
h = nn.fit(model, "hinge", opt, X, y, epochs=2, batch_size=v["batch"], progress=False, compile=True,
           regularization=L2(v["reg"]), seed=1)
(step,) = _CompiledStep._cache[model].values()
print(json.dumps({{"loss": h["loss"], "w": [p.data for p in model.parameters()], "keyed": step.flat.keyed_loads}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["keyed"] == 1
    assert got["loss"] == want[0] and got["w"] == want[1]


def test_a_fit_starts_from_the_values_data_set_by_hand():
    _, _, f = _fit(BASE)
    model = nn.MLP(3, [5, 1], init="he", seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.05)
    X, y = _data(BASE)
    kw = dict(epochs=1, batch_size=8, progress=False, compile=True, regularization=L2(1e-3), shuffle=False)
    nn.fit(model, "hinge", opt, X, y, **kw)
    for p in model.parameters():
        p.data = 0.1
    h = nn.fit(model, "hinge", opt, X, y, **kw)
    ref = nn.MLP(3, [5, 1], init="he", seed=0)
    for p in ref.parameters():
        p.data = 0.1
    h_ref = nn.fit(ref, "hinge", nn.optim.SGD(ref.parameters(), lr=0.05), X, y, **dict(kw, compile=False))
    assert h["loss"] == pytest.approx(h_ref["loss"], rel=1e-12)
    assert [p.data for p in model.parameters()] == pytest.approx([p.data for p in ref.parameters()], rel=1e-12)


def test_an_mlp_changed_in_place_gets_a_new_step():
    """Activations changed after a compiled fit: the next fit runs the new graph (eager's numbers)."""
    X, y = _data(BASE)
    model = nn.MLP(3, [5, 1], init="he", seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.05)
    kw = dict(epochs=1, batch_size=8, progress=False, regularization=L2(1e-3), shuffle=False)
    nn.fit(model, "hinge", opt, X, y, compile=True, **kw)
    model.layers[0].activation = "tanh"
    for n in model.layers[0].neurons:
        n.activation = "tanh"
    state = model.state_dict()
    h = nn.fit(model, "hinge", opt, X, y, compile=True, **kw)
    ref = nn.MLP(3, [5, 1], activation="tanh", init="he", seed=0)
    ref.load_state_dict(state)
    h_ref = nn.fit(ref, "hinge", nn.optim.SGD(ref.parameters(), lr=0.05), X, y, **kw)
    assert h["loss"] == pytest.approx(h_ref["loss"], rel=1e-12)


class _MyMLP(nn.MLP):
    pass


def test_what_is_not_described_falls_back_to_tracing():
    """A loss, regularization or model subclass of the user's, a shared weight, an optimizer over
    some of the parameters, an extra parameter: no description (traced as before)."""
    m = nn.MLP(3, [4, 1], seed=0)
    own = m.parameters()
    assert compiled_fit.describe(m, nn.losses.hinge, L2(1e-4), own) is not None
    assert compiled_fit.describe(m, nn.losses.hinge, None, own) is not None
    assert compiled_fit.describe(m, lambda o, y: nn.losses.hinge(o, y), None, own) is None
    assert compiled_fit.describe(m, nn.losses.hinge, lambda mm: nn.losses.l2(mm.parameters(), 1e-4), own) is None
    assert compiled_fit.describe(m, nn.losses.l2, None, own) is None
    assert compiled_fit.describe(m, nn.losses.hinge, None, own[:-1]) is None
    sub = _MyMLP(3, [4, 1], seed=0)
    assert compiled_fit.describe(sub, nn.losses.hinge, None, sub.parameters()) is None
    shared = nn.MLP(3, [4, 1], seed=0)
    shared.layers[0].neurons[1].w[0] = shared.layers[0].neurons[0].w[0]
    assert compiled_fit.describe(shared, nn.losses.hinge, None, shared.parameters()) is None
    extra = nn.MLP(3, [4, 1], seed=0)
    extra.layers[0].scale = Value(2.0)
    assert compiled_fit.describe(extra, nn.losses.hinge, L2(1e-4), extra.parameters()) is None
    computed = nn.MLP(3, [4, 1], seed=0)
    computed.layers[0].neurons[0].w[0] = Value(1.0) * 2.0
    assert compiled_fit.describe(computed, nn.losses.hinge, None, computed.parameters()) is None
    dropout = nn.Sequential(nn.Layer(3, 4), nn.Dropout(0.5, seed=0), nn.Layer(4, 1))
    assert compiled_fit.describe(dropout, nn.losses.hinge, None, dropout.parameters()) is None


def test_code_replaced_at_run_time_means_a_trace(monkeypatch):
    m = nn.MLP(3, [4, 1], seed=0)
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is not None
    relu = Value.relu
    for obj, name, new in ((Value, "relu", lambda self: relu(self) * 1.0),
                           (nn.module, "_biased", lambda *a: None),
                           (nn.module.ACTIVATIONS, "relu", lambda v: v.tanh()),
                           (nn.Layer, "__call__", lambda self, x: self.forward(x))):
        with monkeypatch.context() as mp:
            if isinstance(obj, dict):
                mp.setitem(obj, name, new)
            else:
                mp.setattr(obj, name, new, raising=False)
            assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is None, name
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is not None


def test_copying_or_pickling_a_model_keeps_the_keyed_path():
    # copy and pickle cache each class's slot names in the class (__slotnames__): no code changed
    # (found by the full suite: a deepcopy in another test turned the keyed path off for good)
    for cls in (nn.MLP, nn.Layer, nn.Neuron, Value):
        if "__slotnames__" in vars(cls):
            delattr(cls, "__slotnames__")
    m = nn.MLP(3, [4, 1], seed=0)
    copy.deepcopy(m)
    pickle.dumps(m)
    assert any("__slotnames__" in vars(cls) for cls in (nn.MLP, nn.Layer, nn.Neuron, Value))
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is not None


def test_a_model_run_eagerly_first_keeps_the_keyed_path():
    """An eager forward leaves each Layer its cache of the weights' checks (`_seen`): no
    parameter, so the model is still fully described; anything else in its place is not."""
    m = nn.MLP(3, [4, 1], seed=0)
    m(np.ones((5, 3)))
    assert all("_seen" in vars(layer) for layer in m.layers)
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is not None
    m.layers[0]._seen = Value(1.0)  # a Value there would be a parameter nobody described
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) is None


def test_the_description_names_every_ingredient():
    def d(**kw):
        v = dict(BASE, **kw)
        m = nn.MLP(v["nin"], v["nouts"], activation=v["activation"], output_activation=v["output_activation"],
                   init="he", seed=0)
        reg = L2(v["reg"]) if v["reg"] is not None else None
        return compiled_fit.describe(m, nn.train.LOSSES[v["loss"]], reg, m.parameters())
    texts = [d()] + [d(**c) for c in VARIANTS if set(c) - {"batch", "rows"}]
    assert None not in texts and len(set(texts)) == len(texts)
    assert d(reg=1e-3) != d(reg=0.0010000000000000002)  # the weight to the last bit
    m = nn.MLP(3, [5, 1], init="he", seed=0)
    before = compiled_fit.describe(m, nn.losses.hinge, None, m.parameters())
    m.layers[0].neurons[2].activation = "tanh"  # one neuron changed by hand
    assert compiled_fit.describe(m, nn.losses.hinge, None, m.parameters()) not in (before, None)


def test_nn_losses_put_no_data_in_their_scalar_constants():
    """The alias stores the graph's scalar constant leaves (margins, 1/n, the L2 weight): true
    only if they do not depend on the traced batch. Traced on two batches of one shape, each
    keyable loss gives the same constants."""
    from autograd.compiler.trace import trace
    rng = np.random.default_rng(0)
    for name in ("mse", "hinge", "binary_cross_entropy_with_logits", "binary_cross_entropy"):
        m = nn.MLP(3, [4, 1], output_activation="sigmoid" if name == "binary_cross_entropy" else None, seed=0)
        own = {id(p) for p in m.parameters()}

        def f(X, y):
            return nn.train.LOSSES[name](m(X), y) + L2(1e-3)(m)
        consts = []
        for _ in range(2):
            X = rng.normal(size=(6, 3))
            y = np.where(rng.normal(size=6) > 0, 1.0, -1.0 if name == "hinge" else 0.0)
            t = trace(f, [X, y])
            consts.append([(t.batches[i], np.asarray(v.data).tolist()) for i, v in zip(t.param_nodes, t.params)
                           if id(v) not in own])
        assert consts[0] == consts[1], name
        assert all(b == 0 for b, _ in consts[0]), name  # scalars only: remembered as numbers


def test_a_program_with_a_batched_constant_is_never_remembered(tmp_path):
    """A batched leaf that is not a parameter (e.g. a shift computed from the traced batch's
    data) could differ for other data: such a program is always traced."""
    w = Value(0.5)
    shift = {}

    def f(x):
        c = shift.setdefault("c", np.asarray(x.data).copy())  # frozen from the traced batch
        return ((w * x - c) ** 2).mean()
    step = flat.lazy(f, [w], describe=lambda shapes: f"test batched constant {shapes}")
    step(np.array([0.5]), np.arange(4.0))
    assert not [n for n in os.listdir(cache.cache_dir()) if n.endswith(".json")
                and json.loads(open(os.path.join(cache.cache_dir(), n)).read()).get("format") == cache.ALIAS_FORMAT]


@pytest.mark.parametrize("damage", ["json", "payload", "slots", "library"])
def test_a_damaged_alias_means_a_trace(damage):
    want = _fit(BASE)
    folder = cache.cache_dir()
    aliases = [n for n in os.listdir(folder) if n.endswith(".json")
               and json.load(open(os.path.join(folder, n))).get("format") == cache.ALIAS_FORMAT]
    assert len(aliases) == 1  # one per batch shape
    for name in aliases:
        path = os.path.join(folder, name)
        meta = json.load(open(path))
        if damage == "json":
            open(path, "w").write("{not json")
        elif damage == "payload":
            meta["payload"] = meta["payload"].replace('"constants": [', '"constants": [1.0, ')
            json.dump(meta, open(path, "w"))
        elif damage == "slots":  # consistent hash, a nonsense permutation
            body = json.loads(meta["payload"])
            body["slots"] = [[0, 0, body["n_par"]]]
            meta["payload"] = json.dumps(body, sort_keys=True)
            import hashlib
            meta["payload_sha256"] = hashlib.sha256(meta["payload"].encode()).hexdigest()
            json.dump(meta, open(path, "w"))
        else:
            lib = json.loads(meta["payload"])["library"]
            key = cache.hashlib.sha256((" ".join(c_backend.find_compiler() + c_backend.CFLAGS) + "\n"
                                        + f"{c_backend.generator_version()} {lib}").encode()).hexdigest()[:32]
            os.unlink(os.path.join(folder, f"vg_{key}.so"))
    _forget_loaded()
    got = _fit(BASE)
    assert got[2].keyed_loads == 0 and _traces(got[2]) >= 1
    assert got[0] == want[0] and got[1] == want[1]


def test_l2_is_the_lambda_it_replaces():
    m = nn.MLP(3, [4, 1], seed=0)
    assert L2(1e-3)(m).data == nn.losses.l2(m.parameters(), 1e-3).data
    with pytest.raises(ValueError, match="finite"):
        L2(float("nan"))
    with pytest.raises(TypeError, match="number"):
        L2("0.1")
    with pytest.raises(AttributeError):
        L2(0.1).weight = 0.2
