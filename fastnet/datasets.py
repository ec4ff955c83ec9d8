"""Data sets: scikit-learn's 8x8 handwritten digits, split and standardised."""

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


def split_in_place(X, y, test_size, seed, stratify=None):
    """scikit-learn's train/test split of X and y, with the training rows moved up to X's first rows.

    ``train_test_split`` copies both sides while X still exists: twice a big file's
    matrix at once. Here only the test rows are copied; the training rows are moved up
    in place, ``BLOCK_ROWS`` at a time, and X_train is a view of them. Each side gets the
    rows ``train_test_split(X, y, test_size=..., random_state=seed, stratify=...)``
    gives it; the training rows keep the file's order (training shuffles them), the test
    rows come in the split's order. X is overwritten.
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(numpy.arange(len(X)), test_size=test_size, random_state=seed, stratify=stratify)
    train.sort()
    X_test = X[test]
    for start in range(0, len(train), BLOCK_ROWS):
        rows = train[start:start + BLOCK_ROWS]
        # train is sorted, so every row read here sits at or after ``start``: no row is
        # overwritten before it is read (the block is gathered before it is written).
        X[start:start + len(rows)] = X[rows]
    return Split(X[:len(train)], X_test, y[train], y[test])


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
