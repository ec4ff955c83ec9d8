"""Sparse input: a SciPy (or, on the GPU, a CuPy) sparse matrix as X, never made dense.

Only the first layer sees X, so only its two products change: the forward
``X @ W.T`` and the weight gradient ``delta.T @ X``. Each backend does them in
:meth:`fastnet.backends.reference.Ops.sparse_dense` and
:meth:`~fastnet.backends.reference.Ops.sparse_weight_grads`; every later layer's
input is the dense output of the one before. Rows are held in CSR, the format
whose row slices (mini-batches) are cheap.
"""

import sys
import zlib

import numpy


def is_sparse(X):
    """True for a SciPy sparse matrix or array, or a ``cupyx.scipy.sparse`` matrix."""
    if isinstance(X, numpy.ndarray):  # the common case, first: no import, no lookup
        return False
    from scipy import sparse

    if sparse.issparse(X):
        return True
    device_sparse = sys.modules.get("cupyx.scipy.sparse")  # loaded only where CuPy is in use
    return device_sparse is not None and device_sparse.issparse(X)


def is_scipy_sparse(X):
    """True for a SciPy sparse matrix or array (in host memory)."""
    from scipy import sparse

    return sparse.issparse(X)


def as_sparse_rows(name, X, n_columns, dtype):
    """Return sparse ``X`` as a CSR matrix of ``n_columns`` columns in ``dtype``.

    Other sparse formats (CSC, COO, ...) are converted, as scikit-learn does. Raises
    ValueError, as :func:`fastnet.validation.as_float_rows` does for dense input, for
    an empty matrix, the wrong number of columns or a stored NaN or Inf.
    """
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix (samples x features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); pass at least one sample")
    if X.shape[1] != n_columns:
        raise ValueError(
            f"{name} has {X.shape[1]} columns (shape {X.shape}) but the network expects "
            f"{n_columns} (shape (n_samples, {n_columns}))"
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; its sparse values are {X.dtype}")
    X = X.tocsr()
    if X.dtype != dtype:
        X = X.astype(dtype)
    data = X.data
    if data.size and not bool((abs(data) < numpy.inf).all()):  # NaN fails the comparison too
        raise ValueError(f"{name} contains NaN or Inf; clean or impute the data first")
    return X


def sparse_fingerprint(X, crc=0):
    """A CRC of a CSR matrix's shape, row pointers, columns and values (for checkpoints)."""
    crc = zlib.crc32(numpy.asarray(X.shape, dtype=numpy.int64).view(numpy.uint8), crc)
    for part in (X.indptr, X.indices, X.data):
        crc = zlib.crc32(numpy.ascontiguousarray(part).view(numpy.uint8), crc)
    return crc
