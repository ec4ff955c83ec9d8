"""The backend registry: names, order, selection, errors, and lazy imports."""

import subprocess
import sys

import pytest

import fastnet
from fastnet.backends import BACKENDS, BackendUnavailableError, backend_status, get_backend


def test_available_backends_are_known_and_in_order():
    names = fastnet.available_backends()
    assert names == [b for b in BACKENDS if b in names]
    # python and numpy need nothing beyond the core dependencies
    assert "python" in names and "numpy" in names


def test_get_backend_returns_one_shared_ops_per_name(backend):
    ops = get_backend(backend)
    assert ops.name == backend
    assert get_backend(backend) is ops


def test_unknown_backend_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid: auto, python, numba, numpy, fused, cupy"):
        get_backend("tensorflow")


def test_auto_picks_the_gpu_else_fused_else_numpy():
    expected = "cupy" if backend_status("cupy")[0] else "fused" if backend_status("fused")[0] else "numpy"
    assert get_backend("auto").name == expected


def test_auto_falls_back_to_numpy_when_numba_is_missing(monkeypatch):
    from fastnet import backends

    monkeypatch.setattr(backends, "backend_status", lambda name: (name == "numpy", "not installed"))
    assert backends.resolve_name("auto") == "numpy"


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("FASTNET_BACKEND", "python")
    assert get_backend().name == "python"
    monkeypatch.setenv("FASTNET_BACKEND", "numpy")
    assert get_backend(None).name == "numpy"


def test_unavailable_backend_says_why_and_how_to_fix():
    ok, reason = backend_status("cupy")
    if ok:
        pytest.skip("CuPy and a GPU are present here, so the unavailable path cannot be shown")
    with pytest.raises(BackendUnavailableError) as info:
        fastnet.Network([2, 1], backend="cupy")
    message = str(info.value)
    assert "cupy" in message
    assert ("not installed" in message and "pip install" in message) or "found none usable" in message


@pytest.mark.slow  # a subprocess
def test_missing_numba_is_reported_with_the_install_command():
    # A fresh interpreter in which importing numba fails, whatever is installed.
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import fastnet\n"
        "try:\n"
        "    fastnet.get_backend('numba')\n"
        "except fastnet.BackendUnavailableError as e:\n"
        "    print('ERR', e)\n"
        "print('AVAILABLE', fastnet.available_backends())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'ERR backend \'numba\' needs Numba, which is not installed' in out
    assert 'pip install "fastnet-trainer[numba]"' in out
    assert "AVAILABLE ['python', 'numpy']" in out


@pytest.mark.slow  # a subprocess
def test_import_fastnet_imports_neither_numba_nor_cupy_nor_sklearn():
    code = "import sys, fastnet; print(sorted(m for m in ('numba', 'cupy', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow  # a subprocess
def test_the_estimators_load_on_first_use():
    code = (
        "import sys, fastnet\n"
        "assert 'FastNetClassifier' in dir(fastnet)\n"
        "from fastnet import FastNetClassifier, FastNetRegressor, load_estimator\n"
        "print(FastNetClassifier.__module__, 'sklearn' in sys.modules)\n"
        "try:\n"
        "    fastnet.FastNetClasifier\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["fastnet.estimators True", "module 'fastnet' has no attribute 'FastNetClasifier'"]
