"""scikit-learn's own MLP tests, adapted to FastNetClassifier and FastNetRegressor.

Adapted from scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` (1.9,
BSD-3-Clause, the scikit-learn developers), rewritten for fastnet. Each test
keeps the original's name, data and assertion; what had to change is said where
it changed. The names scikit-learn uses map to fastnet's as follows:
``learning_rate_init`` -> ``learning_rate``, ``solver`` -> ``optimizer``
(``"sgd"`` with ``momentum=0`` -> ``"sgd"``; ``"sgd"`` with its default momentum
-> ``"momentum"``, fastnet's heavy-ball momentum without Nesterov's correction),
``"logistic"`` -> ``"sigmoid"``; the input dtype -> the ``dtype`` parameter.

The tests of the original that cannot apply are listed in ``NOT_APPLICABLE``
with the reason, and a test checks that every test of the installed original is
either adapted here or listed there.
"""

import ast
import re
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MinMaxScaler, scale

from fastnet import DivergenceError, FastNetClassifier, FastNetRegressor

ACTIVATION_TYPES = ["identity", "sigmoid", "tanh", "relu"]

X_digits, y_digits = load_digits(n_class=3, return_X_y=True)
X_digits_multi = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_multi = y_digits[:200]

X_digits, y_digits = load_digits(n_class=2, return_X_y=True)
X_digits_binary = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_binary = y_digits[:200]

classification_datasets = [(X_digits_multi, y_digits_multi), (X_digits_binary, y_digits_binary)]

X_reg, y_reg = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
y_reg = scale(y_reg)

X_iris, y_iris = load_iris(return_X_y=True)

NOT_APPLICABLE = {
    "test_lbfgs_classification": "fastnet has no L-BFGS solver (optimizers: adam, momentum, sgd, gd)",
    "test_lbfgs_regression": "fastnet has no L-BFGS solver",
    "test_lbfgs_classification_maxfun": "fastnet has no L-BFGS solver, so no max_fun",
    "test_lbfgs_regression_maxfun": "fastnet has no L-BFGS solver, so no max_fun",
    "test_learning_rate_warmstart": "fastnet has no sgd learning-rate schedules (learning_rate is the step size)",
    "test_adaptive_learning_rate": "fastnet has no sgd learning-rate schedules ('adaptive')",
    "test_sparse_matrices": "fastnet's estimators take dense arrays only",
    "test_mlp_sample_weight_with_early_stopping": "fastnet's fit takes no sample_weight",
    "test_mlp_vs_poisson_glm_equivalent": "fastnet has no Poisson loss and no L-BFGS solver",
}


