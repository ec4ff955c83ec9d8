"""The networks and data the suite times, built the same way for every variant."""

import os

import numpy as np

import fastnet

QUICK = os.environ.get("FASTNET_BENCH_QUICK") == "1"

# The tutorial's section 3.3-3.5 feed-forward timings (one input vector), in seconds.
TUTORIAL_FORWARD = {
    "3-3-1": {"python": 40e-6},
    "3-3-3-1": {"python": 70e-6, "numpy": 46e-6},
    "100-100-50-10": {"python": 41e-3, "numpy": 84e-6},
}
FORWARD_SHAPES = {"3-3-1": [3, 3, 1], "3-3-3-1": [3, 3, 3, 1], "100-100-50-10": [100, 100, 50, 10]}

DIGITS_ITERATIONS = 300 if QUICK else 3000
# Interpreted loops run a few iterations of the full digits set; the report scales them up.
PYTHON_ITERATIONS = 1 if QUICK else 3
LARGE = (2000, [784, 256, 256, 10]) if QUICK else (60000, [784, 1024, 1024, 10])


def reference_ops():
    """The untuned reference Ops, which every benchmark checks its backend against before timing it."""
    from fastnet.backends.reference import Ops

    return Ops()


def forward_network(shape, backend):
    """A network of ``shape`` with the tutorial's 3-3-1 weights where they apply, else seeded."""
    net = fastnet.Network(FORWARD_SHAPES[shape], backend=backend, seed=0)
    if shape == "3-3-1":
        W1 = np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]])
        net.set_params([W1, np.full((1, 3), 0.5)], [np.full(3, 0.8), np.array([0.2])])
    return net


def forward_input(shape):
    if shape == "3-3-1":
        return np.array([1.5, 2.0, 3.0])
    return np.random.default_rng(1).normal(size=FORWARD_SHAPES[shape][0])


def digits():
    data = fastnet.datasets.load_digits()
    return data, fastnet.one_hot(data.y_train, 10)


def large_data(dtype):
    m, layers = LARGE
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, layers[0])).astype(dtype)
    Y = fastnet.one_hot(rng.integers(0, layers[-1], size=m), layers[-1], dtype=dtype)
    return layers, X, Y


def digits_step_operands(dtype):
    """The operands of a digits step's five matrix products (64-30-10, 1078 training rows).

    X is the real training set; the weights, activations and deltas are seeded
    random values of the right shapes and ranges (a product's time does not depend
    on the values, as long as none is subnormal).
    """
    data, _ = digits()
    X = data.X_train
    m = X.shape[0]
    rng = np.random.default_rng(0)
    arrays = {"X": X, "W1": rng.uniform(size=(30, 64)), "H1": rng.uniform(size=(m, 30)),
              "W2": rng.uniform(size=(10, 30)), "D2": rng.normal(scale=1e-3, size=(m, 10)),
              "D1": rng.normal(scale=1e-3, size=(m, 30))}
    return {name: np.ascontiguousarray(a, dtype=dtype) for name, a in arrays.items()}


def step_products(ops, a, out):
    """The five products of one digits training step, as the numpy and cupy backends run them in ``fit``.

    Forward Z = H W^T per layer (``dense``), the weight gradients delta^T H
    (``weight_product``) and the delta sent back to the hidden layer, delta W
    (``hidden_delta``). ``out`` maps each name to its preallocated result.
    """
    ops.product(a["X"], a["W1"].T, out["Z1"])  # (m, 30)
    ops.product(a["H1"], a["W2"].T, out["Z2"])  # (m, 10)
    ops.weight_product(a["D2"], a["H1"], out["dW2"])  # (10, 30)
    ops.product(a["D2"], a["W2"], out["D1"])  # (m, 30)
    ops.weight_product(a["D1"], a["X"], out["dW1"])  # (30, 64)
    return out


def step_products_reference(a):
    """The same five products in float64, the reference every variant is checked against."""
    f = {name: v.astype(np.float64) for name, v in a.items()}
    return {"Z1": f["X"] @ f["W1"].T, "Z2": f["H1"] @ f["W2"].T, "dW2": f["D2"].T @ f["H1"],
            "D1": f["D2"] @ f["W2"], "dW1": f["D1"].T @ f["X"]}


# The second CPU workload: MNIST's shape, trained as people train it (ReLU, softmax,
# Adam on mini-batches of 64), on synthetic data of that shape.
MNIST_LAYERS = [784, 100, 10]
MNIST_ROWS, MNIST_EPOCHS = (1000, 2) if QUICK else (4000, 20)
MNIST_BATCH, MNIST_LR = 64, 0.001


def mnist_shaped(rows, test_rows=1000):
    """Synthetic 784-feature, 10-class data: X_train, y_train, X_test, y_test (labels 0..9)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows + test_rows, n_features=784, n_informative=60, n_redundant=0,
                               n_classes=10, n_clusters_per_class=1, class_sep=1.5, random_state=0)
    return X[:rows], y[:rows], X[rows:], y[rows:]


def mnist_adam_net(backend, dtype):
    return fastnet.Network(MNIST_LAYERS, activation="relu", output_activation="softmax", loss="cross_entropy",
                           init="xavier", backend=backend, dtype=dtype, seed=0)
