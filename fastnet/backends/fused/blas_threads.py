"""NumPy's and SciPy's BLAS on one thread while the fused backend runs, and as they were afterwards.

The row-parallel kernels (:mod:`.rows`) split a batch's rows over Numba's threads,
and each thread multiplies its own block. Those products must run on one thread
each: a multithreaded BLAS called from two threads at once has its workers fight
the callers for the same cores (measured on 2 cores: 6 ms instead of 41 us for a
1078 x 64 -> 30 layer).

Numba's ``np.dot`` calls SciPy's BLAS (``scipy.linalg.cython_blas``). SciPy's wheels
bundle an OpenBLAS of their own, separate from NumPy's.

NumPy's BLAS is held to one thread too: fused's parallelism is its own row split, over
the cores other processes leave free (:data:`fastnet.tuning.free_cores`), and a
BLAS worker left spinning beside a busy neighbour stalls every product (digits beside
one busy process: 3.2x its idle time with NumPy's BLAS on two threads, 1.1x on one).

OpenBLAS's thread count is process-wide (the ``_local`` setter of the pthreads builds
sets the same global), so :class:`SingleThreadBlas` sets it on entry and restores the
count it found on exit: a fit or a forward pass on fused leaves the process as it was,
and every other backend is untouched.
"""

import os


def blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (SciPy's loaded first)."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)
    from threadpoolctl import ThreadpoolController

    return [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]


def _inside(package, controller):
    """Whether a BLAS controller's library ships with ``package``."""
    root = os.path.dirname(os.path.abspath(package.__file__))
    # Wheels keep their bundled libraries in a "<package>.libs" folder beside the package.
    path = os.path.abspath(controller.filepath)
    return path.startswith(root + os.sep) or path.startswith(root + ".libs" + os.sep)


def numpy_blas_controller():
    """threadpoolctl's controller of NumPy's own BLAS, or None where it cannot be told apart."""
    import numpy

    try:
        own = [c for c in blas_libraries() if _inside(numpy, c)]
    except ImportError:
        return None
    return own[0] if len(own) == 1 else None


def scipy_blas(libraries):
    """The controller of the BLAS that SciPy's Cython BLAS calls, or None and the reason."""
    import numpy
    import scipy

    inside = _inside
    own = [c for c in libraries if inside(scipy, c)]
    if len(own) == 1 and not inside(numpy, own[0]):
        return own[0], None
    found = "; ".join(f"{c.internal_api} at {c.filepath}" for c in libraries) or "none"
    return None, f"cannot find a BLAS of SciPy's own, apart from NumPy's (loaded: {found})"


def find_scipy_blas():
    """(controller, None), or (None, why the row-parallel kernels cannot run)."""
    try:
        return scipy_blas(blas_libraries())
    except ImportError as exc:
        return None, f"SciPy or threadpoolctl is not importable ({exc})"


class SingleThreadBlas:
    """Context: each BLAS of ``controllers`` (None entries skipped) on one thread inside, its count restored after.

    Re-entrant (a fit's forward passes nest in the fit) and cheap to enter: it calls
    OpenBLAS's own getter and setter directly (threadpoolctl's wrappers cost about a
    microsecond a call, a tenth of a one-sample forward pass), once per fit or forward pass.
    """

    def __init__(self, controllers):
        self.calls = [_thread_calls(c) for c in controllers if c is not None]
        self.depth = 0
        self.saved = []

    def __enter__(self):
        if self.depth == 0:
            self.saved = [get() for get, _ in self.calls]
            for (_, set_threads), threads in zip(self.calls, self.saved):
                if threads != 1:
                    set_threads(1)
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            for (_, set_threads), threads in zip(self.calls, self.saved):
                if threads != 1:
                    set_threads(threads)
        return False


def _thread_calls(controller):
    """(get, set) of a BLAS's thread count: OpenBLAS's C functions where threadpoolctl finds them, else its methods.

    The C functions are the ones threadpoolctl itself calls for a pthreads OpenBLAS
    (found through its ``_get_symbol``, which knows the prefixes and suffixes that
    wheels give them); an OpenMP build, or a threadpoolctl without that helper, keeps
    threadpoolctl's own methods.
    """
    find = getattr(controller, "_get_symbol", None)
    if controller.internal_api == "openblas" and getattr(controller, "threading_layer", "") != "openmp" and find:
        get, put = find("openblas_get_num_threads"), find("openblas_set_num_threads")
        if get is not None and put is not None:
            return get, put
    return controller.get_num_threads, controller.set_num_threads
