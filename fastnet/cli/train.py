"""``fastnet train``: train on digits or a CSV/.npz file; report, plot, save.

Under an MPI launcher (``mpiexec -n N fastnet train ...``) every process is one rank of
a data-parallel run (:mod:`fastnet.data_parallel`): each reads the data, trains on its
share of the training rows, and rank 0 alone prints, shows progress and writes files.
"""

import contextlib
import os
import sys
import time
import warnings

import numpy

from ..backends.reference import BackendMemoryError
from ..checkpoint import SettingChanged
from ..data_parallel import abort_run, launched_world, together, use_local_gpu_for
from ..datasets import load_digits, scaler_stats, split_in_place
from ..encoding import one_hot
from ..heap import release_freed_memory
from ..network import Network
from ..training import CostRoseWarning
from . import raise_noted_interrupt
from ..optimizers import OPTIMIZERS, SGD_BATCH_SIZE
from ..recipes import RECIPES
from .progress import ProgressBar
from .train_checks import check_train_options, checkpoint_epoch

# The command line's words for a checkpoint's fit settings (SettingChanged.key).
_FLAGS_OF = {"data_crc": "training rows (--data, --drop, --seed, --test-size, --no-scale)",
             "n_samples": "training rows (--data, --seed, --test-size)", "lr": "--lr", "batch_size": "--batch-size",
             "optimizer": "--optimizer", "optimizer_settings": "optimizer settings", "shuffle": "shuffling",
             "alpha": "L2 penalty (alpha)"}
MAX_CLASSES = 100
MIN_ROWS = 4  # data rows a --data file needs: some to train on and some to test  # more distinct numeric targets than this looks like regression


def _layers(text):
    parts = text.replace(",", "-").split("-")
    try:
        sizes = [int(s) for s in parts]
    except ValueError:
        sizes = []
    if not sizes:
        import argparse

        raise argparse.ArgumentTypeError(f"layers look like 64-30-10 (sizes joined by single dashes), got {text!r}")
    return sizes


