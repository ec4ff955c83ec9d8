"""Data-parallel training's pieces without MPI: the launcher's environment, errors, shards, and ranks that agree.

A stand-in communicator plays N ranks that hold the same rows (what every rank sends
comes back N times), so fit(comm=) runs in this process. The real thing, ``mpiexec
-n 2`` and 3, is tests/test_data_parallel_mpi.py.
"""

import sys
import types

import numpy
import pytest

import fastnet
from fastnet import data_parallel
from fastnet.data_parallel import RanksDisagreeError, shard_counts


class MirrorComm:
    """A communicator of ``size`` ranks that all hold this rank's data (rank 0 here)."""

    def __init__(self, size=2):
        self.size = size

    def Get_rank(self):
        return 0

    def Get_size(self):
        return self.size

    def allgather(self, value):
        return [value] * self.size

    def bcast(self, value, root=0):
        return value

    def Bcast(self, buffer, root=0):
        pass

    def Allreduce(self, send, receive):
        receive[...] = send * self.size

    def Abort(self, code):
        raise SystemExit(code)


def digits(rows=200):
    data = fastnet.datasets.load_digits()
    return data.X_train[:rows], fastnet.one_hot(data.y_train[:rows], 10)


def network(**kwargs):
    return fastnet.Network([64, 16, 10], activation="sigmoid", output_activation="softmax", loss="cross_entropy",
                           seed=3, **kwargs)


