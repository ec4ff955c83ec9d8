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
    rows: Callable = None  # a row-wise activation's pass over rows (see make_softmax_rows)


def make_softmax_rows(exp):
    """``softmax_rows(v, at, m, n, stride)``: the softmax, in place, of m rows of n values in the flat array v.

    Row r is ``v[at + r * stride : at + r * stride + n]``. Each row is shifted by its
    maximum (so ``exp`` never overflows), exponentiated and divided by its sum: the one
    softmax pass every compiled kernel calls, a row at a time on the GPU, a whole
    matrix at a time in the fused kernels. Rows that lie end to end (``stride == n``)
    are exponentiated in one flat loop, long enough to vectorise; an output layer's
    rows are a handful of values.
    """

    def softmax_rows(v, at, m, n, stride):
        for r in range(m):
            row = at + r * stride
            top = v[row]
            for j in range(1, n):
                top = max(top, v[row + j])
            for j in range(n):
                v[row + j] = v[row + j] - top
        if stride == n:
            for i in range(at, at + m * n):
                v[i] = exp(v[i])
        else:
            for r in range(m):
                for j in range(at + r * stride, at + r * stride + n):
                    v[j] = exp(v[j])
        for r in range(m):
            row = at + r * stride
            total = type(v[row])(0)
            for j in range(n):
                total += v[row + j]
            for j in range(n):
                v[row + j] = v[row + j] / total

    return softmax_rows


def activation_table(exp=exp, tanh=math.tanh):
    """The activations, by name, as scalar functions built on ``exp`` and ``tanh``.

    Parameters
    ----------
    exp : callable
        The scalar exponential the sigmoid and the softmax call.
    tanh : callable, default math.tanh
        The scalar hyperbolic tangent: the tanh activation's forward itself, so that a
        kernel calls it with no wrapper between (see :func:`jitable` on inlining).

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
        "softmax": Activation(exp, softmax_grad, rowwise=True, rows=make_softmax_rows(exp)),
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


class Penalty(NamedTuple):
    """A penalty on the weights: ``cost(w, alpha)``, one weight's share, and ``gradient(w, alpha)``, its derivative.

    The caller divides both by the batch's rows, as it does the loss (scikit-learn's
    alpha / (2 m) sum W^2). Biases are never penalised.
    """

    cost: Callable
    gradient: Callable


def penalty_table():
    """The penalties, by name: ``l2``, scikit-learn's MLP penalty (its ``alpha``)."""

    def l2_cost(w, alpha):
        return type(w)(0.5) * alpha * w * w

    def l2_gradient(w, alpha):
        return alpha * w

    return {"l2": Penalty(l2_cost, l2_gradient)}


ACTIVATIONS = tuple(activation_table())


def cross_entropy_entry(binary):
    """The loss table's cross-entropy: ``binary_cross_entropy`` after a sigmoid, ``cross_entropy`` after a softmax."""
    return "binary_cross_entropy" if binary else "cross_entropy"

_registered = set()  # each function is registered with Numba once


def jitable(fn, *, inline=False):
    """Let Numba compile and inline calls to the Python function ``fn``; returns ``fn`` unchanged.

    ``numba.extending.register_jitable`` leaves the function as it is (interpreted
    Python still calls it) and tells Numba how to compile a call to it, so a kernel
    that calls ``forward(z)`` inlines it. Each function is registered once.

    Parameters
    ----------
    fn : function
    inline : bool, default False
        Numba puts ``fn``'s code into each caller itself, rather than leaving that to
        LLVM's inliner, which declines a large function: a loop that still calls one
        is not vectorised.
    """
    if isinstance(fn, types.FunctionType) and fn not in _registered:  # math.exp and co. are native
        from numba.extending import register_jitable

        register_jitable(inline="always" if inline else "never")(fn)
        _registered.add(fn)
    return fn


def compile_for_numba(table):
    """:func:`jitable` applied to every function of an activation or loss table; returns ``table``."""
    for entry in table.values():
        for fn in entry:
            jitable(fn)
    return table


