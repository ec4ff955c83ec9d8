"""``python -m bench.gpu --out DIR``: the one prepared run on a GPU machine, written to DIR/gpu.json.

Section by section, each in a process of its own with a time limit
(:data:`SECTION_LIMIT_S`), each written to the file as soon as it is done (so a run cut
off by its time limit still leaves what it measured). A section that raises, hangs, or
leaves the CUDA context broken (an illegal address is sticky for the whole process)
costs only itself: its entry says how it ended, and the next section starts afresh. A
section that runs out of time keeps, as ``partial``, what it saved as it went
(:func:`save_partial`: digits, training and large_step save after each dtype):

0. ``smoke``: the versions of the CUDA stack, one kernel on the null stream and one on
   a non-blocking stream, and three fused iterations with CUDA graphs against the same
   without (same bits); where the kernels do not load because the driver is older than
   the PTX, smoke and everything after it run again with minor version compatibility;
1. ``machine``: versions and the device's properties;
2. ``kernels``: every GPU kernel against the reference Ops, both dtypes, odd sizes;
3. ``training``: the cupy backend's weights after 3 and 50 digits iterations against
   the reference's, both dtypes, fused and layered steps, mini-batch momentum and
   Adam; and the fused step with CUDA graphs against the same without (same bits);
4. ``digits``: 3000 full-batch iterations (tutorial recipe) for fastnet cupy (the
   fused step as its rules set it, with tiles of 8, 16 and 32 rows, with one thread a
   parameter in the reduction, and the layered step), PyTorch eager and PyTorch with a
   CUDA graph, float32 and float64, rounds interleaved; the steady state per
   iteration (``fit(3000)`` minus ``fit(300)``), and for each fused variant its rows
   and lanes and each kernel timed alone (CUDA events around a graph of 200 launches);
5. ``large_step``: one step of 60000 x 784-1024-1024-10 on device arrays, the steady
   state (``fit(4)`` minus ``fit(1)``), against its matrix products alone;
6. ``nccl``: data-parallel training on two GPUs, NCCL summing the gradients, against
   one process (skipped, saying why, on one GPU or without MPI);
7. ``gpu_tests``: the test suite's ``gpu`` tests, each with a time limit of its own;
8. ``cpu_cores``: last, in the time left, the CPU backends and PyTorch's CPU step on
   this machine's cores, idle and beside one busy process (:mod:`bench.cores`, digits): the
   CPU rules were tuned on 2 cores, and the GPU machine has 16.

At the end it prints the run's summary and each GPU goal, met or not
(:func:`bench.report.gpu_section`), so the figures are in its output as well as in
the file. Without a usable GPU it writes ``{"skipped": reason}`` and exits 0. Run it from a
checkout with ``PYTHONPATH=$PWD`` (nothing to install on the device machine).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings

import numpy as np

ROUNDS = 3
# Seconds each section may take before its process is ended (the whole run must fit in
# one 10-minute device call, start-up included).
SECTION_LIMIT_S = 120
# 520 s in all for the GPU, 560 where smoke runs twice (see run_device); on one GPU nccl
# takes a second. cpu_cores comes last (82 s cold on a 2-core VM, 38 s of it compiling
# fused's kernels), so a run cut off at 10 minutes loses only what it had not saved.
SECTION_LIMITS = {"smoke": 40, "machine": 20, "kernels": 60, "training": 100, "digits": 130, "large_step": 60,
                  "nccl": 30, "gpu_tests": 80, "cpu_cores": 100}
GPU_TESTS_LIMIT_S = 70
GPU_TEST_LIMIT_S = 20  # each GPU test (FASTNET_TEST_TIMEOUT_S, tests/conftest.py): one that hangs fails alone
NCCL_LIMIT_S = 25  # a one-GPU machine answers at once; two GPUs train digits twice, 100 epochs
# numba-cuda's switch for CUDA minor version compatibility: nvJitLink links the PTX to
# machine code itself, so a driver older than the PTX compiler still loads the kernels.
MVC_ENV = "NUMBA_CUDA_ENABLE_MINOR_VERSION_COMPATIBILITY"
# Rows per tile the digits section also times, beside the rule's choice (8 on a GPU of
# 132 SMs): fewer rows make more blocks for the SMs and more partial gradients to sum
# (see docs/gpu.md).
TILE_ROWS_SWEPT = (8, 16, 32)


def why_no_gpu():
    """None when CuPy finds a GPU here; otherwise why not.

    Only CuPy is asked: whether numba-cuda's kernels load is the smoke section's
    question, answered in a process of its own (and asked again with minor version
    compatibility where the driver is older than the PTX).
    """
    from fastnet.backends.cupy_ops import SIMULATOR_ENV, simulated

    if simulated():
        return f"{SIMULATOR_ENV}=1: the CUDA simulator is not a GPU"
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - ImportError, or the CUDA runtime's own errors
        return f"backend 'cupy' unavailable: {type(exc).__name__}: {exc}"
    return None if count else "backend 'cupy' unavailable: the CUDA runtime reports no device"


def toolchain_versions():
    """Each part of the CUDA stack the kernels go through, or why it could not be asked."""
    def ask(read):
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - one missing part must not hide the others
            return f"unavailable ({type(exc).__name__}: {exc})"

    def nvvm():
        from numba.cuda.cudadrv import nvvm as module

        return ".".join(map(str, module.NVVM().get_version()))

    def nvjitlink():
        from cuda.bindings import nvjitlink as module

        return ".".join(map(str, module.version()))

    import cupy

    return {
        "driver": ask(cupy.cuda.runtime.driverGetVersion),
        "cuda_runtime": ask(cupy.cuda.runtime.runtimeGetVersion),
        "nvvm": ask(nvvm),
        "nvjitlink": ask(nvjitlink),
        "cuda_core": ask(lambda: __import__("cuda.core", fromlist=["__version__"]).__version__),
        "numba_cuda": ask(lambda: __import__("numba_cuda").__version__),
        "cupy": cupy.__version__,
        MVC_ENV: os.environ.get(MVC_ENV, "unset"),
    }


def smoke():
    """The first section: versions, one kernel on the null and on a non-blocking stream, capture against eager."""
    import cupy

    import fastnet
    from fastnet.backends.cupy_ops import CupyOps

    result = {"versions": toolchain_versions()}
    ops = CupyOps()
    for name, stream in (("null stream", cupy.cuda.Stream.null), ("non-blocking stream",
                                                                   cupy.cuda.Stream(non_blocking=True))):
        try:
            with stream:
                ops.check_kernels_run()
            stream.synchronize()
            result[f"kernel on the {name}"] = "ok"
        except Exception as exc:  # noqa: BLE001 - recorded; the next check still runs
            result[f"kernel on the {name}"] = f"{type(exc).__name__}: {exc}"
    # Three fused iterations a chunk each (a callback makes every epoch a chunk): the first
    # eager, the second captured as a graph and launched, the third the graph replayed.
    data = fastnet.datasets.load_digits()
    X, Y = data.X_train.astype("float32"), fastnet.one_hot(data.y_train, 10).astype("float32")
    nets = {"graphs": tutorial_nets(CupyOps(), "float32"), "eager": tutorial_nets(CupyOps(graphs=False), "float32")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        costs = {name: net.fit(X, Y, epochs=3, lr=0.25, callback=lambda epoch, cost: None)
                 for name, net in nets.items()}
    (wg, bg), (we, be) = nets["graphs"].get_params(), nets["eager"].get_params()
    result["captured_equals_eager"] = costs["graphs"] == costs["eager"] and all(
        np.array_equal(a, b) for a, b in zip(wg + bg, we + be))
    result["capture_warnings"] = [str(w.message) for w in caught if "CUDA graph" in str(w.message)]
    return result


def machine():
    import cupy
    import numba

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    info = {"python": platform.python_version(), "numpy": np.__version__, "cupy": cupy.__version__,
            "numba": numba.__version__, "device": name, "memory_gib": props["totalGlobalMem"] / 2**30,
            "multiprocessors": props["multiProcessorCount"],
            "compute_capability": f"{props['major']}.{props['minor']}",
            "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(), "driver": cupy.cuda.runtime.driverGetVersion()}
    for module in ("numba_cuda", "torch"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = "not installed"
    return info


def relative_error(got, want):
    """Largest difference relative to the largest value, through host copies (CuPy refuses implicit conversion)."""
    got, want = (np.asarray(a.get() if hasattr(a, "get") else a, np.float64) for a in (got, want))
    return float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) or 1.0))


def kernels():
    """Each layer step of the cupy backend against the reference, on odd sizes, both dtypes."""
    from fastnet.backends import get_backend
    from fastnet.backends.reference import Ops

    gpu, ref = get_backend("cupy"), Ops()
    results = {}
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        m, n_in, n_out = 1077, 63, 29  # no size a multiple of a block
        X, W, b = (rng.normal(size=s).astype(dtype) for s in ((m, n_in), (n_out, n_in), (n_out,)))
        H, Y = rng.random((m, n_out)).astype(dtype), rng.random((m, n_out)).astype(dtype)
        for kind in ("sigmoid", "tanh", "relu", "identity", "softmax"):
            out = gpu.alloc((m, n_out), dtype)
            gpu.dense(gpu.asarray(X), gpu.asarray(W), gpu.asarray(b), kind, out)
            results[f"dense {kind} {dtype}"] = relative_error(gpu.to_numpy(out), ref.dense(X, W, b, kind, np.empty((m, n_out), dtype)))
            if kind != "softmax":
                delta = rng.normal(size=(m, 7)).astype(dtype)
                W2 = rng.normal(size=(7, n_out)).astype(dtype)
                got = gpu.hidden_delta(gpu.asarray(delta), gpu.asarray(W2), gpu.asarray(H), kind, gpu.alloc((m, n_out), dtype))
                want = ref.hidden_delta(delta, W2, H, kind, np.empty((m, n_out), dtype))
                results[f"hidden_delta {kind} {dtype}"] = relative_error(gpu.to_numpy(got), want)
        dW, db = gpu.alloc((n_out, n_in), dtype), gpu.alloc((n_out,), dtype)
        gpu.weight_grads(gpu.asarray(Y), gpu.asarray(X), dW, db)
        want_dW, want_db = np.empty((n_out, n_in), dtype), np.empty(n_out, dtype)
        ref.weight_grads(Y, X, want_dW, want_db)
        results[f"weight_grads dW {dtype}"] = relative_error(gpu.to_numpy(dW), want_dW)
        results[f"weight_grads db {dtype}"] = relative_error(gpu.to_numpy(db), want_db)
        for kind in ("sigmoid", "identity"):
            out = gpu.alloc((m, n_out), dtype)
            cost = gpu.mse_cost_and_delta(kind, gpu.asarray(H), gpu.asarray(Y), 1 / m, out)
            want = np.empty((m, n_out), dtype)
            want_cost = ref.mse_cost_and_delta(kind, H, Y, 1 / m, want)
            results[f"mse delta {kind} {dtype}"] = relative_error(gpu.to_numpy(out), want)
            results[f"mse cost {kind} {dtype}"] = relative_error(float(cost), float(want_cost))
    return {"relative_errors": results, "worst": max(results.values())}


def tutorial_nets(backend, dtype):
    import fastnet

    return fastnet.Network([64, 30, 10], backend=backend, dtype=dtype, seed=0)


def training():
    """Weights after 3 and 50 digits iterations on the GPU against the reference Ops, and graphs against eager.

    ``fused`` is the default (the fused step, its chunks replayed as CUDA graphs),
    ``layered`` the cuBLAS-and-kernels step of large networks; mini-batch Adam and
    momentum run the fused step one epoch a chunk. ``graph_equals_eager`` trains 350
    iterations (chunks of 100: the first run of a chunk shape eager, then captured,
    then replayed) with and without graphs: the weights must be the same bits.
    """
    import fastnet
    from fastnet.backends.cupy_ops import CupyOps
    from fastnet.backends.reference import Ops

    data = fastnet.datasets.load_digits()
    Y = fastnet.one_hot(data.y_train, 10)
    steps = {"fused": CupyOps(), "layered": CupyOps(fuse_steps=False)}
    results = {}

    def error(a, b):  # get_params: host copies, whatever the backend
        (wa, ba), (wb, bb) = a.get_params(), b.get_params()
        return max(relative_error(x, y) for x, y in zip(wa + ba, wb + bb))

    for dtype in ("float64", "float32"):
        for name, ops in steps.items():
            for iterations in (3, 50):
                gpu, ref = tutorial_nets(ops, dtype), tutorial_nets(Ops(), dtype)
                gpu.fit(data.X_train, Y, epochs=iterations, lr=0.25)
                ref.fit(data.X_train, Y, epochs=iterations, lr=0.25)
                results[f"{name} {iterations} iterations {dtype}"] = error(gpu, ref)
        for optimizer in ("momentum", "adam"):
            gpu, ref = tutorial_nets("cupy", dtype), tutorial_nets(Ops(), dtype)
            fit = dict(epochs=2, lr=0.01, optimizer=optimizer, batch_size=64, alpha=1e-3)
            gpu.fit(data.X_train, Y, **fit)
            ref.fit(data.X_train, Y, **fit)
            results[f"fused {optimizer} mini-batch 2 epochs {dtype}"] = error(gpu, ref)
        save_partial({"weights_relative_error": results})
    graphs, eager = tutorial_nets(CupyOps(), "float32"), tutorial_nets(CupyOps(graphs=False), "float32")
    costs = [net.fit(data.X_train, Y, epochs=350, lr=0.25) for net in (graphs, eager)]
    (wg, bg), (we, be) = graphs.get_params(), eager.get_params()
    same = costs[0] == costs[1] and all(np.array_equal(a, b) for a, b in zip(wg + bg, we + be))
    return {"weights_relative_error": results, "graph_equals_eager": bool(same),
            "graph_vs_eager_relative_error": error(graphs, eager)}


def fused_variants():
    """The fused step's variants the digits section times: its rules' choice, each swept rows per tile, one lane.

    They share one CupyOps' compiled kernels (keyed by rows and lanes), so a variant
    compiles only the kernels the others lack: compiling is most of a section's time.
    """
    from fastnet.backends.cupy_ops import CupyOps

    base = CupyOps()
    variants = {"fastnet cupy": base}
    for rows in TILE_ROWS_SWEPT:
        variants[f"fastnet cupy, tiles of {rows} rows"] = CupyOps(tile_rows=rows)
    variants["fastnet cupy, one thread a parameter"] = CupyOps(reduce_lanes=1)
    for ops in variants.values():
        ops._built = base._built
    return variants


def digits(rounds=ROUNDS, iterations=3000):
    """Wall seconds of 3000 iterations, host included: fastnet cupy, PyTorch eager, PyTorch with a CUDA graph."""
    import cupy

    import fastnet
    from fastnet.backends.cupy_ops import CupyOps

    from .peers import torch_trainer

    data = fastnet.datasets.load_digits()
    Y = fastnet.one_hot(data.y_train, 10)
    results = {}
    variants = fused_variants()
    for dtype in ("float32", "float64"):
        X, Yd = data.X_train.astype(dtype), Y.astype(dtype)
        start_w, start_b = tutorial_nets("numpy", dtype).get_params()
        makers = {  # PyTorch first: the peers' figures survive whatever fastnet's runners do
            "torch eager": lambda: _torch_runner(torch_trainer, X, Yd, start_w, start_b, "cuda", iterations),
            "torch cuda graph": lambda: _torch_runner(torch_trainer, X, Yd, start_w, start_b, "cuda-graph", iterations),
        }
        fused = {name: tutorial_nets(ops, dtype) for name, ops in variants.items()}
        for name, net in fused.items():
            makers[name] = lambda net=net: _fit_runner(net, X, Yd, iterations)
        makers["fastnet cupy layered"] = lambda: _fit_runner(tutorial_nets(CupyOps(fuse_steps=False), dtype), X, Yd,
                                                             iterations)
        runners, errors = {}, {}
        for name, make in makers.items():  # each guarded on its own: built and warmed up (compiled, captured)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    runners[name] = make()
                    runners[name]()
                # A capture that failed leaves the step eager: its times are then eager ones, and say so.
                failed = [str(w.message) for w in caught if "CUDA graph" in str(w.message)]
                if failed:
                    errors[f"{name}: capture failed, timed eagerly"] = failed[0]
            except Exception as exc:  # noqa: BLE001 - recorded; the other runners still measure
                errors[name] = f"{type(exc).__name__}: {exc}"
                runners.pop(name, None)
        times = {name: [] for name in runners}
        for _ in range(rounds):
            for name, run in list(runners.items()):
                try:
                    cupy.cuda.runtime.deviceSynchronize()
                    t0 = time.perf_counter()
                    run()
                    cupy.cuda.runtime.deviceSynchronize()
                    times[name].append(time.perf_counter() - t0)
                except Exception as exc:  # noqa: BLE001
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    runners.pop(name)
        best = {name: min(t) for name, t in times.items() if t}
        ratios = {f"{name} / fastnet cupy": best[name] / best["fastnet cupy"] for name in best} \
            if "fastnet cupy" in best else {}
        results[dtype] = {"seconds": times, "best": best, "ratios": ratios, "errors": errors}
        # Each fused variant's rows per tile and lanes, and its kernels timed alone.
        shapes = results[dtype]["fused_kernel_us"] = {}
        for name, net in fused.items():
            if name in runners:
                try:
                    made = net.ops._fused_steps[net]
                    shapes[name] = dict(kernel_times(net, X, Yd), rows=made.rows, lanes=made.lanes)
                except Exception as exc:  # noqa: BLE001
                    errors[f"{name}: kernel times"] = f"{type(exc).__name__}: {exc}"
        # The steady state, without fit's once-per-call work: fit(3000) minus fit(300) over 2700.
        if "fastnet cupy" in runners:
            try:
                net = tutorial_nets(variants["fastnet cupy"], dtype)
                seconds = {}
                for n in (300, iterations, 300, iterations):
                    cupy.cuda.runtime.deviceSynchronize()
                    t0 = time.perf_counter()
                    net.fit(X, Yd, epochs=n, lr=0.25)
                    cupy.cuda.runtime.deviceSynchronize()
                    seconds[n] = min(seconds.get(n, float("inf")), time.perf_counter() - t0)
                results[dtype]["steady_us_per_iteration"] = (seconds[iterations] - seconds[300]) / (iterations - 300) * 1e6
            except Exception as exc:  # noqa: BLE001
                errors["steady state"] = f"{type(exc).__name__}: {exc}"
        save_partial(results)  # float32's figures survive if float64's run out of time
    return results


def kernel_times(net, X, Y, repeats=200):
    """Microseconds of each fused-step kernel alone: ``repeats`` launches captured in a graph, timed by CUDA events.

    Launched eagerly, each kernel would wait on the host (about 60 µs to launch a
    tile_step with its 12 arguments, against about 10 µs of work); in a graph the
    events measure the device.
    """
    import cupy

    net.fit(X, Y, epochs=2, lr=0.25)  # builds the FusedStep and compiles its kernels
    step = net.ops._fused_steps[net]
    launches = []
    step.launch_all(((0, X.shape[0]),), lambda kernel, grid, block, *args: launches.append((kernel, grid, block, args)))
    names = {id(step.reset): "reset", id(step.tile_step): "tile_step", id(step.reduce_update): "reduce_update"}
    stream, times = step._stream, {}
    with stream:
        step._launch_on_stream(*launches[0][:3], *launches[0][3])  # reset: stopped = 0
        for kernel, grid, block, args in launches[1:]:
            stream.begin_capture()
            for _ in range(repeats):
                step._launch_on_stream(kernel, grid, block, *args)
            graph = stream.end_capture()
            graph.launch(stream)
            start, end = cupy.cuda.Event(), cupy.cuda.Event()
            start.record(stream)
            graph.launch(stream)
            end.record(stream)
            end.synchronize()
            times[names[id(kernel)]] = cupy.cuda.get_elapsed_time(start, end) * 1e3 / repeats
    times["blocks of tile_step"], times["blocks of reduce_update"] = launches[1][1], launches[2][1]
    return times


def _fit_runner(net, X, Y, iterations):
    return lambda: net.fit(X, Y, epochs=iterations, lr=0.25)


def _torch_runner(torch_trainer, X, Y, start_w, start_b, device, iterations):
    train = torch_trainer(X, Y, start_w, start_b, 0.25, device=device)
    return lambda: train(iterations)


def large_step():
    """One full-batch step of 60000 x 784-1024-1024-10 against the same step's matrix products alone."""
    import cupy

    import fastnet

    rng = np.random.default_rng(0)
    layers, m = [784, 1024, 1024, 10], 60000
    results = {}
    for dtype in ("float32", "float64"):
        X = cupy.asarray(rng.normal(size=(m, layers[0])).astype(dtype))
        Y = cupy.asarray(fastnet.one_hot(rng.integers(0, 10, m), 10).astype(dtype))
        net = fastnet.Network(layers, backend="cupy", dtype=dtype, seed=0)

        def fit_seconds(epochs):  # X and Y are device arrays: fit checks them on the device, no host copy
            cupy.cuda.runtime.deviceSynchronize()
            t0 = time.perf_counter()
            net.fit(X, Y, epochs=epochs, lr=0.01)
            cupy.cuda.runtime.deviceSynchronize()
            return time.perf_counter() - t0

        fit_seconds(1)  # compiles the kernels
        # The steady state: what three more steps cost, without fit's once-per-call work.
        one, four = fit_seconds(1), fit_seconds(4)
        step = (four - one) / 3
        Ws = [cupy.asarray(w) for w in net.weights]
        hs = [X] + [cupy.empty((m, n), dtype) for n in layers[1:]]

        def products():
            for l, W in enumerate(Ws):  # forward, then per layer the weight gradient and the delta below
                cupy.matmul(hs[l], W.T, out=hs[l + 1])
            for l in range(len(Ws) - 1, -1, -1):
                cupy.matmul(hs[l + 1].T, hs[l])
                if l:
                    cupy.matmul(hs[l + 1], Ws[l])

        products()
        cupy.cuda.runtime.deviceSynchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            products()
        cupy.cuda.runtime.deviceSynchronize()
        gemms = (time.perf_counter() - t0) / 3
        results[dtype] = {"step_s": step, "fit_1_s": one, "fit_4_s": four, "gemms_s": gemms,
                          "step_over_gemms": step / gemms}
        save_partial(results)
    return results


