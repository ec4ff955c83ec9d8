"""The README's main command installs the GPU extras for the CUDA major that nvidia-smi reports, and none without it."""

import os
import re
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main_command():
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    block = readme.split("<!-- main-command -->")[1].split("<!-- /main-command -->")[0]
    return next(line for line in block.splitlines() if line.startswith("pip install"))


def extras_with(tmp_path, smi_output):
    """The ``.[...]`` argument the main command gives pip, on a PATH whose nvidia-smi prints ``smi_output``."""
    target = re.match(r'pip install (".*?")', main_command()).group(1)
    # A PATH of grep and sed alone, plus the fake nvidia-smi: a real one must not answer.
    for tool in ("grep", "sed"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    if smi_output is not None:
        fake = tmp_path / "nvidia-smi"
        fake.write_text(f"#!/bin/sh\necho '{smi_output}'\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return subprocess.run([shutil.which("bash"), "-c", f"echo {target}"], env={"PATH": str(tmp_path)},
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("cuda,extra", [("12.4", "gpu12"), ("13.0", "gpu13")])
def test_main_command_picks_the_gpu_extra_of_the_driver_s_cuda(tmp_path, cuda, extra):
    line = f"| NVIDIA-SMI 580.95.05    Driver Version: 580.95.05    CUDA Version: {cuda}     |"
    assert extras_with(tmp_path, line) == f".[numba,{extra}]"


def test_main_command_installs_no_gpu_extra_without_nvidia_smi(tmp_path):
    assert extras_with(tmp_path, None) == ".[numba]"


def test_every_extra_the_main_command_can_name_exists():
    with open(os.path.join(ROOT, "pyproject.toml")) as fh:
        pyproject = fh.read()
    for extra in ("numba", "gpu12", "gpu13"):
        assert re.search(rf"^{extra} = \[", pyproject, re.M), extra
