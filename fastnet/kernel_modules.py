"""Where the compiled kernels are imported from: ``fastnet.kernels`` installed, ``kernels`` in a checkout.

The kernels live in the repository's top-level ``kernels/`` folder, which an install
ships as ``fastnet.kernels`` (see ``[tool.setuptools.package-dir]`` in pyproject.toml).
A plain checkout run with ``PYTHONPATH=$PWD`` (as on the GPU machine) has no
``fastnet.kernels``; there the folder is the top-level package ``kernels``.
"""

import importlib


def kernel_module(name):
    """The kernel module ``name`` (``"loops"``, ``"fused_layers"``, ``"gpu_step"``, ...), wherever it was installed."""
    try:
        return importlib.import_module(f"fastnet.kernels.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("fastnet.kernels", f"fastnet.kernels.{name}"):
            raise  # something the kernel module imports is missing: say that, not "no fastnet.kernels"
        return importlib.import_module(f"kernels.{name}")
