"""What the fused step does when capturing a chunk as a CUDA graph fails (fastnet/training/fused_gpu_step.py).

The simulator has no graphs, so the stream here is a stand-in that records what is
asked of it; the FusedStep, its kernels and its bookkeeping are the real ones. A
capture that fails must not keep a partial graph, must not hide the launch's error
behind ``end_capture``'s, and must not count captured iterations as run.
"""

import numpy as np
import pytest

import fastnet
from fastnet.optimizers import make_optimizer

BATCHES = ((0, 20), (0, 20), (0, 20))


class RecordingStream:
    def __init__(self, end_error=None):
        self.calls, self.end_error = [], end_error

    def begin_capture(self):
        self.calls.append("begin")

    def end_capture(self):
        self.calls.append("end")
        if self.end_error is not None:
            raise self.end_error
        return "the graph"


def fused_step(stream, fail_at=None, error=RuntimeError("launch failed: boom")):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 4)), np.eye(2)[rng.integers(0, 2, 20)]
    net = fastnet.Network([4, 3, 2], output_activation="softmax", loss="cross_entropy", backend="cupy", seed=0)
    step = net.ops.fused_step(net, make_optimizer("gd", net.ops, net._param_buffer), X, Y, 0.1, 0.0, 20)
    assert step is not None, "this small network takes the fused step"
    launches = []

    def launch(kernel, grid, block, *args):
        if len(launches) == fail_at:
            raise error
        launches.append(kernel)

    step._stream, step._launch_on_stream = stream, launch
    return step, launches


def test_a_launch_that_fails_inside_the_capture_ends_it_drops_the_graph_and_says_why():
    stream = RecordingStream(end_error=RuntimeError("cudaErrorStreamCaptureInvalidated"))
    step, _ = fused_step(stream, fail_at=3)
    with pytest.warns(RuntimeWarning, match="launch failed: boom"):
        assert step._capture(BATCHES) is None
    assert stream.calls == ["begin", "end"]  # the capture is ended, its own error set aside
    assert step.capture_error == "RuntimeError: launch failed: boom"
    assert step._graphs == {} and step._launched == 0  # nothing kept, nothing counted as run


def test_ctrl_c_inside_the_capture_ends_it_and_counts_nothing_as_run():
    stream = RecordingStream()
    step, _ = fused_step(stream, fail_at=4, error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        step._capture(BATCHES)
    assert stream.calls == ["begin", "end"] and step._graphs == {} and step._launched == 0
    assert step.capture_error is None  # not a failure of capture: the next chunk may capture


def test_a_graph_that_end_capture_refuses_is_named_and_the_chunks_run_eagerly():
    stream = RecordingStream(end_error=RuntimeError("operation not permitted when stream is capturing"))
    step, launches = fused_step(stream)
    with pytest.warns(RuntimeWarning, match="not permitted"):
        assert step._capture(BATCHES) is None
    assert len(launches) == 1 + 2 * len(BATCHES)  # reset, then tile and reduce per iteration
    assert step._graphs == {} and step._launched == 0 and "not permitted" in step.capture_error


def test_a_capture_that_succeeds_is_kept_for_its_chunk_shape_and_runs_nothing():
    stream = RecordingStream()
    step, launches = fused_step(stream)
    assert step._capture(BATCHES) == "the graph"
    assert step._graphs == {(BATCHES, step._scalars_key): "the graph"} and step._launched == 0
    assert step.capture_error is None
    assert stream.calls == ["begin", "end"] and len(launches) == 7
