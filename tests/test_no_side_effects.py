"""Asking changes nothing: importing fastnet, listing backends and ``fastnet info`` leave the
process's thread pools and library settings as they found them, and so does a fit on fused.

Each check runs in a fresh interpreter, so that nothing this test session built (the
fused backend, Numba's threads) is already there.
"""

import json
import subprocess
import sys

import pytest

from .conftest import require_backend

pytestmark = pytest.mark.slow  # fresh interpreters: CI runs them; -m "not slow" skips them

_POOLS = """
import json, sys
from threadpoolctl import threadpool_info
import numpy, scipy.linalg.cython_blas  # every BLAS fastnet could touch, loaded first

def pools():
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()}
before = pools()
"""

_REPORT = """
after = pools()
print(json.dumps({"before": before, "after": after}))
"""


def run_between_pool_readings(code):
    """Thread counts of every pool loaded before ``code``, read before and after it runs."""
    out = subprocess.run([sys.executable, "-c", _POOLS + code + _REPORT], capture_output=True, text=True, check=True)
    readings = json.loads(out.stdout.strip().splitlines()[-1])
    assert readings["before"], "threadpoolctl found no pools to compare"
    return readings["before"], {path: readings["after"].get(path) for path in readings["before"]}


def test_import_and_available_backends_leave_every_pool_as_it_was():
    before, after = run_between_pool_readings("import fastnet\nprint(fastnet.available_backends())\n")
    assert after == before


def test_fastnet_info_leaves_every_pool_as_it_was():
    code = "from fastnet.cli import main\nimport contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(['info'])\n"
    before, after = run_between_pool_readings(code)
    assert after == before


@pytest.mark.parametrize("call", ["fit", "forward", "predict"])
def test_training_or_predicting_on_fused_restores_every_pool(call):
    require_backend("fused")
    code = ("import numpy as np, fastnet\n"
            "X = np.random.default_rng(0).random((1078, 64)); Y = np.eye(10)[np.arange(1078) % 10]\n"
            "net = fastnet.Network([64, 30, 10], backend='fused', seed=0)\n"
            f"net.fit(X, Y, epochs=3, lr=0.1) if {call!r} == 'fit' else getattr(net, {call!r})(X)\n")
    before, after = run_between_pool_readings(code)
    assert after == before
