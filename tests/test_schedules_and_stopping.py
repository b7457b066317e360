"""Loop-size schedules (a contract over the registry plus a table) and stop criteria."""

from __future__ import annotations

import pytest

from alcli.schedules import SCHEDULES, Constant, Geometric, Linear, Listed, capped_size
from alcli.stopping import StopConfig, stop_reason
from tests.conftest import progress_after

EXAMPLES = {
    "constant": Constant(size=20),
    "list": Listed(sizes=[5, 10, 40]),
    "linear": Linear(size=10, step=5),
    "geometric": Geometric(size=10, factor=1.5),
}


def test_every_registered_schedule_has_an_example():
    assert set(EXAMPLES) == set(SCHEDULES)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_contract(name):
    schedule = EXAMPLES[name]
    sizes = [schedule.size(loop, 100, 1000) for loop in range(1, 30)]
    assert all(isinstance(s, int) and s >= 0 for s in sizes)
    assert sizes == [schedule.size(loop, 100, 1000) for loop in range(1, 30)]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (Constant(size=7), [7, 7, 7, 7]),
        (Listed(sizes=[5, 10, 40]), [5, 10, 40, 0]),
        (Linear(size=10, step=5), [10, 15, 20, 25]),
        (Linear(size=10, step=-4), [10, 6, 2, 1]),
        (Geometric(size=10, factor=1.5), [10, 15, 23, 34]),
        (Geometric(size=1, factor=2), [1, 2, 4, 8]),
    ],
)
def test_schedule_sizes(schedule, expected):
    assert [schedule.size(loop, 0, 10**6) for loop in range(1, 5)] == expected


@pytest.mark.parametrize(
    ("n_labeled", "n_unlabeled", "budget", "expected"),
    [(20, 1000, None, 50), (20, 30, None, 30), (20, 1000, 45, 25), (45, 1000, 45, 0)],
)
def test_sizes_are_capped_by_pool_and_budget(n_labeled, n_unlabeled, budget, expected):
    assert capped_size(Constant(size=50), 1, n_labeled, n_unlabeled, budget) == expected


def progress(**changes):
    return progress_after(**changes)


@pytest.mark.parametrize(
    ("stop", "state", "reason"),
    [
        ({"max_loops": 5}, {}, None),
        ({"max_loops": 2}, {}, "max_loops"),
        ({"max_loops": 0}, {"loop": 0}, "max_loops"),
        ({"budget": 60}, {}, "budget"),
        ({"budget": 61}, {}, None),
        ({"target": {"metric": "accuracy", "value": 0.8}}, {}, "target"),
        ({"target": {"metric": "accuracy", "value": 0.81}}, {}, None),
        ({}, {"n_unlabeled": 0, "next_size": 0}, "pool_exhausted"),
        ({}, {"next_size": 0}, "schedule_exhausted"),
        ({"max_loops": 2, "target": {"metric": "accuracy", "value": 0.5}}, {}, "target"),
    ],
)
def test_stop_reasons(stop, state, reason):
    assert stop_reason(StopConfig(**stop), progress(**state)) == reason
