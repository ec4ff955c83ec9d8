"""Backend ``cupy``: the reference ``Ops`` on an NVIDIA GPU, with fused ``numba.cuda`` kernels.

Training a small network (digits' 64-30-10) takes the fused step of
:mod:`fastnet.kernels.gpu_step`: two kernels an iteration, chunks of iterations replayed as CUDA
graphs (see :meth:`CupyOps.fused_step` and :mod:`fastnet.training.fused_gpu_step`).

Everything else (large networks, forward passes, the primitives the tests call) is
the layered step: the matrix products are CuPy's (cuBLAS), and everything between
them, which the reference writes as several array expressions (a sigmoid is four
launches), is one ``numba.cuda`` kernel from :mod:`fastnet.kernels.gpu_layers`, built on the
scalar maths of :mod:`fastnet.maths`: bias + activation, the derivative, the loss's
cost and delta, the bias gradient, the parameter updates.

With ``NUMBA_ENABLE_CUDASIM=1`` the same kernels run on Numba's CUDA simulator, on the
CPU, with NumPy arrays standing in for device arrays: how CI checks them without a GPU.
``fastnet info`` says so, and ``backend="auto"`` never picks the simulator.
"""

import contextlib
import os
import weakref

import numpy

from .. import maths
from ..losses import table_loss
from ..kernel_modules import kernel_module
from ..sparse_input import is_scipy_sparse
from .launch_configs import LaunchConfigs
from .reference import Ops, check_activation, loss_of

SIMULATOR_ENV = "NUMBA_ENABLE_CUDASIM"
# The simulator has no SMs; the rows-per-tile rule is given this many, so 37 test rows
# make five tiles of 8 (four full, one partial) and a large batch tiles of 32.
SIMULATED_MULTIPROCESSORS = 4


def simulated():
    """Whether numba.cuda runs on its CPU simulator in this process (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get(SIMULATOR_ENV, "0").strip() == "1"


def kernel_failure(error):
    """Why numba-cuda's kernels cannot run on this GPU, and what to do, from the ``error`` a test launch raised."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    upper = text.upper()
    if "PTX" in upper and ("UNSUPPORTED" in upper or "TOOLCHAIN" in upper):
        return (f"numba-cuda's kernels do not load on this GPU ({text}): its compiler writes PTX newer than the "
                "driver's CUDA accepts. Install the numba-cuda extra for the driver's CUDA major version (nvidia-smi "
                'shows it), e.g. pip install "numba-cuda[cu12]", or have nvJitLink link the PTX instead of the '
                "driver: NUMBA_CUDA_ENABLE_MINOR_VERSION_COMPATIBILITY=1")
    return (f"numba-cuda could not run a test kernel on this GPU ({text}); `fastnet info` lists the versions "
            "of CuPy and numba-cuda to check against the driver's CUDA")


