"""Shared fixtures: every test that takes ``backend`` runs once per backend.

Backends that cannot run here are still collected and skipped with the reason
the registry gives (for cupy: CuPy missing or no GPU), so a skip is never silent.
"""

import os

import numpy as np
import pytest
from hypothesis import settings

from fastnet.backends import BACKENDS, backend_status

# The simulated GPU tests need NUMBA_ENABLE_CUDASIM=1 from the start of their process;
# tests/test_gpu_simulator.py runs them so.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["simulated_gpu"]

# Property tests draw the same examples on every run ("derandomize"), so CI cannot
# fail on a draw nobody has seen before. To hunt for new counterexamples, run
# with HYPOTHESIS_PROFILE=explore (fresh random draws each run).
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def _backend_params(names):
    params = []
    for name in names:
        marks = [pytest.mark.gpu] if name == "cupy" else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def require_backend(name):
    """Skip the calling test, with the registry's reason, when ``name`` cannot run here."""
    ok, reason = backend_status(name)
    if not ok:
        pytest.skip(f"backend {name!r} unavailable: {reason}")


@pytest.fixture(params=_backend_params(BACKENDS))
def backend(request):
    """Each backend name in turn, skipped with a reason where it cannot run."""
    require_backend(request.param)
    return request.param


def reference_ops():
    """The untuned textbook Ops, the oracle every backend is compared with."""
    from fastnet.backends.reference import Ops

    return Ops()


@pytest.fixture(scope="session")
def digits():
    import fastnet

    return fastnet.datasets.load_digits()


def to_numpy(a):
    """A NumPy copy of a NumPy or CuPy array."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def pytest_terminal_summary(terminalreporter):
    """List the GPU tests' skip under one line: they all skip for the one reason that no GPU answers.

    pytest folds skips by file, line and reason; the GPU tests sit in many files, so
    without this the same reason would print once per file and line (about 30 times).
    Counts stay as they are; the short summary that follows prints the folded line.
    """
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and "backend 'cupy' unavailable" in longrepr[2]:
            report.longrepr = ("GPU tests", None, longrepr[2])


# Seconds each test may take when this variable is set (bench.gpu sets it for the GPU
# tests on a device, where one kernel that hangs must cost only its own test).
TEST_TIMEOUT_ENV = "FASTNET_TEST_TIMEOUT_S"


class TimeLimitExceeded(Exception):
    """A test ran past FASTNET_TEST_TIMEOUT_S seconds."""


@pytest.fixture(autouse=True)
def _time_limit_per_test():
    """Fail a test that runs past ``FASTNET_TEST_TIMEOUT_S`` seconds, and go on to the next (POSIX main thread)."""
    import signal
    import threading

    limit = os.environ.get(TEST_TIMEOUT_ENV)
    if not limit or not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = float(limit)

    def expired(signum, frame):
        raise TimeLimitExceeded(f"the test ran past {TEST_TIMEOUT_ENV}={limit} seconds")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
