"""The strategy interface and the one shared selector every strategy's scores go through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from alcli.classes import codes_of


class NoParams(BaseModel):
    """Parameters of a strategy that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UnsupportedInput(ValueError):
    """A strategy cannot work on these inputs (sparse features, a model without an embedding)."""


@dataclass(frozen=True)
class SelectionContext:
    """What a strategy may look at when it selects.

    Attributes
    ----------
    candidates : ndarray of shape (n_candidates,)
        Pool indices of the unlabeled records, ascending.
    proba : ndarray of shape (n_candidates, n_model_classes) or None
        The selection model's predicted probabilities for the candidates, in candidate order,
        columns in the order of ``model.classes_`` (None when the strategy does not need them,
        or when the model only has ``decision_function``).
    features : ndarray or sparse matrix of shape (n_pool, n_features)
        The whole pool's features (a view, never a copy).
    model : fitted estimator or None
        The selection model (``strategy.model``, else the evaluated model).
    loop : int
        The loop being selected for (1, 2, ...).
    rng : numpy.random.Generator
        Derived from the run seed and the loop: the only source of randomness.
    decision : ndarray of shape (n_candidates,) or (n_candidates, n_model_classes) or None
        ``model.decision_function`` for the candidates, given instead of ``proba`` when the
        model has no ``predict_proba`` and the strategy ``accepts_decision``.
    labeled : ndarray of shape (n_labeled,)
        Pool indices of the labeled records, in the order they were acquired.
    labels : ndarray of shape (n_labeled,)
        Their class codes (indices into ``classes``).
    classes : ndarray of shape (n_classes,)
        Every class of the data; a class code is an index into it, and ``model.predict``
        returns its values.
    learner : alcli.models.Learner or None
        Fits fresh copies of the selection model (committees, look-ahead) and predicts or
        embeds in chunks.
    seed : int
        The run seed, for work done once per run (derive generators with
        ``alcli.seeding.rng_for(seed, purpose)``).
    """

    candidates: np.ndarray
    proba: np.ndarray | None
    features: Any
    model: Any
    loop: int
    rng: np.random.Generator
    decision: np.ndarray | None = None
    labeled: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    classes: np.ndarray = field(default_factory=lambda: np.empty(0))
    learner: Any = None
    seed: int = 0

    @property
    def n_pool(self) -> int:
        return self.features.shape[0]

    def column_codes(self, n_columns: int) -> np.ndarray:
        """The class code of each column of ``proba`` / ``decision``, shape (n_columns,):
        the model's ``classes_`` (possibly only some classes in early loops) located in
        ``classes``; the columns themselves without a model or classes.

        Raises
        ------
        UnsupportedInput
            When the columns are not one per class (a one-vs-one decision_function).
        """
        model_classes = getattr(self.model, "classes_", None)
        if model_classes is None or self.classes.shape[0] == 0:
            return np.arange(n_columns)
        model_classes = np.asarray(model_classes)
        if model_classes.shape[0] != n_columns:
            raise UnsupportedInput(
                f"the model gives {n_columns} output columns for its {model_classes.shape[0]} "
                "classes (a one-vs-one decision_function?); use decision_function_shape: ovr "
                "or a model with predict_proba"
            )
        return codes_of(self.classes, model_classes)


@dataclass(frozen=True)
class Selection:
    """The records a strategy picked, most worth labeling first.

    Attributes
    ----------
    indices : ndarray of shape (n,)
        Pool indices, distinct, all unlabeled.
    scores : ndarray of shape (n,)
        Each record's score (higher = more worth labeling).
    picked_by : ndarray of shape (n,) of str, or None
        The strategy that picked each record, for strategies made of others (mixture,
        bandit, phases); None means the strategy itself.
    """

    indices: np.ndarray
    scores: np.ndarray
    picked_by: np.ndarray | None = None


