"""Backend ``fused``: NumPy's BLAS for the matrix products, compiled one-pass kernels for the rest.

The numpy backend spends most of a small network's time outside the products:
four ufunc passes per sigmoid, three more per derivative, a strided reduction for
each bias gradient, a temporary per parameter update. :class:`FusedOps` keeps the
numpy backend as it is and overrides those hot spots, each behind one condition:

* a layer big enough to split (:mod:`.row_rule`) runs row-parallel (:mod:`.rows`), or
  neuron-parallel where the batch is short for the layer's width (:mod:`.neurons`);
* otherwise NumPy's product, then one kernel of :mod:`.kernels` for the bias and
  activation, the derivative, or the loss's cost and delta;
* a sparse input's first layer has its own two products (:mod:`.fused_sparse`);
* a training update's whole backprop runs in one kernel, each thread taking its block
  of rows through every layer (:mod:`.fused_backprop`), or one thread all of them where
  the rows are not split.

The bias gradient, the parameter updates and the divergence check are the numba
backend's loops, which are one pass already.
"""

import functools

import numpy

from ... import maths
from ...tuning import TUNING, blas_small_matrix_path
from ..loop_ops import numba_jit
from ..numpy_ops import NumpyOps
from ..reference import check_activation, loss_of
from ...kernel_modules import kernel_module
from .blas_threads import SingleThreadBlas, numpy_blas_controller
from .row_rule import RowSplit, forward_splits_neurons, splits_neurons

# The compiled kernels (kernels/ at the repository's top): whole-matrix passes, row-split
# passes, and the exp that vectorises.
layers = kernel_module("fused_layers")
rows = kernel_module("fused_rows")
make_exp = kernel_module("fused_exp").make_exp
make_tanh = kernel_module("fused_exp").make_tanh
sparse_products = kernel_module("fused_sparse")
backprop = kernel_module("fused_backprop")
neurons = kernel_module("fused_neurons")

# Never "reassoc" where the fast exp is: its rounding trick needs (t + S) - S as
# written. The loss kernels have no such exp, and reassoc lets their sums vectorise.
FASTMATH = {"contract"}
REDUCTION_FASTMATH = {"contract", "reassoc"}

# A sparse batch's first layer: fused's loops gather each non-zero's weights from W's
# rows; SciPy's product first copies W's transpose, then runs contiguous, vectorised
# rows. The copy pays once the batch uses each column of W about this many times on
# average. Measured on 9 shapes (1,000 to 100,000 columns, batches of 200): with 0.1-4
# non-zeros a column the loops were 1.4-4.4x faster; with 6-20, SciPy 1.05-1.7x.
SPARSE_LOOPS_BELOW = 5  # non-zeros in the batch per column of W

# The smallest probability a log is taken of, per dtype (numpy.finfo costs ~1 us a call).
_FLOOR = {numpy.dtype(t): numpy.finfo(t).tiny for t in (numpy.float64, numpy.float32)}


