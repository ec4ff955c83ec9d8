"""Estimator fits with their defaults on MNIST-shaped data: fastnet against scikit-learn's MLPClassifier.

Both fit the same synthetic 784-feature, 10-class data with every default
(hidden layer of 100 ReLUs, Adam at 0.001, batches of 200, alpha 1e-4, tol 1e-4
over 10 epochs), so each stops when its own training loss stalls: the time is
the whole fit, epochs included, and the report shows how many each ran. Before
timing, two epochs of plain sgd from the same seed are checked to give
scikit-learn's weights, so the two time the same arithmetic.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from fastnet import FastNetClassifier

from .conftest import PAIR_PAUSE_S, record
from .test_training import paired_backend
from .workloads import QUICK, mnist_shaped

ROWS = 1000 if QUICK else 4000
WORKLOAD = f"estimator fit with defaults, {ROWS}x784 -> 100 -> 10 (MNIST-shaped)"
ROUNDS = 1 if QUICK else 3


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def test_estimator_fit_with_defaults(benchmark):
    X, y, X_test, y_test = mnist_shaped(ROWS)
    backend = paired_backend()
    plain_sgd = dict(random_state=0, max_iter=2, shuffle=False)  # same start, same batches
    ours = quiet_fit(FastNetClassifier(optimizer="sgd", backend=backend, **plain_sgd), X[:400], y[:400])
    theirs = quiet_fit(MLPClassifier(solver="sgd", momentum=0, **plain_sgd), X[:400], y[:400])
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    quiet_fit(FastNetClassifier(backend=backend, max_iter=1, random_state=0), X, y)  # compiles kernels once

    # Rounds alternate, scikit-learn's timed by hand right after each of fastnet's.
    sklearn_times, fitted = [], {}

    def setup():
        time.sleep(PAIR_PAUSE_S)
        start = time.perf_counter()
        fitted["sklearn"] = quiet_fit(MLPClassifier(random_state=0), X, y)
        sklearn_times.append(time.perf_counter() - start)
        time.sleep(PAIR_PAUSE_S)
        return (), {}

    fastnet_times = []

    def fit_fastnet():
        start = time.perf_counter()
        fitted["fastnet"] = quiet_fit(FastNetClassifier(backend=backend, random_state=0), X, y)
        fastnet_times.append(time.perf_counter() - start)

    benchmark.pedantic(fit_fastnet, setup=setup, rounds=ROUNDS)
    ours, theirs = fitted["fastnet"], fitted["sklearn"]
    assert ours.score(X_test, y_test) > theirs.score(X_test, y_test) - 0.03
    record(benchmark, WORKLOAD, f"fastnet {backend}", "float64", iterations=ours.n_iter_, scale_to=ours.n_iter_,
           test_accuracy=ours.score(X_test, y_test),
           note=f"{ours.n_iter_} epochs; scikit-learn's MLPClassifier in alternating rounds: "
                f"{min(sklearn_times):.2f} s, {theirs.n_iter_} epochs, test accuracy "
                f"{100 * theirs.score(X_test, y_test):.1f} %",
           round_s=fastnet_times,
           estimator_peer={"variant": "sklearn MLPClassifier", "min": min(sklearn_times), "round_s": sklearn_times,
                           "n_iter": theirs.n_iter_, "test_accuracy": theirs.score(X_test, y_test)})
