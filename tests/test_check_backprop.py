"""autograd.check_backprop: the five tutorials' hand-derived gradients hold; planted mistakes are
caught and named."""

import numpy as np
import pytest

import autograd
from autograd import GradcheckError, check_backprop

from demos.tutorial_backprops import TUTORIALS

_cases = {}


def case(name):
    if name not in _cases:
        _cases[name] = TUTORIALS[name]()
    return _cases[name]


@pytest.mark.parametrize("name", sorted(TUTORIALS))
def test_the_tutorials_hand_gradients_are_exact(name):
    c = case(name)
    report = check_backprop(c.loss, c.params, c.grads, args=c.args)
    assert report and report.mismatched == []
    # the lifted forward pass gives the tutorial's float loss to the last bit
    assert report.loss.data == float(np.asarray(c.loss(c.params, *c.args)).ravel()[0])
    for k, g in c.grads.items():
        np.testing.assert_allclose(g.reshape(c.params[k].shape), report.exact[k], rtol=1e-7, atol=1e-12)


def test_britz_exact_gradients_equal_torchs():
    torch = pytest.importorskip("torch")
    c = case("britz")
    report = check_backprop(c.loss, c.params, c.grads, args=c.args)
    X, y = c.args
    t = {k: torch.tensor(v, requires_grad=True) for k, v in c.params.items()}
    a1 = torch.tanh(torch.tensor(X) @ t["W1"] + t["b1"])
    probs = torch.softmax(a1 @ t["W2"] + t["b2"], dim=1)
    loss = -torch.log(probs[range(len(X)), torch.tensor(y)]).sum() + 0.01 / 2 * (
        (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
    loss.backward()
    assert report.loss.data == pytest.approx(loss.item(), rel=1e-13)
    for k in t:
        np.testing.assert_allclose(report.exact[k], t[k].grad.numpy(), rtol=1e-12, atol=1e-14)


# (tutorial, planted mistake, parameter, words the diagnosis must hold)
PLANTED = [
    ("perceptron", "sign", "W", "sign flipped"),
    ("britz", "sign", "b2", "sign flipped: hand == -exact"),
    ("britz", "sign", "W2", "sign flipped in the data term"),
    ("britz", "transposed", "W2", "transposed"),
    ("britz", "batch", "b2", "not summed over the batch: axis 0 has one entry per example (the batch: 200"),
    ("britz", "scale", "W1", "scaled by 1/N (N = 200)"),
    ("britz", "reg", "W2", "weight-decay term's gradient (reg * W2) is missing"),
    ("britz", "zero", "b1", "zero everywhere"),
    ("britz", "activation", "W1", "tanh's derivative (1 - a**2) left out"),
    ("ideami", "relu_mask", "W1", "off only where the activation is inactive: hand equals the gradient with the ReLU's mask"),
    ("ideami", "scale", "W2", "scaled by N (N = 500)"),
    ("ideami", "batch", "b1", "not summed over the batch: axis 1"),
    ("thomas", "activation", "W1", "the sigmoid's derivative (s * (1 - s)) after W1 left out"),
    ("thomas", "scale", "W2", "scaled by N (N = 100)"),
    ("thomas", "transposed", "W1", "transposed"),
    ("relu_net", "relu_mask", "b1", "the ReLU's mask (z > 0) after W1 left out"),
    ("relu_net", "scale", "W1", "scaled by 1/2"),
    ("relu_net", "zero", "W2", "zero everywhere"),
    ("relu_net", "batch", "b1", "not summed over the batch"),
]


@pytest.mark.parametrize("name, mistake, param, words", PLANTED)
def test_planted_mistakes_are_caught_and_named(name, mistake, param, words):
    c = case(name)
    grads = c.backprop(c.params, *c.args, mistake=mistake)
    with pytest.raises(GradcheckError) as e:
        check_backprop(c.loss, c.params, grads, args=c.args)
    message = str(e.value)
    assert f"{param}: " in message and words in message, message
    report = check_backprop(c.loss, c.params, grads, args=c.args, raise_exception=False)
    assert not report and param in report.mismatched
    assert words in report[param].diagnosis
    assert str(report) == message


def test_square_transposed_and_constant_factors():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 3))
    X = rng.standard_normal((8, 3))

    def loss(p, X):
        return np.sum(np.tanh(X @ p["W"]))

    exact = X.T @ (1 - np.tanh(X @ W) ** 2)
    r = check_backprop(loss, {"W": W}, {"W": exact.T}, args=(X,), raise_exception=False)
    assert r["W"].diagnosis.startswith("transposed: hand == exact.T")
    for factor, words in [(2.0, "scaled by 2"), (1 / 8, "scaled by 1/N (N = 8)"), (8.0, "scaled by N (N = 8)"),
                          (3.0, "hand == 3 * exact"), (0.37, "hand == 0.37 * exact"),
                          (-2.0, "scaled by -2")]:
        r = check_backprop(loss, {"W": W}, {"W": factor * exact}, args=(X,), raise_exception=False)
        assert words in r["W"].diagnosis, (factor, r["W"].diagnosis)


