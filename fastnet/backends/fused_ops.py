"""Backend ``fused``: NumPy's BLAS for the matrix products, Numba for everything between.

The numpy backend spends most of a small network's time outside the matrix
products: four ufunc passes (and, without AVX-512, a scalar libm ``exp``) per
sigmoid, three more per derivative, a strided reduction for each bias gradient,
a temporary per parameter update. This subclass keeps
:class:`~fastnet.backends.ops.Ops` as it is and overrides only those hot spots:
with the one-pass kernels of :mod:`fastnet.backends.fused_kernels` (bias +
activation, the output delta and cost together, the derivative product), and with
the ``numba`` backend's compiled loops where those are one pass already (bias
gradient, parameter updates, the divergence check). For a handful of rows, where
BLAS's call overhead dominates, a layer runs as one compiled loop instead (the
``numba`` backend's dense kernel). For many, a layer's rows are split over Numba's
threads and each thread does its block's product and kernels
(:mod:`fastnet.backends.row_parallel`), so that a block stays in one core's cache.
"""

import numpy

from . import fused_kernels as fk
from .loop_ops import _KINDS, LoopOps, _rebound
from .ops import Ops
from .row_parallel import RowParallel

# Below this many multiply-adds a layer is one compiled loop rather than a BLAS call
# plus a kernel (measured: a 1 x 100 x 100 layer, BLAS 2.8 us + 0.5 us, loop ~1.5 us).
SMALL_LAYER = 16_384


def transposed_weight_grad_is_faster(m, n_in, n_out):
    """Whether OpenBLAS computes dW = delta^T H faster as (H^T delta)^T for these sizes.

    The two orders hand BLAS the same product with M and N swapped, and for a few
    hundred to a few thousand rows, a narrow output layer and a wider input, its
    kernels and thread split favour the swapped one. Measured on the 2-core
    development machine (OpenBLAS 0.3, min of 7 interleaved repeats), the time of
    delta^T H over that of (H^T delta)^T: digits' first layer, m=1078, 64 -> 30, 1.24-1.77x slower in
    float64, 1.23-1.47x in float32; 64 -> 10 and 256 -> 10 1.3x; but 30 -> 10 0.82x,
    30 -> 64 0.6x, 20000 rows 0.76x. The rule takes only the consistent wins.
    """
    return 512 <= m <= 8192 and n_out <= 32 and n_in >= 48 and n_in >= 2 * n_out


# Never "reassoc" where the exp is: its rounding trick needs (t + S) - S evaluated
# as written. Reductions without an exp add it, which lets LLVM vectorise the sum.
FASTMATH = {"contract"}
REDUCTION_FASTMATH = {"contract", "reassoc"}

# Python's error model makes every float division check for zero and raise
# ZeroDivisionError, and that branch stops LLVM from vectorising the sigmoid's
# 1 / (1 + e) (measured: 95 -> 57 us per 1078 x 30 layer). NumPy's model gives
# inf instead; the kernels never divide by zero (1 + e >= 1, a softmax row sums to >= 1).
ERROR_MODEL = "numpy"


