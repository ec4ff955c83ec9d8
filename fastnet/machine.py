"""What this machine runs fastnet's arithmetic on: the CPU, its vector width, NumPy's BLAS.

These decide the CPU backends' speed more than anything in fastnet: the matrix
products are the BLAS library's, and the kernels it and NumPy's ufuncs pick
depend on the vector extensions the CPU has. ``fastnet info`` and the benchmark
report print them.
"""

import os
import platform


def _cpuinfo_field(name):
    """The first value of ``name`` in /proc/cpuinfo, or None where there is no such file."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_description():
    """E.g. "Intel(R) Xeon(R) Processor (2 logical cores, AVX-512)"."""
    name = _cpuinfo_field("model name") or platform.processor() or "unknown CPU"
    flags = (_cpuinfo_field("flags") or "").split()
    return f"{name} ({os.cpu_count()} logical cores, {widest_vector_extension(flags)})"


def widest_vector_extension(flags):
    """"AVX-512", "AVX2", ... from a CPU's flags (x86); "vector width unknown" otherwise."""
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2")):
        if flag in flags:
            return name
    return "vector width unknown"


def numpy_blas(pools=None):
    """NumPy's BLAS as it runs here: library, version, kernel architecture, threads.

    ``pools`` is threadpoolctl's ``threadpool_info()`` (read here when not given;
    threadpoolctl comes with scikit-learn). Of the BLAS libraries loaded, NumPy's
    own is the one under ``numpy``'s folder (SciPy may have loaded another). The
    architecture is the kernel set OpenBLAS picked for this CPU at run time, which
    is what decides its speed on small products.
    """
    if pools is None:
        try:
            import threadpoolctl  # noqa: F401
        except ImportError:
            return "unknown (threadpoolctl is not installed)"
    p = numpy_blas_pool(pools)
    if p is None:
        return "unknown (threadpoolctl found none)"
    parts = [f"{p['internal_api']} {p['version']}" if p.get("version") else p["internal_api"]]
    if p.get("architecture"):
        parts.append(f"{p['architecture']} kernels")
    parts.append(f"{p['num_threads']} threads")
    return ", ".join(parts)


def numpy_blas_pool(pools=None):
    """threadpoolctl's description of NumPy's own BLAS (a dict), or None when unknown."""
    if pools is None:
        import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then finds)

        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return None
        pools = threadpool_info()
    blas = [p for p in pools if p.get("user_api") == "blas"]
    ours = [p for p in blas if "numpy" in p.get("filepath", "")] or blas
    return ours[0] if ours else None
