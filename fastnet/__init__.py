"""fastnet: one forward pass and one backpropagation, run as Python loops, Numba, NumPy or CuPy.

Importing fastnet imports nothing heavy: NumPy and the network load on first use
of a name below, a backend's library (numba, cupy) the first time that backend is
used, scikit-learn when an estimator is first asked for. That keeps
``fastnet --help`` quick and lets the command line catch a Ctrl-C during start-up.
"""

import importlib

__version__ = "0.2.0"

# Each public name and the module that defines it, imported when first asked for (PEP 562).
# Importing scikit-learn brings SciPy and pandas with it (~1.2 s on the development
# machine): only the estimators need it.
_LAZY = {
    "BackendMemoryError": "fastnet.backends.reference",
    "BackendUnavailableError": "fastnet.backends",
    "available_backends": "fastnet.backends",
    "get_backend": "fastnet.backends",
    "DivergenceError": "fastnet.training",
    "CostRoseWarning": "fastnet.training",
    "ModelFileError": "fastnet.model_file",
    "Network": "fastnet.network",
    "load": "fastnet.network",
    "one_hot": "fastnet.encoding",
    "FastNetClassifier": "fastnet.estimators",
    "FastNetRegressor": "fastnet.estimators",
    "load_estimator": "fastnet.estimators",
}
_SUBMODULES = ("datasets",)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"fastnet.{name}")
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__all__ = sorted(_LAZY) + list(_SUBMODULES)