def test_every_test_of_scikit_learns_module_is_adapted_or_said_not_to_apply():
    try:
        import sklearn.neural_network.tests.test_mlp as sklearn_tests
        original = Path(sklearn_tests.__file__)
    except ImportError:
        pytest.skip("this scikit-learn was installed without its test modules")
    names = {node.name for node in ast.parse(original.read_text()).body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    here = {name for name in globals() if name.startswith("test_")}
    assert names - here - set(NOT_APPLICABLE) == set()
    assert set(NOT_APPLICABLE) <= names  # no stale entries
    assert not set(NOT_APPLICABLE) & here


def test_alpha():
    # Larger alpha yields weights closer to zero.
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    absolute_sums = []
    for alpha in (0, 1):
        mlp = FastNetClassifier(hidden_layer_sizes=10, alpha=alpha, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
        absolute_sums.append(np.array([np.abs(mlp.coefs_[0]).sum(), np.abs(mlp.coefs_[1]).sum()]))
    assert (absolute_sums[0] > absolute_sums[1]).all()


def test_fit():
    # The worked example of the original: one sgd step (no momentum) from set weights.
    # Changed: the weights are set on the network after a first partial_fit builds it.
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    mlp = FastNetClassifier(optimizer="sgd", learning_rate=0.1, alpha=0.1, activation="sigmoid",
                            random_state=1, hidden_layer_sizes=2)
    mlp.partial_fit(X, y, classes=[0, 1])
    coefs = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
    mlp.network_.set_params([c.T for c in coefs], [np.array([0.1, 0.1]), np.array([1.0])])
    mlp.partial_fit(X, y)
    np.testing.assert_almost_equal(
        mlp.coefs_[0], np.array([[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]]), decimal=3)
    np.testing.assert_almost_equal(mlp.coefs_[1], np.array([[0.04706], [0.154089]]), decimal=3)
    np.testing.assert_almost_equal(mlp.intercepts_[0], np.array([0.098333, 0.09626]), decimal=3)
    np.testing.assert_almost_equal(mlp.intercepts_[1], np.array([0.9235]), decimal=3)
    np.testing.assert_almost_equal(mlp.predict_proba(X)[0, 1], 0.739, decimal=3)


def test_gradient():
    # Numerical and analytical gradients agree, penalty included, for every activation.
    # Changed: the analytic side is Network.backprop (the original calls lbfgs's loss).
    for n_labels in (2, 3):
        random_state = np.random.RandomState(seed=42)
        X = random_state.rand(5, 10)
        y = 1 + np.mod(np.arange(5) + 1, n_labels)
        for activation in ACTIVATION_TYPES:
            mlp = FastNetClassifier(activation=activation, hidden_layer_sizes=10, alpha=1e-5,
                                    learning_rate=0.2, max_iter=1, random_state=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                mlp.fit(X, y)
            net = mlp.network_
            Y = mlp._targets(y)
            _, grads = net.backprop(X, Y, alpha=1e-5)
            analytic = np.concatenate([g.ravel() for pair in grads for g in pair])
            weights, biases = net.get_params()
            flat = [p for pair in zip(weights, biases) for p in pair]
            numeric = []
            for p in flat:
                for i in range(p.size):
                    old = p.flat[i]
                    costs = []
                    for step in (1e-5, -1e-5):
                        p.flat[i] = old + step
                        net.set_params(flat[0::2], flat[1::2])
                        costs.append(net.backprop(X, Y, alpha=1e-5)[0])
                    p.flat[i] = old
                    numeric.append((costs[0] - costs[1]) / 2e-5)
            net.set_params(flat[0::2], flat[1::2])
            np.testing.assert_almost_equal(np.array(numeric), analytic)


def test_multilabel_classification():
    # Changed: adam at learning rate 0.01 for the original's lbfgs, which fastnet lacks.
    X, y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    mlp = FastNetClassifier(hidden_layer_sizes=50, alpha=1e-5, max_iter=150, random_state=0,
                            activation="sigmoid", learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.score(X, y) > 0.97

    mlp = FastNetClassifier(optimizer="momentum", hidden_layer_sizes=50, max_iter=150, random_state=0,
                            activation="sigmoid", alpha=1e-5, learning_rate=0.2)
    for _ in range(100):
        mlp.partial_fit(X, y, classes=[0, 1, 2, 3, 4])
    assert mlp.score(X, y) > 0.9

    # Early stopping still works: the split is not stratified for multilabel y.
    mlp = FastNetClassifier(early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert mlp.fit(X, y).predict(X).shape == y.shape


def test_multioutput_regression():
    # Changed: adam at learning rate 0.01 and 500 epochs for the original's lbfgs.
    X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
    mlp = FastNetRegressor(hidden_layer_sizes=50, max_iter=500, tol=1e-2, learning_rate=0.01, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.score(X, y) > 0.9


def test_partial_fit_classes_error():
    X, y = [[3, 2]], [0]
    clf = FastNetClassifier(optimizer="sgd")
    clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit(X, y, classes=[1, 2])


def test_partial_fit_classification():
    # partial_fit gives what fit gives, binary and multiclass.
    for X, y in classification_datasets:
        mlp = FastNetClassifier(optimizer="momentum", max_iter=100, random_state=1, tol=0, alpha=1e-5,
                                learning_rate=0.2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
        pred1 = mlp.predict(X)
        mlp = FastNetClassifier(optimizer="momentum", random_state=1, alpha=1e-5, learning_rate=0.2)
        for _ in range(100):
            mlp.partial_fit(X, y, classes=np.unique(y))
        np.testing.assert_array_equal(pred1, mlp.predict(X))
        assert mlp.score(X, y) > 0.95


def test_partial_fit_unseen_classes():
    clf = FastNetClassifier(random_state=0)
    clf.partial_fit([[1], [2], [3]], ["a", "b", "c"], classes=["a", "b", "c", "d"])
    clf.partial_fit([[4]], ["d"])
    assert clf.score([[1], [2], [3], [4]], ["a", "b", "c", "d"]) > 0


def test_partial_fit_regression():
    X, y = X_reg, y_reg
    for optimizer in ("sgd", "momentum"):  # the original's momentum 0 and 0.9
        mlp = FastNetRegressor(optimizer=optimizer, max_iter=100, activation="relu", random_state=1,
                               learning_rate=0.01, batch_size=X.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
        pred1 = mlp.predict(X)
        mlp = FastNetRegressor(optimizer=optimizer, activation="relu", learning_rate=0.01, random_state=1,
                               batch_size=X.shape[0])
        for _ in range(100):
            mlp.partial_fit(X, y)
        np.testing.assert_allclose(pred1, mlp.predict(X))
        assert mlp.score(X, y) > 0.65


def test_partial_fit_errors():
    X, y = [[3, 2], [1, 6]], [1, 0]
    with pytest.raises(ValueError):
        FastNetClassifier(optimizer="sgd").partial_fit(X, y, classes=[2])
    # (The original also checks that lbfgs has no partial_fit; fastnet has no lbfgs.)


def test_nonfinite_params():
    # Changed: fastnet raises its DivergenceError (a FloatingPointError) where
    # scikit-learn raises ValueError("Solver produced non-finite parameter weights").
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    with pytest.raises(DivergenceError, match="NaN or Inf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FastNetRegressor().fit(X, y)


def test_predict_proba_binary():
    X, y = X_digits_binary[:50], y_digits_binary[:50]
    clf = FastNetClassifier(hidden_layer_sizes=5, activation="sigmoid", random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    y_proba, y_log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert y_proba.shape == (50, 2)
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))
    assert roc_auc_score(y, y_proba[:, 1]) == 1.0


def test_predict_proba_multiclass():
    X, y = X_digits_multi[:10], y_digits_multi[:10]
    clf = FastNetClassifier(hidden_layer_sizes=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    y_proba, y_log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert y_proba.shape == (10, np.unique(y).size)
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))


def test_predict_proba_multilabel():
    # Multilabel outputs are independent sigmoids, not a softmax summing to 1.
    # Changed: adam at learning rate 0.01 and 500 epochs for the original's lbfgs.
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    clf = FastNetClassifier(hidden_layer_sizes=30, learning_rate=0.01, max_iter=500, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    y_proba = clf.predict_proba(X)
    assert y_proba.shape == Y.shape
    np.testing.assert_array_equal(y_proba > 0.5, Y)
    y_log_proba = clf.predict_log_proba(X)
    assert (y_proba.sum(1) - 1).dot(y_proba.sum(1) - 1) > 1e-10
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))


def test_shuffle():
    X, y = make_regression(n_samples=50, n_features=5, n_targets=1, random_state=0)

    def first_layer(shuffle):
        mlp = FastNetRegressor(hidden_layer_sizes=1, max_iter=1, batch_size=1, random_state=0, shuffle=shuffle)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return mlp.fit(X, y).coefs_[0]

    for shuffle in (True, False):  # the same either way when both do or both do not
        np.testing.assert_array_equal(first_layer(shuffle), first_layer(shuffle))
    assert not np.array_equal(first_layer(True), first_layer(False))


def test_tolerance():
    # A large tol ends the fit before max_iter.
    X, y = [[3, 2], [1, 6]], [1, 0]
    clf = FastNetClassifier(tol=0.5, max_iter=3000, optimizer="sgd").fit(X, y)
    assert clf.max_iter > clf.n_iter_


def test_verbose_sgd(capsys):
    X, y = [[3, 2], [1, 6]], [1, 0]
    clf = FastNetClassifier(optimizer="sgd", max_iter=2, verbose=10, hidden_layer_sizes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.partial_fit(X, y)
    out, _ = capsys.readouterr()
    assert "Iteration" in out


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_early_stopping(Estimator):
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    tol = 0.2
    mlp = Estimator(tol=tol, max_iter=3000, optimizer="sgd", early_stopping=True).fit(X, y)
    assert mlp.max_iter > mlp.n_iter_
    assert mlp.best_loss_ is None
    assert isinstance(mlp.validation_scores_, list)
    valid_scores, best_valid_score = mlp.validation_scores_, mlp.best_validation_score_
    assert max(valid_scores) == best_valid_score
    assert best_valid_score + tol > valid_scores[-2]
    assert best_valid_score + tol > valid_scores[-1]

    mlp = Estimator(tol=tol, max_iter=3000, optimizer="sgd", early_stopping=False).fit(X, y)
    assert mlp.validation_scores_ is None
    assert mlp.best_validation_score_ is None
    assert mlp.best_loss_ is not None


def test_warm_start():
    # Changed: adam for the original's lbfgs.
    X, y = X_iris, y_iris
    y_2classes = np.array([0] * 75 + [1] * 75)
    y_3classes = np.array([0] * 40 + [1] * 40 + [2] * 70)
    y_3classes_alt = np.array([0] * 50 + [1] * 50 + [3] * 50)
    y_4classes = np.array([0] * 37 + [1] * 37 + [2] * 38 + [3] * 38)
    y_5classes = np.array([0] * 30 + [1] * 30 + [2] * 30 + [3] * 30 + [4] * 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FastNetClassifier(hidden_layer_sizes=2, warm_start=True, random_state=42, tol=1e-2).fit(X, y)
        clf.fit(X, y)
        clf.fit(X, y_3classes)
        for y_i in (y_2classes, y_3classes_alt, y_4classes, y_5classes):
            clf = FastNetClassifier(hidden_layer_sizes=2, warm_start=True, random_state=42, tol=1e-2).fit(X, y)
            message = ("warm_start can only be used where `y` has the same classes as in the previous call to "
                       "fit. Previously got [0 1 2], `y` has %s" % np.unique(y_i))
            with pytest.raises(ValueError, match=re.escape(message)):
                clf.fit(X, y_i)


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_warm_start_full_iteration(Estimator):
    # A warm-started fit runs its own max_iter epochs (scikit-learn gh-16812).
    clf = Estimator(hidden_layer_sizes=2, optimizer="sgd", warm_start=True, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_iris, y_iris)
        assert clf.n_iter_ == 3
        clf.fit(X_iris, y_iris)
        assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 6


def test_n_iter_no_change():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    for n_iter_no_change in (2, 5, 10, 50, 100):
        clf = FastNetClassifier(tol=0.01, max_iter=3000, optimizer="sgd", n_iter_no_change=n_iter_no_change)
        clf.fit(X, y)
        assert clf._no_improvement_count == n_iter_no_change + 1
        assert 3000 > clf.n_iter_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_iter_no_change_inf():
    # An infinite n_iter_no_change never stops the fit, however large tol is.
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    clf = FastNetClassifier(tol=1e9, max_iter=3000, optimizer="sgd", n_iter_no_change=np.inf).fit(X, y)
    assert clf.n_iter_ == 3000
    assert clf._no_improvement_count == clf.n_iter_ - 1


def test_early_stopping_stratified():
    # The split is stratified, so a class of one member is refused.
    X, y = [[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1]
    with pytest.raises(ValueError, match=r"The least populated classes in y have only 1 member.*"
                                         r"Classes with too few members are: \[1\]"):
        FastNetClassifier(early_stopping=True).fit(X, y)


def test_mlp_early_stopping_string_labels():
    X, y = make_classification(n_samples=200, n_features=10, n_classes=3, n_informative=5, random_state=42)
    y = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    mlp = FastNetClassifier(early_stopping=True, max_iter=50, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.validation_scores_ is not None
    assert len(mlp.validation_scores_) == mlp.n_iter_
    assert np.isfinite(mlp.validation_scores_).all()


def test_mlp_classifier_dtypes_casting():
    # Changed: fastnet's precision is the dtype parameter, not the input's dtype.
    def fitted(dtype):
        mlp = FastNetClassifier(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_iter=100, tol=1e-1,
                                dtype=dtype)
        return mlp.fit(X_digits[:300].astype(dtype), y_digits[:300])

    mlp_64, mlp_32 = fitted("float64"), fitted("float32")
    np.testing.assert_array_equal(mlp_64.predict(X_digits[300:]), mlp_32.predict(X_digits[300:].astype(np.float32)))
    np.testing.assert_allclose(mlp_64.predict_proba(X_digits[300:]),
                               mlp_32.predict_proba(X_digits[300:].astype(np.float32)), rtol=1e-2)


def test_mlp_regressor_dtypes_casting():
    def fitted(dtype):
        mlp = FastNetRegressor(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_iter=150, tol=1e-3,
                               dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return mlp.fit(X_digits[:300].astype(dtype), y_digits[:300])

    pred_64 = fitted("float64").predict(X_digits[300:])
    pred_32 = fitted("float32").predict(X_digits[300:].astype(np.float32))
    np.testing.assert_allclose(pred_64, pred_32, rtol=5e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_mlp_param_dtypes(dtype, Estimator):
    # The network's parameters and the regressor's predictions are of the chosen dtype.
    X, y = X_digits.astype(dtype), y_digits
    mlp = Estimator(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_iter=50, tol=1e-1,
                    dtype=np.dtype(dtype).name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X[:300], y[:300])
    pred = mlp.predict(X[300:])
    assert all(intercept.dtype == dtype for intercept in mlp.intercepts_)
    assert all(coef.dtype == dtype for coef in mlp.coefs_)
    if Estimator is FastNetRegressor:
        assert pred.dtype == dtype


def test_mlp_loading_from_joblib_partial_fit(tmp_path):
    # A pickled-and-loaded estimator goes on learning with partial_fit (scikit-learn #19626).
    pre_trained = FastNetRegressor(hidden_layer_sizes=(42,), random_state=42, learning_rate=0.01, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pre_trained.fit([[2]], [4])
    joblib.dump(pre_trained, tmp_path / "mlp.pkl")
    loaded = joblib.load(tmp_path / "mlp.pkl")
    for _ in range(200):
        loaded.partial_fit([[2]], [1])
    np.testing.assert_allclose(loaded.predict([[2]]), [1], rtol=1e-4)


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_preserve_feature_names(Estimator):
    # No feature-name warning from the validation scores (scikit-learn gh-24846).
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(data=rng.randn(10, 2), columns=["colname_a", "colname_b"])
    y = pd.Series(data=np.full(10, 1), name="colname_y")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        Estimator(early_stopping=True, validation_fraction=0.2).fit(X, y)


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_mlp_warm_start_with_early_stopping(Estimator):
    mlp = Estimator(max_iter=10, random_state=0, warm_start=True, early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_iris, y_iris)
        n_validation_scores = len(mlp.validation_scores_)
        mlp.set_params(max_iter=20)
        mlp.fit(X_iris, y_iris)
    assert len(mlp.validation_scores_) > n_validation_scores


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])  # the original's lbfgs case does not apply
def test_mlp_warm_start_no_convergence(Estimator, optimizer):
    # A warm start stops at max_iter (scikit-learn gh-24764).
    model = Estimator(optimizer=optimizer, warm_start=True, early_stopping=False, max_iter=10,
                      n_iter_no_change=np.inf, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X_iris, y_iris)
    assert model.n_iter_ == 10
    model.set_params(max_iter=20)
    with pytest.warns(ConvergenceWarning):
        model.fit(X_iris, y_iris)
    assert model.n_iter_ == 20


@pytest.mark.parametrize("Estimator", [FastNetClassifier, FastNetRegressor])
def test_mlp_partial_fit_after_fit(Estimator):
    # scikit-learn gh-25693: a clear error, not a crash.
    mlp = Estimator(early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_iris, y_iris)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        mlp.partial_fit(X_iris, y_iris)


def test_mlp_diverging_loss():
    # Changed on purpose: where scikit-learn records NaN validation scores and goes
    # on (gh-29504), fastnet stops with DivergenceError as soon as the weights, the
    # cost or the validation predictions overflow, and keeps finite weights.
    mlp = FastNetRegressor(hidden_layer_sizes=100, activation="identity", optimizer="sgd", alpha=0.0001,
                           learning_rate=1, shuffle=True, max_iter=20, early_stopping=True,
                           n_iter_no_change=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(DivergenceError, match="NaN or Inf"):
            mlp.fit(X_iris, y_iris)
    assert all(np.isfinite(c).all() for c in mlp.coefs_)
    assert np.isfinite(mlp.predict(X_iris)).all()


def test_minimum_input_sample_size():
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        FastNetRegressor(early_stopping=True, random_state=0).fit(X, y)
