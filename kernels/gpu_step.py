"""The GPU's fused training step for small networks: two kernels an iteration, built on fastnet.maths.

A digits step (64-30-10 on 1078 rows) is about 10 MFLOP, so on a GPU its time is the
number of launches and host round trips, not arithmetic. Here one iteration is two
kernels, whatever the number of layers:

``tile_step``
    one block per tile of ``rows`` batch rows: the tile's forward pass, its output delta
    and cost, its backward pass, and its share of every parameter's gradient, written to
    ``partials[tile, :n_params]``, with its share of the cost in the last column
    (``partials[tile, n_params]``). Activations and deltas of the tile stay in shared
    memory; the parameters are read from global memory (a few KB, cached).
``reduce_update``
    ``lanes`` threads per column of the partials: each lane sums every ``lanes``-th
    tile, and the lanes' sums are added in lane order (no atomics, so every run and
    every graph replay gives the same bits). Then, for a parameter, the L2 term and the
    optimiser's rule; for the cost column, the iteration's record: the mean cost and a
    flag set when the cost or a new parameter is NaN or Inf.

The parameters and the optimiser's state are double-buffered: iteration ``k`` reads
buffer ``k % 2`` and writes the other, so the state from before a diverging update is
still there to restore. Once a ``reduce_update`` finds a NaN it sets ``stopped[0]``, and
every later kernel of the chunk returns at once, so nothing overwrites that state.

Every iteration's scalars (batch start, rows, iteration index) are kernel arguments, so
a chunk of iterations can be captured into one CUDA graph and replayed: the host reads
one ``record`` array per chunk. :mod:`fastnet.training.fused_gpu_step` drives it.
"""

import math

import numpy
from numba import cuda  # a module global: the CUDA simulator swaps it per thread (see kernels.gpu_layers)

from fastnet.neurons import NEURONS

from .gpu_layers import make_block_sum

# Shared memory one block may use without opting in to more (48 KiB on every CUDA GPU
# since Kepler): a tile's activations and deltas must fit in it.
SHARED_BYTES = 48 * 1024
TILE_ROWS = 32  # rows per tile at most: halved to fill the SMs (fill_rows) and to fit shared memory (Layout.tile_rows)
MIN_TILE_ROWS = 4  # below this the tile kernel has too little work per block: use the layered step
MAX_PARAMS = 1 << 16  # one to MAX_LANES threads per parameter in reduce_update, each summing its share of the tiles
# Tiles x parameters of one iteration's partial gradients: a bound on their memory (64 MiB
# in float32) and on the serial sum each reduce_update lane does over its tiles. Not
# yet measured on a device; past it the layered step (cuBLAS) trains instead.
MAX_PARTIALS = 1 << 24
# A tile's row of partials (its gradient, then its cost) is padded to whole warps of
# columns: every row starts on a 128-byte line (float32), so reduce_update's lane of 32
# consecutive columns reads whole lines, and tile_step writes them.
PARTIALS_ALIGN = 32
THREADS = 128  # threads per block of both kernels (a power of two: the cost sum halves it)
# Filling the device: tiles of fewer rows make more blocks, one SM each, each with less
# to do (see fill_rows). Below 8 rows only a tile's sums over its rows shrink; its loop
# over the parameters (n_params / THREADS a thread) and its row of partials stay, and
# reduce_update has more tiles to sum.
FILL_MIN_ROWS = 8
# Several threads per parameter in reduce_update (see reduce_lanes). A lane is a warp of
# 32 consecutive parameters at 128 threads a block, so its loads of a tile's partials
# are coalesced; 4 lanes fill the block.
MAX_LANES = 4
# The tiles one thread sums before its sum is split among more lanes. NVVM unrolls the
# sum by four (four loads in flight), so 16 tiles are four round trips to L2, about the
# price of the split itself: a shared-memory store, a barrier and the lanes' adds.
LANE_TILES = 16


