"""The ``fused`` backend's row-parallel layers against the numpy backend, before any timing.

Each compiled row kernel is run directly with 2 and 3 row blocks on a row count
that does not divide evenly, for every activation and both dtypes; the plain
Python source is checked against the compiled one; and the rules that pick the
path (block count, contiguity, the FASTNET_ROW_PARALLEL switch, which BLAS gets
one thread) are checked on their own.
"""

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from fastnet.backends import blas_threads, get_backend, row_kernels
from fastnet.backends import fused_kernels, loop_kernels
from fastnet.backends.row_parallel import PARALLEL_MIN_WORK
from fastnet.backends.loop_ops import _KINDS, _rebound

from .conftest import require_backend

RTOL = {"float64": 1e-12, "float32": 2e-5}
KINDS = ["sigmoid", "softmax", "tanh", "relu", "identity"]


@pytest.fixture(scope="module")
def fused():
    require_backend("fused")
    ops = get_backend("fused")
    if ops.row_parallel_off is not None:
        pytest.skip(f"row-parallel kernels off on this machine: {ops.row_parallel_off}")
    return ops


def _data(m, n_in, n_out, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n_in)).astype(dtype)
    W = (rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)).astype(dtype)
    b = rng.normal(size=n_out).astype(dtype)
    H = rng.random((m, n_in)).astype(dtype)  # a stored activation, in (0, 1)
    delta = rng.normal(size=(m, n_out)).astype(dtype)
    return X, W, b, H, delta


