"""``python -m bench.step_time``: microseconds per digits training step, for A/B checks.

The suite's digits rows time whole 3000-iteration runs against their peers; this
times one backend's step in a process of its own, best of several 1000-step fits,
so that a change can be measured by running it before and after, alternately
(``git stash``, run, ``git stash pop``, run, twice): on a shared machine only
interleaved runs are comparable. The network is the digits one, 64-30-10, on the
1078 training rows, with the tutorial's recipe (sigmoid, squared error) or
``fastnet train``'s default (softmax, cross-entropy).
"""

import argparse
import time

import fastnet
from fastnet.recipes import recipe


def step_time(backend, dtype, recipe_name, steps, repeats):
    """Seconds per training step: the fastest of ``repeats`` fits of ``steps`` steps each."""
    data = fastnet.datasets.load_digits()
    X = data.X_train.astype(dtype)
    Y = fastnet.one_hot(data.y_train, 10).astype(dtype)
    settings = recipe(recipe_name)
    lr = settings.pop("lr")
    settings.pop("epochs")
    net = fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0, **settings)
    net.fit(X, Y, epochs=min(steps, 20), lr=lr)  # warm-up: compiled kernels, BLAS threads, workspaces
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        net.fit(X, Y, epochs=steps, lr=lr)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.step_time", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="fused", help="default: fused")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--recipe", default="tutorial", choices=["tutorial", "softmax"])
    parser.add_argument("--steps", type=int, default=1000, help="steps per timed fit (default: 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed fits, the fastest is reported (default: 5)")
    args = parser.parse_args(argv)
    seconds = step_time(args.backend, args.dtype, args.recipe, args.steps, args.repeats)
    print(f"{args.backend} {args.dtype} {args.recipe}: {seconds * 1e6:.1f} us/step "
          f"(fastest of {args.repeats} fits of {args.steps} steps)")
    return seconds


if __name__ == "__main__":
    main()
