"""Drawings of hostile labels: every user string is escaped where it lands (quoted DOT strings,
HTML-like labels), the DOT still parses, no URL or href reaches the SVG, and the text shows as
typed. The expression command line refuses what would never finish."""
import importlib
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import graphviz
import pytest

import autograd
from autograd import Value
from autograd.draw import RendererNotFoundError, draw, expression, find_renderer

drawmod = importlib.import_module("autograd.draw")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HOSTILE = [
    'a" URL="javascript:alert(1)" b="',
    "ends in a backslash\\",
    "two\\\\",
    '\\" URL="javascript:alert(3)',
    '<<table><tr><td href="javascript:alert(2)">x</td></tr></table>>',
    "<b>bold</b>",
    "</script><!--<script>alert(4)</script>",
    "]]><x/>&amp;&#0;",
    "\\N \\G \\l \\n",
    "ctl\x01\x08\x1f\x7f",
    "new\nline",
]


def _pure():
    try:
        return find_renderer("graphviz-pure")
    except RendererNotFoundError:
        return None


needs_renderer = pytest.mark.skipif(_pure() is None, reason="no graphviz-pure")


@pytest.fixture(autouse=True)
def _keep_dot_binary(monkeypatch):
    monkeypatch.setattr(graphviz.backend.dot_command, "DOT_BINARY",
                        graphviz.backend.dot_command.DOT_BINARY)
    monkeypatch.setenv("VALUEGRAD_RENDERER", "graphviz-pure")


def hostile_graph(text):
    """A neuron whose parameter prefix, input and output labels are all `text`."""
    x = Value(1.0, label=text)
    ws = [Value(0.5, label=f"{text}.w.0")]
    b = Value(0.1, label=f"{text}.b")
    out = (autograd.dot(ws, [x]) + b).tanh()
    out.label = text
    out.backward()
    return out


def svg_of(g):
    svg = g.pipe(format="svg", encoding="utf-8")
    return svg, ET.fromstring(svg.encode())  # well-formed XML, or this raises


def shown(text):
    return drawmod._clean(text)


@needs_renderer
@pytest.mark.parametrize("detail", ["full", "neuron"])
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_labels_render_escaped(text, detail):
    try:
        g = draw(hostile_graph(text), detail=detail)
    except ValueError as e:  # a label with a newline does not name a neuron
        assert "needs neurons" in str(e) and "\n" in text
        return
    svg, root = svg_of(g)
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        assert tag not in ("script", "foreignObject", "iframe"), tag
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            assert local not in ("href", "url", "target") and not local.startswith("on"), (name, value)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    # the text comes out as typed (control characters as U+FFFD), in the cluster titles
    want = shown(text).split("\n")[0]
    assert any(want in t for t in texts), (want, texts[:8])


ATTRIBUTES = {"label", "tooltip", "shape", "style", "color", "fillcolor", "fontname", "fontsize",
              "newrank", "rankdir", "nodesep", "ranksep", "remincross", "arrowsize", "margin",
              "height", "penwidth", "arrowhead", "tailport", "headport", "rank", "id"}


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_the_dot_source_has_only_our_attributes(text):
    for detail in ("full", "neuron"):
        try:
            src = draw(hostile_graph(text), detail=detail).source
        except ValueError as e:  # a label with a newline does not name a neuron
            assert "needs neurons" in str(e)
            continue
        assert _attribute_names(src) <= ATTRIBUTES


def _attribute_names(src):
    """The attribute names of a DOT source, read as Graphviz reads it: quoted strings (with
    backslash escapes) and HTML-like <...> labels are skipped whole; both must be closed."""
    names, i, n = set(), 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.index("\n", i)
        elif c == '"':
            i += 1
            while src[i] != '"':  # IndexError: a string left open
                i += 2 if src[i] == "\\" else 1
            i += 1
        elif c == "<":
            depth, i = 1, i + 1
            while depth:
                depth += {"<": 1, ">": -1}.get(src[i], 0)
                i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            k = j
            while k < n and src[k] in " \t":
                k += 1
            if k < n and src[k] == "=":
                names.add(src[i:j])
            i = j
        else:
            i += 1
    return names


def test_the_attribute_reader_sees_an_injection():
    assert _attribute_names('a [tooltip="x" URL="javascript:y"]') == {"tooltip", "URL"}
    assert _attribute_names('a [tooltip="x\\" URL=\\"j\\""]') == {"tooltip"}


def test_plain_and_html_escapes():
    assert drawmod._plain("a\\") == "a\\\\" and isinstance(drawmod._plain("<x>"), graphviz.quoting.NoHtml)
    assert drawmod._html('<td href="x">&') == "&lt;td href=&quot;x&quot;&gt;&amp;"
    assert drawmod._clean("a\x00b\ud800") == "a\ufffdb\ufffd"


# -- the expression command line ---------------------------------------------------------------

@pytest.mark.parametrize("text,needle", [
    ("x + 9**9**9", "overflows"),
    ("x * 10**400", "overflows"),
    ("x + 1/0", "division by zero"),
    ("x + " + "9" * 5000, "too long"),
    ("(" * 500 + "x" + ")" * 500, "not an expression"),
    ("x*" * 1000 + "x", "too long"),
])
def test_pathological_expressions_are_refused_at_once(text, needle):
    code = ("import sys, time\nfrom autograd.draw import expression\nt = time.perf_counter()\n"
            "try:\n    expression(sys.argv[1], {'x': 2.0})\n    print('accepted')\n"
            "except ValueError as e:\n    print('refused:', e)\nprint(time.perf_counter() - t)\n")
    r = subprocess.run([sys.executable, "-c", code, text], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=REPO))
    out = r.stdout.splitlines()
    assert r.returncode == 0, r.stderr
    assert out[0].startswith("refused:") and needle in out[0], out
    assert float(out[1]) < 2.0


def test_expressions_still_work():
    assert expression("x ** 2 + 2 ** 10", {"x": 3.0}).data == 1033.0
    assert expression("leaky_relu(x, 0.1)", {"x": -2.0}).data == -0.2


def test_cli_reports_a_pathological_expression(tmp_path, capsys):
    assert drawmod.main(["x + 9**9**9", "x=1", "-o", str(tmp_path / "g.svg")]) == 1
    assert "overflows" in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()
