"""The ``fused`` backend's whole backprop in one kernel (kernels/fused_backprop.py) against the reference, before any timing.

Each network shape, activation and loss runs the kernel on 1, 2 and 3 blocks of rows
(a row count that does not divide evenly), and its gradients and cost are held to the
reference Ops' and to the layer-at-a-time path's; with the row split off, one block
on one thread. The inputs it does not take (a non-contiguous X, a sparse X, a loss
through a softmax) must go to the layers.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import fastnet
from fastnet.backends import get_backend
from fastnet.backends.fused import row_rule

from .conftest import reference_ops, require_backend

RTOL = {"float64": 1e-12, "float32": 3e-5}

NETWORKS = [  # layers, hidden activation, output activation, loss
    ([64, 30, 10], "sigmoid", "sigmoid", "mse"),
    ([64, 30, 10], "sigmoid", "softmax", "cross_entropy"),
    ([20, 16, 12, 8, 3], "tanh", "softmax", "cross_entropy"),
    ([20, 16, 12, 1], "relu", "sigmoid", "cross_entropy"),
    ([20, 5], "relu", "identity", "mse"),  # no hidden layer
    ([20, 24, 4], "identity", "tanh", "mse"),
]


@pytest.fixture(scope="module")
def fused():
    require_backend("fused")
    ops = get_backend("fused")
    if ops.split.scipy_blas is None:
        pytest.skip("the whole-backprop kernel's products need SciPy's own BLAS (held to one thread), "
                    f"not found here: {ops.split.description()}")
    return ops


def require_row_split(ops, blocks):
    """Skip a test of ``blocks`` > 1 blocks where the rows are not split over threads."""
    if blocks > 1 and ops.split.off is not None:
        pytest.skip(f"{blocks} blocks need the row split, off here ({ops.split.off})")


def twins(fused, layers, activation, output, loss, dtype):
    """The same network on fused and on the reference Ops, and data for it (301 rows)."""
    settings = dict(activation=activation, output_activation=output, loss=loss, init="xavier", seed=4, dtype=dtype)
    nets = fastnet.Network(layers, backend=fused, **settings), fastnet.Network(layers, backend=reference_ops(), **settings)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(301, layers[0])).astype(dtype)
    labels = rng.integers(0, layers[-1], 301)
    Y = (np.eye(layers[-1])[labels] if layers[-1] > 1 else labels[:, None] % 2).astype(dtype)
    return nets, X, Y


def gradients(net, run):
    with net.ops.running():
        cost = run()
    return float(cost), [np.array(g) for pair in net._grads for g in pair]


def kernel_gradients(net, X, Y):
    """``gradients`` of ``net._backprop``, checking that the whole-backprop kernel ran and gave the cost."""
    calls = []
    whole = net._workspace(X.shape[0]).backprop
    assert whole is not None
    net._workspace(X.shape[0]).backprop = lambda *a: calls.append(1) or whole(*a)
    result = gradients(net, lambda: net._backprop(X, Y))
    assert calls == [1]  # the kernel ran, and gave a cost: the layers were not needed
    return result


def assert_same_gradients(got, want, rtol):
    """(cost, gradients) pairs equal to ``rtol``, each gradient's tolerance scaled by its largest entry."""
    assert got[0] == pytest.approx(want[0], rel=rtol)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.abs(w).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("blocks", [1, 2, 3])
@pytest.mark.parametrize("layers,activation,output,loss", NETWORKS)
def test_the_whole_backprop_gives_the_references_gradients(fused, monkeypatch, layers, activation, output, loss,
                                                           blocks, dtype):
    require_row_split(fused, blocks)
    monkeypatch.setattr(fused.split, "threads", max(fused.split.threads, blocks))  # 3 blocks on 2 cores too
    monkeypatch.setattr(row_rule, "free_cores", lambda: blocks)
    (net, ref), X, Y = twins(fused, layers, activation, output, loss, dtype)
    got = kernel_gradients(net, X, Y)
    assert_same_gradients(got, gradients(ref, lambda: ref._backprop(X, Y)), RTOL[dtype])
    # And the layers on fused, the path it replaces: the same gradients to rounding.
    assert_same_gradients(got, gradients(net, lambda: net._backprop_layers(X, Y, net._workspace(301))), RTOL[dtype])


