"""Every size threshold and machine probe of the CPU backends, in one place.

Each rule picks between two ways of computing the same numbers; the tests check
both sides against the reference. A value was measured on the 2-core AVX-512
development VM and kept only where the same side also wins, or ties, with AVX2
kernels (``OPENBLAS_CORETYPE=Haswell``), with more threads and with a busy
neighbour: see ``docs/tuning.md``. ``python -m bench.tuning NAME`` times both
sides of rule NAME on the machine it runs on; ``fastnet info`` prints the values.

One probe is read while training: :data:`free_cores`, the cores other processes left
free lately, which the fused backend splits its layers over (see :class:`FreeCores`).
"""

import dataclasses
import os

from .machine import numpy_blas_pool


@dataclasses.dataclass(frozen=True)
class Tuning:
    """The thresholds of the numpy and fused backends (multiply-adds unless said otherwise).

    Each field's metadata names the ``python -m bench.tuning`` rule that times both
    sides of it; ``fastnet info`` prints the value beside that command.
    """

    #: numpy: a sigmoid of at most this many elements is one call of SciPy's expit, not
    #: four in-place ufunc passes (per-call overhead dominates small arrays).
    small_sigmoid: int = dataclasses.field(default=1024, metadata={"bench": "small_sigmoid"})
    #: numpy: products of at most this many multiply-adds go to numpy.dot, not matmul,
    #: whose generalised-ufunc dispatch costs ~1 us, a third of a one-sample layer.
    small_product: int = dataclasses.field(default=65_536, metadata={"bench": "small_product"})
    #: numpy: a softmax's row maximum is a loop over the columns (NumPy's reduction
    #: along a short last axis pays per row) for at most this many columns ...
    row_max_loop_columns: int = dataclasses.field(default=16, metadata={"bench": "row_max_loop"})
    #: ... and at least this many rows.
    row_max_loop_rows: int = dataclasses.field(default=128, metadata={"bench": "row_max_loop"})
    #: numpy, fused: OpenBLAS's AVX-512 kernels multiply without packing up to this
    #: many multiply-adds, so a weight gradient over a long batch is summed in chunks
    #: of rows that fit, where the BLAS has that path (see blas_small_matrix_path) ...
    blas_small_matrix: int = dataclasses.field(default=1_000_000, metadata={"bench": "blas_small_matrix"})
    #: ... and only when a chunk still has at least this many rows.
    small_matrix_min_rows: int = dataclasses.field(default=256, metadata={"bench": "blas_small_matrix"})
    #: fused: a layer's rows are split over threads only when each thread gets at
    #: least this many multiply-adds; below, one thread beats a parallel launch. It is
    #: also half of OpenBLAS's own threading threshold, so a layer left serial never
    #: wakes NumPy's BLAS threads while Numba's own are awake.
    parallel_min_work: int = dataclasses.field(default=65_536, metadata={"bench": "parallel_min_work"})
    #: fused: a block of a row split has at least this many rows. Each block's product
    #: is a BLAS call of its own, which first packs all of W; a block of a few rows does
    #: too little with it to earn that back, and every block packs W again. A batch too
    #: short for two blocks splits a layer's output neurons instead (each thread reads
    #: its share of W once, a matrix-vector product a row) or, in a training update's
    #: backprop, runs on one thread.
    min_block_rows: int = dataclasses.field(default=8, metadata={"bench": "min_block_rows"})
    #: fused: a forward pass splits a layer's output neurons over the threads (not its
    #: rows) only while the batch has at most 1/this of the rows and of the columns of W.
    #: A neuron block writes its outputs through a buffer of its own, a pass over them
    #: that a row block does not make, so the forward gains only where packing W again
    #: for each row block costs more (a training update's backward gains while the
    #: batch is shorter than the layer is wide: ``row_rule.splits_neurons``).
    forward_neuron_share: int = dataclasses.field(default=4, metadata={"bench": "neuron_split"})

    def describe(self):
        """Lines for ``fastnet info``: each value, then what the probes found here."""
        lines = [f"{field.name} = {getattr(self, field.name):,}  (python -m bench.tuning {field.metadata['bench']})"
                 for field in dataclasses.fields(self)]
        lines.append(f"cores available = {available_cores()}")
        pool = numpy_blas_pool()
        lines.append("numpy's BLAS has the small-matrix path = "
                     f"{bool(pool and blas_small_matrix_path(pool))}")
        return lines


