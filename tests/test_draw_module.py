"""autograd.draw as a module that can be called, render() without a stray DOT file, and the
command line's messages (unknown functions, a format the renderer cannot write)."""
import os
import subprocess
import sys

import graphviz
import pytest

import autograd
from autograd import Value
from autograd.draw import RendererNotFoundError, find_renderer, functions, main
from autograd.ops import OPS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _keep_dot_binary(monkeypatch):
    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY",
                        graphviz.backend.dot_command.DOT_BINARY)


def _renderer():
    try:
        return find_renderer()
    except RendererNotFoundError:
        pytest.skip("no renderer here")


def test_draw_is_the_module_and_draws_when_called():
    import autograd.draw as d
    import autograd.draw_backward as db
    assert d is autograd.draw and db is autograd.draw_backward
    assert d.__file__.endswith("draw.py") and db.__file__.endswith("draw_backward.py")
    x = Value(2.0, label="x")
    y = x * x
    assert isinstance(autograd.draw(y), graphviz.Digraph)
    assert autograd.draw(y).source == d.draw(y).source
    for name in ("save", "use_renderer", "find_renderer", "micrograd_neuron", "Drawing"):
        assert callable(getattr(autograd.draw, name))
    from autograd import draw, draw_backward
    assert draw is d and draw_backward is db


def test_readme_drawing_calls(tmp_path, monkeypatch):
    _renderer()
    monkeypatch.chdir(tmp_path)
    g = autograd.draw(autograd.draw.micrograd_neuron())
    assert str(autograd.draw.save(g, "loss.png")) == "loss.png"
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert autograd.draw.use_renderer() == graphviz.backend.dot_command.DOT_BINARY
    autograd.draw_backward(autograd.draw.micrograd_neuron(), "steps.html")
    assert (tmp_path / "steps.html").read_text().startswith("<!DOCTYPE html>")


def test_render_leaves_only_the_picture(tmp_path, monkeypatch):
    _renderer()
    monkeypatch.chdir(tmp_path)
    g = autograd.draw(Value(1.0, label="x") * 2)
    assert g.render("loss", format="png") == "loss.png"
    assert sorted(os.listdir(tmp_path)) == ["loss.png"]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    g.render("kept", format="svg", cleanup=False)  # asking for the source still keeps it
    assert sorted(os.listdir(tmp_path)) == ["kept", "kept.svg", "loss.png"]


def test_python_dash_m_runs_main_not_the_callable_copy(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "autograd.draw", "--help"], capture_output=True,
                       text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m autograd.draw") and r.stderr == ""


def test_expression_functions_come_from_the_table_of_operations():
    fns = functions()
    expected = {name for name, op in OPS.items() if op.arity != "n" and callable(getattr(Value, name, None))}
    assert expected <= set(fns) and "abs" in fns
    assert {"tanh", "relu", "sigmoid", "exp", "log", "sqrt", "softplus", "leaky_relu", "clamp"} <= expected
    assert "sin" not in fns or callable(getattr(Value, "sin", None))


def test_unknown_function_is_named_with_the_known_ones(capsys):
    if "sin" not in functions():  # the case, until sin joins the table
        assert main(["sin(x)", "x=1"]) == 1
        err = capsys.readouterr().err
        assert "sin is not a known function" in err and "tanh" in err and "give a value" not in err
    assert main(["frobnicate(x) + 1", "x=1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: frobnicate is not a known function (known functions: abs, ")
    assert main(["x.frobnicate()", "x=1"]) == 1
    assert "frobnicate is not a known function" in capsys.readouterr().err
    assert main(["exp + x", "x=1"]) == 1
    assert "exp is a function: call it" in capsys.readouterr().err


def test_expression_calls_functions_on_numbers_and_values(tmp_path, capsys):
    y = autograd.draw.expression("clamp(x, 0, 1) + abs(x) + tanh(1)", {"x": 3.0})
    y.backward()
    import math
    assert y.data == 1.0 + 3.0 + math.tanh(1.0)
    assert [v.grad for v in autograd.topological_order(y) if v.label == "x"] == [1.0]  # clamp 0, abs 1


def test_format_the_renderer_cannot_write_exits_2_without_a_traceback(tmp_path, monkeypatch):
    try:
        find_renderer("graphviz-pure")
    except RendererNotFoundError:
        pytest.skip("no graphviz-pure here")
    env = dict(os.environ, PYTHONPATH=ROOT, VALUEGRAD_RENDERER="graphviz-pure")
    r = subprocess.run([sys.executable, "-m", "autograd.draw", "x*y", "x=1", "y=2", "-o", "out.pdf"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith("error: cannot write out.pdf: graphviz-pure failed (exit status 1): ")
    assert '"pdf" not recognized' in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "out.pdf").exists()


@pytest.mark.parametrize("text, message", [
    ("tanh(x)(1)", "'tanh(x)(1)': 'Value' object is not callable"),
    ("tanh(x, 2)", "'tanh(x, 2)': Value.tanh() takes 1 positional argument but 2 were given"),
    ("x.abs()", "not allowed in an expression: 'x.abs'"),
    ("x.data", "not allowed in an expression: 'x.data'"),
    ("x.__class__", "not allowed in an expression: 'x.__class__'"),
])
def test_expressions_that_cannot_run_are_errors_not_tracebacks(text, message, capsys):
    assert main([text, "x=1"]) == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_only_the_operations_methods_are_reachable_as_attributes(capsys):
    for text in ("x.backward()", "x.detach()", "x.sum()", "x._op", "x.tanh.__globals__"):
        assert main([text, "x=1"]) == 1
        assert capsys.readouterr().err.startswith("error: ")
