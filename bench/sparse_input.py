"""``python -m bench.sparse_input``: a TF-IDF-shaped sparse matrix, trained by the estimators and by scikit-learn.

A 4,000 x 100,000 CSR matrix with about 100 values a row, its columns drawn with
Zipf frequencies as words are, 20 classes from a hidden linear rule. Dense, it would
be 3 GB; nothing here makes it dense. Each fit (2 epochs of the estimators'
defaults: 100 hidden ReLUs, Adam, batches of 200) on the first 3,200 rows runs in a
fresh process, which reports its seconds, its peak memory and its accuracy on the
other 800:

* fastnet's ``fused`` backend, whose first layer has compiled sparse products
  (``kernels/fused_sparse.py``);
* fastnet's ``numpy`` backend, whose first layer is SciPy's product;
* scikit-learn's ``MLPClassifier``.

First the two fastnet backends are checked against each other: the same loss curve
to 1e-10 relative, so the fast path is validated before it is timed.
"""

import argparse
import json
import subprocess
import sys

ROWS, COLUMNS, PER_ROW, CLASSES, EPOCHS = 4000, 100_000, 100, 20, 2

_FIT = r"""
import json, resource, sys, time, warnings
from sklearn.exceptions import ConvergenceWarning
from bench.sparse_input import tfidf_shaped
warnings.simplefilter("ignore", ConvergenceWarning)
which, epochs = sys.argv[1], int(sys.argv[2])
X, y = tfidf_shaped()
if which == "sklearn":
    from sklearn.neural_network import MLPClassifier
    make = lambda n: MLPClassifier(hidden_layer_sizes=(100,), max_iter=n, random_state=0)
else:
    from fastnet import FastNetClassifier
    make = lambda n: FastNetClassifier(hidden_layer_sizes=(100,), max_iter=n, random_state=0, backend=which)
    make(1).fit(X[:50], y[:50])  # compiles fused's kernels: not timed
train = X.shape[0] * 4 // 5  # the last fifth is held out
start = time.perf_counter()
clf = make(epochs).fit(X[:train], y[:train])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "loss_curve": list(map(float, clf.loss_curve_)), "test_accuracy": float(clf.score(X[train:], y[train:]))}))
"""


def tfidf_shaped(rows=ROWS, columns=COLUMNS, per_row=PER_ROW, classes=CLASSES, seed=0):
    """A CSR matrix shaped like TF-IDF (Zipf column frequencies, unit-length rows) and labels from a hidden linear rule."""
    import numpy
    from scipy import sparse

    rng = numpy.random.default_rng(seed)
    cols = (rng.zipf(1.3, size=rows * per_row) - 1) % columns
    indptr = numpy.arange(0, rows * per_row + 1, per_row)
    X = sparse.csr_matrix((rng.random(rows * per_row), cols, indptr), shape=(rows, columns))
    X.sum_duplicates()
    X = sparse.diags(1.0 / numpy.sqrt(X.multiply(X).sum(axis=1).A1)) @ X
    rule = rng.normal(size=(columns, classes))
    return X.tocsr(), numpy.asarray((X @ rule).argmax(axis=1)).ravel()


def fit_in_fresh_process(which, epochs):
    out = subprocess.run([sys.executable, "-c", _FIT, which, str(epochs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    results = {which: fit_in_fresh_process(which, args.epochs) for which in ("fused", "numpy", "sklearn")}
    fused, numpy_curve = results["fused"]["loss_curve"], results["numpy"]["loss_curve"]
    worst = max(abs(a - b) / abs(b) for a, b in zip(fused, numpy_curve))
    print(f"validation: fused's loss curve against numpy's (SciPy's products), worst relative difference {worst:.1e}")
    if worst > 1e-10:
        sys.exit("fused's sparse products disagree with SciPy's: not timed")
    print(f"\n| {ROWS:,} x {COLUMNS:,} CSR, {args.epochs} epochs | seconds | peak memory | held-out accuracy |")
    print("|---|---|---|---|")
    for which, label in (("fused", "fastnet fused"), ("numpy", "fastnet numpy"), ("sklearn", "MLPClassifier")):
        r = results[which]
        print(f"| {label} | {r['seconds']:.2f} s | {r['peak_mib']:.0f} MiB | {r['test_accuracy']:.3f} |")
    print(f"\nsklearn / fused: {results['sklearn']['seconds'] / results['fused']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
