"""Where a digits step's time goes: its five matrix products alone, fastnet's and PyTorch's.

On a CPU the products are most of a training step, and they are the BLAS
library's work, not fastnet's: NumPy's OpenBLAS here, PyTorch's own BLAS (MKL on
x86) in the peer. Timing the same five products side by side, in the same run,
shows how much of the digits-training ratio against PyTorch is the two BLAS
libraries rather than the rest of the step.
"""

import time

import numpy as np
import pytest

from fastnet.backends import backend_status, get_backend
from fastnet.machine import numpy_blas

from .conftest import PAIR_PAUSE_S, record
from .workloads import QUICK, digits_step_operands, step_products, step_products_reference

WORKLOAD = "digits step, its five matrix products"
# Products per call to the PyTorch worker: enough that the pipe's round trip
# (~0.1 ms) is under 1 % of the call, and that its thread pool's wake-up is spread
# thin (with 20 a call, quick mode's single round read 342-687 us for 80-125 us of work).
TORCH_ITERATIONS = 200 if QUICK else 500


def assert_same_products(results, reference, dtype):
    rtol = 1e-12 if dtype == "float64" else 1e-4
    for name, expected in reference.items():
        np.testing.assert_allclose(np.asarray(results[name]), expected, rtol=rtol,
                                   atol=rtol * np.abs(expected).max(), err_msg=name)


# The backends whose fit() computes these products through Ops.product. The loop
# backends fuse each product into their own layer loops; fused, at this batch size,
# into its row-parallel layers (each thread's block product, by SciPy's BLAS on one
# thread, is followed by that block's activation), so none of them can be timed apart.
@pytest.mark.parametrize("backend", ["numpy", "cupy"])
def test_digits_step_products(benchmark, backend, dtype):
    ok, reason = backend_status(backend)
    if not ok:
        pytest.skip(f"backend {backend!r} unavailable: {reason}")
    ops = get_backend(backend)
    host = digits_step_operands(dtype)
    a = {name: ops.asarray(v, dtype) for name, v in host.items()}
    out = {name: ops.alloc(r.shape, dtype) for name, r in step_products_reference(host).items()}
    step_products(ops, a, out)
    assert_same_products({name: ops.to_numpy(r) for name, r in out.items()}, step_products_reference(host), dtype)
    if ops.on_host:
        benchmark(step_products, ops, a, out)
        note = f"NumPy's BLAS: {numpy_blas()}"
    else:
        stream = ops.xp.cuda.get_current_stream()
        benchmark(lambda: (step_products(ops, a, out), stream.synchronize()))  # the GPU's time, not the launch's
        note = "CuPy's cuBLAS"
    record(benchmark, WORKLOAD, backend, dtype, note=note)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_digits_step_products_torch(benchmark, dtype, device, torch_worker):
    if device == "cuda" and not torch_worker.call("describe")[2]:
        pytest.skip("PyTorch sees no CUDA device")
    host = digits_step_operands(dtype)
    torch_worker.call("setup_products", host, device)
    results, _ = torch_worker.call("products", 1)
    assert_same_products(results, step_products_reference(host), dtype)
    torch_worker.call("products", TORCH_ITERATIONS)  # warm-up: thread pools, CUDA context

    def pause():
        # OpenBLAS's threads, busy in this process a moment before, may still spin
        # (as in test_digits_training_torch).
        time.sleep(PAIR_PAUSE_S)
        return ("products", TORCH_ITERATIONS), {}

    benchmark.pedantic(torch_worker.call, setup=pause, rounds=1 if QUICK else 5)
    record(benchmark, WORKLOAD, f"torch {device} (peer)", dtype, calls_per_round=TORCH_ITERATIONS,
           note=f"PyTorch's BLAS: {torch_worker.call('blas')}" if device == "cpu" else "PyTorch's cuBLAS")
