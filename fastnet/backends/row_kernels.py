"""Row-parallel layer steps of the ``fused`` backend: each thread takes a block of rows.

With NumPy's BLAS splitting each product over the cores and one thread doing the
elementwise work after it, half of every product's output is written in the
other core's cache and must cross over before the activation can read it, and
back again for the next product (measured on 2 cores: a 1078 x 64 -> 30 sigmoid
layer takes 68 us in sequence against 29 us + 19 us for its two parts alone).
Here a layer's rows are split into ``parts`` blocks instead, and one thread
does all of a block's work, its product (single-threaded BLAS) and its
activation, so the block stays in that core's cache: the same layer takes 41 us.

Every row of the result is computed as the serial kernels compute it. Weight
and bias gradients are sums over rows, so each block adds up its own rows and
the blocks' sums are added in block order: the same result for the same number
of blocks, within rounding of the one-block sum.

Each block's product is ``np.dot``, which in compiled code calls SciPy's BLAS;
:mod:`fastnet.backends.blas_threads` sets that one to a single thread, since the
blocks are the parallelism here.

Plain Python over NumPy arrays, like :mod:`fastnet.backends.fused_kernels`:
``prange`` is ``range`` until :class:`~fastnet.backends.fused_ops.FusedOps`
compiles these with Numba's ``prange``, and with the compiled activation kernels
in place of the plain ones named here.
"""

import numpy as np

from .fused_kernels import bias_sigmoid as bias_activation  # rebound per activation
from .fused_kernels import sigmoid_backward
from .loop_kernels import SIGMOID, activation_backward

prange = range

# OpenBLAS's small-matrix threshold (M * N * K <= 100**3 with its AVX-512 kernels; a
# product of 30 x 64 x 520 takes 15.6 us, of 30 x 64 x 530 31.7 us, float32).
# RowParallel binds a larger one where SciPy's BLAS has no such path. Only a
# gradient that fits it with this many rows a chunk is chunked (see block_sums).
SMALL_PRODUCT = 1_000_000
SMALL_PRODUCT_MIN_ROWS = 256


def block_rows(m, parts, p):
    """Rows lo:hi of block p when m rows are split into ``parts`` blocks as even as can be.

    None is empty while parts <= m (row_parallel keeps it so), whatever the thread count.
    """
    return (p * m) // parts, ((p + 1) * m) // parts


def dense_rows(X, W, b, out, parts):
    """out = f(X W^T + b), one block of rows per thread; f is ``bias_activation``."""
    m = X.shape[0]
    for p in prange(parts):
        lo, hi = block_rows(m, parts, p)
        block = out[lo:hi]
        np.dot(X[lo:hi], W.T, block)
        bias_activation(block, b, block)


def hidden_delta_rows(delta, W, H, kind, out, parts):
    """out = (delta W) * f'(z), f' from the stored H = f(z), one block of rows per thread (see block_delta)."""
    m = delta.shape[0]
    for p in prange(parts):
        lo, hi = block_rows(m, parts, p)
        block_delta(delta, W, H, kind, lo, hi, out)


def backward_step_rows(delta, W, H, kind, dW, db, out, parts):
    """weight_grads_rows then hidden_delta_rows in one launch: each block's rows are read once into cache."""
    m = delta.shape[0]
    dW_parts, db_parts = np.empty((parts,) + dW.shape, dW.dtype), np.empty((parts,) + db.shape, db.dtype)
    for p in prange(parts):
        lo, hi = block_rows(m, parts, p)
        block_sums(delta, H, lo, hi, dW_parts[p], db_parts[p])
        block_delta(delta, W, H, kind, lo, hi, out)
    add_blocks(dW_parts, db_parts, dW, db)


def weight_grads_rows(delta, H, dW, db, parts):
    """dW = delta^T H and db = delta summed over rows: each block sums its own rows, then the blocks are added."""
    m = delta.shape[0]
    dW_parts, db_parts = np.empty((parts,) + dW.shape, dW.dtype), np.empty((parts,) + db.shape, db.dtype)
    for p in prange(parts):
        lo, hi = block_rows(m, parts, p)
        block_sums(delta, H, lo, hi, dW_parts[p], db_parts[p])
    add_blocks(dW_parts, db_parts, dW, db)


def block_delta(delta, W, H, kind, lo, hi, out):
    """Rows lo:hi of out = (delta W) * f'(z), f' from the stored H (kind: a loop_kernels code).

    The sigmoid takes the fused kernel, the other activations the ``numba`` backend's loop.
    """
    block = out[lo:hi]
    np.dot(delta[lo:hi], W, block)
    if kind == SIGMOID:
        sigmoid_backward(H[lo:hi], block, block)
    else:
        activation_backward(H[lo:hi], block, kind, block)


def block_sums(delta, H, lo, hi, dW_part, db_part):
    """One block's share of the gradient: dW_part = delta[lo:hi]^T H[lo:hi], db_part its column sums.

    The product is summed over chunks of rows of at most SMALL_PRODUCT
    multiply-adds each: OpenBLAS's AVX-512 kernels take a path without packing up to
    that size, and delta^T H is where it matters most (539 rows of 30 x 64, float32:
    15.6 us in two chunks against 30.8 us in one call; float64 32.9 against 50.2 us).
    """
    n_out, n_in = dW_part.shape
    chunks = 1
    if n_out * n_in * SMALL_PRODUCT_MIN_ROWS <= SMALL_PRODUCT:  # else one row or so a chunk
        chunks = (n_out * n_in * (hi - lo) + SMALL_PRODUCT - 1) // SMALL_PRODUCT
    rows = (hi - lo + chunks - 1) // max(chunks, 1)  # rows per chunk, balanced
    stop = min(hi, lo + rows)
    np.dot(delta[lo:stop].T, H[lo:stop], dW_part)
    if stop < hi:
        chunk_sum = np.empty_like(dW_part)
        for start in range(stop, hi, rows):
            end = min(hi, start + rows)
            np.dot(delta[start:end].T, H[start:end], chunk_sum)
            dW_part += chunk_sum
    # A block-local accumulator: written through db_part directly, the row loop
    # neither vectorises nor keeps its sums in registers (12 vs 5 us, 1078 x 30).
    n_out = delta.shape[1]
    column_sums = np.zeros(n_out, db_part.dtype)
    for i in range(lo, hi):
        for j in range(n_out):
            column_sums[j] += delta[i, j]
    db_part[:] = column_sums


def add_blocks(dW_parts, db_parts, dW, db):
    """dW, db = the blocks' sums added in block order (the same result for the same block count)."""
    parts, n_out, n_in = dW_parts.shape
    for i in range(n_out):
        for j in range(n_in):
            total = dW_parts[0, i, j]
            for p in range(1, parts):
                total += dW_parts[p, i, j]
            dW[i, j] = total
    for j in range(n_out):
        total = db_parts[0, j]
        for p in range(1, parts):
            total += db_parts[p, j]
        db[j] = total


def launch_probe(out):
    """A trivial parallel loop: running it once starts Numba's threads (see FusedOps)."""
    for p in prange(out.shape[0]):
        out[p] = p
