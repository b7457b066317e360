"""Loop-size schedules: how many records each loop after loop 0 asks to label.

Each schedule answers ``size(loop, n_labeled, n_unlabeled) -> int`` for loops 1, 2, ... (the
loop number, the labels so far and the records still unlabeled); 0 means it has nothing more
to ask. To add one: a class here with its ``Config`` beside it, and one line in
:data:`SCHEDULES`; the contract suite then runs it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt

from alcli.registry import Registry
from alcli.schema import Section

#: A size past any pool (sizes are capped by the pool anyway; this keeps them integers).
LARGEST_SIZE = 2**62


class Schedule(ABC):
    """A loop-size schedule; the constructor takes its config's keys (but ``schedule``)."""

    Config: ClassVar[type[Section]]

    @abstractmethod
    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        """Records loop ``loop`` (1, 2, ...) asks to label; 0 when there is nothing more."""


class ConstantSchedule(Section):
    schedule: Literal["constant"] = Field("constant", description="The same size every loop.")
    size: PositiveInt = Field(20, description="Records labeled per loop.")


class Constant(Schedule):
    """The same size every loop."""

    Config = ConstantSchedule

    def __init__(self, size: int):
        self.fixed = size

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return self.fixed


class ListSchedule(Section):
    schedule: Literal["list"] = Field(description="One given size per loop.")
    sizes: list[PositiveInt] = Field(
        min_length=1, description="One size per loop; the run stops when the list ends."
    )


class Listed(Schedule):
    """One size per loop, then nothing (the run stops with ``schedule_exhausted``)."""

    Config = ListSchedule

    def __init__(self, sizes: list[int]):
        self.sizes = sizes

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return self.sizes[loop - 1] if loop <= len(self.sizes) else 0


class LinearSchedule(Section):
    schedule: Literal["linear"] = Field(description="Sizes that grow by a fixed step.")
    size: PositiveInt = Field(description="The size of loop 1.")
    step: int = Field(description="Added per loop (may be negative; sizes never drop below 1).")


class Linear(Schedule):
    """``size + step * (loop - 1)``, never below 1."""

    Config = LinearSchedule

    def __init__(self, size: int, step: int):
        self.start = size
        self.step = step

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return max(1, self.start + self.step * (loop - 1))


class GeometricSchedule(Section):
    schedule: Literal["geometric"] = Field(description="Sizes that grow by a fixed factor.")
    size: PositiveInt = Field(description="The size of loop 1.")
    factor: float = Field(gt=1, description="Each loop is factor times the previous one.")


class Geometric(Schedule):
    """``size * factor ** (loop - 1)``, rounded half up."""

    Config = GeometricSchedule

    def __init__(self, size: int, factor: float):
        self.start = size
        self.factor = factor

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        try:
            grown = self.start * self.factor ** (loop - 1)
        except OverflowError:  # a huge factor after a few loops: more than any pool
            return LARGEST_SIZE
        if grown >= LARGEST_SIZE:
            return LARGEST_SIZE
        return max(1, math.floor(grown + 0.5))


SCHEDULES: Registry[Schedule] = Registry(
    "schedule",
    {"constant": Constant, "list": Listed, "linear": Linear, "geometric": Geometric},
    base=Schedule,
)
#: The ``loop_size`` section: a registered schedule's config, picked by ``schedule``.
LoopSizeConfig = SCHEDULES.section("constant")
DEFAULT_SCHEDULE = ConstantSchedule


def build_schedule(cfg: Any) -> Schedule:
    """The schedule a ``loop_size`` config section names."""
    params = cfg.model_dump(exclude={"schedule"})
    return SCHEDULES[cfg.schedule](**params)


def capped_size(schedule, loop: int, n_labeled: int, n_unlabeled: int, budget: int | None) -> int:
    """The schedule's size for ``loop``, capped by what is left in the pool and the budget.

    Parameters
    ----------
    schedule : Schedule
    loop : int
    n_labeled, n_unlabeled : int
    budget : int or None
        Labels in total, or no limit.

    Returns
    -------
    int
        At least 0.
    """
    size = min(schedule.size(loop, n_labeled, n_unlabeled), n_unlabeled)
    if budget is not None:
        size = min(size, budget - n_labeled)
    return max(size, 0)
