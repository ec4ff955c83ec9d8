"""Property-based tests (hypothesis): random shapes, batches, activations and losses.

For any network the strategies draw, the loop backends compute numpy's numbers
(forward, cost, gradients, one update), and numpy's gradients match central
finite differences.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnet

from .conftest import require_backend
from .test_cross_backend import assert_close
from .test_gradcheck import numerical_gradient, relative_error

OUTPUT_LOSS = [("sigmoid", "mse"), ("tanh", "mse"), ("identity", "mse"), ("relu", "mse"), ("softmax", "mse"),
               ("softmax", "cross_entropy"), ("sigmoid", "cross_entropy")]


@st.composite
def networks(draw, hidden=("sigmoid", "tanh", "relu", "identity")):
    layers = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    output, loss = draw(st.sampled_from(OUTPUT_LOSS))
    if output == "softmax" and layers[-1] == 1:
        layers[-1] = 2  # a one-way softmax is constant: its gradient is zero, nothing to check
    m = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**16))
    settings_ = dict(layers=layers, activation=draw(st.sampled_from(hidden)), output_activation=output, loss=loss,
                     init=draw(st.sampled_from(["uniform", "xavier", "he"])), seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, layers[0]))
    if output == "softmax":
        Y = fastnet.one_hot(rng.integers(0, layers[-1], size=m), layers[-1])
    elif loss == "cross_entropy":
        Y = (rng.random((m, layers[-1])) > 0.5).astype(float)
    else:
        Y = rng.normal(size=(m, layers[-1]))
    return settings_, X, Y


@pytest.mark.parametrize("name", ["python", "numba"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=networks())
def test_loop_backends_agree_with_numpy_on_any_network(name, case):
    require_backend(name)
    kwargs, X, Y = case
    ref, other = fastnet.Network(backend="numpy", **kwargs), fastnet.Network(backend=name, **kwargs)
    assert_close(other.forward(X), ref.forward(X))
    (c_ref, g_ref), (c_other, g_other) = ref.backprop(X, Y), other.backprop(X, Y)
    assert c_other == pytest.approx(c_ref, rel=1e-10, abs=1e-12)
    for (dW_a, db_a), (dW_b, db_b) in zip(g_other, g_ref):
        assert_close(dW_a, dW_b)
        assert_close(db_a, db_b)
    ref.fit(X, Y, epochs=1, lr=0.1)
    other.fit(X, Y, epochs=1, lr=0.1)
    for a, b in zip(other.get_params()[0], ref.get_params()[0]):
        assert_close(a, b)


@settings(max_examples=60, deadline=None)
@given(case=networks(hidden=("sigmoid", "tanh", "identity")))  # relu's kink breaks finite differences
def test_gradients_match_finite_differences_on_any_network(case):
    kwargs, X, Y = case
    net = fastnet.Network(backend="numpy", **kwargs)
    if kwargs["output_activation"] == "relu":
        for b in net.biases:
            b += 1.0  # keep pre-activations away from relu's kink
    _, grads = net.backprop(X, Y)
    for (dW, db), W, b in zip(grads, net.weights, net.biases):
        for analytic, param in ((dW, W), (db, b)):
            numeric = numerical_gradient(net, X, Y, param)
            scale = max(np.abs(numeric).max(), np.abs(analytic).max())
            if scale < 1e-7:  # a vanishing gradient (saturated unit): compare absolutely
                assert np.abs(analytic - numeric).max() < 1e-8
            else:
                assert relative_error(analytic, numeric) < 1e-5
