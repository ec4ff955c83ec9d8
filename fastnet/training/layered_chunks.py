"""Chunks of layered training updates with one divergence check each: how every backend's layered updates run.

:class:`~.runners.HostSteps` asks after every update whether the cost or a weight
became NaN or Inf, and to undo one that did, it copies the parameters and the
optimiser's state before each update. That copy is 13 % of an MNIST-shaped Adam step
on the CPU (143 of 1137 µs in float64: 240,000 values each time), and on a GPU the
check is also a host synchronisation. Here a chunk of updates runs with the costs kept
in an array (on the device, on a GPU), one snapshot at its start and one check at its
end:

* all finite (the usual case): the costs come back in one copy;
* not: the chunk is undone from the snapshot and replayed one update at a time with a
  check after each, so the failing update is found exactly and the state from before
  it is kept.

Ctrl-C inside a chunk keeps the updates that had finished, as the runners' contract
says. Where it lands outside an update's application (in a gradient, where nearly
all the time goes), the state is already that after the finished updates: they are
checked and kept as they are. Where it lands inside one, the chunk is undone and the
finished updates replayed the same way.

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
        finished, applying = 0, False
        try:
            for k, (start, count) in enumerate(batches):
                self.costs[k] = self.gradient(start, count)  # stays on the device: no sync
                applying = True  # from here until `finished` counts it, the state is mid-update
                self.apply()
                finished = k + 1
                applying = False
            if ops.all_finite([self.params, self.costs[: len(batches)]]):  # the chunk's one sync
                return ChunkResult(self._finished_costs(len(batches)), False)
        except (KeyboardInterrupt, MemoryError):
            if not applying and ops.all_finite([self.params, self.costs[:finished]]):
                # Stopped in a gradient: the state is that after the finished updates, all finite.
                self.interrupted = ChunkResult(self._finished_costs(finished), False)
                raise
            # Stopped inside an update (or something diverged): replay the finished ones, checked one by one.
            opt.t = self.chunk_start.restore()
            try:
                self.interrupted = super().run(batches[:finished])
            except (KeyboardInterrupt, MemoryError):
                pass  # a second interrupt: the replay kept what it had finished, in self.interrupted
            raise
        opt.t = self.chunk_start.restore()  # a NaN or Inf somewhere: find it, one update at a time
        return super().run(batches)

    def _finished_costs(self, n):
        return [float(c) for c in self.ops.to_numpy(self.costs[:n])]
