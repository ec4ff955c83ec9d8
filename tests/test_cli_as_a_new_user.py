"""The command line tried as a new user would: real CSV files, careless input, Ctrl-C and pipes.

Most cases run ``python -m fastnet`` in a subprocess, where exit codes, stderr and
the files left behind are what the user sees.
"""

import json
import os
import signal
import subprocess
import sys
import time

import matplotlib.figure
import numpy as np
import pytest

import fastnet
from bench import report
from fastnet.backends import backend_status, resolve_name
from fastnet.cli import main

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fastnet_cmd(*argv, env=None, cwd=ROOT, timeout=300):
    """Run the command as a user would; FASTNET_BACKEND only when ``env`` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "FASTNET_BACKEND"}
    return subprocess.run([sys.executable, "-m", "fastnet", *argv], capture_output=True, text=True,
                          env=dict(base, **(env or {})), cwd=cwd, timeout=timeout)


def started(*argv, env=None):
    """The command running, its output piped; without PYTHONUNBUFFERED, as in a user's shell."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen([sys.executable, "-m", "fastnet", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=dict(base, **(env or {})))


IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """An iris CSV, a model trained on it with its column names, and files a careless user would give."""
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("iris")
    data = load_iris()
    names = np.array(["setosa", "versicolor", "virginica"])[data.target]
    rows = [",".join(f"{v:g}" for v in x) + f",{n}" for x, n in zip(data.data, names)]
    (folder / "iris.csv").write_text(",".join(IRIS_COLUMNS + ["species"]) + "\n" + "\n".join(rows) + "\n")
    order = np.random.default_rng(0).permutation(len(rows))
    shuffled = ["petal_width,id,sepal_length,petal_length,sepal_width"]
    shuffled += [f"{data.data[i, 3]:g},{i},{data.data[i, 0]:g},{data.data[i, 2]:g},{data.data[i, 1]:g}" for i in order]
    (folder / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    typo = ["sepal_length,sepal_width,petal_length,petal_widht"] + [",".join(f"{v:g}" for v in x) for x in data.data]
    (folder / "typo.csv").write_text("\n".join(typo) + "\n")
    (folder / "abcd.csv").write_text("\n".join(["a,b,c,d"] + typo[1:]) + "\n")
    model = folder / "iris.npz"
    result = fastnet_cmd("train", "--data", str(folder / "iris.csv"), "--layers", "4-8-3", "--optimizer", "adam",
                         "--lr", "0.05", "--epochs", "200", "--quiet", "--save", str(model))
    assert result.returncode == 0, result.stderr
    return {"folder": folder, "model": model, "species": names, "order": order}


# -- 1. predict never matches columns silently by position ------------------------------
@pytest.mark.parametrize("file,missing,closest", [("typo.csv", "'petal_width'", "(closest: 'petal_widht')"),
                                                  ("abcd.csv", "'sepal_length', 'sepal_width'", "")])
def test_predict_stops_when_a_trained_column_is_missing_and_names_the_closest(iris, file, missing, closest):
    result = fastnet_cmd("predict", str(iris["model"]), str(iris["folder"] / file))
    assert result.returncode == 2 and result.stdout == ""
    assert "lacks the column" in result.stderr and missing in result.stderr and closest in result.stderr
    assert "--by-position" in result.stderr


def test_predict_on_a_shuffled_file_with_an_id_column_finds_every_column_by_name(iris):
    result = fastnet_cmd("predict", str(iris["model"]), str(iris["folder"] / "shuffled.csv"), "--target", "id")
    assert result.returncode == 0, result.stderr
    predicted = np.array(result.stdout.split()[1:])
    assert np.mean(predicted == iris["species"][iris["order"]]) > 0.9  # not all 'setosa'


def test_predict_by_position_only_when_asked(iris):
    result = fastnet_cmd("predict", str(iris["model"]), str(iris["folder"] / "abcd.csv"), "--by-position")
    assert result.returncode == 0, result.stderr
    assert np.mean(np.array(result.stdout.split()[1:]) == iris["species"]) > 0.9


# -- 2. outputs and optional dependencies are checked before training ----------------------
NO_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None; from fastnet.cli import main; raise SystemExit(main())"


def test_plot_without_matplotlib_fails_before_training_and_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "-c", NO_MATPLOTLIB, "train", "--epochs", "5", "--plot",
                             str(tmp_path / "c.png"), "--save", str(tmp_path / "m.npz")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and result.stdout == ""
    assert 'pip install "fastnet-trainer[plot]"' in result.stderr
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("flag", ["--plot", "--save", "--checkpoint"])
def test_an_unwritable_output_folder_fails_before_training_naming_the_flag(tmp_path, flag):
    target = str(tmp_path / "no-such-folder" / "out.png")
    result = fastnet_cmd("train", "--epochs", "5", flag, target)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"fastnet: error: {flag} ") and "does not exist" in result.stderr
    assert ".fastnet-" not in result.stderr  # never the name of a temporary file


