"""Checkpoints: a complete loop written to its folder (with metrics.csv and run.json) in one
uninterruptible step, and the run's history and state read back on resume."""

from __future__ import annotations

import json

import numpy as np

from alcli.atomic import uninterrupted
from alcli.classes import SKIPPED
from alcli.engine.budget import tracks_cost
from alcli.engine.state import Batch, Carried, RunState, plain_list
from alcli.errors import RunDirError
from alcli.labelers import Answers, chain_has
from alcli.rundir import LoopRecord, metrics_header, metrics_row
from alcli.rundir.tables import SIGNAL_COLUMNS, labels_csv, selected_csv, skipped_csv


def checkpoint(state: RunState, record: LoopRecord, batch: Batch, answers: Answers) -> None:
    """Write loop ``record.loop``: its folder, its metrics.csv row and run.json, together."""
    data, pool = state.data, state.pool
    ids = pool.ids[batch.indices]
    given = np.flatnonzero(answers.codes >= 0)
    true_labels = None
    if answers.truth is not None:
        # Empty where the answer came from a labeler that knows no truth (a model).
        truth = answers.truth[given]
        true_labels = data.decode(np.maximum(truth, 0)).astype(object)
        true_labels[truth < 0] = ""
    files = {
        "selected.csv": selected_csv(ids, batch.indices, batch.scores, batch.picked_by),
        "labels.csv": labels_csv(
            ids[given],
            data.decode(answers.codes[given]),
            answers.labeler[given],
            costs=answers.cost[given] if tracks_cost(state.config) else None,
            true_labels=true_labels,
        ),
        "metrics.json": json.dumps(record.to_json(), indent=2) + "\n",
    }
    skipped = np.flatnonzero(answers.codes == SKIPPED)
    carried = state.carried
    if skipped.size or carried.size:
        files["skipped.csv"] = skipped_csv(
            [*pool.ids[carried.indices], *ids[skipped]],
            [*carried.labeler, *answers.labeler[skipped]],
        )
    model = state.model if _keeps_model(state, record) else None
    sync = durable(state, record)
    names, optional = state.columns
    # The loop folder, metrics.csv and run.json change together or not at all.
    with uninterrupted():
        rundir = state.rundir
        rundir.write_loop(record.loop, files=files, arrays=_arrays(state), model=model, sync=sync)
        state.add_loop(record)
        rundir.append_metrics_row(
            metrics_header(names, optional), metrics_row(record, names, optional), sync=sync
        )
        state.carried = Carried.none()
        if sync:
            # A simulated loop leaves run.json alone (one file less a loop): its last_loop is
            # brought up to date with every change of status, and resume reads the loops.
            rundir.update_meta(
                last_loop=record.loop,
                pending_loop=None,
                **({"new_classes": plain_list(state.new_classes)} if state.new_classes else {}),
            )
        rundir.clear_pending()


def _keeps_model(state: RunState, record: LoopRecord) -> bool:
    # "last" means the final loop's model: written once, when the run stops, so a
    # completed loop folder is never touched again (resume refits, never unpickles).
    keep = state.config.output.keep_models
    return keep == "all" or (keep == "last" and bool(record.stop_reason))


def durable(state: RunState, record: LoopRecord) -> bool:
    """Whether a loop's checkpoint is fsync'd: with output.fsync every_loop; in runs where
    people answer (what they typed must survive a power loss); and the loop a run stops at.
    Otherwise the renames alone make it survive a killed process (the page cache outlives
    it), and a simulated loop can be recomputed."""
    return (
        state.config.output.fsync == "every_loop"
        or bool(record.stop_reason)
        or chain_has(state.config.labeler, "may_wait")
    )


def _arrays(state: RunState) -> dict[str, np.ndarray]:
    """A loop's state.npz: the pool, the classes, the strategy's and the stop criteria's."""
    arrays = {
        **state.pool.state(),
        "classes": state.data.classes,
        **{f"strategy.{k}": v for k, v in state.strategy.state().items()},
    }
    for criterion in state.criteria:
        arrays.update({f"stop.{criterion.name}.{k}": v for k, v in criterion.state().items()})
    return arrays


def rewrite_last_loop(state: RunState, record: LoopRecord) -> None:
    """Replace the last loop's decision (an extended run): its state.npz (the criteria as they
    observed it), then its metrics.json, then metrics.csv; its model.joblib goes unless the
    loop still ends the run."""
    rundir = state.rundir
    with uninterrupted():
        rundir.rewrite_loop(
            record.loop,
            arrays=_arrays(state),
            metrics_json=json.dumps(record.to_json(), indent=2) + "\n",
            keep_model=_keeps_model(state, record),
        )
        state.last = record
        write_metrics_csv(state, [*read_records(rundir)[:-1], record])


def restore_criteria(state: RunState, arrays: dict[str, np.ndarray]) -> None:
    """Give every stop criterion back what it saved in a loop's state.npz."""
    for criterion in state.criteria:
        prefix = f"stop.{criterion.name}."
        criterion.restore(
            {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
        )


def table_columns(state: RunState) -> tuple[list[str], list[str]]:
    """metrics.csv's metric columns and optional columns: fixed for a run, so set once."""
    return metric_names(state), optional_columns(state)


def optional_columns(state: RunState) -> list[str]:
    """metrics.csv's columns that mean something here: skips with people, cost with prices,
    label errors with a noisy oracle, and the signals the stop criteria watch."""
    labeler = state.config.labeler
    wanted = {
        "n_skipped": chain_has(labeler, "may_skip"),
        "cost": tracks_cost(state.config),
        "label_errors": chain_has(labeler, "records_truth"),
    }
    signals = [name for name in SIGNAL_COLUMNS if name in state.signals]
    return [key for key, keep in wanted.items() if keep] + signals


def metric_names(state: RunState) -> list[str]:
    """The test metrics metrics.csv holds: the config's, or none without a test set."""
    return list(state.config.metrics) if state.config.data.has_test_set else []


def read_records(rundir) -> list[LoopRecord]:
    """Every complete loop's record, from its metrics.json."""
    return [LoopRecord.from_json(rundir.read_loop_metrics(k)) for k in rundir.complete_loops()]


def write_metrics_csv(state: RunState, records: list[LoopRecord]) -> None:
    """metrics.csv as the loop folders say it is (resume brings it in step with them)."""
    names, optional = state.columns
    rows = [metrics_row(record, names, optional) for record in records]
    state.rundir.write_metrics_csv(metrics_header(names, optional), rows)


def restore_history(state: RunState) -> int | None:
    """Read the complete loops' records back; returns the last loop's number (or None).

    metrics.csv is brought in step with the loop folders (a kill can fall between them).
    """
    rundir = state.rundir
    loops = rundir.complete_loops()
    if loops != list(range(len(loops))):
        raise RunDirError(
            f"{rundir.path}/loops has gaps ({loops}); it was edited by "
            "hand. Remove the loops after the gap to resume from there."
        )
    if not loops:
        return None
    records = read_records(rundir)
    state.set_history(records)
    write_metrics_csv(state, records)
    return loops[-1]
