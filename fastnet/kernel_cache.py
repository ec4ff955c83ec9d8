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

Processes that compile at the same time (the ranks of ``mpiexec``, the workers of a
``GridSearchCV``) take turns at the cache (:func:`lock_cache`). Numba's own cache
reads a function's index, picks the first free data-file name for a new entry, and
writes both; two processes saving different entries of one function at once pick the
same name, and the index of one then points at the code of the other. A factory's
kernels (one per activation) share one index, so a relu layer could load a sigmoid's
code: it happened here once, after MPI tests compiled in parallel.
"""

import contextlib
import functools
import os
import sys

LOCK_NAME = "fastnet.lock"  # in the cache folder: held while a kernel's cache entry is read or written

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


@contextlib.contextmanager
def cache_lock(folder):
    """Hold the inter-process lock of the cache ``folder`` (POSIX ``flock``; elsewhere no lock, Numba's race remains)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, LOCK_NAME), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_cache(dispatcher, numba):
    """Make a ``cache=True`` Numba ``dispatcher`` read and write its disk cache under :func:`cache_lock`.

    Called while :func:`kernels_cached_in_user_folder` holds, so that the lock sits in
    the folder the kernels are cached in. Returns the dispatcher.
    """
    from numba.core.caching import FunctionCache

    if not isinstance(getattr(dispatcher, "_cache", None), FunctionCache):
        return dispatcher  # not cached, or a Numba whose cache fastnet does not know: left as it is
    cache = _locked_function_cache()(dispatcher.py_func)
    cache.lock_folder = numba.config.CACHE_DIR or numba_cache_dir()
    dispatcher._cache = cache
    return dispatcher


@functools.lru_cache(maxsize=None)
def _locked_function_cache():
    from numba.core.caching import FunctionCache

    class LockedFunctionCache(FunctionCache):
        """Numba's cache of one function, its index and data files read and written under the folder's lock."""

        lock_folder = None

        def load_overload(self, sig, target_context):
            with cache_lock(self.lock_folder):
                return super().load_overload(sig, target_context)

        def save_overload(self, sig, data):
            with cache_lock(self.lock_folder):
                return super().save_overload(sig, data)

    return LockedFunctionCache
