"""``python -m bench [--quick] [--out DIR]``: run the suite, print the speedup table.

The suite runs in one pytest process, which drives the PyTorch peer in a worker
process of its own (see :mod:`bench.torch_worker`). Writes DIR/bench.json,
DIR/report.md and DIR/chart.png.
"""

import argparse
import importlib.util
import os
import subprocess
import sys

from . import report

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and single rounds: under 2 minutes on 2 cores")
    parser.add_argument("--out", default=os.path.join(HERE, "out"), help="output folder (default: bench/out)")
    parser.add_argument("-k", default=None, help="pytest -k expression to run a subset")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, FASTNET_BENCH_QUICK="1" if args.quick else "0")
    path = os.path.join(args.out, "bench.json")
    if os.path.exists(path):
        os.remove(path)
    if importlib.util.find_spec("torch") is None:
        print("PyTorch peer skipped: torch is not installed (pip install torch)", flush=True)
    cmd = [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider", f"--benchmark-json={path}",
           "--benchmark-columns=min,median,mean,stddev,rounds", "--benchmark-sort=min"]
    if args.k:
        cmd += ["-k", args.k]
    print("$", " ".join(cmd), flush=True)
    status = subprocess.call(cmd, env=env)
    if status == 5:  # pytest's "nothing selected" (a -k that matched nothing): an empty report, not a failure
        status = 0
    report.drop_round_data(path)
    benchmarks = report.load([path])
    text = "\n".join([
        f"## fastnet benchmarks ({'quick' if args.quick else 'full'} mode)",
        "",
        report.machine(),
        "",
        report.table(benchmarks),
        "",
        "### Goals, as ratios within this run",
        "",
        report.goals(benchmarks),
        "",
    ])
    gpu = report.gpu_section(os.path.join(args.out, "gpu.json"))  # written by python -m bench.gpu --out DIR
    if gpu is not None:
        text += "\n### On the GPU (python -m bench.gpu)\n\n" + gpu + "\n"
    with open(os.path.join(args.out, "report.md"), "w") as fh:
        fh.write(text)
    print()
    print(text)
    try:
        if report.chart(benchmarks, os.path.join(args.out, "chart.png")) is False:
            print("chart skipped: nothing was timed")
        else:
            print(f"chart: {os.path.join(args.out, 'chart.png')}")
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install 'fastnet-trainer[bench]')")
    return status


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # pytest has said where it stopped; no traceback of ours on top
        raise SystemExit(130) from None
