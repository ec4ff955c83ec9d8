"""Explicit-loop kernels: the looped reference that every other backend must match.

This module is the single source of the ``python`` and ``numba`` backends. The
``python`` backend calls these functions as they are (interpreted, one element at
a time, as in the tutorial's looped feed-forward); the ``numba`` backend passes
the very same functions through ``numba.njit``. So the code here must stay inside
the subset of Python that Numba compiles: loops, scalars, ``math`` and array
indexing, no NumPy calls, no Python objects. Kernels call only ``sigmoid`` below, which the
numba backend compiles too and Numba inlines. No kernel divides by zero, which lets the
numba backend compile them with NumPy's error model (no zero test before a division, so
loops vectorise). Numba's disk cache does not key on compile options, only on this
file: change the options and this file changes with them.

Conventions: a batch is rows, ``X`` has shape ``(m, n_in)``, a weight matrix has
shape ``(n_out, n_in)``; every kernel writes into a caller-owned ``out`` buffer,
which may alias an input where the docstring says so.
"""

import math

# Loops over independent rows use ``prange``. Interpreted, it is plain ``range``;
# the numba backend recompiles these functions with ``numba.prange`` in its place
# (and ``parallel=True``), which splits those rows across the CPU cores.
prange = range

# Activation codes: integers rather than strings so that one compiled kernel
# serves every activation (Numba freezes these module globals as constants).
IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
SOFTMAX = 4


# Below this z, exp(-z) overflows float64 (and interpreted Python's math.exp raises),
# while the sigmoid itself is below 1e-307: return exactly 0.
SIGMOID_FLOOR = -709.0


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow. Branch-free for every z above -709, which
    measured twice as fast under Numba as a branch on the sign of z."""
    return 1.0 / (1.0 + math.exp(-z)) if z > SIGMOID_FLOOR else 0.0


def affine(X, W, b, out):
    """out[i, j] = sum_k X[i, k] * W[j, k] + b[j]: the tutorial's z = W.h + b per sample."""
    m, n_in = X.shape
    n_out = W.shape[0]
    for i in range(m):
        for j in range(n_out):
            acc = 0.0
            for k in range(n_in):
                acc += X[i, k] * W[j, k]
            out[i, j] = acc + b[j]


def matmul(A, B, out):
    """out = A @ B for 2-D A (m, k) and B (k, n); A or B may be transposed views."""
    m, k_dim = A.shape
    n = B.shape[1]
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for k in range(k_dim):
                acc += A[i, k] * B[k, j]
            out[i, j] = acc


def activate(Z, kind, out):
    """out = f(Z) element-wise (softmax: row-wise); out may alias Z."""
    m, n = Z.shape
    if kind == SOFTMAX:
        for i in range(m):
            z_max = Z[i, 0]
            for j in range(1, n):
                if Z[i, j] > z_max:
                    z_max = Z[i, j]
            total = 0.0
            for j in range(n):
                e = math.exp(Z[i, j] - z_max)  # shifted so exp never overflows
                out[i, j] = e
                total += e
            for j in range(n):
                out[i, j] = out[i, j] / total
        return
    for i in range(m):
        for j in range(n):
            z = Z[i, j]
            if kind == SIGMOID:
                out[i, j] = sigmoid(z)
            elif kind == TANH:
                out[i, j] = math.tanh(z)
            elif kind == RELU:
                out[i, j] = z if z > 0.0 else 0.0
            else:
                out[i, j] = z


def activation_backward(H, dH, kind, out):
    """out = dH * f'(z), with f'(z) taken from the stored activation H = f(z).

    For the sigmoid f' = h (1 - h), for tanh 1 - h^2, for relu [h > 0]; for the
    softmax the Jacobian-vector product h * (dH - sum(dH * h)). No exp is
    recomputed. out may alias dH.
    """
    m, n = H.shape
    for i in range(m):
        if kind == SOFTMAX:
            dot = 0.0
            for j in range(n):
                dot += dH[i, j] * H[i, j]
            for j in range(n):
                out[i, j] = H[i, j] * (dH[i, j] - dot)
            continue
        for j in range(n):
            h = H[i, j]
            g = dH[i, j]
            if kind == SIGMOID:
                out[i, j] = g * h * (1.0 - h)
            elif kind == TANH:
                out[i, j] = g * (1.0 - h * h)
            elif kind == RELU:
                out[i, j] = g if h > 0.0 else 0.0
            else:
                out[i, j] = g


def scaled_difference(H, Y, scale, out):
    """out = (H - Y) * scale; out may alias H."""
    m, n = H.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = (H[i, j] - Y[i, j]) * scale


def mse_cost(H, Y):
    """Mean over rows of 1/2 ||y - h||^2 (the tutorial's J)."""
    m, n = H.shape
    total = 0.0
    for i in range(m):
        for j in range(n):
            d = Y[i, j] - H[i, j]
            total += d * d
    return 0.5 * total / m


