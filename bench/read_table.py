"""``python -m bench.read_table``: reading a big CSV, fastnet's reader (pandas) beside the hand-written one it replaced.

Writes a 200,000-row CSV (64 features and a label, 116 MiB), then in a fresh process
for each: the seconds to read it with ``fastnet.data_files.load_table``; the same with
the old reader (Python's ``csv`` module, a cell at a time; kept here as the baseline,
from the commit before pandas); and the peak memory of ``fastnet train`` on it (2
epochs), on fused and on numpy, against the file's size. Both readers' arrays are
checked equal first.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy

ROWS, FEATURES = 200_000, 64
# The default CPU backend (Numba loaded: a fixed cost of about 100 MiB) and the lightest one.
TRAIN_BACKENDS = ("fused", "numpy")

_READ = r"""
import json, resource, sys, time
import numpy
which, path = sys.argv[1], sys.argv[2]
if which == "new":
    from fastnet.data_files import load_table
else:
    sys.path.insert(0, sys.argv[3])
    from old_reader import load_table
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
X, y = load_table(path, "label")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "checksum": float(X.sum()), "labels": int(y.sum()), "shape": list(X.shape)}))
"""

OLD_READER = """# The hand-written CSV reader fastnet had before pandas (fastnet/data_files.py at 4cd64e7), for the baseline.
"""


def write_big_csv(path):
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES)).round(6)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["label"])
    numpy.savetxt(path, numpy.column_stack([X, y]), delimiter=",", header=header, comments="",
                  fmt=["%.6f"] * FEATURES + ["%d"])


def run(code, *argv, env=None):
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_peak_mib(path, env, backend):
    """Peak memory (MiB) of ``fastnet train --backend BACKEND`` on the file, 2 epochs (its children's maximum
    resident size)."""
    code = r"""
import json, resource, subprocess, sys
subprocess.run([sys.executable, "-m", "fastnet", "train", "--data", sys.argv[1], "--target", "label", "--layers",
                "64-32-2", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "256", "--epochs", "2", "--quiet",
                "--backend", sys.argv[2]], check=True, stdout=subprocess.DEVNULL)
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""
    return run(code, path, backend, env=env)["peak_mib"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.read_table", description=__doc__.splitlines()[0])
    parser.add_argument("--old-reader", default=None,
                        help="a copy of the old fastnet/data_files.py (default: taken from git, commit 4cd64e7)")
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as folder:
        old = os.path.join(folder, "old_reader.py")
        if args.old_reader:
            with open(args.old_reader) as src, open(old, "w") as dst:
                dst.write(src.read())
        else:
            source = subprocess.run(["git", "show", "4cd64e7:fastnet/data_files.py"], cwd=root, capture_output=True,
                                    text=True, check=True).stdout
            with open(old, "w") as dst:
                dst.write(OLD_READER + source)
        path = os.path.join(folder, "big.csv")
        write_big_csv(path)
        size_mib = os.path.getsize(path) / 2**20
        new = run(_READ, "new", path, env=env)
        previous = run(_READ, "old", path, folder, env=env)
        if new["shape"] != previous["shape"] or abs(new["checksum"] - previous["checksum"]) > 1e-6 * abs(
                previous["checksum"]) or new["labels"] != previous["labels"]:
            raise SystemExit(f"the readers disagree: {new} against {previous}")
        peaks = {backend: train_peak_mib(path, env, backend) for backend in TRAIN_BACKENDS}
    print(f"| {ROWS:,} x {FEATURES + 1} CSV, {size_mib:.0f} MiB | seconds to read | peak memory of the process |")
    print("|---|---|---|")
    print(f"| pandas (fastnet now) | {new['seconds']:.2f} s | {new['peak_mib']:.0f} MiB |")
    print(f"| csv module (before) | {previous['seconds']:.2f} s | {previous['peak_mib']:.0f} MiB |")
    for backend, peak in peaks.items():
        print(f"| `fastnet train --backend {backend}` on it, 2 epochs | | {peak:.0f} MiB ({peak / size_mib:.2f}x the "
              "file) |")


if __name__ == "__main__":
    main()
