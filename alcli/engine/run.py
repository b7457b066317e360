"""One run: ``start`` makes a run directory and runs; ``resume`` goes on after the last
complete loop, or takes the answers people gave for a waiting batch."""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from alcli import __version__
from alcli.atomic import uninterrupted
from alcli.config import ExperimentConfig, freeze, load_config
from alcli.engine.checkpoint import read_records, restore_history
from alcli.engine.extension import ExtensionRefused, replay_history
from alcli.engine.preflight import Experiment, check_terminal, prepare
from alcli.engine.runner import EventSink, Runner, RunResult
from alcli.engine.state import LEGACY_TRAIN_ORDER, TRAIN_ORDER, Batch, plain_list
from alcli.errors import ConfigError, Interrupted, RunDirError, plural
from alcli.labelers import LABELERS, first_with
from alcli.labelers.answers import Reading
from alcli.labelers.file import settled_records, take_answers
from alcli.labelers.label_studio import check_label_studio
from alcli.models import blas_threads
from alcli.reporting import load_report
from alcli.reporting.html import run_html
from alcli.reporting.plots import plot_run
from alcli.reporting.runs import library_versions
from alcli.rundir import RunDir, default_run_path
from alcli.rundir.integrity import answers_by, inspect_run, raise_if_damaged
from alcli.stopping import build_criteria, watch_signals
from alcli.tracking import tracked

#: Labelers whose answers a person gave: they cannot be recomputed.
PERSON_KINDS = {name for name, cls in LABELERS.items() if cls.may_wait or cls.needs_tty}


def start(
    config: ExperimentConfig,
    run_path: Path | None = None,
    on_event: EventSink | None = None,
    tracking_parent: dict[str, Any] | None = None,
) -> RunResult:
    """Validate, create the run directory, and run until a stop criterion holds
    (``tracking_parent``: a sweep's parent run, by tracker, to nest the tracked run under)."""
    config_yaml, config = freeze(config)
    experiment = prepare(config)
    check_terminal(config)
    # A wrong URL, token or project is refused while nothing is written yet.
    check_label_studio(config.labeler, experiment.data.classes)
    path = run_path or default_run_path(config.output.runs_dir, config.name)
    meta = {
        "name": config.name,
        # Names this run wherever its folder's name could be another run's (a Label Studio
        # project several runs share): moved or renamed, the run keeps it.
        "run_uid": uuid.uuid4().hex,
        "status": "running",
        "alcli_version": __version__,
        "config_hash": hashlib.sha256(config_yaml.encode()).hexdigest(),
        "data_fingerprint": experiment.data.fingerprint,
        "last_loop": None,
        "stop_reason": None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "train_order": TRAIN_ORDER,
    }
    rundir = RunDir(path)
    try:
        # A Ctrl-C held while the directory is made is raised as its creation ends: inside
        # this try, so the new run is recorded as stopped, not left "running".
        rundir = RunDir.create(path, config_yaml, meta)
        with rundir.lock(), _tracked(config, rundir, on_event, tracking_parent) as on_event:
            runner = Runner(experiment, rundir, on_event)
            runner.emit({"event": "start", "path": str(path), "max_loops": config.stop.max_loops})
            return runner.drive(first_loop=0)
    except KeyboardInterrupt:
        # Between the directory's creation and drive() taking over the interrupt handling.
        if not (path / "run.json").exists():
            raise  # nothing was made
        with uninterrupted(then_raise=False):
            rundir.record_status("stopped")
        raise Interrupted(
            f"Stopped before loop 0 completed. Resume with `alcli resume {path}`."
        ) from None


