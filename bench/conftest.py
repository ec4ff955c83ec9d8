"""Fixtures of the benchmark suite: one parameter per backend, skipped with the reason."""

import pytest

from fastnet.backends import BACKENDS, backend_status


def pytest_configure(config):
    config.addinivalue_line("markers", "torch: PyTorch peer, run in its own process by python -m bench")


@pytest.fixture(params=BACKENDS)
def backend(request):
    ok, reason = backend_status(request.param)
    if not ok:
        pytest.skip(f"backend {request.param!r} unavailable: {reason}")
    return request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request):
    return request.param


def record(benchmark, workload, variant, dtype=None, **extra):
    """Label a benchmark for the report: its workload row group and its variant column."""
    benchmark.group = workload if dtype is None else f"{workload} [{dtype}]"
    benchmark.extra_info.update(workload=benchmark.group, variant=variant, **extra)