def add_parser(sub):
    p = sub.add_parser("train", help="train a network (scikit-learn's digits by default)",
                       description="Train a network and print backend, time, final cost and accuracies.")
    p.add_argument("--data", help="CSV with a header row, or .npz with arrays X and y (default: digits)")
    p.add_argument("--target", help="CSV column holding the labels (default: the last column)")
    p.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                   help="leave this column of the --data file out of the features (an id, a name); repeat for more. "
                        "A saved model records its feature columns, so predict leaves it out too")
    p.add_argument("--encoding", help="the --data file's text encoding (default utf-8), e.g. latin-1")
    p.add_argument("--no-header", action="store_true",
                   help="the --data file has no header row: its columns are named 1, 2, ... and the last is the target")
    p.add_argument("--test-size", type=float, default=0.25, help="share held out for testing with --data (default 0.25; digits: 0.4)")
    p.add_argument("--no-scale", action="store_true", help="do not standardise the features (default: standardise with training-row statistics)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="softmax",
                   help="settings to start from (default: softmax; 'tutorial' is the tutorial's sigmoid + MSE)")
    p.add_argument("--layers", type=_layers, help="hidden sizes included, e.g. 64-30-10 (default: features-30-classes)")
    p.add_argument("--activation", help="hidden activation: sigmoid, tanh, relu, identity (default: from the recipe)")
    p.add_argument("--output-activation", help="output activation (default: from the recipe)")
    p.add_argument("--loss", help="mse or cross_entropy (default: from the recipe)")
    p.add_argument("--init", help="uniform, xavier or he (default: from the recipe)")
    p.add_argument("--optimizer", default="gd", help=f"{', '.join(OPTIMIZERS)} (default gd: full-batch gradient descent)")
    p.add_argument("--backend", help="auto (the GPU if there is one, else fused where Numba is installed, else numpy), "
                   "python, numba, numpy, fused (numpy + numba kernels, fastest on a CPU), cupy "
                   "(default: $FASTNET_BACKEND, else auto)")
    p.add_argument("--dtype", default="float64", help="float64 or float32")
    p.add_argument("--epochs", type=int, help="default: from the recipe (3000); with --resume, the total to reach")
    p.add_argument("--lr", type=float, help="learning rate (default: from the recipe)")
    p.add_argument("--batch-size", type=int, help="default: full batch (sgd: 32)")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, shuffling and the split (default 0)")
    p.add_argument("--save", metavar="MODEL", help="write the trained model (.npz) here")
    p.add_argument("--plot", metavar="PNG", help="draw the cost curve, test accuracy in the title (needs matplotlib: "
                   "pip install 'fastnet-trainer[plot]'; .png is added when PNG has no suffix)")
    p.add_argument("--checkpoint", metavar="PATH", help="write a checkpoint here every --checkpoint-every epochs and at the end")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="with --checkpoint: write it every N epochs as well as at the end and on Ctrl-C")
    p.add_argument("--resume", metavar="PATH", help="continue from a checkpoint (same data and settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _dataset(args):
    """Returns X_train, X_test, y_train, y_test (raw labels), a description, and scaler stats or None."""
    if args.data is None:
        split = load_digits(scale=False)
        name = "digits"
    else:
        from ..data_files import load_table

        features = _features_kept(args) if args.drop else None
        X, y = load_table(args.data, args.target, features=features, options=table_options(args))
        values, counts = numpy.unique(y, return_counts=True)
        if y.dtype.kind == "f" or len(values) > MAX_CLASSES:
            raise ValueError(f"the target has {len(values)} distinct values and looks continuous: fastnet train "
                             "classifies; for regression use fastnet.FastNetRegressor from Python")
        if len(values) < 2:
            raise ValueError(f"the target has a single class ({values[0].item()!r}); nothing to learn")
        if len(y) < MIN_ROWS:
            raise ValueError(f"{args.data!r} has {len(y)} data row(s): too few to train on and to test (fastnet train "
                             f"needs at least {MIN_ROWS}, a share --test-size {args.test_size:g} of them held out)")
        try:  # stratified: each class holds out its share; both sides are views of X
            split = split_in_place(X, y, args.test_size, args.seed, stratify=y)
        except ValueError as exc:
            raise ValueError(f"--test-size {args.test_size:g}: {exc}") from None
        name = args.data
    X_train, X_test, y_train, y_test = split
    stats = None if args.no_scale else scaler_stats(X_train)
    if stats is not None:
        X_train, X_test = _standardised(X_train, stats, in_place=args.data is not None), \
            _standardised(X_test, stats, in_place=args.data is not None)
    release_freed_memory()  # the reader's freed buffers, before the backend's kernels load beside the data
    return X_train, X_test, y_train, y_test, name, stats


def _standardised(X, stats, in_place):
    """(X - mean) / std; in place for the split of a data file, which no one else holds (no second copy of a big file)."""
    if not in_place:
        return (X - stats[0]) / stats[1]
    X -= stats[0]
    X /= stats[1]
    return X


def table_options(args):
    """How to read the data file, from --encoding and --no-header."""
    from ..data_files import TableOptions

    return TableOptions(encoding=args.encoding, header=not args.no_header)


def _features_kept(args):
    """The --data file's feature columns, in order, less the target and the --drop columns; each --drop checked."""
    import difflib

    from ..data_files import csv_columns, load_table

    if args.data.endswith(".npz"):
        raise ValueError(f"--drop names columns of a table; {args.data!r} is an .npz file, whose X has no column names")
    columns = csv_columns(args.data, table_options(args))
    if columns is None:  # unreadable: the reader says why
        load_table(args.data, args.target, options=table_options(args))
        raise ValueError(f"--drop: {args.data!r} has no header row to find columns in")
    target, features = _target_and_features(args, columns)
    for name in args.drop:
        if name == target:
            raise ValueError(f"--drop {name!r} is the target column, the labels; to train on another column's "
                             "labels, name it with --target")
        if name not in columns:
            lower = {c.lower(): c for c in columns}  # 'ID' for 'id' is the likeliest slip
            close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)]
            raise ValueError(f"--drop {name!r}: {args.data!r} has no such column"
                             f"{f' (closest: {close[0]!r})' if close else ''}; columns: {', '.join(columns)}")
    if not features:
        raise ValueError(f"--drop leaves {args.data!r} no feature columns besides the target {target!r}")
    return features


def _column_names(args):
    """The CSV's target and feature column names, so that ``predict`` can pick the features by name."""
    from ..data_files import csv_columns

    columns = csv_columns(args.data, table_options(args)) if args.data is not None else None
    if not columns:
        return {"target": args.target}
    target, features = _target_and_features(args, columns)
    return {"target": target, "features": features}


def _target_and_features(args, columns):
    """The target column (--target, else the last) and the feature columns of ``columns``: the rest, less --drop."""
    target = args.target or columns[-1]
    return target, [c for c in columns if c != target and c not in args.drop]


