"""Many parameter arrays stored back to back in one flat backend array.

A network's weights and biases are several small arrays, and so are their
gradients and an optimiser's moments. Each is a view into one flat array here,
so whatever touches every parameter (an update, a snapshot, a check for NaN)
is one call over one array instead of one per layer and per bias: on digits'
64-30-10 network that is one call instead of four, each costing microseconds
of dispatch against a few hundred nanoseconds of arithmetic.
"""

import math


class FlatBuffer:
    """Arrays of given shapes that are views into one contiguous 1-D array.

    Parameters
    ----------
    ops : fastnet.backends.Ops
        Backend that allocates the flat array (zero-filled).
    shapes : sequence of tuple of int
    dtype : numpy dtype

    Attributes
    ----------
    flat : array of shape (total size,)
        The storage; writes to it show in every view and vice versa.
    views : list of arrays
        One C-contiguous view per shape, in order.
    """

    def __init__(self, ops, shapes, dtype):
        self.shapes = [tuple(int(n) for n in shape) for shape in shapes]
        sizes = [math.prod(shape) for shape in self.shapes]
        self.flat = ops.alloc((sum(sizes),), dtype)
        self.views = []
        start = 0
        for shape, size in zip(self.shapes, sizes):
            self.views.append(self.flat[start : start + size].reshape(shape))
            start += size

    def like(self, ops):
        """A new zero-filled buffer with the same shapes and dtype."""
        return FlatBuffer(ops, self.shapes, self.flat.dtype)
