"""The array layer: one set of primitives written against an array namespace ``xp``.

``Ops`` with ``xp = numpy`` is the vectorised CPU backend; ``CupyOps`` sets
``xp = cupy`` and the same code runs on the GPU. ``LoopOps`` overrides the hot
primitives with explicit loops. The network, losses and optimisers only ever call
these methods, so they never import an array library themselves.

Shapes: a batch is rows, ``X`` is ``(m, n_in)``, ``W`` is ``(n_out, n_in)``,
``b`` is ``(n_out,)``. Every primitive that produces an array writes into a
caller-owned ``out`` (preallocated once per batch size) and returns it.
"""

import contextlib
import functools

import numpy

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softmax")

# Below this many elements one call of scipy's expit beats the four in-place
# ufunc passes (per-call overhead dominates); above it NumPy's SIMD exp wins.
# Measured on the 2-core development machine: 1x100 1.1 vs 4.7 us, 1078x30
# 358 vs 240 us (float64).
SMALL_SIGMOID = 4096

# row_max runs a loop over the columns for at most this many columns and at least
# this many rows (measured on the 2-core Intel development machine; see Ops.row_max).
ROW_MAX_LOOP_COLUMNS = 16
ROW_MAX_LOOP_ROWS = 128

# Up to this many multiply-adds, numpy.dot runs a product faster than numpy.matmul.
# Both hand it to BLAS, but matmul's generalised-ufunc dispatch costs about 1 us more,
# which is a third of a one-sample layer. Measured on the 2-core development machine
# (min of 5 interleaved repeats): 1x100x100 float64 2.9 vs 3.8 us, 1x100x50 float32
# 1.7 vs 2.7 us; from digits' 1078-row products up the two are within noise, with
# matmul ahead as often as not, so larger products stay with matmul.
SMALL_PRODUCT = 65_536

# OpenBLAS's small-matrix path (AVX-512 kernel sets) takes products of at most this
# many multiply-adds; see Ops.weight_product. Only a gradient small enough to fit it
# with at least SMALL_MATRIX_MIN_ROWS rows a chunk is chunked: a 1024 x 784 one would
# be a single row a chunk (measured: a 60000-row step 9.5 s -> 2.2 min).
BLAS_SMALL_MATRIX = 1_000_000
SMALL_MATRIX_MIN_ROWS = 256


