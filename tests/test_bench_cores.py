"""bench.cores: the CPU runners checked against numpy, timed idle and beside a neighbour it always stops, and reported."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import cores, under_load  # noqa: E402
from bench.report import cpu_cores_lines  # noqa: E402


def test_the_ratios_are_peers_over_fused_per_phase_and_loaded_over_idle_medians():
    seconds = {"idle": {"fused": [0.2, 0.1, 0.3], "numpy": [0.4, 0.5, 0.6]},
               "one busy neighbour": {"fused": [0.3, 0.2, 0.25], "numpy": [1.5, 2.0, 2.5]}}
    ratios = cores._ratios(seconds)
    assert ratios["over fused"]["idle"] == {"numpy": pytest.approx(4.0)}
    assert ratios["over fused"]["one busy neighbour"] == {"numpy": pytest.approx(7.5)}
    assert ratios["loaded over idle"] == {"fused": pytest.approx(1.25), "numpy": pytest.approx(4.0)}


@pytest.mark.slow  # compiles fused's kernels and starts a PyTorch worker process
def test_a_short_run_checks_each_runner_times_both_phases_stops_its_neighbour_and_reports(monkeypatch):
    started, saved = [], []
    start = under_load.busy_neighbours

    def neighbours(count):
        started.extend(start(count))
        return started[-count:]

    monkeypatch.setattr(under_load, "busy_neighbours", neighbours)
    result = cores.cores("digits", epochs=5, rounds=2, dtypes=("float64",), save=saved.append)

    entry = result["float64"]
    assert entry["relative_error"]["fused"] < 1e-10 and entry["relative_error"]["numpy"] == 0.0
    if "torch" in entry["seconds"]["idle"]:  # where PyTorch is installed, its weights are checked too
        assert entry["relative_error"]["torch"] < 1e-10
    for phase in cores.PHASES:
        assert all(len(t) == 2 and min(t) > 0 for t in entry["seconds"][phase].values())
        assert len(entry["free cores"][phase]) == 2 and all(n >= 1 for n in entry["free cores"][phase])
    assert entry["best"]["idle"]["numpy"] == min(entry["seconds"]["idle"]["numpy"])
    assert len(started) == 1 and started[0].poll() is not None  # the neighbour was stopped
    assert saved and "float64" in saved[-1]

    lines = cpu_cores_lines(result)
    assert f"| float64, idle | {entry['best']['idle']['fused'] * 1e3:.0f} ms |" in "\n".join(lines)
    assert any(line.startswith(f"- CPU {result['workload']}, float64: peers' time over fused's (idle: numpy ")
               for line in lines)


def test_the_report_says_when_the_section_failed_and_nothing_when_it_did_not_run():
    assert cpu_cores_lines({}) == []
    assert cpu_cores_lines({"error": "timed out after 60 s"}) == ["- CPU cores: failed (timed out after 60 s)"]


@pytest.mark.slow  # a process that compiles fused's kernels and starts a PyTorch worker
def test_the_command_runs_the_adam_workload_prints_the_table_and_keeps_every_round_in_its_json(tmp_path):
    out = tmp_path / "cores.json"
    done = subprocess.run([sys.executable, "-m", "bench.cores", "--workload", "mnist_adam", "--epochs", "1",
                           "--rounds", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert done.stdout.startswith(f"CPU, {result['cores']} cores, ")
    assert result["workload"] == "784-100-10 Adam, batches of 64, 1 epoch on 4000 rows"
    assert result["float64"]["relative_error"]["fused"] < 1e-10  # Adam in the rows' order, against numpy
    for dtype in ("float64", "float32"):
        fused = result[dtype]["seconds"]["idle"]["fused"]
        assert len(fused) == 1 and f"| {dtype}, idle | {fused[0] * 1e3:.0f} ms |" in done.stdout
