"""Stand-in tests for tests/test_time_limit.py: one that hangs, one that passes after it."""

import time


def test_hangs():
    time.sleep(60)


def test_runs_after_the_one_that_hung():
    assert True