def test_the_blocks_sums_do_not_depend_on_which_thread_ran_them(fused, monkeypatch):
    # The same block count gives the same bits, run after run (the blocks are added in order).
    require_row_split(fused, 2)
    monkeypatch.setattr(row_rule, "free_cores", lambda: 2)
    (net, _), X, Y = twins(fused, [64, 30, 10], "sigmoid", "sigmoid", "mse", "float64")
    first = gradients(net, lambda: net._backprop(X, Y))
    for _ in range(20):
        again = gradients(net, lambda: net._backprop(X, Y))
        assert again[0] == first[0] and all(np.array_equal(a, b) for a, b in zip(again[1], first[1]))


@pytest.mark.parametrize("make_X", [
    pytest.param(lambda X: np.asfortranarray(X), id="a Fortran-ordered X"),
    pytest.param(lambda X: X.astype(np.float32), id="an X of another dtype"),
    pytest.param(lambda X: sp.csr_matrix(X), id="a sparse X"),
])
def test_an_x_the_kernel_does_not_take_goes_to_the_layers_with_the_same_result(fused, make_X):
    (net, ref), X, Y = twins(fused, [20, 16, 12, 1], "relu", "sigmoid", "cross_entropy", "float64")
    X[X < 0.5] = 0.0  # sparse enough to be worth it
    X[...] = X.astype(np.float32)  # values a float32 X holds exactly: the same data in every form
    want_cost, want = gradients(ref, lambda: ref._backprop(X, Y))
    layered = net._backprop_layers
    calls = []
    net._backprop_layers = lambda *a: calls.append(1) or layered(*a)
    other = make_X(X)
    cost, got = gradients(net, lambda: net._backprop(other, Y))
    assert calls == [1]
    assert cost == pytest.approx(want_cost, rel=1e-12)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * np.abs(w).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_with_the_row_split_off_the_whole_backprop_still_runs_on_one_thread(fused, monkeypatch, dtype):
    # One core, one Numba thread, another threading layer or FASTNET_ROW_PARALLEL=0: no
    # split, but the one-thread kernel still beats the layers (digits on one core: 458
    # against 503 ms for 1000 updates in float64, 232 against 295 in float32).
    monkeypatch.setattr(fused.split, "off", "turned off for this test")
    monkeypatch.setattr(row_rule, "free_cores", lambda: 4)  # would split, were it on
    assert fused.split.parts(301, 10**9) == 0
    (net, ref), X, Y = twins(fused, [64, 30, 10], "sigmoid", "sigmoid", "mse", dtype)
    assert_same_gradients(kernel_gradients(net, X, Y), gradients(ref, lambda: ref._backprop(X, Y)), RTOL[dtype])


def test_a_loss_through_a_softmax_has_no_whole_backprop_kernel(fused):
    net = fastnet.Network([8, 6, 3], backend=fused, output_activation="softmax", loss="mse", seed=0)
    assert net._workspace(10).backprop is None
    assert fastnet.Network([8, 6, 3], backend=fused, output_activation="softmax", loss="cross_entropy",
                           seed=0)._workspace(10).backprop is not None


def test_a_fit_on_fused_matches_the_reference_fit_through_the_kernel(fused):
    (net, ref), X, Y = twins(fused, [20, 16, 12, 8, 3], "tanh", "softmax", "cross_entropy", "float64")
    for n in (net, ref):
        n.fit(X, Y, epochs=30, lr=0.3)
    np.testing.assert_allclose(net.history, ref.history, rtol=1e-11)
    for a, b in zip(net.weights, ref.weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
