"""Library mistakes named in the caller's words: a bad seed, a folder as a model path, a fit that went the wrong way."""

import os
import stat
import warnings

import numpy as np
import pytest

import fastnet


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_a_bad_seed_names_seed(seed):
    with pytest.raises(ValueError, match=r"seed must be None or an integer >= 0, got"):
        fastnet.Network([2, 3, 1], seed=seed)


def test_saving_to_a_folder_names_the_folder_not_a_temporary_file(tmp_path):
    net = fastnet.Network([2, 3, 1], seed=0)
    with pytest.raises(IsADirectoryError, match=f"{str(tmp_path)!r} is a folder; give a file name"):
        net.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        net.save(tmp_path / "missing" / "m.npz")
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_a_saved_model_follows_the_umask_like_any_new_file(tmp_path):
    old = os.umask(0o027)
    try:
        fastnet.Network([2, 3, 1], seed=0).save(tmp_path / "m.npz")
        with open(tmp_path / "plain.txt", "w") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == 0o640


def test_a_fit_that_ends_far_above_its_start_warns_and_one_that_learns_does_not():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 4)), np.eye(3)[rng.integers(0, 3, 60)]
    net = fastnet.Network([4, 8, 3], output_activation="softmax", loss="cross_entropy", init="xavier", seed=0)
    with pytest.warns(fastnet.CostRoseWarning, match=r"learning rate 1e\+08 is probably too large; try lr=1e\+07"):
        history = net.fit(X, Y, epochs=5, lr=1e8)
    assert history[-1] > 2 * history[0]
    calm = fastnet.Network([4, 8, 3], output_activation="softmax", loss="cross_entropy", init="xavier", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastnet.CostRoseWarning)
        calm.fit(X, Y, epochs=20, lr=0.1)


@pytest.mark.parametrize("name", ["FastNetClassifier", "FastNetRegressor"])
def test_an_unknown_estimator_parameter_names_the_estimator_not_a_private_base(name):
    with pytest.raises(TypeError, match=rf"^{name}\.__init__\(\) got an unexpected keyword argument 'hidden'"):
        getattr(fastnet, name)(hidden=(3,))


def test_one_dimensional_x_of_the_wrong_length_says_it_was_read_as_one_sample():
    net = fastnet.Network([64, 10, 3], seed=0)
    with pytest.raises(ValueError, match=r"X is 1-D, so it is read as one sample of 60 values, but the network expects 64"):
        net.forward(np.zeros(60))
