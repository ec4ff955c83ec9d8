"""Turn pytest-benchmark JSON into the speedup table, a chart, and a machine description."""

import json
import math
import os
import platform
import re
from collections import defaultdict

LOOPED = "python"


def load(paths):
    """Benchmarks from one or more pytest-benchmark JSON files, as a flat list."""
    rows = []
    for path in paths:
        if os.path.exists(path):
            with open(path) as fh:
                rows.extend(json.load(fh)["benchmarks"])
    return rows


def drop_round_data(path):
    """Rewrite a pytest-benchmark JSON file without every round's time (``stats.data``).

    A microsecond benchmark runs a million rounds, which made a quick run's file
    30-50 MB; the report reads only the summary statistics, which stay.
    """
    if not os.path.exists(path):
        return
    with open(path) as fh:
        run = json.load(fh)
    for bench in run["benchmarks"]:
        bench["stats"].pop("data", None)
    with open(path, "w") as fh:
        json.dump(run, fh, indent=1)


# Which of pytest-benchmark's statistics the report reads. The fastest round: on a
# shared machine, interference from other work only ever adds time, so the minimum
# is the estimate least moved by it (the development machine's means drift by up
# to 2x within one run). Every variant, peers included, is read the same way.
STATISTIC = "min"


def scaled_time(bench):
    """Seconds of the fastest round, scaled to the workload's iteration count when fewer were run.

    A round that made ``calls_per_round`` calls (a peer timed through a pipe, many
    calls at a time) counts per call.
    """
    info = bench.get("extra_info", {})
    t = bench["stats"][STATISTIC] / info.get("calls_per_round", 1)
    iterations, target = info.get("iterations"), info.get("scale_to")
    if iterations and target and iterations != target:
        return t * target / iterations, True
    return t, False


