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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alcli import __version__
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
from alcli.labelers import LABELERS, build_labeler
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


@dataclass
class RunResult:
    path: Path
    status: str
    stop_reason: str | None
    last_loop: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    n_labeled: int = 0


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
    if LABELERS[config.labeler.kind].needs_truth:
        missing = np.flatnonzero(data.y == UNLABELED)
        if missing.size:
            raise DataError(
                f"{where}: the {config.labeler.kind} labeler reveals the target the data holds, "
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
    initial = _initial_indices(config, data) if initial_set else None
    return Experiment(config, data, initial)


def start(
    config: ExperimentConfig, run_path: Path | None = None, on_event: EventSink | None = None
) -> RunResult:
    """Validate, create the run directory, and run until a stop criterion holds."""
    config_yaml, config = freeze(config)
    experiment = prepare(config)
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


def resume(path: Path, on_event: EventSink | None = None) -> RunResult:
    """Restart a run after its last complete loop.

    Raises
    ------
    RunDirError
        When the directory is not a run, is busy, or its data changed.
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
        rundir.discard_partial()
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
        return loop_runner.drive(first_loop=first, restore=True)


class Loop:
    """Runs loops against one run directory; holds the state between them."""

    def __init__(self, experiment: Experiment, rundir: RunDir, on_event: EventSink | None):
        self.config = experiment.config
        self.data = experiment.data
        self.initial = experiment.initial
        self.rundir = rundir
        self.on_event = on_event
        self.pool = Pool(self.data.X, self.data.ids)
        self.labeler = build_labeler(self.config.labeler, truth=self.data.y)
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

    def drive(self, first_loop: int, restore: bool = False) -> RunResult:
        """Run loops from ``first_loop`` until a stop criterion holds.

        ``restore`` first rebuilds pool and model as they were after ``first_loop - 1``; a
        failure or Ctrl-C there is handled like one in a loop.
        """
        loop = first_loop
        try:
            self.rundir.update_meta(status="running", error=None)
            with blas_threads(self.config.model.blas_threads):
                if restore:
                    self.restore_model(first_loop - 1 if first_loop else None)
                while True:
                    record = self.run_loop(loop)
                    if record["stop_reason"]:
                        break
                    loop += 1
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
        seconds = {}
        clock = time.perf_counter()

        indices, scores, picked_by = self.select(loop)
        seconds["select"], clock = _lap(clock)

        if loop == 0 and self.config.init.method == "labeled":
            codes, labeler_name = self.data.y[indices], "data"
        else:
            codes, labeler_name = self.labeler.label(indices), self.config.labeler.kind
        self.pool.add(indices, codes, loop)
        seconds["label"], clock = _lap(clock)

        self.train(loop)
        seconds["train"], clock = _lap(clock)

        metrics = evaluate(
            self.model, self.data.X_test, self.y_test, self.config.metrics, self.data.classes
        )
        reason = self._stop_reason(loop, metrics)
        n_predictions = 0 if reason else self.infer()
        seconds["infer"], clock = _lap(clock)

        record = {
            "loop": loop,
            "n_labeled": self.pool.n_labeled,
            "loop_size": int(indices.shape[0]),
            "strategy": "+".join(dict.fromkeys(picked_by.tolist())) or self._strategy_name(loop),
            "metrics": metrics,
            "n_predictions": n_predictions,
            "seconds": seconds,
            "stop_reason": reason,
        }
        self.checkpoint(record, indices, scores, picked_by, codes, labeler_name)
        checkpoint_s, clock = _lap(clock)
        for step, step_s in (*seconds.items(), ("checkpoint", checkpoint_s)):
            self.emit({"event": "step", "loop": loop, "step": step, "seconds": step_s})
        self.emit({"event": "loop", **record})
        return record

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
        size = capped_size(
            self.schedule, loop, self.pool.n_labeled, self.pool.n_unlabeled, cfg.stop.budget
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
        if self.initial is not None:
            return self.initial
        if init.method == "kmeans":
            return kmeans_init(self.pool.features, init.size, rng_for(seed, "init"))
        return random_init(self.pool.size, init.size, rng_for(seed, "init"))

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

    def _stop_reason(self, loop: int, metrics: dict[str, float]) -> str | None:
        pool, stop = self.pool, self.config.stop
        next_size = capped_size(
            self.schedule, loop + 1, pool.n_labeled, pool.n_unlabeled, stop.budget
        )
        return stop_reason(
            stop, Progress(loop, pool.n_labeled, metrics, next_size, pool.n_unlabeled)
        )

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, record, indices, scores, picked_by, codes, labeler_name) -> None:
        ids = self.pool.ids[indices]
        labels = self.data.decode(codes)
        selected = csv_text(
            ["id", "index", "score", "strategy"],
            [
                [i, int(x), "" if math.isnan(s) else repr(float(s)), by]
                for i, x, s, by in zip(ids, indices, scores, picked_by, strict=True)
            ],
        )
        labeled = csv_text(
            ["id", "label", "labeler"],
            [[i, label, labeler_name] for i, label in zip(ids, labels.tolist(), strict=True)],
        )
        keep = self.config.output.keep_models
        # "last" means the final loop's model: written once, when the run stops, so a
        # completed loop folder is never touched again (resume refits, never unpickles).
        model = self.model if keep == "all" or (keep == "last" and record["stop_reason"]) else None
        # The loop folder, metrics.csv and run.json change together or not at all.
        with uninterrupted():
            self.rundir.write_loop(
                record["loop"],
                files={
                    "selected.csv": selected,
                    "labels.csv": labeled,
                    "metrics.json": json.dumps(record, indent=2) + "\n",
                },
                arrays={
                    **self.pool.state(),
                    "classes": self.data.classes,
                    **{f"strategy.{k}": v for k, v in self.strategy.state().items()},
                },
                model=model,
            )
            self.history.append(record)
            self.write_metrics_csv()
            self.rundir.update_meta(last_loop=record["loop"])

    def write_metrics_csv(self) -> None:
        names = self.config.metrics
        header = [
            "loop",
            "n_labeled",
            "loop_size",
            "strategy",
            *names,
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
        self.strategy.restore(
            {k.removeprefix("strategy."): v for k, v in state.items() if k.startswith("strategy.")}
        )
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
        if LABELERS[config.labeler.kind].needs_truth:
            raise DataError(
                f"init.method: labeled takes the records whose target the data already holds, "
                f"and with the {config.labeler.kind} labeler every record holds one, so loop 0 "
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


def _lap(since: float) -> tuple[float, float]:
    now = time.perf_counter()
    return now - since, now
