"""CUDA C++ sources of fastnet's fused GPU kernels.

Installed as the package ``fastnet.kernels`` (data files only); loaded and
compiled lazily, at first use on a GPU, by :mod:`fastnet.backends.cuda_kernels`.
Each source is written for a scalar type ``REAL`` that the loader defines as
``float`` or ``double`` when it compiles it.
"""
