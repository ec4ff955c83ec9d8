"""fastnet: one forward pass and one backpropagation, run as Python loops, Numba, NumPy or CuPy.

Importing fastnet imports neither numba nor cupy; a backend's library is loaded
the first time that backend is used.
"""

from . import datasets
from .backends import BackendUnavailableError, available_backends, get_backend
from .encoding import one_hot
from .estimators import FastNetClassifier, FastNetRegressor, load_estimator
from .backends.ops import BackendMemoryError
from .model_file import ModelFileError
from .network import Network, load
from .training import DivergenceError

__version__ = "0.1.0"

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
