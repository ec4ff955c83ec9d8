"""The fused CUDA kernels: shipped in the wheel, compilable, and equal to the numpy Ops on a GPU.

The GPU tests validate every kernel against the CPU reference; they skip, with
the registry's reason, where CuPy or a GPU is missing.
"""

import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from fastnet.backends import get_backend
from fastnet.backends.cuda_kernels import SOURCES, kernel_sources

from .conftest import require_backend


def test_sources_are_found_with_the_header_inlined():
    for real in ("float", "double"):
        texts = kernel_sources(real)
        assert set(texts) == set(SOURCES)
        assert all(t.startswith(f"#define REAL {real}\n") and "#include" not in t for t in texts.values())
        assert "fastnet_derivative" in texts["fused_layers.cu"]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed: cannot compile-check the kernels")
@pytest.mark.parametrize("real", ["float", "double"])
def test_the_text_handed_to_nvrtc_compiles_for_h100(tmp_path, real):
    for name, text in kernel_sources(real).items():
        src = tmp_path / name
        src.write_text(text)
        result = subprocess.run(["nvcc", "-cubin", "-arch=sm_90", "-o", str(tmp_path / "k.cubin"), str(src)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_wheel_ships_the_kernels(tmp_path):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("fastnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in (*SOURCES, "activations.cuh"):
        assert f"fastnet/kernels/{name}" in names
    assert "fastnet/backends/cuda_kernels.py" in names and "fastnet/cli/__init__.py" in names
    assert "fastnet/tutorials/xor.py" in names


# -- on a GPU: every kernel against the numpy Ops -----------------------------------


@pytest.fixture(params=["float64", "float32"])
def gpu(request):
    require_backend("cupy")
    import cupy

    from fastnet.backends.cuda_kernels import CudaKernels

    return cupy, CudaKernels(request.param), np.dtype(request.param)


def tolerance(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["identity", "sigmoid", "tanh", "relu", "softmax"])
def test_bias_activate_matches_numpy(gpu, kind):
    cp, k, dtype = gpu
    rng = np.random.default_rng(0)
    Z, b = rng.normal(scale=3, size=(37, 11)).astype(dtype), rng.normal(size=11).astype(dtype)
    Z[0, :3] = [1e4, -1e4, 0]  # stability at the extremes
    ref = get_backend("numpy").activate(kind, Z + b, np.empty_like(Z))
    out = cp.asarray(Z)
    k.bias_activate(out, cp.asarray(b), kind)
    np.testing.assert_allclose(out.get(), ref, **tolerance(dtype))


@pytest.mark.gpu
@pytest.mark.parametrize("kind,squared_error", [("sigmoid", True), ("tanh", True), ("relu", True), ("identity", True), ("sigmoid", False)])
def test_output_and_hidden_delta_match_numpy(gpu, kind, squared_error):
    cp, k, dtype = gpu
    ops = get_backend("numpy")
    rng = np.random.default_rng(1)
    H = ops.activate(kind, rng.normal(size=(29, 7)).astype(dtype), np.empty((29, 7), dtype))
    Y, G = rng.random((29, 7)).astype(dtype), rng.normal(size=(29, 7)).astype(dtype)
    ref = ops.scaled_difference(H, Y, 1 / 29, np.empty_like(H))
    if squared_error:
        ops.activation_backward(kind, H, ref, ref)
    D = cp.empty(H.shape, dtype)
    k.output_delta(cp.asarray(H), cp.asarray(Y), D, 1 / 29, kind, squared_error)
    np.testing.assert_allclose(D.get(), ref, **tolerance(dtype))
    hidden = cp.asarray(G)
    k.hidden_delta(hidden, cp.asarray(H), kind)
    np.testing.assert_allclose(hidden.get(), ops.activation_backward(kind, H, G, np.empty_like(G)), **tolerance(dtype))


@pytest.mark.gpu
def test_bias_grad_and_updates_match_numpy(gpu):
    cp, k, dtype = gpu
    ops = get_backend("numpy")
    rng = np.random.default_rng(2)
    D = rng.normal(size=(1000, 13)).astype(dtype)
    db = cp.empty(13, dtype)
    k.bias_grad(cp.asarray(D), db)
    np.testing.assert_allclose(db.get(), D.sum(axis=0), **tolerance(dtype) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4))
    p, g = rng.normal(size=50).astype(dtype), rng.normal(size=50).astype(dtype)
    p_gpu = cp.asarray(p)
    k.sgd_update(p_gpu, cp.asarray(g), 0.1)
    np.testing.assert_allclose(p_gpu.get(), p - dtype.type(0.1) * g, **tolerance(dtype))
    m1, m2 = np.zeros_like(p), np.zeros_like(p)
    ref_p = p.copy()
    ops.adam_update(ref_p, g, m1, m2, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001)
    p_gpu, m1_gpu, m2_gpu = cp.asarray(p), cp.zeros_like(cp.asarray(p)), cp.zeros_like(cp.asarray(p))
    k.adam_update(p_gpu, cp.asarray(g), m1_gpu, m2_gpu, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001)
    np.testing.assert_allclose(p_gpu.get(), ref_p, **tolerance(dtype))
