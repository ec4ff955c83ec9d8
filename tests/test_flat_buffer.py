"""FlatBuffer: per-parameter views that share one flat array."""

import numpy as np

import fastnet
from fastnet.backends import get_backend
from fastnet.flat_buffer import FlatBuffer


def test_views_have_the_shapes_and_share_the_flat_storage():
    buffer = FlatBuffer(get_backend("numpy"), [(3, 2), (3,), (1, 3)], np.float32)
    assert [v.shape for v in buffer.views] == [(3, 2), (3,), (1, 3)]
    assert buffer.flat.shape == (12,) and buffer.flat.dtype == np.float32
    assert all(v.flags.c_contiguous for v in buffer.views)
    buffer.flat[:] = np.arange(12)
    np.testing.assert_array_equal(buffer.views[1], [6, 7, 8])
    buffer.views[2][0, 1] = -1.0
    assert buffer.flat[10] == -1.0


def test_like_gives_zeros_of_the_same_layout():
    buffer = FlatBuffer(get_backend("numpy"), [(2, 2), (2,)], np.float64)
    buffer.flat[:] = 5.0
    other = buffer.like(get_backend("numpy"))
    assert other.shapes == buffer.shapes and other.flat.dtype == np.float64
    assert not other.flat.any() and not np.shares_memory(other.flat, buffer.flat)


def test_network_parameters_and_gradients_live_in_one_buffer_each():
    net = fastnet.Network([4, 5, 3], seed=0)
    flat = net._param_buffer.flat
    expected = np.concatenate([p.reshape(-1) for pair in zip(net.weights, net.biases) for p in pair])
    np.testing.assert_array_equal(flat, expected)
    net.weights[1][2, 3] = 42.0  # an in-place edit through the public attribute...
    assert 42.0 in flat  # ...is an edit of the buffer the optimiser updates
    X = np.random.default_rng(0).random((6, 4))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    _, grads = net.backprop(X, Y)
    expected = np.concatenate([g.reshape(-1) for pair in grads for g in pair])
    np.testing.assert_array_equal(net._grad_buffer.flat, expected)
