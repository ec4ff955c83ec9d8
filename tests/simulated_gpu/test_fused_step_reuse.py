"""A FusedStep serves the next fit of the same network, optimiser and data shapes (its CUDA graphs with it).

The graphs hold the addresses they were captured with, so the step keeps its own copy
of X and Y and a later fit copies its data in; lr, alpha and the optimiser's settings
are kernel arguments, so they key the graphs. Whatever is reused, every fit must still
train as the reference Ops does.
"""

import numpy as np

import fastnet
from fastnet.backends.reference import Ops
from fastnet.training.fused_gpu_step import FusedStep


def nets():
    kwargs = dict(layers=[6, 5, 3], activation="tanh", output_activation="softmax", loss="cross_entropy",
                  init="xavier", seed=1)
    return fastnet.Network(backend="cupy", **kwargs), fastnet.Network(backend=Ops(), **kwargs)


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(21, 6)), np.eye(3)[rng.integers(0, 3, 21)]


def test_the_next_fit_reuses_the_step_with_new_data_and_a_new_lr_and_still_trains_as_the_reference(monkeypatch):
    made = []
    original = FusedStep.__init__
    monkeypatch.setattr(FusedStep, "__init__", lambda self, *a, **k: made.append(self) or original(self, *a, **k))
    gpu, ref = nets()
    for seed, lr in ((0, 0.3), (1, 0.3), (2, 0.1)):  # new data each fit, then a new lr too
        X, Y = data(seed)
        for net in (gpu, ref):
            net.fit(X, Y, epochs=3, lr=lr, optimizer="adam")
    assert len(made) == 1  # one FusedStep served the three fits
    for got, want in zip(gpu.get_params()[0], ref.get_params()[0]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_another_optimizer_or_batch_size_gets_a_step_of_its_own():
    gpu, _ = nets()
    X, Y = data(0)
    ops = gpu.ops
    gpu.fit(X, Y, epochs=1, lr=0.1, optimizer="adam")
    first = ops._fused_steps[gpu]
    gpu.fit(X, Y, epochs=1, lr=0.1, optimizer="momentum")
    second = ops._fused_steps[gpu]
    gpu.fit(X, Y, epochs=1, lr=0.1, optimizer="momentum", batch_size=8)
    assert len({id(first), id(second), id(ops._fused_steps[gpu])}) == 3
    gpu.fit(X[:20], Y[:20], epochs=1, lr=0.1, optimizer="momentum", batch_size=8)  # other rows: another
    assert ops._fused_steps[gpu].X.shape == (20, 6)
