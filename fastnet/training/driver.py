"""The training driver behind :meth:`fastnet.Network.fit`: one epoch loop for every backend.

The loop hands chunks of updates to a step runner (:mod:`.runners`) and records what
they finished: the cost history, callbacks, checkpoints. Every runner keeps one
contract (finished updates kept, the failing or interrupted one undone), so the
promises hold on every backend:

* divergence (a NaN or Inf in the cost or a weight) raises :class:`DivergenceError`
  with the weights from before the failing update;
* Ctrl-C keeps every finished update, and the network holds the weights of the last
  one; in full-batch training those are the weights after ``len(net.history)`` epochs;
* checkpoints are written at epoch ends; resuming from one restores weights,
  optimiser state, random state and cost history, so the run continues exactly.

A full batch runs up to the runner's ``chunk_epochs`` epochs a chunk (one with a
callback; a chunk ends on each checkpoint epoch), mini-batches one epoch a chunk.
"""

import zlib

import numpy

from .. import checkpoint as checkpoints
from ..backends.reference import BackendMemoryError
from ..optimizers import SGD_BATCH_SIZE, check_optimizer, check_settings, make_optimizer
from ..sparse_input import is_sparse, sparse_fingerprint
from ..validation import positive_number
from .layered_chunks import LayeredChunks
from .runners import HostSteps, batches_of


class DivergenceError(FloatingPointError):
    """Training produced a NaN or Inf; the network keeps the last finite weights.

    Attributes
    ----------
    epoch : int
        1-based epoch in which it happened.
    iteration : int
        1-based parameter update (counted over this ``fit`` call) that diverged.
    lr : float
    history : list of float
        Costs of the epochs completed before it.
    """

    def __init__(self, epoch, iteration, lr, history, *, what="the cost or a weight became NaN or Inf",
                 kept="the weights from before that update"):
        self.epoch, self.iteration, self.lr, self.history = epoch, iteration, lr, history
        super().__init__(
            f"training diverged at iteration {iteration} (epoch {epoch}) with learning rate {lr:g}: "
            f"{what}. The network keeps {kept}. Try a smaller learning rate, e.g. lr={lr / 10:g}."
        )


def data_fingerprint(X, Y):
    """A CRC of the training data (X dense or sparse, on the host), so a checkpoint is never resumed on other data."""
    crc = sparse_fingerprint(X) if is_sparse(X) else zlib.crc32(numpy.ascontiguousarray(X).view(numpy.uint8))
    return zlib.crc32(numpy.ascontiguousarray(Y).view(numpy.uint8), crc)


def check_fit_options(epochs, lr, batch_size, optimizer, callback, checkpoint, checkpoint_every,
                      optimizer_settings=None):
    """Validate fit's settings before anything changes; returns the cleaned epochs, lr and batch_size."""
    epochs = positive_number("epochs", epochs, integer=True)
    lr = float(positive_number("lr", lr))
    if batch_size is not None:
        batch_size = positive_number("batch_size", batch_size, integer=True)
    check_optimizer(optimizer)
    if optimizer_settings is not None and not isinstance(optimizer_settings, dict):
        raise ValueError(f"optimizer_settings must be a dict such as {{'beta2': 0.99}}, got {optimizer_settings!r}")
    check_settings(optimizer, optimizer_settings)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable as callback(epoch, cost), got {callback!r}")
    if checkpoint_every is not None:
        positive_number("checkpoint_every", checkpoint_every, integer=True)
        if checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint=PATH to write to")
    return epochs, lr, batch_size


