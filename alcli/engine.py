"""The loop itself: the only place that orders SELECT, LABEL, TRAIN and INFER.

``prepare`` checks the config against its data before anything is written; ``start`` makes a
run directory and runs; ``resume`` restarts after the last complete loop. Progress goes to an
``on_event`` callback; nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from alcli import __version__
from alcli.classes import codes_by_text, codes_of, label_text, with_new_classes
from alcli.config import ExperimentConfig, freeze, load_config
from alcli.data import UNLABELED, Dataset, load_dataset, read_id_list, rows_where
from alcli.errors import (
    AlcliError,
    DataError,
    ExperimentFailed,
    Interrupted,
    RunDirError,
    agree,
    plural,
    preview,
)
from alcli.initialization import kmeans_init, random_init
from alcli.labelers import (
    SKIPPED,
    UNANSWERED,
    Answers,
    LabelerContext,
    LabelRequest,
    build_labeler,
    chain_has,
    first_with,
    labeler_chain,
    max_price,
    prices,
)
from alcli.metrics import evaluate
from alcli.models import (
    Learner,
    accepts_nan,
    apply_chunked,
    blas_threads,
    fit_model,
    predict_proba_chunked,
)
from alcli.pool import Pool
from alcli.records import RecordSource
from alcli.rundir import RunDir, csv_text, default_run_path, uninterrupted
from alcli.schedules import build_schedule, capped_size
from alcli.seeding import rng_for
from alcli.stopping import Progress, stop_reason
from alcli.strategies import SelectionContext

EventSink = Callable[[dict[str, Any]], None]
STEPS = ("select", "label", "train", "infer")


@dataclass(frozen=True)
class Experiment:
    """A validated config with its loaded data: everything needed to run, nothing written."""

    config: ExperimentConfig
    data: Dataset
    initial: np.ndarray | None  # pool indices of loop 0 for init methods ids and labeled
    labeler: Any  # built here, so that one that refuses the data does so before any write
    new_classes: tuple = ()  # classes annotators added during the run (allow_new_classes)

    def with_new_classes(self, new: list) -> Experiment:
        """This experiment with ``new`` classes appended to the data's (codes stay put)."""
        if not new:
            return self
        data = replace(self.data, classes=with_new_classes(self.data.classes, new))
        return replace(self, data=data, new_classes=(*self.new_classes, *new))


@dataclass
class RunResult:
    path: Path
    status: str
    stop_reason: str | None
    last_loop: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    n_labeled: int = 0
    message: str = ""  # what to do next, when a person has the batch


class AwaitingLabels(Exception):
    """LABEL is with a person: the batch and its answers so far are saved; the run waits."""

    def __init__(self, loop: int, message: str, n_open: int):
        super().__init__(message)
        self.loop, self.message, self.n_open = loop, message, n_open


