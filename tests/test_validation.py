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
