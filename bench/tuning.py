"""``python -m bench.tuning [NAME ...]``: both sides of each size rule in fastnet/tuning.py, timed here.

Each rule in :data:`fastnet.tuning.TUNING` picks between two ways of computing the
same numbers. For a few sizes either side of its threshold this checks that both
give the same result, then times each side (the fastest of ``--repeats`` rounds,
the two sides interleaved), and says which side the rule picks and whether that
was the faster one here. Run it on a machine unlike the development VM, or beside
a busy neighbour, to see whether a rule still holds there::

    python -m bench.tuning
    OPENBLAS_CORETYPE=Haswell python -m bench.tuning   # OpenBLAS's AVX2 kernels
    NUMBA_NUM_THREADS=1 python -m bench.tuning parallel_min_work
"""

import argparse
import time

import numpy as np

from fastnet.backends import get_backend
from fastnet.tuning import TUNING


# Seconds between the two sides' rounds (see compare).
PAUSE = 0.2


def best_time(fn, calls):
    """Seconds per call: the fastest of one round of ``calls`` calls (caller repeats rounds)."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def compare(name, size, below, above, picks_below, repeats, calls, rtol=1e-10, result=None):
    """Check the two sides agree (to ``rtol``: float32 sides need more), time them interleaved; one result row.

    Each side returns its result, or, where it writes into buffers both sides share (too
    big to copy inside the timing), nothing, and ``result()`` reads them after it.
    """
    a, b = ((side(), result())[1] if result else side() for side in (below, above))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2, err_msg=f"{name} {size}: the two sides differ")
    t_below = t_above = float("inf")
    for _ in range(repeats):
        # A pause before each side: the thread pools of the other (OpenBLAS's, Numba's)
        # spin for a while after their last call, and would slow this one's.
        time.sleep(PAUSE)
        t_below = min(t_below, best_time(below, calls))
        time.sleep(PAUSE)
        t_above = min(t_above, best_time(above, calls))
    picked, other = (t_below, t_above) if picks_below else (t_above, t_below)
    return dict(rule=name, size=size, below_us=t_below * 1e6, above_us=t_above * 1e6,
                picks="below" if picks_below else "above", right=picked <= other * 1.05)


def _rng():
    return np.random.default_rng(0)


def small_sigmoid(repeats):
    """SciPy's expit (below) against the four in-place passes (above), by element count."""
    numpy_ops = get_backend("numpy")
    rows = []
    for shape in [(1, 100), (1, 256), (1, 512), (1, 1000), (1, 4096), (1078, 30)]:
        Z = _rng().normal(size=shape) * 5
        out = np.empty_like(Z)

        def four_passes():
            np.negative(Z, out=out)
            np.exp(out, out=out)
            np.add(out, 1.0, out=out)
            return np.reciprocal(out, out=out)

        rows.append(compare("small_sigmoid", f"{shape[0]}x{shape[1]}", lambda: numpy_ops._expit(Z, out=out).copy(),
                            lambda: four_passes().copy(), Z.size <= TUNING.small_sigmoid, repeats, 200))
    return rows