def nccl():
    """Data-parallel training on two GPUs, the gradients summed by NCCL, against one process (needs two GPUs and MPI)."""
    import shutil

    import cupy

    from fastnet.data_parallel import nccl_unavailable

    count = cupy.cuda.runtime.getDeviceCount()
    if count < 2:
        return {"skipped": f"NCCL needs two GPUs; this machine has {count}"}
    if nccl_unavailable():
        return {"skipped": nccl_unavailable()}
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as exc:
        return {"skipped": f"mpi4py with an MPI library is needed ({exc})"}
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if mpiexec is None:
        return {"skipped": "no mpiexec"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, os.path.join(root, "tests", "mpi", "cases.py"),
                           "nccl_equals_one_process"], capture_output=True, text=True, timeout=NCCL_LIMIT_S, cwd=root)
    if done.returncode != 0:
        return {"error": f"mpiexec ended with status {done.returncode}", "stderr": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def gpu_tests():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"],
                              cwd=root, capture_output=True, text=True, timeout=GPU_TESTS_LIMIT_S,
                              env=dict(os.environ, FASTNET_TEST_TIMEOUT_S=str(GPU_TEST_LIMIT_S)))
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {"timed_out_after_s": GPU_TESTS_LIMIT_S, "tail": out[-3000:]}
    return {"returncode": proc.returncode, "tail": proc.stdout[-3000:]}


