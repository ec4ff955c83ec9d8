"""The same maths written by someone else: a plain NumPy transcription and PyTorch.

These are the peers fastnet is measured against. Each trains the tutorial's
recipe (sigmoid, 1/2 squared error, full-batch gradient descent) from given
starting weights, so its result can be checked against fastnet's before timing.
"""

import numpy as np


def numpy_forward(x, weights, biases):
    """The tutorial's vectorised feed-forward, in plain NumPy: h = f(W h + b) per layer."""
    h = x
    for W, b in zip(weights, biases):
        h = 1.0 / (1.0 + np.exp(-(W.dot(h) + b)))
    return h


def numpy_train(X, Y, weights, biases, iterations, lr):
    """Plain NumPy full-batch training, written as a reader of the tutorial would vectorise it."""
    W = [w.copy() for w in weights]
    b = [v.copy() for v in biases]
    m = X.shape[0]
    for _ in range(iterations):
        hs = [X]
        for Wl, bl in zip(W, b):
            hs.append(1.0 / (1.0 + np.exp(-(hs[-1] @ Wl.T + bl))))
        delta = -(Y - hs[-1]) * hs[-1] * (1.0 - hs[-1])
        for l in range(len(W) - 1, -1, -1):
            dW = delta.T @ hs[l] / m
            db = delta.sum(axis=0) / m
            if l > 0:
                delta = (delta @ W[l]) * hs[l] * (1.0 - hs[l])
            W[l] -= lr * dW
            b[l] -= lr * db
    return W, b


def torch_trainer(X, Y, weights, biases, lr, device="cpu"):
    """A closure that runs ``iterations`` full-batch steps in PyTorch, hand-written backprop.

    Autograd is bypassed so that PyTorch does exactly fastnet's arithmetic.
    ``device`` is ``"cpu"``, ``"cuda"`` (eager: one launch per operation) or
    ``"cuda-graph"``: one step captured once as a CUDA graph and replayed, which
    takes the per-launch CPU overhead out of every later step; ``"cpu-compile"``: the
    step compiled by ``torch.compile`` (fusing its elementwise work), on the CPU.
    """
    import torch

    graph, compiled = device == "cuda-graph", device == "cpu-compile"
    device = "cuda" if graph else "cpu" if compiled else device
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=device)
    W = [torch.as_tensor(w, dtype=dtype, device=device).clone() for w in weights]
    b = [torch.as_tensor(v, dtype=dtype, device=device).clone() for v in biases]
    m = X.shape[0]

    def step():
        # Every update is in place, so a captured step replays onto the same tensors.
        hs = [Xt]
        for Wl, bl in zip(W, b):
            hs.append(torch.sigmoid(torch.addmm(bl, hs[-1], Wl.T)))
        delta = (hs[-1] - Yt) * hs[-1] * (1.0 - hs[-1]) / m
        for l in range(len(W) - 1, -1, -1):
            dW = delta.T @ hs[l]
            db = delta.sum(dim=0)
            if l > 0:
                delta = (delta @ W[l]) * hs[l] * (1.0 - hs[l])
            W[l].sub_(lr * dW)
            b[l].sub_(lr * db)

    if compiled:
        step = torch.compile(step)
    if graph:
        with torch.no_grad():
            start = [t.clone() for t in W + b]
            # Warm-up on a side stream (as capture requires), then put the weights
            # back: the warm-up steps must not count as training.
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            for t, t0 in zip(W + b, start):
                t.copy_(t0)
            captured = torch.cuda.CUDAGraph()
            with torch.cuda.graph(captured):  # records the step; nothing runs yet
                step()
        step = captured.replay

    @torch.no_grad()
    def run(iterations):
        for _ in range(iterations):
            step()
        if device != "cpu":
            torch.cuda.synchronize()
        return [w.cpu().numpy() for w in W], [v.cpu().numpy() for v in b]

    return run