def _fmt_time(seconds):
    for unit, factor in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if unit in ("h", "min") and seconds < 2 * factor:
            continue  # 90 s reads better than 1.5 min, 100 min better than 1.67 h
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def table(benchmarks):
    """Markdown: workload x variant -> time, speedup over the looped variant, tutorial figure."""
    groups = defaultdict(list)
    for b in benchmarks:
        groups[b["extra_info"].get("workload", b["group"])].append(b)
    lines = [
        f"| workload | variant | time ({STATISTIC} of rounds) | × faster than looped | × faster than numpy | tutorial | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for workload in groups:
        rows = sorted(groups[workload], key=lambda b: scaled_time(b)[0])
        times = {b["extra_info"]["variant"]: scaled_time(b)[0] for b in rows}
        for b in rows:
            info = b["extra_info"]
            t, extrapolated = scaled_time(b)
            looped = f"{times[LOOPED] / t:.3g}" if LOOPED in times else "–"
            vs_numpy = f"{times['numpy'] / t:.3g}" if "numpy" in times else "–"
            tutorial = _fmt_time(info["tutorial_s"]) if info.get("tutorial_s") else ""
            notes = []
            if extrapolated:
                notes.append(f"extrapolated from {info['iterations']} {info.get('unit', 'iteration(s)')}")
            if info.get("test_accuracy") is not None:
                notes.append(f"test accuracy {100 * info['test_accuracy']:.1f} %")
            if info.get("note"):
                notes.append(info["note"])
            lines.append(f"| {workload} | {info['variant']} | {_fmt_time(t)} | {looped} | {vs_numpy} | {tutorial} | {'; '.join(notes)} |")
    return "\n".join(lines)


CPU_BACKENDS = ("python", "numba", "numpy", "fused")
# The CPU peers fastnet's training is raced against, with the words the goals use and the
# name each measured figure carries.
CPU_PEERS = {"torch cpu (peer)": ("PyTorch CPU", "torch"), "torch cpu-compile (peer)": ("torch.compile", "torch.compile"),
             "jax jit (peer)": ("JAX jit", "jax")}


def _times(benchmarks):
    """{workload: {variant: seconds}} (scaled to the workload's iteration count)."""
    out = defaultdict(dict)
    for b in benchmarks:
        out[b["extra_info"].get("workload", b["group"])][b["extra_info"]["variant"]] = scaled_time(b)[0]
    return out


def goals(benchmarks):
    """Markdown: issue 6's performance goals, each read off this run's own ratios."""
    times = _times(benchmarks)
    lines = ["| goal | measured in this run | met? |", "|---|---|---|"]

    def row(goal, measured, ok):
        lines.append(f"| {goal} | {measured} | {'yes' if ok else 'no'} |")

    fwd = times.get("forward 100-100-50-10", {})
    if "python" in fwd:
        for variant, target in (("numpy", 300), ("fused", 300), ("numba", 100)):
            if variant in fwd:
                ratio = fwd["python"] / fwd[variant]
                row(f"{variant} over python, forward 100-100-50-10, ≥ {target}×", f"{ratio:.0f}×", ratio >= target)
    for shape in ("3-3-1", "3-3-3-1"):
        t = times.get(f"forward {shape}", {})
        if "numba" in t and "numpy" in t:
            row(f"numba at least as fast as numpy, forward {shape}",
                f"{_fmt_time(t['numba'])} vs {_fmt_time(t['numpy'])}", t["numba"] <= t["numpy"])
    # The training workloads raced against the CPU peers a user would pick instead (digits,
    # issue 6, with torch.compile and JAX from issue 24; MNIST-shaped Adam, issue 16's goal).
    for workload in sorted(w for w in times if w.startswith(("digits training", "784-100-10 Adam"))):
        t = times[workload]
        for peer, (words, short) in CPU_PEERS.items():
            if peer not in t:
                continue
            goal = f"fastest CPU backend ≥ 1.5× {words}, {workload}"
            paired = _paired(benchmarks, workload, peer)
            if paired:
                # Rounds that alternated with the peer's. Each pair ran back to back, so the
                # ratio within a pair is what the machine's drift cancels from; the median
                # over pairs decides, the ratio of the two minima is shown beside it.
                pair_ratios = sorted(p / f for p, f in zip(paired["peer_round_s"], paired["round_s"]))
                median = _median(pair_ratios)
                row(goal, f"{paired['variant']} {_fmt_time(paired['min'])} vs {short} {_fmt_time(t[peer])} "
                          f"(fastest of {paired['rounds']} interleaved rounds each): {t[peer] / paired['min']:.2f}×; "
                          f"median of the per-pair ratios: **{median:.2f}×** "
                          f"(pairs: {', '.join(f'{r:.2f}' for r in pair_ratios)})", median >= 1.5)
                continue
            candidates = {v: t[v] for v in CPU_BACKENDS if v in t}
            if candidates:
                best = min(candidates, key=candidates.get)
                ratio = t[peer] / candidates[best]
                row(goal, f"{best} {_fmt_time(candidates[best])} vs {short} {_fmt_time(t[peer])} "
                          f"(separate rounds): {ratio:.2f}×", ratio >= 1.5)
    for b in benchmarks:
        peer = b["extra_info"].get("estimator_peer")
        if peer:
            pair_ratios = sorted(p / f for p, f in zip(peer["round_s"], b["extra_info"]["round_s"]))
            row(f"{b['extra_info']['variant']} estimator fit faster than {peer['variant']}, defaults, epochs "
                f"included ({b['extra_info']['workload']})",
                f"{_fmt_time(scaled_time(b)[0])} ({b['extra_info']['iterations']} epochs) vs {_fmt_time(peer['min'])} "
                f"({peer['n_iter']} epochs); median of the per-pair ratios: **{_median(pair_ratios):.2f}×**",
                _median(pair_ratios) > 1.0)
    return "\n".join(lines)


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _paired(benchmarks, workload, variant):
    """The fastnet rounds timed in alternation with ``variant``'s, or None."""
    for b in benchmarks:
        info = b["extra_info"]
        if info.get("workload", b["group"]) == workload and info["variant"] == variant and info.get("paired"):
            return info["paired"]
    return None


def log_axis_floor(times):
    """Where a log-scale bar starts: the whole decade at or below a tenth of the smallest time.

    A tenth, so that the fastest bar is at least a decade long even when its time sits
    just above a power of ten (1.1 s would otherwise be a sliver starting at 1 s).
    """
    return 10.0 ** math.floor(math.log10(min(times) / 10))


def chart(benchmarks, path):
    """A log-scale bar chart of time per variant, one panel per workload. Needs matplotlib.

    Returns False, drawing nothing, when the run timed nothing (a ``-k`` that matched
    only skipped or failed tests).
    """
    if not benchmarks:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups = defaultdict(list)
    for b in benchmarks:
        groups[b["extra_info"].get("workload", b["group"])].append(b)
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 1.2 + 1.1 * sum(len(g) for g in groups.values()) / 2), squeeze=False)
    for ax, (workload, rows) in zip(axes[:, 0], groups.items()):
        rows = sorted(rows, key=lambda b: scaled_time(b)[0])
        times = [scaled_time(b)[0] for b in rows]
        floor = log_axis_floor(times)
        # Every bar starts at the same decade, well below the fastest: an axis that
        # starts at the fastest time draws it as a sliver and a 2x gap as a 20x one.
        ax.barh([b["extra_info"]["variant"] for b in rows], [t - floor for t in times], left=floor, color="tab:blue")
        ax.set_xscale("log")
        ax.set_xlim(floor, max(times) * 4)  # room for the labels
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # they overlap; each bar is labelled
        for y, t in enumerate(times):
            ax.text(t * 1.1, y, _fmt_time(t), va="center", fontsize=7)
        ax.set_title(workload, fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("seconds (log scale, lower is faster)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine():
    """CPU, GPU and library versions, as markdown lines."""
    import numpy

    import fastnet
    from fastnet.backends import backend_status
    from fastnet.machine import cpu_description, numpy_blas

    lines = [f"- CPU: {cpu_description()}, {platform.system()} {platform.machine()}",
             f"- Python {platform.python_version()}, NumPy {numpy.__version__}, fastnet {fastnet.__version__}",
             f"- NumPy's BLAS: {numpy_blas()}"]
    if backend_status("fused")[0]:
        from fastnet.backends import get_backend

        lines.append(f"- fused backend: {get_backend('fused').row_parallel_description()}")
    for module in ("numba", "cupy", "torch", "sklearn"):
        try:
            lines.append(f"- {module} {__import__(module).__version__}")
        except Exception as exc:  # absent or broken: say so
            lines.append(f"- {module}: not available ({type(exc).__name__})")
    blas = torch_blas()
    if blas:
        lines.append(f"- PyTorch's BLAS: {blas}")
    ok, reason = backend_status("cupy")
    if ok:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        lines.append(f"- GPU: {props['name'].decode()}")
    else:
        lines.append(f"- GPU: none ({reason.split(';')[0]})")
    return "\n".join(lines)


def torch_blas(config=None):
    """PyTorch's BLAS and CPU capability from its build configuration, or None without torch.

    ``config`` is the text of ``torch.__config__.show()`` (read here when not given).
    """
    if config is None:
        try:
            import torch
        except ImportError:
            return None
        config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    capability = re.search(r"CPU capability usage: (\w+)", config)
    return (blas.group(1) if blas else "unknown") + (f", CPU capability {capability.group(1)}" if capability else "")


def gpu_section(path):
    """Markdown for a ``python -m bench.gpu`` result file, or None when there is none.

    A skipped run (no GPU answered) says so in one line; a measured one gives the
    digits times and ratios, the large step against its GEMMs, and the worst
    validation errors.
    """
    import json
    import os

    if not os.path.exists(path):
        return None
    with open(path) as fh:
        gpu = json.load(fh)
    if "skipped" in gpu:
        return f"GPU run skipped: {gpu['skipped']}"
    lines = []
    device = gpu.get("machine", {})
    if "device" in device:
        lines.append(f"- device: {device['device']}, CuPy {device.get('cupy')}, numba-cuda {device.get('numba_cuda')}, "
                     f"torch {device.get('torch')}")
    for section in ("kernels", "training"):
        part = gpu.get(section, {})
        if "error" in part:
            lines.append(f"- {section}: failed ({part['error']})")
    if "worst" in gpu.get("kernels", {}):
        lines.append(f"- kernels: worst relative error against the reference {gpu['kernels']['worst']:.1e}")
    for name, err in gpu.get("training", {}).get("weights_relative_error", {}).items():
        lines.append(f"- training, {name}: weights within {err:.1e} of the reference")
    if "graph_equals_eager" in gpu.get("training", {}):
        same = gpu["training"]["graph_equals_eager"]
        lines.append("- CUDA graphs: " + ("the same bits as eager launches" if same else
                     f"DIFFER from eager launches (relative {gpu['training'].get('graph_vs_eager_relative_error', float('nan')):.1e})"))
    digits = gpu.get("digits", {})
    if digits and "error" not in digits:
        lines += ["", "| digits, 3000 iterations | " + " | ".join(next(iter(digits.values()))["best"]) + " |",
                  "|---|" + "---|" * len(next(iter(digits.values()))["best"])]
        for dtype, d in digits.items():
            lines.append(f"| {dtype} | " + " | ".join(f"{t * 1e3:.1f} ms" for t in d["best"].values()) + " |")
        lines.append("")
        for dtype, d in digits.items():
            if "steady_us_per_iteration" in d:
                lines.append(f"- digits {dtype}, steady state: {d['steady_us_per_iteration']:.1f} µs an iteration")
            for name, k in d.get("fused_kernel_us", {}).items():
                lines.append(f"- digits {dtype}, {name}: tiles of {k['rows']} rows ({k['blocks of tile_step']} blocks), "
                             f"{k['lanes']} lane(s) a parameter ({k['blocks of reduce_update']} blocks): tile_step "
                             f"{k['tile_step']:.1f} µs, reduce_update {k['reduce_update']:.1f} µs")
    elif "error" in digits:
        lines.append(f"- digits: failed ({digits['error']})")
    for dtype, d in gpu.get("large_step", {}).items():
        if isinstance(d, dict) and "step_s" in d:
            lines.append(f"- one step of 60000 x 784-1024-1024-10, {dtype}: {d['step_s'] * 1e3:.1f} ms, "
                         f"{d['step_over_gemms']:.2f}x its GEMMs alone")
    lines += ["", *gpu_goals(gpu)]
    cpu = gpu.get("cpu_cores", {})
    lines += cpu_cores_lines(cpu.get("partial", cpu))
    return "\n".join(lines)


# The GPU issue's goals on an H100 or H200 (issue 25, goal 4), each read off one bench.gpu run.
GPU_DIGITS_MAX_S = 0.025  # digits, tutorial recipe, 3000 full-batch iterations, float32, wall, host included
GPU_OVER_TORCH = {"torch cuda graph": 4.0, "torch eager": 10.0}  # at least this many times faster
GPU_FLOAT64_OVER_FLOAT32 = 2.0
GPU_LARGE_STEP_OVER_GEMMS = 1.2
GPU_WEIGHTS_RELATIVE = 1e-10  # after 50 iterations, float64, against the reference


def gpu_goals(gpu):
    """Markdown table lines: each GPU goal, what the run measured, and whether it is met.

    A section that timed out still counts with what it saved (``partial``); a goal
    whose figure is missing says so rather than passing or failing.
    """
    def measured(section):
        part = gpu.get(section, {})
        return part.get("partial", part) if isinstance(part, dict) else {}

    digits, training, large = measured("digits"), measured("training"), measured("large_step")
    best = {dtype: digits.get(dtype, {}).get("best", {}) for dtype in ("float32", "float64")}
    fastnet = {dtype: b.get("fastnet cupy") for dtype, b in best.items()}
    lines = ["| GPU goal | measured in this run | met? |", "|---|---|---|"]

    def row(goal, value, shown, meets):
        """One goal's line; a value of None (its figure missing) is "not measured", never a pass or a fail."""
        figure, verdict = ("-", "not measured") if value is None else (shown.format(value), "yes" if meets(value) else "no")
        lines.append(f"| {goal} | {figure} | {verdict} |")

    def ratio(a, b):
        return None if a is None or b is None else a / b

    t32, t64 = fastnet["float32"], fastnet["float64"]
    row(f"digits, 3000 iterations, float32, ≤ {GPU_DIGITS_MAX_S * 1e3:.0f} ms", None if t32 is None else t32 * 1e3,
        "{:.1f} ms", lambda ms: ms <= GPU_DIGITS_MAX_S * 1e3)
    for dtype in ("float32", "float64"):
        for peer, times in GPU_OVER_TORCH.items():
            row(f"≥ {times:.0f}× {peer}, digits {dtype}", ratio(best[dtype].get(peer), fastnet[dtype]), "{:.2f}×",
                lambda r, times=times: r >= times)
    row(f"float64 within {GPU_FLOAT64_OVER_FLOAT32:.0f}× of float32, digits", ratio(t64, t32), "{:.2f}×",
        lambda r: r <= GPU_FLOAT64_OVER_FLOAT32)
    for dtype in ("float32", "float64"):
        entry = large.get(dtype)
        row(f"large step within {GPU_LARGE_STEP_OVER_GEMMS}× of its GEMMs, {dtype}",
            entry.get("step_over_gemms") if isinstance(entry, dict) else None, "{:.2f}×",
            lambda r: r <= GPU_LARGE_STEP_OVER_GEMMS)
    errors = training.get("weights_relative_error", {})
    for step in ("fused", "layered"):
        row(f"{step} step's weights after 50 iterations within {GPU_WEIGHTS_RELATIVE:.0e} of the reference, float64",
            errors.get(f"{step} 50 iterations float64"), "{:.1e}", lambda err: err <= GPU_WEIGHTS_RELATIVE)
    return lines


def cpu_cores_lines(cpu):
    """Markdown lines for :func:`bench.cores.cores`'s result: each dtype's best fits idle and loaded, and the ratios."""
    dtypes = [d for d in ("float64", "float32") if "best" in cpu.get(d, {})]
    if not dtypes:
        return [f"- CPU cores: failed ({cpu['error']})"] if "error" in cpu else []
    runners = list(cpu[dtypes[0]]["best"]["idle"])
    lines = ["", f"CPU, {cpu['cores']} cores, {cpu['row split']}; torch {cpu['torch']}:", "",
             f"| {cpu['workload']} | " + " | ".join(runners) + " |",
             "|---|" + "---|" * len(runners)]
    for dtype in dtypes:
        for phase, best in cpu[dtype]["best"].items():
            lines.append(f"| {dtype}, {phase} | " + " | ".join(
                f"{best[name] * 1e3:.0f} ms" if name in best else "-" for name in runners) + " |")
    lines.append("")
    for dtype in dtypes:
        d = cpu[dtype]
        over = "; ".join(f"{phase}: " + ", ".join(f"{name} {r:.2f}x" for name, r in ratios.items())
                         for phase, ratios in d["over fused"].items())
        loaded = ", ".join(f"{name} {r:.2f}x" for name, r in d["loaded over idle"].items())
        lines.append(f"- CPU {cpu['workload']}, {dtype}: peers' time over fused's ({over}); "
                     f"loaded over idle ({loaded})")
    return lines
