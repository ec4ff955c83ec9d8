"""The fused CUDA kernels of ``kernels/``, compiled lazily through CuPy.

Nothing here compiles or imports CuPy at import time. :func:`kernel_sources`
reads the shipped ``.cu`` files (no GPU needed); :class:`CudaKernels` compiles
them with NVRTC (``cupy.RawModule``) for one dtype the first time it is built,
and launches them on CuPy arrays.

Status: each kernel has a test that checks it against the numpy ``Ops`` before
any timing; those tests need a GPU and have not yet run on one, so the cupy
backend does not call these kernels yet.
"""

import re
from importlib import resources

SOURCES = ("fused_layers.cu", "updates.cu")
HEADER = "activations.cuh"
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
THREADS = 256
MAX_BLOCKS = 65_535


def _read(name):
    return resources.files("fastnet.kernels").joinpath(name).read_text()


def kernel_sources(real="double"):
    """Full source text per file, with the shared header inlined and ``REAL`` defined."""
    header = _read(HEADER).replace("#pragma once", "")
    texts = {}
    for name in SOURCES:
        body = re.sub(r'#include "activations\.cuh"', lambda _: header, _read(name))
        texts[name] = f"#define REAL {real}\n{body}"
    return texts


class CudaKernels:
    """Compiled kernels for one dtype (``float32`` or ``float64``) on the current device."""

    def __init__(self, dtype):
        import cupy

        self.cp = cupy
        self.dtype = cupy.dtype(dtype)
        real = {"float32": "float", "float64": "double"}[self.dtype.name]
        self.modules = [cupy.RawModule(code=text, options=("--std=c++14",)) for text in kernel_sources(real).values()]
        self._functions = {}

    def _fn(self, name):
        fn = self._functions.get(name)
        if fn is None:
            for module in self.modules:
                try:
                    fn = module.get_function(name)
                    break
                except Exception:  # not in this module
                    continue
            self._functions[name] = fn
        return fn

    def _grid(self, size):
        return (min(MAX_BLOCKS, (size + THREADS - 1) // THREADS),), (THREADS,)

    def _real(self, value):
        return self.dtype.type(value)

    def bias_activate(self, Z, b, kind):
        """Z = f(Z + b) in place; ``kind`` names any activation but softmax."""
        m, n = Z.shape
        if kind == "softmax":
            grid, block = ((m + THREADS - 1) // THREADS,), (THREADS,)
            self._fn("bias_softmax")(grid, block, (Z, b, self.cp.int32(m), self.cp.int32(n)))
        else:
            self._fn("bias_activate")(*self._grid(Z.size), (Z, b, self.cp.int32(m), self.cp.int32(n),
                                                            self.cp.int32(ACTIVATION_CODES[kind])))
        return Z

    def output_delta(self, H, Y, D, scale, kind, squared_error):
        """D = (H - Y) * scale, times f' from H when ``squared_error``."""
        self._fn("output_delta")(*self._grid(H.size), (H, Y, D, self.cp.int64(H.size), self._real(scale),
                                                       self.cp.int32(ACTIVATION_CODES[kind]),
                                                       self.cp.int32(bool(squared_error))))
        return D

    def hidden_delta(self, D, H, kind):
        """D *= f'(z), f' from the stored H."""
        self._fn("hidden_delta")(*self._grid(D.size), (D, H, self.cp.int64(D.size), self.cp.int32(ACTIVATION_CODES[kind])))
        return D

    def bias_grad(self, D, db):
        """db = D.sum(axis=0)."""
        m, n = D.shape
        self._fn("bias_grad")(((n + THREADS - 1) // THREADS,), (THREADS,), (D, db, self.cp.int32(m), self.cp.int32(n)))
        return db

    def sgd_update(self, p, g, lr):
        """p -= lr * g."""
        self._fn("sgd_update")(*self._grid(p.size), (p, g, self.cp.int64(p.size), self._real(lr)))
        return p

    def adam_update(self, p, g, m1, m2, lr, beta1, beta2, eps, c1, c2):
        """One Adam step with bias corrections c1, c2 (see :class:`fastnet.optimizers.Adam`)."""
        r = self._real
        self._fn("adam_update")(*self._grid(p.size), (p, g, m1, m2, self.cp.int64(p.size), r(lr), r(beta1), r(beta2),
                                                      r(eps), r(c1), r(c2)))
        return p
