"""Chunks of training iterations on the GPU, two kernels each, one host readback per chunk.

:class:`FusedStep` runs the kernels of :mod:`fastnet.kernels.gpu_step` for a small network: per
iteration a tile kernel (forward, backward and partial gradients of each tile of
rows) and a reduce-and-update kernel. A chunk is a list of iterations, each a slice
``order[start : start + count]`` of the rows, and the host learns its outcome from one
``record`` array: every iteration's mean cost and a NaN/Inf flag.

On a GPU the chunk runs on a stream of its own. The first time a chunk of a given
shape runs it is launched kernel by kernel (which also compiles the kernels); after
that it is captured once as a CUDA graph and replayed, so a chunk costs one graph
launch and one readback whatever its length. Every buffer the graph touches is
allocated here, once, and lives as long as the FusedStep. On Numba's CUDA simulator
the kernels run one by one on NumPy arrays: the same code path, minus the graph.
"""

import numpy

from .runners import CHUNK_ITERATIONS, ChunkResult


class FusedStep:
    """The fused GPU step of one ``fit`` call: kernels, double buffers and CUDA graphs.

    A step runner of the training driver (see :mod:`fastnet.training.runners` for the
    contract). Its kernels apply each update's gradient themselves, so it offers no
    point between the two: a run that needs one (``on_gradient``) takes the layered
    updates instead.

    Parameters
    ----------
    ops : CupyOps
    net : fastnet.Network
    optimizer : fastnet.optimizers.GradientDescent
        Its ``params`` (the network's) and state buffers are buffer 0 of the double
        buffers; ``optimizer.t`` counts the updates applied.
    X, Y : device arrays of the training data
    lr, alpha : float
    kernels : (tile_step, reduce_update, reset, rows, threads, lanes)
        From :meth:`CupyOps.fused_step`: ``rows`` per tile, ``threads`` per block,
        ``lanes`` threads per parameter in reduce_update.
    batch : int
        The most rows an iteration takes (sizes the partial gradients).
    """

    chunk_epochs = CHUNK_ITERATIONS

    def __init__(self, ops, net, optimizer, X, Y, lr, alpha, kernels, batch):
        self.ops, self.optimizer = ops, optimizer
        self.interrupted = None
        self.kernels, self.batch = kernels, batch
        self.tile_step, self.reduce_update, self.reset, self.rows, self.threads, self.lanes = kernels
        self.m = X.shape[0]
        dtype = X.dtype
        self.t = dtype.type
        n_params = optimizer.params.flat.size
        self.n_params = n_params
        # reduce_update's blocks: `lanes` threads for each column of the partials, a parameter's or the cost's.
        self.reduce_blocks = -(-(n_params + 1) * self.lanes // self.threads)
        max_tiles = -(-batch // self.rows)
        ops_alloc = ops.alloc
        own = [optimizer.params.flat] + optimizer.flat_state
        own += [ops_alloc((1,), dtype) for _ in range(3 - len(own))]  # rules without state get stand-ins
        self.buffers = (own, [ops_alloc(a.shape, dtype) for a in own])  # buffer 0 is the optimiser's own
        # Each tile's gradient, then its cost, in a row padded to whole warps of columns.
        self.partials = ops_alloc((max_tiles, ops.step.partials_columns(n_params)), dtype)
        self.record = ops_alloc((2, max(CHUNK_ITERATIONS, self.m)), dtype)  # costs, flags; a mini-batch epoch may be longer
        self.stopped = ops_alloc((1,), numpy.int32)
        self.t_base = ops_alloc((1,), numpy.int64)
        self.order = ops.asarray(numpy.arange(self.m), numpy.int64)
        # The data in buffers of this FusedStep: a graph holds the addresses it was captured
        # with, so a later fit on new data of the same shapes copies it here and replays.
        self.X, self.Y = ops.alloc(X.shape, dtype), ops.alloc(Y.shape, dtype)
        self.bind(X, Y, lr, alpha)
        self._graphs, self._seen = {}, set()  # graphs by chunk shape and scalars; shapes run once eagerly
        self.capture_error = None  # why capture failed, if it did (see _capture): chunks then run eagerly
        if not ops.simulated:
            import cupy

            self._cupy = cupy
            self._stream = cupy.cuda.Stream(non_blocking=True)  # capture needs a stream other than the default
            self._numba_stream = ops.layers.cuda.external_stream(self._stream.ptr)
            self._views = {}

    def serves(self, optimizer, X, Y, kernels, batch):
        """Whether this FusedStep can run a new fit: the same optimiser, kernels, batch and data shapes."""
        return (optimizer is self.optimizer and kernels == self.kernels and batch == self.batch
                and X.shape == self.X.shape and Y.shape == self.Y.shape and X.dtype == self.X.dtype)

    def bind(self, X, Y, lr, alpha):
        """Take a fit's data and scalars: X and Y copied into this step's buffers, lr, alpha and the optimiser's settings.

        The scalars are kernel arguments, so a graph serves only the ones it was captured
        with: they are part of its key.
        """
        self.ops.copy_into(self.X, X)
        self.ops.copy_into(self.Y, Y)
        settings = tuple(numpy.float64(v) for v in self.optimizer.settings.values())
        self.scalars = dict(lr=numpy.float64(lr), h=settings, alpha=float(alpha),
                            floor=self.t(numpy.finfo(self.X.dtype).tiny))
        self._scalars_key = (float(lr), float(alpha), tuple(map(float, settings)))
        self.interrupted = None

    # -- one chunk -----------------------------------------------------------------
    def set_order(self, order):
        """Use ``order`` (a permutation of the rows, on the host) for the next chunks' batches."""
        self.ops.copy_into(self.order, self.ops.asarray(order, numpy.int64))

    def run(self, batches):
        """Run one iteration per ``(start, count)`` in ``batches``; returns (costs, diverged).

        ``costs`` are the mean costs of the iterations that completed, before their
        updates. With ``diverged``, the next iteration (the ``len(costs)``-th from 0)
        made the cost or a weight NaN or Inf, and the state from before it is back in
        place; its later iterations did nothing. ``optimizer.t`` counts the completed ones.

        On KeyboardInterrupt the iterations already launched are let finish and kept
        (as ``self.interrupted``, the same pair), then the interrupt goes on.
        """
        batches = tuple((int(s), int(c)) for s, c in batches)
        self.interrupted, self._launched = None, 0
        try:
            record = self._execute(batches)
        except KeyboardInterrupt:
            self.interrupted = self._commit(self._settle(len(batches)), self._launched)
            raise
        return self._commit(record, len(batches))

    def _settle(self, n):
        """The record of a chunk that was interrupted, once the work already launched has finished."""
        if not self.ops.simulated:
            self._stream.synchronize()
        return self.ops.to_numpy(self.record[:, :n]).copy()

    def _commit(self, record, launched):
        """Put the state of the last good iteration in buffer 0, count it, return (costs, diverged)."""
        flagged = numpy.flatnonzero(record[1, :launched])
        done = int(flagged[0]) if flagged.size else launched
        if done % 2:  # the state after (or, diverged, before) iteration `done` is in buffer 1
            for dst, src in zip(*self.buffers):
                self.ops.copy_into(dst, src)
        self.optimizer.t += done
        return ChunkResult([float(c) for c in record[0, :done]], bool(flagged.size))

    def _execute(self, batches):
        """Run the chunk's kernels and return the host copy of its record (costs, flags)."""
        n = len(batches)
        if self.ops.simulated:
            self.t_base[0] = self.optimizer.t
            self.launch_all(batches, self.ops.launch)
            return self.record[:, :n].copy()
        stream, cupy = self._stream, self._cupy
        with stream:
            stream.wait_event(cupy.cuda.Stream.null.record())  # data and weights written before this chunk
            self.t_base.fill(self.optimizer.t)  # outside any graph: it changes from chunk to chunk
            graph = self._graphs.get((batches, self._scalars_key))
            if graph is None and self.ops.graphs and batches in self._seen and self.capture_error is None:
                graph = self._capture(batches)
            if graph is None:  # the first run of this shape compiles the kernels: never inside a capture
                self._seen.add(batches)
                self.launch_all(batches, self._launch_on_stream)
            else:
                graph.launch(stream)
                self._launched = n
            return cupy.asnumpy(self.record[:, :n], stream=stream, blocking=True)  # the chunk's one host sync

    def _capture(self, batches):
        """The chunk's kernels captured as a CUDA graph (kept for this shape), or None where capture failed.

        Capturing runs nothing, so ``_launched`` stays 0: an interrupt during it commits
        nothing of this chunk. A capture that fails (a launch that raises inside it, or
        ``end_capture`` refusing the graph) is ended and its partial graph dropped; its
        error is kept in ``capture_error``, with a warning, and this FusedStep's chunks
        run eagerly from then on: the same kernels, launched one by one. A real fault
        in a kernel then raises from that eager run, under its own name.
        """
        stream = self._stream
        stream.begin_capture()
        try:
            self.launch_all(batches, self._launch_on_stream)
        except BaseException as exc:
            self._launched = 0
            try:
                stream.end_capture()  # ends the capture; the partial graph is dropped
            except Exception:  # noqa: BLE001 - e.g. cudaErrorStreamCaptureInvalidated, which hides the cause
                pass
            if not isinstance(exc, Exception):
                raise  # Ctrl-C: nothing of this chunk has run
            return self._capture_failed(exc)
        self._launched = 0
        try:
            graph = stream.end_capture()
        except Exception as exc:  # noqa: BLE001 - the graph is refused; the eager run still works
            return self._capture_failed(exc)
        self._graphs[(batches, self._scalars_key)] = graph
        return graph

    def _capture_failed(self, exc):
        import warnings

        self.capture_error = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"fastnet: capturing the fused step as a CUDA graph failed ({self.capture_error}); its "
                      "chunks run without graphs, kernel by kernel", RuntimeWarning, stacklevel=2)
        return None

    def _launch_on_stream(self, kernel, grid, block, *args):
        """kernel[grid, block, the chunk's stream](*args), arrays as Numba views made once and never synchronised."""
        views = self._views
        cuda = self.ops.layers.cuda
        numba_args = []
        for a in args:
            if hasattr(a, "__cuda_array_interface__"):
                view = views.get(id(a))
                if view is None:  # every array here is a buffer of this FusedStep: its id is stable
                    view = views[id(a)] = (cuda.from_cuda_array_interface(a.__cuda_array_interface__, owner=a, sync=False), a)
                a = view[0]
            numba_args.append(a)
        self.ops.launch_configs(kernel, grid, block, self._numba_stream)(*numba_args)

    def launch_all(self, batches, launch):
        """Every kernel of the chunk, each through ``launch(kernel, grid, block, *args)``."""
        t, s = self.t, self.scalars
        launch(self.reset, -(-self.record.shape[1] // self.threads), self.threads, self.stopped, self.record)
        for k, (start, count) in enumerate(batches):
            src, dst = self.buffers if k % 2 == 0 else self.buffers[::-1]
            tiles = -(-count // self.rows)
            launch(self.tile_step, tiles, self.threads, src[0], self.X, self.Y, self.order, start, count,
                   t(1.0 / count), t(s["alpha"]), s["floor"], self.partials, self.stopped)
            launch(self.reduce_update, self.reduce_blocks, self.threads, src[0], dst[0], src[1], dst[1],
                   src[2], dst[2], self.partials, tiles, t(count), t(s["alpha"] / count),
                   s["lr"], s["h"], self.t_base, k, self.record, self.stopped)
            self._launched = k + 1
