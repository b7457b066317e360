"""Evaluation on the test set, and summaries of a learning curve."""

from __future__ import annotations

from typing import Any

import numpy as np


def evaluate(model: Any, X_test: np.ndarray, y_test: np.ndarray, names: list[str]) -> dict:
    """Score a fitted model with scikit-learn scorers (predictions shared between them).

    Returns
    -------
    dict of str to float, one entry per name, in the order given.
    """
    from sklearn.metrics import check_scoring

    scorer = check_scoring(model, scoring=list(names))
    scores = scorer(model, X_test, y_test)
    return {name: float(scores[name]) for name in names}


def aulc(n_labeled: np.ndarray, values: np.ndarray) -> float:
    """Normalized area under a learning curve: the mean metric over the labeled range.

    Parameters
    ----------
    n_labeled : ndarray of shape (n_loops,)
        Ascending label counts.
    values : ndarray of shape (n_loops,)

    Returns
    -------
    float
        Trapezoid area divided by the range of ``n_labeled``; the single value when there is
        one loop.
    """
    n_labeled = np.asarray(n_labeled, dtype=float)
    values = np.asarray(values, dtype=float)
    if n_labeled.shape[0] == 1 or n_labeled[-1] == n_labeled[0]:
        return float(values[-1])
    return float(np.trapezoid(values, n_labeled) / (n_labeled[-1] - n_labeled[0]))


def labels_to_reach(n_labeled: np.ndarray, values: np.ndarray, target: float) -> int | None:
    """The fewest labels at which the curve reached ``target``, or None if it never did."""
    reached = np.flatnonzero(np.asarray(values, dtype=float) >= target)
    return int(np.asarray(n_labeled)[reached[0]]) if reached.size else None
