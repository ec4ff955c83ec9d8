"""The ``fused`` backend's row-parallel layers against the reference Ops, before any timing.

Each compiled row kernel is run directly with 2 and 3 row blocks on a row count
that does not divide evenly, for every activation and both dtypes; and the rules
that pick the path (block count, contiguity, the FASTNET_ROW_PARALLEL switch,
which BLAS gets one thread, and for how long) are checked on their own.
"""

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from fastnet.backends import get_backend
from fastnet.backends.fused import blas_threads
from fastnet.tuning import TUNING
from fastnet.kernel_modules import kernel_module

from .conftest import reference_ops, require_backend

RTOL = {"float64": 1e-12, "float32": 2e-5}
KINDS = ["sigmoid", "tanh", "relu", "identity"]  # the softmax is never split (see FusedOps._parts)


@pytest.fixture(scope="module")
def fused():
    require_backend("fused")
    ops = get_backend("fused")
    if ops.split.off is not None:
        pytest.skip(f"row-parallel kernels off on this machine: {ops.split.off}")
    return ops


def rows():
    rows = kernel_module("fused_rows")

    return rows


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
def test_dense_rows_matches_the_reference(fused, kind, parts, dtype):
    X, W, b, _, _ = _data(301, 64, 30, dtype)
    got, ref = np.empty((301, 30), dtype), np.empty((301, 30), dtype)
    fused.kernel(rows().make_dense_rows, dtype, kind)(X, W, b, got, parts)
    reference_ops().dense(X, W, b, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("m", [1, 3, 15])
def test_dense_columns_matches_the_reference(fused, m, kind, parts, dtype):
    X, W, b, _, _ = _data(m, 64, 31, dtype)
    got, ref = np.full((m, 31), np.nan, dtype), np.empty((m, 31), dtype)  # every entry must be written
    fused.kernel(rows().make_dense_columns, dtype, kind)(X, W, b, got, parts)
    reference_ops().dense(X, W, b, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("m", [1, 2, 2 * TUNING.min_block_rows - 1])
def test_a_batch_too_short_for_two_row_blocks_splits_its_output_neurons(fused, all_cores_free, monkeypatch, m):
    # A single prediction through a wide layer, or a few: it is split by W's rows
    # (output neurons), where a row split would leave threads idle or give each one a
    # block of rows too short to pay for its product (TUNING.min_block_rows).
    asked = []
    parts = fused.split.parts
    monkeypatch.setattr(fused.split, "parts", lambda count, work, *arrays: asked.append(count) or parts(count, work, *arrays))
    X, W, b, _, _ = _data(m, 784, 1024, "float64")
    layer = fused.dense_function(m, 784, 1024, "sigmoid")
    got, ref = np.full((m, 1024), np.nan), np.empty((m, 1024))
    layer(X, W, b, got)
    reference_ops().dense(X, W, b, "sigmoid", ref)
    _close(got, ref, "float64")
    assert asked == [1024] and parts(1024, m * 784 * 1024) >= 2


def test_a_batch_of_two_row_blocks_splits_its_rows(fused, all_cores_free, monkeypatch):
    # As many output neurons as rows: not a wider layer, whose neurons would be split
    # (tests/test_neuron_parallel.py).
    asked = []
    parts = fused.split.parts
    monkeypatch.setattr(fused.split, "parts", lambda count, work, *arrays: asked.append(count) or parts(count, work, *arrays))
    m = 2 * TUNING.min_block_rows
    X, W, b, _, _ = _data(m, 784, m, "float64")
    got, ref = np.full((m, m), np.nan), np.empty((m, m))
    fused.dense_function(m, 784, m, "sigmoid")(X, W, b, got)
    reference_ops().dense(X, W, b, "sigmoid", ref)
    _close(got, ref, "float64")
    assert asked == [m] and parts(m, m * 784 * m) == 2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_hidden_delta_rows_matches_the_reference(fused, kind, parts, dtype):
    _, W, _, H, delta = _data(301, 30, 10, dtype)
    got, ref = np.empty((301, 30), dtype), np.empty((301, 30), dtype)
    fused.kernel(rows().make_hidden_delta_rows, dtype, kind)(delta, W, H, got, parts)
    reference_ops().hidden_delta(delta, W, H, kind, ref)
    _close(got, ref, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_backward_step_rows_matches_the_reference(fused, kind, parts, dtype):
    _, W, _, H, delta = _data(301, 30, 10, dtype, seed=1)
    got = [np.full((301, 30), np.nan, dtype), np.full((10, 30), np.nan, dtype), np.full(10, np.nan, dtype)]
    fused.kernel(rows().make_backward_step_rows, dtype, kind)(delta, W, H, got[1], got[2], got[0], parts)
    ref = [np.empty((301, 30), dtype), np.empty((10, 30), dtype), np.empty(10, dtype)]
    reference_ops().backward_step(delta, W, H, kind, ref[1], ref[2], ref[0])
    for g, r in zip(got, ref):
        _close(g, r, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("parts", [2, 3])
def test_weight_grads_rows_matches_the_reference(fused, parts, dtype):
    _, _, _, H, delta = _data(301, 64, 30, dtype)
    dW, db = np.full((30, 64), np.nan, dtype), np.full(30, np.nan, dtype)  # every entry must be written
    fused.kernel(rows().make_weight_grads_rows, dtype)(delta, H, dW, db, parts)
    ref_dW, ref_db = np.empty_like(dW), np.empty_like(db)
    reference_ops().weight_grads(delta, H, ref_dW, ref_db)
    _close(dW, ref_dW, dtype)
    _close(db, ref_db, dtype)


@pytest.fixture
def all_cores_free(fused, monkeypatch):
    """The split as on an idle machine: a test suite runs subprocesses, which take cores for a while."""
    from fastnet.backends.fused import row_rule

    monkeypatch.setattr(row_rule, "free_cores", lambda: fused.split.threads)


def test_row_parts_splits_only_layers_worth_a_launch(fused, all_cores_free):
    X, W, b, _, _ = _data(1078, 64, 30, "float64")
    out = np.empty((1078, 30))
    threads, least = fused.split.threads, TUNING.parallel_min_work
    # What a split must be, not how it is computed: never more blocks than threads, each
    # block worth a launch, and more work never split into fewer blocks.
    counts = [fused.split.parts(1078, work, X, W, b, out) for work in (least, 2 * least, 5 * least, 10**9)]
    for work, parts in zip((least, 2 * least, 5 * least, 10**9), counts):
        assert parts == 0 or 2 <= parts <= threads
        assert parts == 0 or work // parts >= least
    assert counts == sorted(counts) and counts[0] == 0
    assert counts[-1] == (threads if threads >= 2 else 0)
    # However big the layer, a block has at least min_block_rows rows: a block's product
    # packs all of W, which a few rows do not earn back.
    rows = TUNING.min_block_rows
    assert fused.split.parts(2 * rows, 10**9, X, W, b, out) == 2
    assert fused.split.parts(2 * rows - 1, 10**9, X, W, b, out) == 0
    assert fused.split.parts(1, 10**9, X, W, b, out) == 0
    assert fused.split.parts(1078, 2 * TUNING.parallel_min_work - 1, X, W, b, out) == 0  # too little work
    assert fused.split.parts(1078, 1078 * W.size, np.asfortranarray(X), W, b, out) == 0
    assert fused.split.parts(1078, 1078 * W.size, X, W.astype(np.float32), b, out) == 0


def test_fused_training_on_the_row_parallel_path_matches_the_reference(fused, all_cores_free):
    import fastnet

    rng = np.random.default_rng(2)
    X = rng.random((700, 64))
    Y = np.eye(10)[rng.integers(0, 10, 700)]
    assert fused.split.parts(700, 700 * 64 * 30, X, X, X, X) >= 2 or fused.split.threads < 2
    costs = {}
    for name, backend in (("reference", reference_ops()), ("fused", "fused")):
        net = fastnet.Network([64, 30, 10], backend=backend, seed=0)
        costs[name] = net.fit(X, Y, epochs=30, lr=0.5)
    np.testing.assert_allclose(costs["fused"], costs["reference"], rtol=1e-10)


@pytest.mark.slow  # a subprocess
def test_row_parallel_switch_and_description():
    require_backend("fused")
    code = "from fastnet.backends import get_backend; ops = get_backend('fused'); print(ops.row_parallel_description())"
    env = dict(os.environ, FASTNET_ROW_PARALLEL="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith("serial: on one thread, ") and out.strip().endswith("(turned off by FASTNET_ROW_PARALLEL=0)")


def plain_weight_grads_rows():
    """The row kernel of weight gradients, uncompiled (prange is range in Python), with the tuned chunk limit."""
    return rows().make_weight_grads_rows(rows().make_block_sums(TUNING.blas_small_matrix, TUNING.small_matrix_min_rows))


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


def test_scipys_blas_is_on_one_thread_only_while_fused_runs(fused):
    from threadpoolctl import threadpool_info

    from fastnet.backends.fused import blas_threads

    scipys, _ = blas_threads.scipy_blas(blas_threads.blas_libraries())
    before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    seen = []
    with fused.running():
        seen.append(scipys.get_num_threads())
        with fused.running():  # nested, as a fit's forward passes are
            seen.append(scipys.get_num_threads())
        seen.append(scipys.get_num_threads())
    assert seen == [1, 1, 1]
    after = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    assert after == before and before[scipys.filepath] == scipys.get_num_threads()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_weight_grads_rows_sums_small_matrix_chunks(fused, dtype):
    """Blocks of ~1000 rows of 30 x 64 exceed the small-matrix limit and are summed in chunks."""
    _, _, _, H, delta = _data(2001, 64, 30, dtype, seed=3)
    dW, db = np.empty((30, 64), dtype), np.empty(30, dtype)
    fused.kernel(rows().make_weight_grads_rows, dtype)(delta, H, dW, db, 2)
    ref_dW = delta.astype(np.float64).T @ H.astype(np.float64)
    _close(dW, ref_dW, dtype)
    _close(db, delta.astype(np.float64).sum(axis=0), dtype)
    plain_dW, plain_db = np.empty_like(dW), np.empty_like(db)
    plain_weight_grads_rows()(delta, H, plain_dW, plain_db, 2)  # uncompiled, chunks of the same limit
    _close(plain_dW, ref_dW, dtype)


def test_a_wide_block_gradient_is_one_product_not_row_sized_chunks(monkeypatch):
    """The uncompiled block sum of a 100 x 784 gradient: one np.dot, not one per few rows."""
    calls = []
    real_dot = np.dot
    monkeypatch.setattr(np, "dot", lambda *a, **k: calls.append(1) or real_dot(*a, **k))
    rng = np.random.default_rng(0)
    delta, H = rng.normal(size=(300, 100)), rng.random((300, 784))
    dW, db = np.empty((100, 784)), np.empty(100)
    plain_weight_grads_rows()(delta, H, dW, db, 1)
    assert len(calls) == 1
    np.testing.assert_allclose(dW, delta.T @ H, rtol=1e-12)


def test_more_blocks_than_threads_and_nearly_as_many_as_rows(fused):
    """17 rows in 16 blocks (a 16-thread machine's split): every block has a row, every row is computed."""
    X, W, b, H, delta = _data(17, 64, 30, "float64", seed=7)
    out = np.full((17, 30), np.nan)
    fused.kernel(rows().make_dense_rows, "float64", "tanh")(X, W, b, out, 16)
    ref = np.empty_like(out)
    reference_ops().dense(X, W, b, "tanh", ref)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    dW, db = np.full((30, 64), np.nan), np.full(30, np.nan)
    fused.kernel(rows().make_weight_grads_rows, "float64")(delta, H, dW, db, 16)
    np.testing.assert_allclose(dW, delta.T @ H, rtol=1e-12)
    np.testing.assert_allclose(db, delta.sum(axis=0), rtol=1e-12)
    assert [rows().block_rows(17, 16, p) for p in (0, 15)] == [(0, 1), (15, 17)]
