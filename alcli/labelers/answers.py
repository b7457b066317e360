"""Read a file of answers a person filled in: alcli's to_label.csv, a plain CSV, or a Label
Studio export. Everything is checked first; all problems are reported at once."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alcli.atomic import file_problem
from alcli.classes import SKIPPED
from alcli.errors import DataError, agree, plural, preview

#: The answer that means "the annotator abstained" (any case).
SKIP_WORD = "skip"
_DELIMITERS = (",", ";", "\t")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_FIX = "Fix the file and pass it to --labels again"


@dataclass(frozen=True)
class _Entry:
    """One answer as found in the file, before any check.

    ``choices`` is empty when the record is not answered yet; ``cancelled`` marks a Label
    Studio annotation that was skipped (it counts as ``skip``).
    """

    where: str
    record_id: str | None
    choices: tuple[str, ...]
    cancelled: bool = False

    @property
    def answered(self) -> bool:
        return self.cancelled or bool(self.choices)


def read_answers(
    path: Path,
    pending_ids: Iterable[object],
    pool_ids: Iterable[object],
    classes: np.ndarray,
    answered: Mapping[str, int] | None = None,
    new_classes: list | None = None,
    earlier_wins: bool = False,
) -> dict[str, int]:
    """The answers in a filled file, checked against the batch waiting for labels.

    The format is told from the content: JSON (Label Studio's JSON export, a list of tasks
    with ``data.alcli_id`` and ``annotations``, or JSON-MIN, flat objects with ``alcli_id``
    and ``label``) or CSV (alcli's to_label.csv, any CSV with ``id`` and ``label`` columns, or
    Label Studio's CSV export with ``alcli_id`` and ``label``; a byte-order mark, CRLF, quoted
    fields, a ``;`` or tab delimiter and the ``'`` a spreadsheet keeps before escaped cells are
    all fine). An empty label is "not answered yet": partial answers are allowed.

    Parameters
    ----------
    path : Path
    pending_ids : iterable of shape (n_pending,)
        The ids of the batch's records still waiting for an answer.
    pool_ids : iterable of shape (n_pool,)
        Every record id of the pool (to tell an unknown id from one not asked for).
    classes : ndarray of shape (n_classes,)
        The known classes; a label matches one as text (``"3"`` is class 3).
    answered : mapping of str to int, optional
        Batch records answered by an earlier file, with their codes: answering them again
        the same way is ignored (a person may pass the same file twice), differently is a
        problem.
    new_classes : list, optional
        Given when new classes are allowed: a label that is no class is a new one, appended
        to this list and coded ``n_classes + its position``. It must be written like the
        classes (a number when they are numbers).
    earlier_wins : bool
        An answer that differs from one already recorded is ignored instead of refused (the
        run's own to_label.csv, read without --labels: what was recorded stays).

    Returns
    -------
    dict of str to int
        Record id (as text) -> class code, or SKIPPED; answered records only.

    Raises
    ------
    DataError
        One message listing every problem by id, how to fix it, and that nothing was recorded.
    """
    path = Path(path)
    entries = _parse(_read_text(path), path)
    pool = {_id_text(v) for v in pool_ids}
    pending = {_id_text(v) for v in pending_ids}
    earlier = dict(answered or {})
    code_of = _class_matcher(classes)

    no_id: list[str] = []
    unknown: list[str] = []
    not_pending: list[str] = []
    changed: list[str] = []
    bad_labels: list[str] = []
    multiple: list[str] = []
    codes_by_id: dict[str, dict[int, str]] = {}
    for entry in entries:
        if not entry.answered:
            continue
        if not entry.record_id:
            no_id.append(entry.where)
            continue
        record_id = _known_id(entry.record_id, pool)
        text, code = SKIP_WORD, SKIPPED
        if len(entry.choices) > 1:
            multiple.append(f"{record_id} ({', '.join(entry.choices)})")
            code = None
        elif not entry.cancelled:
            text = entry.choices[0]
            code = code_of(text)
            if code is None and new_classes is not None:
                code = _new_class(text, classes, new_classes)
            if code is None:
                bad_labels.append(f"{record_id} '{text}'")
        if record_id not in pool:
            unknown.append(record_id)
            continue
        if record_id in earlier:
            if code is not None and code != earlier[record_id] and not earlier_wins:
                changed.append(record_id)
            continue
        if record_id not in pending:
            not_pending.append(record_id)
            continue
        if code is not None:
            codes_by_id.setdefault(record_id, {}).setdefault(code, text.strip())

    conflicts = [
        f"{record_id} ({', '.join(labels.values())})"
        for record_id, labels in codes_by_id.items()
        if len(labels) > 1
    ]
    problems = []
    if no_id:
        problems.append(
            f"{plural(len(no_id), 'answer')} {agree(len(no_id), 'has', 'have')} no record id "
            f"({preview(no_id)}); give each answer its record's id (the id column of "
            "to_label.csv; in Label Studio, import the tasks.json alcli wrote: its tasks carry "
            "alcli_id)"
        )
    if unknown:
        problems.append(
            f"{plural(len(unknown), 'id')} {agree(len(unknown), 'is', 'are')} not in the pool: "
            f"{preview(unknown)}. Use the ids of to_label.csv (or tasks.json's alcli_id)"
            + _mangled_hint(unknown)
        )
    if not_pending:
        problems.append(
            f"{plural(len(not_pending), 'id')} {agree(len(not_pending), 'is', 'are')} in the pool "
            f"but not waiting for a label (already labeled, or not asked for): "
            f"{preview(not_pending)}. Answer only the records of the latest to_label.csv; "
            "remove those rows"
        )
    if changed:
        problems.append(
            f"{plural(len(changed), 'record')} {agree(len(changed), 'was', 'were')} already "
            f"answered by an earlier --labels with another label: {preview(changed)}. An answer "
            "once recorded stays; give the same label or remove those rows"
        )
    if bad_labels:
        shown = ", ".join(str(c) for c in classes.tolist())
        problems.append(
            f"{plural(len(bad_labels), 'label')} {agree(len(bad_labels), 'is', 'are')} not one of "
            f"the classes: {preview(bad_labels)}. The classes are: {shown}"
            + (
                " (new classes must be numbers too, as these are)"
                if new_classes is not None and classes.dtype.kind in "iu"
                else ""
            )
            + ". Write one of them, or "
            f"'{SKIP_WORD}' to leave the record out (an empty cell: answer it later)"
        )
    if multiple:
        problems.append(
            f"{plural(len(multiple), 'answer')} {agree(len(multiple), 'chooses', 'choose')} more "
            f"than one class: {preview(multiple)}. Choose exactly one (in Label Studio: "
            'choice="single" on the Choices tag)'
        )
    if conflicts:
        problems.append(
            f"{plural(len(conflicts), 'id')} {agree(len(conflicts), 'appears', 'appear')} more "
            f"than once with different labels: {preview(conflicts)}. Keep one answer per record"
        )
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise DataError(
            f"{path}: the answers cannot be used ({plural(len(problems), 'problem')}); nothing "
            f"was recorded:\n{lines}\n{_FIX}."
        )
    return {record_id: next(iter(labels)) for record_id, labels in codes_by_id.items()}


# --- reading -----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
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
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(
            f"{path}: is a spreadsheet workbook (.xlsx, .ods) or another zip file, not CSV or "
            "JSON; save it as CSV (Excel: File > Save As > CSV UTF-8; LibreOffice: Save As > "
            "Text CSV) and pass that. Nothing was recorded"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" is UTF-16
        text = raw.decode("utf-16", errors="replace")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                # Excel's plain "CSV" on Windows is saved in the ANSI code page.
                text = raw.removeprefix(b"\xef\xbb\xbf").decode("cp1252")
            except UnicodeDecodeError:
                text = None  # type: ignore[assignment]
    if text is None or "\x00" in text:
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


def _parse(text: str, path: Path) -> list[_Entry]:
    if text.lstrip()[:1] in ("[", "{"):
        return _parse_json(text, path)
    return _parse_csv(text, path)


def _parse_json(text: str, path: Path) -> list[_Entry]:
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
    entries = []
    flat = flat_with_label = 0
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DataError(
                f"{path}: item {number} of the JSON list is {type(item).__name__}, not a task "
                "(an object); pass Label Studio's JSON or JSON-MIN export unchanged. Nothing "
                "was recorded"
            )
        where = f"task {item.get('id', number)}"
        if isinstance(item.get("data"), dict):
            entries.append(_label_studio_task(item, where))
        else:
            # JSON-MIN: the choice sits under the Choices tag's name (ours is "label").
            flat += 1
            flat_with_label += "label" in item
            record_id = _id_text(item.get("alcli_id"))
            entries.append(_Entry(where, record_id, _choices(item.get("label"))))
    if flat and not flat_with_label:
        keys = sorted({key for item in items if "data" not in item for key in item})
        raise DataError(
            f"{path}: no task has a 'label' key (keys: {', '.join(keys)}); name the Choices tag "
            '"label" in the labeling config (<Choices name="label" ...>) and export again. '
            "Nothing was recorded"
        )
    return entries


def _label_studio_task(task: dict, where: str) -> _Entry:
    """The latest annotation that was not cancelled; only cancelled ones mean a skip."""
    record_id = _id_text(task["data"].get("alcli_id"))
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    if not annotations:
        return _Entry(where, record_id, ())
    kept = [(k, a) for k, a in enumerate(annotations) if not a.get("was_cancelled")]
    if not kept:
        return _Entry(where, record_id, (), cancelled=True)
    _, latest = max(
        kept, key=lambda ka: (str(ka[1].get("updated_at") or ka[1].get("created_at") or ""), ka[0])
    )
    results = [r for r in latest.get("result") or [] if isinstance(r, dict)]
    ours = [r for r in results if r.get("from_name") == "label"] or results
    choices: list[str] = []
    for result in ours:
        value = result.get("value")
        if isinstance(value, dict):
            choices.extend(_choices(value.get("choices")))
    return _Entry(where, record_id, tuple(dict.fromkeys(choices)))


def _parse_csv(text: str, path: Path) -> list[_Entry]:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first_line.lower().startswith("sep=") and len(first_line) == 5:
        # Excel's own hint line ("sep=;") names the delimiter.
        delimiters: tuple[str, ...] = (first_line[4],)
        text = text.split("\n", 1)[1] if "\n" in text else ""
        skipped_lines = 1
    else:
        delimiters, skipped_lines = _DELIMITERS, 0
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
        record_id = row[id_col].strip() if id_col < len(row) else ""
        label = row[label_col] if label_col < len(row) else ""
        entries.append(_Entry(f"line {line}", record_id or None, _cell_choices(label)))
    if not entries:
        raise DataError(
            f"{path}: the file has a header but no rows; fill the label column of to_label.csv "
            "and pass that file. Nothing was recorded"
        )
    return entries


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
        texts = [_id_text(v) or "" for v in value]
        return tuple(dict.fromkeys(t for t in texts if t))
    text = _id_text(value) or ""
    return (text,) if text else ()


# --- matching ----------------------------------------------------------------------------------


def _id_text(value: object) -> str | None:
    """An id (or a label) as text: 12 and 12.0 are "12"."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value).strip()


def _known_id(record_id: str, pool: set[str]) -> str:
    """The pool id a cell means: a spreadsheet may keep the ' that escapes a formula-like cell."""
    if record_id not in pool and record_id.startswith("'") and record_id[1:] in pool:
        return record_id[1:]
    return record_id


def _new_class(text: str, classes: np.ndarray, new_classes: list) -> int | None:
    """The code of a new class named ``text`` (added to ``new_classes`` the first time), or
    None when it cannot be one: empty, or text where the classes are numbers."""
    label = text.strip().removeprefix("'").strip()
    if not label:
        return None
    if classes.dtype.kind in "iu":
        if not (_NUMBER.match(label) and float(label).is_integer()):
            return None
        value: object = int(float(label))
    else:
        value = label
    # One new class per name, whatever its case ("Merlot" and "merlot"), as known classes match.
    for k, known in enumerate(new_classes):
        if str(known).casefold() == str(value).casefold():
            return classes.shape[0] + k
    new_classes.append(value)
    return classes.shape[0] + len(new_classes) - 1


def _class_matcher(classes: np.ndarray):
    """A function from a label's text to its class code, SKIPPED, or None (unknown)."""
    texts = [str(c) for c in classes.tolist()]
    exact = {text: code for code, text in enumerate(texts)}
    folded: dict[str, list[int]] = {}
    for code, text in enumerate(texts):
        folded.setdefault(text.casefold(), []).append(code)
    numeric = classes.dtype.kind in "iu"

    def match(text: str) -> int | None:
        if text in exact:
            return exact[text]
        codes = folded.get(text.casefold(), [])
        if len(codes) == 1:  # "Cat" for "cat", unless both exist
            return codes[0]
        if numeric and _NUMBER.match(text) and float(text).is_integer():
            return exact.get(str(int(float(text))))  # "3.0" is class 3
        return None

    def code_of(label: str) -> int | None:
        text = label.strip()
        code = match(text)
        if code is None and text.startswith("'"):
            code = match(text[1:].strip())
        if code is None and text.casefold() == SKIP_WORD:
            return SKIPPED
        return code

    return code_of


def _mangled_hint(ids: list[str]) -> str:
    if any(_NUMBER.match(i) for i in ids):
        return (
            " (a spreadsheet may have changed them: it drops leading zeros and shows long "
            "numbers as 1.2E+15; format the id column as text, or copy the ids from "
            "to_label.csv)"
        )
    return ""
