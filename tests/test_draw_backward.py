"""autograd.draw_backward: the replayed steps, the chain-rule text, and the page driven in a
real headless Chromium (skipped when there is none)."""
import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from autograd import Value, topological_order
from autograd.draw import RendererNotFoundError, find_renderer
from autograd.draw_backward import backward_steps, draw_backward

try:
    find_renderer()
    HAVE_RENDERER = True
except RendererNotFoundError:
    HAVE_RENDERER = False
needs_renderer = pytest.mark.skipif(not HAVE_RENDERER, reason="no dot or graphviz-pure")
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


def example():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + b ** 2  # b is used twice
    d.label = "d"
    return a, b, d


def test_steps_follow_the_backward_pass_and_match_its_gradients():
    a, b, d = example()
    steps = backward_steps(d)
    nodes = [s.node for s in steps]
    assert nodes[0] is d and len(nodes) == len(topological_order(d))
    for i, v in enumerate(nodes):  # each node comes after every node that uses it
        for p in v.parents:
            assert nodes.index(p) > i
    assert a.grad == 0.0 and b.grad == 0.0  # the replay leaves .grad alone
    d.backward()
    for s in steps:
        assert s.grad == s.node.grad


def test_every_operation_replays_as_backward_does():
    import autograd
    x = Value(0.7, label="x")
    y = Value(np.array([0.3, 1.2, 2.0]), label="y")
    terms = [x + y, x - y, x * y, x / y, -x, x ** 3, y ** x, abs(x - 1.0), x.exp(), y.log(),
             y.sqrt(), x.tanh(), y.sigmoid(), (x - 1.0).relu(), (x - 1.0).leaky_relu(0.1),
             y.softplus(), y.clamp(0.5, 1.5), autograd.sum([x, y]), autograd.dot([x, y], [y, 2.0]),
             autograd.logsumexp([x, y]), x.sin(), y.cos(), y.square(), x.erf(), y.gelu(), (x - 1.0).elu(0.5),
             y.silu(), autograd.maximum(x, y), autograd.minimum(x, y), y - autograd.max_detached([x, y])]
    loss = autograd.sum([t.mean() if isinstance(t.data, np.ndarray) else t for t in terms] + [y.sum()])
    seen = {s.node.op for s in backward_steps(loss)}
    assert seen >= set(autograd.OPS), set(autograd.OPS) - seen  # a new operation: add it above
    steps = backward_steps(loss)
    loss.backward()
    for s in steps:
        np.testing.assert_array_equal(s.grad, s.node.grad)
        assert all(" rule" not in line for line in s.lines()), s.lines()  # each op has its words


def test_each_step_shows_its_chain_rule_products():
    a, b, d = example()
    by_name = {s.node.label: s for s in backward_steps(d)}
    assert by_name["d"].lines() == ["grad(d) = 1  (the start: dd/dd = 1)"]
    lines = by_name["b"].lines()
    assert len(lines) == 3  # two uses of b, then their sum
    assert "c = a * b, so ∂c/∂b = a = 2.0000\ngrad(c) × ∂c/∂b = 1.0000 × 2.0000 = 2.0000" in lines
    assert any("**2" in line and "= -6.0000" in line for line in lines)
    assert lines[-1] == "grad(b) = the sum of these 2 = -4.0000"
    assert by_name["a"].lines()[-1] == "grad(a) = -3.0000"


def test_batched_steps_sum_over_the_batch_for_a_scalar():
    w = Value(0.5, label="w")
    x = Value(np.array([1.0, 2.0, 3.0]), label="x")
    loss = (w * x).tanh().mean()
    steps = {s.node.label: s for s in backward_steps(loss)}
    assert "(summed over the batch)" in steps["w"].lines()[0]
    loss.backward()
    assert steps["w"].grad == pytest.approx(w.grad, rel=1e-15)
    np.testing.assert_array_equal(steps["x"].grad, x.grad)
    assert "(3,) mean" in steps["x"].lines()[-1]


