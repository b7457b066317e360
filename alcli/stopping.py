"""Stop criteria: after each loop, the first one that holds ends the run."""

from __future__ import annotations

from dataclasses import dataclass

from alcli.config import StopConfig


@dataclass(frozen=True)
class Progress:
    """Where a run stands after a loop.

    Attributes
    ----------
    loop : int
    n_labeled : int
    metrics : dict of str to float
        This loop's test metrics.
    next_size : int
        What the next loop would label, already capped by pool and budget (0: nothing).
    n_unlabeled : int
        Records that can still be selected.
    spent : float
        What the labels so far cost.
    affordable : bool
        Whether one more answer, at the dearest price, fits stop.budget_cost.
    """

    loop: int
    n_labeled: int
    metrics: dict[str, float]
    next_size: int
    n_unlabeled: int
    spent: float = 0.0
    affordable: bool = True


def stop_reason(cfg: StopConfig, progress: Progress) -> str | None:
    """The reason to stop after this loop, or None to go on.

    Parameters
    ----------
    cfg : StopConfig
    progress : Progress

    Returns
    -------
    str or None
        Reasons, checked in this order: ``target`` (a metric reached its value),
        ``max_loops``, ``budget`` (labels spent), ``budget_cost`` (money spent, or not
        enough left for one more answer), ``pool_exhausted`` (nothing left to label),
        ``schedule_exhausted`` (a list schedule ended).
    """
    if cfg.target is not None and progress.metrics.get(cfg.target.metric, -float("inf")) >= (
        cfg.target.value
    ):
        return "target"
    if progress.loop >= cfg.max_loops:
        return "max_loops"
    if cfg.budget is not None and progress.n_labeled >= cfg.budget:
        return "budget"
    if cfg.budget_cost is not None and (
        progress.spent >= cfg.budget_cost or not progress.affordable
    ):
        return "budget_cost"
    if progress.n_unlabeled == 0:
        return "pool_exhausted"
    if progress.next_size == 0:
        return "schedule_exhausted"
    return None
