"""The ``fastnet`` command: the main job and its errors."""

import subprocess
import sys

import pytest

from fastnet.cli import main


def test_train_prints_backend_time_and_accuracies(capsys):
    assert main(["train", "--epochs", "200", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "backend: numpy" in out
    assert "time:" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.9  # 200 epochs of the softmax recipe


def test_train_tutorial_recipe_on_loops_backend(capsys):
    assert main(["train", "--recipe", "tutorial", "--epochs", "2", "--backend", "numba", "--layers", "64-10"]) == 0
    assert "backend: numba" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--backend", "nope"], "unknown backend 'nope'"),
        (["train", "--lr", "-1", "--epochs", "2"], "lr must be a positive number"),
        (["train", "--activation", "swish"], "unknown activation 'swish'"),
    ],
)
def test_bad_options_print_the_message_not_a_traceback(argv, message):
    result = subprocess.run([sys.executable, "-m", "fastnet", *argv], capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_info_lists_every_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("python", "numba", "numpy", "cupy", "auto"):
        assert name in out
