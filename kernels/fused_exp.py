"""An exp that vectorises, for the fused kernels' sigmoid and softmax, and a tanh built on it.

Without Intel's SVML, Numba compiles ``math.exp`` to a scalar libm call (~6 ns a
float64), and a loop that calls it cannot vectorise. The exp made here is plain
arithmetic that LLVM vectorises (AVX2: four doubles at a time, AVX-512: eight):

* range reduction  x = k ln2 + r,  |r| <= ln2 / 2, in two parts (Cody-Waite);
* exp(r) by its Taylor series (float64 to r**13, truncation below 5e-18 relative;
  float32 to r**7, below half a float32 ulp), evaluated by Estrin's scheme;
* 2**k by writing k into the exponent bits of a float, in registers.

The "shifter" 1.5 * 2**52 (2**23 in float32) rounds x log2(e) to the nearest integer
k and leaves k in the low bits of the sum, so no float-to-int conversion (which AVX2
lacks for 64-bit integers) is needed. That trick needs ``(t + S) - S`` computed as
written: kernels that call this exp are compiled with ``fastmath`` limited to
``contract`` (fused multiply-add), never ``reassoc``, which would simplify it away.

``math.tanh`` is a scalar libm call too: 23.5 ns a float32 and 29 ns a float64 on an
AVX2 EPYC, where NumPy's tanh takes 2.6 ns (float32, vectorised) and 19 ns (float64), so
tanh layers were slower fused than numpy. ``make_tanh`` is arithmetic: a series (float32)
or a rational function (float64) near 0, and 1 - 2 / (exp(2|x|) + 1) beyond, within 2
ulp in either dtype.

This module imports numba: only the fused backend imports it.
"""

import math

import numpy as np
from numba import types
from numba.extending import intrinsic, register_jitable

from fastnet.maths import jitable

_INT_OF = {types.float64: types.int64, types.float32: types.int32}
_FLOAT_OF = {types.int64: types.float64, types.int32: types.float32}


@intrinsic
def _int_bits(typingctx, x):
    """The IEEE-754 bit pattern of a float64 (float32) as an int64 (int32): one LLVM bitcast."""
    if x not in _INT_OF:
        return None  # Numba then reports no matching signature for this type
    result = _INT_OF[x]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(x), codegen


@intrinsic
def _float_of_bits(typingctx, i):
    """The float64 (float32) whose IEEE-754 bit pattern is the int64 (int32) ``i``."""
    if i not in _FLOAT_OF:
        return None
    result = _FLOAT_OF[i]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(i), codegen


# The kernels call these plain functions, not the intrinsics: Numba's disk cache keys a
# kernel on its closure, pickled, and an intrinsic pickles differently in every process
# (a fresh compile each run), while a module's function pickles as its name.
@register_jitable
def int_bits(x):
    """The IEEE-754 bit pattern of a float64 (float32) as an int64 (int32)."""
    return _int_bits(x)


@register_jitable
def float_of_bits(i):
    """The float64 (float32) whose IEEE-754 bit pattern is the int64 (int32) ``i``."""
    return _float_of_bits(i)


# a_n = 1/n!, n = 0..13: the Taylor coefficients of exp(r), float64.
A0, A1, A2, A3, A4, A5, A6, A7 = (1.0 / math.factorial(n) for n in range(8))
A8, A9, A10, A11, A12, A13 = (1.0 / math.factorial(n) for n in range(8, 14))
# The same to n = 7 in float32.
B0, B1, B2, B3, B4, B5, B6, B7 = (np.float32(1.0 / math.factorial(n)) for n in range(8))


@register_jitable
def polynomial_float64(r):
    """exp(r) for |r| <= ln2 / 2, to r**13 by Estrin's scheme: pairs evaluated
    independently, then combined with r^2, r^4, r^8, a dependency chain of 5 steps
    instead of 13 (that chain's latency is what bounds the loops calling this)."""
    r2 = r * r
    r4 = r2 * r2
    q0 = (A0 + A1 * r) + (A2 + A3 * r) * r2
    q1 = (A4 + A5 * r) + (A6 + A7 * r) * r2
    q2 = (A8 + A9 * r) + (A10 + A11 * r) * r2
    q3 = A12 + A13 * r
    return (q0 + q1 * r4) + (q2 + q3 * r4) * (r4 * r4)


@register_jitable
def polynomial_float32(r):
    """exp(r) for |r| <= ln2 / 2 in float32, to r**7 by Estrin's scheme."""
    r2 = r * r
    return ((B0 + B1 * r) + (B2 + B3 * r) * r2) + ((B4 + B5 * r) + (B6 + B7 * r) * r2) * (r2 * r2)


# Per dtype: the polynomial, then the constants in that dtype (a float64 constant
# would turn float32 arithmetic into float64).
_CONSTANTS = {
    np.dtype(np.float64): (polynomial_float64, dict(
        int_type=np.int64, log2e=1.4426950408889634,
        # ln 2 split so that k * ln2_hi is exact for |k| < 2**20
        ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10,
        shifter=6755399441055744.0, shifter_bits=np.int64(0x4338000000000000),  # 1.5 * 2**52
        exponent_bias=np.int64(1023), mantissa_bits=np.int64(52),
        limit=708.0)),  # |x| clamped here: 2**k stays a normal double (exp(+-708) = 3e307, 3e-308)
    np.dtype(np.float32): (polynomial_float32, dict(
        int_type=np.int32, log2e=np.float32(1.4426950408889634),
        ln2_hi=np.float32(0.693359375), ln2_lo=np.float32(-2.12194440e-4),  # exact for |k| < 2**15
        shifter=np.float32(12582912.0), shifter_bits=np.int32(0x4B400000),  # 1.5 * 2**23
        exponent_bias=np.int32(127), mantissa_bits=np.int32(23),
        limit=np.float32(87.0))),  # exp(+-87) = 6e37, 1.6e-38: normal float32s
}


