"""Check a file of answers a person filled in: alcli's to_label.csv, a plain CSV, or a Label
Studio export. Everything is checked first; all problems are reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from alcli.classes import SKIPPED
from alcli.errors import DataError, agree, plural, preview
from alcli.labelers.answer_files import NUMBER, id_text, parse_entries, read_text

#: The answer that means "the annotator abstained" (any case).
SKIP_WORD = "skip"
_FIX = "Fix the file and pass it to --labels again"


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
    entries = parse_entries(read_text(path), path)
    pool = {id_text(v) for v in pool_ids}
    pending = {id_text(v) for v in pending_ids}
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
        if not (NUMBER.match(label) and float(label).is_integer()):
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
        if numeric and NUMBER.match(text) and float(text).is_integer():
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
    if any(NUMBER.match(i) for i in ids):
        return (
            " (a spreadsheet may have changed them: it drops leading zeros and shows long "
            "numbers as 1.2E+15; format the id column as text, or copy the ids from "
            "to_label.csv)"
        )
    return ""
