"""The command line's messages as a new user meets them: one line, in the command line's own words."""

import numpy as np
import pytest

from fastnet.cli import main

pytestmark = pytest.mark.slow  # trains small models through the command line; CI runs them


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A 3-class CSV, a tutorial-recipe model (10 sigmoids + MSE: no probabilities) and a softmax model of it."""
    folder = tmp_path_factory.mktemp("messages")
    rng = np.random.default_rng(1)
    lines = ["a,b,label"] + [f"{x:.4f},{y:.4f},{'ab'[int(x > 0)] + 'cd'[int(y > 0)]}" for x, y in rng.normal(size=(80, 2))]
    (folder / "f.csv").write_text("\n".join(lines) + "\n")
    for recipe, name in (("tutorial", "sigmoids.npz"), ("softmax", "softmax.npz")):
        assert main(["train", "--data", str(folder / "f.csv"), "--epochs", "30", "--quiet", "--backend", "numpy",
                     "--recipe", recipe, "--save", str(folder / name)]) == 0
    return folder


def test_proba_of_a_model_whose_outputs_are_no_distribution_is_refused_saying_why(folder, capsys):
    capsys.readouterr()
    assert main(["predict", str(folder / "sigmoids.npz"), str(folder / "f.csv"), "--proba"]) == 2
    err = capsys.readouterr().err
    assert "do not sum to 1" in err and "--recipe softmax" in err and len(err.strip().splitlines()) == 1


def test_proba_rows_of_a_softmax_model_sum_to_one(folder, capsys):
    capsys.readouterr()
    assert main(["predict", str(folder / "softmax.npz"), str(folder / "f.csv"), "--proba"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 81  # the header and exactly one row per input row
    proba = np.array([[float(v) for v in row.split(",")[1:]] for row in rows[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_predict_honours_fastnet_backend(folder, capsys, monkeypatch):
    monkeypatch.setenv("FASTNET_BACKEND", "no-such-backend")
    capsys.readouterr()
    assert main(["predict", str(folder / "softmax.npz"), str(folder / "f.csv")]) == 2
    assert "FASTNET_BACKEND='no-such-backend' (from the environment)" in capsys.readouterr().err
    monkeypatch.setenv("FASTNET_BACKEND", "python")
    assert main(["predict", str(folder / "softmax.npz"), str(folder / "f.csv")]) == 0


@pytest.mark.parametrize("argv, says", [
    (["train", "--lr", "abc"], "fastnet train: error: argument --lr: invalid float value: 'abc' (see: fastnet train --help)"),
    (["predict"], "the following arguments are required: MODEL, FILE (see: fastnet predict --help)"),
    (["nonsense"], "invalid choice: 'nonsense'"),
])
def test_a_usage_error_is_one_line_and_a_pointer_to_help(argv, says, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and "usage:" not in err


@pytest.mark.parametrize("changed, named", [(["--seed", "3"], "training rows (--data, --drop, --seed, --test-size"), (["--lr", "0.01"], "--lr")])
def test_a_resume_with_a_changed_flag_names_the_flag(folder, tmp_path, capsys, changed, named):
    common = ["train", "--data", str(folder / "f.csv"), "--quiet", "--backend", "numpy"]
    assert main(common + ["--epochs", "10", "--checkpoint", str(tmp_path / "run.ckpt")]) == 0
    capsys.readouterr()
    assert main(common + ["--epochs", "20", "--resume", str(tmp_path / "run.ckpt")] + changed) == 2
    err = capsys.readouterr().err.strip()
    assert f"written with other {named}" in err and "data_crc" not in err and len(err.splitlines()) == 1


def test_a_file_with_other_columns_than_the_model_expects_says_so_before_reading_values(tmp_path, capsys):
    assert main(["train", "--epochs", "3", "--quiet", "--backend", "numpy", "--save", str(tmp_path / "digits.npz")]) == 0
    (tmp_path / "other.csv").write_text("id,a,b,c\nx1,1,2,3\nx2,4,5,6\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "digits.npz"), str(tmp_path / "other.csv")]) == 2
    err = capsys.readouterr().err
    assert "the model expects 64 features" in err and "has 4 columns (id, a, b, c)" in err and "--target" not in err
