"""Input outside its domain is refused by name and position: lists of None or strings given to
Value, probabilities outside [0, 1]; and a saturated binary_cross_entropy
keeps a gradient (a clamped log gave exactly 0, and training stalled at loss 13.8)."""
import math
import warnings

import numpy as np
import pytest

import nn
from autograd import Value
from nn import losses as L


@pytest.mark.parametrize("bad,pos,kind", [([1.0, None], 1, "NoneType"), (["1", "2"], 0, "str"),
                                          ((1.0, 2.0, b"3"), 2, "bytes"), ([1.0, 2j], 1, "complex"),
                                          ([1.0, {}], 1, "dict")])
def test_value_refuses_lists_of_non_numbers(bad, pos, kind):
    with pytest.raises(TypeError, match=rf"{kind} .* at position {pos} of the"):
        Value(bad)


def test_value_still_takes_lists_of_numbers():
    v = Value([1, 2.5, True, np.float32(0.5), np.int64(-3)])
    assert v.data.tolist() == [1.0, 2.5, 1.0, 0.5, -3.0]
    with pytest.raises(ValueError, match="shape"):
        Value([[1.0, 2.0], [3.0, 4.0]])  # nested: the shape error, as before


@pytest.mark.parametrize("prob,index", [(Value(np.array([0.5, 1.5, 0.2])), 1),
                                        (Value(np.array([0.5, 0.2, -1e-300])), 2),
                                        (Value(np.array([math.nan, 0.5, 0.5])), 0)])
def test_bce_refuses_probabilities_outside_0_1(prob, index):
    with pytest.raises(ValueError, match=rf"probabilities must be within \[0, 1\].*index {index}"):
        L.binary_cross_entropy(prob, [1.0, 0.0, 1.0])


def test_bce_refuses_a_bad_probability_in_a_list_of_examples():
    with pytest.raises(ValueError, match=r"got 2.0 at index 1"):
        L.binary_cross_entropy([Value(0.5), Value(2.0)], [1.0, 0.0])


def test_bce_accepts_the_ends():
    loss = L.binary_cross_entropy(Value(np.array([0.0, 1.0])), [0.0, 1.0])
    assert loss.data == 0.0


def test_saturated_bce_keeps_its_gradient():
    # p = 1e-13 for a true 1: the clamped log gave d loss/dp = 0. The tangent continuation
    # gives -1/eps, PyTorch's (p - t) / max(p (1 - p), 1e-12) at this point.
    for p0, t, expected in ((1e-13, 1.0, -1e12), (1.0 - 1e-13, 0.0, 1e12)):
        p = Value(p0)
        loss = L.binary_cross_entropy(p, t)
        loss.backward()
        assert p.grad == pytest.approx(expected, rel=1e-3)
        assert 27.6 < loss.data < 28.7
    # just above eps, the ordinary log: -log(p) and -1/p
    p = Value(1e-11)
    loss = L.binary_cross_entropy(p, 1.0)
    loss.backward()
    assert loss.data == -math.log(1e-11) and p.grad == -1 / 1e-11


def test_bce_is_continuous_and_monotone_across_eps():
    xs = [1e-12 * (1 + k * 1e-3) for k in range(-5, 6)] + [np.nextafter(1e-12, 0), 1e-12]
    xs.sort()
    vals = [L.binary_cross_entropy(Value(x), 1.0).data for x in xs]
    assert all(a >= b for a, b in zip(vals, vals[1:]))  # less loss as p rises
    assert max(vals) - min(vals) < 0.02


def test_training_from_a_saturated_start_does_not_stall():
    # one weight, p = sigmoid(w * x) with x = 1, target 1, starting at p ~ 1e-13 (w = -30):
    # the old clamped loss had gradient 0 here and stayed at 27.6 forever
    w = Value(-30.0)
    opt = nn.optim.SGD([w], lr=50.0)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = L.binary_cross_entropy((w * 1.0).sigmoid(), 1.0)
        loss.backward()
        opt.step()
        first = loss.data if first is None else first
    assert first > 27 and loss.data < 0.1


