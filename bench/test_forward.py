"""Section 3.3-3.5 of the tutorial: feed-forward of one input vector, looped vs vectorised."""

import numpy as np
import pytest

from .conftest import record
from .peers import numpy_forward
from .workloads import FORWARD_SHAPES, TUTORIAL_FORWARD, forward_input, forward_network, reference_ops


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
