"""A fully connected network: forward pass, backpropagation and gradient descent, written once.

Every array operation goes through ``self.ops`` (see :mod:`fastnet.backends`), so the
same code is the looped, the vectorised and the GPU network. Notation follows the
tutorial: layer l maps h (m, n_in) to z = h W^T + b (m, n_out) and h' = f(z).
"""

import functools

import numpy

from . import losses
from .backends import ACTIVATIONS, get_backend
from .flat_buffer import FlatBuffer
from .initializers import initialize, make_rng
from .model_file import ModelFileError, parameters_from, read_archive, write_archive
from .optimizers import make_optimizer
from .sparse_input import as_sparse_rows, is_scipy_sparse, is_sparse
from .training import check_alpha, check_fit_options, fit_network
from .validation import as_dtype, as_float_rows, as_targets, layer_sizes

HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "softmax")

# forward() and predict() over many rows go a block of rows at a time, so that the layer
# outputs held at once are at most this many values (2 MiB in float64): a whole data
# set's are never all in memory. Digits' 64-30-10 takes 6,553 rows a block, enough for
# a product to run at full speed: predicting 150,000 rows took the same time as with
# blocks twice as big (64-32-2 and 64-256-128-10, fused and numpy, within 4 %).
FORWARD_BLOCK_VALUES = 2**18
# A wide network gets at least this many rows a block all the same: each block reads
# every weight matrix again, and a product of a few hundred rows or fewer does too
# little work for that read. 784-1024-1024-10 would get 127 rows; there 60,000 rows
# took 2.11 s (fused, float32) against 1.54-1.62 s at 512 to 16,384 rows, and 4.14 s
# against 3.13-3.23 s in float64 (numpy: 5.20 s against 4.13-4.53 s; AMD EPYC, AVX2).
FORWARD_MIN_BLOCK_ROWS = 512


class _Workspace:
    """Buffers for one batch size, allocated once and reused every iteration.

    ``h[l]`` holds layer l's output (z is computed into it and activated in place,
    since backprop only needs h); ``delta[l]`` holds d(cost)/dz of layer l.
    """

    def __init__(self, net, m):
        ops, layers, activations, dtype = net.ops, net.layers, net._activations, net.dtype
        self.h = [ops.alloc((m, n), dtype) for n in layers[1:]]
        self._delta_of = lambda: [ops.alloc((m, n), dtype) for n in layers[1:]]
        # Each layer's functions for this batch size, the backend's choices made once
        # (see Ops.dense_function): its forward pass, and for every layer above the
        # first its backward step (layer l's gradient and the delta of layer l - 1).
        shapes = list(zip(layers[:-1], layers[1:]))
        self.dense = [ops.dense_function(m, n_in, n_out, kind) for (n_in, n_out), kind in zip(shapes, activations)]
        self.backward = [None] + [ops.backward_function(m, n_in, n_out, kind)
                                  for (n_in, n_out), kind in zip(shapes[1:], activations)]
        self.first_grads = ops.weight_grads_function(m, *shapes[0])
        self.cost_and_delta = losses.cost_and_delta_function(ops, net.loss, net.output_activation, m)
        # The whole backprop in one call, where the backend has it (see Ops.backprop_function).
        self.backprop = ops.backprop_function(m, layers, net.activation, net.output_activation,
                                              losses.table_loss(net.loss, net.output_activation))

    @functools.cached_property
    def delta(self):
        """Allocated on first use: a forward pass over a whole data set never needs them."""
        return self._delta_of()

    @functools.cached_property
    def buffers(self):
        """``(h, delta)`` as tuples, the form a whole-backprop kernel takes them in."""
        return tuple(self.h), tuple(self.delta)


