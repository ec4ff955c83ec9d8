"""The ``fused`` backend's kernels against the reference Ops, before any of them is timed.

The vectorised exp is checked to the ulp over its whole range; each fused layer
step (bias + activation, derivative, cost and delta, bias gradient) is checked
against the reference's textbook composition, on the BLAS + kernel path and the
row-parallel path, in float64 and float32.
"""

import re
import warnings

import numpy as np
import pytest

from fastnet.backends import get_backend
from fastnet.kernel_modules import kernel_module

from .conftest import reference_ops, require_backend

EPS = np.finfo(np.float64).eps
RTOL = {"float64": 1e-13, "float32": 2e-6}
KINDS = ["sigmoid", "softmax", "tanh", "relu", "identity"]


@pytest.fixture(scope="module")
def fused():
    require_backend("fused")
    return get_backend("fused")


def compiled_exp(dtype, maker="make_exp"):
    """The fused exp (or tanh) of ``dtype``, applied to a whole 1-D array by a loop compiled here."""
    import numba

    function = getattr(kernel_module("fused_exp"), maker)(dtype)

    @numba.njit
    def apply_all(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])

    def run(x):
        out = np.empty_like(x)
        apply_all(x, out)
        return out

    return run


def test_vectorised_exp_is_within_two_ulp_of_numpy_everywhere(fused):
    x = np.concatenate([np.linspace(-708, 708, 400_001), np.random.default_rng(0).normal(scale=5, size=100_000)])
    ref = np.exp(x)
    assert np.max(np.abs(compiled_exp(np.float64)(x) - ref) / ref) <= 2 * EPS


def test_float32_exp_is_within_two_float32_ulp_everywhere(fused):
    x = np.concatenate([np.linspace(-87, 87, 400_001), np.random.default_rng(0).normal(scale=5, size=100_000)])
    x = x.astype(np.float32)
    got = compiled_exp(np.float32)(x)
    assert got.dtype == np.float32
    exact = np.exp(x.astype(np.float64))  # the float32 input's exp, before rounding to float32
    ulps = np.abs(got - exact) / np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 2


def tanh_samples(dtype, switch):
    """Values over +-12, a normal sample, tiny to 0.7 of both signs, and the 100 floats either side of ``switch``."""
    rng = np.random.default_rng(1)
    tiny = np.finfo(dtype).tiny * 1e8
    edge = dtype(switch) + np.arange(-50, 50, dtype=dtype) * np.spacing(dtype(switch))
    return np.concatenate([np.linspace(-12, 12, 400_001), rng.normal(scale=2, size=100_000),
                           np.geomspace(tiny, 0.7, 50_000), -np.geomspace(tiny, 0.7, 50_000)]).astype(dtype), edge


def tanh_ulps(got, x, exact_dtype):
    """How far ``got`` is from tanh(x), in ulp of x's dtype, the exact value taken in ``exact_dtype``."""
    exact = np.tanh(x.astype(exact_dtype))
    return (np.abs(got.astype(exact_dtype) - exact) / np.spacing(np.abs(exact).astype(x.dtype))).astype(np.float64)


def test_float32_tanh_is_within_two_float32_ulp_everywhere(fused):
    x, edge = tanh_samples(np.float32, 0.55)
    got = compiled_exp(np.float32, "make_tanh")(x)
    assert got.dtype == np.float32
    ulps = tanh_ulps(got, x, np.float64)
    assert ulps.max() <= 2, f"{ulps.max():.2f} ulp at x = {x[np.argmax(ulps)]}"
    # Either side of the switch from the series to the exp form, no worse.
    assert tanh_ulps(compiled_exp(np.float32, "make_tanh")(edge), edge, np.float64).max() <= 2