def _save(net, args, classes, stats):
    arrays = {"classes": classes.astype(str) if classes.dtype == object else classes}
    if stats is not None:
        arrays.update(scaler_mean=stats[0], scaler_std=stats[1])
    net.save(args.save, extra_meta=_column_names(args), extra_arrays=arrays)
    print(f"saved: {args.save}")


def _compile_once(net, X, Y, plan, args):
    """Seconds spent compiling the backend's kernels: one update of a throwaway twin network.

    Numba and CUDA compile a kernel on its first call (then cache it on disk), so
    the first update of a fresh install can take seconds. Doing that here keeps it
    out of the training time the command reports. One batch of the real batch size
    takes the same kernels as training, without a whole extra epoch on big data.
    """
    if not net.ops.compiles_kernels:
        return 0.0
    batch = args.batch_size or (SGD_BATCH_SIZE if args.optimizer == "sgd" else None)
    rows = slice(None) if batch is None else slice(0, batch)
    twin = Network(net.layers, backend=net.ops, dtype=net.dtype, seed=args.seed, **plan.settings)
    start = time.perf_counter()
    net.ops.warm_up(lambda: twin.fit(X[rows], Y[rows], epochs=1, lr=plan.lr, batch_size=batch, optimizer=args.optimizer))
    return time.perf_counter() - start


def _did_not_learn(history, train_acc, y_train):
    """Why training clearly failed, or None: the cost did not fall, or no better than guessing."""
    if len(history) < 2:
        return None
    if not history[-1] < 0.95 * history[0]:
        return f"the cost did not fall (from {history[0]:.6g} to {history[-1]:.6g})"
    majority = numpy.unique(y_train, return_counts=True)[1].max() / len(y_train)
    if train_acc <= majority + 0.01:
        return (f"train accuracy {train_acc:.4f} is no better than always answering the most common class "
                f"({majority:.4f})")
    return None


def _out_of_memory(exc):
    """A BackendMemoryError told in the command line's words."""
    return MemoryError(f"out of memory on backend {exc.backend!r} with arrays of shape {exc.shape} "
                       f"({exc.nbytes / 2**20:,.1f} MiB): try a smaller --batch-size, --dtype float32, or smaller "
                       "--layers")


def run(args):
    comm = launched_world()  # several processes under mpiexec: train data-parallel
    if comm is None:
        return _train(args, *_prepare(args))
    speaks = comm.Get_rank() == 0
    use_local_gpu_for(args.backend)  # each rank its own GPU, before anything touches one
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(sys.stdout if speaks else quiet):
        args.quiet = args.quiet or not speaks
        try:
            # An error on one rank alone (a file missing on its machine) is an error on every rank, not a hang.
            prepared = together(comm, _prepare, args, errors=(ValueError, RuntimeError, OSError, MemoryError))
        except (ValueError, RuntimeError, OSError, MemoryError):
            if speaks:
                raise
            return 2  # rank 0 says it, naming the rank that failed
        try:
            return _train(args, *prepared, comm=comm)
        except (ValueError, FloatingPointError):  # the same on every rank: the ranks agreed, and diverge together
            if speaks:
                raise
            return 2
        except BaseException as exc:  # noqa: BLE001 - one rank alone: the others would wait for it forever
            abort_run(comm, exc)
            raise


def _prepare(args):
    """Options, data and network: (plan, the split, classes, network, one-hot training targets)."""
    plan = check_train_options(args)  # every option, output path and dependency, before any output
    X_train, X_test, y_train, y_test, name, stats = _dataset(args)
    classes = numpy.unique(numpy.concatenate([y_train, y_test]))
    layers = args.layers or [X_train.shape[1], 30, len(classes)]
    try:
        net = Network(layers, backend=args.backend, dtype=args.dtype, seed=args.seed, **plan.settings)
    except BackendMemoryError as exc:
        raise _out_of_memory(exc) from None
    except MemoryError as exc:  # NumPy's, drawing the initial weights on the host
        raise MemoryError(f"out of memory building the network {'-'.join(map(str, layers))} ({exc}): try smaller "
                          "--layers") from None
    if net.layers[0] != X_train.shape[1] or net.layers[-1] != len(classes):
        raise ValueError(f"--layers {'-'.join(map(str, layers))} must start with the {X_train.shape[1]} features "
                         f"and end with the {len(classes)} classes of {name}")
    Y_train = one_hot(numpy.searchsorted(classes, y_train), len(classes))
    return plan, (X_train, X_test, y_train, y_test, name, stats), classes, net, Y_train


