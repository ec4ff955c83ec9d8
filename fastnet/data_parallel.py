"""Data-parallel training over MPI: each process trains on its own rows, and every update sums their gradients.

Synchronous data parallelism as Horovod and PyTorch's DDP do it, on an existing
engine (MPI, through mpi4py) rather than a home-made one. A network's gradients
already sit in one flat buffer, so one update is one ``Allreduce`` of one float64
vector, at the training driver's ``on_gradient`` point (between the gradient and its
application)::

    [ gradient * rows | cost * rows | rows | stop ]

Each rank's mean gradient and cost, weighted by its rows, are summed and divided by
the summed rows: the mean over every rank's rows, as one process holding them all
would compute it. The L2 penalty is added once, after the sum, with the global row
count. Every rank then applies the same sum to the same weights, so the weights stay
identical, and a diverging cost diverges on every rank at the same update. ``stop``
carries Ctrl-C: SIGINT only raises a flag, and every rank stops after the same
update once the sum says one of them was interrupted.

Nothing here hangs on a failure: the ranks agree on the network and the settings
before training (a mismatch is the same error on every rank), and any other
exception on one rank prints its traceback with the rank and aborts the whole run.

mpi4py is imported only when asked for (:func:`import_mpi`).
"""

import contextlib
import math
import os
import signal
import sys
import threading
import traceback

import numpy

from .install_hint import install_hint

# Environment variables through which launchers tell a process how many they started
# (Open MPI, MPICH/Intel MPI/Slurm's PMI, MVAPICH), and how many on this node.
WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE")
LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")
INSTALL_HINT = (f"install it with: {install_hint('mpi')}, which brings mpi4py and the MPICH wheel; on a cluster, "
                "pip install mpi4py against the site's MPI (README, \"Training on several processes\")")


class MPIUnavailableError(ImportError):
    """Data-parallel training was asked for, and mpi4py or an MPI library is missing."""


class RanksDisagreeError(ValueError):
    """The ranks of a data-parallel fit were given different networks, data shapes or settings (raised on every rank)."""


def _count(environ, names):
    for name in names:
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def launched_processes(environ=None):
    """How many processes the MPI launcher (``mpiexec -n N``) started this one among; 1 without a launcher."""
    return _count(os.environ if environ is None else environ, WORLD_SIZE_VARIABLES)


def processes_on_this_node(environ=None):
    """How many of the launched processes run on this machine (they share its cores); 1 without a launcher."""
    return _count(os.environ if environ is None else environ, LOCAL_SIZE_VARIABLES)


def import_mpi():
    """``mpi4py.MPI``, or :class:`MPIUnavailableError` naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise MPIUnavailableError(f"data-parallel training needs mpi4py, which is not installed ({exc}); "
                                  f"{INSTALL_HINT}") from exc
    except RuntimeError as exc:  # mpi4py is there but found no MPI library to load
        raise MPIUnavailableError(f"mpi4py found no MPI library ({exc}); {INSTALL_HINT}") from exc
    return MPI


def launched_world():
    """MPI's world communicator when a launcher started several processes, else None (mpi4py is then not imported)."""
    if launched_processes() <= 1:
        return None
    return import_mpi().COMM_WORLD


