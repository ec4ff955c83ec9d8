"""LaunchConfigs: each kernel[grid, block, stream] built once, numba-cuda's low-occupancy warning kept from users."""

import warnings

import pytest

from fastnet.backends import launch_configs
from fastnet.backends.launch_configs import LaunchConfigs


def _performance_warning():
    """numba-cuda's own NumbaPerformanceWarning where it is installed, else a stand-in of the same name."""
    try:
        from numba.cuda.core.errors import NumbaPerformanceWarning
    except ImportError:
        NumbaPerformanceWarning = type("NumbaPerformanceWarning", (UserWarning,), {})
    return NumbaPerformanceWarning


class CountingKernel:
    """Stands in for a Numba dispatcher: ``kernel[grid, block, stream]`` warns as numba-cuda's does and counts."""

    def __init__(self, extra_warning=None):
        self.configured = []
        self.extra_warning = extra_warning

    def __getitem__(self, key):
        grid, block, stream = key
        self.configured.append(key)
        if grid < 128:
            warnings.warn(_performance_warning()(f"Grid size {grid} will likely result in GPU under-utilization "
                                                 "due to low occupancy."))
        if self.extra_warning:
            warnings.warn(self.extra_warning)
        return ("config", grid, block, stream, len(self.configured))


def test_a_configuration_is_built_once_and_reused():
    configs, kernel = LaunchConfigs(), CountingKernel()
    first = configs(kernel, 71, 128, "stream")
    assert configs(kernel, 71, 128, "stream") is first
    assert kernel.configured == [(71, 128, "stream")]
    other = configs(kernel, 135, 128, "stream")
    other_stream = configs(kernel, 71, 128, "another stream")
    assert len({first, other, other_stream}) == 3
    assert kernel.configured == [(71, 128, "stream"), (135, 128, "stream"), (71, 128, "another stream")]


def test_the_low_occupancy_warning_is_not_shown_to_users():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LaunchConfigs()(CountingKernel(), 18, 128, "stream")
        # Outside the configuration the user's own small grid still warns.
        warnings.warn(_performance_warning()("Grid size 3 will likely result in GPU under-utilization due to low "
                                             "occupancy."))
    assert [str(w.message) for w in caught] == [
        "Grid size 3 will likely result in GPU under-utilization due to low occupancy."]


def test_every_other_warning_still_shows():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LaunchConfigs()(CountingKernel(extra_warning="the kernel's own warning"), 18, 128, "stream")
    assert [str(w.message) for w in caught] == ["the kernel's own warning"]


def test_clear_and_the_bound_on_kept_configurations(monkeypatch):
    monkeypatch.setattr(launch_configs, "MAX_KEPT", 3)
    configs, kernel = LaunchConfigs(), CountingKernel()
    for grid in (200, 201, 202):
        configs(kernel, grid, 128, 0)
    configs(kernel, 203, 128, 0)  # a fourth: the store starts again
    configs(kernel, 200, 128, 0)
    assert [k[0] for k in kernel.configured] == [200, 201, 202, 203, 200]
    configs.clear()
    configs(kernel, 203, 128, 0)
    assert len(kernel.configured) == 6


@pytest.mark.parametrize("grid", [1, 127])
def test_small_grids_of_any_size_are_quiet(grid):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LaunchConfigs()(CountingKernel(), grid, 32, 0)
    assert caught == []
