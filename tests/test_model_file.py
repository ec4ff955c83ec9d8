"""Model files: exact round trips onto every backend; bad files give ModelFileError, never a pickle."""

import json
import os
import pickle

import numpy as np
import pytest

import fastnet
from fastnet.model_file import VERSION

from .test_faults import params_of

SETTINGS = dict(layers=[5, 4, 3], activation="tanh", output_activation="softmax", loss="cross_entropy", init="he", seed=9)


@pytest.fixture
def saved(tmp_path):
    net = fastnet.Network(**SETTINGS)
    rng = np.random.default_rng(1)
    net.fit(rng.normal(size=(12, 5)), fastnet.one_hot(rng.integers(0, 3, 12), 3), epochs=3, lr=0.1)
    path = tmp_path / "model.npz"
    net.save(path)
    return net, path


def test_round_trip_is_exact_on_every_backend(saved, backend):
    net, path = saved
    loaded = fastnet.load(path, backend=backend)
    assert loaded.backend == backend
    assert loaded._config() == net._config()
    for a, b in zip(params_of(loaded), params_of(net)):
        np.testing.assert_array_equal(a, b)
    X = np.random.default_rng(2).normal(size=(4, 5))
    np.testing.assert_allclose(fastnet.backends.get_backend(backend).to_numpy(loaded.forward(X)), net.forward(X), rtol=1e-12)


def test_float32_networks_stay_float32(tmp_path):
    net = fastnet.Network([3, 2], dtype="float32", seed=0)
    net.save(tmp_path / "m.npz")
    loaded = fastnet.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.get_params()[0][0], net.get_params()[0][0])


def test_the_path_is_used_as_given(tmp_path):
    fastnet.Network([3, 2], seed=0).save(tmp_path / "model.fastnet")
    assert os.listdir(tmp_path) == ["model.fastnet"]
    assert fastnet.load(tmp_path / "model.fastnet").layers == (3, 2)


def rewrite(path, **changes):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes.pop("meta", {}))
    arrays["meta"] = np.array(json.dumps(meta))
    arrays.update(changes)
    np.savez(path, **arrays)


def corruptions():
    """(name, function that spoils the saved file, text the error must contain)."""

    def truncate(p):
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])

    def flip_bytes(p):
        data = bytearray(p.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        p.write_bytes(bytes(data))

    return [
        ("truncated", truncate, "truncated, corrupted"),
        ("bytes flipped", flip_bytes, "truncated, corrupted"),
        ("empty file", lambda p: p.write_bytes(b""), "models are .npz files written by `fastnet train --save`"),
        ("text file", lambda p: p.write_text("layers,64,30,10\n"), "models are .npz files written by"),
        ("pickle", lambda p: p.write_bytes(pickle.dumps({"W0": 1})), "models are .npz files written by"),
        ("npz with a pickled object array", lambda p: np.savez(p, meta=np.array([{"a": 1}], dtype=object)),
         "holds pickled Python objects, which fastnet never loads"),
        ("foreign npz", lambda p: np.savez(p, X=np.ones(3)), "not a fastnet model"),
        ("single .npy array", lambda p: np.save(open(p, "wb"), np.ones(3)), "single NumPy array"),
        ("newer format", lambda p: rewrite(p, meta={"version": VERSION + 1}), "newer fastnet"),
        ("other format name", lambda p: rewrite(p, meta={"format": "keras"}), "not a fastnet model"),
        ("missing layer", lambda p: rewrite(p, meta={"layers": [5, 4, 3, 2]}), "missing the parameters of layer 2"),
        ("wrong shape", lambda p: rewrite(p, W0=np.ones((2, 2))), "expected float arrays"),
        ("NaN weights", lambda p: rewrite(p, b1=np.array([np.nan, 0, 0])), "NaN or Inf"),
        ("unknown activation", lambda p: rewrite(p, meta={"activation": "swish"}), "cannot build"),
    ]


@pytest.mark.parametrize("name,spoil,message", corruptions(), ids=[c[0] for c in corruptions()])
def test_bad_files_raise_a_clear_value_error(saved, name, spoil, message, monkeypatch):
    _, path = saved
    spoil(path)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("a model file was unpickled"))
    with pytest.raises(fastnet.ModelFileError, match=message) as info:
        fastnet.load(path)
    assert "allow_pickle" not in str(info.value)  # never suggest the unsafe way round
    assert isinstance(info.value, ValueError)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fastnet.load(tmp_path / "nothing.npz")


def test_a_checkpoint_loads_as_a_model(tmp_path):
    net = fastnet.Network([3, 2], seed=0)
    net.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=2, lr=0.1, checkpoint=tmp_path / "c.ckpt")
    np.testing.assert_array_equal(fastnet.load(tmp_path / "c.ckpt").get_params()[0][0], net.get_params()[0][0])
