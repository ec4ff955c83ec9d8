"""``python -m bench.data_parallel``: what two MPI ranks buy over one process, on one machine.

Each configuration runs in processes of its own, every run validated first (the
trained weights of the 2-rank run equal each other, and the full-batch step equals one
process's to 1e-12 relative):

* one process on one thread (BLAS, Numba and fused's row split held to one);
* one process on two threads;
* two ranks (``mpiexec -n 2``), each on one thread, each holding half the rows.

Workloads: digits (64-30-10, 1000 full-batch updates), the suite's MNIST-shaped Adam
fit (784-100-10, global batches of 64) and full-batch steps of the large network
(784-1024-1024-10). Efficiency is the one-thread
time over twice the two-rank time: 100 % would be a perfect 2x. Needs the ``mpi``
extra. Prints a markdown table; ``--out`` also writes it to a file.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy

_RUN = r"""
import json, sys, time
import numpy
import fastnet
workload, backend, parallel = sys.argv[1], sys.argv[2], sys.argv[3] == "mpi"
comm = None
rank, size = 0, 1
if parallel:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
from bench.workloads import MNIST_BATCH, MNIST_LR, mnist_shaped
if workload == "mnist_adam":  # the suite's MNIST-shaped Adam fit (bench/test_mnist_adam.py), 4000 rows, 3 epochs
    layers, epochs, options = [784, 100, 10], 3, dict(optimizer="adam", batch_size=MNIST_BATCH, lr=MNIST_LR)
    X, y, _, _ = mnist_shaped(4000)
elif workload == "digits":  # fastnet train's default: 64-30-10 softmax, full batch, 1000 updates
    layers, epochs, options = [64, 30, 10], 1000, dict(optimizer="gd", lr=0.5)
    data = fastnet.datasets.load_digits()
    X, y = data.X_train, data.y_train
else:  # full-batch steps of the large network on 2000 rows of the suite's large data (normal features)
    layers, epochs, options = [784, 1024, 1024, 10], 3, dict(optimizer="gd", lr=0.01)
    rng = numpy.random.default_rng(0)
    X, y = rng.normal(size=(2000, 784)), rng.integers(0, 10, 2000)
Y = fastnet.one_hot(y, 10)
rows = X.shape[0]
mine = numpy.array_split(numpy.arange(rows), size)[rank]
def net():
    return fastnet.Network(layers, activation="relu", output_activation="softmax", loss="cross_entropy",
                           init="xavier", backend=backend, seed=0)
warm = net()
warm.fit(X[mine][:256], Y[mine][:256], epochs=1, comm=comm, **options)
trained = net()
if comm is not None:
    comm.Barrier()
start = time.perf_counter()
trained.fit(X[mine], Y[mine], epochs=epochs, comm=comm, **options)
seconds = time.perf_counter() - start
flat = numpy.concatenate([w.ravel() for w in trained.get_params()[0]])
if comm is not None:
    seconds = comm.allreduce(seconds, op=MPI.MAX)
    same = all(v == flat.tobytes() for v in comm.allgather(flat.tobytes()))
else:
    same = True
if rank == 0:
    print(json.dumps({"seconds": seconds, "identical": same, "weights": flat[:64].tolist(), "epochs": epochs}))
"""

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
              "FASTNET_ROW_PARALLEL": "0"}
TWO_THREADS = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}


def run(workload, backend, how):
    """Seconds (and the check figures) of one configuration: ``how`` is one_thread, two_threads or two_ranks."""
    env = {k: v for k, v in os.environ.items() if k not in ONE_THREAD}
    env.update(TWO_THREADS if how == "two_threads" else ONE_THREAD)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                         env.get("PYTHONPATH", "")])
    command = [sys.executable, "-c", _RUN, workload, backend, "mpi" if how == "two_ranks" else "one"]
    if how == "two_ranks":
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("no mpiexec: pip install 'fastnet-trainer[mpi]'")
        command = [mpiexec, "-n", "2"] + command
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{workload} {backend} {how} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.data_parallel", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["numpy", "fused"])
    parser.add_argument("--workloads", nargs="+", default=["digits", "mnist_adam", "large_step"])
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args(argv)
    lines = ["| workload | backend | 1 process, 1 thread | 1 process, 2 threads | 2 ranks x 1 thread | "
             "2 ranks vs 1 thread | efficiency |", "|---|---|---|---|---|---|---|"]
    for workload in args.workloads:
        for backend in args.backends:
            one, two, ranks = (run(workload, backend, how) for how in ("one_thread", "two_threads", "two_ranks"))
            if not ranks["identical"]:
                raise SystemExit(f"{workload} {backend}: the ranks' weights differ")
            if workload != "mnist_adam":  # full batch: the two ranks must train as one process
                a, b = (numpy.asarray(r["weights"]) for r in (ranks, one))
                relative = float(abs(a - b).max() / abs(b).max())
                if relative > 1e-12:
                    raise SystemExit(f"{workload} {backend}: 2 ranks differ from one process by {relative:.2e}")
            speedup = one["seconds"] / ranks["seconds"]
            lines.append(f"| {workload} | {backend} | {one['seconds']:.3f} s | {two['seconds']:.3f} s | "
                         f"{ranks['seconds']:.3f} s | {speedup:.2f}x | {100 * speedup / 2:.0f} % |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
