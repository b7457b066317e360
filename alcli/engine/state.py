"""What one run holds between its steps: the pool and models, the batch in hand, the loops
done so far. Plain data; the steps and the runner change it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alcli.config import ExperimentConfig
from alcli.data import Dataset, RecordSource
from alcli.engine.warned import Caught
from alcli.initialization import InitMethod
from alcli.labelers import Answers, Labeler
from alcli.pool import Pool
from alcli.rundir import LoopRecord, RunDir
from alcli.schedules import Schedule
from alcli.stopping import StopCriterion
from alcli.strategies import Strategy

#: TRAIN fits on the labeled records in pool order (recorded in run.json as train_order).
TRAIN_ORDER = "pool"
#: What a run directory without train_order in run.json (made before it existed) fit in.
LEGACY_TRAIN_ORDER = "acquisition"


class AwaitingLabels(Exception):
    """LABEL is with a person: the batch and its answers so far are saved; the run waits."""

    def __init__(self, loop: int, message: str, n_open: int):
        super().__init__(message)
        self.loop, self.message, self.n_open = loop, message, n_open


@dataclass(frozen=True)
class Carried:
    """Skips of first batches skipped entirely (nothing to train on, so another batch was
    drawn): they count with the loop that finally gets labels."""

    indices: np.ndarray
    labeler: np.ndarray
    cost: np.ndarray

    @classmethod
    def none(cls) -> Carried:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=object), np.empty(0))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Carried:
        if "carried.indices" not in arrays:
            return cls.none()
        return cls(
            arrays["carried.indices"].astype(np.int64),
            arrays["carried.labeler"].astype(object),
            arrays["carried.cost"].astype(np.float64),
        )

    def plus(self, indices: np.ndarray, labeler: np.ndarray, cost: np.ndarray) -> Carried:
        return Carried(
            np.concatenate([self.indices, indices]),
            np.concatenate([self.labeler, labeler]),
            np.concatenate([self.cost, cost]),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.size:
            return {}
        return {
            "carried.indices": self.indices,
            "carried.labeler": self.labeler.astype(str),
            "carried.cost": self.cost,
        }

    @property
    def size(self) -> int:
        return int(self.indices.shape[0])

    @property
    def cost_sum(self) -> float:
        return float(self.cost.sum())


@dataclass
class Batch:
    """A loop's selected records and the answers given for them so far."""

    indices: np.ndarray
    scores: np.ndarray
    picked_by: np.ndarray
    answers: Answers

    def arrays(self, answers: Answers) -> dict[str, np.ndarray]:
        """As ``pending/loop-NNNN/batch.npz`` holds it (text as unicode arrays: no pickles)."""
        arrays = {
            "indices": self.indices,
            "scores": self.scores,
            "picked_by": self.picked_by.astype(str),
            "codes": answers.codes,
            "labeler": answers.labeler.astype(str),
            "cost": answers.cost,
        }
        if answers.truth is not None:
            arrays["truth"] = answers.truth
        return arrays

    @classmethod
    def empty(cls) -> Batch:
        return cls(
            np.empty(0, dtype=np.int64),
            np.empty(0),
            np.empty(0, dtype=object),
            Answers.unanswered(0),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Batch:
        answers = Answers(
            codes=arrays["codes"].astype(np.int64),
            labeler=arrays["labeler"].astype(object),
            cost=arrays["cost"].astype(np.float64),
            truth=arrays["truth"].astype(np.int64) if "truth" in arrays else None,
        )
        return cls(
            arrays["indices"].astype(np.int64),
            arrays["scores"].astype(np.float64),
            arrays["picked_by"].astype(object),
            answers,
        )


@dataclass
class RunState:
    """One run's components and everything that changes from loop to loop.

    Attributes
    ----------
    config : ExperimentConfig
    data : Dataset
    rundir : RunDir
    pool : Pool
        Which records are labeled (a mask over ``data.X``, never a copy).
    init : InitMethod
    initial : ndarray or None
        Loop 0's pool indices when the init method is given them (ids, labeled).
    strategy, labeler, schedule
        Built once per run from the config.
    criteria : list of StopCriterion
    records : RecordSource
        Records as people read them (for labelers that show them).
    y_test : ndarray
        The test labels as the scorers see them.
    model, selection_model : fitted estimators or None
        The evaluated model and the one SELECT scores with (the same object unless
        ``strategy.model`` is set).
    candidates, proba, decision : ndarrays or None
        INFER's output for the next SELECT.
    signals : frozenset of str
        The signals INFER measures for the label-free stop criteria (none asked: empty).
    predicted : ndarray of int32, shape (n_pool,), or None
        The class code each candidate was last predicted (-1: never), for ``changed``.
    stop_set, stop_set_predictions : ndarrays or None
        The stop set's pool indices (drawn once) and the last model's predictions on it, for
        ``kappa``.
    last : LoopRecord or None
        The last complete loop. Only it is kept: the others are on disk, and a history that
        grows in memory would make Python's garbage collector slower every loop.
    carried : Carried
        Skips of first batches skipped entirely, counted with the loop that gets labels.
    new_classes : list
        Classes annotators added during the run.
    train_order : str
        The order TRAIN fits on the labels in: ``pool`` (runs from this version on), or
        ``acquisition`` (older runs, which keep it so that they resume identically).
    caught : Caught
        The warnings the steps of the loop under way raised so far.
    """

    config: ExperimentConfig
    data: Dataset
    rundir: RunDir
    pool: Pool
    init: InitMethod
    initial: np.ndarray | None
    strategy: Strategy
    labeler: Labeler
    schedule: Schedule
    criteria: list[StopCriterion]
    records: RecordSource
    y_test: np.ndarray
    new_classes: list = field(default_factory=list)
    train_order: str = TRAIN_ORDER
    signals: frozenset = frozenset()
    #: metrics.csv's metric and optional columns, set once the signals are known.
    columns: tuple[list[str], list[str]] = ([], [])
    predicted: np.ndarray | None = None
    stop_set: np.ndarray | None = None
    stop_set_predictions: np.ndarray | None = None
    model: Any = None
    selection_model: Any = None
    candidates: np.ndarray | None = None
    proba: np.ndarray | None = None
    decision: np.ndarray | None = None
    last: LoopRecord | None = None
    carried: Carried = field(default_factory=lambda: Carried.none())
    #: What the labels of the saved loops cost (kept as loops are added: O(1) a loop).
    spent: float = 0.0
    caught: Caught = field(default_factory=Caught)

    def add_loop(self, record: LoopRecord) -> None:
        self.last = record
        self.spent += record.cost or 0.0

    def set_history(self, records: list[LoopRecord]) -> None:
        """Take the complete loops read back on resume."""
        self.last = records[-1] if records else None
        self.spent = float(sum(record.cost or 0.0 for record in records))

    @property
    def last_loop(self) -> int | None:
        return None if self.last is None else self.last.loop

    def strategy_name(self, loop: int) -> str:
        return self.config.init.method if loop == 0 else self.config.strategy.name


def strategy_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The strategy's arrays of a checkpoint or a pending batch (saved as ``strategy.*``)."""
    return {k.removeprefix("strategy."): v for k, v in arrays.items() if k.startswith("strategy.")}


def plain_list(values: list) -> list:
    """Class labels as JSON holds them (numpy integers as ints)."""
    return [v.item() if hasattr(v, "item") else v for v in values]
