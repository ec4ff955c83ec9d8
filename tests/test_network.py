"""Network API: shapes, training behaviour, seeds, dtypes, and clear errors on bad input."""

import numpy as np
import pytest

import fastnet

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def test_shapes_follow_the_tutorial_convention():
    net = fastnet.Network([64, 30, 10])
    assert [W.shape for W in net.weights] == [(30, 64), (10, 30)]
    assert [b.shape for b in net.biases] == [(30,), (10,)]
    assert net.forward(np.zeros((7, 64))).shape == (7, 10)
    assert net.forward(np.zeros(64)).shape == (10,)


def test_uniform_init_is_the_tutorials_unit_interval():
    net = fastnet.Network([50, 40, 10], seed=0)
    values = np.concatenate([a.ravel() for a in net.weights + net.biases])
    assert values.min() >= 0.0 and values.max() < 1.0
    assert 0.45 < values.mean() < 0.55


@pytest.mark.parametrize("init,expected_std", [("xavier", np.sqrt(2.0 / (400 + 300))), ("he", np.sqrt(2.0 / 400))])
def test_scaled_inits_have_their_variance_and_zero_biases(init, expected_std):
    net = fastnet.Network([400, 300], init=init, seed=0)
    assert net.weights[0].std() == pytest.approx(expected_std, rel=0.02)
    assert abs(net.weights[0].mean()) < 0.01
    assert not net.biases[0].any()


def test_seed_makes_runs_repeatable_and_seeds_differ():
    a = fastnet.Network([2, 3, 1], seed=5)
    b = fastnet.Network([2, 3, 1], seed=5)
    c = fastnet.Network([2, 3, 1], seed=6)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    assert not np.array_equal(a.weights[0], c.weights[0])
    ha = a.fit(XOR_X, XOR_Y, epochs=20, lr=0.5, batch_size=2)
    hb = b.fit(XOR_X, XOR_Y, epochs=20, lr=0.5, batch_size=2)
    assert ha == hb


def test_fit_returns_one_cost_per_iteration_that_matches_backprop():
    net = fastnet.Network([2, 3, 1], seed=0)
    first_cost, _ = net.backprop(XOR_X, XOR_Y)
    history = net.fit(XOR_X, XOR_Y, epochs=5, lr=0.5)
    assert len(history) == 5 and all(isinstance(c, float) for c in history)
    assert history[0] == pytest.approx(first_cost, rel=1e-12)


def test_fit_is_gradient_descent_on_the_backprop_gradient():
    net = fastnet.Network([2, 3, 1], seed=0)
    before = [W.copy() for W in net.weights]
    _, grads = net.backprop(XOR_X, XOR_Y)
    net.fit(XOR_X, XOR_Y, epochs=1, lr=0.3)
    for W0, W1, (dW, _) in zip(before, net.weights, grads):
        np.testing.assert_allclose(W1, W0 - 0.3 * dW, rtol=1e-14)


def test_xor_is_learned_with_tanh_and_full_batch_descent():
    net = fastnet.Network([2, 4, 1], activation="tanh", output_activation="sigmoid", init="xavier", seed=1)
    history = net.fit(XOR_X, XOR_Y, epochs=2000, lr=1.0)
    assert history[-1] < 0.01
    np.testing.assert_array_equal(np.round(net.forward(XOR_X)).ravel(), XOR_Y)


def test_minibatches_cover_every_sample_once_per_epoch():
    # With lr tiny the weights barely move, so the epoch cost is the mean over all
    # samples: equal to the full-batch cost whatever the batch split.
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(23, 3)), rng.random((23, 2))
    net = fastnet.Network([3, 4, 2], seed=0)
    full_cost, _ = net.backprop(X, Y)
    history = net.fit(X, Y, epochs=1, lr=1e-12, batch_size=5)
    assert history[0] == pytest.approx(full_cost, rel=1e-9)


def test_float32_network_keeps_float32_everywhere():
    net = fastnet.Network([2, 3, 1], dtype="float32", seed=0)
    net.fit(XOR_X, XOR_Y, epochs=3, lr=0.5)
    assert all(W.dtype == np.float32 for W in net.weights + net.biases)
    assert net.forward(XOR_X).dtype == np.float32