def test_off_only_where_the_exact_gradient_is_zero():
    # a unit that never fires: its exact gradient is 0; a hand gradient without the mask is not
    X = np.abs(np.random.default_rng(0).standard_normal((6, 2)))
    W = np.array([[1.0, -1.0], [1.0, -1.0]])          # unit 1 is dead on positive inputs

    def loss(p, X):
        return np.sum(np.maximum(0, X @ p["W"]) ** 2)

    z = X @ W
    good = X.T @ (2 * np.maximum(0, z))
    assert check_backprop(loss, {"W": W}, {"W": good}, args=(X,))
    bad = good.copy()
    bad[:, 1] = (X.T @ (2 * z))[:, 1]                   # only the dead column is off
    r = check_backprop(loss, {"W": W}, {"W": bad}, args=(X,), raise_exception=False)
    assert "off only where" in r["W"].diagnosis


# -- shapes ------------------------------------------------------------------------------------
def test_a_harmless_shape_difference_is_a_note_not_a_failure():
    c = case("britz")
    assert c.grads["b1"].shape == (3,) and c.params["b1"].shape == (1, 3)   # as in the tutorial
    r = check_backprop(c.loss, c.params, c.grads, args=c.args)
    assert r and "compared after reshaping" in r["b1"].note and "notes:" in str(r)


def test_shape_mismatches_name_their_likely_cause():
    c = case("relu_net")
    col = c.grads["b1"].reshape(-1, 1)          # (8, 1) for b1 of shape (8,): would broadcast
    r = check_backprop(c.loss, c.params, dict(c.grads, b1=col), args=c.args, raise_exception=False)
    assert "would broadcast to (8, 8)" in r["b1"].diagnosis and "the numbers are right" in r["b1"].diagnosis
    one = np.sum(c.grads["b1"])                  # summed over every axis
    r = check_backprop(c.loss, c.params, dict(c.grads, b1=np.array(one)), args=c.args, raise_exception=False)
    assert "a single number: summed over every axis" in r["b1"].diagnosis
    p = c.params
    r = check_backprop(c.loss, p, dict(c.grads, W2=np.zeros((3, 3))), args=c.args, raise_exception=False)
    assert "shape mismatch: grads['W2'] has shape (3, 3), params['W2'] (8, 1)" == r["W2"].diagnosis
    twin = {"A": p["W1"], "B": p["W1"][:, :4].copy()}   # B's gradient given in A's shape

    def loss2(q, X, y):
        return np.sum(np.tanh(X @ q["A"])) + np.sum(X @ q["B"])
    X = c.args[0]
    exact_b = np.tile(X.sum(axis=0)[:, None], (1, 4))
    r = check_backprop(loss2, twin, {"A": exact_b, "B": np.ones((4, 8))}, args=c.args, raise_exception=False)
    assert "the shape of params['A']: keys swapped?" in r["B"].diagnosis


def test_bad_arguments_give_clear_errors():
    c = case("perceptron")
    with pytest.raises(ValueError, match=r"no hand gradient for \['W'\]"):
        check_backprop(c.loss, c.params, {}, args=c.args)
    with pytest.raises(ValueError, match=r"grads has \['V'\]"):
        check_backprop(c.loss, c.params, dict(c.grads, V=np.ones(1)), args=c.args)
    with pytest.raises(TypeError, match=r"grads\['W'\] must be a numeric array"):
        check_backprop(c.loss, c.params, {"W": None}, args=c.args)
    with pytest.raises(TypeError, match="args must be a tuple"):
        check_backprop(c.loss, c.params, c.grads, args=c.args[0])
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        check_backprop(None, c.params, c.grads)
    with pytest.raises(ValueError, match="params is empty"):
        check_backprop(c.loss, {}, {})