TUNING = Tuning()

# OpenBLAS kernel sets with a small-matrix path (no packing of the operands) for
# products of at most 100**3 multiply-adds: the AVX-512 ones.
SMALL_MATRIX_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")


def available_cores():
    """Cores this process may run on (its affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_small_matrix_path(pool):
    """Whether threadpoolctl's ``pool`` (one BLAS library) is OpenBLAS with a small-matrix path.

    Measured with SkylakeX kernels (OpenBLAS 0.3.31, 1 thread, float32): delta^T H
    of 30 x 64 x 520 takes 15.6 us, of 30 x 64 x 530 31.7 us, just past the limit.
    """
    return pool.get("internal_api") == "openblas" and str(pool.get("architecture", "")).lower() in SMALL_MATRIX_KERNELS


class FreeCores:
    """How many of this process's cores other processes left free lately: the fused backend's thread count.

    A parallel region is only as fast as its slowest thread, and a thread that shares
    its core with a busy neighbour waits for the scheduler's time slice (milliseconds),
    while a digits layer takes tens of microseconds: beside one busy process, a
    two-thread split of digits trained 8-9x slower than alone, and one thread lost
    nothing. So the fused backend splits a layer over the cores that other processes
    left free over the last ``window`` seconds, and runs it serially when fewer than
    two are. Linux says how busy each core was (``/proc/stat``) and how much of that
    was this process (``/proc/self/stat``); the difference is the neighbours'. Read at
    most once a ``window``, so asking costs a clock read. Elsewhere (no ``/proc``)
    every available core counts as free.
    """

    def __init__(self, window=0.05, clock=None, read=None):
        import time

        self.window = window
        self.clock = clock or time.monotonic
        self.read = read or _busy_ticks
        self.last = None  # (time, busy ticks of our cores, their total ticks, this process's ticks)
        self.free = available_cores()

    def __call__(self):
        now = self.clock()
        if self.last is not None and now - self.last[0] < self.window:
            return self.free
        reading = self.read()
        if reading is None:  # no /proc: assume every core is ours
            self.free = available_cores()
            return self.free
        if self.last is not None:
            busy, total, ours = (new - old for new, old in zip(reading, self.last[1:]))
            cores = available_cores()
            if total > 0:
                neighbours = max(0.0, (busy - ours) / (total / cores))  # cores' worth of others' work
                self.free = max(1, min(cores, int(cores - neighbours + 0.5)))
        self.last = (now, *reading)
        return self.free


def _busy_ticks():
    """(busy ticks of the cores this process may use, all their ticks, this process's ticks), or None."""
    try:
        cores = os.sched_getaffinity(0)
        busy = total = 0
        with open("/proc/stat") as fh:
            for line in fh:
                if not line.startswith("cpu") or line.startswith("cpu "):
                    continue
                name, *ticks = line.split()
                if int(name[3:]) in cores:
                    ticks = [int(t) for t in ticks[:8]]  # user nice system idle iowait irq softirq steal
                    total += sum(ticks)
                    busy += sum(ticks) - ticks[3] - ticks[4]
        with open("/proc/self/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return busy, total, int(fields[11]) + int(fields[12])  # utime + stime of every thread
    except (OSError, AttributeError, ValueError, IndexError):
        return None


#: The fused backend's count of free cores, shared by every FusedOps of the process.
free_cores = FreeCores()