@dataclass(frozen=True)
class Carried:
    """Skips of first batches skipped entirely (nothing to train on, so another batch was
    drawn): they count with the loop that finally gets labels."""

    indices: np.ndarray
    labeler: np.ndarray
    cost: np.ndarray

    @classmethod
    def none(cls) -> Carried:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=object), np.empty(0))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Carried:
        if "carried.indices" not in arrays:
            return cls.none()
        return cls(
            arrays["carried.indices"].astype(np.int64),
            arrays["carried.labeler"].astype(object),
            arrays["carried.cost"].astype(np.float64),
        )

    def plus(self, indices: np.ndarray, labeler: np.ndarray, cost: np.ndarray) -> Carried:
        return Carried(
            np.concatenate([self.indices, indices]),
            np.concatenate([self.labeler, labeler]),
            np.concatenate([self.cost, cost]),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.size:
            return {}
        return {
            "carried.indices": self.indices,
            "carried.labeler": self.labeler.astype(str),
            "carried.cost": self.cost,
        }

    @property
    def size(self) -> int:
        return int(self.indices.shape[0])

    @property
    def cost_sum(self) -> float:
        return float(self.cost.sum())


@dataclass
class Batch:
    """A loop's selected records and the answers given for them so far."""

    indices: np.ndarray
    scores: np.ndarray
    picked_by: np.ndarray
    answers: Answers

    def arrays(self, answers: Answers) -> dict[str, np.ndarray]:
        """As ``pending/loop-NNNN/batch.npz`` holds it (text as unicode arrays: no pickles)."""
        arrays = {
            "indices": self.indices,
            "scores": self.scores,
            "picked_by": self.picked_by.astype(str),
            "codes": answers.codes,
            "labeler": answers.labeler.astype(str),
            "cost": answers.cost,
        }
        if answers.truth is not None:
            arrays["truth"] = answers.truth
        return arrays

    @classmethod
    def empty(cls) -> Batch:
        return cls(
            np.empty(0, dtype=np.int64),
            np.empty(0),
            np.empty(0, dtype=object),
            Answers.unanswered(0),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Batch:
        answers = Answers(
            codes=arrays["codes"].astype(np.int64),
            labeler=arrays["labeler"].astype(object),
            cost=arrays["cost"].astype(np.float64),
            truth=arrays["truth"].astype(np.int64) if "truth" in arrays else None,
        )
        return cls(
            arrays["indices"].astype(np.int64),
            arrays["scores"].astype(np.float64),
            arrays["picked_by"].astype(object),
            answers,
        )


def prepare(config: ExperimentConfig, initial_set: bool = True) -> Experiment:
    """Load the data and check it against the config.

    ``initial_set=False`` skips resolving loop 0's inputs (an ids file), for a resume whose
    loop 0 is already saved.

    Raises
    ------
    DataError
        For every mismatch between config and data, before anything is written.
    """
    data = load_dataset(config.data, config.seed)
    where = config.data.path or config.data.source
    oracle = _truth_teller(config)
    if oracle is not None:
        missing = np.flatnonzero(data.y == UNLABELED)
        if missing.size:
            raise DataError(
                f"{where}: the {oracle} labeler reveals the target the data holds, "
                f"but {plural(missing.size, 'pool record')} "
                f"{agree(missing.size, 'lacks', 'lack')} one (ids {preview(data.ids[missing])}); "
                f"fill '{config.data.target}' for every record"
            )
    refusing_nan = _what_refuses_nan(config)
    if refusing_nan:
        for X, ids in ((data.X, data.ids), (data.X_test, data.ids_test)):
            rows = rows_where(X, np.isnan)
            if rows.size:
                raise DataError(
                    f"{where}: missing feature values in {plural(rows.size, 'record')} (ids "
                    f"{preview(ids[rows])}), and {refusing_nan} cannot take NaN; fill them, "
                    "or use a model and strategy that accept them (e.g. "
                    "sklearn.ensemble.HistGradientBoostingClassifier with margin)"
                )
    _check_metrics_fit_the_data(config, data)
    _check_prices(config, data)
    initial = _initial_indices(config, data) if initial_set else None
    labeler = build_labeler(
        config.labeler, LabelerContext(data.y, data.classes, config.data, config.seed)
    )
    return Experiment(config, data, initial, labeler)


def start(
    config: ExperimentConfig, run_path: Path | None = None, on_event: EventSink | None = None
) -> RunResult:
    """Validate, create the run directory, and run until a stop criterion holds."""
    config_yaml, config = freeze(config)
    experiment = prepare(config)
    _check_terminal(config)
    path = run_path or default_run_path(config.output.runs_dir, config.name)
    rundir = RunDir.create(
        path,
        config_yaml,
        {
            "name": config.name,
            "status": "running",
            "alcli_version": __version__,
            "config_hash": hashlib.sha256(config_yaml.encode()).hexdigest(),
            "data_fingerprint": experiment.data.fingerprint,
            "last_loop": None,
            "stop_reason": None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    try:
        with rundir.lock():
            loop_runner = Loop(experiment, rundir, on_event)
            loop_runner.emit(
                {"event": "start", "path": str(path), "max_loops": config.stop.max_loops}
            )
            return loop_runner.drive(first_loop=0)
    except KeyboardInterrupt:
        # Between the directory's creation and drive() taking over the interrupt handling.
        rundir.update_meta(status="stopped")
        raise Interrupted(
            f"Stopped before loop 0 completed. Resume with `alcli resume {path}`."
        ) from None


def resume(path: Path, on_event: EventSink | None = None, labels: Path | None = None) -> RunResult:
    """Restart a run after its last complete loop, or go on with a batch that waited for
    labels, taking the answers in ``labels`` first.

    Raises
    ------
    RunDirError
        When the directory is not a run, is busy, or its data changed.
    DataError
        When the answers file is wrong in any way; nothing is written then.
    """
    rundir = RunDir.open(path)
    with rundir.lock():
        meta = rundir.read_meta()
        config_text = rundir.config_path.read_text()
        if hashlib.sha256(config_text.encode()).hexdigest() != meta.get("config_hash"):
            raise RunDirError(
                f"{rundir.config_path} was edited after the run started, so resuming would not "
                "continue the same experiment. Restore it, or start a new run with `alcli run`."
            )
        config = load_config(rundir.config_path)
        experiment = prepare(config, initial_set=not rundir.complete_loops())
        if labels is None:
            _check_terminal(config)
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
        taken = 0
        for source, own_sheet in sources:
            batch_arrays, added, n = _take_answers(
                source, pending[1], experiment, earlier_wins=own_sheet
            )
            pending = (pending[0], batch_arrays)
            experiment = experiment.with_new_classes(added)
            taken += n
        if taken:
            # Checked answers are saved before anything else happens: a kill or Ctrl-C from
            # here on cannot lose them.
            with uninterrupted():
                if experiment.new_classes:
                    rundir.update_meta(new_classes=_plain_list(list(experiment.new_classes)))
                rundir.write_pending(*pending)
        rundir.discard_partial()
        rundir.clear_pending(keep=next_loop)  # a kill can leave a completed loop's batch
        loop_runner = Loop(experiment, rundir, on_event)
        last = loop_runner.restore_history()
        if last is not None and loop_runner.history[-1]["stop_reason"]:
            reason = loop_runner.history[-1]["stop_reason"]
            if meta.get("status") != "completed":
                rundir.update_meta(status="completed", stop_reason=reason, last_loop=last)
            return loop_runner.result("completed", reason)
        first = 0 if last is None else last + 1
        loop_runner.emit(
            {"event": "resume", "from_loop": first, "max_loops": config.stop.max_loops}
        )
        result = loop_runner.drive(
            first_loop=first, restore=True, pending=None if pending is None else pending[1]
        )
        if (labels is not None or taken) and result.status == "awaiting_labels":
            files = " and ".join(str(path) for path, _ in sources)
            result.message = f"Recorded {plural(taken, 'answer')} from {files}.\n{result.message}"
        return result


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _take_answers(
    path: Path,
    batch_arrays: dict[str, np.ndarray],
    experiment: Experiment,
    earlier_wins: bool = False,
) -> tuple[dict[str, np.ndarray], list, int]:
    """The saved batch with the answers of ``path`` filled in, every answer checked first,
    the classes the answers add (with ``allow_new_classes``), and how many answers it took.

    The answers are credited to the labeler in the chain that hands work to people.
    """
    from alcli.labelers.answers import read_answers

    data, config = experiment.data, experiment.config
    batch = Batch.from_arrays(batch_arrays)
    ids = data.ids[batch.indices]
    open_ = batch.answers.codes == UNANSWERED
    already = {
        str(ids[k]): int(code) for k, code in enumerate(batch.answers.codes) if code != UNANSWERED
    }
    person = first_with(config.labeler, "may_wait") or config.labeler
    added: list | None = [] if getattr(person, "allow_new_classes", False) else None
    given = read_answers(
        path,
        [str(i) for i in ids[open_]],
        data.ids,
        data.classes,
        answered=already,
        new_classes=added,
        earlier_wins=earlier_wins,
    )
    classes = with_new_classes(data.classes, added or [])
    answers = batch.answers
    now = np.array([k for k in np.flatnonzero(open_) if str(ids[k]) in given], dtype=np.int64)
    codes = np.array([given[str(ids[k])] for k in now], dtype=np.int64)
    answers.codes[now] = codes
    answers.labeler[now] = person.kind
    answers.cost[now] = prices(person.cost, codes, classes)
    return {**batch_arrays, **batch.arrays(answers)}, added or [], int(now.shape[0])


class Loop:
    """Runs loops against one run directory; holds the state between them."""

    def __init__(self, experiment: Experiment, rundir: RunDir, on_event: EventSink | None):
        self.config = experiment.config
        self.data = experiment.data
        self.initial = experiment.initial
        self.rundir = rundir
        self.on_event = on_event
        self.pool = Pool(self.data.X, self.data.ids)
        self.labeler = experiment.labeler
        self.new_classes = list(experiment.new_classes)
        # Answers to first batches skipped entirely: counted with the loop that follows.
        self.carried = Carried.none()
        self.people_look = chain_has(self.config.labeler, "may_wait")
        self.reoffers_skipped = any(
            getattr(link, "reoffer_skipped", False) for link in labeler_chain(self.config.labeler)
        )
        self.records = RecordSource(self.config.data, self.data)
        self.y_test = self.data.decode(self.data.y_test)  # labels as the scorers see them
        self.schedule = build_schedule(self.config.loop_size)
        self.strategy = self.config.strategy.build()
        self.model: Any = None
        # The model SELECT scores with: strategy.model when set, else the evaluated model.
        self.selection_model: Any = None
        self.candidates: np.ndarray | None = None
        self.proba: np.ndarray | None = None
        self.decision: np.ndarray | None = None
        self.history: list[dict[str, Any]] = []

    # --- driving --------------------------------------------------------------------------

    def drive(
        self, first_loop: int, restore: bool = False, pending: dict[str, np.ndarray] | None = None
    ) -> RunResult:
        """Run loops from ``first_loop`` until a stop criterion holds, or a person has the
        batch (status ``awaiting_labels``).

        ``restore`` first rebuilds pool and model as they were after ``first_loop - 1``; a
        failure or Ctrl-C there is handled like one in a loop. ``pending`` is ``first_loop``'s
        saved batch and answers: that loop goes on from LABEL.
        """
        loop = first_loop
        try:
            self.rundir.update_meta(status="running", error=None)
            with blas_threads(self.config.model.blas_threads):
                if restore:
                    self.restore_model(first_loop - 1 if first_loop else None)
                record = None if pending is None else self.resume_batch(loop, pending)
                while record is None or not record["stop_reason"]:
                    if record is not None:
                        loop += 1
                    record = self.run_loop(loop)
        except AwaitingLabels as waiting:
            self.rundir.update_meta(status="awaiting_labels", pending_loop=waiting.loop)
            self.emit({"event": "awaiting_labels", "loop": waiting.loop, "open": waiting.n_open})
            result = self.result("awaiting_labels", None)
            result.message = waiting.message
            return result
        except KeyboardInterrupt:
            last = self.history[-1]["loop"] if self.history else None
            self.rundir.update_meta(status="stopped")
            self.emit({"event": "interrupted", "last_loop": last})
            saved = "no loop is saved yet" if last is None else f"loops 0 to {last} are saved"
            raise Interrupted(
                f"Stopped; {saved}. Resume with `alcli resume {self.rundir.path}`."
            ) from None
        except AlcliError as exc:
            self.rundir.update_meta(status="failed", error=str(exc))
            raise
        except Exception as exc:
            message = f"loop {loop} failed: {type(exc).__name__}: {exc}"
            self.rundir.update_meta(status="failed", error=message)
            self.emit(
                {
                    "event": "failed",
                    "loop": loop,
                    "error": message,
                    "traceback": traceback.format_exc(),
                }
            )
            raise ExperimentFailed(
                f"{message}\nThe run is saved up to the previous loop (the traceback is in "
                f"events.jsonl); fix the cause and `alcli resume {self.rundir.path}`."
            ) from exc
        reason = record["stop_reason"]
        self.rundir.update_meta(status="completed", stop_reason=reason, last_loop=loop)
        self.emit({"event": "done", "reason": reason, "loop": loop})
        return self.result("completed", reason)

    def run_loop(self, loop: int) -> dict[str, Any]:
        """SELECT, LABEL, TRAIN, INFER, then checkpoint ``loops/<loop>``."""
        while True:
            clock = time.perf_counter()
            indices, scores, picked_by = self.select(loop)
            seconds = {"select": time.perf_counter() - clock}
            batch = Batch(indices, scores, picked_by, Answers.unanswered(indices.shape[0]))
            record = self.finish_loop(loop, batch, seconds)
            if record is not None:
                return record

    def resume_batch(self, loop: int, pending: dict[str, np.ndarray]) -> dict[str, Any]:
        """Go on with a loop whose batch waited for labels: the strategy as it was after
        selecting it, the answers given so far, then LABEL the rest."""
        self.strategy.restore(_strategy_state(pending))
        # Records of a first batch skipped entirely, before this batch was drawn.
        skipped = pending.get("pool.skipped", np.empty(0, dtype=np.int64))
        fresh = skipped[~self.pool.skipped[skipped]]
        self.pool.skip(fresh, loop)
        self.carried = Carried.from_arrays(pending)
        record = self.finish_loop(loop, Batch.from_arrays(pending), {"select": 0.0})
        return self.run_loop(loop) if record is None else record

    def finish_loop(
        self, loop: int, batch: Batch, seconds: dict[str, float]
    ) -> dict[str, Any] | None:
        """LABEL (or wait for labels), TRAIN, INFER, checkpoint.

        Returns None when every record of a first batch was skipped: there is nothing to
        train on, so the loop selects again among the records left.
        """
        clock = time.perf_counter()
        answers = self.label(loop, batch)
        seconds["label"], clock = _lap(clock)
        if not answers.complete:
            self.save_pending(loop, batch, answers)
            raise AwaitingLabels(loop, answers.message, int((answers.codes == UNANSWERED).sum()))
        indices = batch.indices
        given = answers.codes >= 0
        if self.pool.n_labeled == 0 and not given.any():
            # Nothing to train on: pick others now (even with reoffer_skipped), and keep
            # these skips, saved with an empty batch, until a first batch gets labels.
            self.pool.skip(indices, loop)
            self.carried = self.carried.plus(indices, answers.labeler, answers.cost)
            with uninterrupted():
                self.rundir.remove_handoff(loop)
                empty = Batch.empty()
                self.save_pending(loop, empty, empty.answers)
            return None
        self.pool.add(indices[given], answers.codes[given], loop)
        if not self.reoffers_skipped:
            self.pool.skip(indices[answers.codes == SKIPPED], loop)

        self.train(loop)
        seconds["train"], clock = _lap(clock)

        metrics = evaluate(
            self.model, self.data.X_test, self.y_test, self.config.metrics, self.data.classes
        )
        spent = self.spent + float(answers.cost.sum()) + self.carried.cost_sum
        reason = self._stop_reason(loop, metrics, spent)
        n_predictions = 0 if reason else self.infer()
        seconds["infer"], clock = _lap(clock)

        picked_by = batch.picked_by
        record = {
            "loop": loop,
            "n_labeled": self.pool.n_labeled,
            "loop_size": int(indices.shape[0]),
            "strategy": "+".join(dict.fromkeys(picked_by.tolist())) or self._strategy_name(loop),
            "metrics": metrics,
            "n_skipped": int((answers.codes == SKIPPED).sum()) + self.carried.size,
            "cost": float(answers.cost.sum()) + self.carried.cost_sum,
            "label_errors": None
            if answers.truth is None
            else int(((answers.truth >= 0) & given & (answers.truth != answers.codes)).sum()),
            "n_predictions": n_predictions,
            "seconds": seconds,
            "stop_reason": reason,
        }
        self.checkpoint(record, batch, answers)
        checkpoint_s, clock = _lap(clock)
        for step, step_s in (*seconds.items(), ("checkpoint", checkpoint_s)):
            self.emit({"event": "step", "loop": loop, "step": step, "seconds": step_s})
        self.emit({"event": "loop", **record})
        return record

    @property
    def spent(self) -> float:
        """What the labels of the saved loops cost."""
        return float(sum(r.get("cost", 0.0) for r in self.history))

    def label(self, loop: int, batch: Batch) -> Answers:
        """Ask the labeler for what the batch has not answered yet."""
        if loop == 0 and self.config.init.method == "labeled":
            answers = batch.answers
            answers.codes[:] = self.data.y[batch.indices]
            answers.labeler[:] = "data"
            return answers
        request = self._request(loop, batch.indices, batch.answers.codes)
        if request.open.size == 0:
            return batch.answers
        fresh = self.labeler.label(request)
        return batch.answers.merged(fresh)

    def _request(
        self, loop: int, indices: np.ndarray, answers: np.ndarray | None = None
    ) -> LabelRequest:
        predictions = confidence = None
        # The model's guesses are for people to see (to_label.csv, tasks.json, the terminal).
        if self.model is not None and indices.size and self.people_look:
            predictions, confidence = self._guesses(indices)
        return LabelRequest(
            loop=loop,
            indices=indices,
            ids=self.pool.ids[indices],
            classes=self.data.classes,
            answers=np.full(indices.shape[0], UNANSWERED, dtype=np.int64)
            if answers is None
            else answers.copy(),
            predictions=predictions,
            confidence=confidence,
            records=self.records,
            features=self.pool.features,
            pending_dir=self.rundir.pending_path(loop).absolute(),
            rng=rng_for(self.config.seed, "label", loop),
        )

    def _guesses(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The evaluated model's predicted class code and its probability for ``indices``."""
        X = self.pool.features[indices]
        if hasattr(self.model, "predict_proba"):
            proba = self.model.predict_proba(X)
            best = proba.argmax(axis=1)
            codes = codes_of(self.data.classes, np.asarray(self.model.classes_)[best])
            return codes.astype(np.int64), proba[np.arange(best.shape[0]), best]
        predicted = np.asarray(self.model.predict(X))
        return codes_of(self.data.classes, predicted), None

    def save_pending(self, loop: int, batch: Batch, answers: Answers) -> None:
        arrays = {
            **batch.arrays(answers),
            **self.carried.arrays(),
            "pool.skipped": self.pool.state()["skipped"],
            **{f"strategy.{k}": v for k, v in self.strategy.state().items()},
        }
        with uninterrupted():
            # run.json first: a batch never holds a class code the run does not know.
            if self.new_classes:
                self.rundir.update_meta(new_classes=_plain_list(self.new_classes))
            self.rundir.write_pending(loop, arrays)

    # --- the four steps -------------------------------------------------------------------

    def select(self, loop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records to label, their scores, and the strategy that picked each."""
        cfg = self.config
        if loop == 0:
            initial = self._initial_set()
            return (
                initial,
                np.full(initial.shape[0], np.nan),
                np.full(initial.shape[0], cfg.init.method, dtype=object),
            )
        size = self._affordable(
            capped_size(
                self.schedule, loop, self.pool.n_labeled, self.pool.n_unlabeled, cfg.stop.budget
            ),
            self.spent,
        )
        order, codes = self.pool.training_set()
        selection_cfg = cfg.strategy.model or cfg.model
        ctx = SelectionContext(
            candidates=self.candidates,
            proba=self.proba,
            features=self.pool.features,
            model=self.selection_model,
            loop=loop,
            rng=rng_for(cfg.seed, "select", loop),
            decision=self.decision,
            labeled=order,
            labels=codes,
            classes=self.data.classes,
            learner=Learner(
                selection_cfg,
                cfg.seed,
                loop,
                n_classes=self.data.classes.shape[0],
                chunk_size=selection_cfg.chunk_size,
                n_jobs=selection_cfg.n_jobs,
                classes=self.data.classes,
            ),
            seed=cfg.seed,
        )
        self.strategy.observe(ctx)
        selection = self.strategy.select(ctx, size)
        _check_selection(selection, size, self.pool, cfg.strategy.name)
        picked_by = selection.picked_by
        if picked_by is None:
            picked_by = np.full(selection.indices.shape[0], self._strategy_name(loop), dtype=object)
        return selection.indices, selection.scores, picked_by

    def _strategy_name(self, loop: int) -> str:
        return self.config.init.method if loop == 0 else self.config.strategy.name

    def _initial_set(self) -> np.ndarray:
        init, seed = self.config.init, self.config.seed
        skipped = self.pool.n_skipped > 0  # a first batch every record of which was skipped
        if self.initial is not None and not skipped:
            return self.initial
        if self.initial is not None or self.pool.n_unlabeled == 0:
            raise DataError(
                f"every record of loop 0 was skipped ({self.pool.n_skipped} so far), "
                "so there is nothing to train on; "
                + (
                    f"list other ids in {init.path} (init.path)"
                    if init.method == "ids"
                    else "label at least one record of the first batch"
                )
            )
        if not skipped:
            if init.method == "kmeans":
                return kmeans_init(self.pool.features, init.size, rng_for(seed, "init"))
            return random_init(self.pool.size, init.size, rng_for(seed, "init"))
        # Drawn again among the records not skipped.
        candidates = self.pool.unlabeled_indices()
        if init.method == "kmeans":
            picks = kmeans_init(self.pool.features[candidates], init.size, rng_for(seed, "init"))
        else:
            picks = random_init(candidates.shape[0], init.size, rng_for(seed, "init"))
        return candidates[picks]

    def train(self, loop: int) -> None:
        """Fit the evaluated model, and the selection model when the strategy has its own."""
        self.model = self._fit(self.config.model, self.model, loop)
        if self.config.strategy.model is None:
            self.selection_model = self.model
        else:
            self.selection_model = self._fit(
                self.config.strategy.model, self.selection_model, loop, purpose="selection-model"
            )

    def _fit(self, model_cfg: Any, previous: Any, loop: int, purpose: str = "model") -> Any:
        order, codes = self.pool.training_set(up_to_loop=loop)
        return fit_model(
            model_cfg,
            previous,
            self.pool.features[order],
            self.data.decode(codes),
            self.config.seed,
            loop,
            purpose=purpose,
        )

    def infer(self) -> int:
        """Predict the unlabeled pool for the next SELECT; returns how many were predicted.

        Probabilities when the selection model has them, else decision values for strategies
        that accept them (the config check guarantees one of the two).
        """
        self.candidates = self.pool.unlabeled_indices()
        self.proba = self.decision = None
        if not self.strategy.needs_proba:
            return 0
        model = self.selection_model
        model_cfg = self.config.strategy.model or self.config.model
        if hasattr(model, "predict_proba"):
            self.proba = predict_proba_chunked(
                model, self.pool.features, self.candidates, model_cfg.chunk_size, model_cfg.n_jobs
            )
        else:
            self.decision = apply_chunked(
                model.decision_function,
                self.pool.features,
                self.candidates,
                model_cfg.chunk_size,
                model_cfg.n_jobs,
            )
        return int(self.candidates.shape[0])

    def _stop_reason(self, loop: int, metrics: dict[str, float], spent: float) -> str | None:
        pool, stop = self.pool, self.config.stop
        next_size = capped_size(
            self.schedule, loop + 1, pool.n_labeled, pool.n_unlabeled, stop.budget
        )
        progress = Progress(
            loop,
            pool.n_labeled,
            metrics,
            self._affordable(next_size, spent),
            pool.n_unlabeled,
            spent=spent,
            affordable=self._affordable(1, spent) > 0,
        )
        return stop_reason(stop, progress)

    def _affordable(self, size: int, spent: float) -> int:
        """``size`` cut so that even the dearest answers stay within stop.budget_cost."""
        budget, price = self.config.stop.budget_cost, max_price(self.config.labeler)
        if budget is None or price <= 0:
            return size
        return max(min(size, int((budget - spent) / price + 1e-9)), 0)

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, record: dict[str, Any], batch: Batch, answers: Answers) -> None:
        indices, scores = batch.indices, batch.scores
        ids = self.pool.ids[indices]
        selected = csv_text(
            ["id", "index", "score", "strategy"],
            [
                [i, int(x), "" if math.isnan(s) else repr(float(s)), by]
                for i, x, s, by in zip(ids, indices, scores, batch.picked_by, strict=True)
            ],
        )
        given = np.flatnonzero(answers.codes >= 0)
        header = ["id", "label", "labeler"]
        columns = [ids[given], self.data.decode(answers.codes[given]), answers.labeler[given]]
        if self.tracks_cost:
            header.append("cost")
            columns.append([repr(float(c)) for c in answers.cost[given]])
        if answers.truth is not None:
            # Empty where the answer came from a labeler that knows no truth (a model).
            truth = answers.truth[given]
            known = self.data.decode(np.maximum(truth, 0)).astype(object)
            known[truth < 0] = ""
            header.append("true_label")
            columns.append(known)
        files = {
            "selected.csv": selected,
            "labels.csv": csv_text(header, [list(row) for row in zip(*columns, strict=True)]),
            "metrics.json": json.dumps(record, indent=2) + "\n",
        }
        skipped = np.flatnonzero(answers.codes == SKIPPED)
        carried = self.carried
        if skipped.size or carried.size:
            files["skipped.csv"] = csv_text(
                ["id", "labeler"],
                [
                    [i, by]
                    for i, by in zip(self.pool.ids[carried.indices], carried.labeler, strict=True)
                ]
                + [[ids[k], answers.labeler[k]] for k in skipped],
            )
        keep = self.config.output.keep_models
        # "last" means the final loop's model: written once, when the run stops, so a
        # completed loop folder is never touched again (resume refits, never unpickles).
        model = self.model if keep == "all" or (keep == "last" and record["stop_reason"]) else None
        # The loop folder, metrics.csv and run.json change together or not at all.
        with uninterrupted():
            self.rundir.write_loop(
                record["loop"],
                files=files,
                arrays={
                    **self.pool.state(),
                    "classes": self.data.classes,
                    **{f"strategy.{k}": v for k, v in self.strategy.state().items()},
                },
                model=model,
            )
            self.history.append(record)
            self.write_metrics_csv()
            self.carried = Carried.none()
            self.rundir.update_meta(
                last_loop=record["loop"],
                pending_loop=None,
                **({"new_classes": _plain_list(self.new_classes)} if self.new_classes else {}),
            )
            self.rundir.clear_pending()

    @property
    def tracks_cost(self) -> bool:
        """Whether labels cost anything here (a price set, or a money budget)."""
        return self.config.stop.budget_cost is not None or max_price(self.config.labeler) > 0

    def write_metrics_csv(self) -> None:
        names = self.config.metrics
        # Columns only where they mean something: skips with people, cost with prices,
        # label errors with a noisy oracle.
        extra = [
            key
            for key, wanted in (
                ("n_skipped", chain_has(self.config.labeler, "may_skip")),
                ("cost", self.tracks_cost),
                ("label_errors", chain_has(self.config.labeler, "records_truth")),
            )
            if wanted
        ]
        header = [
            "loop",
            "n_labeled",
            "loop_size",
            "strategy",
            *names,
            *extra,
            "n_predictions",
            *(f"{step}_s" for step in STEPS),
        ]
        rows = [
            [
                r["loop"],
                r["n_labeled"],
                r["loop_size"],
                r["strategy"],
                *(repr(r["metrics"][m]) for m in names),
                *(_extra_cell(r, key) for key in extra),
                r["n_predictions"],
                *(f"{r['seconds'][step]:.6f}" for step in STEPS),
            ]
            for r in self.history
        ]
        self.rundir.write_metrics_csv(header, rows)

    def restore_history(self) -> int | None:
        """Read the complete loops' records back; returns the last loop's number (or None).

        metrics.csv is brought in step with the loop folders (a kill can fall between them).
        """
        loops = self.rundir.complete_loops()
        if loops != list(range(len(loops))):
            raise RunDirError(
                f"{self.rundir.path}/loops has gaps ({loops}); it was edited by "
                "hand. Remove the loops after the gap to resume from there."
            )
        if not loops:
            return None
        self.history = [self.rundir.read_loop_metrics(k) for k in loops]
        self.write_metrics_csv()
        return loops[-1]

    def restore_model(self, last: int | None) -> None:
        """Rebuild the pool and the model as they were after loop ``last``.

        The model is refit from the saved labels and seed (replaying every loop's fit for
        warm starts) rather than unpickled, so resume depends on data, not on pickles.
        """
        if last is None:
            return
        state = self.rundir.read_state(last)
        self.pool.restore(state)
        self.strategy.restore(_strategy_state(state))
        models = (self.config.model, self.config.strategy.model)
        warm = any(cfg is not None and cfg.retrain == "warm_start" for cfg in models)
        for k in range(last + 1) if warm else [last]:
            self.train(k)
        self.infer()

    # --- reporting ------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        self.rundir.append_event(event)
        if self.on_event is not None:
            self.on_event(event)

    def result(self, status: str, reason: str | None) -> RunResult:
        last = self.history[-1] if self.history else None
        return RunResult(
            path=self.rundir.path,
            status=status,
            stop_reason=reason,
            last_loop=last["loop"] if last else None,
            metrics=dict(last["metrics"]) if last else {},
            n_labeled=last["n_labeled"] if last else 0,
        )


def _initial_indices(config: ExperimentConfig, data: Dataset) -> np.ndarray | None:
    """Loop 0's pool indices when the config fixes them (ids, labeled); checks the sizes."""
    init, budget, n_pool = config.init, config.stop.budget, data.ids.shape[0]
    if init.method in ("random", "kmeans"):
        if init.size > n_pool:
            raise DataError(
                f"init.size ({init.size}) is larger than the pool ({n_pool} records after "
                "holding out the test set); lower init.size"
            )
        return None
    if init.method == "ids":
        initial = _resolve_ids(read_id_list(init.path), data, init.path)
    else:
        if _truth_teller(config) is not None:
            raise DataError(
                f"init.method: labeled takes the records whose target the data already holds, "
                f"and with the {_truth_teller(config)} labeler every record holds one, so loop 0 "
                "would label the whole pool. Use init.method random, kmeans or ids."
            )
        initial = np.flatnonzero(data.y != UNLABELED)
        if initial.size == 0:
            raise DataError(
                f"init.method: labeled, but no pool record has '{config.data.target}' filled in"
            )
    if budget is not None and initial.size > budget:
        raise DataError(
            f"stop.budget ({budget}) is below the initial set ({initial.size} records from "
            f"init.method {init.method}); raise the budget"
        )
    price = max_price(config.labeler)
    if config.stop.budget_cost is not None and initial.size * price > config.stop.budget_cost:
        raise DataError(
            f"stop.budget_cost ({config.stop.budget_cost}) is below what the initial set can "
            f"cost ({initial.size} records from init.method {init.method} at up to {price} "
            "each); raise the budget"
        )
    return initial


class StrategyBroke(RuntimeError):
    """A strategy returned something the loop cannot use (a user's own, most likely)."""


def _check_selection(selection: Any, size: int, pool: Pool, name: str) -> None:
    """Refuse a selection that would break the run's guarantees (loop size, budget, one
    label per record), naming the strategy."""
    indices = np.asarray(selection.indices)
    problem = None
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        problem = f"indices must be a 1-d integer array, got shape {indices.shape} {indices.dtype}"
    elif indices.shape[0] > size:
        problem = f"{indices.shape[0]} records for a loop of {size}"
    elif indices.size and (indices.min() < 0 or indices.max() >= pool.size):
        problem = f"pool indices outside 0..{pool.size - 1}"
    elif np.unique(indices).shape[0] != indices.shape[0]:
        problem = "the same record twice"
    elif pool.labeled[indices].any():
        again = indices[pool.labeled[indices]]
        problem = f"already labeled records (pool indices {preview(again)})"
    elif np.shape(selection.scores) != indices.shape:
        problem = f"{np.shape(selection.scores)} scores for {indices.shape[0]} records"
    if problem:
        raise StrategyBroke(f"strategy '{name}' returned {problem}")


def asks_a_person(config: ExperimentConfig) -> bool:
    """Whether a labeler in the chain asks at the terminal during the run."""
    return chain_has(config.labeler, "needs_tty")


def asks_a_person_in(path: Path) -> bool:
    """:func:`asks_a_person` for a run directory's config (False if it cannot be read:
    resume then reports why)."""
    try:
        return asks_a_person(load_config(Path(path) / "config.yaml"))
    except AlcliError:
        return False


def _check_prices(config: ExperimentConfig, data: Dataset) -> None:
    """Every class a price names is a class of the data (a typo would price nothing, yet
    cut loops under stop.budget_cost)."""
    known = codes_by_text(data.classes)
    for cfg in labeler_chain(config.labeler):
        if getattr(cfg, "allow_new_classes", False):
            continue
        unknown = [label_text(k) for k in cfg.cost.per_class if label_text(k) not in known]
        if unknown:
            raise DataError(
                f"labeler.cost.per_class ({cfg.kind}): {preview(unknown)} "
                f"{agree(len(unknown), 'is not a class', 'are not classes')} of the data; the "
                f"classes are {', '.join(sorted(known))}. Price classes by their labels"
            )


def _truth_teller(config: ExperimentConfig) -> str | None:
    """The kind of a labeler in the chain that reveals the data's target (None if none)."""
    teller = first_with(config.labeler, "needs_truth")
    return None if teller is None else teller.kind


def _check_terminal(config: ExperimentConfig) -> None:
    """A person must be at a terminal for the terminal labeler (checked before writing)."""
    import sys

    if asks_a_person(config) and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DataError(
            "labeler: the terminal labeler asks a person at an interactive terminal, and this "
            "process has none (stdin or stdout is redirected); run alcli in a terminal, or use "
            "labeler: {kind: file} to label through a spreadsheet"
        )


def _what_refuses_nan(config: ExperimentConfig) -> str | None:
    """What in the config cannot work with missing feature values (None if all can)."""
    estimators = [("model", config.model.build())]
    if config.strategy.model is not None:
        estimators.append(("strategy.model", config.strategy.model.build()))
    for key, estimator in estimators:
        if not accepts_nan(estimator):
            return f"{type(estimator).__name__} ({key})"
    if not config.strategy.build().accepts_nan:
        return f"strategy '{config.strategy.name}' (it measures distances between records)"
    return None


def _check_metrics_fit_the_data(config: ExperimentConfig, data: Dataset) -> None:
    """Score a constant predictor with every metric, so a metric that cannot work on these
    classes (roc_auc on three classes, say) fails now rather than after loop 0."""
    import warnings

    from sklearn.dummy import DummyClassifier

    y_test = data.decode(data.y_test)
    probe = DummyClassifier(strategy="prior").fit(data.X_test, y_test)
    for metric in config.metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                evaluate(probe, data.X_test, y_test, [metric], data.classes)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"metrics: '{metric}' cannot score this data ({data.classes.shape[0]} classes): "
                f"{exc}. Use a metric for this task, e.g. accuracy, f1_macro, roc_auc_ovr"
            ) from None


def _resolve_ids(wanted: list[str], data: Dataset, source: Path) -> np.ndarray:
    """Pool indices of the ids in an init file, by binary search (no per-id dict)."""
    if not wanted:
        raise DataError(f"{source}: no ids (init.path); list one record id per line")
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{source}: an id is listed twice (init.path); list each once")
    ids = data.ids
    if ids.dtype.kind == "i":  # row numbers: an id that is not a number is not in the pool
        keys = np.array([int(w) if w.lstrip("-").isdigit() else -1 for w in wanted])
    else:
        keys = np.array(wanted, dtype=str)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    slots = np.minimum(np.searchsorted(sorted_ids, keys), ids.shape[0] - 1)
    found = sorted_ids[slots] == keys
    if not found.all():
        unknown = [w for w, ok in zip(wanted, found.tolist(), strict=True) if not ok]
        raise DataError(
            f"{source}: ids not in the pool (init.path): {preview(unknown)}. Ids of the "
            "test set cannot be chosen either."
        )
    return order[slots].astype(np.int64)


def _plain_list(values: list) -> list:
    """Class labels as JSON holds them (numpy integers as ints)."""
    return [v.item() if hasattr(v, "item") else v for v in values]


def _strategy_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The strategy's arrays of a checkpoint or a pending batch (saved as ``strategy.*``)."""
    return {k.removeprefix("strategy."): v for k, v in arrays.items() if k.startswith("strategy.")}


def _extra_cell(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    # Rounded so sums of prices read as they are (3.03, not 3.0299999999999994).
    return repr(round(float(value), 9)) if key == "cost" else str(value)


def _lap(since: float) -> tuple[float, float]:
    now = time.perf_counter()
    return now - since, now