def resume(
    path: Path,
    on_event: EventSink | None = None,
    labels: Path | None = None,
    overrides: list[str] = (),
    tracking_parent: dict[str, Any] | None = None,
) -> RunResult:
    """Restart a run after its last complete loop, or go on with a batch that waited for
    labels, taking the answers in ``labels`` first.

    ``overrides`` (``stop.KEY=VALUE``) extend the run: they are recorded in run.json (every
    later resume applies them too), and a run that had stopped takes its last decision again
    under them, ending as a run started with them would.

    Raises
    ------
    RunDirError
        When the directory is not a run, is busy, or its data changed.
    DataError
        When the answers file is wrong in any way; nothing is written then.
    """
    rundir = RunDir.open(path)
    with rundir.lock(), contextlib.ExitStack() as tracking:
        meta = rundir.read_meta()
        config_text = rundir.config_path.read_text()
        if hashlib.sha256(config_text.encode()).hexdigest() != meta.get("config_hash"):
            raise RunDirError(
                f"{rundir.config_path} was edited after the run started, so resuming would not "
                "continue the same experiment. Restore it, or start a new run with `alcli run`."
            )
        set_aside = _repair_damaged_loops(rundir)
        extended = [*(meta.get("overrides") or []), *_stop_keys_only(overrides, path)]
        config = load_config(rundir.config_path, extended)
        experiment = prepare(config, initial_set=not rundir.complete_loops())
        if labels is None:
            check_terminal(config)
        if experiment.data.fingerprint != meta.get("data_fingerprint"):
            started_with = meta.get("alcli_version")
            version_note = (
                f" (the run was started by alcli {started_with}; this is alcli {__version__})"
                if started_with != __version__
                else ""
            )
            raise RunDirError(
                f"the data no longer matches {path}: its fingerprint was "
                f"{str(meta.get('data_fingerprint'))[:12]} when the run started and is "
                f"{experiment.data.fingerprint[:12]} now{version_note}. Restore the data the "
                "run started with, or start a new run with `alcli run`."
            )
        complete = rundir.complete_loops()
        next_loop = complete[-1] + 1 if complete else 0
        pending = rundir.read_pending()
        if pending is not None and pending[0] != next_loop:
            pending = None  # a kill fell between a loop's checkpoint and clearing its batch
        experiment = experiment.with_new_classes(list(meta.get("new_classes") or []))
        if labels is not None and pending is None:
            status = meta.get("status")
            hint = (
                "it has completed"
                if status == "completed"
                else f"status {status}; run `alcli resume {path}` without --labels"
            )
            raise RunDirError(f"{path} is not waiting for labels ({hint})")
        sources = [] if labels is None else [(Path(labels), False)]
        if pending is not None:
            # Answers typed into the run's own to_label.csv count too, with or without
            # --labels (what was recorded before wins over an old copy of the sheet).
            sheet = rundir.pending_path(pending[0]) / "to_label.csv"
            if sheet.exists() and not any(_same_file(sheet, path) for path, _ in sources):
                sources.append((sheet, True))
        taken, readings = 0, []
        for source, own_sheet in sources:
            batch_arrays, added, reading = _take_answers(
                source, pending[1], experiment, own_sheet, rundir, complete
            )
            pending = (pending[0], batch_arrays)
            experiment = experiment.with_new_classes(added)
            taken += len(reading.codes)
            readings.append((source, reading))
        if taken:
            # Checked answers are saved before anything else happens: a kill or Ctrl-C from
            # here on cannot lose them.
            with uninterrupted():
                if experiment.new_classes:
                    rundir.update_meta(new_classes=plain_list(list(experiment.new_classes)))
                rundir.write_pending(*pending)
        if overrides:
            _check_extension(config, rundir)
            # Checked; recorded before any loop changes, with a status that makes a resume
            # after a kill take the last decision again.
            rundir.update_meta(overrides=extended, status="running")
        rundir.discard_partial()
        rundir.clear_pending(keep=next_loop)  # a kill can leave a completed loop's batch
        train_order = meta.get("train_order", LEGACY_TRAIN_ORDER)
        on_event = tracking.enter_context(_tracked(config, rundir, on_event, tracking_parent))
        runner = Runner(experiment, rundir, on_event, train_order=train_order)
        if set_aside is not None:
            runner.emit({"event": "repaired", "moved_to": str(set_aside)})
        last = restore_history(runner.state)
        restore = True
        if last is not None and extended and (overrides or meta.get("status") != "completed"):
            # Extended now (or stopped since): the last loop's decision is taken again.
            reason = _reopen(runner, last, config, path)
            if reason:
                rundir.update_meta(
                    status="completed", stop_reason=reason, last_loop=last, error=None
                )
                return runner.result("completed", reason)
            restore = False  # reopen left pool, models and predictions as after ``last``
        elif last is not None and runner.state.last.stop_reason:
            reason = runner.state.last.stop_reason
            if meta.get("status") != "completed":
                rundir.update_meta(
                    status="completed", stop_reason=reason, last_loop=last, error=None
                )
            return runner.result("completed", reason)
        first = 0 if last is None else last + 1
        runner.emit({"event": "resume", "from_loop": first, "max_loops": config.stop.max_loops})
        result = runner.drive(
            first_loop=first, restore=restore, pending=None if pending is None else pending[1]
        )
        if labels is not None or taken:
            # What the answers gave is said whether the run waits again or went on to its end.
            result.message = f"{_recorded_line(readings)}\n{result.message}".strip()
        return result


def _tracked(
    config: ExperimentConfig, rundir: RunDir, on_event: EventSink | None, parent: dict | None
) -> contextlib.AbstractContextManager[EventSink | None]:
    """The run's event sink with its trackers (``config.tracking``) behind it."""
    return tracked(config.tracking, config.name, rundir, on_event, _report_files, parent)


def _report_files(path: Path, folder: Path) -> list[Path]:
    """The run's HTML report and learning-curve plot, drawn into ``folder`` as `alcli report
    --html --plot` draws them (for a tracker to upload)."""
    data = load_report(path)
    page = folder / "report.html"
    page.write_text(run_html(data, (path / "config.yaml").read_text(), library_versions()))
    if not (data["summary"]["metric_names"] and data["loops"]):
        return [page]  # nothing scored: no curve to draw
    plot_run(data, folder / "learning_curve.png")
    return [page, folder / "learning_curve.png"]


