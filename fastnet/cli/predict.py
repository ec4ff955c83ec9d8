"""``fastnet predict MODEL FILE``: labels for every row of FILE, one per line."""

import sys

import numpy

from ..data_files import csv_columns, load_table
from ..model_file import read_archive
from ..network import network_from_archive


def add_parser(sub):
    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Write one prediction per row of FILE (CSV with a header, or .npz with X).")
    p.add_argument("model", metavar="MODEL", help="a model saved by fastnet train --save (or Network.save)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", help="a CSV column to leave out (e.g. the labels of a test file); not needed when "
                   "the CSV has the columns the model was trained on, which are then picked by name")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument("--backend", default="numpy")


def run(args):
    meta, arrays = read_archive(args.model)
    net = network_from_archive(args.model, meta, arrays, args.backend)
    X = _features(args, meta, net.layers[0])
    if "scaler_mean" in arrays:
        X = (X - arrays["scaler_mean"]) / arrays["scaler_std"]
    index = numpy.asarray(net.ops.to_numpy(net.predict(X)))
    classes = arrays.get("classes")
    labels = classes[index] if classes is not None and len(classes) == net.layers[-1] else index
    text = "prediction\n" + "".join(f"{label}\n" for label in labels)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        print(f"wrote {len(labels)} predictions to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _features(args, meta, n_inputs):
    """The feature matrix of FILE: by the model's column names when FILE has them all, else by position."""
    trained_on = meta.get("features")
    if not (isinstance(trained_on, list) and all(isinstance(c, str) for c in trained_on)):
        trained_on = None  # a model saved from Python, or by an older fastnet: by position only
    columns = csv_columns(args.file)
    if args.target is None and trained_on and columns and set(trained_on) <= set(columns):
        left_out = [c for c in columns if c not in trained_on]
        if left_out:
            print(f"left out columns the model was not trained on: {', '.join(left_out)}", file=sys.stderr)
        X, _ = load_table(args.file, require_target=False, features=trained_on)
        return X
    X, _ = load_table(args.file, args.target, require_target=False)
    if X.shape[1] != n_inputs:
        hint = "; pass --target to drop the label column" if X.shape[1] == n_inputs + 1 else ""
        if trained_on:
            hint += f"; the model was trained on the columns {', '.join(trained_on)}"
        raise ValueError(f"{args.file!r} has {X.shape[1]} feature columns but the model expects {n_inputs}{hint}")
    return X
