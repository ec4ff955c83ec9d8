"""The tutorial's digits experiment reproduced, and a better recipe (numpy backend, 3000 iterations)."""

import pytest

import fastnet
from fastnet.recipes import recipe


def train(digits, name, seed=0, backend="numpy", dtype="float64"):
    settings = recipe(name)
    lr, epochs = settings.pop("lr"), settings.pop("epochs")
    net = fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=seed, **settings)
    history = net.fit(digits.X_train, fastnet.one_hot(digits.y_train, 10), epochs=epochs, lr=lr)
    return net, history


def test_tutorial_recipe_reaches_the_tutorials_accuracy(digits):
    net, history = train(digits, "tutorial")
    assert len(history) == 3000
    assert history[-1] < history[0] / 10  # the cost curve falls as in the tutorial's plot
    assert net.score(digits.X_test, digits.y_test) >= 0.86


def test_softmax_recipe_reaches_96_percent(digits):
    net, _ = train(digits, "softmax")
    assert net.score(digits.X_test, digits.y_test) >= 0.96


def test_float32_tutorial_recipe_learns_as_well(digits):
    net, _ = train(digits, "tutorial", dtype="float32")
    assert net.score(digits.X_test, digits.y_test) >= 0.86


@pytest.mark.gpu
def test_softmax_recipe_on_the_gpu(digits):
    from .conftest import require_backend

    require_backend("cupy")
    net, _ = train(digits, "softmax", backend="cupy", dtype="float32")
    assert net.score(digits.X_test, digits.y_test) >= 0.96
