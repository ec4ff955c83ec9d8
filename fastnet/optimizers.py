"""Parameter update rules, written once against the ops so they run on every backend.

An optimiser updates a :class:`~fastnet.flat_buffer.FlatBuffer` of parameters
from a buffer of gradients laid out the same way, so each step is one call per
rule, whatever the number of layers. Its state (velocities, moments) lives in
buffers of the same layout; ``state`` lists their per-parameter views, which is
what a checkpoint saves, so a resumed run continues exactly.
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
    params : FlatBuffer
        The parameters, updated in place.
    """

    name = "gd"
    n_state = 0  # state buffers of the parameters' layout

    def __init__(self, ops, params):
        self.ops = ops
        self.params = params
        self.t = 0  # updates applied so far
        self.buffers = [params.like(ops) for _ in range(self.n_state)]

    @property
    def state(self):
        """Per-parameter views of the state buffers: the arrays a checkpoint keeps."""
        return [view for buffer in self.buffers for view in buffer.views]

    @property
    def flat_state(self):
        """The state buffers' flat arrays (what a snapshot copies)."""
        return [buffer.flat for buffer in self.buffers]

    def step(self, grads, lr):
        """Apply one update from ``grads``, a FlatBuffer laid out like ``params``."""
        self.t += 1
        self.ops.axpy(self.params.flat, grads.flat, -lr)

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
    n_state = 1  # the velocity

    def __init__(self, ops, params, mu=0.9):
        super().__init__(ops, params)
        self.mu = mu

    def step(self, grads, lr):
        self.t += 1
        self.ops.momentum_update(self.params.flat, grads.flat, self.buffers[0].flat, lr, self.mu)

    def hyperparameters(self):
        return {"mu": self.mu}


class Adam(GradientDescent):
    """Adam (Kingma and Ba, 2015) with bias-corrected first and second moments.

    Parameters
    ----------
    beta1, beta2, eps : float, default 0.9, 0.999, 1e-8
    """

    name = "adam"
    n_state = 2  # state = [m1 of every param..., m2 of every param...]

    def __init__(self, ops, params, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(ops, params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, grads, lr):
        self.t += 1
        c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t  # bias corrections
        m1, m2 = self.buffers
        self.ops.adam_update(self.params.flat, grads.flat, m1.flat, m2.flat, lr, self.beta1, self.beta2, self.eps, c1, c2)

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


_CLASSES = {cls.name: cls for cls in (GradientDescent, StochasticGradientDescent, Momentum, Adam)}


def make_optimizer(name, ops, params):
    """Return a fresh optimiser ``name`` updating the FlatBuffer ``params`` in place."""
    return _CLASSES[check_optimizer(name)](ops, params)
