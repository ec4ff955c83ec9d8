"""Backends ``python`` and ``numba``: the reference's layer steps as explicit loops.

Both classes run the kernels of :mod:`fastnet.kernels.loops`, built from the
scalar maths of :mod:`fastnet.maths`; they differ only in ``compile``: the python
backend calls the functions as they are, the numba backend passes each one to
``numba.njit``. Allocation, conversion and argmax stay with NumPy (they are not
the algorithm).

The loops run on one thread. A parallel split of digits-sized layers was ~1.2x
faster on two idle cores, but beside one busy neighbour Numba's spinning threads made
the numba backend 3.5x slower than idle; on one thread it stays within 1.25x
(docs/tuning.md, "Under load").
"""

import numpy

from .. import maths
from ..kernel_cache import kernels_cached_in_user_folder, lock_cache, unique_symbols
from ..kernel_modules import kernel_module
from .reference import Ops, check_activation, loss_of

loops = kernel_module("loops")  # the loop kernels, in kernels/ at the repository's top


class LoopOps(Ops):
    """NumPy storage, loop arithmetic.

    Parameters
    ----------
    compile : callable
        Applied to each kernel function before it is called: the identity
        (interpreted) or a ``numba.njit`` (compiled).
    activations : dict
        The activation table the kernels are built from (:func:`fastnet.maths.activation_table`).
    """

    def __init__(self, compile, activations):
        self.compile = compile
        self.activations = activations
        self.losses = maths.loss_table()
        self._built = {}
        self._scratch = {}
        self.sum_rows_kernel = compile(loops.sum_rows)
        self.transpose_kernel = compile(loops.transpose)
        self.weight_grads_kernel = compile(loops.weight_grads)
        self.all_finite_kernel = compile(loops.all_finite)
        self.axpy_kernel = compile(loops.axpy)
        self.rules = maths.update_rules()

    def kernel(self, factory, *names):
        """``factory`` of :mod:`fastnet.kernels.loops` applied to the named activation (or loss and activation, or update
        rule), compiled once."""
        key = (factory, names)
        built = self._built.get(key)
        if built is None:
            if factory is loops.make_cost_and_delta:
                built = factory(self.losses[names[0]], self.activations[names[1]])
            elif factory is loops.make_update:
                built = factory(self.rules[names[0]])
            else:
                built = factory(self.activations[names[0]])
            built = self._built[key] = self.compile(built)
        return built

    def transposed(self, A, slot):
        """A, transposed into a C-contiguous buffer kept for the next call of the same shape (one per ``slot``)."""
        key = (slot, A.shape, A.dtype)
        buffer = self._scratch.get(key)
        if buffer is None:
            if len(self._scratch) >= 64:  # bound memory when many batch sizes are seen (a step of L layers uses 3L)
                self._scratch.clear()
            buffer = self._scratch[key] = numpy.empty(A.shape[::-1], A.dtype)
        self.transpose_kernel(A, buffer)
        return buffer

    def dense(self, X, W, b, kind, out):
        check_activation(kind)
        self.kernel(loops.make_dense, kind)(numpy.ascontiguousarray(X), numpy.ascontiguousarray(W), b, out)
        return out

    def dense_function(self, m, n_in, n_out, kind):
        check_activation(kind)
        kernel = self.kernel(loops.make_dense, kind)

        def loop_layer(X, W, b, out):
            kernel(numpy.ascontiguousarray(X), numpy.ascontiguousarray(W), b, out)
            return out

        return loop_layer

    # The loops read dense rows: a sparse batch is made dense, one batch at a time.
    def sparse_dense(self, X, W, b, kind, out):
        return self.dense(X.toarray(), W, b, kind, out)

    def sparse_weight_grads(self, delta, X, dW, db):
        self.weight_grads(delta, X.toarray(), dW, db)

    def hidden_delta(self, delta, W, H, kind, out):
        check_activation(kind)
        self.kernel(loops.make_hidden_delta, kind)(numpy.ascontiguousarray(delta), self.transposed(W, "W"), H, out)
        return out

    def weight_grads(self, delta, H, dW, db):
        self.weight_grads_kernel(self.transposed(delta, "delta"), self.transposed(H, "H"), dW, db)

    def sum_rows(self, A, out):
        self.sum_rows_kernel(A, out)
        return out

    def cost_and_delta(self, loss, kind, H, Y, scale, out):
        check_activation(kind)
        if not loss_of(self.losses, loss).through_activation:
            kind = "identity"  # the activation's derivative is not applied: one kernel serves every output
        t = H.dtype.type
        total = self.kernel(loops.make_cost_and_delta, loss, kind)(H, Y, t(scale), t(numpy.finfo(H.dtype).tiny), out)
        return t(total / H.shape[0])

    def all_finite(self, arrays):
        # numpy.asarray turns a cost scalar into a 0-d array, reshape(-1) into one element.
        return all(self.all_finite_kernel(numpy.asarray(a).reshape(-1)) for a in arrays)

    def axpy(self, param, grad, step):
        # Parameters are contiguous, so reshape(-1) is a view and the update lands in place.
        self.axpy_kernel(param.reshape(-1), grad.reshape(-1), param.dtype.type(step))
        return param

    def update(self, rule, param, grad, state, lr, t, settings):
        cast = param.dtype.type
        k = self.rules[rule].constants(lr, t, settings, cast)
        s1, s2 = (list(state) + [param[:0], param[:0]])[:2]  # rules with less state get empty stand-ins
        self.kernel(loops.make_update, rule)(param, grad, s1, s2, k)
        return param


