"""The reference array layer: textbook primitives written against an array namespace ``xp``.

``Ops`` is the plain version of every operation the network calls: ``X @ W.T + b``,
the activation, the delta, one product per gradient, with no size rule and no
machine probe. It is the oracle every backend is tested against, on the CPU and
on the GPU, and the base that the numpy backend (:mod:`.numpy_ops`) and the GPU
backend (:mod:`.cupy_ops`) speed up. The network, losses and optimisers only call
these methods, so they never import an array library themselves.

Shapes: a batch is rows, ``X`` is ``(m, n_in)``, ``W`` is ``(n_out, n_in)``,
``b`` is ``(n_out,)``. Every primitive that produces an array writes into a
caller-owned ``out`` (preallocated once per batch size) and returns it.
"""

import contextlib

import numpy

from ..maths import ACTIVATIONS, cross_entropy_entry, loss_table, update_rules
from ..sparse_input import is_sparse

# The whole-array form of each activation in fastnet.maths: (forward(xp, Z), grad(xp, H)),
# grad from the stored H = f(Z). The softmax's forward is done row-wise in activate().
VECTORISED = {
    "identity": (lambda xp, Z: Z, lambda xp, H: xp.ones_like(H)),
    "sigmoid": (lambda xp, Z: 1.0 / (1.0 + xp.exp(-Z)), lambda xp, H: H * (1.0 - H)),
    "tanh": (lambda xp, Z: xp.tanh(Z), lambda xp, H: 1.0 - H * H),
    "relu": (lambda xp, Z: xp.maximum(Z, 0.0), lambda xp, H: (H > 0).astype(H.dtype)),
    "softmax": (None, None),
}
assert tuple(VECTORISED) == ACTIVATIONS, "every activation in fastnet.maths needs its vectorised form here"



# The whole-array form of each loss in fastnet.maths: (cost(xp, H, Y, floor), delta(xp, H, Y)),
# the cost summed over every entry (the caller takes the mean over rows).
def _squared_error(xp, H, Y, floor):
    return 0.5 * xp.sum((H - Y) ** 2)


def _cross_entropy(xp, H, Y, floor):
    return -xp.sum(Y * xp.log(xp.maximum(H, floor)))


def _binary_cross_entropy(xp, H, Y, floor):
    return _cross_entropy(xp, H, Y, floor) - xp.sum((1.0 - Y) * xp.log(xp.maximum(1.0 - H, floor)))


def _difference(xp, H, Y):
    return H - Y


LOSS_TABLE = loss_table()
VECTORISED_LOSSES = {"mse": (_squared_error, _difference), "cross_entropy": (_cross_entropy, _difference),
                     "binary_cross_entropy": (_binary_cross_entropy, _difference)}
assert set(VECTORISED_LOSSES) == set(LOSS_TABLE), "every loss in fastnet.maths needs its vectorised form here"


def loss_of(table, loss):
    """``table[loss]`` of a loss table, or ValueError naming the losses it has: never a fallthrough."""
    try:
        return table[loss]
    except KeyError:
        raise ValueError(f"no loss {loss!r} in the loss table; valid: {', '.join(table)}") from None


def loss_entry(loss):
    """The vectorised (cost, delta) of the loss table's entry ``loss``; ValueError for one it lacks."""
    return loss_of(VECTORISED_LOSSES, loss)


# The whole-array form of each update rule in fastnet.maths, in place on flat arrays:
# rule(xp, param, grad, s1, s2, k) with k the rule's constants (see maths.UpdateRule).
def _gradient_descent(xp, p, g, s1, s2, k):
    (lr,) = k
    p -= lr * g


def _momentum(xp, p, g, velocity, s2, k):
    lr, mu = k
    velocity *= mu
    velocity -= lr * g
    p += velocity


def _adam(xp, p, g, m1, m2, k):
    lr, beta1, rest1, beta2, rest2, eps, c1, c2, decay = k
    m1 *= beta1
    m1 += rest1 * g
    m2 *= beta2
    m2 += rest2 * g * g
    if decay != 1:  # AdamW's decoupled weight decay
        p *= decay
    p -= lr * (m1 / c1) / (xp.sqrt(m2 / c2) + eps)


