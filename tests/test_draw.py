"""autograd.draw: the structure of drawings (through .source), real rendering, the renderer
choice and the command line."""
import importlib
import os
import re
import subprocess
import sys

import graphviz
import numpy as np
import pytest

import autograd
from autograd import Value
from autograd.draw import (AUTO_NEURON_VIEW, GraphInfo, RendererNotFoundError, draw, find_renderer,
                           main, save, use_renderer)
from nn import MLP, losses
from nn.data import make_moons

drawmod = importlib.import_module("autograd.draw")  # the module (autograd.draw, callable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _has(choice):
    try:
        find_renderer(choice)
        return True
    except RendererNotFoundError:
        return False


RENDERERS = [pytest.param(r, marks=pytest.mark.skipif(not _has(r), reason=f"no {r} here"))
             for r in ("graphviz-pure", "dot")]


@pytest.fixture(autouse=True)
def _keep_dot_binary(monkeypatch):
    # use_renderer() sets a global of the graphviz package; each test gets it back as it was
    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY",
                        graphviz.backend.dot_command.DOT_BINARY)
    monkeypatch.delenv("VALUEGRAD_RENDERER", raising=False)


def neuron():
    return drawmod.micrograd_neuron()


def edges(src):
    return re.findall(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", src, re.M)


def node_line(src, label):
    """The source line of the node whose label shows `label` in bold."""
    return next(line for line in src.splitlines() if f"<b>{label}</b>" in line)


def clusters(src):
    """{cluster name: (parent cluster or None, [node ids directly inside])}."""
    out, stack = {}, []
    for line in src.splitlines():
        s = line.strip()
        m = re.match(r"subgraph (\w+) \{$", s)
        if m or s == "{":
            name = m.group(1) if m else None
            if name:
                out[name] = (next((c for c in reversed(stack) if c), None), [])
            stack.append(name)
        elif s == "}":
            if stack:
                stack.pop()
        else:
            m = re.match(r"(\w+) \[", s)
            owner = next((c for c in reversed(stack) if c), None)
            if m and owner:
                out[owner][1].append(m.group(1))
    return out


def moons_loss(sizes=(16, 16, 1), l2=True):
    X, y = make_moons(100, noise=0.1, random_state=0)
    model = MLP(2, list(sizes), seed=1337)
    loss = losses.hinge(model(X), 2.0 * y - 1)
    if l2:
        loss = loss + losses.l2(model.parameters(), 1e-4)
    loss.label = "loss"
    loss.backward()
    return model, loss


# -- structure ---------------------------------------------------------------------------
def test_values_show_label_data_and_grad_and_operations_sit_between_them():
    src = draw(neuron()).source
    for label, data, grad in [("x1", "2.0000", "-1.5000"), ("w1", "-3.0000", "1.0000"),
                              ("n", "0.8814", "0.5000"), ("o", "0.7071", "1.0000")]:
        line = node_line(src, label)
        assert f"data {data}" in line and f"grad {grad}" in line
    ops = re.findall(r"^\s*(o\d+) \[label=\"?([^\" ]+)\"? ", src, re.M)
    assert sorted(label for _, label in ops) == ["*", "*", "+", "+", "tanh"]
    ids = {label: re.match(r"\s*(\w+)", node_line(src, label)).group(1) for label in ("n", "o")}
    tanh = next(i for i, label in ops if label == "tanh")
    assert (ids["n"], tanh, "") in edges(src) and (tanh, ids["o"], "") in edges(src)
    assert len(edges(src)) == 9 + 5  # 9 inputs of operations, 5 results


def test_kinds_are_told_apart_and_the_legend_names_them():
    x = Value(0.5, label="x0")
    w = Value(-1.0, label="layers.0.neurons.0.w.0")
    h = (x * w + 2.0).tanh()
    y = h * Value(3.0, label="w1")
    y.label = "y"
    src = draw(y).source
    fill = lambda label: re.search(r'bgcolor="([^"]+)"', node_line(src, label)).group(1)
    assert fill("x0") == drawmod.STYLE["input"][0]
    assert fill("layers.0.neurons.0.w.0") == fill("w1") == drawmod.STYLE["parameter"][0]
    assert fill("y") == drawmod.STYLE["output"][0]
    constant = next(line for line in src.splitlines() if "data 2.0000" in line)
    assert drawmod.STYLE["constant"][0] in constant
    legend = next(line for line in src.splitlines() if line.strip().startswith("legend"))
    for kind in ("input", "parameter", "intermediate", "output", "constant", "operation"):
        assert f">{kind}<" in legend


def test_params_name_unlabelled_parameters():
    w, x = Value(2.0), Value(3.0, label="x")
    src = draw(w * x, params=[("weight_a", w)]).source
    assert drawmod.STYLE["parameter"][0] in node_line(src, "weight_a")
    model = MLP(2, [1], seed=0)
    for _, p in model.named_parameters():
        p.label = ""
    assert "<b>w.1</b>" in draw(model([1.0, 2.0]), params=model).source


def test_batched_values_show_shape_mean_and_range_not_every_number():
    x = Value(np.arange(100.0), label="x")
    y = (x * 2.0).sum()
    y.backward()
    line = node_line(draw(y).source, "x")
    assert "data (100,) mean 49.5" in line and "[0 .. 99]" in line
    assert "grad (100,) mean 2" in line and "[2 .. 2]" in line
    assert "17.0" not in line and "42" not in line


def test_full_view_has_neuron_clusters_inside_layer_clusters():
    model = MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.0])
    out.label = "y"
    out.backward()
    g = draw(out)
    assert g.detail == "full" and "full view" in g.source
    cl = clusters(g.source)
    assert {n for n in cl if n.startswith("cluster_L")} == {
        "cluster_L0", "cluster_L1", "cluster_L0_N0", "cluster_L0_N1", "cluster_L0_N2", "cluster_L1_N0"}
    assert cl["cluster_L0_N1"][0] == "cluster_L0" and cl["cluster_L1_N0"][0] == "cluster_L1"
    assert cl["cluster_L0"][0] is None
    assert 'label="layers.0.neurons.1"' in g.source and 'label="layers.0: 3 x relu"' in g.source
    inside = cl["cluster_L0_N1"][1]  # w.0 w.1 b, dot, add, relu: 6 values and 3 operations
    assert len([i for i in inside if i.startswith("v")]) == 6
    assert len([i for i in inside if i.startswith("o")]) == 3
    names = set(re.findall(r"<b>([^<]+)</b>", " ".join(
        line for line in g.source.splitlines() if re.match(rf"\s*({'|'.join(inside)}) \[", line))))
    assert names == {"w.0", "w.1", "b"}  # the cluster's title says whose
    assert {"x0", "x1", "y"} <= set(re.findall(r"<b>([^<]+)</b>", g.source))