@needs_renderer
def test_the_page_is_self_contained_and_lists_the_steps(tmp_path):
    _, _, d = example()
    page = draw_backward(d, tmp_path / "steps.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "<script src" not in page and "@import" not in page
    assert page.count("<svg") == 1 and "<?xml" not in page
    steps = _steps(page)
    assert [s["name"] for s in steps] == [s.name for s in backward_steps(d)] == ["d", "c", "a", "#1", "b"]
    assert steps[-1]["lines"][-1] == "grad(b) = the sum of these 2 = -4.0000"
    for s in steps:  # every step's node, and the operations it went through, are in the drawing
        assert f'id="{s["id"]}"' in page
        assert all(f'id="{o}"' in page for o in s["via"])


def _steps(page):
    return json.loads(re.search(r"const steps = (\[.*?\]);\n", page).group(1))


def _chromium(url, tmp_path, *extra):
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _state(dom):
    """(step, node id, the panel's gradient, the highlighted nodes) of a dumped page."""
    step = re.search(r'<body[^>]* data-step="(\d+)"', dom).group(1)
    node = re.search(r'<body[^>]* data-node="(\w+)"', dom).group(1)
    grad = re.search(r'<div id="grad">([^<]*)</div>', dom).group(1)
    current = re.findall(r'<g id="(\w+)" class="node current', dom)
    return int(step), node, grad, current


def _node_text(dom, node_id):
    return re.search(rf'<g id="{node_id}" class="node[^"]*">(.*?)</g>', dom, re.S).group(1)


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")


@needs_renderer
@needs_chromium
def test_stepping_in_a_real_browser(tmp_path):
    _, _, d = example()
    path = draw_backward(d, tmp_path / "steps.html")
    a_id = _steps(path.read_text())[2]["id"]
    doms = {k: _chromium(f"{path.as_uri()}#step={k}", tmp_path, "--dump-dom") for k in (1, 2, 3, 5)}
    states = {k: _state(dom) for k, dom in doms.items()}
    assert [states[k][0] for k in (1, 2, 3, 5)] == [1, 2, 3, 5]
    assert len({states[k][1] for k in states}) == 4  # a different node at each step ...
    assert all(states[k][3] == [states[k][1]] for k in states)  # ... and only it highlighted
    assert [states[k][2] for k in (1, 2, 3, 5)] == [
        "grad(d) = 1.0000", "grad(c) = 1.0000", "grad(a) = -3.0000", "grad(b) = -4.0000"]
    # in the drawing, a's gradient appears at a's step, not before
    assert "grad ?" in _node_text(doms[2], a_id) and "grad -3.0000" not in _node_text(doms[2], a_id)
    assert "grad -3.0000" in _node_text(doms[3], a_id) and "grad ?" not in _node_text(doms[3], a_id)
    assert "the sum of these 2 = -4.0000" in doms[5]


@needs_renderer
@needs_chromium
def test_the_buttons_keys_and_play_in_a_real_browser(tmp_path):
    _, _, d = example()
    path = draw_backward(d, tmp_path / "steps.html")
    # a copy of the page with a script that presses the controls and writes down what it saw
    harness = tmp_path / "harness.html"
    harness.write_text(path.read_text().replace("</body>", """<script>
const seen = [], b = document.body;
const look = (what) => seen.push([what, +b.dataset.step, b.dataset.node,
    document.getElementById('grad').textContent, document.querySelector('g.node.current').id]);
look('load');
document.getElementById('next').click(); look('next');
document.getElementById('next').click(); look('next');
document.getElementById('prev').click(); look('prev');
document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight'})); look('key');
document.getElementById('first').click(); look('first');
document.getElementById('play').click();
setTimeout(() => { look('play'); const p = document.createElement('pre'); p.id = 'seen';
  p.textContent = JSON.stringify(seen); b.appendChild(p); }, 2000);
</script></body>"""))
    dom = _chromium(harness.as_uri(), tmp_path, "--virtual-time-budget=5000", "--dump-dom")
    seen = json.loads(html.unescape(re.search(r'<pre id="seen">(.*?)</pre>', dom, re.S).group(1)))
    assert [s[1] for s in seen[:6]] == [1, 2, 3, 2, 3, 1]
    assert seen[6][1] > 1  # play moved on by itself
    assert [s[3] for s in seen[:3]] == ["grad(d) = 1.0000", "grad(c) = 1.0000", "grad(a) = -3.0000"]
    for _, _, node, _, current in seen:
        assert node == current


@needs_renderer
@needs_chromium
def test_a_screenshot_of_the_page(tmp_path):
    _, _, d = example()
    url = draw_backward(d, tmp_path / "steps.html").as_uri()
    _chromium(url + "#step=3", tmp_path, "--window-size=1200,700", f"--screenshot={tmp_path / 'shot.png'}")
    assert (tmp_path / "shot.png").read_bytes()[:4] == b"\x89PNG"


# -- the neuron view: micrograd's MLP(2, [16, 16, 1]) on a batch of 100 ---------------------------
def mlp_loss():
    """micrograd's demo graph: hinge loss + L2 on make_moons(100), seeds 1337."""
    import random
    from nn import MLP, losses
    from nn.data import make_moons
    random.seed(1337)
    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    model = MLP(2, [16, 16, 1])
    loss = losses.hinge(model(X), y * 2 - 1) + losses.l2(model.parameters(), 1e-4)
    loss.label = "loss"
    return model, loss


@pytest.fixture(scope="module")
def mlp_page(tmp_path_factory):
    if not HAVE_RENDERER:
        pytest.skip("no dot or graphviz-pure")
    model, loss = mlp_loss()
    path = draw_backward(loss, tmp_path_factory.mktemp("mlp") / "mlp.html")
    return model, loss, path


def test_the_mlp_page_is_at_neuron_level_small_and_output_layer_first(mlp_page):
    model, loss, path = mlp_page
    assert path.stat().st_size <= 1_000_000
    steps = _steps(path.read_text())
    assert len(steps) <= 40
    neurons = [s["name"] for s in steps if s["kind"].startswith("neuron")]
    assert len(neurons) == 33 and len(set(neurons)) == 33
    layers = [int(n.split(".")[1]) for n in neurons]
    assert layers == sorted(layers, reverse=True)  # output layer first, then 1, then 0
    assert neurons[1:17] == [f"layers.1.neurons.{i}" for i in range(16)]
    assert steps[0]["name"].startswith("loss") and steps[-1]["kind"] == "inputs"
    # every node of the graph is in exactly one step's scalar steps
    assert sum(len(s["sub"]) for s in steps) == len(topological_order(loss))
    loss.backward()
    params = dict(model.named_parameters())
    for s in steps[1:-1]:
        rows = s["table"]["rows"]
        for j, w, sent, total, _, to_input in rows:  # a scalar weight reads as a scalar
            p = params[f"{s['name']}.{j}"]
            assert w == f"{p.data:.4f}" and "(" not in sent + total
            assert float(total) == pytest.approx(p.grad, rel=1e-3, abs=1e-4)
            assert to_input.count("[") == 1  # one number per example: a batch summary
        b = params[f"{s['name']}.b"]
        bias_line = next(line for line in s["lines"] if line.startswith("to the bias"))
        assert bias_line.endswith(f"= {b.grad:.4f}") or "e-" in bias_line
    out = steps[1]
    assert out["lines"][0].startswith("incoming: grad(out) = (100,) mean")
    relu = steps[2]["lines"][1]
    assert re.fullmatch(r"activation relu: ∂out/∂z = \[z > 0\] = 1 for \d+ of 100 examples, 0 for the rest", relu)


def test_detail_full_and_neuron_can_be_asked_for():
    _, _, d = example()
    with pytest.raises(ValueError, match="needs neurons"):
        draw_backward(d, detail="neuron")
    with pytest.raises(ValueError, match="detail must be"):
        draw_backward(d, detail="fine")


@needs_renderer
def test_the_page_shows_inline_in_a_notebook(tmp_path):
    _, _, d = example()
    page = draw_backward(d)
    frame = page._repr_html_()
    assert frame.startswith("<iframe") and 'sandbox="allow-scripts"' in frame
    assert html.unescape(frame.split('srcdoc="', 1)[1].rsplit('"', 1)[0]) == page.html
    assert "<script" not in frame  # the page itself is only in the escaped attribute
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page.html)
    assert page.save(tmp_path / "p.html").read_text() == page.html


