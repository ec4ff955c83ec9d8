"""Step runners: what runs a chunk of parameter updates for the training driver.

The driver (:mod:`.driver`) hands a runner a chunk: a list of ``(start, count)``
batches, each the rows ``order[start : start + count]`` of the training data (one
batch of every row for full-batch training). Every runner keeps one contract:

``run(batches) -> ChunkResult(costs, diverged)``
    ``costs`` are the mean costs of the updates that finished, in order, each
    measured before its update. With ``diverged``, the next update made the cost or a
    weight NaN or Inf; it was undone, so the parameters and optimiser state are those
    after the finished updates, and nothing later in the chunk ran.
On KeyboardInterrupt (or MemoryError)
    every finished update is kept, the one in flight is undone, ``self.interrupted``
    holds the ``ChunkResult`` of the finished ones, and the exception goes on.
``set_order(order)``
    a permutation of the rows (on the host) for the next chunks' batches.
``chunk_epochs``
    the most full-batch epochs worth putting in one chunk: a chunk takes one snapshot
    of the state and one divergence check (on a GPU, one host synchronisation).

Runners here: :class:`HostSteps` (an update at a time, checked after each: data-parallel
fits) and :class:`~.layered_chunks.LayeredChunks` (the same updates, checked once a
chunk: every backend's layered updates otherwise). The GPU's fused step for small networks
(:class:`fastnet.training.fused_gpu_step.FusedStep`) keeps the same contract with its own
kernels.

Both runners here update through :meth:`LayeredUpdates.gradient` and :meth:`LayeredUpdates.apply`: the network's
backprop, then ``on_gradient`` (where a data-parallel run sums the gradients of every
process), then the optimiser's step.
"""

import functools
from typing import NamedTuple

import numpy

# Full-batch updates in one chunk when nothing (a callback, a checkpoint) asks for the
# host sooner: on a GPU one readback per 100 updates is 30 for digits' 3000, while a
# graph of 200 kernels stays small to capture. A diverging update is still found exactly.
CHUNK_ITERATIONS = 100


class ChunkResult(NamedTuple):
    """What a chunk did: the finished updates' costs, and whether the next one diverged (and was undone)."""

    costs: list
    diverged: bool


def batches_of(m, batch_size):
    """The ``(start, count)`` of each mini-batch of one epoch over m rows."""
    return [(start, min(batch_size, m - start)) for start in range(0, m, batch_size)]


class Snapshot:
    """Copies of a list of backend arrays (and the optimiser step count), restorable in place."""

    def __init__(self, ops, arrays):
        self.ops = ops
        self.arrays = arrays
        self.copies = [a.copy() for a in arrays]
        self.t = 0

    def take(self, t):
        for dst, src in zip(self.copies, self.arrays):
            self.ops.copy_into(dst, src)
        self.t = t

    def restore(self):
        for dst, src in zip(self.arrays, self.copies):
            self.ops.copy_into(dst, src)
        return self.t


class LayeredUpdates:
    """One training update from the network's layers: backprop, ``on_gradient``, the optimiser's step.

    Parameters
    ----------
    net : fastnet.Network
    optimizer : an optimiser of ``net``'s parameters
    X, Y : backend arrays of the training data
    lr, alpha : float
    on_gradient : callable, optional
        ``on_gradient(grads, cost, count) -> cost``, called between an update's
        gradient and its application: ``grads`` is the network's gradient buffer (a
        FlatBuffer, which it may change in place), ``cost`` the batch's mean cost and
        ``count`` its rows. It returns the cost to record.
    """

    chunk_epochs = CHUNK_ITERATIONS

    def __init__(self, net, optimizer, X, Y, lr, alpha, on_gradient=None):
        ops = net.ops
        self.net, self.ops, self.optimizer = net, ops, optimizer
        self.X, self.Y, self.lr, self.alpha = X, Y, lr, alpha
        self.m = X.shape[0]
        self.on_gradient = on_gradient
        self.state = [net._param_buffer.flat] + optimizer.flat_state  # what an undo puts back
        self.params = self.state[0]
        self.order = ops.asarray(numpy.arange(self.m), numpy.int64)
        self.interrupted = None

    def set_order(self, order):
        """Use ``order`` (a permutation of the rows, on the host) for the next chunks' batches."""
        self.ops.copy_into(self.order, self.ops.asarray(order, numpy.int64))

    def gradient(self, start, count):
        """Backprop on rows ``order[start : start + count]`` (and ``on_gradient``); returns the mean cost."""
        if count == 0:  # a data-parallel rank with no rows in this update: on_gradient adds nothing from here
            return self.on_gradient(self.net._grad_buffer, 0.0, 0)
        if start == 0 and count == self.m:
            X, Y = self.X, self.Y
        else:
            rows = self.order[start : start + count]
            X, Y = self.ops.take_rows(self.X, rows), self.ops.take_rows(self.Y, rows)
        cost = self.net._backprop(X, Y, self.alpha)
        if self.on_gradient is not None:
            cost = self.on_gradient(self.net._grad_buffer, cost, count)
        return cost

    def apply(self):
        """The optimiser's step from the gradient buffer."""
        self.optimizer.step(self.net._grad_buffer, self.lr)


class HostSteps(LayeredUpdates):
    """The host's runner: one update at a time, each checked for NaN and Inf as it finishes.

    A snapshot of the parameters and optimiser state, taken just before each step,
    undoes a step that diverged or was interrupted.
    """

    @functools.cached_property
    def before_update(self):
        """The snapshot taken before each update, made on first use (chunked runners need one only to replay)."""
        return Snapshot(self.ops, self.state)

    def run(self, batches):
        ops, opt = self.ops, self.optimizer
        self.interrupted = None
        costs = []
        started = 0  # updates whose step began: one more than len(costs) while one is in flight
        try:
            for start, count in batches:
                cost = self.gradient(start, count)
                self.before_update.take(opt.t)
                started += 1
                self.apply()
                if not ops.all_finite([self.params, cost]):
                    opt.t = self.before_update.restore()
                    return ChunkResult(costs, True)
                costs.append(float(cost))  # the update is finished once its cost is recorded
        except (KeyboardInterrupt, MemoryError):
            if started > len(costs):
                opt.t = self.before_update.restore()
            self.interrupted = ChunkResult(costs, False)
            raise
        return ChunkResult(costs, False)
