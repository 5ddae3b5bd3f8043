"""nn.losses: values and gradients (gradcheck, and PyTorch float64 when installed),
per-example lists and batched Values, reductions, numerical stability, target checks."""
import math

import numpy as np
import pytest

import autograd
from autograd import Value, gradcheck
from nn import losses as L

RNG = np.random.default_rng(42)
N, K = 7, 4
PRED = RNG.normal(size=N)
TARGET = RNG.normal(size=N)
SCORES = RNG.normal(size=N) * 2
SIGNS = np.where(RNG.random(N) < 0.5, -1.0, 1.0)
PROBS = RNG.uniform(0.05, 0.95, size=N)
BITS = (RNG.random(N) < 0.5).astype(np.float64)
SOFT = RNG.uniform(0, 1, size=N)  # BCE allows soft targets in [0, 1]
LOGITS = RNG.normal(size=(N, K)) * 2
CLASSES = RNG.integers(0, K, size=N)
ONE_HOT = np.eye(K)[CLASSES]
SOFT_K = RNG.dirichlet(np.ones(K), size=N)


def batched(a):
    return Value(np.array(a, dtype=np.float64))


def columns(logits):
    """An (n, K) array -> K batched Values, one per class."""
    return [Value(logits[:, k].copy()) for k in range(logits.shape[1])]


def rows(logits):
    """An (n, K) array -> n lists of K scalar Values (one graph per example)."""
    return [[Value(float(v)) for v in row] for row in logits]


# reference values in numpy -------------------------------------------------------------

def np_reduce(x, reduction):
    return x.mean() if reduction == "mean" else x.sum()


def np_log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


REFS = {
    "mse": (L.mse, PRED, TARGET, lambda p, t: (p - t) ** 2),
    "hinge": (L.hinge, SCORES, SIGNS, lambda s, t: np.maximum(0, 1 - t * s)),
    "bce": (L.binary_cross_entropy, PROBS, BITS, lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p))),
    "bce_soft": (L.binary_cross_entropy, PROBS, SOFT, lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p))),
    "bce_logits": (L.binary_cross_entropy_with_logits, SCORES, BITS,
                   lambda z, t: np.logaddexp(0, z) - t * z),
    "bce_logits_soft": (L.binary_cross_entropy_with_logits, SCORES, SOFT,
                        lambda z, t: np.logaddexp(0, z) - t * z),
}


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", sorted(REFS))
def test_pairwise_losses_batched_and_per_example(name, reduction):
    fn, pred, target, ref = REFS[name]
    expected = np_reduce(ref(pred, target), reduction)
    b = fn(batched(pred), target, reduction=reduction)
    assert isinstance(b.data, float)
    assert b.data == pytest.approx(expected, rel=1e-13)
    per = fn([Value(float(p)) for p in pred], target, reduction=reduction)
    assert per.data == pytest.approx(expected, rel=1e-13)
    # targets as a plain list work too
    assert fn(batched(pred), list(target), reduction=reduction).data == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", sorted(REFS))
def test_pairwise_losses_gradcheck(name, reduction):
    fn, pred, target, _ = REFS[name]
    assert gradcheck(lambda p: fn(p, target, reduction=reduction), [batched(pred)])
    xs = [Value(float(p)) for p in pred]
    assert gradcheck(lambda *ps: fn(list(ps), target, reduction=reduction), xs)


@pytest.mark.parametrize("name", sorted(REFS))
def test_batched_and_per_example_gradients_agree(name):
    fn, pred, target, _ = REFS[name]
    b = batched(pred)
    fn(b, target).backward()
    xs = [Value(float(p)) for p in pred]
    fn(xs, target).backward()
    np.testing.assert_allclose(b.grad, [x.grad for x in xs], rtol=1e-13, atol=1e-16)


def test_single_example_losses():
    assert L.mse(Value(3.0), 1.0).data == 4.0
    assert L.hinge(Value(0.25), -1).data == 1.25
    assert L.hinge(Value(2.0), 1).data == 0.0
    assert L.hinge(Value(0.5), 1, margin=2.0).data == 1.5
    assert L.binary_cross_entropy(Value(0.5), 1.0).data == pytest.approx(math.log(2), rel=1e-15)
    assert L.binary_cross_entropy_with_logits(Value(0.0), 0.0).data == pytest.approx(math.log(2), rel=1e-15)
    # scalar prediction, scalar target: reduction leaves it as is
    assert L.mse(Value(3.0), 1.0, reduction="sum").data == 4.0