class CupyOps(Ops):
    """The reference's primitives on device arrays, with fused ``numba.cuda`` kernels between the products.

    Parameters
    ----------
    simulate : bool
        Run the kernels on Numba's CUDA simulator, with NumPy arrays (needs
        ``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is first imported).
    graphs : bool, default True
        Replay the fused step's chunks as CUDA graphs (False launches every kernel
        from the host: what the bench compares the graphs against).
    fuse_steps : bool, default True
        Train small networks with the fused step (False: the layered step, cuBLAS
        products and the kernels between them, as for large networks).
    tile_rows : int, optional
        Rows per tile of the fused step. Default: ``TILE_ROWS`` (32), halved while
        a batch makes fewer tiles than the GPU has SMs, down to ``FILL_MIN_ROWS`` (8)
        (:func:`~fastnet.kernels.gpu_step.fill_rows`). Either way it is halved
        further until a tile fits in shared memory. The device bench sweeps it.
    reduce_lanes : int, optional
        Threads per parameter in the fused step's reduction. Default: from the
        number of tiles (:func:`~fastnet.kernels.gpu_step.reduce_lanes`); 1, 2 or
        4. The device bench compares 1 with the default.
    """

    name = "cupy"
    compiles_kernels = True  # on first use: the command line times that apart from training
    on_host = False

    def __init__(self, simulate=False, graphs=True, fuse_steps=True, tile_rows=None, reduce_lanes=None):
        self.simulated = simulate
        self.graphs = graphs and not simulate
        self.fuse_steps = fuse_steps
        if simulate:
            self.xp = numpy
            self.on_host = True  # NumPy arrays stand in for device arrays
            self.block, self.tile = 32, 4  # a Python thread per CUDA thread: small blocks
        else:
            import cupy  # imported here: ``import fastnet`` must not import cupy

            self.xp = cupy
            self.block = self.tile = None
        self.step_rows, self.step_lanes = tile_rows, reduce_lanes
        self._multiprocessors = {}  # device number -> its SM count (see multiprocessors)
        self.layers = kernel_module("gpu_layers")
        self.step = kernel_module("gpu_step")  # imports numba.cuda: only here, never at ``import fastnet``
        self.block = self.block or self.layers.BLOCK
        self.tile = self.tile or self.layers.TILE
        self.step_threads = 16 if simulate else self.step.THREADS
        self.activations, self.losses, self.rules, self.penalties = self.layers.device_tables()
        self.axpy_kernel = self.layers.make_axpy()
        self.host_rules = maths.update_rules()  # each update's constants are worked out on the host
        self._built = {}
        self._streams = {}  # CUDA stream handle -> Numba's external stream (see launch)
        self.launch_configs = LaunchConfigs()  # kernel[grid, block, stream], built once each (see launch)
        self._fused_steps = weakref.WeakKeyDictionary()  # network -> its last FusedStep (see fused_step)

    def multiprocessors(self):
        """The current GPU's number of SMs; on the simulator, a stand-in of 4 (37 test rows: five tiles of 8)."""
        if self.simulated:
            return SIMULATED_MULTIPROCESSORS
        device = self.xp.cuda.runtime.getDevice()
        count = self._multiprocessors.get(device)
        if count is None:
            count = self._multiprocessors[device] = self.xp.cuda.runtime.getDeviceProperties(device)["multiProcessorCount"]
        return count

    def errstate(self):
        return contextlib.nullcontext() if not self.simulated else super().errstate()

    def to_numpy(self, a):
        return numpy.asarray(a) if self.simulated else self.xp.asnumpy(a)

    def check_kernels_run(self):
        """Launch one tiny kernel and check its result: the GPU is usable only if numba-cuda's kernels load.

        CuPy can answer while numba-cuda's kernels cannot run (a PTX compiler newer than
        the driver): that must show here, in ``fastnet info``, not halfway through a fit.
        Raises RuntimeError with :func:`kernel_failure` 's message.
        """
        param, grad = self.xp.asarray([1.0, 2.0, 3.0]), self.xp.ones(3)
        try:
            self.launch(self.axpy_kernel, 1, 32, param, grad, 2.0)
            ok = bool((param == self.xp.asarray([3.0, 4.0, 5.0])).all())
        except Exception as exc:  # noqa: BLE001 - the driver, NVVM and the linker each raise their own types
            raise RuntimeError(kernel_failure(exc)) from exc
        if not ok:
            raise RuntimeError(kernel_failure(f"a test kernel ran but gave {self.to_numpy(param).tolist()}, not [3, 4, 5]"))

    def sparse_to_backend(self, X):
        if self.simulated or not is_scipy_sparse(X):
            return X
        from cupyx.scipy import sparse  # cuSPARSE: the first layer's products stay sparse on the device

        return sparse.csr_matrix(X)

    def description(self):
        """One line for ``fastnet info``."""
        if self.simulated:
            return f"simulated on the CPU by Numba's CUDA simulator ({SIMULATOR_ENV}=1); auto never picks it"
        return "CuPy arrays; small networks: the fused step in CUDA graphs; large: cuBLAS products, numba.cuda kernels between"

    # -- kernels, built on first use ---------------------------------------------
    def kernel(self, name, dtype, *names):
        key = (name, numpy.dtype(dtype), names)
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = self._build(name, numpy.dtype(dtype), names)
        return built

    def _build(self, name, dtype, names):
        layers = self.layers
        if name == "bias_activation":
            return layers.make_bias_activation(self.activations[names[0]])
        if name == "activation_backward":
            return layers.make_activation_backward(self.activations[names[0]])
        if name == "cost_and_delta":
            return layers.make_cost_and_delta(self.losses[names[0]], self.activations[names[1]], dtype, block=self.block)
        if name == "column_sums":
            return layers.make_column_sums(dtype, block=self.block)
        if name == "tile_step":
            sizes, hidden, output, loss, rows = names
            return self.step.make_tile_step(self.step.Layout(sizes), self.activations[hidden], self.activations[output],
                                            self.losses[loss], self.penalties["l2"], dtype, rows, self.step_threads)
        if name == "reduce_update":
            sizes, rule, lanes = names
            return self.step.make_reduce_update(self.step.Layout(sizes), self.rules[rule], self.penalties["l2"], dtype,
                                                self.step_threads, lanes)
        if name == "update":
            return layers.make_update(self.rules[names[0]])
        if name == "reset":
            return self.step.make_reset(self.step_threads)
        raise KeyError(name)

    # -- the fused step ------------------------------------------------------------
    def fused_step(self, net, optimizer, X, Y, lr, alpha, batch):
        """A :class:`~fastnet.training.fused_gpu_step.FusedStep` for small networks, else None.

        Small: at most ``MAX_PARAMS`` parameters, a tile of at least ``MIN_TILE_ROWS``
        rows whose activations and deltas fit in a block's shared memory, and at most
        ``MAX_PARTIALS`` partial gradients for batches of ``batch`` rows (see
        :mod:`fastnet.kernels.gpu_step`). A mean squared error through a softmax has no fused
        form; it takes the layered step.
        """
        from ..training.fused_gpu_step import FusedStep

        step, dtype = self.step, numpy.dtype(X.dtype)
        layout = step.Layout(net.layers)
        rows = layout.tile_rows(dtype.itemsize, self.step_rows or step.fill_rows(batch, self.multiprocessors()))
        loss = table_loss(net.loss, net.output_activation)
        if (not self.fuse_steps or not rows or layout.n_params > step.MAX_PARAMS
                or -(-batch // rows) * step.partials_columns(layout.n_params) > step.MAX_PARTIALS
                or (self.losses[loss].through_activation and self.activations[net.output_activation].rowwise)):
            return None
        hidden = net._activations[0] if len(net.layers) > 2 else net.output_activation
        lanes = self.step_lanes or step.reduce_lanes(-(-batch // rows), self.step_threads)
        kernels = (self.kernel("tile_step", dtype, layout.sizes, hidden, net.output_activation, loss, rows),
                   self.kernel("reduce_update", dtype, layout.sizes, optimizer.rule, lanes),
                   self.kernel("reset", dtype), rows, self.step_threads, lanes)
        # The last fit's FusedStep, with its CUDA graphs, serves the next fit of the same
        # network, optimiser and data shapes: no eager chunk and no capture again.
        kept = self._fused_steps.get(net)
        if kept is not None and kept.serves(optimizer, X, Y, kernels, batch):
            kept.bind(X, Y, lr, alpha)
            return kept
        made = self._fused_steps[net] = FusedStep(self, net, optimizer, X, Y, lr, alpha, kernels, batch)
        return made

    def _blocks(self, n):
        return self.layers.blocks_for(n, self.block)

    def launch(self, kernel, grid, block, *args):
        """kernel[grid, block, CuPy's current stream](*args), CuPy arrays passed as Numba views that do not synchronise.

        By default Numba waits for a CuPy array's stream before a launch: a host sync
        per kernel. Launched on the stream CuPy's products go to (the default one, or
        the user's ``with cupy.cuda.Stream()``, or the per-thread default stream), the
        kernels keep their order with those products without it.
        """
        if self.simulated:
            kernel[grid, block](*args)
            return
        cuda = self.layers.cuda
        args = [cuda.from_cuda_array_interface(a.__cuda_array_interface__, owner=a, sync=False)
                if hasattr(a, "__cuda_array_interface__") else a for a in args]
        stream = self._numba_stream(self.xp.cuda.get_current_stream().ptr)
        self.launch_configs(kernel, grid, block, stream)(*args)

    def _numba_stream(self, handle):
        """Numba's view of the CUDA stream ``handle`` (CuPy's), made once per stream."""
        streams = self._streams
        stream = streams.get(handle)
        if stream is None:
            if len(streams) >= 16:  # streams come and go with the user's code: keep a few
                streams.clear()
                self.launch_configs.clear()
            stream = streams[handle] = self.layers.cuda.external_stream(handle)
        return stream

    # -- layers ------------------------------------------------------------------
    def dense(self, X, W, b, kind, out):
        check_activation(kind)
        self.xp.matmul(X, W.T, out=out)
        kernel = self.kernel("bias_activation", out.dtype, kind)
        m, n = out.shape
        if self.activations[kind].rowwise:
            self.launch(kernel, self._blocks(m), self.block, out.reshape(-1), b, n)
        else:
            tile = self.tile
            self.launch(kernel, (-(-m // tile), -(-n // tile)), (tile, tile), out, b, out)
        return out

    def hidden_delta(self, delta, W, H, kind, out):
        check_activation(kind)
        if self.activations[kind].rowwise or not (H.flags.c_contiguous and out.flags.c_contiguous):
            return super().hidden_delta(delta, W, H, kind, out)
        self.xp.matmul(delta, W, out=out)
        flat = out.reshape(-1)
        self.launch(self.kernel("activation_backward", out.dtype, kind), self._blocks(flat.size), self.block,
                    H.reshape(-1), flat, flat)
        return out

    def weight_grads(self, delta, H, dW, db):
        self.xp.matmul(delta.T, H, out=dW)
        self.launch(self.kernel("column_sums", delta.dtype), delta.shape[1], self.block, delta, db)

    # -- losses --------------------------------------------------------------------
    def cost_and_delta(self, loss, kind, H, Y, scale, out):
        check_activation(kind)
        through = loss_of(self.losses, loss).through_activation
        if through and self.activations[kind].rowwise:  # the kernel's delta is elementwise
            return super().cost_and_delta(loss, kind, H, Y, scale, out)
        return self._cost_and_delta(loss, kind if through else "identity", H, Y, scale, out)

    def _cost_and_delta(self, loss, kind, H, Y, scale, out):
        """The kernel's per-block costs, summed on the device: the cost stays a device scalar."""
        t = H.dtype.type
        n = H.size
        partial = self.xp.empty(self._blocks(n), H.dtype)
        kernel = self.kernel("cost_and_delta", H.dtype, loss, kind)
        self.launch(kernel, self._blocks(n), self.block, H.reshape(-1), Y.reshape(-1), t(scale),
                    t(numpy.finfo(H.dtype).tiny), out.reshape(-1), partial)
        return partial.sum() / H.shape[0]

    # -- updates ---------------------------------------------------------------------
    def axpy(self, param, grad, step):
        flat = param.reshape(-1)
        self.launch(self.axpy_kernel, self._blocks(flat.size), self.block, flat, grad.reshape(-1), param.dtype.type(step))
        return param

    def update(self, rule, param, grad, state, lr, t, settings):
        k = self.host_rules[rule].constants(lr, t, settings, param.dtype.type)  # on the host, once an update
        s1, s2 = (list(state) + [param[:0], param[:0]])[:2]  # empty stand-ins: the kernel never touches them
        self.launch(self.kernel("update", param.dtype, rule), self._blocks(param.size), self.block, param, grad, s1, s2, k)
        return param
