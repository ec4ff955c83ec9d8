"""Ops primitives against their mathematical definitions, including extreme inputs.

Every backend's, and the reference's own; the numpy backend's host-only helpers
(row_max, row_sums, product, weight_product) on both sides of each size rule.
"""

import warnings

import numpy as np
import pytest

from fastnet.backends import get_backend
from fastnet.backends.numpy_ops import NumpyOps
from fastnet.tuning import TUNING

from .conftest import reference_ops, require_backend, to_numpy

SMALL_SIGMOID, SMALL_PRODUCT = TUNING.small_sigmoid, TUNING.small_product
ROW_MAX_LOOP_COLUMNS, ROW_MAX_LOOP_ROWS = TUNING.row_max_loop_columns, TUNING.row_max_loop_rows


@pytest.fixture(params=["numpy", "fused"])
def host_tuned(request):
    """The backends built on NumpyOps, whose host helpers the rules choose between."""
    require_backend(request.param)
    return get_backend(request.param)


@pytest.fixture(params=["reference", "python", "numba", "numpy", "fused",
                        pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request):
    """Each backend in turn and the reference itself, skipped with a reason where one cannot run."""
    if request.param != "reference":
        require_backend(request.param)
    return request.param


def ops_of(backend):
    """The backend's Ops; "reference" is the untuned oracle, which these tests check too."""
    return reference_ops() if backend == "reference" else get_backend(backend)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [7, SMALL_SIGMOID + 1], ids=["small-array-path", "large-array-path"])
