"""The strategy interface and the one shared selector every strategy's scores go through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict


class NoParams(BaseModel):
    """Parameters of a strategy that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class SelectionContext:
    """What a strategy may look at when it selects.

    Attributes
    ----------
    candidates : ndarray of shape (n_candidates,)
        Pool indices of the unlabeled records, ascending.
    proba : ndarray of shape (n_candidates, n_classes) or None
        The last model's predicted probabilities for the candidates, in candidate order
        (None when the strategy does not need them).
    features : ndarray of shape (n_pool, n_features)
        The whole pool's features (a view, never a copy).
    model : fitted estimator or None
    loop : int
        The loop being selected for (1, 2, ...).
    rng : numpy.random.Generator
        Derived from the run seed and the loop: the only source of randomness.
    """

    candidates: np.ndarray
    proba: np.ndarray | None
    features: Any
    model: Any
    loop: int
    rng: np.random.Generator


@dataclass(frozen=True)
class Selection:
    """The records a strategy picked, most worth labeling first.

    Attributes
    ----------
    indices : ndarray of shape (n,)
        Pool indices, distinct, all unlabeled.
    scores : ndarray of shape (n,)
        Each record's score (higher = more worth labeling).
    """

    indices: np.ndarray
    scores: np.ndarray


class Strategy(ABC):
    """A querying strategy. Subclasses set ``name``, ``description`` and ``needs_proba``.

    ``Params`` is the pydantic model of the strategy's config keys; the constructor stores them.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    needs_proba: ClassVar[bool] = False
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params: Any):
        self.params = self.Params(**params)

    @abstractmethod
    def select(self, ctx: SelectionContext, n: int) -> Selection:
        """Pick up to ``n`` distinct unlabeled records."""


class ScoreStrategy(Strategy):
    """A strategy that only scores candidates; the shared selector picks the top ``n``."""

    @abstractmethod
    def score(self, ctx: SelectionContext) -> np.ndarray:
        """Scores of shape (n_candidates,), higher = label first."""

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        return select_top(self.score(ctx), ctx.candidates, n, ctx.rng)


def select_top(
    scores: np.ndarray, candidates: np.ndarray, n: int, rng: np.random.Generator
) -> Selection:
    """Pick the ``n`` highest-scoring candidates in O(n_candidates).

    Records tied at the cut-off are chosen at random with ``rng``, so equal scores do not
    favour low indices; NaN scores rank last. Asking for more than there are candidates
    returns them all.

    Parameters
    ----------
    scores : ndarray of shape (n_candidates,)
    candidates : ndarray of shape (n_candidates,)
        Pool indices the scores belong to.
    n : int
    rng : numpy.random.Generator

    Returns
    -------
    Selection
        Sorted by descending score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != candidates.shape:
        raise ValueError(
            f"a strategy returned {scores.shape[0]} scores for {candidates.shape[0]} candidates"
        )
    n = min(int(n), candidates.shape[0])
    if n <= 0:
        return Selection(np.empty(0, dtype=np.int64), np.empty(0))
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    if n < ranked.shape[0]:
        # The n-th largest score; everything above it is in, and the records equal to it
        # share the places left at random.
        cutoff = -np.partition(-ranked, n - 1)[n - 1]
        above = np.flatnonzero(ranked > cutoff)
        tied = np.flatnonzero(ranked == cutoff)
        chosen = np.concatenate([above, rng.choice(tied, n - above.shape[0], replace=False)])
    else:
        chosen = rng.permutation(ranked.shape[0])
    # Sort only the n winners (stable: ties keep their random order), never the pool.
    chosen = chosen[np.argsort(-ranked[chosen], kind="stable")]
    return Selection(candidates[chosen].astype(np.int64), scores[chosen])