class Strategy(ABC):
    """A querying strategy. Subclasses set ``name``, ``description`` and ``needs_proba``.

    ``Params`` is the pydantic model of the strategy's config keys; the constructor stores them.
    A strategy that keeps something from loop to loop (a history, bandit weights) returns it
    from :meth:`state` as arrays, which the run checkpoints in ``state.npz`` and gives back to
    :meth:`restore` on resume.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    needs_proba: ClassVar[bool] = False
    # Uses decision_function when the model has no predict_proba (ctx.decision).
    accepts_decision: ClassVar[bool] = False
    accepts_sparse: ClassVar[bool] = True
    # Works with missing feature values (NaN) when the model does.
    accepts_nan: ClassVar[bool] = True
    # What else the model must offer, in words, for `alcli strategies` (check_model enforces it).
    requires: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params: Any):
        self.params = self.Params(**params)

    @abstractmethod
    def select(self, ctx: SelectionContext, n: int) -> Selection:
        """Pick up to ``n`` distinct unlabeled records."""

    def observe(self, ctx: SelectionContext) -> None:
        """See loop ``ctx.loop``'s inference, whether or not this strategy selects in it.

        The engine calls it once per loop before :meth:`select`; strategies that learn from
        past loops update their history here. It must be idempotent for a loop (a resumed
        run may show the same loop again).
        """
        return None

    def state(self) -> dict[str, np.ndarray]:
        """What must survive a resume, as named arrays (O(pool) at most)."""
        return {}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Take back what :meth:`state` returned."""
        return None

    def check_model(self, estimator: Any) -> str | None:
        """Why this strategy cannot work with ``estimator`` (unfitted), or None if it can."""
        if not self.needs_proba or hasattr(estimator, "predict_proba"):
            return None
        if self.accepts_decision and hasattr(estimator, "decision_function"):
            return None
        methods = (
            "predict_proba or decision_function" if self.accepts_decision else ("predict_proba")
        )
        return (
            f"'{self.name}' scores records with {methods}, which {type(estimator).__name__} "
            "does not offer with these params; use a classifier that has it (e.g. "
            "LogisticRegression, or SVC with probability: true) or strategy: random"
        )

    def require_dense(self, ctx: SelectionContext) -> None:
        """Raise :class:`UnsupportedInput` if the features are sparse."""
        if not self.accepts_sparse and _is_sparse(ctx.features):
            raise UnsupportedInput(
                f"strategy '{self.name}' needs dense features and these are sparse; use a "
                "strategy that accepts sparse features (the uncertainty strategies, random, "
                "qbc, bald) or densify the data"
            )


def _is_sparse(features: Any) -> bool:
    return hasattr(features, "tocsr") and not isinstance(features, np.ndarray)


class ScoreStrategy(Strategy):
    """A strategy that only scores candidates; the shared selector picks the top ``n``."""

    @abstractmethod
    def score(self, ctx: SelectionContext) -> np.ndarray:
        """Scores of shape (n_candidates,), higher = label first."""

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        self.require_dense(ctx)
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
    ranked = np.where(np.isnan(scores), -np.inf, scores) if np.isnan(scores).any() else scores
    if n < ranked.shape[0]:
        # The n-th largest score; everything above it is in, and the records equal to it
        # share the places left at random. (One temporary of the pool's size, partitioned
        # in place.)
        negated = -ranked
        negated.partition(n - 1)
        cutoff = -negated[n - 1]
        del negated
        above = np.flatnonzero(ranked > cutoff)
        tied = np.flatnonzero(ranked == cutoff)
        chosen = np.concatenate([above, rng.choice(tied, n - above.shape[0], replace=False)])
    else:
        chosen = rng.permutation(ranked.shape[0])
    # Sort only the n winners (stable: ties keep their random order), never the pool.
    chosen = chosen[np.argsort(-ranked[chosen], kind="stable")]
    return Selection(candidates[chosen].astype(np.int64), scores[chosen])


class CompositeStrategy(Strategy):
    """A strategy made of others (phases, mixture, bandit): it needs what any part needs,
    shows every loop to every part, and checkpoints every part's state under its position.

    Subclasses set ``self.parts`` to ``[(label, strategy), ...]`` in ``__init__``; ``label``
    is what ``selected.csv`` records for the records a part picks.
    """

    parts: list[tuple[str, Strategy]]

    @property
    def needs_proba(self) -> bool:  # type: ignore[override]
        return any(part.needs_proba for _, part in self.parts)

    @property
    def accepts_decision(self) -> bool:  # type: ignore[override]
        return all(part.accepts_decision for _, part in self.parts if part.needs_proba)

    @property
    def accepts_sparse(self) -> bool:  # type: ignore[override]
        return all(part.accepts_sparse for _, part in self.parts)

    @property
    def accepts_nan(self) -> bool:  # type: ignore[override]
        return all(part.accepts_nan for _, part in self.parts)

    def observe(self, ctx: SelectionContext) -> None:
        for _, part in self.parts:
            part.observe(ctx)

    def state(self) -> dict[str, np.ndarray]:
        return {
            f"{k}.{key}": value
            for k, (_, part) in enumerate(self.parts)
            for key, value in part.state().items()
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        for k, (_, part) in enumerate(self.parts):
            prefix = f"{k}."
            part.restore(
                {key[len(prefix) :]: v for key, v in state.items() if key.startswith(prefix)}
            )

    def check_model(self, estimator: Any) -> str | None:
        for _, part in self.parts:
            problem = part.check_model(estimator)
            if problem:
                return problem
        return None


def part_labels(names: list[str]) -> list[str]:
    """Each part's label: its strategy's name, told apart by position when a name is given
    twice (``margin#1``, ``margin#2``)."""
    return [
        name if names.count(name) == 1 else f"{name}#{names[: k + 1].count(name)}"
        for k, name in enumerate(names)
    ]


def credited(label: str, selection: Selection) -> Selection:
    """``selection`` with ``picked_by`` naming the part: ``label`` for every record, or
    ``label/inner`` when the part is itself made of parts."""
    if selection.picked_by is None:
        picked_by = np.full(selection.indices.shape[0], label, dtype=object)
    else:
        picked_by = np.array([f"{label}/{inner}" for inner in selection.picked_by], dtype=object)
    return Selection(selection.indices, selection.scores, picked_by)
