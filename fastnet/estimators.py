"""scikit-learn estimators on top of :class:`fastnet.Network`.

They follow scikit-learn's conventions (parameters stored untouched in
``__init__``, everything learned in attributes ending in ``_``), so they work
with ``Pipeline``, ``GridSearchCV``, ``clone`` and ``check_estimator``, and they
train as ``MLPClassifier`` and ``MLPRegressor`` do: the same initialisation, L2
penalty, mini-batches, Adam, stopping rule (:mod:`fastnet.convergence`) and
warnings, so the same data and settings give the same learning curve.
"""

import types
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .backends import backend_status
from .convergence import NoImprovementRule
from .encoding import one_hot
from .initializers import INITIALIZERS, initialize
from .model_file import ModelFileError, read_archive
from .network import Network, network_from_archive
from .optimizers import OPTIMIZERS, RULES, check_settings, rule_of
from .training import DivergenceError, check_alpha
from .validation import layer_sizes, positive_number

_FLOAT_DTYPES = ("float64", "float32")
# Sparse X is taken as it comes in these formats (any other is converted to the first);
# the network keeps it sparse through its first layer (see fastnet.sparse_input).
_SPARSE_FORMATS = ("csr", "csc")
# scikit-learn's name of each optimiser setting fastnet's estimators take.
_SKLEARN_WORDS = {"mu": "momentum", "beta1": "beta_1", "beta2": "beta_2", "eps": "epsilon"}


