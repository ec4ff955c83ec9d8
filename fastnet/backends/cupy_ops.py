"""Backend ``cupy``: the reference ``Ops`` on an NVIDIA GPU, with ``xp = cupy``."""

import contextlib

from .reference import Ops


class CupyOps(Ops):
    """The reference's textbook primitives on CuPy arrays in GPU memory."""

    name = "cupy"
    compiles_kernels = True  # on first use: the command line times that apart from training
    on_host = False

    def __init__(self):
        import cupy  # imported here: ``import fastnet`` must not import cupy

        self.xp = cupy

    def errstate(self):
        return contextlib.nullcontext()  # CuPy never warns about overflow

    def to_numpy(self, a):
        return self.xp.asnumpy(a)
