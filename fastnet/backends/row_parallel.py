"""When and how the ``fused`` backend splits a layer's rows over Numba's threads.

:class:`RowParallel` decides, once per process, whether the row-parallel kernels of
:mod:`fastnet.backends.row_kernels` can run here (Numba's OpenMP threads, a SciPy
BLAS of its own to set to one thread, not turned off), how many row blocks a layer
gets, and compiles each kernel for a dtype and activation the first time it is
asked for. :class:`~fastnet.backends.fused_ops.FusedOps` asks it before each layer.
"""

import os

import numpy

from . import row_kernels
from .loop_ops import _rebound

# A layer runs row-parallel when each thread gets at least this many
# multiply-adds; below, one thread is quicker than a parallel launch (measured,
# float32 sigmoid layers, parallel vs serial: 64 -> 30 from 64 rows on 5.8 vs
# 7.2 us; 30 -> 10 at 256 rows 7.2 vs 7.9 us, at 128 rows 5.6 vs 4.6 us). It is
# also half of OpenBLAS's own threading threshold (4 * 65536), so a layer left
# serial never wakes NumPy's BLAS threads while Numba's spin on the same cores:
# the two pools together cost milliseconds a call. For the same reason a layer
# above the threshold splits however few its rows are, although NumPy's two
# threads would do a 16-row 784 -> 1024 layer in 340 us against 423 us.
PARALLEL_MIN_WORK = 65_536

# FASTNET_ROW_PARALLEL=0 keeps every layer on the serial path (NumPy's BLAS, then
# the kernels), e.g. to compare the two.
ROW_PARALLEL_ENV = "FASTNET_ROW_PARALLEL"


class RowParallel:
    """The row-parallel kernels of one FusedOps: whether they run, with how many blocks.

    Parameters
    ----------
    numba : module
    kernels : dict
        numpy dtype -> that dtype's compiled fused kernels (bias + activation,
        sigmoid derivative), which the row kernels call on each block.
    loop_kernels : namespace
        The ``numba`` backend's compiled loops (its activation derivative).
    jit_options : dict
        ``numba.njit`` options shared with the fused kernels (fastmath, error model).
    """

    def __init__(self, numba, kernels, loop_kernels, jit_options):
        self.numba = numba
        self.kernels = kernels
        self.loop_kernels = loop_kernels
        self.jit_options = jit_options
        self.compiled = {}
        self.helpers = {}
        #: None when layers run row-parallel; otherwise why they do not.
        self.off = self._why_off()
        # Multiply-adds per chunk of a block's weight-gradient product: SciPy's
        # BLAS's small-matrix limit where it has that path, else no chunks.
        self.small_product = row_kernels.SMALL_PRODUCT if self._scipy_blas_small_matrix_path() else 2**62
        # Read once: numba.get_num_threads() costs ~0.7 us a call, and a launch with
        # fewer threads than blocks still computes every block.
        self.threads = numba.get_num_threads()

    def _why_off(self):
        numba = self.numba
        if os.environ.get(ROW_PARALLEL_ENV, "1").strip() == "0":
            return f"turned off by {ROW_PARALLEL_ENV}=0"
        if numba.get_num_threads() < 2:
            return "Numba has one thread"
        # Launch Numba's threads (what any parallel kernel does first) to learn which
        # threading layer they use. Only OpenMP's is measured: its threads wait for
        # the next launch by spinning, which is what makes a launch per layer cheap.
        probe = numba.njit(cache=True, parallel=True)(_rebound(row_kernels.launch_probe, prange=numba.prange))
        probe(numpy.zeros(2))
        layer = numba.threading_layer()
        if layer != "omp":
            return f"Numba's threading layer is {layer!r}; the row-parallel kernels are measured with 'omp' only"
        from . import blas_threads

        return blas_threads.single_thread_scipy_blas()

    def _scipy_blas_small_matrix_path(self):
        if self.off is not None:
            return False
        from ..machine import blas_small_matrix_path
        from . import blas_threads

        info = blas_threads.scipy_blas_info()
        return info is not None and blas_small_matrix_path(info)

    def description(self):
        """One line for ``fastnet info`` and the benchmark report."""
        if self.off is not None:
            return f"serial ({self.off})"
        return (f"row-parallel on {self.threads} Numba threads (from {PARALLEL_MIN_WORK} multiply-adds "
                f"a thread); SciPy's BLAS set to one thread")

    def parts(self, m, work, *arrays):
        """Row blocks for a layer of m rows and ``work`` multiply-adds: 0 for the serial path.

        One block per Numba thread, fewer where blocks would be too small to pay
        for the launch (PARALLEL_MIN_WORK). The kernels also need the ``arrays``
        they will be given to be C-contiguous and of one dtype (the network's are).
        """
        if self.off is not None:
            return 0
        parts = min(self.threads, m, work // PARALLEL_MIN_WORK)
        if parts < 2:
            return 0
        dtype = arrays[0].dtype if arrays else None
        if all(a.flags.c_contiguous and a.dtype == dtype for a in arrays):
            return parts
        return 0

    def kernel(self, name, dtype, kind=None):
        """row_kernels.``name`` compiled for this dtype (and activation ``kind``), on first use."""
        key = (name, dtype, kind)
        compiled = self.compiled.get(key)
        if compiled is None:
            compiled = self.compiled[key] = self._compile(name, numpy.dtype(dtype), kind)
        return compiled

    def _compile(self, name, dtype, kind):
        numba = self.numba
        kernels = self.kernels[dtype]
        names = {
            "prange": numba.prange,
            "block_sums": self._helper("block_sums"),
            "add_blocks": self._helper("add_blocks"),
            "block_delta": self._helper("block_delta", dtype, sigmoid_backward=kernels.sigmoid_backward,
                                        activation_backward=self.loop_kernels.activation_backward),
            "block_rows": self._helper("block_rows"),
        }
        if kind is not None:
            names["bias_activation"] = kernels.bias_activation[kind]
        copy = _rebound(getattr(row_kernels, name), _suffix(dtype, kind), **names)
        return numba.njit(cache=True, parallel=True, **self.jit_options)(copy)

    def _helper(self, name, dtype=None, **callees):
        """A helper that the row kernels call, compiled once (per dtype where it has dtype-bound callees)."""
        key = (name, dtype)
        if key not in self.helpers:
            copy = _rebound(getattr(row_kernels, name), _suffix(dtype, None) if dtype else "",
                            SMALL_PRODUCT=self.small_product, **callees)
            self.helpers[key] = self.numba.njit(cache=True, **self.jit_options)(copy)
        return self.helpers[key]


def _suffix(dtype, kind):
    """A compiled copy's name suffix: each dtype's and activation's copy gets its own Numba cache entry."""
    return f"_{kind or 'any'}" + ("_float32" if dtype == numpy.float32 else "")
