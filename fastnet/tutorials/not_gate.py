"""The NOT gate, which one weight cannot learn and a weight plus a bias unit can.

Trained with fastnet itself: a 1-1 network (one weight, one bias), sigmoid
output, the 1/2 squared-error cost, full-batch gradient descent.
"""

import numpy as np

from .. import plots
from ..network import Network


def run(lr=0.5, epochs=12000, seed=0, backend="numpy", plot=None, out=print):
    """Learn 0 -> 1, 1 -> 0.

    Returns
    -------
    dict
        ``outputs`` (close to 1 and 0), ``rounded`` ([1, 0]), ``weight``, ``bias``,
        ``initial_cost``, ``cost``, ``history``.
    """
    X = np.array([[0.0], [1.0]])
    y = np.array([1.0, 0.0])
    net = Network([1, 1], init="xavier", seed=seed, backend=backend)
    (W,), (b,) = net.get_params()
    out(f"Initial weight: {W[0, 0]:.6f}   bias: {b[0]:.6f}")
    history = net.fit(X, y, epochs=epochs, lr=lr)
    (W,), (b,) = net.get_params()
    outputs = net.forward(X).ravel()
    out(f"Cost before gradient descent: {history[0]:.6f}")
    out(f"Final weight: {W[0, 0]:.6f}   bias: {b[0]:.6f}   final cost: {history[-1]:.6g}")
    out(f"Result: {np.round(outputs).tolist()}   expected: {y.tolist()}")
    if plot:
        plots.cost_curve(history, plot, ylabel=plots.cost_label("mse"), title=f"NOT gate: outputs {np.round(outputs, 3).tolist()}")
        out(f"figure: {plot}")
    return {"outputs": outputs, "rounded": np.round(outputs), "weight": W[0, 0], "bias": b[0],
            "initial_cost": history[0], "cost": history[-1], "history": history}
