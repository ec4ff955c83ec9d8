"""Settings for the tests on Numba's CUDA simulator (run by tests/test_gpu_simulator.py).

The simulator runs a block as one Python thread per CUDA thread, and its launching
thread polls them in a loop that holds the GIL. At Python's default switch interval
(5 ms) each barrier waits out that interval before the block's threads run on: a
simulated digits-sized iteration took 1.2 s. A 0.1 ms interval hands the GIL over
sooner (0.21 s); the kernels and their results are the same.

The simulator makes a block's shared array when the first of its threads asks for it
(one array per line of the kernel that asks), looking it up and storing it without a
lock (``FakeCUDAShared.array`` in numba-cuda 0.30). Two threads that both find none
each make one, and what the first one writes is lost to the rest of the block: a wrong
sum now and then (twice in one CI run, once thread switches were frequent). Here the
lookup and the making happen under a lock, so a block shares one array per line, as on
a GPU.
"""

import sys
import threading

import numpy

sys.setswitchinterval(1e-4)

try:
    from numba import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support
except ImportError:  # no numba-cuda: tests/test_gpu_simulator.py skips these tests
    kernelapi = None

if kernelapi is not None:
    _simulators_own = kernelapi.FakeCUDAShared.array
    _making = threading.Lock()

    def _shared_array_made_once(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:  # an error, or the dynamic array: the simulator's own answer
            return _simulators_own(self, shape, dtype, alignment)
        asker = sys._getframe(1)  # the kernel's line that asks: its array, for every thread of the block
        line = (asker.f_code.co_filename, asker.f_lineno)
        with _making:
            made = self._allocations.get(line)
            if made is None:
                dtype = numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type) else dtype
                made = self._allocations[line] = numpy.empty(shape, dtype)
        return made

    kernelapi.FakeCUDAShared.array = _shared_array_made_once
