"""Data-parallel training on real MPI processes: ``mpiexec -n 2`` (and 3) running tests/mpi/cases.py.

Skipped, with the reason, where mpi4py or an ``mpiexec`` is missing; CI installs both
(the test extra brings mpi4py and MPICH's wheel). Each launch has a time limit, so a
hang fails the test instead of the run.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # MPI launches: CI runs them; -m 'not slow' skips

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "mpi", "cases.py")
LIMIT_S = 120


def mpiexec():
    """The ``mpiexec`` beside this Python (the MPICH wheel's), else on PATH; skip when there is none or no mpi4py."""
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as exc:
        pytest.skip(f"mpi4py with an MPI library is needed ({exc}); pip install 'fastnet-trainer[mpi]'")
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec found; pip install 'fastnet-trainer[mpi]' brings MPICH's")
    return found


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def launch(ranks, *case, check=True):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}  # fastnet sets each rank's own
    env["PYTHONWARNINGS"] = "ignore"
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    done = subprocess.run([mpiexec(), "-n", str(ranks), sys.executable, CASES, *case], capture_output=True,
                          text=True, timeout=LIMIT_S, env=env)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
    return done


@pytest.mark.parametrize("ranks", [2, 3])
def test_full_batch_training_on_uneven_ranks_equals_one_process(ranks):
    result = launch(ranks, "equal_to_one_process")
    assert set(result) == {f"{b} {o}" for b in ("numpy", "fused") for o in ("gd", "momentum", "adam")}
    for name, figures in result.items():
        assert figures["identical"], f"{name}: the ranks' weights differ"
        assert figures["relative"] <= 1e-12, f"{name}: {figures['relative']:.2e} from one process"


def test_mini_batch_epochs_keep_every_rank_in_step():
    result = launch(2, "mini_batches")
    assert result == {"identical": True, "same_history": True, "epochs": 5}


def test_divergence_stops_every_rank_at_the_same_update():
    result = launch(2, "diverges")
    first, second = result["epochs"]
    assert first is not None and first == second and result["identical"]


def test_ranks_with_different_settings_all_raise_the_same_error():
    first, second = launch(2, "disagree")["messages"]
    assert first == second and "lr differs: rank 0 has 0.5, rank 1 has 0.25" in first


def test_an_error_on_one_rank_ends_the_whole_run_within_seconds():
    start = time.perf_counter()
    done = launch(2, "one_rank_fails", check=False)
    took = time.perf_counter() - start
    assert done.returncode != 0
    assert "[rank 1] RuntimeError: this rank's disk is full" in done.stderr
    assert took < 30, f"the run took {took:.1f} s to end"  # without the abort, rank 0 waits for ever


def test_ctrl_c_on_one_rank_stops_every_rank_after_the_same_update():
    result = launch(2, "interrupted")
    assert result["stopped"] == [True, True]
    assert result["epochs"][0] == result["epochs"][1] >= 7 and result["identical"]


def test_a_resumed_mini_batch_run_continues_exactly(tmp_path):
    assert launch(3, "resumed", str(tmp_path / "run.ckpt")) == {"exact": True, "same_history": True}


def test_each_rank_trains_on_its_share_of_the_cores_and_gives_them_back():
    from fastnet.tuning import available_cores

    result = launch(2, "threads")
    share = max(1, available_cores() // 2)
    for seen in result["during"]:
        assert seen["numba"] == share and all(n == share for n in seen["blas"]), seen
    assert result["numba_after"] == result["numba_before"]


def fastnet_command(ranks, *options, cwd):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "fastnet", "train", "--quiet", *options]
    return ([mpiexec(), "-n", str(ranks)] if ranks > 1 else []) + command, env


def final_cost(output):
    return next(line for line in output.splitlines() if line.startswith("time:")).split("final cost:")[1].strip()


def test_mpiexec_fastnet_train_trains_as_one_process_and_rank_0_alone_speaks(tmp_path):
    command, env = fastnet_command(2, "--epochs", "200", "--save", "model.npz", cwd=tmp_path)
    two = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, env=env, cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-2000:]
    command, env = fastnet_command(1, "--epochs", "200", cwd=tmp_path)
    one = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, env=env, cwd=tmp_path)
    assert final_cost(two.stdout) == final_cost(one.stdout)  # to the six digits printed
    assert two.stdout.count("backend:") == 1 and "data-parallel: 2 processes" in two.stdout
    assert two.stdout.count("saved: model.npz") == 1 and (tmp_path / "model.npz").is_file()


def test_ctrl_c_to_mpiexec_stops_every_rank_saves_and_exits_130(tmp_path):
    command, env = fastnet_command(2, "--epochs", "100000000", "--checkpoint", "run.ckpt", "--checkpoint-every",
                                   "1000", cwd=tmp_path)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path)
    try:
        for line in process.stdout:  # training has started once the data-parallel line is out
            if line.startswith("data-parallel:"):
                break
        time.sleep(2)
        process.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends mpiexec
        start = time.perf_counter()
        _, err = process.communicate(timeout=30)
        took = time.perf_counter() - start
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    assert took < 10, f"{took:.1f} s from SIGINT to exit"
    assert err.count("interrupted after") == 1 and (tmp_path / "run.ckpt").is_file()
    command, env = fastnet_command(3, "--resume", "run.ckpt", "--epochs", "100000000", cwd=tmp_path)
    other = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, env=env, cwd=tmp_path)
    assert other.returncode == 2
    assert other.stderr.count("data-parallel run of 2 process(es), this run has 3") == 1


def two_gpus_or_skip():
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no CuPy, or no driver
        pytest.skip(f"NCCL needs two GPUs, and CuPy finds none here ({type(exc).__name__})")
    if count < 2:
        pytest.skip(f"NCCL needs two GPUs; this machine has {count}")
    from fastnet.data_parallel import nccl_unavailable

    if nccl_unavailable():
        pytest.skip(nccl_unavailable())


@pytest.mark.gpu
def test_on_two_gpus_nccl_sums_the_gradients_and_training_equals_one_process():
    two_gpus_or_skip()
    result = launch(2, "nccl_equals_one_process")
    assert result["nccl"] and sorted(result["devices"]) == [0, 1]  # one GPU a rank
    for optimizer in ("gd", "adam"):
        assert result[optimizer]["identical"]
        assert result[optimizer]["relative"] <= 1e-12

