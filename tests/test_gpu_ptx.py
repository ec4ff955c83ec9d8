"""Every GPU kernel compiles for a real GPU (PTX for sm_90), and float32 kernels do float32 arithmetic.

The CUDA simulator runs the kernels as Python, so it cannot catch what only the CUDA
compiler rejects (a shared array whose size is not a constant, a type that does not
unify) or a float32 kernel that silently computes in float64 (a bare ``1.0`` in the
maths). This compiles them all (29 kernels, both dtypes) to PTX in a process of its own, with NVRTC and NVVM from
``numba-cuda[cu13]`` and no GPU; CI installs those (see .ci/run).
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips

HERE = os.path.dirname(os.path.abspath(__file__))

# Float64 is intended in one place of a float32 kernel: the update rule's constants
# (Adam's bias corrections 1 - beta**t, RMSprop's 1 - alpha), computed in float64 once per
# thread from float64 settings, as on the host, then cast; never per element.
FLOAT64_ON_PURPOSE = ("reduce_update adam float32", "reduce_update adamw float32", "reduce_update rmsprop float32")


def nvrtc_missing():
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        load_nvidia_dynamic_lib("nvrtc")
        load_nvidia_dynamic_lib("nvvm")
    except Exception as exc:  # ImportError, or the libraries not found
        return f"NVRTC/NVVM not found ({type(exc).__name__}); pip install 'numba-cuda[cu13]' to compile GPU kernels here"
    return None


@pytest.fixture(scope="module")
def compiled():
    reason = nvrtc_missing()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "ptx", "compile_kernels.py")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    return result["compiled"]


def test_every_gpu_kernel_compiles_for_sm_90(compiled):
    names = " ".join(compiled)
    for kernel in ("tile_step", "reduce_update", "reset", "bias_activation", "activation_backward", "cost_and_delta",
                   "column_sums", "axpy", "update"):
        assert f"{kernel} " in names
    assert len(compiled) == 58  # 29 kernels (compile_kernels.py's list) in two dtypes


def test_float32_kernels_compute_in_float32(compiled):
    arithmetic = ("add", "sub", "mul", "div", "fma", "ex2", "lg2", "sqrt", "rcp")
    for name, ops in compiled.items():
        if name.endswith("float32") and name not in FLOAT64_ON_PURPOSE:
            slow = [op for op in ops if op.split(".")[0] in arithmetic]
            assert not slow, f"{name} does float64 arithmetic: {slow}"
