"""The tutorial's digits network: 64-30-10, sigmoid, squared error, 3000 full-batch iterations."""

from .. import plots
from ..datasets import load_digits
from ..encoding import one_hot
from ..network import Network
from ..recipes import recipe


def run(backend="numpy", epochs=None, seed=0, plot=None, out=print):
    """Train with the tutorial's settings and report the test accuracy (about 87 % at seed 0).

    Returns
    -------
    dict
        ``accuracy`` (test), ``history`` (cost per iteration).
    """
    settings = recipe("tutorial")
    lr, default_epochs = settings.pop("lr"), settings.pop("epochs")
    epochs = epochs or default_epochs
    data = load_digits()
    net = Network([64, 30, 10], backend=backend, seed=seed, **settings)
    out(f"Training for {epochs} iterations on {len(data.y_train)} digits, lr {lr} ...")
    history = net.fit(data.X_train, one_hot(data.y_train, 10), epochs=epochs, lr=lr)
    accuracy = net.score(data.X_test, data.y_test)
    out(f"final cost: {history[-1]:.6f}   prediction accuracy: {100 * accuracy:.2f}%")
    if plot:
        plots.cost_curve(history, plot, title=f"digits 64-30-10 (tutorial): test accuracy {100 * accuracy:.1f}%")
        out(f"figure: {plot}")
    return {"accuracy": accuracy, "history": history}