def make_exp(dtype):
    """A scalar ``exp(v)`` for ``dtype`` (float64 or float32) that Numba inlines and vectorises.

    NaN stays NaN; ``|v|`` beyond the dtype's limit is clamped, where the sigmoid
    and softmax have saturated anyway. Within 2 ulp of NumPy's exp in float64, and
    within 2 float32 ulp of the exact value in float32.
    """
    polynomial, c = _CONSTANTS[np.dtype(dtype)]
    int_type, log2e, ln2_hi, ln2_lo = c["int_type"], c["log2e"], c["ln2_hi"], c["ln2_lo"]
    shifter, shifter_bits, limit = c["shifter"], c["shifter_bits"], c["limit"]
    exponent_bias, mantissa_bits = c["exponent_bias"], c["mantissa_bits"]

    def exp(v):
        v = limit if v > limit else v
        v = -limit if v < -limit else v
        t = v * log2e + shifter  # rounds to k + shifter, k the nearest integer to v log2(e)
        k = t - shifter
        r = (v - k * ln2_hi) - k * ln2_lo
        # The sum's bits hold shifter_bits + k: moving k + bias into the exponent
        # field gives the float 2**k with no float-to-integer conversion.
        two_to_k = float_of_bits(int_type((int_bits(t) - shifter_bits + exponent_bias) << mantissa_bits))
        return polynomial(r) * two_to_k

    return jitable(exp)


# tanh(v) = copysign(tanh |v|, v), and tanh a, for a = |v|, is computed two ways:
# * below the switch of TANH_NEAR_ZERO[dtype], a + a**3 R(a**2), R approximating (tanh a - a) / a**3
#   (about -1/3): the added term is at most a fifth of the result, so its own rounding
#   errors reach the result a fifth as large;
# * from there on, 1 - 2 / (exp(2a) + 1), which subtracts a number of at most 0.5 from 1
#   and so loses at most a fraction of a bit. It goes to 1 for large a, inf included.
# Measured over +-12, normal samples and 1e-300 .. 1.2 (tests/test_fused_kernels.py
# holds both to 2 ulp): float32 at most 1.62 float32 ulp, float64 at most 1.42 ulp.
#
# float32: R is tanh's Taylor series to a**15 (C_n = 2**2n (2**2n - 1) B_2n / (2n)!, B the
# Bernoulli numbers). Up to 0.55 the first term left out (5.9e-4 a**17) is under one
# float32 ulp of tanh (0.8 at 0.55).
C1, C2, C3, C4, C5, C6, C7 = (np.float32(c) for c in (
    -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075, -929569 / 638512875))


@register_jitable
def tanh_near_zero_float32(a):
    """tanh(a) for 0 <= a < 0.55 in float32, by its Taylor series."""
    w = a * a
    return a + a * (w * (C1 + w * (C2 + w * (C3 + w * (C4 + w * (C5 + w * (C6 + w * C7)))))))


# float64: the series would need about twice the terms; R is instead the [3/4] Pade
# approximant of (tanh a - a) / a**3 in w = a**2 (P(w) / Q(w), matching its Taylor series
# to w**7; the same as a convergent of Lambert's continued fraction for tanh). Up to 0.75
# it is within 2e-19 relative of tanh (0.002 ulp).
P0, P1, P2, P3 = -1 / 3, -2 / 85, -2 / 5355, -4 / 3132675
Q1, Q2, Q3, Q4 = 8 / 17, 7 / 255, 4 / 9945, 1 / 765765


@register_jitable
def tanh_near_zero_float64(a):
    """tanh(a) for 0 <= a < 0.75 in float64, by a Pade approximant."""
    w = a * a
    return a + a * w * ((P0 + w * (P1 + w * (P2 + w * P3))) / (1.0 + w * (Q1 + w * (Q2 + w * (Q3 + w * Q4)))))


TANH_NEAR_ZERO = {np.dtype(np.float32): (tanh_near_zero_float32, np.float32(0.55)),
                  np.dtype(np.float64): (tanh_near_zero_float64, 0.75)}


def make_tanh(dtype):
    """A scalar ``tanh(v)`` for ``dtype`` (float64 or float32) in arithmetic that vectorises.

    Within 2 ulp of the exact value in either dtype; keeps NaN and the sign of zero,
    and gives +-1 for +-inf. Numba inlines it into its callers itself (see
    :func:`fastnet.maths.jitable`): LLVM's inliner finds the float64 one too large, and a
    loop that calls a function stays scalar (4.2 ns a value, against 2.3 inlined).
    """
    dtype = np.dtype(dtype)
    near_zero, below = TANH_NEAR_ZERO[dtype]
    exp = make_exp(dtype)
    one, two = dtype.type(1), dtype.type(2)

    def tanh(v):
        a = abs(v)
        beyond = one - two / (exp(a + a) + one)
        # Both forms are computed and one is picked: a select, which LLVM vectorises.
        return math.copysign(near_zero(a) if a < below else beyond, v)

    return jitable(tanh, inline=True)
