"""Backend ``fused``: NumPy's BLAS for the matrix products, Numba for everything between.

The numpy backend spends most of a small network's time outside the matrix
products: four ufunc passes (and, without AVX-512, a scalar libm ``exp``) per
sigmoid, three more per derivative, a strided reduction for each bias gradient.
This subclass keeps :class:`~fastnet.backends.ops.Ops` as it is and overrides only
those hot spots with the one-pass kernels of :mod:`fastnet.backends.fused_kernels`
(bias + activation, the output delta, the derivative product), and with the
``numba`` backend's compiled loops for the bias gradient and the cost. For a handful of rows, where BLAS's call overhead dominates, a layer
runs as one compiled loop instead (the ``numba`` backend's dense kernel).
"""

import numpy

from . import fused_kernels as fk
from .loop_ops import _rebound
from .ops import Ops

# Below this many multiply-adds a layer is one compiled loop rather than a BLAS call
# plus a kernel (measured: a 1 x 100 x 100 layer, BLAS 2.8 us + 0.5 us, loop ~1.5 us).
SMALL_LAYER = 16_384

# Never "reassoc": the exp's rounding trick needs (t + S) - S evaluated as written.
FASTMATH = {"contract"}

# Python's error model makes every float division check for zero and raise
# ZeroDivisionError, and that branch stops LLVM from vectorising the sigmoid's
# 1 / (1 + e) (measured: 95 -> 57 us per 1078 x 30 layer). NumPy's model gives
# inf instead; the kernels never divide by zero (1 + e >= 1, a softmax row sums to >= 1).
ERROR_MODEL = "numpy"


class FusedOps(Ops):
    """NumPy storage and BLAS GEMMs, with fused Numba kernels for the elementwise work.

    Results match the numpy backend to rounding (the tests hold it to 1e-10
    relative in float64); the exp used by sigmoid and softmax is within 2 ulp of
    NumPy's.
    """

    name = "fused"

    def __init__(self):
        import numba  # imported here: ``import fastnet`` must not import numba

        from . import get_backend
        from .loop_ops import _kind

        def jit(fn, **names):
            return numba.njit(cache=True, fastmath=FASTMATH, error_model=ERROR_MODEL)(_rebound(fn, **names) if names else fn)

        exp_parts = jit(fk.exp_parts)
        sigmoid_block = jit(fk.sigmoid_of_negated_block, exp_parts=exp_parts)
        exp_block = jit(fk.exp_block, exp_parts=exp_parts)
        self._bias_activation = {
            "sigmoid": jit(fk.bias_sigmoid, sigmoid_of_negated_block=sigmoid_block),
            "softmax": jit(fk.bias_softmax, exp_block=exp_block),
            "relu": jit(fk.bias_relu),
            "tanh": jit(fk.bias_tanh),
            "identity": jit(fk.bias_identity),
        }
        self._mse_sigmoid_delta = jit(fk.mse_sigmoid_delta)
        self._sigmoid_backward = jit(fk.sigmoid_backward)
        # Where the numba backend's compiled loops are already one pass, reuse them.
        loops = get_backend("numba").k
        self._column_sums = loops.sum_rows
        self._mse_cost = loops.mse_cost
        self._loop_dense = loops.dense
        self._loop_kind = _kind

    def dense(self, X, W, b, kind, out):
        if kind not in self._bias_activation:
            return super().dense(X, W, b, kind, out)  # raises the unknown-activation error
        if X.shape[0] * W.size <= SMALL_LAYER:
            self._loop_dense(X, W, b, self._loop_kind(kind), out)
        elif out.dtype == numpy.float32 and kind in ("sigmoid", "softmax"):
            # NumPy's float32 exp is SIMD already (8 lanes); the kernel's exp works in
            # float64 (4 lanes) and measured 2-3x slower here, so keep NumPy's passes.
            super().dense(X, W, b, kind, out)
        else:
            self.xp.matmul(X, W.T, out=out)
            self._bias_activation[kind](out, b, out)
        return out

    def hidden_delta(self, delta, W, H, kind, out):
        if kind != "sigmoid":
            return super().hidden_delta(delta, W, H, kind, out)
        self.xp.matmul(delta, W, out=out)
        self._sigmoid_backward(H, out, out)
        return out

    def weight_grads(self, delta, H, dW, db):
        self.xp.matmul(delta.T, H, out=dW)
        self._column_sums(delta, db)

    def sum_rows(self, A, out):
        self._column_sums(A, out)
        return out

    def mse_delta(self, kind, H, Y, scale, out):
        if kind != "sigmoid":
            return super().mse_delta(kind, H, Y, scale, out)
        self._mse_sigmoid_delta(H, Y, H.dtype.type(scale), out)
        return out

    def mse_cost(self, H, Y):
        return H.dtype.type(self._mse_cost(H, Y))
