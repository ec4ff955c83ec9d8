"""The ``fused`` backend's kernels against NumPy, before any of them is timed.

The vectorised exp is checked to the ulp over its whole range; every fused layer
step (bias + activation, output delta, derivative product, bias gradient, cost) is
checked against the numpy backend's unfused composition, on the compiled loop
path for tiny layers and the BLAS path for large ones, in float64 and float32.
"""

import warnings

import numpy as np
import pytest

from fastnet.backends import fused_kernels, get_backend
from fastnet.backends.loop_ops import _rebound
from fastnet.backends.fused_ops import transposed_weight_grad_is_faster

from .conftest import require_backend

EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def fused():
    require_backend("fused")
    return get_backend("fused")


def test_vectorised_exp_is_within_two_ulp_of_numpy_everywhere(fused):
    x = np.concatenate([np.linspace(-708, 708, 400_001), np.random.default_rng(0).normal(scale=5, size=100_000)])
    got = x.copy()
    fused._float64.exp_inplace(got)
    ref = np.exp(x)
    assert np.max(np.abs(got - ref) / ref) <= 2 * EPS


def test_float32_exp_is_within_two_float32_ulp_everywhere(fused):
    x = np.concatenate([np.linspace(-87, 87, 400_001), np.random.default_rng(0).normal(scale=5, size=100_000)])
    x = x.astype(np.float32)
    got = x.copy()
    fused._float32.exp_inplace(got)
    assert got.dtype == np.float32
    exact = np.exp(x.astype(np.float64))  # the float32 input's exp, before rounding to float32
    ulps = np.abs(got - exact) / np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 2


def _plain_python_exp(names=None):
    """fused_kernels' exp with its callees bound to the plain (uncompiled) functions."""
    names = names or {}
    polynomial = fused_kernels.exp_polynomial_float32 if names else fused_kernels.exp_polynomial
    exp_of = _rebound(fused_kernels.exp_of, **names, exp_polynomial=polynomial)
    return _rebound(fused_kernels.exp_inplace, **names, exp_of=exp_of)


def test_plain_python_exp_gives_the_compiled_numbers(fused):
    x = np.random.default_rng(1).normal(scale=30, size=2000)
    compiled, plain = x.copy(), x.copy()
    fused._float64.exp_inplace(compiled)
    fused_kernels.exp_inplace(plain)  # the same source, interpreted
    np.testing.assert_allclose(plain, compiled, rtol=4 * EPS, atol=0)
    x32 = x.astype(np.float32) / 4
    compiled, plain = x32.copy(), x32.copy()
    fused._float32.exp_inplace(compiled)
    _plain_python_exp(fused_kernels.FLOAT32)(plain)
    np.testing.assert_allclose(plain, compiled, rtol=4 * np.finfo(np.float32).eps, atol=0)


@pytest.mark.parametrize("precision", ["_float64", "_float32"])
def test_exp_keeps_nan_and_clamps_beyond_its_limit(fused, precision):
    kernels = getattr(fused, precision)
    dtype = np.float32 if precision == "_float32" else np.float64
    limit = float(fused_kernels.FLOAT32["EXP_LIMIT"]) if dtype == np.float32 else fused_kernels.EXP_LIMIT
    x = np.array([np.nan, 1000.0, -1000.0, np.inf, -np.inf, 0.0], dtype)
    kernels.exp_inplace(x)
    assert np.isnan(x[0])
    expected = np.exp(np.array([limit, -limit, limit, -limit, 0.0]))
    np.testing.assert_allclose(x[1:], expected, rtol=4 * np.finfo(dtype).eps)


def _layer(m, n_in, n_out, dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(m, n_in)) * scale).astype(dtype)
    W = rng.normal(size=(n_out, n_in)).astype(dtype)
    b = rng.normal(size=n_out).astype(dtype)
    return X, W, b


RTOL = {"float64": 1e-13, "float32": 2e-6}
SHAPES = [pytest.param(1, 100, 100, id="one-row-compiled-loop"), pytest.param(300, 64, 30, id="batch-blas")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,n_in,n_out", SHAPES)
@pytest.mark.parametrize("kind", ["sigmoid", "softmax", "tanh", "relu", "identity"])
def test_dense_matches_numpy(fused, kind, m, n_in, n_out, dtype):
    numpy_ops = get_backend("numpy")
    X, W, b = _layer(m, n_in, n_out, dtype)
    got, ref = np.empty((m, n_out), dtype), np.empty((m, n_out), dtype)
    fused.dense(X, W, b, kind, got)
    numpy_ops.dense(X, W, b, kind, ref)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "softmax"])
