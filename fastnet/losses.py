"""Loss functions: the cost of a batch and the error signal it sends into the output layer."""

from .maths import cross_entropy_entry

LOSSES = ("mse", "cross_entropy")

# Output activations for which cross-entropy's gradient w.r.t. z collapses to h - y.
_CROSS_ENTROPY_OUTPUTS = ("softmax", "sigmoid")


def check_loss(loss, output_activation):
    """Raise ValueError for an unknown loss or one that does not fit the output activation."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    if loss == "cross_entropy" and output_activation not in _CROSS_ENTROPY_OUTPUTS:
        raise ValueError(
            f"loss 'cross_entropy' needs probabilities out of the last layer, but the output "
            f"activation is {output_activation!r}; use output_activation='softmax' (classes) "
            "or 'sigmoid' (independent labels)"
        )


def table_loss(loss, output_activation):
    """The entry of :func:`fastnet.maths.loss_table` that trains ``loss`` after ``output_activation``.

    ``mse`` is itself; ``cross_entropy`` is the binary form after a sigmoid and the
    categorical one after a softmax. Anything else raises ValueError: a loss is never
    trained as another one.
    """
    check_loss(loss, output_activation)
    if loss == "mse":
        return "mse"
    if loss == "cross_entropy":
        return cross_entropy_entry(output_activation == "sigmoid")
    raise ValueError(f"loss {loss!r} has no entry in fastnet.maths' loss table")


def cost_and_delta(ops, loss, output_activation, H, Y, out):
    """Mean cost of the batch, and d(mean cost)/dz of the output layer written into ``out``.

    The cost is a 0-d array or scalar of the backend. ``mse`` is the tutorial's J,
    1/2 ||y - h||^2 per sample; ``cross_entropy`` is -sum y log h after a softmax,
    and the binary form summed over the outputs after a sigmoid. Both come from
    one call, so a backend can compute them in one pass over H and Y.

    The 1/m of the mean is applied to the delta here, once, so every gradient
    further back already belongs to the mean cost. For cross-entropy after a
    softmax or a sigmoid, the loss and activation derivatives cancel to (h - y) / m.

    Returns
    -------
    cost, delta
        ``delta`` is ``out``.
    """
    scale = 1.0 / H.shape[0]
    return ops.cost_and_delta(table_loss(loss, output_activation), output_activation, H, Y, scale, out), out


def cost_and_delta_function(ops, loss, output_activation, m):
    """:func:`cost_and_delta` for batches of m rows, as ``f(H, Y, out) -> cost``, with its choices made once.

    The network keeps one per batch size: the backend picks its kernel once
    (:meth:`fastnet.backends.reference.Ops.cost_and_delta_function`), not every update.
    """
    return ops.cost_and_delta_function(table_loss(loss, output_activation), output_activation, 1.0 / m)
