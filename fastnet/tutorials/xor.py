"""XOR, the classic problem that needs a hidden layer: a 2-3-1 network trained by backprop.

The tutorial's output error is h - y (no sigmoid derivative), which is exactly
the gradient of cross-entropy after a sigmoid output, so that is the loss used.
"""

import numpy as np

from .. import plots
from ..network import Network


def run(lr=0.1, epochs=10_000, seed=0, backend="numpy", plot=None, out=print):
    """Train on the XOR truth table with full-batch gradient descent.

    Returns
    -------
    dict
        ``outputs`` for inputs (0,0), (0,1), (1,0), (1,1); ``rounded`` (0, 1, 1, 0);
        ``history``.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = Network([2, 3, 1], output_activation="sigmoid", loss="cross_entropy", init="xavier", seed=seed, backend=backend)
    history = net.fit(X, y, epochs=epochs, lr=lr)
    outputs = net.forward(X).ravel()
    out("Results:")
    for x, h in zip(X, outputs):
        out(f"  {int(x[0])} xor {int(x[1])} -> {h:.6f}")
    out(f"Rounded: {np.round(outputs).astype(int).tolist()}   expected: {y.astype(int).tolist()}")
    if plot:
        plots.cost_curve(history, plot, ylabel=plots.cost_label("cross_entropy"), title=f"XOR 2-3-1, lr {lr}: outputs {np.round(outputs, 3).tolist()}")
        out(f"figure: {plot}")
    return {"outputs": outputs, "rounded": np.round(outputs), "history": history}
