"""Compiled kernels are cached in the user's cache folder, and the choice leaves Numba as it was."""

import os

import pytest

from fastnet.kernel_cache import NUMBA_FOLDER, cache_dir, kernels_cached_in_user_folder, numba_cache_dir


def test_cache_folder_follows_fastnet_s_variable_then_xdg_then_home(tmp_path):
    assert cache_dir({"FASTNET_CACHE_DIR": str(tmp_path / "a"), "XDG_CACHE_HOME": "/x"}) == str(tmp_path / "a")
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "fastnet")
    assert cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "fastnet")


def test_numba_s_own_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path / "fn"))
    assert numba_cache_dir() == str(tmp_path / "fn" / NUMBA_FOLDER)


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
    saved = [f for _, _, files in os.walk(tmp_path / NUMBA_FOLDER) for f in files]
    assert any(f.endswith(".nbi") for f in saved) and any(f.endswith(".nbc") for f in saved), saved


@pytest.mark.slow  # a subprocess that compiles
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the cache lock is POSIX flock")
def test_a_kernel_waits_for_the_cache_lock_another_process_holds(tmp_path):
    # Numba's cache picks a data file's name from its index: two processes saving at once
    # could pick the same one, and an index would then point at another kernel's code.
    import fcntl
    import subprocess
    import sys
    import time

    pytest.importorskip("numba")
    from fastnet.kernel_cache import LOCK_NAME

    folder = tmp_path / NUMBA_FOLDER
    folder.mkdir()
    script = tmp_path / "kernel_user.py"  # a file: Numba caches only functions it can find the source of
    script.write_text("import numba\nfrom fastnet.backends.loop_ops import numba_jit\n\n\ndef twice(x):\n"
                      "    return 2.0 * x\n\n\nprint(numba_jit(numba)(twice)(1.5), flush=True)\n")
    env = dict(os.environ, FASTNET_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                           os.environ.get("PYTHONPATH", "")]))
    env.pop("NUMBA_CACHE_DIR", None)
    with open(folder / LOCK_NAME, "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(4)  # long enough to import Numba and reach the cache
            assert child.poll() is None, "the kernel went to the cache while another process held its lock"
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "3.0"
    saved = [f for _, _, files in os.walk(folder) for f in files]
    assert any(f.endswith(".nbc") for f in saved)  # it compiled and saved once the lock was free


def test_without_numba_s_function_counter_kernels_compile_but_are_not_cached(monkeypatch, tmp_path):
    # A Numba whose functions cannot be given ids of their own: its cached kernels could share
    # symbols, so nothing is cached, and the kernel still runs.
    numba = pytest.importorskip("numba")
    from numba.core import bytecode

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path))
    # A stand-in with no counter, whose one method Numba's compiler calls is the real class's.
    without_counter = type("FunctionIdentity", (), {"from_function": bytecode.FunctionIdentity.from_function})
    monkeypatch.setattr(bytecode, "FunctionIdentity", without_counter)
    from fastnet.backends.loop_ops import numba_jit

    def thrice(x):
        return 3.0 * x

    assert numba_jit(numba)(thrice)(1.5) == 4.5
    assert not os.path.exists(tmp_path / NUMBA_FOLDER)


# For each hidden activation named on the command line, in order: the gap between the fused
# whole-backprop kernel's gradients (2 blocks of rows) and the reference's.
GRADIENT_GAPS = """\
import sys
import numpy as np
import fastnet
from fastnet.backends import get_backend
from fastnet.backends.fused import row_rule
from fastnet.backends.reference import Ops

fused = get_backend("fused")
fused.split.threads = max(fused.split.threads, 2)
row_rule.free_cores = lambda: 2  # 2 blocks, whatever else runs on this machine
rng = np.random.default_rng(1)
X = rng.normal(size=(301, 20))
Y = np.eye(4)[rng.integers(0, 4, 301)]
for activation in sys.argv[1:]:
    grads = []
    for ops in (fused, Ops()):
        net = fastnet.Network([20, 24, 4], activation=activation, output_activation="sigmoid", loss="mse", seed=4,
                              backend=ops)
        with net.ops.running():
            net._backprop(X, Y)
        grads.append([np.array(g) for pair in net._grads for g in pair])
    print(activation, max(float(np.max(np.abs(a - b))) for a, b in zip(*grads)))
"""