def test_predict_and_score():
    net = fastnet.Network([2, 3], output_activation="identity", seed=0)
    net.set_params([np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])], [np.array([0.0, 0.0, 0.5])])
    X = np.array([[2.0, 0.0], [0.0, 2.0], [0.1, 0.1]])
    np.testing.assert_array_equal(net.predict(X), [0, 1, 2])
    assert net.predict(X[0]) == 0
    assert net.score(X, [0, 1, 1]) == pytest.approx(2 / 3)


def test_get_params_returns_independent_numpy_copies():
    net = fastnet.Network([2, 3, 1], seed=0)
    weights, biases = net.get_params()
    weights[0][:] = 42.0
    assert not np.any(net.weights[0] == 42.0)
    assert isinstance(biases[0], np.ndarray)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(layers=[3]), "at least an input and an output"),
        (dict(layers=[3, 0, 1]), "positive integers"),
        (dict(layers=[3, 2.5, 1]), "positive integers"),
        (dict(layers=[2, 1], activation="swish"), "valid: identity, sigmoid, tanh, relu"),
        (dict(layers=[2, 1], activation="softmax"), "softmax belongs on the output"),
        (dict(layers=[2, 1], output_activation="gelu"), "valid: identity, sigmoid, tanh, relu, softmax"),
        (dict(layers=[2, 1], loss="hinge"), "valid: mse, cross_entropy"),
        (dict(layers=[2, 1], loss="cross_entropy", output_activation="tanh"), "output_activation='softmax'"),
        (dict(layers=[2, 1], init="zeros"), "valid: uniform, xavier, he"),
        (dict(layers=[2, 1], dtype="float16"), "valid: float64, float32"),
        (dict(layers=[2, 1], backend="jax"), "valid: auto, python, numba, numpy, fused, cupy"),
    ],
)
def test_bad_construction_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fastnet.Network(**kwargs)


@pytest.mark.parametrize(
    "X,Y,kwargs,message",
    [
        (np.zeros((4, 3)), XOR_Y, {}, r"X has 3 columns \(shape \(4, 3\)\) but the network expects 2"),
        (XOR_X, np.zeros((4, 2)), {}, r"Y has shape \(4, 2\).*expected shape \(4, 1\)"),
        (XOR_X, XOR_Y[:3], {}, r"expected shape \(4, 1\)"),
        (np.array([[0.0, np.nan]] * 4), XOR_Y, {}, "NaN or Inf"),
        (XOR_X, np.array([0.0, np.inf, 1.0, 0.0]), {}, "NaN or Inf"),
        (np.zeros((0, 2)), np.zeros((0, 1)), {}, "empty"),
        ([["a", "b"]] * 4, XOR_Y, {}, "numeric"),
        (XOR_X, XOR_Y, dict(lr=-0.1), "lr must be a positive number"),
        (XOR_X, XOR_Y, dict(epochs=0), "epochs must be a positive integer"),
        (XOR_X, XOR_Y, dict(batch_size=0), "batch_size must be a positive integer"),
    ],
)
def test_bad_training_input_raises_and_changes_nothing(X, Y, kwargs, message):
    net = fastnet.Network([2, 3, 1], seed=0)
    before = [W.copy() for W in net.weights + net.biases]
    args = dict(epochs=2, lr=0.5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        net.fit(X, Y, **args)
    for old, new in zip(before, net.weights + net.biases):
        np.testing.assert_array_equal(old, new)


def test_labels_instead_of_one_hot_rows_get_a_hint():
    net = fastnet.Network([2, 3], seed=0)
    with pytest.raises(ValueError, match=r"fastnet.one_hot\(y, 3\)"):
        net.fit(XOR_X, np.array([0, 1, 2, 0]), epochs=1, lr=0.1)


def test_set_params_with_a_wrong_shape_changes_nothing():
    net = fastnet.Network([2, 3, 1], seed=0)
    before = net.weights[1].copy()
    with pytest.raises(ValueError):
        net.set_params([np.zeros((3, 2)), np.zeros((2, 3))], [np.zeros(3), np.zeros(1)])
    np.testing.assert_array_equal(net.weights[1], before)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(optimizer="lbfgs"), "valid: gd, sgd, momentum, adam, rmsprop, adamw"),
        (dict(callback=42), "callback must be callable"),
        (dict(checkpoint_every=5), "checkpoint=PATH"),
        (dict(checkpoint="c.npz", checkpoint_every=0), "checkpoint_every must be a positive integer"),
        (dict(lr=float("nan")), "lr must be a positive number"),
        (dict(epochs=2.5), "epochs must be a positive integer"),
    ],
)
def test_bad_fit_options_raise_and_change_nothing(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = fastnet.Network([2, 3, 1], seed=0)
    before = [W.copy() for W in net.weights + net.biases]
    with pytest.raises(ValueError, match=message):
        net.fit(XOR_X, XOR_Y, **dict(dict(epochs=2, lr=0.5), **kwargs))
    for old, new in zip(before, net.weights + net.biases):
        np.testing.assert_array_equal(old, new)
    assert net.history == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda net: net.forward(np.zeros((2, 5))), r"X has 5 columns \(shape \(2, 5\)\) but the network expects 2"),
        (lambda net: net.forward(np.zeros((2, 2, 2))), "must be 1-D .* or 2-D"),
        (lambda net: net.predict([[0.0, np.inf]]), "NaN or Inf"),
        (lambda net: net.predict("abc"), "numeric"),
        (lambda net: net.score(XOR_X, [0, 1]), "y has 2 labels but X has 4 samples"),
        (lambda net: net.backprop(XOR_X, np.zeros((3, 1))), r"expected shape \(4, 1\)"),
        (lambda net: fastnet.one_hot([0, 1, 5], 3), "labels must lie in 0..2"),
        (lambda net: fastnet.one_hot([0, -1], 3), "labels must lie in 0..2"),
        (lambda net: fastnet.one_hot([0.5, 1], 3), "integer"),
        (lambda net: net.set_params([np.full((3, 2), np.nan), np.zeros((1, 3))], [np.zeros(3), np.zeros(1)]), "NaN or Inf"),
    ],
)
def test_bad_input_to_every_other_entry_raises_value_error(call, message):
    net = fastnet.Network([2, 3, 1], seed=0)
    before = [W.copy() for W in net.weights + net.biases]
    with pytest.raises(ValueError, match=message):
        call(net)
    for old, new in zip(before, net.weights + net.biases):
        np.testing.assert_array_equal(old, new)


