"""Numba kernels of the ``fused`` backend: one pass over memory per layer step.

NumPy evaluates ``1 / (1 + exp(-(z + b)))`` as four separate passes, and on a CPU
without AVX-512 its float64 ``exp`` is a scalar libm call per element (~6 ns).
These kernels fuse each elementwise step into one loop, and compute ``exp`` with
an exp written so that LLVM can vectorise it (AVX2: four doubles at a time):

* range reduction  x = k ln2 + r,  |r| <= ln2 / 2, in two parts (Cody-Waite),
* exp(r) by its Taylor series to r**13 (truncation below 5e-18 relative),
* 2**k by writing k into the exponent bits of a double, in registers (the bit
  reinterpretation is a Numba intrinsic when compiled, see ``int_bits``).

float32 runs the same source with float32 constants bound in (``FLOAT32``): eight
lanes at a time, a Taylor series to r**7, results within 2 float32 ulp.

The "shifter" 1.5 * 2**52 rounds x log2(e) to the nearest integer k and leaves k in
the low bits of the sum, so no float-to-int conversion (which AVX2 lacks for
64-bit integers) is needed. That trick relies on ``(t + S) - S`` being computed as
written, so these kernels are compiled with ``fastmath`` limited to ``contract``
(fused multiply-add), never ``reassoc``, which would simplify the trick away.

The whole exp is one scalar function, ``exp_of``, that Numba inlines: a loop that
calls it is vectorised as it stands, with no scratch array and no second pass.

Each kernel is plain Python over NumPy arrays and runs uncompiled too (the tests
check both against NumPy); :class:`fastnet.backends.fused_ops.FusedOps` compiles them.
"""

import math

import numpy as np

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
SHIFTER = 6755399441055744.0  # 1.5 * 2**52
SHIFTER_BITS = 0x4338000000000000  # its IEEE-754 bit pattern
EXP_LIMIT = 708.0  # |x| clamped here: 2**k stays a normal double; sigmoid/softmax saturate anyway
TINY = float(np.finfo(np.float64).tiny)  # probabilities are clipped here before a log

# a_n = 1/n!, n = 0..13: the Taylor coefficients of exp(r).
A0, A1, A2, A3, A4, A5, A6, A7 = 1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040
A8, A9, A10, A11, A12, A13 = 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800

# The element type, written as names so that one source serves both precisions:
# these are float64's, and FLOAT32 below holds the float32 replacements that
# FusedOps binds into a second compiled copy (Numba freezes globals as constants,
# and a Python float literal would turn float32 arithmetic into float64).
FLOAT, INT = np.float64, np.int64
ZERO, ONE, INF = 0.0, 1.0, np.inf
EXPONENT_BIAS, MANTISSA_BITS = 1023, 52


def exp_polynomial(r):
    """exp(r) for |r| <= ln2 / 2, by its Taylor series to r**13 (truncation below 5e-18 relative).

    Estrin's scheme, not Horner's: pairs evaluated independently, then combined
    with r^2, r^4, r^8. The dependency chain is 5 steps instead of 13, and that
    chain's latency, not arithmetic, is what bounds the loops that call this.
    """
    r2 = r * r
    r4 = r2 * r2
    q0 = (A0 + A1 * r) + (A2 + A3 * r) * r2
    q1 = (A4 + A5 * r) + (A6 + A7 * r) * r2
    q2 = (A8 + A9 * r) + (A10 + A11 * r) * r2
    q3 = A12 + A13 * r
    return (q0 + q1 * r4) + (q2 + q3 * r4) * (r4 * r4)


# float32: 1/n! to n = 7 (truncation below 6e-9, under half a float32 ulp), the
# shifter 1.5 * 2**23, and ln 2 split so that k * LN2_HI is exact for |k| < 2**15.
B0, B1, B2, B3, B4, B5, B6, B7 = (np.float32(1.0 / math.factorial(n)) for n in range(8))


