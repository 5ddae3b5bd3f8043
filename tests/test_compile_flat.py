"""FlatStep (compile(...).flat(params)) and Optimizer.update: the same numbers as the Values' path."""
import numpy as np
import pytest

import autograd
from autograd import Value
from nn import MLP, losses, optim
from nn.data import make_moons, one_hot


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path_factory.getbasetemp() / "vgcache"))


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_flat_step_equals_the_values_path(backend):
    X, y = make_moons(64, noise=0.2, random_state=3)
    model = MLP(2, [5, 3], activation="tanh", init="xavier", seed=1)
    fn = lambda X, Y: losses.cross_entropy(model(X), Y) + losses.l2(model.parameters(), 1e-3)  # noqa: E731
    Y = one_hot(y, 3)
    prog = autograd.compile(fn, X, Y, backend=backend)
    params = model.parameters()
    theta = np.array([p.data for p in params]) + 0.01  # not the Values' data: the array rules
    step = prog.flat(params)
    before = [p.data for p in params]
    loss, grad = step(theta, X, Y)
    assert [p.data for p in params] == before  # the Values are left alone
    assert all(p.grad == 0.0 for p in params)
    step.load(theta)
    L = fn(X, Y)
    L.backward()
    assert loss == pytest.approx(L.data, rel=1e-12)
    np.testing.assert_allclose(grad, [p.grad for p in params], rtol=1e-10, atol=1e-14)
    X2, Y2 = X[:17], Y[:17]  # another shape: another trace, same rules
    loss2, _ = step(theta, X2, Y2)
    assert loss2 == pytest.approx(fn(X2, Y2).data, rel=1e-12)


def test_flat_step_follows_branches_through_the_general_path():
    w = Value(1.0)
    prog = autograd.compile(lambda x: w * x if w * x > 0 else -w * x * 3, 2.0, backend="c")
    step = prog.flat([w])
    assert step(np.array([1.0]), 2.0) == (2.0, pytest.approx(np.array([2.0])))
    loss, grad = step(np.array([-1.0]), 2.0)  # the other branch: traced again
    assert loss == 6.0 and grad.tolist() == [-6.0]


def test_flat_step_reports_the_eager_error():
    w = Value(1.0)
    step = autograd.compile(lambda x: (w * x).log(), 2.0, backend="c").flat([w])
    with pytest.raises(ValueError, match="log"):
        step(np.array([-1.0]), 2.0)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                                  lambda ps: optim.Adam(ps, lr=0.01)], ids=["sgd", "adam"])
def test_update_on_arrays_equals_step_on_values(make):
    a = [Value(float(x)) for x in np.linspace(-1, 1, 5)]
    b = [Value(p.data) for p in a]
    oa, ob = make(a), make(b)
    theta = np.array([p.data for p in b])
    for k in range(4):
        g = np.sin(np.arange(5) + k)
        for p, gi in zip(a, g):
            p.grad = float(gi)
        oa.step()
        theta = ob.update(theta, g)
    assert [p.data for p in a] == theta.tolist()
    assert oa.state_dict() == ob.state_dict()


def test_update_refuses_non_finite_gradients():
    opt = optim.SGD([Value(1.0), Value(2.0)], lr=0.1)
    with pytest.raises(FloatingPointError, match="parameter 1"):
        opt.update(np.array([1.0, 2.0]), np.array([0.0, np.nan]))
