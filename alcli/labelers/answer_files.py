"""Read a file of answers as a person or Label Studio wrote it (alcli's to_label.csv, a plain
CSV in any spreadsheet dialect, a Label Studio JSON, JSON-MIN or CSV export) into entries, one
per answer found, before anything is checked (answers.py checks them)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alcli.atomic import file_problem
from alcli.data.csv_dialects import DELIMITERS, decode, is_workbook, sep_hint
from alcli.errors import DataError, plural

#: A number as a spreadsheet writes it (a label or an id that is one).
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Entry:
    """One answer (one annotation, in a Label Studio export) as found in the file, before any
    check.

    ``choices`` is empty when the record is not answered yet; ``cancelled`` marks a Label
    Studio annotation that was skipped (it counts as ``skip``). ``annotator`` and ``updated``
    (an ISO-8601 time) are "" where the file does not say.
    """

    where: str
    record_id: str | None
    choices: tuple[str, ...]
    cancelled: bool = False
    annotator: str = ""
    updated: str = ""

    @property
    def answered(self) -> bool:
        return self.cancelled or bool(self.choices)


def read_text(path: Path) -> str:
    """The file's text; every way it can fail is a DataError naming it."""
    problem = file_problem(path)
    if problem and "folder" not in problem:
        raise DataError(f"{path} (--labels): {problem}. Nothing was recorded")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: file not found (--labels); give the filled to_label.csv or a Label Studio "
            "export. Nothing was recorded"
        ) from None
    except IsADirectoryError:
        raise DataError(
            f"{path}: is a folder (--labels); give the filled to_label.csv or a Label Studio "
            "export. Nothing was recorded"
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}). Nothing was recorded") from None
    if is_workbook(raw):
        raise DataError(
            f"{path}: is a spreadsheet workbook (.xlsx, .ods) or another zip file, not CSV or "
            "JSON; save it as CSV (Excel: File > Save As > CSV UTF-8; LibreOffice: Save As > "
            "Text CSV) and pass that. Nothing was recorded"
        )
    # UTF-8, UTF-16 (Excel's "Unicode text"), cp1252 (Excel's plain "CSV" on Windows): the
    # data reader's rules, so a file it reads can be answered in.
    text = decode(raw)
    if text is None:
        raise DataError(
            f"{path}: is not a text file (CSV or JSON); save the answers as CSV UTF-8, or export "
            "them from Label Studio as JSON, JSON-MIN or CSV. Nothing was recorded"
        )
    if not text.strip():
        raise DataError(
            f"{path}: the file is empty; fill the label column of to_label.csv and pass that "
            "file. Nothing was recorded"
        )
    return text


def parse_entries(text: str, path: Path) -> list[Entry]:
    if text.lstrip()[:1] in ("[", "{"):
        return _parse_json(text, path)
    return _parse_csv(text, path)


def _parse_json(text: str, path: Path) -> list[Entry]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: looks like JSON but cannot be parsed (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); pass Label Studio's export unchanged. Nothing was recorded"
        ) from None
    if not isinstance(items, list):
        raise DataError(
            f"{path}: the JSON holds {type(items).__name__ if items is not None else 'null'}, not "
            "a list of tasks; export from Label Studio as JSON or JSON-MIN. Nothing was recorded"
        )
    if not items:
        raise DataError(
            f"{path}: the JSON holds no tasks; label some in Label Studio, then export. Nothing "
            "was recorded"
        )
    entries: list[Entry] = []
    flat = flat_with_label = 0
    exported = annotated = 0  # Label Studio items, and those with an annotation
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DataError(
                f"{path}: item {number} of the JSON list is {type(item).__name__}, not a task "
                "(an object); pass Label Studio's JSON or JSON-MIN export unchanged. Nothing "
                "was recorded"
            )
        where = f"task {item.get('id', number)}"
        if isinstance(item.get("data"), dict):
            found = _label_studio_task(item, where)
            exported += 1
            annotated += any(entry.answered for entry in found)
            entries.extend(found)
            continue
        # JSON-MIN: one item per annotation that was not skipped (a task repeats), the choice
        # under the Choices tag's name (ours is "label"); a task nobody annotated has
        # annotation_id null and no choice.
        flat += 1
        flat_with_label += "label" in item
        if "annotation_id" in item:
            exported += 1
            annotated += item["annotation_id"] is not None
        entries.append(
            Entry(
                where,
                id_text(item.get("alcli_id")),
                _choices(item.get("label")),
                annotator=_annotator(item.get("annotator")),
                updated=_time(item),
            )
        )
    if exported and not annotated:
        raise not_annotated_yet(path, len(items))
    if flat and not flat_with_label:
        keys = sorted({key for item in items if "data" not in item for key in item})
        raise DataError(
            f"{path}: no task has a 'label' key (keys: {', '.join(keys)}); name the Choices tag "
            '"label" in the labeling config (<Choices name="label" ...>) and export again. '
            "Nothing was recorded"
        )
    return entries


def not_annotated_yet(path: Path, n_tasks: int) -> DataError:
    return DataError(
        f"{path.name} holds {plural(n_tasks, 'task')} and none has an annotation yet: label "
        f"them in Label Studio, export again. Nothing was recorded ({path})"
    )


