"""Data-parallel training on real MPI processes: ``mpiexec -n 2`` (and 3) running tests/mpi/cases.py.

Skipped, with the reason, where mpi4py or an ``mpiexec`` is missing; CI installs both
(the test extra brings mpi4py and MPICH's wheel). Each launch has a time limit, so a
hang fails the test instead of the run.
"""

import json
import os
import shutil
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
        pytest.skip(f"mpi4py with an MPI library is needed ({exc}); pip install 'fastnet[mpi]'")
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec found; pip install 'fastnet[mpi]' brings MPICH's")
    return found


def launch(ranks, *case, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
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