def test_saturated_layers_stay_finite_quiet_and_exact(fused, kind, dtype):
    X, W, b = _layer(400, 64, 30, dtype, scale=1e3)  # pre-activations up to ~1e4
    got, ref = np.empty((400, 30), dtype), np.empty((400, 30), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fused.dense(X, W, b, kind, got)
    get_backend("numpy").dense(X, W, b, kind, ref)
    assert np.all(np.isfinite(got))
    # Beyond the exp's clamp the kernel gives the sigmoid of +-EXP_LIMIT (3e-308 in
    # float64, 2e-38 in float32) where NumPy's overflowing exp gives exactly 0.
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=1e-300 if dtype == "float64" else 1e-37)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_backward_steps_match_numpy(fused, kind, dtype):
    numpy_ops = get_backend("numpy")
    rng = np.random.default_rng(3)
    H = rng.random((257, 10)).astype(dtype)
    Y = rng.random((257, 10)).astype(dtype)
    H_prev = rng.random((257, 30)).astype(dtype)
    W = rng.normal(size=(10, 30)).astype(dtype)
    results = {}
    for name, ops in (("fused", fused), ("numpy", numpy_ops)):
        delta = np.empty_like(H)
        cost = ops.mse_cost_and_delta(kind, H, Y, 1 / 257, delta)
        hidden = ops.hidden_delta(delta, W, H_prev, kind, np.empty_like(H_prev))
        dW, db = np.empty_like(W), np.empty(10, dtype)
        ops.weight_grads(delta, H_prev, dW, db)
        results[name] = [delta, hidden, dW, db, np.asarray(cost)]
    for got, ref in zip(results["fused"], results["numpy"]):
        np.testing.assert_allclose(got, ref, rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,n_in,n_out,swapped", [(1078, 64, 30, True), (600, 256, 10, True),
                                                  (1078, 30, 10, False), (100, 64, 30, False)])
def test_weight_grads_in_either_operand_order_match_numpy(fused, m, n_in, n_out, swapped, dtype):
    assert transposed_weight_grad_is_faster(m, n_in, n_out) == swapped  # both branches are exercised
    rng = np.random.default_rng(4)
    delta = rng.normal(size=(m, n_out)).astype(dtype)
    H = rng.random((m, n_in)).astype(dtype)
    dW, db = np.full((n_out, n_in), np.nan, dtype), np.full(n_out, np.nan, dtype)
    fused.weight_grads(delta, H, dW, db)
    ref = delta.astype(np.float64).T @ H.astype(np.float64)
    tol = 1e-12 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(dW, ref, rtol=tol, atol=tol * np.abs(ref).max())
    np.testing.assert_allclose(db, delta.astype(np.float64).sum(axis=0), rtol=tol, atol=tol * m)


@pytest.mark.parametrize("dtype,int_type", [(np.float64, np.int64), (np.float32, np.int32)])
def test_bit_reinterpretation_matches_numpy_view_compiled_and_plain(fused, dtype, int_type):
    import numba

    from fastnet.backends import numba_bits

    @numba.njit
    def round_trip(x, bits_out, back_out):
        for i in range(x.shape[0]):
            bits_out[i] = numba_bits.int_bits(x[i])
            back_out[i] = numba_bits.float_of_bits(bits_out[i])

    x = np.array([0.0, -0.0, 1.0, -2.5, 1e-30, np.inf, -np.inf, np.nan, 12582912.0], dtype)
    bits, back = np.empty(x.size, int_type), np.empty_like(x)
    round_trip(x, bits, back)
    np.testing.assert_array_equal(bits, x.view(int_type))
    np.testing.assert_array_equal(back.view(int_type), x.view(int_type))  # NaN's payload too
    plain = np.array([fused_kernels.int_bits(v) for v in x], int_type)
    np.testing.assert_array_equal(plain, x.view(int_type))
    assert all(fused_kernels.float_of_bits(i).dtype == dtype for i in plain)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hidden_delta_on_strided_arrays_takes_the_numpy_path(fused, dtype):
    rng = np.random.default_rng(5)
    H = rng.random((40, 24)).astype(dtype)[:, ::2]  # strided: the flat kernel cannot take it
    delta = rng.normal(size=(40, 5)).astype(dtype)
    W = rng.normal(size=(5, 12)).astype(dtype)
    got, ref = np.empty((40, 12), dtype), np.empty((40, 12), dtype)
    fused.hidden_delta(delta, W, H, "sigmoid", got)
    get_backend("numpy").hidden_delta(delta, W, H, "sigmoid", ref)
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("precision", ["_float64", "_float32"])
def test_in_place_and_separate_outputs_give_the_same_numbers(fused, precision):
    """Kernels take a separate loop when out is their input (see same_buffer); both must agree."""
    kernels = getattr(fused, precision)
    dtype = np.float32 if precision == "_float32" else np.float64
    rng = np.random.default_rng(6)
    Z = rng.normal(size=(37, 30)).astype(dtype) * 4
    b = rng.normal(size=30).astype(dtype)
    for kind in ("sigmoid", "relu", "softmax"):
        separate, in_place = np.empty_like(Z), Z.copy()
        kernels.bias_activation[kind](Z, b, separate)
        kernels.bias_activation[kind](in_place, b, in_place)
        np.testing.assert_array_equal(in_place, separate)
    H = rng.random((37, 30)).astype(dtype)
    separate, in_place = np.empty_like(Z), Z.copy()
    kernels.sigmoid_backward(H, Z, separate)
    kernels.sigmoid_backward(H, in_place, in_place)
    np.testing.assert_array_equal(in_place, separate)
    np.testing.assert_allclose(separate, Z * H * (1 - H), rtol=4 * np.finfo(dtype).eps)