class Network:
    """A multilayer perceptron trained by backpropagation on a chosen backend.

    Parameters
    ----------
    layers : sequence of int
        Layer sizes, input first, e.g. ``[64, 30, 10]``.
    activation : {"sigmoid", "tanh", "relu", "identity"}, default "sigmoid"
        Activation of the hidden layers.
    output_activation : {"sigmoid", "tanh", "relu", "identity", "softmax"}, optional
        Activation of the last layer; None means the same as ``activation``.
    loss : {"mse", "cross_entropy"}, default "mse"
        ``mse`` is the tutorial's J = 1/2 ||y - h||^2 per sample; ``cross_entropy``
        needs a ``softmax`` or ``sigmoid`` output.
    init : {"uniform", "xavier", "he", "sklearn"}, default "uniform"
        ``uniform`` draws every weight and bias from U[0, 1), as the tutorial;
        ``sklearn`` is scikit-learn's MLP rule (see :func:`fastnet.initializers.initialize`).
    backend : str or Ops, default "numpy"
        ``"python"``, ``"numba"``, ``"numpy"``, ``"fused"`` (numpy plus Numba
        kernels, the fastest on a CPU), ``"cupy"`` or ``"auto"``.
    dtype : {"float64", "float32"}, default "float64"
    seed : int, optional
        Seeds the initial weights and the mini-batch shuffling.

    Attributes
    ----------
    weights : list of arrays
        ``weights[l]`` has shape ``(layers[l+1], layers[l])``; on the CPU backends
        these are the NumPy arrays the network uses, so in-place edits take effect.
    biases : list of arrays
        ``biases[l]`` has shape ``(layers[l+1],)``.

    Examples
    --------
    >>> import numpy as np, fastnet
    >>> net = fastnet.Network([2, 3, 1], seed=0)
    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    >>> history = net.fit(X, np.array([0., 1., 1., 0.]), epochs=10, lr=0.5)
    >>> len(history)
    10
    """

    def __init__(
        self,
        layers,
        *,
        activation="sigmoid",
        output_activation=None,
        loss="mse",
        init="uniform",
        backend="numpy",
        dtype="float64",
        seed=None,
    ):
        self.layers = layer_sizes(layers)
        if activation not in HIDDEN_ACTIVATIONS:
            hint = " (softmax belongs on the output: output_activation='softmax')" if activation == "softmax" else ""
            raise ValueError(f"unknown activation {activation!r}{hint}; valid: {', '.join(HIDDEN_ACTIVATIONS)}")
        output_activation = activation if output_activation is None else output_activation
        if output_activation not in ACTIVATIONS:
            raise ValueError(f"unknown output_activation {output_activation!r}; valid: {', '.join(ACTIVATIONS)}")
        losses.check_loss(loss, output_activation)
        self.dtype = as_dtype(dtype)
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.init = init
        self.seed = seed
        self.ops = get_backend(backend)
        self.backend = self.ops.name
        self._activations = [activation] * (len(self.layers) - 2) + [output_activation]

        rng = make_rng(seed)
        params = initialize(init, self.layers, rng, activation)
        self._rng = rng  # continues the same stream for mini-batch shuffling
        # Every parameter, in the fixed order W0, b0, W1, b1, ..., is a view into one
        # flat array, and so is every gradient: an update is one call over it.
        initial = [p for pair in params for p in pair]
        self._param_buffer = FlatBuffer(self.ops, [p.shape for p in initial], self.dtype)
        self._grad_buffer = self._param_buffer.like(self.ops)
        self._params = self._param_buffer.views
        for view, value in zip(self._params, initial):
            view[...] = self.ops.asarray(value, self.dtype)
        self._W, self._b = self._params[0::2], self._params[1::2]
        self._flat_grads = self._grad_buffer.views
        self._grads = list(zip(self._flat_grads[0::2], self._flat_grads[1::2]))
        # Weights, biases and their gradients as tuples, a layer each: a whole-backprop kernel's arguments.
        self._layer_arrays = tuple(self._W), tuple(self._b), tuple(self._flat_grads[0::2]), tuple(self._flat_grads[1::2])
        self._optimizer = None  # kept between fit calls, so Adam's moments carry on
        self._workspaces = {}
        self.history = []

    # -- parameters ------------------------------------------------------
    @property
    def weights(self):
        """Weight matrices, ``weights[l]`` of shape ``(layers[l+1], layers[l])``."""
        return list(self._W)

    @property
    def biases(self):
        """Bias vectors, ``biases[l]`` of shape ``(layers[l+1],)``."""
        return list(self._b)

    def get_params(self):
        """Return ``(weights, biases)`` as lists of NumPy copies, from any backend, in one call."""
        return [self.ops.to_numpy(W).copy() for W in self._W], [self.ops.to_numpy(b).copy() for b in self._b]

    def set_params(self, weights, biases):
        """Replace every weight and bias (any array type; shapes must match the layers).

        Nothing is changed unless every array has the right shape and is finite.
        """
        if len(weights) != len(self._W) or len(biases) != len(self._b):
            raise ValueError(f"expected {len(self._W)} weight matrices and bias vectors, got {len(weights)} and {len(biases)}")
        new_W, new_b = [], []
        for l, (W, b) in enumerate(zip(weights, biases)):
            W_host = as_float_rows(f"weights[{l}]", self.ops.to_numpy(W), self.layers[l], self.dtype)[0]
            b_host = as_float_rows(f"biases[{l}]", self.ops.to_numpy(b).reshape(1, -1), self.layers[l + 1], self.dtype)[0]
            if W_host.shape != self._W[l].shape:
                raise ValueError(f"weights[{l}] has shape {W_host.shape}, expected {tuple(self._W[l].shape)}")
            new_W.append(W_host)
            new_b.append(b_host[0])
        for l in range(len(self._W)):
            self._W[l][...] = self.ops.asarray(new_W[l])
            self._b[l][...] = self.ops.asarray(new_b[l])

    # -- input handling ----------------------------------------------------
    def _to_backend_inputs(self, X):
        """Validate X and move it to the backend once. Returns (X, was_1d, was_native).

        A sparse X stays sparse, in CSR (see :mod:`fastnet.sparse_input`).
        """
        if is_sparse(X):
            native = not self.ops.on_host and not is_scipy_sparse(X)  # a CuPy sparse matrix on the GPU
            return self.ops.sparse_to_backend(as_sparse_rows("X", X, self.layers[0], self.dtype)), False, native
        native = not self.ops.on_host and self.ops.is_native(X)
        # A device array is checked on the device, where it lies: never copied to the host and back.
        arr, was_1d = as_float_rows("X", X, self.layers[0], self.dtype, xp=self.ops.xp if native else numpy)
        if native:
            return arr, was_1d, True
        # On the host, arr is the backend's array already (C order, the right dtype).
        return (arr if self.ops.on_host else self.ops.asarray(arr, self.dtype)), was_1d, False

    def _to_backend_targets(self, Y, n_samples):
        xp = self.ops.xp if self.ops.is_native(Y) else numpy  # a device Y is checked on the device
        return self.ops.asarray(as_targets(Y, n_samples, self.layers[-1], self.dtype, xp=xp), self.dtype)

    def _workspace(self, m):
        ws = self._workspaces.get(m)
        if ws is None:
            if len(self._workspaces) >= 4:  # bound memory when many batch sizes are seen
                self._workspaces.clear()
            ws = self._workspaces[m] = _Workspace(self, m)
        return ws

    # -- the algorithm -----------------------------------------------------
    def _forward(self, X, ws):
        """Feed X (m, n_in) forward, storing every layer's h in ``ws``; returns the output h."""
        layers = zip(ws.dense, self._W, self._b, ws.h)
        h = X
        if is_sparse(X):  # the first layer of a sparse input: the sparse product
            _, W, b, h = next(layers)
            self.ops.sparse_dense(X, W, b, self._activations[0], h)
        for dense, W, b, out in layers:
            dense(h, W, b, out)  # h = f(h W^T + b), (m, n_out)
            h = out
        return h

    def _backprop(self, X, Y, alpha=0.0):
        """Forward then backward pass; fills ``self._grads`` and returns the mean cost.

        ``alpha`` > 0 adds scikit-learn's L2 penalty, alpha / (2 m) * sum of every
        squared weight (biases are not penalised), to the cost and its gradient.
        """
        ws = self._workspace(X.shape[0])
        cost = None
        if ws.backprop is not None and not is_sparse(X):
            # The backend's whole pass in one call, the same gradients as the layers below
            # give (None where it does not take this X or Y).
            cost = ws.backprop(X, Y, *self._layer_arrays, *ws.buffers)
        if cost is None:
            cost = self._backprop_layers(X, Y, ws)
        if alpha:
            cost = cost + self._add_penalty(alpha, X.shape[0])
        return cost

    def _backprop_layers(self, X, Y, ws):
        """Backpropagation a layer at a time through the array layer: the algorithm. Returns the mean cost."""
        H = self._forward(X, ws)
        delta = ws.delta[-1]
        cost = ws.cost_and_delta(H, Y, delta)
        for l in range(len(self._W) - 1, 0, -1):
            # dW, db of layer l, then delta^(l) = (delta^(l+1) W^(l)) * f'(z^(l)), f' from the stored h.
            dW, db = self._grads[l]
            delta = ws.backward[l](delta, self._W[l], ws.h[l - 1], dW, db, ws.delta[l - 1])
        (self.ops.sparse_weight_grads if is_sparse(X) else ws.first_grads)(delta, X, *self._grads[0])
        return cost

    def _add_penalty(self, alpha, m):
        """Add the L2 penalty's gradient for m rows to the gradient buffer; returns its cost, alpha / (2 m) * sum W**2."""
        scale = alpha / m
        squares = 0.0
        for W, (dW, _) in zip(self._W, self._grads):
            self.ops.axpy(dW, W, scale)
            squares = squares + self.ops.sum_of_squares(W)
        return 0.5 * scale * squares

    # -- public API ----------------------------------------------------------
    def forward(self, X):
        """Network output for X.

        Parameters
        ----------
        X : array of shape (n_samples, n_in) or (n_in,)
            NumPy (any backend), the backend's own array type, or a SciPy sparse
            matrix (see :mod:`fastnet.sparse_input`).

        Returns
        -------
        array of shape (n_samples, n_out) or (n_out,)
            NumPy for NumPy input; the backend's array type for backend input.
        """
        Xb, was_1d, native = self._to_backend_inputs(X)
        backend_array = native or self.ops.on_host  # returned as it is; else copied to the host, a new array
        with self.ops.running():
            if Xb.shape[0] <= self._block_rows():
                H = self._forward(Xb, self._workspace(Xb.shape[0]))
                H = H.copy() if backend_array else H  # a workspace buffer, which the next call overwrites
            else:
                H = self.ops.alloc((Xb.shape[0], self.layers[-1]), self.dtype)
                for rows, out in self._blocks_forward(Xb):
                    self.ops.copy_into(H[rows], out)
        H = H[0] if was_1d else H
        return H if backend_array else self.ops.to_numpy(H)

    def _block_rows(self):
        """The most rows one forward pass of forward() and predict() takes: its layer outputs are FORWARD_BLOCK_VALUES, or FORWARD_MIN_BLOCK_ROWS rows if more."""
        return max(FORWARD_MIN_BLOCK_ROWS, FORWARD_BLOCK_VALUES // sum(self.layers[1:]))

    def _blocks_forward(self, Xb):
        """Yield ``(rows, H)``: each block of ``_block_rows()`` rows of Xb, a slice, and its outputs (a workspace buffer)."""
        block = self._block_rows()
        for start in range(0, Xb.shape[0], block):
            rows = slice(start, min(start + block, Xb.shape[0]))
            X_rows = Xb[rows]
            yield rows, self._forward(X_rows, self._workspace(X_rows.shape[0]))

    def backprop(self, X, Y, *, alpha=0.0):
        """Cost and gradient of the mean cost over the samples in X.

        Parameters
        ----------
        X : array of shape (n_samples, n_in)
        Y : array of shape (n_samples, n_out)
            Targets; one-hot rows for classes. 1-D is accepted for one output.
        alpha : float, default 0
            L2 penalty: adds alpha / (2 n_samples) * (sum of squared weights) to
            the cost, as scikit-learn's MLP does.

        Returns
        -------
        cost : float
            Mean over samples of the per-sample loss.
        grads : list of (dW, db)
            Per layer, the gradient of that mean cost (the tutorial's (1/m) Delta W
            and (1/m) Delta b), as NumPy arrays.
        """
        alpha = check_alpha(alpha)
        Xb, _, _ = self._to_backend_inputs(X)
        Yb = self._to_backend_targets(Y, Xb.shape[0])
        with self.ops.running():
            cost = self._backprop(Xb, Yb, alpha)
        grads = [(self.ops.to_numpy(dW).copy(), self.ops.to_numpy(db).copy()) for dW, db in self._grads]
        return float(cost), grads

    def fit(self, X, Y, *, epochs, lr, batch_size=None, optimizer="gd", callback=None,
            checkpoint=None, checkpoint_every=None, resume=None, alpha=0.0, shuffle=True, optimizer_settings=None,
            comm=None):
        """Train and return the cost of each epoch.

        Parameters
        ----------
        X : array of shape (n_samples, n_in)
            Dense, or a SciPy sparse matrix of any format (held in CSR and never made
            dense on the numpy, fused and cupy backends; the loop backends make one
            batch at a time dense).
        Y : array of shape (n_samples, n_out)
        epochs : int
            Passes over the data; with a full batch, one epoch is one update. With
            ``resume``, the total to reach, counting the epochs already done.
        lr : float
            Learning rate (the tutorial's alpha).
        batch_size : int, optional
            None: the whole data set per update, except for ``sgd`` (32). Mini-batches
            are drawn in an order shuffled by the network's seed.
        optimizer : {"gd", "sgd", "momentum", "adam", "rmsprop", "adamw"}, default "gd"
            ``gd`` is the tutorial's full-batch gradient descent; ``sgd`` the same
            rule on mini-batches; the others follow PyTorch's optimisers of those
            names. The optimiser's state carries over to the next ``fit`` call with
            the same optimiser.
        callback : callable, optional
            ``callback(epoch, cost)`` after every epoch (1-based epoch). Returning
            False stops training early. Each call copies the cost to the host (on
            the GPU, a callback makes every epoch a chunk of its own).
        checkpoint : str or path-like, optional
            File to write a checkpoint to (atomically) every ``checkpoint_every``
            epochs, at the end, and on Ctrl-C between epochs (every full-batch
            update is one; inside a mini-batch epoch the last checkpoint stays).
        checkpoint_every : int, optional
        resume : str or path-like, optional
            A checkpoint to continue from: weights, optimiser state, random state
            and cost history. Network, data, optimiser, lr, batch size, alpha and
            shuffle must match.
        alpha : float, default 0
            L2 penalty on the weights (see :meth:`backprop`); the costs returned
            include it.
        shuffle : bool, default True
            Draw mini-batches in a new shuffled order every epoch; False takes the
            rows in their given order. Full-batch training is the same either way.
        optimizer_settings : dict, optional
            The optimiser's settings by name; those not given keep their defaults
            (PyTorch's): ``momentum``: ``mu`` 0.9; ``adam``: ``beta1`` 0.9, ``beta2``
            0.999, ``eps`` 1e-8; ``rmsprop``: ``alpha`` 0.99, ``eps`` 1e-8; ``adamw``:
            Adam's and ``weight_decay`` 0.01 (decoupled, on every parameter). E.g.
            ``optimizer="adam", optimizer_settings={"beta2": 0.99}``.
        comm : mpi4py communicator, optional
            Train data-parallel with the other processes of ``comm`` (e.g.
            ``MPI.COMM_WORLD`` under ``mpiexec -n N``): each passes its own rows of
            X and Y (any number, even none), the same network and settings, and every
            update sums the gradients of all. ``batch_size`` is the global batch, so
            a full-batch fit equals one process holding every rank's rows to
            rounding. Every rank ends with rank 0's starting weights trained, the
            same on every rank; only rank 0 writes ``checkpoint``. Settings or
            shapes that differ between ranks raise :class:`~fastnet.data_parallel.RanksDisagreeError`
            on every rank; any other error on one rank prints its traceback and
            aborts the whole run (``MPI_Abort``). See :mod:`fastnet.data_parallel`.

        Returns
        -------
        list of float
            Mean cost of each epoch run by this call, measured before that epoch's
            updates (for mini-batches: the sample-weighted mean of the batch costs).
            ``self.history`` holds the whole history, resumed epochs included, and is
            kept up to date if training stops with an exception.

        Raises
        ------
        ValueError
            Bad data or settings, or a checkpoint that does not fit; nothing changes.
        DivergenceError
            (a FloatingPointError) when the cost or a weight becomes NaN or Inf; the
            weights from before that update are kept.
        KeyboardInterrupt
            Re-raised after undoing a half-applied update.
        """
        if comm is not None:
            from .data_parallel import fit_on_ranks

            return fit_on_ranks(self, comm, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                                callback=callback, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                resume=resume, alpha=alpha, shuffle=shuffle, optimizer_settings=optimizer_settings)
        Xb, Yb, options = self._checked_fit(X, Y, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                                            callback=callback, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                            resume=resume, alpha=alpha, shuffle=shuffle,
                                            optimizer_settings=optimizer_settings)
        with self.ops.running():  # a backend's library settings, undone when the fit ends
            return fit_network(self, Xb, Yb, **options)

    def _checked_fit(self, X, Y, *, epochs, lr, batch_size, optimizer, callback, checkpoint, checkpoint_every, resume,
                     alpha, shuffle, optimizer_settings):
        """``fit``'s arguments checked: X and Y on the backend, and the keyword arguments of ``fit_network``."""
        epochs, lr, batch_size = check_fit_options(epochs, lr, batch_size, optimizer, callback, checkpoint, checkpoint_every,
                                                   optimizer_settings)
        alpha = check_alpha(alpha)
        Xb, _, _ = self._to_backend_inputs(X)
        Yb = self._to_backend_targets(Y, Xb.shape[0])
        return Xb, Yb, dict(epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, callback=callback,
                            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, alpha=alpha,
                            shuffle=bool(shuffle), optimizer_settings=optimizer_settings)

    def reset_optimizer(self):
        """Forget the optimiser's state (momentum, Adam's moments), so the next ``fit`` starts it afresh."""
        self._optimizer = None

    def predict(self, X):
        """Index of the largest output for each sample (class labels 0..n_out-1)."""
        Xb, was_1d, native = self._to_backend_inputs(X)
        with self.ops.running():
            if Xb.shape[0] <= self._block_rows():
                labels = self.ops.argmax(self._forward(Xb, self._workspace(Xb.shape[0])))
            else:
                labels = self.ops.xp.concatenate([self.ops.argmax(H) for _, H in self._blocks_forward(Xb)])
        labels = labels if native else self.ops.to_numpy(labels)
        return labels[0] if was_1d else labels

    def score(self, X, y):
        """Accuracy of :meth:`predict` against integer labels ``y``, in [0, 1]."""
        predicted = self.ops.to_numpy(self.predict(X)).reshape(-1)
        y = self.ops.to_numpy(y).reshape(-1)
        if y.shape != predicted.shape:
            raise ValueError(f"y has {y.shape[0]} labels but X has {predicted.shape[0]} samples")
        return float((predicted == y).mean())

    # -- files -------------------------------------------------------------
    def _config(self):
        """The settings that define this network, JSON-ready (saved in model files)."""
        return {
            "layers": list(self.layers),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss,
            "init": self.init,
            "dtype": self.dtype.name,
        }

    def _parameter_arrays(self):
        weights, biases = self.get_params()
        arrays = {f"W{l}": W for l, W in enumerate(weights)}
        arrays.update({f"b{l}": b for l, b in enumerate(biases)})
        return arrays

    def to_onnx(self, path, *, classes=None):
        """Write the forward pass as an ONNX model (needs ``pip install "fastnet-trainer[onnx]"``).

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file to write (atomically).
        classes : array of length n_out, optional
            Adds an output ``label``: the class of each row's largest output.

        The model takes ``X`` (n_samples, n_in) in the network's dtype and gives
        ``probabilities`` after a softmax, else ``outputs``: what :meth:`forward` gives.
        """
        from .onnx_export import network_model, write_model

        if classes is not None and len(classes) != self.layers[-1]:
            raise ValueError(f"classes has {len(classes)} entries, the network has {self.layers[-1]} outputs")
        write_model(network_model(self, classes=classes, head="outputs" if classes is None else "classes"), path)

    def save(self, path, *, extra_meta=None, extra_arrays=None):
        """Write the network to ``path`` as an ``.npz`` model file (atomically, no pickle).

        The file holds the layers, activations, loss, dtype and weights; load it
        with :func:`fastnet.load` onto any backend. ``path`` is used as given.
        ``extra_meta`` (JSON-ready dict) and ``extra_arrays`` (name -> NumPy array)
        let wrappers such as the estimators store their own fields alongside.
        """
        arrays = dict(extra_arrays or {}, **self._parameter_arrays())
        write_archive(path, dict(extra_meta or {}, **self._config(), kind="model"), arrays)

    # -- pickling (for scikit-learn's clone/joblib; model files never use it) --
    def __getstate__(self):
        weights, biases = self.get_params()
        opt = self._optimizer
        return {
            "config": self._config(),
            "seed": self.seed,
            "backend": self.backend,
            "weights": weights,
            "biases": biases,
            "rng_state": self._rng.bit_generator.state,
            "history": list(self.history),
            "optimizer": None if opt is None else (opt.name, opt.t, [self.ops.to_numpy(a) for a in opt.state],
                                                   dict(opt.settings)),
        }

    def __setstate__(self, state):
        config = dict(state["config"])
        self.__init__(config.pop("layers"), backend=state["backend"], seed=state["seed"], **config)
        self.set_params(state["weights"], state["biases"])
        self._rng.bit_generator.state = state["rng_state"]
        self.history = state["history"]
        if state["optimizer"] is not None:
            name, t, arrays, *settings = state["optimizer"]  # no settings: pickled before 0.3, the defaults
            self._optimizer = make_optimizer(name, self.ops, self._param_buffer, *settings)
            self._optimizer.t = t
            for dst, src in zip(self._optimizer.state, arrays):
                dst[...] = self.ops.asarray(src, self.dtype)

    def __repr__(self):
        return (
            f"Network({list(self.layers)}, activation={self.activation!r}, output_activation="
            f"{self.output_activation!r}, loss={self.loss!r}, init={self.init!r}, "
            f"backend={self.backend!r}, dtype={self.dtype.name!r})"
        )


def load(path, backend="numpy"):
    """Read a network saved by :meth:`Network.save` (or a checkpoint) onto ``backend``.

    Parameters
    ----------
    path : str or path-like
    backend : str or Ops, default "numpy"

    Returns
    -------
    Network
        Same settings and bit-identical weights.

    Raises
    ------
    FileNotFoundError
    fastnet.ModelFileError
        (a ValueError) for a truncated, corrupted or foreign file, or one written
        by a newer fastnet. Files are never unpickled.
    """
    meta, arrays = read_archive(path)
    return network_from_archive(path, meta, arrays, backend)


def network_from_archive(path, meta, arrays, backend):
    """Build the Network that an archive read by :func:`read_archive` describes."""
    weights, biases = parameters_from(path, meta, arrays)
    try:
        settings = {k: meta[k] for k in ("activation", "output_activation", "loss", "init", "dtype")}
    except KeyError as exc:
        raise ModelFileError(f"{path!r} lacks the network setting {exc.args[0]!r}") from None
    try:
        net = Network(meta["layers"], backend=backend, **settings)
    except ValueError as exc:
        raise ModelFileError(f"{path!r} describes a network fastnet cannot build: {exc}") from None
    net.set_params(weights, biases)
    return net
