"""scikit-learn estimators on top of :class:`fastnet.Network`.

They follow scikit-learn's conventions (parameters stored untouched in
``__init__``, everything learned in attributes ending in ``_``), so they work
with ``Pipeline``, ``GridSearchCV``, ``clone`` and ``check_estimator``.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .encoding import one_hot
from .model_file import ModelFileError, read_archive
from .network import Network, network_from_archive
from .validation import positive_number


class _FastNetBase(BaseEstimator):
    """What the classifier and the regressor share: building, training and early stopping."""

    _output_activation = None  # set by subclasses
    _default_loss = None

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        loss=None,
        learning_rate=0.001,
        max_iter=200,
        batch_size="auto",
        optimizer="adam",
        backend="auto",
        dtype="float64",
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # -- subclasses provide these ------------------------------------------
    def _targets(self, y):
        raise NotImplementedError

    def _validation_score(self, X, y):
        return self.score(X, y)

    # -- shared ----------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        return sizes

    def _build(self, n_in, n_out):
        init = "he" if self.activation == "relu" else "xavier"
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return Network(
            [n_in, *self._hidden_sizes(), n_out],
            activation=self.activation,
            output_activation=self._output_activation,
            loss=self.loss or self._default_loss,
            init=init,
            backend=self.backend,
            dtype=self.dtype,
            seed=seed,
        )

    def _batch(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return self.batch_size

    def _train(self, X, y, epochs, callback=None):
        return self.network_.fit(X, self._targets(y), epochs=epochs, lr=self.learning_rate,
                                 batch_size=self._batch(X.shape[0]), optimizer=self.optimizer, callback=callback)

    def _fit(self, X, y, n_out):
        positive_number("max_iter", self.max_iter, integer=True)
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        self.network_ = self._build(X.shape[1], n_out)
        if not self.early_stopping:
            self.loss_curve_ = self._train(X, y, int(self.max_iter))
            self.n_iter_ = len(self.loss_curve_)
            return self
        stratify = y if isinstance(self, ClassifierMixin) and np.unique(y, return_counts=True)[1].min() > 1 else None
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, random_state=self.network_.seed, stratify=stratify)
        best = {"score": -np.inf, "params": None, "stale": 0}

        def keep_best(epoch, cost):
            score = self._validation_score(X_val, y_val)
            self.validation_scores_.append(score)
            if score > best["score"] + self.tol:
                best.update(score=score, params=self.network_.get_params(), stale=0)
            else:
                best["stale"] += 1
            return best["stale"] < self.n_iter_no_change

        self.validation_scores_ = []
        self.loss_curve_ = self._train(X_fit, y_fit, int(self.max_iter), callback=keep_best)
        self.n_iter_ = len(self.loss_curve_)
        self.best_validation_score_ = best["score"]
        self.network_.set_params(*best["params"])
        return self

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.forward(X)

    def save(self, path):
        """Write the fitted estimator to an ``.npz`` model file; read it with :func:`fastnet.load_estimator`.

        ``fastnet.load`` reads the same file as a plain Network.
        """
        check_is_fitted(self, "network_")
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        params["random_state"] = params["random_state"] if isinstance(params["random_state"], int) else None
        meta = {"estimator": type(self).__name__, "params": params, "n_iter": self.n_iter_,
                "y_1d": getattr(self, "_y_1d", None)}
        arrays = {"loss_curve": np.asarray(self.loss_curve_, dtype=np.float64)}
        if hasattr(self, "classes_"):
            classes = self.classes_
            arrays["classes"] = classes.astype(str) if classes.dtype == object else classes
        self.network_.save(path, extra_meta=meta, extra_arrays=arrays)


class FastNetClassifier(ClassifierMixin, _FastNetBase):
    """A multilayer-perceptron classifier trained by fastnet on any backend.

    Softmax output and cross-entropy loss; labels of any type scikit-learn
    accepts (strings, non-contiguous integers) are encoded internally.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
    activation : {"relu", "sigmoid", "tanh", "identity"}, default "relu"
    loss : {"cross_entropy", "mse"}, optional
        Default cross-entropy.
    learning_rate : float, default 0.001
    max_iter : int, default 200
        Epochs.
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)``.
    optimizer : {"adam", "momentum", "sgd", "gd"}, default "adam"
    backend : str, default "auto"
        The GPU when CuPy finds one, else ``numpy``.
    dtype : {"float64", "float32"}, default "float64"
    random_state : int, RandomState or None
        Seeds the initial weights and the mini-batch order.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified), stop when its
        accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        keep the best weights.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4

    Attributes
    ----------
    classes_ : ndarray
    network_ : fastnet.Network
    loss_curve_ : list of float
        Training cost per epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastnet import FastNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FastNetClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _output_activation = "softmax"
    _default_loss = "cross_entropy"

    def _targets(self, y):
        return one_hot(np.searchsorted(self.classes_, y), len(self.classes_))

    def fit(self, X, y):
        """Train from scratch on X (n_samples, n_features) and labels y."""
        X, y = validate_data(self, X, y, dtype=("float64", "float32"))
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        return self._fit(X.astype(self.dtype, copy=False), y, len(self.classes_))

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the current weights and optimiser state.

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, dtype=("float64", "float32"), reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(classes)
            self.network_ = self._build(X.shape[1], len(self.classes_))
            self.loss_curve_, self.n_iter_ = [], 0
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"labels {unknown.tolist()} are not in classes_ {self.classes_.tolist()}")
        self.loss_curve_ += self._train(X.astype(self.dtype, copy=False), y, 1)
        self.n_iter_ += 1
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return self._forward(X)

    def predict(self, X):
        """The most probable class of each sample."""
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]


