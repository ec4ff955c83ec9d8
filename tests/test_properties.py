"""Property-based tests (hypothesis): random shapes, batches, activations and losses.

For any network the strategies draw, the loop backends compute numpy's numbers
(forward, cost, gradients, one update), and numpy's gradients match central
finite differences.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastnet

from .conftest import reference_ops, require_backend
from .test_cross_backend import RTOL, assert_close
from .test_gradcheck import numerical_gradient

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


def gradient_rtol(net, X):
    """1e-10, widened by how much a saturated tanh or sigmoid amplifies a 1-ulp difference.

    The backends' exp/tanh may differ in the last bit of h. Near saturation the
    derivative is a difference of nearly equal numbers (tanh: 1 - h**2), so that last
    bit becomes a relative error of about eps / (1 - |h|) in every gradient behind
    the unit. Hypothesis finds such units (one CI run drew a tanh output at
    1 - 1.1e-7, where numba and numpy then agree to 8.5e-10). Capped at 1e-6, far
    below the O(1) error a wrong formula gives.
    """
    net.forward(X)
    amplification = 0.0
    for act, h in zip(net._activations, net._workspace(X.shape[0]).h):
        if act == "tanh":
            margin = 1.0 - np.abs(h)
        elif act == "sigmoid":
            margin = np.minimum(h, 1.0 - h)
        else:
            continue
        with np.errstate(divide="ignore"):
            amplification += float(np.max(1.0 / margin))
    return min(RTOL + 8 * np.finfo(float).eps * amplification, 1e-6)


@pytest.mark.parametrize("name", ["python", "numba", "numpy", "fused"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=networks())
def test_every_cpu_backend_agrees_with_the_reference_on_any_network(name, case):
    require_backend(name)
    kwargs, X, Y = case
    ref, other = fastnet.Network(backend=reference_ops(), **kwargs), fastnet.Network(backend=name, **kwargs)
    assert_close(other.forward(X), ref.forward(X))
    (c_ref, g_ref), (c_other, g_other) = ref.backprop(X, Y), other.backprop(X, Y)
    assert c_other == pytest.approx(c_ref, rel=1e-10, abs=1e-12)
    rtol = gradient_rtol(ref, X)
    for (dW_a, db_a), (dW_b, db_b) in zip(g_other, g_ref):
        assert_close(dW_a, dW_b, rtol)
        assert_close(db_a, db_b, rtol)
    ref.fit(X, Y, epochs=1, lr=0.1)
    other.fit(X, Y, epochs=1, lr=0.1)
    for a, b in zip(other.get_params()[0], ref.get_params()[0]):
        assert_close(a, b)


def finite_difference_noise(net, X, Y, cost, step=1e-6):
    """How far rounding alone can move a central difference of the cost (absolute).

    The cost is known to about eps * |cost|, and binary cross-entropy's log(1 - h)
    loses more: h carries a relative eps, so 1 - h carries eps * h / (1 - h).
    Divided by the step, that noise is the same for every gradient entry however
    small the entry, so small gradients under a large or saturated cost can only be
    checked to this floor (hypothesis found both: a tanh-sigmoid-MSE net with cost
    6 and gradient 1.5e-5, and a sigmoid output at 1 - 1e-9 under cross-entropy).
    """
    amplification = max(1.0, abs(cost))
    if net.loss == "cross_entropy" and net.output_activation == "sigmoid":
        H = net.forward(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_entry = Y * (1.0 - H) / H + (1.0 - Y) * H / (1.0 - H)
        amplification += float(np.nan_to_num(per_entry, nan=np.inf).sum()) / len(X)
    return 32 * np.finfo(float).eps * amplification / step


@settings(max_examples=60, deadline=None)
@given(case=networks(hidden=("sigmoid", "tanh", "identity")))  # relu's kink breaks finite differences
def test_gradients_match_finite_differences_on_any_network(case):
    kwargs, X, Y = case
    net = fastnet.Network(backend=reference_ops(), **kwargs)  # the oracle itself, checked by differences
    if kwargs["output_activation"] == "relu":
        for b in net.biases:
            b += 1.0  # keep pre-activations away from relu's kink
    cost, grads = net.backprop(X, Y)
    floor = finite_difference_noise(net, X, Y, cost)
    assume(floor < 1e-4)  # the cost is too noisy here for differences to see the gradient
    for (dW, db), W, b in zip(grads, net.weights, net.biases):
        for analytic, param in ((dW, W), (db, b)):
            numeric = numerical_gradient(net, X, Y, param)
            error = np.linalg.norm(analytic - numeric)
            assert error <= 1e-5 * (np.linalg.norm(analytic) + np.linalg.norm(numeric)) + floor * np.sqrt(param.size)
