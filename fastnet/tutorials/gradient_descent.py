"""Gradient descent on one variable: f(x) = x^4 - 3x^3 + 2, whose minimum is at x = 9/4."""

import numpy as np

from .. import plots


def f(x):
    return x**4 - 3 * x**3 + 2


def f_prime(x):
    return 4 * x**3 - 9 * x**2


def run(start=4.0, step=0.01, precision=1e-5, plot=None, out=print):
    """Step ``x -= step * f'(x)`` from ``start`` until x moves less than ``precision``.

    Returns
    -------
    dict
        ``minimum`` (2.2500325... from x = 4), ``steps``, ``path`` (every x visited).
    """
    path = [start]
    x_old, x_new = start + 2 * precision + 1.0, start  # anything farther than precision
    while abs(x_new - x_old) > precision:
        x_old = x_new
        x_new = x_old - step * f_prime(x_old)
        path.append(x_new)
    out(f"Local minimum occurs at {x_new!r} (exact: 9/4 = 2.25), after {len(path) - 1} steps")
    if plot:
        xs = np.linspace(-2, 4, 400)
        plots.function_curve(xs, f(xs), (path, [f(p) for p in path]), plot, xlabel="x", ylabel="f(x) = x^4 - 3x^3 + 2",
                             title=f"f(x) = x^4 - 3x^3 + 2: gradient descent from x = {start:g} to {x_new:.5f}")
        out(f"figure: {plot}")
    return {"minimum": x_new, "steps": len(path) - 1, "path": path}
