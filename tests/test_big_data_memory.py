"""A big data set is held once: the split, the scaler, the finiteness check and a forward pass over every row
add only small blocks beside it, and give what the whole-array versions give.

The figure for the whole ``fastnet train`` run is bench/read_table.py's (2.96x the
file for 200,000 rows); here each step is held to its own bound with tracemalloc.
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

import fastnet
from fastnet import datasets, network, validation


def peak_bytes(run):
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_scaler_is_numpys_to_the_last_bit_with_blocks_of_rows_in_memory():
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        X = (rng.normal(size=(8 * datasets.BLOCK_ROWS + 17, 9)) * [1, 10, 1e3, 1e-3, 5, 7, 1, 1, 0]
             + 1e3).astype(dtype)
        (mean, std), peak = peak_bytes(lambda: datasets.scaler_stats(X))
        assert np.array_equal(mean, X.mean(axis=0))
        expected = X.std(axis=0)
        expected[expected == 0] = 1.0
        assert np.array_equal(std, expected) and std.dtype == dtype
        assert peak < 0.3 * X.nbytes  # numpy.std's temporary is X's size; here two blocks of eight


@pytest.mark.parametrize("stratified", [False, True])
def test_the_split_in_place_gives_each_side_train_test_splits_rows_and_copies_only_the_test_rows(stratified,
                                                                                                  monkeypatch):
    monkeypatch.setattr(datasets, "BLOCK_ROWS", 1000)  # 21 blocks
    rng = np.random.default_rng(1)
    n = 20_333
    X = rng.normal(size=(n, 40))
    X[:, 0] = np.arange(n)  # each row's number, to see where it went
    y = rng.integers(0, 3, n)
    stratify = y if stratified else None
    expected = train_test_split(X, y, test_size=0.25, random_state=5, stratify=stratify)
    split, peak = peak_bytes(lambda: datasets.split_in_place(X, y, 0.25, 5, stratify))
    X_train, X_test, y_train, y_test = split
    assert np.array_equal(X_test, expected[1]) and np.array_equal(y_test, expected[3])
    order = np.argsort(expected[0][:, 0])  # the training rows, in the file's order
    assert np.array_equal(X_train, expected[0][order]) and np.array_equal(y_train, expected[2][order])
    assert np.shares_memory(X_train, X)  # moved up in place, not copied
    # train_test_split copies both sides (X's size again); here the test rows (a
    # quarter), a block, and the row numbers of each side.
    assert peak < 0.45 * X.nbytes


def test_a_forward_pass_over_many_rows_goes_a_block_at_a_time_with_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(2)
    net = fastnet.Network([20, 16, 4], activation="tanh", output_activation="softmax", loss="cross_entropy",
                          init="xavier", seed=3)
    X = rng.normal(size=(1000, 20))
    whole, labels = net.forward(X), net.predict(X)
    monkeypatch.setattr(network, "FORWARD_BLOCK_VALUES", 20 * 64)  # 64 rows a block, the last one short
    fresh = fastnet.Network([20, 16, 4], activation="tanh", output_activation="softmax", loss="cross_entropy",
                            init="xavier", seed=3)
    (blocked, peak) = peak_bytes(lambda: fresh.forward(X))
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=1e-16)
    assert np.array_equal(fresh.predict(X), labels)
    assert np.array_equal(fresh.predict(sp.csr_matrix(X)), labels)  # sparse rows are sliced the same way
    # The outputs (a fifth of X's size) and two blocks' layers; all the rows' layers at once would be X's size.
    assert peak < X.nbytes / 2
    assert all("delta" not in vars(ws) for ws in fresh._workspaces.values())  # a forward pass needs no deltas


def test_a_nan_in_a_late_block_is_still_found(monkeypatch):
    monkeypatch.setattr(validation, "FINITE_BLOCK", 1000)
    X = np.ones((500, 9))
    assert validation.all_finite(X)
    X[-1, -1] = np.nan
    assert not validation.all_finite(X)
    with pytest.raises(ValueError, match="NaN or Inf"):
        fastnet.Network([9, 2]).forward(X)
