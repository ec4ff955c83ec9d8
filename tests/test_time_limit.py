"""FASTNET_TEST_TIMEOUT_S fails a test that hangs and lets the run go on (bench.gpu sets it for the GPU tests)."""

import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.slow  # a pytest run in a subprocess: CI runs it; -m 'not slow' skips


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGALRM"), reason="the limit uses SIGALRM, which only POSIX has")
def test_a_hanging_test_fails_alone_after_the_limit():
    env = dict(os.environ, FASTNET_TEST_TIMEOUT_S="1")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(HERE, "timeout_cases.py")], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(HERE), timeout=120)
    took = time.perf_counter() - start
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-2000:]
    assert "TimeLimitExceeded: the test ran past FASTNET_TEST_TIMEOUT_S=1 seconds" in done.stdout
    assert took < 30
