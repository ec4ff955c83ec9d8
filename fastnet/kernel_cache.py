"""Where Numba's compiled kernels are cached on disk: a user cache folder, never the install.

Numba caches a compiled function beside its source, in ``__pycache__``, when that
folder is writable. For an installed fastnet that is ``site-packages/fastnet``, and
``pip uninstall`` does not know those files: it removes fastnet's sources and leaves
a ``fastnet`` folder of ``.nbi``/``.nbc`` files with no ``__init__.py``, which Python
then imports instead of a later (editable) install. So fastnet's kernels are cached
in the user's cache folder instead:

- ``$FASTNET_CACHE_DIR`` when it is set;
- else ``$XDG_CACHE_HOME/fastnet``, else ``~/.cache/fastnet`` (``%LOCALAPPDATA%\\fastnet``
  on Windows);

each install in a subfolder of its own (Numba names it after the source folder's
path). ``NUMBA_CACHE_DIR``, when the user sets it, wins, as Numba documents. Deleting
the folder is always safe: the next run compiles again.
"""

import contextlib
import os
import sys

ENV = "FASTNET_CACHE_DIR"


def cache_dir(environ=None):
    """The folder fastnet's compiled kernels are cached in (not created here)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV):
        return os.path.abspath(environ[ENV])
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        base = environ["LOCALAPPDATA"]
    else:
        base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "fastnet")


def numba_cache_dir():
    """The folder Numba will cache fastnet's kernels in: the user's NUMBA_CACHE_DIR, else :func:`cache_dir`."""
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(cache_dir(), "numba")


@contextlib.contextmanager
def kernels_cached_in_user_folder(numba):
    """Point Numba's cache at :func:`numba_cache_dir` while fastnet's functions are jitted.

    Numba picks a function's cache folder when ``njit(cache=True)`` wraps it, from
    ``numba.config.CACHE_DIR``; setting it for that moment only, and putting it back,
    leaves every other user of Numba in the process as it was.
    """
    config = numba.config
    before = config.CACHE_DIR
    if not before:
        config.CACHE_DIR = numba_cache_dir()
    try:
        yield
    finally:
        config.CACHE_DIR = before
