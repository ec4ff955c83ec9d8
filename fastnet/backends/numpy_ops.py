"""Backend ``numpy``: the reference's maths, in place and with host speed-ups.

Each override computes what :class:`~fastnet.backends.reference.Ops` computes, with
no temporaries (every result goes into the caller's buffer) and, where a size rule
of :mod:`fastnet.tuning` says so, by another route: one visible condition, and the
plain route otherwise. The fused backend inherits all of this.
"""

import functools

import numpy

from ..tuning import TUNING, blas_small_matrix_path
from .reference import VECTORISED, Ops, check_activation


class NumpyOps(Ops):
    """Vectorised primitives on NumPy arrays, in place, with the size rules of :data:`fastnet.tuning.TUNING`."""

    name = "numpy"

    # -- products ----------------------------------------------------------
    def product(self, A, B, out):
        """out = A @ B for 2-D A and B (transposed views are fine; no copy is made)."""
        if A.shape[0] * A.shape[1] * B.shape[1] <= TUNING.small_product:
            return numpy.dot(A, B, out=out)  # skips matmul's ufunc dispatch (~1 us)
        return numpy.matmul(A, B, out=out)

    def weight_product(self, delta, H, dW):
        """dW = delta.T @ H, ``(n_out, n_in)``: the matrix product of a layer's weight gradient.

        Where NumPy's BLAS multiplies small matrices without packing, a long batch
        is summed in chunks of rows that each fit that path: digits' 1078 x 30 x 64
        in three chunks, 33 against 74 us float32, 66 against 96 us float64.
        """
        m = delta.shape[0]
        limit = TUNING.blas_small_matrix
        fits = self._blas_small_matrix_path and dW.size * TUNING.small_matrix_min_rows <= limit
        chunks = -(-m * dW.size // limit) if fits else 1
        if chunks <= 1:
            return self.product(delta.T, H, dW)  # (n_out, m) @ (m, n_in)
        rows = -(-m // chunks)
        numpy.dot(delta[:rows].T, H[:rows], out=dW)
        part = numpy.empty_like(dW)
        for start in range(rows, m, rows):
            numpy.dot(delta[start:start + rows].T, H[start:start + rows], out=part)
            dW += part
        return dW

    @functools.cached_property
    def _blas_small_matrix_path(self):
        from ..machine import numpy_blas_pool

        pool = numpy_blas_pool()
        return pool is not None and blas_small_matrix_path(pool)

    def sum_rows(self, A, out):
        """out = A.sum(axis=0), as the product 1^T A.

        BLAS's matrix-vector kernel sums the columns of a batch 4-7x faster than
        NumPy's reduction along axis 0 (1078 x 30 float64: 4.8 vs 23.1 us).
        """
        return numpy.dot(self._ones(A.shape[0], A.dtype), A, out=out)

    def row_sums(self, A):
        """Each row's sum, as a column ``(m, 1)``, as the product A 1 (1078 x 10: 2.8 vs 19.1 us)."""
        return numpy.dot(A, self._ones(A.shape[1], A.dtype))[:, None]

    def row_max(self, A):
        """Each row's maximum, as a column ``(m, 1)``; a NaN in a row gives NaN.

        For many rows of a few columns (an output layer of a few classes) a running
        maximum over the columns beats NumPy's reduction along the short last axis
        (1078 x 10: 10.8 vs 38.9 us), but not for wide or short matrices.
        """
        m, n = A.shape
        if n > TUNING.row_max_loop_columns or m < TUNING.row_max_loop_rows:
            return A.max(axis=1, keepdims=True)
        top = A[:, 0].copy()
        for j in range(1, n):
            numpy.maximum(top, A[:, j], out=top)
        return top[:, None]

    @functools.cached_property
    def _ones_by_length(self):
        return {}

    def _ones(self, m, dtype):
        """A cached vector of m ones, the one :meth:`sum_rows` and :meth:`row_sums` multiply by."""
        cache = self._ones_by_length
        ones = cache.get((m, dtype))
        if ones is None:
            if len(cache) >= 8:  # bound memory when many batch sizes are seen
                cache.clear()
            ones = cache[(m, dtype)] = numpy.ones(m, dtype)
        return ones

    # -- layers --------------------------------------------------------------
    def dense(self, X, W, b, kind, out):
        self.product(X, W.T, out)
        # b added as a (1, n_out) row: with equal ndims NumPy skips a broadcast set-up
        # that costs ~0.5 us, about half of a one-sample add.
        out += b[None, :]
        return self.activate(kind, out, out)

    def dense_function(self, m, n_in, n_out, kind):
        check_activation(kind)
        if (type(self).dense is NumpyOps.dense and kind == "sigmoid"
                and m * n_in * n_out <= TUNING.small_product and m * n_out <= TUNING.small_sigmoid
                and self._expit is not None):
            # dense() for a small sigmoid layer without its checks, which cost ~0.4 us
            # of a ~4 us one-sample layer. Backends that replace dense() keep theirs.
            expit, dot = self._expit, numpy.dot

            def small_sigmoid_layer(X, W, b, out):
                dot(X, W.T, out=out)
                out += b[None, :]
                return expit(out, out=out)

            return small_sigmoid_layer
        return super().dense_function(m, n_in, n_out, kind)

    @functools.cached_property
    def _expit(self):
        """SciPy's expit, a one-call overflow-free sigmoid ufunc, or None without SciPy."""
        try:
            from scipy.special import expit  # scipy comes with scikit-learn
        except ImportError:
            return None
        return expit

    def activate(self, kind, Z, out):
        if kind == "sigmoid" and Z.size <= TUNING.small_sigmoid and self._expit is not None:
            return self._expit(Z, out=out)
        if kind == "sigmoid":
            # 1 / (1 + exp(-z)) in place: four passes, no temporaries.
            numpy.negative(Z, out=out)
            with self.errstate():
                numpy.exp(out, out=out)
            out += 1.0
            return numpy.reciprocal(out, out=out)
        if kind == "tanh":
            return numpy.tanh(Z, out=out)
        if kind == "relu":
            return numpy.maximum(Z, 0.0, out=out)
        if kind == "softmax":
            numpy.subtract(Z, self.row_max(Z), out=out)
            numpy.exp(out, out=out)
            out /= self.row_sums(out)
            return out
        return super().activate(kind, Z, out)

    def activation_backward(self, kind, H, dH, out):
        if kind in VECTORISED and kind != "softmax":  # into out, no copy of the product
            return numpy.multiply(dH, VECTORISED[kind][1](numpy, H), out=out)
        if kind == "softmax":
            numpy.subtract(dH, self.row_sums(dH * H), out=out)
            out *= H
            return out
        return super().activation_backward(kind, H, dH, out)

    def weight_grads(self, delta, H, dW, db):
        self.weight_product(delta, H, dW)
        self.sum_rows(delta, db)

    def hidden_delta(self, delta, W, H, kind, out):
        self.product(delta, W, out)  # (m, n_out) @ (n_out, n_in)
        return self.activation_backward(kind, H, out, out)

    # -- updates -----------------------------------------------------------------
    def sum_of_squares(self, A):
        # einsum's own loop, not BLAS's dot: a multithreaded BLAS call between the fused
        # backend's Numba parallel regions waits for cores their threads still spin on.
        return numpy.einsum("ij,ij->", A, A)

    def all_finite(self, arrays):
        # A sum is finite exactly when every term is (or the sum overflows, which at
        # ~1e308 is divergence too), and a sum is cheaper than an isfinite pass.
        with self.errstate():
            total = sum(numpy.sum(a) for a in arrays)
        return bool(numpy.isfinite(total))
