"""The tutorial's digits network: 64-30-10, sigmoid, squared error, 3000 full-batch iterations."""

from .. import plots
from ..datasets import load_digits
from ..encoding import one_hot
from ..network import Network
from ..recipes import recipe


def run(backend="numpy", epochs=None, seed=0, plot=None, out=print, callback=None):
    """Train with the tutorial's settings and report the test accuracy (about 87 % at seed 0).

    ``callback(epoch, cost)`` is called after every iteration (the command line's progress bar).

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
    history = net.fit(data.X_train, one_hot(data.y_train, 10), epochs=epochs, lr=lr, callback=callback)
    accuracy = net.score(data.X_test, data.y_test)
    out(f"final cost: {history[-1]:.6f}   prediction accuracy: {100 * accuracy:.2f}%")
    if plot:
        plots.cost_curve(history, plot, ylabel=plots.cost_label(net.loss), title=f"digits 64-30-10 (tutorial): test accuracy {100 * accuracy:.1f}%")
        out(f"figure: {plot}")
    return {"accuracy": accuracy, "history": history}
