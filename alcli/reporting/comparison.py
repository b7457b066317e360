"""What `alcli compare` computes, as plain data: the runs it read, their groups, and each
group's statistics. experiments/compare.py fills these in; the table, JSON, CSV, plots and
HTML report only read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class RunCurve:
    """One run directory as compare reads it: who it is and its learning curves."""

    path: Path
    seed: int
    status: str
    #: The flattened frozen config (``strategy.name`` -> ``"margin"``), without the keys that
    #: name a run rather than describe it (name, seed, output.*).
    keys: dict[str, Any]
    metric_names: list[str]
    #: Per complete loop: labels so far, cost so far (None when the run has no prices),
    #: compute seconds so far (every step of every loop up to this one).
    n_labeled: np.ndarray
    cost: np.ndarray | None
    seconds: np.ndarray
    #: metric name -> value per loop
    values: dict[str, np.ndarray]
    data_fingerprint: str
    #: The sorted pool indices of loop 0 (the initial set): paired runs must share them.
    initial: tuple[int, ...]

    @property
    def loops(self) -> int:
        return int(self.n_labeled.shape[0])

    def x(self, axis: str) -> np.ndarray:
        """The curve's x values: ``labels``, ``cost`` or ``seconds``."""
        if axis == "labels":
            return self.n_labeled
        if axis == "cost":
            return self.cost if self.cost is not None else self.n_labeled.astype(float)
        return self.seconds


@dataclass(eq=False)
class Group:
    """Runs that share the values of the compared keys (e.g. ``strategy.name=margin``)."""

    label: str
    #: The compared keys' values for this group, in the comparison's key order.
    keys: dict[str, Any]
    runs: list[RunCurve]
    #: The label of the group it is compared with, or None (it is a reference, or has none).
    reference: str | None = None
    is_reference: bool = False
    #: (this group's run, the reference's run) with the same seed and start.
    pairs: list[tuple[RunCurve, RunCurve]] = field(default_factory=list)
    # --- statistics over the runs (the comparison's metric) --------------------------------
    final: float = float("nan")
    aulc: float = float("nan")
    aulc_loops: float = float("nan")
    #: Median labels to reach the comparison's target (inf when most runs never reached it).
    labels_to_target: float = float("inf")
    reached: int = 0
    seconds_per_run: float = float("nan")
    seconds_per_loop: float = float("nan")
    # --- against the reference (paired by seed) --------------------------------------------
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    wins: int = 0
    ties: int = 0
    losses: int = 0
    #: Rank of the group's nAULC among the groups on the same data (1 = best), and the mean
    #: of that rank over the datasets for the same method (None with one dataset).
    rank: float | None = None
    mean_rank: float | None = None

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    def verdict(self) -> str:
        """``better``, ``worse``, ``no difference shown`` or ``""`` (no interval)."""
        if self.ci_low is None or self.ci_high is None:
            return ""
        if self.ci_low > 0:
            return "better"
        if self.ci_high < 0:
            return "worse"
        return "no difference shown"


@dataclass(eq=False)
class Comparison:
    metric: str
    #: ``labels``: nAULC over labeled counts; the groups' statistics use it.
    group_keys: list[str]
    groups: list[Group]
    target: float | None
    #: How the target was set, in words (``95% of the best group's final accuracy``).
    target_rule: str
    reference_value: str | None
    tie_tolerance: float
    confidence: float = 0.95
    resamples: int = 10_000
    #: The keys that name the data (``data.source``, ``data.path``, ...), when several
    #: datasets are compared; empty with one.
    dataset_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def group(self, label: str) -> Group:
        return next(g for g in self.groups if g.label == label)

    @property
    def runs(self) -> list[RunCurve]:
        return [run for group in self.groups for run in group.runs]


#: summary.csv's columns (and the JSON's per group), in the order the table shows them.
SUMMARY_COLUMNS = [
    "group",
    "runs",
    "final",
    "aulc",
    "aulc_loops",
    "labels_to_target",
    "reached",
    "reference",
    "diff",
    "ci_low",
    "ci_high",
    "wins",
    "ties",
    "losses",
    "verdict",
    "rank",
    "mean_rank",
    "seconds_per_run",
    "seconds_per_loop",
]
CURVE_COLUMNS = ["run", "group", "seed", "loop", "labeled", "cost", "seconds", "metric", "value"]


def summary_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One row per group (summary.csv, the JSON's groups, the table)."""
    return [
        {
            "group": g.label,
            "runs": g.n_runs,
            "final": g.final,
            "aulc": g.aulc,
            "aulc_loops": g.aulc_loops,
            "labels_to_target": None if np.isinf(g.labels_to_target) else g.labels_to_target,
            "reached": g.reached,
            "reference": g.reference or ("(reference)" if g.is_reference else None),
            "diff": g.diff,
            "ci_low": g.ci_low,
            "ci_high": g.ci_high,
            "wins": g.wins if g.pairs else None,
            "ties": g.ties if g.pairs else None,
            "losses": g.losses if g.pairs else None,
            "verdict": g.verdict(),
            "rank": g.rank,
            "mean_rank": g.mean_rank,
            "seconds_per_run": g.seconds_per_run,
            "seconds_per_loop": g.seconds_per_loop,
        }
        for g in comparison.groups
    ]


def curve_rows(comparison: Comparison, root: Path | None = None) -> Iterator[list[Any]]:
    """curves.csv's rows, long: one per run, loop and metric; runs named by their path
    relative to ``root`` (a sweep directory) when given."""
    for group in comparison.groups:
        for run in group.runs:
            name = str(run.path if root is None else run.path.relative_to(root))
            for metric in run.metric_names:
                values = run.values[metric]
                for loop in range(run.loops):
                    yield [
                        name,
                        group.label,
                        run.seed,
                        loop,
                        int(run.n_labeled[loop]),
                        "" if run.cost is None else float(run.cost[loop]),
                        round(float(run.seconds[loop]), 6),
                        metric,
                        float(values[loop]),
                    ]


def to_json(comparison: Comparison) -> str:
    return (
        json.dumps(
            {
                "metric": comparison.metric,
                "group_keys": comparison.group_keys,
                "reference": comparison.reference_value,
                "target": comparison.target,
                "target_rule": comparison.target_rule,
                "tie_tolerance": comparison.tie_tolerance,
                "confidence": comparison.confidence,
                "resamples": comparison.resamples,
                "notes": comparison.notes,
                "groups": [
                    {**row, "keys": g.keys, "runs_paths": [str(r.path) for r in g.runs]}
                    for row, g in zip(summary_rows(comparison), comparison.groups, strict=True)
                ],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