@pytest.mark.parametrize("fn,message", [
    (L.binary_cross_entropy, r"^binary_cross_entropy: targets must be between 0 and 1, got 1\.5 at index 1$"),
    (L.binary_cross_entropy_with_logits,
     r"^binary_cross_entropy_with_logits: targets must be between 0 and 1, got 1\.5 at index 1$"),
    (L.hinge, r"^hinge: targets must be -1 or 1, got 1\.5 at index 1$"),
])
def test_target_messages_name_the_loss_exactly(fn, message):
    with pytest.raises(ValueError, match=message):
        fn(Value(np.array([0.5, 0.5])), [1.0, 1.5])


def test_probability_message_names_the_loss_exactly():
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: probabilities must be within \[0, 1\], "
                                         r"got 1\.5 at index 0; from logits use"):
        L.binary_cross_entropy(Value(1.5), 1.0)


@pytest.mark.parametrize("fn", [L.binary_cross_entropy, L.binary_cross_entropy_with_logits, L.hinge])
def test_a_missing_target_is_refused_by_position(fn):
    with pytest.raises(ValueError, match=r"got nan at index 1"):
        fn(Value(np.array([0.5, 0.5])), [1.0, None])


def test_at_eps_exactly_only_the_log_carries_the_gradient():
    p = Value(1e-12)
    L.binary_cross_entropy(p, 1.0).backward()
    assert p.grad == -1.0 / 1e-12  # one piece, not both (which would double it)
    q = Value(float(np.nextafter(1e-12, 0.0)))
    L.binary_cross_entropy(q, 1.0).backward()
    assert q.grad == -1.0 / 1e-12  # the tangent's slope


# -- losses: behaviours mutation testing found unpinned -------------------------------------

def test_one_hot_rows_with_scalar_logits_make_a_batch():
    # K scalar logits against an (n, K) one-hot target: the logits are shared by n examples
    loss = L.cross_entropy([Value(1.0), Value(2.0)], np.array([[0.0, 1.0], [1.0, 0.0]]))
    lse = math.log(math.exp(1.0) + math.exp(2.0))
    assert loss.data == pytest.approx(((lse - 2.0) + (lse - 1.0)) / 2, rel=1e-15)


@pytest.mark.parametrize("logits", [[3.0, Value(1.0), Value(-1.0)], [Value(3.0), 1.0, Value(-1.0)]])
def test_log_softmax_takes_plain_numbers_among_values(logits):
    lse = math.log(math.exp(3.0) + math.exp(1.0) + math.exp(-1.0))
    got = [v.data if isinstance(v, Value) else v for v in L.log_softmax(logits)]
    assert got == pytest.approx([3.0 - lse, 1.0 - lse, -1.0 - lse], rel=1e-15, abs=0)


def test_one_hot_value_columns_must_match_the_classes():
    with pytest.raises(ValueError, match=r"^cross_entropy: 2 one-hot columns for 3 classes$"):
        L.cross_entropy([Value(1.0), Value(2.0), Value(3.0)], [Value(1.0), Value(0.0)])


def test_a_target_value_of_another_length_is_refused():
    with pytest.raises(ValueError, match=r"^predictions for 3 examples but 2 targets$"):
        L.mse(Value(np.array([1.0, 2.0, 3.0])), Value(np.array([1.0, 2.0])))


def test_column_targets_for_a_list_of_predictions():
    # an (n, 1) column of targets is read as n numbers, with no numpy deprecation warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = L.mse([Value(1.0), Value(3.0)], np.array([[0.0], [1.0]]))
    assert loss.data == (1.0 + 4.0) / 2


def test_probability_messages_for_a_batch_and_for_a_list_of_batches():
    with pytest.raises(ValueError, match=r"got 2\.0 at index 1; from logits"):
        L.binary_cross_entropy(Value(np.array([0.5, 2.0])), [1.0, 0.0])
    with pytest.raises(ValueError, match=r"got 2\.0 at index 0 \(example 1\); from logits"):
        L.binary_cross_entropy([Value(np.array([0.5, 2.0]))], [1.0])