def _harness(path, tmp_path, script):
    harness = tmp_path / "harness.html"
    harness.write_text(path.read_text().replace("</body>", f"<script>{script}</script></body>"))
    return harness


_RECORD = """
const seen = [], b = document.body;
const look = (what) => seen.push([what, +b.dataset.step, b.dataset.node, b.dataset.sub || '',
    document.getElementById('sub').textContent.length, +b.dataset.ready]);
const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', {key: k}));
const done = () => { const p = document.createElement('pre'); p.id = 'seen';
  p.textContent = JSON.stringify(seen); b.appendChild(p); };
"""


def _seen(dom):
    return json.loads(html.unescape(re.search(r'<pre id="seen">(.*?)</pre>', dom, re.S).group(1)))


@needs_chromium
def test_the_mlp_page_in_a_real_browser(mlp_page, tmp_path):
    _, _, path = mlp_page
    steps = _steps(path.read_text())
    harness = _harness(path, tmp_path, _RECORD + """
look('load'); key('ArrowRight'); look('right'); key('ArrowRight'); look('right');
key('ArrowLeft'); look('left'); key('o'); look('open'); key('ArrowDown'); key('ArrowDown'); look('down');
key('End'); look('end');
window.vg.find('layers.1.neurons.7.w.3'); look('find');
const w0 = window.vg.viewBox()[2]; key('+'); const w1 = window.vg.viewBox()[2]; key('0');
seen.push(['zoom', w0, w1, window.vg.viewBox()[2]]);
done();""")
    dom = _chromium(harness.as_uri(), tmp_path, "--window-size=1280,800", "--dump-dom")
    seen = _seen(dom)
    assert seen[0][5] < 2000  # the page's script ran in under 2 s
    assert [s[1] for s in seen[:-1]] == [1, 2, 3, 2, 2, 2, len(steps), 1 + 1 + 7 + 1]
    assert seen[1][2] == steps[1]["id"] == "n32"  # the output neuron
    assert seen[3][3] == "" and seen[4][3] == "1" and seen[5][3] == "3"  # opened, then moved down
    assert seen[4][4] > 1000  # the scalar steps are shown
    assert "layers.2.neurons.0.w.0" in dom and "∂" in dom
    assert seen[7][2] == "n23"  # layers.1.neurons.7: neurons are numbered n0, n1, ... layer by layer
    _, before, zoomed, fitted = seen.pop()
    assert zoomed < before < fitted  # '+' zooms in; '0' fits the whole graph