def cpu_cores():
    """The CPU backends on this machine's cores, idle and loaded (:func:`bench.cores.cores`), saved after each dtype."""
    from .cores import cores

    return cores(save=save_partial)


SECTIONS = {"smoke": smoke, "machine": machine, "kernels": kernels, "training": training, "digits": digits,
            "large_step": large_step, "nccl": nccl, "gpu_tests": gpu_tests, "cpu_cores": cpu_cores}


def run_device(names, out, limits, module="bench.gpu"):
    """The sections ``names`` in order, ``smoke`` first, each in a process of its own (see :func:`run_sections`).

    Where smoke's kernels do not load because the PTX is newer than the driver accepts,
    smoke runs again with minor version compatibility (:data:`MVC_ENV`), and so do the
    sections after it; the first smoke's report is kept beside the second's.
    """
    report = run_sections(["smoke"], out, limits, module)
    env = {}
    if "UNSUPPORTED_PTX" in json.dumps(report["smoke"]).upper() and os.environ.get(MVC_ENV) != "1":
        report["smoke_without_minor_version_compatibility"] = report.pop("smoke")
        env = {MVC_ENV: "1"}
        run_sections(["smoke"], out, limits, module, env=env, report=report)
    return run_sections([name for name in names if name != "smoke"], out, limits, module, env=env, report=report)