def _close(got, ref, dtype):
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_dense_rows_matches_numpy(fused, kind, parts, dtype):
    X, W, b, _, _ = _data(301, 64, 30, dtype)
    got, ref = np.empty((301, 30), dtype), np.empty((301, 30), dtype)
    fused.rows.kernel("dense_rows", np.dtype(dtype), kind)(X, W, b, got, parts)
    get_backend("numpy").dense(X, W, b, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_hidden_delta_rows_matches_numpy(fused, kind, parts, dtype):
    _, W, _, H, delta = _data(301, 30, 10, dtype)
    got, ref = np.empty((301, 30), dtype), np.empty((301, 30), dtype)
    fused.rows.kernel("hidden_delta_rows", np.dtype(dtype))(delta, W, H, _KINDS[kind], got, parts)
    get_backend("numpy").hidden_delta(delta, W, H, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_backward_step_rows_matches_numpy(fused, kind, parts, dtype):
    _, W, _, H, delta = _data(301, 30, 10, dtype, seed=1)
    got = [np.full((301, 30), np.nan, dtype), np.full((10, 30), np.nan, dtype), np.full(10, np.nan, dtype)]
    fused.rows.kernel("backward_step_rows", np.dtype(dtype))(delta, W, H, _KINDS[kind], got[1], got[2], got[0], parts)
    ref = [np.empty((301, 30), dtype), np.empty((10, 30), dtype), np.empty(10, dtype)]
    get_backend("numpy").backward_step(delta, W, H, kind, ref[1], ref[2], ref[0])
    for g, r in zip(got, ref):
        _close(g, r, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
def test_weight_grads_rows_matches_numpy(fused, parts, dtype):
    _, _, _, H, delta = _data(301, 64, 30, dtype)
    dW, db = np.full((30, 64), np.nan, dtype), np.full(30, np.nan, dtype)  # every entry must be written
    fused.rows.kernel("weight_grads_rows", np.dtype(dtype))(delta, H, dW, db, parts)
    ref_dW, ref_db = np.empty_like(dW), np.empty_like(db)
    get_backend("numpy").weight_grads(delta, H, ref_dW, ref_db)
    _close(dW, ref_dW, dtype)
    _close(db, ref_db, dtype)


def test_plain_python_row_kernels_give_the_compiled_numbers(fused):
    """The uncompiled source (prange = range, NumPy's dot, plain kernels) against the compiled one."""
    X, W, b, H, delta = _data(97, 20, 7, "float64", seed=4)
    plain_dense = _rebound(row_kernels.dense_rows, bias_activation=fused_kernels.bias_sigmoid)
    got, ref = np.empty((97, 7)), np.empty((97, 7))
    plain_dense(X, W, b, got, 3)
    fused.rows.kernel("dense_rows", np.dtype("float64"), "sigmoid")(X, W, b, ref, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-13)

    W_back = W.T.copy()  # (20, 7): X plays a delta of 20 outputs, sent back to 7
    H_back = np.ascontiguousarray(H[:, :7])
    got, ref = np.empty((97, 7)), np.empty((97, 7))
    row_kernels.hidden_delta_rows(X, W_back, H_back, loop_kernels.TANH, got, 2)
    fused.rows.kernel("hidden_delta_rows", np.dtype("float64"))(X, W_back, H_back, loop_kernels.TANH, ref, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-13)

    plain = [np.empty((97, 7)), np.empty((20, 7)), np.empty(20)]
    compiled = [np.empty((97, 7)), np.empty((20, 7)), np.empty(20)]
    row_kernels.backward_step_rows(X, W_back, H_back, loop_kernels.SIGMOID, plain[1], plain[2], plain[0], 3)
    fused.rows.kernel("backward_step_rows", np.dtype("float64"))(
        X, W_back, H_back, loop_kernels.SIGMOID, compiled[1], compiled[2], compiled[0], 3)
    for got, ref in zip(plain, compiled):
        np.testing.assert_allclose(got, ref, rtol=1e-13)

    dW, db, ref_dW, ref_db = np.empty((7, 20)), np.empty(7), np.empty((7, 20)), np.empty(7)
    row_kernels.weight_grads_rows(delta, H, dW, db, 3)
    fused.rows.kernel("weight_grads_rows", np.dtype("float64"))(delta, H, ref_dW, ref_db, 3)
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-13)
    np.testing.assert_allclose(db, ref_db, rtol=1e-13)


def test_row_parts_splits_only_layers_worth_a_launch(fused):
    X, W, b, _, _ = _data(1078, 64, 30, "float64")
    out = np.empty((1078, 30))
    threads = fused.rows.threads
    expected = min(threads, 1078 * W.size // PARALLEL_MIN_WORK)
    assert fused.rows.parts(1078, 1078 * W.size, X, W, b, out) == (expected if expected >= 2 else 0)
    # However few the rows, a big layer splits: it must not wake NumPy's BLAS threads.
    assert fused.rows.parts(2, 10**9, X, W, b, out) == 2
    assert fused.rows.parts(1, 10**9, X, W, b, out) == 0
    assert fused.rows.parts(1078, 2 * PARALLEL_MIN_WORK - 1, X, W, b, out) == 0  # too little work
    assert fused.rows.parts(1078, 1078 * W.size, np.asfortranarray(X), W, b, out) == 0
    assert fused.rows.parts(1078, 1078 * W.size, X, W.astype(np.float32), b, out) == 0


def test_fused_training_on_the_row_parallel_path_matches_numpy(fused):
    import fastnet

    rng = np.random.default_rng(2)
    X = rng.random((700, 64))
    Y = np.eye(10)[rng.integers(0, 10, 700)]
    assert fused.rows.parts(700, 700 * 64 * 30, X, X, X, X) >= 2 or fused.rows.threads < 2
    costs = {}
    for backend in ("numpy", "fused"):
        net = fastnet.Network([64, 30, 10], backend=backend, seed=0)
        costs[backend] = net.fit(X, Y, epochs=30, lr=0.5)
    np.testing.assert_allclose(costs["fused"], costs["numpy"], rtol=1e-10)


def test_row_parallel_switch_and_description():
    require_backend("fused")
    code = "from fastnet.backends import get_backend; ops = get_backend('fused'); print(ops.row_parallel_description())"
    env = dict(os.environ, FASTNET_ROW_PARALLEL="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "serial (turned off by FASTNET_ROW_PARALLEL=0)"


def _controller(path, threads=2):
    return SimpleNamespace(filepath=path, internal_api="openblas", user_api="blas", num_threads=threads)


def test_scipy_blas_is_its_own_library_never_numpys():
    import numpy
    import scipy

    scipy_dir = os.path.dirname(os.path.abspath(scipy.__file__))
    numpy_dir = os.path.dirname(os.path.abspath(numpy.__file__))
    own = _controller(scipy_dir + ".libs/libscipy_openblas.so")
    numpys = _controller(numpy_dir + ".libs/libscipy_openblas64_.so")
    assert blas_threads.scipy_blas([numpys, own]) == (own, None)
    shared = _controller("/usr/lib/libopenblas.so.0")  # a distribution's SciPy and NumPy on one library
    controller, reason = blas_threads.scipy_blas([shared])
    assert controller is None and "/usr/lib/libopenblas.so.0" in reason


def test_only_scipys_blas_is_set_to_one_thread(fused):
    libraries = blas_threads.blas_libraries()
    scipys, _ = blas_threads.scipy_blas(libraries)
    assert scipys.num_threads == 1
    numpys = [c for c in libraries if "numpy" in c.filepath and c.filepath != scipys.filepath]
    # NumPy's count as a process without fastnet has it.
    code = ("import numpy; from threadpoolctl import threadpool_info; "
            "print([p['num_threads'] for p in threadpool_info() if 'numpy' in p['filepath']][0])")
    untouched = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert [c.num_threads for c in numpys] == [untouched]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_weight_grads_rows_sums_small_matrix_chunks(fused, dtype):
    """Blocks of ~1000 rows of 30 x 64 exceed the small-matrix limit and are summed in chunks."""
    _, _, _, H, delta = _data(2001, 64, 30, dtype, seed=3)
    dW, db = np.empty((30, 64), dtype), np.empty(30, dtype)
    fused.rows.kernel("weight_grads_rows", np.dtype(dtype))(delta, H, dW, db, 2)
    ref_dW = delta.astype(np.float64).T @ H.astype(np.float64)
    _close(dW, ref_dW, dtype)
    _close(db, delta.astype(np.float64).sum(axis=0), dtype)
    plain_dW, plain_db = np.empty_like(dW), np.empty_like(db)
    row_kernels.weight_grads_rows(delta, H, plain_dW, plain_db, 2)  # uncompiled, chunks of the same limit
    _close(plain_dW, ref_dW, dtype)


def test_a_wide_block_gradient_is_one_product_not_row_sized_chunks(monkeypatch):
    """The uncompiled block sum of a 100 x 784 gradient: one np.dot, not one per few rows."""
    calls = []
    real_dot = np.dot
    monkeypatch.setattr(np, "dot", lambda *a, **k: calls.append(1) or real_dot(*a, **k))
    rng = np.random.default_rng(0)
    delta, H = rng.normal(size=(300, 100)), rng.random((300, 784))
    dW, db = np.empty((100, 784)), np.empty(100)
    row_kernels.weight_grads_rows(delta, H, dW, db, 1)
    assert len(calls) == 1
    np.testing.assert_allclose(dW, delta.T @ H, rtol=1e-12)


def test_more_blocks_than_threads_and_nearly_as_many_as_rows(fused):
    """17 rows in 16 blocks (a 16-thread machine's split): every block has a row, every row is computed."""
    X, W, b, H, delta = _data(17, 64, 30, "float64", seed=7)
    out = np.full((17, 30), np.nan)
    fused.rows.kernel("dense_rows", np.dtype("float64"), "tanh")(X, W, b, out, 16)
    ref = np.empty_like(out)
    get_backend("numpy").dense(X, W, b, "tanh", ref)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    dW, db = np.full((30, 64), np.nan), np.full(30, np.nan)
    fused.rows.kernel("weight_grads_rows", np.dtype("float64"))(delta, H, dW, db, 16)
    np.testing.assert_allclose(dW, delta.T @ H, rtol=1e-12)
    np.testing.assert_allclose(db, delta.sum(axis=0), rtol=1e-12)
    assert [row_kernels.block_rows(17, 16, p) for p in (0, 15)] == [(0, 1), (15, 17)]
