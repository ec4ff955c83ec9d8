"""``fastnet predict MODEL FILE``: labels for every row of FILE, one per line."""

import sys

import numpy

from ..data_files import load_table
from ..model_file import read_archive
from ..network import network_from_archive


def add_parser(sub):
    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Write one prediction per row of FILE (CSV with a header, or .npz with X).")
    p.add_argument("model", metavar="MODEL", help="a model saved by fastnet train --save (or Network.save)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", help="a CSV column to leave out (e.g. the labels of a test file)")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument("--backend", default="numpy")


def run(args):
    meta, arrays = read_archive(args.model)
    net = network_from_archive(args.model, meta, arrays, args.backend)
    X, _ = load_table(args.file, args.target, require_target=False)
    if X.shape[1] != net.layers[0]:
        raise ValueError(f"{args.file!r} has {X.shape[1]} feature columns but the model expects {net.layers[0]}"
                         + ("; pass --target to drop the label column" if X.shape[1] == net.layers[0] + 1 else ""))
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
