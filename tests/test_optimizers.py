"""Optimisers: each update rule matches a hand-written NumPy step, and every backend agrees."""

import numpy as np
import pytest

import fastnet
from fastnet.optimizers import OPTIMIZERS

from .conftest import reference_ops, to_numpy
from .test_cross_backend import assert_close

SETTINGS = dict(layers=[6, 5, 3], output_activation="softmax", loss="cross_entropy", init="xavier", seed=3)


def small_problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(20, 6))
    return X, fastnet.one_hot(rng.integers(0, 3, 20), 3)


def flat(weights, biases):
    return [a for pair in zip(weights, biases) for a in pair]


def test_momentum_and_adam_follow_their_update_rules_for_two_steps():
    X, Y = small_problem()
    lr = 0.05
    for name in ("momentum", "adam"):
        net = fastnet.Network(**SETTINGS)
        params = flat(*net.get_params())
        v = [np.zeros_like(p) for p in params]
        m1 = [np.zeros_like(p) for p in params]
        m2 = [np.zeros_like(p) for p in params]
        for t in (1, 2):
            probe = fastnet.Network(**SETTINGS)
            probe.set_params(params[0::2], params[1::2])
            _, grads = probe.backprop(X, Y)
            g = [a for pair in grads for a in pair]
            for i in range(len(params)):
                if name == "momentum":
                    v[i] = 0.9 * v[i] - lr * g[i]
                    params[i] = params[i] + v[i]
                else:
                    m1[i] = 0.9 * m1[i] + 0.1 * g[i]
                    m2[i] = 0.999 * m2[i] + 0.001 * g[i] ** 2
                    m_hat, v_hat = m1[i] / (1 - 0.9**t), m2[i] / (1 - 0.999**t)
                    params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        net.fit(X, Y, epochs=2, lr=lr, optimizer=name)
        for got, want in zip(flat(*net.get_params()), params):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_backend_takes_the_reference_steps(backend, optimizer):
    X, Y = small_problem()
    ref = fastnet.Network(backend=reference_ops(), **SETTINGS)
    other = fastnet.Network(backend=backend, **SETTINGS)
    kwargs = dict(epochs=5, lr=0.1, optimizer=optimizer, batch_size=8 if optimizer != "gd" else None)
    assert_close(other.fit(X, Y, **kwargs), ref.fit(X, Y, **kwargs))
    for a, b in zip(flat(*other.get_params()), flat(*ref.get_params())):
        assert_close(a, b)


def test_sgd_defaults_to_mini_batches_of_32_and_gd_to_the_full_batch(monkeypatch):
    X, Y = np.random.default_rng(0).normal(size=(100, 6)), fastnet.one_hot(np.arange(100) % 3, 3)
    for optimizer, expected in (("sgd", [32, 32, 32, 4]), ("gd", [100])):
        net = fastnet.Network(**SETTINGS)
        seen = []
        original = net._backprop
        monkeypatch.setattr(net, "_backprop", lambda xb, yb, *rest: seen.append(xb.shape[0]) or original(xb, yb, *rest))
        net.fit(X, Y, epochs=1, lr=0.1, optimizer=optimizer)
        assert seen == expected, optimizer


def test_mini_batch_order_follows_the_seed():
    X, Y = small_problem()
    runs = []
    for seed in (5, 5, 6):
        net = fastnet.Network(**dict(SETTINGS, seed=seed))
        runs.append(net.fit(X, Y, epochs=3, lr=0.1, optimizer="sgd", batch_size=4))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_adam_state_carries_over_between_fit_calls():
    X, Y = small_problem()
    once = fastnet.Network(**SETTINGS)
    once.fit(X, Y, epochs=6, lr=0.01, optimizer="adam")
    twice = fastnet.Network(**SETTINGS)
    twice.fit(X, Y, epochs=3, lr=0.01, optimizer="adam")
    twice.fit(X, Y, epochs=3, lr=0.01, optimizer="adam")
    for a, b in zip(flat(*once.get_params()), flat(*twice.get_params())):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer,lr,epochs,batch_size", [("momentum", 0.2, 300, None), ("adam", 0.01, 300, None), ("sgd", 0.1, 20, None)])
def test_each_optimizer_learns_digits(digits, optimizer, lr, epochs, batch_size):
    net = fastnet.Network([64, 30, 10], output_activation="softmax", loss="cross_entropy", init="xavier", seed=0)
    history = net.fit(digits.X_train, fastnet.one_hot(digits.y_train, 10), epochs=epochs, lr=lr, optimizer=optimizer)
    assert history[-1] < 0.2 * history[0]
    assert net.score(digits.X_test, digits.y_test) > 0.95


def test_unknown_optimizer_is_rejected_with_the_valid_names():
    X, Y = small_problem()
    net = fastnet.Network(**SETTINGS)
    before = to_numpy(net.weights[0]).copy()
    with pytest.raises(ValueError, match="valid: gd, sgd, momentum, adam, rmsprop, adamw"):
        net.fit(X, Y, epochs=1, lr=0.1, optimizer="lbfgs")
    np.testing.assert_array_equal(to_numpy(net.weights[0]), before)
