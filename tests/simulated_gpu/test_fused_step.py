"""The GPU's fused training step (kernels/gpu_step.py, fastnet/training/fused_gpu_step.py) on the CUDA simulator.

Every case trains the same network on the simulated GPU and on the reference Ops and
compares costs and weights: the fused step must be the reference's algorithm, with fit's
promises (divergence found at its exact update with the weights from before it, callbacks,
checkpoints, Ctrl-C) kept although the host looks only once per chunk. 37 rows in tiles
of 8: four full tiles and a partial one; mini-batches of 16 leave a partial last batch.
"""

import numpy as np
import pytest

import fastnet
from fastnet.backends import get_backend
from fastnet.backends.cupy_ops import CupyOps
from fastnet.backends.reference import Ops
from fastnet.kernel_modules import kernel_module

RTOL = {"float64": 1e-12, "float32": 5e-5}
M, N_IN = 37, 11


def close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * (np.abs(want).max() or 1))


def problem(seed=5, n_out=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(M, N_IN)), np.eye(n_out)[rng.integers(0, n_out, M)]


def pair(dtype="float64", backend="cupy", **kwargs):
    """The same network on the simulated GPU (``backend``) and on the reference Ops."""
    kwargs = dict(dict(layers=[N_IN, 5, 3], output_activation="softmax", loss="cross_entropy", init="xavier", seed=0),
                  dtype=dtype, **kwargs)
    return fastnet.Network(backend=backend, **kwargs), fastnet.Network(backend=Ops(), **kwargs)


def two_lanes():
    """Each parameter summed by 2 threads: 37 rows make 5 tiles of 8, 3 and 2 a lane."""
    return CupyOps(simulate=True, tile_rows=8, reduce_lanes=2)


def same_weights(gpu, ref, dtype):
    for got, want in zip(gpu.weights + gpu.biases, ref.weights + ref.biases):
        close(got, want, dtype)


def test_small_networks_take_the_fused_step_and_others_the_layered_one():
    X, Y = problem()
    gpu, _ = pair()
    ops = gpu.ops
    from fastnet.optimizers import make_optimizer

    opt = make_optimizer("gd", ops, gpu._param_buffer)
    assert ops.fused_step(gpu, opt, X, Y, 0.1, 0.0, M) is not None
    mse_softmax = fastnet.Network([N_IN, 5, 3], output_activation="softmax", loss="mse", backend="cupy")
    assert ops.fused_step(mse_softmax, make_optimizer("gd", ops, mse_softmax._param_buffer), X, Y, 0.1, 0.0, M) is None
    big = fastnet.Network([N_IN, 70000, 3], output_activation="softmax", loss="cross_entropy", backend="cupy")
    assert ops.fused_step(big, make_optimizer("gd", ops, big._param_buffer), X, Y, 0.1, 0.0, M) is None  # > MAX_PARAMS
    step = kernel_module("gpu_step")
    MAX_PARTIALS = step.MAX_PARTIALS

    eights = CupyOps(simulate=True, tile_rows=8)
    columns = step.partials_columns(gpu._param_buffer.flat.size)  # a tile's partials: gradient and cost, padded
    assert columns % 32 == 0 and gpu._param_buffer.flat.size + 1 <= columns < gpu._param_buffer.flat.size + 33
    many_rows = 8 * (MAX_PARTIALS // columns + 1)  # tiles of 8 rows: one tile too many
    assert eights.fused_step(gpu, opt, X, Y, 0.1, 0.0, many_rows) is None
    assert eights.fused_step(gpu, opt, X, Y, 0.1, 0.0, many_rows - 8) is not None


@pytest.mark.parametrize("batch,multiprocessors,rows,lanes", [
    (M, 4, 8, 1),  # the simulator's stand-in: five tiles of 8, one thread a parameter
    (1078, 4, 32, 4),  # 34 tiles are enough for 4 SMs; each of 4 lanes sums 8 or 9 of them
    (1078, 132, 8, 4),  # digits on an H100: 135 tiles of 8 rows, 34 a lane
    (64, 132, 8, 1),  # a mini-batch of 64: no fewer than 8 rows a tile, and 8 tiles sum on one thread
])
def test_the_rows_per_tile_fill_the_sms_and_the_lanes_follow_the_tiles(monkeypatch, batch, multiprocessors, rows, lanes):
    X, Y = problem()
    gpu, _ = pair()
    from fastnet.optimizers import make_optimizer

    monkeypatch.setattr(gpu.ops, "multiprocessors", lambda: multiprocessors)
    step = gpu.ops.fused_step(gpu, make_optimizer("gd", gpu.ops, gpu._param_buffer), X, Y, 0.1, 0.0, batch)
    assert (step.rows, step.lanes) == (rows, lanes)
    assert step.reduce_blocks * step.threads >= (gpu._param_buffer.flat.size + 1) * lanes  # every column has its lanes
    assert step.partials.shape[1] % 32 == 0 and step.partials.shape[1] > gpu._param_buffer.flat.size  # whole warps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", [
    dict(optimizer="gd", epochs=4),
    dict(optimizer="momentum", epochs=2, batch_size=16),
    dict(optimizer="adam", epochs=2, batch_size=16, alpha=0.3),
    dict(optimizer="sgd", epochs=1, batch_size=10, shuffle=False),
], ids=["gd", "momentum-minibatch", "adam-minibatch-l2", "sgd-in-order"])
def test_fused_step_trains_as_the_reference(dtype, case):
    X, Y = problem()
    gpu, ref = pair(dtype)
    close(gpu.fit(X, Y, lr=0.2, **case), ref.fit(X, Y, lr=0.2, **case), dtype)
    same_weights(gpu, ref, dtype)
    assert gpu._optimizer.t == ref._optimizer.t


