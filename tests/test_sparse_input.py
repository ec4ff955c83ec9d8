"""Sparse X: the same training and predictions as the dense matrix, without ever making it dense.

A SciPy sparse matrix goes through ``Network.fit``/``forward`` and the estimators'
``fit``, ``partial_fit``, ``predict``, ``predict_proba`` and ``score``. Only the
first layer reads X; on numpy and fused its products are SciPy's (or fused's
kernels), on the loop backends each batch is made dense for the loops.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import fastnet
from fastnet import FastNetClassifier, FastNetRegressor

RNG = np.random.default_rng(7)
X_DENSE = sp.random(120, 300, density=0.03, format="csr", random_state=3).toarray() * 4.0
Y_CLASS = (X_DENSE[:, :150].sum(axis=1) > X_DENSE[:, 150:].sum(axis=1)).astype(int) + (X_DENSE[:, 0] > 0)
Y_REG = X_DENSE @ RNG.normal(size=300) + 0.1


def network(backend, dtype="float64"):
    return fastnet.Network([300, 12, 3], activation="relu", output_activation="softmax", loss="cross_entropy",
                           init="he", backend=backend, dtype=dtype, seed=4)


@pytest.mark.parametrize("optimizer,batch_size", [("gd", None), ("adam", 16)], ids=["full batch gd", "adam batches"])
def test_a_sparse_fit_equals_the_dense_fit_on_every_backend(backend, optimizer, batch_size):
    epochs = 2 if backend == "python" else 15
    Y = fastnet.one_hot(Y_CLASS, 3)
    dense, sparse = network(backend), network(backend)
    dense_costs = dense.fit(X_DENSE, Y, epochs=epochs, lr=0.05, optimizer=optimizer, batch_size=batch_size)
    sparse_costs = sparse.fit(sp.csr_matrix(X_DENSE), Y, epochs=epochs, lr=0.05, optimizer=optimizer,
                              batch_size=batch_size)
    np.testing.assert_allclose(sparse_costs, dense_costs, rtol=1e-12)
    assert dense_costs[-1] < dense_costs[0]  # it trained
    for a, b in zip(sparse.get_params()[0], dense.get_params()[0]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sparse.forward(sp.csr_matrix(X_DENSE)), dense.forward(X_DENSE), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("fmt", ["csc", "coo", "csr_array"])
def test_other_sparse_formats_are_read_as_rows(fmt):
    X = sp.csr_array(X_DENSE) if fmt == "csr_array" else sp.csr_matrix(X_DENSE).asformat(fmt)
    net = network("numpy")
    np.testing.assert_allclose(net.forward(X), net.forward(X_DENSE), rtol=1e-12, atol=1e-15)


def test_duplicate_and_unsorted_entries_count_as_scipy_counts_them(backend):
    # Row 0 holds column 5 twice (summed) and its columns out of order; row 1 is empty.
    X = sp.csr_matrix((np.array([1.0, 2.0, 0.5, 3.0]), np.array([5, 2, 5, 299]), np.array([0, 3, 3, 4])),
                      shape=(3, 300))
    assert not X.has_canonical_format
    net = network(backend)
    expected = net.forward(X.toarray())
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12, atol=1e-15)
    Y = fastnet.one_hot(np.array([0, 1, 2]), 3)
    np.testing.assert_allclose(net.backprop(X, Y)[1][0][0], net.backprop(X.toarray(), Y)[1][0][0], rtol=1e-12)


def test_float32_sparse_input_trains_in_float32():
    net = network("fused", "float32")
    net.fit(sp.csr_matrix(X_DENSE), fastnet.one_hot(Y_CLASS, 3), epochs=3, lr=0.05)
    out = net.forward(sp.csr_matrix(X_DENSE))
    assert out.dtype == np.float32 and net.weights[0].dtype == np.float32


@pytest.mark.parametrize("backend_name", ["numpy", "fused"])
def test_a_100000_column_matrix_is_never_made_dense(backend_name, monkeypatch):
    if backend_name == "fused":
        pytest.importorskip("numba")
    n_rows, n_cols = 400, 100_000
    X = sp.random(n_rows, n_cols, density=2e-4, format="csr", random_state=0)
    y = (X[:, : n_cols // 2].sum(axis=1).A1 > X[:, n_cols // 2 :].sum(axis=1).A1).astype(int)
    net = fastnet.Network([n_cols, 8, 2], activation="relu", output_activation="softmax", loss="cross_entropy",
                          init="he", backend=backend_name, seed=0)
    net.fit(X[:8], fastnet.one_hot(y[:8], 2), epochs=1, lr=0.1, batch_size=4)  # compile fused's kernels first

    def refuse(*args, **kwargs):
        raise AssertionError("the sparse input was made dense")

    for cls in (sp.csr_matrix, sp.csc_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
    tracemalloc.start()
    try:
        costs = net.fit(X, fastnet.one_hot(y, 2), epochs=5, lr=0.1, batch_size=100, optimizer="adam")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    dense_bytes = n_rows * n_cols * 8
    weights_bytes = 8 * n_cols * 8  # W0, and as much again for each of its copies
    assert peak < dense_bytes / 2, f"peak {peak / 2**20:.0f} MiB; dense X is {dense_bytes / 2**20:.0f} MiB"
    assert peak < 12 * weights_bytes  # parameters, gradient, Adam's two moments, a snapshot, temporaries
    assert costs[-1] < costs[0]


def test_bad_sparse_input_is_refused_by_name():
    net = network("numpy")
    bad = sp.csr_matrix(X_DENSE)
    bad.data[5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        net.forward(bad)
    with pytest.raises(ValueError, match=r"X has 299 columns .* expects 300"):
        net.forward(sp.csr_matrix(X_DENSE[:, :299]))
    with pytest.raises(ValueError, match="X is empty"):
        net.forward(sp.csr_matrix((0, 300)))
    before = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match="NaN or Inf"):
        net.fit(bad, fastnet.one_hot(Y_CLASS, 3), epochs=2, lr=0.1)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))  # nothing changed


def test_a_sparse_checkpoint_resumes_exactly_and_only_on_the_same_data(tmp_path):
    X, Y = sp.csr_matrix(X_DENSE), fastnet.one_hot(Y_CLASS, 3)
    whole = network("numpy")
    whole.fit(X, Y, epochs=10, lr=0.05, optimizer="adam", batch_size=32)
    first = network("numpy")
    first.fit(X, Y, epochs=4, lr=0.05, optimizer="adam", batch_size=32, checkpoint=tmp_path / "run.ckpt")
    resumed = network("numpy")
    resumed.fit(X, Y, epochs=10, lr=0.05, optimizer="adam", batch_size=32, resume=tmp_path / "run.ckpt")
    assert resumed.history == whole.history
    other = X.copy()
    other.data[0] += 1.0
    with pytest.raises(ValueError, match="data"):
        network("numpy").fit(other, Y, epochs=10, lr=0.05, optimizer="adam", batch_size=32,
                             resume=tmp_path / "run.ckpt")


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_the_classifier_gives_the_dense_results_for_sparse_input(fmt):
    X = sp.csr_matrix(X_DENSE).asformat(fmt)
    settings = dict(hidden_layer_sizes=(10,), max_iter=20, random_state=0, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = FastNetClassifier(**settings).fit(X_DENSE, Y_CLASS)
        sparse = FastNetClassifier(**settings).fit(X, Y_CLASS)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X_DENSE), rtol=1e-10, atol=1e-14)
    assert (sparse.predict(X) == dense.predict(X_DENSE)).all()
    assert sparse.score(X, Y_CLASS) == dense.score(X_DENSE, Y_CLASS) > 0.5
    sparse.partial_fit(X, Y_CLASS)
    dense.partial_fit(X_DENSE, Y_CLASS)
    np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_the_regressor_gives_the_dense_results_for_sparse_input(fmt):
    X = sp.csr_matrix(X_DENSE).asformat(fmt)
    settings = dict(hidden_layer_sizes=(10,), max_iter=15, random_state=0, early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = FastNetRegressor(**settings).fit(X_DENSE, Y_REG)
        sparse = FastNetRegressor(**settings).fit(X, Y_REG)
        first = FastNetRegressor(hidden_layer_sizes=(10,), random_state=0).partial_fit(X, Y_REG)
        first_dense = FastNetRegressor(hidden_layer_sizes=(10,), random_state=0).partial_fit(X_DENSE, Y_REG)
    np.testing.assert_allclose(sparse.validation_scores_, dense.validation_scores_, rtol=1e-10)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X_DENSE), rtol=1e-10)
    assert sparse.score(X, Y_REG) == pytest.approx(dense.score(X_DENSE, Y_REG), rel=1e-10)
    np.testing.assert_allclose(first.predict(X), first_dense.predict(X_DENSE), rtol=1e-10)


def test_sparse_input_trains_as_scikit_learns_mlp_does_number_for_number():
    X = sp.csr_matrix(X_DENSE)
    ours = FastNetClassifier(optimizer="sgd", learning_rate=0.01, max_iter=10, random_state=0)
    theirs = MLPClassifier(solver="sgd", momentum=0, learning_rate_init=0.01, max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, Y_CLASS)
        theirs.fit(X, Y_CLASS)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("density, scipy_path", [(0.03, False), (0.5, True)], ids=["loops", "scipy"])
def test_fused_takes_its_loops_or_scipys_product_by_non_zeros_per_column_and_both_equal_dense(
        monkeypatch, density, scipy_path):
    pytest.importorskip("numba")
    from fastnet.backends.reference import Ops

    calls = []
    base = Ops.sparse_dense
    monkeypatch.setattr(Ops, "sparse_dense", lambda self, *a: calls.append(1) or base(self, *a))
    X = sp.random(120, 300, density=density, format="csr", random_state=3) * 4.0  # 9 or 150 a row
    Y = fastnet.one_hot(Y_CLASS, 3)
    dense, sparse = network("fused"), network("fused")
    np.testing.assert_allclose(sparse.fit(X, Y, epochs=5, lr=0.05), dense.fit(X.toarray(), Y, epochs=5, lr=0.05),
                               rtol=1e-12)
    for a, b in zip(sparse.get_params()[0], dense.get_params()[0]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert bool(calls) == scipy_path  # 3.6 non-zeros a column: the loops; 60: SciPy's product
