"""A whole batch at once: the forward pass and one training step, on digits and on the large net.

Section 3.5 of the tutorial vectorises over one sample's neurons; these rows
vectorise over the batch too, which is where the fused backend's row-parallel
layers and a GPU come in. The interpreted loops run a slice of the digits batch
and the report scales their time to the whole of it (time is linear in the rows);
on the large net they would take hours and are skipped.
"""

import time

import numpy as np
import pytest

import fastnet

from .conftest import PAIR_PAUSE_S, record
from .test_training import LR, tutorial_net
from .workloads import digits, large_data, reference_ops

DIGITS = "digits 1078x64-30-10"
PYTHON_ROWS = 54  # a twentieth of the digits batch for the interpreted loops
CHECK_ROWS = 256  # rows of the large batch checked against numpy before timing


def _rtol(dtype):
    return 1e-10 if dtype == "float64" else 1e-4


def _digits_batch(backend, dtype):
    data, Y = digits()
    rows = slice(0, PYTHON_ROWS) if backend == "python" else slice(None)
    return data.X_train.astype(dtype)[rows], Y.astype(dtype)[rows], data.X_train.shape[0]


def test_digits_batched_forward(benchmark, backend, dtype):
    X, _, full = _digits_batch(backend, dtype)
    net = tutorial_net(backend, dtype)
    np.testing.assert_allclose(net.forward(X), tutorial_net(reference_ops(), dtype).forward(X), rtol=_rtol(dtype))
    if backend == "python":
        benchmark.pedantic(net.forward, args=(X,), rounds=3)
    else:
        benchmark(net.forward, X)
    record(benchmark, f"forward batch, {DIGITS}", backend, dtype, iterations=X.shape[0], scale_to=full, unit="rows")


def test_digits_batched_forward_tanh(benchmark, backend, dtype):
    # The tutorial's sigmoid goes through the fused exp; a tanh hidden layer is where
    # Numba's scalar libm tanh showed (the fused float32 tanh is built on the exp).
    X, _, full = _digits_batch(backend, dtype)

    def tanh_net(ops):
        return fastnet.Network([64, 30, 10], activation="tanh", backend=ops, dtype=dtype, seed=0)

    net = tanh_net(backend)
    # In float32 a probability of 1e-3 may be off by 1e-3 of itself: the products sum in
    # another order than the reference's BLAS, and tanh's outputs near 0 pass that on.
    np.testing.assert_allclose(net.forward(X), tanh_net(reference_ops()).forward(X), rtol=_rtol(dtype),
                               atol=0 if dtype == "float64" else 1e-5)
    if backend == "python":
        benchmark.pedantic(net.forward, args=(X,), rounds=3)
    else:
        benchmark(net.forward, X)
    record(benchmark, f"forward batch, {DIGITS}, tanh hidden layer", backend, dtype, iterations=X.shape[0],
           scale_to=full, unit="rows")


def test_digits_training_step(benchmark, backend, dtype):
    X, Y, full = _digits_batch(backend, dtype)
    net, reference = tutorial_net(backend, dtype), tutorial_net(reference_ops(), dtype)
    np.testing.assert_allclose(net.fit(X, Y, epochs=2, lr=LR), reference.fit(X, Y, epochs=2, lr=LR), rtol=_rtol(dtype))
    if backend == "python":
        benchmark.pedantic(net.fit, args=(X, Y), kwargs=dict(epochs=1, lr=LR), rounds=3)
    else:
        benchmark(net.fit, X, Y, epochs=1, lr=LR)
    record(benchmark, f"train step, {DIGITS}", backend, dtype, iterations=X.shape[0], scale_to=full, unit="rows")


def test_large_batched_forward(benchmark, backend, dtype):
    if backend == "python":
        pytest.skip("interpreted loops would take hours per pass on the large case")
    layers, X, _ = large_data(dtype)
    net = tutorial_net(backend, dtype, layers)
    rows = slice(0, CHECK_ROWS)
    reference = tutorial_net(reference_ops(), dtype, layers).forward(X[rows])
    np.testing.assert_allclose(net.forward(X[rows]), reference, rtol=_rtol(dtype), atol=_rtol(dtype))

    def pause():
        # The previous variant's BLAS or OpenMP threads may still be spinning, and a
        # pass of a few milliseconds would share the cores with them.
        time.sleep(PAIR_PAUSE_S)
        return (X,), {}

    benchmark.pedantic(net.forward, setup=pause, rounds=1 if backend == "numba" else 3)
    record(benchmark, f"forward batch {X.shape[0]}x{'-'.join(map(str, layers))}", backend, dtype)
