"""GPU kernels of the ``cupy`` backend, written with ``numba.cuda`` (shipped as ``fastnet.kernels``).

They compile the scalar maths of :mod:`fastnet.maths` as device functions, so no
activation or loss is written again for the GPU.
"""
