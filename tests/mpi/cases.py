"""Data-parallel cases run under ``mpiexec -n N python tests/mpi/cases.py CASE``; rank 0 prints one JSON line.

Driven by tests/test_data_parallel_mpi.py. Each rank holds a different, uneven share
of digits' training rows.
"""

import json
import os
import signal
import sys

import numpy
from mpi4py import MPI

import fastnet
from fastnet.data_parallel import RanksDisagreeError

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
data = fastnet.datasets.load_digits()
X, Y = data.X_train, fastnet.one_hot(data.y_train, 10)
shares = numpy.array_split(numpy.arange(len(X)), numpy.cumsum([300, 500][: size - 1]))  # 300, 500, the rest
mine = shares[rank]


def network(backend="numpy"):
    return fastnet.Network([64, 30, 10], activation="sigmoid", output_activation="softmax", loss="cross_entropy",
                           backend=backend, seed=0)


def flat(net):
    return numpy.concatenate([a.ravel() for pair in zip(*net.get_params()) for a in pair])


def identical_on_every_rank(values):
    every = comm.allgather(values.tobytes())
    return all(v == every[0] for v in every)


def report(result):
    if rank == 0:
        print(json.dumps(result), flush=True)


def equal_to_one_process():
    """Full batch, float64: largest relative weight difference from one process, per backend and optimiser."""
    result = {}
    for backend in ("numpy", "fused"):
        for optimizer in ("gd", "momentum", "adam"):
            net = network(backend)
            net.fit(X[mine], Y[mine], epochs=100, lr=0.5, optimizer=optimizer, alpha=0.01, comm=comm)
            got = flat(net)
            alone = network(backend)
            alone.fit(X, Y, epochs=100, lr=0.5, optimizer=optimizer, alpha=0.01)
            want = flat(alone)
            result[f"{backend} {optimizer}"] = {
                "relative": float(numpy.abs(got - want).max() / numpy.abs(want).max()),
                "identical": identical_on_every_rank(got),
                "history": net.history[-1] == alone.history[-1] or abs(net.history[-1] / alone.history[-1] - 1)}
    report(result)


def mini_batches():
    net = network()
    history = net.fit(X[mine], Y[mine], epochs=5, lr=0.5, batch_size=64, optimizer="adam", comm=comm)
    report({"identical": identical_on_every_rank(flat(net)),
            "same_history": identical_on_every_rank(numpy.asarray(history)), "epochs": len(history)})


def diverges():
    net = fastnet.Network([64, 30, 10], activation="identity", loss="mse", seed=0)
    try:
        net.fit(X[mine], Y[mine], epochs=50, lr=10.0, comm=comm)
        where = None
    except fastnet.DivergenceError:
        where = len(net.history)
    report({"epochs": comm.allgather(where), "identical": identical_on_every_rank(flat(net))})


def disagree():
    try:
        network().fit(X[mine], Y[mine], epochs=5, lr=0.5 if rank == 0 else 0.25, comm=comm)
        message = None
    except RanksDisagreeError as exc:
        message = str(exc)
    report({"messages": comm.allgather(message)})


def one_rank_fails():
    def callback(epoch, cost):
        if rank == size - 1 and epoch == 3:
            raise RuntimeError("this rank's disk is full")

    network().fit(X[mine], Y[mine], epochs=10_000, lr=0.5, callback=callback, comm=comm)


def interrupted():
    def callback(epoch, cost):
        if rank == size - 1 and epoch == 7:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, on one rank only

    net = network()
    try:
        net.fit(X[mine], Y[mine], epochs=10_000, lr=0.5, callback=callback, comm=comm)
        stopped = False
    except KeyboardInterrupt:
        stopped = True
    report({"stopped": comm.allgather(stopped), "epochs": comm.allgather(len(net.history)),
            "identical": identical_on_every_rank(flat(net))})


def resumed(path):
    first = network()
    first.fit(X[mine], Y[mine], epochs=10, lr=0.5, optimizer="adam", batch_size=100, checkpoint=path, comm=comm)
    comm.Barrier()
    again = network()
    again.fit(X[mine], Y[mine], epochs=20, lr=0.5, optimizer="adam", batch_size=100, resume=path, comm=comm)
    straight = network()
    straight.fit(X[mine], Y[mine], epochs=20, lr=0.5, optimizer="adam", batch_size=100, comm=comm)
    report({"exact": bool(numpy.array_equal(flat(again), flat(straight))),
            "same_history": again.history == straight.history})


def threads():
    """BLAS's and Numba's threads during and after a fit (run without thread variables in the environment)."""
    import numba
    from threadpoolctl import threadpool_info

    seen = {}

    def callback(epoch, cost):
        seen["blas"] = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        seen["numba"] = numba.get_num_threads()

    before = numba.get_num_threads()
    network("fused").fit(X[mine], Y[mine], epochs=2, lr=0.5, callback=callback, comm=comm)
    report({"during": comm.allgather(seen), "numba_before": before, "numba_after": numba.get_num_threads()})


def nccl_equals_one_process():
    """On GPUs, one per rank: the gradients summed by NCCL; the same figures as equal_to_one_process for cupy."""
    from fastnet.data_parallel import NcclSum, use_local_gpu

    device = use_local_gpu()
    result = {"devices": comm.allgather(device)}
    for optimizer in ("gd", "adam"):
        net = network("cupy")
        net.fit(X[mine], Y[mine], epochs=100, lr=0.5, optimizer=optimizer, alpha=0.01, comm=comm)
        got = flat(net)
        alone = network("cupy")
        alone.fit(X, Y, epochs=100, lr=0.5, optimizer=optimizer, alpha=0.01)
        want = flat(alone)
        result[optimizer] = {"relative": float(numpy.abs(got - want).max() / numpy.abs(want).max()),
                             "identical": identical_on_every_rank(got)}
    from fastnet.data_parallel import DataParallel

    result["sum"] = type(DataParallel(comm, network("cupy"), len(mine)).sum).__name__
    result["nccl"] = result["sum"] == NcclSum.__name__
    report(result)


if __name__ == "__main__":
    case = globals()[sys.argv[1]]
    case(*sys.argv[2:])
