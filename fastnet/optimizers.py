"""Optimisers: the update rules of :mod:`fastnet.maths`, applied to a network's flat parameter buffer.

An optimiser updates a :class:`~fastnet.flat_buffer.FlatBuffer` of parameters from a
buffer of gradients laid out the same way, so each step is one ``ops.update`` call,
whatever the number of layers. Every rule is a scalar function in
:func:`fastnet.maths.update_rules` (compiled into the loop, fused and GPU kernels) with
its vectorised form in :mod:`fastnet.backends.reference`; this module only keeps the
state and the settings. Its state (velocities, moments) lives in buffers of the same
layout; ``state`` lists their per-parameter views, which is what a checkpoint saves, so
a resumed run continues exactly.

Settings (each rule's, with PyTorch's defaults): ``momentum``: ``mu`` 0.9; ``adam``:
``beta1`` 0.9, ``beta2`` 0.999, ``eps`` 1e-8; ``rmsprop``: ``alpha`` 0.99, ``eps`` 1e-8;
``adamw``: Adam's and ``weight_decay`` 0.01.
"""

import math

from .maths import update_rules

RULES = update_rules()
# "sgd" is gd's rule on shuffled mini-batches (32 rows by default).
OPTIMIZERS = ("gd", "sgd") + tuple(name for name in RULES if name != "gd")

# Mini-batch size that ``sgd`` uses when the caller gives none.
SGD_BATCH_SIZE = 32


def check_optimizer(name):
    """Raise ValueError unless ``name`` is a known optimiser."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return name


def rule_of(name):
    """The :class:`fastnet.maths.UpdateRule` name of optimiser ``name`` ("sgd" is gd's)."""
    return "gd" if check_optimizer(name) == "sgd" else name


def check_settings(name, settings, words=None):
    """The full settings of optimiser ``name``: the defaults, updated by ``settings``; or ValueError.

    ``words`` maps a setting's name to the caller's word for it (the estimators say
    ``beta_1`` where fastnet says ``beta1``), for the messages.
    """
    defaults = RULES[rule_of(name)].settings
    words = words or {}
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        valid = ", ".join(words.get(k, k) for k in defaults) or "none"
        raise ValueError(f"optimizer {name!r} has no setting {', '.join(words.get(k, k) for k in unknown)}; "
                         f"its settings: {valid}")
    full = dict(defaults)
    for key, value in settings.items():
        word = words.get(key, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{word} must be a finite number, got {value!r}")
        low_ok = value >= 0 if key in ("mu", "weight_decay") else value > 0
        if not low_ok or (key in ("mu", "beta1", "beta2", "alpha") and value >= 1):
            bounds = {"mu": "0 <= mu < 1", "weight_decay": "weight_decay >= 0", "eps": "eps > 0"}
            raise ValueError(f"{word} must lie in {bounds.get(key, '0 < ' + word + ' < 1')}, got {value!r}")
        full[key] = float(value)
    return full


class Optimizer:
    """An update rule of :mod:`fastnet.maths` with its state, for one network's parameters.

    Parameters
    ----------
    ops : fastnet.backends.Ops
    params : FlatBuffer
        The parameters, updated in place.
    name : str, default "gd"
        One of :data:`OPTIMIZERS`.
    **settings
        The rule's settings (see the module's docstring); the others keep their defaults.
    """

    def __init__(self, ops, params, name="gd", **settings):
        self.ops = ops
        self.params = params
        self.name = check_optimizer(name)
        self.rule = rule_of(name)
        self.configure(settings)
        self.t = 0  # updates applied so far
        self.buffers = [params.like(ops) for _ in range(RULES[self.rule].n_state)]

    def configure(self, settings):
        """Take new settings (unnamed ones at their defaults); the state carries on."""
        self.settings = check_settings(self.name, settings)
        self._h = tuple(self.settings.values())  # the order maths' constants() take them

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
        self.ops.update(self.rule, self.params.flat, grads.flat, self.flat_state, lr, self.t, self._h)

    def hyperparameters(self):
        """Settings that a resumed run must share, as a JSON-ready dict."""
        return dict(self.settings)


class GradientDescent(Optimizer):
    """``param -= lr * grad``: the tutorial's rule (``gd`` full-batch, ``sgd`` mini-batch)."""

    def __init__(self, ops, params, **settings):
        super().__init__(ops, params, "gd", **settings)


class StochasticGradientDescent(Optimizer):
    """The same rule as ``gd``, on shuffled mini-batches."""

    def __init__(self, ops, params, **settings):
        super().__init__(ops, params, "sgd", **settings)


class Momentum(Optimizer):
    """Heavy-ball momentum: ``v = mu v - lr grad; param += v`` (``mu`` 0.9)."""

    def __init__(self, ops, params, mu=0.9):
        super().__init__(ops, params, "momentum", mu=mu)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias-corrected first and second moments."""

    def __init__(self, ops, params, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(ops, params, "adam", beta1=beta1, beta2=beta2, eps=eps)


def make_optimizer(name, ops, params, settings=None):
    """Return a fresh optimiser ``name`` updating the FlatBuffer ``params`` in place, with ``settings``."""
    return Optimizer(ops, params, name, **(settings or {}))
