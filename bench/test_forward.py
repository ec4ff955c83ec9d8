"""Section 3.3-3.5 of the tutorial: feed-forward of one input vector, looped vs vectorised."""

import numpy as np
import pytest

import fastnet

from .conftest import record
from .peers import numpy_forward
from .workloads import FORWARD_SHAPES, LARGE, TUTORIAL_FORWARD, forward_input, forward_network, reference_ops


@pytest.mark.parametrize("shape", FORWARD_SHAPES)
def test_forward_one_vector(benchmark, backend, shape):
    net = forward_network(shape, backend)
    x = forward_input(shape)
    reference = forward_network(shape, reference_ops()).forward(x)
    np.testing.assert_allclose(np.asarray(net.forward(x)), reference, rtol=1e-10)
    if shape == "3-3-1":
        assert float(net.forward(x)[0]) == pytest.approx(0.8354557, abs=1e-7)
    record(benchmark, f"forward {shape}", backend, tutorial_s=TUTORIAL_FORWARD[shape].get(backend))
    benchmark(net.forward, x)


@pytest.mark.parametrize("shape", FORWARD_SHAPES)
def test_forward_one_vector_plain_numpy(benchmark, shape):
    net = forward_network(shape, reference_ops())
    x = forward_input(shape)
    np.testing.assert_allclose(numpy_forward(x, net.weights, net.biases), net.forward(x), rtol=1e-12)
    record(benchmark, f"forward {shape}", "plain numpy (peer)")
    benchmark(numpy_forward, x, net.weights, net.biases)


def test_forward_a_few_rows_wide(benchmark, backend):
    # A few predictions at once (4 rows) through the same network: too few rows for
    # fused to split into blocks worth their product, so it splits the output neurons
    # (TUNING.min_block_rows), where NumPy's BLAS runs one small matrix product.
    if backend == "python":
        pytest.skip("interpreted loops: 7 million multiply-adds a call take seconds")
    layers = LARGE[1]
    net = fastnet.Network(layers, backend=backend, seed=0)
    X = np.random.default_rng(1).normal(size=(4, layers[0]))
    reference = fastnet.Network(layers, backend=reference_ops(), seed=0).forward(X)
    np.testing.assert_allclose(np.asarray(net.forward(X)), reference, rtol=1e-10)
    record(benchmark, f"forward 4 rows {'-'.join(map(str, layers))}", backend)
    benchmark(net.forward, X)


def test_forward_one_vector_wide(benchmark, backend):
    # One prediction through the large case's network (784-1024-1024-10): its product
    # reads 7 MB of weights, so a backend on one thread is bound by one core's share of
    # the memory bandwidth. Fused splits a one-row layer by its output neurons.
    if backend == "python":
        pytest.skip("interpreted loops: 1.8 million multiply-adds a call take seconds; 100-100-50-10 has their row")
    layers = LARGE[1]
    net = fastnet.Network(layers, backend=backend, seed=0)
    x = np.random.default_rng(1).normal(size=layers[0])
    reference = fastnet.Network(layers, backend=reference_ops(), seed=0).forward(x)
    np.testing.assert_allclose(np.asarray(net.forward(x)), reference, rtol=1e-10)
    record(benchmark, f"forward one vector {'-'.join(map(str, layers))}", backend)
    benchmark(net.forward, x)
