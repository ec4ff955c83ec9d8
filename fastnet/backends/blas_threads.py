"""SciPy's BLAS on one thread, for the matrix products made inside Numba's threads.

The ``fused`` backend's row-parallel kernels (:mod:`fastnet.backends.row_kernels`)
split a batch's rows over Numba's threads, and each thread multiplies its own
block. Those products must run on one thread each: a multithreaded BLAS called
from two threads at once has its workers fight the callers for the same cores
(measured on 2 cores: 6 ms instead of 41 us for a 1078 x 64 -> 30 layer).

Numba's ``np.dot`` calls SciPy's BLAS (``scipy.linalg.cython_blas``). SciPy's
wheels bundle their own OpenBLAS, separate from NumPy's, so setting SciPy's to
one thread leaves NumPy's matrix products (and every other backend) as they
were. It is a process-wide setting, the one threadpoolctl makes: OpenBLAS's
``openblas_set_num_threads_local`` looks per-thread but, in the pthreads builds
that the wheels ship, sets the same global count (kernel threads setting and
restoring it raced, and products ran multithreaded again).
"""

import os

_state = {}


def blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (SciPy's loaded first)."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)
    from threadpoolctl import ThreadpoolController

    return [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]


def scipy_blas(libraries):
    """The controller of the BLAS that SciPy's Cython BLAS calls, or None and the reason."""
    import numpy
    import scipy

    def inside(package, controller):
        root = os.path.dirname(os.path.abspath(package.__file__))
        # Wheels keep their bundled libraries in a "<package>.libs" folder beside the package.
        path = os.path.abspath(controller.filepath)
        return path.startswith(root + os.sep) or path.startswith(root + ".libs" + os.sep)

    own = [c for c in libraries if inside(scipy, c)]
    if len(own) == 1 and not inside(numpy, own[0]):
        return own[0], None
    found = "; ".join(f"{c.internal_api} at {c.filepath}" for c in libraries) or "none"
    return None, f"cannot find a BLAS of SciPy's own, apart from NumPy's (loaded: {found})"


def single_thread_scipy_blas():
    """Set SciPy's BLAS to one thread; returns None, or why the row-parallel kernels cannot run.

    Done once per process. NumPy's BLAS is left alone: when SciPy uses the same
    library as NumPy, nothing is changed and the reason is returned instead.
    """
    if "reason" not in _state:
        try:
            controller, reason = scipy_blas(blas_libraries())
        except ImportError as exc:
            controller, reason = None, f"SciPy or threadpoolctl is not importable ({exc})"
        if controller is not None:
            _state["info"] = controller.info()
            controller.set_num_threads(1)
        _state["reason"] = reason
    return _state["reason"]


def scipy_blas_info():
    """threadpoolctl's description (a dict) of SciPy's BLAS once set to one thread, else None."""
    return _state.get("info")
