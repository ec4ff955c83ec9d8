"""fastnet: one forward pass and one backpropagation, run as Python loops, Numba, NumPy or CuPy.

Importing fastnet imports neither numba nor cupy; a backend's library is loaded
the first time that backend is used. The scikit-learn estimators are loaded on
first use too.
"""

from . import datasets
from .backends import BackendUnavailableError, available_backends, get_backend
from .encoding import one_hot
from .backends.ops import BackendMemoryError
from .model_file import ModelFileError
from .network import Network, load
from .training import DivergenceError

__version__ = "0.2.0"

# Importing scikit-learn brings SciPy and pandas with it: ~1.2 s on the development
# machine, most of `fastnet --help`'s 1.9 s. Only the estimators need it, so they
# are imported when first asked for (PEP 562).
_ESTIMATOR_NAMES = ("FastNetClassifier", "FastNetRegressor", "load_estimator")


def __getattr__(name):
    if name in _ESTIMATOR_NAMES:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATOR_NAMES))

__all__ = [
    "BackendMemoryError",
    "BackendUnavailableError",
    "DivergenceError",
    "FastNetClassifier",
    "FastNetRegressor",
    "ModelFileError",
    "Network",
    "load",
    "load_estimator",
    "available_backends",
    "datasets",
    "get_backend",
    "one_hot",
]