@needs_chromium
def test_a_screenshot_of_the_mlp_page_is_not_blank(mlp_page, tmp_path):
    _, _, path = mlp_page
    shot = tmp_path / "mlp.png"
    _chromium(path.as_uri() + "#step=3", tmp_path, "--window-size=1280,800", "--hide-scrollbars",
              f"--screenshot={shot}")
    from PIL import Image
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    left = img[60:, :700]  # the drawing: boxes and text, not a white page
    assert left.std() > 20 and (left < 128).mean() > 0.01


BAD = ['<!--<script>', '</script>', '"; alert(1); "', "</SCRIPT><img src=x onerror=alert(1)>",
       "\u2028", "%SVG%", "&amp;"]


@needs_renderer
@needs_chromium
def test_hostile_labels_do_not_break_the_page(tmp_path):
    xs = [Value(float(i + 1), label=bad) for i, bad in enumerate(BAD)]
    out = autograd_sum(xs)
    out.label = BAD[0] + BAD[1]
    path = draw_backward(out, tmp_path / "bad.html", title=BAD[3])
    text = path.read_text()
    script = text[text.index("const steps"):]
    assert "<!--" not in script.split("</script>")[0] and "<img" not in text.split("<svg")[0]
    assert [s["name"] for s in _steps(text)][0] == BAD[0] + BAD[1]
    dom = _chromium(path.as_uri() + "#step=2", tmp_path, "--dump-dom")
    assert re.search(r'<body[^>]* data-ready="\d+"', dom)  # the page's script ran to its end
    assert _state(dom)[0] == 2 and "onerror" not in dom.split("<svg")[0].replace("&lt;", "<").split("<img")[0]
    assert "<img" not in re.sub(r"<svg.*</svg>", "", dom, flags=re.S).split("<script")[0]


