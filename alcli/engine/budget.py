"""The budget arithmetic: how many records a loop may ask for, in labels and in money."""

from __future__ import annotations

from alcli.config import ExperimentConfig
from alcli.engine.state import RunState
from alcli.labelers import max_price
from alcli.schedules import capped_size


def tracks_cost(config: ExperimentConfig) -> bool:
    """Whether labels cost anything here (a price set, or a money budget)."""
    return config.stop.budget_cost is not None or max_price(config.labeler) > 0


def affordable(config: ExperimentConfig, size: int, spent: float) -> int:
    """``size`` cut so that even the dearest answers stay within stop.budget_cost."""
    budget, price = config.stop.budget_cost, max_price(config.labeler)
    if budget is None or price <= 0:
        return size
    return max(min(size, int((budget - spent) / price + 1e-9)), 0)


def loop_size(state: RunState, loop: int, spent: float) -> int:
    """What loop ``loop`` may label: the schedule's size, capped by the pool, stop.budget
    and (with ``spent`` so far) stop.budget_cost."""
    pool = state.pool
    size = capped_size(
        state.schedule, loop, pool.n_labeled, pool.n_unlabeled, state.config.stop.budget
    )
    return affordable(state.config, size, spent)
