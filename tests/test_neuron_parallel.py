"""The ``fused`` backend's neuron-parallel layers (kernels/fused_neurons.py) against the reference Ops.

Each kernel runs directly with 2 and 3 blocks of output neurons, on neuron and row
counts that do not divide evenly, for every activation and both dtypes, and every
entry of its outputs must be written; then the rule that picks it
(:func:`~fastnet.backends.fused.row_rule.splits_neurons`) is checked through the
layer functions and a whole training run.
"""

import numpy as np
import pytest

from fastnet.backends.fused.row_rule import forward_splits_neurons, splits_neurons
from fastnet.kernel_modules import kernel_module
from fastnet.tuning import TUNING

from .conftest import reference_ops
from .test_row_parallel import KINDS, _close, _data, all_cores_free, fused  # noqa: F401 (fixtures)

neurons = kernel_module("fused_neurons")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_dense_neurons_matches_the_reference(fused, kind, parts, dtype):
    X, W, b, _, _ = _data(37, 64, 101, dtype)
    got, ref = np.full((37, 101), np.nan, dtype), np.empty((37, 101), dtype)
    fused.kernel(neurons.make_dense_neurons, dtype, kind)(X, W, b, got, parts)
    reference_ops().dense(X, W, b, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("m", [2, 37])  # 2: fewer rows than blocks when the shares are added
def test_backward_step_neurons_matches_the_reference(fused, kind, parts, dtype, m):
    _, W, _, H, delta = _data(m, 45, 101, dtype, seed=1)
    got = [np.full((m, 45), np.nan, dtype), np.full((101, 45), np.nan, dtype), np.full(101, np.nan, dtype)]
    fused.kernel(neurons.make_backward_step_neurons, dtype, kind)(delta, W, H, got[1], got[2], got[0], parts)
    ref = [np.empty((m, 45), dtype), np.empty((101, 45), dtype), np.empty(101, dtype)]
    reference_ops().backward_step(delta, W, H, kind, ref[1], ref[2], ref[0])
    for g, r in zip(got, ref):
        _close(g, r, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
def test_weight_grads_neurons_matches_the_reference(fused, parts, dtype):
    _, _, _, H, delta = _data(37, 64, 101, dtype)
    dW, db = np.full((101, 64), np.nan, dtype), np.full(101, np.nan, dtype)
    fused.kernel(neurons.make_weight_grads_neurons, dtype)(delta, H, dW, db, parts)
    ref_dW, ref_db = np.empty_like(dW), np.empty_like(db)
    reference_ops().weight_grads(delta, H, ref_dW, ref_db)
    _close(dW, ref_dW, dtype)
    _close(db, ref_db, dtype)


def test_the_split_copies_the_smaller_operand():
    # A row block's products pack all of W, a neuron block's all of the batch.
    assert splits_neurons(32, 1024) and splits_neurons(1023, 1024)
    assert not splits_neurons(1024, 1024) and not splits_neurons(1078, 30)


def test_a_forward_pass_splits_neurons_only_for_a_batch_short_beside_both_sides_of_w():
    share = TUNING.forward_neuron_share
    assert forward_splits_neurons(32, 784, 1024) and forward_splits_neurons(784 // share, 784, 1024)
    assert not forward_splits_neurons(784 // share + 1, 784, 1024)
    assert not forward_splits_neurons(512, 784, 1024)  # a prediction's block of a wide net
    assert not forward_splits_neurons(32, 64, 4096)  # a narrow input: W is cheap to pack again


def _asked_counts(fused, monkeypatch):
    """Record the count (rows or neurons) each layer asks the split for."""
    asked = []
    parts = fused.split.parts
    monkeypatch.setattr(fused.split, "parts", lambda count, work, *arrays: asked.append(count) or parts(count, work, *arrays))
    return asked


@pytest.mark.parametrize("m", [2 * 8, 100])
def test_a_batch_shorter_than_the_layer_is_wide_splits_its_neurons(fused, all_cores_free, monkeypatch, m):
    # 16 rows: every step splits the neurons; 100: the forward pass splits the rows
    # (100 is over a quarter of 256), the gradients the neurons.
    asked = _asked_counts(fused, monkeypatch)
    X, W, b, H, delta = _data(m, 300, 256, "float64")
    got, ref = np.full((m, 256), np.nan), np.empty((m, 256))
    fused.dense_function(m, 300, 256, "tanh")(X, W, b, got)
    reference_ops().dense(X, W, b, "tanh", ref)
    _close(got, ref, "float64")
    dW, db = np.full((256, 300), np.nan), np.full(256, np.nan)
    fused.weight_grads_function(m, 300, 256)(delta, X, dW, db)
    _close(dW, delta.T @ X, "float64")
    _close(db, delta.sum(axis=0), "float64")
    # The layer above a 256-neuron one: its delta comes back through 256 neurons.
    _, W2, _, _, delta2 = _data(m, 256, 300, "float64", seed=3)
    H2 = np.random.default_rng(4).random((m, 256))
    out, dW2, db2 = np.full((m, 256), np.nan), np.full((300, 256), np.nan), np.full(300, np.nan)
    fused.backward_function(m, 256, 300, "tanh")(delta2, W2, H2, dW2, db2, out)
    ref_out, ref_dW2, ref_db2 = np.empty_like(out), np.empty_like(dW2), np.empty_like(db2)
    reference_ops().backward_step(delta2, W2, H2, "tanh", ref_dW2, ref_db2, ref_out)
    for g, r in ((out, ref_out), (dW2, ref_dW2), (db2, ref_db2)):
        _close(g, r, "float64")
    forward = 256 if forward_splits_neurons(m, 300, 256) else m
    assert asked == [forward, 256, 300] and fused.split.parts(256, m * 300 * 256) >= 2
    assert forward == (256 if m == 16 else 100)


def test_a_batch_as_long_as_the_layer_is_wide_splits_its_rows(fused, all_cores_free, monkeypatch):
    asked = _asked_counts(fused, monkeypatch)
    m = 256
    X, W, b, _, delta = _data(m, 300, 256, "float64")
    got, ref = np.full((m, 256), np.nan), np.empty((m, 256))
    fused.dense_function(m, 300, 256, "relu")(X, W, b, got)
    fused.weight_grads_function(m, 300, 256)(delta, X, np.empty((256, 300)), np.empty(256))
    reference_ops().dense(X, W, b, "relu", ref)
    _close(got, ref, "float64")
    assert asked == [m, m]


def _training(fused, layers, batch):
    """Costs of a few mini-batch epochs on the reference and on fused, and fused's whole-backprop call on one batch."""
    import fastnet

    rng = np.random.default_rng(5)
    X = rng.random((96, layers[0]))
    Y = np.eye(layers[-1])[rng.integers(0, layers[-1], 96)]
    costs, nets = {}, {}
    for name, backend in (("reference", reference_ops()), ("fused", "fused")):
        nets[name] = fastnet.Network(layers, backend=backend, activation="tanh", output_activation="sigmoid",
                                     init="xavier", seed=0)
        costs[name] = nets[name].fit(X, Y, epochs=4, lr=0.1, batch_size=batch, optimizer="momentum")
    net = nets["fused"]
    ws = net._workspace(batch)
    whole = ws.backprop(X[:batch], Y[:batch], *net._layer_arrays, *ws.buffers)
    return costs, nets, whole


def test_training_through_a_wide_layer_runs_the_layers_split_by_neurons(fused, all_cores_free):
    costs, nets, whole = _training(fused, [200, 300, 300, 10], 32)
    assert whole is None  # handed to the layers: the 300-neuron ones split their neurons
    np.testing.assert_allclose(costs["fused"], costs["reference"], rtol=1e-10)
    assert costs["fused"][-1] < 0.9 * costs["fused"][0]  # it learns: the gradients are not vanishing
    for got, ref in zip(nets["fused"].weights, nets["reference"].weights):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_training_whose_wide_layers_are_too_small_to_split_keeps_the_whole_backprop(fused, all_cores_free):
    # 4 rows through 100 neurons: each layer's work is under two launches' worth, so no
    # layer would split, and the one-kernel backprop keeps the batch.
    costs, _, whole = _training(fused, [100, 100, 50, 10], 4)
    assert whole is not None
    np.testing.assert_allclose(costs["fused"], costs["reference"], rtol=1e-10)


def test_training_whose_batch_is_not_short_enough_for_a_forward_neuron_split_keeps_the_whole_backprop(
        fused, all_cores_free):
    # 64 rows through 784 -> 100: the layer's gradients alone would split its neurons
    # (64 < 100), not its forward pass (64 is over a quarter of 100), and for that the
    # one-kernel backprop keeps the batch (see FusedOps.backprop_function).
    assert splits_neurons(64, 100) and not forward_splits_neurons(64, 784, 100)
    costs, _, whole = _training(fused, [784, 100, 10], 64)
    assert whole is not None
    np.testing.assert_allclose(costs["fused"], costs["reference"], rtol=1e-10)
