"""Stand-in sections for tests/test_bench_gpu.py: one that works, one that raises, one that hangs, one that dies."""

import os
import time


def works():
    return {"value": 42}


def raises():
    raise RuntimeError("cudaErrorIllegalAddress (a stand-in)")


def hangs():
    time.sleep(600)


def dies():
    os._exit(3)  # as a crashed CUDA context would end the process