def test_a_failing_plot_after_training_keeps_the_saved_model(tmp_path, monkeypatch, capsys):
    from fastnet import plots

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "cost_curve", broken)
    status = main(["train", "--epochs", "5", "--quiet", "--plot", str(tmp_path / "c.png"),
                   "--save", str(tmp_path / "m.npz")])
    assert status == 2 and "disk full" in capsys.readouterr().err
    assert fastnet.load(tmp_path / "m.npz").layers == (64, 30, 10)


# -- 3. every option is checked before any output ------------------------------------------
@pytest.mark.parametrize("argv,message", [
    (["--lr", "0"], "--lr must be a positive number"),
    (["--epochs", "-3"], "--epochs must be a positive integer"),
    (["--batch-size", "0"], "--batch-size must be a positive integer"),
    (["--optimizer", "lbfgs"], "--optimizer 'lbfgs' is not one of"),
    (["--resume", "missing.ckpt"], "no model file at 'missing.ckpt'"),
    (["--seed", "-1"], "--seed must be 0 or a positive integer"),
    (["--activation", "softmax"], "use --output-activation softmax"),
    (["--layers", "4--3"], "single dashes"),
])
def test_bad_options_stop_before_the_data_is_read_or_anything_printed(iris, argv, message):
    result = fastnet_cmd("train", "--data", str(iris["folder"] / "iris.csv"), *argv)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


# -- 4 and 5. the fastest backend by default; FASTNET_BACKEND honoured ---------------------
@pytest.mark.skipif(resolve_name("auto") not in ("fused", "cupy"),
                    reason="auto picks numpy here (no Numba), which compiles nothing")
def test_auto_picks_the_fastest_backend_and_compiling_is_reported_apart_from_training(tmp_path):
    cache = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}  # an empty cache: the first run compiles
    first = fastnet_cmd("train", "--epochs", "20", "--quiet", env=cache)
    assert first.returncode == 0, first.stderr
    assert f"backend: {resolve_name('auto')}" in first.stdout  # fused on a CPU machine, cupy on a GPU one
    compiling = [line for line in first.stdout.splitlines() if line.startswith("compiling kernels, once: ")]
    assert len(compiling) == 1 and float(compiling[0].split(": ")[1].split()[0]) >= 0.5
    assert "time: " in first.stdout.split(compiling[0])[1]  # the training time is reported after, apart
    again = fastnet_cmd("train", "--epochs", "20", "--quiet", env=cache)  # the kernels come from the cache now
    assert "compiling kernels" not in again.stdout


def test_fastnet_backend_variable_is_honoured_and_a_bad_one_refused():
    result = fastnet_cmd("train", "--epochs", "3", "--quiet", env={"FASTNET_BACKEND": "numpy"})
    assert result.returncode == 0 and "backend: numpy" in result.stdout
    result = fastnet_cmd("train", "--epochs", "3", env={"FASTNET_BACKEND": "nonsense"})
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown backend 'nonsense' (from the environment variable FASTNET_BACKEND)" in result.stderr


