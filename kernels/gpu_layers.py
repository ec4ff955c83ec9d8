"""The GPU backend's layer kernels, written with ``numba.cuda`` around the scalar maths of fastnet.maths.

Each factory takes the scalar functions it applies, compiled as device functions by
:func:`device_table`,
so no activation or loss is written again for the GPU. The kernels are the elementwise
and reduction steps between the matrix products (which stay with cuBLAS):

* ``bias_activation(Z, b, out)``: out = f(Z + b), b added to each row;
* ``activation_backward(H, dH, out)``: out = dH * f'(z) from the stored H;
* ``cost_and_delta(H, Y, scale, floor, out, partial_costs)``: the output delta, and one
  partial cost per block;
* ``column_sums(A, out)``: the bias gradient, each column summed by one block;
* ``update``: one step of an optimiser's rule, over flat arrays; ``axpy`` for the L2 penalty.

Sums are tree reductions in shared memory in a fixed order, never atomics, so that two
runs give the same bits. Every kernel takes arrays of any shape its grid covers and
checks its bounds, so a partial last block is safe; tests run them on the Numba CUDA
simulator against the reference Ops, odd sizes included.
"""

import math
import types

# A module global, not a factory argument: under NUMBA_ENABLE_CUDASIM=1 the simulator
# runs each kernel with the module's ``cuda`` swapped for its per-thread fake, and it
# swaps globals only.
from numba import cuda

from fastnet import maths

# Threads per block for 1-D kernels (a power of two: the reductions halve it), and the
# side of a 2-D block. The simulator runs a Python thread per CUDA thread, so its tests
# pass smaller blocks.
BLOCK = 256
TILE = 16


def device_table(table):
    """An activation or loss table with each Python function compiled as a CUDA device function.

    Builtins (``math.exp``, the softmax's forward) are kept: CUDA compiles them natively.
    """
    maths.compile_for_numba(table)  # a function that calls another of the table (a rule's step) finds it

    def device(field):
        return cuda.jit(device=True)(field) if isinstance(field, types.FunctionType) else field

    return {name: type(entry)(*(device(field) for field in entry)) for name, entry in table.items()}


def device_tables():
    """The activation, loss, update-rule and penalty tables of fastnet.maths, as device functions (built on the GPU's exp)."""
    return (device_table(maths.activation_table(exp=math.exp)), device_table(maths.loss_table()),
            device_table(maths.update_rules()), device_table(maths.penalty_table()))


def blocks_for(n, block=BLOCK):
    """Blocks of ``block`` threads that cover n items (at least one)."""
    return max(1, -(-n // block))


def make_bias_activation(activation):
    """``bias_activation[grid](Z, b, out)``: out = f(Z + b); out may alias Z.

    Elementwise activations take a 2-D grid of TILE x TILE blocks over (rows, columns).
    A row-wise one (the softmax) is ``bias_rows[blocks, block](flat, b, n)``: one thread a
    row of the flat, C-ordered matrix of rows of n values (an output layer's handful of
    classes), the bias added in place, then maths' row pass.
    """
    forward = activation.forward
    if activation.rowwise:
        rows = activation.rows

        @cuda.jit
        def bias_rows(flat, b, n):
            i = cuda.grid(1)
            if i * n < flat.shape[0]:
                for j in range(n):
                    flat[i * n + j] += b[j]
                rows(flat, i * n, 1, n, n)

        return bias_rows

    @cuda.jit
    def bias_activation(Z, b, out):
        i, j = cuda.grid(2)
        if i < Z.shape[0] and j < Z.shape[1]:
            out[i, j] = forward(Z[i, j] + b[j])

    return bias_activation


def make_activation_backward(activation):
    """``activation_backward[grid](H, dH, out)``: out = dH * f'(z) from the stored H, over flat arrays.

    Not for a row-wise activation (the softmax's derivative is the reference's).
    """
    grad = activation.grad
    assert not activation.rowwise

    @cuda.jit
    def activation_backward(H, dH, out):
        i = cuda.grid(1)
        if i < H.shape[0]:
            out[i] = dH[i] * grad(H[i])

    return activation_backward


def make_block_sum(block):
    """A device function ``block_sum(value, scratch)``: the sum over a block of each thread's value.

    ``scratch`` is a shared array of ``block`` values, ``block`` a power of two. A tree reduction in a fixed order,
    so every run adds the same numbers in the same order. Every thread of the block
    must call it (it synchronises); thread 0's return value is the block's sum.
    """

    @cuda.jit(device=True)
    def block_sum(value, scratch):
        t = cuda.threadIdx.x
        scratch[t] = value
        cuda.syncthreads()
        step = block // 2
        while step > 0:
            if t < step:
                scratch[t] += scratch[t + step]
            cuda.syncthreads()
            step //= 2
        return scratch[0]

    return block_sum


def make_cost_and_delta(loss, activation, dtype, block=BLOCK):
    """``cost_and_delta[blocks, block](H, Y, scale, floor, out, partial_costs)`` over flat arrays.

    out = delta(h, y) * scale, times f'(h) when the loss goes through the output
    activation (then not a row-wise one); partial_costs[block] = that block's summed
    cost, which the caller adds up (a handful of values). Reads h before writing out,
    so out may alias H.
    """
    cost, delta, through, grad = loss.cost, loss.delta, loss.through_activation, activation.grad
    assert not (through and activation.rowwise)
    block_sum = make_block_sum(block)

    @cuda.jit
    def cost_and_delta(H, Y, scale, floor, out, partial_costs):
        scratch = cuda.shared.array(block, dtype)
        i = cuda.grid(1)
        term = scale - scale  # zero, in the arrays' type
        if i < H.shape[0]:
            h, y = H[i], Y[i]
            term = cost(h, y, floor)
            d = delta(h, y) * scale
            out[i] = d * grad(h) if through else d
        total = block_sum(term, scratch)
        if cuda.threadIdx.x == 0:
            partial_costs[cuda.blockIdx.x] = total

    return cost_and_delta


def make_column_sums(dtype, block=BLOCK):
    """``column_sums[n_columns, block](A, out)``: out[j] = sum_i A[i, j], one block per column.

    Each thread adds a strided share of the column's rows, then the block adds the
    threads' sums in a fixed order.
    """
    block_sum = make_block_sum(block)

    @cuda.jit
    def column_sums(A, out):
        scratch = cuda.shared.array(block, dtype)
        j = cuda.blockIdx.x
        acc = A[0, j] - A[0, j]  # zero, in A's type
        for i in range(cuda.threadIdx.x, A.shape[0], block):
            acc += A[i, j]
        total = block_sum(acc, scratch)
        if cuda.threadIdx.x == 0:
            out[j] = total

    return column_sums


def make_update(rule):
    """``update[blocks, block](param, grad, s1, s2, k)``: one step of an update rule over flat arrays, in place.

    ``rule`` is a device-compiled :class:`fastnet.maths.UpdateRule` and ``k`` its
    constants for this update, in the parameters' type; a thread a parameter, each the
    rule's ``step``. State arrays beyond the rule's ``n_state`` are never read or written.
    """
    step = rule.step

    @cuda.jit
    def update_params(param, grad, s1, s2, k):
        i = cuda.grid(1)
        if i < param.shape[0]:
            step(param, grad[i], s1, s2, i, param, s1, s2, k)

    return update_params


def make_axpy():
    """``axpy[blocks, block](param, grad, step)``: param += step * grad over flat arrays (the L2 penalty's gradient)."""

    @cuda.jit
    def axpy(param, grad, step):
        i = cuda.grid(1)
        if i < param.shape[0]:
            param[i] += step * grad[i]

    return axpy
