"""Neuron-parallel layer steps of the ``fused`` backend: each thread takes a block of a layer's output neurons.

The row split of :mod:`.fused_rows` gives each thread a block of rows, and each
block's products are BLAS calls of their own, each of which first packs (copies) the
whole weight matrix. Where the batch has fewer rows than the layer has neurons, that
packing is most of the work: a batch of 64 rows through 784-1024-1024-10 trained
slower on fused than on numpy, whose threaded BLAS packs W once for all its threads.
Here each thread takes a block of W's rows instead, the weights of its own neurons,
and packs only those; what every thread reads whole is the batch (m rows), the
smaller operand when m is under the neuron count.

Every value is computed as the serial kernels compute it, to rounding: a neuron's
output, its weight and bias gradients come from one thread each, so they do not depend
on the block count. The delta passed down is a sum over the layer's neurons: each
block adds its own neurons' share, and the shares are added in block order, the same
result for the same number of blocks. The factories take the kernels each step calls.
"""

import numpy as np
from numba import prange

from fastnet.maths import jitable

from .fused_rows import block_rows


def make_dense_neurons(forward):
    """``dense_neurons(X, W, b, out, parts)``: out = f(X W^T + b), one block of output neurons per thread.

    Each thread multiplies the batch by its block of W's rows into a buffer of its own
    (``out``'s block of columns is not contiguous, which a BLAS call needs), then adds
    the bias and applies ``forward``, the activation's scalar function, into ``out``.
    """

    def dense_neurons(X, W, b, out, parts):
        m, n = out.shape
        for p in prange(parts):
            lo, hi = block_rows(n, parts, p)
            Z = np.empty((m, hi - lo), out.dtype)
            np.dot(X, W[lo:hi].T, Z)
            for i in range(m):
                for j in range(hi - lo):
                    out[i, lo + j] = forward(Z[i, j] + b[lo + j])

    return dense_neurons


@jitable
def block_grads(delta, H, lo, hi, dW, db):
    """A block's deltas (copied contiguous), and the gradients of its neurons: dW[lo:hi], db[lo:hi]."""
    D = np.ascontiguousarray(delta[:, lo:hi])
    np.dot(D.T, H, dW[lo:hi])
    for j in range(hi - lo):
        db[lo + j] = 0
    for i in range(D.shape[0]):
        for j in range(hi - lo):
            db[lo + j] += D[i, j]
    return D


def make_weight_grads_neurons():
    """``weight_grads_neurons(delta, H, dW, db, parts)``: dW = delta^T H and db, one block of neurons per thread."""

    def weight_grads_neurons(delta, H, dW, db, parts):
        n = delta.shape[1]
        for p in prange(parts):
            lo, hi = block_rows(n, parts, p)
            block_grads(delta, H, lo, hi, dW, db)

    return weight_grads_neurons


def make_backward_step_neurons(activation_backward):
    """``backward_step_neurons(delta, W, H, dW, db, out, parts)``: a layer's gradients and the delta below.

    Each thread takes a block of the layer's neurons: their gradients, and their share
    of the delta below, D W[lo:hi] (m x n_in), into a buffer of its own. Then the shares
    are added in block order and multiplied by f'(z) from the stored H
    (``activation_backward``), one block of rows per thread.
    """

    def backward_step_neurons(delta, W, H, dW, db, out, parts):
        m, n = delta.shape
        shares = np.empty((parts,) + out.shape, out.dtype)
        for p in prange(parts):
            lo, hi = block_rows(n, parts, p)
            D = block_grads(delta, H, lo, hi, dW, db)
            np.dot(D, W[lo:hi], shares[p])
        for p in prange(parts):
            lo, hi = block_rows(m, parts, p)
            block = out[lo:hi]
            block[:] = shares[0, lo:hi]
            for q in range(1, parts):
                block += shares[q, lo:hi]
            activation_backward(H[lo:hi], block, block)

    return backward_step_neurons
