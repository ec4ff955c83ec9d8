"""Weight initialisations. Drawn on the host with NumPy in float64, then cast and moved.

Drawing on the host with one seeded generator makes the starting weights
identical on every backend and dtype, which is what lets the backends be
compared number for number.
"""

import math

import numpy

INITIALIZERS = ("uniform", "xavier", "he", "sklearn")


def initialize(name, layers, rng, activation=None):
    """Return ``[(W, b), ...]`` float64 NumPy arrays for consecutive layer sizes.

    Parameters
    ----------
    name : {"uniform", "xavier", "he", "sklearn"}
        ``uniform``: every weight and bias from U[0, 1), the tutorial's
        ``random_sample``. ``xavier``: W from U[-a, a] with a = sqrt(6 / (n_in +
        n_out)) (Glorot), zero biases. ``he``: W from N(0, 2 / n_in), zero biases.
        ``sklearn``: scikit-learn's MLP rule, weights *and* biases from U[-a, a]
        with a = sqrt(k / (n_in + n_out)), k = 2 when the hidden activation is
        sigmoid and 6 otherwise, in every layer.
    layers : sequence of int
        Layer sizes, input first.
    rng : numpy.random.Generator or RandomState
        ``sklearn`` given scikit-learn's RandomState makes scikit-learn's very draws.
    activation : str, optional
        The hidden activation; only ``sklearn`` reads it.
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
        elif name == "he":
            W = rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_out, n_in))
            b = numpy.zeros(n_out)
        else:
            # scikit-learn draws the bias from the same range as the weights; with
            # few inputs that starts ReLU layers 3x smaller than He's normal does,
            # which is why its regressor learns faster from the first epochs.
            a = math.sqrt((2.0 if activation == "sigmoid" else 6.0) / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_in, n_out)).T  # drawn in scikit-learn's (n_in, n_out) order
            b = rng.uniform(-a, a, size=n_out)
        params.append((W, b))
    return params


def make_rng(seed):
    """A NumPy Generator from ``seed`` (None: fresh entropy): the one source of randomness.

    Raises ValueError, naming ``seed``, for anything NumPy cannot seed from (a negative
    number, a float, a string).
    """
    if isinstance(seed, bool) or isinstance(seed, (float, str, bytes)):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    try:
        return numpy.random.default_rng(seed)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r} ({exc})") from None
