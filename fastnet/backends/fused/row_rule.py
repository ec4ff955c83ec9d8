"""Whether, and into how many blocks, the fused backend splits a layer's rows over threads.

:class:`RowSplit` decides once per backend whether the row-parallel kernels of
:mod:`.rows` can run here (more than one core to run on, Numba's OpenMP threads, a
SciPy BLAS of its own to hold to one thread, not turned off), and for each layer how
many blocks of rows it gets (:meth:`RowSplit.parts`); :func:`splits_neurons` whether a
layer splits its output neurons instead.
"""

import os

import numpy

from ...kernel_modules import kernel_module
from ...tuning import TUNING, available_cores, free_cores
from .blas_threads import find_scipy_blas

rows = kernel_module("fused_rows")

# FASTNET_ROW_PARALLEL=0 keeps fused on one thread: no layer or backprop is split over
# threads (e.g. to compare the two, or for one process per core).
ROW_PARALLEL_ENV = "FASTNET_ROW_PARALLEL"


def why_off_before_launching(threads):
    """Why the rows are not split, from what is known without a parallel launch (None: not known yet).

    ``threads`` is Numba's thread count capped by the cores this process may use.
    ``fastnet info`` asks only this, since a launch starts Numba's threads.
    """
    if os.environ.get(ROW_PARALLEL_ENV, "1").strip() == "0":
        return f"turned off by {ROW_PARALLEL_ENV}=0"
    if threads < 2:
        return "one core or one Numba thread to run on"
    return None


def splits_neurons(m, n_out):
    """Whether a layer of ``n_out`` output neurons splits those over the threads, not its batch of m rows.

    Each block's products are BLAS calls of their own, and each call first packs
    (copies) all of its other operand: a block of rows packs all of W (n_out x n_in)
    and writes a whole gradient of that size, a block of neurons packs the whole batch
    (m x n_in). So a training update's backward step copies less split by neurons while
    the batch has fewer rows than the layer has neurons (see ``kernels/fused_neurons.py``).
    The forward pass has a stricter rule of its own, :func:`forward_splits_neurons`.
    """
    return m < n_out


def forward_splits_neurons(m, n_in, n_out):
    """Whether a layer's forward pass over m rows splits its output neurons, not its rows.

    Only while the batch has at most ``1 / TUNING.forward_neuron_share`` of W's rows and
    of its columns: a neuron block's outputs go through a buffer of its own, which the
    packing it saves pays for only there (``python -m bench.tuning neuron_split``,
    784 -> 1024 at 32 rows: 390 against 479 us in float32; at 512 rows, as a
    prediction's blocks have, the rows win by 8-10 %, and 64 -> 4096 at 128 rows by
    1.1-1.2x). A batch too short for two row blocks splits its
    neurons whatever this says (``FusedOps.dense_function``).
    """
    return TUNING.forward_neuron_share * m <= min(n_in, n_out)


class RowSplit:
    """The row-parallel decision of one FusedOps.

    Attributes
    ----------
    off : str or None
        None when layers big enough run row-parallel; otherwise why they do not.
    threads : int
        Blocks at most: Numba's thread count, capped by the cores this process may use.
    scipy_blas : threadpoolctl controller or None
        SciPy's BLAS, which the compiled kernels' products call (``np.dot``), where it
        can be told apart from NumPy's: held to one thread while fused runs. Looked for
        whether or not the rows are split, since the one-thread whole-backprop kernel
        calls it too.
    """

    def __init__(self, numba, jit):
        self.threads = min(numba.get_num_threads(), available_cores())
        self.assumed_free = None  # a number of free cores to assume instead of measuring (see FusedOps.warm_up)
        self.scipy_blas, self._no_scipy_blas = find_scipy_blas()
        self.off = self._why_off(numba, jit)

    def _why_off(self, numba, jit):
        off = why_off_before_launching(self.threads)
        if off is not None:
            return off
        # Numba picks its threading layer at the first parallel launch. Only OpenMP's
        # is measured: its threads wait for the next launch by spinning a while, which
        # is what makes a launch per layer cheap.
        jit(rows.launch_probe, parallel=True)(numpy.zeros(2))
        layer = numba.threading_layer()
        if layer != "omp":
            return f"Numba's threading layer is {layer!r}; the row-parallel kernels are measured with 'omp' only"
        return self._no_scipy_blas

    def description(self):
        """One line for ``fastnet info`` and the benchmark report."""
        if self.off is not None:
            how = "the whole backprop one compiled kernel" if self.scipy_blas is not None else "layer by layer"
            return f"serial: on one thread, {how} ({self.off})"
        return (f"row-parallel on up to {self.threads} Numba threads, as many as other processes leave cores free "
                f"(from {TUNING.parallel_min_work:,} multiply-adds and {TUNING.min_block_rows} rows a thread, "
                "the output neurons in the backward step of a layer wider than its batch, and forward where the "
                f"batch is at most 1/{TUNING.forward_neuron_share} of each side of W or under "
                f"{2 * TUNING.min_block_rows} rows; serial on a busy machine); "
                "NumPy's and SciPy's BLAS held to one thread while fused runs")

    def parts(self, m, work, *arrays):
        """Row blocks for a layer of m rows and ``work`` multiply-adds: 0 for the serial path.

        One block per free core (:data:`fastnet.tuning.free_cores`: the cores other
        processes left free lately), fewer where blocks would be too small to pay for
        the launch (``TUNING.parallel_min_work``) or would have fewer than
        ``TUNING.min_block_rows`` rows (m counts a layer's output neurons where those
        are split instead). The kernels also need the ``arrays`` they will be given to
        be C-contiguous and of one dtype (the network's are).
        """
        if self.off is not None:
            return 0
        free = free_cores() if self.assumed_free is None else self.assumed_free
        parts = min(self.threads, free, m // TUNING.min_block_rows, work // TUNING.parallel_min_work)
        if parts < 2 or not arrays:  # no arrays: the caller's own buffers, known to fit
            return 0 if parts < 2 else parts
        dtype = arrays[0].dtype
        if all(a.flags.c_contiguous and a.dtype == dtype for a in arrays):
            return parts
        return 0