class _FastNetBase(BaseEstimator):
    """What the classifier and the regressor share: building, training, stopping."""

    def __init_subclass__(cls, **kwargs):
        """Give each estimator its own copy of the shared ``__init__``, named for it.

        Python names the function in ``TypeError: ...__init__() got an unexpected
        keyword argument``; the user wrote FastNetClassifier, not _FastNetBase.
        """
        super().__init_subclass__(**kwargs)
        if "__init__" not in vars(cls):
            shared = _FastNetBase.__init__
            code = shared.__code__
            if hasattr(code, "co_qualname"):  # Python 3.11+: the message reads the code's name
                code = code.replace(co_qualname=f"{cls.__name__}.__init__")
            init = types.FunctionType(code, shared.__globals__, "__init__", shared.__defaults__, shared.__closure__)
            init.__kwdefaults__ = shared.__kwdefaults__
            init.__qualname__ = f"{cls.__name__}.__init__"
            init.__doc__ = shared.__doc__
            cls.__init__ = init

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
        alpha=0.0001,
        init="sklearn",
        shuffle=True,
        warm_start=False,
        verbose=False,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
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
        self.alpha = alpha
        self.init = init
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.verbose = verbose
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    # -- subclasses provide these ------------------------------------------
    def _output_layer(self, labels):
        """(output activation, default loss) for targets described by ``labels`` (see _fit)."""
        raise NotImplementedError

    def _targets(self, y):
        """y as the (n_samples, n_outputs) float array the network trains on."""
        raise NotImplementedError

    def _score_output(self, out, y):
        """The validation score of network outputs ``out`` against ``y``."""
        raise NotImplementedError

    # -- fitted parameters, in scikit-learn's layout -------------------------
    @property
    def coefs_(self):
        """Weight matrices as scikit-learn lays them out: ``coefs_[l]`` is (n_in, n_out)."""
        check_is_fitted(self, "network_")
        return [W.T for W in self.network_.get_params()[0]]

    @property
    def intercepts_(self):
        """Bias vectors, ``intercepts_[l]`` of shape (n_out,)."""
        check_is_fitted(self, "network_")
        return self.network_.get_params()[1]

    # -- checks --------------------------------------------------------------
    def _check_params(self):
        """Raise ValueError for a bad setting, before anything is changed."""
        positive_number("max_iter", self.max_iter, integer=True)
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not (self.n_iter_no_change == np.inf or isinstance(self.n_iter_no_change, (int, np.integer))) \
                or isinstance(self.n_iter_no_change, bool) or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be a positive integer or numpy.inf, got {self.n_iter_no_change!r}")
        if not (isinstance(self.tol, (int, float, np.floating)) and 0 <= self.tol < np.inf):
            raise ValueError(f"tol must be a finite number >= 0, got {self.tol!r}")
        check_alpha(self.alpha)
        if self.optimizer in OPTIMIZERS:  # an unknown one is named by fit, with the valid names
            check_settings(self.optimizer, self._optimizer_settings(), words=_SKLEARN_WORDS)
        if self.init not in INITIALIZERS:
            raise ValueError(f"unknown init {self.init!r}; valid: {', '.join(INITIALIZERS)}")
        if self.batch_size != "auto":
            positive_number("batch_size", self.batch_size, integer=True)

    def _optimizer_settings(self):
        """The optimiser's settings from scikit-learn's parameters, for the ones it has."""
        if self.optimizer not in OPTIMIZERS:
            return {}
        return {name: getattr(self, word) for name, word in _SKLEARN_WORDS.items()
                if name in RULES[rule_of(self.optimizer)].settings}

    def _continues(self):
        """True when this fit starts from the weights of the last one (``warm_start``)."""
        return bool(self.warm_start) and hasattr(self, "network_")

    # -- building and training ------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        return [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)

    def _initial_weights(self, n_in, n_out, rs):
        """scikit-learn's own draws from its RandomState ``rs`` for init="sklearn", else None.

        With the same ``random_state``, the estimators then start from the weights
        MLPClassifier and MLPRegressor start from.
        """
        if self.init != "sklearn":
            return None  # the Network draws them from its seed
        return initialize("sklearn", layer_sizes([n_in, *self._hidden_sizes(), n_out]), rs, self.activation)

    def _build(self, n_in, n_out, labels, initial, seed):
        """A new network with the ``initial`` [(W, b), ...] (None: its own draws from ``seed``)."""
        output_activation, default_loss = self._output_layer(labels)
        net = Network(
            [n_in, *self._hidden_sizes(), n_out],
            activation=self.activation,
            output_activation=output_activation,
            loss=self.loss or default_loss,
            init=self.init,
            backend=self.backend,
            dtype=self.dtype,
            seed=seed,
        )
        if initial is not None:
            net.set_params([W for W, _ in initial], [b for _, b in initial])
        return net

    @staticmethod
    def _seed(rs):
        """The network's seed (its mini-batch order), the next draw from ``rs``."""
        return int(rs.randint(np.iinfo(np.int32).max))

    def _batch(self, n_samples):
        return min(200, n_samples) if self.batch_size == "auto" else self.batch_size

    def _train(self, X, y, epochs, callback=None):
        return self.network_.fit(X, self._targets(y), epochs=epochs, lr=self.learning_rate,
                                 batch_size=self._batch(X.shape[0]), optimizer=self.optimizer,
                                 alpha=self.alpha, shuffle=self.shuffle, callback=callback,
                                 optimizer_settings=self._optimizer_settings())

    def _validation_split(self, X, y, rs):
        """Hold out ``validation_fraction`` of the rows, stratified for single-label classes."""
        stratify = y if isinstance(self, ClassifierMixin) and y.ndim == 1 else None
        # Raises, as scikit-learn does, when a class has too few members to stratify.
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=self.validation_fraction,
                                                      random_state=rs, stratify=stratify)
        if X_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small ({X_val.shape[0]} row of {X.shape[0]}): increase "
                "validation_fraction or the size of your dataset, or set early_stopping=False."
            )
        return X_fit, X_val, y_fit, y_val

    def _check_warm_shape(self, n_in, n_out):
        if self.network_.layers[0] != n_in or self.network_.layers[-1] != n_out:
            raise ValueError(f"warm_start needs data of the fitted shape: {self.network_.layers[0]} features and "
                             f"{self.network_.layers[-1]} outputs, got {n_in} and {n_out}")

    def _new_rule(self):
        self._rule = NoImprovementRule(self.tol, self.n_iter_no_change, maximize=bool(self.early_stopping))
        self.validation_scores_ = [] if self.early_stopping else None

    def _fit(self, X, y, n_out, labels):
        """Train for up to ``max_iter`` epochs under the stopping rule; everything is checked first.

        ``labels`` holds the attributes that describe the targets (the classifier's
        ``classes_``); they are set once every check has passed.
        """
        self._check_params()
        continuing = self._continues()
        if continuing:
            self._check_warm_shape(X.shape[1], n_out)
        rs = check_random_state(self.random_state)  # draws in scikit-learn's order: weights, split, batches
        initial = None if continuing else self._initial_weights(X.shape[1], n_out, rs)
        X_fit, y_fit = X, y
        if self.early_stopping:
            X_fit, X_val, y_fit, y_val = self._validation_split(X, y, rs)
        network = None if continuing else self._build(X.shape[1], n_out, labels, initial, self._seed(rs))
        # Nothing has changed before this line.
        for name, value in labels.items():
            setattr(self, name, value)
        if continuing:
            self.network_.reset_optimizer()  # scikit-learn's warm start keeps the weights, not the moments
            if not hasattr(self, "_rule") or (self.validation_scores_ is None) == bool(self.early_stopping):
                self._new_rule()  # loaded from a file, or early_stopping switched between the two fits
            self._rule.tol, self._rule.n_iter_no_change = self.tol, self.n_iter_no_change
        else:
            self.network_, self.loss_curve_ = network, []
            self._new_rule()
        rule = self._rule
        best_params = self.network_.get_params() if self.early_stopping else None
        self.n_iter_ = 0
        stopped = False
        updates_per_epoch = -(-X_fit.shape[0] // self._batch(X_fit.shape[0]))

        def after_epoch(epoch, cost):
            nonlocal best_params, stopped
            self.n_iter_ += 1
            self.loss_curve_.append(cost)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {cost:.8f}")
            if self.early_stopping:
                score = self._validation_score(X_val, y_val)
                if score is None:
                    # The weights can be finite (~1e163) while the outputs overflow:
                    # keep the best epoch's weights and say so, as Network.fit would.
                    self.network_.set_params(*best_params)
                    self._publish_progress()
                    raise DivergenceError(epoch, epoch * updates_per_epoch, self.learning_rate, self.loss_curve_[:-1],
                                          what="the validation set's predictions overflowed to NaN or Inf",
                                          kept="the weights of the best validation epoch")
                self.validation_scores_.append(score)
                if self.verbose:
                    print(f"Validation score: {score:f}")
                if rule.update(score):
                    best_params = self.network_.get_params()
            else:
                rule.update(cost)
            if rule.exhausted:
                stopped = True
                if self.verbose:
                    what = "Validation score" if self.early_stopping else "Training loss"
                    print(f"{what} did not improve more than tol={self.tol:f} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                return False
            return True

        self._train(X_fit, y_fit, int(self.max_iter), callback=after_epoch)
        if self.early_stopping:
            self.network_.set_params(*best_params)
        self._publish_progress()
        if not stopped:
            warnings.warn(f"fastnet: maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                          "converged yet; raise max_iter or tol.", ConvergenceWarning, stacklevel=3)
        return self

    def _publish_progress(self):
        """scikit-learn's progress attributes, from the stopping rule."""
        on_validation = self._rule.maximize
        self.best_validation_score_ = self._rule.best if on_validation else None
        self.best_loss_ = None if on_validation else self._rule.best
        self._no_improvement_count = self._rule.count

    def _validation_score(self, X_val, y_val):
        """The validation score, or None when the outputs overflowed to NaN or Inf."""
        out = self.network_.forward(X_val)  # X_val is checked already: no feature-name warning
        return float(self._score_output(out, y_val)) if np.isfinite(out).all() else None

    def _partial_fit(self, X, y, n_out, first, labels):
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True: it trains one epoch on the data "
                             "it is given, with no validation set; use fit, or set early_stopping=False")
        self._check_params()
        if first:
            rs = check_random_state(self.random_state)
            initial = self._initial_weights(X.shape[1], n_out, rs)
            self.network_ = self._build(X.shape[1], n_out, labels, initial, self._seed(rs))
            for name, value in labels.items():
                setattr(self, name, value)
            self.loss_curve_, self.n_iter_ = [], 0
        if first or not hasattr(self, "_rule"):  # the rule is not saved in model files
            self._new_rule()
        cost = self._train(X, y, 1)[0]
        self.loss_curve_.append(cost)
        self._rule.update(cost)
        self._publish_progress()
        self.n_iter_ += 1
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {cost:.8f}")
        return self

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=self.network_.dtype, accept_sparse=_SPARSE_FORMATS)
        return self.network_.forward(X)

    def to_onnx(self, path):
        """Write the fitted estimator's prediction as an ONNX model (needs ``pip install "fastnet-trainer[onnx]"``).

        Input ``X`` (n_samples, n_features) in the network's dtype. A classifier's
        outputs are ``probabilities`` (as :meth:`predict_proba`) and ``label`` (as
        :meth:`predict`); a regressor's, ``outputs`` of shape (n_samples, n_targets).
        """
        check_is_fitted(self, "network_")
        from .onnx_export import network_model, write_model

        write_model(network_model(self.network_, **self._onnx_head()), path)

    def _onnx_head(self):
        return {"head": "outputs"}

    def save(self, path):
        """Write the fitted estimator to an ``.npz`` model file; read it with :func:`fastnet.load_estimator`.

        ``fastnet.load`` reads the same file as a plain Network.
        """
        check_is_fitted(self, "network_")
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        params["random_state"] = params["random_state"] if isinstance(params["random_state"], int) else None
        params["n_iter_no_change"] = None if params["n_iter_no_change"] == np.inf else params["n_iter_no_change"]
        meta = {"estimator": type(self).__name__, "params": params, "n_iter": self.n_iter_,
                "y_1d": getattr(self, "_y_1d", None), "multilabel": getattr(self, "_multilabel", False)}
        arrays = {"loss_curve": np.asarray(self.loss_curve_, dtype=np.float64)}
        if hasattr(self, "classes_"):
            classes = self.classes_
            arrays["classes"] = classes.astype(str) if classes.dtype == object else classes
        self.network_.save(path, extra_meta=meta, extra_arrays=arrays)


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
    activation : {"relu", "sigmoid", "tanh", "identity"}, default "relu"
        Of the hidden layers.
    loss : {"cross_entropy", "mse"}, optional
        Default: {default_loss}.
    learning_rate : float, default 0.001
        The step size (scikit-learn's ``learning_rate_init``).
    max_iter : int, default 200
        Epochs at most; a ``ConvergenceWarning`` says when they ran out before
        the stopping rule was met.
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)``.
    optimizer : {"adam", "momentum", "sgd", "gd", "rmsprop", "adamw"}, default "adam"
        scikit-learn's ``solver`` (its "sgd" with momentum is "momentum" here);
        "rmsprop" and "adamw" follow PyTorch's (AdamW's weight_decay is 0.01).
    backend : str, default "auto"
        See :func:`fastnet.get_backend`.
    dtype : {"float64", "float32"}, default "float64"
    random_state : int, RandomState or None
        Seeds the initial weights, the validation split and the mini-batch order.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data ({split}), stop when its
        {score} has not improved by ``tol`` for more than ``n_iter_no_change``
        epochs in a row, and keep the weights of the best epoch.
    validation_fraction : float, default 0.1
    n_iter_no_change : int or numpy.inf, default 10
    tol : float, default 1e-4
        Without early stopping, training stops when the training loss has not
        fallen by ``tol`` for more than ``n_iter_no_change`` epochs in a row.
    alpha : float, default 0.0001
        L2 penalty: alpha / (2 batch size) * (sum of squared weights) joins the
        loss, as in scikit-learn.
    init : {"sklearn", "he", "xavier", "uniform"}, default "sklearn"
        Initial weights. ``sklearn`` is scikit-learn's: weights and biases from
        U(+-sqrt(6 / (fan_in + fan_out))), 2 instead of 6 for sigmoid. See
        :func:`fastnet.initializers.initialize` for the others.
    shuffle : bool, default True
        Shuffle the rows every epoch.
    warm_start : bool, default False
        ``fit`` continues from the weights of the previous fit (with a fresh
        optimiser, as scikit-learn), instead of starting again.
    verbose : bool, default False
        Print the loss (and validation score) of every epoch.
    momentum : float, default 0.9
        ``optimizer="momentum"``'s mu.
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's (and AdamW's) settings; ``epsilon`` is RMSprop's too.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    network_ : fastnet.Network
    coefs_, intercepts_ : list of ndarray
        Copies of the weights in scikit-learn's layout, ``coefs_[l]`` (n_in, n_out).
    loss_curve_ : list of float
        Training loss per epoch, penalty included.
    n_iter_ : int
        Epochs run by the last ``fit`` (by every ``partial_fit`` call so far).
    best_loss_ : float or None
        Lowest training loss; None with early stopping.
    validation_scores_ : list of float or None
        With early stopping, the validation {score} of every epoch.
    best_validation_score_ : float or None
    n_features_in_ : int
