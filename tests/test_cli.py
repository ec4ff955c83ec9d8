"""The ``fastnet`` command: training on digits and on files, predict, info, tutorial, errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastnet
from fastnet.backends import backend_status
from fastnet.cli import main
from fastnet.cli.progress import ProgressBar
from fastnet.tuning import TUNING, available_cores

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips


def fastnet_cmd(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastnet", *argv], capture_output=True, text=True, **kwargs)


@pytest.fixture
def flowers_csv(tmp_path):
    """Three well separated blobs with string labels in a 'species' column that is not last."""
    rng = np.random.default_rng(0)
    path = tmp_path / "flowers.csv"
    lines = ["length,species,width,depth"]
    for label, centre in (("setosa", -3.0), ("versicolor", 0.0), ("virginica", 3.0)):
        for _ in range(40):
            a, b, c = rng.normal(centre, 0.5, size=3)
            lines.append(f"{a:.4f},{label},{b:.4f},{c:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_on_digits_prints_backend_time_cost_and_accuracies(capsys):
    assert main(["train", "--epochs", "200", "--backend", "numpy", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "backend: numpy" in out and "time:" in out and "final cost:" in out
    assert float(out.split("train accuracy:")[1].split()[0]) > 0.95
    assert float(out.split("test accuracy:")[1].split()[0]) > 0.9


def test_train_tutorial_recipe_on_a_loops_backend(capsys):
    assert main(["train", "--recipe", "tutorial", "--epochs", "2", "--backend", "numba", "--layers", "64-10"]) == 0
    assert "backend: numba" in capsys.readouterr().out


def test_train_csv_save_and_predict_round_trip(tmp_path, flowers_csv, capsys):
    model = tmp_path / "flowers.npz"
    argv = ["train", "--data", str(flowers_csv), "--target", "species", "--layers", "3-8-3", "--optimizer", "adam",
            "--lr", "0.05", "--epochs", "100", "--save", str(model), "--plot", str(tmp_path / "cost.png"), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 classes" in out and float(out.split("test accuracy:")[1].split()[0]) == 1.0
    assert (tmp_path / "cost.png").stat().st_size > 10_000
    out_file = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(flowers_csv), "--target", "species", "-o", str(out_file)]) == 0
    predicted = out_file.read_text().split()
    assert predicted[0] == "prediction"
    expected = [line.split(",")[1] for line in flowers_csv.read_text().split()[1:]]
    assert predicted[1:] == expected


def test_predict_picks_the_trained_feature_columns_by_name(tmp_path, flowers_csv, capsys):
    model = tmp_path / "flowers.npz"
    assert main(["train", "--data", str(flowers_csv), "--target", "species", "--layers", "3-8-3", "--optimizer",
                 "adam", "--lr", "0.05", "--epochs", "100", "--save", str(model), "--quiet"]) == 0
    capsys.readouterr()
    rows = [line.split(",") for line in flowers_csv.read_text().split()]
    species = [r[1] for r in rows[1:]]

    # The training file itself, label column included, with no --target.
    assert main(["predict", str(model), str(flowers_csv)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split()[1:] == species
    assert "left out columns the model was not trained on: species" in captured.err

    # Columns in another order, an extra id column, no labels: the same predictions.
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("id,depth,width,length\n" + "".join(
        f"{i},{r[3]},{r[2]},{r[0]}\n" for i, r in enumerate(rows[1:])))
    assert main(["predict", str(model), str(shuffled)]) == 0
    assert capsys.readouterr().out.split()[1:] == species

    # Names the model does not know: never by position unless asked; the error names what is missing.
    other = tmp_path / "other.csv"
    other.write_text("a,b,c,d\n1,2,3,4\n")
    assert main(["predict", str(model), str(other)]) == 2
    err = capsys.readouterr().err
    assert "lacks the columns the model was trained on: 'length', 'width', 'depth'" in err and "--by-position" in err
    assert main(["predict", str(model), str(other), "--by-position"]) == 2  # 4 columns for 3 inputs
    assert "has 4 feature columns but the model expects 3" in capsys.readouterr().err


def test_train_npz_data_and_predict_to_stdout(tmp_path, capsys):
    digits = fastnet.datasets.load_digits(scale=False)
    np.savez(tmp_path / "d.npz", X=digits.X_train, y=digits.y_train + 10)  # labels 10..19
    np.savez(tmp_path / "new.npz", X=digits.X_test[:20])
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "300", "--save", str(tmp_path / "m.npz"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "new.npz")]) == 0
    labels = np.array(capsys.readouterr().out.split()[1:], dtype=int)
    assert labels.min() >= 10 and np.mean(labels == digits.y_test[:20] + 10) >= 0.8


def test_predictions_to_stdout_are_written_in_blocks_and_equal_the_file(tmp_path, capsys, monkeypatch):
    """Rows go to stdout in blocks of STDOUT_ROWS (a line-buffered stdout wrote each row apart); every row arrives."""
    from fastnet.cli import predict

    monkeypatch.setattr(predict, "STDOUT_ROWS", 7)
    writes = []
    real_write = sys.stdout.write
    monkeypatch.setattr(sys.stdout, "write", lambda text: writes.append(text) or real_write(text))
    columns = [np.arange(30), np.linspace(0, 1, 30)]
    predict._write(None, ["label", "p"], columns)
    predict._write(str(tmp_path / "p.csv"), ["label", "p"], columns)
    assert capsys.readouterr().out == (tmp_path / "p.csv").read_text()
    assert len(writes) == 5  # the header with 7 rows, then 7, 7, 7 and 2


def test_progress_bar_shows_epoch_cost_and_rate_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with ProgressBar(50) as bar:
        assert bar.enabled
        net = fastnet.Network([2, 3, 1], seed=0)
        net.fit(np.eye(2), np.array([0.0, 1.0]), epochs=50, lr=0.1, callback=bar)
    err = capsys.readouterr().err
    assert "50/50" in err and "epoch/s" in err and "cost=" in err


def test_progress_bar_is_silent_when_quiet_or_not_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert not ProgressBar(5, quiet=True).enabled
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not ProgressBar(5).enabled
    assert capsys.readouterr().err == ""


def test_ctrl_c_stops_training_saves_the_model_and_exits_130(tmp_path):
    model = tmp_path / "partial.npz"
    # Without PYTHONUNBUFFERED, as in a user's shell: the lines must come through the pipe as printed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "fastnet", "train", "--epochs", "10000000", "--save", str(model)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert "data:" in proc.stdout.readline() + proc.stdout.readline()
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted after" in err and "Traceback" not in err
    net = fastnet.load(model)
    assert net.layers == (64, 30, 10) and all(np.isfinite(w).all() for w in net.get_params()[0])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped one, as CPython drops it
def test_a_ctrl_c_that_the_compiler_swallowed_stops_training_before_it_starts(monkeypatch, capsys):
    # Numba compiles through ctypes callbacks, and CPython drops an exception raised inside
    # one: a Ctrl-C landing there must still stop the command before its epochs, not after.
    import ctypes

    from fastnet.cli import train

    def compile_swallowing_a_ctrl_c(*args):
        def callback():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, inside the callback, and its KeyboardInterrupt is dropped

        ctypes.CFUNCTYPE(None)(callback)()
        return 0.0

    monkeypatch.setattr(train, "_compile_once", compile_swallowing_a_ctrl_c)
    assert main(["train", "--epochs", "200", "--backend", "numpy"]) == 130
    assert "interrupted after 0 epochs" in capsys.readouterr().err


def test_info_lists_every_backend_gpu_and_versions(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for text in ("python  ", "numba  ", "numpy  ", "cupy  ", "auto ", "gpu:", "numpy: ", "sklearn: ", "fastnet: 0."):
        assert text in out
    blas = next(line for line in out.splitlines() if line.startswith("numpy's blas: "))
    assert "threads" in blas and "unknown" not in blas  # threadpoolctl comes with scikit-learn
    assert next(line for line in out.splitlines() if line.startswith("cpu: ")).count("logical cores") == 1
    if backend_status("fused")[0]:
        fused = next(line for line in out.splitlines() if line.startswith("fused layers: "))
        import numba

        one_thread = min(numba.config.NUMBA_NUM_THREADS, available_cores()) < 2 or os.environ.get("FASTNET_ROW_PARALLEL") == "0"
        assert ("serial, on one thread (" if one_thread else "row-parallel on up to") in fused
    tuning = out.splitlines()[out.splitlines().index(next(l for l in out.splitlines() if l.startswith("tuning ")))+1:]
    assert any(line.startswith(f"  small_sigmoid = {TUNING.small_sigmoid:,}  (python -m bench.tuning ") for line in tuning) and any(line.startswith("  cores available = ") for line in tuning)


@pytest.mark.parametrize("env,reason", [
    (dict(FASTNET_ROW_PARALLEL="0"), "turned off by FASTNET_ROW_PARALLEL=0"),
    (dict(NUMBA_NUM_THREADS="1"), "one core or one Numba thread to run on"),
])
def test_info_says_fused_runs_on_one_thread_where_the_rows_are_not_split(env, reason):
    """Not "row-parallel on up to 1 threads": the split's reasons that need no parallel launch, said as they are."""
    if not backend_status("fused")[0]:
        pytest.skip(f"fused is not usable here: {backend_status('fused')[1]}")
    out = subprocess.run([sys.executable, "-m", "fastnet", "info"], env=dict(os.environ, **env), capture_output=True,
                         text=True, check=True).stdout
    assert f"fused layers: serial, on one thread ({reason})" in out.splitlines()


