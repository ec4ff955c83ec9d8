"""The GPU backend's kernels and training step on Numba's CUDA simulator, against the reference Ops.

Collected only with NUMBA_ENABLE_CUDASIM=1 (tests/test_gpu_simulator.py runs this folder
that way, in a process of its own). The simulator runs a Python thread per CUDA thread,
so the shapes are small; none is a multiple of the block, so every grid has a partial
last block.
"""

import numpy as np
import pytest

import fastnet
from fastnet.backends import get_backend, resolve_name
from fastnet.backends.reference import Ops

RTOL = {"float64": 1e-12, "float32": 2e-5}
KINDS = ["sigmoid", "tanh", "relu", "identity", "softmax"]
M, N_IN, N_OUT = 37, 11, 13  # 37 rows: one block of 32 and a partial one


@pytest.fixture(scope="module")
def gpu():
    ops = get_backend("cupy")
    assert ops.simulated and ops.xp is np
    return ops


def close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * (np.abs(want).max() or 1))


def data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, N_IN)).astype(dtype)
    W = rng.normal(size=(N_OUT, N_IN)).astype(dtype)
    b = rng.normal(size=N_OUT).astype(dtype)
    H = rng.random((M, N_OUT)).astype(dtype)
    Y = rng.random((M, N_OUT)).astype(dtype)
    return X, W, b, H, Y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", KINDS)
def test_dense_is_the_reference_layer(gpu, kind, dtype):
    X, W, b, _, _ = data(dtype)
    got = gpu.dense(X, W, b, kind, np.full((M, N_OUT), np.nan, dtype))
    close(got, Ops().dense(X, W, b, kind, np.empty((M, N_OUT), dtype)), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "relu", "identity"])
def test_hidden_delta_is_the_reference_derivative(gpu, kind, dtype):
    X, W, _, _, _ = data(dtype)
    H = np.random.default_rng(1).random((M, N_IN)).astype(dtype)
    delta = np.random.default_rng(2).normal(size=(M, N_OUT)).astype(dtype)
    got = gpu.hidden_delta(delta, W, H, kind, np.full((M, N_IN), np.nan, dtype))
    close(got, Ops().hidden_delta(delta, W, H, kind, np.empty((M, N_IN), dtype)), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_weight_grads_sum_every_row_into_the_bias_gradient(gpu, dtype):
    X, _, _, H, _ = data(dtype)
    rows = 75  # more rows than one block: each thread adds a strided share
    delta = np.random.default_rng(3).normal(size=(rows, N_OUT)).astype(dtype)
    H = np.random.default_rng(4).random((rows, N_IN)).astype(dtype)
    dW, db = np.full((N_OUT, N_IN), np.nan, dtype), np.full(N_OUT, np.nan, dtype)
    gpu.weight_grads(delta, H, dW, db)
    want_dW, want_db = np.empty_like(dW), np.empty_like(db)
    Ops().weight_grads(delta, H, want_dW, want_db)
    close(dW, want_dW, dtype)
    close(db, want_db, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss,kind", [("mse", "sigmoid"), ("mse", "identity"), ("mse", "tanh"),
                                       ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")])
def test_cost_and_delta_are_the_reference_loss(gpu, loss, kind, dtype):
    _, _, _, H, Y = data(dtype)
    got, want = np.full_like(H, np.nan), np.empty_like(H)
    if loss == "mse":
        cost, want_cost = gpu.mse_cost_and_delta(kind, H, Y, 1 / M, got), Ops().mse_cost_and_delta(kind, H, Y, 1 / M, want)
    else:
        binary = loss == "binary_cross_entropy"
        Hs = H if binary else H / H.sum(axis=1, keepdims=True)
        Ys = (Y > 0.5).astype(dtype)
        cost = gpu.cross_entropy_cost_and_delta(Hs, Ys, binary, 1 / M, got)
        want_cost = Ops().cross_entropy_cost_and_delta(Hs, Ys, binary, 1 / M, want)
    close(got, want, dtype)
    np.testing.assert_allclose(float(cost), float(want_cost), rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_layered_training_steps_on_the_simulated_gpu_match_the_reference(dtype, optimizer):
    """The layered GPU step (cuBLAS-style products, kernels between them), as large networks train."""
    from fastnet.backends.cupy_ops import CupyOps

    rng = np.random.default_rng(5)
    X = rng.normal(size=(M, N_IN))
    Y = np.eye(3)[rng.integers(0, 3, M)]
    kwargs = dict(layers=[N_IN, 5, 3], output_activation="softmax", loss="cross_entropy", init="xavier",
                  dtype=dtype, seed=0)
    layered = CupyOps(simulate=True, fuse_steps=False)
    gpu_net, ref_net = fastnet.Network(backend=layered, **kwargs), fastnet.Network(backend=Ops(), **kwargs)
    assert layered.fused_step(gpu_net, None, X.astype(dtype), Y, 0.1, 0.0, M) is None
    fit = dict(epochs=3 if optimizer == "gd" else 2, lr=0.1, optimizer=optimizer, batch_size=None if optimizer == "gd" else 16)
    close(gpu_net.fit(X, Y, **fit), ref_net.fit(X, Y, **fit), dtype)
    for got, want in zip(gpu_net.weights + gpu_net.biases, ref_net.weights + ref_net.biases):
        close(got, want, dtype)


def test_auto_never_picks_the_simulator_and_info_says_it_is_simulated(capsys):
    from fastnet.cli import main

    assert resolve_name("auto") != "cupy"
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cupy    usable (simulated on the CPU" in out
