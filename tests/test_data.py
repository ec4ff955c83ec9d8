"""one_hot and the digits loader."""

import numpy as np
import pytest

import fastnet


def test_one_hot_places_a_single_one_per_row():
    Y = fastnet.one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert fastnet.one_hot([1, 3]).shape == (2, 4)


@pytest.mark.parametrize("y,n,message", [([0, 3], 3, "0..2"), ([-1, 0], 2, "0..1"), ([0.5, 1], 2, "integer"), ([[0, 1]], 2, "1-D")])
def test_one_hot_rejects_bad_labels(y, n, message):
    with pytest.raises(ValueError, match=message):
        fastnet.one_hot(y, n)


def test_digits_split_is_standardised_and_sized_as_the_tutorial(digits):
    X_train, X_test, y_train, y_test = digits
    assert X_train.shape == (1078, 64) and X_test.shape == (719, 64)
    assert set(np.unique(y_train)) == set(range(10))
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-12)
    std = X_train.std(axis=0)
    assert np.all((np.abs(std - 1.0) < 1e-12) | (std == 0.0))


def test_digits_split_depends_on_the_seed():
    a = fastnet.datasets.load_digits(seed=0)
    b = fastnet.datasets.load_digits(seed=1)
    assert not np.array_equal(a.y_test, b.y_test)
    np.testing.assert_array_equal(a.y_test, fastnet.datasets.load_digits(seed=0).y_test)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fastnet.datasets.load_digits(test_size=1.5)


def test_load_table_reads_named_feature_columns_in_the_order_given(tmp_path):
    from fastnet.data_files import csv_columns, load_table

    path = tmp_path / "t.csv"
    path.write_text("\n  \nb,label,a\n1.5,x,2\n3,y,4.25\n")  # a blank line before the header is skipped
    assert csv_columns(str(path)) == ["b", "label", "a"]
    X, y = load_table(str(path), features=["a", "b"], require_target=False)
    np.testing.assert_array_equal(X, [[2.0, 1.5], [4.25, 3.0]])
    assert y is None
    with pytest.raises(ValueError, match="lacks the feature columns c, d; columns: b, label, a"):
        load_table(str(path), features=["a", "c", "d"], require_target=False)
    assert csv_columns(str(tmp_path / "m.npz")) is None
