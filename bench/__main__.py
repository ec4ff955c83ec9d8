"""``python -m bench [--quick] [--out DIR]``: run the suite, print the speedup table.

fastnet, NumPy and scikit-learn run in one pytest process; the PyTorch peer in a
second one, because OpenBLAS's and PyTorch's thread pools slow each other down
when they share a process. Writes DIR/bench.json (+ bench-torch.json),
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
    runs = [("not torch", "bench.json"), ("torch", "bench-torch.json")]
    status = 0
    for marker, name in runs:
        path = os.path.join(args.out, name)
        if os.path.exists(path):
            os.remove(path)
        if marker == "torch" and importlib.util.find_spec("torch") is None:
            print("PyTorch peer skipped: torch is not installed (pip install torch)", flush=True)
            continue
        cmd = [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider", "-m", marker,
               f"--benchmark-json={path}", "--benchmark-columns=min,median,mean,stddev,rounds", "--benchmark-sort=min"]
        if args.k:
            cmd += ["-k", args.k]
        print("$", " ".join(cmd), flush=True)
        rc = subprocess.call(cmd, env=env)
        if rc not in (0, 5):  # 5: nothing selected (e.g. -k matched no torch test)
            status = rc
    benchmarks = report.load([os.path.join(args.out, name) for _, name in runs])
    text = "\n".join([
        f"## fastnet benchmarks ({'quick' if args.quick else 'full'} mode)",
        "",
        report.machine(),
        "",
        report.table(benchmarks),
        "",
        "### Goals (issue 6), as ratios within this run",
        "",
        report.goals(benchmarks),
        "",
    ])
    with open(os.path.join(args.out, "report.md"), "w") as fh:
        fh.write(text)
    print()
    print(text)
    try:
        report.chart(benchmarks, os.path.join(args.out, "chart.png"))
        print(f"chart: {os.path.join(args.out, 'chart.png')}")
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install 'fastnet[bench]')")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
