"""``fastnet predict MODEL FILE``: a label (and, with --proba, probabilities) for every row of FILE."""

import csv
import difflib
import io
import itertools
import os
import sys

import numpy

from ..backends import ENV_VAR, get_backend
from ..data_files import csv_columns, load_table, read_column
from ..heap import release_freed_memory
from ..model_file import read_archive
from ..network import network_from_archive
from .output_paths import refuse_overwrites, writable_file
from .train import table_options


def add_parser(sub):
    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Write one prediction per row of FILE (CSV with a header, or .npz with X) as CSV. "
                                   "When the model knows its column names, FILE's columns are picked by name, in "
                                   "any order, and every trained column must be there.")
    p.add_argument("model", metavar="MODEL", help="a model saved by fastnet train --save (or Network.save)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", help="a CSV column to leave out (e.g. the labels of a test file), for models without "
                   "column names; models with names ignore columns they were not trained on")
    p.add_argument("--by-position", action="store_true",
                   help="take FILE's columns in order, ignoring the model's column names")
    p.add_argument("--proba", action="store_true",
                   help="add one column per class: the model's probability of it (models with a softmax "
                        "output layer, or one sigmoid output for two classes)")
    p.add_argument("--keep", metavar="COLUMN", action="append", default=[],
                   help="copy this CSV column (an id, say) into the output, before the prediction; repeatable")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument("--encoding", help="FILE's text encoding (default utf-8), e.g. latin-1")
    p.add_argument("--no-header", action="store_true", help="FILE has no header row: its columns are taken in order")
    p.add_argument("--backend", help="numpy, fused, numba, python or cupy (default: $FASTNET_BACKEND, else numpy)")


def run(args):
    from_environment = args.backend is None and bool(os.environ.get(ENV_VAR, "").strip())
    if args.backend is None:  # the environment's choice, as train honours it; numpy reads one file fastest
        args.backend = os.environ.get(ENV_VAR, "").strip() or "numpy"
    try:
        get_backend(args.backend)  # a bad backend is the option's fault, not the model file's
    except ValueError as exc:
        if from_environment:
            raise ValueError(f"{ENV_VAR}={args.backend!r} (from the environment): {exc}") from None
        raise
    if args.output is not None:  # before anything is read: a bad -o must not cost a model load
        writable_file("--output", args.output)
        refuse_overwrites([("--output", args.output)], [("MODEL", args.model), ("FILE", args.file)])
    meta, arrays = read_archive(args.model)
    net = network_from_archive(args.model, meta, arrays, args.backend)
    classes = arrays.get("classes")
    binary = net.output_activation == "sigmoid" and net.layers[-1] == 1 and classes is not None and len(classes) == 2
    if args.proba and net.output_activation != "softmax" and not binary:
        raise ValueError(
            f"--proba needs a model whose outputs are probabilities (a softmax output layer, whose rows sum to 1); "
            f"{args.model!r} ends in {net.layers[-1]} {net.output_activation} output(s) trained with "
            f"{net.loss}, which score each class on its own and do not sum to 1. Train it with --recipe softmax "
            f"(or --output-activation softmax --loss cross_entropy) for probabilities")
    kept = [read_column(args.file, name, "--keep", table_options(args)) for name in args.keep]
    X = _features(args, meta, net.layers[0])
    if "scaler_mean" in arrays:  # in place: X is this command's own, and a big file's matrix is not held twice
        X -= arrays["scaler_mean"]
        X /= arrays["scaler_std"]
    release_freed_memory()  # the reader's freed buffers
    outputs = numpy.asarray(net.ops.to_numpy(net.forward(X)))
    if binary:  # one sigmoid: P(classes[1]); the two columns, as the estimators give them
        outputs = numpy.hstack([1.0 - outputs, outputs])
    index = outputs.argmax(axis=1)
    named = classes is not None and len(classes) == outputs.shape[1]
    labels = classes[index] if named else index
    header = list(args.keep) + ["prediction"]
    columns = kept + [labels]
    if args.proba:
        header += [f"proba_{c}" for c in (classes if named else range(outputs.shape[1]))]
        columns += [outputs[:, j] for j in range(outputs.shape[1])]
    _write(args.output, header, columns)
    if args.output:
        print(f"wrote {len(labels)} predictions to {args.output}", file=sys.stderr)
    return 0


# Rows formatted before each write: stdout is line-buffered by the console script
# (fastnet.cli.entry), and one write a row took 150,000 rows 0.39-0.45 s, against 0.20-0.24.
STDOUT_ROWS = 10_000


def _write(path, header, columns):
    out = open(path, "w", newline="") if path else sys.stdout
    try:
        rows = zip(*columns)
        block = io.StringIO()
        writer = csv.writer(block, lineterminator="\n")
        writer.writerow(header)
        while True:
            writer.writerows(itertools.islice(rows, STDOUT_ROWS))
            if not block.tell():
                return
            out.write(block.getvalue())
            block.seek(0)
            block.truncate()
    finally:
        if path:
            out.close()


def _features(args, meta, n_inputs):
    """FILE's feature matrix: by the model's column names when it has them, else (or if asked) by position."""
    trained_on = meta.get("features")
    if not (isinstance(trained_on, list) and all(isinstance(c, str) for c in trained_on)):
        trained_on = None  # a model saved from Python, or by an older fastnet: by position only
    columns = None if args.no_header else csv_columns(args.file, table_options(args))
    if trained_on and columns and not args.by_position:
        missing = [c for c in trained_on if c not in columns]
        if missing:
            raise ValueError(_missing_columns(args.file, missing, columns))
        left_out = [c for c in columns if c not in trained_on and c not in args.keep]
        if left_out:
            print(f"left out columns the model was not trained on: {', '.join(left_out)}", file=sys.stderr)
        X, _ = load_table(args.file, require_target=False, features=trained_on, options=table_options(args))
        return X
    if columns is not None:  # by position: the column count says a wrong file before any value is read
        given = [c for c in columns if c != args.target]
        if len(given) not in (n_inputs, n_inputs + 1):
            shown = ", ".join(given[:6]) + (", ..." if len(given) > 6 else "")
            raise ValueError(f"the model expects {n_inputs} features, and {args.file!r} has {len(given)} columns "
                             f"({shown}); give it a file of the features it was trained on")
    X, _ = load_table(args.file, args.target, require_target=False, options=table_options(args))
    if X.shape[1] != n_inputs:
        hint = "; pass --target to drop the label column" if X.shape[1] == n_inputs + 1 else ""
        if trained_on:
            hint += f"; the model was trained on the columns {', '.join(trained_on)}"
        raise ValueError(f"{args.file!r} has {X.shape[1]} feature columns but the model expects {n_inputs}{hint}")
    return X


def _missing_columns(path, missing, columns):
    close = {name: difflib.get_close_matches(name, columns, n=1, cutoff=0.6) for name in missing}
    said = ", ".join(f"{name!r}" + (f" (closest: {close[name][0]!r})" if close[name] else "") for name in missing)
    return (f"{path!r} lacks the column{'s' if len(missing) > 1 else ''} the model was trained on: {said}; its "
            f"columns are {', '.join(columns)}. Rename them to match, or pass --by-position to take the columns "
            "in order")
