"""The ``fused`` backend's whole backpropagation in one kernel: each thread runs every layer on its block of rows.

Apart from the weight gradients, a batch's forward and backward passes never mix
rows: row i of a layer's output needs only row i of the layer below, and row i of a
delta only row i of the delta above. So the batch can be cut into blocks of rows once,
and each thread can take one block through every layer, forward, loss and backward,
keeping its rows in its own core's cache from the first product to the last. Only
the gradients are sums over rows: each block sums its own, and the blocks are added
in block order afterwards, as the row-parallel layers of :mod:`.fused_rows` do. The
result is theirs to the bit for the same number of blocks (the cost, a sum, to
rounding).

One call per update instead of one per layer saves the Python between the layers
(which runs slower after each parallel region, the kernels having evicted the
interpreter's data from the core's caches), a thread launch per layer, and the
serial loss pass. Measured on the digits step (1078 rows, 64-30-10) on 2 cores:
see ``docs/tuning.md``.

The layers are the network's: ``Network._backprop`` is the algorithm, and this is
its row-local form with the same per-layer steps, each a callee of the factory.
"""

import numpy as np
from numba import prange

from .fused_rows import add_blocks, block_rows

# The loop over blocks of the kernel on threads (compiled parallel) and of the kernel on one thread.
BLOCK_LOOPS = {"parallel": prange, "serial": range}


def make_backprop_rows(hidden_bias_activation, output_bias_activation, cost_and_delta, block_sums, block_delta,
                       block_loop=prange):
    """``backprop_rows(X, Y, Ws, bs, dWs, dbs, Hs, Ds, dW_parts, db_parts, costs, scale, floor, parts) -> total``.

    Forward through every layer (``hidden_bias_activation`` below the last,
    ``output_bias_activation`` on it), the loss's cost and delta, then back down:
    each layer's block gradient (``block_sums``) and the delta below
    (``block_delta``), one block of rows per thread. ``Ws``, ``bs``, ``dWs``, ``dbs``,
    ``Hs`` (layer outputs) and ``Ds`` (deltas) are tuples with one array a layer;
    ``dW_parts``, ``db_parts`` and ``costs`` hold at least ``parts`` blocks' sums (one
    block sums into ``dWs`` and ``dbs`` directly).
    Returns the summed cost of every row, in float64 (the mean is the caller's).

    ``block_loop`` is ``prange`` for the blocks on threads (compiled ``parallel=True``)
    or ``range`` for one thread's kernel. A one-block call of the parallel kernel
    still wakes every thread, and beside a busy neighbour the one on its core stalls
    the region for a time slice; and the two must be functions of their own, since
    Numba's disk cache keys a function by its code and closure, not its compile options.
    """

    def backprop_rows(X, Y, Ws, bs, dWs, dbs, Hs, Ds, dW_parts, db_parts, costs, scale, floor, parts):
        m = X.shape[0]
        last = len(Ws) - 1
        for p in block_loop(parts):
            lo, hi = block_rows(m, parts, p)
            for l in range(last + 1):
                below = X[lo:hi] if l == 0 else Hs[l - 1][lo:hi]
                out = Hs[l][lo:hi]
                np.dot(below, Ws[l].T, out)
                if l < last:
                    hidden_bias_activation(out, bs[l], out)
                else:
                    output_bias_activation(out, bs[l], out)
            costs[p] = cost_and_delta(Hs[last][lo:hi], Y[lo:hi], scale, floor, Ds[last][lo:hi])
            for l in range(last, -1, -1):
                # One block sums straight into the gradient (a copy of every weight saved).
                dW, db = (dWs[l], dbs[l]) if parts == 1 else (dW_parts[l][p], db_parts[l][p])
                block_sums(Ds[l], X if l == 0 else Hs[l - 1], lo, hi, dW, db)
                if l > 0:
                    block_delta(Ds[l], Ws[l], Hs[l - 1], lo, hi, Ds[l - 1])
        if parts > 1:
            for l in range(last + 1):
                add_blocks(dW_parts[l][:parts], db_parts[l][:parts], dWs[l], dbs[l])
        total = 0.0
        for p in range(parts):
            total += costs[p]
        return total

    return backprop_rows