def _repair_damaged_loops(rundir: RunDir) -> Path | None:
    """Check the run directory before resuming it. A damaged or missing loop whose labels a
    simulation gave is moved aside (with the loops after it) and done again, which gives the
    same result; one that holds answers people gave is refused: `alcli doctor --repair` moves
    it aside when the user says so. Returns where the loops went, if anywhere."""
    found = inspect_run(rundir.path, deep=False)
    first = found.first_damaged_loop
    unrepairable = [f for f in found.damage if f.loop is None and not f.resume_fixes]
    if unrepairable:
        raise_if_damaged(found, "resuming")
    if first is None:
        return None
    people = answers_by(rundir.path, first, PERSON_KINDS)
    if people:
        raise_if_damaged(
            found,
            f"resuming ({plural(people, 'answer')} people gave from loop {first} on would have "
            "to be given again)",
        )
    return rundir.set_aside_loops(first)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _completed(rundir: RunDir, reason: str, last: int) -> None:
    rundir.update_meta(status="completed", stop_reason=reason, last_loop=last, error=None)


def _check_extension(config: ExperimentConfig, rundir: RunDir) -> None:
    """Refuse stop keys a run started with them could not have reached this loop under
    (before anything is written)."""
    records = read_records(rundir)
    if records:
        criteria = build_criteria(config.stop)
        problem = replay_history(criteria, watch_signals(criteria)[1], records)
        if problem:
            raise ExtensionRefused(problem)


def _reopen(runner: Runner, last: int, config: ExperimentConfig, path: Path) -> str | None:
    """The last loop's decision taken again; Ctrl-C leaves a run that resume extends."""
    try:
        with blas_threads(config.model.blas_threads):
            return runner.reopen(last).stop_reason
    except KeyboardInterrupt:
        runner.state.rundir.update_meta(status="stopped")
        raise Interrupted(
            f"Stopped while taking the last loop's decision again; `alcli resume {path}` "
            "takes it again."
        ) from None


def _stop_keys_only(overrides: list[str], path: Path) -> list[str]:
    """The overrides, if every one changes a stop key (anything else would make the run
    another experiment than the one its loops so far belong to)."""
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not key.startswith("stop."):
            raise ConfigError(
                f"alcli resume {path}",
                [
                    f"--set {key}: a run can be extended by its stop keys only (stop.max_loops, "
                    "stop.budget, stop.when, ...); other keys would change the loops already "
                    "run. Start a new run with `alcli run` for that"
                ],
            )
    return list(overrides)


def _take_answers(
    path: Path,
    batch_arrays: dict[str, np.ndarray],
    experiment: Experiment,
    earlier_wins: bool,
    rundir: RunDir,
    complete: list[int],
) -> tuple[dict[str, np.ndarray], list, Reading]:
    """The saved batch with the answers of ``path`` filled in (credited to the labeler in
    the chain that hands work to people), the classes they add, and what the file gave.

    A Label Studio project kept for the whole run exports earlier loops' tasks too: they are
    checked against the last complete loop's state.npz (every label so far, with its loop:
    one read however many loops the run has), read only when the file has such rows."""
    data, config = experiment.data, experiment.config
    batch = Batch.from_arrays(batch_arrays)
    person = first_with(config.labeler, "may_wait") or config.labeler

    def earlier_loops() -> dict[str, tuple[int, int]]:
        return settled_records(rundir.read_state(complete[-1]), data.ids) if complete else {}

    answers, added, reading = take_answers(
        path,
        batch.answers,
        data.ids[batch.indices],
        data.ids,
        data.classes,
        person,
        earlier_wins=earlier_wins,
        earlier_loops=earlier_loops,
    )
    return {**batch_arrays, **batch.arrays(answers)}, added, reading


def _recorded_line(readings: list[tuple[Path, Reading]]) -> str:
    """What the answer files gave, naming only those answers came from:
    "Recorded 8 answers and 2 skips from export.json. 12 tasks were answered in earlier
    loops with the same labels (left as they were)."."""
    answers = sum(reading.n_answers for _, reading in readings)
    skips = sum(reading.n_skips for _, reading in readings)
    files = [str(path) for path, reading in readings if reading.codes]
    if files:
        counted = (
            f"{plural(skips, 'skip')} and no answers"
            if skips and not answers
            else plural(answers, "answer") + (f" and {plural(skips, 'skip')}" if skips else "")
        )
        line = f"Recorded {counted} from {' and '.join(files)}."
    else:
        line = f"No new answers in {readings[0][0] if readings else 'the answer files'}."
    repeated = sum(reading.repeated for _, reading in readings)
    if repeated:
        line += (
            f" {plural(repeated, 'task')} {'was' if repeated == 1 else 'were'} answered in "
            "earlier loops with the same labels (left as they were)."
        )
    stand = sum(reading.skips_stand for _, reading in readings)
    if stand:
        line += (
            f" {plural(stand, 'record')} skipped in an earlier loop "
            f"{'has' if stand == 1 else 'have'} answers now: the skips stand "
            "(reoffer_skipped: true offers skipped records again)."
        )
    return line
