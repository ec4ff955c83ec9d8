"""Backpropagation agrees with central finite differences of the cost.

For every hidden activation, every output activation and loss that go together,
and every initialisation, on every backend, in float64.
"""

import itertools

import numpy as np
import pytest

import fastnet

from .conftest import to_numpy

HIDDEN = ["sigmoid", "tanh", "relu", "identity"]
OUTPUT_LOSS = [
    ("sigmoid", "mse"),
    ("tanh", "mse"),
    ("relu", "mse"),
    ("identity", "mse"),
    ("softmax", "mse"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "cross_entropy"),
]
INITS = ["uniform", "xavier", "he"]


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def numerical_gradient(net, X, Y, param, eps=1e-6):
    """Central differences of the mean cost with respect to each entry of ``param``."""
    grad = np.zeros(param.shape)
    for index in np.ndindex(*param.shape):
        original = float(param[index])
        param[index] = original + eps
        plus = net.backprop(X, Y)[0]
        param[index] = original - eps
        minus = net.backprop(X, Y)[0]
        param[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def problem(output, loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 4))
    if output == "softmax":
        Y = fastnet.one_hot(rng.integers(0, 3, size=6), 3)
    elif output == "sigmoid":
        Y = (rng.random((6, 3)) > 0.5).astype(float)
    else:
        Y = rng.normal(size=(6, 3))
    return X, Y


CASES = [
    pytest.param(hidden, output, loss, init, id=f"{hidden}-{output}-{loss}-{init}")
    for hidden, (output, loss), init in itertools.product(HIDDEN, OUTPUT_LOSS, INITS)
]


@pytest.mark.parametrize("hidden,output,loss,init", CASES)
def test_gradients_match_finite_differences(backend, hidden, output, loss, init):
    X, Y = problem(output, loss)
    net = fastnet.Network([4, 5, 3], activation=hidden, output_activation=output, loss=loss, init=init, backend=backend, seed=3)
    if init == "uniform":
        # U[0, 1) weights saturate deep sigmoids; keep the check well conditioned.
        for W in net.weights:
            W *= 0.5
    if "relu" in (hidden, output):
        # Zero biases (xavier, he) put a sample whose hidden units are all dead exactly
        # on the ReLU kink, where a finite difference has no meaning. Move off it.
        for b in net.biases:
            b += 0.1
    _, grads = net.backprop(X, Y)
    for l, (dW, db) in enumerate(grads):
        num_dW = numerical_gradient(net, X, Y, net.weights[l])
        num_db = numerical_gradient(net, X, Y, net.biases[l])
        assert relative_error(to_numpy(dW), num_dW) < 1e-6, f"layer {l} weights"
        assert relative_error(to_numpy(db), num_db) < 1e-6, f"layer {l} biases"


def test_deeper_network_gradients_match_finite_differences(backend):
    X, Y = problem("softmax", "cross_entropy", seed=1)
    net = fastnet.Network([4, 6, 5, 3], activation="tanh", output_activation="softmax", loss="cross_entropy",
                          init="xavier", backend=backend, seed=7)
    _, grads = net.backprop(X, Y)
    for l, (dW, db) in enumerate(grads):
        assert relative_error(to_numpy(dW), numerical_gradient(net, X, Y, net.weights[l])) < 1e-6
        assert relative_error(to_numpy(db), numerical_gradient(net, X, Y, net.biases[l])) < 1e-6


def test_gradient_is_that_of_the_mean_cost():
    # Doubling the data (every sample twice) must leave the mean-cost gradient unchanged.
    X, Y = problem("sigmoid", "mse")
    net = fastnet.Network([4, 5, 3], seed=0)
    cost1, grads1 = net.backprop(X, Y)
    cost2, grads2 = net.backprop(np.vstack([X, X]), np.vstack([Y, Y]))
    assert cost2 == pytest.approx(cost1, rel=1e-12)
    for (a, _), (b, _) in zip(grads1, grads2):
        np.testing.assert_allclose(a, b, rtol=1e-12)
