"""micrograd's demo (demo.ipynb) reproduced digit for digit.

random.seed(1337); np.random.seed(1337); make_moons(100, noise=0.1); labels -1/+1;
MLP(2, [16, 16, 1]); SVM max-margin loss + 1e-4 * L2; lr = 1.0 - 0.9 * k / 100; 100 steps.
micrograd prints step 0 loss 0.8958441028683222, accuracy 50% and step 99 loss
0.010978370135492717, accuracy 100%.
"""
import random

import numpy as np
import pytest

import autograd
import nn
from autograd import Value
from compare_compiled import micrograd_demo

STEP0_LOSS, STEP0_ACC = 0.8958441028683222, 0.5
STEP99_LOSS, STEP99_ACC = 0.010978370135492717, 1.0
STEPS = 100


def rel_err(a, b):
    return abs(a - b) / abs(b)


def setup_demo():
    """micrograd's set-up (compare_compiled.micrograd_demo) with its integer labels."""
    X, y, model, _ = micrograd_demo()
    return X, y.astype(int), model


def per_example_loss(model, X, y):
    """The notebook's loss(): one graph per example."""
    inputs = [list(map(Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = autograd.sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * autograd.sum([p * p for p in model.parameters()])
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return data_loss + reg_loss, sum(accuracy) / len(accuracy)


def batched_loss(model, X, y):
    scores = model(X)  # one batched Value for all 100 examples
    assert isinstance(scores, Value) and scores.data.shape == (len(X),)
    data_loss = (1 + -y * scores).relu().mean()
    reg_loss = 1e-4 * autograd.sum([p * p for p in model.parameters()])
    return data_loss + reg_loss, float(np.mean((y > 0) == (scores.data > 0)))


def library_loss(model, X, y):
    """The same loss through nn.losses.hinge + nn.losses.l2 (batched)."""
    scores = model(X)
    loss = nn.losses.hinge(scores, y) + nn.losses.l2(model.parameters(), 1e-4)
    return loss, float(np.mean((y > 0) == (scores.data > 0)))


def run_manual(loss_fn, steps=STEPS):
    """The notebook's loop: zero_grad, backward, p.data -= lr * p.grad."""
    X, y, model = setup_demo()
    history = []
    for k in range(steps):
        total_loss, acc = loss_fn(model, X, y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
    return history, model


def run_optim(loss_fn, steps=STEPS):
    """nn.optim.SGD(lr=1.0) with LinearLR(1.0 -> 0.1 over 100 steps): the same schedule."""
    X, y, model = setup_demo()
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    sched = nn.optim.LinearLR(opt, 1.0, 0.1, 100)
    history = []
    for _ in range(steps):
        total_loss, acc = loss_fn(model, X, y)
        opt.zero_grad()
        total_loss.backward()
        opt.step()
        sched.step()
        history.append((total_loss.data, acc))
    return history, model


def check_endpoints(history):
    assert len(history) == STEPS
    (l0, a0), (l99, a99) = history[0], history[99]
    assert rel_err(l0, STEP0_LOSS) <= 1e-12, l0
    assert a0 == STEP0_ACC
    assert rel_err(l99, STEP99_LOSS) <= 1e-12, l99
    assert a99 == STEP99_ACC


@pytest.fixture(scope="module")
def per_example_run():
    # ~4 s: 100 steps of 100 one-example graphs. Run once, shared by the tests below.
    return run_manual(per_example_loss)


@pytest.fixture(scope="module")
def batched_run():
    return run_manual(batched_loss)


def test_data_and_init_are_the_notebooks():
    X, y, model = setup_demo()
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [-1, 1]
    assert len(model.parameters()) == 337  # micrograd prints "number of parameters 337"


def test_per_example_graphs_reproduce_micrograd(per_example_run):
    history, _ = per_example_run
    check_endpoints(history)
    # the step-0 loss is micrograd's to the last printed digit
    assert repr(history[0][0]) == repr(STEP0_LOSS)
    assert repr(history[99][0]) == repr(STEP99_LOSS)


def test_batched_graph_reproduces_micrograd(batched_run):
    history, _ = batched_run
    check_endpoints(history)


def test_batched_and_per_example_agree_all_the_way(per_example_run, batched_run):
    h1, m1 = per_example_run
    h2, m2 = batched_run
    for (l1, a1), (l2, a2) in zip(h1, h2):
        assert rel_err(l2, l1) <= 1e-12
        assert a1 == a2
    w1 = np.array([p.data for p in m1.parameters()])
    w2 = np.array([p.data for p in m2.parameters()])
    np.testing.assert_allclose(w2, w1, rtol=1e-10, atol=1e-12)


def test_sgd_with_linear_lr_reproduces_micrograd(batched_run):
    history, model = run_optim(batched_loss)
    check_endpoints(history)
    ref_history, ref_model = batched_run
    # SGD's p - lr * g is the notebook's p.data -= lr * p.grad: the same floats
    assert [h[0] for h in history] == [h[0] for h in ref_history]
    assert [p.data for p in model.parameters()] == [p.data for p in ref_model.parameters()]


def test_hinge_and_l2_losses_reproduce_micrograd(batched_run):
    history, _ = run_manual(library_loss)
    check_endpoints(history)
    ref, _ = batched_run
    for (l1, _), (l2, _) in zip(history, ref):
        assert rel_err(l1, l2) <= 1e-12


def test_library_loss_and_optimizer_together_reproduce_micrograd():
    history, _ = run_optim(library_loss)
    check_endpoints(history)


def test_per_example_through_library_matches_first_steps(per_example_run):
    """hinge over a list of per-example scores + l2 + SGD/LinearLR: the first steps equal
    the notebook's per-example run (kept to 3 steps: each costs ~40 ms)."""
    X, y, model = setup_demo()
    opt = nn.optim.SGD(model, lr=1.0)
    sched = nn.optim.LinearLR(opt, 1.0, 0.1, 100)
    ref, _ = per_example_run
    for k in range(3):
        scores = [model(list(map(Value, row))) for row in X]
        loss = nn.losses.hinge(scores, y) + nn.losses.l2(model.parameters(), 1e-4)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        assert rel_err(loss.data, ref[k][0]) <= 1e-12


def test_linear_lr_is_the_notebooks_schedule_exactly():
    opt = nn.optim.SGD([Value(0.0)], lr=1.0)
    sched = nn.optim.LinearLR(opt, 1.0, 0.1, 100)
    for k in range(100):
        assert opt.lr == 1.0 - 0.9 * k / 100
        sched.step()


def test_same_weights_and_outputs_as_micrograd():
    mg_nn = pytest.importorskip("micrograd.nn")
    mg_engine = pytest.importorskip("micrograd.engine")
    random.seed(1337)
    theirs = mg_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = nn.MLP(2, [16, 16, 1])
    their_params = [p.data for p in theirs.parameters()]
    our_params = [p.data for p in ours.parameters()]
    assert len(their_params) == len(our_params) == 337
    assert their_params == our_params  # same values, same order (w then b, neuron by neuron)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(20, 2)) * 2
    for row in inputs:
        mg_out = theirs([mg_engine.Value(float(v)) for v in row]).data
        assert ours(list(row)).data == mg_out
    batch = ours(inputs).data
    np.testing.assert_array_equal(batch, [theirs(list(map(mg_engine.Value, row))).data for row in inputs])


def test_micrograd_step0_loss_matches_ours():
    """micrograd itself, on the same data and init, prints the same step-0 loss."""
    mg_nn = pytest.importorskip("micrograd.nn")
    mg_engine = pytest.importorskip("micrograd.engine")
    X, y, _ = setup_demo()
    random.seed(1337)
    model = mg_nn.MLP(2, [16, 16, 1])
    inputs = [list(map(mg_engine.Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * s).relu() for yi, s in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = 1e-4 * sum((p * p for p in model.parameters()))
    assert rel_err((data_loss + reg).data, STEP0_LOSS) <= 1e-12