@needs_renderer
@needs_chromium
def test_hostile_neuron_names_do_not_break_the_neuron_view(tmp_path):
    import autograd
    prefix = "n</script><!--<script>"  # (one starting with '<' tests DOT escaping: test_draw.py)
    w = [Value(0.5, label=f"{prefix}.w.0"), Value(-1.0, label=f"{prefix}.w.1")]
    x = [Value(np.array([1.0, 2.0]), label=BAD[2]), Value(np.array([0.5, -1.0]), label=BAD[3])]
    out = (autograd.dot(w, x) + Value(0.1, label=f"{prefix}.b")).relu().sum()
    path = draw_backward(out, tmp_path / "n.html", detail="neuron")
    steps = _steps(path.read_text())
    assert prefix in [s["name"] for s in steps]
    dom = _chromium(path.as_uri() + "#step=2", tmp_path, "--dump-dom")
    assert re.search(r'<body[^>]* data-ready="\d+"', dom) and _state(dom)[0] == 2


def autograd_sum(xs):
    import autograd
    return autograd.sum(xs)


def test_autograd_imports_nothing_from_nn():
    import pathlib
    import sys
    root = pathlib.Path(__file__).resolve().parents[1] / "autograd"
    for f in root.rglob("*.py"):
        src = f.read_text()
        assert not re.search(r"^\s*(import nn\b|from nn\b|from \.\.nn\b)", src, re.M), f
    code = ("import sys, autograd, autograd.draw_backward, autograd.draw_backward_neurons, autograd.compiler;"
            "import importlib; importlib.import_module('autograd.draw');"
            "print(sorted(m for m in sys.modules if m == 'nn' or m.startswith('nn.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(root.parent), env={**__import__("os").environ, "PYTHONPATH": str(root.parent)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@needs_renderer
def test_the_neuron_view_of_a_per_example_graph_sums_over_each_neurons_uses():
    import autograd
    from nn import MLP
    model = MLP(2, [4, 4, 1], seed=0)
    outs = [model([a, b]) for a, b in [(0.5, -1.0), (1.0, 2.0), (-0.3, 0.2)]]  # micrograd's way
    loss = autograd.sum([(o - 1.0) ** 2 for o in outs])
    page = draw_backward(loss, detail="neuron")
    loss.backward()
    params = dict(model.named_parameters())
    neurons = [s for s in page.steps if s["kind"].startswith("neuron")]
    assert len(neurons) == 9 and all("(over its 3 uses)" in s["lines"][0] for s in neurons)
    for s in neurons:
        from autograd.draw import num
        bias_line = next(line for line in s["lines"] if line.startswith("to the bias"))
        assert bias_line.endswith(f"= {num(params[s['name'] + '.b'].grad)}")
        for j, _, sent, total, _, _ in s["table"]["rows"]:
            assert float(sent) == pytest.approx(params[f"{s['name']}.{j}"].grad, abs=1e-4) == float(total)
