"""``fastnet info``: which backends run here and why not, the CPU and BLAS, the GPU, the library versions."""

import importlib
import platform

from ..backends import BACKENDS, backend_status, resolve_name
from ..kernel_cache import numba_cache_dir, unused_cache_folders
from ..machine import cpu_description, numpy_blas
from ..tuning import TUNING, available_cores

LIBRARIES = ("fastnet", "numpy", "scipy", "sklearn", "numba", "numba_cuda", "cupy", "tqdm", "matplotlib")


def add_parser(sub):
    sub.add_parser("info", help="list the backends, the CPU and BLAS, the GPU and library versions")


def gpu_name():
    """The first CUDA device's name, or a reason there is none."""
    from ..backends.cupy_ops import SIMULATOR_ENV, simulated

    if simulated():
        return f"none: Numba's CUDA simulator stands in ({SIMULATOR_ENV}=1)"
    ok, reason = backend_status("cupy")
    if not ok:
        return f"none ({reason})"
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}"


def _note(name):
    """What to know about a usable backend, for its line."""
    from ..backends.cupy_ops import SIMULATOR_ENV, simulated

    if name == "cupy" and simulated():
        return f" (simulated on the CPU by Numba's CUDA simulator, {SIMULATOR_ENV}=1; auto never picks it)"
    return ""


def version(module):
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except ImportError:
        return "not installed"


def run(_args):
    print("backends:")
    for name in BACKENDS:
        ok, reason = backend_status(name)
        print(f"  {name:7s} {'usable' if ok else 'unavailable: ' + reason}{_note(name) if ok else ''}")
    print(f"  auto    -> {resolve_name('auto')}")
    print(f"cpu: {cpu_description()}")
    print(f"numpy's blas: {numpy_blas()}")
    if backend_status("fused")[0]:
        # Described, not built: building fused starts Numba's threads.
        import numba

        from ..backends.fused.row_rule import why_off_before_launching

        threads = min(numba.config.NUMBA_NUM_THREADS, available_cores())
        off = why_off_before_launching(threads)
        if off is not None:
            print(f"fused layers: serial, on one thread ({off})")
        else:
            print(f"fused layers: row-parallel on up to {threads} threads, as many as other processes leave cores "
                  f"free, from {2 * TUNING.parallel_min_work:,} multiply-adds a layer and blocks of "
                  f"{TUNING.min_block_rows} rows (a layer with more output neurons than the batch has rows splits its "
                  "neurons instead in a training update's backward step, and in the forward pass where the batch is "
                  f"at most 1/{TUNING.forward_neuron_share} of each side of W or under {2 * TUNING.min_block_rows} "
                  "rows); serial on a busy machine or "
                  "where that cannot run (decided when fused is first used)")
    print(f"compiled kernels cached in: {numba_cache_dir()}")
    for folder in unused_cache_folders():
        print(f"  no longer read by fastnet, safe to delete: {folder}")
    print("tuning (fastnet/tuning.py; `python -m bench.tuning NAME` times both sides of one rule):")
    for line in TUNING.describe():
        print(f"  {line}")
    print(f"gpu: {gpu_name()}")
    print(f"python: {platform.python_version()} ({platform.machine()})")
    for module in LIBRARIES:
        print(f"{module}: {version(module)}")
    return 0