def test_tutorial_command_prints_the_documented_result(capsys):
    assert main(["tutorial", "gradient-descent"]) == 0
    assert "2.2500325" in capsys.readouterr().out


def test_bench_command_runs_the_suite_from_the_checkout(tmp_path):
    result = fastnet_cmd("bench", "--quick", "-k", "forward_one_vector and 3-3-1 and not plain", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "forward 3-3-1" in result.stdout and (tmp_path / "report.md").exists()


def bad_cli_inputs(tmp):
    def write(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    good = write("good.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    model = os.path.join(tmp, "model.npz")
    fastnet.Network([2, 3, 2]).save(model)
    return [
        (["train", "--backend", "nope"], "unknown backend 'nope'"),
        (["train", "--lr", "-1", "--epochs", "2"], "--lr must be a positive number"),
        (["train", "--epochs", "0"], "--epochs must be a positive integer"),
        (["train", "--activation", "swish"], "--activation 'swish' is not one of: identity, sigmoid"),
        (["train", "--loss", "hinge"], "--loss 'hinge' is not one of"),
        (["train", "--optimizer", "lbfgs"], "--optimizer 'lbfgs' is not one of"),
        (["train", "--init", "zeros"], "--init 'zeros' is not one of"),
        (["train", "--dtype", "float16"], "--dtype 'float16' is not one of: float64, float32"),
        (["train", "--layers", "64-30-7"], "must start with the 64 features and end with the 10 classes"),
        (["train", "--layers", "64-0-10"], "positive integers"),
        (["train", "--data", os.path.join(tmp, "missing.csv")], "no data file"),
        (["train", "--data", good, "--target", "colour"], "no column 'colour'"),
        (["train", "--data", write("text.csv", "a,b,label\n1,abc,x\n3,4,y\n")], "'abc' is not a number"),
        (["train", "--data", write("ragged.csv", "a,b,label\n1,2\n")], "line 2 has 2 fields"),
        (["train", "--data", write("nan.csv", "a,b,label\n1,nan,x\n3,4,y\n")], "line 2, column 'b': the value is missing"),
        (["train", "--data", write("cont.csv", "a,b,t\n1,2,0.5\n3,4,1.5\n")], "looks continuous"),
        (["train", "--data", write("one.csv", "a,b,label\n1,2,x\n3,4,x\n")], "single class"),
        (["train", "--data", write("empty.csv", "a,b,label\n")], "at least one data row"),
        (["train", "--data", write("bin.npz", "not a zip")], "not a readable .npz"),
        (["train", "--data", good, "--test-size", "1.5"], "--test-size"),
        (["train", "--checkpoint-every", "5"], "--checkpoint-every needs --checkpoint PATH"),
        (["train", "--resume", os.path.join(tmp, "none.ckpt")], "no model file"),
        (["predict", os.path.join(tmp, "none.npz"), good], "no model file"),
        (["predict", good, good], "is not a fastnet model: models are .npz files"),
        (["predict", model, write("three.csv", "a,b,c\n1,2,3\n")], "has 3 feature columns but the model expects 2; pass --target"),
        (["tutorial", "backprop"], "unknown tutorial 'backprop'"),
    ]


def test_bad_cli_input_prints_one_clear_line_and_exits_2(tmp_path, capsys):
    for argv, message in bad_cli_inputs(str(tmp_path)):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("fastnet: error: ") and err.count("\n") == 1, (argv, err)
        assert message in err, (argv, err)


@pytest.mark.parametrize("argv,message", [(["train", "--backend", "nope"], "unknown backend 'nope'"),
                                          (["predict", "missing.npz", "x.csv"], "no model file")])
def test_the_installed_command_prints_no_traceback(tmp_path, argv, message):
    result = fastnet_cmd(*argv, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
