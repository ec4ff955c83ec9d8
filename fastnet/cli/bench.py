"""``fastnet bench``: run the benchmark suite of a source checkout and print its report."""

import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def add_parser(sub):
    p = sub.add_parser("bench", help="run the benchmark suite (loops vs vectorised vs GPU, with peers)")
    p.add_argument("--quick", action="store_true", help="small sizes, single rounds (about a minute)")
    p.add_argument("--out", help="output folder (default: bench/out)")
    p.add_argument("-k", help="pytest -k expression selecting benchmarks")


def run(args):
    if not os.path.isfile(os.path.join(ROOT, "bench", "__main__.py")):
        if os.path.isfile(os.path.join(os.getcwd(), "bench", "__main__.py")):
            # In a clone, with fastnet installed from it as a regular (non-editable) package.
            raise RuntimeError("this fastnet is installed as a package, without the clone's bench/ folder; here in "
                               "the clone, run `python -m bench` instead, or install the clone in editable mode "
                               "with its bench extra: pip install -e '.[bench]'")
        raise RuntimeError("fastnet bench runs the suite in a source checkout's bench/ folder, which this "
                           "installation does not have: clone the repository and pip install -e '.[bench]'")
    cmd = [sys.executable, "-m", "bench"] + (["--quick"] if args.quick else [])
    cmd += ["--out", args.out] if args.out else []
    cmd += ["-k", args.k] if args.k else []
    suite = subprocess.Popen(cmd, cwd=ROOT)
    try:
        return suite.wait()
    except KeyboardInterrupt:
        # Ctrl-C: stop the suite too (it got the signal as well when run from a
        # terminal), then let main print its one line.
        suite.send_signal(signal.SIGINT)
        try:
            suite.wait(timeout=10)
        except subprocess.TimeoutExpired:
            suite.kill()
        raise
