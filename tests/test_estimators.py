"""scikit-learn estimators: the official checks, digits with defaults, labels, pipelines, persistence."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import fastnet
from fastnet import FastNetClassifier, FastNetRegressor


@pytest.mark.parametrize("estimator", [FastNetClassifier(), FastNetRegressor()], ids=["classifier", "regressor"])
def test_scikit_learn_estimator_checks_pass(estimator):
    results = check_estimator(estimator, on_fail=None, on_skip=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_defaults_reach_96_percent_on_digits_and_stop_on_the_training_loss(digits):
    clf = FastNetClassifier(random_state=0).fit(digits.X_train, digits.y_train)
    assert clf.score(digits.X_test, digits.y_test) >= 0.96
    # tol=1e-4 with n_iter_no_change=10 ends the fit before max_iter, as in scikit-learn
    assert 50 < clf.n_iter_ < 200 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 10


def test_string_and_non_contiguous_labels_come_back_as_given():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc, 0.3, size=(30, 2)) for loc in (-2, 0, 2)])
    for labels in (np.array(["cat", "dog", "emu"]), np.array([3, 10, 42])):
        y = np.repeat(labels, 30)
        clf = FastNetClassifier(hidden_layer_sizes=(8,), learning_rate=0.05, random_state=0).fit(X, y)
        assert list(clf.classes_) == sorted(labels.tolist())
        assert set(clf.predict(X)) <= set(labels.tolist())
        assert clf.score(X, y) > 0.95
        proba = clf.predict_proba(X)
        assert proba.shape == (90, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_works_in_a_pipeline_and_grid_search(digits):
    pipe = make_pipeline(StandardScaler(), FastNetClassifier(max_iter=30, random_state=0))
    search = GridSearchCV(pipe, {"fastnetclassifier__hidden_layer_sizes": [(8,), (32,)]}, cv=2)
    search.fit(digits.X_train, digits.y_train)
    assert search.best_params_["fastnetclassifier__hidden_layer_sizes"] == (32,)
    assert search.score(digits.X_test, digits.y_test) > 0.9


def test_regressor_fits_a_smooth_function_with_one_or_two_targets():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    reg = FastNetRegressor(hidden_layer_sizes=(32,), activation="tanh", learning_rate=0.01, max_iter=300, random_state=0)
    assert reg.fit(X, y).score(X, y) > 0.95
    assert reg.predict(X).shape == (300,)
    Y2 = np.column_stack([y, -y])
    assert reg.fit(X, Y2).predict(X).shape == (300, 2)


def test_partial_fit_continues_training(digits):
    clf = FastNetClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(digits.X_train, digits.y_train)
    clf.partial_fit(digits.X_train, digits.y_train, classes=np.arange(10))
    first = clf.score(digits.X_test, digits.y_test)
    for _ in range(9):
        clf.partial_fit(digits.X_train, digits.y_train)
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert clf.score(digits.X_test, digits.y_test) > first
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(digits.X_train[:5], np.full(5, 11))


def test_early_stopping_stops_and_keeps_the_best_weights(digits):
    clf = FastNetClassifier(early_stopping=True, max_iter=500, random_state=0)
    clf.fit(digits.X_train, digits.y_train)
    assert clf.n_iter_ < 500
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(digits.X_test, digits.y_test) > 0.92


def test_estimators_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = FastNetClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    clf.save(tmp_path / "clf.npz")
    again = fastnet.load_estimator(tmp_path / "clf.npz")
    assert isinstance(again, FastNetClassifier) and again.get_params() == clf.get_params()
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert fastnet.load(tmp_path / "clf.npz").layers == (3, 5, 1)  # two classes: one sigmoid output

    reg = FastNetRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, X[:, 0])
    reg.save(tmp_path / "reg.npz")
    np.testing.assert_array_equal(fastnet.load_estimator(tmp_path / "reg.npz").predict(X), reg.predict(X))

    fastnet.Network([3, 2]).save(tmp_path / "bare.npz")
    with pytest.raises(fastnet.ModelFileError, match="bare network"):
        fastnet.load_estimator(tmp_path / "bare.npz")


BAD_ESTIMATOR_INPUTS = [
    ("NaN in X", dict(), lambda X, y: (np.where(X > 2, np.nan, X), y), "NaN"),
    ("regression target", dict(), lambda X, y: (X, y + 0.5), "Unknown label type"),
    ("empty X", dict(), lambda X, y: (X[:0], y[:0]), "0 sample"),
    ("text in X", dict(), lambda X, y: (np.full(X.shape, "a"), y), "could not convert|string"),
    ("unknown activation", dict(activation="swish"), lambda X, y: (X, y), "valid: identity, sigmoid"),
    ("unknown optimizer", dict(optimizer="lbfgs"), lambda X, y: (X, y), "valid: gd, sgd"),
    ("unknown backend", dict(backend="tpu"), lambda X, y: (X, y), "valid: auto"),
    ("negative learning rate", dict(learning_rate=-1.0), lambda X, y: (X, y), "lr must be a positive"),
    ("zero max_iter", dict(max_iter=0), lambda X, y: (X, y), "max_iter must be a positive"),
    ("zero-size layer", dict(hidden_layer_sizes=(0,)), lambda X, y: (X, y), "positive integers"),
]


@pytest.mark.parametrize("name,params,spoil,message", BAD_ESTIMATOR_INPUTS, ids=[c[0] for c in BAD_ESTIMATOR_INPUTS])
def test_bad_estimator_input_raises_value_error(digits, name, params, spoil, message):
    X, y = spoil(digits.X_train[:50], digits.y_train[:50])
    with pytest.raises(ValueError, match=message):
        FastNetClassifier(**dict(dict(max_iter=2), **params)).fit(X, y)


def test_predict_with_the_wrong_number_of_features_names_both():
    clf = FastNetClassifier(max_iter=2, random_state=0).fit(np.ones((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="X has 5 features.*expecting 3"):
        clf.predict(np.ones((2, 5)))


def test_a_loaded_estimator_runs_on_the_backend_it_was_fitted_with(tmp_path):
    X = np.random.default_rng(1).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    for backend in ("numpy", "python"):
        clf = FastNetClassifier(hidden_layer_sizes=(4,), max_iter=3, backend=backend, random_state=0).fit(X, y)
        clf.save(tmp_path / f"{backend}.npz")
        again = fastnet.load_estimator(tmp_path / f"{backend}.npz")
        assert again.network_.backend == backend
        np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert fastnet.load_estimator(tmp_path / "python.npz", backend="numpy").network_.backend == "numpy"


def test_optimizer_settings_take_scikit_learn_s_names():
    X, y = np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 2
    clf = FastNetClassifier(hidden_layer_sizes=(5,), max_iter=3, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                            random_state=0, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.network_._optimizer.hyperparameters() == {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}
    momentum = FastNetClassifier(hidden_layer_sizes=(5,), max_iter=3, optimizer="momentum", momentum=0.5,
                                 random_state=0, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        momentum.fit(X, y)
    assert momentum.network_._optimizer.hyperparameters() == {"mu": 0.5}
    with pytest.raises(ValueError, match="beta_1 must lie in 0 < beta_1 < 1, got 1.5"):
        FastNetClassifier(beta_1=1.5).fit(X, y)
