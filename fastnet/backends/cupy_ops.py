"""Backend ``cupy``: the vectorised ``Ops`` on an NVIDIA GPU."""

from .ops import NullErrstate, Ops


class CupyOps(NullErrstate, Ops):
    """The same vectorised primitives as ``numpy``, with ``xp = cupy``."""

    name = "cupy"
    compiles_kernels = True  # on first use: the command line times that apart from training
    on_host = False

    def __init__(self):
        import cupy  # imported here: ``import fastnet`` must not import cupy

        self.xp = cupy

    def small_sigmoid(self):
        return None  # scipy's expit works on host arrays only

    def to_numpy(self, a):
        return self.xp.asnumpy(a)
