"""Every compiled kernel of fastnet, CPU and GPU (this folder ships as ``fastnet.kernels``).

Each kernel is made by a factory that takes the scalar functions it applies (an
activation, a loss, an update rule from :mod:`fastnet.maths`, the per-neuron sums of
:mod:`fastnet.neurons`), so no piece of maths is written again here:

* ``loops``: the python and numba backends' loops (interpreted or ``numba.njit``);
* ``fused_layers``, ``fused_rows``, ``fused_neurons``, ``fused_exp``: the fused CPU
  backend's one-pass kernels, their row- and neuron-parallel forms and the exp that
  vectorises;
* ``gpu_layers``, ``gpu_step``: ``numba.cuda`` kernels of the cupy backend, between
  cuBLAS products and as the fused step of small networks.

The array layers that call them are in :mod:`fastnet.backends`; import a kernel module
with :func:`fastnet.kernel_modules.kernel_module`, which also finds it in a checkout.
"""
