"""Data sets: scikit-learn's 8x8 handwritten digits, split and standardised."""

from typing import NamedTuple

import numpy


class Split(NamedTuple):
    """A train/test split; unpacks as ``X_train, X_test, y_train, y_test``."""

    X_train: numpy.ndarray
    X_test: numpy.ndarray
    y_train: numpy.ndarray
    y_test: numpy.ndarray


def scaler_stats(X_train):
    """Column means and standard deviations of the training rows (constant columns: std 1)."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0.0] = 1.0
    return mean, std


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
