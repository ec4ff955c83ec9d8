"""``fastnet export MODEL OUT.onnx``: a saved model as a standard ONNX model."""

from ..model_file import read_archive
from ..network import network_from_archive
from .output_paths import refuse_overwrites, writable_file


def add_parser(sub):
    p = sub.add_parser("export", help="write a saved model as ONNX",
                       description="Write MODEL (from fastnet train --save) as an ONNX model that takes the raw "
                                   "feature columns (the training scaler is inside the graph) and gives the "
                                   "probabilities (or the last layer's outputs) and the predicted label. Needs "
                                   "the onnx package: pip install '.[onnx]' in a clone.")
    p.add_argument("model", metavar="MODEL", help="a model saved by fastnet train --save (or Network.save)")
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")


def run(args):
    writable_file("OUT.onnx", args.output)  # before anything is read
    refuse_overwrites([("OUT.onnx", args.output)], [("MODEL", args.model)])
    from ..onnx_export import model_of_archive, write_model

    meta, arrays = read_archive(args.model)
    net = network_from_archive(args.model, meta, arrays, "numpy")
    model = model_of_archive(net, arrays)
    write_model(model, args.output)
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"exported: {args.output} (input X: {net.layers[0]} features, raw; outputs: {outputs})")
    return 0