def run_sections(names, out, limits, module="bench.gpu", env=None, report=None):
    """Run each section of ``module`` in a child process with its time limit; write ``out``/gpu.json after each.

    ``env`` adds to the children's environment; ``report`` is extended (default: a new
    one). Returns the report: each section's result, or how it ended (an error with its
    traceback, a time-out, a crash with its exit status), and its seconds.
    """
    path = os.path.join(out, "gpu.json")
    report = {} if report is None else report
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
               NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS="0", **(env or {}))  # small grids are by design: no warning per launch
    for name in names:
        result = os.path.join(out, f".{name}.json")
        if os.path.exists(result):
            os.remove(result)
        t0 = time.perf_counter()
        command = [sys.executable, "-m", "bench.gpu", "--child", f"{module}:{name}", "--out", result]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=limits.get(name, SECTION_LIMIT_S),
                                  env=env, cwd=root)
            if os.path.exists(result):
                with open(result) as fh:
                    report[name] = json.load(fh)
                os.remove(result)
            else:
                report[name] = {"error": f"the section's process ended with status {done.returncode} and no result",
                                "stderr": done.stderr[-2000:]}
        except subprocess.TimeoutExpired:
            report[name] = {"error": f"timed out after {limits.get(name, SECTION_LIMIT_S)} s"}
            if os.path.exists(result):  # what the section saved before (save_partial) is kept beside the error
                with open(result) as fh:
                    report[name]["partial"] = json.load(fh)
                os.remove(result)
        report[name + "_seconds"] = time.perf_counter() - t0
        with open(path + ".tmp", "w") as fh:
            json.dump(report, fh, indent=1)
        os.replace(path + ".tmp", path)
        print(f"bench.gpu: {name} done in {report[name + '_seconds']:.1f} s", flush=True)
    return report


