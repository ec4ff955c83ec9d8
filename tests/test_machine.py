"""The machine description that ``fastnet info`` and the benchmark report print."""

import pytest

from fastnet import machine


def test_numpy_blas_names_numpys_own_library_with_its_kernels_and_threads():
    pools = [
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30", "num_threads": 2,
         "architecture": "Haswell", "filepath": "/venv/lib/scipy.libs/libscipy_openblas.so"},
        {"user_api": "openmp", "internal_api": "openmp", "version": None, "num_threads": 2, "filepath": "/x/libgomp.so"},
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31", "num_threads": 2,
         "architecture": "SkylakeX", "filepath": "/venv/lib/numpy.libs/libscipy_openblas64_.so"},
    ]
    assert machine.numpy_blas(pools) == "openblas 0.3.31, SkylakeX kernels, 2 threads"
    assert machine.numpy_blas(pools[1:2]) == "unknown (threadpoolctl found none)"
    mkl = [{"user_api": "blas", "internal_api": "mkl", "version": None, "num_threads": 4, "filepath": "/conda/libmkl_rt.so"}]
    assert machine.numpy_blas(mkl) == "mkl, 4 threads"  # the only BLAS, wherever it lives


@pytest.mark.parametrize("flags,name", [(["fpu", "avx", "avx2", "avx512f"], "AVX-512"), (["avx", "avx2", "fma"], "AVX2"),
                                        (["sse2", "sse4_2"], "SSE4.2"), ([], "vector width unknown")])
def test_the_widest_vector_extension_is_named_from_the_cpu_flags(flags, name):
    assert machine.widest_vector_extension(flags) == name


def test_cpu_description_names_the_cores_and_the_vector_width():
    text = machine.cpu_description()
    assert "logical cores" in text and text.endswith(")")
    assert any(width in text for width in ("AVX-512", "AVX2", "AVX", "SSE4.2", "vector width unknown"))


def test_small_matrix_path_is_openblas_avx512_kernels_only():
    from fastnet.tuning import blas_small_matrix_path

    assert blas_small_matrix_path({"internal_api": "openblas", "architecture": "SkylakeX"})
    assert blas_small_matrix_path({"internal_api": "openblas", "architecture": "SapphireRapids"})
    assert not blas_small_matrix_path({"internal_api": "openblas", "architecture": "Haswell"})
    assert not blas_small_matrix_path({"internal_api": "mkl", "architecture": None})