class PythonOps(LoopOps):
    """Backend ``python``: the loop kernels, interpreted. The slow, readable reference."""

    name = "python"

    def __init__(self):
        super().__init__(compile=lambda fn: fn, activations=maths.activation_table())


# Flags that keep NaN and Inf meaningful (so divergence is still detected) while
# letting LLVM reorder and vectorise the inner reductions.
NUMBA_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def numba_jit(numba, **options):
    """A ``jit(fn, **more)`` that compiles with the options every compiled loop of fastnet shares.

    NumPy's error model: Python's makes every float division test for zero and raise
    ZeroDivisionError, and that branch keeps LLVM from vectorising a loop (Adam's
    update over 79 510 parameters: 433 -> 150 us float64, 406 -> 62 us float32).
    Compiled code is cached on disk, in the user's cache folder rather than the
    install (:mod:`fastnet.kernel_cache` says why and where), so only the first run
    on a machine compiles, and only where each compiled function gets a symbol name of
    its own (:func:`~fastnet.kernel_cache.unique_symbols`). Numba's cache keys on a
    kernel's source file and closure, not on these options: after changing them, delete
    that folder.
    """
    cache = unique_symbols()
    defaults = {**dict(cache=cache, fastmath=NUMBA_FASTMATH, error_model="numpy"), **options}

    def jit(fn, **more):
        """``fn`` compiled with the defaults, updated by ``more`` (e.g. ``parallel=True``)."""
        with kernels_cached_in_user_folder(numba):
            return lock_cache(numba.njit(**{**defaults, **more})(fn), numba)

    return jit


class NumbaOps(LoopOps):
    """Backend ``numba``: the same loop kernels compiled by ``numba.njit``."""

    name = "numba"
    compiles_kernels = True  # on first use: the command line times that apart from training

    def __init__(self):
        import math

        import numba  # imported here: ``import fastnet`` must not import numba

        from .. import neurons

        neurons.register_for_numba()

        # math.exp compiled overflows to inf, as NumPy's does: no guard needed.
        activations = maths.compile_for_numba(maths.activation_table(exp=math.exp))
        super().__init__(compile=numba_jit(numba), activations=activations)
        self.losses = maths.compile_for_numba(self.losses)
        self.rules = maths.compile_for_numba(self.rules)
