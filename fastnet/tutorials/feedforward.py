"""The worked feed-forward example: a 3-3-1 sigmoid network with hand-picked weights."""

import numpy as np

from ..network import Network

W1 = np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]])
B1 = np.array([0.8, 0.8, 0.8])
W2 = np.array([[0.5, 0.5, 0.5]])
B2 = np.array([0.2])
X = np.array([1.5, 2.0, 3.0])


def run(backend="numpy", plot=None, out=print):
    """Feed x = (1.5, 2.0, 3.0) forward.

    Returns
    -------
    dict
        ``hidden`` (0.8909, 0.9677, 0.9909) and ``output`` (0.8354557).
    """
    net = Network([3, 3, 1], backend=backend)
    net.set_params([W1, W2], [B1, B2])
    hidden_net = Network([3, 3], backend=backend)
    hidden_net.set_params([W1], [B1])
    hidden = np.asarray(net.ops.to_numpy(hidden_net.forward(X)))
    output = float(np.asarray(net.ops.to_numpy(net.forward(X)))[0])
    out(f"hidden layer: {np.round(hidden, 4).tolist()}")
    out(f"output: {output:.7f}")
    return {"hidden": hidden, "output": output}