def _train(args, plan, split, classes, net, Y_train, comm=None):
    X_train, X_test, y_train, y_test, name, stats = split
    settings = plan.settings
    rows = slice(None)  # the training rows this process trains on
    if comm is not None:
        rank, size = comm.Get_rank(), comm.Get_size()
        rows = numpy.array_split(numpy.arange(len(y_train)), size)[rank]
    print(f"backend: {net.backend}   network: {'-'.join(map(str, net.layers))} {settings['activation']}/"
          f"{settings['output_activation']}, {settings['loss']}, {args.optimizer}, {net.dtype.name}")
    print(f"data: {name}, {len(y_train)} training and {len(y_test)} test samples, {len(classes)} classes")
    if comm is not None:
        fewest, most = len(y_train) // size, -(-len(y_train) // size)
        each = f"{fewest}" if fewest == most else f"{fewest}-{most}"
        print(f"data-parallel: {size} processes (MPI), {each} training rows each; rank 0 reports and writes files")
    if args.resume:
        print(f"resuming: {args.resume} at epoch {plan.resume_epoch}, on to epoch {plan.epochs}")
    try:
        compile_s = _compile_once(net, X_train[rows], Y_train[rows], plan, args)
        raise_noted_interrupt()  # a Ctrl-C that Numba's compiler swallowed stops here, not after training
        if compile_s >= 0.5:
            print(f"compiling kernels, once: {compile_s:.1f} s (cached on disk for later runs)")
        start = time.perf_counter()
        # The command says it in its own words when training did not learn (see _did_not_learn).
        with ProgressBar(plan.epochs, quiet=args.quiet, initial=plan.resume_epoch) as bar, warnings.catch_warnings():
            warnings.simplefilter("ignore", CostRoseWarning)
            net.fit(X_train[rows], Y_train[rows], epochs=plan.epochs, lr=plan.lr, batch_size=args.batch_size,
                    optimizer=args.optimizer, callback=bar if bar.enabled else None, checkpoint=args.checkpoint,
                    checkpoint_every=args.checkpoint_every, resume=args.resume, comm=comm)
    except KeyboardInterrupt:
        if comm is not None and comm.Get_rank() != 0:
            return 130  # rank 0 says it and writes the files
        print(f"\ninterrupted after {len(net.history)} epochs; the network keeps its last completed update",
              file=sys.stderr)
        if args.save:
            _save(net, args, classes, stats)
        if args.checkpoint and os.path.isfile(args.checkpoint):
            print(f"checkpoint: {args.checkpoint} at epoch {checkpoint_epoch(args.checkpoint)}; continue with "
                  f"--resume {args.checkpoint}", file=sys.stderr)
        return 130
    except BackendMemoryError as exc:
        raise _out_of_memory(exc) from None
    except SettingChanged as exc:
        raise ValueError(f"--resume {args.resume}: the checkpoint was written with other {_FLAGS_OF.get(exc.key, exc.key)} "
                         "than this run's; give the ones it was written with, or start afresh without --resume") from None
    elapsed = time.perf_counter() - start
    history = net.history
    train_acc = float(numpy.mean(classes[net.predict(X_train)] == y_train))
    test_acc = float(numpy.mean(classes[net.predict(X_test)] == y_test))
    print(f"time: {elapsed:.3f} s   epochs: {len(history)}   final cost: {history[-1]:.6f}")
    print(f"train accuracy: {train_acc:.4f}   test accuracy: {test_acc:.4f}")
    if comm is not None and comm.Get_rank() != 0:
        return 0  # the same weights as rank 0, which reports and writes the files
    failure = _did_not_learn(history, train_acc, y_train)
    if failure:
        print(f"warning: training did not learn: {failure}; try a smaller --lr, more --epochs"
              f"{', or drop --no-scale' if args.no_scale else ''}", file=sys.stderr)
    if args.save:  # before the plot, which is optional and could still fail
        _save(net, args, classes, stats)
    if plan.plot:
        from .. import plots

        plots.cost_curve(history, plan.plot, ylabel=plots.cost_label(settings["loss"]),
                         title=f"{name}: {'-'.join(map(str, net.layers))}, {args.optimizer}, "
                               f"lr {plan.lr:g} - test accuracy {100 * test_acc:.2f}%")
        print(f"plot: {plan.plot}")
    return 0