def test_mse_broadcasts_one_target():
    p = batched([1.0, 2.0, 3.0])
    assert L.mse(p, 2.0).data == pytest.approx(2 / 3, rel=1e-15)
    assert L.mse(p, 2.0, reduction="sum").data == 2.0


def test_hinge_gradient_by_hand():
    s = batched([0.5, 2.0, -0.5])
    L.hinge(s, [1, 1, 1], reduction="sum").backward()
    assert s.grad.tolist() == [-1.0, 0.0, -1.0]
    s = batched([0.5, -2.0])
    L.hinge(s, [-1, -1]).backward()
    assert s.grad.tolist() == [0.5, 0.0]


def test_l2():
    ps = [Value(1.0), Value(-2.0), Value(3.0)]
    out = L.l2(ps, weight=0.5)
    assert out.data == 0.5 * 14.0
    out.backward()
    assert [p.grad for p in ps] == [1.0, -2.0, 3.0]  # 2 * weight * p
    assert L.l2(ps).data == 14.0
    assert gradcheck(lambda *xs: L.l2(list(xs), 1e-2), ps)


# softmax / log_softmax --------------------------------------------------------------------

def test_softmax_and_log_softmax_values():
    z = LOGITS[0]
    sm = [v.data for v in L.softmax([Value(float(x)) for x in z])]
    np.testing.assert_allclose(sm, np.exp(np_log_softmax(z)), rtol=1e-14)
    assert sum(sm) == pytest.approx(1.0, abs=1e-15)
    lsm = [v.data for v in L.log_softmax([Value(float(x)) for x in z])]
    np.testing.assert_allclose(lsm, np_log_softmax(z), rtol=1e-14)
    # batched: K Values of n examples each
    sm_b = np.stack([v.data for v in L.softmax(columns(LOGITS))], axis=1)
    np.testing.assert_allclose(sm_b, np.exp(np_log_softmax(LOGITS)), rtol=1e-14)
    lsm_b = np.stack([v.data for v in L.log_softmax(columns(LOGITS))], axis=1)
    np.testing.assert_allclose(lsm_b, np_log_softmax(LOGITS), rtol=1e-14, atol=1e-15)


def test_softmax_accepts_plain_numbers_and_generators():
    out = L.softmax(Value(float(x)) for x in [0.0, 0.0])
    assert [o.data for o in out] == [0.5, 0.5]


def test_softmax_gradcheck():
    c = RNG.normal(size=K)
    xs = [Value(float(v)) for v in LOGITS[1]]
    assert gradcheck(lambda *z: autograd.dot(L.softmax(z), list(c)), xs)
    assert gradcheck(lambda *z: autograd.dot(L.log_softmax(z), list(c)), xs)
    cols = columns(LOGITS)
    assert gradcheck(lambda *z: autograd.sum([s * float(ci) for s, ci in zip(L.softmax(z), c)]), cols)
    assert gradcheck(lambda *z: L.log_softmax(z)[2], cols)


def test_softmax_is_stable():
    out = L.softmax([Value(1000.0), Value(0.0)])
    assert [o.data for o in out] == [1.0, 0.0]
    out = L.softmax([Value(-1000.0), Value(-1000.0)])
    assert [o.data for o in out] == [0.5, 0.5]
    ls = L.log_softmax([Value(1000.0), Value(0.0)])
    assert [o.data for o in ls] == [0.0, -1000.0]
    b = L.softmax([batched([1000.0, -1000.0]), batched([0.0, 0.0])])
    assert b[0].data.tolist() == [1.0, 0.0] and b[1].data.tolist() == [0.0, 1.0]
    z = [Value(1000.0), Value(0.0), Value(-1000.0)]
    out = L.log_softmax(z)[1]
    out.backward()
    assert all(math.isfinite(v.grad) for v in z)
    assert [v.grad for v in z] == [-1.0, 1.0, 0.0]


@pytest.mark.parametrize("z", [[1000.0, 1000.0], [-1000.0, -1000.0], [1000.0, 999.0], [50.0, 50.0, 50.0],
                               [700.0, 701.5, 699.0, 702.0]])
