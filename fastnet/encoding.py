"""Label encoding."""

import numpy


def one_hot(y, n_classes=None, dtype="float64"):
    """Encode integer labels 0..n_classes-1 as one-hot rows.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
    n_classes : int, optional
        Defaults to ``max(y) + 1``.
    dtype : str, default "float64"

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> one_hot([1, 0], 3)
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """
    y = numpy.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of integer labels, got shape {y.shape}")
    if y.size and not numpy.issubdtype(y.dtype, numpy.integer):
        if not (numpy.issubdtype(y.dtype, numpy.floating) and numpy.all(numpy.mod(y, 1) == 0)):
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
        y = y.astype(numpy.int64)
    if n_classes is None:
        n_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got the range {y.min()}..{y.max()}")
    out = numpy.zeros((y.shape[0], n_classes), dtype=dtype)
    out[numpy.arange(y.shape[0]), y] = 1.0
    return out