@pytest.mark.slow  # four processes that compile
def test_kernels_cached_by_different_processes_keep_their_own_callees(tmp_path):
    # Two processes with the same history compile the sigmoid and the tanh kernel; a third
    # loads both. With Numba's counted function ids, the callees of both kernels had one
    # symbol name, and the second kernel loaded ran the first one's activation: tanh's
    # gradients came out 0.04 off. Each kernel must run its own.
    import subprocess
    import sys

    from fastnet.backends import get_backend

    from .conftest import require_backend

    require_backend("fused")
    if get_backend("fused").split.scipy_blas is None:
        pytest.skip("the whole-backprop kernel needs SciPy's own BLAS, not found here")
    script = tmp_path / "gradient_gaps.py"
    script.write_text(GRADIENT_GAPS)
    env = dict(os.environ, FASTNET_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)

    def gaps(*activations):
        run = subprocess.run([sys.executable, str(script), *activations], capture_output=True, text=True, env=env,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        return [(line.split()[0], float(line.split()[1])) for line in run.stdout.splitlines()]

    gaps()  # the kernels every run compiles first (the launch probe), cached: the next two start alike
    assert gaps("sigmoid")[0][1] < 1e-12 and gaps("tanh")[0][1] < 1e-12
    for order in (("sigmoid", "tanh"), ("tanh", "sigmoid")):
        both = gaps(*order)
        assert [name for name, _ in both] == list(order)
        assert all(gap < 1e-12 for _, gap in both), both


def test_info_names_the_old_cache_folder_as_safe_to_delete(monkeypatch, tmp_path, capsys):
    from fastnet.cli import main
    from fastnet.kernel_cache import OLD_NUMBA_FOLDER

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path))
    assert main(["info"]) == 0
    assert "safe to delete" not in capsys.readouterr().out
    (tmp_path / OLD_NUMBA_FOLDER).mkdir()
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"compiled kernels cached in: {tmp_path / NUMBA_FOLDER}" in out
    assert f"no longer read by fastnet, safe to delete: {tmp_path / OLD_NUMBA_FOLDER}" in out


def test_a_cached_kernel_is_read_only_while_fastnet_s_sources_are_those_it_was_compiled_from(monkeypatch, tmp_path):
    # Numba's own check is the kernel's file: a callee edited in another file (fastnet/maths.py)
    # would leave the old code in use. fastnet's sources are part of each entry's stamp.
    import importlib.util

    numba = pytest.importorskip("numba")
    from fastnet import kernel_cache
    from fastnet.backends.loop_ops import numba_jit

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FASTNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    source = tmp_path / "kernel_source.py"  # a file: Numba caches only functions it can find the source of
    source.write_text("def twice(x):\n    return 2.0 * x\n")
    spec = importlib.util.spec_from_file_location("kernel_source", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def loaded_from_disk():
        kernel = numba_jit(numba)(module.twice)  # a new dispatcher: it compiles, or it loads from the cache
        assert kernel(1.5) == 3.0
        return sum(kernel.stats.cache_hits.values()) == 1

    assert not loaded_from_disk()  # compiled and saved
    assert loaded_from_disk()
    monkeypatch.setattr(kernel_cache, "sources_fingerprint", lambda: "fastnet's sources, edited")
    assert not loaded_from_disk()
    assert loaded_from_disk()  # and the new entry is read from then on


def test_the_sources_fingerprint_changes_with_any_python_source_of_the_packages(monkeypatch, tmp_path):
    import importlib.util

    from fastnet import kernel_cache

    # The real packages hold the kernels and the maths they call.
    folders = [f for p in kernel_cache.SOURCE_PACKAGES for f in importlib.util.find_spec(p).submodule_search_locations]
    assert {"maths.py", "neurons.py", "fused_exp.py", "fused_layers.py", "loops.py"} <= {
        name for folder in folders for name in os.listdir(folder)}

    package = tmp_path / "fingerprinted"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "callee.py").write_text("def f(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(kernel_cache, "SOURCE_PACKAGES", ("fingerprinted",))

    def fingerprint():
        kernel_cache.sources_fingerprint.cache_clear()
        return kernel_cache.sources_fingerprint()

    before = fingerprint()
    (package / "notes.txt").write_text("not Python")
    assert fingerprint() == before
    (package / "inner" / "callee.py").write_text("def f(x):\n    return 2 * x\n")
    assert fingerprint() != before
    kernel_cache.sources_fingerprint.cache_clear()  # the real packages' again, for later tests
