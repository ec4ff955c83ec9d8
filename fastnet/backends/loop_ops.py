"""Backends ``python`` and ``numba``: the ``Ops`` primitives as explicit loops.

Both classes run the same kernels from :mod:`fastnet.backends.loop_kernels`; they
differ only in whether those functions are interpreted or compiled by Numba.
Allocation, conversion and argmax stay with NumPy (they are not the algorithm).
"""

import types

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
    "dense",
    "weight_grads",
    "hidden_delta",
    "affine",
    "matmul",
    "activate",
    "activation_backward",
    "scaled_difference",
    "mse_cost",
    "cross_entropy_cost",
    "sum_rows",
    "all_finite",
    "axpy",
    "momentum_update",
    "adam_update",
)


def _kind(name):
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None


class LoopOps(Ops):
    """NumPy storage, loop arithmetic. ``kernels`` maps kernel names to callables."""

    # Every product is a loop here, never BLAS's (see Ops.weight_product).
    _blas_small_matrix_path = False

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

    def all_finite(self, arrays):
        # numpy.asarray turns a cost scalar into a 0-d array, reshape(-1) into one element.
        return all(self.k.all_finite(numpy.asarray(a).reshape(-1)) for a in arrays)

    def axpy(self, param, grad, step):
        # Parameters are contiguous, so reshape(-1) is a view and the update lands in place.
        self.k.axpy(param.reshape(-1), grad.reshape(-1), param.dtype.type(step))
        return param

    def momentum_update(self, param, grad, velocity, lr, mu):
        t = param.dtype.type
        self.k.momentum_update(param.reshape(-1), grad.reshape(-1), velocity.reshape(-1), t(lr), t(mu))
        return param

    def adam_update(self, param, grad, m1, m2, lr, beta1, beta2, eps, c1, c2):
        t = param.dtype.type
        self.k.adam_update(param.reshape(-1), grad.reshape(-1), m1.reshape(-1), m2.reshape(-1),
                           t(lr), t(beta1), t(beta2), t(eps), t(c1), t(c2))
        return param

    def dense(self, X, W, b, kind, out):
        self.k.dense(X, W, b, _kind(kind), out)
        return out

    def weight_grads(self, delta, H, dW, db):
        self.k.weight_grads(delta, H, dW, db)

    def hidden_delta(self, delta, W, H, kind, out):
        self.k.hidden_delta(delta, W, H, _kind(kind), out)
        return out

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


# Kernels with a ``prange`` row loop, and the multiply-adds below which a
# single thread beats a parallel launch (measured: launching costs a few us).
PARALLEL_MIN_WORK = 200_000

# Multiply-adds of each row-parallel kernel, from its first two arguments.
PARALLEL_KERNELS = {
    "dense": lambda X, W: X.shape[0] * X.shape[1] * W.shape[0],
    "weight_grads": lambda delta, H: delta.shape[0] * delta.shape[1] * H.shape[1],
    "hidden_delta": lambda delta, W: delta.shape[0] * delta.shape[1] * W.shape[1],
}


def _rebound(fn, suffix="", **names):
    """A copy of kernel ``fn`` whose global ``names`` are replaced, e.g. prange -> numba.prange.

    The source module is left alone, so the python backend keeps the plain functions.
    ``suffix`` gives the copy its own qualified name, hence its own Numba cache entry.
    """
    glb = dict(fn.__globals__)
    glb.update(names)
    copy = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__module__ = fn.__module__
    return copy


class _SizeDispatch:
    """Calls the parallel build of a kernel for big inputs, the serial one for small."""

    def __init__(self, serial, parallel, work):
        self.serial = serial
        self.parallel = parallel
        self.work = work

    def __call__(self, A, B, *rest):
        kernel = self.parallel if self.work(A, B) >= PARALLEL_MIN_WORK else self.serial
        return kernel(A, B, *rest)


class NumbaOps(LoopOps):
    """Backend ``numba``: the same loop kernels compiled by ``numba.njit``.

    Compiled code is cached on disk (``cache=True``), so only the first run on a
    machine pays the compile time. ``fastmath`` is limited to flags that keep
    NaN and Inf meaningful (so divergence is still detected) while letting LLVM
    reorder and vectorise the inner reductions.
    """

    name = "numba"
    compiles_kernels = True  # on first use: the command line times that apart from training

    def __init__(self):
        import numba  # imported here: ``import fastnet`` must not import numba

        flags = {"reassoc", "contract", "nsz", "arcp"}
        # NumPy's error model: Python's makes every float division test for zero and
        # raise ZeroDivisionError, and that branch keeps LLVM from vectorising a loop
        # (Adam's update over 79 510 parameters: 433 -> 150 us float64, 406 -> 62 us
        # float32). No kernel here divides by zero: by m >= 1, a softmax row's sum >= 1,
        # 1 + exp(-z) >= 1, Adam's 1 - beta1**t > 0 and sqrt(v) + eps > 0.
        jit = dict(cache=True, fastmath=flags, error_model="numpy")
        # Kernels call loop_kernels.sigmoid: compiled copies must see a jitted one.
        sigmoid = numba.njit(**jit)(loop_kernels.sigmoid)
        jitted = _Namespace()
        for kernel in KERNEL_NAMES:
            fn = getattr(loop_kernels, kernel)
            serial = numba.njit(**jit)(_rebound(fn, sigmoid=sigmoid))
            if kernel in PARALLEL_KERNELS:
                parallel_fn = _rebound(fn, "_parallel", sigmoid=sigmoid, prange=numba.prange)
                parallel = numba.njit(**jit, parallel=True)(parallel_fn)
                serial = _SizeDispatch(serial, parallel, PARALLEL_KERNELS[kernel])
            setattr(jitted, kernel, serial)
        super().__init__(jitted)
