"""One run: start and resume, the preflight check of a config against its data, the runner
(the only place that orders the steps), the steps, checkpoints and the budget arithmetic."""

from __future__ import annotations

from alcli.engine.preflight import Experiment, asks_a_person, asks_a_person_in, prepare
from alcli.engine.run import resume, start
from alcli.engine.runner import EventSink, RunResult

__all__ = [
    "EventSink",
    "Experiment",
    "RunResult",
    "asks_a_person",
    "asks_a_person_in",
    "prepare",
    "resume",
    "start",
]
