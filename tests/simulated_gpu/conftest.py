"""Settings for the tests on Numba's CUDA simulator (run by tests/test_gpu_simulator.py).

The simulator runs a block as one Python thread per CUDA thread, and its launching
thread polls them in a loop that holds the GIL. At Python's default switch interval
(5 ms) each barrier waits out that interval before the block's threads run on: a
simulated digits-sized iteration took 1.2 s. A 0.1 ms interval hands the GIL over
sooner (0.21 s); the kernels and their results are the same.
"""

import sys

sys.setswitchinterval(1e-4)
