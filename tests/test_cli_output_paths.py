"""No command overwrites its own input, and a bad output path is named before any work is done."""

import os

import numpy as np
import pytest

from fastnet.cli import main

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A CSV, a model trained on it and a checkpoint, each with its bytes, to prove nothing was touched."""
    folder = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(0)
    lines = ["a,b,label"] + [f"{x:.4f},{y:.4f},{'yes' if x + y > 0 else 'no'}" for x, y in rng.normal(size=(60, 2))]
    (folder / "f.csv").write_text("\n".join(lines) + "\n")
    assert main(["train", "--data", str(folder / "f.csv"), "--epochs", "20", "--quiet", "--backend", "numpy",
                 "--save", str(folder / "model.npz"), "--checkpoint", str(folder / "run.ckpt")]) == 0
    return folder


def untouched(folder):
    return {name: (folder / name).read_bytes() for name in ("f.csv", "model.npz", "run.ckpt")}


@pytest.mark.parametrize("argv,flags", [
    (["train", "--data", "{f.csv}", "--save", "{f.csv}"], ("--save", "--data")),
    (["train", "--data", "{f.csv}", "--checkpoint", "{f.csv}"], ("--checkpoint", "--data")),
    (["train", "--data", "{f.csv}", "--resume", "{run.ckpt}", "--save", "{run.ckpt}", "--epochs", "30"],
     ("--save", "--resume")),
    (["train", "--data", "{f.csv}", "--save", "{new.npz}", "--checkpoint", "{new.npz}"], ("--save", "--checkpoint")),
    (["predict", "{model.npz}", "{f.csv}", "-o", "{f.csv}"], ("--output", "FILE")),
    (["predict", "{model.npz}", "{f.csv}", "-o", "{model.npz}"], ("--output", "MODEL")),
    (["predict", "{model.npz}", "{f.csv}", "-o", "{link.csv}"], ("--output", "FILE")),  # a symlink to f.csv
    (["predict", "{model.npz}", "{f.csv}", "-o", "{sub/../f.csv}"], ("--output", "FILE")),
])
def test_an_output_that_is_an_input_is_refused_naming_both_flags(files, capsys, argv, flags):
    if not (files / "link.csv").exists():
        (files / "link.csv").symlink_to(files / "f.csv")
        (files / "sub").mkdir()
    before = untouched(files)
    argv = [os.path.join(files, a[1:-1]) if a.startswith("{") else a for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("fastnet: error: ") and len(err.splitlines()) == 1, err
    assert all(flag in err for flag in flags), err
    assert "backend:" not in captured.out  # refused before training started
    assert untouched(files) == before
    assert not (files / "new.npz").exists()


def test_a_resumed_run_may_go_on_updating_its_own_checkpoint(files, tmp_path, capsys):
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes((files / "run.ckpt").read_bytes())
    assert main(["train", "--data", str(files / "f.csv"), "--epochs", "25", "--quiet", "--backend", "numpy",
                 "--resume", str(ckpt), "--checkpoint", str(ckpt)]) == 0
    assert ckpt.read_bytes() != (files / "run.ckpt").read_bytes()  # it moved on to epoch 25
    assert "resuming" in capsys.readouterr().out


def test_predict_names_a_folder_given_as_its_output(files, tmp_path, capsys):
    assert main(["predict", str(files / "model.npz"), str(files / "f.csv"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder; give a file name" in err and "--output" in err and "Errno" not in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into a read-only folder")
def test_predict_names_a_read_only_folder(files, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["predict", str(files / "model.npz"), str(files / "f.csv"), "-o", str(locked / "p.csv")]) == 2
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert "read-only" in err and "--output" in err and "Errno" not in err