def _rmsprop(xp, p, g, square_avg, s2, k):
    lr, alpha, rest, eps = k
    square_avg *= alpha
    square_avg += rest * g * g
    p -= lr * g / (xp.sqrt(square_avg) + eps)


UPDATE_RULES = update_rules()
VECTORISED_UPDATES = {"gd": _gradient_descent, "momentum": _momentum, "adam": _adam, "rmsprop": _rmsprop,
                      "adamw": _adam}
assert set(VECTORISED_UPDATES) == set(UPDATE_RULES), "every update rule in fastnet.maths needs its vectorised form here"


def check_activation(kind):
    """Raise ValueError for a name that is not an activation."""
    if kind not in VECTORISED:
        raise ValueError(f"unknown activation {kind!r}; valid: {', '.join(ACTIVATIONS)}")


class Ops:
    """Textbook primitives of a multilayer perceptron, for any NumPy-like ``xp``.

    Attributes
    ----------
    name : str
        Backend name, as accepted by :func:`fastnet.get_backend` (``"reference"``
        for this class itself, which the registry does not list).
    xp : module
        The array namespace (``numpy`` here, ``cupy`` in the GPU subclass).
    on_host : bool
        Whether arrays are NumPy arrays in host memory.
    compiles_kernels : bool
        Whether the first use of a layer compiles code (Numba, CUDA), which the
        command line times apart from training.
    chunked_checks : bool
        Whether training checks for divergence once per chunk of updates rather
        than after each (see :mod:`fastnet.training.layered_chunks`): one snapshot of the
        parameters and the optimiser's state a chunk instead of one an update, and on a
        GPU one host synchronisation. True for every backend; an Ops that sets it False
        trains one checked update at a time, as a data-parallel fit does.
    """

    name = "reference"
    xp = numpy
    on_host = True
    compiles_kernels = False
    chunked_checks = True

    def warm_up(self, run):
        """Call ``run`` (a short fit) so that every kernel a later fit takes is compiled now.

        A backend that picks between paths at run time (fused's row split follows the
        free cores) takes each path once, so that a later run under another load
        compiles nothing.
        """
        run()

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

    def to_host(self, a):
        """:meth:`to_numpy` for a dense array; SciPy's matrix for a sparse one."""
        if not is_sparse(a):
            return self.to_numpy(a)
        return a.get() if hasattr(a, "get") else a  # CuPy's sparse matrices copy themselves to SciPy's

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

    def running(self):
        """Context around a run of work (a fit, a forward pass) on this backend.

        A backend that needs a library setting while it computes applies it on
        entry and restores it on exit, so that nothing outlives the call. The
        reference needs none.
        """
        return contextlib.nullcontext()

    # -- layers: what the network calls ------------------------------------
    def dense(self, X, W, b, kind, out):
        """out = f(X @ W.T + b): one layer's forward pass."""
        out[...] = X @ W.T + b
        return self.activate(kind, out, out)

    def dense_function(self, m, n_in, n_out, kind):
        """Return ``f(X, W, b, out)``, the same as ``dense(X, W, b, kind, out)`` for m-row batches.

        For callers that run one layer shape many times (the network keeps one per
        layer and batch size), so that a backend can make its size-dependent
        choices once.
        """
        check_activation(kind)
        dense = self.dense
        return lambda X, W, b, out: dense(X, W, b, kind, out)

    def sparse_dense(self, X, W, b, kind, out):
        """out = f(X @ W.T + b) for a sparse X (CSR): the first layer, X never made dense.

        The sparse library's own product (SciPy's here, cuSPARSE on the GPU).
        """
        out[...] = X @ W.T
        out += b
        return self.activate(kind, out, out)

    def sparse_weight_grads(self, delta, X, dW, db):
        """dW = delta.T @ X and db = delta summed over rows, for a sparse X (CSR): the first layer's gradient."""
        dW[...] = (X.T @ delta).T  # X.T is CSC: its product with a dense matrix is the library's own
        db[...] = delta.sum(axis=0)

    def sparse_to_backend(self, X):
        """A checked CSR matrix, on this backend (the host keeps SciPy's)."""
        return X

    def activate(self, kind, Z, out):
        """out = f(Z) for the activation named ``kind``; out may alias Z."""
        check_activation(kind)
        xp = self.xp
        if kind == "softmax":
            # Shift each row by its maximum: exp then never overflows.
            E = xp.exp(Z - Z.max(axis=1, keepdims=True))
            out[...] = E / E.sum(axis=1, keepdims=True)
            return out
        with self.errstate():
            out[...] = VECTORISED[kind][0](xp, Z)
        return out

    def activation_backward(self, kind, H, dH, out):
        """out = dH * f'(z), with f'(z) computed from H = f(z); out may alias dH."""
        check_activation(kind)
        if kind == "softmax":  # the row's Jacobian-vector product
            out[...] = H * (dH - (dH * H).sum(axis=1, keepdims=True))
            return out
        out[...] = dH * VECTORISED[kind][1](self.xp, H)
        return out

    def weight_grads(self, delta, H, dW, db):
        """dW = delta.T @ H and db = delta summed over rows: one layer's parameter gradient."""
        dW[...] = delta.T @ H  # (n_out, m) @ (m, n_in)
        db[...] = delta.sum(axis=0)

    def hidden_delta(self, delta, W, H, kind, out):
        """out = (delta @ W) * f'(z), f' from the stored H = f(z): backprop through one layer."""
        return self.activation_backward(kind, H, delta @ W, out)  # (m, n_out) @ (n_out, n_in)

    def backward_step(self, delta, W, H, kind, dW, db, out):
        """A layer above the first: its parameter gradient, then the delta one layer down.

        ``weight_grads(delta, H, dW, db)`` followed by ``hidden_delta(delta, W, H,
        kind, out)``; returns ``out``. One call, so that a backend can do both with
        one pass over each block of rows (both read the same delta and H).
        """
        self.weight_grads(delta, H, dW, db)
        return self.hidden_delta(delta, W, H, kind, out)

    def backprop_function(self, m, layers, activation, output_activation, loss):
        """Return a function that runs a whole backprop of m-row batches in one call, or None (here: None).

        ``Network._backprop_layers`` is the algorithm, a layer at a time through this
        array layer. A backend whose kernels can take every layer at once returns
        ``f(X, Y, Ws, bs, dWs, dbs, Hs, Ds) -> cost``: the same gradients into dWs and
        dbs (tuples of the network's arrays, a layer each) and the layer outputs and
        deltas into Hs and Ds, and the batch's mean cost; or None for an X or Y it
        does not take, and the network then runs the layers. ``loss`` is the loss
        table's entry, ``activation`` the hidden layers'.
        """
        return None

    def weight_grads_function(self, m, n_in, n_out):
        """Return ``f(delta, H, dW, db)``, the same as ``weight_grads`` for m-row batches (see :meth:`dense_function`)."""
        return self.weight_grads

    def backward_function(self, m, n_in, n_out, kind):
        """Return ``f(delta, W, H, dW, db, out)``, the same as ``backward_step(delta, W, H, kind, dW, db, out)``
        for m-row batches of a layer of ``n_in`` inputs and ``n_out`` outputs (see :meth:`dense_function`).

        The network calls it with its own buffers only: every array C-contiguous and of one dtype.
        """
        check_activation(kind)
        backward_step = self.backward_step
        return lambda delta, W, H, dW, db, out: backward_step(delta, W, H, kind, dW, db, out)

    # -- losses ----------------------------------------------------------
    def cost(self, loss, H, Y):
        """Mean over rows of the loss named ``loss`` (an entry of :func:`fastnet.maths.loss_table`), a 0-d array.

        Probabilities are clipped below at the dtype's smallest normal number, so a
        saturated output gives a large finite cost, never inf or nan.
        """
        return loss_entry(loss)[0](self.xp, H, Y, numpy.finfo(H.dtype).tiny) / H.shape[0]

    def cost_and_delta(self, loss, kind, H, Y, scale, out):
        """:meth:`cost` of H, Y, returned; the loss's delta into the output layer, times ``scale``, into ``out``.

        Where the loss goes through the output activation (``mse``), the delta is
        d(cost)/dh times f'(z) of the activation ``kind``; the cross-entropies after a
        softmax or sigmoid are already d(cost)/dz, H - Y, as the two derivatives cancel.
        """
        cost_of, delta_of = loss_entry(loss)
        cost = self.cost(loss, H, Y)
        out[...] = delta_of(self.xp, H, Y)
        out *= scale
        if LOSS_TABLE[loss].through_activation:
            self.activation_backward(kind, H, out, out)
        return cost

    def cost_and_delta_function(self, loss, kind, scale):
        """Return ``f(H, Y, out) -> cost``, the same as ``cost_and_delta(loss, kind, H, Y, scale, out)``
        (see :meth:`dense_function`); the network keeps one per batch size, whose 1/m is ``scale``."""
        loss_entry(loss)  # an unknown loss fails here, not at the first update
        cost_and_delta = self.cost_and_delta
        return lambda H, Y, out: cost_and_delta(loss, kind, H, Y, scale, out)

    # The two loss families by their old names (tests and the GPU bench call them).
    def mse_cost(self, H, Y):
        """Mean over rows of 1/2 ||y - h||^2."""
        return self.cost("mse", H, Y)

    def cross_entropy_cost(self, H, Y, binary):
        """Mean over rows of -sum y log h (binary: plus (1 - y) log(1 - h))."""
        return self.cost(cross_entropy_entry(binary), H, Y)

    def mse_cost_and_delta(self, kind, H, Y, scale, out):
        """``cost_and_delta("mse", kind, ...)``."""
        return self.cost_and_delta("mse", kind, H, Y, scale, out)

    def cross_entropy_cost_and_delta(self, H, Y, binary, scale, out):
        """``cost_and_delta`` of the (binary) cross-entropy after a softmax (sigmoid)."""
        return self.cost_and_delta(cross_entropy_entry(binary), "identity", H, Y, scale, out)

    # -- parameters and updates (in place) -----------------------------------
    def axpy(self, param, grad, step):
        """param += step * grad, in place (the update of gradient descent)."""
        param += step * grad
        return param

    def sum_of_squares(self, A):
        """Sum of A's squared entries, a backend scalar (the L2 penalty's cost)."""
        return self.xp.sum(A * A)

    def copy_into(self, dst, src):
        """dst[...] = src, in place (snapshots of the parameters)."""
        dst[...] = src
        return dst

    def all_finite(self, arrays):
        """True when no array holds NaN or Inf (one host sync)."""
        xp = self.xp
        return all(bool(xp.isfinite(a).all()) for a in arrays)

    def update(self, rule, param, grad, state, lr, t, settings):
        """One step of the update rule named ``rule`` over flat arrays, in place.

        ``state`` holds the rule's state arrays (as many as it keeps), ``t`` is the
        update's number (1 for the first) and ``settings`` the rule's settings as a
        tuple (see :class:`fastnet.maths.UpdateRule`).
        """
        k = UPDATE_RULES[rule].constants(lr, t, settings, param.dtype.type)
        s1, s2 = (list(state) + [None, None])[:2]
        VECTORISED_UPDATES[rule](self.xp, param, grad, s1, s2, k)
        return param

    def fused_step(self, net, optimizer, X, Y, lr, alpha, batch):
        """A runner of whole chunks of training iterations for ``net``, or None (here: always None).

        A backend that can run many iterations without the host (the GPU's, see
        :mod:`fastnet.training.fused_gpu_step`) returns one, and the training loop hands it whole chunks;
        otherwise the loop calls the primitives above once per iteration.
        """
        return None

    def argmax(self, A):
        """Index of the largest entry of each row."""
        return self.xp.argmax(A, axis=1)


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
