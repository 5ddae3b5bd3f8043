"""What the eager engine keeps from one training step to the next (issue 10): a Layer's checks on
its weights (nn.Layer -> autograd's _dots), the optimizer's last write. None of it may hide a
change a user makes by hand between steps: every run here is compared, bit for bit, with the
same training done the plain way (one `dot` node per neuron, a loop over the parameters)."""
import copy
import pickle

import numpy as np
import pytest

import autograd
from autograd import Value
from nn import MLP, losses, optim


def plain_forward(model, X):
    """The model's numbers without Layer's shared path: autograd.dot per neuron, + b, relu."""
    xs = [Value(col) for col in X.T]
    for layer in model.layers:
        out = []
        for n in layer.neurons:
            s = autograd.dot(n.w, xs) + n.b
            out.append(s.relu() if n.activation == "relu" else s)
        xs = out
    return xs


def bits(model):
    return [np.float64(p.data).tobytes() for p in model.parameters()]


def grads(model):
    return [np.float64(p.grad).tobytes() for p in model.parameters()]


def edit(k, model, stage):
    """What a user may do between steps (stage 'after'), or between backward and step ('before')."""
    ps = model.parameters()
    w = model.layers[0].neurons[3].w
    if stage == "before" and k == 1:  # gradient clipping by hand
        for p in ps:
            p.grad = max(-0.01, min(0.01, p.grad))
    if stage == "before" and k == 3:
        ps[7].grad = 0  # an int, as micrograd's zero_grad leaves it
    if stage == "after" and k == 0:
        w[5].data = 0.25  # one weight changed by hand
    if stage == "after" and k == 2:
        for p in ps:  # micrograd's own update loop
            p.data -= 0.05 * p.grad
    if stage == "after" and k == 3:
        w[1].data, w[2].data = -0.0, 0  # zeros of both signs, an int
    if stage == "after" and k == 4:
        model.zero_grad()


def plain_step(opt, params):
    """opt's update on the Values' numbers read afresh, written back one by one."""
    data = np.array([float(p.data) for p in params])
    grad = np.array([float(p.grad) for p in params])
    for p, x in zip(params, opt.update(data, grad).tolist()):
        p.data = x


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_training_with_hand_edits_between_steps_is_the_plain_training(momentum):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    ours, ref = MLP(6, [5, 3], seed=1), MLP(6, [5, 3], seed=1)
    opt = optim.SGD(ours, lr=0.1, momentum=momentum)
    ref_opt = optim.SGD(ref, lr=0.1, momentum=momentum)
    for k in range(6):
        Xb, yb = X[8 * (k % 5):8 * (k % 5) + 8], y[8 * (k % 5):8 * (k % 5) + 8]
        L = losses.cross_entropy(ours(Xb), yb)
        R = losses.cross_entropy(plain_forward(ref, Xb), yb)
        assert np.float64(L.data).tobytes() == np.float64(R.data).tobytes(), k
        opt.zero_grad()
        L.backward()
        for p in ref.parameters():
            p.grad = 0.0
        R.backward()
        assert grads(ours) == grads(ref), k
        edit(k, ours, "before")
        edit(k, ref, "before")
        opt.step()
        plain_step(ref_opt, ref.parameters())
        assert bits(ours) == bits(ref), k
        edit(k, ours, "after")
        edit(k, ref, "after")


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_layer_checks_its_own_weights(how):
    model = MLP(3, [4, 2], seed=5)
    X = np.random.default_rng(6).standard_normal((7, 3))
    before = [o.data.tobytes() for o in model(X)]
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    twin.layers[0].neurons[0].w[0].data += 1.0
    assert [o.data.tobytes() for o in model(X)] == before
    moved = twin(X)
    assert [o.data.tobytes() for o in moved] != before
    autograd.sum(moved).sum().backward()
    assert all(p.grad == 0.0 for p in model.parameters())