class Ops:
    """Vectorised primitives of a multilayer perceptron, for any NumPy-like ``xp``.

    Attributes
    ----------
    name : str
        Backend name, as accepted by :func:`fastnet.get_backend`.
    xp : module
        The array namespace (``numpy`` here, ``cupy`` in the GPU subclass).
    """

    name = "numpy"
    xp = numpy
    on_host = True  # arrays are NumPy arrays in host memory
    compiles_kernels = False  # True where the first use of a layer compiles (Numba, CUDA)

    # -- allocation and conversion ---------------------------------------
    def alloc(self, shape, dtype):
        """Return a zero-filled array of ``shape`` and ``dtype`` on this backend.

        Raises
        ------
        BackendMemoryError
            When the backend cannot allocate it (host RAM or GPU memory); the
            message gives the shape and size asked for.
        """
        try:
            return self.xp.zeros(shape, dtype=dtype)
        except MemoryError as exc:  # numpy's _ArrayMemoryError and cupy's OutOfMemoryError
            raise BackendMemoryError(self.name, shape, dtype, exc) from None

    def asarray(self, a, dtype=None):
        """Return ``a`` as a C-contiguous array on this backend (no copy when it already is)."""
        return self.xp.ascontiguousarray(self.xp.asarray(a, dtype=dtype))

    def to_numpy(self, a):
        """Return ``a`` as a NumPy array (a device-to-host copy on the GPU)."""
        return numpy.asarray(a)

    def is_native(self, a):
        """True when ``a`` already lives in this backend's memory."""
        return isinstance(a, self.xp.ndarray)

    def take_rows(self, A, index):
        """Return the rows ``A[index]`` as a new contiguous array (mini-batches)."""
        return A[self.asarray(index)]

    def errstate(self):
        """Context that silences overflow warnings where overflow is the intended result.

        ``exp(-z)`` for very negative z overflows to inf, and 1 / (1 + inf) = 0 is
        the exact sigmoid; NumPy would warn about it, CuPy never does.
        """
        return numpy.errstate(over="ignore")

    _expit = None

    def small_sigmoid(self):
        """A one-call, overflow-free sigmoid ufunc for small arrays (scipy's expit), or None."""
        if Ops._expit is None:
            try:
                from scipy.special import expit  # scipy comes with scikit-learn
            except ImportError:
                expit = False
            Ops._expit = expit
        return Ops._expit or None

    @functools.cached_property
    def _small_sigmoid(self):
        # small_sigmoid(), asked once per instance: activate() runs once per layer, and
        # the method call cost ~0.15 us of a one-sample layer's ~4 us.
        return self.small_sigmoid()

    # -- linear algebra --------------------------------------------------
    def product(self, A, B, out):
        """out = A @ B for 2-D A and B (transposed views are fine; no copy is made)."""
        if self.on_host and A.shape[0] * A.shape[1] * B.shape[1] <= SMALL_PRODUCT:
            return numpy.dot(A, B, out=out)
        return self.xp.matmul(A, B, out=out)

    def gemm(self, A, B, out, trans_a=False, trans_b=False):
        """out = op(A) @ op(B), where op transposes when the flag is set."""
        return self.product(A.T if trans_a else A, B.T if trans_b else B, out)

    def affine(self, X, W, b, out):
        """out = X @ W.T + b, shape ``(m, n_out)``."""
        self.product(X, W.T, out)
        out += b[None, :]  # as a row: see dense()
        return out

    def sum_rows(self, A, out):
        """out = A.sum(axis=0): the bias gradient summed over the batch.

        On the host as the product 1^T A: BLAS's matrix-vector kernel sums the
        columns of a batch 4-7x faster than NumPy's reduction along axis 0 (1078 x 30
        float64: 4.8 vs 23.1 us; 1078 x 1024: 152 vs 333 us).
        """
        if not self.on_host:
            return self.xp.sum(A, axis=0, out=out)
        return numpy.dot(self._ones(A.shape[0], A.dtype), A, out=out)

    def row_sums(self, A):
        """Each row's sum, as a column ``(m, 1)``.

        On the host as the product A 1: BLAS's matrix-vector kernel beats NumPy's
        reduction along the last axis at every shape measured (1078 x 10: 2.8 vs
        19.1 us; 60000 x 100: 0.9 vs 2.6 ms).
        """
        if not self.on_host:
            return A.sum(axis=1, keepdims=True)
        return numpy.dot(A, self._ones(A.shape[1], A.dtype))[:, None]

    def row_max(self, A):
        """Each row's maximum, as a column ``(m, 1)``; a NaN in a row gives NaN.

        NumPy's reduction along a short last axis pays per row: for many rows of a
        few columns (an output layer of a few classes) a running maximum over the
        columns is faster (1078 x 10: 10.8 vs 38.9 us; 60000 x 2: 0.04 vs 1.75 ms),
        but not for wide or short matrices (200 x 30: 14.5 vs 11.7 us).
        """
        m, n = A.shape
        if not self.on_host or n > ROW_MAX_LOOP_COLUMNS or m < ROW_MAX_LOOP_ROWS:
            return A.max(axis=1, keepdims=True)
        top = A[:, 0].copy()
        for j in range(1, n):
            numpy.maximum(top, A[:, j], out=top)
        return top[:, None]

    @functools.cached_property
    def _ones_by_length(self):
        return {}

    def _ones(self, m, dtype):
        """A cached host vector of m ones, the vector that :meth:`sum_rows` and :meth:`row_sums` multiply by."""
        cache = self._ones_by_length
        ones = cache.get((m, dtype))
        if ones is None:
            if len(cache) >= 8:  # bound memory when many batch sizes are seen
                cache.clear()
            ones = cache[(m, dtype)] = numpy.ones(m, dtype)
        return ones

    def axpy(self, param, grad, step):
        """param += step * grad, in place (the update of gradient descent)."""
        param += step * grad
        return param

    def sum_of_squares(self, A):
        """Sum of A's squared entries, a backend scalar (the L2 penalty's cost)."""
        # einsum's own loop, not BLAS's dot: a multithreaded BLAS call between the fused
        # backend's Numba parallel regions waits for cores their threads still spin on.
        return self.xp.einsum("ij,ij->", A, A)

    def copy_into(self, dst, src):
        """dst[...] = src, in place (snapshots of the parameters)."""
        dst[...] = src
        return dst

    def all_finite(self, arrays):
        """True when no array holds NaN or Inf (one reduction per array, one host sync)."""
        xp = self.xp
        # A sum is finite exactly when every term is (or the sum overflows, which at
        # ~1e308 is divergence too); a sum is cheaper than a full isfinite pass.
        with self.errstate():
            total = sum(xp.sum(a) for a in arrays)
        return bool(xp.isfinite(total))

    # -- optimiser updates (in place) --------------------------------------
    def momentum_update(self, param, grad, velocity, lr, mu):
        """velocity = mu * velocity - lr * grad; param += velocity."""
        velocity *= mu
        velocity -= lr * grad
        param += velocity
        return param

    def adam_update(self, param, grad, m1, m2, lr, beta1, beta2, eps, c1, c2):
        """Adam: m1, m2 = running moments of grad; param -= lr * (m1/c1) / (sqrt(m2/c2) + eps).

        ``c1`` and ``c2`` are the bias corrections 1 - beta1**t and 1 - beta2**t.
        """
        xp = self.xp
        m1 *= beta1
        m1 += (1.0 - beta1) * grad
        m2 *= beta2
        m2 += (1.0 - beta2) * grad * grad
        param -= lr * (m1 / c1) / (xp.sqrt(m2 / c2) + eps)
        return param

    def argmax(self, A):
        """Index of the largest entry of each row."""
        return self.xp.argmax(A, axis=1)

    # -- fused layer primitives: what the network calls. Composed here from the
    # primitives above; a backend overrides them where fusing saves passes.
    def dense(self, X, W, b, kind, out):
        """out = f(X @ W.T + b): one layer's forward pass."""
        # b added as a (1, n_out) row: with equal ndims NumPy skips a broadcast set-up
        # that costs ~0.5 us, about half of a one-sample add (measured 1.4 vs 0.8 us
        # for 1 x 100). The network's one-sample hot path is dense_function's shortcut.
        self.product(X, W.T, out)
        out += b[None, :]
        return self.activate(kind, out, out)

    def dense_function(self, m, n_in, n_out, kind):
        """Return ``f(X, W, b, out)``, the same as ``dense(X, W, b, kind, out)`` for m-row batches.

        For callers that run one layer shape many times (the network keeps one per
        layer and batch size): the size-dependent choices are made here, once.
        """
        if (type(self).dense is Ops.dense and self.on_host and kind == "sigmoid"
                and m * n_in * n_out <= SMALL_PRODUCT and m * n_out < SMALL_SIGMOID
                and self._small_sigmoid is not None):
            # dense()'s small-sigmoid case without its checks, which cost ~0.4 us of a
            # ~4 us one-sample layer. Backends that replace dense() keep theirs.
            expit, dot = self._small_sigmoid, numpy.dot

            def small_sigmoid_layer(X, W, b, out):
                dot(X, W.T, out=out)
                out += b[None, :]
                return expit(out, out=out)

            return small_sigmoid_layer
        dense = self.dense
        return lambda X, W, b, out: dense(X, W, b, kind, out)

    def weight_product(self, delta, H, dW):
        """dW = delta.T @ H: the matrix product of a layer's weight gradient, ``(n_out, n_in)``.

        Where NumPy's BLAS has a small-matrix path (OpenBLAS's AVX-512 kernels take
        products of at most ``BLAS_SMALL_MATRIX`` multiply-adds without packing), a
        long batch is summed in chunks of rows that each fit it: digits' 1078 x 30 x
        64 in three chunks, 33 against 74 us float32, 66 against 96 us float64.
        """
        m = delta.shape[0]
        fits = self._blas_small_matrix_path and dW.size * SMALL_MATRIX_MIN_ROWS <= BLAS_SMALL_MATRIX
        chunks = -(-m * dW.size // BLAS_SMALL_MATRIX) if fits else 1
        if chunks <= 1:
            return self.gemm(delta, H, dW, trans_a=True)  # (n_out, m) @ (m, n_in)
        rows = -(-m // chunks)
        numpy.dot(delta[:rows].T, H[:rows], out=dW)
        part = numpy.empty_like(dW)
        for start in range(rows, m, rows):
            numpy.dot(delta[start:start + rows].T, H[start:start + rows], out=part)
            dW += part
        return dW

    @functools.cached_property
    def _blas_small_matrix_path(self):
        if not self.on_host:
            return False
        from ..machine import blas_small_matrix_path, numpy_blas_pool

        pool = numpy_blas_pool()
        return pool is not None and blas_small_matrix_path(pool)

    def weight_grads(self, delta, H, dW, db):
        """dW = delta.T @ H and db = delta summed over rows: one layer's parameter gradient."""
        self.weight_product(delta, H, dW)
        self.sum_rows(delta, db)

    def hidden_delta(self, delta, W, H, kind, out):
        """out = (delta @ W) * f'(z), f' from the stored H = f(z): backprop through one layer."""
        self.gemm(delta, W, out)  # (m, n_out) @ (n_out, n_in)
        return self.activation_backward(kind, H, out, out)

    def backward_step(self, delta, W, H, kind, dW, db, out):
        """A layer above the first: its parameter gradient, then the delta one layer down.

        ``weight_grads(delta, H, dW, db)`` followed by ``hidden_delta(delta, W, H,
        kind, out)``; returns ``out``. One call, so that a backend can do both with
        one pass over each block of rows (both read the same delta and H).
        """
        self.weight_grads(delta, H, dW, db)
        return self.hidden_delta(delta, W, H, kind, out)

    # -- activations (forward from z, backward from the stored h = f(z)) --
    def activate(self, kind, Z, out):
        """out = f(Z) for the activation named ``kind``; out may alias Z."""
        xp = self.xp
        if kind == "sigmoid" and Z.size < SMALL_SIGMOID and self._small_sigmoid is not None:
            self._small_sigmoid(Z, out=out)
        elif kind == "sigmoid":
            # 1 / (1 + exp(-z)) computed in place: four passes, no temporaries.
            xp.negative(Z, out=out)
            with self.errstate():
                xp.exp(out, out=out)
            out += 1.0
            xp.reciprocal(out, out=out)
        elif kind == "tanh":
            xp.tanh(Z, out=out)
        elif kind == "relu":
            xp.maximum(Z, 0.0, out=out)
        elif kind == "softmax":
            # Shift each row by its maximum: exp then never overflows.
            xp.subtract(Z, self.row_max(Z), out=out)
            xp.exp(out, out=out)
            out /= self.row_sums(out)
        elif kind == "identity":
            if out is not Z:
                out[...] = Z
        else:
            raise ValueError(f"unknown activation {kind!r}; valid: {', '.join(ACTIVATIONS)}")
        return out

    def activation_backward(self, kind, H, dH, out):
        """out = dH * f'(z), with f'(z) computed from H = f(z); out may alias dH."""
        xp = self.xp
        if kind == "sigmoid":
            xp.multiply(dH, H * (1.0 - H), out=out)
        elif kind == "tanh":
            xp.multiply(dH, 1.0 - H * H, out=out)
        elif kind == "relu":
            xp.multiply(dH, H > 0, out=out)
        elif kind == "softmax":
            dot = self.row_sums(dH * H)
            xp.subtract(dH, dot, out=out)
            out *= H
        elif kind == "identity":
            if out is not dH:
                out[...] = dH
        else:
            raise ValueError(f"unknown activation {kind!r}; valid: {', '.join(ACTIVATIONS)}")
        return out

    # -- losses ----------------------------------------------------------
    def scaled_difference(self, H, Y, scale, out):
        """out = (H - Y) * scale; out may alias H."""
        self.xp.subtract(H, Y, out=out)
        out *= scale
        return out

    def mse_delta(self, kind, H, Y, scale, out):
        """out = (H - Y) * scale * f'(z): the MSE's error signal through output activation ``kind``."""
        self.scaled_difference(H, Y, scale, out)
        return self.activation_backward(kind, H, out, out)

    def mse_cost_and_delta(self, kind, H, Y, scale, out):
        """:meth:`mse_cost` of H, Y, returned, and :meth:`mse_delta` written into ``out``."""
        cost = self.mse_cost(H, Y)
        self.mse_delta(kind, H, Y, scale, out)
        return cost

    def mse_cost(self, H, Y):
        """Mean over rows of 1/2 ||y - h||^2, as a 0-d array on this backend."""
        d = H - Y
        return 0.5 * self.xp.sum(d * d) / H.shape[0]

    def cross_entropy_cost_and_delta(self, H, Y, binary, scale, out):
        """:meth:`cross_entropy_cost` of H, Y, returned, and (H - Y) * scale written into ``out``.

        After the softmax (or, ``binary``, the sigmoid) that the cross-entropy follows,
        the loss's and the activation's derivatives cancel to H - Y.
        """
        cost = self.cross_entropy_cost(H, Y, binary)
        self.scaled_difference(H, Y, scale, out)
        return cost

    def cross_entropy_cost(self, H, Y, binary):
        """Mean over rows of -sum y log h (binary: plus (1 - y) log(1 - h)).

        Probabilities are clipped below at the dtype's smallest normal number, so
        a saturated output gives a large finite cost, never inf or nan.
        """
        xp = self.xp
        eps = numpy.finfo(H.dtype).tiny
        total = -xp.sum(Y * xp.log(xp.maximum(H, eps)))
        if binary:
            total -= xp.sum((1.0 - Y) * xp.log(xp.maximum(1.0 - H, eps)))
        return total / H.shape[0]


class BackendMemoryError(MemoryError):
    """An allocation failed on a backend; says what was asked for and what to try.

    Attributes
    ----------
    backend : str
    shape : tuple of int
        The array that could not be allocated or, with ``batch=True``, the batch
        being worked on when the array library ran out of memory for a temporary
        of its own.
    nbytes : int
        The size of ``shape`` in bytes.
    """

    def __init__(self, backend, shape, dtype, cause=None, batch=False):
        self.backend = backend
        self.shape = tuple(int(n) for n in numpy.atleast_1d(shape))
        self.nbytes = int(numpy.prod(self.shape, dtype=numpy.float64) * numpy.dtype(dtype).itemsize)
        where = "GPU memory" if backend == "cupy" else "memory"
        what = "while training on batches of shape" if batch else "could not allocate an array of shape"
        super().__init__(
            f"out of {where} on backend {backend!r}: {what} "
            f"{self.shape} ({numpy.dtype(dtype).name}, {self.nbytes / 2**20:,.1f} MiB). "
            f"Try a smaller batch_size, dtype='float32', or smaller layers. ({cause})"
        )


class NullErrstate:
    """Mixin for backends whose arrays never warn (CuPy): errstate is a no-op."""

    def errstate(self):
        return contextlib.nullcontext()
