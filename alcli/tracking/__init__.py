"""Tracking sinks: services a run's loops are copied to (MLflow), on a background thread, so
that a slow or failing service never fails or slows the run.

A tracker is one module (the tracker and its settings section side by side) plus one line in
:data:`TRACKERS`; its settings become the ``tracking.<name>`` key of a config.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, create_model

from alcli.errors import Interrupted, RunDirError
from alcli.registry import Registry
from alcli.rundir import RunDir
from alcli.schema import Section, flatten
from alcli.tracking.base import (
    PARENT_FILE,
    Subject,
    Tracker,
    TrackingSink,
    keep_entry,
    read_entries,
)
from alcli.tracking.mlflow import MlflowSettings, MlflowTracker

TRACKERS: Registry[Tracker] = Registry("tracker", {"mlflow": MlflowTracker}, base=Tracker)

EventSink = Callable[[dict[str, Any]], None]
#: ``render(run_path, folder)`` draws a run's report files into ``folder`` (the engine's).
Render = Callable[[Path, Path], list[Path]]


class _Trackers(Section):
    def chosen(self) -> list[tuple[str, Section]]:
        """The trackers this section turns on, with their settings."""
        return [(name, getattr(self, name)) for name in TRACKERS if getattr(self, name, None)]


#: The ``tracking`` section: one optional key per registered tracker (an unknown one is an
#: error naming the nearest).
TrackingConfig = create_model(
    "TrackingConfig",
    __base__=_Trackers,
    __doc__="Where a run's loops are tracked besides its run directory.",
    **{
        name: (cls.Config | None, Field(None, description=cls.description))
        for name, cls in TRACKERS.items()
    },
)


@contextmanager
def tracked(
    section: Any,
    experiment: str,
    rundir: RunDir,
    on_event: EventSink | None,
    render: Render,
    parent: dict[str, Any] | None = None,
) -> Iterator[EventSink | None]:
    """Track one attempt of a run: yields the event sink to give the runner (``on_event``
    plus the trackers); on exit every tracker ends its run as run.json says the attempt
    ended, within its ``flush_seconds``, and a tracker's warning is passed to ``on_event``.

    Parameters
    ----------
    section : TrackingConfig or None
        The config's ``tracking`` section.
    experiment : str
        The experiment when the settings name none (the config's name).
    rundir : RunDir
        The run, its lock held.
    render : callable
        Draws the run's report and plot into a folder (the files to upload).
    parent : dict, optional
        A sweep's parent run by tracker name.
    """
    chosen = section.chosen() if section is not None else []
    if not chosen:
        yield on_event
        return
    kept = dict(rundir.read_meta().get("tracking") or {})
    guard = threading.Lock()

    def keep(name: str, entry: dict[str, Any]) -> None:
        with guard:
            kept[name] = entry
            rundir.update_meta(tracking=dict(kept))

    path = rundir.path.resolve()
    subject = Subject(
        # A sweep's run is named as in the sweep (runs/<cell>/seed-<k>): the seed alone
        # would name a run of every cell alike.
        name=f"{path.parent.name}/{path.name}" if parent else path.name,
        path=path,
        kind="run",
        experiment=experiment,
        params=lambda: yaml.safe_load(rundir.config_path.read_text()),
        keep=keep,
        journal=rundir.append_events,
        artifacts=lambda folder: [
            *render(path, folder),
            *(f for f in (path / "metrics.csv", path / "config.yaml") if f.is_file()),
        ],
        previous=dict(kept),
        parent=dict(parent or {}),
        earlier_loops=rundir.complete_loops(),
        read_loop=rundir.read_loop_metrics,
    )
    sinks = [TrackingSink(name, _tracker(name, settings), subject) for name, settings in chosen]

    def emit(event: dict[str, Any]) -> None:
        # The trackers first: a sink that stops the run here (a sweep's stop between loops)
        # must not keep the loop from them.
        for sink in sinks:
            sink(event)
        if on_event is not None:
            on_event(event)

    try:
        yield emit
    finally:
        try:
            meta = rundir.read_meta()
        except RunDirError:
            meta = {}
        for sink in sinks:
            warning = sink.close(meta.get("status", "running"), meta.get("stop_reason"))
            if warning is not None and on_event is not None:
                on_event(warning)


class SweepTracking:
    """What a sweep tells its parent run: the result files, once they are written."""

    def __init__(self) -> None:
        self.files: list[Path] | None = None

    def finished(self, files: list[Path]) -> None:
        """The sweep's results are written: the parent run ends FINISHED with ``files``."""
        self.files = [Path(f) for f in files if Path(f).is_file()]


@contextmanager
def sweep_tracking(
    path: Path, name: str, section: dict[str, Any] | None
) -> Iterator[SweepTracking]:
    """Track a sweep as one parent run (its id kept in ``path/tracking.json``, which each of
    its runs reads to nest under it): FINISHED once :meth:`SweepTracking.finished` is called,
    KILLED when the sweep is interrupted, FAILED otherwise (runs failed).

    ``section`` is the runs' ``tracking`` section, as the plan froze it (already checked).
    """
    outcome = SweepTracking()
    config = TrackingConfig.model_validate(section or {}, context={"checked": True})
    chosen = config.chosen()
    if not chosen:
        yield outcome
        return
    file = path / PARENT_FILE
    subject = Subject(
        name=name,
        path=path.resolve(),
        kind="sweep",
        experiment=name,
        params=lambda: _sweep_params(path),
        keep=lambda tracker, entry: keep_entry(file, tracker, entry),
        journal=lambda event: keep_entry(file, "warnings", [*_warnings(file), event]),
        artifacts=lambda folder: list(outcome.files or []),
        previous=read_entries(file),
    )
    sinks = [TrackingSink(key, _tracker(key, settings), subject) for key, settings in chosen]
    for sink in sinks:
        sink.wait_begun()  # the runs read the parent's id as they start
    status = "failed"
    try:
        yield outcome
        status = "completed" if outcome.files is not None else "failed"
    except (KeyboardInterrupt, Interrupted):
        status = "stopped"
        raise
    finally:
        for sink in sinks:
            sink.close(status, None)


def parent_entries(root: Path) -> dict[str, Any]:
    """The parent runs a sweep directory keeps, by tracker name (empty when none)."""
    kept = read_entries(root / PARENT_FILE)
    return {name: kept[name] for name in TRACKERS if isinstance(kept.get(name), dict)}


def _tracker(name: str, settings: Section) -> Tracker:
    cls = TRACKERS[name]
    for module in getattr(cls, "quiet_modules", ()):
        # Their warnings would be counted among the run's steps' (warnings are recorded
        # process-wide); set here, on the main thread, before any step records.
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    return cls(settings)


def _sweep_params(path: Path) -> dict[str, Any]:
    frozen = yaml.safe_load((path / "sweep.yaml").read_text()) or {}
    return flatten(frozen, skip=("config", "base_dir", "name"))


def _warnings(file: Path) -> list[Any]:
    found = read_entries(file).get("warnings")
    return found if isinstance(found, list) else []


__all__ = [
    "PARENT_FILE",
    "TRACKERS",
    "MlflowSettings",
    "SweepTracking",
    "Tracker",
    "TrackingConfig",
    "TrackingSink",
    "parent_entries",
    "sweep_tracking",
    "tracked",
]