def test_hand_built_neurons_are_grouped_by_their_labels():
    xs = [Value(1.0, label="in0"), Value(2.0, label="in1")]
    outs = []
    for i in range(2):
        ws = [Value(0.1 * (i + k), label=f"enc.{i}.w.{k}") for k in range(2)]
        b = Value(0.5, label=f"enc.{i}.b")
        outs.append((autograd.dot(ws, xs) + b).sigmoid())
    y = outs[0] * outs[1]
    info = GraphInfo([y])
    assert [(n.prefix, n.activation, len(n.uses)) for n in info.neurons] == [
        ("enc.0", "sigmoid", 1), ("enc.1", "sigmoid", 1)]
    cl = clusters(draw(y, detail="full").source)
    assert cl["cluster_L0_N1"][0] == "cluster_L0"
    assert "<b>neurons</b>" not in draw(y, detail="neuron").source
    assert 'label="enc: 2 x sigmoid"' in draw(y, detail="neuron").source


def test_the_neuron_view_is_chosen_above_the_threshold():
    small = MLP(2, [6, 6, 1], seed=0)([0.5, -1.0])
    big = MLP(2, [8, 8, 1], seed=0)([0.5, -1.0])
    assert GraphInfo([small]).full_size() <= AUTO_NEURON_VIEW < GraphInfo([big]).full_size()
    assert draw(small).detail == "full"
    assert draw(big).detail == "neuron" and "neuron view" in draw(big).source
    assert draw(big, detail="full").detail == "full"
    assert draw(small, detail="neuron").detail == "neuron"
    with pytest.raises(ValueError, match="needs neurons"):
        draw(Value(1.0) * 2, detail="neuron")
    with pytest.raises(ValueError, match="detail"):
        draw(small, detail="layers")


