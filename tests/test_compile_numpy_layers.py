"""The numpy backend's layered code (autograd/compiler/numpy_layers.py): nn models compile to a few
numpy lines per layer, and the loss and every gradient equal the eager engine's bit for bit
(same type, same bytes: the straight-line code's promise, kept); graphs without layers keep the
straight-line code; the source does not grow with the width."""
import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from autograd.compiler import numpy_backend
from autograd.compiler.trace import flatten_args

from compare_compiled import compiled, eager, micrograd_demo, values_of


def bits(x):
    return type(x).__name__, np.asarray(x, dtype=np.float64).tobytes()


def mismatches(prog, f, params, *args):
    want_out, want = eager(f, params, *args)
    got_out, got = compiled(prog, params, *args)
    if layered(prog):  # every number came from the layers, none from the straight-line rerun
        assert all(p.run.fallbacks == 0 for p in prog.programs.values())
    bad = [f"output {got_out!r} vs {want_out!r}"] if bits(got_out) != bits(want_out) else []
    bad += [f"grad {j}: {a!r} vs {b!r}" for j, (a, b) in enumerate(zip(got, want)) if bits(a) != bits(b)]
    return bad


def layered(prog):
    return all("dot_layer(" in p.source for p in prog.programs.values())


def mlp_problem(width, batch, activation="relu", seed=0):
    rng = np.random.default_rng(seed + width + batch)
    model = nn.MLP(3, [width, width, 1], activation=activation, seed=seed)
    X, y = rng.normal(size=(batch, 3)), rng.normal(size=batch)

    def f(X, y):
        return nn.losses.mse(model(X), y) + nn.losses.l2(model.parameters(), 1e-3)
    return model, f, X, y


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("width", [16, 64])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_mlp_equals_eager_bit_for_bit(width, batch, activation):
    model, f, X, y = mlp_problem(width, batch, activation)
    prog = autograd.compile(f, X, y, backend="numpy")
    assert layered(prog)
    params = model.parameters()
    assert not mismatches(prog, f, params, X, y)
    rng = np.random.default_rng(1)  # new data and moved weights: the same code, still exact
    for p in params:
        p.data += 0.01 * rng.normal()
    X2, y2 = rng.normal(size=X.shape), rng.normal(size=y.shape)
    assert not mismatches(prog, f, params, X2, y2)
    assert prog.traces == 1


def test_source_size_does_not_grow_with_width():
    sizes, lines = [], []
    for width in (16, 64):
        _, f, X, y = mlp_problem(width, 7)
        src = autograd.compile(f, X, y, backend="numpy").source
        sizes.append(len(src))
        lines.append(src.count("\n"))
    assert lines[0] == lines[1]
    assert abs(sizes[1] - sizes[0]) <= 0.1 * sizes[0], sizes  # the numbers in it get a digit longer


def test_many_operations_on_layers():
    """Every kind of group: unary rules on flat batches (erf through gelu, one float at a time
    inside), binary rules with a scalar operand (c ** z through the rule member by member),
    logsumexp and a dot whose weights are batches (softmax cross-entropy with one-hot targets),
    scalar groups through math's functions (a tanh regulariser), batched constants, and a leaf
    (c) whose terms come from two groups, interleaved."""
    rng = np.random.default_rng(3)
    model = nn.MLP(4, [12, 5], activation="tanh", seed=1)
    c = Value(1.3)
    X = rng.normal(size=(9, 4))
    Y = np.eye(5)[rng.integers(0, 5, size=9)]

    def f(X, Y):
        z = model(X)
        extra = [(zi.gelu() + zi.softplus() + (zi * zi + 1.0).log() + abs(zi) + zi.clamp(-0.5, 0.5)
                  + zi.leaky_relu(0.1) + zi.sigmoid() + zi.elu(0.7) + zi.silu() + c ** zi + zi / c).mean()
                 for zi in z]
        reg = autograd.sum([p.tanh() * p.exp() for p in model.parameters()[:20]])
        return nn.losses.cross_entropy(z, Y) + autograd.sum(extra) * 0.1 + reg * 1e-3
    prog = autograd.compile(f, X, Y, backend="numpy")
    assert layered(prog)
    params = model.parameters() + [c]
    assert not mismatches(prog, f, params, X, Y)


def test_graph_without_layers_keeps_straight_line_code():
    w, b = Value(0.3), Value(-0.2)
    f = lambda x: ((w * x + b).tanh() * (w * x).softplus()).sum()  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    prog = autograd.compile(f, x, backend="numpy")
    assert not layered(prog) and "M = np.empty" not in prog.source
    assert not mismatches(prog, f, [w, b], x)


