"""fastnet.tuning: every value names the bench rule that measures it, and that rule checks both sides agree."""

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest

from fastnet.tuning import TUNING, available_cores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_value_names_a_rule_of_bench_tuning():
    sys.path.insert(0, ROOT)
    from bench.tuning import RULES

    names = [field.metadata.get("bench") for field in dataclasses.fields(TUNING)]
    assert names and all(name in RULES for name in names), names


@pytest.mark.slow  # a subprocess
def test_bench_tuning_checks_both_sides_of_a_rule_then_times_them():
    proc = subprocess.run([sys.executable, "-m", "bench.tuning", "small_product", "row_max_loop", "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("small_product ", "row_max_loop"))]
    assert len(rows) == 12 and all(line.split()[-2] in ("below", "above") for line in rows)


def _rule_rows(name):
    """``python -m bench.tuning NAME --repeats 1``'s result rows, split into fields (skips where the split is off)."""
    proc = subprocess.run([sys.executable, "-m", "bench.tuning", name, "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if "not measurable here" in proc.stdout:
        pytest.skip(proc.stdout.strip())
    return [line.split() for line in proc.stdout.splitlines() if line.startswith(name + " ")]


@pytest.mark.slow  # a subprocess that compiles fused's row kernels
def test_bench_tuning_times_short_batches_split_both_ways():
    rows = _rule_rows("min_block_rows")
    # 7 batch sizes in 2 dtypes, both sides checked against each other first (float64 to 1e-10);
    # the side the rule picks is the one fused.dense_function takes for that batch
    assert len(rows) == 14
    picks = {(row[1], row[2]): row[5] for row in rows}
    for (size, dtype), side in picks.items():
        m = int(size.split("x")[0])
        assert side == ("below" if m < 2 * TUNING.min_block_rows else "above"), (size, dtype, side)


@pytest.mark.slow  # a subprocess that compiles fused's row and neuron kernels
def test_bench_tuning_times_layers_split_by_neurons_and_by_rows():
    rows = _rule_rows("neuron_split")
    # In 2 dtypes, both sides checked against each other first: 6 batch sizes of a
    # 1024-neuron backward step, split by neurons while the batch is shorter than the
    # layer is wide (row_rule.splits_neurons); 5 forward passes, split by neurons only
    # while the batch is at most a share of each side of W (forward_splits_neurons).
    assert len(rows) == 22
    for row in rows:
        step, shape = row[1].split(":")
        m, n_in, n_out = (int(x) for x in shape.split("x"))
        if step == "backward":
            assert row[5] == ("below" if m < n_out else "above"), row
        else:
            assert row[5] == ("below" if TUNING.forward_neuron_share * m <= min(n_in, n_out) else "above"), row
    assert {row[1].split(":")[0] for row in rows} == {"backward", "forward"}


def test_cores_available_lie_between_one_and_the_machine_s():
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


@pytest.mark.slow  # a subprocess
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_cores_available_follow_the_affinity_mask():
    code = "from fastnet.tuning import available_cores; print(available_cores())"
    one_core = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True)
    assert one_core.returncode == 0, one_core.stderr
    assert one_core.stdout.strip() == "1"


def test_free_cores_counts_what_neighbours_left_of_this_process_s_cores(monkeypatch):
    from fastnet import tuning

    monkeypatch.setattr(tuning, "available_cores", lambda: 2)
    now, readings = [0.0], iter([(0, 0, 0), (200, 200, 100), (400, 400, 300), (400, 600, 300)])
    probe = tuning.FreeCores(window=0.05, clock=lambda: now[0], read=lambda: next(readings))
    assert probe() == 2  # no history yet: every core counts as free
    now[0] = 0.1
    assert probe() == 1  # both cores busy for 100 ticks each, half of it this process: one neighbour
    now[0] = 0.12
    assert probe() == 1  # within the window: no new reading
    now[0] = 0.2
    assert probe() == 2  # busy 200 ticks, all of them this process's own threads
    now[0] = 0.3
    assert probe() == 2  # idle
    assert tuning.FreeCores(read=lambda: None)() == 2  # no /proc: assume the cores are ours


def test_the_row_split_follows_the_free_cores(monkeypatch):
    from fastnet.backends import backend_status, get_backend

    if not backend_status("fused")[0]:
        pytest.skip("Numba is not installed: no fused backend")
    fused = get_backend("fused")
    if fused.split.off is not None or fused.split.threads < 2:
        pytest.skip(f"the row split does not run here: {fused.split.off or 'one thread'}")
    from fastnet.backends.fused import row_rule

    monkeypatch.setattr(row_rule, "free_cores", lambda: 1)
    assert fused.split.parts(1078, 10**9) == 0  # a busy neighbour: serial
    monkeypatch.setattr(row_rule, "free_cores", lambda: 2)
    assert fused.split.parts(1078, 10**9) == 2
