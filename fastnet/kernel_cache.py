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

Kernels loaded from the cache must also never share a symbol name
(:func:`unique_symbols`): Numba numbers the functions it compiles from 1 in every
process, and two cached kernels whose callees got the same number in two processes
would, once both are loaded into a third, run one body for both.

And an entry is read only while fastnet's sources are those it was compiled from
(:func:`sources_fingerprint`). Numba checks only the kernel's own file, and its key
names a module-level callee (a function of ``fastnet/maths.py``, say) by its name, not
its code: after an edit of that callee, or a ``git pull`` into an editable install,
the kernel would run the old callee.
"""

import contextlib
import functools
import hashlib
import importlib.util
import os
import secrets
import sys

LOCK_NAME = "fastnet.lock"  # in the cache folder: held while a kernel's cache entry is read or written

ENV = "FASTNET_CACHE_DIR"

# The folder, in cache_dir(), of Numba's cache files. Until 2026-12-07 it was
# OLD_NUMBA_FOLDER, whose entries were compiled with Numba's counted function ids: they
# can share symbol names (see unique_symbols), so they are never read again.
NUMBA_FOLDER = "numba-unique-symbols"
OLD_NUMBA_FOLDER = "numba"


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
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(cache_dir(), NUMBA_FOLDER)


def unused_cache_folders():
    """Folders of fastnet's cache that no version of fastnet reads any more (safe to delete), those that exist."""
    old = os.path.join(cache_dir(), OLD_NUMBA_FOLDER)
    return [old] if os.path.isdir(old) else []


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


class RandomFunctionIds:
    """Endless random 64-bit ids, one for each function Numba compiles (see :func:`unique_symbols`).

    Drawn from the operating system (``secrets``), not from a seeded generator, so that
    forked processes do not draw the same ones.
    """

    def __iter__(self):
        return self

    def __next__(self):
        return secrets.randbits(64)


def unique_symbols():
    """Give every function Numba compiles from now on, in this process, a random id; return whether it could.

    Numba names a compiled function's machine-code symbol after its qualified name and
    an id, ``FunctionIdentity._unique_ids``, a counter that starts at 1 in every process.
    A kernel's callees are closures made by factories (``bias_activation`` of tanh and
    of sigmoid have one qualified name), so two processes that compile the same kernels
    in the same order give the tanh kernel's callee and the sigmoid kernel's callee one
    symbol, and cache both. A third process that loads both kernels from the cache links
    the second kernel's call to the body loaded first (LLVM keeps one definition of a
    name): on 2026-12-07, tanh's whole-backprop gradients came out of the sigmoid code,
    0.04 off, with no error (``tests/test_kernel_cache.py`` rebuilds that case; Numba's
    issue is numba/numba#10486). With a random 64-bit id per function, the odds that any
    two of 5,000 cached functions share one are below one in 10**12 (n**2 / 2**65). The
    ids only name symbols, in this process, for every library that uses Numba in it;
    nothing else reads them.

    Returns False where this Numba has no such counter, and leaves Numba as it was: the
    caller then compiles without the disk cache, slower to start but never wrong.
    """
    from numba.core import bytecode

    identity = getattr(bytecode, "FunctionIdentity", None)
    if identity is None or not hasattr(identity, "_unique_ids"):
        return False
    if not isinstance(identity._unique_ids, RandomFunctionIds):
        identity._unique_ids = RandomFunctionIds()
    return True


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


# The packages whose functions a compiled kernel may call: their sources decide what a kernel computes.
SOURCE_PACKAGES = ("fastnet", "fastnet.kernels")


@functools.lru_cache(maxsize=None)
def sources_fingerprint():
    """A SHA-256 of every ``.py`` file of :data:`SOURCE_PACKAGES` (path and contents), read once a process.

    Part of each cached kernel's stamp (see :func:`lock_cache`): any change to fastnet's
    sources makes every kernel compile again on its next use, and its new entries
    replace the old ones. An install from a wheel never changes, so this costs only
    those who edit fastnet (a first run after an edit compiles, 15-25 s on 2 cores).
    """
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        for folder in importlib.util.find_spec(package).submodule_search_locations:
            for root, dirs, files in os.walk(folder):
                dirs.sort()
                for name in sorted(f for f in files if f.endswith(".py")):
                    path = os.path.join(root, name)
                    digest.update(os.path.relpath(path, folder).encode() + b"\0")
                    with open(path, "rb") as fh:
                        digest.update(fh.read() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _locked_function_cache():
    from numba.core.caching import FunctionCache

    class LockedFunctionCache(FunctionCache):
        """Numba's cache of one function, its index and data files read and written under the folder's lock."""

        lock_folder = None

        def __init__(self, py_func):
            super().__init__(py_func)
            # Numba's stamp is the kernel file's time and size: an index with another
            # stamp is read as empty and then overwritten. With fastnet's sources in it, an
            # entry compiled from other sources is never read, and no stale ones pile up.
            cache_file = getattr(self, "_cache_file", None)
            if cache_file is not None and hasattr(cache_file, "_source_stamp"):
                cache_file._source_stamp = (cache_file._source_stamp, sources_fingerprint())

        def load_overload(self, sig, target_context):
            with cache_lock(self.lock_folder):
                return super().load_overload(sig, target_context)

        def save_overload(self, sig, data):
            with cache_lock(self.lock_folder):
                return super().save_overload(sig, data)

    return LockedFunctionCache
