"""Reinterpret a float's bits as an integer and back, inside Numba-compiled code.

The fused exp builds 2**k by writing k into a float's exponent field. NumPy does
that with ``array.view``, which Numba supports only on arrays, so the kernels
used to round-trip every value through a scratch array and a second loop. These
two intrinsics are a single LLVM ``bitcast`` each (no instruction at all once the
values are in vector registers), so the whole exp stays in one loop.

:mod:`fastnet.backends.fused_kernels` calls ``int_bits`` and ``float_of_bits``
from its plain-Python source; :class:`~fastnet.backends.fused_ops.FusedOps`
rebinds those names to the intrinsics below when it compiles the kernels. This
module imports numba, so only that compile step imports it.
"""

from numba import types
from numba.extending import intrinsic

_INT_OF = {types.float64: types.int64, types.float32: types.int32}
_FLOAT_OF = {types.int64: types.float64, types.int32: types.float32}


@intrinsic
def int_bits(typingctx, x):
    """The IEEE-754 bit pattern of a float64 (float32) as an int64 (int32)."""
    if x not in _INT_OF:
        return None  # Numba then reports no matching signature for this type
    result = _INT_OF[x]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(x), codegen


@intrinsic
def float_of_bits(typingctx, i):
    """The float64 (float32) whose IEEE-754 bit pattern is the int64 (int32) ``i``."""
    if i not in _FLOAT_OF:
        return None
    result = _FLOAT_OF[i]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(i), codegen