def jax_trainer(X, Y, weights, biases, lr):
    """A closure that runs ``iterations`` full-batch steps in JAX, the whole loop one ``jit`` (``lax.fori_loop``).

    The way a JAX user would make this fast: the step's arithmetic is fastnet's (the
    same hand-written backprop as :func:`torch_trainer`), and the loop over iterations
    runs inside one compiled XLA program, with no Python between steps. The iteration
    count is an argument of that program, so one compile serves every run.
    """
    import jax

    if X.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    start = tuple(jnp.asarray(w) for w in weights), tuple(jnp.asarray(v) for v in biases)
    m = X.shape[0]

    def step(_, params):
        W, b = params
        hs = [Xj]
        for Wl, bl in zip(W, b):
            hs.append(jax.nn.sigmoid(hs[-1] @ Wl.T + bl))
        delta = (hs[-1] - Yj) * hs[-1] * (1.0 - hs[-1]) / m
        new_W, new_b = list(W), list(b)
        for l in range(len(W) - 1, -1, -1):
            dW, db = delta.T @ hs[l], delta.sum(axis=0)
            if l > 0:
                delta = (delta @ W[l]) * hs[l] * (1.0 - hs[l])
            new_W[l], new_b[l] = W[l] - lr * dW, b[l] - lr * db
        return tuple(new_W), tuple(new_b)

    loop = jax.jit(lambda params, n: jax.lax.fori_loop(0, n, step, params))

    def run(iterations):
        W, b = loop(start, iterations)
        jax.block_until_ready(W)
        return [np.asarray(w) for w in W], [np.asarray(v) for v in b]

    return run


def torch_products(operands, device="cpu"):
    """A closure that runs the digits step's five matrix products in PyTorch.

    ``operands`` is :func:`bench.workloads.digits_step_operands`' dict; the products
    are those of :func:`bench.workloads.step_products`, each into a preallocated
    tensor. ``run(iterations)`` returns the last results as NumPy arrays.
    """
    import torch

    t = {name: torch.as_tensor(a, device=device) for name, a in operands.items()}
    products = [
        ("Z1", t["X"], t["W1"].T),
        ("Z2", t["H1"], t["W2"].T),
        ("dW2", t["D2"].T, t["H1"]),
        ("D1", t["D2"], t["W2"]),
        ("dW1", t["D1"].T, t["X"]),
    ]
    out = {name: torch.empty((A.shape[0], B.shape[1]), dtype=A.dtype, device=device) for name, A, B in products}

    @torch.no_grad()
    def run(iterations):
        for _ in range(iterations):
            for name, A, B in products:
                torch.mm(A, B, out=out[name])
        if device != "cpu":
            torch.cuda.synchronize()
        return {name: r.cpu().numpy() for name, r in out.items()}

    return run


def torch_adam_trainer(X, Y, weights, biases, lr, batch_size, shuffle=True):
    """A closure that trains a ReLU/softmax network with ``torch.optim.Adam`` for ``run(epochs)`` epochs.

    Written as a PyTorch user would: autograd, ``cross_entropy`` on the logits, a new
    ``randperm`` order every epoch (``shuffle=False``: the rows in order, which is
    how it is checked against fastnet). PyTorch's Adam is fastnet's formula, epsilon
    after the bias correction.
    """
    import torch

    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    Xt = torch.as_tensor(X, dtype=dtype)
    labels = torch.as_tensor(np.argmax(Y, axis=1))
    W = [torch.nn.Parameter(torch.as_tensor(w, dtype=dtype).clone()) for w in weights]
    b = [torch.nn.Parameter(torch.as_tensor(v, dtype=dtype).clone()) for v in biases]
    optimizer = torch.optim.Adam([p for pair in zip(W, b) for p in pair], lr=lr, eps=1e-8)
    m = X.shape[0]

    def epoch():
        order = torch.randperm(m) if shuffle else torch.arange(m)
        for start in range(0, m, batch_size):
            idx = order[start : start + batch_size]
            h = Xt[idx]
            for l, (Wl, bl) in enumerate(zip(W, b)):
                h = torch.addmm(bl, h, Wl.T)
                if l < len(W) - 1:
                    h = torch.relu(h)
            loss = torch.nn.functional.cross_entropy(h, labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def run(epochs):
        for _ in range(epochs):
            epoch()
        return [w.detach().numpy().copy() for w in W], [v.detach().numpy().copy() for v in b]

    return run
