"""The estimators against scikit-learn's MLP itself, side by side on the same data and seeds.

With init="sklearn" (the default) and the same random_state, fastnet starts from
scikit-learn's very weights and draws the same validation split, so with plain
sgd the two must agree to rounding: weights, loss curve, validation scores and the
epoch where the stopping rule ends the fit. With Adam they differ only in where
epsilon sits (fastnet's is PyTorch's form), so the learning curves are compared
by their R².
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import _regression_dataset, check_estimator

import fastnet
from fastnet import DivergenceError, FastNetClassifier, FastNetRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_ML, Y_ML = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)

# (name, fastnet settings, scikit-learn settings (beyond the shared ones), X, y, regression?)
SIDE_BY_SIDE = [
    ("multiclass", {}, {}, X_IRIS, Y_IRIS, False),
    ("binary, one sigmoid output", {}, {}, X_IRIS, Y_IRIS == 1, False),
    ("sigmoid hidden layer", {"activation": "sigmoid"}, {"activation": "logistic"}, X_IRIS, Y_IRIS == 1, False),
    ("alpha", {"alpha": 1.0}, {"alpha": 1.0}, X_IRIS, Y_IRIS, False),
    ("mini-batches, no shuffle", {"batch_size": 16, "shuffle": False}, {"batch_size": 16, "shuffle": False},
     X_IRIS, Y_IRIS, False),
    ("multilabel", {}, {}, X_ML, Y_ML, False),
    ("early stopping, binary", {"early_stopping": True, "max_iter": 300}, {"early_stopping": True, "max_iter": 300},
     X_IRIS, Y_IRIS == 1, False),
    ("early stopping, regression", {"early_stopping": True, "max_iter": 300}, {"early_stopping": True, "max_iter": 300},
     X_IRIS, Y_IRIS.astype(float), True),
    ("tol stops the fit", {"tol": 1e-3, "max_iter": 1000}, {"tol": 1e-3, "max_iter": 1000},
     X_IRIS, Y_IRIS.astype(float), True),
]


def fit_both(fastnet_settings, sklearn_settings, X, y, regression, warm_fits=1):
    ours = (FastNetRegressor if regression else FastNetClassifier)(
        **dict(dict(random_state=0, optimizer="sgd", learning_rate=0.01, max_iter=30), **fastnet_settings))
    theirs = (MLPRegressor if regression else MLPClassifier)(
        **dict(dict(random_state=0, solver="sgd", momentum=0, learning_rate_init=0.01, max_iter=30), **sklearn_settings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(warm_fits):
            ours.fit(X, y)
            theirs.fit(X, y)
    return ours, theirs


@pytest.mark.parametrize("name,ours,theirs,X,y,regression", SIDE_BY_SIDE, ids=[c[0] for c in SIDE_BY_SIDE])
def test_same_seed_gives_scikit_learns_fit_number_for_number(name, ours, theirs, X, y, regression):
    ours, theirs = fit_both(ours, theirs, X, y, regression)
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if theirs.validation_scores_ is None:
        assert ours.validation_scores_ is None and ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    else:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X))


def test_warm_start_continues_as_scikit_learn_does():
    ours, theirs = fit_both({"warm_start": True, "max_iter": 5}, {"warm_start": True, "max_iter": 5},
                            X_IRIS, Y_IRIS, False, warm_fits=3)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 15
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9, atol=1e-12)


def test_verbose_prints_what_scikit_learn_prints(capsys):
    fit_both({"verbose": True, "early_stopping": True, "max_iter": 300},
             {"verbose": True, "early_stopping": True, "max_iter": 300}, X_IRIS, Y_IRIS == 1, False)
    out = capsys.readouterr().out.splitlines()
    half = len(out) // 2
    ours, theirs = out[:half], out[half:]
    assert ours[0].startswith("Iteration 1, loss = ") and ours[1].startswith("Validation score: ")
    assert ours == theirs


def standardised_regression_data():
    X, y = _regression_dataset()
    return StandardScaler().fit_transform(X), StandardScaler().fit_transform(y.reshape(-1, 1)).ravel()


@pytest.mark.parametrize("max_iter", [20, 50, 100, 200])
def test_regressor_learning_curve_matches_scikit_learns_with_the_defaults(max_iter):
    # The table: mean train R2 over 5 seeds, default settings (Adam).
    X, y = standardised_regression_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = np.mean([FastNetRegressor(max_iter=max_iter, random_state=s).fit(X, y).score(X, y) for s in range(5)])
        theirs = np.mean([MLPRegressor(max_iter=max_iter, random_state=s).fit(X, y).score(X, y) for s in range(5)])
    assert abs(ours - theirs) <= 0.03


def test_regressor_with_50_epochs_passes_check_estimator():
    results = check_estimator(FastNetRegressor(max_iter=50), on_fail=None, on_skip=None)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []


def test_other_initialisations_stay_available():
    X, y = standardised_regression_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        he = FastNetRegressor(init="he", max_iter=1, random_state=0).fit(X, y)
        sk = FastNetRegressor(max_iter=1, random_state=0).fit(X, y)
    assert he.network_.init == "he" and np.all(he.intercepts_[0] != 0) and sk.network_.init == "sklearn"
    # He's normal draws for 10 inputs are ~3x wider than scikit-learn's uniform ones
    assert np.std(he.coefs_[0]) > 2 * np.std(sk.coefs_[0])


def test_early_stopping_keeps_the_best_epoch_even_when_it_wins_by_less_than_tol():
    # tol=0.05: later epochs beat the first by less than tol, yet the best is kept.
    clf = FastNetClassifier(early_stopping=True, tol=0.05, max_iter=300, random_state=0, learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.validation_scores_.index(clf.best_validation_score_) > 0


def test_overflowing_validation_predictions_raise_divergence_and_keep_the_best_weights(monkeypatch):
    reg = FastNetRegressor(early_stopping=True, max_iter=50, random_state=0, learning_rate=0.01)
    real_forward, calls, kept = fastnet.Network.forward, [], {}

    def forward_that_overflows_at_epoch_4(net, X):
        calls.append(1)
        if len(calls) == 4:
            kept["before"] = net.get_params()
            return np.full((len(X), 1), np.inf)
        return real_forward(net, X)

    monkeypatch.setattr(fastnet.Network, "forward", forward_that_overflows_at_epoch_4)
    with pytest.raises(DivergenceError, match="validation set's predictions overflowed") as info:
        reg.fit(X_IRIS, Y_IRIS.astype(float))
    assert info.value.epoch == 4 and len(reg.validation_scores_) == 3
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert not np.array_equal(reg.coefs_[0], kept["before"][0][0].T)  # the best epoch's, not the last
    monkeypatch.undo()
    assert np.isfinite(reg.predict(X_IRIS)).all()


def test_no_convergence_warning_when_the_stopping_rule_ends_the_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = FastNetRegressor(tol=1e-2, max_iter=1000, random_state=0).fit(X_IRIS, Y_IRIS.astype(float))
    assert reg.n_iter_ < 1000
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\)"):
        FastNetRegressor(max_iter=3, random_state=0).fit(X_IRIS, Y_IRIS.astype(float))


BAD_SETTINGS = [
    ({"alpha": -1.0}, "alpha"),
    ({"alpha": float("nan")}, "alpha"),
    ({"tol": -1}, "tol"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"init": "glorot"}, "unknown init"),
    ({"batch_size": 0}, "batch_size"),
]


@pytest.mark.parametrize("settings,message", BAD_SETTINGS, ids=[str(s) for s, _ in BAD_SETTINGS])
def test_bad_settings_raise_before_a_fitted_estimator_changes(settings, message):
    clf = FastNetClassifier(max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_IRIS, Y_IRIS)
    before, curve = clf.coefs_, list(clf.loss_curve_)
    clf.set_params(**settings)
    with pytest.raises(ValueError, match=message):
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.loss_curve_ == curve
    for a, b in zip(before, clf.coefs_):
        np.testing.assert_array_equal(a, b)


def test_warm_start_with_other_classes_changes_nothing():
    clf = FastNetClassifier(max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_IRIS, Y_IRIS)
    before = clf.coefs_[0]
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X_IRIS, Y_IRIS + 1)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.coefs_[0], before)


def test_multilabel_predictions_are_an_indicator_matrix_and_round_trip_a_model_file(tmp_path):
    clf = FastNetClassifier(hidden_layer_sizes=30, learning_rate=0.01, max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_ML, Y_ML)
    np.testing.assert_array_equal(clf.classes_, np.arange(Y_ML.shape[1]))
    assert clf.predict(X_ML).shape == Y_ML.shape and set(np.unique(clf.predict(X_ML))) <= {0, 1}
    assert clf.score(X_ML, Y_ML) > 0.9
    clf.save(tmp_path / "multilabel.npz")
    again = fastnet.load_estimator(tmp_path / "multilabel.npz")
    np.testing.assert_array_equal(again.predict(X_ML), clf.predict(X_ML))


def test_network_fit_with_alpha_refuses_a_checkpoint_written_without_it(tmp_path):
    X, Y = X_IRIS, np.eye(3)[Y_IRIS]
    net = fastnet.Network([4, 5, 3], activation="relu", output_activation="softmax", loss="cross_entropy", seed=0)
    net.fit(X, Y, epochs=2, lr=0.01, checkpoint=tmp_path / "run.ckpt")
    with pytest.raises(fastnet.ModelFileError, match="alpha"):
        net.fit(X, Y, epochs=4, lr=0.01, alpha=0.1, resume=tmp_path / "run.ckpt")
    assert len(net.fit(X, Y, epochs=4, lr=0.01, resume=tmp_path / "run.ckpt")) == 2