def exp_polynomial_float32(r):
    """exp(r) for |r| <= ln2 / 2 in float32, by its Taylor series to r**7 (Estrin's scheme)."""
    r2 = r * r
    return ((B0 + B1 * r) + (B2 + B3 * r) * r2) + ((B4 + B5 * r) + (B6 + B7 * r) * r2) * (r2 * r2)


FLOAT32 = {
    "FLOAT": np.float32,
    "INT": np.int32,
    "ZERO": np.float32(0.0),
    "ONE": np.float32(1.0),
    "INF": np.float32(np.inf),
    "LOG2E": np.float32(LOG2E),
    "LN2_HI": np.float32(0.693359375),
    "LN2_LO": np.float32(-2.12194440e-4),
    "SHIFTER": np.float32(12582912.0),  # 1.5 * 2**23
    "SHIFTER_BITS": np.int32(0x4B400000),
    "EXPONENT_BIAS": np.int32(127),
    "MANTISSA_BITS": np.int32(23),
    "EXP_LIMIT": np.float32(87.0),  # 2**k stays a normal float32: exp(+-87) = 6e37, 1.6e-38
    "TINY": np.finfo(np.float32).tiny,
}


def int_bits(x):
    """The IEEE-754 bit pattern of a NumPy float scalar, as the integer of its width.

    Plain Python, for running these kernels uncompiled; FusedOps compiles them with
    the Numba intrinsic of :mod:`fastnet.backends.numba_bits` in its place.
    """
    x = np.asarray(x)
    return x.view(np.int64 if x.itemsize == 8 else np.int32)[()]


def float_of_bits(i):
    """The float whose IEEE-754 bit pattern is the NumPy integer scalar ``i`` (see int_bits)."""
    i = np.asarray(i)
    return i.view(np.float64 if i.itemsize == 8 else np.float32)[()]


def exp_of(v):
    """exp(v) for one FLOAT, computed so that a loop of calls vectorises.

    NaN stays NaN; |v| beyond EXP_LIMIT is clamped (float64: 708, where
    exp(+-708) = 3e307, 3e-308). 2**k is built from the shifted sum's own bits:
    they hold SHIFTER_BITS + k, so moving k + EXPONENT_BIAS into the exponent field
    gives the float 2**k without a float-to-integer conversion.
    """
    v = EXP_LIMIT if v > EXP_LIMIT else v
    v = -EXP_LIMIT if v < -EXP_LIMIT else v
    t = v * LOG2E + SHIFTER  # rounds to k + SHIFTER, k = nearest integer to v log2(e)
    k = t - SHIFTER
    r = (v - k * LN2_HI) - k * LN2_LO
    two_to_k = float_of_bits(INT((int_bits(t) - SHIFTER_BITS + EXPONENT_BIAS) << MANTISSA_BITS))
    return exp_polynomial(r) * two_to_k


def exp_inplace(a):
    """a = exp(a) for a contiguous FLOAT array of any shape (the vectorised exp alone)."""
    flat = a.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = exp_of(flat[i])


def same_buffer(a, b):
    """Whether two arrays start at the same address: a kernel called in place.

    LLVM vectorises a loop that reads one array and writes another only behind a
    run-time check that the two do not overlap, and an in-place call (how the
    network calls every layer) fails it and runs the scalar fallback: 1078 x 30
    float32, bias added in place 10.7 us, into another array 5.0 us. Kernels that
    may be called in place test this first and then loop over ``out`` alone.
    """
    return a.ctypes.data == b.ctypes.data


def bias_sigmoid(Z, b, out):
    """out = 1 / (1 + exp(-(Z + b))), row-broadcast bias; out may alias Z."""
    m, n = Z.shape
    # Two passes: the bias in rows, then the exp and the division over the
    # flattened matrix, in long vectorised runs (a row is a few tens of values).
    if same_buffer(Z, out):
        for i in range(m):
            for j in range(n):
                out[i, j] = -(out[i, j] + b[j])
    else:
        for i in range(m):
            for j in range(n):
                out[i, j] = -(Z[i, j] + b[j])
    flat = out.reshape(-1)
    for i in range(m * n):
        flat[i] = ONE / (ONE + exp_of(flat[i]))