def test_float64_tanh_is_within_two_ulp_everywhere(fused):
    if np.finfo(np.longdouble).nmant < 60:
        pytest.skip(f"needs a long double with at least 60 mantissa bits for the exact tanh; here it has "
                    f"{np.finfo(np.longdouble).nmant}")
    x, edge = tanh_samples(np.float64, 0.75)
    ulps = tanh_ulps(compiled_exp(np.float64, "make_tanh")(x), x, np.longdouble)
    assert ulps.max() <= 2, f"{ulps.max():.2f} ulp at x = {x[np.argmax(ulps)]}"
    assert tanh_ulps(compiled_exp(np.float64, "make_tanh")(edge), edge, np.longdouble).max() <= 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_nan_the_sign_of_zero_and_saturates(fused, dtype):
    x = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 50.0, -1000.0, 1e-30], dtype)
    got = compiled_exp(dtype, "make_tanh")(x)
    assert np.isnan(got[0])
    assert got[1] == 0 and not np.signbit(got[1]) and got[2] == 0 and np.signbit(got[2])
    assert got[3:7].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert got[7] == dtype(1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
def test_the_activation_loop_is_vectorised(fused, dtype, kind):
    # The speed of a tanh or sigmoid layer is its loop running several values an
    # instruction. That needs the activation inlined into it: the float64 tanh is
    # beyond LLVM's own inlining threshold, so Numba inlines it (fastnet.maths.jitable).
    layers = kernel_module("fused_layers")
    kernel = fused.jit(layers.make_bias_activation(fused.activations[np.dtype(dtype)][kind]), cache=False)
    Z = np.ones((3, 4), dtype)
    kernel(Z, np.zeros(4, dtype), Z)
    ir = kernel.inspect_llvm(kernel.signatures[0])
    assert re.search(r"fdiv[a-z ]* <\d+ x (double|float)>", ir), f"no vector division in the {kind} loop"


@pytest.mark.parametrize("dtype,limit", [(np.float64, 708.0), (np.float32, 87.0)])
def test_exp_keeps_nan_and_clamps_beyond_its_limit(fused, dtype, limit):
    x = np.array([np.nan, 1000.0, -1000.0, np.inf, -np.inf, 0.0], dtype)
    got = compiled_exp(dtype)(x)
    assert np.isnan(got[0])
    expected = np.exp(np.array([limit, -limit, limit, -limit, 0.0]))
    np.testing.assert_allclose(got[1:], expected, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype,int_type", [(np.float64, np.int64), (np.float32, np.int32)])
def test_bit_reinterpretation_matches_numpy_view(fused, dtype, int_type):
    import numba

    float_of_bits, int_bits = kernel_module("fused_exp").float_of_bits, kernel_module("fused_exp").int_bits

    @numba.njit
    def round_trip(x, bits_out, back_out):
        for i in range(x.shape[0]):
            bits_out[i] = int_bits(x[i])
            back_out[i] = float_of_bits(bits_out[i])

    x = np.array([0.0, -0.0, 1.0, -2.5, 1e-30, np.inf, -np.inf, np.nan, 12582912.0], dtype)
    bits, back = np.empty(x.size, int_type), np.empty_like(x)
    round_trip(x, bits, back)
    np.testing.assert_array_equal(bits, x.view(int_type))
    np.testing.assert_array_equal(back.view(int_type), x.view(int_type))  # NaN's payload too


def assert_float32_accurate(got, X, W, b, kind, floor=0.0):
    """A float32 layer ``got`` against the float64 layer of the same inputs, within float32's own error.

    Two float32 layers need not agree with each other to a fixed tolerance: each sums
    the n_in products of a pre-activation in its own order (BLAS's blocking, the
    kernel's vector width: AVX2 and AVX-512 differ), and each order is off from the
    exact sum by up to n_in * eps * sum_j |x_j w_j| (in practice about a tenth of
    that: 0.87 at most, measured on these layers). So each pre-activation may be off
    by ``dz`` = 3 eps sum_j |x_j w_j| (+ |b|), which a layer passes on times its
    slope there, and the activation itself adds a few ulp. ``floor`` is an absolute allowance for
    values the float64 layer rounds to exactly 0.
    """
    eps = np.finfo(np.float32).eps
    X64, W64, b64 = (a.astype(np.float64) for a in (X, W, b))
    exact = np.empty(got.shape)
    reference_ops().dense(X64, W64, b64, kind, exact)
    dz = 3 * eps * (np.abs(X64) @ np.abs(W64).T + np.abs(b64))
    if kind == "softmax":  # |dp_i| <= p_i (|dz_i| + sum_j p_j |dz_j|) <= 2 p_i max_j |dz_j|
        passed_on = 2 * exact * dz.max(axis=1, keepdims=True)
    elif kind == "relu":  # its slope jumps at 0, where z's sign may differ: 1, its largest
        passed_on = dz
    else:
        passed_on = dz * reference_ops().activation_backward(kind, exact, np.ones_like(exact), np.empty_like(exact))
    allowed = passed_on + 4 * eps * np.abs(exact) + floor
    error = np.abs(got.astype(np.float64) - exact)
    worst = np.unravel_index(np.argmax(error - allowed), error.shape)
    assert np.all(error <= allowed), (f"{kind}: {got[worst]} at {worst}, float64 gives {exact[worst]}, "
                                      f"off by {error[worst]:.3g} where float32 allows {allowed[worst]:.3g}")


def _layer(m, n_in, n_out, dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(m, n_in)) * scale).astype(dtype)
    W = rng.normal(size=(n_out, n_in)).astype(dtype)
    b = rng.normal(size=n_out).astype(dtype)
    return X, W, b


# One and 30 rows are BLAS then the bias + activation kernel, 300 rows the row-parallel
# kernels (where they run).
SHAPES = [pytest.param(1, 100, 100, id="one-row"), pytest.param(30, 64, 30, id="blas-then-kernel"),
          pytest.param(300, 64, 30, id="row-parallel")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,n_in,n_out", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_dense_matches_the_reference(fused, kind, m, n_in, n_out, dtype):
    X, W, b = _layer(m, n_in, n_out, dtype)
    got, ref = np.empty((m, n_out), dtype), np.empty((m, n_out), dtype)
    fused.dense(X, W, b, kind, got)
    if dtype == "float32":
        assert_float32_accurate(got, X, W, b, kind)
        return
    reference_ops().dense(X, W, b, kind, ref)
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", KINDS)
def test_bias_activation_kernel_is_the_activation_of_z_plus_b(fused, kind, dtype):
    kernels = kernel_module("fused_layers")

    Z, _, b = _layer(37, 5, 30, dtype, scale=4)
    Z = np.ascontiguousarray(Z[:, :1] * np.ones(30, dtype))  # (37, 30)
    ref = np.empty_like(Z)
    reference_ops().activate(kind, Z + b, ref)
    separate, in_place = np.empty_like(Z), Z.copy()
    kernel = fused.kernel(kernels.make_bias_activation, dtype, kind)
    kernel(Z, b, separate)
    kernel(in_place, b, in_place)  # a separate loop when out is the input (see same_buffer)
    np.testing.assert_array_equal(in_place, separate)
    np.testing.assert_allclose(separate, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "relu", "identity"])
def test_activation_backward_kernel_in_place_and_into_another_array(fused, kind, dtype):
    kernels = kernel_module("fused_layers")

    rng = np.random.default_rng(6)
    H = rng.random((37, 30)).astype(dtype)
    G = rng.normal(size=(37, 30)).astype(dtype)
    ref = np.empty_like(G)
    reference_ops().activation_backward(kind, H, G, ref)
    separate, in_place = np.empty_like(G), G.copy()
    kernel = fused.kernel(kernels.make_activation_backward, dtype, kind)
    kernel(H, G, separate)
    kernel(H, in_place, in_place)
    np.testing.assert_array_equal(in_place, separate)
    np.testing.assert_allclose(separate, ref, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "softmax"])
