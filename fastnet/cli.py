"""The ``fastnet`` command line: ``fastnet train`` and ``fastnet info``."""

import argparse
import sys
import time

from .backends import BACKENDS, backend_status, get_backend
from .recipes import RECIPES, recipe


def _layers(text):
    try:
        return [int(s) for s in text.replace(",", "-").split("-") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"layers look like 64-30-10, got {text!r}") from None


def _parser():
    parser = argparse.ArgumentParser(prog="fastnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a network on scikit-learn's digits")
    train.add_argument("--recipe", choices=sorted(RECIPES), default="softmax",
                       help="settings to start from (default: softmax; 'tutorial' is the tutorial's sigmoid + MSE)")
    train.add_argument("--layers", type=_layers, default=None, help="hidden sizes included, e.g. 64-30-10 (default)")
    train.add_argument("--activation", default=None, help="hidden activation (default: from the recipe)")
    train.add_argument("--output-activation", default=None, help="output activation (default: from the recipe)")
    train.add_argument("--loss", default=None, help="mse or cross_entropy (default: from the recipe)")
    train.add_argument("--init", default=None, help="uniform, xavier or he (default: from the recipe)")
    train.add_argument("--backend", default=None, help="auto (default: the GPU if there is one), python, numba, numpy or cupy")
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--epochs", type=int, default=None, help="default: from the recipe (3000)")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: from the recipe)")
    train.add_argument("--batch-size", type=int, default=None, help="default: full batch")
    train.add_argument("--seed", type=int, default=0)

    sub.add_parser("info", help="list the backends and whether each can run here")
    return parser


def _train(args):
    from . import datasets
    from .encoding import one_hot
    from .network import Network

    settings = recipe(args.recipe)
    for key in ("activation", "output_activation", "loss", "init", "lr", "epochs"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    lr, epochs = settings.pop("lr"), settings.pop("epochs")
    data = datasets.load_digits()
    n_classes = 10
    layers = args.layers or [data.X_train.shape[1], 30, n_classes]
    net = Network(layers, backend=args.backend, dtype=args.dtype, seed=args.seed, **settings)
    print(f"backend: {net.backend}   network: {net}")
    print(f"training on {data.X_train.shape[0]} digits for {epochs} epochs, lr {lr} ...", flush=True)
    start = time.perf_counter()
    history = net.fit(data.X_train, one_hot(data.y_train, n_classes), epochs=epochs, lr=lr, batch_size=args.batch_size)
    elapsed = time.perf_counter() - start
    print(f"time: {elapsed:.3f} s   final cost: {history[-1]:.6f}")
    print(f"train accuracy: {net.score(data.X_train, data.y_train):.4f}   test accuracy: {net.score(data.X_test, data.y_test):.4f}")
    return 0


def _info(_args):
    for name in BACKENDS:
        ok, reason = backend_status(name)
        print(f"{name:7s} {'usable' if ok else 'unavailable: ' + reason}")
    print(f"auto    -> {get_backend('auto').name}")
    return 0


def main(argv=None):
    """Entry point of the ``fastnet`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return {"train": _train, "info": _info}[args.command](args)
    except (ValueError, RuntimeError) as exc:
        print(f"fastnet: error: {exc}", file=sys.stderr)
        return 2
