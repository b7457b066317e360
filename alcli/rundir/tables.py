"""The one schema of the run directory's tables: a loop's record (``metrics.json``) and the
columns of ``metrics.csv``. The engine writes them, ``reporting/`` and the progress display
read them, all through this module."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alcli.atomic import csv_text
from alcli.errors import RunDirError

#: The four steps of a loop, in order; each has a ``<step>_s`` column in metrics.csv.
STEPS = ("select", "label", "train", "infer")
#: Columns a run has only where they mean something: skips with people, cost with prices,
#: label errors with a noisy oracle (in this order, after the metrics).
OPTIONAL_COLUMNS = ("n_skipped", "cost", "label_errors")
#: The signals of the label-free stop criteria, columns where some criterion watches them.
SIGNAL_COLUMNS = ("kappa", "changed", "uncertainty", "batch_confidence")
_REQUIRED_COLUMNS = ("loop", "n_labeled", "loop_size", "n_predictions")
_INT_COLUMNS = (*_REQUIRED_COLUMNS, "n_skipped", "label_errors")
_TEXT_COLUMNS = ("strategy",)


@dataclass
class LoopRecord:
    """What one complete loop did: its ``metrics.json``, one row of ``metrics.csv``, and the
    ``loop`` event.

    Attributes
    ----------
    loop, n_labeled, loop_size : int
    strategy : str
        Who picked the batch (``+``-joined when several parts of a strategy did).
    metrics : dict of str to float
        Test metrics after TRAIN.
    n_skipped : int or None
        Records the annotators skipped in this loop (None in runs older than skips).
    cost : float or None
        What this loop's answers cost.
    label_errors : int or None
        Wrong answers of a simulated noisy annotator (None without one).
    n_predictions : int
        Pool records INFER predicted.
    seconds : dict of str to float
        Per step (``STEPS``).
    stop_reason : str or None
        Why the run stopped after this loop.
    signals : dict of str to float
        What INFER measured for the label-free stop criteria (NaN: nothing to compare yet).
    """

    loop: int
    n_labeled: int
    loop_size: int
    strategy: str
    metrics: dict[str, float]
    n_skipped: int | None = None
    cost: float | None = None
    label_errors: int | None = None
    n_predictions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    stop_reason: str | None = None
    signals: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As ``metrics.json`` holds it (keys in this order)."""
        return {
            "loop": self.loop,
            "n_labeled": self.n_labeled,
            "loop_size": self.loop_size,
            "strategy": self.strategy,
            "metrics": self.metrics,
            "n_skipped": self.n_skipped,
            "cost": self.cost,
            "label_errors": self.label_errors,
            "n_predictions": self.n_predictions,
            "seconds": self.seconds,
            "stop_reason": self.stop_reason,
            **({"signals": _json_floats(self.signals)} if self.signals else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopRecord:
        """A record read back from ``metrics.json`` (keys missing in older runs are None)."""
        known = cls.__dataclass_fields__
        record = cls(**{key: value for key, value in data.items() if key in known})
        record.signals = {k: math.nan if v is None else v for k, v in record.signals.items()}
        return record


def metrics_header(metric_names: list[str], optional: list[str]) -> list[str]:
    """The columns of metrics.csv for a run's metrics and its ``optional`` columns."""
    return [
        "loop",
        "n_labeled",
        "loop_size",
        "strategy",
        *metric_names,
        *optional,
        "n_predictions",
        *(f"{step}_s" for step in STEPS),
    ]


def metrics_row(record: LoopRecord, metric_names: list[str], optional: list[str]) -> list[Any]:
    """One row of metrics.csv, in :func:`metrics_header`'s order."""
    return [
        record.loop,
        record.n_labeled,
        record.loop_size,
        record.strategy,
        *(repr(record.metrics[m]) for m in metric_names),
        *(_optional_cell(record, key) for key in optional),
        record.n_predictions,
        *(f"{record.seconds[step]:.6f}" for step in STEPS),
    ]


def _json_floats(values: dict[str, float]) -> dict[str, float | None]:
    """NaN as null: JSON has no NaN."""
    return {k: None if v is None or math.isnan(v) else v for k, v in values.items()}


def _optional_cell(record: LoopRecord, key: str) -> str:
    if key in SIGNAL_COLUMNS:
        value = record.signals.get(key)
        return "" if value is None or math.isnan(value) else repr(float(value))
    value = getattr(record, key)
    if value is None:
        return ""
    # Rounded so sums of prices read as they are (3.03, not 3.0299999999999994).
    return repr(round(float(value), 9)) if key == "cost" else str(value)


def selected_csv(ids: Sequence, indices: Sequence, scores: Sequence, picked_by: Sequence) -> str:
    """A loop's ``selected.csv``: record id, pool index, score (empty for none), strategy."""
    return csv_text(
        ["id", "index", "score", "strategy"],
        [
            [i, int(x), "" if math.isnan(s) else repr(float(s)), by]
            for i, x, s, by in zip(ids, indices, scores, picked_by, strict=True)
        ],
    )


def labels_csv(
    ids: Sequence,
    labels: Sequence,
    labelers: Sequence,
    costs: Sequence | None = None,
    true_labels: Sequence | None = None,
) -> str:
    """A loop's ``labels.csv``: record id, label, labeler, and where the run has them, the
    answer's cost and the true label behind it (a noisy annotator's)."""
    header, columns = ["id", "label", "labeler"], [ids, labels, labelers]
    if costs is not None:
        header.append("cost")
        columns.append([repr(float(c)) for c in costs])
    if true_labels is not None:
        header.append("true_label")
        columns.append(true_labels)
    return csv_text(header, [list(row) for row in zip(*columns, strict=True)])


def skipped_csv(ids: Sequence, labelers: Sequence) -> str:
    """A loop's ``skipped.csv``: the records annotators skipped, and who did."""
    return csv_text(["id", "labeler"], [[i, by] for i, by in zip(ids, labelers, strict=True)])


def read_metrics_csv(path: Path, metric_names: list[str]) -> list[dict[str, Any]]:
    """metrics.csv's rows with numbers as numbers (an empty list before the first loop).

    Raises
    ------
    RunDirError
        When a column alcli writes is missing or a cell is not what it writes there.
    """
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [_typed(row, metric_names) for row in rows]
    except (KeyError, TypeError, ValueError, csv.Error):  # UnicodeDecodeError is a ValueError
        raise RunDirError(
            f"{path} is not as alcli writes it; it was changed by hand. `alcli resume` "
            "rewrites it from the loop folders."
        ) from None


def rows_of_records(
    records: list[dict[str, Any]], metric_names: list[str], header: list[str] | None
) -> list[dict[str, Any]]:
    """metrics.csv's rows, typed, for loops given by their metrics.json (the rows a kill left
    unwritten); ``header``: the columns metrics.csv has (None: guessed from the records)."""
    if header is None:
        optional = [k for k in OPTIONAL_COLUMNS if records and k in _present(records[0])]
    else:
        optional = [k for k in header if k in OPTIONAL_COLUMNS]
    names = metrics_header(metric_names, optional)
    rows = []
    for data in records:
        cells = metrics_row(LoopRecord.from_json(data), metric_names, optional)
        rows.append(_typed(dict(zip(names, [str(c) for c in cells], strict=True)), metric_names))
    return rows


def _present(record: dict[str, Any]) -> set[str]:
    return {k for k, v in record.items() if v is not None} | set(record.get("signals") or {})


def step_seconds(row: dict[str, Any]) -> float:
    """The seconds a loop's steps took together (a metrics.csv row or a loop event)."""
    seconds = row.get("seconds")
    if isinstance(seconds, dict):
        return sum(seconds.get(step, 0.0) for step in STEPS)
    return sum(v for k, v in row.items() if k.endswith("_s"))


def _typed(row: dict[str, str], metric_names: list[str]) -> dict[str, Any]:
    """A metrics.csv row with its numbers as numbers (KeyError if a metric is missing)."""
    for name in (*_REQUIRED_COLUMNS, *metric_names):
        row[name]
    return {key: _cell(key, value) for key, value in row.items()}


def _cell(key: str, value: str) -> Any:
    if key in _TEXT_COLUMNS:
        return value
    if key in _INT_COLUMNS:
        return int(value) if value != "" else None
    if key in SIGNAL_COLUMNS and value == "":
        return None
    return float(value)


#: A loop's ``votes.csv`` (labeling functions): these columns, then one per function (its
#: import path) holding its vote, empty where it abstained.
VOTES_FILE = "votes.csv"
VOTES_COLUMNS = ("id", "label", "reason", "true_label")
#: Tables a labeler leaves in the loop's pending folder while it labels, which the loop's
#: folder takes in with the rest of its files.
LABELER_TABLES = (VOTES_FILE,)


def votes_csv(functions: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A loop's ``votes.csv``: per record the combined label (empty when the functions left it
    to the fallback), why it was left (no votes, too few votes, tie), its true label where the
    data holds one, and each function's vote."""
    return csv_text([*VOTES_COLUMNS, *functions], [list(row) for row in rows])


def read_votes(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """``votes.csv``'s function columns and its rows (cells as text).

    Raises
    ------
    RunDirError
        When it cannot be read or lacks the columns alcli writes.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    if tuple(header[: len(VOTES_COLUMNS)]) != VOTES_COLUMNS:
        raise RunDirError(
            f"{path} is not as alcli writes it (its first columns should be "
            f"{', '.join(VOTES_COLUMNS)}); it was changed by hand"
        )
    return header[len(VOTES_COLUMNS) :], rows
