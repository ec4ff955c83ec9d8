"""ONNX export: onnxruntime's outputs equal fastnet's own, for every activation, both dtypes, the CLI and the estimators."""

import os
import subprocess
import sys

import numpy
import pytest

import fastnet
from fastnet.maths import ACTIVATIONS

onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install '.[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the round trip needs onnxruntime (the test extra installs it)")

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}  # relative to the largest output
rng = numpy.random.default_rng(4)


def run_onnx(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"X": X})))


def relative(got, want):
    return float(numpy.abs(got - want).max() / max(numpy.abs(want).max(), 1e-300))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", [a for a in ACTIVATIONS if a != "softmax"])
@pytest.mark.parametrize("output", list(ACTIVATIONS))
def test_every_activation_exports_and_runs_as_fastnet_does(tmp_path, hidden, output, dtype):
    loss = "cross_entropy" if output in ("softmax", "sigmoid") else "mse"
    net = fastnet.Network([7, 6, 5, 3], activation=hidden, output_activation=output, loss=loss, dtype=dtype, seed=1)
    X = rng.normal(size=(40, 7)).astype(dtype)
    net.fit(X, numpy.eye(3, dtype=dtype)[rng.integers(0, 3, 40)], epochs=20, lr=0.01)
    net.to_onnx(tmp_path / "m.onnx")
    got = run_onnx(tmp_path / "m.onnx", X)
    name = "probabilities" if output == "softmax" else "outputs"
    assert list(got) == [name] and got[name].dtype == numpy.dtype(dtype)
    assert relative(got[name], net.forward(X)) <= TOLERANCE[dtype]


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_every_loss_trains_a_model_that_exports(tmp_path, loss):
    net = fastnet.Network([4, 5, 3], activation="tanh", output_activation="softmax", loss=loss, seed=2)
    X = rng.normal(size=(30, 4))
    net.fit(X, numpy.eye(3)[rng.integers(0, 3, 30)], epochs=10, lr=0.5)
    net.to_onnx(tmp_path / "m.onnx", classes=numpy.array([10, 20, 30]))
    got = run_onnx(tmp_path / "m.onnx", X)
    assert relative(got["probabilities"], net.forward(X)) <= 1e-12
    numpy.testing.assert_array_equal(got["label"], numpy.array([10, 20, 30])[net.predict(X)])


def test_classes_must_match_the_outputs(tmp_path):
    net = fastnet.Network([4, 3], seed=0)
    with pytest.raises(ValueError, match="classes has 2 entries, the network has 3 outputs"):
        net.to_onnx(tmp_path / "m.onnx", classes=[0, 1])
    assert not (tmp_path / "m.onnx").exists()


def flowers_csv(path):
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns={"target": "species"})
    frame["species"] = data.target_names[data.target]
    frame.to_csv(path, index=False)
    return frame


def test_a_model_saved_by_the_command_line_takes_raw_columns_and_names_its_classes(tmp_path):
    frame = flowers_csv(tmp_path / "flowers.csv")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for command in (["train", "--data", "flowers.csv", "--epochs", "300", "--quiet", "--save", "flowers.npz"],
                    ["export", "flowers.npz", "flowers.onnx"],
                    ["predict", "flowers.npz", "flowers.csv", "--proba", "-o", "predicted.csv"]):
        done = subprocess.run([sys.executable, "-m", "fastnet", *command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    X = frame.drop(columns="species").to_numpy(numpy.float64)
    got = run_onnx(tmp_path / "flowers.onnx", X)
    import pandas

    predicted = pandas.read_csv(tmp_path / "predicted.csv")
    assert list(got["label"]) == list(predicted["prediction"])  # strings, the CSV's own labels
    proba = predicted[[c for c in predicted.columns if c.startswith("proba_")]].to_numpy()
    assert relative(got["probabilities"], proba) <= 1e-12  # the scaler is inside the graph


def test_export_refuses_to_overwrite_its_model(tmp_path):
    net = fastnet.Network([4, 3], seed=0)
    net.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    done = subprocess.run([sys.executable, "-m", "fastnet", "export", "m.npz", "m.npz"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 2 and "OUT.onnx" in done.stderr and "MODEL" in done.stderr
    assert (tmp_path / "m.npz").read_bytes() == before


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_a_classifiers_onnx_gives_its_predict_proba_and_predict(tmp_path, kind):
    X = rng.normal(size=(60, 5))
    if kind == "multiclass":
        y = numpy.array(["a", "b", "c"])[rng.integers(0, 3, 60)]
    elif kind == "binary":
        y = rng.integers(0, 2, 60) * 5 + 1  # labels 1 and 6
    else:
        y = rng.integers(0, 2, (60, 3))
    clf = fastnet.FastNetClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    clf.to_onnx(tmp_path / "c.onnx")
    got = run_onnx(tmp_path / "c.onnx", X)
    want = clf.predict_proba(X)
    assert relative(got[list(got)[0]], want) <= 1e-12
    numpy.testing.assert_array_equal(got["label"], clf.predict(X))


def test_a_regressors_onnx_gives_its_outputs(tmp_path):
    X = rng.normal(size=(50, 4))
    y = X @ rng.normal(size=(4, 2))
    reg = fastnet.FastNetRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0, dtype="float32").fit(X, y)
    reg.to_onnx(tmp_path / "r.onnx")
    got = run_onnx(tmp_path / "r.onnx", X.astype(numpy.float32))
    assert relative(got["outputs"], reg.predict(X)) <= 1e-5


@pytest.mark.filterwarnings("ignore:.*maximum iterations")  # 30 iterations are enough to compare outputs
def test_a_one_target_regressors_onnx_gives_a_column_where_predict_gives_1d(tmp_path):
    X = rng.normal(size=(40, 3))
    reg = fastnet.FastNetRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0).fit(X, X @ [1.0, -2.0, 0.5])
    reg.to_onnx(tmp_path / "r.onnx")
    got = run_onnx(tmp_path / "r.onnx", X)["outputs"]
    assert reg.predict(X).shape == (40,) and got.shape == (40, 1)
    assert relative(got[:, 0], reg.predict(X)) <= 1e-12


def test_without_onnx_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "fastnet-trainer\[onnx\]"'):
        fastnet.Network([3, 2], seed=0).to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
