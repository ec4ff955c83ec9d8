"""Compiled kernels are cached in the user's cache folder, and the choice leaves Numba as it was."""

import os

import pytest

from fastnet.kernel_cache import cache_dir, kernels_cached_in_user_folder, numba_cache_dir


def test_cache_folder_follows_fastnet_s_variable_then_xdg_then_home(tmp_path):
    assert cache_dir({"FASTNET_CACHE_DIR": str(tmp_path / "a"), "XDG_CACHE_HOME": "/x"}) == str(tmp_path / "a")
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "fastnet")
    assert cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "fastnet")


def test_numba_s_own_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path / "fn"))
    assert numba_cache_dir() == str(tmp_path / "fn" / "numba")


def test_a_kernel_is_cached_in_the_user_folder_and_numba_s_setting_comes_back(monkeypatch, tmp_path):
    numba = pytest.importorskip("numba")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    from fastnet.backends.loop_ops import numba_jit

    def twice(x):
        return 2.0 * x

    assert numba_jit(numba)(twice)(1.5) == 3.0
    assert numba.config.CACHE_DIR == ""
    saved = [f for _, _, files in os.walk(tmp_path / "numba") for f in files]
    assert any(f.endswith(".nbi") for f in saved) and any(f.endswith(".nbc") for f in saved), saved


@pytest.mark.slow  # a subprocess that compiles
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the cache lock is POSIX flock")
def test_a_kernel_waits_for_the_cache_lock_another_process_holds(tmp_path):
    # Numba's cache picks a data file's name from its index: two processes saving at once
    # could pick the same one, and an index would then point at another kernel's code.
    import fcntl
    import subprocess
    import sys
    import time

    pytest.importorskip("numba")
    from fastnet.kernel_cache import LOCK_NAME

    folder = tmp_path / "numba"
    folder.mkdir()
    script = tmp_path / "kernel_user.py"  # a file: Numba caches only functions it can find the source of
    script.write_text("import numba\nfrom fastnet.backends.loop_ops import numba_jit\n\n\ndef twice(x):\n"
                      "    return 2.0 * x\n\n\nprint(numba_jit(numba)(twice)(1.5), flush=True)\n")
    env = dict(os.environ, FASTNET_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                           os.environ.get("PYTHONPATH", "")]))
    env.pop("NUMBA_CACHE_DIR", None)
    with open(folder / LOCK_NAME, "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(4)  # long enough to import Numba and reach the cache
            assert child.poll() is None, "the kernel went to the cache while another process held its lock"
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "3.0"
    saved = [f for _, _, files in os.walk(folder) for f in files]
    assert any(f.endswith(".nbc") for f in saved)  # it compiled and saved once the lock was free
