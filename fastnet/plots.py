"""Figures: the cost curve of a training run and the tutorials' cost surfaces (PNG files).

matplotlib is optional (``pip install "fastnet-trainer[plot]"``); it is imported only here,
with the non-interactive Agg backend, so plotting works on machines with no display.
"""


def pyplot():
    """matplotlib.pyplot on the Agg backend; RuntimeError naming the extra to install when it is missing."""
    try:
        import matplotlib
    except ImportError:
        from .install_hint import install_hint

        raise RuntimeError(f"plotting (--plot) needs matplotlib: {install_hint('plot')}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


LOSS_NAMES = {"mse": "mean squared error / 2", "cross_entropy": "mean cross-entropy"}


def cost_label(loss):
    """The y-axis label of a cost curve: the loss by name."""
    return f"cost ({LOSS_NAMES.get(loss, loss)})"


def cost_curve(history, path, title="", ylabel="cost"):
    """Save the cost per epoch as a line plot (log scale when it spans two decades)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.plot(range(1, len(history) + 1), history, color="tab:blue", linewidth=1.5)
    positive = [c for c in history if c > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    return _finish(plt, fig, ax, title, path)


def _finish(plt, fig, ax, title, path):
    """Title, grid, tight layout, save and close: the end of every 2-D figure."""
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def surfaces(panels, path):
    """Save 3-D surfaces side by side; ``panels`` is a list of (title, T1, T2, Z) grids."""
    plt = pyplot()
    fig = plt.figure(figsize=(5.0 * len(panels), 4.2), dpi=100)
    for i, (title, T1, T2, Z) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i, projection="3d")
        ax.plot_surface(T1, T2, Z, cmap="viridis", linewidth=0, antialiased=True)
        ax.set_xlabel("weight 1 (input)")
        ax.set_ylabel("weight 2 (bias)")
        ax.set_zlabel("cost")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def function_curve(x, y, marks, path, title="", xlabel="x", ylabel="f(x)"):
    """Save y(x) with the points in ``marks`` (x values) highlighted."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.plot(x, y, color="tab:blue")
    ax.scatter(marks[0], marks[1], color="tab:red", s=12, zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _finish(plt, fig, ax, title, path)
