"""SELECT: loop 0's initial set, then the strategy's picks among the candidates."""

from __future__ import annotations

from typing import Any

import numpy as np

from alcli.engine.budget import loop_size
from alcli.engine.state import RunState
from alcli.errors import DataError, preview
from alcli.models import Learner
from alcli.pool import Pool
from alcli.seeding import INIT, SELECT, rng_for
from alcli.strategies import SelectionContext


class StrategyBroke(RuntimeError):
    """A strategy returned something the loop cannot use (a user's own, most likely)."""


def select(state: RunState, loop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The records to label, their scores, and the strategy that picked each."""
    cfg = state.config
    if loop == 0:
        initial = initial_set(state)
        return (
            initial,
            np.full(initial.shape[0], np.nan),
            np.full(initial.shape[0], cfg.init.method, dtype=object),
        )
    size = loop_size(state, loop, state.spent)
    order, codes = state.pool.training_set()
    selection_cfg = cfg.strategy.model or cfg.model
    ctx = SelectionContext(
        candidates=state.candidates,
        proba=state.proba,
        features=state.pool.features,
        model=state.selection_model,
        loop=loop,
        rng=rng_for(cfg.seed, SELECT, loop),
        decision=state.decision,
        labeled=order,
        labels=codes,
        classes=state.data.classes,
        learner=Learner(
            selection_cfg,
            cfg.seed,
            loop,
            n_classes=state.data.classes.shape[0],
            chunk_size=selection_cfg.chunk_size,
            n_jobs=selection_cfg.n_jobs,
            classes=state.data.classes,
        ),
        seed=cfg.seed,
    )
    state.strategy.observe(ctx)
    selection = state.strategy.select(ctx, size)
    check_selection(selection, size, state.pool, cfg.strategy.name)
    picked_by = selection.picked_by
    if picked_by is None:
        picked_by = np.full(selection.indices.shape[0], state.strategy_name(loop), dtype=object)
    return selection.indices, selection.scores, picked_by


def initial_set(state: RunState) -> np.ndarray:
    """Loop 0's records: given ones, or drawn by the init method (again, among the records
    left, when every record of a first batch was skipped)."""
    cfg, pool = state.config, state.pool
    skipped = pool.n_skipped > 0  # a first batch every record of which was skipped
    if state.initial is not None and not skipped:
        return state.initial
    if state.initial is not None or pool.n_unlabeled == 0:
        raise DataError(
            f"every record of loop 0 was skipped ({pool.n_skipped} so far), "
            "so there is nothing to train on; "
            + (
                f"list other ids in {cfg.init.path} (init.path)"
                if cfg.init.method == "ids"
                else "label at least one record of the first batch"
            )
        )
    candidates = pool.unlabeled_indices() if skipped else None
    return state.init.draw(pool.features, candidates, rng_for(cfg.seed, INIT))


def check_selection(selection: Any, size: int, pool: Pool, name: str) -> None:
    """Refuse a selection that would break the run's guarantees (loop size, budget, one
    label per record), naming the strategy."""
    indices = np.asarray(selection.indices)
    problem = None
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        problem = f"indices must be a 1-d integer array, got shape {indices.shape} {indices.dtype}"
    elif indices.shape[0] > size:
        problem = f"{indices.shape[0]} records for a loop of {size}"
    elif indices.size and (indices.min() < 0 or indices.max() >= pool.size):
        problem = f"pool indices outside 0..{pool.size - 1}"
    elif np.unique(indices).shape[0] != indices.shape[0]:
        problem = "the same record twice"
    elif pool.labeled[indices].any():
        again = indices[pool.labeled[indices]]
        problem = f"already labeled records (pool indices {preview(again)})"
    elif np.shape(selection.scores) != indices.shape:
        problem = f"{np.shape(selection.scores)} scores for {indices.shape[0]} records"
    if problem:
        raise StrategyBroke(f"strategy '{name}' returned {problem}")