@contextlib.contextmanager
def threads_per_rank():
    """BLAS's and Numba's threads held to this rank's share of the node's cores while training (restored after).

    Left at the node's core count, N ranks each start that many threads: on 2 ranks of
    a 2-core machine, 100 full-batch epochs took 2.4-3.3 s instead of 0.08-0.11 s.
    """
    from threadpoolctl import threadpool_limits

    from .tuning import available_cores

    share = max(1, available_cores() // processes_on_this_node())
    numba = sys.modules.get("numba")  # only if a backend brought it in
    before = numba.get_num_threads() if numba is not None else None
    with threadpool_limits(share):
        if numba is not None:
            numba.set_num_threads(min(share, numba.config.NUMBA_NUM_THREADS))
        try:
            yield share
        finally:
            if numba is not None:
                numba.set_num_threads(before)


def together(comm, step, *args, errors=(ValueError, OSError)):
    """``step(*args)`` on every rank of ``comm``; if it raises one of ``errors`` on any rank, an error on every rank.

    A rank that failed raises its own error; the others raise a
    :class:`RanksDisagreeError` naming that rank and its message. So a file missing on
    one machine ends every rank with a message instead of leaving the others waiting.
    """
    try:
        result, error = step(*args), None
    except errors as exc:
        result, error = None, exc
    messages = comm.allgather(None if error is None else str(error))
    if error is not None:
        raise error
    for rank, message in enumerate(messages):
        if message is not None:
            raise RanksDisagreeError(f"rank {rank} could not go on: {message}")
    return result


def abort_run(comm, exc):
    """Print ``exc``'s traceback under this rank's name and end every rank of ``comm`` (``MPI_Abort``)."""
    rank = comm.Get_rank()
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    sys.stderr.write("".join(f"[rank {rank}] {line}" for chunk in lines for line in chunk.splitlines(True)))
    sys.stderr.write(f"[rank {rank}] fastnet: aborting all {comm.Get_size()} processes\n")
    sys.stderr.flush()
    comm.Abort(1)


class DataParallel:
    """One fit's data-parallel side: agreement, the summed gradient, the shards of each epoch, Ctrl-C.

    Parameters
    ----------
    comm : mpi4py communicator
    net : fastnet.Network
        This rank's network; its parameters are made rank 0's when training starts.
    rows : int
        This rank's training rows.
    """

    def __init__(self, comm, net, rows):
        self.comm, self.net = comm, net
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.rows = int(rows)
        self.rows_of_rank = [int(r) for r in comm.allgather(self.rows)]
        self.total_rows = sum(self.rows_of_rank)
        n = net._grad_buffer.flat.shape[0]
        self.sum = summing(comm, net.ops, n + 3)  # gradient sums, cost sum, rows, stop flags
        self.alpha = 0.0
        self.stop_requested = False
        self.raised_together = None

    # -- before training -----------------------------------------------------------
    def agree(self, facts, local_error=None):
        """Raise the same :class:`RanksDisagreeError` on every rank unless all ranks hold the same ``facts``.

        ``facts`` is a dict of what must match (layers, features, dtype, settings);
        ``local_error`` is this rank's own problem with its data, if any, which every
        rank then reports.
        """
        gathered = self.comm.allgather((facts, None if local_error is None else str(local_error)))
        problems = [f"rank {r}: {error}" for r, (_, error) in enumerate(gathered) if error is not None]
        for key in facts:
            values = [f[key] for f, _ in gathered]
            if any(v != values[0] for v in values):
                problems.append(f"{key} differs: " + ", ".join(f"rank {r} has {v!r}" for r, v in enumerate(values)))
        if problems:
            raise RanksDisagreeError("the ranks of this data-parallel fit disagree: " + "; ".join(problems))
        if self.total_rows == 0:
            raise RanksDisagreeError("no rank has any training rows")

    def together(self, step, *args):
        """``step(*args)`` on every rank; if it raises on any, an error on every rank (see :func:`together`)."""
        try:
            return together(self.comm, step, *args)
        except (ValueError, OSError) as exc:
            self.raised_together = exc  # every rank raises: nothing to abort
            raise

    def start(self, alpha):
        """Make every rank's parameters and random stream rank 0's; ``alpha`` is added after each sum."""
        self.alpha = alpha
        params = self.net._param_buffer.flat
        host = numpy.ascontiguousarray(self.net.ops.to_numpy(params))
        self.comm.Bcast(host, root=0)
        self.net.ops.copy_into(params, self.net.ops.asarray(host, params.dtype))
        # The same stream on every rank: each draws the same seed for each epoch's shuffle,
        # and a checkpoint (rank 0's) continues it exactly.
        self.net._rng.bit_generator.state = self.comm.bcast(self.net._rng.bit_generator.state, root=0)

    def fingerprint(self, local):
        """One value for every rank's data fingerprint (a checkpoint's ``data_crc``), the same on every rank."""
        return "/".join(str(f) for f in self.comm.allgather(local))

    # -- each update ---------------------------------------------------------------
    def on_gradient(self, grads, cost, count):
        """Replace this rank's mean gradient and cost by the mean over every rank's rows; returns that cost."""
        ops, total = self.net.ops, self.sum
        send = total.send
        if count:
            total.xp.multiply(total.local(grads.flat), count, out=send[:-3])
            send[-3] = total.local_scalar(cost) * count
        else:  # no rows of this batch here: add nothing
            send[:-2] = 0.0
        send[-2] = count
        send[-1] = 1.0 if self.stop_requested else 0.0
        total.allreduce()
        rows, stop = total.rows_and_stop()
        if stop:  # some rank was interrupted: every rank stops before applying this update
            raise KeyboardInterrupt
        summed = total.summed
        ops.copy_into(grads.flat, ops.asarray(summed[:-3] / rows, grads.flat.dtype))
        cost = summed[-3] / rows
        if self.alpha:
            cost = cost + total.local_scalar(self.net._add_penalty(self.alpha, rows))
        return cost

    # -- each mini-batch epoch -----------------------------------------------------
    def steps_per_epoch(self, batch):
        """Updates in one epoch at global batch size ``batch``: the same on every rank."""
        return max(1, math.ceil(self.total_rows / batch))

    def epoch(self, batch, shuffle):
        """This rank's row order, its ``(start, count)`` batches and every batch's global rows, for one epoch.

        Each rank cuts its rows into as many batches as there are steps, sizes
        differing by at most one (a rank may have none in a step), so every rank takes
        the same steps and no row is padded or repeated. Rows are shuffled by a seed
        drawn for the epoch from the network's stream (the same on every rank) and the rank.
        """
        steps = self.steps_per_epoch(batch)
        order = numpy.arange(self.rows)
        if shuffle:  # the epoch's seed, drawn alike on every rank, with the rank
            seed = int(self.net._rng.integers(2**63))
            order = numpy.random.default_rng([seed, self.rank]).permutation(self.rows)
        counts = shard_counts(self.rows_of_rank, steps)
        batches, start = [], 0
        for count in counts[self.rank]:
            batches.append((start, count))
            start += count
        return order, batches, [sum(step) for step in zip(*counts)]

    # -- Ctrl-C ----------------------------------------------------------------------
    def interrupts_as_flag(self):
        """A context in which SIGINT sets the stop flag instead of raising (main thread only)."""
        return _FlagOnSigint(self)


def summing(comm, ops, n):
    """How a fit's update vectors of n values are summed over the ranks: NCCL on GPUs, else MPI on the host."""
    if ops.name == "cupy" and not getattr(ops, "simulated", False) and nccl_unavailable() is None:
        return NcclSum(comm, n)
    return HostSum(comm, ops, n)


class HostSum:
    """Sums over the ranks in host memory, with MPI's ``Allreduce`` (every backend; a GPU's vector is copied over).

    The interface both sums keep: ``send`` and ``summed`` (float64 vectors in the sum's
    memory, of array module ``xp``), ``local(a)`` (a backend array in that memory),
    ``local_scalar(x)``, ``allreduce()`` (``summed`` = the ranks' ``send`` added) and
    ``rows_and_stop()`` (the last two sums, on the host).
    """

    xp = numpy

    def __init__(self, comm, ops, n):
        self.comm, self.ops = comm, ops
        self.send, self.summed = numpy.zeros(n), numpy.zeros(n)

    def local(self, a):
        return self.ops.to_numpy(a)

    def local_scalar(self, x):
        return float(x)

    def allreduce(self):
        self.comm.Allreduce(self.send, self.summed)

    def rows_and_stop(self):
        return self.summed[-2], self.summed[-1]


class NcclSum(HostSum):
    """Sums over the ranks in GPU memory, with NCCL's allreduce; its communicator is set up through MPI.

    Rank 0 makes NCCL's unique id and MPI broadcasts it, so NCCL needs no launcher of
    its own. Each rank must use its own GPU: call :func:`use_local_gpu` before building
    the network (``fastnet train`` does). The stop flag and the rows come back to the
    host each update (16 bytes); the gradients never leave the device.
    """

    def __init__(self, comm, n):
        import cupy
        from cupy.cuda import nccl

        self.comm, self.xp, self._nccl = comm, cupy, nccl
        uid = comm.bcast(nccl.get_unique_id() if comm.Get_rank() == 0 else None, root=0)
        self.communicator = nccl.NcclCommunicator(comm.Get_size(), uid, comm.Get_rank())
        self.send, self.summed = cupy.zeros(n), cupy.zeros(n)

    def local(self, a):
        return a

    def local_scalar(self, x):
        return x  # a device scalar stays on the device

    def allreduce(self):
        nccl = self._nccl
        self.communicator.allReduce(self.send.data.ptr, self.summed.data.ptr, self.send.size, nccl.NCCL_FLOAT64,
                                    nccl.NCCL_SUM, self.xp.cuda.get_current_stream().ptr)

    def rows_and_stop(self):
        rows, stop = self.summed[-2:].get()
        return float(rows), float(stop)


def nccl_unavailable():
    """None when CuPy's NCCL bindings can sum across GPUs here; otherwise why not."""
    try:
        from cupy.cuda import nccl
    except ImportError as exc:
        return f"CuPy's NCCL bindings are missing ({exc})"
    if not getattr(nccl, "available", True):
        return "CuPy was built without NCCL (pip install nvidia-nccl-cu12, or the cu13 one)"
    return None


def local_rank(environ=None):
    """This process's rank among those the launcher started on this machine; 0 without a launcher."""
    environ = os.environ if environ is None else environ
    for name in LOCAL_RANK_VARIABLES:
        value = environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def use_local_gpu(environ=None):
    """Make this rank's GPU the current one: local rank modulo the GPUs this machine has. Returns its number.

    Call it before building a ``cupy`` network under ``mpiexec``, so that the ranks
    on one machine each train on a GPU of their own (``fastnet train`` does).
    """
    import cupy

    device = local_rank(environ) % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return device


def use_local_gpu_for(backend):
    """:func:`use_local_gpu` where ``backend`` (a name, None for ``FASTNET_BACKEND``) trains on a GPU here; else nothing.

    For the command line under ``mpiexec``: it runs before anything touches a GPU,
    so that no rank makes a context on another rank's device. ``auto`` picks the GPU
    wherever CuPy finds one, so it counts too. Returns the device, or None.
    """
    from .backends import ENV_VAR

    name = (backend if backend is not None else os.environ.get(ENV_VAR, "auto")) or "auto"
    if not isinstance(name, str) or name.strip().lower() not in ("cupy", "auto"):
        return None
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no CuPy or no GPU: the backend's own check says so, if it was asked for
        return None
    return use_local_gpu() if count else None


def shard_counts(rows_of_rank, steps):
    """``counts[r][s]``: how many of rank r's rows go into step s of an epoch of ``steps`` updates.

    A rank's counts differ by at most one from step to step. The steps that take one
    row more continue, from rank to rank, round the steps where the previous rank's
    stopped, so that each step's total over the ranks differs by at most one too: no
    step is left empty (there are at most as many steps as rows) and the global batch
    stays the size asked for.
    """
    counts, offset = [], 0
    for rows in rows_of_rank:
        small, extra = divmod(rows, steps)
        mine = [small] * steps
        for i in range(extra):
            mine[(offset + i) % steps] += 1
        offset = (offset + extra) % steps
        counts.append(mine)
    return counts


class _FlagOnSigint:
    def __init__(self, parallel):
        self.parallel = parallel
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._flag)
        return self

    def _flag(self, signum, frame):
        self.parallel.stop_requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        self.parallel.stop_requested = False
        return False


