"""The benchmark's PyTorch worker process: its protocol, errors and shutdown (torch not needed)."""

import io
import pickle

import pytest

from bench.torch_worker import TorchWorker, TorchWorkerError, serve


def _replies(*requests):
    inp = io.BytesIO(b"".join(pickle.dumps(r) for r in requests))
    out = io.BytesIO()
    serve(inp, out)
    out.seek(0)
    replies = []
    while out.tell() < len(out.getvalue()):
        replies.append(pickle.load(out))
    return replies


def test_serve_reports_a_failing_command_and_keeps_answering():
    replies = _replies(("no_such_command", ()), ("train", (3,)), ("exit", ()), ("describe", ()))
    assert [status for status, _ in replies] == ["error", "error", "ok"]  # nothing is read after exit
    assert "AttributeError" in replies[0][1]
    assert "TypeError" in replies[1][1]  # train before setup: no trainer yet


def test_client_raises_the_workers_traceback_then_shuts_it_down():
    worker = TorchWorker()
    with pytest.raises(TorchWorkerError, match="AttributeError"):
        worker.call("no_such_command")
    described = worker.call("describe")  # None without torch, else (version, threads, cuda)
    assert described is None or (len(described) == 3 and described[1] >= 1)
    worker.close()
    assert worker._proc.returncode == 0
    with pytest.raises(TorchWorkerError, match="has exited"):
        worker.call("describe")
