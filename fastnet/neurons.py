"""Backpropagation a neuron at a time: the arithmetic of the looped variant, written once.

Three sums make a dense layer's forward and backward passes, and each is one
function here, over flat arrays addressed by a start and a stride, so that one source
serves every memory layout that loops over neurons:

* the ``python`` and ``numba`` backends' loop kernels (:mod:`fastnet.kernels.loops`),
  on rows of NumPy matrices;
* the GPU's tile kernel (:mod:`fastnet.kernels.gpu_step`), whose threads take rows and
  neurons of a tile kept in shared memory.

Each takes the accumulator's starting value ``zero``, a zero of the arrays' type, so
that a float32 kernel sums in float32 as BLAS does and its loops vectorise twice as
wide.

The functions are registered with Numba to be inlined into the kernel that calls
them (``inline="always"``): compiled apart, a call is opaque to LLVM, and the sums
over contiguous rows no longer vectorise (a digits weight gradient took 5x longer).
Interpreted Python calls them as they are; the GPU compiles them as device functions,
which its compiler inlines.
"""

from typing import Callable, NamedTuple


def neuron_input(W, w_at, h, h_at, n, bias, zero):
    """A neuron's input for one row: ``bias + sum_j W[w_at + j] * h[h_at + j]`` over its n inputs.

    ``W[w_at:w_at + n]`` is the neuron's row of weights and ``h[h_at:h_at + n]`` the
    row's activations one layer down; the activation f is applied by the caller.
    """
    z = zero
    for j in range(n):
        z += W[w_at + j] * h[h_at + j]
    return z + bias


def hidden_delta(slope, W, w_at, w_stride, delta, d_at, n, zero):
    """A hidden neuron's delta for one row: ``slope * sum_k W[w_at + k * w_stride] * delta[d_at + k]``.

    The sum runs over the n neurons of the layer above: the hidden neuron's column of
    their weights times their deltas. ``slope`` is f'(h), which the caller computes
    from the stored output h with the activation's ``grad`` (a function passed to a
    CUDA device function does not compile). A row-wise activation needs the sum
    alone first, which is this with a slope of one (see :class:`fastnet.maths.Activation`).
    """
    g = zero
    for k in range(n):
        g += W[w_at + k * w_stride] * delta[d_at + k]
    return slope * g


def weight_gradient(delta, d_at, d_stride, h, h_at, h_stride, rows, zero):
    """One weight's gradient, ``sum_r delta_r h_r`` over ``rows`` rows of the batch.

    ``delta[d_at + r * d_stride]`` is the row's delta of the neuron the weight feeds,
    ``h[h_at + r * h_stride]`` its activation of the neuron the weight comes from.
    """
    g = zero
    for r in range(rows):
        g += delta[d_at + r * d_stride] * h[h_at + r * h_stride]
    return g


def bias_gradient(delta, d_at, d_stride, rows, zero):
    """One bias's gradient, ``sum_r delta_r``: the neuron's deltas summed over ``rows`` rows."""
    g = zero
    for r in range(rows):
        g += delta[d_at + r * d_stride]
    return g


class Neurons(NamedTuple):
    """The per-neuron functions, as one compiler made them (:data:`NEURONS` are the Python ones)."""

    neuron_input: Callable
    hidden_delta: Callable
    weight_gradient: Callable
    bias_gradient: Callable


NEURONS = Neurons(neuron_input, hidden_delta, weight_gradient, bias_gradient)


def register_for_numba():
    """Register the functions above with Numba's CPU compiler, inlined where a kernel calls them (once).

    Interpreted calls are unchanged. The GPU compiles its own device functions from
    :data:`NEURONS` (``cuda.jit(device=True)``): numba-cuda cannot type an inlined
    registered function.
    """
    from numba.extending import register_jitable

    global _registered
    if not _registered:
        for fn in NEURONS:
            register_jitable(inline="always")(fn)
        _registered = True


_registered = False