class UpdateRule(NamedTuple):
    """One optimiser: the per-parameter update as scalar functions, its state and its settings.

    ``constants(lr, t, h, cast)`` gives the update's per-update constants (a tuple):
    from the learning rate, the update's number ``t`` (1 for the first) and the
    settings ``h`` (a tuple, in the order of ``settings``), each value passed through
    ``cast`` (the parameters' scalar type). It runs once an update on the host, and
    once a thread on the GPU, where ``t`` is known only there.

    ``update(p, g, s1, s2, k)`` returns one parameter's new value and its new state
    ``(p, s1, s2)`` from its gradient ``g``, its state and the constants ``k``. A rule
    keeps ``n_state`` state values a parameter (0-2); the others are passed as zero
    and not stored.

    ``settings`` maps each setting's name to its default, in the order ``h`` takes.

    ``step(p, g, s1, s2, i, new, new_s1, new_s2, k)`` is what every kernel calls: the
    update of parameter ``i``, read from ``p``, ``s1``, ``s2`` and written to ``new``,
    ``new_s1``, ``new_s2`` (the same arrays for an update in place; the GPU's fused
    step double-buffers), returning the new value. State arrays beyond ``n_state`` are
    never touched, so any array may stand in for them.
    """

    constants: Callable
    update: Callable
    n_state: int
    settings: dict
    step: Callable


def _rule(constants, update, n_state, settings):
    """An :class:`UpdateRule`, its ``step`` made from ``update`` and ``n_state``."""

    def step(p, g, s1, s2, i, new, new_s1, new_s2, k):
        zero = type(p[i])(0)
        a = s1[i] if n_state >= 1 else zero
        b = s2[i] if n_state >= 2 else zero
        value, a, b = update(p[i], g, a, b, k)
        new[i] = value
        if n_state >= 1:
            new_s1[i] = a
        if n_state >= 2:
            new_s2[i] = b
        return value

    return UpdateRule(constants, update, n_state, settings, step)


def update_rules():
    """The optimisers' rules, by name: ``gd``, ``momentum``, ``adam``, ``rmsprop``, ``adamw``.

    The formulas are PyTorch's (``torch.optim.SGD``, ``RMSprop``, ``Adam``, ``AdamW``
    with their defaults), except momentum, which is the heavy ball of the tutorials,
    v = mu v - lr g; p += v (PyTorch's v = mu v + g; p -= lr v is the same for a fixed lr).
    """

    def gd_constants(lr, t, h, cast):
        return (cast(lr),)

    def gd(p, g, s1, s2, k):
        return p - k[0] * g, s1, s2

    def momentum_constants(lr, t, h, cast):
        return cast(lr), cast(h[0])

    def momentum(p, g, v, s2, k):
        lr, mu = k
        v = mu * v - lr * g
        return p + v, v, s2

    def adam_constants(lr, t, h, cast):
        beta1, beta2, eps = h
        # The bias corrections 1 - beta**t, in float64 whatever the parameters' type.
        return (cast(lr), cast(beta1), cast(1.0 - beta1), cast(beta2), cast(1.0 - beta2), cast(eps),
                cast(1.0 - beta1**t), cast(1.0 - beta2**t), cast(1.0))

    def adamw_constants(lr, t, h, cast):
        beta1, beta2, eps, weight_decay = h
        return (cast(lr), cast(beta1), cast(1.0 - beta1), cast(beta2), cast(1.0 - beta2), cast(eps),
                cast(1.0 - beta1**t), cast(1.0 - beta2**t), cast(1.0 - lr * weight_decay))

    def adam(p, g, m1, m2, k):
        # ``decay`` is AdamW's decoupled weight decay (biases too), 1 for Adam: the
        # parameter shrinks before the step, as torch.optim.AdamW does.
        lr, beta1, rest1, beta2, rest2, eps, c1, c2, decay = k
        m1 = beta1 * m1 + rest1 * g
        m2 = beta2 * m2 + rest2 * g * g
        return p * decay - lr * (m1 / c1) / (math.sqrt(m2 / c2) + eps), m1, m2

    def rmsprop_constants(lr, t, h, cast):
        alpha, eps = h
        return cast(lr), cast(alpha), cast(1.0 - alpha), cast(eps)

    def rmsprop(p, g, square_avg, s2, k):
        lr, alpha, rest, eps = k
        square_avg = alpha * square_avg + rest * g * g
        return p - lr * g / (math.sqrt(square_avg) + eps), square_avg, s2

    return {
        "gd": _rule(gd_constants, gd, 0, {}),
        "momentum": _rule(momentum_constants, momentum, 1, {"mu": 0.9}),
        "adam": _rule(adam_constants, adam, 2, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        "rmsprop": _rule(rmsprop_constants, rmsprop, 1, {"alpha": 0.99, "eps": 1e-8}),
        "adamw": _rule(adamw_constants, adam, 2, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}),
    }


UPDATE_RULES = tuple(update_rules())
