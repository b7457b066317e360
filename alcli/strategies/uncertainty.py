"""Uncertainty measures on predicted probabilities, shared by the uncertainty strategies.

Each takes probabilities of shape (n, n_classes) and returns scores of shape (n,), higher =
more uncertain. All are invariant to the order of the classes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

#: Rows measured at a time: the (rows, n_classes) temporaries stay small on a large pool.
CHUNK_ROWS = 65536


def top_two(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest and second-highest probability of each row (second is 0 with one class).

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)

    Returns
    -------
    first, second : ndarrays of shape (n,)
    """
    if proba.shape[1] == 1:
        return proba[:, 0], np.zeros(proba.shape[0], dtype=proba.dtype)
    first = np.empty(proba.shape[0], dtype=proba.dtype)
    second = np.empty(proba.shape[0], dtype=proba.dtype)
    # np.partition is O(n_classes) per row, cheaper than sorting each row; by chunks of rows,
    # so that its copy stays small on a large pool.
    for start in range(0, proba.shape[0], CHUNK_ROWS):
        part = np.partition(proba[start : start + CHUNK_ROWS], proba.shape[1] - 2, axis=1)
        first[start : start + part.shape[0]] = part[:, -1]
        second[start : start + part.shape[0]] = part[:, -2]
    return first, second


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - max_c p(c), shape (n,) from probabilities of shape (n, n_classes)."""
    return 1.0 - proba.max(axis=1)


def margin(proba: np.ndarray) -> np.ndarray:
    """1 - (p(first) - p(second)), shape (n,) from probabilities of shape (n, n_classes)."""
    first, second = top_two(proba)
    return 1.0 - (first - second)


def entropy(proba: np.ndarray) -> np.ndarray:
    """-sum_c p(c) log p(c) (0 log 0 = 0), shape (n,) from probabilities of shape (n, n_classes)."""
    out = np.empty(proba.shape[0])
    for start in range(0, proba.shape[0], CHUNK_ROWS):  # temporaries of one chunk, not the pool
        block = proba[start : start + CHUNK_ROWS]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(block > 0, np.log(block), 0.0)
        out[start : start + block.shape[0]] = -(block * logs).sum(axis=1)
    return out


def least_confidence_of_decision(decision: np.ndarray) -> np.ndarray:
    """Least confidence from ``decision_function`` values, for models without probabilities.

    Parameters
    ----------
    decision : ndarray of shape (n,) for two classes, or (n, n_classes)

    Returns
    -------
    ndarray of shape (n,)
        Two classes: minus the distance to the boundary. More: minus the highest decision
        value (the winning class's own confidence).
    """
    if decision.ndim == 1:
        return -np.abs(decision)
    return -decision.max(axis=1)


def margin_of_decision(decision: np.ndarray) -> np.ndarray:
    """Margin from ``decision_function`` values, for models without probabilities.

    Parameters
    ----------
    decision : ndarray of shape (n,) for two classes, or (n, n_classes)

    Returns
    -------
    ndarray of shape (n,)
        Two classes: minus the distance to the boundary. More: minus the gap between the two
        highest decision values.
    """
    if decision.ndim == 1:
        return -np.abs(decision)
    first, second = top_two(decision)
    return -(first - second)


# The measures a strategy's ``uncertainty`` parameter names, on probabilities and (where one
# exists) on decision values.
Measure = Literal["margin", "entropy", "least_confidence"]
MEASURES = {"margin": margin, "entropy": entropy, "least_confidence": least_confidence}
DECISION_MEASURES = {
    "margin": margin_of_decision,
    "least_confidence": least_confidence_of_decision,
}
