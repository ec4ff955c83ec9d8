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
