"""SciPy's BLAS on one thread while the fused backend runs, and as it was afterwards.

The row-parallel kernels (:mod:`.rows`) split a batch's rows over Numba's threads,
and each thread multiplies its own block. Those products must run on one thread
each: a multithreaded BLAS called from two threads at once has its workers fight
the callers for the same cores (measured on 2 cores: 6 ms instead of 41 us for a
1078 x 64 -> 30 layer).

Numba's ``np.dot`` calls SciPy's BLAS (``scipy.linalg.cython_blas``). SciPy's wheels
bundle an OpenBLAS of their own, separate from NumPy's, so NumPy's products and
every other backend are untouched. OpenBLAS's thread count is process-wide (the
``_local`` setter of the pthreads builds sets the same global), so
:class:`SingleThreadScipyBlas` sets it on entry and restores the count it found on
exit: a fit or a forward pass on fused leaves the process as it was.
"""

import os


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


def find_scipy_blas():
    """(controller, None), or (None, why the row-parallel kernels cannot run)."""
    try:
        return scipy_blas(blas_libraries())
    except ImportError as exc:
        return None, f"SciPy or threadpoolctl is not importable ({exc})"


class SingleThreadScipyBlas:
    """Context: SciPy's BLAS on one thread inside, its own count restored on leaving.

    Re-entrant (a fit's forward passes nest in the fit) and cheap to enter: two
    calls into OpenBLAS, a few microseconds, once per fit or forward pass.
    """

    def __init__(self, controller):
        self.controller = controller
        self.depth = 0
        self.saved = None

    def __enter__(self):
        if self.depth == 0:
            self.saved = self.controller.get_num_threads()
            if self.saved != 1:
                self.controller.set_num_threads(1)
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0 and self.saved != 1:
            self.controller.set_num_threads(self.saved)
        return False
