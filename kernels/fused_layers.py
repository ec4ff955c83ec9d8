"""The fused backend's one-pass kernels: everything between two matrix products, in one loop.

NumPy evaluates ``1 / (1 + exp(-(z + b)))`` as four passes over memory, and its
float64 exp is a scalar libm call on CPUs without AVX-512. Each kernel here does one
step's elementwise work in one loop over a flattened (so long, vectorisable) array,
calling the scalar maths of :mod:`fastnet.maths` built on the vectorising exp of
:mod:`.exp`. Each is made by a factory that takes the activation or loss it applies,
so the source says what runs; :class:`~fastnet.backends.fused.FusedOps` compiles the
results, and they are plain Python until it does.
"""

from numba.extending import register_jitable

from fastnet.maths import jitable, make_softmax_rows


@jitable
def same_buffer(a, b):
    """Whether two arrays start at the same address: a kernel called in place.

    LLVM vectorises a loop that reads one array and writes another only behind a
    run-time check that the two do not overlap, and an in-place call (how the
    network calls every layer) fails it and runs the scalar fallback: 1078 x 30
    float32, bias added in place 10.7 us, into another array 5.0 us. Kernels that
    may be called in place test this first and then loop over ``out`` alone.
    """
    return a.ctypes.data == b.ctypes.data


def make_bias_activation(activation):
    """A kernel ``bias_activation(Z, b, out)``: out = f(Z + b), b added to each row; out may alias Z."""
    forward = activation.forward
    if activation.rowwise:
        return make_bias_softmax(forward)

    def bias_activation(Z, b, out):
        m, n = Z.shape
        # Two passes: the bias in rows, then f over the flattened matrix, in long
        # vectorised runs (a row is a few tens of values).
        if same_buffer(Z, out):
            for i in range(m):
                for j in range(n):
                    out[i, j] += b[j]
        else:
            for i in range(m):
                for j in range(n):
                    out[i, j] = Z[i, j] + b[j]
        flat = out.reshape(-1)
        for i in range(m * n):
            flat[i] = forward(flat[i])

    return jitable(bias_activation)


def make_bias_softmax(forward):
    """A kernel ``bias_softmax(Z, b, out)``: out = Z + b, then maths' softmax row pass over it, in place.

    The row pass is :func:`fastnet.maths.make_softmax_rows` built on ``forward`` (the
    exp), the one every compiled kernel calls; out's rows lie end to end, so it runs
    its exp over the whole flattened matrix, in long vectorised runs. This kernel makes
    its own copy of that function and registers it to be inlined: compiled apart, as a
    registered function is by default, it made 1078 x 10 take 63 us instead of 29 (47
    against 17 in float32).
    """
    softmax_rows = register_jitable(inline="always")(make_softmax_rows(forward))

    def bias_softmax(Z, b, out):
        m, n = Z.shape
        for i in range(m):
            for j in range(n):
                out[i, j] = Z[i, j] + b[j]
        softmax_rows(out.reshape(-1), 0, m, n, n)

    return jitable(bias_softmax)


def make_activation_backward(activation):
    """A kernel ``activation_backward(H, dH, out)``: out = dH * f'(z) from the stored H; out may alias dH.

    For C-contiguous arrays, flattened so that the loop is long enough to vectorise
    (1078 x 30 float32 sigmoid: 4.2 against 7.0 us row by row). Not for a row-wise
    activation: FusedOps leaves the softmax to the numpy backend's route.
    """
    grad = activation.grad
    assert not activation.rowwise

    def activation_backward(H, dH, out):
        h_flat, d_flat, out_flat = H.reshape(-1), dH.reshape(-1), out.reshape(-1)
        if same_buffer(dH, out):  # in place, as the network calls it: see same_buffer
            for i in range(h_flat.shape[0]):
                out_flat[i] = out_flat[i] * grad(h_flat[i])
        else:
            for i in range(h_flat.shape[0]):
                out_flat[i] = d_flat[i] * grad(h_flat[i])

    return jitable(activation_backward)


def make_cost_and_delta(loss, activation):
    """A kernel ``cost_and_delta(H, Y, scale, floor, out) -> total``: a loss and its output delta, one pass.

    out = delta(h, y) * scale, times f'(h) when the loss goes through the output
    activation (then not a row-wise one); returns the summed cost, accumulated in
    float64 whatever the dtype. The cost is summed before the delta is written,
    so out may alias H.
    """
    cost, delta, through, grad = loss.cost, loss.delta, loss.through_activation, activation.grad
    assert not (through and activation.rowwise)

    def cost_and_delta(H, Y, scale, floor, out):
        h_flat, y_flat, out_flat = H.reshape(-1), Y.reshape(-1), out.reshape(-1)
        total = 0.0
        for i in range(h_flat.shape[0]):  # libm's log does not vectorise: a loop of its own
            total += cost(h_flat[i], y_flat[i], floor)
        for i in range(h_flat.shape[0]):
            h = h_flat[i]
            d = delta(h, y_flat[i]) * scale
            out_flat[i] = d * grad(h) if through else d
        return total

    return jitable(cost_and_delta)
