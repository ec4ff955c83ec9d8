"""Weight initialisations. Drawn on the host with NumPy in float64, then cast and moved.

Drawing on the host with one seeded generator makes the starting weights
identical on every backend and dtype, which is what lets the backends be
compared number for number.
"""

import math

import numpy

INITIALIZERS = ("uniform", "xavier", "he")


def initialize(name, layers, rng):
    """Return ``[(W, b), ...]`` float64 NumPy arrays for consecutive layer sizes.

    Parameters
    ----------
    name : {"uniform", "xavier", "he"}
        ``uniform``: every weight and bias from U[0, 1), the tutorial's
        ``random_sample``. ``xavier``: W from U[-a, a] with a = sqrt(6 / (n_in +
        n_out)) (Glorot), zero biases. ``he``: W from N(0, 2 / n_in), zero biases.
    layers : sequence of int
        Layer sizes, input first.
    rng : numpy.random.Generator
    """
    if name not in INITIALIZERS:
        raise ValueError(f"unknown init {name!r}; valid: {', '.join(INITIALIZERS)}")
    params = []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        if name == "uniform":
            W = rng.random((n_out, n_in))
            b = rng.random(n_out)
        elif name == "xavier":
            a = math.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_out, n_in))
            b = numpy.zeros(n_out)
        else:
            W = rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_out, n_in))
            b = numpy.zeros(n_out)
        params.append((W, b))
    return params


def make_rng(seed):
    """A NumPy Generator from ``seed`` (None: fresh entropy): the one source of randomness."""
    return numpy.random.default_rng(seed)
