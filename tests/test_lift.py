"""autograd.lift: numpy code on arrays of Values gives numpy's numbers and exact gradients."""
import numpy as np
import pytest

import autograd
from autograd import Value, ValueArray, lift

rng = np.random.default_rng(7)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((3, 4))
P = rng.uniform(0.5, 2.0, (3, 4))          # positive: log, sqrt, fractional powers
V = rng.standard_normal(4)
COL = rng.standard_normal((3, 1))
M = rng.standard_normal((4, 5))


def _numeric_grad(fn, arrays, weights, eps=1e-6):
    """d sum(weights * fn(*arrays)) / d arrays, by central differences on floats."""
    grads = []
    for k, x in enumerate(arrays):
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            def f(h):
                xs = [a.copy() for a in arrays]
                xs[k][idx] += h
                return np.sum(weights * fn(*xs))
            g[idx] = (f(eps) - f(-eps)) / (2 * eps)
        grads.append(g)
    return grads


def check(fn, *arrays, rtol=1e-6, atol=1e-7):
    """fn on lifted arrays: the data equal fn on floats bit for bit, the gradients equal
    central differences."""
    lifted = [lift(a, f"a{i}") for i, a in enumerate(arrays)]
    out = fn(*lifted)
    expected = fn(*arrays)
    assert isinstance(out, ValueArray)
    assert out.shape == np.shape(expected)
    assert np.array_equal(out.data, expected), (out.data, expected)  # the last bit
    weights = rng.standard_normal(out.shape)
    total = np.sum(out * weights)
    total.item().backward()
    for x, g in zip(lifted, _numeric_grad(fn, arrays, weights)):
        np.testing.assert_allclose(x.grad, g, rtol=rtol, atol=atol)
    return out


