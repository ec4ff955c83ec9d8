"""Divergence, Ctrl-C, out-of-memory: the network keeps the weights of the last good update."""

import numpy as np
import pytest

import fastnet

from .conftest import to_numpy


def params_of(net):
    weights, biases = net.get_params()
    return [a for pair in zip(weights, biases) for a in pair]


def assert_params_equal(net, expected):
    for got, want in zip(params_of(net), expected):
        np.testing.assert_array_equal(got, want)


def regression_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)) * 10
    return X, X @ rng.normal(size=(4, 1))


class Recorder:
    """A fit callback that keeps a copy of the parameters after every epoch."""

    def __init__(self, net, stop_at=None):
        self.net, self.stop_at, self.params = net, stop_at, []

    def __call__(self, epoch, cost):
        self.params.append(params_of(self.net))
        if epoch == self.stop_at:
            raise KeyboardInterrupt


def test_divergence_raises_floating_point_error_and_keeps_the_last_finite_weights(backend):
    X, Y = regression_problem()
    net = fastnet.Network([4, 8, 1], activation="relu", output_activation="identity", init="he", seed=0, backend=backend)
    recorder = Recorder(net)
    with pytest.raises(FloatingPointError) as info:
        with np.errstate(all="ignore"):
            net.fit(X, Y, epochs=200, lr=5.0, callback=recorder)
    err = info.value
    assert isinstance(err, fastnet.DivergenceError)
    assert f"iteration {err.iteration}" in str(err) and "learning rate 5" in str(err) and "lr=0.5" in str(err)
    assert err.iteration == len(recorder.params) + 1  # full batch: one update per epoch
    assert all(np.isfinite(p).all() for p in params_of(net))
    assert_params_equal(net, recorder.params[-1])
    assert len(net.history) == len(recorder.params) and np.isfinite(net.history).all()


def test_keyboard_interrupt_between_epochs_keeps_weights_and_history():
    X, Y = regression_problem()
    net = fastnet.Network([4, 8, 1], output_activation="identity", seed=1)
    recorder = Recorder(net, stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X / 10, Y / 10, epochs=50, lr=0.01, callback=recorder)
    assert len(net.history) == 4
    assert_params_equal(net, recorder.params[-1])


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_keyboard_interrupt_in_the_middle_of_an_update_undoes_it(monkeypatch, optimizer):
    X, Y = regression_problem()
    net = fastnet.Network([4, 8, 1], output_activation="identity", seed=2)
    net.fit(X / 10, Y / 10, epochs=3, lr=0.01, optimizer=optimizer)
    before, t_before = params_of(net), net._optimizer.t
    method = "update"  # one call over the flat buffer, whatever the rule
    original, calls = getattr(net.ops, method), []

    def update_then_interrupt(*args):
        calls.append(1)
        original(*args)  # every parameter changed (one call over the flat buffer)...
        raise KeyboardInterrupt  # ...and Ctrl-C before fit has checked and kept the update

    monkeypatch.setattr(net.ops, method, update_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X / 10, Y / 10, epochs=5, lr=0.01, optimizer=optimizer)
    assert len(calls) == 1
    assert_params_equal(net, before)
    assert net._optimizer.t == t_before


def test_out_of_memory_names_the_sizes_and_leaves_the_network_usable(monkeypatch):
    net = fastnet.Network([4, 8, 2], seed=0)
    X = np.ones((500, 4))
    before = params_of(net)
    real_zeros = np.zeros

    def allocator_that_fails_for_big_arrays(shape, dtype=float):
        if np.prod(shape) >= 1000:
            raise MemoryError("injected: allocator refused")
        return real_zeros(shape, dtype=dtype)

    monkeypatch.setattr(np, "zeros", allocator_that_fails_for_big_arrays)
    with pytest.raises(MemoryError) as info:
        net.forward(X)
    assert isinstance(info.value, fastnet.BackendMemoryError)
    assert info.value.shape == (500, 8)
    message = str(info.value)
    assert "(500, 8)" in message and "batch_size" in message and "float32" in message
    monkeypatch.undo()
    assert_params_equal(net, before)
    np.testing.assert_allclose(net.forward(X)[:1], net.forward(X[:1]))


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_out_of_memory_inside_a_product_during_fit_names_the_batch_and_keeps_the_weights(monkeypatch, optimizer):
    # The array library's own temporaries (CuPy's inside a matrix product) are not
    # fastnet's buffers: the error still says what to try, and nothing is half-updated.
    net = fastnet.Network([4, 8, 2], seed=0)
    X, Y = np.ones((50, 4)), np.zeros((50, 2))
    net.fit(X, Y, epochs=2, lr=0.1, optimizer=optimizer)
    before, t_before = params_of(net), net._optimizer.t
    calls = []

    def product_that_runs_out(A, B, out):
        calls.append(1)
        # 3 products per update reach product() (backward; dense() calls BLAS itself):
        # the 5th is in the second update's backward pass.
        if len(calls) == 5:
            raise MemoryError("injected: out of memory allocating 1,048,576 bytes")
        return np.matmul(A, B, out=out)

    monkeypatch.setattr(net.ops, "product", product_that_runs_out)
    with pytest.raises(fastnet.BackendMemoryError) as info:
        net.fit(X, Y, epochs=5, lr=0.1, optimizer=optimizer, batch_size=25)
    monkeypatch.undo()
    message = str(info.value)
    assert "while training on batches of shape (25, 4)" in message
    assert "batch_size" in message and "injected" in message
    assert isinstance(info.value.__cause__, MemoryError)
    # The first update of that fit completed; the second was undone.
    assert net._optimizer.t == t_before + 1
    assert not all(np.array_equal(a, b) for a, b in zip(params_of(net), before))
    np.testing.assert_allclose(net.forward(X), net.forward(X))  # usable


def test_a_real_impossible_allocation_is_reported_with_its_size():
    ops = fastnet.get_backend("numpy")
    with pytest.raises(fastnet.BackendMemoryError, match=r"\(10000000, 10000000\).*MiB"):
        ops.alloc((10_000_000, 10_000_000), "float64")


def test_cupy_backend_without_a_gpu_gives_a_clear_error():
    ok, reason = fastnet.backends.backend_status("cupy")
    if ok:
        pytest.skip("this machine has a usable GPU, so the missing-GPU error cannot be provoked")
    with pytest.raises(fastnet.BackendUnavailableError, match="cupy"):
        fastnet.Network([2, 1], backend="cupy")


def test_weights_go_back_to_numpy_in_one_call(backend):
    net = fastnet.Network([3, 4, 2], seed=0, backend=backend)
    weights, biases = net.get_params()
    assert all(type(a) is np.ndarray for a in weights + biases)
    np.testing.assert_array_equal(weights[0], to_numpy(net.weights[0]))