def partials_columns(n_params):
    """Columns of a tile's row of partials: its ``n_params`` gradient entries and its cost, padded to PARTIALS_ALIGN."""
    return -(-(n_params + 1) // PARTIALS_ALIGN) * PARTIALS_ALIGN


def fill_rows(batch, multiprocessors, rows=TILE_ROWS):
    """Rows per tile for batches of ``batch`` rows: ``rows`` halved while its tiles are fewer than the SMs, down to FILL_MIN_ROWS.

    A tile is one block, and a block runs on one SM; with fewer tiles than SMs, an
    iteration takes as long as one tile, which is about proportional to its rows.
    Digits' 1078 rows on 132 SMs: 34 tiles of 32 rows would leave 98 SMs idle; 135
    tiles of 8 take a quarter of the time each. :meth:`Layout.tile_rows` then halves
    the result further if it does not fit in shared memory.
    """
    while rows > FILL_MIN_ROWS and -(-batch // rows) < multiprocessors:
        rows //= 2
    return rows


def reduce_lanes(tiles, threads=THREADS):
    """Threads per parameter in reduce_update for up to ``tiles`` tiles: doubled while a lane would sum more than LANE_TILES, to MAX_LANES."""
    lanes = 1
    while lanes < MAX_LANES and -(-tiles // lanes) > LANE_TILES and threads % (2 * lanes) == 0:
        lanes *= 2
    return lanes


class Layout:
    """Where each layer's parameters, activations and deltas sit, for layer sizes ``sizes``.

    Parameters follow the network's flat buffer: W0 (n1 x n0), b0, W1, b1, ...
    A tile keeps row r's activations of every layer (input included) back to back at
    ``r * act_stride + act_at[l]``, and its deltas at ``r * delta_stride + delta_at[l]``
    (``delta_at[l]`` is the delta of layer l's output, l = 0 .. L-1).

    The strides are the rows' lengths (``n_acts``, ``n_deltas``) made odd: a warp's
    threads take one neuron in 32 rows (see :func:`make_tile_step`), so they read
    shared memory ``stride`` words apart, and only an odd stride puts the 32 reads in
    32 different banks (digits' 104 values a row would put them in 4: 8-way conflicts).
    """

    def __init__(self, sizes):
        self.sizes = tuple(int(n) for n in sizes)
        L = len(self.sizes) - 1
        w_at, at = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w_at.append(at)
            at += n_out * n_in + n_out
        self.w_at = tuple(w_at) + (at,)  # w_at[L] is the end: the number of parameters
        self.n_params = at
        self.act_at = tuple(sum(self.sizes[:l]) for l in range(L + 1))
        self.n_acts = sum(self.sizes)
        self.delta_at = tuple(sum(self.sizes[1 : l + 1]) for l in range(L))
        self.n_deltas = sum(self.sizes[1:])
        self.act_stride, self.delta_stride = self.n_acts | 1, self.n_deltas | 1

    def tile_rows(self, itemsize, rows=TILE_ROWS):
        """The most rows (``rows`` halved as needed) whose activations and deltas fit in shared memory; 0 if none do."""
        while rows >= MIN_TILE_ROWS:
            if rows * (self.act_stride + self.delta_stride) * itemsize + THREADS * itemsize <= SHARED_BYTES:
                return rows
            rows //= 2
        return 0


def make_tile_step(layout, hidden, output, loss, penalty, dtype, rows, threads=THREADS):
    """``tile_step[n_tiles, threads](params, X, Y, order, start, count, scale, alpha, floor, partials, stopped)``.

    The batch is rows ``order[start : start + count]`` of X and Y; tile ``b`` takes
    ``rows`` of them from ``b * rows``. ``scale`` is 1/count (the mean's); the
    penalty's cost at ``alpha`` is shared among the blocks' partial costs (the mean's
    1/count comes in reduce_update). ``partials`` has a column per parameter and one
    for the cost. ``hidden``, ``output`` are device-compiled
    Activations, ``loss`` a device Loss, ``penalty`` a device Penalty.
    """
    sizes, w_at, act_at, delta_at = layout.sizes, layout.w_at, layout.act_at, layout.delta_at
    # The rows' strides in shared memory (odd: see Layout), named as the rows' lengths were.
    n_acts, n_deltas, n_params = layout.act_stride, layout.delta_stride, layout.n_params
    L = len(sizes) - 1
    hidden_f, hidden_g = hidden.forward, hidden.grad
    out_f, out_g, rowwise, out_rows = output.forward, output.grad, output.rowwise, output.rows
    cost, delta, through = loss.cost, loss.delta, loss.through_activation
    penalty_cost = penalty.cost
    assert not (through and rowwise), "a loss through a softmax's derivative has no fused step"
    block_sum = make_block_sum(threads)
    # The per-neuron sums, shared with the CPU's loop kernels, as device functions.
    neuron_input, hidden_delta, weight_gradient, bias_gradient = (cuda.jit(device=True)(fn) for fn in NEURONS)
    # Shared array sizes must be literal constants to numba.cuda: computed here, not in the kernel.
    acts_size, deltas_size = rows * n_acts, rows * n_deltas

    @cuda.jit
    def tile_step(params, X, Y, order, start, count, scale, alpha, floor, partials, stopped):
        if stopped[0] != 0:  # an earlier iteration of this chunk diverged: keep its state
            return
        acts = cuda.shared.array(acts_size, dtype)
        deltas = cuda.shared.array(deltas_size, dtype)
        scratch = cuda.shared.array(threads, dtype)
        t = cuda.threadIdx.x
        tile = cuda.blockIdx.x
        first = tile * rows
        n_rows = min(rows, count - first)
        zero = floor - floor

        n0 = sizes[0]
        for i in range(t, n_rows * n0, threads):
            r = i // n0
            acts[r * n_acts + i - r * n0] = X[order[start + first + r], i - r * n0]
        cuda.syncthreads()

        # Forward: one thread per (row, neuron) of each layer, its input z = b + W h, then f(z).
        # Rows vary fastest: a warp's threads take one neuron in consecutive rows (or, in
        # tiles of 8 rows, 4 neurons), so a load of weights is one broadcast (or 4 lines),
        # where neurons-fastest would read 32 weights a row of W apart (a cache line each).
        for l in range(L):
            n_in, n_out = sizes[l], sizes[l + 1]
            w, src, dst = w_at[l], act_at[l], act_at[l + 1]
            bias = w + n_out * n_in
            for i in range(t, n_rows * n_out, threads):
                j = i // n_rows
                r = i - j * n_rows
                z = neuron_input(params, w + j * n_in, acts, r * n_acts + src, n_in, params[bias + j], zero)
                if l < L - 1:
                    z = hidden_f(z)
                elif not rowwise:
                    z = out_f(z)
                acts[r * n_acts + dst + j] = z
            cuda.syncthreads()

        n_last, out_at, last_delta = sizes[L], act_at[L], delta_at[L - 1]
        if rowwise:  # the softmax, a thread a row: maths' row pass
            if t < n_rows:
                out_rows(acts, t * n_acts + out_at, 1, n_last, n_last)
            cuda.syncthreads()

        # The output delta and this thread's share of the tile's cost.
        term = zero
        for i in range(t, n_rows * n_last, threads):
            r = i // n_last
            j = i - r * n_last
            h = acts[r * n_acts + out_at + j]
            y = Y[order[start + first + r], j]
            term += cost(h, y, floor)
            d = delta(h, y) * scale
            if through:
                d = d * out_g(h)
            deltas[r * n_deltas + last_delta + j] = d
        if alpha != zero:  # this block's share of the penalty, each weight counted by one block
            stride = cuda.gridDim.x * threads
            for l in range(L):
                for p in range(w_at[l] + tile * threads + t, w_at[l] + sizes[l + 1] * sizes[l], stride):
                    term += penalty_cost(params[p], alpha)
        total = block_sum(term, scratch)  # synchronises: the output deltas are written
        if t == 0:
            partials[tile, n_params] = total  # the cost column, summed by reduce_update as a parameter's

        # Backward: one thread per (row, hidden neuron), its delta f'(h) * sum_k W_ki delta_k;
        # rows fastest again, so a warp's weight loads are broadcasts.
        for l in range(L - 1, 0, -1):
            n_mid, n_up = sizes[l], sizes[l + 1]
            w, up, here, h_at = w_at[l], delta_at[l], delta_at[l - 1], act_at[l]
            for i in range(t, n_rows * n_mid, threads):
                k = i // n_rows
                r = i - k * n_rows
                deltas[r * n_deltas + here + k] = hidden_delta(hidden_g(acts[r * n_acts + h_at + k]), params, w + k, n_mid,
                                                               deltas, r * n_deltas + up, n_up, zero)
            cuda.syncthreads()

        # This tile's share of each gradient, one thread per parameter: dW = delta^T h, db = delta summed over the rows.
        for p in range(t, n_params, threads):
            l = 0
            while p >= w_at[l + 1]:
                l += 1
            n_in, n_out = sizes[l], sizes[l + 1]
            q = p - w_at[l]
            if q < n_out * n_in:
                j = q // n_in
                partials[tile, p] = weight_gradient(deltas, delta_at[l] + j, n_deltas,
                                                    acts, act_at[l] + q - j * n_in, n_acts, n_rows, zero)
            else:
                partials[tile, p] = bias_gradient(deltas, delta_at[l] + q - n_out * n_in, n_deltas, n_rows, zero)

    return tile_step


def make_reduce_update(layout, rule, penalty, dtype, threads=THREADS, lanes=1):
    """``reduce_update[blocks, threads](params, new, s1, new_s1, s2, new_s2, partials, n_tiles, count, l2_scale, lr, h, t_base, it, record, stopped)``.

    ``lanes`` threads per column of ``partials`` (n_params + 1 columns: the parameters,
    then the cost), so a block takes ``threads // lanes`` consecutive columns and the
    grid covers n_params + 1 of them. Lane ``k`` sums tiles k, k + lanes, ... in order;
    lane 0 adds the lanes' sums in lane order, so the bits depend on ``lanes`` but never
    on timing. For a parameter it then adds the L2 term and applies the rule; for the
    cost column it writes the record.

    ``rule`` is a device-compiled :class:`fastnet.maths.UpdateRule`; ``lr`` and its
    settings ``h`` (a tuple) are float64, and each thread computes the update's
    constants from them and t = t_base[0] + it + 1 (the update's number since the
    optimiser started), then casts them to the parameters' type: the only float64
    arithmetic of a float32 kernel, once a thread. ``l2_scale`` is alpha / count, at
    which ``penalty`` (a device Penalty) adds its gradient to each weight's. The mean
    cost goes to ``record[0, it]``; any thread that sees a NaN or Inf sets
    ``record[1, it] = 1`` and ``stopped[0] = 1``. State buffers beyond the rule's
    ``n_state`` are stand-ins, never read or written.
    """
    n_params, w_at, L = layout.n_params, layout.w_at, len(layout.sizes) - 1
    sizes = layout.sizes
    cast = numpy.dtype(dtype).type
    constants, step = rule.constants, rule.step
    penalty_gradient = penalty.gradient
    assert L >= 1 and threads % lanes == 0
    columns = threads // lanes  # consecutive columns a block takes: a warp of them per lane on a GPU

    @cuda.jit
    def reduce_update(params, new, s1, new_s1, s2, new_s2, partials, n_tiles, count, l2_scale,
                      lr, h, t_base, it, record, stopped):
        sums = cuda.shared.array(threads, dtype)
        t = cuda.threadIdx.x
        lane = t // columns
        i = t - lane * columns
        p = cuda.blockIdx.x * columns + i  # this thread's column: a parameter, or the cost at n_params
        g = cast(0)
        if p <= n_params:
            for tile in range(lane, n_tiles, lanes):
                g += partials[tile, p]
        sums[t] = g
        cuda.syncthreads()  # the block's only barrier: every thread reaches it, whatever stopped says
        # Checked after the barrier: another block of this launch may set it meanwhile.
        if lane != 0 or p > n_params or stopped[0] != 0:
            return
        for other in range(1, lanes):
            g += sums[other * columns + i]
        if p == n_params:
            mean = g / count
            record[0, it] = mean
            if not math.isfinite(mean):
                record[1, it] = 1
                stopped[0] = 1
            return
        if l2_scale != 0:
            l = 0
            while p >= w_at[l + 1]:
                l += 1
            if p - w_at[l] < sizes[l + 1] * sizes[l]:  # a weight, not a bias: biases carry no penalty
                g += penalty_gradient(params[p], l2_scale)
        k = constants(lr, t_base[0] + it + 1, h, cast)
        value = step(params, g, s1, s2, p, new, new_s1, new_s2, k)
        if not math.isfinite(value):
            record[1, it] = 1
            stopped[0] = 1

    return reduce_update


def make_reset(threads=THREADS):
    """``reset[blocks, threads](stopped, record)``: a chunk's first kernel; clears ``stopped`` and the NaN flags of ``record``."""

    @cuda.jit
    def reset(stopped, record):
        i = cuda.grid(1)
        if i == 0:
            stopped[0] = 0
        if i < record.shape[1]:
            record[1, i] = 0

    return reset
