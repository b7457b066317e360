"""What stopping earlier would have saved: every label-free stop criterion replayed over the
signals a finished run recorded, for a few values of its parameter."""

from __future__ import annotations

import itertools
import math
from typing import Any

from alcli.stopping import SIGNALS, STOP_CRITERIA, TEST_SET, Progress


def replay(loops: list[dict[str, Any]], metric_names: list[str]) -> list[dict[str, Any]]:
    """For each criterion whose signals the run recorded and each value of its
    ``replay_grid``: the loop it would have stopped at, what that saves and gives up.

    Parameters
    ----------
    loops : list of dict
        metrics.csv's rows, typed (as ``read_metrics_csv`` returns them).
    metric_names : list of str
        The run's test metrics (empty without a test set); the first is the one reported.

    Returns
    -------
    list of dict
        ``criterion``, ``params``, ``stop_loop`` (None: it would not have stopped),
        ``labels``, ``labels_saved``, ``cost_saved``, ``metric``, ``value``, ``final_value``,
        ``given_up`` (the metric lost by stopping there; None without a test set).
    """
    if not loops:
        return []
    recorded = {name for name in SIGNALS if name in loops[0]}
    metric = metric_names[0] if metric_names else None
    rows = []
    for name, cls in STOP_CRITERIA.items():
        needs = set(cls.needs)
        if not cls.replay_grid or not needs <= recorded | ({TEST_SET} if metric else set()):
            continue
        fixed = {"metric": metric} if TEST_SET in needs else {}
        keys = list(cls.replay_grid)
        for values in itertools.product(*(cls.replay_grid[k] for k in keys)):
            params = {**fixed, **dict(zip(keys, values, strict=True))}
            rows.append(_outcome(name, cls(**params), params, loops, metric))
    return rows


def _outcome(name: str, criterion, params: dict, loops: list[dict], metric: str | None) -> dict:
    stop = None
    for row in loops:
        progress = Progress(
            loop=row["loop"],
            n_labeled=row["n_labeled"],
            metrics={m: row[m] for m in ([metric] if metric else [])},
            next_size=1,
            n_unlabeled=1,
            signals={s: _number(row[s]) for s in SIGNALS if s in row},
        )
        criterion.observe(progress)
        if criterion.check(progress):
            stop = row
            break
    last = loops[-1]
    later = loops[loops.index(stop) + 1 :] if stop is not None else []
    return {
        "criterion": name,
        "params": params,
        "stop_loop": None if stop is None else stop["loop"],
        "labels": None if stop is None else stop["n_labeled"],
        "labels_saved": 0 if stop is None else last["n_labeled"] - stop["n_labeled"],
        "cost_saved": sum(row.get("cost") or 0.0 for row in later),
        "metric": metric,
        "value": None if stop is None or metric is None else stop[metric],
        "final_value": None if metric is None else last[metric],
        "given_up": None if stop is None or metric is None else last[metric] - stop[metric],
    }


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
