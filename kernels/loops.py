"""Explicit-loop kernels: the tutorial's loops over samples and neurons, one source for two backends.

The ``python`` backend calls these functions as they are, interpreted, one element
at a time; the ``numba`` backend passes the very same functions to ``numba.njit``.
So the code stays inside what Numba compiles: loops, scalars, ``math`` and array
indexing.

A kernel that applies an activation or a loss is made by a factory that takes the
scalar functions of :mod:`fastnet.maths` as arguments (``make_dense(activation)``),
so the source says what each kernel calls. Compiled, Numba inlines those functions.

Sums accumulate in the arrays' own type, as BLAS does for the vectorised backends
(float32 sums in float32), so the loops and the reference round alike. The
per-neuron sums are :mod:`fastnet.neurons`' functions. No kernel divides by zero (a
softmax row sums to at least 1, m >= 1, Adam's bias corrections and sqrt(v) + eps are
positive), so the numba backend compiles them with NumPy's error model, which lets
loops with a division vectorise.

Conventions: a batch is rows, ``X`` has shape ``(m, n_in)``, a weight matrix has
shape ``(n_out, n_in)``; every kernel writes into a caller-owned ``out`` buffer,
which may alias an input where the docstring says so.
"""

import math

from fastnet.neurons import bias_gradient, neuron_input, weight_gradient
from fastnet.neurons import hidden_delta as hidden_delta_of


def make_dense(activation):
    """A kernel ``dense(X, W, b, out)``: out = f(X @ W.T + b), one layer's forward pass.

    ``activation`` is a :class:`fastnet.maths.Activation`. X, W and out are C-contiguous.
    """
    forward, rowwise, rows = activation.forward, activation.rowwise, activation.rows

    def dense(X, W, b, out):
        m, n_in = X.shape
        n_out = W.shape[0]
        x, w, flat = X.reshape(-1), W.reshape(-1), out.reshape(-1)
        zero = type(b[0])(0)
        for i in range(m):
            for j in range(n_out):  # the tutorial's z = W.h + b, a neuron at a time
                out[i, j] = neuron_input(w, j * n_in, x, i * n_in, n_in, b[j], zero)
            if rowwise:  # the softmax of the row: maths' row pass
                rows(flat, i * n_out, 1, n_out, n_out)
            else:
                for j in range(n_out):
                    out[i, j] = forward(out[i, j])

    return dense


def make_hidden_delta(activation):
    """A kernel ``hidden_delta(delta, Wt, H, out)``: out = (delta @ W) * f'(z), f' from the stored H.

    delta is (m, n_out); ``Wt`` is W transposed, (n_in, n_out) and C-contiguous, so that
    a hidden neuron's column of weights is a contiguous row; H and out are (m, n_in):
    the error signal one layer down, from the layer above's.
    """
    grad, rowwise = activation.grad, activation.rowwise

    def hidden_delta(delta, Wt, H, out):
        m, n_out = delta.shape
        n_in = Wt.shape[0]
        d, w = delta.reshape(-1), Wt.reshape(-1)
        zero, one = type(Wt[0, 0])(0), type(Wt[0, 0])(1)
        for i in range(m):
            if rowwise:  # f'(h) (g - sum_k g_k h_k): the whole row's g first, each with a slope of one
                shift = zero
                for k in range(n_in):
                    out[i, k] = hidden_delta_of(one, w, k * n_out, 1, d, i * n_out, n_out, zero)
                    shift += out[i, k] * H[i, k]
                for k in range(n_in):
                    out[i, k] = grad(H[i, k]) * (out[i, k] - shift)
            else:
                for k in range(n_in):
                    out[i, k] = hidden_delta_of(grad(H[i, k]), w, k * n_out, 1, d, i * n_out, n_out, zero)

    return hidden_delta


def make_cost_and_delta(loss, activation):
    """A kernel ``cost_and_delta(H, Y, scale, floor, out) -> total``: a loss and its output delta.

    Writes ``delta(h, y) * scale`` into out, times the output activation's f'(h)
    when the loss goes through it, and returns the summed cost (the caller takes
    the mean). Costs are read before out is written, so out may alias H.
    """
    cost, delta, through = loss.cost, loss.delta, loss.through_activation
    grad, rowwise = activation.grad, activation.rowwise

    def cost_and_delta(H, Y, scale, floor, out):
        m, n = H.shape
        total = 0.0
        for i in range(m):
            for j in range(n):
                total += cost(H[i, j], Y[i, j], floor)
            shift = 0.0
            if through and rowwise:
                for j in range(n):
                    shift += delta(H[i, j], Y[i, j]) * H[i, j]
            for j in range(n):
                d = delta(H[i, j], Y[i, j]) * scale
                out[i, j] = grad(H[i, j]) * (d - shift * scale) if through else d
        return total

    return cost_and_delta


def weight_grads(delta_t, H_t, dW, db):
    """dW = delta.T @ H and db = delta summed over rows, an entry at a time.

    ``delta_t`` (n_out, m) and ``H_t`` (n_in, m) are delta and H transposed and
    C-contiguous, so that each entry's sum over the batch's rows runs along two
    contiguous rows and vectorises.
    """
    n_out, m = delta_t.shape
    n_in = H_t.shape[0]
    d, h = delta_t.reshape(-1), H_t.reshape(-1)
    zero = type(dW[0, 0])(0)
    for j in range(n_out):
        for k in range(n_in):
            dW[j, k] = weight_gradient(d, j * m, 1, h, k * m, 1, m, zero)
        db[j] = bias_gradient(d, j * m, 1, m, zero)


def transpose(A, out):
    """out = A.T, for a C-contiguous (n, m) ``out``: a layout, so that sums over rows run along contiguous memory.

    Compiled, this plain loop beats NumPy's ``copyto(out, A.T)`` 2.6x on a 1078 x 64
    batch (32 against 84 us).
    """
    m, n = A.shape
    for i in range(m):
        for j in range(n):
            out[j, i] = A[i, j]


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
    """param += step * grad over flat (1-D) views (the L2 penalty's gradient)."""
    for i in range(param.shape[0]):
        param[i] += step * grad[i]


def make_update(rule):
    """A kernel ``update(param, grad, s1, s2, k)``: one step of ``rule`` over flat (1-D) views, in place.

    ``rule`` is a :class:`fastnet.maths.UpdateRule` and ``k`` its constants for this
    update; each parameter is the rule's ``step``. State arrays beyond the rule's
    ``n_state`` are never read or written (pass any array of the parameters' type).
    """
    step = rule.step

    def update_params(param, grad, s1, s2, k):
        for i in range(param.shape[0]):
            step(param, grad[i], s1, s2, i, param, s1, s2, k)

    return update_params