def cross_entropy_cost(H, Y, binary, eps):
    """Mean over rows of -sum y log h (binary: plus (1 - y) log(1 - h)).

    Probabilities are clipped below at ``eps`` so that a saturated output gives a
    large finite cost instead of inf or nan.
    """
    m, n = H.shape
    total = 0.0
    for i in range(m):
        for j in range(n):
            h = H[i, j]
            y = Y[i, j]
            total -= y * math.log(max(h, eps))
            if binary:
                total -= (1.0 - y) * math.log(max(1.0 - h, eps))
    return total / m


def sum_rows(A, out):
    """out[j] = sum_i A[i, j]: the bias gradient, summed over the batch."""
    m, n = A.shape
    for j in range(n):
        out[j] = 0.0
    for i in range(m):
        for j in range(n):
            out[j] += A[i, j]


def all_finite(a):
    """True when the flat (1-D) array ``a`` holds no NaN or Inf: the divergence check.

    Counts instead of returning at the first bad value, so the compiled loop has no
    early exit and vectorises; training calls it on a finite buffer almost always.
    """
    bad = 0
    for i in range(a.shape[0]):
        if not math.isfinite(a[i]):
            bad += 1
    return bad == 0


def axpy(param, grad, step):
    """param += step * grad over flat (1-D) views: the gradient-descent update."""
    for i in range(param.shape[0]):
        param[i] += step * grad[i]


def momentum_update(param, grad, velocity, lr, mu):
    """velocity = mu * velocity - lr * grad; param += velocity (flat views)."""
    for i in range(param.shape[0]):
        velocity[i] = mu * velocity[i] - lr * grad[i]
        param[i] += velocity[i]


def adam_update(param, grad, m1, m2, lr, beta1, beta2, eps, c1, c2):
    """One Adam step over flat views; ``c1``, ``c2`` are the bias corrections."""
    for i in range(param.shape[0]):
        g = grad[i]
        m1[i] = beta1 * m1[i] + (1.0 - beta1) * g
        m2[i] = beta2 * m2[i] + (1.0 - beta2) * g * g
        param[i] -= lr * (m1[i] / c1) / (math.sqrt(m2[i] / c2) + eps)


# -- fused kernels: one pass where the plain primitives would take two or three --


def dense(X, W, b, kind, out):
    """out = f(X @ W.T + b): one layer forward, affine and activation fused per row."""
    m, n_in = X.shape
    n_out = W.shape[0]
    for i in prange(m):
        for j in range(n_out):
            acc = 0.0
            for k in range(n_in):
                acc += X[i, k] * W[j, k]
            z = acc + b[j]
            if kind == SIGMOID:
                out[i, j] = sigmoid(z)
            elif kind == TANH:
                out[i, j] = math.tanh(z)
            elif kind == RELU:
                out[i, j] = z if z > 0.0 else 0.0
            else:
                out[i, j] = z
        if kind == SOFTMAX:
            z_max = out[i, 0]
            for j in range(1, n_out):
                if out[i, j] > z_max:
                    z_max = out[i, j]
            total = 0.0
            for j in range(n_out):
                e = math.exp(out[i, j] - z_max)
                out[i, j] = e
                total += e
            for j in range(n_out):
                out[i, j] = out[i, j] / total


def weight_grads(delta, H, dW, db):
    """dW = delta.T @ H and db = delta summed over rows, in one pass over delta.

    delta is (m, n_out), H is (m, n_in). Each dW row is independent, so rows are
    spread over cores; the inner loop runs along a contiguous row of H.
    """
    m, n_out = delta.shape
    n_in = H.shape[1]
    for j in prange(n_out):
        for k in range(n_in):
            dW[j, k] = 0.0
        bias = 0.0
        for i in range(m):
            d = delta[i, j]
            bias += d
            for k in range(n_in):
                dW[j, k] += d * H[i, k]
        db[j] = bias


def hidden_delta(delta, W, H, kind, out):
    """out = (delta @ W) * f'(z), f' from the stored activation H: backprop through a layer.

    delta is (m, n_out), W is (n_out, n_in), H and out are (m, n_in).
    """
    m, n_out = delta.shape
    n_in = W.shape[1]
    for i in prange(m):
        for k in range(n_in):
            out[i, k] = 0.0
        for j in range(n_out):
            d = delta[i, j]
            for k in range(n_in):
                out[i, k] += d * W[j, k]
        if kind == SOFTMAX:
            dot = 0.0
            for k in range(n_in):
                dot += out[i, k] * H[i, k]
            for k in range(n_in):
                out[i, k] = H[i, k] * (out[i, k] - dot)
            continue
        for k in range(n_in):
            h = H[i, k]
            if kind == SIGMOID:
                out[i, k] = out[i, k] * h * (1.0 - h)
            elif kind == TANH:
                out[i, k] = out[i, k] * (1.0 - h * h)
            elif kind == RELU:
                if h <= 0.0:
                    out[i, k] = 0.0
