"""Chunks of layered training updates with one divergence check each, for backends where a check is a host sync.

:class:`~.runners.HostSteps` asks after every update whether the cost or a weight
became NaN or Inf, and reads the cost: on a GPU that is a host synchronisation per
update, which costs more than a small update itself. Here a chunk of updates runs with
the costs kept on the device and one check at its end:

* all finite (the usual case): the costs come back in one copy;
* not: the chunk is undone from a snapshot taken at its start and replayed one
  update at a time with a check after each, so the failing update is found exactly
  and the state from before it is kept.

Ctrl-C inside a chunk replays the updates that had finished the same way, so they are
kept and the one in flight is not, as the runners' contract says.

The replay runs the same kernels on the same data, so it retraces the chunk; if a
backend's products were not reproducible and the replay did not diverge, its updates
are simply kept.
"""

from .runners import ChunkResult, HostSteps, Snapshot


class LayeredChunks(HostSteps):
    """Runs chunks of layered updates (backprop + step), checked once a chunk.

    Parameters are those of :class:`~.runners.LayeredUpdates`, and ``max_chunk``: the
    most updates one chunk may hold (the device buffer of costs). The replay, one
    update at a time, is the host's runner, :class:`~.runners.HostSteps`.
    """

    def __init__(self, net, optimizer, X, Y, lr, alpha, max_chunk, on_gradient=None):
        super().__init__(net, optimizer, X, Y, lr, alpha, on_gradient)
        self.chunk_start = Snapshot(self.ops, self.state)
        self.costs = self.ops.alloc((max(max_chunk, 1),), X.dtype)

    def run(self, batches):
        ops, opt = self.ops, self.optimizer
        self.interrupted = None
        self.chunk_start.take(opt.t)
        finished = 0
        try:
            for k, (start, count) in enumerate(batches):
                self.costs[k] = self.gradient(start, count)  # stays on the device: no sync
                self.apply()
                finished = k + 1
            if ops.all_finite([self.params, self.costs[: len(batches)]]):  # the chunk's one sync
                return ChunkResult([float(c) for c in ops.to_numpy(self.costs[: len(batches)])], False)
        except (KeyboardInterrupt, MemoryError):
            # Keep the finished updates: replay them from the chunk's start, checked one by one.
            opt.t = self.chunk_start.restore()
            try:
                self.interrupted = super().run(batches[:finished])
            except (KeyboardInterrupt, MemoryError):
                pass  # a second interrupt: the replay kept what it had finished, in self.interrupted
            raise
        opt.t = self.chunk_start.restore()  # a NaN or Inf somewhere: find it, one update at a time
        return super().run(batches)
