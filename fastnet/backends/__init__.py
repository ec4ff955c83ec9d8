"""Backend registry: which array layers exist, which can run here, and how to pick one.

Nothing here imports numba or cupy at module import time; a backend's library is
imported the first time that backend is asked for. Asking whether a backend can
run (:func:`backend_status`, :func:`available_backends`) imports its library but
never builds the backend, so it changes no thread pool or library setting.
"""

import importlib
import os

from ..install_hint import install_hint
from ..maths import ACTIVATIONS
from .reference import Ops

BACKENDS = ("python", "numba", "numpy", "fused", "cupy")
ENV_VAR = "FASTNET_BACKEND"

_INSTALL_HINT = {
    "numba": f"install it with: {install_hint('numba')}",
    "cupy": f"install it with: {install_hint('gpu')}; that is CuPy for CUDA 12 and numba-cuda; on CUDA 13 drivers: "
            'pip install cupy-cuda13x "numba-cuda[cu13]"',
}

_instances = {}
_failures = {}


class BackendUnavailableError(RuntimeError):
    """A known backend cannot run on this machine; the message says why and how to fix it."""


def _make_python():
    from .loop_ops import PythonOps

    return PythonOps()


def _make_numpy():
    from .numpy_ops import NumpyOps

    return NumpyOps()


def _make_numba():
    try:
        from .loop_ops import NumbaOps

        return NumbaOps()
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'numba' needs Numba, which is not installed ({exc}); {_INSTALL_HINT['numba']}"
        ) from exc


def _make_fused():
    try:
        from .fused import FusedOps

        return FusedOps()
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'fused' needs Numba, which is not installed ({exc}); {_INSTALL_HINT['numba']}"
        ) from exc


def _make_cupy():
    from .cupy_ops import CupyOps, simulated

    if simulated():  # Numba's CUDA simulator: the GPU kernels on the CPU, on NumPy arrays
        try:
            return CupyOps(simulate=True)
        except ImportError as exc:
            raise BackendUnavailableError(
                f"backend 'cupy' on the CUDA simulator needs numba-cuda, which is not installed ({exc}); "
                f"install it with: {install_hint('test')}"
            ) from exc
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'cupy' needs an NVIDIA GPU and CuPy, and CuPy is not installed ({exc}); {_INSTALL_HINT['cupy']}"
        ) from exc
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
        if n_devices < 1:
            raise RuntimeError("the CUDA runtime reports 0 devices")
        # A device that answers: run one tiny kernel, which also loads the CUDA libraries.
        int((cupy.arange(3) + 1).sum())
    except Exception as exc:  # CUDA raises several unrelated types here
        raise BackendUnavailableError(
            f"backend 'cupy' needs an NVIDIA GPU, and CuPy found none usable ({type(exc).__name__}: {exc}); "
            "check `nvidia-smi`, or choose the fused or numpy backend"
        ) from exc
    try:
        ops = CupyOps()
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'cupy' runs its kernels with numba-cuda, which is not installed ({exc}); {_INSTALL_HINT['cupy']}"
        ) from exc
    try:
        ops.check_kernels_run()
    except RuntimeError as exc:
        raise BackendUnavailableError(f"backend 'cupy': {exc}") from exc
    return ops


_FACTORIES = {
    "python": _make_python,
    "numba": _make_numba,
    "numpy": _make_numpy,
    "fused": _make_fused,
    "cupy": _make_cupy,
}


# What "auto" tries, fastest first: the GPU, then the fused CPU kernels (Numba), then NumPy.
AUTO_ORDER = ("cupy", "fused", "numpy")


def resolve_name(name):
    """The backend that ``name`` (or, for None, ``FASTNET_BACKEND``) stands for, without building it."""
    from_env = name is None
    if from_env:
        name = os.environ.get(ENV_VAR, "auto") or "auto"
    if not isinstance(name, str):
        raise ValueError(f"backend must be a name, got {name!r}; valid: auto, {', '.join(BACKENDS)}")
    name = name.strip().lower()
    if name == "auto":
        return next(n for n in AUTO_ORDER if n == "numpy" or (backend_status(n)[0] and not _simulated(n)))
    if name not in _FACTORIES:
        where = f" (from the environment variable {ENV_VAR})" if from_env else ""
        raise ValueError(f"unknown backend {name!r}{where}; valid: auto, {', '.join(BACKENDS)}")
    return name


def _simulated(name):
    """Whether ``name`` would run on Numba's CUDA simulator here (never auto's choice: it is slow)."""
    if name != "cupy":
        return False
    from .cupy_ops import simulated

    return simulated()


def get_backend(name=None):
    """Return the ``Ops`` of a backend.

    Parameters
    ----------
    name : str or Ops, optional
        ``"python"``, ``"numba"``, ``"numpy"``, ``"fused"``, ``"cupy"`` or ``"auto"`` (the GPU
        when CuPy imports and a device answers, else ``"fused"`` when Numba is
        installed, else ``"numpy"``). When None, the
        environment variable ``FASTNET_BACKEND`` decides, defaulting to ``"auto"``.
        An ``Ops`` instance is returned as it is.

    Returns
    -------
    Ops
        One shared instance per backend.

    Raises
    ------
    ValueError
        The name is not a backend.
    BackendUnavailableError
        The backend exists but cannot run here (library missing, no GPU).
    """
    if isinstance(name, Ops):
        return name
    resolved = resolve_name(name)
    if resolved in _instances:
        return _instances[resolved]
    if resolved in _failures:
        raise BackendUnavailableError(str(_failures[resolved]))
    try:
        ops = _FACTORIES[resolved]()
    except BackendUnavailableError as exc:
        _failures[resolved] = exc
        raise
    _instances[resolved] = ops
    return ops


def backend_status(name):
    """Return ``(usable, reason)`` for one backend name; reason is "" when usable.

    For the CPU backends this imports their library (Numba) without building the
    backend; for ``cupy`` it builds it, since only a kernel run shows a GPU works.
    """
    resolved = resolve_name(name)
    if resolved in _instances:
        return True, ""
    if resolved in _failures:
        return False, str(_failures[resolved])
    if resolved in _NEEDS_MODULE:
        try:
            importlib.import_module(_NEEDS_MODULE[resolved])
        except ImportError as exc:
            return False, (f"backend {resolved!r} needs Numba, which is not installed ({exc}); "
                           f"{_INSTALL_HINT['numba']}")
        return True, ""
    if resolved in ("python", "numpy"):
        return True, ""
    try:
        get_backend(resolved)
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, ""


# Backends whose only requirement, short of a GPU, is a library that imports.
_NEEDS_MODULE = {"numba": "numba", "fused": "numba"}


def available_backends():
    """Names of the backends that can run on this machine, in the order python, numba, numpy, fused, cupy."""
    return [name for name in BACKENDS if backend_status(name)[0]]


__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "BackendUnavailableError",
    "Ops",
    "available_backends",
    "backend_status",
    "get_backend",
    "resolve_name",
]