def test_neuron_view_of_the_moons_mlp():
    model, loss = moons_loss()
    g = draw(loss)
    src = g.source
    assert g.detail == "neuron"
    neurons = re.findall(r"^\s*(n\d+) \[", src, re.M)
    assert len(neurons) == 33  # one node per neuron
    cl = clusters(src)
    assert [len([i for i in cl[f"cluster_L{k}"][1] if i.startswith("n")]) for k in range(3)] == [16, 16, 1]
    assert [i for i in cl["cluster_inputs"][1] if i.startswith("v")] and "<b>x0</b>" in src
    n5 = next(line for line in src.splitlines() if line.strip().startswith("n5 ["))
    assert "<b>neurons.5</b> relu" in n5 and "out mean" in n5 and "grad b" in n5 and "|grad w|" in n5
    b5 = model.layers[0].neurons[5].b
    assert f"b {drawmod.num(b5.data)}  grad b {drawmod.num(b5.grad)}" in n5
    faint = [(a, b) for a, b, attrs in edges(src) if 'arrowhead=none' in attrs]
    assert len(faint) == 2 * 16 + 16 * 16 + 16  # inputs -> layer 0 -> layer 1 -> output neuron
    # the neurons keep their index order: invisible edges inside each layer's rank
    chain = [(a, b) for a, b, attrs in edges(src) if "invis" in attrs]
    assert ("n1", "n0") in chain and ("n15", "n14") in chain and ("n17", "n16") in chain
    # the weight penalty's 337 p*p terms collapse into the one node that uses them
    assert "from 337 parameters" in src
    assert len(re.findall(r"^\s*[vno]\d+ \[", src, re.M)) < 70
    assert "<b>loss</b>" in src and drawmod.STYLE["output"][0] in node_line(src, "loss")


def test_dead_relu_neurons_are_marked():
    model = MLP(1, [2, 1], seed=0)
    model.layers[0].neurons[0].b.data = -100.0
    out = model(np.array([[0.5], [1.0]]))
    out.backward(grad=np.ones(2))
    src = draw(out, detail="neuron").source
    n0 = next(line for line in src.splitlines() if line.strip().startswith("n0 ["))
    assert "(dead)" in n0 and drawmod.STYLE["dead"][0] in n0


def test_a_list_of_outputs_and_argument_checks():
    model = MLP(2, [2, 2], seed=0)
    ys = model([1.0, 2.0])
    src = draw(ys).source
    assert src.count(drawmod.STYLE["output"][0]) == 2 + 1  # the two outputs and the legend
    with pytest.raises(ValueError, match="rankdir"):
        draw(ys, rankdir="XY")


