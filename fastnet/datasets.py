"""Data sets: scikit-learn's 8x8 handwritten digits, split and standardised."""

import math
from typing import NamedTuple

import numpy


class Split(NamedTuple):
    """A train/test split; unpacks as ``X_train, X_test, y_train, y_test``."""

    X_train: numpy.ndarray
    X_test: numpy.ndarray
    y_train: numpy.ndarray
    y_test: numpy.ndarray


# Rows at a time in the passes over a big matrix below: their temporaries stay small.
BLOCK_ROWS = 20_000


def scaler_stats(X_train):
    """Column means and standard deviations of the training rows (constant columns: std 1).

    The standard deviation is numpy.std's to the last bit, without its temporary of
    X's size: the squared deviations are taken ``BLOCK_ROWS`` rows at a time, and each
    block is summed onto the running total row by row, the order numpy.std sums in.
    """
    mean = X_train.mean(axis=0)
    squares = numpy.zeros_like(mean)
    for start in range(0, len(X_train), BLOCK_ROWS):
        deviations = X_train[start:start + BLOCK_ROWS] - mean
        deviations *= deviations
        squares = numpy.add.reduce(numpy.concatenate([squares[None, :], deviations]), axis=0)
    std = numpy.sqrt(squares / len(X_train))
    std[std == 0.0] = 1.0
    return mean, std


def held_out_rows(n, test_size, seed, stratify=None):
    """The row numbers of a random test share of n rows (sorted), stratified by class if asked.

    ``ceil(test_size * n)`` rows are held out, as scikit-learn rounds. Stratified, each
    class gives its share of them (``test_size`` of its rows, the leftovers of rounding
    down going to the classes with the largest remainders) and always keeps at least one
    row for training, so a class of one row is never held out. Which rows of a class go
    is drawn by ``numpy.random.default_rng(seed)``: the same seed, the same rows.
    """
    n_test = math.ceil(test_size * n)
    if not 0 < n_test < n:
        raise ValueError(f"holding out {test_size:g} of {n} rows leaves none to {'test' if n_test == 0 else 'train'} on")
    rng = numpy.random.default_rng(seed)
    if stratify is None:
        return numpy.sort(rng.permutation(n)[:n_test])
    _, label, counts = numpy.unique(stratify, return_inverse=True, return_counts=True)
    share = n_test * counts / n
    take = numpy.minimum(numpy.floor(share).astype(numpy.int64), counts - 1)
    for c in numpy.argsort(take - share, kind="stable"):  # largest remainders first
        if take.sum() == n_test:
            break
        take[c] += take[c] < counts[c] - 1
    if take.sum() == 0:
        raise ValueError(f"no class has a row to spare for testing ({n} rows, {len(counts)} classes, the largest of "
                         f"{counts.max()} rows)")
    # Shuffle every row, then group them by class (a stable sort keeps each group shuffled):
    # each class's first take[c] rows go to the test side.
    shuffled = rng.permutation(n)
    grouped = shuffled[numpy.argsort(label[shuffled], kind="stable")]
    rank = numpy.arange(n) - numpy.repeat(numpy.cumsum(counts) - counts, counts)
    return numpy.sort(grouped[rank < numpy.repeat(take, counts)])


def split_in_place(X, y, test_size, seed, stratify=None):
    """A random train/test split of X and y that copies no rows of X: both sides are views of it.

    The rows of :func:`held_out_rows` go to the test side. X's rows are swapped in
    place, ``BLOCK_ROWS`` pairs at a time, so that X's last rows are the held-out ones:
    each held-out row among X's first rows trades places with a training row from the
    end. The training rows otherwise keep the file's order (training shuffles them).
    X is overwritten; y is not (its rows are reordered in a copy).

    Returns
    -------
    Split
        ``X_train`` and ``X_test`` are views of X's first and last rows.
    """
    n = len(X)
    test = numpy.zeros(n, dtype=bool)
    test[held_out_rows(n, test_size, seed, stratify)] = True
    n_train = n - int(test.sum())
    # As many held-out rows among the first n_train as training rows after them.
    front = numpy.flatnonzero(test[:n_train])
    back = n_train + numpy.flatnonzero(~test[n_train:])
    for start in range(0, len(front), BLOCK_ROWS):
        ours, theirs = front[start:start + BLOCK_ROWS], back[start:start + BLOCK_ROWS]
        held = X[ours]
        X[ours] = X[theirs]
        X[theirs] = held
    order = numpy.arange(n)
    order[front], order[back] = back, front
    y = y[order]
    return Split(X[:n_train], X[n_train:], y[:n_train], y[n_train:])


def standardise(X_train, X_test):
    """Scale columns to zero mean and unit variance using the training rows' statistics.

    Constant columns (the digits' blank border pixels) are centred and left unscaled.
    """
    mean, std = scaler_stats(X_train)
    return (X_train - mean) / std, (X_test - mean) / std


def load_digits(test_size=0.4, seed=0, scale=True):
    """scikit-learn's digits (1797 images of 8x8 pixels), split and standardised.

    As in the tutorial, 40 % of the samples are held out for testing by default.
    The scaler is fitted on the training rows only, so no test statistics leak in.

    Parameters
    ----------
    test_size : float, default 0.4
        Fraction of samples held out, in (0, 1).
    seed : int, default 0
        Seeds the shuffled split.
    scale : bool, default True
        False returns the raw pixel values (0..16).

    Returns
    -------
    Split
        ``(X_train, X_test, y_train, y_test)``: float64 features of shape
        (n, 64) and integer labels 0..9.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie strictly between 0 and 1, got {test_size!r}")
    digits = sk_load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data.astype(numpy.float64), digits.target, test_size=test_size, random_state=seed
    )
    if scale:
        X_train, X_test = standardise(X_train, X_test)
    return Split(X_train, X_test, y_train, y_test)