def test_sigmoid_is_exact_and_quiet_for_huge_inputs(backend, dtype, n):
    ops = ops_of(backend)
    z = np.linspace(-1e4, 1e4, n).reshape(1, -1)
    z[0, :5] = [-1e4, -50.0, 0.0, 50.0, 1e4]
    Z = ops.asarray(z, dtype)
    out = ops.alloc(Z.shape, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        ops.activate("sigmoid", Z, out)
    h = to_numpy(out)
    assert np.all(np.isfinite(h))
    expected = np.exp(-np.logaddexp(0.0, -z.astype(np.float64)))  # 1 / (1 + e^-z), computed stably
    np.testing.assert_allclose(h, expected, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-30)


@pytest.mark.parametrize("kind,f,df", [
    ("tanh", np.tanh, lambda h: 1 - h * h),
    ("relu", lambda z: np.maximum(z, 0), lambda h: (h > 0).astype(float)),
    ("identity", lambda z: z, lambda h: np.ones_like(h)),
])
def test_activation_pairs_match_their_definitions(backend, kind, f, df):
    ops = ops_of(backend)
    z = np.random.default_rng(0).normal(size=(5, 4))
    g = np.random.default_rng(1).normal(size=(5, 4))
    h = to_numpy(ops.activate(kind, ops.asarray(z), ops.alloc(z.shape, "float64")))
    np.testing.assert_allclose(h, f(z), rtol=1e-14)
    back = ops.activation_backward(kind, ops.asarray(h), ops.asarray(g), ops.alloc(z.shape, "float64"))
    np.testing.assert_allclose(to_numpy(back), g * df(h), rtol=1e-14)


def test_softmax_rows_sum_to_one_for_huge_logits(backend):
    ops = ops_of(backend)
    z = np.array([[1e4, 0.0, -1e4], [3.0, 3.0, 3.0]])
    h = to_numpy(ops.activate("softmax", ops.asarray(z), ops.alloc(z.shape, "float64")))
    np.testing.assert_allclose(h, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)


# Both sides of row_max's rule: a running maximum over few columns of many rows,
# NumPy's reduction for wide or short matrices.
ROW_SHAPES = [(ROW_MAX_LOOP_ROWS, ROW_MAX_LOOP_COLUMNS), (1078, 10), (1078, ROW_MAX_LOOP_COLUMNS + 1),
              (ROW_MAX_LOOP_ROWS - 1, 10), (300, 1)]


@pytest.mark.parametrize("m,n", ROW_SHAPES)
def test_row_max_and_row_sums_are_columns_of_each_rows_max_and_sum(host_tuned, m, n):
    ops = host_tuned
    a = np.random.default_rng(m + n).normal(scale=100, size=(m, n))
    a[m // 2, n // 2] = np.nan
    a[m // 3, :] = -np.inf
    A = ops.asarray(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the -inf row sums to -inf, the NaN row to NaN
        top, sums = to_numpy(ops.row_max(A)), to_numpy(ops.row_sums(A))
    assert top.shape == sums.shape == (m, 1)
    np.testing.assert_array_equal(top[:, 0], a.max(axis=1))  # exact, NaN row included
    np.testing.assert_allclose(sums[:, 0], a.sum(axis=1), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,n", ROW_SHAPES[:4])
def test_softmax_of_a_batch_is_the_stable_softmax(backend, m, n, dtype):
    ops = ops_of(backend)
    z = np.random.default_rng(n).normal(scale=300, size=(m, n))  # logits far past exp's range
    z = z.astype(dtype).astype(np.float64)  # the reference starts from the same rounded logits
    shifted = z - z.max(axis=1, keepdims=True)
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = to_numpy(ops.activate("softmax", ops.asarray(z, dtype), ops.alloc(z.shape, dtype)))
    rtol = 1e-13 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(h, expected, rtol=rtol, atol=1e-30 if dtype == "float64" else 1e-37)
    np.testing.assert_allclose(h.sum(axis=1), 1.0, rtol=rtol * 10)


def test_cross_entropy_of_a_saturated_wrong_output_is_large_but_finite(backend):
    ops = ops_of(backend)
    H = ops.asarray(np.array([[1.0, 0.0]]))
    Y = ops.asarray(np.array([[0.0, 1.0]]))
    cost = float(ops.cross_entropy_cost(H, Y, binary=False))
    assert np.isfinite(cost) and cost == pytest.approx(-np.log(np.finfo(np.float64).tiny))
    delta = ops.alloc((1, 2), "float64")
    cost = float(ops.cross_entropy_cost_and_delta(H, Y, False, 1.0, delta))
    assert np.isfinite(cost) and cost == pytest.approx(-np.log(np.finfo(np.float64).tiny))
    np.testing.assert_array_equal(to_numpy(delta), [[1.0, -1.0]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("binary", [False, True], ids=["softmax", "sigmoid"])
@pytest.mark.parametrize("targets", ["one-hot", "soft"])
def test_cross_entropy_cost_and_delta_is_the_cost_and_the_delta(backend, binary, targets, dtype):
    ops = ops_of(backend)
    rng = np.random.default_rng(5)
    H = rng.uniform(0.01, 1, size=(37, 10))
    H = H if binary else H / H.sum(axis=1, keepdims=True)
    Y = np.eye(10)[rng.integers(0, 10, 37)] if targets == "one-hot" else rng.dirichlet(np.ones(10), 37)
    out = ops.alloc(H.shape, dtype)
    cost = ops.cross_entropy_cost_and_delta(ops.asarray(H, dtype), ops.asarray(Y, dtype), binary, 1 / 37, out)
    expected = -np.sum(Y * np.log(H) + ((1 - Y) * np.log(1 - H) if binary else 0)) / 37
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(float(cost), expected, rtol=rtol)
    np.testing.assert_allclose(to_numpy(out), (H - Y) / 37, rtol=rtol * 10, atol=rtol * 1e-2)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("where", ["target-0", "target-1"])
def test_a_nan_or_inf_output_makes_the_cross_entropy_cost_nan(backend, bad, where):
    # The divergence check reads the cost: a bad output must not vanish into it,
    # whether its target is 0 (no log needed there) or 1.
    ops = ops_of(backend)
    H = np.full((3, 4), 0.25)
    Y = np.eye(4)[[0, 1, 2]]
    H[1, 1 if where == "target-1" else 3] = bad
    out = ops.alloc(H.shape, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's 0 * inf says "invalid value": that is the point
        cost = float(ops.cross_entropy_cost_and_delta(ops.asarray(H), ops.asarray(Y), False, 1 / 3, out))
    assert not np.isfinite(cost)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None], ids=["nan", "inf", "-inf", "all-finite"])
def test_all_finite_finds_one_bad_value_anywhere(backend, dtype, bad):
    ops = ops_of(backend)
    for position in (0, 17, 999):  # first, middle, last: no lane or remainder is skipped
        a = np.random.default_rng(position).normal(size=1000) * 1e30
        if bad is not None:
            a[position] = bad
        cost = np.float64(0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert ops.all_finite([ops.asarray(a, dtype), cost]) is (bad is None)
    assert ops.all_finite([ops.asarray(np.ones(3), dtype), np.float64(np.nan)]) is False


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "identity"])
def test_mse_cost_and_delta_is_the_cost_and_the_delta(backend, kind, dtype):
    ops = ops_of(backend)
    rng = np.random.default_rng(4)
    H, Y = rng.random((37, 10)), rng.random((37, 10))
    out = ops.alloc(H.shape, dtype)
    cost = ops.mse_cost_and_delta(kind, ops.asarray(H, dtype), ops.asarray(Y, dtype), 1 / 37, out)
    derivative = {"sigmoid": H * (1 - H), "tanh": 1 - H * H, "identity": np.ones_like(H)}[kind]
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(float(cost), 0.5 * np.sum((H - Y) ** 2) / 37, rtol=rtol)
    np.testing.assert_allclose(to_numpy(out), (H - Y) / 37 * derivative, rtol=rtol * 10, atol=rtol * 1e-2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m", [1, 3, SMALL_PRODUCT // (64 * 30) + 1], ids=["one-row", "few-rows", "past-small-product"])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (False, True), (True, False)])
def test_product_matches_float64_products_on_either_side_of_the_small_product_rule(host_tuned, dtype, m, trans_a, trans_b):
    # One side of small_product is numpy.dot, the other numpy.matmul: both must take
    # transposed views as they are and write into out.
    ops = host_tuned
    rng = np.random.default_rng(m)
    a = rng.normal(size=(m, 64))
    b = rng.normal(size=(64, 30))
    A = np.ascontiguousarray(a.T).astype(dtype).T if trans_a else a.astype(dtype)
    B = np.ascontiguousarray(b.T).astype(dtype).T if trans_b else b.astype(dtype)
    out = ops.alloc((m, 30), dtype)
    result = ops.product(A, B, out)
    assert result is out
    rtol = 1e-12 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(to_numpy(out), a @ b, rtol=rtol, atol=rtol * 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,n_in,n_out", [(1, 3, 2), (1078, 30, 10), (1078, 64, 30)])
def test_weight_product_is_delta_transposed_times_h_into_dw(host_tuned, dtype, m, n_in, n_out):
    ops = host_tuned
    rng = np.random.default_rng(n_in)
    delta, h = rng.normal(size=(m, n_out)), rng.random((m, n_in))
    dW = ops.alloc((n_out, n_in), dtype)
    result = ops.weight_product(ops.asarray(delta, dtype), ops.asarray(h, dtype), dW)
    assert result is dW
    rtol = 1e-12 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(to_numpy(dW), delta.T @ h, rtol=rtol, atol=rtol * np.abs(delta.T @ h).max())


@pytest.mark.parametrize("small_matrix_path", [True, False])
@pytest.mark.parametrize("m", [520, 1078, 3001])
def test_weight_product_in_small_matrix_chunks_is_the_same_product(small_matrix_path, m):
    """Either way of making delta^T H, forced on a fresh numpy Ops (one call, or 1-4 chunks of rows)."""
    ops = NumpyOps()
    ops._blas_small_matrix_path = small_matrix_path
    rng = np.random.default_rng(m)
    delta, h = rng.normal(size=(m, 30)), rng.random((m, 64))
    dW = np.full((30, 64), np.nan)
    assert ops.weight_product(delta, h, dW) is dW
    np.testing.assert_allclose(dW, delta.T @ h, rtol=1e-12, atol=1e-12 * np.abs(delta.T @ h).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sum_rows_writes_the_column_sums_into_out_for_any_batch_size(host_tuned, dtype):
    # Twelve batch sizes, one row included: more than the host's cache of ones vectors
    # holds, so it is refilled on the way; out is a view into a larger buffer, as a
    # bias gradient is a view into the flat gradient buffer.
    ops = host_tuned
    rng = np.random.default_rng(7)
    buffer = ops.alloc((40,), dtype)
    for m in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 1078]:
        a = rng.normal(size=(m, 30))
        out = buffer[5:35]
        ops.sum_rows(ops.asarray(a, dtype), out)
        rtol = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(to_numpy(out), a.sum(axis=0), rtol=rtol, atol=rtol * np.sqrt(m), err_msg=f"m={m}")


@pytest.mark.parametrize("m", [1, 1078])
def test_dense_adds_the_bias_to_every_row(backend, m):
    ops = ops_of(backend)
    rng = np.random.default_rng(2)
    X, W, b = rng.normal(size=(m, 64)), rng.normal(size=(30, 64)), rng.normal(size=30)
    out = ops.alloc((m, 30), "float64")
    assert ops.dense(ops.asarray(X), ops.asarray(W), ops.asarray(b), "identity", out) is out
    np.testing.assert_allclose(to_numpy(out), X @ W.T + b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "relu", "identity", "softmax"])
@pytest.mark.parametrize("m,n_in,n_out", [(1, 100, 100), (4, 5, 3), (1078, 64, 30)])
def test_dense_function_gives_the_same_layer_as_dense(backend, kind, m, n_in, n_out):
    # The network runs each layer through dense_function's result, which may take a
    # shortcut for small sigmoid layers (numpy): it must agree with dense() bit for bit.
    ops = ops_of(backend)
    if m > 4 and backend == "python":
        pytest.skip("the python backend's 1078-row layer takes seconds; its loops are the same at 4 rows")
    rng = np.random.default_rng(3)
    X, W, b = (ops.asarray(rng.normal(size=s)) for s in ((m, n_in), (n_out, n_in), (n_out,)))
    expected = to_numpy(ops.dense(X, W, b, kind, ops.alloc((m, n_out), "float64"))).copy()
    layer = ops.dense_function(m, n_in, n_out, kind)
    out = ops.alloc((m, n_out), "float64")
    assert layer(X, W, b, out) is out
    np.testing.assert_array_equal(to_numpy(out), expected)
    assert np.abs(expected).sum() > 0
    if backend == "numpy" and kind == "sigmoid" and m * n_in * n_out <= SMALL_PRODUCT and m * n_out <= SMALL_SIGMOID:
        assert layer.__name__ == "small_sigmoid_layer"  # so the shortcut is what was checked


@pytest.mark.parametrize("m,n_in,n_out", [(4, 5, 3), (1078, 64, 30), (1078, 30, 10)])
def test_the_backward_functions_give_what_the_per_call_methods_give(backend, m, n_in, n_out):
    # The network runs its backward pass through these functions, made once per batch
    # size (fused binds its row-parallel kernels in them): they must agree bit for bit.
    ops = ops_of(backend)
    if m > 4 and backend == "python":
        pytest.skip("the python backend's 1078-row layer takes seconds; its loops are the same at 4 rows")
    rng = np.random.default_rng(5)
    delta, W = ops.asarray(rng.normal(size=(m, n_out))), ops.asarray(rng.normal(size=(n_out, n_in)))
    H = ops.asarray(rng.random((m, n_in)))
    X_wide = ops.asarray(rng.normal(size=(m, n_in + 3)))
    X = X_wide[:, 1:n_in + 1]  # not contiguous, as a caller's X may be: the function must take it too

    def grads(run, *inputs):
        dW, db, out = ops.alloc((n_out, n_in), "float64"), ops.alloc((n_out,), "float64"), \
            ops.alloc((m, n_in), "float64")
        run(*inputs, dW, db, out)
        return [to_numpy(a).copy() for a in (dW, db, out)]

    expected = grads(lambda d, w, h, dW, db, out: ops.backward_step(d, w, h, "sigmoid", dW, db, out), delta, W, H)
    backward = ops.backward_function(m, n_in, n_out, "sigmoid")
    for got, want in zip(grads(backward, delta, W, H), expected):
        np.testing.assert_array_equal(got, want)
    first = ops.weight_grads_function(m, n_in, n_out)
    for inputs in ((delta, H), (delta, X)):
        want = grads(lambda d, h, dW, db, out: ops.weight_grads(d, h, dW, db), *inputs)
        got = grads(lambda d, h, dW, db, out: first(d, h, dW, db), *inputs)
        for g, w in zip(got[:2], want[:2]):
            np.testing.assert_array_equal(g, w)
    np.testing.assert_allclose(expected[0], to_numpy(delta).T @ to_numpy(H), rtol=1e-10)
    if backend == "fused" and ops.split.off is None and m * n_in * n_out >= 2 * TUNING.parallel_min_work:
        # so the row-parallel kernels are what was checked (where the machine lets them run)
        assert (backward.__name__, first.__name__) == ("row_parallel_backward", "row_parallel_weight_grads")


@pytest.mark.parametrize("loss,kind", [("mse", "sigmoid"), ("cross_entropy", "softmax"), ("mse", "softmax"),
                                       ("cross_entropy", "sigmoid")])
def test_the_cost_and_delta_function_gives_what_cost_and_delta_gives(backend, loss, kind):
    from fastnet.losses import table_loss

    ops = ops_of(backend)
    rng = np.random.default_rng(6)
    m, n = 50, 4
    raw = rng.random((m, n)) + 0.05
    H = ops.asarray(raw / raw.sum(axis=1, keepdims=True) if kind == "softmax" else raw / 1.2)
    Y = ops.asarray(np.eye(n)[rng.integers(0, n, m)])
    table_name = table_loss(loss, kind)
    want_out, got_out = ops.alloc((m, n), "float64"), ops.alloc((m, n), "float64")
    want = ops.cost_and_delta(table_name, kind, H, Y, 1.0 / m, want_out)
    got = ops.cost_and_delta_function(table_name, kind, 1.0 / m)(H, Y, got_out)
    assert float(got) == float(want) and float(want) > 0
    np.testing.assert_array_equal(to_numpy(got_out), to_numpy(want_out))
    Y_strided = ops.asarray(np.asfortranarray(to_numpy(Y)))  # not C-contiguous: the general path
    assert float(ops.cost_and_delta_function(table_name, kind, 1.0 / m)(H, Y_strided, got_out)) == \
        pytest.approx(float(want), rel=1e-12)


def test_an_unknown_loss_fails_when_its_function_is_made(backend):
    with pytest.raises(ValueError, match="hinge"):
        ops_of(backend).cost_and_delta_function("hinge", "sigmoid", 1.0)


def test_a_wide_weight_gradient_is_one_product_not_row_sized_chunks(monkeypatch):
    """784 x 1024 cannot fit the small-matrix limit with whole chunks of rows: one call."""
    ops = NumpyOps()
    ops._blas_small_matrix_path = True
    calls = []
    real_dot = np.dot
    monkeypatch.setattr(np, "dot", lambda *a, **k: calls.append(1) or real_dot(*a, **k))
    rng = np.random.default_rng(0)
    delta, h = rng.normal(size=(300, 100)), rng.random((300, 784))
    dW = np.empty((100, 784))
    ops.weight_product(delta, h, dW)
    np.testing.assert_allclose(dW, delta.T @ h, rtol=1e-12)
    assert calls == []  # not the chunked path (which calls numpy.dot per chunk)


def test_a_loss_outside_the_table_is_an_error_on_every_backend_never_another_loss(backend):
    """Losses are dispatched through fastnet.maths' table: a name it lacks must not fall through to cross-entropy."""
    from fastnet.losses import table_loss

    ops = ops_of(backend)
    H = ops.asarray(np.full((4, 3), 1 / 3))
    out = ops.alloc((4, 3), H.dtype)
    with pytest.raises(ValueError, match="no loss 'hinge' in the loss table"):
        ops.cost_and_delta("hinge", "softmax", H, H, 0.25, out)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        table_loss("hinge", "softmax")
    assert [table_loss("cross_entropy", a) for a in ("softmax", "sigmoid")] == ["cross_entropy", "binary_cross_entropy"]