def test_softmax_and_log_softmax_are_accurate_for_large_logits(z):
    """Accurate to the result's last bits, not to ulp(|z|): shifting by the max first makes
    z - max exact, so [1000, 1000] gives exactly [0.5, 0.5] and log_softmax -log(2) (as torch)."""
    zz = np.array(z)
    shifted = zz - zz.max()
    ref_ls = shifted - np.log(np.exp(shifted).sum())
    ls = [v.data for v in L.log_softmax([Value(x) for x in z])]
    np.testing.assert_allclose(ls, ref_ls, rtol=1e-15, atol=0)
    sm = [v.data for v in L.softmax([Value(x) for x in z])]
    np.testing.assert_allclose(sm, np.exp(shifted) / np.exp(shifted).sum(), rtol=1e-15, atol=0)
    assert abs(sum(sm) - 1.0) <= 2.3e-16
    ce = L.cross_entropy([Value(x) for x in z], 0).data
    assert ce == pytest.approx(-ref_ls[0], rel=1e-15)


# cross-entropy --------------------------------------------------------------------------

def ce_ref(logits, probs, reduction):
    return np_reduce(-(probs * np_log_softmax(logits)).sum(axis=1), reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("target_kind", ["index", "one_hot", "soft", "index_list"])
def test_cross_entropy_values(target_kind, reduction):
    target = {"index": CLASSES, "one_hot": ONE_HOT, "soft": SOFT_K, "index_list": CLASSES.tolist()}[target_kind]
    probs = SOFT_K if target_kind == "soft" else ONE_HOT
    expected = ce_ref(LOGITS, probs, reduction)
    b = L.cross_entropy(columns(LOGITS), np.asarray(target), reduction=reduction)
    assert b.data == pytest.approx(expected, rel=1e-13)
    per = L.cross_entropy(rows(LOGITS), target, reduction=reduction)
    assert per.data == pytest.approx(expected, rel=1e-13)


def test_cross_entropy_single_example():
    z = [Value(float(v)) for v in LOGITS[0]]
    expected = -np_log_softmax(LOGITS[0])[CLASSES[0]]
    assert L.cross_entropy(z, int(CLASSES[0])).data == pytest.approx(expected, rel=1e-14)
    assert L.cross_entropy(z, np.int64(CLASSES[0])).data == pytest.approx(expected, rel=1e-14)
    assert L.cross_entropy(z, float(CLASSES[0])).data == pytest.approx(expected, rel=1e-14)  # 2.0 is a class
    assert L.cross_entropy(z, ONE_HOT[0]).data == pytest.approx(expected, rel=1e-14)
    assert L.cross_entropy(z, list(ONE_HOT[0])).data == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_of_uniform_logits_is_log_k():
    assert L.cross_entropy([Value(0.0)] * 5, 3).data == pytest.approx(math.log(5), rel=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck(reduction):
    assert gradcheck(lambda *z: L.cross_entropy(list(z), CLASSES, reduction=reduction), columns(LOGITS))
    assert gradcheck(lambda *z: L.cross_entropy(list(z), SOFT_K, reduction=reduction), columns(LOGITS))
    small = LOGITS[:3]
    flat = [Value(float(v)) for v in small.ravel()]

    def per_example(*z):
        return L.cross_entropy([list(z[i * K:(i + 1) * K]) for i in range(3)], CLASSES[:3], reduction=reduction)
    assert gradcheck(per_example, flat)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    cols = columns(LOGITS)
    L.cross_entropy(cols, CLASSES, reduction="sum").backward()
    grad = np.stack([c.grad for c in cols], axis=1)
    np.testing.assert_allclose(grad, np.exp(np_log_softmax(LOGITS)) - ONE_HOT, rtol=1e-12, atol=1e-15)


def test_cross_entropy_batch_of_one():
    """A batch of one example (the last mini-batch of an epoch can be one row) with an
    index target of shape (1,) is one example's class index, not a one-hot vector."""
    cols = columns(LOGITS[:1])
    assert cols[0].data.shape == (1,)
    expected = -np_log_softmax(LOGITS[:1])[0, CLASSES[0]]
    assert L.cross_entropy(cols, CLASSES[:1]).data == pytest.approx(expected, rel=1e-14)
    assert L.cross_entropy(cols, ONE_HOT[:1]).data == pytest.approx(expected, rel=1e-14)


# stability ---------------------------------------------------------------------------------

def test_bce_with_logits_at_plus_minus_1000():
    z = batched([1000.0, -1000.0, 1000.0, -1000.0])
    loss = L.binary_cross_entropy_with_logits(z, [0.0, 1.0, 1.0, 0.0], reduction="sum")
    assert loss.data == 2000.0
    loss.backward()
    assert np.all(np.isfinite(z.grad))
    assert z.grad.tolist() == [1.0, -1.0, 0.0, 0.0]  # sigmoid(z) - t
    one = Value(-1000.0)
    l1 = L.binary_cross_entropy_with_logits(one, 1.0)
    l1.backward()
    assert l1.data == 1000.0 and one.grad == -1.0


def test_cross_entropy_at_plus_minus_1000():
    cols = [batched([1000.0, -1000.0]), batched([-1000.0, 1000.0]), batched([0.0, 0.0])]
    loss = L.cross_entropy(cols, np.array([1, 1]), reduction="sum")
    assert loss.data == 2000.0
    loss.backward()
    for c in cols:
        assert np.all(np.isfinite(c.grad))
    assert cols[0].grad.tolist() == [1.0, 0.0]
    assert cols[1].grad.tolist() == [-1.0, 0.0]
    z = [Value(1000.0), Value(-1000.0)]
    l1 = L.cross_entropy(z, 0)
    l1.backward()
    assert l1.data == 0.0 and [v.grad for v in z] == [0.0, 0.0]


def test_bce_on_saturated_probabilities_is_finite():
    p = batched([1000.0, -1000.0, 0.0]).sigmoid()
    assert p.data.tolist() == [1.0, 0.0, 0.5]
    loss = L.binary_cross_entropy(p, [0.0, 1.0, 1.0])
    assert math.isfinite(loss.data)
    # below 1e-12 the log is continued by its tangent: log(x) ~ log(1e-12) + (x - 1e-12) / 1e-12,
    # so a certain wrong answer (x = 0) costs 1 - log(1e-12) ~ 28.6
    wrong = 1.0 - math.log(1e-12)
    assert loss.data == pytest.approx((wrong + wrong + math.log(2)) / 3, rel=1e-12)
    loss.backward()
    assert np.all(np.isfinite(p.grad))
    assert L.binary_cross_entropy(Value(0.0), 0.0).data == 0.0


# errors ---------------------------------------------------------------------------------

def test_hinge_targets_must_be_plus_minus_one():
    with pytest.raises(ValueError, match=r"hinge.*index 2"):
        L.hinge(batched([1.0, 1.0, 1.0]), [1, -1, 0])
    with pytest.raises(ValueError, match=r"index 0"):
        L.hinge(Value(1.0), 0.5)


@pytest.mark.parametrize("fn", [L.binary_cross_entropy, L.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("bad,index", [([0, 1.5, 1], 1), ([0, 1, -0.1], 2), ([math.nan, 1, 1], 0)])
def test_bce_targets_must_be_in_0_1(fn, bad, index):
    with pytest.raises(ValueError, match=rf"{fn.__name__}.*index {index}"):
        fn(batched([0.5, 0.5, 0.5]), bad)


def test_cross_entropy_class_index_out_of_range_names_the_index():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        L.cross_entropy([Value(1.0), Value(2.0)], 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        L.cross_entropy([Value(1.0), Value(2.0)], -1)
    cols = [batched(np.zeros(50)), batched(np.zeros(50))]
    target = np.zeros(50, dtype=int)
    target[37] = 5
    with pytest.raises(ValueError, match=r"index 37"):
        L.cross_entropy(cols, target)


def test_cross_entropy_non_integer_classes():
    with pytest.raises(ValueError, match="integers"):
        L.cross_entropy([Value(1.0), Value(2.0)], 0.5)
    with pytest.raises(ValueError, match="integers"):
        L.cross_entropy([batched([1.0, 2.0]), batched([0.0, 0.0])], np.array([0.0, 0.5]))


def test_cross_entropy_one_hot_shape():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        L.cross_entropy([batched([1.0, 2.0]), batched([0.0, 0.0])], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(3\)"):
        L.cross_entropy([Value(1.0), Value(2.0), Value(0.0)], [1.0, 0.0])


def test_count_mismatches():
    with pytest.raises(ValueError, match="3 examples but 2 targets"):
        L.mse(batched([1.0, 2.0, 3.0]), [1.0, 2.0])
    with pytest.raises(ValueError, match="1 predictions but 2 targets"):
        L.mse([Value(1.0)], [1.0, 2.0])
    with pytest.raises(ValueError, match="2 examples of logits but 3 targets"):
        L.cross_entropy(rows(LOGITS[:2]), [0, 1, 1])


@pytest.mark.parametrize("fn,pred,target", [(L.mse, PRED, TARGET), (L.hinge, SCORES, SIGNS),
                                            (L.binary_cross_entropy, PROBS, BITS)])
def test_bad_reduction(fn, pred, target):
    with pytest.raises(ValueError, match="reduction"):
        fn(batched(pred), target, reduction="none")
    with pytest.raises(ValueError, match="reduction"):
        L.cross_entropy(columns(LOGITS), CLASSES, reduction="avg")


# PyTorch, float64 ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def F():
    torch = pytest.importorskip("torch")
    return torch.nn.functional


def t64(a, grad=True):
    import torch
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def check_against_torch(ours_fn, ours_inputs, torch_fn, torch_inputs, rtol=1e-12):
    out = ours_fn(*ours_inputs)
    out.backward()
    ref = torch_fn(*torch_inputs)
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=rtol)
    return out, ref


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_vs_torch(F, reduction):
    p, tp = batched(PRED), t64(PRED)
    check_against_torch(lambda x: L.mse(x, TARGET, reduction=reduction), [p],
                        lambda x: F.mse_loss(x, t64(TARGET, False), reduction=reduction), [tp])
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


def test_hinge_vs_torch(F):
    import torch
    s, ts = batched(SCORES), t64(SCORES)
    check_against_torch(lambda x: L.hinge(x, SIGNS), [s],
                        lambda x: torch.clamp(1 - t64(SIGNS, False) * x, min=0).mean(), [ts])
    np.testing.assert_allclose(s.grad, ts.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("target", [BITS, SOFT], ids=["hard", "soft"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_vs_torch(F, target, reduction):
    p, tp = batched(PROBS), t64(PROBS)
    check_against_torch(lambda x: L.binary_cross_entropy(x, target, reduction=reduction), [p],
                        lambda x: F.binary_cross_entropy(x, t64(target, False), reduction=reduction), [tp])
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("target", [BITS, SOFT], ids=["hard", "soft"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_vs_torch(F, target, reduction):
    z = np.concatenate([SCORES, [1000.0, -1000.0, 40.0, -40.0]])
    t = np.concatenate([target, [0.0, 1.0, 1.0, 0.0]])
    v, tz = batched(z), t64(z)
    check_against_torch(lambda x: L.binary_cross_entropy_with_logits(x, t, reduction=reduction), [v],
                        lambda x: F.binary_cross_entropy_with_logits(x, t64(t, False), reduction=reduction), [tz])
    np.testing.assert_allclose(v.grad, tz.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("target_kind", ["index", "one_hot", "soft"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_vs_torch(F, target_kind, reduction):
    import torch
    logits = np.vstack([LOGITS, [[1000.0, -1000.0, 0.0, 5.0]]])
    classes = np.append(CLASSES, 1)
    target = {"index": classes, "one_hot": np.eye(K)[classes],
              "soft": np.vstack([SOFT_K, [[0.25] * 4]])}[target_kind]
    cols, tl = columns(logits), t64(logits)
    tt = torch.tensor(target) if target_kind == "index" else t64(target, False)
    check_against_torch(lambda *z: L.cross_entropy(list(z), target, reduction=reduction), cols,
                        lambda x: F.cross_entropy(x, tt, reduction=reduction), [tl])
    np.testing.assert_allclose(np.stack([c.grad for c in cols], axis=1), tl.grad.numpy(), rtol=1e-12, atol=1e-15)
    # one graph per example gives the same loss and gradients
    rs = rows(logits)
    per = L.cross_entropy(rs, target, reduction=reduction)
    per.backward()
    assert per.data == pytest.approx(F.cross_entropy(t64(logits), tt, reduction=reduction).item(), rel=1e-12)
    np.testing.assert_allclose([[v.grad for v in r] for r in rs], tl.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_softmax_and_log_softmax_vs_torch(F):
    c = RNG.normal(size=K)
    for fn, tfn in ((L.softmax, F.softmax), (L.log_softmax, F.log_softmax)):
        cols, tl = columns(LOGITS), t64(LOGITS)
        out = fn(cols)
        ref = tfn(tl, dim=1)
        np.testing.assert_allclose(np.stack([o.data for o in out], axis=1), ref.detach().numpy(),
                                   rtol=1e-13, atol=1e-16)
        autograd.sum([o * float(ci) for o, ci in zip(out, c)]).sum().backward()
        (ref * t64(c, False)).sum().backward()
        np.testing.assert_allclose(np.stack([x.grad for x in cols], axis=1), tl.grad.numpy(),
                                   rtol=1e-12, atol=1e-15)