def small_product(repeats):
    """numpy.dot (below) against numpy.matmul (above), by multiply-adds, for X @ W.T of a 64 -> 30 layer."""
    rows = []
    W = _rng().normal(size=(30, 64))
    for m in [1, 8, TUNING.small_product // (64 * 30), 64, 1078]:
        X = _rng().normal(size=(m, 64))
        out = np.empty((m, 30))
        rows.append(compare("small_product", f"{m}x64x30", lambda: np.dot(X, W.T, out=out).copy(),
                            lambda: np.matmul(X, W.T, out=out).copy(), m * 64 * 30 <= TUNING.small_product, repeats, 200))
    return rows


def row_max_loop(repeats):
    """A running maximum over the columns (below) against NumPy's reduction along the rows (above)."""
    numpy_ops = get_backend("numpy")
    rows = []
    for m, n in [(1078, 10), (1078, 30), (1078, 100), (200, 30), (128, 16), (100, 10), (60000, 2)]:
        A = _rng().normal(size=(m, n))

        def column_loop():
            top = A[:, 0].copy()
            for j in range(1, n):
                np.maximum(top, A[:, j], out=top)
            return top[:, None]

        picks_loop = n <= TUNING.row_max_loop_columns and m >= TUNING.row_max_loop_rows
        assert np.array_equal(numpy_ops.row_max(A), column_loop())
        rows.append(compare("row_max_loop_columns/rows", f"{m}x{n}", column_loop,
                            lambda: A.max(axis=1, keepdims=True), picks_loop, repeats, 50))
    return rows


def blas_small_matrix(repeats):
    """delta^T H in small-matrix chunks of rows (below) against one product (above), digits' 64 -> 30."""
    numpy_ops = get_backend("numpy")
    chunked = numpy_ops._blas_small_matrix_path
    rows = []
    for m in [256, 520, 1078, 3000]:
        delta, H = _rng().normal(size=(m, 30)), _rng().random((m, 64))
        dW = np.empty((30, 64))
        numpy_ops._blas_small_matrix_path = True
        below = lambda: numpy_ops.weight_product(delta, H, dW).copy()  # noqa: E731
        fits = -(-m * dW.size // TUNING.blas_small_matrix) > 1
        rows.append(compare("blas_small_matrix", f"{m}x30x64", below, lambda: np.dot(delta.T, H, out=dW).copy(),
                            chunked and fits, repeats, 100))
        numpy_ops._blas_small_matrix_path = chunked
    return rows


def _fused_with_row_split(rule):
    """The fused backend, or None (having said why) where its row split is off and ``rule`` cannot be timed."""
    fused = get_backend("fused")
    if fused.split.off is not None:
        print(f"{rule}: not measurable here, the row split is off ({fused.split.off})")
        return None
    return fused


def parallel_min_work(repeats):
    """fused: a 64 -> 30 sigmoid layer serial (below) against split over the threads (above)."""
    fused = _fused_with_row_split("parallel_min_work")
    if fused is None:
        return []
    from fastnet.backends.fused import layers as kernels, rows as row_kernels

    results = []
    parts = fused.split.threads
    with fused.running():
        for m in [16, 32, 64, 128, 256, 1078]:
            X, W, b = _rng().normal(size=(m, 64)), _rng().normal(size=(30, 64)), _rng().normal(size=30)
            out = np.empty((m, 30))
            kernel = fused.kernel(kernels.make_bias_activation, np.float64, "sigmoid")
            split = fused.kernel(row_kernels.make_dense_rows, np.float64, "sigmoid")

            def serial():
                np.dot(X, W.T, out=out)
                kernel(out, b, out)
                return out.copy()

            def parallel():
                split(X, W, b, out, min(parts, m))
                return out.copy()

            work = m * 64 * 30
            results.append(compare("parallel_min_work", f"{m}x64x30 ({work // parts:,}/thread)", serial, parallel,
                                   fused.split.parts(m, work) < 2, repeats, 200))
    return results


def min_block_rows(repeats):
    """fused: a short batch through a 784 -> 1024 sigmoid layer, its output neurons split (below) or its rows (above).

    Both sides on every thread: the row split's blocks then have m / threads rows.
    The rule splits the output neurons while m is under two blocks of
    ``TUNING.min_block_rows`` rows (see ``FusedOps.dense_function``).
    """
    fused = _fused_with_row_split("min_block_rows")
    if fused is None:
        return []
    from fastnet.backends.fused import rows as row_kernels

    results = []
    threads = fused.split.threads
    with fused.running():
        for dtype in (np.float32, np.float64):
            columns = fused.kernel(row_kernels.make_dense_columns, dtype, "sigmoid")
            split_rows = fused.kernel(row_kernels.make_dense_rows, dtype, "sigmoid")
            W, b = _rng().normal(size=(1024, 784)).astype(dtype) / 28, _rng().normal(size=1024).astype(dtype)
            for m in [2, 4, 8, 12, 16, 24, 32]:
                X, out = _rng().normal(size=(m, 784)).astype(dtype), np.empty((m, 1024), dtype)

                def below():
                    columns(X, W, b, out, threads)
                    return out.astype(np.float64)

                def above():
                    split_rows(X, W, b, out, min(threads, m))
                    return out.astype(np.float64)

                tolerance = 1e-10 if dtype == np.float64 else 1e-5
                results.append(compare("min_block_rows", f"{m}x784x1024 {np.dtype(dtype).name}", below, above,
                                       m < 2 * TUNING.min_block_rows, repeats, 20, rtol=tolerance))
    return results


def neuron_split(repeats):
    """fused: a layer split over every thread by its output neurons (below) or by its rows (above), by batch rows.

    First a 1024 -> 1024 sigmoid layer's backward step (its gradients and the delta
    below), which splits the neurons while the batch has fewer rows than the layer has
    neurons (``row_rule.splits_neurons``): a row block's products pack all of W and
    write a whole gradient, a neuron block's pack the whole batch. Then forward passes
    through 784 -> 1024 and 64 -> 4096, which split the neurons only while the batch is
    at most ``1 / TUNING.forward_neuron_share`` of each side of W
    (``row_rule.forward_splits_neurons``).
    """
    fused = _fused_with_row_split("neuron_split")
    if fused is None:
        return []
    results = []
    with fused.running():
        for dtype in (np.float32, np.float64):
            results += _backward_step_both_ways(fused, dtype, repeats)
            results += _forward_both_ways(fused, dtype, repeats)
    return results


def _backward_step_both_ways(fused, dtype, repeats):
    from fastnet.backends.fused import neurons as neuron_kernels, rows as row_kernels
    from fastnet.backends.fused.row_rule import splits_neurons

    threads, n, results = fused.split.threads, 1024, []
    by_neurons = fused.kernel(neuron_kernels.make_backward_step_neurons, dtype, "sigmoid")
    by_rows = fused.kernel(row_kernels.make_backward_step_rows, dtype, "sigmoid")
    W = (_rng().normal(size=(n, n)) / 32).astype(dtype)
    for m in [16, 64, 256, 512, 1024, 2048]:
        delta, H = _rng().normal(size=(m, n)).astype(dtype), _rng().random((m, n)).astype(dtype)
        out, dW, db = np.empty((m, n), dtype), np.empty((n, n), dtype), np.empty(n, dtype)

        def scaled():
            # Each output over its largest value: float32 sums of 1024 terms agree to a share of that.
            return np.concatenate([a.ravel() / np.abs(a).max() for a in (out, dW, db)]).astype(np.float64)

        def below():
            by_neurons(delta, W, H, dW, db, out, threads)

        def above():
            by_rows(delta, W, H, dW, db, out, max(1, min(threads, m // TUNING.min_block_rows)))

        tolerance = 1e-10 if dtype == np.float64 else 1e-4
        results.append(compare("neuron_split", f"backward:{m}x{n}x{n} {np.dtype(dtype).name}", below, above,
                               splits_neurons(m, n), repeats, 3, rtol=tolerance, result=scaled))
    return results


def _forward_both_ways(fused, dtype, repeats):
    from fastnet.backends.fused import neurons as neuron_kernels, rows as row_kernels
    from fastnet.backends.fused.row_rule import forward_splits_neurons

    threads, results = fused.split.threads, []
    by_neurons = fused.kernel(neuron_kernels.make_dense_neurons, dtype, "sigmoid")
    by_rows = fused.kernel(row_kernels.make_dense_rows, dtype, "sigmoid")
    for m, n_in, n_out in [(32, 784, 1024), (128, 784, 1024), (512, 784, 1024), (128, 64, 4096), (512, 64, 4096)]:
        X, out = _rng().normal(size=(m, n_in)).astype(dtype), np.empty((m, n_out), dtype)
        W, b = (_rng().normal(size=(n_out, n_in)) / 32).astype(dtype), _rng().normal(size=n_out).astype(dtype)

        def below():
            by_neurons(X, W, b, out, threads)

        def above():
            by_rows(X, W, b, out, min(threads, m // TUNING.min_block_rows))

        tolerance = 1e-10 if dtype == np.float64 else 1e-5
        results.append(compare("neuron_split", f"forward:{m}x{n_in}x{n_out} {np.dtype(dtype).name}", below, above,
                               forward_splits_neurons(m, n_in, n_out), repeats, 5, rtol=tolerance,
                               result=lambda: out.astype(np.float64)))
    return results


RULES = {"small_sigmoid": small_sigmoid, "small_product": small_product, "row_max_loop": row_max_loop,
         "blas_small_matrix": blas_small_matrix, "parallel_min_work": parallel_min_work,
         "min_block_rows": min_block_rows, "neuron_split": neuron_split}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[]] + list(RULES), help="rules to measure (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per side (default: 7)")
    args = parser.parse_args(argv)
    results = []
    print(f"{'rule':26s} {'size':34s} {'below us':>9s} {'above us':>9s}  rule picks  faster?")
    for name in args.names or RULES:
        for row in RULES[name](args.repeats):
            results.append(row)
            print(f"{row['rule']:26s} {row['size']:34s} {row['below_us']:9.2f} {row['above_us']:9.2f}  "
                  f"{row['picks']:10s}  {'yes' if row['right'] else 'NO'}", flush=True)
    wrong = [r for r in results if not r["right"]]
    print(f"{len(results) - len(wrong)} of {len(results)} sizes: the rule picks the faster side (within 5%)")
    return results


if __name__ == "__main__":
    main()
