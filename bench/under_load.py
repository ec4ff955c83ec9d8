"""``python -m bench.under_load``: digits training times with and without a busy neighbour.

Most machines are not idle: a browser, a build, another job share the cores. This
runs the digits fit (64-30-10 on the 1078 training rows, the tutorial's recipe,
3000 full-batch iterations by default) for each backend asked for, each in a
process of its own, first idle and then beside ``--busy`` processes that each
spin one core (``python3 -c "while True: pass"``). Runs alternate between the
backends, so that both see the same load, and every run is printed. The last
line per backend gives the worst loaded run over the best idle one.

Example::

    python -m bench.under_load --backends numpy fused numba --runs 5
"""

import argparse
import json
import subprocess
import sys
import time

_FIT = """
import json, sys, time
import fastnet
from fastnet.recipes import recipe
backend, dtype, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = fastnet.datasets.load_digits()
X = data.X_train.astype(dtype)
Y = fastnet.one_hot(data.y_train, 10).astype(dtype)
settings = recipe("tutorial")
lr = settings.pop("lr")
settings.pop("epochs")
net = fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0, **settings)
net.fit(X, Y, epochs=2, lr=lr)  # compiled kernels and workspaces, outside the timing
start = time.perf_counter()
net.fit(X, Y, epochs=epochs, lr=lr)
print(json.dumps(time.perf_counter() - start))
"""


def fit_seconds(backend, dtype, epochs):
    """Seconds of one digits fit in a fresh process (compile and warm-up excluded)."""
    out = subprocess.run([sys.executable, "-c", _FIT, backend, dtype, str(epochs)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def busy_neighbours(count):
    """Start ``count`` processes that each keep one core busy."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure(backends, dtype, epochs, runs, busy):
    """{"idle": {backend: [s, ...]}, "loaded": {...}}: ``runs`` fits each, backends alternating."""
    results = {"idle": {b: [] for b in backends}, "loaded": {b: [] for b in backends}}
    for phase in ("idle", "loaded"):
        neighbours = busy_neighbours(busy) if phase == "loaded" else []
        try:
            time.sleep(0.5 if neighbours else 0)  # let the neighbours get going
            for run in range(runs):
                for backend in backends:
                    seconds = fit_seconds(backend, dtype, epochs)
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
    parser.add_argument("--epochs", type=int, default=3000, help="full-batch iterations per fit (default: 3000)")
    parser.add_argument("--runs", type=int, default=5, help="fits per backend, idle and loaded (default: 5)")
    parser.add_argument("--busy", type=int, default=1, help="busy-loop neighbours (default: 1)")
    parser.add_argument("--json", help="also write the times to this file")
    args = parser.parse_args(argv)
    results = measure(args.backends, args.dtype, args.epochs, args.runs, args.busy)
    for backend in args.backends:
        idle, loaded = results["idle"][backend], results["loaded"][backend]
        print(f"{backend:6s} idle {min(idle):.3f}-{max(idle):.3f} s, loaded {min(loaded):.3f}-{max(loaded):.3f} s, "
              f"worst loaded / best idle {max(loaded) / min(idle):.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    main()
