"""Evaluation on the test set, and summaries of a learning curve."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from alcli.classes import codes_of


def evaluate(
    model: Any, X_test: np.ndarray, y_test: np.ndarray, names: list[str], classes: np.ndarray
) -> dict[str, float]:
    """Score a fitted model with scikit-learn scorers (predictions shared between them).

    Early on, the labeled set may lack some classes; the model's probabilities then cover only
    the classes it saw, which probability metrics (roc_auc_ovr, neg_log_loss) cannot score
    against a test set that has them all. Such a model is scored as giving the unseen classes
    probability 0.

    Parameters
    ----------
    model : fitted classifier
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
        Class labels as they are in the data.
    names : list of str
        scikit-learn scorer names.
    classes : ndarray of shape (n_classes,)
        Every class of the data, sorted.

    Returns
    -------
    dict of str to float, one entry per name, in the order given.
    """
    from sklearn.metrics import check_scoring

    if len(model.classes_) < len(classes) and hasattr(model, "predict_proba"):
        model = OverAllClasses(model, classes)
    on_predictions = _on_predictions(tuple(names))
    if on_predictions is not None:
        # Every metric scores the predictions: predict once and call the metric functions,
        # as the scorers would, without their per-call machinery (it costs more than a small
        # model's predict in a batch-size-1 loop).
        y_pred = model.predict(X_test)
        return {
            name: float(sign * score(y_test, y_pred, **kwargs))
            for name, (score, sign, kwargs) in zip(names, on_predictions, strict=True)
        }
    scorer = check_scoring(model, scoring=list(names))
    scores = scorer(model, X_test, y_test)
    return {name: float(scores[name]) for name in names}


@functools.cache
def _on_predictions(names: tuple[str, ...]) -> list[tuple[Any, int, dict]] | None:
    """The metric function, sign and keyword arguments of each scorer, when every one of
    them scores ``predict``'s output; None when one needs probabilities or decision values."""
    from sklearn.metrics import get_scorer

    found = []
    for name in names:
        scorer = get_scorer(name)
        parts = [getattr(scorer, key, None) for key in ("_score_func", "_sign", "_kwargs")]
        if getattr(scorer, "_response_method", None) != "predict" or None in parts:
            return None
        found.append(tuple(parts))
    return found


class OverAllClasses(ClassifierMixin, BaseEstimator):
    """A fitted classifier's predictions, with probabilities spread over every class.

    Parameters
    ----------
    model : fitted classifier with predict_proba
    classes : ndarray of shape (n_classes,)
        Sorted; a superset of ``model.classes_``.
    """

    def __init__(self, model: Any = None, classes: np.ndarray | None = None):
        self.model = model
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return self.classes

    def fit(self, X: np.ndarray = None, y: np.ndarray = None) -> OverAllClasses:
        # Scorers insist on the method; the wrapped model is fitted already.
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n, n_classes); 0 for the classes the model never saw."""
        seen = self.model.predict_proba(X)
        proba = np.zeros((seen.shape[0], self.classes.shape[0]))
        proba[:, codes_of(self.classes, self.model.classes_)] = seen
        return proba


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


def scorer_names() -> list[str]:
    """Every scikit-learn scorer name a config may list under ``metrics``."""
    from sklearn.metrics import get_scorer_names

    return sorted(get_scorer_names())


def response_methods(metric: str) -> tuple[str, ...]:
    """The estimator methods a scikit-learn scorer calls (predict, predict_proba, ...)."""
    from sklearn.metrics import get_scorer

    method = getattr(get_scorer(metric), "_response_method", None)
    if method is None:
        return ()
    return (method,) if isinstance(method, str) else tuple(method)
