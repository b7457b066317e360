"""Loop-size schedules: how many records each loop after loop 0 asks to label.

Each schedule answers ``size(loop, n_labeled, n_unlabeled) -> int`` for loops 1, 2, ... (the
loop number, the labels so far and the records still unlabeled); 0 means it has nothing more
to ask. To add one: a class here, a config class in config.py, one registry line.
"""

from __future__ import annotations

import math
from types import MappingProxyType


class Constant:
    """The same size every loop."""

    def __init__(self, size: int):
        self.fixed = size

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return self.fixed


class Listed:
    """One size per loop, then nothing (the run stops with ``schedule_exhausted``)."""

    def __init__(self, sizes: list[int]):
        self.sizes = sizes

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return self.sizes[loop - 1] if loop <= len(self.sizes) else 0


class Linear:
    """``size + step * (loop - 1)``, never below 1."""

    def __init__(self, size: int, step: int):
        self.start = size
        self.step = step

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return max(1, self.start + self.step * (loop - 1))


class Geometric:
    """``size * factor ** (loop - 1)``, rounded half up."""

    def __init__(self, size: int, factor: float):
        self.start = size
        self.factor = factor

    def size(self, loop: int, n_labeled: int, n_unlabeled: int) -> int:
        return max(1, math.floor(self.start * self.factor ** (loop - 1) + 0.5))


SCHEDULES = MappingProxyType(
    {"constant": Constant, "list": Listed, "linear": Linear, "geometric": Geometric}
)


def build_schedule(cfg) -> Constant | Listed | Linear | Geometric:
    """The schedule a ``loop_size`` config section names."""
    params = cfg.model_dump(exclude={"schedule"})
    return SCHEDULES[cfg.schedule](**params)


def capped_size(schedule, loop: int, n_labeled: int, n_unlabeled: int, budget: int | None) -> int:
    """The schedule's size for ``loop``, capped by what is left in the pool and the budget.

    Parameters
    ----------
    schedule : a schedule (``size(loop, n_labeled, n_unlabeled)``)
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
