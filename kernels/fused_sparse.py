"""The fused backend's first-layer products for a sparse input: X in CSR, never made dense.

A layer's weights are ``W`` (n_out, n_in), one row per neuron. SciPy multiplies a
CSR matrix by a C-ordered dense one, so ``X @ W.T`` and ``delta.T @ X`` each copy
W's transpose first: for a 100,000-feature input and 100 neurons that copy costs
more than the products (36 against 2.5 ms here). These loops read and write W's
rows as they lie instead, one neuron at a time, so that its row of weights (or of
the gradient) stays in cache while every row of the batch passes over it.

``indptr``, ``indices`` and ``data`` are the CSR arrays of the batch: row i's
non-zero values are ``data[indptr[i]:indptr[i + 1]]``, in the columns ``indices[...]``
(duplicates are summed, as SciPy does). The functions are plain Python until
:class:`~fastnet.backends.fused.FusedOps` compiles them.
"""


def csr_times_transposed(indptr, indices, data, W, out):
    """out = X @ W.T: each neuron's input for each row (the bias and activation come after)."""
    m, n_out = out.shape
    zero = out.dtype.type(0)
    for j in range(n_out):
        w = W[j]
        for i in range(m):
            z = zero
            for k in range(indptr[i], indptr[i + 1]):
                z += data[k] * w[indices[k]]
            out[i, j] = z


def transposed_times_csr(delta, indptr, indices, data, dW):
    """dW = delta.T @ X: each neuron's row of the weight gradient, zeroed then summed over the batch's rows."""
    m, n_out = delta.shape
    zero = dW.dtype.type(0)
    for j in range(n_out):
        row = dW[j]
        row[:] = zero
        for i in range(m):
            d = delta[i, j]
            for k in range(indptr[i], indptr[i + 1]):
                row[indices[k]] += d * data[k]