class FastNetRegressor(RegressorMixin, _FastNetBase):
    """A multilayer-perceptron regressor (identity output, MSE loss) trained by fastnet.

    Takes the same parameters as :class:`FastNetClassifier` (``loss`` defaults to
    ``"mse"``); ``y`` may be 1-D or 2-D (several outputs). ``score`` is R².
    """

    _output_activation = "identity"
    _default_loss = "mse"

    def _targets(self, y):
        return y.reshape(len(y), -1)

    def fit(self, X, y):
        """Train from scratch on X (n_samples, n_features) and targets y."""
        X, y = validate_data(self, X, y, dtype=("float64", "float32"), multi_output=True, y_numeric=True)
        self._y_1d = y.ndim == 1
        return self._fit(X.astype(self.dtype, copy=False), y.astype(self.dtype, copy=False), 1 if y.ndim == 1 else y.shape[1])

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the current weights and optimiser state."""
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, dtype=("float64", "float32"), multi_output=True, y_numeric=True, reset=first)
        n_out = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self._y_1d = y.ndim == 1
            self.network_ = self._build(X.shape[1], n_out)
            self.loss_curve_, self.n_iter_ = [], 0
        elif n_out != self.network_.layers[-1]:
            raise ValueError(f"y has {n_out} targets but the network was fitted with {self.network_.layers[-1]}")
        self.loss_curve_ += self._train(X.astype(self.dtype, copy=False), y.astype(self.dtype, copy=False), 1)
        self.n_iter_ += 1
        return self

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_targets)."""
        out = self._forward(X)
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def load_estimator(path, backend="numpy"):
    """Read an estimator written by ``FastNetClassifier.save`` or ``FastNetRegressor.save``.

    Returns a fitted estimator whose ``predict`` gives what the saved one gave.

    Raises
    ------
    fastnet.ModelFileError
        An unreadable file, or a plain network model (use :func:`fastnet.load`).
    """
    meta, arrays = read_archive(path)
    kind = meta.get("estimator")
    classes = {"FastNetClassifier": FastNetClassifier, "FastNetRegressor": FastNetRegressor}
    if kind not in classes:
        raise ModelFileError(f"{path!r} holds a bare network, not an estimator: load it with fastnet.load")
    net = network_from_archive(path, meta, arrays, backend)
    try:
        params = dict(meta["params"])
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        est = classes[kind](**params)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{path!r} has unreadable estimator settings ({exc})") from None
    est.network_, est.n_features_in_ = net, net.layers[0]
    est.loss_curve_, est.n_iter_ = list(arrays.get("loss_curve", np.zeros(0)).tolist()), int(meta.get("n_iter", 0))
    if kind == "FastNetClassifier":
        est.classes_ = arrays.get("classes")
        if est.classes_ is None or est.classes_.shape != (net.layers[-1],):
            raise ModelFileError(f"{path!r}: the classifier's classes do not match its {net.layers[-1]} outputs")
    else:
        est._y_1d = bool(meta.get("y_1d", net.layers[-1] == 1))
    return est
