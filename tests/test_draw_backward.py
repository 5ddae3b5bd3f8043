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
             y.silu(), autograd.maximum(x, y), autograd.minimum(x, y)]
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
