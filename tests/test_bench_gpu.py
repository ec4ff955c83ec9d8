"""``python -m bench.gpu`` where no GPU answers: a skipped report, exit status 0; and the report's GPU rows."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # subprocesses, the simulator or the compiler: CI runs them; -m 'not slow' skips

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench_gpu(out, **env):
    return subprocess.run([sys.executable, "-m", "bench.gpu", "--out", str(out)], cwd=ROOT,
                          env=dict(os.environ, **env), capture_output=True, text=True)


def test_without_a_gpu_the_device_run_writes_why_and_exits_0(tmp_path):
    from fastnet.backends import backend_status

    if backend_status("cupy")[0]:
        pytest.skip("a GPU answers here: bench.gpu measures instead of skipping")
    proc = run_bench_gpu(tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert list(report) == ["skipped"] and "cupy" in report["skipped"]
    assert "skipped" in proc.stdout


def test_the_cuda_simulator_is_not_taken_for_a_gpu(tmp_path):
    proc = run_bench_gpu(tmp_path, NUMBA_ENABLE_CUDASIM="1")
    assert proc.returncode == 0, proc.stderr
    assert "simulator is not a GPU" in json.loads((tmp_path / "gpu.json").read_text())["skipped"]


def test_the_report_shows_a_gpu_run_s_figures(tmp_path):
    sys.path.insert(0, ROOT)
    from bench.report import gpu_section

    assert gpu_section(str(tmp_path / "none.json")) is None
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps({"skipped": "no GPU here"}))
    assert gpu_section(str(path)) == "GPU run skipped: no GPU here"
    path.write_text(json.dumps({
        "machine": {"device": "NVIDIA H200", "cupy": "14.2.0", "numba_cuda": "0.30.4", "torch": "2.11"},
        "kernels": {"relative_errors": {"a": 1e-15}, "worst": 3e-15},
        "training": {"weights_relative_error": {"50 iterations float64": 2e-14}, "graph_equals_eager": False,
                     "graph_vs_eager_relative_error": 4e-7},
        "digits": {"float32": {"best": {"fastnet cupy": 0.05, "torch eager": 0.4}, "steady_us_per_iteration": 6.25,
                               "fused_kernel_us": {"fastnet cupy": {"rows": 8, "lanes": 4, "tile_step": 3.52,
                                                                    "reduce_update": 2.14, "blocks of tile_step": 135,
                                                                    "blocks of reduce_update": 71}}}},
        "large_step": {"float32": {"step_s": 0.012, "gemms_s": 0.010, "step_over_gemms": 1.2}},
    }))
    text = gpu_section(str(path))
    assert "NVIDIA H200" in text and "3.0e-15" in text and "| float32 | 50.0 ms | 400.0 ms |" in text
    assert "1.20x its GEMMs alone" in text and "50 iterations float64: weights within 2.0e-14" in text
    assert "CUDA graphs: DIFFER from eager launches (relative 4.0e-07)" in text
    assert "- digits float32, steady state: 6.2 µs an iteration" in text
    assert ("- digits float32, fastnet cupy: tiles of 8 rows (135 blocks), 4 lane(s) a parameter (71 blocks): "
            "tile_step 3.5 µs, reduce_update 2.1 µs") in text


def test_the_gpu_goals_are_read_off_the_run_with_a_timed_out_section_s_partial_figures_and_missing_ones_said():
    sys.path.insert(0, ROOT)
    from bench.report import gpu_goals

    lines = gpu_goals({
        # digits ran out of time after float32: its saved figures still count
        "digits": {"error": "timed out after 130 s", "partial": {"float32": {"best": {
            "fastnet cupy": 0.020, "torch cuda graph": 0.100, "torch eager": 0.150}}}},
        "training": {"weights_relative_error": {"fused 50 iterations float64": 3e-14,
                                                "layered 50 iterations float64": 2e-9}},
        "large_step": {"float32": {"step_over_gemms": 1.1}, "float64": {"step_over_gemms": 1.3}},
    })
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in lines[2:]}
    assert rows["digits, 3000 iterations, float32, ≤ 25 ms"] == ["20.0 ms", "yes |"]
    assert rows["≥ 4× torch cuda graph, digits float32"] == ["5.00×", "yes |"]
    assert rows["≥ 10× torch eager, digits float32"] == ["7.50×", "no |"]
    assert rows["≥ 4× torch cuda graph, digits float64"] == ["-", "not measured |"]
    assert rows["float64 within 2× of float32, digits"] == ["-", "not measured |"]
    assert rows["large step within 1.2× of its GEMMs, float32"] == ["1.10×", "yes |"]
    assert rows["large step within 1.2× of its GEMMs, float64"] == ["1.30×", "no |"]
    assert rows["fused step's weights after 50 iterations within 1e-10 of the reference, float64"] == ["3.0e-14", "yes |"]
    assert rows["layered step's weights after 50 iterations within 1e-10 of the reference, float64"] == ["2.0e-09", "no |"]


def test_a_device_run_ends_by_printing_its_figures_and_goals(tmp_path, monkeypatch, capsys):
    # A device call returns the end of its output even where its files do not come back.
    sys.path.insert(0, ROOT)
    import bench.gpu

    def run_device(names, out, limits):
        with open(os.path.join(out, "gpu.json"), "w") as fh:
            json.dump({"digits": {"float32": {"best": {"torch eager": 0.3, "fastnet cupy": 0.024}}}}, fh)

    monkeypatch.setattr(bench.gpu, "why_no_gpu", lambda: None)
    monkeypatch.setattr(bench.gpu, "run_device", run_device)
    assert bench.gpu.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| float32 | 300.0 ms | 24.0 ms |" in printed
    assert "| digits, 3000 iterations, float32, ≤ 25 ms | 24.0 ms | yes |" in printed
    assert "| ≥ 10× torch eager, digits float32 | 12.50× | yes |" in printed


def test_a_section_that_fails_hangs_or_dies_costs_only_itself(tmp_path):
    sys.path.insert(0, ROOT)
    from bench.gpu import run_sections

    names = ["works", "raises", "hangs", "measures_then_hangs", "measures_then_raises", "dies", "works"]
    report = run_sections(names, str(tmp_path), limits={"hangs": 5, "measures_then_hangs": 5},
                          module="tests.bench_gpu_fake_sections")
    assert report["works"] == {"value": 42}  # the last one ran after the others failed
    assert "RuntimeError: cudaErrorIllegalAddress" in report["raises"]["error"]
    assert report["hangs"] == {"error": "timed out after 5 s"} and report["hangs_seconds"] < 30
    assert report["measures_then_hangs"] == {"error": "timed out after 5 s", "partial": {"float32": {"best": 0.02}}}
    assert report["measures_then_raises"]["partial"] == {"float32": {"best": 0.02}}
    assert "cudaErrorLaunchFailure" in report["measures_then_raises"]["error"]
    assert "ended with status 3" in report["dies"]["error"]
    assert json.loads((tmp_path / "gpu.json").read_text())["works"] == {"value": 42}  # written as it went


def test_where_the_driver_is_older_than_the_ptx_smoke_and_the_rest_run_again_with_minor_version_compatibility(
        tmp_path, monkeypatch):
    sys.path.insert(0, ROOT)
    from bench.gpu import MVC_ENV, run_device

    monkeypatch.delenv(MVC_ENV, raising=False)
    report = run_device(["smoke", "sees_the_environment"], str(tmp_path), limits={},
                        module="tests.bench_gpu_fake_sections")
    assert "UNSUPPORTED_PTX" in report["smoke_without_minor_version_compatibility"]["kernel on the null stream"]
    assert report["smoke"] == {"kernel on the null stream": "ok"}
    assert report["sees_the_environment"] == {"mvc": "1"}
    assert list(json.loads((tmp_path / "gpu.json").read_text())) == list(report)
