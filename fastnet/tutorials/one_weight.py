"""The smallest "network": one weight, a sigmoid, and gradient descent toward y = 0.

This follows the tutorial's own update literally: its derivative is
sum((h - y) * h * (1 - h)) over the samples, with neither the input factor x
nor the 1/m of the mean. That is what produces its documented weight of
-24.3428836; the true gradient would end elsewhere.
"""

import numpy as np

from .. import plots


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run(weight=5.0, lr=0.5, epochs=2000, plot=None, out=print):
    """Train the one-weight network on X = (0.1, 0.25, 0.5, 0.75, 1.0), y = 0.

    Returns
    -------
    dict
        ``weight`` (about -24.34), ``cost`` (about 0.0013, the mean squared error),
        ``initial_cost``, ``outputs``, ``history``.
    """
    X = np.array([0.1, 0.25, 0.5, 0.75, 1.0])
    y = np.zeros_like(X)

    def cost(w):
        return float(np.mean((_sigmoid(X * w) - y) ** 2))

    initial = cost(weight)
    out(f"Cost before gradient descent: {initial}")
    history = []
    for _ in range(epochs):
        h = _sigmoid(X * weight)
        history.append(float(np.mean((h - y) ** 2)))
        weight -= lr * np.sum((h - y) * h * (1 - h))
    final = cost(weight)
    outputs = _sigmoid(X * weight)
    out(f"Final weight: {weight}")
    out(f"Final cost: {final}")
    out(f"Outputs, rounded: {np.round(outputs, 2).tolist()}")
    if plot:
        plots.cost_curve(history, plot, ylabel="cost (mean squared error)", title=f"one-weight network: w = {weight:.4f}, cost {final:.5f}")
        out(f"figure: {plot}")
    return {"weight": weight, "cost": final, "initial_cost": initial, "outputs": outputs, "history": history}