@pytest.mark.parametrize("environ, world, local", [
    ({}, 1, 1),
    ({"PMI_SIZE": "4", "MPI_LOCALNRANKS": "2"}, 4, 2),  # MPICH's hydra
    ({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_LOCAL_SIZE": "3"}, 3, 3),  # Open MPI
    ({"PMI_SIZE": "x"}, 1, 1),
])
def test_the_launchers_environment_says_how_many_processes_it_started(environ, world, local):
    assert data_parallel.launched_processes(environ) == world
    assert data_parallel.processes_on_this_node(environ) == local


def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    with pytest.raises(data_parallel.MPIUnavailableError, match=r'pip install "fastnet-trainer\[mpi\]"'):
        data_parallel.import_mpi()


def test_mpi4py_without_an_mpi_library_is_named_too(monkeypatch):
    broken = types.ModuleType("mpi4py")

    def no_library(name):
        raise RuntimeError("cannot load MPI library")

    broken.__getattr__ = no_library
    monkeypatch.setitem(sys.modules, "mpi4py", broken)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(data_parallel.MPIUnavailableError, match=r"found no MPI library.*fastnet-trainer\[mpi\]"):
        data_parallel.import_mpi()


def test_one_process_never_imports_mpi(monkeypatch):
    for name in data_parallel.WORLD_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert data_parallel.launched_world() is None


@pytest.mark.parametrize("rows_of_rank, steps", [([5, 3], 3), ([1, 1, 1, 1], 2), ([700, 378, 0], 34), ([10], 4), ([2, 9, 4], 5)])
def test_shards_take_the_same_steps_on_every_rank_with_no_row_twice_and_no_step_empty(rows_of_rank, steps):
    counts = shard_counts(rows_of_rank, steps)
    assert [len(c) for c in counts] == [steps] * len(rows_of_rank)
    assert [sum(c) for c in counts] == rows_of_rank  # every row once, none padded
    for c in counts:
        assert max(c) - min(c) <= 1
    totals = [sum(step) for step in zip(*counts)]
    assert min(totals) >= 1 and max(totals) - min(totals) <= 1  # every global batch the size asked for, to one


def test_an_epochs_batches_cover_this_ranks_shuffled_rows_once():
    X, Y = digits(103)
    parallel = data_parallel.DataParallel(MirrorComm(3), network(), 103)
    order, batches, global_rows = parallel.epoch(32, shuffle=True)
    assert sorted(order) == list(range(103))
    assert [start for start, _ in batches] == list(numpy.cumsum([0] + [c for _, c in batches[:-1]]))
    assert sum(c for _, c in batches) == 103
    assert len(batches) == -(-309 // 32) and sum(global_rows) == 309
    again, _, _ = parallel.epoch(32, shuffle=True)
    assert list(again) != list(order)  # a new shuffle each epoch


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_ranks_holding_the_same_rows_train_as_one_process(optimizer):
    X, Y = digits()
    alone, mirrored = network(), network()
    # Two ranks of the same rows are one process holding them twice (the penalty is over 2m rows).
    h1 = alone.fit(numpy.vstack([X, X]), numpy.vstack([Y, Y]), epochs=30, lr=0.5, optimizer=optimizer, alpha=0.01)
    h2 = mirrored.fit(X, Y, epochs=30, lr=0.5, optimizer=optimizer, alpha=0.01, comm=MirrorComm(2))
    numpy.testing.assert_allclose(h2, h1, rtol=1e-12)
    got, want = (numpy.concatenate([w.ravel() for w in n.get_params()[0]]) for n in (mirrored, alone))
    assert numpy.abs(got - want).max() <= 1e-12 * numpy.abs(want).max()


def test_sparse_rows_train_data_parallel_as_their_dense_matrix():
    import scipy.sparse

    X, Y = digits()
    X[X < 0.5] = 0.0  # digits' pixels, mostly blank once thresholded: a real sparse matrix
    dense, sparse = network(), network()
    h1 = dense.fit(X, Y, epochs=10, lr=0.5, optimizer="momentum", batch_size=64, comm=MirrorComm(2))
    h2 = sparse.fit(scipy.sparse.csr_matrix(X), Y, epochs=10, lr=0.5, optimizer="momentum", batch_size=64,
                    comm=MirrorComm(2))
    numpy.testing.assert_allclose(h2, h1, rtol=1e-12)
    for a, b in zip(sparse.get_params()[0], dense.get_params()[0]):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_a_mini_batch_epochs_cost_is_weighted_by_the_global_rows():
    X, Y = digits(100)
    net = network()
    history = net.fit(X, Y, epochs=2, lr=0.5, batch_size=64, comm=MirrorComm(2))  # 200 rows: 4 steps of 50
    assert len(history) == 2 and all(numpy.isfinite(history))


def test_settings_that_differ_between_ranks_are_one_error_on_every_rank():
    class OtherLr(MirrorComm):
        def allgather(self, value):
            if isinstance(value, tuple) and isinstance(value[0], dict) and "lr" in value[0]:
                other = dict(value[0], lr=0.1)
                return [value, (other, None)]
            return super().allgather(value)

    X, Y = digits()
    net = network()
    before = [w.copy() for w in net.get_params()[0]]
    with pytest.raises(RanksDisagreeError, match=r"lr differs: rank 0 has 0\.5, rank 1 has 0\.1"):
        net.fit(X, Y, epochs=3, lr=0.5, comm=OtherLr())
    for a, b in zip(net.get_params()[0], before):
        numpy.testing.assert_array_equal(a, b)  # nothing trained


def test_bad_data_on_one_rank_is_reported_by_every_rank():
    class BadOnRankOne(MirrorComm):
        def allgather(self, value):
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], dict):
                return [value, (value[0], "X contains NaN or Inf")]
            return super().allgather(value)

    X, Y = digits()
    with pytest.raises(RanksDisagreeError, match="rank 1: X contains NaN or Inf"):
        network().fit(X, Y, epochs=3, lr=0.5, comm=BadOnRankOne())


def test_a_checkpoint_records_the_ranks_and_another_number_is_refused(tmp_path):
    X, Y = digits()
    path = tmp_path / "run.ckpt"
    network().fit(X, Y, epochs=4, lr=0.5, checkpoint=path, comm=MirrorComm(2))
    with pytest.raises(fastnet.ModelFileError, match=r"data-parallel run of 2 process\(es\), this run has 3.*mpiexec -n 2"):
        network().fit(X, Y, epochs=8, lr=0.5, resume=path, comm=MirrorComm(3))
    resumed = network()
    resumed.fit(X, Y, epochs=8, lr=0.5, resume=path, comm=MirrorComm(2))
    straight = network()
    straight.fit(X, Y, epochs=8, lr=0.5, comm=MirrorComm(2))
    for a, b in zip(resumed.get_params()[0], straight.get_params()[0]):
        numpy.testing.assert_array_equal(a, b)


def test_an_error_on_one_rank_aborts_the_run(capsys):
    X, Y = digits()

    def fails(epoch, cost):
        if epoch == 2:
            raise RuntimeError("disk full")

    with pytest.raises(SystemExit):  # MirrorComm.Abort
        network().fit(X, Y, epochs=5, lr=0.5, callback=fails, comm=MirrorComm(2))
    err = capsys.readouterr().err
    assert "[rank 0] RuntimeError: disk full" in err and "aborting all 2 processes" in err


def test_the_cpu_backends_sum_on_the_host_through_mpi():
    for name in ("numpy", "fused"):
        total = data_parallel.DataParallel(MirrorComm(2), network(backend=name), 10).sum
        assert isinstance(total, data_parallel.HostSum) and not isinstance(total, data_parallel.NcclSum)


@pytest.mark.parametrize("environ, expected", [({"OMPI_COMM_WORLD_LOCAL_RANK": "3"}, 3), ({"MPI_LOCALRANKID": "1"}, 1),
                                               ({"SLURM_LOCALID": "2"}, 2), ({}, 0)])
def test_the_local_rank_comes_from_the_launcher(environ, expected):
    assert data_parallel.local_rank(environ) == expected


class FakeCupy:
    """Stands in for CuPy's device API: how many GPUs, and which one was made current."""

    def __init__(self, count):
        self.used = []
        runtime = types.SimpleNamespace(getDeviceCount=lambda: count)
        self.cuda = types.SimpleNamespace(runtime=runtime, Device=lambda n: types.SimpleNamespace(
            use=lambda: self.used.append(n)))


def test_each_rank_on_a_machine_takes_its_own_gpu_round_the_gpus_it_has(monkeypatch):
    fake = FakeCupy(count=2)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert data_parallel.use_local_gpu({"OMPI_COMM_WORLD_LOCAL_RANK": "3"}) == 1
    monkeypatch.setenv("MPI_LOCALRANKID", "2")
    assert data_parallel.use_local_gpu_for("cupy") == 0 and data_parallel.use_local_gpu_for(None) == 0  # auto
    assert data_parallel.use_local_gpu_for("fused") is None  # a CPU backend leaves the GPUs alone
    assert fake.used == [1, 0, 0]
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy(count=0))
    assert data_parallel.use_local_gpu_for("auto") is None
