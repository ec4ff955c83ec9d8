"""``fastnet train --drop COLUMN``: a column of the data file (an id) left out of the features, and of predict's."""

import numpy as np
import pytest

import fastnet
from fastnet.cli import main
from fastnet.model_file import read_archive


@pytest.fixture
def with_id(tmp_path):
    """Two blobs with string labels, an 'id' column first (the row number, which a model must not learn from),
    and the same table without it."""
    rng = np.random.default_rng(0)
    rows = []
    for label, centre in (("small", -2.0), ("large", 2.0)):
        rows += [(label, *rng.normal(centre, 0.7, size=3)) for _ in range(40)]
    with_id, without = tmp_path / "with_id.csv", tmp_path / "without.csv"
    with_id.write_text("id,a,b,c,size\n" + "".join(f"{i},{a:.4f},{b:.4f},{c:.4f},{label}\n"
                                                    for i, (label, a, b, c) in enumerate(rows)))
    without.write_text("a,b,c,size\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{label}\n" for label, a, b, c in rows))
    return with_id, without


def _train(data, model, *extra):
    return main(["train", "--data", str(data), "--layers", "3-6-2", "--backend", "numpy", "--epochs", "40",
                 "--save", str(model), "--quiet", *extra])


def test_a_dropped_column_is_not_a_feature_and_predict_leaves_it_out(tmp_path, with_id, capsys):
    with_id_csv, without_csv = with_id
    assert _train(with_id_csv, tmp_path / "dropped.npz", "--drop", "id") == 0
    assert _train(without_csv, tmp_path / "plain.npz") == 0
    dropped, plain = fastnet.load(tmp_path / "dropped.npz"), fastnet.load(tmp_path / "plain.npz")
    # the same rows, split and scaled alike: the same network to the bit
    assert list(dropped.layers) == [3, 6, 2]
    for a, b in zip(dropped.weights + dropped.biases, plain.weights + plain.biases):
        np.testing.assert_array_equal(a, b)
    assert read_archive(tmp_path / "dropped.npz")[0]["features"] == ["a", "b", "c"]
    capsys.readouterr()
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(tmp_path / "dropped.npz"), str(with_id_csv), "--keep", "id", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "id,prediction" and [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(80)]
    truth = [line.split(",")[-1] for line in with_id_csv.read_text().splitlines()[1:]]
    assert sum(line.split(",")[1] == t for line, t in zip(lines[1:], truth)) >= 76


@pytest.mark.parametrize("extra, message", [
    (["--drop", "idd"], "--drop 'idd': '{data}' has no such column (closest: 'id')"),
    (["--drop", "ID"], "--drop 'ID': '{data}' has no such column (closest: 'id')"),
    (["--drop", "size"], "--drop 'size' is the target column"),
    (["--drop", "id", "--drop", "a", "--drop", "b", "--drop", "c"], "--drop leaves '{data}' no feature columns"),
])
def test_a_wrong_drop_is_one_clear_error_and_writes_nothing(tmp_path, with_id, capsys, extra, message):
    data = with_id[0]
    assert _train(data, tmp_path / "model.npz", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastnet: error: ") and err.count("\n") == 1 and message.format(data=data) in err, err
    assert not (tmp_path / "model.npz").exists()


def test_drop_needs_a_table_with_column_names(tmp_path, capsys):
    assert main(["train", "--drop", "id", "--epochs", "2"]) == 2
    assert "--drop names columns of a --data file" in capsys.readouterr().err
    npz = tmp_path / "data.npz"
    np.savez(npz, X=np.random.default_rng(0).normal(size=(20, 3)), y=np.arange(20) % 2)
    assert main(["train", "--data", str(npz), "--drop", "id", "--epochs", "2"]) == 2
    assert "is an .npz file, whose X has no column names" in capsys.readouterr().err
