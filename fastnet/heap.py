"""Giving freed memory back to the operating system, where the C library keeps it.

Reading a big table leaves tens of MiB that Python has freed but the process still
holds: pandas' parser allocates its buffers a chunk at a time, and glibc's ``malloc``
keeps freed blocks of that size in its heap for reuse instead of returning them (it
raises its threshold for handing big blocks back after the first one is freed). They
would count in the peak of the training that follows, beside the compiled kernels.
``malloc_trim`` hands the free pages back. Other C libraries (macOS, musl) have no
such call; there nothing is done.
"""

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_freed_memory():
    """Return the C heap's free pages to the operating system; True where that could be done (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