class FusedOps(NumpyOps):
    """NumPy storage and BLAS products, with fused Numba kernels for the elementwise work.

    Results match the reference to rounding (the tests hold it to 1e-10 relative in
    float64); the exp of sigmoid and softmax is within 2 ulp of NumPy's in float64,
    and within 2 float32 ulp of the exact value in float32.
    """

    name = "fused"
    compiles_kernels = True  # on first use: the command line times that apart from training

    def __init__(self):
        import numba  # imported here: ``import fastnet`` must not import numba

        from .. import get_backend

        self.jit = numba_jit(numba, fastmath=FASTMATH)
        self.loops = get_backend("numba")
        # One activation table per dtype, each built on that dtype's vectorising exp (and tanh).
        self.activations = {dtype: maths.compile_for_numba(maths.activation_table(exp=make_exp(dtype),
                                                                                  tanh=make_tanh(dtype)))
                            for dtype in (numpy.dtype(numpy.float64), numpy.dtype(numpy.float32))}
        self.losses = maths.compile_for_numba(maths.loss_table())
        self.split = RowSplit(numba, self.jit)
        # Fused's parallelism is its own row split, over the cores that are free: every
        # product runs on one thread, so no BLAS worker spins on a core a neighbour needs.
        self._running = SingleThreadBlas([self.split.scipy_blas, numpy_blas_controller()])
        self._compiled = {}

    def running(self):
        """NumPy's and SciPy's BLAS held to one thread while fused runs (restored on exit)."""
        return self._running

    def row_parallel_description(self):
        """One line for ``fastnet info`` and the benchmark report: how layers are split here."""
        return self.split.description()

    # -- compiled kernels, built on first use --------------------------------------
    def kernel(self, factory, dtype, *names):
        """``factory`` of :mod:`.kernels` or :mod:`.rows`, for this dtype and the named activation (or loss
        and activation), compiled on first use."""
        key = (factory, numpy.dtype(dtype), names)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(factory, numpy.dtype(dtype), names)
        return compiled

    def _compile(self, factory, dtype, names):
        activations = self.activations[dtype]
        if factory is backprop.make_backprop_rows:
            hidden, output, loss, threads = names
            through = loss_of(self.losses, loss).through_activation
            made = factory(layers.make_bias_activation(activations[hidden]),
                           layers.make_bias_activation(activations[output]),
                           layers.make_cost_and_delta(self.losses[loss], activations[output if through else "identity"]),
                           self._block_sums(),
                           rows.make_block_delta(layers.make_activation_backward(activations[hidden])),
                           backprop.BLOCK_LOOPS[threads])
            return self.jit(made, parallel=threads == "parallel")
        if factory is layers.make_cost_and_delta:
            loss, kind = names
            return self.jit(factory(self.losses[loss], activations[kind]), fastmath=REDUCTION_FASTMATH)
        if factory in (layers.make_bias_activation, layers.make_activation_backward):
            return self.jit(factory(activations[names[0]]))
        return self._compile_rows(factory, dtype, names)

    def _block_sums(self):
        """:func:`.rows.make_block_sums` for this machine's BLAS (chunks of rows where it has a small-matrix path)."""
        return rows.make_block_sums(
            TUNING.blas_small_matrix if self._scipy_small_matrix_path else 2**62, TUNING.small_matrix_min_rows)

    def _compile_rows(self, factory, dtype, names):
        activations = self.activations[dtype]
        block_sums = self._block_sums()
        if factory is neurons.make_weight_grads_neurons:
            made = factory()
        elif factory is neurons.make_dense_neurons:
            made = factory(activations[names[0]].forward)
        elif factory is neurons.make_backward_step_neurons:
            made = factory(layers.make_activation_backward(activations[names[0]]))
        elif factory is rows.make_weight_grads_rows:
            made = factory(block_sums)
        elif factory is rows.make_dense_rows:
            made = factory(layers.make_bias_activation(activations[names[0]]))
        elif factory is rows.make_dense_columns:
            made = factory(activations[names[0]].forward)
        else:
            block_delta = rows.make_block_delta(layers.make_activation_backward(activations[names[0]]))
            made = factory(block_delta) if factory is rows.make_hidden_delta_rows else factory(block_sums, block_delta)
        return self.jit(made, parallel=True)

    @property
    def _scipy_small_matrix_path(self):
        blas = self.split.scipy_blas
        return blas is not None and blas_small_matrix_path(blas.info())

    def warm_up(self, run):
        """``run`` with every core taken to be free, then with none: the row-split and the serial kernels both compile."""
        for assumed in (self.split.threads, 1):
            self.split.assumed_free = assumed
            try:
                run()
            finally:
                self.split.assumed_free = None

    # -- layers ------------------------------------------------------------------
    def _parts(self, kind, m, work, *arrays):
        """Row blocks for this layer, 0 for the serial path (the softmax is never split)."""
        if kind == "softmax":
            return 0
        return self.split.parts(m, work, *arrays)

    def dense_function(self, m, n_in, n_out, kind):
        check_activation(kind)
        work = m * n_in * n_out
        if kind == "softmax" or self.split.off is not None or work // TUNING.parallel_min_work < 2:
            return self._serial_layer(work, kind)  # never split, whatever the load
        # Blocks of rows, unless the batch is short for the layer's W (forward_splits_neurons):
        # then blocks of neurons, each thread reading only its own rows of W, by
        # matrix-vector products where the batch is too short for two row blocks (one
        # prediction, a few), whatever the layer's shape.
        if m < 2 * TUNING.min_block_rows:
            factory, count = rows.make_dense_columns, n_out
        elif forward_splits_neurons(m, n_in, n_out):
            factory, count = neurons.make_dense_neurons, n_out
        else:
            factory, count = rows.make_dense_rows, m
        split = {dtype: self.kernel(factory, dtype, kind) for dtype in self.activations}
        serial = self._serial_layer(work, kind)
        blocks = self.split.parts

        def parallel_layer(X, W, b, out):
            # dense()'s parallel case with its checks made once: only X comes from
            # outside the network's own contiguous buffers of one dtype. The block count
            # is asked each call: it follows the cores other processes leave free.
            n = blocks(count, work)
            if n and X.flags.c_contiguous and X.dtype == out.dtype:
                split[out.dtype](X, W, b, out, n)
                return out
            return serial(X, W, b, out)

        return parallel_layer

    def _serial_layer(self, work, kind):
        """dense()'s serial case with its choices made once: a one-sample layer is a few
        microseconds, and each Python-level check costs a tenth of one."""
        dense = self.dense
        product = numpy.dot if work <= TUNING.small_product else numpy.matmul
        bias_activation = {dtype: self.kernel(layers.make_bias_activation, dtype, kind) for dtype in self.activations}

        def blas_then_kernel(X, W, b, out):
            if X.dtype != out.dtype:
                return dense(X, W, b, kind, out)
            product(X, W.T, out=out)
            bias_activation[out.dtype](out, b, out)
            return out

        return blas_then_kernel

    def dense(self, X, W, b, kind, out):
        check_activation(kind)
        if parts := self._parts(kind, X.shape[0], X.shape[0] * W.size, X, W, b, out):
            self.kernel(rows.make_dense_rows, out.dtype, kind)(X, W, b, out, parts)
            return out
        self.product(X, W.T, out)
        self.kernel(layers.make_bias_activation, out.dtype, kind)(out, b, out)
        return out

    def hidden_delta(self, delta, W, H, kind, out):
        check_activation(kind)
        if parts := self._parts(kind, delta.shape[0], delta.shape[0] * W.size, delta, W, H, out):
            self.kernel(rows.make_hidden_delta_rows, out.dtype, kind)(delta, W, H, out, parts)
            return out
        if kind == "softmax" or not (H.flags.c_contiguous and out.flags.c_contiguous):
            return super().hidden_delta(delta, W, H, kind, out)
        self.product(delta, W, out)
        self.kernel(layers.make_activation_backward, out.dtype, kind)(H, out, out)
        return out

    def backward_step(self, delta, W, H, kind, dW, db, out):
        m = delta.shape[0]
        # Both products have m * dW.size multiply-adds.
        if parts := self._parts(kind, m, 2 * m * dW.size, delta, W, H, dW, db, out):
            self.kernel(rows.make_backward_step_rows, out.dtype, kind)(delta, W, H, dW, db, out, parts)
            return out
        return super().backward_step(delta, W, H, kind, dW, db, out)

    def backprop_function(self, m, layers, activation, output_activation, loss):
        # One kernel for the whole pass wherever its products' BLAS (SciPy's) is held to
        # one thread: one block of rows a free core where the row split runs, else one
        # block on this thread alone (the serial kernel, also on one core: see
        # make_backprop_rows on why it is a kernel of its own). A loss through a softmax
        # has no fused kernel: the layers then. So too where the split runs and the batch
        # is short enough beside a layer's W for its forward pass to split the neurons
        # (see forward_splits_neurons; its backward step splits them too), which only the
        # layers do. Where only a backward step would (fewer rows than neurons, but not
        # that few), the one kernel keeps the batch: measured on 784-100-10 at batches of
        # 64, handing it to the layers for one step split by neurons cost more than it saved.
        through = loss_of(self.losses, loss).through_activation
        if self.split.scipy_blas is None or (through and output_activation == "softmax"):
            return None
        work = 3 * m * sum(n_in * n_out for n_in, n_out in zip(layers[:-1], layers[1:]))  # all three products
        names = (activation, output_activation, loss)
        split, serial = (self._kernels_by_dtype(backprop.make_backprop_rows, *names, threads)
                         for threads in ("parallel", "serial"))
        blocks, most = self.split.parts, self.split.threads
        # Each layer whose forward pass splits its neurons, with its work.
        neuron_layers = [(n_out, m * n_in * n_out) for n_in, n_out in zip(layers, layers[1:])
                         if forward_splits_neurons(m, n_in, n_out)]
        sums = {}  # dtype -> every block's gradient and cost, made on first use

        def block_sums(dtype):
            if dtype not in sums:
                sums[dtype] = (tuple(numpy.empty((most, n_out, n_in), dtype) for n_in, n_out in zip(layers, layers[1:])),
                               tuple(numpy.empty((most, n_out), dtype) for n_out in layers[1:]),
                               numpy.empty(most, numpy.float64))
            return sums[dtype]

        def whole_backprop(X, Y, Ws, bs, dWs, dbs, Hs, Ds):
            dtype = Hs[0].dtype
            # X and Y come from outside the network: the kernel takes them contiguous, in its dtype.
            if not (X.flags.c_contiguous and Y.flags.c_contiguous and X.dtype == dtype and Y.dtype == dtype):
                return None
            if any(blocks(n_out, layer_work) for n_out, layer_work in neuron_layers):
                return None  # the layers, one of them split by neurons
            n = blocks(m, work)
            t = dtype.type
            total = (split if n else serial)(dtype)(X, Y, Ws, bs, dWs, dbs, Hs, Ds, *block_sums(dtype), t(1.0 / m),
                                                    _FLOOR[dtype], max(n, 1))
            return t(total / m)

        return whole_backprop

    def backward_function(self, m, n_in, n_out, kind):
        # backward_step()'s row-parallel case with its checks made once, as dense_function's:
        # the network passes its own buffers, contiguous and of one dtype.
        check_activation(kind)
        work = 2 * m * n_in * n_out  # both products
        if kind == "softmax" or self.split.off is not None or work // TUNING.parallel_min_work < 2:
            return super().backward_function(m, n_in, n_out, kind)
        by_neurons = splits_neurons(m, n_out)
        split = self._kernels_by_dtype(neurons.make_backward_step_neurons if by_neurons else rows.make_backward_step_rows,
                                       kind)
        blocks, backward_step = self.split.parts, self.backward_step
        count = n_out if by_neurons else m

        def row_parallel_backward(delta, W, H, dW, db, out):
            if n := blocks(count, work):
                split(out.dtype)(delta, W, H, dW, db, out, n)
                return out
            return backward_step(delta, W, H, kind, dW, db, out)

        return row_parallel_backward

    def weight_grads_function(self, m, n_in, n_out):
        work = m * n_in * n_out
        if self.split.off is not None or work // TUNING.parallel_min_work < 2:
            return self.weight_grads
        by_neurons = splits_neurons(m, n_out)
        split = self._kernels_by_dtype(neurons.make_weight_grads_neurons if by_neurons else rows.make_weight_grads_rows)
        blocks, weight_grads = self.split.parts, self.weight_grads
        count = n_out if by_neurons else m

        def row_parallel_weight_grads(delta, H, dW, db):
            # H is the network's input X here, the one array from outside: checked as dense's X.
            if (n := blocks(count, work)) and H.flags.c_contiguous and H.dtype == dW.dtype:
                split(dW.dtype)(delta, H, dW, db, n)
            else:
                weight_grads(delta, H, dW, db)

        return row_parallel_weight_grads

    def _kernels_by_dtype(self, factory, *names):
        """``dtype -> kernel``: ``self.kernel(factory, dtype, *names)``, compiled for a dtype when first asked."""
        compiled = {}

        def kernel_for(dtype):
            found = compiled.get(dtype)
            if found is None:
                found = compiled[dtype] = self.kernel(factory, dtype, *names)
            return found

        return kernel_for

    def weight_grads(self, delta, H, dW, db):
        m = delta.shape[0]
        if parts := self.split.parts(m, m * dW.size, delta, H, dW, db):
            self.kernel(rows.make_weight_grads_rows, dW.dtype)(delta, H, dW, db, parts)
        else:
            self.weight_product(delta, H, dW)
            self.loops.sum_rows(delta, db)

    # -- a sparse first layer ------------------------------------------------------
    def sparse_dense(self, X, W, b, kind, out):
        if X.nnz >= SPARSE_LOOPS_BELOW * W.shape[1]:
            return super().sparse_dense(X, W, b, kind, out)
        self._sparse_kernels[0](X.indptr, X.indices, X.data, W, out)
        self.kernel(layers.make_bias_activation, out.dtype, kind)(out, b, out)
        return out

    def sparse_weight_grads(self, delta, X, dW, db):
        if X.nnz >= SPARSE_LOOPS_BELOW * dW.shape[1]:
            return super().sparse_weight_grads(delta, X, dW, db)
        self._sparse_kernels[1](delta, X.indptr, X.indices, X.data, dW)
        self.loops.sum_rows(delta, db)

    @functools.cached_property
    def _sparse_kernels(self):
        """The compiled ``X @ W.T`` and ``delta.T @ X`` for X in CSR, which read W's rows as they lie."""
        return self.jit(sparse_products.csr_times_transposed), self.jit(sparse_products.transposed_times_csr)

    # -- losses --------------------------------------------------------------------
    def cost_and_delta(self, loss, kind, H, Y, scale, out):
        check_activation(kind)
        through = loss_of(self.losses, loss).through_activation
        # The kernel takes the delta through an elementwise activation only: a softmax's is row-wise.
        if (through and kind == "softmax") or not _contiguous(H, Y, out):
            return super().cost_and_delta(loss, kind, H, Y, scale, out)
        t = H.dtype.type
        kernel = self.kernel(layers.make_cost_and_delta, H.dtype, loss, kind if through else "identity")
        return t(kernel(H, Y, t(scale), _FLOOR[H.dtype], out) / H.shape[0])

    def cost_and_delta_function(self, loss, kind, scale):
        through = loss_of(self.losses, loss).through_activation
        if through and kind == "softmax":  # the kernel takes the delta through an elementwise activation only
            return super().cost_and_delta_function(loss, kind, scale)
        fused = self._kernels_by_dtype(layers.make_cost_and_delta, loss, kind if through else "identity")
        cost_and_delta = self.cost_and_delta

        def fused_cost_and_delta(H, Y, out):
            # Y is the one array from outside the network (H and out are its buffers).
            if not (Y.flags.c_contiguous and Y.dtype == H.dtype):
                return cost_and_delta(loss, kind, H, Y, scale, out)
            t = H.dtype.type
            return t(fused(H.dtype)(H, Y, t(scale), _FLOOR[H.dtype], out) / H.shape[0])

        return fused_cost_and_delta

    # -- the numba backend's one-pass loops ------------------------------------------
    def all_finite(self, arrays):
        return self.loops.all_finite(arrays)

    def axpy(self, param, grad, step):
        return self.loops.axpy(param, grad, step)

    def update(self, rule, param, grad, state, lr, t, settings):
        return self.loops.update(rule, param, grad, state, lr, t, settings)


def _contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)
