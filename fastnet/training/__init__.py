"""Training: one driver (:mod:`.driver`, the epoch loop) and the step runners it hands chunks of updates to.

:mod:`.runners` states the runners' contract and holds the host's;
:mod:`.layered_chunks` is the GPU's for large networks; the GPU's fused step for small
ones is :mod:`fastnet.training.fused_gpu_step`.
"""

from .driver import CostRoseWarning, DivergenceError, check_alpha, check_fit_options, data_fingerprint, fit_network
from .runners import CHUNK_ITERATIONS, ChunkResult

__all__ = ["CHUNK_ITERATIONS", "ChunkResult", "CostRoseWarning", "DivergenceError", "check_alpha", "check_fit_options",
           "data_fingerprint", "fit_network"]