# -- 6. interrupts and pipes --------------------------------------------------------------
def interrupted(process, after_s=None, wait_for_line=False):
    if wait_for_line:
        process.stdout.readline()
    else:
        time.sleep(after_s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def test_ctrl_c_during_start_up_prints_one_line_and_exits_130():
    # `fastnet info` spends its first second importing NumPy, Numba and threadpoolctl.
    # On a machine quick enough to finish before the signal, try again sooner.
    for wait in (0.4, 0.2, 0.1):
        process = started("info")
        time.sleep(wait)
        if process.poll() is None:
            break
        process.communicate()
    status, _, err = interrupted(process, after_s=0)
    assert status == 130
    assert err.strip().splitlines() == ["fastnet: interrupted"]


def test_ctrl_c_during_tutorial_digits_prints_one_line_and_exits_130():
    status, _, err = interrupted(started("tutorial", "digits"), wait_for_line=True)
    assert status == 130
    assert err.strip().splitlines() == ["fastnet: interrupted"]


def test_ctrl_c_during_the_bench_stops_the_suite_too(tmp_path):
    status, _, err = interrupted(started("bench", "--quick", "--out", str(tmp_path)), wait_for_line=True)
    assert status == 130 and "Traceback" not in err and err.strip().splitlines()[-1] == "fastnet: interrupted"


def test_a_closed_pipe_ends_quietly():
    result = subprocess.run(f"{sys.executable} -m fastnet info | head -1", shell=True, capture_output=True,
                            text=True, cwd=ROOT, executable="/bin/bash")
    assert result.stdout == "backends:\n" and result.stderr == ""


# -- 7. messages that say how to fix the problem -------------------------------------------
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_messages_say_how_to_fix_the_problem(tmp_path, iris):
    cases = [
        (["train", "--data", write(tmp_path, "empty.csv", "a,b,label\n1,,x\n3,4,y\n")], "the value is missing"),
        (["train", "--data", write(tmp_path, "na.csv", "a,b,label\n1,NA,x\n3,4,y\n")], "drop the rows with missing"),
        (["train", "--data", write(tmp_path, "label.csv", "a,species,b\n1,x,2\n3,y,4\n")], "pass --target species"),
        (["predict", str(iris["folder"] / "iris.csv"), str(iris["folder"] / "iris.csv")], "models are .npz files"),
        (["predict", str(iris["model"]), str(iris["folder"] / "iris.csv"), "--backend", "nonsense"],
         "unknown backend 'nonsense'"),
        (["train", "--loss", "cross_entropy", "--output-activation", "tanh"], "add --output-activation softmax"),
    ]
    for argv, message in cases:
        result = fastnet_cmd(*argv)
        assert result.returncode == 2 and message in result.stderr, (argv, result.stderr)
        assert "allow_pickle" not in result.stderr and "output_activation=" not in result.stderr
        assert "model file" not in result.stderr or argv[0] != "predict" or "--backend" not in argv


def test_out_of_memory_advice_names_the_command_line_flags(monkeypatch, capsys):
    from fastnet.backends.reference import BackendMemoryError

    def no_memory(self, *args, **kwargs):
        raise BackendMemoryError("numpy", (1078, 64), "float64", batch=True)

    monkeypatch.setattr(fastnet.Network, "fit", no_memory)
    assert main(["train", "--epochs", "3", "--quiet", "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size" in err and "--dtype float32" in err and "batch_size" not in err


@pytest.mark.skipif(backend_status("cupy")[0], reason="a GPU answers here, so cupy is usable")
def test_cupy_without_a_gpu_says_an_nvidia_gpu_is_needed():
    result = fastnet_cmd("train", "--backend", "cupy")
    assert result.returncode == 2 and "needs an NVIDIA GPU" in result.stderr


# -- 8. smaller defects ---------------------------------------------------------------------
def test_plot_without_a_suffix_says_the_file_it_wrote(tmp_path):
    result = fastnet_cmd("train", "--epochs", "5", "--quiet", "--plot", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert f"plot: {tmp_path / 'out.png'}" in result.stdout and (tmp_path / "out.png").stat().st_size > 5000


def test_tutorial_plot_is_refused_where_there_is_no_figure(tmp_path):
    result = fastnet_cmd("tutorial", "feedforward", "--plot", str(tmp_path / "f.png"))
    assert result.returncode == 2 and "draws no figure" in result.stderr and not (tmp_path / "f.png").exists()


def test_tutorial_digits_shows_a_progress_bar(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["tutorial", "digits"]) == 0
    assert "3000/3000" in capsys.readouterr().err


def test_the_bar_ends_on_the_printed_final_cost(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["train", "--epochs", "2000", "--backend", "numpy"]) == 0
    captured = capsys.readouterr()
    final = captured.out.split("final cost: ")[1].split()[0]
    assert captured.err.rsplit("cost=", 1)[1].startswith(final)


def test_resume_says_where_it_starts_and_refuses_epochs_already_done(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    assert fastnet_cmd("train", "--epochs", "100", "--quiet", "--checkpoint", ckpt).returncode == 0
    result = fastnet_cmd("train", "--epochs", "50", "--resume", ckpt)
    assert result.returncode == 2 and "not beyond the 100 epochs already done" in result.stderr and result.stdout == ""
    result = fastnet_cmd("train", "--epochs", "150", "--quiet", "--resume", ckpt)
    assert result.returncode == 0 and f"resuming: {ckpt} at epoch 100, on to epoch 150" in result.stdout
    assert "epochs: 150" in result.stdout


def test_ctrl_c_with_a_checkpoint_writes_it_and_says_how_to_resume(tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    proc = started("train", "--epochs", "10000000", "--checkpoint", ckpt, "--backend", "numpy")
    proc.stdout.readline(), proc.stdout.readline()
    time.sleep(1.0)
    status, _, err = interrupted(proc, after_s=0)
    assert status == 130 and f"--resume {ckpt}" in err and "Traceback" not in err
    done = int(err.split("at epoch ")[1].split(";")[0])
    assert done > 0
    assert json.loads(str(np.load(ckpt)["meta"]))["epoch"] == done


def test_help_explains_checkpoint_every_and_version():
    assert "every N epochs" in fastnet_cmd("train", "--help").stdout
    assert fastnet_cmd("--version").stdout.strip() == f"fastnet {fastnet.__version__}"


def saved_figures(monkeypatch):
    """Capture every figure matplotlib saves, to read its labels."""
    figures = []
    real = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: figures.append(self) or real(self, *a, **k))
    return figures


def test_figures_label_their_axes_and_name_the_loss(tmp_path, monkeypatch, capsys):
    figures = saved_figures(monkeypatch)
    assert main(["tutorial", "gradient-descent", "--plot", str(tmp_path / "gd.png")]) == 0
    assert main(["train", "--epochs", "5", "--quiet", "--backend", "numpy", "--plot", str(tmp_path / "c.png")]) == 0
    gd, cost = (fig.axes[0] for fig in figures)
    assert gd.get_xlabel() == "x" and gd.get_ylabel().startswith("f(x)")
    assert cost.get_xlabel() == "epoch" and cost.get_ylabel() == "cost (mean cross-entropy)"


# -- 9. expected and missing ----------------------------------------------------------------
def test_predict_proba_and_keep(iris, tmp_path):
    out = tmp_path / "pred.csv"
    result = fastnet_cmd("predict", str(iris["model"]), str(iris["folder"] / "shuffled.csv"), "--proba",
                         "--keep", "id", "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "id,prediction,proba_setosa,proba_versicolor,proba_virginica"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(iris["order"])
    proba = np.array([[float(v) for v in r[2:]] for r in rows])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels = np.array(["setosa", "versicolor", "virginica"])
    assert [r[1] for r in rows] == list(labels[proba.argmax(axis=1)])
    missing = fastnet_cmd("predict", str(iris["model"]), str(iris["folder"] / "shuffled.csv"), "--keep", "name")
    assert missing.returncode == 2 and "--keep 'name'" in missing.stderr


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    from sklearn.datasets import load_wine

    data = load_wine()
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    rows = [",".join(map(str, list(x) + [y])) for x, y in zip(data.data, data.target)]
    path.write_text(",".join(data.feature_names + ["cultivar"]) + "\n" + "\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize("argv,hint", [(["--lr", "1e6", "--epochs", "300"], "--lr"),
                                       (["--lr", "1e-9", "--epochs", "50"], "--lr"),
                                       (["--data", "WINE", "--no-scale", "--epochs", "500"], "drop --no-scale")],
                         ids=["diverging", "flat", "wine unscaled"])
def test_training_that_did_not_learn_is_called_out(argv, hint, wine_csv):
    result = fastnet_cmd("train", "--quiet", "--backend", "numpy", *[wine_csv if a == "WINE" else a for a in argv])
    assert result.returncode == 0
    assert "warning: training did not learn" in result.stderr and hint in result.stderr


def test_a_good_run_gives_no_warning():
    result = fastnet_cmd("train", "--quiet", "--epochs", "300", "--backend", "numpy")
    assert result.returncode == 0 and "warning" not in result.stderr


def test_bench_from_a_package_install_inside_the_clone_says_what_to_run(monkeypatch, tmp_path):
    from fastnet.cli import bench

    monkeypatch.setattr(bench, "ROOT", str(tmp_path))  # an installed copy: no bench/ beside it
    monkeypatch.chdir(ROOT)
    with pytest.raises(RuntimeError, match=r"run `python -m bench` instead"):
        bench.run(type("Args", (), {"quick": True, "out": None, "k": None})())


# -- 10. the quick bench -----------------------------------------------------------------------
def test_bench_json_keeps_the_statistics_and_drops_every_rounds_time(tmp_path):
    path = tmp_path / "bench.json"
    rounds = list(np.linspace(1e-6, 2e-6, 200_000))
    path.write_text(json.dumps({"benchmarks": [{"name": "b", "stats": {"min": 1e-6, "data": rounds}}]}))
    report.drop_round_data(str(path))
    saved = json.loads(path.read_text())
    assert saved["benchmarks"][0]["stats"] == {"min": 1e-6} and path.stat().st_size < 1000
