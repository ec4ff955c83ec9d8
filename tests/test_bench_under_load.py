"""bench.under_load: its summary line's ratios, and the one-core phase's pin."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import under_load  # noqa: E402


def test_the_summary_gives_loaded_over_idle_and_over_one_core_as_medians():
    line = under_load.summary("fused", {"idle": [0.2, 0.3, 0.25], "loaded": [0.5, 0.4, 0.45],
                                        "one core": [0.44, 0.46, 0.42]})
    assert "idle 0.200-0.300 s (median 0.250)" in line
    assert "loaded / idle 1.80x medians, 2.50x worst over best" in line
    assert "loaded / one core 1.02x medians" in line


def test_the_summary_without_a_one_core_phase_says_nothing_of_it():
    line = under_load.summary("numpy", {"idle": [1.0], "loaded": [3.0]})
    assert "loaded / idle 3.00x medians" in line and "one core" not in line


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_the_one_core_phase_runs_its_fit_on_one_of_this_process_s_cores():
    code = "import os; print(sorted(os.sched_getaffinity(0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         preexec_fn=under_load._pin_to_one_core).stdout
    assert out.strip() == str([min(os.sched_getaffinity(0))])