# -- rendering -------------------------------------------------------------------------------
@pytest.mark.parametrize("renderer", RENDERERS)
def test_renders_real_svg_and_png(renderer, monkeypatch, tmp_path):
    monkeypatch.setenv("VALUEGRAD_RENDERER", renderer)
    g = draw(neuron())
    svg = g.pipe(format="svg", encoding="utf-8")
    assert "<svg" in svg and "data 0.8814" in svg and "tanh" in svg
    assert ("graphviz-pure" in svg) == (renderer == "graphviz-pure")  # the generator says which
    png = g.pipe(format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert save(g, tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in save(g, tmp_path / "n.svg").read_text()
    out = g.render(outfile=tmp_path / "r.png")  # graphviz's own file-writing path
    assert open(out, "rb").read(4) == b"\x89PNG"
    assert "image/svg+xml" in g._repr_mimebundle_()  # what Jupyter shows inline


@pytest.mark.parametrize("renderer", RENDERERS)
def test_neurons_are_laid_out_in_index_order(renderer, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_RENDERER", renderer)
    _, loss = moons_loss(l2=False)
    for rankdir, across, along in (("LR", 1, 0), ("TB", 0, 1)):
        g = draw(loss, rankdir=rankdir)
        plain = g.pipe(format="plain", encoding="utf-8")
        pos = {p[1]: (float(p[2]), float(p[3])) for p in map(str.split, plain.splitlines())
               if p[0] == "node"}
        first = -1 if rankdir == "LR" else 1  # n0 on top (plain's y grows upwards), or on the left
        x0, x1 = (re.match(r"\s*(\w+)", node_line(g.source, x)).group(1) for x in ("x0", "x1"))
        for column in ([x0, x1], [f"n{i}" for i in range(16)], [f"n{i}" for i in range(16, 32)]):
            at = [first * pos[n][across] for n in column]
            assert at == sorted(at), (rankdir, column)
            assert len({pos[n][along] for n in column}) == 1  # one column (or row)
        at = [pos[n][along] * (-1 if rankdir == "TB" else 1) for n in (x0, "n0", "n16", "n32")]
        assert at == sorted(at)  # inputs, the layers, the output neuron


def test_the_environment_variable_picks_the_renderer(monkeypatch, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\nexit 1\n")
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    assert find_renderer() == fake / "dot"  # auto: the system dot first
    pure = find_renderer("graphviz-pure")
    assert pure.name.startswith("graphviz-pure") and pure.parent != fake
    monkeypatch.setenv("VALUEGRAD_RENDERER", "graphviz-pure")
    assert use_renderer() == pure == graphviz.backend.dot_command.DOT_BINARY
    monkeypatch.setenv("VALUEGRAD_RENDERER", "dot")
    assert use_renderer() == fake / "dot" == graphviz.backend.dot_command.DOT_BINARY
    monkeypatch.setenv("VALUEGRAD_RENDERER", "graphviz")
    with pytest.raises(ValueError, match="auto, dot, graphviz-pure"):
        find_renderer()


def test_a_clear_error_when_neither_renderer_exists(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(drawmod, "_script_folders", lambda: [])
    for choice in ("auto", "dot", "graphviz-pure"):
        monkeypatch.setenv("VALUEGRAD_RENDERER", choice)
        with pytest.raises(RendererNotFoundError) as e:
            draw(neuron()).pipe()
        assert "pip install graphviz-pure" in str(e.value) and "VALUEGRAD_RENDERER=dot" in str(e.value)
    with pytest.raises(RendererNotFoundError):
        save(draw(neuron()), tmp_path / "x.svg")
    assert save(draw(neuron()), tmp_path / "x.gv").read_text().startswith("// valuegrad")


# -- the command line -------------------------------------------------------------------------
def test_cli_draws_an_expression(tmp_path, capsys):
    for ext in ("svg", "png", "gv", "html"):
        out = tmp_path / f"e.{ext}"
        assert main(["tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "-o", str(out)]) == 0
        assert out.stat().st_size > 500
    assert "<b>w</b>" in (tmp_path / "e.gv").read_text()
    assert main(["tanh(x*w + q)", "x=2", "w=1", "-o", str(tmp_path / "f.svg")]) == 1
    assert "give a value for q" in capsys.readouterr().err
    assert main(["__import__('os')", "-o", str(tmp_path / "f.svg")]) == 1


def test_cli_points_a_model_file_to_nn_draw(tmp_path, capsys):
    assert main([str(tmp_path / "model.json"), "-o", str(tmp_path / "m.gv")]) == 1
    assert "python -m nn.draw" in capsys.readouterr().err


def test_python_dash_m_and_layering(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "autograd.draw", "x*y", "x=2", "y=3", "-o",
                        str(tmp_path / "p.svg")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "" and "wrote" in r.stdout
    assert (tmp_path / "p.svg").read_text().count("<g id=") > 5
    r = subprocess.run([sys.executable, "-c", "import sys, autograd; autograd.draw(autograd.Value(1.0));"
                        "print('nn' in sys.modules)"], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "False"  # autograd draws without nn