def test_a_loss_that_leaves_the_values_is_refused():
    c = case("perceptron")
    X, y = c.args

    def floats(p, X, y):                 # converted up front: nothing depends on the parameters
        W = np.asarray(p["W"].data, dtype=float)
        return 0.5 * np.sum((y - 1 / (1 + np.exp(-(X @ W)))) ** 2)
    with pytest.raises(TypeError, match="plain numbers"):
        check_backprop(floats, c.params, c.grads, args=c.args)

    def partly(p, X, y):                 # a detour through floats half way: caught by the check
        z = X @ p["W"]
        out = 1 / (1 + np.exp(-z))
        return 0.5 * np.sum((y - out) ** 2) + np.sum(np.array(z, dtype=float) ** 2)
    with pytest.raises(ValueError, match="does not run on the lifted arrays"):
        check_backprop(partly, c.params, c.grads, args=c.args)

    with pytest.raises(ValueError, match=r"scalar loss; it returned an array of shape \(4, 1\)"):
        check_backprop(lambda p, X, y: X @ p["W"], c.params, c.grads, args=c.args)


def test_the_failure_reads_well_inside_pytest():
    c = case("britz")
    grads = c.backprop(c.params, *c.args, mistake="batch")
    with pytest.raises(AssertionError) as e:   # GradcheckError is an AssertionError
        check_backprop(c.loss, c.params, grads, args=c.args)
    lines = str(e.value).splitlines()
    assert lines[0].startswith("check_backprop: 1 of 4 hand-derived gradients differ")
    assert lines[1].split() == ["parameter", "shape", "max", "abs", "err", "max", "rel", "err", "worst",
                                "at", "hand", "exact"]
    assert [ln.split()[0] for ln in lines[2:6]] == ["W1", "b1", "W2", "b2"]
    assert lines[5].rstrip().endswith("MISMATCH") and lines[2].rstrip().endswith("ok")
    assert lines[6] == "diagnosis:"


def test_the_worst_element_is_reported_with_both_values():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    hand = 2 * W
    hand[1, 0] = 7.5
    r = check_backprop(lambda p: np.sum(p["W"] ** 2), {"W": W}, {"W": hand}, raise_exception=False)
    row = r["W"]
    assert row.index == (1, 0) and row.hand == 7.5 and row.exact == 6.0
    assert row.max_abs == 1.5 and row.max_rel == pytest.approx(1.5 / 7.5)
    assert "[1, 0]" in str(r)


def test_ten_thousand_parameters_and_a_batch_of_64_in_under_5_seconds():
    # the demo's case: Britz's net at 64-140-10, its hand-derived gradients, checked once.
    # CPU time: on this shared 2-core machine the wall clock also counts other people's work
    from demos.check_backprop import ten_thousand
    r = ten_thousand()
    assert r["parameters"] >= 10_000 and r["batch"] == 64 and r["ok"]
    assert r["cpu_seconds"] < 5.0


@pytest.mark.parametrize("name", ["britz", "relu_net", "perceptron"])
def test_the_checkers_sweep_equals_autograd_backward(name):
    c = case(name)
    report = check_backprop(c.loss, c.params, c.grads, args=c.args)
    lifted = {k: autograd.lift(v, k) for k, v in c.params.items()}
    c.loss(lifted, *c.args).item().backward()
    for k in lifted:
        np.testing.assert_allclose(report.exact[k], lifted[k].grad, rtol=1e-13, atol=1e-15)


def test_a_non_finite_loss_and_an_unknown_name_are_reported():
    W = np.array([[0.0, 1.0]])
    with pytest.raises(ValueError, match="non-finite loss"):
        check_backprop(lambda p: np.sum(np.exp(p["W"] * 1e6)), {"W": W}, {"W": W})
    r = check_backprop(lambda p: np.sum(p["W"] ** 2), {"W": W}, {"W": 2 * W})
    with pytest.raises(KeyError, match="no parameter 'V'"):
        r["V"]


def test_a_loss_that_writes_into_its_parameters_is_still_differentiated_at_them():
    W = np.array([[1.0, -2.0]])

    def loss(p):
        p["W"] *= 3.0                 # in place: p['W'] now holds 3 W, the leaves are untouched
        return np.sum(p["W"] ** 2)    # 9 W^2: gradient 18 W
    assert check_backprop(loss, {"W": W}, {"W": 18 * W})


def test_it_records_the_graph_inside_no_grad_too():
    W = np.array([[1.0, -2.0]])
    with autograd.no_grad():
        assert check_backprop(lambda p: np.sum(p["W"] ** 2), {"W": W}, {"W": 2 * W})
        assert not autograd.is_grad_enabled()


def test_the_demo_agrees_on_every_tutorial_and_catches_every_planted_mistake():
    from demos import check_backprop as demo
    r = demo.run(quick=True, out=None)
    assert set(r["tutorials"]) == set(TUTORIALS)
    assert all(t["ok"] and t["loss_bit_equal"] for t in r["tutorials"].values())
    assert len(r["planted"]) == len(demo.PLANTED) and all(p["caught"] for p in r["planted"])
    assert r["numeric_vs_exact"]["numeric_max_rel_err"] < 1e-5   # numbers near the exact ones, not equal
