"""``python -m bench.cores``: the CPU backends on every core of this machine, idle and beside one busy process.

fastnet's CPU rules were tuned on 2-core VMs: the fused backend splits a batch's rows
over the cores other processes leave free (``fastnet.tuning.free_cores``). Whether
that travels to a machine with many cores is a question each machine answers for
itself. This times the digits fit (64-30-10 on the 1078 training rows, the tutorial's
recipe) for fused, numpy and PyTorch's CPU eager step (in a process of its own, see
:mod:`bench.torch_worker`), rounds interleaved, first idle and then beside one
process that keeps a core busy, in float64 and float32. Each runner is first checked
against numpy's weights after a few iterations. It prints a markdown table (the
best round of each) and the ratios; ``--json`` keeps every round.

It is also the last section of ``python -m bench.gpu`` (the GPU machine has 16
cores), and it writes what it has measured after each dtype (``save_partial``).

Example::

    python -m bench.cores --iterations 500 --rounds 3
"""

import argparse
import json
import statistics
import time


ITERATIONS = 500  # a digits fit of 500 iterations is 0.1-0.5 s here: fit's once-a-call work is under 1 %
ROUNDS = 3
CHECK_ITERATIONS = 20  # iterations after which each runner's weights are checked against numpy's
BACKENDS = ("fused", "numpy")
PHASES = ("idle", "one busy neighbour")


def cores(iterations=ITERATIONS, rounds=ROUNDS, dtypes=("float64", "float32"), save=None):
    """Seconds per digits fit of ``iterations`` full-batch iterations, per dtype, phase and runner.

    Returns ``{"cores", "row split", "iterations", "torch", dtype: {...}}``; a dtype's entry has the
    ``relative_error`` of each runner's weights against numpy's after
    :data:`CHECK_ITERATIONS` iterations, ``seconds`` (every round) and ``best`` by
    phase, the ``free cores`` fused's rule saw at the end of each of its fits, and
    the ratios: numpy and torch over fused (best rounds, per phase) and loaded over
    idle (medians).
    ``save``, if given, is called with the result so far after each dtype.
    """
    import fastnet
    from fastnet.backends import get_backend
    from fastnet.recipes import recipe
    from fastnet.tuning import available_cores, free_cores

    from .torch_worker import TorchWorker
    from .under_load import busy_neighbours

    data = fastnet.datasets.load_digits()
    settings = recipe("tutorial")
    lr = settings.pop("lr")
    settings.pop("epochs")
    result = {"cores": available_cores(), "row split": get_backend("fused").row_parallel_description(),
              "iterations": iterations}
    with TorchWorker() as torch:
        described = torch.call("describe")
        result["torch"] = "not installed" if described is None else f"{described[0]}, {described[1]} threads"
        for dtype in dtypes:
            X, Y = data.X_train.astype(dtype), fastnet.one_hot(data.y_train, 10).astype(dtype)

            def network(backend):  # a name, or the Ops of another network
                return fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0, **settings)

            start_w, start_b = network("numpy").get_params()
            entry = result[dtype] = {"relative_error": {}}
            want = network("numpy")
            want.fit(X, Y, epochs=CHECK_ITERATIONS, lr=lr)
            runners = {}
            for backend in BACKENDS:
                net = network(backend)
                # Compiles fused's kernels, both the row-split and the serial ones (a busy
                # neighbour may switch it to the serial kernel), outside the timing.
                getattr(net.ops, "warm_up", lambda run: run())(lambda: network(net.ops).fit(X, Y, epochs=2, lr=lr))
                net.fit(X, Y, epochs=CHECK_ITERATIONS, lr=lr)
                entry["relative_error"][backend] = _relative_error(net.get_params(), want.get_params())
                runners[backend] = _fit_runner(net, X, Y, iterations, lr)
            if described is not None:
                torch.call("setup", X, Y, start_w, start_b, lr, "cpu")
                weights, biases, _ = torch.call("train", CHECK_ITERATIONS)
                entry["relative_error"]["torch"] = _relative_error((weights, biases), want.get_params())
                runners["torch"] = lambda: torch.call("train", iterations)[2]  # seconds measured in the worker
            entry["seconds"], entry["free cores"] = _phases(runners, rounds, busy_neighbours, free_cores)
            entry.update(_ratios(entry["seconds"]))
            if save is not None:
                save(result)
    return result


def _fit_runner(net, X, Y, iterations, lr):
    def run():
        start = time.perf_counter()
        net.fit(X, Y, epochs=iterations, lr=lr)
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
    parser.add_argument("--iterations", type=int, default=ITERATIONS, help=f"per fit (default: {ITERATIONS})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"fits per runner and phase (default: {ROUNDS})")
    parser.add_argument("--json", help="also write the whole result (every round) to this file")
    args = parser.parse_args(argv)
    result = cores(args.iterations, args.rounds)
    from .report import cpu_cores_lines

    print("\n".join(cpu_cores_lines(result)).strip())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    main()