def check_alpha(alpha):
    """Return the L2 penalty as a float, or raise ValueError unless it is finite and >= 0."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not (value >= 0.0 and value != float("inf")) or isinstance(alpha, bool):
        raise ValueError(f"alpha (the L2 penalty) must be a finite number >= 0, got {alpha!r}")
    return value


def fit_network(net, X, Y, *, epochs, lr, batch_size, optimizer, callback, checkpoint, checkpoint_every, resume,
                alpha=0.0, shuffle=True, optimizer_settings=None, on_gradient=None, parallel=None):
    """Train ``net`` on backend arrays X, Y; returns this call's cost history (see Network.fit).

    ``on_gradient(grads, cost, count) -> cost`` runs between each update's gradient and
    its application (see :class:`.runners.LayeredUpdates`). ``parallel``, a
    :class:`fastnet.data_parallel.DataParallel`, makes X and Y this rank's rows of a
    data-parallel fit: it is the ``on_gradient``, and it cuts the epochs' batches.
    """
    m = X.shape[0]
    rows = m if parallel is None else parallel.total_rows  # every rank's
    if batch_size is None and optimizer == "sgd":
        batch_size = SGD_BATCH_SIZE
    batch = rows if batch_size is None else min(batch_size, rows)
    full_batch = batch == rows
    fingerprint = data_fingerprint(net.ops.to_host(X), net.ops.to_numpy(Y)) if (checkpoint or resume) else None
    optimizer_settings = check_settings(optimizer, optimizer_settings)
    ranks = 1 if parallel is None else parallel.size
    if parallel is not None:
        fingerprint = parallel.fingerprint(fingerprint)
        on_gradient = parallel.on_gradient
        if parallel.rank != 0:
            checkpoint = None  # rank 0 writes; every rank reads a resumed one
    settings = {"optimizer": optimizer, "lr": lr, "batch_size": batch, "n_samples": rows, "data_crc": fingerprint,
                "alpha": alpha, "shuffle": shuffle, "optimizer_settings": optimizer_settings, "ranks": ranks}
    if parallel is None:
        opt, history = _optimizer_and_history(net, optimizer, optimizer_settings, resume, settings)
    else:  # a checkpoint that one rank cannot resume is an error on every rank
        opt, history = parallel.together(_optimizer_and_history, net, optimizer, optimizer_settings, resume, settings)
    start_epoch = len(history)
    if parallel is not None:
        parallel.start(alpha)  # the penalty comes after the sum, with every rank's rows
    runner = make_runner(net, opt, X, Y, lr, 0.0 if parallel else alpha, batch, on_gradient)
    log = EpochLog(net, opt, history, epochs, callback, checkpoint, checkpoint_every, settings)
    updates = 0  # finished in this call
    try:
        while len(history) < epochs:
            if full_batch:
                batches = _full_batches(runner, log, m)
                weights = None
            else:
                log.mid_epoch = True
                order, batches, weights = _epoch_of_batches(net, parallel, m, batch, shuffle)
                runner.set_order(order)
            costs, diverged = runner.run(batches)
            updates += len(costs)
            stop = log.record(costs, weights)
            if diverged:
                raise DivergenceError(len(history) + 1, updates + 1, lr, list(history))
            if stop:
                break
    except (KeyboardInterrupt, MemoryError) as exc:
        if runner.interrupted is not None:  # stopped inside a chunk: keep what it finished
            log.record(runner.interrupted.costs, weights)
            runner.interrupted = None
        if isinstance(exc, KeyboardInterrupt):
            log.save_on_interrupt(start_epoch)
        elif not isinstance(exc, BackendMemoryError):
            # A temporary of the array library itself (e.g. CuPy's inside a matrix
            # product), not one of fastnet's buffers: name the batch and what to try.
            raise BackendMemoryError(net.ops.name, (batch, X.shape[1]), X.dtype, exc, batch=True) from exc
        raise
    _warn_if_cost_rose(history[start_epoch:], lr)
    return history[start_epoch:]


class CostRoseWarning(RuntimeWarning):
    """A fit ended far above the cost it started from: the learning rate is probably too large."""


def _warn_if_cost_rose(costs, lr):
    """Warn when a fit's last cost is more than twice its first: it went the wrong way without diverging."""
    if len(costs) >= 2 and costs[-1] > 2 * costs[0]:
        import warnings

        warnings.warn(CostRoseWarning(
            f"training ended with cost {costs[-1]:.4g}, above the {costs[0]:.4g} it started from: the learning "
            f"rate {lr:g} is probably too large; try lr={lr / 10:g}"), stacklevel=4)


