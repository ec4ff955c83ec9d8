"""Training: one step on digits and on a large net, and the tutorial's full digits run."""

import time

import numpy as np
import pytest

import fastnet
from fastnet.backends import backend_status

from .conftest import PAIR_PAUSE_S, record
from .peers import numpy_train
from .workloads import DIGITS_ITERATIONS, PYTHON_ITERATIONS, QUICK, digits, large_data, reference_ops

LR = 0.25
# test_wide_minibatch_training: one epoch of this many of the large data's rows.
WIDE_EPOCH_ROWS, WIDE_BATCH = 2048, 64


def tutorial_net(backend, dtype, layers=(64, 30, 10)):
    return fastnet.Network(list(layers), backend=backend, dtype=dtype, seed=0)


def assert_same_training(net, X, Y, dtype, iterations=3):
    """Train ``net`` and the reference Ops a few iterations from the same start; compare."""
    reference = tutorial_net(reference_ops(), dtype, net.layers)
    rows = slice(0, 16) if net.backend == "python" else slice(None)
    a = net.fit(X[rows], Y[rows], epochs=iterations, lr=LR)
    b = reference.fit(X[rows], Y[rows], epochs=iterations, lr=LR)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(a, b, rtol=rtol)
    for W, W_ref in zip(net.get_params()[0], reference.get_params()[0]):
        np.testing.assert_allclose(W, W_ref, rtol=rtol, atol=rtol * np.abs(W_ref).max())


# Order: the digits runs come last, next to the PyTorch peer's (which also alternates
# its rounds with fastnet's own, see test_digits_training_torch), so that the digits
# timings are taken within a minute of each other: the development machine's speed
# drifts over minutes.


def test_large_training_step(benchmark, backend, dtype):
    if backend == "python":
        pytest.skip("interpreted loops would take hours per step on the large case")
    layers, X, Y = large_data(dtype)
    net = tutorial_net(backend, dtype, layers)
    reference = tutorial_net(reference_ops(), dtype, layers)
    rows = slice(0, 256)
    np.testing.assert_allclose(net.backprop(X[rows], Y[rows])[0], reference.backprop(X[rows], Y[rows])[0],
                               rtol=1e-10 if dtype == "float64" else 1e-4)
    benchmark.pedantic(net.fit, args=(X, Y), kwargs=dict(epochs=1, lr=0.01), rounds=1)
    record(benchmark, f"train step {X.shape[0]}x{'-'.join(map(str, layers))}", backend, dtype, iterations=1, scale_to=1)


def test_wide_minibatch_training(benchmark, backend, dtype):
    # The large net trained as people often do, on mini-batches of 64 rows: fewer rows
    # than its hidden layers have neurons, so fused splits each wide layer's neurons
    # over the threads (fastnet.backends.fused.row_rule.splits_neurons), not its rows.
    if backend in ("python", "numba"):
        pytest.skip("loops: 5 billion multiply-adds an epoch take minutes")
    layers, X, Y = large_data(dtype)
    X, Y = X[:WIDE_EPOCH_ROWS], Y[:WIDE_EPOCH_ROWS]
    net, reference = tutorial_net(backend, dtype, layers), tutorial_net(reference_ops(), dtype, layers)
    options = dict(epochs=1, lr=0.01, batch_size=WIDE_BATCH, optimizer="sgd", shuffle=False)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(net.fit(X[:256], Y[:256], **options), reference.fit(X[:256], Y[:256], **options),
                               rtol=rtol)
    for W, W_ref in zip(net.get_params()[0], reference.get_params()[0]):
        np.testing.assert_allclose(W, W_ref, rtol=rtol, atol=rtol * np.abs(W_ref).max())
    benchmark.pedantic(net.fit, args=(X, Y), kwargs=options, rounds=3)
    record(benchmark, f"train epoch {X.shape[0]}x{'-'.join(map(str, layers))}, batches of {WIDE_BATCH}", backend, dtype)


