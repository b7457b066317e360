"""What a sweep's worker does with one run: start it, resume it, or leave it (completed),
always through ``engine.start`` / ``engine.resume`` on its own run directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alcli import engine
from alcli.config import validate_config
from alcli.errors import AlcliError, Interrupted, RunBusy
from alcli.experiments.run_spec import RunSpec
from alcli.reporting.runs import is_run_dir
from alcli.rundir import RunDir
from alcli.tracking import parent_entries

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Outcome:
    key: str
    #: run.json's status after the attempt (completed, stopped, failed): "completed" with
    #: ``attempted`` False for a run found completed, "pending" for one a stopped sweep never
    #: started.
    state: str
    attempted: bool
    message: str = ""
    seconds: float = 0.0
    interrupted: bool = False
    #: Not attempted: another process holds the run directory (it is running the run).
    busy: bool = False


def execute_run(spec: RunSpec, root: Path, progress: Progress | None = None) -> Outcome:
    """Bring one run to its end: start it, or resume it after its last complete loop."""
    path = root / spec.path
    began = time.perf_counter()

    def forward(event: dict[str, Any]) -> None:
        if progress is not None and event.get("event") in ("loop", "start", "resume"):
            # "ends": the loop a stop criterion ended the run at (nothing is left to stop).
            ends = bool(event.get("stop_reason"))
            progress(
                {"run": spec.key, "event": event["event"], "loop": event.get("loop"), "ends": ends}
            )

    parent = parent_entries(root)  # the sweep's own tracked run, to nest this one under
    try:
        if is_run_dir(path):
            if RunDir.open(path).read_meta().get("status") == "completed":
                return Outcome(spec.key, "completed", attempted=False)
            result = engine.resume(path, on_event=forward, tracking_parent=parent)
        else:
            config = validate_config(
                dict(spec.config), f"{root / 'plan.json'} [{spec.key}]", base_dir=root, checked=True
            )
            result = engine.start(config, path, on_event=forward, tracking_parent=parent)
    except RunBusy as exc:
        return Outcome(spec.key, "failed", False, str(exc), _since(began), busy=True)
    except Interrupted as exc:
        return Outcome(spec.key, "stopped", True, str(exc), _since(began), interrupted=True)
    except AlcliError as exc:
        return Outcome(spec.key, "failed", True, str(exc).strip(), _since(began))
    except KeyboardInterrupt:
        # Before the engine's own handling took over: nothing of this attempt is lost.
        return Outcome(spec.key, "stopped", True, "interrupted", _since(began), interrupted=True)
    return Outcome(spec.key, result.status, True, result.stop_reason or "", _since(began))


def _since(began: float) -> float:
    return time.perf_counter() - began
