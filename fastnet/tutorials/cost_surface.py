"""Why cross-entropy: the cost of the two-weight NOT network over a grid of weights.

Output h = sigmoid(w1 * x + w2) on x = (0, 1) with targets (1, 0). Under the
mean squared error the surface has wide flat shelves where the gradient
vanishes (training started there stalls); under cross-entropy it slopes
everywhere toward the valley.
"""

import numpy as np

from .. import plots

X = np.array([0.0, 1.0])
Y = np.array([1.0, 0.0])


def grids(limit=15.0, n=201):
    """Weight grids and both costs: (W1, W2, mse, cross_entropy), each (n, n)."""
    w = np.linspace(-limit, limit, n)
    W1, W2 = np.meshgrid(w, w, indexing="ij")
    Z = W1[..., None] * X + W2[..., None]  # (n, n, 2): both samples at every grid point
    H = 1.0 / (1.0 + np.exp(-Z))
    mse = np.mean((H - Y) ** 2, axis=-1)
    # -y log h - (1 - y) log(1 - h), written with log-sigmoid so it stays finite at |z| = 15.
    log_h, log_1mh = -np.logaddexp(0.0, -Z), -np.logaddexp(0.0, Z)
    ce = np.sum(-Y * log_h - (1 - Y) * log_1mh, axis=-1)
    return W1, W2, mse, ce


def flat_fraction(cost, spacing, threshold=1e-3):
    """Share of grid points where the gradient's size is below ``threshold``."""
    g1, g2 = np.gradient(cost, spacing)
    return float(np.mean(np.hypot(g1, g2) < threshold))


def run(limit=15.0, n=201, plot=None, out=print):
    """Compute both surfaces; report how flat each is and where its minimum lies.

    Returns
    -------
    dict
        ``flat_mse`` and ``flat_cross_entropy`` (share of the grid with gradient
        below 1e-3), ``min_mse`` and ``min_cross_entropy`` ((w1, w2) of the lowest
        point), and the grids.
    """
    W1, W2, mse, ce = grids(limit, n)
    spacing = 2 * limit / (n - 1)
    result = {"W1": W1, "W2": W2, "mse": mse, "cross_entropy": ce}
    for name, cost in (("mse", mse), ("cross_entropy", ce)):
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        result[f"flat_{name}"] = flat_fraction(cost, spacing)
        result[f"min_{name}"] = (float(W1[i, j]), float(W2[i, j]))
        out(f"{name:13s}: cost in [{cost.min():.4g}, {cost.max():.4g}], flat (|grad| < 1e-3) on "
            f"{100 * result[f'flat_{name}']:.1f}% of the grid, lowest at w = {result[f'min_{name}']}")
    if plot:
        plots.surfaces([("mean squared error", W1, W2, mse), ("cross-entropy", W1, W2, ce)], plot)
        out(f"figure: {plot}")
    return result
