"""The training driver's contract, on every step runner: finished updates kept, the failing or interrupted one undone.

One driver (fastnet/training/driver.py) runs every backend's updates through a step
runner: layered chunks checked once each (every backend's layered updates), one
update at a time (data-parallel fits; here on a reference Ops that asks for it), and the GPU's fused
step (tests/simulated_gpu/test_training_contract_gpu.py runs this module on the
simulator). Each case compares a backend with itself: after Ctrl-C or a divergence
the weights are exactly those of a clean run of the updates that finished.
"""

import numpy as np
import pytest

import fastnet
from fastnet.backends import backend_status
from fastnet.backends.reference import Ops
from fastnet.training import runners
from fastnet.training.layered_chunks import LayeredChunks

M, N_IN = 37, 11


class PerUpdateOps(Ops):
    """The reference primitives, checked after every update: the HostSteps runner (data-parallel fits use it)."""

    chunked_checks = False


def _cpu_backends():
    params = [pytest.param(PerUpdateOps, id="per-update"), pytest.param(Ops, id="layered-chunks")]
    for name in ("python", "numba", "numpy", "fused"):
        ok, reason = backend_status(name)
        marks = [] if ok else [pytest.mark.skip(reason=f"backend {name!r} unavailable: {reason}")]
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture(params=_cpu_backends())
def make_backend(request):
    """A function returning a fresh backend (name or Ops) of the kind under test."""
    value = request.param
    return (lambda: value) if isinstance(value, str) else value


def problem(seed=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(M, N_IN)), np.eye(3)[rng.integers(0, 3, M)]


def network(make_backend, **kwargs):
    settings = dict(layers=[N_IN, 5, 3], activation="relu", output_activation="identity", loss="mse", init="he",
                    seed=1)
    return fastnet.Network(backend=make_backend(), **dict(settings, **kwargs))


def parameters(net):
    return [np.array(net.ops.to_numpy(a)) for a in net.weights + net.biases]


def assert_same_state(got, want):
    assert got._optimizer.t == want._optimizer.t
    np.testing.assert_allclose(got.history, want.history, rtol=1e-12)
    for a, b in zip(parameters(got), parameters(want)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


def interrupt_after(monkeypatch, net, finished):
    """Ctrl-C lands in the update after ``finished`` ones (counted over the fit), whichever runner trains ``net``."""
    calls = {"n": 0}
    backprop = net._backprop

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == finished + 1:
            raise KeyboardInterrupt
        return backprop(*args)

    monkeypatch.setattr(net, "_backprop", interrupting)  # the host's and the layered runners
    from fastnet.training import fused_gpu_step as gpu_step

    launch_all = gpu_step.FusedStep.launch_all
    left = {"n": finished}

    def cut_short(self, batches, launch):  # the GPU's fused step: its kernels, not _backprop
        n = min(len(batches), left["n"])
        left["n"] -= n
        launch_all(self, batches[:n], launch)
        if n < len(batches):
            raise KeyboardInterrupt

    monkeypatch.setattr(gpu_step.FusedStep, "launch_all", cut_short)


@pytest.mark.parametrize("finished", [0, 1, 4, 7])
def test_ctrl_c_inside_a_chunk_keeps_every_finished_update(monkeypatch, make_backend, finished):
    check_ctrl_c_keeps_finished_updates(monkeypatch, make_backend, finished)


@pytest.mark.filterwarnings("ignore::fastnet.training.CostRoseWarning")  # the cost rises before it overflows
@pytest.mark.parametrize("done_before", [0, 1, 2, 3])
def test_divergence_is_found_at_its_update_at_every_position_of_a_chunk(monkeypatch, make_backend, done_before):
    check_divergence_at_chunk_position(monkeypatch, make_backend, done_before, chunk=4)


def check_ctrl_c_keeps_finished_updates(monkeypatch, make_backend, finished):
    X, Y = problem()
    net, clean = network(make_backend), network(make_backend)
    interrupt_after(monkeypatch, net, finished)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=10, lr=0.05, optimizer="momentum")
    monkeypatch.undo()
    assert len(net.history) == finished
    if finished:
        clean.fit(X, Y, epochs=finished, lr=0.05, optimizer="momentum")
        assert_same_state(net, clean)
    else:
        assert net._optimizer.t == 0
        for a, b in zip(parameters(net), parameters(clean)):
            np.testing.assert_array_equal(a, b)


