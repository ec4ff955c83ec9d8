"""Parameter update rules, written once against the ops so they run on every backend.

An optimiser holds its state (velocities, moments, step count) as backend arrays,
one per parameter, so a checkpoint can save it and a resumed run continues exactly.
"""

OPTIMIZERS = ("gd", "sgd", "momentum", "adam")

# Mini-batch size that ``sgd`` uses when the caller gives none.
SGD_BATCH_SIZE = 32


def check_optimizer(name):
    """Raise ValueError unless ``name`` is a known optimiser."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return name


class GradientDescent:
    """``param -= lr * grad``: the tutorial's rule (``gd`` full-batch, ``sgd`` mini-batch).

    Parameters
    ----------
    ops : fastnet.backends.Ops
    params : list of arrays
        The arrays updated in place, in a fixed order.
    """

    name = "gd"

    def __init__(self, ops, params):
        self.ops = ops
        self.params = params
        self.t = 0  # updates applied so far
        self.state = []  # backend arrays that a checkpoint must keep

    def step(self, grads, lr):
        """Apply one update from ``grads`` (same order and shapes as ``params``)."""
        self.t += 1
        for p, g in zip(self.params, grads):
            self.ops.axpy(p, g, -lr)

    def hyperparameters(self):
        """Settings that a resumed run must share, as a JSON-ready dict."""
        return {}


class StochasticGradientDescent(GradientDescent):
    """The same rule as ``gd``, on shuffled mini-batches."""

    name = "sgd"


class Momentum(GradientDescent):
    """Heavy-ball momentum: ``v = mu v - lr grad; param += v``.

    Parameters
    ----------
    mu : float, default 0.9
    """

    name = "momentum"

    def __init__(self, ops, params, mu=0.9):
        super().__init__(ops, params)
        self.mu = mu
        self.state = [ops.alloc(p.shape, p.dtype) for p in params]

    def step(self, grads, lr):
        self.t += 1
        for p, g, v in zip(self.params, grads, self.state):
            self.ops.momentum_update(p, g, v, lr, self.mu)

    def hyperparameters(self):
        return {"mu": self.mu}


class Adam(GradientDescent):
    """Adam (Kingma and Ba, 2015) with bias-corrected first and second moments.

    Parameters
    ----------
    beta1, beta2, eps : float, default 0.9, 0.999, 1e-8
    """

    name = "adam"

    def __init__(self, ops, params, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(ops, params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        # state = [m1 of every param..., m2 of every param...]
        self.state = [ops.alloc(p.shape, p.dtype) for p in params] + [ops.alloc(p.shape, p.dtype) for p in params]

    def step(self, grads, lr):
        self.t += 1
        n = len(self.params)
        c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t  # bias corrections
        for p, g, m1, m2 in zip(self.params, grads, self.state[:n], self.state[n:]):
            self.ops.adam_update(p, g, m1, m2, lr, self.beta1, self.beta2, self.eps, c1, c2)

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


_CLASSES = {cls.name: cls for cls in (GradientDescent, StochasticGradientDescent, Momentum, Adam)}


def make_optimizer(name, ops, params):
    """Return a fresh optimiser ``name`` updating ``params`` in place."""
    return _CLASSES[check_optimizer(name)](ops, params)