def _label_studio_task(task: dict, where: str) -> list[Entry]:
    """One entry per annotation (a skipped one is ``cancelled``); a task without any gives
    one entry with no choices. Results of our Choices tag ("label") count, else any."""
    record_id = id_text(task["data"].get("alcli_id"))
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    if not annotations:
        return [Entry(where, record_id, ())]
    entries = []
    for annotation in annotations:
        who, when = _annotator(annotation.get("completed_by")), _time(annotation)
        if annotation.get("was_cancelled"):
            entries.append(Entry(where, record_id, (), True, who, when))
            continue
        results = [r for r in annotation.get("result") or [] if isinstance(r, dict)]
        ours = [r for r in results if r.get("from_name") == "label"] or results
        choices: list[str] = []
        for result in ours:
            value = result.get("value")
            if isinstance(value, dict):
                choices.extend(_choices(value.get("choices")))
        entries.append(Entry(where, record_id, tuple(dict.fromkeys(choices)), False, who, when))
    return entries


def _annotator(value: object) -> str:
    """Who annotated: Label Studio gives a user id (JSON-MIN, JSON) or an email (CSV; older
    JSON exports give ``{"email": ...}``)."""
    if isinstance(value, dict):
        value = value.get("email") or value.get("id")
    return id_text(value) or ""


def _time(item: dict) -> str:
    """When an annotation was last changed, as Label Studio writes it (ISO-8601, UTC)."""
    return str(item.get("updated_at") or item.get("created_at") or "").strip()


def _parse_csv(text: str, path: Path) -> list[Entry]:
    hinted = sep_hint(text.split("\n", 1)[0])
    if hinted is not None:
        # Excel's own hint line ("sep=;") names the delimiter.
        delimiters: tuple[str, ...] = (hinted,)
        text = text.split("\n", 1)[1] if "\n" in text else ""
        skipped_lines = 1
    else:
        delimiters, skipped_lines = DELIMITERS, 0
    try:
        header, id_col, label_col, delimiter = _pick_header(text, delimiters)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        next(reader, None)
        rows = []  # (the line a record starts on, its cells): a quoted cell may span lines
        start = reader.line_num + 1 + skipped_lines
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1 + skipped_lines
    except csv.Error as exc:
        raise DataError(f"{path}: cannot be read as CSV: {exc}. Nothing was recorded") from None
    # Label Studio's CSV export: one row per annotation that was not skipped (a task
    # repeats), with who made it and when; a task nobody annotated has no annotation_id.
    annotation_col = _column(header, ("annotation_id",))
    annotator_col = _column(header, ("annotator",))
    times = [_column(header, (name,)) for name in ("updated_at", "created_at")]
    time_cols = [col for col in times if col is not None]
    filled = [row for _, row in rows if any(cell.strip() for cell in row)]
    if (
        annotation_col is not None
        and filled
        and not any(_cell(row, annotation_col) for row in filled)
    ):
        raise not_annotated_yet(path, len(filled))
    missing = [name for name, col in (("id", id_col), ("label", label_col)) if col is None]
    if missing:
        raise DataError(
            f"{path}: no {' or '.join(repr(m) for m in missing)} column; its columns are: "
            f"{', '.join(header) if any(header) else '(none)'}. The answers need an id column "
            "(id; alcli_id in a Label Studio export) and a label column with the class: fill "
            "the label column of to_label.csv and keep its header as it is. Nothing was recorded"
        )
    entries = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue  # spreadsheets add empty rows at the end
        entries.append(
            Entry(
                f"line {line}",
                _cell(row, id_col) or None,
                _cell_choices(row[label_col] if label_col < len(row) else ""),
                annotator="" if annotator_col is None else _cell(row, annotator_col),
                updated=next((_cell(row, c) for c in time_cols if _cell(row, c)), ""),
            )
        )
    if not entries:
        raise DataError(
            f"{path}: the file has a header but no rows; fill the label column of to_label.csv "
            "and pass that file. Nothing was recorded"
        )
    return entries


def _cell(row: list[str], col: int) -> str:
    return row[col].strip() if col < len(row) else ""


def _pick_header(text: str, delimiters: tuple[str, ...]):
    """The header and delimiter under which an id and a label column are found (else the
    delimiter giving the most columns, so the message lists them)."""
    best = None
    for delimiter in delimiters:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        header = [name.strip() for name in header]
        id_col = _column(header, ("alcli_id", "id"))
        label_col = _column(header, ("label",))
        if id_col is not None and label_col is not None:
            return header, id_col, label_col, delimiter
        if best is None or len(header) > len(best[0]):
            best = (header, id_col, label_col, delimiter)
    return best


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    """The first of ``names`` in ``header``: exact, else ignoring case. Label Studio's CSV has
    its own task ``id`` besides ``alcli_id``: ``alcli_id`` wins."""
    for name in names:
        if name in header:
            return header.index(name)
        folded = [h.casefold() for h in header]
        if name in folded:
            return folded.index(name)
    return None


def _cell_choices(cell: str) -> tuple[str, ...]:
    """A CSV cell's choices: a class label, or Label Studio's JSON for multiple choices."""
    text = cell.strip()
    if text[:1] in ("[", "{"):
        try:
            return _choices(json.loads(text))
        except json.JSONDecodeError:
            pass
    return (text,) if text else ()


def _choices(value: object) -> tuple[str, ...]:
    """Choices from a JSON value: a string, a list of them, or {"choices": [...]}."""
    if isinstance(value, dict):
        value = value.get("choices")
    if value is None:
        return ()
    if isinstance(value, list):
        texts = [id_text(v) or "" for v in value]
        return tuple(dict.fromkeys(t for t in texts if t))
    text = id_text(value) or ""
    return (text,) if text else ()


# --- matching ----------------------------------------------------------------------------------


def id_text(value: object) -> str | None:
    """An id (or a label) as text: 12 and 12.0 are "12"."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value).strip()
