"""The training loop behind :meth:`fastnet.Network.fit`.

One loop serves every optimiser and batch size. Around each parameter update it
keeps a snapshot of the parameters and optimiser state taken just before the
update, which is what makes two promises cheap to keep:

* divergence (a NaN or Inf in the cost or a weight) puts the snapshot back and
  raises :class:`DivergenceError`;
* Ctrl-C in the middle of an update puts the snapshot back, so the network holds
  the weights of the last completed update, then the KeyboardInterrupt goes on.

Checkpoints are written at epoch ends; resuming from one restores weights,
optimiser state, random state and cost history, so the run continues exactly.

On a backend where that check is a host synchronisation (the GPU), updates run in
chunks instead, checked once each, with the same promises: the backend's fused step
(:mod:`fastnet.backends.gpu_step`) or chunks of the layered updates
(:mod:`fastnet.layered_chunks`). A full batch runs up to ``CHUNK_ITERATIONS`` epochs
a chunk (one with a callback; a chunk ends on each checkpoint epoch), mini-batches
one epoch a chunk.
"""

import zlib

import numpy

from . import checkpoint as checkpoints
from .backends.gpu_step import CHUNK_ITERATIONS, batches_of
from .backends.reference import BackendMemoryError
from .layered_chunks import LayeredChunks, Snapshot
from .optimizers import SGD_BATCH_SIZE, check_optimizer, make_optimizer
from .validation import positive_number


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
    """A CRC of the training data, so a checkpoint is never resumed on other data."""
    crc = zlib.crc32(numpy.ascontiguousarray(X).view(numpy.uint8))
    return zlib.crc32(numpy.ascontiguousarray(Y).view(numpy.uint8), crc)


