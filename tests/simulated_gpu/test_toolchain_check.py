"""The cupy backend runs one tiny kernel before it calls the GPU usable (fastnet.backends.cupy_ops.CupyOps.check_kernels_run).

Here on the simulator the kernel runs and passes; a launch that fails as a driver
older than numba-cuda's PTX fails is turned into a message that says what to do.
"""

import pytest

from fastnet.backends.cupy_ops import CupyOps


def test_the_test_kernel_runs_and_checks_its_result():
    CupyOps(simulate=True).check_kernels_run()


def test_a_kernel_that_cannot_load_is_named_with_the_fix(monkeypatch):
    ops = CupyOps(simulate=True)

    def unsupported(*args):
        raise RuntimeError("[222] Call to cuModuleLoadDataEx results in CUDA_ERROR_UNSUPPORTED_PTX_VERSION")

    monkeypatch.setattr(ops, "launch", unsupported)
    with pytest.raises(RuntimeError, match="NUMBA_CUDA_ENABLE_MINOR_VERSION_COMPATIBILITY=1") as raised:
        ops.check_kernels_run()
    assert "PTX newer than the driver" in str(raised.value) and "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" in str(raised.value)


def test_a_kernel_that_gives_a_wrong_answer_is_named(monkeypatch):
    ops = CupyOps(simulate=True)
    monkeypatch.setattr(ops, "launch", lambda *args: None)  # runs nothing: param stays [1, 2, 3]
    with pytest.raises(RuntimeError, match=r"gave \[1.0, 2.0, 3.0\], not \[3, 4, 5\]"):
        ops.check_kernels_run()