def test_terms_out_of_group_order():
    """c gets one term from each neuron's `z * c` and one from its `z / c`: the straight-line
    code adds them neuron by neuron (mul, div, mul, div, ...), the groups would add all the
    muls, then all the divs (rounded differently). A leaf's terms wait and are added in the
    straight-line order at the end; an inner node's (c2) cannot wait, so that trace keeps the
    straight-line code."""
    model = nn.MLP(3, [4, 3], seed=2)
    c = Value(1.3)
    X = np.random.default_rng(0).normal(size=(6, 3))

    def f(X):
        return autograd.sum([(zi * c + zi / c).mean() for zi in model(X)])
    prog = autograd.compile(f, X, backend="numpy")
    assert layered(prog) and "TB[" in prog.source
    assert not mismatches(prog, f, model.parameters() + [c], X)

    def f2(X):
        c2 = c * 1.0
        return autograd.sum([(zi * c2 + zi / c2).mean() for zi in model(X)])
    prog = autograd.compile(f2, X, backend="numpy")
    assert not layered(prog) and "M = np.empty" not in prog.source
    assert not mismatches(prog, f2, model.parameters() + [c], X)


def test_domain_error_names_the_example_as_eager_does():
    """log of a negative number in the layered code: the call reruns through the straight-line
    code, which raises eager's own message (the example's index in the batch, not in a block)."""
    model = nn.MLP(2, [8, 3], seed=0)
    X = np.array([[0.1, 0.2], [0.3, -0.1], [5.0, 5.0], [0.0, 0.0]])

    def f(X, shift):
        return autograd.sum([(z + shift).log() for z in model(X)]).sum()
    prog = autograd.compile(f, X, np.full(4, 100.0), backend="numpy")
    assert layered(prog)
    z = np.array([v.data for v in model(values_of([X])[0])])  # (3 outputs, 4 examples)
    shift = -np.sort(z.ravel())[z.size // 2] * np.ones(4)  # some outputs go below 0
    program = next(iter(prog.programs.values()))
    source, ns = numpy_backend.generate(program.trace)  # the straight-line code, on its own
    exec(source, ns)
    params = [p.data for p in program.trace.params]
    with pytest.raises(ValueError) as want:
        ns["run"](flatten_args([X, shift]), params, True)
    with pytest.raises(ValueError) as got:
        prog(X, shift)
    assert str(got.value) == str(want.value) and "at batch index" in str(got.value)
    assert program.run.fallbacks == 1


def test_micrograd_demo_layered_and_exact():
    """micrograd's demo (the README promises its losses digit for digit) runs layered."""
    X, y, model, f = micrograd_demo()
    prog = autograd.compile(f, X, y, backend="numpy")
    assert layered(prog)
    for k in range(3):
        assert not mismatches(prog, f, model.parameters(), X, y)
        L = prog(X, y)
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
            p.grad = 0.0
        assert type(L) is float


def test_members_sharing_an_operand():
    """Three tanh nodes of one batch (a group reading one row three times, its gradient added
    three times in order) and a product with a shared scalar weight."""
    model = nn.MLP(3, [6, 2], seed=4)
    ws = [Value(0.5), Value(-1.5), Value(0.25)]

    def f(X):
        z = model(X)
        h = [z[0].tanh() * w for w in ws]
        return autograd.sum(h).mean() + (z[1] * ws[0]).sum()
    X = np.random.default_rng(5).normal(size=(7, 3))
    prog = autograd.compile(f, X, backend="numpy")
    assert layered(prog)
    assert not mismatches(prog, f, model.parameters() + ws, X)


def test_flat_step_runs_the_layers():
    """prog.flat(params): parameters in one array, through the layered code (no Value touched),
    the same numbers as eager."""
    model, f, X, y = mlp_problem(16, 7)
    params = model.parameters()
    prog = autograd.compile(f, X, y, backend="numpy")
    step = prog.flat(params)
    theta = np.array([p.data for p in params])
    want_loss, want = eager(f, params, X, y)
    before = [(p.data, p.grad) for p in params]
    loss, grad = step(theta, X, y)
    assert bits(loss) == bits(want_loss) and grad.tobytes() == np.array(want).tobytes()
    assert [(p.data, p.grad) for p in params] == before
    plan = next(iter(step._plans.values()))[1]
    assert plan.ok and plan.numpy
    theta2 = theta + 0.01
    step.load(theta2)
    want_loss, want = eager(f, params, X, y)
    loss, grad = step(theta2, X, y)
    assert bits(loss) == bits(want_loss) and grad.tobytes() == np.array(want).tobytes()


def test_unused_argument_branches_and_no_grad():
    """An argument fn never reads still takes its place among the packed arguments; a branch
    on a Value is a guard (a call going the other way traces again); grad=False leaves .grad."""
    model = nn.MLP(2, [8, 1], seed=3)

    def f(X, unused, y):
        loss = nn.losses.mse(model(X), y)
        return loss * 2.0 if loss > 1.0 else loss.tanh()
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    prog = autograd.compile(f, X, np.ones(3), y, backend="numpy")
    assert layered(prog)
    params = model.parameters()
    for target in (y, y + 10.0, y):  # small loss, then large (the other branch), then small
        assert not mismatches(prog, f, params, X, np.ones(3), target)
    assert prog.traces == 3  # each change of branch traces again
    want = f(*values_of([X, np.ones(3), y])).data
    got = prog(X, np.ones(3), y, grad=False)
    assert bits(got) == bits(want) and all(p.grad == 0.0 for p in params)