def test_fit_with_alpha_adds_the_l2_penalty_to_cost_and_gradient_and_refuses_a_bad_one():
    X = np.random.default_rng(0).normal(size=(8, 3))
    Y = fastnet.one_hot(np.arange(8) % 2, 2)
    net = fastnet.Network([3, 4, 2], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=0)
    cost0, grads0 = net.backprop(X, Y)
    cost1, grads1 = net.backprop(X, Y, alpha=0.5)
    W = net.get_params()[0]
    assert cost1 == pytest.approx(cost0 + 0.5 / (2 * 8) * sum((w**2).sum() for w in W), rel=1e-12)
    for (dW0, db0), (dW1, db1), w in zip(grads0, grads1, W):
        np.testing.assert_allclose(dW1, dW0 + 0.5 / 8 * w, rtol=1e-12)
        np.testing.assert_array_equal(db1, db0)  # biases are not penalised
    before = net.get_params()[0]
    for bad in (-0.1, float("inf"), "a lot"):
        with pytest.raises(ValueError, match="alpha"):
            net.fit(X, Y, epochs=1, lr=0.1, alpha=bad)
    for a, b in zip(before, net.get_params()[0]):
        np.testing.assert_array_equal(a, b)


def test_fit_without_shuffle_takes_the_rows_in_order(monkeypatch):
    X = np.arange(20, dtype=float).reshape(10, 2)
    Y = np.zeros((10, 1))
    net = fastnet.Network([2, 1], seed=0)
    seen = []
    original = net._backprop
    monkeypatch.setattr(net, "_backprop", lambda xb, yb, *rest: seen.append(xb[:, 0].tolist()) or original(xb, yb, *rest))
    net.fit(X, Y, epochs=2, lr=0.01, batch_size=4, shuffle=False)
    assert seen == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]] * 2
    seen.clear()
    net.fit(X, Y, epochs=1, lr=0.01, batch_size=4)
    assert sorted(v for batch in seen for v in batch) == list(range(0, 20, 2)) and seen[0] != [0, 2, 4, 6]
