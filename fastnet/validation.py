"""Checks on user input that raise a clear ValueError before anything is changed."""

import numpy


# Values checked at a time by all_finite: its mask of a big data set is never whole.
FINITE_BLOCK = 2**20


def all_finite(arr, xp=numpy):
    """True when no element of ``arr`` (a NumPy array, or one of the array library ``xp``) is NaN or +-Inf."""
    if xp is not numpy:
        return bool(xp.isfinite(arr).all())  # on the device: one reduction, one sync
    # count_nonzero has a dedicated loop for booleans; ``.all()`` goes through the
    # generic ufunc reduction, which costs ~0.8 us more per call (1.8 vs 1.0 us for
    # 100 values) and is no faster on large arrays. A forward pass of one sample
    # through 100-100-50-10 takes ~18 us, so that is worth having.
    if arr.size <= FINITE_BLOCK:
        return numpy.count_nonzero(numpy.isfinite(arr)) == arr.size
    flat = arr.reshape(-1)  # a view for the C-ordered arrays checked here; a copy would still be right
    return all(all_finite(flat[i:i + FINITE_BLOCK]) for i in range(0, flat.size, FINITE_BLOCK))


def as_float_rows(name, A, n_columns, dtype, xp=numpy):
    """Return ``A`` as a C-ordered 2-D float array of ``n_columns`` columns, and whether it was 1-D.

    ``xp`` is the array library to check it with: NumPy, or CuPy for an array already
    on the GPU, which is then checked where it lies, never copied to the host.
    Raises ValueError for non-numeric, empty, wrongly shaped or non-finite data.
    """
    try:
        arr = xp.asarray(A, dtype=dtype, order="C")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; could not convert it to {dtype} ({exc})") from None
    was_1d = arr.ndim == 1
    if was_1d:
        arr = arr[None, :]  # a view, like reshape(1, -1) but ~0.2 us quicker
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one sample) or 2-D (samples x features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one sample")
    if arr.shape[1] != n_columns and was_1d:
        raise ValueError(
            f"{name} is 1-D, so it is read as one sample of {arr.shape[1]} values, but the network expects "
            f"{n_columns}; pass samples as rows, shape (n_samples, {n_columns})"
            + (f", e.g. {name}.reshape(-1, 1) for {arr.shape[1]} samples of one feature" if n_columns == 1 else "")
        )
    if arr.shape[1] != n_columns:
        raise ValueError(
            f"{name} has {arr.shape[1]} columns (shape {arr.shape}) but the network expects "
            f"{n_columns} (shape (n_samples, {n_columns}))"
        )
    if not all_finite(arr, xp):
        raise ValueError(f"{name} contains NaN or Inf; clean or impute the data first")
    return arr, was_1d


def as_targets(Y, n_samples, n_outputs, dtype, xp=numpy):
    """Return targets as an ``(n_samples, n_outputs)`` float array (one-hot rows for classes), checked with ``xp``."""
    try:
        arr = xp.asarray(Y, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Y must be numeric; could not convert it to {dtype} ({exc})") from None
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim == 1:
        raise ValueError(
            f"Y has shape {arr.shape} but the network has {n_outputs} outputs: pass one-hot rows "
            f"of shape ({n_samples}, {n_outputs}), e.g. fastnet.one_hot(y, {n_outputs})"
        )
    if arr.shape != (n_samples, n_outputs):
        raise ValueError(
            f"Y has shape {arr.shape} but X has {n_samples} samples and the network has "
            f"{n_outputs} outputs: expected shape ({n_samples}, {n_outputs})"
        )
    if not all_finite(arr, xp):
        raise ValueError("Y contains NaN or Inf; clean the targets first")
    return arr


def positive_number(name, value, integer=False):
    """Return ``value`` if it is a positive (integer) number, else raise ValueError."""
    kind = "integer" if integer else "number"
    ok_type = isinstance(value, (int, numpy.integer)) if integer else isinstance(value, (int, float, numpy.number))
    if isinstance(value, bool) or not ok_type or not value > 0 or not numpy.isfinite(value):
        raise ValueError(f"{name} must be a positive {kind}, got {value!r}")
    return value


DTYPES = ("float64", "float32")


def as_dtype(dtype):
    """Return the NumPy dtype for "float64" or "float32" (or those dtypes), else raise ValueError."""
    try:
        dt = numpy.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    return dt


def layer_sizes(layers):
    """Return ``layers`` as a tuple of positive ints (at least two), else raise ValueError."""
    try:
        sizes = tuple(layers)
    except TypeError:
        raise ValueError(f"layers must be a list of layer sizes such as [64, 30, 10], got {layers!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"layers needs at least an input and an output size, got {list(sizes)}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, numpy.integer)) or s < 1:
            raise ValueError(f"layer sizes must be positive integers, got {list(sizes)}")
    return tuple(int(s) for s in sizes)
