"""What every tracking sink shares: a :class:`Tracker` (what a tracking service is told) driven
by a :class:`TrackingSink` (a background thread fed by a queue), so that a slow or failing
service costs the run nothing but one warning.

The run directory stays the source of truth: a tracker copies what the run wrote (its loops,
its files) and keeps only its own id in run.json, so ``alcli resume`` continues the same
tracked run.
"""

from __future__ import annotations

import contextlib
import json
import queue
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from alcli.atomic import write_atomic
from alcli.schema import Section

#: The sweep directory's file that keeps the parent run of each tracker (``{"mlflow": {...}}``).
PARENT_FILE = "tracking.json"
#: The step name of a tracker's warning in events.jsonl (``alcli report`` lists it).
WARNING_STEP = "tracking"
#: The statuses a tracked run can end an attempt with (run.json's).
STATUSES = ("completed", "failed", "stopped", "awaiting_labels", "running")
_STOP = object()  # the end of a sink's queue


@dataclass
class Subject:
    """What is tracked: one run directory (or a sweep directory, for a sweep's parent run).

    Attributes
    ----------
    name : str
        The tracked run's name (the directory's name).
    path : Path
        The run or sweep directory, absolute.
    kind : {"run", "sweep"}
    experiment : str
        The experiment to use when the settings name none.
    params : callable
        The flattened config as ``{"strategy.name": "margin", ...}`` (read when first needed).
    previous : dict
        What each tracker kept of an earlier attempt (its run id), by tracker name.
    parent : dict
        The parent run each tracker nests this run under, by tracker name (sweeps).
    keep : callable
        ``keep(tracker_name, entry)`` records a tracker's entry (run.json, tracking.json).
    journal : callable
        Appends an event (a tracker's warning) where the subject's events go.
    earlier_loops : list of int
        The loops complete before this attempt (a tracker logs those it has not seen yet).
    read_loop : callable
        A complete loop's record, as the ``loop`` event carries it.
    artifacts : callable
        ``artifacts(folder)`` writes what is drawn at the end into ``folder`` and returns
        every file to upload.
    """

    name: str
    path: Path
    kind: str
    experiment: str
    params: Callable[[], dict[str, Any]]
    keep: Callable[[str, dict[str, Any]], None]
    journal: Callable[[dict[str, Any]], None]
    artifacts: Callable[[Path], list[Path]]
    previous: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] = field(default_factory=dict)
    earlier_loops: list[int] = field(default_factory=list)
    read_loop: Callable[[int], dict[str, Any]] | None = None


class Tracker(ABC):
    """One tracking service, as a sink calls it (on its background thread only, in order:
    ``begin``, ``log_loops`` any number of times, ``end``). Any exception is the sink's to
    handle: it becomes one warning and the tracker is not called again in this attempt.

    A tracker is one file: the class with its settings section as ``Config`` beside it, and
    one line in :data:`alcli.tracking.TRACKERS`.
    """

    Config: ClassVar[type[Section]]
    #: One line for the config reference.
    description: ClassVar[str] = ""
    #: Modules whose warnings are dropped (the service's client, not the run's steps).
    quiet_modules: ClassVar[tuple[str, ...]] = ()
    #: Settings that work in a config file's folder (the config reference and the shared
    #: contract tests use them).
    example: ClassVar[dict[str, Any]] = {}

    def __init__(self, settings: Section):
        self.settings = settings

    @abstractmethod
    def begin(self, subject: Subject) -> tuple[dict[str, Any], set[int]]:
        """Start the tracked run, or continue the one ``subject.previous`` names.

        Returns
        -------
        entry : dict
            What to keep with the run (its id), JSON-ready.
        logged : set of int
            The loops the tracked run already has (they are not logged again).
        """

    @abstractmethod
    def log_loops(self, records: list[tuple[dict[str, Any], float]]) -> None:
        """Log complete loops: each a ``loop`` event's record and its time (epoch seconds)."""

    @abstractmethod
    def end(self, status: str, stop_reason: str | None, files: list[Path]) -> None:
        """Upload ``files`` and say how this attempt ended (one of :data:`STATUSES`)."""

    def explain(self, exc: BaseException) -> str:
        """What went wrong, in one line, for the run's warning."""
        return f"{type(exc).__name__}: {exc}"

    def flush_seconds(self) -> float:
        """How long the run waits at its end for this tracker."""
        return float(getattr(self.settings, "flush_seconds", 30.0))


