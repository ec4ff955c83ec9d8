"""``python -m bench.under_load``: training times with and without a busy neighbour.

Most machines are not idle: a browser, a build, another job share the cores. This
runs the digits fit (64-30-10 on the 1078 training rows, the tutorial's recipe,
3000 full-batch iterations) or, with ``--workload mnist_adam``, the suite's
MNIST-shaped Adam fit (784-100-10, batches of 64, 10 epochs on 4000 rows) for each
backend asked for, each in a
process of its own, first idle and then beside ``--busy`` processes that each
spin one core (``python3 -c "while True: pass"``). Runs alternate between the
backends, so that both see the same load, and every run is printed. The last
line per backend gives loaded over idle, as medians and as the worst loaded run over
the best idle one; with ``--one-core``, also over the same fit idle on one core, the
most that a neighbour busy on every other core leaves.

Example::

    python -m bench.under_load --backends numpy fused numba --runs 5
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_FIT = """
import json, sys, time
import fastnet
backend, dtype, epochs, workload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if workload == "digits":
    from fastnet.recipes import recipe
    data = fastnet.datasets.load_digits()
    X = data.X_train.astype(dtype)
    Y = fastnet.one_hot(data.y_train, 10).astype(dtype)
    settings = recipe("tutorial")
    fit = dict(lr=settings.pop("lr"))
    settings.pop("epochs")
    net = fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0, **settings)
else:  # the MNIST-shaped Adam workload of the bench suite
    from bench.workloads import MNIST_BATCH, MNIST_LR, mnist_adam_net, mnist_shaped
    X, y, _, _ = mnist_shaped(4000)
    X, Y = X.astype(dtype), fastnet.one_hot(y, 10).astype(dtype)
    net = mnist_adam_net(backend, dtype)
    fit = dict(lr=MNIST_LR, optimizer="adam", batch_size=MNIST_BATCH)
net.fit(X, Y, epochs=1, **fit)  # compiled kernels and workspaces, outside the timing
start = time.perf_counter()
net.fit(X, Y, epochs=epochs, **fit)
print(json.dumps(time.perf_counter() - start))
"""

# Epochs per timed fit: digits' 3000 full-batch iterations; half the suite's 20 for the Adam workload.
DEFAULT_EPOCHS = {"digits": 3000, "mnist_adam": 10}


def fit_seconds(backend, dtype, epochs, workload="digits", one_core=False):
    """Seconds of one fit in a fresh process (compile and warm-up excluded), on one core if asked."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pin = _pin_to_one_core if one_core else None
    out = subprocess.run([sys.executable, "-c", _FIT, backend, dtype, str(epochs), workload], cwd=root,
                         check=True, capture_output=True, text=True, preexec_fn=pin).stdout
    return json.loads(out.strip().splitlines()[-1])


def _pin_to_one_core():
    """In the child: run on the lowest of the cores this process may use (Linux only)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def busy_neighbours(count):
    """Start ``count`` processes that each keep one core busy."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure(backends, dtype, epochs, runs, busy, workload="digits", one_core=False):
    """{"idle": {backend: [s, ...]}, "loaded": {...}}: ``runs`` fits each, backends alternating.

    With ``one_core``, a third phase, "one core": idle, each fit pinned to one core.
    That is the most a busy neighbour on all but one core leaves, so "loaded" can be
    read against it.
    """
    phases = ("idle", "loaded") + (("one core",) if one_core else ())
    results = {phase: {b: [] for b in backends} for phase in phases}
    for phase in phases:
        neighbours = busy_neighbours(busy) if phase == "loaded" else []
        try:
            time.sleep(0.5 if neighbours else 0)  # let the neighbours get going
            for run in range(runs):
                for backend in backends:
                    seconds = fit_seconds(backend, dtype, epochs, workload, one_core=phase == "one core")
                    results[phase][backend].append(seconds)
                    print(f"{phase:6s} run {run + 1}  {backend:6s} {seconds:7.3f} s", flush=True)
        finally:
            for p in neighbours:
                p.kill()
                p.wait()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.under_load", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["numpy", "fused"])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--workload", default="digits", choices=list(DEFAULT_EPOCHS),
                        help="digits (64-30-10, full batch) or mnist_adam (784-100-10, Adam, batches of 64)")
    parser.add_argument("--epochs", type=int, help="epochs per fit (default: 3000 for digits, 10 for mnist_adam)")
    parser.add_argument("--runs", type=int, default=5, help="fits per backend, idle and loaded (default: 5)")
    parser.add_argument("--busy", type=int, default=1, help="busy-loop neighbours (default: 1)")
    parser.add_argument("--json", help="also write the times to this file")
    parser.add_argument("--one-core", action="store_true",
                        help="also time each fit idle on one core (Linux), the most a neighbour on the others leaves")
    args = parser.parse_args(argv)
    if args.one_core and not hasattr(os, "sched_setaffinity"):
        parser.error("--one-core needs Linux (os.sched_setaffinity)")
    epochs = args.epochs or DEFAULT_EPOCHS[args.workload]
    results = measure(args.backends, args.dtype, epochs, args.runs, args.busy, args.workload, args.one_core)
    for backend in args.backends:
        print(summary(backend, {phase: times[backend] for phase, times in results.items()}))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


def summary(backend, times):
    """One line: each phase's range and median, loaded over idle (medians, and worst over best), and over one core."""
    idle, loaded = times["idle"], times["loaded"]
    parts = [f"{phase} {min(t):.3f}-{max(t):.3f} s (median {statistics.median(t):.3f})" for phase, t in times.items()]
    ratios = [f"loaded / idle {statistics.median(loaded) / statistics.median(idle):.2f}x medians, "
              f"{max(loaded) / min(idle):.2f}x worst over best"]
    if "one core" in times:
        ratios.append(f"loaded / one core {statistics.median(loaded) / statistics.median(times['one core']):.2f}x medians")
    return f"{backend:6s} " + ", ".join(parts) + "; " + "; ".join(ratios)


if __name__ == "__main__":
    main()
