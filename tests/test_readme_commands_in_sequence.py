"""A new user's first minutes: the README's main command, then its test command's install, on a fresh copy.

The main command installs fastnet into site-packages and trains, which compiles and
caches Numba kernels; the test command then replaces that install with an editable
one. When the caches went into ``site-packages/fastnet/**/__pycache__``, the uninstall
left them behind as a ``fastnet`` folder without ``__init__.py`` that shadowed the
editable install, and ``fastnet --version`` failed from any other folder.
"""

import os
import shutil
import subprocess
import sys

import pytest

from fastnet.kernel_cache import NUMBA_FOLDER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


def readme_block(marker):
    with open(os.path.join(ROOT, "README.md")) as fh:
        block = fh.read().split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    return next(line for line in block.splitlines() if line.startswith("pip install"))


def fresh_copy(dest):
    """The files a clone of this tree would have (tracked and new, not ignored), or the whole tree."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns("__pycache__", "*venv*", "*.egg-info", ".git"))
        return
    for rel in filter(None, listed.stdout.decode().split("\0")):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))


def test_main_command_then_test_install_leave_a_working_fastnet(tmp_path):
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU machine: the main command would install CuPy and CUDA's libraries here")
    clone, venv, cache, elsewhere = (tmp_path / n for n in ("clone", "venv", "cache", "elsewhere"))
    fresh_copy(clone)
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NUMBA_CACHE_DIR", "FASTNET_CACHE_DIR", "FASTNET_BACKEND")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", XDG_CACHE_HOME=str(cache))
    if pip_cache.returncode == 0:  # keep pip's own download cache where it was
        env["PIP_CACHE_DIR"] = pip_cache.stdout.strip()

    def sh(command, cwd=clone):
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)

    main = sh(readme_block("main-command"))
    assert main.returncode == 0, main.stdout[-2000:] + main.stderr[-2000:]
    assert "test accuracy" in main.stdout
    # From another folder: in the clone, ``python -c`` would import the clone's sources.
    site = sh('python -c "import fastnet, os; print(os.path.dirname(fastnet.__file__))"', cwd=elsewhere).stdout
    assert "site-packages" in site, site
    site = site.strip()
    left = [f for _, _, files in os.walk(site) for f in files if f.endswith((".nbi", ".nbc"))]
    assert left == [], f"compiled kernels cached inside the install: {left[:3]}"
    cached = [f for _, _, files in os.walk(cache / "fastnet" / NUMBA_FOLDER) for f in files if f.endswith(".nbc")]
    assert cached, "the main command compiled kernels, but none were cached in the user cache folder"

    install = sh(readme_block("test-command").split(" && ")[0])
    assert install.returncode == 0, install.stderr[-2000:]
    version = sh("fastnet --version", cwd=elsewhere)
    assert version.returncode == 0, version.stderr[-2000:]
    assert version.stdout.strip().endswith(sh("python -c 'import fastnet; print(fastnet.__version__)'",
                                              cwd=elsewhere).stdout.strip())