@pytest.mark.parametrize("net", [
    dict(layers=[N_IN, 6, 4, 2], activation="relu", output_activation="sigmoid", loss="cross_entropy"),
    dict(layers=[N_IN, 7, 2], activation="tanh", output_activation="identity", loss="mse"),
    dict(layers=[N_IN, 2], output_activation="sigmoid", loss="mse"),
], ids=["relu-two-hidden-binary-ce", "tanh-identity-mse", "no-hidden-layer"])
def test_fused_step_handles_every_depth_activation_and_loss(net):
    X, _ = problem()
    Y = (np.random.default_rng(1).random((M, 2)) > 0.5).astype(float)
    gpu, ref = pair(**net)
    fit = dict(epochs=3, lr=0.5, optimizer="adam", alpha=0.01)
    close(gpu.fit(X, Y, **fit), ref.fit(X, Y, **fit), "float64")
    same_weights(gpu, ref, "float64")


@pytest.mark.parametrize("backend", ["cupy", two_lanes], ids=["one-lane", "two-lanes"])
@pytest.mark.parametrize("lr,scale,update", [(40.0, 30, 5), (3.0, 3, 6)], ids=["even-index", "odd-index"])
def test_divergence_is_found_at_its_exact_update_with_the_weights_from_before_it(lr, scale, update, backend):
    """Inside one chunk of full-batch updates, the first NaN is found and nothing after it sticks.

    The chunk's updates 5 and 6 (0-based 4 and 5) start from the two different halves of
    the double buffer; both must give back the state from before the failing update.
    """
    X, Y = problem()
    X = X * scale
    gpu, ref = pair(layers=[N_IN, 5, 3], activation="relu", output_activation="identity", loss="mse", init="he",
                    backend=backend if isinstance(backend, str) else backend())
    errors = []
    for net in (gpu, ref):
        with pytest.raises(fastnet.DivergenceError) as info:
            net.fit(X, Y, epochs=60, lr=lr, optimizer="momentum")
        errors.append(info.value)
    assert errors[0].iteration == update
    assert (errors[0].iteration, errors[0].epoch) == (errors[1].iteration, errors[1].epoch)
    close(errors[0].history, errors[1].history, "float64")
    close(gpu.history, ref.history, "float64")
    same_weights(gpu, ref, "float64")
    assert gpu._optimizer.t == ref._optimizer.t
    assert all(np.isfinite(w).all() for w in gpu.weights)


def test_divergence_inside_a_mini_batch_epoch_names_the_update():
    X, Y = problem()
    gpu, ref = pair(layers=[N_IN, 5, 3], activation="relu", output_activation="identity", loss="mse", init="he")
    errors = []
    for net in (gpu, ref):
        with pytest.raises(fastnet.DivergenceError) as info:
            net.fit(X * 3, Y, epochs=20, lr=1.0, optimizer="momentum", batch_size=8)
        errors.append(info.value)
    assert (errors[0].iteration, errors[0].epoch) == (errors[1].iteration, errors[1].epoch)
    # 5 batches an epoch: this one diverges in epoch 2, after one finished epoch, not at an epoch's end.
    assert errors[0].epoch == 2 and errors[0].iteration % 5 != 0 and len(errors[0].history) == 1
    close(errors[0].history, errors[1].history, "float64")
    same_weights(gpu, ref, "float64")


def test_a_callback_sees_every_epoch_and_can_stop_the_fit():
    X, Y = problem()
    gpu, ref = pair()
    seen = {id(gpu): [], id(ref): []}
    for net in (gpu, ref):
        def callback(epoch, cost, net=net):
            seen[id(net)].append((epoch, cost))
            return epoch < 3

        net.fit(X, Y, epochs=10, lr=0.3, callback=callback)
    assert [e for e, _ in seen[id(gpu)]] == [1, 2, 3]
    close([c for _, c in seen[id(gpu)]], [c for _, c in seen[id(ref)]], "float64")
    same_weights(gpu, ref, "float64")


