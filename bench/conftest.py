"""Fixtures of the benchmark suite: one parameter per backend, skipped with the reason."""

import importlib.util

import pytest

from fastnet.backends import BACKENDS, backend_status

# Seconds of idle before each timed round that follows another library's work, so
# that the previous round's BLAS or OpenMP threads, which spin for a while after
# their last job, have gone to sleep and do not compete with the next round.
PAIR_PAUSE_S = 0.3


def _peer_worker(module, describe, missing):
    """A worker process hosting the peer built on ``module`` (see :mod:`bench.torch_worker`), or a skip saying why not."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(missing)
    from .torch_worker import TorchWorker

    with TorchWorker() as worker:
        if worker.call(describe) is None:
            pytest.skip(f"{module} is installed but cannot be imported in the worker process")
        yield worker


@pytest.fixture(scope="session")
def torch_worker():
    """The PyTorch peer's own process."""
    yield from _peer_worker("torch", "describe", "PyTorch is not installed (optional peer: pip install torch)")


@pytest.fixture(scope="session")
def jax_worker():
    """The JAX peer's own process (another worker process than PyTorch's)."""
    yield from _peer_worker("jax", "describe_jax", "JAX is not installed (optional peer: pip install jax)")


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
