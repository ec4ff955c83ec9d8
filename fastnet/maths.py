"""The maths of a layer, written once: each activation beside its derivative, each loss beside its delta.

These are scalar functions, one number in and one out, so that one source serves
every backend that loops over elements:

* the ``python`` backend calls them as they are, interpreted;
* the ``numba`` backend's loops and the ``fused`` kernels compile them with Numba,
  which inlines them into each kernel (see :func:`compile_for_numba`);
* the GPU kernels compile them with ``numba.cuda`` as device functions.

The whole-array forms, for NumPy and CuPy, sit beside them in
:mod:`fastnet.backends.reference`. Adding an activation is one :class:`Activation`
here and one vectorised pair there.

A derivative takes the stored output ``h = f(z)``, never ``z``: backpropagation
keeps each layer's output, and the sigmoid's ``h (1 - h)`` needs no second exp.

Constants are made in the argument's own type (``type(z)(1)``): a bare ``1.0`` is a
float64 to Numba, and would turn a float32 kernel's arithmetic into float64.

Each table is built by a function that takes the ``exp`` it uses, because each
backend has its own: interpreted Python's must not raise on overflow, the fused
kernels bring one that vectorises, and a GPU has its own.
"""

import math
import types
from typing import Callable, NamedTuple

# Past this, math.exp raises OverflowError in interpreted Python; compiled code gives inf.
EXP_OVERFLOW = 709.78


def exp(x):
    """math.exp, but inf instead of OverflowError past float64's range (as NumPy and compiled code give)."""
    return math.exp(x) if x < EXP_OVERFLOW else math.inf


class Activation(NamedTuple):
    """One activation: ``forward(z)`` and ``grad(h)`` = f'(z) from the stored ``h = f(z)``.

    A ``rowwise`` activation (the softmax) is not elementwise: each output depends on
    its whole row. For it, ``forward`` is applied to ``z`` minus the row's maximum and
    each row is then divided by its sum; and the delta is ``grad(h) * (g - sum_j g_j h_j)``
    for the incoming gradient ``g``, in place of the elementwise ``grad(h) * g``.
    """

    forward: Callable
    grad: Callable
    rowwise: bool = False


def activation_table(exp=exp):
    """The activations, by name, as scalar functions built on ``exp``.

    Parameters
    ----------
    exp : callable
        The scalar exponential the sigmoid and the softmax call.

    Returns
    -------
    dict of str to Activation
    """

    def identity(z):
        return z

    def identity_grad(h):
        return type(h)(1)

    def sigmoid(z):
        one = type(z)(1)
        return one / (one + exp(-z))

    def sigmoid_grad(h):
        return h * (type(h)(1) - h)

    def tanh(z):
        return math.tanh(z)

    def tanh_grad(h):
        return type(h)(1) - h * h

    def relu(z):
        zero = type(z)(0)
        return z if z > zero else zero

    def relu_grad(h):
        return type(h)(1) if h > type(h)(0) else type(h)(0)

    def softmax_grad(h):
        return h  # the row's Jacobian-vector product: h * (g - sum g h)

    return {
        "identity": Activation(identity, identity_grad),
        "sigmoid": Activation(sigmoid, sigmoid_grad),
        "tanh": Activation(tanh, tanh_grad),
        "relu": Activation(relu, relu_grad),
        "softmax": Activation(exp, softmax_grad, rowwise=True),
    }


class Loss(NamedTuple):
    """One loss: ``cost(h, y, floor)`` per element, and ``delta(h, y)``, its gradient into the output layer.

    With ``through_activation`` the delta is d(cost)/dh and is multiplied by the
    output activation's derivative; without, it is already d(cost)/dz, as for the
    cross-entropy after a softmax or sigmoid, where the two derivatives cancel to
    h - y. ``floor`` is the smallest probability a log is taken of (the dtype's
    smallest normal number), so a saturated output costs a large finite amount.
    The mean over rows (1/m) is applied by the caller.
    """

    cost: Callable
    delta: Callable
    through_activation: bool


def loss_table():
    """The losses, by name, as scalar functions: {"mse", "cross_entropy", "binary_cross_entropy"}."""

    def squared_error(h, y, floor):
        d = h - y
        return type(d)(0.5) * d * d

    def difference(h, y):
        return h - y

    def cross_entropy(h, y, floor):
        # Only y != 0 needs the log (one entry a row for one-hot targets). Where y is 0
        # the term is 0 * h: 0 for a finite h, NaN for a NaN one, as y log h would be.
        return -y * math.log(max(h, floor)) if y != type(y)(0) else y * h

    def binary_cross_entropy(h, y, floor):
        one = type(h)(1)
        return -y * math.log(max(h, floor)) - (one - y) * math.log(max(one - h, floor))

    return {
        "mse": Loss(squared_error, difference, through_activation=True),
        "cross_entropy": Loss(cross_entropy, difference, through_activation=False),
        "binary_cross_entropy": Loss(binary_cross_entropy, difference, through_activation=False),
    }


ACTIVATIONS = tuple(activation_table())

_registered = set()  # each function is registered with Numba once


def jitable(fn):
    """Let Numba compile and inline calls to the Python function ``fn``; returns ``fn`` unchanged.

    ``numba.extending.register_jitable`` leaves the function as it is (interpreted
    Python still calls it) and tells Numba how to compile a call to it, so a kernel
    that calls ``forward(z)`` inlines it. Each function is registered once.
    """
    if isinstance(fn, types.FunctionType) and fn not in _registered:  # math.exp and co. are native
        from numba.extending import register_jitable

        register_jitable(fn)
        _registered.add(fn)
    return fn


def compile_for_numba(table):
    """:func:`jitable` applied to every function of an activation or loss table; returns ``table``."""
    for entry in table.values():
        for fn in entry:
            jitable(fn)
    return table
