"""The experiments of the tutorials in the project's reference folder, runnable by name.

``fastnet tutorial NAME`` runs one; from Python, ``fastnet.tutorials.run(NAME)``
or the module's ``run`` function. Each prints what the tutorial prints, returns
its numbers in a dict, and saves a figure when given ``plot=PATH``.
"""

import importlib

TUTORIALS = {
    "gradient-descent": ("gradient_descent", "gradient descent on f(x) = x^4 - 3x^3 + 2 from x = 4"),
    "one-weight": ("one_weight", "the one-weight sigmoid network, 2000 epochs"),
    "not-gate": ("not_gate", "the NOT gate learned with a bias unit"),
    "cost-surface": ("cost_surface", "cost surfaces of the two-weight network, MSE vs cross-entropy"),
    "xor": ("xor", "XOR with a 2-3-1 network trained by backpropagation"),
    "feedforward": ("feedforward", "the worked 3-3-1 feed-forward example"),
    "digits": ("digits", "the digits network (64-30-10, sigmoid, MSE) and its cost curve"),
}


# The experiments that print numbers only.
WITHOUT_FIGURE = ("feedforward",)


def run(name, plot=None, out=print, **kwargs):
    """Run tutorial experiment ``name`` (see ``TUTORIALS``); returns its results dict.

    Raises ValueError for an unknown name, or a ``plot`` for an experiment that draws no figure.
    """
    if name not in TUTORIALS:
        raise ValueError(f"unknown tutorial {name!r}; valid: {', '.join(TUTORIALS)}")
    if plot and name in WITHOUT_FIGURE:
        raise ValueError(f"tutorial {name} prints numbers and draws no figure; --plot works with: "
                         f"{', '.join(n for n in TUTORIALS if n not in WITHOUT_FIGURE)}")
    module = importlib.import_module(f"{__name__}.{TUTORIALS[name][0]}")
    return module.run(plot=plot, out=out, **kwargs)