def test_checkpoints_fall_on_their_epochs_and_resume_exactly(tmp_path):
    X, Y = problem()
    straight, _ = pair()
    straight.fit(X, Y, epochs=7, lr=0.3, optimizer="adam")
    first, _ = pair()
    path = tmp_path / "run.ckpt"
    first.fit(X, Y, epochs=5, lr=0.3, optimizer="adam", checkpoint=path, checkpoint_every=2)
    state = fastnet.load(path)  # the last checkpoint: epoch 5, the end
    same_weights(state, first, "float64")
    resumed, _ = pair()
    resumed.fit(X, Y, epochs=7, lr=0.3, optimizer="adam", resume=path)
    close(resumed.history, straight.history, "float64")
    same_weights(resumed, straight, "float64")


def test_ctrl_c_during_a_chunk_keeps_the_updates_that_finished(monkeypatch):
    """An interrupt that lands while a chunk runs: the finished updates are kept, in history and weights."""
    from fastnet.training import fused_gpu_step as gpu_step

    X, Y = problem()
    gpu, ref = pair()
    launch_all = gpu_step.FusedStep.launch_all

    def interrupted(self, batches, launch):
        launch_all(self, batches[:3], launch)  # three updates finish, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(gpu_step.FusedStep, "launch_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gpu.fit(X, Y, epochs=10, lr=0.3)
    ref.fit(X, Y, epochs=3, lr=0.3)
    close(gpu.history, ref.history, "float64")
    same_weights(gpu, ref, "float64")
    assert gpu._optimizer.t == 3


@pytest.mark.parametrize("backend", ["cupy", two_lanes], ids=["one-lane", "two-lanes"])
def test_the_same_fit_twice_gives_the_same_bits(backend):
    """No atomics: the tile sums are added in a fixed order, so reruns agree to the last bit."""
    X, Y = problem()
    a, _ = pair("float32", backend=backend if isinstance(backend, str) else backend())
    b, _ = pair("float32", backend=backend if isinstance(backend, str) else backend())
    assert a.fit(X, Y, epochs=3, lr=0.3, optimizer="adam", batch_size=16) == \
        b.fit(X, Y, epochs=3, lr=0.3, optimizer="adam", batch_size=16)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("tile_rows", [4, 16])
def test_any_rows_per_tile_trains_as_the_reference(tile_rows):
    X, Y = problem()
    kwargs = dict(layers=[N_IN, 5, 3], output_activation="softmax", loss="cross_entropy", init="xavier", seed=0)
    gpu = fastnet.Network(backend=CupyOps(simulate=True, tile_rows=tile_rows), **kwargs)
    ref = fastnet.Network(backend=Ops(), **kwargs)
    for net in (gpu, ref):
        net.fit(X, Y, epochs=4, lr=0.3, optimizer="momentum")
    assert gpu.ops._fused_steps[gpu].rows == tile_rows  # the fused step ran, in tiles of that many rows
    same_weights(gpu, ref, "float64")


GD = dict(optimizer="gd", epochs=3)
ADAM = dict(optimizer="adam", epochs=2, batch_size=16, alpha=0.3)  # batches of 16 and 5 rows: 4 tiles, then 2


@pytest.mark.parametrize("dtype,lanes,case", [
    ("float64", 2, GD), ("float64", 4, GD), ("float64", 4, ADAM), ("float32", 4, ADAM),
], ids=["float64-2-gd", "float64-4-gd", "float64-4-adam-minibatch-l2", "float32-4-adam-minibatch-l2"])
def test_several_threads_per_parameter_train_as_the_reference(dtype, lanes, case):
    """Each lane sums every lanes-th tile and the lanes' sums are added in order: the reference's gradient, cost and update.

    Tiles of 4 rows: 37 rows make 10 tiles (3, 3, 2, 2 a lane at four lanes); a batch of
    5 rows makes 2, so two of four lanes have none.
    """
    X, Y = problem()
    gpu, ref = pair(dtype, backend=CupyOps(simulate=True, tile_rows=4, reduce_lanes=lanes))
    close(gpu.fit(X, Y, lr=0.2, **case), ref.fit(X, Y, lr=0.2, **case), dtype)
    same_weights(gpu, ref, dtype)
    assert gpu.ops._fused_steps[gpu].lanes == lanes


@pytest.mark.parametrize("optimizer,backend", [
    ("gd", "cupy"), ("momentum", "cupy"), ("adam", "cupy"),
    ("adam", lambda: CupyOps(simulate=True, tile_rows=4, reduce_lanes=4)),
], ids=["gd", "momentum", "adam", "adam-four-lanes"])
def test_fifty_iterations_stay_within_1e_10_of_the_reference(optimizer, backend):
    """The issue's bound: 50 full-batch updates in float64, the weights within 1e-10 relative of the reference's."""
    X, Y = problem()
    gpu, ref = pair("float64", backend=backend if isinstance(backend, str) else backend())
    for net in (gpu, ref):
        net.fit(X, Y, epochs=50, lr=0.1, optimizer=optimizer)
    assert gpu.ops._fused_steps[gpu].optimizer is gpu._optimizer  # the fused step trained it
    for got, want in zip(gpu.weights + gpu.biases, ref.weights + ref.biases):
        assert np.max(np.abs(got - want)) <= 1e-10 * np.max(np.abs(want))