"""


class FastNetClassifier(ClassifierMixin, _FastNetBase):
    """A multilayer-perceptron classifier trained by fastnet on any backend.

    As scikit-learn's ``MLPClassifier``: a softmax output for several classes, one
    sigmoid output for two, and one sigmoid per label for a multilabel 0/1
    indicator ``y``, each with cross-entropy. Labels of any type scikit-learn
    accepts (strings, non-contiguous integers) are encoded internally.
    {parameters}
    {attributes}
    classes_ : ndarray
        The labels; ``0 .. n_labels - 1`` for multilabel ``y``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastnet import FastNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FastNetClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def _output_layer(self, labels):
        two_or_multilabel = labels["_multilabel"] or len(labels["classes_"]) == 2
        return ("sigmoid" if two_or_multilabel else "softmax"), "cross_entropy"

    def _targets(self, y):
        if self._multilabel:
            return y.astype(self.dtype)
        if len(self.classes_) == 2 and self.network_.layers[-1] == 1:
            return (y == self.classes_[1]).astype(self.dtype).reshape(-1, 1)
        return one_hot(np.searchsorted(self.classes_, y), len(self.classes_))

    def _onnx_head(self):
        if self._multilabel:
            return {"head": "multilabel"}
        binary = len(self.classes_) == 2 and self.network_.layers[-1] == 1
        return {"head": "binary" if binary else "classes", "classes": self.classes_}

    def _labels_of(self, proba):
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    def _proba_of(self, out):
        if out.shape[1] == 1 and len(self.classes_) == 2:  # binary: one sigmoid, P(classes_[1])
            return np.hstack([1.0 - out, out])
        return out

    def _score_output(self, out, y):
        return accuracy_score(y, self._labels_of(self._proba_of(out)))

    def _checked(self, X, y, reset):
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, multi_output=True, reset=reset,
                             accept_sparse=_SPARSE_FORMATS)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"{type(self).__name__} takes one label per sample, or a 0/1 indicator matrix for "
                             f"multilabel classification; y is {kind!r}")
        classes = np.arange(y.shape[1]) if kind == "multilabel-indicator" else np.unique(y)
        return X.astype(self.dtype, copy=False), y, classes, kind == "multilabel-indicator"

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and labels y (n_samples,) or a 0/1 matrix (n_samples, n_labels).

        From scratch, or from the last fit's weights with ``warm_start=True``. X may be a
        SciPy sparse matrix (CSR or CSC), which is never made dense on the numpy, fused
        and cupy backends (see :mod:`fastnet.sparse_input`).
        """
        X, y, classes, multilabel = self._checked(X, y, reset=not self._continues())
        if self._continues() and (multilabel != self._multilabel or not np.array_equal(classes, self.classes_)):
            raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                             f"call to fit. Previously got {self.classes_}, `y` has {classes}")
        return self._fit(X, y, self._n_outputs(classes, multilabel), {"classes_": classes, "_multilabel": multilabel})

    @staticmethod
    def _n_outputs(classes, multilabel):
        return 1 if (len(classes) == 2 and not multilabel) else len(classes)

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the current weights and optimiser state.

        ``classes`` (all labels that will ever appear) is required on the first
        call; later calls may leave it out, or must pass the same labels.
        """
        first = not hasattr(self, "network_")
        X, y, seen, multilabel = self._checked(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            labels = {"classes_": np.unique(classes), "_multilabel": multilabel}
            if multilabel and not np.array_equal(labels["classes_"], np.arange(y.shape[1])):
                raise ValueError(f"multilabel y has {y.shape[1]} columns: classes must be 0..{y.shape[1] - 1}, "
                                 f"got {labels['classes_'].tolist()}")
        else:
            labels = {"classes_": self.classes_, "_multilabel": self._multilabel}
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={np.unique(classes).tolist()} is not the same as on the first call to "
                                 f"partial_fit, which was {self.classes_.tolist()}")
            if multilabel != self._multilabel:
                raise ValueError("y switches between one label per sample and a multilabel indicator matrix")
        unknown = np.setdiff1d(seen, labels["classes_"])
        if unknown.size:
            raise ValueError(f"labels {unknown.tolist()} are not in classes_ {labels['classes_'].tolist()}")
        n_out = self._n_outputs(labels["classes_"], multilabel)
        return self._partial_fit(X, y, n_out, first, labels)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        For multilabel ``y``, each label's own probability (rows need not sum to 1).
        """
        return self._proba_of(self._forward(X))

    def predict_log_proba(self, X):
        """The natural log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample; a 0/1 matrix (threshold 0.5) for multilabel."""
        return self._labels_of(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class FastNetRegressor(RegressorMixin, _FastNetBase):
    """A multilayer-perceptron regressor (identity output, MSE loss) trained by fastnet.

    As scikit-learn's ``MLPRegressor``; ``y`` may be 1-D or 2-D (several
    outputs), and ``score`` is R².
    {parameters}
    {attributes}
    """

    def _output_layer(self, labels):
        return "identity", "mse"

    def _targets(self, y):
        return y.reshape(len(y), -1)

    def _score_output(self, out, y):
        return r2_score(y, out.ravel() if y.ndim == 1 else out)

    def _checked(self, X, y, reset):
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES, multi_output=True, y_numeric=True, reset=reset,
                             accept_sparse=_SPARSE_FORMATS)
        return X.astype(self.dtype, copy=False), y.astype(self.dtype, copy=False)

    def fit(self, X, y):
        """Train on X (n_samples, n_features), dense or SciPy sparse, and targets y; from scratch unless ``warm_start``."""
        X, y = self._checked(X, y, reset=not self._continues())
        if self._continues() and (y.ndim == 1) != self._y_1d:
            raise ValueError("warm_start needs y of the fitted shape: 1-D targets then 2-D, or the other way round")
        return self._fit(X, y, 1 if y.ndim == 1 else y.shape[1], {"_y_1d": y.ndim == 1})

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the current weights and optimiser state."""
        first = not hasattr(self, "network_")
        X, y = self._checked(X, y, reset=first)
        n_out = 1 if y.ndim == 1 else y.shape[1]
        if not first and n_out != self.network_.layers[-1]:
            raise ValueError(f"y has {n_out} targets but the network was fitted with {self.network_.layers[-1]}")
        return self._partial_fit(X, y, n_out, first, {"_y_1d": y.ndim == 1} if first else {})

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_targets)."""
        out = self._forward(X)
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags


def _fill(text, **fields):
    """``text`` with each ``{name}`` replaced (the docs hold other braces, so not str.format)."""
    for name, value in fields.items():
        text = text.replace("{" + name + "}", value)
    return text


FastNetClassifier.__doc__ = _fill(
    FastNetClassifier.__doc__,
    parameters=_fill(_PARAMETERS_DOC, default_loss="cross_entropy", split="stratified", score="accuracy"),
    attributes=_fill(_ATTRIBUTES_DOC, score="accuracy"))
FastNetRegressor.__doc__ = _fill(
    FastNetRegressor.__doc__,
    parameters=_fill(_PARAMETERS_DOC, default_loss="mse", split="at random", score="R²"),
    attributes=_fill(_ATTRIBUTES_DOC, score="R²"))


def load_estimator(path, backend=None):
    """Read an estimator written by ``FastNetClassifier.save`` or ``FastNetRegressor.save``.

    Returns a fitted estimator whose ``predict`` gives what the saved one gave.

    Parameters
    ----------
    path : str or path-like
    backend : str, optional
        Where the network runs. By default the estimator's own ``backend`` setting, so
        that on the same machine the numbers are the saved estimator's to the last bit;
        ``"auto"`` where that backend cannot run here (a model trained on a GPU).

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
    try:
        params = dict(meta["params"])
        if backend is None:
            saved = params.get("backend") or "auto"
            backend = saved if isinstance(saved, str) and backend_status(saved)[0] else "auto"
        net = network_from_archive(path, meta, arrays, backend)
        sizes = params["hidden_layer_sizes"]
        params["hidden_layer_sizes"] = tuple(sizes) if isinstance(sizes, list) else sizes  # JSON has no tuples
        if params.get("n_iter_no_change", 0) is None:
            params["n_iter_no_change"] = np.inf
        est = classes[kind](**params)
    except (KeyError, TypeError, ValueError) as exc:  # ValueError: a backend name no fastnet knows
        raise ModelFileError(f"{path!r} has unreadable estimator settings ({exc})") from None
    est.network_, est.n_features_in_ = net, net.layers[0]
    est.loss_curve_, est.n_iter_ = list(arrays.get("loss_curve", np.zeros(0)).tolist()), int(meta.get("n_iter", 0))
    if kind == "FastNetClassifier":
        est.classes_ = arrays.get("classes")
        est._multilabel = bool(meta.get("multilabel", False))
        n_out = net.layers[-1]
        # One sigmoid output serves two classes; files of fastnet 0.1 used two softmax outputs.
        fits = est.classes_ is not None and (est.classes_.shape == (n_out,) or (n_out == 1 and est.classes_.shape == (2,)))
        if not fits:
            raise ModelFileError(f"{path!r}: the classifier's classes do not match its {net.layers[-1]} outputs")
    else:
        est._y_1d = bool(meta.get("y_1d", net.layers[-1] == 1))
    return est
