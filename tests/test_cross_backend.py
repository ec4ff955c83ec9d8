"""Every backend computes the reference Ops' numbers, to 1e-10 relative in float64.

The python backend interprets its loops, so it sees a small slice of the data;
the others see all of it.
"""

import numpy as np
import pytest

import fastnet

from .conftest import reference_ops, to_numpy

RTOL = 1e-10


def assert_close(actual, reference, rtol=RTOL):
    """Relative agreement, with an absolute floor scaled to the array's magnitude."""
    actual, reference = to_numpy(actual), to_numpy(reference)
    scale = float(np.abs(reference).max()) or 1.0
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * scale)


def samples_for(backend, digits):
    n = 16 if backend == "python" else len(digits.y_train)
    return digits.X_train[:n], fastnet.one_hot(digits.y_train[:n], 10)


def pair(backend, **kwargs):
    """The same network (same seed, so the same weights) on the reference Ops and on ``backend``."""
    return fastnet.Network(backend=reference_ops(), **kwargs), fastnet.Network(backend=backend, **kwargs)


RECIPES = {
    "tutorial": dict(layers=[64, 30, 10], seed=0),
    "softmax-ce": dict(layers=[64, 30, 10], output_activation="softmax", loss="cross_entropy", init="xavier", seed=1),
    "tanh-relu-deep": dict(layers=[64, 20, 15, 10], activation="tanh", output_activation="relu", init="he", seed=2),
}


@pytest.mark.parametrize("recipe", RECIPES)
def test_forward_agrees_with_the_reference(backend, digits, recipe):
    ref, net = pair(backend, **RECIPES[recipe])
    X, _ = samples_for(backend, digits)
    assert_close(net.forward(X), ref.forward(X))


@pytest.mark.parametrize("recipe", RECIPES)
def test_backprop_agrees_with_the_reference(backend, digits, recipe):
    ref, net = pair(backend, **RECIPES[recipe])
    X, Y = samples_for(backend, digits)
    cost_ref, grads_ref = ref.backprop(X, Y)
    cost, grads = net.backprop(X, Y)
    assert cost == pytest.approx(cost_ref, rel=RTOL)
    for (dW, db), (dW_ref, db_ref) in zip(grads, grads_ref):
        assert_close(dW, dW_ref)
        assert_close(db, db_ref)


def test_fifty_training_iterations_agree_with_the_reference(backend, digits):
    ref, net = pair(backend, **RECIPES["tutorial"])
    X, Y = samples_for(backend, digits)
    history_ref = ref.fit(X, Y, epochs=50, lr=0.25)
    history = net.fit(X, Y, epochs=50, lr=0.25)
    np.testing.assert_allclose(history, history_ref, rtol=RTOL)
    for W, W_ref in zip(net.weights, ref.weights):
        assert_close(W, W_ref)
    for b, b_ref in zip(net.biases, ref.biases):
        assert_close(b, b_ref)
    # training moved the weights, so this is not a comparison of two starting points
    start = fastnet.Network(backend=reference_ops(), **RECIPES["tutorial"])
    assert np.abs(to_numpy(net.weights[1]) - start.weights[1]).max() > 1e-2
    assert history[-1] < history[0]


def test_minibatch_training_agrees_with_the_reference(backend, digits):
    kwargs = dict(RECIPES["softmax-ce"])
    ref, net = pair(backend, **kwargs)
    X, Y = samples_for(backend, digits)
    batch = 4 if backend == "python" else 100
    history_ref = ref.fit(X, Y, epochs=3, lr=0.1, batch_size=batch)
    history = net.fit(X, Y, epochs=3, lr=0.1, batch_size=batch)
    np.testing.assert_allclose(history, history_ref, rtol=RTOL)
    for W, W_ref in zip(net.weights, ref.weights):
        assert_close(W, W_ref)


def test_float32_agrees_with_float64_reference_to_float32_precision(backend, digits):
    X, Y = samples_for(backend, digits)
    ref = fastnet.Network(backend=reference_ops(), **RECIPES["tutorial"])
    net = fastnet.Network(backend=backend, dtype="float32", **RECIPES["tutorial"])
    ref.fit(X, Y, epochs=10, lr=0.25)
    net.fit(X, Y, epochs=10, lr=0.25)
    assert net.forward(X).dtype == np.float32
    np.testing.assert_allclose(net.forward(X), ref.forward(X), rtol=1e-4, atol=1e-5)