class TrackingSink:
    """Feeds a :class:`Tracker` from the engine's events on a background thread.

    Calling the sink with an event costs a queue put (microseconds). The first exception the
    tracker raises becomes one ``warnings`` event in the subject's journal, and the tracker is
    not called again; :meth:`close` waits for the queue to drain for at most the tracker's
    ``flush_seconds``, then gives up with a warning.
    """

    def __init__(self, name: str, tracker: Tracker, subject: Subject):
        self.name = name
        self.tracker = tracker
        self.subject = subject
        self.warning: dict[str, Any] | None = None  # the warnings event, once it failed
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._failed = False
        self._abandoned = False  # the run has moved on: write nothing more into its folder
        self._begun = threading.Event()
        self._thread = threading.Thread(
            target=self._work, name=f"alcli-tracking-{name}", daemon=True
        )
        self._jobs.put((self._begin,))
        self._thread.start()

    # --- the engine's side (main thread) ----------------------------------------------------

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "loop" and not self._failed:
            self._jobs.put((self._log, event, time.time()))

    def wait_begun(self) -> bool:
        """Wait (at most ``flush_seconds``) until the tracked run exists; whether it does."""
        self._begun.wait(self.tracker.flush_seconds())
        return self._begun.is_set() and not self._failed

    def close(self, status: str, stop_reason: str | None) -> dict[str, Any] | None:
        """End the tracked run as the attempt ended; returns the warnings event, if any."""
        self._jobs.put((self._end, status, stop_reason))
        self._jobs.put(_STOP)
        seconds = self.tracker.flush_seconds()
        try:
            self._thread.join(seconds)
            gave_up = f"it was still sending after {seconds:g} s; the rest was dropped"
        except KeyboardInterrupt:  # the run's outcome is recorded: Ctrl-C only skips the wait
            gave_up = "Ctrl-C stopped the wait for it; the rest was dropped"
        if self._thread.is_alive():
            self._abandoned = True
            self._fail(TimeoutError(gave_up), journal_now=True)
        return self.warning

    # --- the background thread --------------------------------------------------------------

    def _work(self) -> None:
        held = None  # the job met while gathering loop events
        while True:
            job, held = (held, None) if held is not None else (self._jobs.get(), None)
            if job is _STOP:
                return
            if job[0] == self._log:
                # Loops queued while a slow call ran go out together, in one request.
                records = [job[1:]]
                while held is None:
                    try:
                        following = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if following is not _STOP and following[0] == self._log:
                        records.append(following[1:])
                    else:
                        held = following
                job = (self._log, records)
            if self._failed:
                continue
            try:
                job[0](*job[1:])
            except BaseException as exc:  # anything the service's client raises
                self._fail(exc)
            finally:
                if job[0] == self._begin:
                    self._begun.set()

    def _begin(self) -> None:
        subject = self.subject
        entry, logged = self.tracker.begin(subject)
        if not self._abandoned:
            subject.keep(self.name, entry)
        missing = [k for k in subject.earlier_loops if k not in logged]
        if missing and subject.read_loop is not None:
            now = time.time()
            self.tracker.log_loops([(subject.read_loop(k), now) for k in missing])

    def _log(self, records: list[tuple[dict[str, Any], float]]) -> None:
        self.tracker.log_loops(records)

    def _end(self, status: str, stop_reason: str | None) -> None:
        with tempfile.TemporaryDirectory(prefix="alcli-tracking-") as folder:
            try:
                files, unrendered = self.subject.artifacts(Path(folder)), None
            except Exception as exc:  # the run still ends with its status, without them
                files, unrendered = [], exc
            self.tracker.end(status, stop_reason, files)
        if unrendered is not None:
            raise unrendered

    def _fail(self, exc: BaseException, journal_now: bool = False) -> None:
        if self._failed:
            return
        self._failed = True
        try:
            message = self.tracker.explain(exc)
        except Exception:
            message = f"{type(exc).__name__}: {exc}"
        first_line = " ".join(message.split())[:500]
        self.warning = {
            "event": "warnings",
            "loop": None,
            "warnings": [
                {
                    "step": WARNING_STEP,
                    "category": f"{self.name} tracking stopped",
                    "source": self.name,
                    "key": f"tracking.{self.name}",
                    "count": 1,
                    "message": f"{first_line}; the run went on without it",
                }
            ],
        }
        if journal_now or not self._abandoned:
            # The run directory is the truth; a warning it cannot take is dropped.
            with contextlib.suppress(OSError):
                self.subject.journal(self.warning)


def read_entries(path: Path) -> dict[str, Any]:
    """The entries a JSON file keeps by tracker name (empty when it has none or is unreadable:
    a tracker that cannot find its run starts a new one)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def keep_entry(path: Path, name: str, entry: Any) -> None:
    """Set ``name`` in the JSON file at ``path`` (atomically)."""
    data = read_entries(path)
    data[name] = entry
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n", sync=False)