class FusedOps(Ops):
    """NumPy storage and BLAS GEMMs, with fused Numba kernels for the elementwise work.

    Results match the numpy backend to rounding (the tests hold it to 1e-10
    relative in float64); the exp used by sigmoid and softmax is within 2 ulp of
    NumPy's in float64, and within 2 float32 ulp of the exact value in float32.
    """

    name = "fused"
    compiles_kernels = True  # on first use: the command line times that apart from training

    def __init__(self):
        import numba  # imported here: ``import fastnet`` must not import numba

        from . import get_backend

        self._float64 = _compile_kernels(numba, {}, "")
        self._float32 = _compile_kernels(numba, fk.FLOAT32, "_float32")
        # Where the numba backend's compiled loops are one pass already, reuse them:
        # ``self.k`` is what the LoopOps methods borrowed below call.
        self.k = get_backend("numba").k
        # A small layer never reaches the numba backend's parallel threshold, so skip
        # its size dispatch (a Python call, ~0.7 us of a ~4 us layer) and call the
        # serial build directly.
        self._small_dense = getattr(self.k.dense, "serial", self.k.dense)
        self.rows = RowParallel(numba, {numpy.dtype(numpy.float64): self._float64,
                                        numpy.dtype(numpy.float32): self._float32},
                                self.k, {"fastmath": FASTMATH, "error_model": ERROR_MODEL})

    @property
    def row_parallel_off(self):
        """None when layers big enough run row-parallel here; otherwise why they do not."""
        return self.rows.off

    def row_parallel_description(self):
        """One line for ``fastnet info`` and the benchmark report: how layers are split here."""
        return self.rows.description()

    def _kernels(self, array):
        return self._float32 if array.dtype == numpy.float32 else self._float64

    sum_rows = LoopOps.sum_rows
    mse_cost = LoopOps.mse_cost
    all_finite = LoopOps.all_finite
    axpy = LoopOps.axpy
    momentum_update = LoopOps.momentum_update
    adam_update = LoopOps.adam_update

    def dense_function(self, m, n_in, n_out, kind):
        work = m * n_in * n_out
        parts = self.rows.parts(m, work) if kind in _KINDS and work > SMALL_LAYER else 0
        if not parts:
            return super().dense_function(m, n_in, n_out, kind)
        dense, row_kernel = self.dense, self.rows.kernel

        def row_parallel_layer(X, W, b, out):
            # dense()'s row-parallel case with its checks made once: only X comes from
            # outside the network's own contiguous buffers of one dtype.
            if X.flags.c_contiguous and X.dtype == out.dtype:
                row_kernel("dense_rows", out.dtype, kind)(X, W, b, out, parts)
                return out
            return dense(X, W, b, kind, out)

        return row_parallel_layer

    def dense(self, X, W, b, kind, out):
        if kind not in _KINDS:
            return super().dense(X, W, b, kind, out)  # raises the unknown-activation error
        work = X.shape[0] * W.size
        if work <= SMALL_LAYER:
            self._small_dense(X, W, b, _KINDS[kind], out)
        elif parts := self.rows.parts(X.shape[0], work, X, W, b, out):
            self.rows.kernel("dense_rows", out.dtype, kind)(X, W, b, out, parts)
        else:
            self.product(X, W.T, out)
            self._kernels(out).bias_activation[kind](out, b, out)
        return out

    def hidden_delta(self, delta, W, H, kind, out):
        if kind in _KINDS and (parts := self.rows.parts(delta.shape[0], delta.shape[0] * W.size, delta, W, H, out)):
            self.rows.kernel("hidden_delta_rows", out.dtype)(delta, W, H, _KINDS[kind], out, parts)
            return out
        if kind != "sigmoid" or not (H.flags.c_contiguous and out.flags.c_contiguous):
            return super().hidden_delta(delta, W, H, kind, out)
        self.product(delta, W, out)
        self._kernels(out).sigmoid_backward(H, out, out)
        return out

    def backward_step(self, delta, W, H, kind, dW, db, out):
        m = delta.shape[0]
        # Both products have m * dW.size multiply-adds.
        if kind in _KINDS and (parts := self.rows.parts(m, 2 * m * dW.size, delta, W, H, dW, db, out)):
            self.rows.kernel("backward_step_rows", out.dtype)(delta, W, H, _KINDS[kind], dW, db, out, parts)
            return out
        return super().backward_step(delta, W, H, kind, dW, db, out)

    def weight_grads(self, delta, H, dW, db):
        m = delta.shape[0]
        if parts := self.rows.parts(m, m * dW.size, delta, H, dW, db):
            self.rows.kernel("weight_grads_rows", dW.dtype)(delta, H, dW, db, parts)
        else:
            super().weight_grads(delta, H, dW, db)

    def weight_product(self, delta, H, dW):
        # Where the base class sums small-matrix chunks, those win (33 vs 43 us with
        # the operands swapped, 1078 x 30 x 64 float32; 66 vs 87 us float64).
        if not self._blas_small_matrix_path and transposed_weight_grad_is_faster(*H.shape, delta.shape[1]):
            # The same product with its operands swapped, then a transposed copy of a
            # small result (dW is n_out x n_in; a few thousand elements).
            dW_T = numpy.empty((H.shape[1], delta.shape[1]), dW.dtype)
            self.product(H.T, delta, dW_T)
            numpy.copyto(dW, dW_T.T)
        else:
            super().weight_product(delta, H, dW)
        return dW

    def mse_cost_and_delta(self, kind, H, Y, scale, out):
        if kind != "sigmoid":
            return super().mse_cost_and_delta(kind, H, Y, scale, out)
        total = self._kernels(out).mse_sigmoid_cost_delta(H, Y, H.dtype.type(scale), out)
        return H.dtype.type(0.5 * total / H.shape[0])

    def cross_entropy_cost_and_delta(self, H, Y, binary, scale, out):
        if binary:
            return super().cross_entropy_cost_and_delta(H, Y, binary, scale, out)
        total = self._kernels(out).cross_entropy_cost_delta(H, Y, H.dtype.type(scale), out)
        return H.dtype.type(total / H.shape[0])


class _Kernels:
    """The fused kernels compiled for one dtype."""


def _compile_kernels(numba, names, suffix):
    """Compile :mod:`fused_kernels` with its global ``names`` replaced (see ``FLOAT32``).

    ``suffix`` gives each precision's copies their own Numba cache entries.
    """
    from . import numba_bits  # imports numba: only here, never at ``import fastnet``

    def jit(fn, fastmath=FASTMATH, **callees):
        copy = _rebound(fn, suffix, **names, **callees)
        return numba.njit(cache=True, fastmath=fastmath, error_model=ERROR_MODEL)(copy)

    polynomial = jit(fk.exp_polynomial_float32 if names else fk.exp_polynomial)
    exp_of = jit(fk.exp_of, exp_polynomial=polynomial,
                 int_bits=numba_bits.int_bits, float_of_bits=numba_bits.float_of_bits)
    same_buffer = jit(fk.same_buffer)
    k = _Kernels()
    k.exp_inplace = jit(fk.exp_inplace, exp_of=exp_of)  # the exp alone, for its tests
    k.bias_activation = {
        "sigmoid": jit(fk.bias_sigmoid, exp_of=exp_of, same_buffer=same_buffer),
        "softmax": jit(fk.bias_softmax, exp_of=exp_of),
        "relu": jit(fk.bias_relu, same_buffer=same_buffer),
        "tanh": jit(fk.bias_tanh),
        "identity": jit(fk.bias_identity),
    }
    k.mse_sigmoid_cost_delta = jit(fk.mse_sigmoid_cost_delta, fastmath=REDUCTION_FASTMATH)
    k.cross_entropy_cost_delta = jit(fk.cross_entropy_cost_delta)
    k.sigmoid_backward = jit(fk.sigmoid_backward, same_buffer=same_buffer)
    return k
