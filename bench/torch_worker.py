"""The PyTorch peer (or the JAX one) in a process of its own, driven from the main benchmark process.

OpenBLAS's and PyTorch's thread pools slow each other down when they share a
process, so PyTorch never runs in the process that times fastnet. Driving it from
there, rather than timing it in a second pytest run minutes later, lets the suite
alternate fastnet and PyTorch rounds: on a shared machine whose speed drifts over
minutes, the ratio of two interleaved minima is what stays put.

The protocol is pickled ``(command, args)`` requests on the worker's stdin and
pickled ``("ok", result)`` or ``("error", traceback)`` replies on its stdout.
``python -m bench.torch_worker`` is the worker's side.
"""

import os
import pickle
import subprocess
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TorchWorkerError(RuntimeError):
    """The worker failed; the message carries its traceback."""


class TorchWorker:
    """A client for one worker process. Use as a context manager, or call :meth:`close`."""

    def __init__(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.torch_worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, cwd=REPO, env=env)

    def call(self, command, *args):
        """Run ``command`` in the worker and return its result; raise TorchWorkerError on failure."""
        if self._proc.poll() is not None:
            raise TorchWorkerError(f"the PyTorch worker has exited (code {self._proc.returncode})")
        pickle.dump((command, args), self._proc.stdin)
        self._proc.stdin.flush()
        try:
            status, result = pickle.load(self._proc.stdout)
        except EOFError:
            raise TorchWorkerError(f"the PyTorch worker died during {command!r} (code {self._proc.wait()})") from None
        if status != "ok":
            raise TorchWorkerError(f"{command} failed in the PyTorch worker:\n{result}")
        return result

    def close(self):
        if self._proc.poll() is None:
            try:
                self.call("exit")
            except (TorchWorkerError, OSError):
                pass
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the worker's side ---------------------------------------------------------
class _Server:
    def __init__(self):
        self.run = None

    def describe(self):
        """(torch version, thread count, CUDA available) or None without torch."""
        try:
            import torch
        except ImportError:
            return None
        torch.set_num_threads(os.cpu_count() or 1)
        return torch.__version__, torch.get_num_threads(), torch.cuda.is_available()

    def blas(self):
        """PyTorch's BLAS, as :func:`bench.report.torch_blas` reads it."""
        from .report import torch_blas

        return torch_blas()

    def setup(self, X, Y, weights, biases, lr, device):
        from .peers import torch_trainer

        self.run = torch_trainer(X, Y, weights, biases, lr, device)

    def describe_jax(self):
        """(JAX version, its CPU device) or None without JAX: the worker then hosts the JAX peer instead."""
        try:
            import jax
        except ImportError:
            return None
        return jax.__version__, str(jax.devices()[0])

    def setup_jax(self, X, Y, weights, biases, lr):
        from .peers import jax_trainer

        self.run = jax_trainer(X, Y, weights, biases, lr)

    def setup_adam(self, X, Y, weights, biases, lr, batch_size, shuffle):
        from .peers import torch_adam_trainer

        self.run = torch_adam_trainer(X, Y, weights, biases, lr, batch_size, shuffle)

    def setup_products(self, operands, device):
        from .peers import torch_products

        self.run = torch_products(operands, device)

    def products(self, iterations):
        """Run the products ``iterations`` times; return (results, seconds measured here)."""
        start = time.perf_counter()
        results = self.run(iterations)
        return results, time.perf_counter() - start

    def train(self, iterations):
        """Run ``iterations`` steps; return (weights, biases, seconds measured here)."""
        start = time.perf_counter()
        weights, biases = self.run(iterations)
        return weights, biases, time.perf_counter() - start


def serve(requests, replies):
    """Answer pickled requests until ``exit`` or end of input."""
    server = _Server()
    while True:
        try:
            command, args = pickle.load(requests)
        except EOFError:
            return
        if command == "exit":
            pickle.dump(("ok", None), replies)
            replies.flush()
            return
        try:
            reply = ("ok", getattr(server, command)(*args))
        except Exception:  # reported to the client, which raises it there
            reply = ("error", traceback.format_exc())
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    # The protocol owns the real stdout. Point file descriptor 1 at stderr, so that
    # whatever Python or PyTorch's C++ prints cannot corrupt a reply.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)
