"""nn.optim: SGD, RMSProp, Adam against torch.optim (float64) and by hand; schedules;
state_dict; non-finite gradients."""
import json
import math

import numpy as np
import pytest

import nn
from autograd import Value
from nn import optim

X0 = np.random.default_rng(7).normal(size=6) * 1.5
STEPS = 8


def grad_fn(x):
    """A gradient that depends on where the parameters are, so trajectories must agree."""
    return np.sin(3 * x) + x ** 3 - 0.5


def run_ours(cls, steps=STEPS, x0=X0, **kw):
    params = [Value(float(v)) for v in x0]
    opt = cls(params, **kw)
    path = []
    for _ in range(steps):
        g = grad_fn(np.array([p.data for p in params]))
        for p, gi in zip(params, g):
            p.grad = float(gi)
        opt.step()
        path.append([p.data for p in params])
    return np.array(path), opt, params


def run_torch(name, steps=STEPS, x0=X0, **kw):
    torch = pytest.importorskip("torch")
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], **kw)
    path = []
    for _ in range(steps):
        p.grad = torch.tensor(grad_fn(p.detach().numpy().copy()), dtype=torch.float64)
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


CASES = [
    ("SGD", optim.SGD, dict(lr=0.05)),
    ("SGD", optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("SGD", optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", optim.SGD, dict(lr=0.05, weight_decay=0.1)),
    ("SGD", optim.SGD, dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("RMSprop", optim.RMSProp, dict(lr=0.01)),
    ("RMSprop", optim.RMSProp, dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", optim.RMSProp, dict(lr=0.01, centered=True)),
    ("RMSprop", optim.RMSProp, dict(lr=0.01, momentum=0.9)),
    ("RMSprop", optim.RMSProp, dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", optim.RMSProp, dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.01)),
    ("Adam", optim.Adam, dict(lr=0.05)),
    ("Adam", optim.Adam, dict(lr=0.05, amsgrad=True)),
    ("Adam", optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    ("Adam", optim.Adam, dict(lr=0.05, betas=(0.5, 0.9))),
    ("Adam", optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("torch_name,cls,kw", CASES, ids=[f"{c[0]}-{'-'.join(c[2])}" for c in CASES])
def test_matches_torch_optim(torch_name, cls, kw):
    theirs = run_torch(torch_name, **kw)
    ours, _, _ = run_ours(cls, **kw)
    assert ours.shape == theirs.shape == (STEPS, len(X0))
    assert not np.array_equal(ours[0], X0)  # it moved
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_rmsprop_spelling():
    assert optim.RMSprop is optim.RMSProp


def test_defaults_are_torchs():
    assert optim.SGD.defaults["lr"] == 0.01
    assert optim.RMSProp.defaults == dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                                          centered=False)
    assert optim.Adam.defaults == dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)


# by hand, without torch -----------------------------------------------------------------

def test_sgd_one_step_by_hand():
    a, b = Value(1.0), Value(-2.0)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = 0.5, -4.0
    opt.step()
    assert a.data == 1.0 - 0.1 * 0.5
    assert b.data == -2.0 + 0.1 * 4.0
    assert opt.step_count == 1


def test_sgd_momentum_by_hand():
    p = Value(0.0)
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    p.grad = 1.0
    opt.step()  # the buffer starts at g: 1
    assert p.data == -1.0
    p.grad = 1.0
    opt.step()  # buffer 0.5 * 1 + 1 = 1.5
    assert p.data == -2.5
    q = Value(0.0)
    opt = optim.SGD([q], lr=1.0, momentum=0.5, nesterov=True)
    q.grad = 1.0
    opt.step()  # g + m * buf = 1 + 0.5
    assert q.data == -1.5
    r = Value(0.0)
    opt = optim.SGD([r], lr=1.0, momentum=0.5, dampening=0.5)
    r.grad = 1.0
    opt.step()  # first step: no dampening (buffer = g)
    r.grad = 1.0
    opt.step()  # 0.5 * 1 + 0.5 * 1
    assert r.data == -2.0


def test_sgd_weight_decay_by_hand():
    p = Value(2.0)
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    p.grad = 0.0
    opt.step()
    assert p.data == 2.0 - 0.1 * 0.5 * 2.0


def test_adam_first_step_is_lr_times_sign():
    grads = [3.0, -0.02, 1e-3, -50.0]
    params = [Value(1.0) for _ in grads]
    opt = optim.Adam(params, lr=0.01)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p, g in zip(params, grads):
        # m_hat = g, v_hat = g^2: the step is lr * g / (|g| + eps)
        assert p.data == pytest.approx(1.0 - 0.01 * math.copysign(1.0, g), abs=0.01 * 1e-5)
        assert p.data == pytest.approx(1.0 - 0.01 * g / (abs(g) + 1e-8), rel=1e-14)


def test_adam_zero_gradient_does_not_move():
    p = Value(1.0)
    opt = optim.Adam([p], lr=0.1)
    p.grad = 0.0
    opt.step()
    assert p.data == 1.0


def test_rmsprop_first_step_by_hand():
    p = Value(0.0)
    opt = optim.RMSProp([p], lr=0.01, alpha=0.99)
    p.grad = 2.0
    opt.step()
    # square_avg = 0.01 * 4; step = lr * g / (sqrt(0.04) + eps) = 0.01 * 2 / 0.2
    assert p.data == pytest.approx(-0.1, rel=1e-7)


def test_moves_downhill_on_a_quadratic():
    for cls, kw in [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.RMSProp, dict(lr=0.05)),
                    (optim.Adam, dict(lr=0.1))]:
        p = Value(5.0)
        opt = cls([p], **kw)
        for _ in range(300):
            opt.zero_grad()
            loss = (p - 2.0) ** 2
            loss.backward()
            opt.step()
        assert abs(p.data - 2.0) < 0.05, cls.__name__


def test_zero_grad_and_lr_property():
    ps = [Value(1.0), Value(2.0)]
    opt = optim.SGD(ps, lr=0.3)
    for p in ps:
        p.grad = 5.0
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]
    assert opt.lr == 0.3
    opt.lr = 0.1
    assert opt.hyper["lr"] == 0.1


def test_accepts_a_module_a_list_or_a_generator():
    model = nn.MLP(2, [3, 1], seed=0)
    for params in (model, model.parameters(), (p for p in model.parameters())):
        opt = optim.Adam(params, lr=0.01)
        assert len(opt.params) == 13
    assert optim.SGD(model).names[0] == "layers.0.neurons.0.w.0"


def test_gradients_that_are_values_are_used():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.5)
    p.grad = Value(2.0)  # what backward(create_graph=True) leaves
    opt.step()
    assert p.data == 0.0 and type(p.data) is float


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([Value(1.0)], lr=bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="momentun"):
        optim.SGD([Value(1.0)], lr=0.1, momentun=0.9)
    with pytest.raises(TypeError, match="nesterov"):
        optim.Adam([Value(1.0)], nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([Value(1.0)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([Value(1.0)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


# non-finite gradients ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSProp, optim.Adam])
def test_non_finite_gradient_names_the_parameter(cls, bad):
    model = nn.MLP(2, [3, 2], seed=0)
    opt = cls(model, lr=0.01)
    before = [p.data for p in model.parameters()]
    for p in model.parameters():
        p.grad = 0.1
    params = dict(model.named_parameters())
    params["layers.1.neurons.1.w.2"].grad = bad
    params["layers.1.neurons.1.b"].grad = bad
    with pytest.raises(FloatingPointError) as e:
        opt.step()
    msg = str(e.value)
    assert "layers.1.neurons.1.w.2" in msg and str(bad) in msg
    assert "2 non-finite" in msg
    assert [p.data for p in model.parameters()] == before  # nothing was updated
    assert opt.step_count == 0 and opt.state == {}


def test_non_finite_gradient_in_a_plain_list_names_its_index():
    ps = [Value(1.0) for _ in range(4)]
    opt = optim.SGD(ps, lr=0.1)
    ps[2].grad = math.nan
    with pytest.raises(FloatingPointError, match="parameter 2"):
        opt.step()


# state_dict -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
                                    (optim.RMSProp, dict(lr=0.01, centered=True, momentum=0.5)),
                                    (optim.Adam, dict(lr=0.05, amsgrad=True, betas=(0.8, 0.95)))])
def test_state_dict_round_trip_continues_identically(cls, kw):
    _, opt, params = run_ours(cls, steps=3, **kw)
    sd = json.loads(json.dumps(opt.state_dict()))  # plain JSON data
    assert sd["type"] == cls.__name__ and sd["step"] == 3
    assert sd["state"]
    # a fresh optimizer on copies of the parameters, loaded from the state dict
    copies = [Value(p.data) for p in params]
    opt2 = cls(copies, lr=1.0)
    opt2.load_state_dict(sd)
    assert opt2.step_count == 3 and opt2.lr == kw["lr"]
    for _ in range(5):
        for ps, o in ((params, opt), (copies, opt2)):
            g = grad_fn(np.array([p.data for p in ps]))
            for p, gi in zip(ps, g):
                p.grad = float(gi)
            o.step()
    assert [p.data for p in copies] == [p.data for p in params]


def test_state_dict_is_a_copy():
    _, opt, _ = run_ours(optim.Adam, steps=2, lr=0.01)
    sd = opt.state_dict()
    sd["state"]["exp_avg"][0] = 123.0
    assert opt.state["exp_avg"][0] != 123.0


def test_load_state_dict_refuses_another_optimizer_or_size():
    _, adam, _ = run_ours(optim.Adam, steps=2, lr=0.01)
    with pytest.raises(ValueError, match="Adam"):
        optim.SGD([Value(0.0)] * 6, lr=0.1).load_state_dict(adam.state_dict())
    small = optim.Adam([Value(0.0), Value(1.0)], lr=0.01)
    with pytest.raises(ValueError, match="shape"):
        small.load_state_dict(adam.state_dict())


def test_refused_state_dict_leaves_the_optimizer_unchanged():
    """A refused state dict must not be half loaded (hyper-parameters, step count and
    state are today replaced before the shapes are checked)."""
    _, adam, _ = run_ours(optim.Adam, steps=2, lr=0.01)
    small = optim.Adam([Value(0.0), Value(1.0)], lr=0.5)
    with pytest.raises(ValueError):
        small.load_state_dict(adam.state_dict())
    assert small.lr == 0.5 and small.step_count == 0 and small.state == {}


# schedules ----------------------------------------------------------------------------------

def our_lrs(make, steps, lr=0.1):
    opt = optim.SGD([Value(0.0)], lr=lr)
    sched = make(opt)
    lrs = [opt.lr]
    for _ in range(steps):
        sched.step()
        lrs.append(opt.lr)
        assert sched.get_last_lr() == opt.lr
    return lrs


def torch_lrs(make, steps, lr=0.1):
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


def test_step_lr_by_hand():
    lrs = our_lrs(lambda o: optim.StepLR(o, step_size=3, gamma=0.5), 7, lr=1.0)
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_linear_lr_by_hand_and_micrograds_schedule():
    lrs = our_lrs(lambda o: optim.LinearLR(o, 1.0, 0.1, 100), 120, lr=1.0)
    assert lrs[:100] == [1.0 - 0.9 * k / 100 for k in range(100)]  # exactly, not approximately
    assert lrs[100:] == [lrs[100]] * 21  # then constant at end_factor
    assert lrs[100] == pytest.approx(0.1, rel=1e-15)
    lrs = our_lrs(lambda o: optim.LinearLR(o, 0.5, 1.0, 4), 6, lr=0.2)
    assert lrs == pytest.approx([0.1, 0.125, 0.15, 0.175, 0.2, 0.2, 0.2], rel=1e-15)


def test_cosine_by_hand():
    lrs = our_lrs(lambda o: optim.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 4, lr=1.0)
    assert lrs[0] == 1.0 and lrs[4] == pytest.approx(0.01, rel=1e-15)
    assert lrs[2] == pytest.approx(0.505, rel=1e-15)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("name,ours,kwargs", [
    ("StepLR", optim.StepLR, dict(step_size=3, gamma=0.7)),
    ("StepLR", optim.StepLR, dict(step_size=1, gamma=0.9)),
    ("LinearLR", optim.LinearLR, dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("LinearLR", optim.LinearLR, dict(start_factor=0.25, end_factor=1.0, total_iters=7)),
    ("CosineAnnealingLR", optim.CosineAnnealingLR, dict(T_max=10)),
    ("CosineAnnealingLR", optim.CosineAnnealingLR, dict(T_max=8, eta_min=0.001)),
])
def test_schedules_match_torch(name, ours, kwargs):
    torch = pytest.importorskip("torch")
    steps = 25  # past total_iters / T_max: constant, or the cosine coming back up
    theirs = torch_lrs(lambda o: getattr(torch.optim.lr_scheduler, name)(o, **kwargs), steps)
    mine = our_lrs(lambda o: ours(o, **kwargs), steps)
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-16)


def test_schedule_changes_what_the_optimizer_does():
    p = Value(0.0)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    for expected in (-1.0, -1.5, -1.75):
        p.grad = 1.0
        opt.step()
        sched.step()
        assert p.data == expected