def bias_softmax(Z, b, out):
    """out = softmax(Z + b) row by row, each row shifted by its maximum; out may alias Z.

    Three passes over the whole matrix (shift, exp, normalise) rather than all three
    per row: an output layer's rows are a handful of values, too short for the exp
    loop to vectorise, while the flattened matrix runs through it in long blocks.
    The arithmetic is the same, value for value, as one row at a time.
    """
    m, n = Z.shape
    for i in range(m):
        top = -INF
        for j in range(n):
            v = Z[i, j] + b[j]
            out[i, j] = v
            top = max(top, v)
        for j in range(n):
            out[i, j] -= top
    flat = out.reshape(-1)
    for i in range(m * n):
        flat[i] = exp_of(flat[i])
    for i in range(m):
        total = ZERO
        for j in range(n):
            total += out[i, j]
        for j in range(n):
            out[i, j] /= total


def bias_relu(Z, b, out):
    """out = max(Z + b, 0); out may alias Z."""
    m, n = Z.shape
    source = out if same_buffer(Z, out) else Z  # one array in place: see same_buffer
    for i in range(m):
        for j in range(n):
            v = source[i, j] + b[j]
            out[i, j] = v if v > ZERO else ZERO


def bias_tanh(Z, b, out):
    """out = tanh(Z + b); out may alias Z (libm's tanh: exact to an ulp, not vectorised)."""
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = np.tanh(Z[i, j] + b[j])


def bias_identity(Z, b, out):
    """out = Z + b; out may alias Z."""
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = Z[i, j] + b[j]


def mse_sigmoid_cost_delta(H, Y, scale, out):
    """out = (H - Y) * scale * H * (1 - H), the MSE's delta through a sigmoid; returns sum (H - Y)**2.

    One pass over contiguous H, Y, out, flattened so that the loop is long enough to
    vectorise; the sum is accumulated in float64 whatever the dtype.
    """
    h_flat, y_flat, out_flat = H.reshape(-1), Y.reshape(-1), out.reshape(-1)
    total = 0.0
    for i in range(h_flat.shape[0]):
        h = h_flat[i]
        d = h - y_flat[i]
        total += d * d
        out_flat[i] = d * scale * h * (ONE - h)
    return total


def cross_entropy_cost_delta(H, Y, scale, out):
    """out = (H - Y) * scale, the cross-entropy's delta through a softmax; returns -sum y log h.

    Only the entries with y != 0 need a log (one a row for one-hot targets), and
    libm's log does not vectorise, so the others add y * h instead: 0 for a finite
    h, NaN for a NaN or infinite one, which is what y log h gives there too. h is
    clipped below at the dtype's smallest normal number, as the other backends do.
    The sum is accumulated in float64 whatever the dtype. The cost is read before
    the delta is written, so out may alias H.
    """
    h_flat, y_flat, out_flat = H.reshape(-1), Y.reshape(-1), out.reshape(-1)
    total = 0.0
    for i in range(h_flat.shape[0]):
        h = h_flat[i]
        y = y_flat[i]
        total -= y * math.log(max(h, TINY)) if y != ZERO else y * h
    for i in range(h_flat.shape[0]):
        out_flat[i] = (h_flat[i] - y_flat[i]) * scale
    return total


def sigmoid_backward(H, dH, out):
    """out = dH * H * (1 - H) for C-contiguous arrays; out may alias dH.

    Flattened, so that the loop is long enough to vectorise: a layer's rows are a
    few tens of values (1078 x 30 float32: 4.2 against 7.0 us row by row).
    """
    h_flat, d_flat, out_flat = H.reshape(-1), dH.reshape(-1), out.reshape(-1)
    if same_buffer(dH, out):  # in place, as the network calls it: see same_buffer
        for i in range(h_flat.shape[0]):
            h = h_flat[i]
            out_flat[i] = out_flat[i] * h * (ONE - h)
    else:
        for i in range(h_flat.shape[0]):
            h = h_flat[i]
            out_flat[i] = d_flat[i] * h * (ONE - h)
