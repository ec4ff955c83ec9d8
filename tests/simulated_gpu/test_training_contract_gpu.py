"""The training driver's contract (tests/test_training_contract.py) on the simulated GPU's two runners.

``cupy`` trains these small networks with the fused step (two kernels an update,
double-buffered state, one readback a chunk); ``CupyOps(fuse_steps=False)`` with the
layered updates, checked once a chunk. The layered runner is the same Python code that
tests/test_training_contract.py runs on the CPU (the reference Ops with chunked checks), so
here it gets one case; the fused step, whose bookkeeping is its own, gets them all. Fewer
positions than on the CPU: the simulator runs a Python thread per CUDA thread.
"""

import pytest

from fastnet.backends.cupy_ops import CupyOps
from tests.test_training_contract import (  # noqa: F401  (collected here, with this module's backends)
    check_ctrl_c_keeps_finished_updates,
    check_divergence_at_chunk_position,
    test_interrupted_run_resumes_from_its_checkpoint_to_the_uninterrupted_weights,
    test_mini_batch_divergence_inside_an_epoch_keeps_the_batches_before_it,
    test_on_gradient_sits_between_the_gradient_and_its_application,
)


@pytest.fixture
def make_backend():
    return lambda: "cupy"  # small networks take the fused step


@pytest.mark.parametrize("finished", [0, 3])
def test_ctrl_c_inside_a_chunk_keeps_every_finished_update(monkeypatch, make_backend, finished):
    check_ctrl_c_keeps_finished_updates(monkeypatch, make_backend, finished)


@pytest.mark.filterwarnings("ignore::fastnet.training.CostRoseWarning")  # the cost rises before it overflows
@pytest.mark.parametrize("done_before", [0, 1])
def test_divergence_is_found_at_its_update_at_every_position_of_a_chunk(monkeypatch, make_backend, done_before):
    check_divergence_at_chunk_position(monkeypatch, make_backend, done_before, chunk=2)


def test_ctrl_c_inside_a_layered_chunk_keeps_every_finished_update(monkeypatch):
    check_ctrl_c_keeps_finished_updates(monkeypatch, lambda: CupyOps(simulate=True, fuse_steps=False), 3)
