"""The runner: the only place that orders the steps. It runs loops against one run directory
until a stop criterion holds or a person has the batch, and turns failures and Ctrl-C into a
run directory that says what happened and how to go on."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from alcli.atomic import is_storage_error, storage_message, uninterrupted
from alcli.classes import SKIPPED, UNANSWERED
from alcli.data import RecordSource
from alcli.engine.budget import affordable, loop_size
from alcli.engine.checkpoint import (
    checkpoint,
    read_records,
    restore_criteria,
    rewrite_last_loop,
    table_columns,
)
from alcli.engine.extension import ExtensionRefused, replay_history
from alcli.engine.preflight import Experiment
from alcli.engine.state import (
    TRAIN_ORDER,
    AwaitingLabels,
    Batch,
    Carried,
    RunState,
    strategy_state,
)
from alcli.engine.steps.infer import batch_confidence, infer, measure_signals, score_on_test
from alcli.engine.steps.label import label, save_pending
from alcli.engine.steps.select import select
from alcli.engine.steps.train import train
from alcli.engine.warned import Caught, estimator_name, quietly
from alcli.errors import AlcliError, ExperimentFailed, Interrupted, StorageFull
from alcli.labelers import Answers, labeler_chain
from alcli.models import blas_threads
from alcli.pool import Pool
from alcli.rundir import LoopRecord, RunDir
from alcli.schedules import build_schedule
from alcli.seeding import STOP_SET, rng_for
from alcli.stopping import (
    PROBA_SIGNALS,
    SIGNALS,
    Progress,
    build_criteria,
    first_reason,
    needed_signals,
    watch_signals,
)
from alcli.stopping.stabilizing_predictions import STOP_SET_SIZE

EventSink = Callable[[dict[str, Any]], None]


@dataclass
class RunResult:
    path: Path
    status: str
    stop_reason: str | None
    last_loop: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    n_labeled: int = 0
    message: str = ""  # what the answers gave, and what to do next when a person has the batch


class Runner:
    """Runs loops against one run directory; holds the run's state between them."""

    def __init__(
        self,
        experiment: Experiment,
        rundir: RunDir,
        on_event: EventSink | None,
        train_order: str = TRAIN_ORDER,
    ):
        config, data = experiment.config, experiment.data
        self.state = RunState(
            config=config,
            data=data,
            rundir=rundir,
            pool=Pool(data.X, data.ids),
            init=experiment.init,
            initial=experiment.initial,
            strategy=experiment.strategy,
            labeler=experiment.labeler,
            schedule=build_schedule(config.loop_size),
            criteria=build_criteria(config.stop),
            records=RecordSource(config.data, data),
            y_test=data.decode(data.y_test),  # labels as the scorers see them
            new_classes=list(experiment.new_classes),
            train_order=train_order,
        )
        criteria = self.state.criteria
        self.before_infer, self.after_infer = watch_signals(criteria)
        self.state.signals = needed_signals(criteria) | recorded_signals(config)
        if "kappa" in self.state.signals:
            sizes = [c.params.stop_set_size for c in criteria if "kappa" in c.needs]
            size = max(sizes, default=STOP_SET_SIZE)
            n_pool = self.state.pool.size
            draw = rng_for(config.seed, STOP_SET).choice(n_pool, min(size, n_pool), replace=False)
            self.state.stop_set = np.sort(draw)
        self.state.columns = table_columns(self.state)
        self.on_event = on_event
        #: Warnings of the set-up (reading the data, training a labeling model), journaled
        #: when the loops begin.
        self.setup_warnings = list(experiment.warnings)
        self.reoffers_skipped = any(
            getattr(link, "reoffer_skipped", False) for link in labeler_chain(config.labeler)
        )

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
        rundir = self.state.rundir
        loop = first_loop
        try:
            rundir.update_meta(status="running", error=None)
            if self.setup_warnings:
                self.emit({"event": "warnings", "loop": None, "warnings": self.setup_warnings})
                self.setup_warnings = []
            with blas_threads(self.state.config.model.blas_threads):
                if restore:
                    self.restore_model(first_loop - 1 if first_loop else None)
                record = None if pending is None else self.resume_batch(loop, pending)
                while record is None or not record.stop_reason:
                    if record is not None:
                        loop += 1
                    record = self.run_loop(loop)
        except AwaitingLabels as waiting:
            rundir.update_meta(
                status="awaiting_labels", pending_loop=waiting.loop, last_loop=self.state.last_loop
            )
            self.emit({"event": "awaiting_labels", "loop": waiting.loop, "open": waiting.n_open})
            result = self.result("awaiting_labels", None)
            result.message = waiting.message
            return result
        except KeyboardInterrupt:
            last = self.state.last_loop
            # A second Ctrl-C while this is recorded would leave the status half-said.
            with uninterrupted(then_raise=False):
                rundir.record_status("stopped", last_loop=last)
                with contextlib.suppress(OSError):
                    self.emit({"event": "interrupted", "last_loop": last})
            saved = "no loop is saved yet" if last is None else f"loops 0 to {last} are saved"
            raise Interrupted(
                f"Stopped; {saved}. Resume with `alcli resume {rundir.path}`."
            ) from None
        except AlcliError as exc:
            rundir.update_meta(status="failed", error=str(exc), last_loop=self.state.last_loop)
            raise
        except OSError as exc:
            if not is_storage_error(exc):
                raise self._failed(loop, exc) from exc
            raise self._out_of_storage(exc) from None
        except Exception as exc:
            raise self._failed(loop, exc) from exc
        reason = record.stop_reason
        rundir.update_meta(status="completed", stop_reason=reason, last_loop=loop)
        self.emit({"event": "done", "reason": reason, "loop": loop})
        return self.result("completed", reason)

    def _out_of_storage(self, exc: OSError) -> StorageFull:
        """A write the storage refused: the loop it belonged to is not saved (its files were
        written whole or not at all), the run is stopped after the last saved loop."""
        rundir, last = self.state.rundir, self.state.last_loop
        rundir.discard_partial()
        rundir.record_status("stopped", last_loop=last)
        with contextlib.suppress(OSError):
            self.emit({"event": "storage_full", "error": str(exc), "last_loop": last})
        saved = "no loop is saved yet" if last is None else f"loops 0 to {last} are saved"
        return StorageFull(
            f"{storage_message(exc, rundir.path)}.\nThe run is stopped; {saved}, nothing is "
            f"half-written. Free some space (or make the folder writable) and "
            f"`alcli resume {rundir.path}`."
        )

    def _failed(self, loop: int, exc: Exception) -> ExperimentFailed:
        """A step raised: the run is marked failed, the traceback journaled."""
        rundir = self.state.rundir
        message = f"loop {loop} failed: {type(exc).__name__}: {exc}"
        rundir.update_meta(status="failed", error=message, last_loop=self.state.last_loop)
        self.emit(
            {"event": "failed", "loop": loop, "error": message, "traceback": traceback.format_exc()}
        )
        return ExperimentFailed(
            f"{message}\nThe run is saved up to the previous loop (the traceback is in "
            f"events.jsonl); fix the cause and `alcli resume {rundir.path}`."
        )

    def run_loop(self, loop: int) -> LoopRecord:
        """SELECT, LABEL, TRAIN, INFER, then checkpoint ``loops/<loop>``."""
        state = self.state
        state.caught = Caught()
        if loop == 0:
            source = (state.config.init.method, "init")
        else:
            source = (state.config.strategy.name, _selection_key(state.config))
        while True:
            self.began(loop, "select")
            clock = time.perf_counter()
            with state.caught.step("select", *source):
                indices, scores, picked_by = select(state, loop)
            seconds = {"select": time.perf_counter() - clock}
            batch = Batch(indices, scores, picked_by, Answers.unanswered(indices.shape[0]))
            record = self.finish_loop(loop, batch, seconds)
            if record is not None:
                return record

    def resume_batch(self, loop: int, pending: dict[str, np.ndarray]) -> LoopRecord:
        """Go on with a loop whose batch waited for labels: the strategy as it was after
        selecting it, the answers given so far, then LABEL the rest."""
        state = self.state
        state.caught = Caught()
        state.strategy.restore(strategy_state(pending))
        # Records of a first batch skipped entirely, before this batch was drawn.
        skipped = pending.get("pool.skipped", np.empty(0, dtype=np.int64))
        fresh = skipped[~state.pool.skipped[skipped]]
        state.pool.skip(fresh, loop)
        state.carried = Carried.from_arrays(pending)
        record = self.finish_loop(loop, Batch.from_arrays(pending), {"select": 0.0})
        return self.run_loop(loop) if record is None else record

    def finish_loop(self, loop: int, batch: Batch, seconds: dict[str, float]) -> LoopRecord | None:
        """LABEL (or wait for labels), TRAIN, INFER, checkpoint.

        Returns None when every record of a first batch was skipped: there is nothing to
        train on, so the loop selects again among the records left.
        """
        state, pool = self.state, self.state.pool
        self.began(loop, "label")
        clock = time.perf_counter()
        with state.caught.step("label", key="labeler"):
            answers = label(state, loop, batch)
        seconds["label"], clock = _lap(clock)
        if not answers.complete:
            save_pending(state, loop, batch, answers)
            if state.caught:  # SELECT's: the loop goes on from LABEL when the answers come
                self.emit(self.warnings_event(loop))
            raise AwaitingLabels(loop, answers.message, int((answers.codes == UNANSWERED).sum()))
        indices = batch.indices
        given = answers.codes >= 0
        if pool.n_labeled == 0 and not given.any():
            # Nothing to train on: pick others now (even with reoffer_skipped), and keep
            # these skips, saved with an empty batch, until a first batch gets labels.
            pool.skip(indices, loop)
            state.carried = state.carried.plus(indices, answers.labeler, answers.cost)
            with uninterrupted():
                state.rundir.remove_handoff(loop)
                empty = Batch.empty()
                save_pending(state, loop, empty, empty.answers)
            return None
        pool.add(indices[given], answers.codes[given], loop)
        if not self.reoffers_skipped:
            pool.skip(indices[answers.codes == SKIPPED], loop)

        self.began(loop, "train")
        clock = time.perf_counter()
        train(state, loop)
        seconds["train"], clock = _lap(clock)

        self.began(loop, "infer")
        clock = time.perf_counter()
        with state.caught.step("infer", estimator_name(state.model), "model"):
            metrics = score_on_test(state)
            cost = float(answers.cost.sum()) + state.carried.cost_sum
            confidence = batch_confidence(state, indices) if state.signals else float("nan")
            progress = self.progress(loop, metrics, state.spent + cost)
            reason, n_predictions, signals = self.decide(progress, confidence)
        seconds["infer"], clock = _lap(clock)

        record = LoopRecord(
            loop=loop,
            n_labeled=pool.n_labeled,
            loop_size=int(indices.shape[0]),
            strategy="+".join(dict.fromkeys(batch.picked_by.tolist())) or state.strategy_name(loop),
            metrics=metrics,
            n_skipped=int((answers.codes == SKIPPED).sum()) + state.carried.size,
            cost=cost,
            label_errors=None
            if answers.truth is None
            else int(((answers.truth >= 0) & given & (answers.truth != answers.codes)).sum()),
            n_predictions=n_predictions,
            seconds=seconds,
            stop_reason=reason,
            signals=signals,
        )
        checkpoint(state, record, batch, answers)
        checkpoint_s, clock = _lap(clock)
        self.emit(
            *(
                {"event": "step", "loop": loop, "step": step, "seconds": step_s}
                for step, step_s in (*seconds.items(), ("checkpoint", checkpoint_s))
            ),
            {"event": "loop", **record.to_json()},
            *([self.warnings_event(loop)] if state.caught else []),
        )
        return record

    def warnings_event(self, loop: int) -> dict[str, Any]:
        """The ``warnings`` event of the loop's steps so far; the count starts over."""
        event = {"event": "warnings", "loop": loop, "warnings": self.state.caught.items()}
        self.state.caught = Caught()
        return event

    def decide(
        self, progress: Progress, confidence: float
    ) -> tuple[str | None, int, dict[str, float]]:
        """INFER and the stop decision after TRAIN: the reason to stop (or None), how many
        records INFER predicted, and the signals it measured.

        Criteria that need no signal decide first: a loop they stop skips INFER. Then INFER
        runs, the signals some criterion asked for are measured, and the rest decide.
        """
        reason = first_reason(self.before_infer, progress)
        if reason:
            return reason, 0, {}
        n_predictions = infer(self.state)
        signals: dict[str, float] = {}
        if self.state.signals:
            signals = measure_signals(self.state, confidence)
            reason = first_reason(self.after_infer, replace(progress, signals=signals))
        return reason, n_predictions, signals

    def progress(self, loop: int, metrics: dict[str, float], spent: float) -> Progress:
        """Where the run stands after ``loop``, for the stop criteria."""
        state = self.state
        return Progress(
            loop,
            state.pool.n_labeled,
            metrics,
            loop_size(state, loop + 1, spent),
            state.pool.n_unlabeled,
            spent=spent,
            affordable=affordable(state.config, 1, spent) > 0,
        )

    # --- resuming -------------------------------------------------------------------------

    def reopen(self, last: int) -> LoopRecord:
        """Take the stop decision of loop ``last`` again under the config as it is now (an
        extended run: stop keys changed on resume), as a run started with it would have.

        The pool and strategy come back as they were after ``last``; the stop criteria (built
        from the config as it is now) observe the loops before it as they were recorded, so
        one added by the extension knows the run's history; the models of ``last - 1`` and
        ``last`` are refit (every loop's, for warm starts) so that the signals compare what
        the straight run compared. The loop's record and state are rewritten (state.npz
        first: a kill between the two leaves the old decision, which a resume takes again).
        Returns the new record.
        """
        state, rundir = self.state, self.state.rundir
        problem = replay_history(state.criteria, self.after_infer, read_records(rundir))
        if problem:
            raise ExtensionRefused(problem)
        with quietly():  # the loop's warnings were counted when it first ran
            return self._reopen(last)

    def _reopen(self, last: int) -> LoopRecord:
        state, rundir = self.state, self.state.rundir
        arrays = rundir.read_state(last)
        state.pool.restore(arrays)
        state.strategy.restore(strategy_state(arrays))
        models = (state.config.model, state.config.strategy.model)
        warm = any(cfg is not None and cfg.retrain == "warm_start" for cfg in models)
        for k in range(last) if warm else [last - 1] if last > 0 else []:
            train(state, k)
        confidence = float("nan")
        if last > 0:
            infer(state, after_loop=last - 1)
            if state.signals:
                # The whole batch the model of last - 1 picked, skipped records included.
                batch = np.sort(rundir.read_selected_indices(last))
                confidence = batch_confidence(state, batch)
                measure_signals(state, float("nan"))  # loop last - 1's predictions
        train(state, last)
        record = state.last
        progress = self.progress(last, record.metrics, state.spent)
        reason, n_predictions, signals = self.decide(progress, confidence)
        record = replace(record, n_predictions=n_predictions, signals=signals, stop_reason=reason)
        rewrite_last_loop(state, record)
        return record

    def restore_model(self, last: int | None) -> None:
        """Rebuild the pool and the model as they were after loop ``last``.

        The model is refit from the saved labels and seed (replaying every loop's fit for
        warm starts) rather than unpickled, so resume depends on data, not on pickles.
        """
        if last is None:
            return
        with quietly():  # the warnings of the loops refit were counted when they ran
            self._restore_model(last)

    def _restore_model(self, last: int) -> None:
        state = self.state
        arrays = state.rundir.read_state(last)
        state.pool.restore(arrays)
        state.strategy.restore(strategy_state(arrays))
        restore_criteria(state, arrays)
        models = (state.config.model, state.config.strategy.model)
        warm = any(cfg is not None and cfg.retrain == "warm_start" for cfg in models)
        for k in range(last + 1) if warm else [last]:
            train(state, k)
        infer(state)
        if state.signals:
            # What loop ``last`` predicted, for the next loop's comparisons.
            measure_signals(state, float("nan"))

    # --- reporting ------------------------------------------------------------------------

    def began(self, loop: int, step: str) -> None:
        """Journal a step's start (not for the sink): a stopped run shows where it was."""
        self.state.rundir.append_events({"event": "begin", "loop": loop, "step": step})

    def emit(self, *events: dict[str, Any]) -> None:
        """Journal ``events`` in events.jsonl (in one append), then hand each to the sink."""
        self.state.rundir.append_events(*events)
        if self.on_event is not None:
            for event in events:
                self.on_event(event)

    def result(self, status: str, reason: str | None) -> RunResult:
        last = self.state.last
        return RunResult(
            path=self.state.rundir.path,
            status=status,
            stop_reason=reason,
            last_loop=last.loop if last else None,
            metrics=dict(last.metrics) if last else {},
            n_labeled=last.n_labeled if last else 0,
        )


def recorded_signals(config) -> frozenset[str]:
    """Every signal this run can measure when stop.record_signals asks for them all (those
    on probabilities only with a selection model that has predict_proba)."""
    if not config.stop.record_signals:
        return frozenset()
    selection = (config.strategy.model or config.model).build()
    if hasattr(selection, "predict_proba"):
        return frozenset(SIGNALS)
    return frozenset(SIGNALS) - PROBA_SIGNALS


def _selection_key(config) -> str:
    """The config section of the model a strategy fits copies of."""
    return "strategy.model" if config.strategy.model is not None else "model"


def _lap(since: float) -> tuple[float, float]:
    now = time.perf_counter()
    return now - since, now
