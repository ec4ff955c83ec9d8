"""``python -m bench.cores``: the CPU backends on every core of this machine, idle and beside one busy process.

fastnet's CPU rules were tuned on 2-core VMs: the fused backend splits a batch's rows
over the cores other processes leave free (``fastnet.tuning.free_cores``). Whether
that travels to a machine with many cores is a question each machine answers for
itself. This times one of the suite's training workloads (:data:`WORKLOADS`: the
digits fit, full batch, or the MNIST-shaped Adam fit, batches of 64) for fused, numpy
and PyTorch's CPU eager step (in a process of its own, see :mod:`bench.torch_worker`),
rounds interleaved, first idle and then beside one process that keeps a core busy,
in float64 and float32. Each runner is first checked against numpy's weights. It
prints a markdown table (the best round of each) and the ratios; ``--json`` keeps
every round.

It is also the last section of ``python -m bench.gpu`` (the GPU machine has 16
cores), and it writes what it has measured after each dtype (``save_partial``).

Example::

    python -m bench.cores --workload mnist_adam --rounds 3
"""

import argparse
import json
import statistics
import time

import fastnet
from fastnet.recipes import recipe

from .conftest import PAIR_PAUSE_S
from .workloads import MNIST_BATCH, MNIST_LR, mnist_adam_net, mnist_shaped

ROUNDS = 3
BACKENDS = ("fused", "numpy")
PHASES = ("idle", "one busy neighbour")


class Digits:
    """The tutorial's digits fit: 64-30-10 on the 1078 training rows, full-batch gradient descent."""

    name = "digits"
    epochs = 500  # iterations: a fit is 0.1-0.5 s on 2 cores, and fit's once-a-call work under 1 % of it
    check_epochs = 20  # iterations after which each runner's weights are checked against numpy's

    def __init__(self):
        self.data = fastnet.datasets.load_digits()
        self.settings = recipe("tutorial")
        self.lr = self.settings.pop("lr")
        self.settings.pop("epochs")

    def describe(self, epochs):
        return f"digits, tutorial recipe, {epochs} full-batch iterations"

    def arrays(self, dtype):
        return self.data.X_train.astype(dtype), fastnet.one_hot(self.data.y_train, 10).astype(dtype)

    def network(self, backend, dtype):
        return fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0, **self.settings)

    def fit(self, net, X, Y, epochs, in_order=False):
        net.fit(X, Y, epochs=epochs, lr=self.lr)  # full batch: the rows' order is the same either way

    def torch_setup(self, worker, X, Y, weights, biases, in_order=False):
        worker.call("setup", X, Y, weights, biases, self.lr, "cpu")


class MnistAdam:
    """The suite's second workload: 784-100-10 (ReLU, softmax), Adam, batches of 64, on 4000 MNIST-shaped rows."""

    name = "mnist_adam"
    epochs = 5  # 315 updates
    check_epochs = 1  # in the rows' order: shuffled batches differ between fastnet and PyTorch
    rows, batch, lr = 4000, MNIST_BATCH, MNIST_LR

    def describe(self, epochs):
        return f"784-100-10 Adam, batches of {self.batch}, {epochs} epoch{'s' * (epochs != 1)} on {self.rows} rows"

    def arrays(self, dtype):
        X, y, _, _ = mnist_shaped(self.rows)
        return X.astype(dtype), fastnet.one_hot(y, 10).astype(dtype)

    def network(self, backend, dtype):
        return mnist_adam_net(backend, dtype)

    def fit(self, net, X, Y, epochs, in_order=False):
        net.fit(X, Y, epochs=epochs, lr=self.lr, batch_size=self.batch, optimizer="adam", shuffle=not in_order)

    def torch_setup(self, worker, X, Y, weights, biases, in_order=False):
        worker.call("setup_adam", X, Y, weights, biases, self.lr, self.batch, not in_order)


WORKLOADS = {w.name: w for w in (Digits, MnistAdam)}


