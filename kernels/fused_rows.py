"""Row-parallel layer steps of the ``fused`` backend: each thread takes a block of rows.

With NumPy's BLAS splitting each product over the cores and one thread doing the
elementwise work after it, half of every product's output is written in the
other core's cache and must cross over before the activation can read it, and
back again for the next product (measured on 2 cores: a 1078 x 64 -> 30 sigmoid
layer takes 68 us in sequence against 29 us + 19 us for its two parts alone).
Here a layer's rows are split into ``parts`` blocks instead, and one thread does
all of a block's work, its product (single-threaded BLAS) and its activation, so
the block stays in that core's cache: the same layer takes 41 us. A batch too short
for two blocks of ``TUNING.min_block_rows`` rows (a single prediction, a few) splits
its output neurons instead (:func:`make_dense_columns`).

Every row of the result is computed as the serial kernels compute it (the column split's
products are matrix-vector products of W's blocks, equal to rounding). Weight and
bias gradients are sums over rows, so each block adds up its own rows and the
blocks' sums are added in block order: the same result for the same number of
blocks, whichever thread ran which block.

Each block's product is ``np.dot``, which in compiled code calls SciPy's BLAS;
:mod:`.blas_threads` holds that one to a single thread while fused runs, since the
blocks are the parallelism here. The factories take the kernels each step calls.
"""

import numpy as np
from numba import prange

from fastnet.maths import jitable


@jitable
def block_rows(m, parts, p):
    """Rows lo:hi of block p when m rows are split into ``parts`` blocks as even as can be."""
    return (p * m) // parts, ((p + 1) * m) // parts


@jitable
def add_blocks(dW_parts, db_parts, dW, db):
    """dW, db = the blocks' sums added in block order (the same result for the same block count).

    A row of dW at a time, block after block, so the innermost loop runs along a
    contiguous row and vectorises (with the blocks innermost it did not: 784-1024-1024-10's
    gradients took 1.49 ms in float32, now 0.46 ms, the same bits).
    """
    parts, n_out, n_in = dW_parts.shape
    for i in range(n_out):
        for j in range(n_in):
            dW[i, j] = dW_parts[0, i, j]
        for p in range(1, parts):
            for j in range(n_in):
                dW[i, j] += dW_parts[p, i, j]
    for j in range(n_out):
        db[j] = db_parts[0, j]
    for p in range(1, parts):
        for j in range(n_out):
            db[j] += db_parts[p, j]


def make_block_sums(small_matrix, min_rows):
    """``block_sums(delta, H, lo, hi, dW_part, db_part)``: one block's share of the gradient.

    dW_part = delta[lo:hi]^T H[lo:hi], summed over chunks of rows of at most
    ``small_matrix`` multiply-adds where each chunk keeps ``min_rows`` rows (see
    :attr:`fastnet.tuning.Tuning.blas_small_matrix`; pass a huge limit where the BLAS
    has no small-matrix path); db_part its column sums.
    """

    def block_sums(delta, H, lo, hi, dW_part, db_part):
        n_out, n_in = dW_part.shape
        chunks = 1
        if n_out * n_in * min_rows <= small_matrix:  # else a row or so a chunk
            chunks = (n_out * n_in * (hi - lo) + small_matrix - 1) // small_matrix
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
        column_sums = np.zeros(n_out, db_part.dtype)
        for i in range(lo, hi):
            for j in range(n_out):
                column_sums[j] += delta[i, j]
        db_part[:] = column_sums

    return jitable(block_sums)


def make_block_delta(activation_backward):
    """``block_delta(delta, W, H, lo, hi, out)``: rows lo:hi of out = (delta W) * f'(z), f' from the stored H."""

    def block_delta(delta, W, H, lo, hi, out):
        block = out[lo:hi]
        np.dot(delta[lo:hi], W, block)
        activation_backward(H[lo:hi], block, block)

    return jitable(block_delta)


def make_dense_rows(bias_activation):
    """``dense_rows(X, W, b, out, parts)``: out = f(X W^T + b), one block of rows per thread."""

    def dense_rows(X, W, b, out, parts):
        m = X.shape[0]
        for p in prange(parts):
            lo, hi = block_rows(m, parts, p)
            block = out[lo:hi]
            np.dot(X[lo:hi], W.T, block)
            bias_activation(block, b, block)

    return dense_rows


def make_dense_columns(forward):
    """``dense_columns(X, W, b, out, parts)``: out = f(X W^T + b), one block of output neurons per thread.

    For a batch of a few rows, too short to split: each thread takes a block of W's
    rows and, row by row, a matrix-vector product with it (single-threaded, as in
    :func:`make_dense_rows`), then applies ``forward``, the activation's scalar
    function, to its block of outputs. Measured against one matrix product of the
    block (which OpenBLAS packs first), through 784-1024-1024-10: 4 rows 169 against
    352 us in float32, 359 against 482 in float64; 8 rows 333 against 420 in float32,
    but 694 against 541 in float64.
    """

    def dense_columns(X, W, b, out, parts):
        m, n = out.shape
        for p in prange(parts):
            lo, hi = block_rows(n, parts, p)
            for i in range(m):
                block = out[i, lo:hi]
                np.dot(W[lo:hi], X[i], block)
                for j in range(hi - lo):
                    block[j] = forward(block[j] + b[lo + j])

    return dense_columns


def make_hidden_delta_rows(block_delta):
    """``hidden_delta_rows(delta, W, H, out, parts)``: out = (delta W) * f'(z), one block of rows per thread."""

    def hidden_delta_rows(delta, W, H, out, parts):
        m = delta.shape[0]
        for p in prange(parts):
            lo, hi = block_rows(m, parts, p)
            block_delta(delta, W, H, lo, hi, out)

    return hidden_delta_rows


def make_weight_grads_rows(block_sums):
    """``weight_grads_rows(delta, H, dW, db, parts)``: each block sums its own rows, then the blocks are added."""

    def weight_grads_rows(delta, H, dW, db, parts):
        m = delta.shape[0]
        dW_parts, db_parts = np.empty((parts,) + dW.shape, dW.dtype), np.empty((parts,) + db.shape, db.dtype)
        for p in prange(parts):
            lo, hi = block_rows(m, parts, p)
            block_sums(delta, H, lo, hi, dW_parts[p], db_parts[p])
        add_blocks(dW_parts, db_parts, dW, db)

    return weight_grads_rows


def make_backward_step_rows(block_sums, block_delta):
    """``backward_step_rows(delta, W, H, dW, db, out, parts)``: weight_grads_rows then hidden_delta_rows
    in one launch, so each block's rows are read into cache once."""

    def backward_step_rows(delta, W, H, dW, db, out, parts):
        m = delta.shape[0]
        dW_parts, db_parts = np.empty((parts,) + dW.shape, dW.dtype), np.empty((parts,) + db.shape, db.dtype)
        for p in prange(parts):
            lo, hi = block_rows(m, parts, p)
            block_sums(delta, H, lo, hi, dW_parts[p], db_parts[p])
            block_delta(delta, W, H, lo, hi, out)
        add_blocks(dW_parts, db_parts, dW, db)

    return backward_step_rows


def launch_probe(out):
    """A trivial parallel loop: running it once starts Numba's threads, and tells which layer they use."""
    for p in prange(out.shape[0]):
        out[p] = p
