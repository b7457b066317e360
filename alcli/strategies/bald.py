"""BALD: label the records on which the members of an ensemble disagree most."""

from __future__ import annotations

from typing import Any

import numpy as np

from alcli.models import apply_chunked
from alcli.strategies.base import ScoreStrategy, SelectionContext, UnsupportedInput
from alcli.strategies.qbc import Consensus

ENSEMBLES = "RandomForestClassifier, ExtraTreesClassifier or BaggingClassifier"
# Rows scored at a time when the context has no Learner to say.
CHUNK = 2048


class BALD(ScoreStrategy):
    """Score = I(y; m | x) = H(mean_m p_m(y | x)) - mean_m H(p_m(y | x)): the mutual
    information between a record's label and which member of the model's ensemble predicts
    it, from the members' ``predict_proba`` (trees of a RandomForestClassifier or
    ExtraTreesClassifier, estimators of a BaggingClassifier; also as a Pipeline's last step).

    High when members are each confident but disagree with each other; low when they agree,
    even if all are unsure (unlike entropy sampling). Members are the ensemble's own, so
    nothing is refit: the posterior over models is approximated by the ensemble. Members
    without ``predict_proba`` (bagged SVCs) count as one-hot votes. Until the labeled set
    holds two classes the model is a constant: every candidate scores 0 and the picks are
    the selector's seeded random tie-break.

    Cost per loop: every one of the M members predicts every one of the n candidates,
    O(M * n * predict), chunk by chunk (in parallel threads with ``model.n_jobs``). Memory
    O(chunk * n_classes) per thread: a chunk's mean distribution and mean entropy are summed
    member by member, never all members' probabilities at once.

    References: Houlsby, Huszár, Ghahramani & Lengyel, "Bayesian active learning for
    classification and preference learning", arXiv 2011; Gal, Islam & Ghahramani, "Deep
    Bayesian active learning with image data", ICML 2017.
    """

    name = "bald"
    description = "Mutual information between the label and the ensemble member (forests, bagging)."
    requires = "an ensemble exposing its members: RandomForest, ExtraTrees, Bagging"
    needs_proba = False

    def check_model(self, estimator: Any) -> str | None:
        ensemble = _final_step(estimator)
        if not _is_ensemble(ensemble):
            return (
                f"'bald' compares the members of an ensemble ({ENSEMBLES}, or a Pipeline "
                f"ending in one) and {type(ensemble).__name__} exposes none; set the model "
                "(or strategy.model) to one, e.g. sklearn.ensemble.RandomForestClassifier, or "
                "use strategy: qbc, which builds its own committee of any classifier"
            )
        size = ensemble.get_params().get("n_estimators")
        if isinstance(size, int) and size < 2:
            return (
                f"'bald' compares the members of an ensemble and this "
                f"{type(ensemble).__name__} has n_estimators: {size}; give it at least 2 "
                "(the default, 100 for forests and 10 for bagging, works)"
            )
        return None

    def score(self, ctx: SelectionContext) -> np.ndarray:
        n = ctx.candidates.shape[0]
        if n == 0 or np.unique(ctx.labels).shape[0] < 2:
            return np.zeros(n)
        model = ctx.model
        if model is None:
            raise UnsupportedInput(
                "strategy 'bald' scores with the fitted selection model's members and the "
                "selection context has no model (ctx.model)"
            )
        problem = self.check_model(model)
        if problem:
            raise UnsupportedInput(problem)
        ensemble = _final_step(model)
        steps = getattr(model, "steps", None)
        transform = model[:-1].transform if isinstance(steps, list) and len(steps) > 1 else None
        members = list(ensemble.estimators_)
        subsets = getattr(ensemble, "estimators_features_", None)
        n_classes = len(ensemble.classes_)
        trees = _is_forest(ensemble)

        def chunk_scores(X: Any) -> np.ndarray:
            if transform is not None:
                X = transform(X)
            if trees:
                # Trees predict on float32; convert the chunk once rather than once per tree.
                X = (
                    X.tocsr().astype(np.float32)
                    if hasattr(X, "tocsr")
                    else np.asarray(X, dtype=np.float32)
                )
            consensus = Consensus(X.shape[0], n_classes)
            for k, member in enumerate(members):
                X_member = X if subsets is None else _columns(X, subsets[k])
                consensus.add(member_proba(member, X_member, n_classes))
            return consensus.disagreement()

        learner = ctx.learner
        chunk_size = CHUNK if learner is None else learner.chunk_size
        n_jobs = 1 if learner is None else learner.n_jobs
        return apply_chunked(chunk_scores, ctx.features, ctx.candidates, chunk_size, n_jobs)


def member_proba(member: Any, X: Any, n_classes: int) -> np.ndarray:
    """One member's distributions, shape (n, n_classes), columns in the ensemble's order.

    Forests and bagging fit their members on the ensemble's encoded labels, so a member's
    ``classes_`` are column numbers; a member that never saw a class (a bootstrap sample
    without it) gets 0 in that column. A member without ``predict_proba`` gives one-hot
    votes, as BaggingClassifier itself does.
    """
    if not hasattr(member, "predict_proba"):
        votes = np.asarray(member.predict(X)).astype(np.int64)
        out = np.zeros((votes.shape[0], n_classes))
        out[np.arange(votes.shape[0]), votes] = 1.0
        return out
    raw = np.asarray(member.predict_proba(X), dtype=np.float64)
    seen = np.asarray(member.classes_).astype(np.int64)
    if seen.shape[0] == n_classes and (seen == np.arange(n_classes)).all():
        return raw
    out = np.zeros((raw.shape[0], n_classes))
    out[:, seen] = raw
    return out


def _columns(X: Any, features: np.ndarray) -> Any:
    """``X`` restricted to a bagging member's features (no copy when it uses them all)."""
    features = np.asarray(features)
    if features.shape[0] == X.shape[1] and (features == np.arange(X.shape[1])).all():
        return X
    return X[:, features]


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else estimator


def _is_forest(estimator: Any) -> bool:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    return isinstance(estimator, RandomForestClassifier | ExtraTreesClassifier)


def _is_ensemble(estimator: Any) -> bool:
    from sklearn.ensemble import BaggingClassifier

    return _is_forest(estimator) or isinstance(estimator, BaggingClassifier)
