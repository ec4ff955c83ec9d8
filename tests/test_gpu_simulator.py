"""Every GPU kernel and the GPU training step, run on Numba's CUDA simulator in CI.

The simulator must be switched on before numba.cuda is first imported, so the tests in
tests/simulated_gpu run in a pytest process of their own with NUMBA_ENABLE_CUDASIM=1.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None and importlib.util.find_spec("numba.cuda") is None,
                    reason="numba-cuda is not installed (pip install -e '.[test]' installs it)")
def test_gpu_kernels_and_step_pass_on_the_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(HERE, "simulated_gpu")], cwd=os.path.dirname(HERE), env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1]