ELEMENTWISE = {
    "add": (lambda a, b: a + b, (A, B)),
    "add row broadcast": (lambda a, v: a + v, (A, V)),
    "sub column broadcast": (lambda a, c: a - c, (A, COL)),
    "mul": (lambda a, b: a * b, (A, B)),
    "div": (lambda a, p: a / p, (A, P)),
    "div by column": (lambda a, c: a / (c + 3.0), (A, COL)),
    "number minus array": (lambda a: 1 - a, (A,)),
    "number over array": (lambda p: 2.0 / p, (P,)),
    "neg": (lambda a: -a, (A,)),
    "abs": (lambda a: abs(a), (A,)),
    "np.abs": (lambda a: np.abs(a), (A,)),
    "square": (lambda a: np.square(a), (A,)),
    "pow 2": (lambda a: a ** 2, (A,)),
    "pow 3": (lambda a: a ** 3, (A,)),
    "pow 0.5": (lambda p: p ** 0.5, (P,)),
    "pow -1": (lambda p: p ** -1, (P,)),
    "np.power": (lambda p: np.power(p, 1.7), (P,)),
    "power of lifted exponent": (lambda a: 2.0 ** a, (A,)),
    "lifted ** lifted": (lambda p, a: p ** a, (P, A)),
    "exp": (lambda a: np.exp(a), (A,)),
    "log": (lambda p: np.log(p), (P,)),
    "sqrt": (lambda p: np.sqrt(p), (P,)),
    "tanh": (lambda a: np.tanh(a), (A,)),
    "sigmoid written out": (lambda a: 1 / (1 + np.exp(-a)), (A,)),
    "maximum(0, z)": (lambda a: np.maximum(0, a), (A,)),
    "maximum(z, 0)": (lambda a: np.maximum(a, 0), (A,)),
    "maximum(z, 0.3)": (lambda a: np.maximum(a, 0.3), (A,)),
    "minimum(z, 0.3)": (lambda a: np.minimum(a, 0.3), (A,)),
    "maximum of two lifted": (lambda a, b: np.maximum(a, b), (A, B)),
    "minimum of two lifted": (lambda a, b: np.minimum(a, b), (A, B)),
    "clip": (lambda a: np.clip(a, -0.5, 0.5), (A,)),
    "relu as mask product": (lambda a: a * (a > 0), (A,)),
    "where": (lambda a, b: np.where(A > 0, a, b * 2), (A, B)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_values_and_gradients(name):
    fn, arrays = ELEMENTWISE[name]
    check(fn, *arrays)


PRODUCTS = {
    "lifted @ lifted": (lambda a, m: a @ m, (A, M)),
    "float @ lifted": (lambda m: A @ m, (M,)),
    "lifted @ float": (lambda a: a @ M, (A,)),
    "matrix @ vector": (lambda a, v: a @ v, (A, V)),
    "vector @ matrix": (lambda v, m: v @ m, (V, M)),
    "vector @ vector": (lambda v: v @ V, (V,)),
    "np.dot": (lambda a, m: np.dot(a, m), (A, M)),
    ".dot method": (lambda a, m: a.dot(m), (A, M)),
    "np.matmul": (lambda a, m: np.matmul(a, m), (A, M)),
    "X.T @ W": (lambda b: B.T @ b, (B,)),
    "np.outer": (lambda v, c: np.outer(v, c), (V, COL)),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_products_values_and_gradients(name):
    fn, arrays = PRODUCTS[name]
    check(fn, *arrays)


def test_matmul_makes_one_dot_node_per_output_element():
    W = lift(M, "W")
    out = A @ W
    nodes = out.view(np.ndarray)
    assert all(v.op == "dot" for v in nodes.ravel())
    first = nodes[1, 2]
    assert len(first.parents) == 2 * 4
    # the weights (the lifted parameter) come first: a neuron in drawings
    assert [p.label for p in first.parents[:4]] == [f"W[{k},2]" for k in range(4)]
    assert [p.data for p in first.parents[4:]] == A[1].tolist()


REDUCTIONS = {
    "sum": (lambda a: np.sum(a), (A,)),
    "sum axis 0": (lambda a: np.sum(a, axis=0), (A,)),
    "sum axis 1 keepdims": (lambda a: np.sum(a, axis=1, keepdims=True), (A,)),
    "sum axis -1": (lambda a: np.sum(a, axis=-1), (A,)),
    "sum axes (0, 1)": (lambda a: np.sum(a, axis=(0, 1)), (A,)),
    ".sum method": (lambda a: a.sum(axis=0, keepdims=True), (A,)),
    "np.add.reduce": (lambda a: np.add.reduce(a, axis=1), (A,)),
    "mean": (lambda a: np.mean(a), (A,)),
    "mean axis 0": (lambda a: np.mean(a, axis=0), (A,)),
    "mean axis 1 keepdims": (lambda a: a.mean(axis=1, keepdims=True), (A,)),
    "max": (lambda a: np.max(a), (A,)),
    "max axis 1 keepdims": (lambda a: np.max(a, axis=1, keepdims=True), (A,)),
    "amax axis 0": (lambda a: np.amax(a, axis=0), (A,)),
    "min axis 0": (lambda a: a.min(axis=0), (A,)),
    "stable softmax": (lambda a: np.exp(a - np.max(a, axis=1, keepdims=True))
                       / np.sum(np.exp(a - np.max(a, axis=1, keepdims=True)), axis=1, keepdims=True), (A,)),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_values_and_gradients(name):
    fn, arrays = REDUCTIONS[name]
    check(fn, *arrays)


def test_long_sums_are_numpys_pairwise_sums_bit_for_bit():
    x = rng.standard_normal((3, 1000)) * 1e3
    s = np.sum(lift(x, "x"), axis=1)
    assert np.array_equal(s.data, np.sum(x, axis=1))
    left_to_right = [sum(row.tolist()) for row in x]
    assert any(a != b for a, b in zip(left_to_right, s.data))  # so the test above could fail
    assert all(v.op == "sum" and len(v.parents) == 1000 for v in s.view(np.ndarray))


SHAPES = {
    ".T": (lambda a: a.T * 2, (A,)),
    "reshape": (lambda a: a.reshape(4, 3) @ np.ones(3), (A,)),
    "np.transpose": (lambda a: np.transpose(a) + 1, (A,)),
    "concatenate": (lambda a, b: np.concatenate([a, b], axis=1) * 3, (A, B)),
    "stack with floats": (lambda a: np.stack([a, B]) * 2, (A,)),
    "row index": (lambda a: a[1] * 2, (A,)),
    "slice": (lambda a: a[:, 1:3] ** 2, (A,)),
    "fancy index": (lambda a: a[range(3), [0, 3, 1]] * 2, (A,)),
    "boolean mask": (lambda a: a[A > 0] * 2, (A,)),
    "newaxis": (lambda a: a[:, np.newaxis, :] * 2, (A,)),
    "repeated element": (lambda a: a[[0, 0, 1], [1, 1, 2]] * 3, (A,)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape_functions_and_indexing(name):
    fn, arrays = SHAPES[name]
    check(fn, *arrays)


def test_in_place_operators_on_lifted_arrays():
    def fn(a):
        loss = np.sum(a * a)
        loss += 0.5 * np.sum(a)
        return loss
    check(fn, A)

    def masked(a):
        z = a * 1.0
        z[A < 0] = 0          # an in-place ReLU: the masked elements become constants
        return z
    check(masked, A)


def test_one_element_is_a_0d_array_and_item_the_value():
    W = lift(A, "W")
    e = W[1, 2]
    assert isinstance(e, ValueArray) and e.shape == ()
    assert e.item().label == "W[1,2]" and e.item().data == A[1, 2]
    assert (e * 2 + W).shape == A.shape
    assert f"{np.sum(W):.3f}" == f"{np.sum(A):.3f}"


def test_comparisons_give_boolean_masks_of_the_data():
    W = lift(A, "W")
    assert np.array_equal(W > 0, A > 0) and (W > 0).dtype == bool
    assert np.array_equal(np.isfinite(W), np.ones(A.shape, bool))


def test_britz_loss_gradients_equal_torchs():
    torch = pytest.importorskip("torch")
    X = rng.standard_normal((6, 2))
    y = np.array([0, 1, 1, 0, 1, 0])
    W1, W2 = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))

    def loss(W1, W2, np=np):
        a1 = np.tanh(X @ W1)
        z = a1 @ W2
        e = np.exp(z - np.max(z, axis=1, keepdims=True))
        probs = e / np.sum(e, axis=1, keepdims=True)
        return np.mean(-np.log(probs[range(6), y])) + 0.01 / 2 * np.sum(np.square(W1))

    l1, l2 = lift(W1, "W1"), lift(W2, "W2")
    out = loss(l1, l2)
    out.item().backward()
    t1 = torch.tensor(W1, requires_grad=True, dtype=torch.float64)
    t2 = torch.tensor(W2, requires_grad=True, dtype=torch.float64)
    Xt = torch.tensor(X)
    a1 = torch.tanh(Xt @ t1)
    z = a1 @ t2
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    probs = e / e.sum(dim=1, keepdim=True)
    tl = (-torch.log(probs[range(6), torch.tensor(y)])).mean() + 0.01 / 2 * (t1 ** 2).sum()
    tl.backward()
    assert out.data == pytest.approx(tl.item(), rel=1e-14)
    np.testing.assert_allclose(l1.grad, t1.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(l2.grad, t2.grad.numpy(), rtol=1e-12, atol=1e-15)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, words", [
    (lambda a: np.argmax(a), ["np.argmax", "no derivative", "np.argmax(x.data)"]),
    (lambda a: a.argmax(), ["argmax"]),
    (lambda a: np.sin(a), ["np.sin", "not supported"]),
    (lambda a: np.log1p(a), ["np.log1p", "np.log(1 + x)"]),
    (lambda a: np.var(a), ["np.var", "np.mean"]),
    (lambda a: np.cumsum(a), ["np.cumsum"]),
    (lambda a: np.round(a), ["np.round", "no derivative"]),
    (lambda a: np.einsum("ij->i", a), ["np.einsum"]),
    (lambda a: np.sum(a, where=A > 0), ["where"]),
])
def test_unsupported_functions_name_themselves(fn, words):
    with pytest.raises(TypeError) as e:
        fn(lift(A, "W"))
    for w in words:
        assert w in str(e.value)


def test_domain_errors_name_the_function_and_the_element():
    W = lift(np.array([[1.0, 2.0], [0.0, 3.0]]), "W")
    with pytest.raises(ValueError, match=r"np.log: input must be > 0, got 0.0 at index \[1, 0\]"):
        np.log(W)
    with pytest.raises(ValueError, match=r"np.sqrt: .* got -1.0 at index \[1, 0\]"):
        np.sqrt(W - 1)
    with pytest.raises(ZeroDivisionError, match=r"division by zero at index \[1, 0\]"):
        1 / W
    with pytest.raises(ValueError, match=r"np.power: -1.0 \*\* 0.5"):
        (W - 1) ** 0.5


def test_conversions_that_would_drop_the_gradient_are_refused():
    W = lift(A, "W")
    with pytest.raises(TypeError, match="drop its gradient"):
        float(np.sum(W))
    with pytest.raises(TypeError, match="drop its gradient"):
        W.astype(float)
    x = np.zeros(A.shape)
    with pytest.raises(TypeError, match="in-place"):
        np.add(x, W, out=x)


def test_bad_lift_input():
    with pytest.raises(TypeError, match="numeric array"):
        lift(np.array(["a", "b"]), "s")
    with pytest.raises(TypeError, match="name"):
        lift(A, 3)
    with pytest.raises(TypeError, match="lifted already"):
        lift(lift(A, "W"), "W")
    with pytest.raises(TypeError, match="batched Value"):
        lift(A, "W") + np.array([Value(np.ones(3))] * 4, dtype=object)
    with pytest.raises(TypeError, match="only 1-D and 2-D"):
        lift(np.ones((2, 2, 2)), "T") @ np.ones(2)
    with pytest.raises(ValueError):
        lift(A, "W") @ np.ones(3)   # numpy's own shape error


def test_draw_groups_a_lifted_forward_pass_by_array_name():
    X = rng.standard_normal((5, 2))
    W1, b1 = lift(rng.standard_normal((2, 3)), "W1"), lift(np.zeros((1, 3)), "b1")
    W2 = lift(rng.standard_normal((3, 2)), "W2")
    loss = np.sum(np.tanh(X @ W1 + b1) @ W2).item()
    loss.backward()
    g = autograd.draw(loss, detail="neuron")
    assert "W1: 3 x tanh" in g.source and "W2: 2 x linear" in g.source
    full = autograd.draw(loss, detail="full")
    assert "W1[0,2]" in full.source


def test_float_dot_method_falls_back_to_numpys_object_loop_and_stays_exact():
    # ndarray.dot has no hook: numpy multiplies and adds the Values itself (2n nodes, not one
    # dot), the result is still a ValueArray and the gradient still exact
    W = lift(M, "W")
    out = A.dot(W)
    assert isinstance(out, ValueArray)
    np.testing.assert_allclose(out.data, A @ M, rtol=1e-14)
    np.sum(out).item().backward()
    np.testing.assert_allclose(W.grad, A.T @ np.ones((3, 5)), rtol=1e-14)


def test_scipy_expit_is_the_sigmoid_operation():
    special = pytest.importorskip("scipy.special")
    out = check(lambda a: special.expit(a), A)
    assert all(v.op == "sigmoid" for v in out.view(np.ndarray).ravel())


def test_nan_and_ties_in_max_pick_what_numpy_picks():
    x = np.array([[1.0, 3.0, 3.0], [np.nan, 2.0, 5.0]])
    W = lift(x, "W")
    m = np.max(W, axis=1)
    assert [v.label for v in m.view(np.ndarray)] == ["W[0,1]", "W[1,0]"]
    assert np.array_equal(m.data, np.max(x, axis=1), equal_nan=True)
