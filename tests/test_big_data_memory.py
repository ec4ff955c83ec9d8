"""A big data set is held once: the split, the scaler, the finiteness check and a forward pass over every row
add only small blocks beside it, and give what the whole-array versions give.

The figure for the whole ``fastnet train`` run is bench/read_table.py's (2.92-2.94x
the file for 200,000 rows on fused); here each step is held to its own bound with
tracemalloc, and the modules that would add a fixed cost are held out of a run.
"""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

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
def test_the_split_in_place_holds_out_a_random_share_as_views_of_x_and_copies_no_rows(stratified, monkeypatch):
    monkeypatch.setattr(datasets, "BLOCK_ROWS", 1000)  # 21 blocks
    rng = np.random.default_rng(1)
    n = 20_333
    X = rng.normal(size=(n, 40))
    X[:, 0] = np.arange(n)  # each row's number, to see where it went
    y = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    original_X, original_y = X.copy(), y.copy()
    split, peak = peak_bytes(lambda: datasets.split_in_place(X, y, 0.25, 5, y if stratified else None))
    X_train, X_test, y_train, y_test = split
    assert len(X_test) == len(y_test) == np.ceil(0.25 * n)
    assert np.shares_memory(X_train, X) and np.shares_memory(X_test, X)  # views, no copy
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]).astype(int)
    assert np.array_equal(np.sort(rows), np.arange(n))  # every row once, whole, with its label
    assert np.array_equal(X_train, original_X[X_train[:, 0].astype(int)])
    assert np.array_equal(y_train, original_y[X_train[:, 0].astype(int)])
    assert np.array_equal(y_test, original_y[X_test[:, 0].astype(int)])
    assert np.array_equal(y, original_y)  # y itself is left as it was
    # Random rows, not the file's tail: a quarter of each half of the file is held out.
    first_half = np.mean(X_test[:, 0] < n / 2)
    assert 0.45 < first_half < 0.55
    if stratified:  # each class holds out its share, to a row
        for label in range(3):
            assert abs(np.sum(y_test == label) - 0.25 * np.sum(y == label)) <= 1
    # A block of rows each way, the row numbers and a mask; no side of X's size.
    assert peak < 0.2 * X.nbytes


def test_the_held_out_rows_follow_the_seed_and_a_class_of_one_row_stays_in_training():
    y = np.array([0] * 50 + [1] * 30 + [2])
    first = datasets.held_out_rows(len(y), 0.2, 7, stratify=y)
    assert np.array_equal(first, datasets.held_out_rows(len(y), 0.2, 7, stratify=y))
    assert not np.array_equal(first, datasets.held_out_rows(len(y), 0.2, 8, stratify=y))
    assert len(first) == 17  # ceil(0.2 * 81)
    assert 80 not in first  # the one row of class 2 is trained on
    # Shares 10.49, 6.30 and 0.21: rounded down to 10, 6 and 0, the one row left over goes to the largest remainder.
    assert (np.sum(y[first] == 0), np.sum(y[first] == 1)) == (11, 6)


@pytest.mark.parametrize("n, test_size, stratify, message", [
    (4, 0.9, None, "leaves none to train on"),
    (4, 0.0, None, "leaves none to test on"),
    (3, 0.5, [0, 1, 2], "no class has a row to spare for testing"),
])
def test_a_split_with_nothing_on_one_side_is_refused(n, test_size, stratify, message):
    with pytest.raises(ValueError, match=message):
        datasets.held_out_rows(n, test_size, 0, None if stratify is None else np.array(stratify))


def test_a_forward_pass_over_many_rows_goes_a_block_at_a_time_with_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(2)
    net = fastnet.Network([20, 16, 4], activation="tanh", output_activation="softmax", loss="cross_entropy",
                          init="xavier", seed=3)
    X = rng.normal(size=(1000, 20))
    whole, labels = net.forward(X), net.predict(X)
    monkeypatch.setattr(network, "FORWARD_BLOCK_VALUES", 20 * 64)  # 64 rows a block, the last one short
    monkeypatch.setattr(network, "FORWARD_MIN_BLOCK_ROWS", 1)
    fresh = fastnet.Network([20, 16, 4], activation="tanh", output_activation="softmax", loss="cross_entropy",
                            init="xavier", seed=3)
    (blocked, peak) = peak_bytes(lambda: fresh.forward(X))
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=1e-16)
    assert np.array_equal(fresh.predict(X), labels)
    assert np.array_equal(fresh.predict(sp.csr_matrix(X)), labels)  # sparse rows are sliced the same way
    # The outputs (a fifth of X's size) and two blocks' layers; all the rows' layers at once would be X's size.
    assert peak < X.nbytes / 2
    assert all("delta" not in vars(ws) for ws in fresh._workspaces.values())  # a forward pass needs no deltas


def test_a_wide_network_still_takes_blocks_of_hundreds_of_rows(monkeypatch):
    # 2,604 outputs a row would make blocks of 100 rows; each block reads the 20x2000 and
    # 2000x600 weights again, so a block has at least FORWARD_MIN_BLOCK_ROWS (512).
    net = fastnet.Network([20, 2000, 600, 4], activation="tanh", output_activation="softmax",
                          loss="cross_entropy", init="xavier", seed=3)
    assert network.FORWARD_BLOCK_VALUES // 2604 == 100 and net._block_rows() == network.FORWARD_MIN_BLOCK_ROWS == 512
    X = np.random.default_rng(4).normal(size=(1100, 20))
    blocks = []
    real = net._forward
    monkeypatch.setattr(net, "_forward", lambda rows, ws: blocks.append(rows.shape[0]) or real(rows, ws))
    out = net.forward(X)
    assert blocks == [512, 512, 76]
    np.testing.assert_allclose(out[:5], net.forward(X[:5]), rtol=1e-13)


def test_a_nan_in_a_late_block_is_still_found(monkeypatch):
    monkeypatch.setattr(validation, "FINITE_BLOCK", 1000)
    X = np.ones((500, 9))
    assert validation.all_finite(X)
    X[-1, -1] = np.nan
    assert not validation.all_finite(X)
    with pytest.raises(ValueError, match="NaN or Inf"):
        fastnet.Network([9, 2]).forward(X)


@pytest.mark.slow
def test_training_on_a_data_file_imports_no_scikit_learn(tmp_path):
    # Importing sklearn.model_selection for its split cost 60 MiB of a 116 MiB file's peak.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{'yes' if a > 0 else 'no'}" for a, b, c in X]
    (tmp_path / "f.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    code = ("import sys; from fastnet.cli import main; "
            "code = main(['train', '--data', sys.argv[1], '--backend', 'numpy', '--epochs', '5', '--quiet']); "
            "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "f.csv")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"
