"""Extending a run (`alcli resume --set stop.KEY=VALUE`): the stop keys an extension brings
are held against the loops already run, so that the extended run ends as a run started with
them would, or the extension is refused before anything is written."""

from __future__ import annotations

from alcli.errors import ConfigError
from alcli.rundir import LoopRecord
from alcli.stopping import SIGNALS, Progress, StopCriterion, first_reason


class ExtensionRefused(ConfigError):
    """An extension that a run started with its keys could not end like: nothing is written."""

    def __init__(self, problem: str):
        super().__init__("alcli resume --set", [problem])


def replay_history(
    criteria: list[StopCriterion], watching: list[StopCriterion], records: list[LoopRecord]
) -> str | None:
    """Let ``criteria`` observe every loop of ``records`` but the last, as recorded; a problem
    when that history cannot be the one a run started with them had: a watched signal those
    loops did not record, or a criterion that would have stopped the run at one of them."""
    spent = 0.0
    for record in records[:-1]:
        for criterion in watching:
            missing = sorted((criterion.needs & SIGNALS.keys()) - record.signals.keys())
            if missing:
                return (
                    f"stop.when: {criterion.name} watches {', '.join(missing)}, which this run "
                    f"did not record in loop {record.loop}, so it cannot judge the loops so far "
                    "as it would have; extend the run with limits (stop.max_loops, stop.budget, "
                    "...), or start a new run with it"
                )
        spent += record.cost or 0.0
        progress = Progress(
            record.loop,
            record.n_labeled,
            record.metrics,
            next_size=1,
            n_unlabeled=1,
            spent=spent,
            signals=record.signals,
        )
        reason = first_reason(criteria, progress)
        if reason:
            return (
                f"with these stop keys the run would have stopped at loop {record.loop} "
                f"({reason}), before its last loop {records[-1].loop}; an extension can only let "
                "a run go further. Start a new run with `alcli run` for that"
            )
    return None
