"""Compare runs: group them by the config keys that differ, pair each group's runs with its
reference's by seed, and summarize with paired statistics.

Statistics per group, on one metric (the runs' first by default):

- ``final``: the mean of the runs' last value.
- ``aulc``: the mean normalized area under the learning curve, as `alcli report` computes it
  (trapezoids over the labeled count, divided by the labeled range: the mean metric over the
  labels paid for). ``aulc_loops`` takes each loop as one step instead (trapezoids over loops
  after the initial set, divided by the loops): the re-benchmark's form, equal to ``aulc``
  when every loop has the same size.
- ``labels_to_target``: the median over runs of the first labeled count whose value reaches
  the target (infinite when most runs never do); ``reached`` counts the runs that did.
- Against the reference group (same keys but the reference's; ``random`` by default): the mean
  of the per-seed differences of ``aulc`` (paired: same seed, same test split and initial
  set), its 95% percentile bootstrap interval (seeds resampled, 10,000 times, seeded), and
  wins / ties / losses over seeds, a tie being ``|difference| <= tie_tolerance``.
- With several datasets (the ``data.*`` keys differ): each group's rank among the groups on
  its data, and the mean of that rank over the datasets for the same method.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from alcli.errors import ConfigError, RunDirError, UserInputError, preview
from alcli.experiments.checks import paired_interval
from alcli.metrics import aulc, labels_to_reach
from alcli.reporting.comparison import Comparison, Group, RunCurve
from alcli.reporting.runs import read_run_curve, run_dirs_under
from alcli.schema import did_you_mean

DEFAULT_REFERENCE = "random"
#: Where the reference value is looked for first (it may be the value of other keys too).
REFERENCE_KEY = "strategy.name"
DEFAULT_TARGET_SHARE = 0.95
#: nAULC differences this small are ties: half a point of accuracy, below what a test set of
#: a few hundred records resolves.
DEFAULT_TIE = 0.005
DATASET_PREFIX = "data."


def collect_runs(paths: Iterable[Path]) -> tuple[list[RunCurve], list[str]]:
    """The completed runs in ``paths`` (run, sweep or any folder of runs), and notes on the
    runs left out.

    Raises
    ------
    RunDirError
        When a path holds no run at all, or a run cannot be read.
    """
    runs: list[RunCurve] = []
    left_out: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        found = [p for p in run_dirs_under(Path(path)) if p.resolve() not in seen]
        if not found and not any(p.resolve() in seen for p in run_dirs_under(Path(path))):
            raise RunDirError(
                f"{path} holds no run directory; give run directories (made by `alcli run`) "
                "or sweep directories (made by `alcli sweep`)."
            )
        for run_path in found:
            seen.add(run_path.resolve())
            run = read_run_curve(run_path)
            if run.status == "completed" and run.loops:
                runs.append(run)
            else:
                left_out.append(f"{run_path} ({run.status})")
    if not runs:
        raise RunDirError(
            f"no completed run in {preview(str(p) for p in paths)}: "
            f"{preview(left_out, 3)}; finish them with `alcli resume`."
        )
    notes = []
    if left_out:
        notes.append(
            f"{len(left_out)} run(s) left out because they have not completed: "
            f"{preview(left_out, 3)}"
        )
    return runs, notes


def compare(
    runs: list[RunCurve],
    by: list[str] | None = None,
    reference: str | None = DEFAULT_REFERENCE,
    metric: str | None = None,
    target: float | None = None,
    target_share: float = DEFAULT_TARGET_SHARE,
    tie_tolerance: float = DEFAULT_TIE,
    notes: list[str] | None = None,
) -> Comparison:
    """Group, pair and summarize ``runs`` (see the module's docstring).

    Raises
    ------
    UserInputError
        When ``by`` or ``metric`` names nothing the runs have, or paired runs did not share
        their data or initial set.
    """
    metric = _pick_metric(runs, metric)
    group_keys = _group_keys(runs, by)
    groups = _groups(runs, group_keys)
    comparison = Comparison(
        metric=metric,
        group_keys=group_keys,
        groups=groups,
        target=None,
        target_rule="",
        reference_value=reference,
        tie_tolerance=tie_tolerance,
        dataset_keys=[k for k in group_keys if k.startswith(DATASET_PREFIX)],
        notes=list(notes or []),
    )
    for group in groups:
        _summarize(group, metric)
    _set_target(comparison, target, target_share)
    if reference:
        _pair_with_reference(comparison, reference)
    _rank(comparison)
    return comparison


# --- grouping ---------------------------------------------------------------------------------


def _pick_metric(runs: list[RunCurve], metric: str | None) -> str:
    common = [m for m in runs[0].metric_names if all(m in r.metric_names for r in runs)]
    if not common:
        raise UserInputError(
            "the runs share no test metric (runs without a test set score nothing); compare "
            "runs that have a test set"
        )
    if metric is None:
        return common[0]
    if metric not in common:
        raise ConfigError(
            "--metric",
            [
                f"'{metric}' is not a metric of every run{did_you_mean(metric, common)}; "
                f"the runs have {', '.join(common)}"
            ],
        )
    return metric


def _group_keys(runs: list[RunCurve], by: list[str] | None) -> list[str]:
    """The keys whose values tell the groups apart: ``by``, or every key that differs."""
    ordered: dict[str, None] = {}
    for run in runs:
        ordered.update(dict.fromkeys(run.keys))
    if by:
        unknown = [k for k in by if k not in ordered]
        if unknown:
            raise ConfigError(
                "--by",
                [
                    f"'{k}' is not a config key of these runs{did_you_mean(k, ordered)}"
                    for k in unknown
                ],
            )
        return list(by)
    return differing_keys([run.keys for run in runs])


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The keys whose values are not the same in every flattened config (a key some configs
    lack differs too), in the order they first appear, grouped by section."""
    ordered = dict.fromkeys(key for config in configs for key in config)
    missing = object()
    differing = [
        key
        for key in ordered
        if len({_hashable(config.get(key, missing)) for config in configs}) > 1
    ]
    # A key only some configs have (kcenter's strategy.space) sits with its section's others.
    sections = list(dict.fromkeys(key.split(".")[0] for key in differing))
    return sorted(differing, key=lambda key: sections.index(key.split(".")[0]))


def _groups(runs: list[RunCurve], keys: list[str]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for run in runs:
        values = {k: run.keys[k] for k in keys if k in run.keys}
        identity = tuple(_hashable(run.keys.get(k)) for k in keys)
        if identity not in groups:
            groups[identity] = Group(label=_label(values), keys=values, runs=[])
        groups[identity].runs.append(run)
    for group in groups.values():
        group.runs.sort(key=lambda r: r.seed)
    return list(groups.values())


def _label(values: dict[str, Any]) -> str:
    return ",".join(f"{k}={_show(v)}" for k, v in values.items()) or "all runs"


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value).rsplit(".", 1)[-1] if str(value).startswith("sklearn.") else str(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


# --- statistics -------------------------------------------------------------------------------


def run_aulc(run: RunCurve, metric: str) -> float:
    return aulc(run.n_labeled, run.values[metric])


def run_aulc_loops(run: RunCurve, metric: str) -> float:
    return aulc(np.arange(run.loops), run.values[metric])


def _summarize(group: Group, metric: str) -> None:
    group.final = float(np.mean([r.values[metric][-1] for r in group.runs]))
    group.aulc = float(np.mean([run_aulc(r, metric) for r in group.runs]))
    group.aulc_loops = float(np.mean([run_aulc_loops(r, metric) for r in group.runs]))
    group.seconds_per_run = float(np.mean([r.seconds[-1] for r in group.runs]))
    group.seconds_per_loop = float(np.mean([r.seconds[-1] / r.loops for r in group.runs]))


def _set_target(comparison: Comparison, target: float | None, share: float) -> None:
    name = comparison.metric
    if target is None:
        best = max(comparison.groups, key=lambda g: g.final)
        target = share * best.final
        comparison.target_rule = (
            f"{share:.0%} of the best group's final {name} ({best.label}: {best.final:.4f})"
        )
    else:
        comparison.target_rule = f"{name} >= {target:g} (--target)"
    comparison.target = float(target)
    for group in comparison.groups:
        reached = [
            labels_to_reach(r.n_labeled, r.values[name], comparison.target) for r in group.runs
        ]
        group.reached = sum(n is not None for n in reached)
        group.labels_to_target = float(np.median([np.inf if n is None else n for n in reached]))


def _pair_with_reference(comparison: Comparison, value: str) -> None:
    """Each group's reference: the group holding ``value`` in some key, alike in every key
    outside that key's section; their runs paired by seed."""
    holding = [
        key
        for key in comparison.group_keys
        if any(
            _show(g.keys.get(key)) == value or str(g.keys.get(key)) == value
            for g in comparison.groups
        )
    ]
    # random may be an init method as well as a strategy: the strategy is what a baseline is.
    key = REFERENCE_KEY if REFERENCE_KEY in holding else (holding[0] if holding else None)
    references = {
        g.label: key
        for g in comparison.groups
        if key in g.keys and (_show(g.keys[key]) == value or str(g.keys[key]) == value)
    }
    if not references:
        comparison.notes.append(
            f"no group has the value '{value}', so there is no paired difference; give "
            "--reference with a value of the compared keys"
        )
        return
    problems: list[str] = []
    for group in comparison.groups:
        if group.label in references:
            group.is_reference = True
            continue
        ref = _matching_reference(group, comparison.groups, references)
        if ref is None:
            continue
        group.reference = ref.label
        for mine, theirs in _paired_runs(group, ref, references[ref.label].split(".")[0]):
            problem = _pairing_problem(mine, theirs)
            if problem:
                problems.append(problem)
            group.pairs.append((mine, theirs))
        _paired_statistics(group, comparison)
    if problems:
        raise UserInputError(
            "runs compared by seed did not start alike, so their difference would not be "
            "paired:\n"
            + "\n".join(f"  {p}" for p in problems[:10])
            + (f"\n  and {len(problems) - 10} more" if len(problems) > 10 else "")
            + "\nCompare runs made from the same data, seed and init (a sweep does this)."
        )


def _matching_reference(
    group: Group, groups: list[Group], references: dict[str, str]
) -> Group | None:
    candidates = []
    for ref in groups:
        if ref.label not in references:
            continue
        section = references[ref.label].split(".")[0]
        outside = {k for k in (*group.keys, *ref.keys) if k.split(".")[0] != section}
        if all(_hashable(group.keys.get(k)) == _hashable(ref.keys.get(k)) for k in outside):
            candidates.append(ref)
    return candidates[0] if len(candidates) == 1 else None


def _paired_runs(group: Group, ref: Group, section: str) -> list[tuple[RunCurve, RunCurve]]:
    """The group's runs paired with the reference's by seed. Where a seed has several runs on
    a side (``--by`` left other differing keys out of the groups), each run is paired with the
    reference's run alike in every key outside the reference's section, if there is one."""
    pairs = []
    for seed in sorted({r.seed for r in group.runs} & {r.seed for r in ref.runs}):
        mine = [r for r in group.runs if r.seed == seed]
        theirs = [r for r in ref.runs if r.seed == seed]
        if len(mine) == 1 and len(theirs) == 1:
            pairs.append((mine[0], theirs[0]))
            continue
        for run in mine:
            alike = [t for t in theirs if _outside(t, section) == _outside(run, section)]
            if len(alike) == 1:
                pairs.append((run, alike[0]))
    return pairs


def _outside(run: RunCurve, section: str) -> tuple:
    return tuple(
        sorted((k, _hashable(v)) for k, v in run.keys.items() if k.split(".")[0] != section)
    )


def _pairing_problem(mine: RunCurve, theirs: RunCurve) -> str | None:
    if mine.data_fingerprint != theirs.data_fingerprint:
        return (
            f"{mine.path} and {theirs.path} (seed {mine.seed}) ran on different data "
            f"(fingerprints {mine.data_fingerprint[:12]} and {theirs.data_fingerprint[:12]})"
        )
    if mine.initial != theirs.initial:
        return (
            f"{mine.path} and {theirs.path} (seed {mine.seed}) started from different "
            "initial sets (loop 0)"
        )
    return None


def _paired_statistics(group: Group, comparison: Comparison) -> None:
    if not group.pairs:
        return
    diffs = np.array(
        [run_aulc(a, comparison.metric) - run_aulc(b, comparison.metric) for a, b in group.pairs]
    )
    group.diff = float(diffs.mean())
    low, high = paired_interval(diffs, comparison.resamples, comparison.confidence)
    group.ci_low, group.ci_high = (None, None) if np.isnan(low) else (float(low), float(high))
    tol = comparison.tie_tolerance
    group.wins = int((diffs > tol).sum())
    group.losses = int((diffs < -tol).sum())
    group.ties = int(diffs.shape[0] - group.wins - group.losses)


def _rank(comparison: Comparison) -> None:
    """Ranks of nAULC among the groups on the same data (1 = best; ties share the mean
    rank), and each method's mean rank over the datasets."""
    if not comparison.dataset_keys:
        return
    data_keys = comparison.dataset_keys
    by_data: dict[tuple, list[Group]] = {}
    for group in comparison.groups:
        by_data.setdefault(tuple(_hashable(group.keys.get(k)) for k in data_keys), []).append(group)
    for groups in by_data.values():
        scores = np.array([g.aulc for g in groups])
        for group, score in zip(groups, scores, strict=True):
            group.rank = float((scores > score).sum() + ((scores == score).sum() + 1) / 2)
    # A method is told by the keys that vary on the same data; keys that only change with the
    # data (a budget per dataset) are part of the dataset, not of the method.
    method_keys = [
        k
        for k in comparison.group_keys
        if k not in data_keys
        and any(len({_hashable(g.keys.get(k)) for g in groups}) > 1 for groups in by_data.values())
    ]
    by_method: dict[tuple, list[Group]] = {}
    for group in comparison.groups:
        method = tuple(_hashable(group.keys.get(k)) for k in method_keys)
        by_method.setdefault(method, []).append(group)
    for groups in by_method.values():
        mean_rank = float(np.mean([g.rank for g in groups]))
        for group in groups:
            group.mean_rank = mean_rank
