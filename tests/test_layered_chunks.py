"""Chunks of layered updates checked once each (fastnet/training/layered_chunks.py), run on the CPU.

Every backend's layered updates run this way (one snapshot and one NaN check a chunk,
not one an update); a data-parallel fit checks each update instead. The chunks must
train exactly as the per-update loop, and keep that loop's promises on divergence and
Ctrl-C.
"""

import numpy as np
import pytest

import fastnet
from fastnet.backends.reference import Ops
from fastnet.training.layered_chunks import LayeredChunks


class PerUpdateOps(Ops):
    """The reference primitives, checked after every update: the HostSteps runner, the loop chunks must equal."""

    chunked_checks = False


def problem(seed=3, m=45):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, 7)), np.eye(3)[rng.integers(0, 3, m)]


def pair(**kwargs):
    kwargs = dict(dict(layers=[7, 6, 3], activation="relu", output_activation="identity", loss="mse", init="he",
                       seed=1), **kwargs)
    return fastnet.Network(backend=Ops(), **kwargs), fastnet.Network(backend=PerUpdateOps(), **kwargs)


def weights(net):
    return net.weights + net.biases


def test_chunked_training_is_the_per_update_loop(monkeypatch):
    runs = []
    original = LayeredChunks.run
    monkeypatch.setattr(LayeredChunks, "run", lambda self, batches: runs.append(len(batches)) or original(self, batches))
    X, Y = problem()
    chunked, plain = pair()
    for fit in (dict(epochs=250, lr=0.01), dict(epochs=3, lr=0.01, optimizer="adam", batch_size=10, alpha=0.1)):
        np.testing.assert_allclose(chunked.fit(X, Y, **fit), plain.fit(X, Y, **fit), rtol=1e-12)
        for a, b in zip(weights(chunked), weights(plain)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert runs == [100, 100, 50, 5, 5, 5]  # full batch: chunks of 100 epochs; mini-batches: an epoch a chunk


@pytest.mark.parametrize("fit", [dict(epochs=60, lr=3.0, optimizer="momentum"),
                                 dict(epochs=20, lr=1.0, optimizer="momentum", batch_size=8)],
                         ids=["full-batch", "mini-batch"])
def test_divergence_inside_a_chunk_is_found_at_its_update_with_the_weights_from_before_it(fit):
    X, Y = problem()
    chunked, plain = pair()
    errors = []
    for net in (chunked, plain):
        with pytest.raises(fastnet.DivergenceError) as info:
            net.fit(X * 3, Y, **fit)
        errors.append(info.value)
    assert errors[0].iteration > 1 and (errors[0].iteration, errors[0].epoch) == (errors[1].iteration, errors[1].epoch)
    np.testing.assert_allclose(chunked.history, plain.history, rtol=1e-12)
    for a, b in zip(weights(chunked), weights(plain)):
        np.testing.assert_array_equal(a, b)
    assert chunked._optimizer.t == plain._optimizer.t


@pytest.mark.parametrize("fit", [dict(epochs=200, lr=0.01), dict(epochs=20, lr=0.01, batch_size=4)],
                         ids=["full-batch", "mini-batch"])
def test_ctrl_c_inside_a_chunk_keeps_every_finished_update(monkeypatch, fit):
    X, Y = problem()
    chunked, plain = pair()
    for net in (chunked, plain):
        net.fit(X, Y, epochs=2, lr=0.01)
    calls = {"n": 0}
    backprop = chunked._backprop

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == 30:  # inside the first chunk of the next fit (the replay calls it again)
            raise KeyboardInterrupt
        return backprop(*args)

    monkeypatch.setattr(chunked, "_backprop", interrupting)
    with pytest.raises(KeyboardInterrupt):
        chunked.fit(X, Y, **fit)
    assert chunked._optimizer.t == 2 + 29  # the 29 finished updates are kept, the 30th is not
    if "batch_size" in fit:  # 12 batches an epoch: two epochs recorded, the third cut short
        assert len(chunked.history) == 2
        return
    assert len(chunked.history) == 29
    plain.fit(X, Y, epochs=29, lr=0.01)
    np.testing.assert_allclose(chunked.history, plain.history, rtol=1e-12)
    for a, b in zip(weights(chunked), weights(plain)):
        np.testing.assert_array_equal(a, b)
    assert calls["n"] == 30  # stopped in a gradient: the finished updates were kept as they were, not replayed


def test_ctrl_c_inside_an_update_undoes_it_and_replays_the_finished_ones(monkeypatch):
    X, Y = problem()
    chunked, plain = pair()
    optimizer_steps = {"n": 0}
    fit = dict(epochs=50, lr=0.01, optimizer="adam")
    chunked.fit(X, Y, epochs=1, lr=0.01, optimizer="adam")  # the optimiser exists: patch its step
    step = chunked._optimizer.step

    def interrupted_after_applying(*args):
        optimizer_steps["n"] += 1
        step(*args)  # the 13th update is applied in full, then Ctrl-C lands before it is counted
        if optimizer_steps["n"] == 13:
            raise KeyboardInterrupt

    monkeypatch.setattr(chunked._optimizer, "step", interrupted_after_applying)
    with pytest.raises(KeyboardInterrupt):
        chunked.fit(X, Y, **fit)
    monkeypatch.undo()
    assert chunked._optimizer.t == 1 + 12 and len(chunked.history) == 12  # the 13th undone
    plain.fit(X, Y, epochs=13, lr=0.01, optimizer="adam")  # the first fit's epoch and the 12 kept
    for a, b in zip(weights(chunked), weights(plain)):
        np.testing.assert_array_equal(a, b)
