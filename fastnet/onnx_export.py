"""A trained network as a standard ONNX model, for any runtime (onnxruntime, ONNX-serving tools, browsers).

The graph is the forward pass and nothing else: an optional standardisation
(``(X - mean) / std``, the command line's scaler), then per layer ``Gemm`` (``h W^T + b``)
and the activation's own ONNX operator, then the head:

``outputs`` / ``probabilities``
    the last layer: named ``probabilities`` when its rows are a distribution (a
    softmax), ``outputs`` otherwise;
``label``
    for classifiers: the class of the largest output, as the class's own value
    (numbers, or strings for a CSV's text labels).

Only ``onnx`` is needed to write one (``pip install ".[onnx]"``); the tests read
them back with onnxruntime. The graph keeps the network's dtype: a float64 model takes
and gives doubles.
"""

import numpy

OPSET = 17  # Softmax with an axis of -1 along rows, Gemm, ArgMax with keepdims: every runtime of the last years

# Each activation's ONNX operator (None: the identity, nothing to add).
ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "identity": None, "softmax": "Softmax"}


def _onnx():
    try:
        import onnx
    except ImportError as exc:
        from .install_hint import install_hint

        raise ImportError(f"ONNX export needs the onnx package; install it with: {install_hint('onnx')}") from exc
    return onnx


def network_model(net, *, scaler=None, classes=None, head="outputs"):
    """The ONNX ``ModelProto`` of ``net``'s forward pass.

    Parameters
    ----------
    net : fastnet.Network
    scaler : (mean, std) arrays, optional
        Standardisation the model's inputs get first (raw features in).
    classes : array, optional
        The class of each output column (``head="classes"``), or of the two classes of
        a single sigmoid output (``head="binary"``).
    head : {"outputs", "classes", "binary", "multilabel"}
        What follows the last layer: nothing; an argmax into ``classes``; a single
        sigmoid made into two columns [1 - p, p] and its class; a 0/1 per label at 0.5.
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    dtype = numpy.dtype(net.dtype)
    elem = TensorProto.DOUBLE if dtype == numpy.float64 else TensorProto.FLOAT
    nodes, inits = [], []

    def constant(name, value):
        inits.append(numpy_helper.from_array(numpy.asarray(value), name))
        return name

    h = "X"
    if scaler is not None:
        mean, std = (numpy.asarray(a, dtype) for a in scaler)
        nodes.append(helper.make_node("Sub", [h, constant("scaler_mean", mean)], ["centred"]))
        nodes.append(helper.make_node("Div", ["centred", constant("scaler_std", std)], ["scaled"]))
        h = "scaled"
    weights, biases = net.get_params()
    kinds = net._activations
    for l, (W, b, kind) in enumerate(zip(weights, biases, kinds)):
        z = f"z{l}"
        nodes.append(helper.make_node("Gemm", [h, constant(f"W{l}", numpy.asarray(W, dtype)),
                                               constant(f"b{l}", numpy.asarray(b, dtype))], [z], transB=1))
        op = ACTIVATION_OPS[kind]
        h = z if op is None else f"h{l}"
        if op == "Softmax":
            nodes.append(helper.make_node(op, [z], [h], axis=-1))
        elif op is not None:
            nodes.append(helper.make_node(op, [z], [h]))
    n_out = net.layers[-1]
    outputs = []
    if head == "binary":  # one sigmoid: P(classes[1]); the estimator's two columns
        nodes.append(helper.make_node("Sub", [constant("one", numpy.ones((1, 1), dtype)), h], ["complement"]))
        nodes.append(helper.make_node("Concat", ["complement", h], ["probabilities"], axis=1))
        h, n_out = "probabilities", 2
    name = "probabilities" if (kinds[-1] == "softmax" or head == "binary") else "outputs"
    if h != name:
        nodes.append(helper.make_node("Identity", [h], [name]))
    outputs.append(helper.make_tensor_value_info(name, elem, ["N", n_out]))
    if head in ("classes", "binary"):
        classes = numpy.asarray(classes)
        nodes.append(helper.make_node("ArgMax", [name], ["index"], axis=1, keepdims=0))
        if classes.dtype.kind in "OUS":  # text labels: a string tensor
            label_type = TensorProto.STRING
            inits.append(helper.make_tensor("classes", label_type, [len(classes)], [str(c).encode() for c in classes]))
        elif classes.dtype.kind in "iub":
            label_type = TensorProto.INT64
            constant("classes", classes.astype(numpy.int64))
        else:
            label_type = elem
            constant("classes", classes.astype(dtype))
        nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], axis=0))
        outputs.append(helper.make_tensor_value_info("label", label_type, ["N"]))
    elif head == "multilabel":
        nodes.append(helper.make_node("Greater", [name, constant("half", numpy.asarray(0.5, dtype))], ["on"]))
        nodes.append(helper.make_node("Cast", ["on"], ["label"], to=TensorProto.INT64))
        outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N", n_out]))
    elif head != "outputs":
        raise ValueError(f"unknown head {head!r}")
    graph = helper.make_graph(nodes, "fastnet", [helper.make_tensor_value_info("X", elem, ["N", net.layers[0]])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fastnet")
    model.ir_version = min(model.ir_version, 9)  # what onnxruntime of the last years reads
    onnx.checker.check_model(model)
    return model


def write_model(model, path):
    """Write ``model`` to ``path`` atomically (a half-written file never takes its place)."""
    from .model_file import write_atomically

    write_atomically(path, lambda fh: fh.write(model.SerializeToString()))


def model_of_archive(net, arrays):
    """The ONNX model of a saved model file's network, with its scaler and classes (``fastnet train --save``)."""
    scaler = (arrays["scaler_mean"], arrays["scaler_std"]) if "scaler_mean" in arrays else None
    classes = arrays.get("classes")
    n_out = net.layers[-1]
    if classes is not None and len(classes) == n_out and n_out > 1:
        return network_model(net, scaler=scaler, classes=classes, head="classes")
    if classes is not None and len(classes) == 2 and n_out == 1 and net.output_activation == "sigmoid":
        return network_model(net, scaler=scaler, classes=classes, head="binary")
    return network_model(net, scaler=scaler)
