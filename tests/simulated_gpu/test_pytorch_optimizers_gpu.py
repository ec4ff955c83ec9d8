"""RMSprop and AdamW on the simulated GPU, fused step and layered: PyTorch's weights to 1e-10 after 20 updates."""

import pytest

from fastnet.backends.cupy_ops import CupyOps
from tests.test_pytorch_optimizers import check_matches_pytorch


@pytest.mark.parametrize("name", ["rmsprop", "adamw"])
def test_the_fused_step_takes_pytorch_s_steps(name):
    check_matches_pytorch("cupy", name)


@pytest.mark.parametrize("name", ["rmsprop", "adamw"])
def test_the_layered_step_takes_pytorch_s_steps(name):
    check_matches_pytorch(CupyOps(simulate=True, fuse_steps=False), name)