def make_runner(net, opt, X, Y, lr, alpha, batch, on_gradient=None):
    """The step runner for this backend: its own fused step where it has one, else layered updates.

    Layered updates run in chunks checked once each (:class:`.LayeredChunks`): one
    snapshot a chunk instead of one an update. A data-parallel fit (``on_gradient``)
    checks each update (:class:`.HostSteps`): its sum is a synchronisation anyway, and
    a chunk's replay would repeat the ranks' sums. So does a backend that asks for it
    (``ops.chunked_checks`` False).
    """
    ops = net.ops
    # A fused step applies its own gradients, so nothing can come between, and it reads dense rows.
    if on_gradient is None and not is_sparse(X):
        fused = ops.fused_step(net, opt, X, Y, lr, alpha, batch)
        if fused is not None:
            return fused
    if ops.chunked_checks and on_gradient is None:
        max_chunk = max(LayeredChunks.chunk_epochs, -(-X.shape[0] // batch))
        return LayeredChunks(net, opt, X, Y, lr, alpha, max_chunk)
    return HostSteps(net, opt, X, Y, lr, alpha, on_gradient)


def _optimizer_and_history(net, optimizer, optimizer_settings, resume, settings):
    """The optimiser to train with and the history to extend: from the checkpoint, or the network's own.

    The network keeps its optimiser between fit calls, so that Adam's moments carry on;
    a call with other settings for the same optimiser keeps its state too.
    """
    if resume is not None:
        state = checkpoints.read(resume, net, settings)  # raises before anything changes
        opt = make_optimizer(optimizer, net.ops, net._param_buffer, optimizer_settings)
        checkpoints.restore(state, net, opt)
        history = list(state.history)
    else:
        opt = net._optimizer if net._optimizer is not None and net._optimizer.name == optimizer else None
        if opt is None:
            opt = make_optimizer(optimizer, net.ops, net._param_buffer, optimizer_settings)
        else:
            opt.configure(optimizer_settings)
        history = []
    net._optimizer = opt
    net.history = history
    return opt, history


def _epoch_of_batches(net, parallel, m, batch, shuffle):
    """One mini-batch epoch: the rows' order, the ``(start, count)`` batches, and each batch's weight in the epoch's cost.

    One process shuffles with the network's random stream; a data-parallel rank cuts
    its own rows (see :meth:`fastnet.data_parallel.DataParallel.epoch`).
    """
    if parallel is not None:
        return parallel.epoch(batch, shuffle)
    batches = batches_of(m, batch)
    order = net._rng.permutation(m) if shuffle else numpy.arange(m)
    return order, batches, [count for _, count in batches]


def _full_batches(runner, log, m):
    """The next chunk of full-batch updates: up to where the host must look (a callback, a checkpoint)."""
    n = 1 if log.callback is not None else min(runner.chunk_epochs, log.epochs - len(log.history))
    if log.checkpoint_every:
        n = min(n, log.checkpoint_every - len(log.history) % log.checkpoint_every)
    return [(0, m)] * n


class EpochLog:
    """The record of finished epochs: history, checkpoints and the callback."""

    def __init__(self, net, opt, history, epochs, callback, checkpoint, checkpoint_every, settings):
        self.net, self.opt, self.history, self.epochs = net, opt, history, epochs
        self.callback, self.checkpoint, self.checkpoint_every = callback, checkpoint, checkpoint_every
        self.settings = settings
        # True inside a mini-batch epoch, whose weights, optimiser and random state are
        # no epoch's end: only an epoch's end goes to the checkpoint, so resuming it is exact.
        self.mid_epoch = False

    def record(self, costs, weights=None):
        """Record the epochs that ``costs`` complete; True to stop.

        Full batch (``weights`` None): each cost is an epoch's. Mini-batch: the costs of
        one epoch's batches so far, weighted by ``weights`` (each batch's rows) once all
        are in.
        """
        if weights is None:
            return any([self.end_epoch(cost) for cost in costs])  # a chunk never outruns a callback
        if len(costs) < len(weights):
            return False
        self.mid_epoch = False
        return self.end_epoch(sum(cost * w for cost, w in zip(costs, weights)) / sum(weights))

    def end_epoch(self, cost):
        """Record one finished epoch: history, checkpoint, callback. Returns True to stop."""
        self.history.append(cost)
        done = len(self.history)
        every = self.checkpoint_every
        if self.checkpoint is not None and (done == self.epochs or (every and done % every == 0)):
            checkpoints.write(self.checkpoint, self.net, self.opt, done, self.history, self.settings)
        return self.callback is not None and self.callback(done, cost) is False

    def save_on_interrupt(self, start_epoch):
        """After Ctrl-C, keep the work: the finished epochs go to the checkpoint (at an epoch's end only)."""
        if self.checkpoint is not None and not self.mid_epoch and len(self.history) > start_epoch:
            checkpoints.write(self.checkpoint, self.net, self.opt, len(self.history), self.history, self.settings)