def check_fit_options(epochs, lr, batch_size, optimizer, callback, checkpoint, checkpoint_every):
    """Validate fit's settings before anything changes; returns the cleaned values."""
    epochs = positive_number("epochs", epochs, integer=True)
    lr = float(positive_number("lr", lr))
    if batch_size is not None:
        batch_size = positive_number("batch_size", batch_size, integer=True)
    check_optimizer(optimizer)
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
                alpha=0.0, shuffle=True):
    """Train ``net`` on backend arrays X, Y; returns this call's cost history (see Network.fit)."""
    ops = net.ops
    m = X.shape[0]
    if batch_size is None and optimizer == "sgd":
        batch_size = SGD_BATCH_SIZE
    full_batch = batch_size is None or batch_size >= m
    effective_batch = m if full_batch else batch_size
    fingerprint = data_fingerprint(ops.to_numpy(X), ops.to_numpy(Y)) if (checkpoint or resume) else None
    settings = {"optimizer": optimizer, "lr": lr, "batch_size": effective_batch, "n_samples": m, "data_crc": fingerprint,
                "alpha": alpha, "shuffle": shuffle}

    start_epoch, history = 0, []
    if resume is not None:
        state = checkpoints.read(resume, net, settings)  # raises before anything changes
        opt = make_optimizer(optimizer, ops, net._param_buffer)
        checkpoints.restore(state, net, opt)
        start_epoch, history = state.epoch, list(state.history)
    else:
        opt = net._optimizer if net._optimizer is not None and net._optimizer.name == optimizer else None
        opt = opt or make_optimizer(optimizer, ops, net._param_buffer)
    net._optimizer = opt
    net.history = history

    # True where weights, optimiser and random state are those of a completed epoch (a
    # full batch is always there once a half-applied update is undone); only such a
    # state is written to the checkpoint on Ctrl-C, so resuming it stays exact.
    at_epoch_end = True

    def end_epoch(cost):
        """Record a finished epoch: history, checkpoint, callback. Returns True to stop."""
        nonlocal at_epoch_end
        history.append(cost)
        at_epoch_end = True
        done = len(history)
        if checkpoint is not None and (done == epochs or (checkpoint_every and done % checkpoint_every == 0)):
            checkpoints.write(checkpoint, net, opt, done, history, settings)
        return callback is not None and callback(done, cost) is False

    def epoch_order():
        return net._rng.permutation(m) if shuffle else numpy.arange(m)

    # Where a divergence check is a host sync (a GPU), updates run in chunks checked
    # once each: the backend's fused step where it has one, else the layered updates.
    chunked = ops.fused_step(net, opt, X, Y, lr, alpha, effective_batch)
    if chunked is None and ops.chunked_checks:
        chunked = LayeredChunks(net, opt, X, Y, lr, alpha, max_chunk=max(CHUNK_ITERATIONS, -(-m // effective_batch)))
    params = net._param_buffer.flat
    snapshot = Snapshot(ops, [params] + opt.flat_state) if chunked is None else None
    grads = net._grad_buffer
    updates = 0
    in_update = False  # True from the snapshot until the update is known good

    def update(xb, yb):
        nonlocal updates, in_update
        cost = net._backprop(xb, yb, alpha)
        snapshot.take(opt.t)
        in_update = True
        opt.step(grads, lr)
        updates += 1
        if not ops.all_finite([params, cost]):
            opt.t = snapshot.restore()
            in_update = False
            raise DivergenceError(len(history) + 1, updates, lr, list(history))
        in_update = False
        return cost

    def run_chunk(n_epochs):
        """n_epochs epochs as one chunk on the backend's fused step (one host sync)."""
        nonlocal updates, at_epoch_end
        if full_batch:
            batches = [(0, m)] * n_epochs
        else:
            at_epoch_end = False
            chunked.set_order(epoch_order())
            batches = batches_of(m, batch_size)
        try:
            costs, diverged = chunked.run(batches)
        except KeyboardInterrupt:
            costs, diverged = chunked.interrupted or ([], False)
            record_chunk(costs, diverged, batches)  # the finished iterations are kept, then the interrupt goes on
            raise
        updates += len(costs) + diverged
        if diverged:
            record_chunk(costs, diverged, batches)
            raise DivergenceError(len(history) + 1, updates, lr, list(history))
        return record_chunk(costs, diverged, batches)

    def record_chunk(costs, diverged, batches):
        """The epochs a chunk finished, through end_epoch; True to stop."""
        if full_batch:
            return any([end_epoch(cost) for cost in costs])  # a chunk never outruns a callback (see below)
        if len(costs) == len(batches) and not diverged:
            return end_epoch(sum(cost * count for cost, (_, count) in zip(costs, batches)) / m)
        return False

    try:
        while len(history) < epochs:
            epoch = len(history)
            if chunked is not None:
                # Full batch: run to the next point where the host must look (a callback
                # every epoch, a checkpoint, the end); mini-batches: one epoch a chunk.
                n = 1 if (callback is not None or not full_batch) else min(CHUNK_ITERATIONS, epochs - epoch)
                if checkpoint_every:
                    n = min(n, checkpoint_every - epoch % checkpoint_every)
                if run_chunk(n):
                    break
                continue
            if full_batch:
                cost = float(update(X, Y))
            else:
                at_epoch_end = False
                order = epoch_order()
                total = 0.0
                for start in range(0, m, batch_size):
                    idx = order[start : start + batch_size]
                    total += float(update(ops.take_rows(X, idx), ops.take_rows(Y, idx))) * len(idx)
                cost = total / m
            if end_epoch(cost):
                break
    except (KeyboardInterrupt, MemoryError) as exc:
        # Interrupted inside an update: undo its half-applied step, so the network
        # holds the weights of the last completed one. Between updates there is
        # nothing to undo.
        if in_update:
            opt.t = snapshot.restore()
        if isinstance(exc, KeyboardInterrupt) and checkpoint is not None and at_epoch_end and len(history) > start_epoch:
            # Keep the work: the completed epochs go to the checkpoint, and resuming
            # it continues exactly. Stopped inside a mini-batch epoch, the last
            # periodic checkpoint stays as it is.
            checkpoints.write(checkpoint, net, opt, len(history), history, settings)
        if isinstance(exc, MemoryError) and not isinstance(exc, BackendMemoryError):
            # A temporary of the array library itself (e.g. CuPy's inside a matrix
            # product), not one of fastnet's buffers: name the batch and what to try.
            raise BackendMemoryError(ops.name, (effective_batch, X.shape[1]), X.dtype, exc, batch=True) from exc
        raise
    return history[start_epoch:]