def check_divergence_at_chunk_position(monkeypatch, make_backend, done_before, chunk):
    """Chunks of ``chunk`` updates; a first fit of ``done_before`` epochs moves the diverging update along them."""
    for runner in (runners.LayeredUpdates, LayeredChunks):
        monkeypatch.setattr(runner, "chunk_epochs", chunk)
    from fastnet.training import fused_gpu_step as gpu_step

    monkeypatch.setattr(gpu_step.FusedStep, "chunk_epochs", chunk)
    X, Y = problem()
    X = X * 3
    net, clean = network(make_backend), network(make_backend)
    fit = dict(lr=0.6, optimizer="momentum")
    if done_before:
        net.fit(X, Y, epochs=done_before, **fit)
    with pytest.raises(fastnet.DivergenceError) as info:
        net.fit(X, Y, epochs=60, **fit)
    failing = done_before + info.value.iteration  # counted from the first fit's start
    assert info.value.epoch == info.value.iteration == len(net.history) + 1
    assert failing == 6  # the same update on every backend and chunking
    clean.fit(X, Y, epochs=failing - 1, **fit)  # every update before the failing one
    net.history = net.history if not done_before else clean.history[:done_before] + net.history
    assert_same_state(net, clean)


def test_mini_batch_divergence_inside_an_epoch_keeps_the_batches_before_it(make_backend):
    X, Y = problem()
    net = network(make_backend)
    with pytest.raises(fastnet.DivergenceError) as info:
        net.fit(X * 3, Y, epochs=30, lr=0.6, optimizer="momentum", batch_size=8)  # 5 batches an epoch
    assert info.value.iteration > 1 and net._optimizer.t == info.value.iteration - 1
    assert len(net.history) == (info.value.iteration - 1) // 5
    assert all(np.isfinite(a).all() for a in parameters(net))


def test_interrupted_run_resumes_from_its_checkpoint_to_the_uninterrupted_weights(monkeypatch, make_backend, tmp_path):
    X, Y = problem()
    path = str(tmp_path / "run.ckpt")
    fit = dict(lr=0.05, optimizer="adam")
    net, straight = network(make_backend), network(make_backend)
    straight.fit(X, Y, epochs=8, **fit)
    interrupt_after(monkeypatch, net, 5)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=8, checkpoint=path, checkpoint_every=3, **fit)
    monkeypatch.undo()
    resumed = network(make_backend)
    resumed.fit(X, Y, epochs=8, resume=path, **fit)  # the checkpoint Ctrl-C wrote holds 5 epochs
    np.testing.assert_allclose(resumed.history[:5], net.history, rtol=1e-12)
    assert_same_state(resumed, straight)


def test_on_gradient_sits_between_the_gradient_and_its_application(make_backend):
    """Halving every gradient at the hook is gradient descent at half the learning rate."""
    from fastnet.training import fit_network

    X, Y = problem()
    net, half = network(make_backend), network(make_backend)
    Xb, Yb = net._to_backend_inputs(X)[0], net._to_backend_targets(Y, M)
    seen = []

    def halve(grads, cost, count):
        seen.append(count)
        grads.flat *= 0.5
        return cost

    with net.ops.running():
        costs = fit_network(net, Xb, Yb, epochs=4, lr=0.2, batch_size=None, optimizer="gd", callback=None,
                            checkpoint=None, checkpoint_every=None, resume=None, on_gradient=halve)
    half.fit(X, Y, epochs=4, lr=0.1)
    assert seen == [M] * 4
    np.testing.assert_allclose(costs, half.history, rtol=1e-12)
    for a, b in zip(parameters(net), parameters(half)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