def test_digits_training_sklearn(benchmark):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data, _ = digits()
    import warnings

    def train():
        clf = MLPClassifier(hidden_layer_sizes=(30,), activation="logistic", solver="sgd", learning_rate_init=LR,
                            momentum=0.0, alpha=0.0, batch_size=len(data.y_train), max_iter=DIGITS_ITERATIONS,
                            shuffle=False, tol=0.0, n_iter_no_change=DIGITS_ITERATIONS + 1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return clf.fit(data.X_train, data.y_train)

    out = {}
    benchmark.pedantic(lambda: out.update(clf=train()), rounds=1)
    clf = out["clf"]
    assert clf.n_iter_ == DIGITS_ITERATIONS
    record(benchmark, f"digits training, {DIGITS_ITERATIONS} iterations", "sklearn MLPClassifier (peer)", "float64",
           iterations=DIGITS_ITERATIONS, scale_to=DIGITS_ITERATIONS, test_accuracy=clf.score(data.X_test, data.y_test),
           note="softmax + cross-entropy output (scikit-learn forces it)")


def test_digits_training(benchmark, backend, dtype):
    data, Y = digits()
    X = data.X_train.astype(dtype)
    assert_same_training(tutorial_net(backend, dtype), X, Y.astype(dtype), dtype)
    iterations = PYTHON_ITERATIONS if backend == "python" else DIGITS_ITERATIONS
    result = {}

    def setup():
        # The previous test's BLAS or OpenMP threads spin for a while after their last
        # job; a round started among them measures the contention, not the backend.
        time.sleep(PAIR_PAUSE_S)
        result["net"] = tutorial_net(backend, dtype)
        return (result["net"],), {}

    def train(net):
        net.fit(X, Y, epochs=iterations, lr=LR)

    # One untimed round first (except for the slow loops): the quick run's single timed
    # round otherwise took fused's thread start-up and first-call costs, and showed
    # it slower than numpy (141 vs 82 ms in float32) where it is twice as fast.
    benchmark.pedantic(train, setup=setup, rounds=1 if QUICK or backend == "python" else 3,
                       warmup_rounds=0 if backend == "python" else 1)
    accuracy = result["net"].score(data.X_test, data.y_test) if iterations == DIGITS_ITERATIONS else None
    record(benchmark, f"digits training, {DIGITS_ITERATIONS} iterations", backend, dtype,
           iterations=iterations, scale_to=DIGITS_ITERATIONS, test_accuracy=accuracy)


def test_digits_training_plain_numpy(benchmark, dtype):
    data, Y = digits()
    X, Y = data.X_train.astype(dtype), Y.astype(dtype)
    net = tutorial_net("numpy", dtype)
    W0, b0 = net.get_params()
    W, _ = numpy_train(X, Y, W0, b0, 3, LR)
    net.fit(X, Y, epochs=3, lr=LR)
    for a, b in zip(W, net.weights):
        np.testing.assert_allclose(a, b, rtol=1e-10 if dtype == "float64" else 1e-4)
    out = {}
    benchmark.pedantic(lambda: out.update(p=numpy_train(X, Y, W0, b0, DIGITS_ITERATIONS, LR)),
                       rounds=1 if QUICK else 3)
    trained = tutorial_net("numpy", dtype)
    trained.set_params(*out["p"])
    record(benchmark, f"digits training, {DIGITS_ITERATIONS} iterations", "plain numpy (peer)", dtype,
           iterations=DIGITS_ITERATIONS, scale_to=DIGITS_ITERATIONS,
           test_accuracy=trained.score(data.X_test, data.y_test))


def paired_backend():
    """fastnet's fastest CPU backend available here: the one whose rounds alternate with PyTorch's."""
    return "fused" if backend_status("fused")[0] else "numpy"


# Pairs of rounds in full mode. With 5, the median's verdict swung 1.40-1.64x between
# runs on the development machine (pairs spread 1.13-2.53x); 9 narrow it at about
# 35 s more per full run.
PAIRED_ROUNDS = 9


@pytest.mark.parametrize("device", ["cpu", "cpu-compile", "cuda", "cuda-graph"])
def test_digits_training_torch(benchmark, dtype, device, torch_worker):
    _, threads, cuda = torch_worker.call("describe")
    if device.startswith("cuda") and not cuda:
        pytest.skip("PyTorch sees no CUDA device")
    # On the CPU, each PyTorch round follows a round of fastnet's fastest CPU backend, so
    # both see the same machine; the report takes their ratio.
    on_cpu = device.startswith("cpu")
    time_peer(benchmark, dtype, torch_worker, ("setup", device), f"torch {device} (peer)",
              paired_backend() if on_cpu else None, threads=threads)


def test_digits_training_jax(benchmark, dtype, jax_worker):
    """JAX with the whole loop under one jit (lax.fori_loop): the peer a JAX user would write, paired as PyTorch's."""
    time_peer(benchmark, dtype, jax_worker, ("setup_jax",), "jax jit (peer)", paired_backend())


def time_peer(benchmark, dtype, worker, setup_call, name, paired, **extra):
    """Validate a peer's 3 iterations against fastnet, then time its 3000, each round after one of ``paired``'s.

    ``setup_call`` is the worker's setup command and its arguments beyond the data,
    starting weights and lr; ``paired`` is None for a peer on another device.
    """
    data, Y = digits()
    X, Y = data.X_train.astype(dtype), Y.astype(dtype)
    W0, b0 = tutorial_net("numpy", dtype).get_params()
    command, *more = setup_call
    worker.call(command, X, Y, W0, b0, LR, *more)
    W, _, _ = worker.call("train", 3)
    net = tutorial_net("numpy", dtype)
    net.fit(X, Y, epochs=3, lr=LR)
    for a, b in zip(W, net.weights):
        np.testing.assert_allclose(a, b, rtol=1e-10 if dtype == "float64" else 1e-4)
    worker.call("train", 5)  # warm-up: thread pools, CUDA context, compiles
    paired_times = []
    if paired:
        tutorial_net(paired, dtype).fit(X, Y, epochs=3, lr=LR)  # warm-up: loads its compiled kernels

    def setup():
        if paired:
            time.sleep(PAIR_PAUSE_S)
            fastnet_net = tutorial_net(paired, dtype)
            start = time.perf_counter()
            fastnet_net.fit(X, Y, epochs=DIGITS_ITERATIONS, lr=LR)
            paired_times.append(time.perf_counter() - start)
        worker.call(command, X, Y, W0, b0, LR, *more)  # the starting weights again
        time.sleep(PAIR_PAUSE_S)
        return (), {}

    peer_times = []  # as the worker measured them, without the pipe's round trip

    def train():
        peer_times.append(worker.call("train", DIGITS_ITERATIONS)[2])

    benchmark.pedantic(train, setup=setup, rounds=1 if QUICK else PAIRED_ROUNDS)
    if paired:
        extra["paired"] = {"variant": paired, "min": min(paired_times), "rounds": len(paired_times),
                           "round_s": paired_times, "peer_round_s": peer_times}
    record(benchmark, f"digits training, {DIGITS_ITERATIONS} iterations", name, dtype,
           iterations=DIGITS_ITERATIONS, scale_to=DIGITS_ITERATIONS, **extra)
