"""Checkpoints: atomic writes, and an interrupted-then-resumed run equal bit for bit to an uninterrupted one."""

import json
import os

import numpy as np
import pytest

import fastnet

from .test_faults import Recorder, assert_params_equal, params_of

SETTINGS = dict(layers=[64, 16, 10], output_activation="softmax", loss="cross_entropy", init="xavier", seed=4)


@pytest.fixture(scope="module")
def data(digits):
    return digits.X_train[:300], fastnet.one_hot(digits.y_train[:300], 10)


@pytest.mark.parametrize("optimizer,batch_size", [("gd", None), ("adam", 64), ("momentum", 50)])
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, data, optimizer, batch_size):
    X, Y = data
    kwargs = dict(epochs=9, lr=0.01 if optimizer == "adam" else 0.3, optimizer=optimizer, batch_size=batch_size)
    straight = fastnet.Network(**SETTINGS)
    straight.fit(X, Y, **kwargs)

    path = tmp_path / "run.ckpt"
    first = fastnet.Network(**SETTINGS)
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, checkpoint=path, checkpoint_every=3, callback=Recorder(first, stop_at=5), **kwargs)
    assert path.exists()

    resumed = fastnet.Network(**SETTINGS)
    costs = resumed.fit(X, Y, resume=path, **kwargs)
    assert len(costs) == 9 - 5  # the Ctrl-C after epoch 5 wrote the checkpoint there
    assert resumed.history == straight.history  # exact float equality
    assert_params_equal(resumed, params_of(straight))


def test_ctrl_c_inside_a_mini_batch_epoch_keeps_the_last_periodic_checkpoint(tmp_path, data):
    X, Y = data
    path = tmp_path / "run.ckpt"
    net = fastnet.Network(**SETTINGS)
    calls = []
    original = net._backprop

    def interrupt_in_epoch_5(xb, yb, *rest):
        calls.append(1)
        if len(calls) == 4 * 5 + 2:  # 300 rows in batches of 64: 5 a epoch; the 2nd batch of epoch 5
            raise KeyboardInterrupt
        return original(xb, yb, *rest)

    net._backprop = interrupt_in_epoch_5
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=9, lr=0.01, optimizer="adam", batch_size=64, checkpoint=path, checkpoint_every=3)
    assert json.loads(str(np.load(path)["meta"]))["epoch"] == 3


def test_resume_with_other_settings_or_data_is_refused_and_changes_nothing(tmp_path, data):
    X, Y = data
    path = tmp_path / "run.ckpt"
    fastnet.Network(**SETTINGS).fit(X, Y, epochs=2, lr=0.3, checkpoint=path)
    cases = [
        (dict(SETTINGS), dict(lr=0.2), "lr"),
        (dict(SETTINGS), dict(lr=0.3, optimizer="momentum"), "optimizer"),
        (dict(SETTINGS, layers=[64, 17, 10]), dict(lr=0.3), "layers"),
    ]
    for net_kwargs, fit_kwargs, word in cases:
        net = fastnet.Network(**net_kwargs)
        before = params_of(net)
        with pytest.raises(ValueError, match=word):
            net.fit(X, Y, epochs=4, resume=path, **fit_kwargs)
        assert_params_equal(net, before)
    net = fastnet.Network(**SETTINGS)
    with pytest.raises(ValueError, match="training data"):
        net.fit(X[::-1], Y[::-1], epochs=4, lr=0.3, resume=path)


def test_a_failed_checkpoint_write_keeps_the_previous_file(tmp_path, data, monkeypatch):
    X, Y = data
    path = tmp_path / "run.ckpt"
    net = fastnet.Network(**SETTINGS)
    net.fit(X, Y, epochs=2, lr=0.3, checkpoint=path)
    good = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        net.fit(X, Y, epochs=2, lr=0.3, checkpoint=path)
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]  # no temporary file left behind


def test_checkpoint_every_needs_a_path(data):
    X, Y = data
    with pytest.raises(ValueError, match="checkpoint=PATH"):
        fastnet.Network(**SETTINGS).fit(X, Y, epochs=2, lr=0.3, checkpoint_every=1)
