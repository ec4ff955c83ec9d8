"""scikit-learn's MLP stopping rule: stop after ``n_iter_no_change`` epochs without progress.

The estimators watch one number per epoch: the training loss (to be lowered) or,
with early stopping, the validation score (to be raised). An epoch counts as no
progress when it does not beat the best so far by ``tol``; training stops once
more than ``n_iter_no_change`` such epochs come in a row. The best value is
replaced by *any* improvement, however small, so the weights kept by early
stopping are those of the best epoch seen. That is scikit-learn's
``_update_no_improvement_count``, written as an object of its own.
"""

import math


class NoImprovementRule:
    """Counts consecutive epochs without progress and remembers the best value.

    Parameters
    ----------
    tol : float
        The margin an epoch must beat the best by to count as progress.
    n_iter_no_change : int or inf
        Training stops when more than this many epochs in a row make no progress.
    maximize : bool
        True for a validation score, False for a training loss.

    Attributes
    ----------
    best : float
        The best value seen (``-inf`` or ``inf`` before the first).
    count : int
        Consecutive epochs without progress so far.
    """

    def __init__(self, tol, n_iter_no_change, maximize):
        self.tol, self.n_iter_no_change, self.maximize = tol, n_iter_no_change, maximize
        self.best = -math.inf if maximize else math.inf
        self.count = 0

    def update(self, value):
        """Record one epoch's value; return True when it is a new best."""
        if self.maximize:
            stale = value < self.best + self.tol
            improved = value > self.best
        else:
            stale = value > self.best - self.tol
            improved = value < self.best
        # A NaN is neither stale nor an improvement, as in scikit-learn; the
        # estimators raise DivergenceError before a NaN reaches here.
        self.count = self.count + 1 if stale else 0
        if improved:
            self.best = value
        return improved

    @property
    def exhausted(self):
        """True once more than ``n_iter_no_change`` epochs in a row made no progress."""
        return self.count > self.n_iter_no_change
