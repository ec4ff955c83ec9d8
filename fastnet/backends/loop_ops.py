"""Backends ``python`` and ``numba``: the ``Ops`` primitives as explicit loops.

Both classes run the same kernels from :mod:`fastnet.backends.loop_kernels`; they
differ only in whether those functions are interpreted or compiled by Numba.
Allocation, conversion and argmax stay with NumPy (they are not the algorithm).
"""

import numpy

from . import loop_kernels
from .ops import ACTIVATIONS, Ops

_KINDS = {
    "identity": loop_kernels.IDENTITY,
    "sigmoid": loop_kernels.SIGMOID,
    "tanh": loop_kernels.TANH,
    "relu": loop_kernels.RELU,
    "softmax": loop_kernels.SOFTMAX,
}

KERNEL_NAMES = (
    "affine",
    "matmul",
    "activate",
    "activation_backward",
    "scaled_difference",
    "mse_cost",
    "cross_entropy_cost",
    "sum_rows",
    "axpy",
)


def _kind(name):
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None


class LoopOps(Ops):
    """NumPy storage, loop arithmetic. ``kernels`` maps kernel names to callables."""

    def __init__(self, kernels):
        self.k = kernels

    def gemm(self, A, B, out, trans_a=False, trans_b=False):
        self.k.matmul(A.T if trans_a else A, B.T if trans_b else B, out)
        return out

    def affine(self, X, W, b, out):
        self.k.affine(X, W, b, out)
        return out

    def sum_rows(self, A, out):
        self.k.sum_rows(A, out)
        return out

    def axpy(self, param, grad, step):
        # Parameters are contiguous, so reshape(-1) is a view and the update lands in place.
        self.k.axpy(param.reshape(-1), grad.reshape(-1), param.dtype.type(step))
        return param

    def activate(self, kind, Z, out):
        self.k.activate(Z, _kind(kind), out)
        return out

    def activation_backward(self, kind, H, dH, out):
        self.k.activation_backward(H, dH, _kind(kind), out)
        return out

    def scaled_difference(self, H, Y, scale, out):
        self.k.scaled_difference(H, Y, H.dtype.type(scale), out)
        return out

    def mse_cost(self, H, Y):
        return H.dtype.type(self.k.mse_cost(H, Y))

    def cross_entropy_cost(self, H, Y, binary):
        eps = float(numpy.finfo(H.dtype).tiny)
        return H.dtype.type(self.k.cross_entropy_cost(H, Y, bool(binary), eps))


class PythonOps(LoopOps):
    """Backend ``python``: the loop kernels, interpreted. The slow, readable reference."""

    name = "python"

    def __init__(self):
        super().__init__(loop_kernels)


class _Namespace:
    pass


class NumbaOps(LoopOps):
    """Backend ``numba``: the same loop kernels compiled by ``numba.njit``.

    Compiled code is cached on disk (``cache=True``), so only the first run on a
    machine pays the compile time. ``fastmath`` is limited to flags that keep
    NaN and Inf meaningful (so divergence is still detected) while letting LLVM
    reorder and vectorise the inner reductions.
    """

    name = "numba"

    def __init__(self):
        import numba  # imported here: ``import fastnet`` must not import numba

        flags = {"reassoc", "contract", "nsz", "arcp"}
        jitted = _Namespace()
        for kernel in KERNEL_NAMES:
            fn = getattr(loop_kernels, kernel)
            setattr(jitted, kernel, numba.njit(cache=True, fastmath=flags)(fn))
        super().__init__(jitted)