def cores(workload="digits", epochs=None, rounds=ROUNDS, dtypes=("float64", "float32"), save=None):
    """Seconds per fit of ``workload`` (:data:`WORKLOADS`), per dtype, phase and runner.

    Returns ``{"cores", "row split", "workload", "torch", dtype: {...}}``; a dtype's
    entry has the ``relative_error`` of each runner's weights against numpy's after
    the workload's ``check_epochs`` (in the rows' order), ``seconds`` (every round)
    and ``best`` by phase, the ``free cores`` fused's rule saw at the end of each of
    its fits, and the ratios: numpy and torch over fused (best rounds, per phase) and
    loaded over idle (medians). ``epochs`` defaults to the workload's. ``save``, if
    given, is called with the result so far after each dtype.
    """
    from fastnet.backends import get_backend
    from fastnet.tuning import available_cores, free_cores

    from .torch_worker import TorchWorker
    from .under_load import busy_neighbours

    work = WORKLOADS[workload]()
    epochs = epochs or work.epochs
    result = {"cores": available_cores(), "row split": get_backend("fused").row_parallel_description(),
              "workload": work.describe(epochs)}
    with TorchWorker() as torch:
        described = torch.call("describe")
        result["torch"] = "not installed" if described is None else f"{described[0]}, {described[1]} threads"
        for dtype in dtypes:
            X, Y = work.arrays(dtype)
            start_w, start_b = work.network("numpy", dtype).get_params()
            entry = result[dtype] = {"relative_error": {}}
            want = work.network("numpy", dtype)
            work.fit(want, X, Y, work.check_epochs, in_order=True)
            runners = {}
            for backend in BACKENDS:
                net = work.network(backend, dtype)
                # Compiles fused's kernels, both the row-split and the serial ones (a busy
                # neighbour may switch it to the serial kernel), outside the timing.
                getattr(net.ops, "warm_up", lambda run: run())(lambda: work.fit(work.network(net.ops, dtype), X, Y, 1))
                work.fit(net, X, Y, work.check_epochs, in_order=True)
                entry["relative_error"][backend] = _relative_error(net.get_params(), want.get_params())
                runners[backend] = _fit_runner(work, net, X, Y, epochs)
            if described is not None:
                work.torch_setup(torch, X, Y, start_w, start_b, in_order=True)
                weights, biases, _ = torch.call("train", work.check_epochs)
                entry["relative_error"]["torch"] = _relative_error((weights, biases), want.get_params())
                work.torch_setup(torch, X, Y, start_w, start_b)
                runners["torch"] = lambda: torch.call("train", epochs)[2]  # seconds measured in the worker
            entry["seconds"], entry["free cores"] = _phases(runners, rounds, busy_neighbours, free_cores)
            entry.update(_ratios(entry["seconds"]))
            if save is not None:
                save(result)
    return result


def _fit_runner(work, net, X, Y, epochs):
    def run():
        start = time.perf_counter()
        work.fit(net, X, Y, epochs)
        return time.perf_counter() - start

    return run


def _phases(runners, rounds, busy_neighbours, free_cores):
    """``{phase: {runner: [seconds, ...]}}`` with the runners interleaved, and ``{phase: [free cores after each fused fit]}``."""
    seconds, free = {}, {}
    for phase in PHASES:
        neighbours = busy_neighbours(1) if phase != "idle" else []
        try:
            time.sleep(0.5 if neighbours else 0)  # let the neighbour get going
            times = seconds[phase] = {name: [] for name in runners}
            seen = free[phase] = []
            for _ in range(rounds):
                for name, run in runners.items():
                    time.sleep(PAIR_PAUSE_S)  # the last runner's spinning threads go to sleep first
                    times[name].append(run())
                    if name == "fused":
                        seen.append(free_cores())  # what fused's rule saw over the fit's last moments
        finally:
            for p in neighbours:
                p.kill()
                p.wait()
    return seconds, free


def _ratios(seconds):
    """Each peer's best over fused's best, per phase; each runner's loaded median over its idle median."""
    best = {phase: {name: min(t) for name, t in times.items()} for phase, times in seconds.items()}
    idle, loaded = (seconds[phase] for phase in PHASES)
    return {"best": best,
            "over fused": {phase: {name: b[name] / b["fused"] for name in b if name != "fused"}
                           for phase, b in best.items()},
            "loaded over idle": {name: statistics.median(loaded[name]) / statistics.median(idle[name])
                                 for name in idle}}


def _relative_error(got, want):
    """The largest :func:`bench.gpu.relative_error` over every weight and bias of two ``(weights, biases)``."""
    from .gpu import relative_error

    (gw, gb), (ww, wb) = got, want
    return max(relative_error(g, w) for g, w in zip(list(gw) + list(gb), list(ww) + list(wb)))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.cores", description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="digits", choices=list(WORKLOADS),
                        help="digits (64-30-10, full batch; default) or mnist_adam (784-100-10, Adam, batches of 64)")
    parser.add_argument("--epochs", type=int, help=f"per fit (default: {Digits.epochs} for digits, "
                                                    f"{MnistAdam.epochs} for mnist_adam)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"fits per runner and phase (default: {ROUNDS})")
    parser.add_argument("--json", help="also write the whole result (every round) to this file")
    args = parser.parse_args(argv)
    result = cores(args.workload, args.epochs, args.rounds)
    from .report import cpu_cores_lines

    print("\n".join(cpu_cores_lines(result)).strip())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    main()
