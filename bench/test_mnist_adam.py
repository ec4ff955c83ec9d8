"""The second CPU workload: a 784-100-10 ReLU/softmax network, Adam, batches of 64, on MNIST-shaped data.

Where the digits runs are full-batch gradient descent on a tiny net, this is how
people usually train: many small products per epoch, an optimiser update after
each. Every variant is first checked against fastnet's numpy backend over one
epoch in the rows' own order, then timed with shuffled batches. PyTorch's rounds
alternate with those of fastnet's fastest CPU backend, as on digits.
"""

import time
import warnings

import numpy as np
import pytest

import fastnet

from .conftest import PAIR_PAUSE_S, record
from .test_training import PAIRED_ROUNDS, paired_backend
from .workloads import MNIST_BATCH, MNIST_EPOCHS, MNIST_LR, MNIST_ROWS, QUICK, mnist_adam_net, mnist_shaped, reference_ops

WORKLOAD = f"784-100-10 Adam, batches of {MNIST_BATCH}, {MNIST_EPOCHS} epochs on {MNIST_ROWS} rows"
ROUNDS = 1 if QUICK else 3


def data(dtype):
    X, y, X_test, y_test = mnist_shaped(MNIST_ROWS)
    return X.astype(dtype), fastnet.one_hot(y, 10, dtype=dtype), X_test.astype(dtype), y_test


def fit(net, X, Y, epochs=MNIST_EPOCHS, shuffle=True):
    return net.fit(X, Y, epochs=epochs, lr=MNIST_LR, batch_size=MNIST_BATCH, optimizer="adam", shuffle=shuffle)


def assert_close_weights(weights, reference, dtype):
    # Adam's steps are about lr in size whatever the gradient, so rounding moves a
    # weight by up to ~lr * 1e-3 in float32; float64 agrees to the last digits.
    tol = 1e-10 if dtype == "float64" else 1e-4
    for W, W_ref in zip(weights, reference):
        np.testing.assert_allclose(W, W_ref, rtol=0, atol=tol * np.abs(W_ref).max())


def numpy_reference(X, Y, dtype):
    """fastnet's reference Ops after one epoch in the rows' order, and its starting weights."""
    net = mnist_adam_net(reference_ops(), dtype)
    start = net.get_params()
    fit(net, X, Y, epochs=1, shuffle=False)
    return start, net.get_params()[0]


def test_mnist_adam_training(benchmark, backend, dtype):
    if backend in ("python", "numba"):
        pytest.skip("explicit loops would take minutes per epoch here; the digits rows show them")
    X, Y, X_test, y_test = data(dtype)
    _, reference = numpy_reference(X, Y, dtype)
    net = mnist_adam_net(backend, dtype)
    fit(net, X, Y, epochs=1, shuffle=False)
    assert_close_weights(net.get_params()[0], reference, dtype)
    trained = {}

    def setup():
        time.sleep(PAIR_PAUSE_S)
        trained["net"] = mnist_adam_net(backend, dtype)
        return (trained["net"],), {}

    benchmark.pedantic(lambda net: fit(net, X, Y), setup=setup, rounds=ROUNDS, warmup_rounds=0 if QUICK else 1)
    record(benchmark, WORKLOAD, backend, dtype, test_accuracy=trained["net"].score(X_test, y_test))


def test_mnist_adam_training_torch(benchmark, dtype, torch_worker):
    X, Y, _, _ = data(dtype)
    (W0, b0), reference = numpy_reference(X, Y, dtype)
    torch_worker.call("setup_adam", X, Y, W0, b0, MNIST_LR, MNIST_BATCH, False)
    W, _, _ = torch_worker.call("train", 1)
    assert_close_weights(W, reference, dtype)
    _, threads, _ = torch_worker.call("describe")

    paired, paired_times, torch_times = paired_backend(), [], []
    fit(mnist_adam_net(paired, dtype), X[:256], Y[:256], epochs=1)  # warm-up: compiled kernels, thread pools

    def setup():
        time.sleep(PAIR_PAUSE_S)
        start = time.perf_counter()
        fit(mnist_adam_net(paired, dtype), X, Y)
        paired_times.append(time.perf_counter() - start)
        torch_worker.call("setup_adam", X, Y, W0, b0, MNIST_LR, MNIST_BATCH, True)
        time.sleep(PAIR_PAUSE_S)
        return (), {}

    def train():
        torch_times.append(torch_worker.call("train", MNIST_EPOCHS)[2])

    benchmark.pedantic(train, setup=setup, rounds=1 if QUICK else PAIRED_ROUNDS)
    record(benchmark, WORKLOAD, "torch cpu (peer)", dtype, threads=threads,
           paired={"variant": paired, "min": min(paired_times), "rounds": len(paired_times),
                   "round_s": paired_times, "peer_round_s": torch_times})


def test_mnist_adam_training_sklearn(benchmark):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = mnist_shaped(MNIST_ROWS)
    settings = dict(hidden_layer_sizes=(100,), alpha=0.0, batch_size=MNIST_BATCH, learning_rate_init=MNIST_LR,
                    random_state=0, tol=0.0, n_iter_no_change=MNIST_EPOCHS + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Checked first: one epoch from scikit-learn's own start, in order, against fastnet's numpy backend.
        ours = fastnet.FastNetClassifier(alpha=0.0, batch_size=MNIST_BATCH, learning_rate=MNIST_LR, random_state=0,
                                         max_iter=1, shuffle=False, backend="numpy").fit(X, y)
        theirs = MLPClassifier(**dict(settings, max_iter=1, shuffle=False)).fit(X, y)
        # Their Adam adds epsilon before the bias correction, ours after: close, not equal.
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)
        out = {}
        benchmark.pedantic(lambda: out.update(clf=MLPClassifier(**dict(settings, max_iter=MNIST_EPOCHS)).fit(X, y)),
                           rounds=ROUNDS)
    record(benchmark, WORKLOAD, "sklearn MLPClassifier (peer)", "float64",
           test_accuracy=out["clf"].score(X_test, y_test), note="its own starting weights and batch order")
