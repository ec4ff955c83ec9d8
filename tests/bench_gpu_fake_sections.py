"""Stand-in sections for tests/test_bench_gpu.py: one that works, one that raises, ones that hang, one that dies."""

import os
import time


def works():
    return {"value": 42}


def raises():
    raise RuntimeError("cudaErrorIllegalAddress (a stand-in)")


def hangs():
    time.sleep(600)


def measures_then_hangs():
    from bench.gpu import save_partial

    save_partial({"float32": {"best": 0.02}})
    time.sleep(600)


def measures_then_raises():
    from bench.gpu import save_partial

    save_partial({"float32": {"best": 0.02}})
    raise RuntimeError("cudaErrorLaunchFailure (a stand-in)")


def dies():
    os._exit(3)  # as a crashed CUDA context would end the process


def smoke():
    """Loads its kernels only with minor version compatibility, as under a driver older than the PTX."""
    if os.environ.get("NUMBA_CUDA_ENABLE_MINOR_VERSION_COMPATIBILITY") != "1":
        return {"kernel on the null stream": "RuntimeError: CUDA_ERROR_UNSUPPORTED_PTX_VERSION (a stand-in)"}
    return {"kernel on the null stream": "ok"}


def sees_the_environment():
    return {"mvc": os.environ.get("NUMBA_CUDA_ENABLE_MINOR_VERSION_COMPATIBILITY")}
