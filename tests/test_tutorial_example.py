"""The tutorial's worked 3-3-1 feed-forward example, on every backend."""

import numpy as np
import pytest

import fastnet

from .conftest import to_numpy


def tutorial_network(backend, dtype="float64"):
    net = fastnet.Network([3, 3, 1], backend=backend, dtype=dtype)
    W1 = np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]])
    net.set_params([W1, np.full((1, 3), 0.5)], [np.full(3, 0.8), np.array([0.2])])
    return net


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_three_three_one_gives_the_tutorial_output(backend, dtype):
    net = tutorial_network(backend, dtype)
    out = net.forward(np.array([1.5, 2.0, 3.0]))
    assert out.shape == (1,)
    tol = 1e-7 if dtype == "float64" else 1e-6
    assert float(out[0]) == pytest.approx(0.8354557, abs=tol)


def test_hidden_layer_matches_the_tutorial_hand_calculation(backend):
    # The tutorial's h^(2) = (0.8909, 0.9677, 0.9909): read them off a network
    # cut after the first layer.
    full = tutorial_network(backend)
    first = fastnet.Network([3, 3], backend=backend)
    first.set_params([to_numpy(full.weights[0])], [to_numpy(full.biases[0])])
    np.testing.assert_allclose(first.forward([1.5, 2.0, 3.0]), [0.8909, 0.9677, 0.9909], atol=1e-4)  # printed to 4 digits, truncated


def test_weights_are_the_live_arrays_on_cpu_backends():
    net = fastnet.Network([3, 3, 1], backend="numpy")
    net.weights[0][:] = 0.0
    net.biases[0][:] = 0.0
    net.weights[1][:] = 1.0
    net.biases[1][:] = 0.0
    # hidden h = sigmoid(0) = 0.5 each, output sigmoid(1.5)
    assert net.forward([1.0, 2.0, 3.0])[0] == pytest.approx(1 / (1 + np.exp(-1.5)))