def fit_on_ranks(net, comm, X, Y, **options):
    """:meth:`fastnet.Network.fit` with ``comm``: check, agree, then train with the gradients summed across ranks."""
    from .training import fit_network
    from .training.driver import DivergenceError

    local_error = None
    try:
        Xb, Yb, checked = net._checked_fit(X, Y, **options)
        rows = Xb.shape[0]
    except (ValueError, TypeError) as exc:  # this rank's data or settings: every rank must hear of it
        local_error, rows, checked = exc, 0, options
        Xb = Yb = None
    parallel = DataParallel(comm, net, rows)
    config = net._config()
    facts = dict(config, features=None if Xb is None else int(Xb.shape[1]),
                 outputs=None if Yb is None else int(Yb.shape[1]),
                 **{key: checked[key] for key in ("epochs", "lr", "batch_size", "optimizer", "alpha", "shuffle",
                                                  "checkpoint_every")},
                 optimizer_settings=repr(checked["optimizer_settings"]))
    if local_error is not None:
        facts = config  # this rank's settings may be what is wrong: compare only the networks
    parallel.agree(facts, local_error)
    with net.ops.running(), parallel.interrupts_as_flag(), threads_per_rank():
        try:
            return fit_network(net, Xb, Yb, parallel=parallel, **checked)
        except (KeyboardInterrupt, DivergenceError, RanksDisagreeError):
            raise  # the same on every rank, at the same update: nothing to abort
        except BaseException as exc:  # noqa: BLE001 - one rank alone: the others would wait for it forever
            if exc is not parallel.raised_together:
                abort_run(comm, exc)
            raise
