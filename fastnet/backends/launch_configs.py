"""Numba launch configurations, made once per kernel, grid, block and stream.

``kernel[grid, block, stream]`` builds a new launch configuration on every call, and
numba-cuda warns ``NumbaPerformanceWarning`` ("Grid size N will likely result in GPU
under-utilization") as it builds one for a grid of fewer than 128 blocks. fastnet's
grids follow the data: digits' reduction is 71 blocks because digits has 2,270
parameters, and nothing a user could change would make the warning go away, so a
user saw one warning per distinct grid. Here each configuration is built once, with
that one warning ignored, and launched as often as the kernel runs; every other
warning still shows.

Not for the simulator: there ``kernel[grid, block]`` configures the kernel object
itself and returns it, so two kept configurations of one kernel would be one.
"""

import warnings

# Configurations kept before the store starts again: the layered path has a few grids
# a fit (the last batch is smaller), and a user's fits of many shapes add more.
MAX_KEPT = 256
_LOW_OCCUPANCY = r"Grid size \d+ will likely result in GPU under-utilization"


class LaunchConfigs:
    """``configs(kernel, grid, block, stream)``: the launch configuration ``kernel[grid, block, stream]``, built once."""

    def __init__(self):
        self._kept = {}

    def __call__(self, kernel, grid, block, stream):
        key = (kernel, grid, block, stream)
        config = self._kept.get(key)
        if config is None:
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            config = self._kept[key] = _configure(kernel, grid, block, stream)
        return config

    def clear(self):
        """Forget every configuration (their streams are gone)."""
        self._kept.clear()


def _configure(kernel, grid, block, stream):
    # Matched by its words, not its class: numba-cuda 0.30 raises its own
    # NumbaPerformanceWarning (numba.cuda.core.errors), not numba.core.errors' one.
    # catch_warnings swaps the process's filters; it runs once per configuration.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LOW_OCCUPANCY)
        return kernel[grid, block, stream]
