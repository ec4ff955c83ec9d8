"""Chunks of layered training updates with one divergence check each, for backends where a check is a host sync.

The per-update loop of :mod:`fastnet.training` asks after every update whether the
cost or a weight became NaN or Inf, and reads the cost: on a GPU that is a host
synchronisation per update, which costs more than a small update itself. Here a chunk
of updates runs with the costs kept on the device and one check at its end:

* all finite (the usual case): the costs come back in one copy;
* not: the chunk is undone from a snapshot taken at its start and replayed one
  update at a time with a check after each, so the failing update is found exactly
  and the state from before it is kept, as the per-update loop promises.

The replay runs the same kernels on the same data, so it retraces the chunk; if a
backend's products were not reproducible and the replay did not diverge, its updates
are simply kept.
"""

import numpy


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


class LayeredChunks:
    """Runs chunks of ``network._backprop`` + ``optimizer.step`` updates, checked once a chunk.

    The same interface as :class:`fastnet.backends.gpu_step.FusedStep`: ``set_order``,
    ``run(batches)`` -> (costs, diverged), and ``interrupted`` after a Ctrl-C.

    Parameters
    ----------
    net : fastnet.Network
    optimizer : optimiser of ``net``'s parameters
    X, Y : backend arrays of the training data
    lr, alpha : float
    max_chunk : int
        The most updates one chunk may hold (the device buffer of costs).
    """

    def __init__(self, net, optimizer, X, Y, lr, alpha, max_chunk):
        ops = net.ops
        self.net, self.ops, self.optimizer = net, ops, optimizer
        self.X, self.Y, self.lr, self.alpha = X, Y, lr, alpha
        self.m = X.shape[0]
        state = [net._param_buffer.flat] + optimizer.flat_state
        self.params = state[0]
        self.chunk_start = Snapshot(ops, state)
        self.before_update = Snapshot(ops, state)  # for the replay, one update at a time
        self.costs = ops.alloc((max(max_chunk, 1),), X.dtype)
        self.order = ops.asarray(numpy.arange(self.m), numpy.int64)  # uploaded once an epoch, sliced on the device
        self.interrupted = None

    def set_order(self, order):
        """Use ``order`` (a permutation of the rows, on the host) for the next chunks' batches."""
        self.ops.copy_into(self.order, self.ops.asarray(order, numpy.int64))

    def _update(self, start, count):
        """One update on rows ``order[start : start + count]``; returns its cost (a backend scalar)."""
        if count == self.m and start == 0:
            X, Y = self.X, self.Y
        else:
            rows = self.order[start : start + count]
            X, Y = self.X[rows], self.Y[rows]
        cost = self.net._backprop(X, Y, self.alpha)
        self.optimizer.step(self.net._grad_buffer, self.lr)
        return cost

    def run(self, batches):
        """Run one update per ``(start, count)`` in ``batches``; returns (costs, diverged) as FusedStep.run."""
        ops, opt = self.ops, self.optimizer
        self.interrupted = None
        self.chunk_start.take(opt.t)
        try:
            for k, (start, count) in enumerate(batches):
                self.costs[k] = self._update(start, count)  # stays on the device: no sync
            if ops.all_finite([self.params, self.costs[: len(batches)]]):  # the chunk's one sync
                return [float(c) for c in ops.to_numpy(self.costs[: len(batches)])], False
        except KeyboardInterrupt:
            opt.t = self.chunk_start.restore()  # back to the last recorded epoch: nothing half-done is kept
            self.interrupted = ([], False)
            raise
        return self._replay(batches)

    def _replay(self, batches):
        """The chunk again from its start, checked after every update; stops at the first that diverges."""
        ops, opt = self.ops, self.optimizer
        opt.t = self.chunk_start.restore()
        costs = []
        try:
            for start, count in batches:
                self.before_update.take(opt.t)
                cost = self._update(start, count)
                if not ops.all_finite([self.params, cost]):
                    opt.t = self.before_update.restore()
                    return costs, True
                costs.append(float(cost))
        except KeyboardInterrupt:
            opt.t = self.before_update.restore()
            self.interrupted = (costs, False)
            raise
        return costs, False
