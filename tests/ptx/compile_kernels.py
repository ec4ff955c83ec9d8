"""Compile every GPU kernel to PTX for sm_90 without a GPU; print one JSON line of what was found.

Run as a script (tests/test_gpu_ptx.py does, in a process of its own): numba.cuda asks the
driver for the device's compute capability before it compiles a device function, and
there is no driver here, so this process tells it sm_90 (an H100/H200) instead. Needs
NVRTC and NVVM (``pip install "numba-cuda[cu13]"``), not a GPU.
"""

import json
import os
import re
import sys
import types as pytypes

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import numba.cuda.dispatcher as dispatcher  # noqa: E402
from numba import types  # noqa: E402
from numba.cuda import compile_ptx  # noqa: E402

if not hasattr(dispatcher, "get_current_device"):
    print(json.dumps({"skip": "numba.cuda.dispatcher.get_current_device is gone: this numba-cuda compiles differently"}))
    sys.exit(0)
dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(9, 0))

from fastnet import maths  # noqa: E402
from kernels import gpu_layers as layers, gpu_step as step  # noqa: E402

CC = (9, 0)


def float64_ops(kernel, signature):
    """The float64 instructions in the kernel's PTX (a float32 kernel should have none)."""
    code, _ = compile_ptx(kernel.py_func, signature, cc=CC)
    return sorted(set(re.findall(r"\b[a-z]+(?:\.[a-z]+)*\.f64\b", code)))


def main():
    activations, losses, rules, penalties = layers.device_tables()
    found = {}
    for dtype, nb in (("float32", types.float32), ("float64", types.float64)):
        vec, mat, i64, ints = nb[::1], nb[:, ::1], types.int64, types.int64[::1]
        layout = step.Layout((64, 30, 10))
        rows = layout.tile_rows(np.dtype(dtype).itemsize, step.fill_rows(1078, 132))  # digits on an H100's 132 SMs
        for hidden, out, loss in (("sigmoid", "sigmoid", "mse"), ("relu", "softmax", "cross_entropy"),
                                  ("tanh", "sigmoid", "binary_cross_entropy"), ("identity", "identity", "mse")):
            kernel = step.make_tile_step(layout, activations[hidden], activations[out], losses[loss], penalties["l2"],
                                         np.dtype(dtype), rows)
            found[f"tile_step {hidden}/{out}/{loss} {dtype}"] = float64_ops(
                kernel, (vec, mat, mat, ints, i64, i64, nb, nb, nb, mat, types.int32[::1]))
        for rule, settings in ((name, len(r.settings)) for name, r in rules.items()):
            # Four lanes a parameter: digits' reduction on a GPU of 132 SMs (135 tiles of 8 rows).
            kernel = step.make_reduce_update(layout, rules[rule], penalties["l2"], np.dtype(dtype), lanes=step.MAX_LANES)
            h = types.UniTuple(types.float64, settings) if settings else types.Tuple(())
            found[f"reduce_update {rule} {dtype}"] = float64_ops(
                kernel, (vec,) * 6 + (mat, i64, nb, nb, types.float64, h, ints, i64, mat, types.int32[::1]))
        found[f"reset {dtype}"] = float64_ops(step.make_reset(), (types.int32[::1], mat))
        for kind in ("sigmoid", "tanh", "relu", "identity", "softmax"):
            found[f"bias_activation {kind} {dtype}"] = float64_ops(
                layers.make_bias_activation(activations[kind]), (vec, vec, i64) if kind == "softmax" else (mat, vec, mat))
            if kind != "softmax":
                found[f"activation_backward {kind} {dtype}"] = float64_ops(
                    layers.make_activation_backward(activations[kind]), (vec, vec, vec))
        for loss, kind in (("mse", "sigmoid"), ("cross_entropy", "identity"), ("binary_cross_entropy", "identity")):
            kernel = layers.make_cost_and_delta(losses[loss], activations[kind], np.dtype(dtype))
            found[f"cost_and_delta {loss} {dtype}"] = float64_ops(kernel, (vec, vec, nb, nb, vec, vec))
        found[f"column_sums {dtype}"] = float64_ops(layers.make_column_sums(np.dtype(dtype)), (mat, vec))
        found[f"axpy {dtype}"] = float64_ops(layers.make_axpy(), (vec, vec, nb))
        for rule, host in maths.update_rules().items():  # the constants' count: what maths' constants() returns
            n_constants = len(host.constants(0.1, 1, tuple(host.settings.values()), float))
            found[f"update {rule} {dtype}"] = float64_ops(layers.make_update(rules[rule]),
                                                          (vec,) * 4 + (types.UniTuple(nb, n_constants),))
    print(json.dumps({"compiled": found}))


if __name__ == "__main__":
    main()
