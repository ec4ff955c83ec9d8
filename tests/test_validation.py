"""The input checks of fastnet.validation, below the public API that test_network covers."""

import numpy as np
import pytest

from fastnet.validation import all_finite


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3,), (1, 100), (7, 13)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_one_non_finite_value_wherever_it_is(dtype, shape, bad):
    clean = np.random.default_rng(0).standard_normal(shape).astype(dtype) * 1e30
    assert all_finite(clean)
    for position in (0, clean.size // 2, clean.size - 1):
        dirty = clean.copy()
        dirty.reshape(-1)[position] = bad
        assert not all_finite(dirty), (position, bad)
        # A strided view that skips the bad element is finite, one that keeps it is not.
        assert all_finite(dirty.reshape(-1)[position + 1 :])
        assert not all_finite(dirty.reshape(-1)[position::-1])


def test_all_finite_accepts_the_extremes_of_each_float_type():
    for dtype in (np.float64, np.float32):
        info = np.finfo(dtype)
        assert all_finite(np.array([info.max, -info.max, info.tiny, info.smallest_subnormal], dtype))


class _RecordingNumpy:
    """An array library that is NumPy underneath and records which of its functions were called."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(np, name)


def test_device_arrays_are_checked_with_their_own_library_never_through_numpy(monkeypatch):
    from fastnet import validation

    xp = _RecordingNumpy()
    # NumPy's own finiteness check (the host's) counts; the device's is one reduction of xp.
    monkeypatch.setattr(validation.numpy, "count_nonzero", lambda *a, **k: pytest.fail("checked as a host array"))
    X, was_1d = validation.as_float_rows("X", np.ones((4, 3)), 3, "float64", xp=xp)
    assert X.shape == (4, 3) and not was_1d and {"asarray", "isfinite"} <= set(xp.calls)
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        validation.as_float_rows("X", np.array([[1.0, np.nan, 2.0]]), 3, "float64", xp=xp)
    with pytest.raises(ValueError, match="expected shape"):
        validation.as_targets(np.ones((3, 2)), 4, 2, "float64", xp=xp)
