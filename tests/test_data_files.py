"""Messy tables, as users have them: read when they can be, named when they cannot, nothing lost in silence."""

import numpy as np
import pytest

from fastnet.data_files import TableOptions, load_table, read_column

IRIS_LIKE = [("5.1", "3.5", "setosa"), ("6.2", "2.9", "versicolor"), ("7.7", "3.0", "virginica"), ("5.0", "3.4", "setosa")]
X_WANT = np.array([[5.1, 3.5], [6.2, 2.9], [7.7, 3.0], [5.0, 3.4]])


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_commas_semicolons_and_tabs_are_read(tmp_path, sep):
    text = sep.join(["sepal length", "sepal width", "species"]) + "\n" + "\n".join(sep.join(r) for r in IRIS_LIKE)
    X, y = load_table(write(tmp_path, "f.csv", text + "\n"))
    np.testing.assert_array_equal(X, X_WANT)
    assert list(y) == ["setosa", "versicolor", "virginica", "setosa"]


def test_decimal_commas_with_semicolons_are_read(tmp_path):
    text = "a;b;species\n" + "\n".join(f"{a.replace('.', ',')};{b.replace('.', ',')};{s}" for a, b, s in IRIS_LIKE)
    X, _ = load_table(write(tmp_path, "f.csv", text))
    np.testing.assert_array_equal(X, X_WANT)


def test_a_file_that_is_not_utf8_is_named_with_the_fix_and_read_with_its_encoding(tmp_path):
    text = "taille,largeur,espèce\n" + "\n".join(",".join(r[:2]) + ",é" + r[2] for r in IRIS_LIKE)
    path = write(tmp_path, "latin.csv", text, encoding="latin-1")
    with pytest.raises(ValueError, match=r"is not utf-8 text .*re-save it as UTF-8, or pass its encoding with --encoding"):
        load_table(path)
    X, y = load_table(path, options=TableOptions(encoding="latin-1"))
    np.testing.assert_array_equal(X, X_WANT)
    assert y[0] == "ésetosa"


def test_a_repeated_column_name_is_refused_naming_it(tmp_path):
    text = "sepal_length,sepal_length,species\n" + "\n".join(",".join(r) for r in IRIS_LIKE)
    with pytest.raises(ValueError, match=r"names the column\(s\) 'sepal_length' more than once"):
        load_table(write(tmp_path, "f.csv", text))


def test_a_first_row_of_numbers_is_refused_unless_no_header_says_there_is_none(tmp_path):
    text = "\n".join(",".join((a, b, "1" if s == "setosa" else "0")) for a, b, s in IRIS_LIKE)
    path = write(tmp_path, "headless.csv", text)
    with pytest.raises(ValueError, match=r"first row of .* looks like data .*pass --no-header"):
        load_table(path)
    X, y = load_table(path, options=TableOptions(header=False))
    np.testing.assert_array_equal(X, X_WANT)  # all four rows: none became a header
    assert list(y) == [1, 0, 0, 1]


def test_a_short_row_is_named_by_its_line(tmp_path):
    text = "a,b,species\n5.1,3.5,setosa\n6.2,2.9\n"
    with pytest.raises(ValueError, match=r"line 3 has 2 fields, the header has 3"):
        load_table(write(tmp_path, "f.csv", text))


def test_a_long_row_is_named_by_its_line(tmp_path):
    text = "a,b,species\n5.1,3.5,setosa\n6.2,2.9,versicolor,extra\n"
    with pytest.raises(ValueError, match=r"line 3 has 4 fields, the header has 3"):
        load_table(write(tmp_path, "f.csv", text))


def test_a_missing_label_is_named(tmp_path):
    text = "a,b,species\n5.1,3.5,setosa\n6.2,2.9,\n7.7,3.0,virginica\n"
    with pytest.raises(ValueError, match=r"line 3: the label \(column 'species'\) is missing"):
        load_table(write(tmp_path, "f.csv", text))


def test_parquet_files_are_read(tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="parquet needs pyarrow (the test extra installs it)")
    frame = pandas.DataFrame({"a": X_WANT[:, 0], "b": X_WANT[:, 1], "species": [r[2] for r in IRIS_LIKE]})
    frame.to_parquet(tmp_path / "f.parquet")
    X, y = load_table(str(tmp_path / "f.parquet"))
    np.testing.assert_array_equal(X, X_WANT)
    assert list(y) == list(frame["species"])
    X[0, 0] = -1.0  # the caller's own matrix, which the command line standardises in place


def test_the_command_line_trains_on_a_parquet_file_and_predicts_from_it(tmp_path, capsys):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="parquet needs pyarrow (the test extra installs it)")
    from fastnet.cli import main

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    frame = pandas.DataFrame(X, columns=["a", "b", "c"]).assign(label=np.where(X[:, 0] > 0, "yes", "no"))
    frame.to_parquet(tmp_path / "f.parquet")
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tmp_path / "f.parquet"), "--backend", "numpy", "--epochs", "300", "--quiet",
                 "--save", str(model)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["predict", str(model), str(tmp_path / "f.parquet"), "-o", str(tmp_path / "p.csv")]) == 0
    predicted = pandas.read_csv(tmp_path / "p.csv")["prediction"]
    assert len(predicted) == 200 and (predicted == frame["label"]).mean() > 0.9


def test_a_kept_column_has_one_cell_per_data_row(tmp_path):
    text = "id;a;b;species\n" + "\n".join(f"r{i};" + ";".join(r) for i, r in enumerate(IRIS_LIKE)) + "\n\n"
    assert read_column(write(tmp_path, "f.csv", text), "id", "--keep") == ["r0", "r1", "r2", "r3"]


def test_a_file_whose_later_lines_are_shorter_than_its_first_is_read_whole(tmp_path):
    # The matrix is reserved from the shortest of the first lines; 50,000 short lines
    # after 2,000 long ones outnumber that, so it grows, and every row must still be read.
    long_rows = [f"{i / 7:.12f},{i / 3:.12f},{i / 9:.12f},1" for i in range(2000)]
    short_rows = [f"{i % 10},{i % 7},{i % 3},0" for i in range(50_000)]
    path = tmp_path / "grows.csv"
    path.write_text("a,b,c,label\n" + "\n".join(long_rows + short_rows) + "\n")
    X, y = load_table(str(path), "label")
    assert X.shape == (52_000, 3) and y.sum() == 2000
    assert X[1999, 0] == pytest.approx(1999 / 7) and list(X[-1]) == [49_999 % 10, 49_999 % 7, 49_999 % 3]


def test_lines_longer_than_the_first_read_still_reserve_a_sane_matrix(tmp_path):
    # 5,000 columns a line (over 64 KiB of text each): the reservation is read from whole
    # lines, not from a piece of one (which would have reserved millions of rows).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5000)).round(6)
    path = tmp_path / "wide.csv"
    header = ",".join(f"f{i}" for i in range(5000)) + ",label"
    path.write_text(header + "\n" + "\n".join(",".join(map(str, row)) + f",{i % 2}" for i, row in enumerate(X)) + "\n")
    from fastnet import data_files

    assert data_files._rows_to_reserve(str(path)) < 20
    got, y = load_table(str(path), "label")
    np.testing.assert_array_equal(got, X)
    assert list(y) == [0, 1, 0, 1, 0, 1]
