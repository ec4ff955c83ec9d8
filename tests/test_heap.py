"""fastnet.heap: freed heap memory goes back to the operating system after a big read."""

import ctypes
import ctypes.util
import platform

import numpy as np
import pytest

from fastnet import heap


def resident_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="malloc_trim is glibc's; other C libraries keep no such call")


@glibc
def test_the_heap_freed_by_many_chunk_sized_buffers_goes_back():
    # As pandas' chunked reader leaves it: after one big block is freed, glibc serves blocks
    # of that size from its heap and keeps them there when they are freed.
    np.ones(16 * 2**20 // 8)  # freed at once: glibc's threshold for mapping big blocks rises past 8 MiB
    buffers = [np.ones(8 * 2**20 // 8) for _ in range(12)]  # 96 MiB, from the heap
    keep = buffers[-1]  # the top of the heap stays in use, so the heap cannot simply shrink
    del buffers
    before = resident_mib()
    assert heap.release_freed_memory() is True
    assert before - resident_mib() > 64  # most of the 88 MiB freed
    assert keep[0] == 1.0


def test_without_malloc_trim_nothing_is_done(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    heap._malloc_trim.cache_clear()
    try:
        assert heap.release_freed_memory() is False
    finally:
        heap._malloc_trim.cache_clear()