# In a section's process: the file run_child writes its result to, and save_partial what
# it has so far. An environment variable, since the child runs as __main__, not bench.gpu.
PARTIAL_ENV = "BENCH_GPU_RESULT"


def save_partial(value):
    """In a section: write what it has measured so far, kept as ``partial`` if the section then runs out of time."""
    path = os.environ.get(PARTIAL_ENV)
    if path:
        with open(path + ".tmp", "w") as fh:
            json.dump(value, fh, indent=1, default=float)
        os.replace(path + ".tmp", path)


def run_child(target, result):
    """In a child process: run one section (``module:name``) and write its result, or its error, to ``result``."""
    import importlib

    os.environ[PARTIAL_ENV] = result
    module, name = target.split(":")
    try:
        value = getattr(importlib.import_module(module), name)()
    except Exception as exc:  # noqa: BLE001 - the parent records it and goes on
        value = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        if os.path.exists(result):  # what it saved before the error
            with open(result) as fh:
                value["partial"] = json.load(fh)
    with open(result, "w") as fh:
        json.dump(value, fh, indent=1, default=float)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for gpu.json")
    parser.add_argument("--sections", nargs="*", choices=list(SECTIONS),
                        help="default: all, in order; smoke always runs first")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # module:section, run by run_sections
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.out)
    os.makedirs(args.out, exist_ok=True)
    reason = why_no_gpu()
    if reason is not None:
        with open(os.path.join(args.out, "gpu.json"), "w") as fh:
            json.dump({"skipped": reason}, fh, indent=1)
        print(f"bench.gpu: skipped: {reason}")
        return 0
    run_device(args.sections or list(SECTIONS), args.out, SECTION_LIMITS)
    path = os.path.join(args.out, "gpu.json")
    print(f"bench.gpu: wrote {path}")
    from .report import gpu_section

    # The summary and the goals on standard output too: a device call always returns
    # the end of its output, even where its files do not come back.
    print(gpu_section(path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