def test_saturated_layers_stay_finite_quiet_and_exact(fused, kind, dtype):
    X, W, b = _layer(400, 64, 30, dtype, scale=1e3)  # pre-activations up to ~1e4
    got, ref = np.empty((400, 30), dtype), np.empty((400, 30), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fused.dense(X, W, b, kind, got)
    assert np.all(np.isfinite(got))
    # Beyond the exp's clamp the kernel gives the sigmoid of +-708 (3e-308 in float64,
    # 2e-38 in float32) where NumPy's overflowing exp gives exactly 0.
    if dtype == "float32":
        assert_float32_accurate(got, X, W, b, kind, floor=1e-37)
        return
    reference_ops().dense(X, W, b, kind, ref)
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=1e-300)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("m", [13, 257], ids=["serial", "row-parallel"])
def test_backward_steps_match_the_reference(fused, kind, dtype, m):
    rng = np.random.default_rng(3)
    H = rng.random((m, 10)).astype(dtype)
    Y = rng.random((m, 10)).astype(dtype)
    H_prev = rng.random((m, 30)).astype(dtype)
    W = rng.normal(size=(10, 30)).astype(dtype)
    results = {}
    for name, ops in (("fused", fused), ("reference", reference_ops())):
        delta = np.empty_like(H)
        cost = ops.mse_cost_and_delta(kind, H, Y, 1 / m, delta)
        hidden = ops.hidden_delta(delta, W, H_prev, kind, np.empty_like(H_prev))
        dW, db = np.empty_like(W), np.empty(10, dtype)
        ops.weight_grads(delta, H_prev, dW, db)
        results[name] = [delta, hidden, dW, db, np.asarray(cost)]
    for got, ref in zip(results["fused"], results["reference"]):
        np.testing.assert_allclose(got, ref, rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("binary", [False, True], ids=["softmax", "sigmoid"])
def test_cross_entropy_kernel_matches_the_reference(fused, binary, dtype):
    rng = np.random.default_rng(5)
    H = rng.uniform(0.01, 1, size=(37, 10))
    H = (H if binary else H / H.sum(axis=1, keepdims=True)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 37)]
    got, ref = np.empty_like(H), np.empty_like(H)
    cost = fused.cross_entropy_cost_and_delta(H, Y, binary, 1 / 37, got)
    ref_cost = reference_ops().cross_entropy_cost_and_delta(H, Y, binary, 1 / 37, ref)
    np.testing.assert_allclose(float(cost), float(ref_cost), rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hidden_delta_on_strided_arrays_takes_the_numpy_path(fused, dtype):
    rng = np.random.default_rng(5)
    H = rng.random((40, 24)).astype(dtype)[:, ::2]  # strided: the flat kernel cannot take it
    delta = rng.normal(size=(40, 5)).astype(dtype)
    W = rng.normal(size=(5, 12)).astype(dtype)
    got, ref = np.empty((40, 12), dtype), np.empty((40, 12), dtype)
    fused.hidden_delta(delta, W, H, "sigmoid", got)
    reference_ops().hidden_delta(delta, W, H, "sigmoid", ref)
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.slow  # a subprocess
def test_kernels_come_back_from_numba_s_disk_cache_in_a_new_process(fused, tmp_path):
    """Kernels are closures over the maths table; Numba must find them on disk, not recompile each start."""
    import subprocess
    import sys

    code = ("import numpy as np, fastnet\n"
            "X = np.random.default_rng(0).random((400, 64))\n"
            "Y = np.eye(10)[np.arange(400) % 10]\n"
            "net = fastnet.Network([64, 30, 10], backend='fused', seed=0)\n"
            "net.fit(X, Y, epochs=2, lr=0.1)\n"
            "from fastnet.backends import get_backend\n"
            "ops = get_backend('fused')\n"
            "print(sum(sum(k.stats.cache_misses.values()) for k in ops._compiled.values()))\n")
    run = lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: E731
    run()  # the first run may compile and save
    assert run().stdout.split()[-1] == "0"
