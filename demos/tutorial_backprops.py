"""The five tutorials' forward passes and their hand-derived numpy backprops, written in this
project from each tutorial's math (the setups of demos/*.py), for `autograd.check_backprop`.

Each `<tutorial>()` returns a `Case`: the loss function (numpy code, run on lifted parameters by
check_backprop), the parameters, the extra arguments, the hand gradients, and `backprop`, the hand
derivation itself: `backprop(params, *args, mistake='sign')` plants one named mistake in it (for
the tests and demos/check_backprop.py). Departures from the tutorials, all for speed or clarity:
Britz's biases start at small random numbers instead of 0 (so that no gradient is trivially 0);
Andy Thomas's cost is checked on the first 100 training rows (his loop over examples is kept);
"the generic article's ReLU net" is D -> H ReLU -> 1 linear with mean squared error on 32 random
examples, the network such articles derive and then verify by numerical gradient checking.

    >>> import autograd
    >>> c = perceptron()
    >>> bool(autograd.check_backprop(c.loss, c.params, c.grads, args=c.args))
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nn.data import MinMaxScaler, StandardScaler, load_breast_cancer_wisconsin, load_digits, make_moons, \
    one_hot, train_test_split


@dataclass
class Case:
    name: str
    loss: Callable
    params: dict
    args: tuple
    backprop: Callable          # backprop(params, *args, mistake=None) -> grads
    grads: dict = field(default=None)

    def __post_init__(self):
        if self.grads is None:
            self.grads = self.backprop(self.params, *self.args)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- 1. The perceptron ("a neural network in 11 lines"): 3 inputs, 1 sigmoid output, no bias ------
def perceptron_loss(p, X, y):
    out = 1 / (1 + np.exp(-(X @ p["W"])))
    return 0.5 * np.sum((y - out) ** 2)


def perceptron_backprop(p, X, y, mistake=None):
    out = _sigmoid(X @ p["W"])
    # the tutorial's update W += X.T @ ((y - out) * out * (1 - out)) is minus this gradient
    delta = (out - y) * out * (1 - out)
    if mistake == "sign":
        delta = (y - out) * out * (1 - out)
    return {"W": X.T @ delta}


def perceptron(steps=0):
    X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float64)
    y = np.array([[0, 1, 1, 0]], dtype=np.float64).T
    np.random.seed(1)
    W = 2 * np.random.random((3, 1)) - 1
    return Case("perceptron", perceptron_loss, {"W": W}, (X, y), perceptron_backprop)


# -- 2. Denny Britz: 2 -> h tanh -> 2 softmax, summed cross-entropy + reg/2 * (|W1|^2 + |W2|^2) ----
BRITZ_REG = 0.01


def britz_loss(p, X, y):
    z1 = X.dot(p["W1"]) + p["b1"]
    a1 = np.tanh(z1)
    z2 = a1.dot(p["W2"]) + p["b2"]
    exp_scores = np.exp(z2)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    data_loss = np.sum(-np.log(probs[range(len(X)), y]))
    data_loss += BRITZ_REG / 2 * (np.sum(np.square(p["W1"])) + np.sum(np.square(p["W2"])))
    return data_loss


def britz_backprop(p, X, y, mistake=None):
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    a1 = np.tanh(X.dot(W1) + b1)
    exp_scores = np.exp(a1.dot(W2) + b2)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    delta3 = probs.copy()
    delta3[range(len(X)), y] -= 1
    if mistake == "sign":
        delta3 = -delta3
    dW2 = (a1.T).dot(delta3)
    db2 = np.sum(delta3, axis=0, keepdims=True)
    delta2 = delta3.dot(W2.T) * (1 - np.power(a1, 2))
    if mistake == "activation":
        delta2 = delta3.dot(W2.T)  # tanh's derivative forgotten
    dW1 = np.dot(X.T, delta2)
    db1 = np.sum(delta2, axis=0)  # shape (h,) for b1 of shape (1, h), as in the tutorial
    dW2 = dW2 + BRITZ_REG * W2
    dW1 = dW1 + BRITZ_REG * W1
    if mistake == "transposed":
        dW2 = delta3.T.dot(a1)
    if mistake == "batch":
        db2 = delta3
    if mistake == "scale":
        dW1 = dW1 / len(X)
    if mistake == "reg":
        dW2 = dW2 - BRITZ_REG * W2
    if mistake == "zero":
        db1 = np.zeros_like(db1)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def britz(h=3, n=200):
    np.random.seed(0)
    X, y = make_moons(n, noise=0.20)
    np.random.seed(0)
    W1 = np.random.randn(2, h) / np.sqrt(2)
    W2 = np.random.randn(h, 2) / np.sqrt(h)
    # the tutorial starts from zero biases; a step's worth of them makes every gradient distinct
    b1, b2 = 0.1 * np.random.randn(1, h), 0.1 * np.random.randn(1, 2)
    return Case("britz", britz_loss, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, (X, y), britz_backprop)


# -- 3. Ideami: 9 -> 15 ReLU -> 1 sigmoid, mean binary cross-entropy; examples are columns --------
def ideami_loss(p, X, Y):
    Z1 = p["W1"].dot(X) + p["b1"]
    A1 = np.maximum(0, Z1)
    Z2 = p["W2"].dot(A1) + p["b2"]
    Yh = 1 / (1 + np.exp(-Z2))
    m = Y.shape[1]
    return (1. / m) * (-np.dot(Y, np.log(Yh).T) - np.dot(1 - Y, np.log(1 - Yh).T))


def ideami_backprop(p, X, Y, mistake=None):
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    Z1 = W1.dot(X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = W2.dot(A1) + b2
    Yh = _sigmoid(Z2)
    m = X.shape[1]

    def d_sigmoid(Z):
        s = _sigmoid(Z)
        return s * (1 - s)

    def d_relu(x):
        x = x.copy()
        x[x <= 0] = 0
        x[x > 0] = 1
        return x

    dLoss_Yh = -(np.divide(Y, Yh) - np.divide(1 - Y, 1 - Yh))
    dLoss_Z2 = dLoss_Yh * d_sigmoid(Z2)
    dLoss_A1 = np.dot(W2.T, dLoss_Z2)
    dLoss_W2 = 1. / A1.shape[1] * np.dot(dLoss_Z2, A1.T)
    dLoss_b2 = 1. / A1.shape[1] * np.dot(dLoss_Z2, np.ones([dLoss_Z2.shape[1], 1]))
    dLoss_Z1 = dLoss_A1 * d_relu(Z1)
    if mistake == "relu_mask":
        dLoss_Z1 = dLoss_A1
    dLoss_W1 = 1. / m * np.dot(dLoss_Z1, X.T)
    dLoss_b1 = 1. / m * np.dot(dLoss_Z1, np.ones([dLoss_Z1.shape[1], 1]))
    if mistake == "scale":
        dLoss_W2 = np.dot(dLoss_Z2, A1.T)  # the 1/m forgotten
    if mistake == "batch":
        dLoss_b1 = dLoss_Z1  # one column per example
    return {"W1": dLoss_W1, "b1": dLoss_b1, "W2": dLoss_W2, "b2": dLoss_b2}


def ideami(rows=500):
    X, y = load_breast_cancer_wisconsin()
    X = MinMaxScaler().fit_transform(X)
    Xtr, ytr = X[:rows].T, y[:rows].reshape(1, -1).astype(np.float64)
    np.random.seed(1)
    W1 = np.random.randn(15, 9) / np.sqrt(9)
    W2 = np.random.randn(1, 15) / np.sqrt(15)
    b1, b2 = np.zeros((15, 1)), np.zeros((1, 1))
    return Case("ideami", ideami_loss, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, (Xtr, ytr), ideami_backprop)


# -- 4. Andy Thomas: 64 -> 30 sigmoid -> 10 sigmoid, J = 1/m sum 0.5 ||y - h||^2, one example at a time
def thomas_loss(p, X, Y):
    m = len(X)
    H1 = 1 / (1 + np.exp(-(X @ p["W1"].T + p["b1"])))
    H2 = 1 / (1 + np.exp(-(H1 @ p["W2"].T + p["b2"])))
    return 1.0 / m * np.sum(0.5 * np.sum((Y - H2) ** 2, axis=1))


def thomas_backprop(p, X, Y, mistake=None):
    W = {1: p["W1"], 2: p["W2"]}
    b = {1: p["b1"], 2: p["b2"]}
    f_deriv = lambda z: _sigmoid(z) * (1 - _sigmoid(z))  # noqa: E731 - the tutorial's name
    tri_W = {l: np.zeros(W[l].shape) for l in (1, 2)}
    tri_b = {l: np.zeros(b[l].shape) for l in (1, 2)}
    for i in range(len(X)):
        h, z = {1: X[i]}, {}
        for l in (1, 2):
            z[l + 1] = W[l].dot(h[l]) + b[l]
            h[l + 1] = _sigmoid(z[l + 1])
        delta = {3: -(Y[i] - h[3]) * f_deriv(z[3])}
        delta[2] = np.dot(np.transpose(W[2]), delta[3]) * f_deriv(z[2])
        if mistake == "activation":
            delta[2] = np.dot(np.transpose(W[2]), delta[3])
        for l in (2, 1):
            tri_W[l] += np.dot(delta[l + 1][:, np.newaxis], np.transpose(h[l][:, np.newaxis]))
            tri_b[l] += delta[l + 1]
    m = len(X)
    g = {"W1": 1.0 / m * tri_W[1], "b1": 1.0 / m * tri_b[1], "W2": 1.0 / m * tri_W[2], "b2": 1.0 / m * tri_b[2]}
    if mistake == "scale":
        g["W2"] = tri_W[2]  # summed, where the cost averages
    if mistake == "transposed":
        g["W1"] = g["W1"].T
    return g


def thomas(rows=100, seed=0):
    X, y = load_digits()
    X = StandardScaler().fit_transform(X)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.4, random_state=seed)
    Xtr, Y = Xtr[:rows], one_hot(ytr[:rows], 10)
    np.random.seed(seed)
    params = {}
    for l, (nin, nout) in ((1, (64, 30)), (2, (30, 10))):  # the tutorial's draw order: W then b
        params[f"W{l}"] = np.random.random_sample((nout, nin))
        params[f"b{l}"] = np.random.random_sample((nout,))
    return Case("thomas", thomas_loss, params, (Xtr, Y), thomas_backprop)


# -- 5. The generic "backprop from scratch" article: D -> H ReLU -> 1 linear, mean squared error ----
def relu_net_loss(p, X, y):
    h = np.maximum(0, X @ p["W1"] + p["b1"])
    out = h @ p["W2"] + p["b2"]
    return np.mean((out - y) ** 2)


def relu_net_backprop(p, X, y, mistake=None):
    z1 = X @ p["W1"] + p["b1"]
    h = np.maximum(0, z1)
    out = h @ p["W2"] + p["b2"]
    n = len(X)
    d_out = 2 * (out - y) / n
    if mistake == "scale":
        d_out = (out - y) / n  # the 2 of the square's derivative dropped
    d_h = d_out @ p["W2"].T
    d_z1 = d_h * (z1 > 0)
    if mistake == "relu_mask":
        d_z1 = d_h
    g = {"W1": X.T @ d_z1, "b1": d_z1.sum(axis=0), "W2": h.T @ d_out, "b2": d_out.sum(axis=0)}
    if mistake == "zero":
        g["W2"] = np.zeros_like(g["W2"])
    if mistake == "batch":
        g["b1"] = d_z1
    return g


def relu_net(n=32, d=4, hidden=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X.sum(axis=1, keepdims=True))
    params = {"W1": rng.standard_normal((d, hidden)) * np.sqrt(2 / d), "b1": 0.1 * rng.standard_normal(hidden),
              "W2": rng.standard_normal((hidden, 1)) * np.sqrt(1 / hidden), "b2": np.zeros(1)}
    return Case("relu_net", relu_net_loss, params, (X, y), relu_net_backprop)


TUTORIALS = {"perceptron": perceptron, "britz": britz, "ideami": ideami, "thomas": thomas, "relu_net": relu_net}
