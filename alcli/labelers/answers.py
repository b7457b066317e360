"""Check a file of answers a person filled in: alcli's to_label.csv, a plain CSV, or a Label
Studio export. Everything is checked first; all problems are reported at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alcli.classes import SKIPPED
from alcli.errors import DataError, agree, plural, preview
from alcli.labelers.annotations import RESOLVE_RULES, Annotation, resolve
from alcli.labelers.answer_files import NUMBER, Entry, id_text, parse_entries, read_text

#: The answer that means "the annotator abstained" (any case).
SKIP_WORD = "skip"
#: Several answers to one record: the most common wins, a tie is refused (see the README).
DEFAULT_RULE = "majority"
_FIX = "Fix the file and pass it to --labels again"


#: An earlier loop's outcome for a record: its class code (or SKIPPED) and the loop.
Recorded = tuple[int, int]


@dataclass
class Reading:
    """What a file of answers gave.

    ``codes`` holds the answers to take (record id -> class code, or SKIPPED); ``repeated``
    counts records of earlier loops the file answers as they were recorded (a Label Studio
    export of the whole project carries every loop); ``skips_stand`` counts records skipped
    in an earlier loop that the file now answers (the skip stands).
    """

    codes: dict[str, int] = field(default_factory=dict)
    repeated: int = 0
    skips_stand: int = 0

    @property
    def n_skips(self) -> int:
        return sum(code == SKIPPED for code in self.codes.values())

    @property
    def n_answers(self) -> int:
        return len(self.codes) - self.n_skips


def read_answers(
    path: Path,
    pending_ids: Iterable[object],
    pool_ids: Iterable[object],
    classes: np.ndarray,
    answered: Mapping[str, int] | None = None,
    new_classes: list | None = None,
    earlier_wins: bool = False,
    resolve_rule: str = DEFAULT_RULE,
) -> dict[str, int]:
    """The answers of :func:`read_export` (record id -> class code, or SKIPPED), for a file
    that holds the waiting batch only."""
    return read_export(
        path,
        pending_ids,
        pool_ids,
        classes,
        answered=answered,
        new_classes=new_classes,
        earlier_wins=earlier_wins,
        resolve_rule=resolve_rule,
    ).codes


def read_export(
    path: Path,
    pending_ids: Iterable[object],
    pool_ids: Iterable[object],
    classes: np.ndarray,
    answered: Mapping[str, int] | None = None,
    new_classes: list | None = None,
    earlier_wins: bool = False,
    resolve_rule: str = DEFAULT_RULE,
    earlier_loops: Callable[[], Mapping[str, Recorded]] | None = None,
) -> Reading:
    """The answers in a filled file, checked against the batch waiting for labels.

    The format is told from the content: JSON (Label Studio's JSON export, a list of tasks
    with ``data.alcli_id`` and ``annotations``, or JSON-MIN, flat objects with ``alcli_id``
    and ``label``) or CSV (alcli's to_label.csv, any CSV with ``id`` and ``label`` columns, or
    Label Studio's CSV export with ``alcli_id`` and ``label``; a byte-order mark, CRLF, quoted
    fields, a ``;`` or tab delimiter and the ``'`` a spreadsheet keeps before escaped cells are
    all fine). An empty label is "not answered yet": partial answers are allowed.

    Every answer to one record (several annotations of a task, several rows, the same record
    imported twice) is one vote for :func:`alcli.labelers.annotations.resolve` under
    ``resolve_rule``; answers win over skips. Records of earlier loops (a Label Studio
    project kept for the whole run exports them all) are compared with what was recorded:
    the same answer is counted and left alone, another one is a problem.

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
    resolve_rule : {"newest", "majority", "refuse"}
        How several answers to one record become one.
    earlier_loops : callable, optional
        Called at most once, when the file answers records outside the batch: record id ->
        (class code or SKIPPED, loop) of every record earlier loops settled.

    Returns
    -------
    Reading

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
    settled: dict[str, Recorded] | None = None

    def settled_before(record_id: str) -> Recorded | None:
        nonlocal settled
        if settled is None:
            settled = dict(earlier_loops()) if earlier_loops is not None else {}
        return settled.get(record_id)

    no_id: list[str] = []
    unknown: list[str] = []
    multiple: list[str] = []
    several: set[str] = set()  # records with an answer choosing several classes: refused
    votes: dict[str, list[Annotation]] = {}
    for entry in entries:
        if not entry.answered:
            continue
        if not entry.record_id:
            no_id.append(entry.where)
            continue
        record_id = _known_id(entry.record_id, pool)
        if record_id not in pool:
            unknown.append(record_id)
            continue
        if len(entry.choices) > 1:
            multiple.append(f"{record_id} ({', '.join(entry.choices)})")
            several.add(record_id)
            continue
        votes.setdefault(record_id, []).append(_vote(entry, code_of, classes))

    reading = Reading()
    not_pending: list[str] = []
    changed: list[str] = []
    contradicted: list[str] = []
    bad_labels: list[str] = []
    conflicts: list[str] = []
    for record_id, given in votes.items():
        if record_id in several:
            continue
        outcome = resolve(given, resolve_rule)
        if outcome.conflict:
            conflicts.append(f"{record_id} ({outcome.conflict})")
            continue
        text = SKIP_WORD if outcome.skipped else outcome.label or ""
        code = SKIPPED if outcome.skipped else code_of(text)
        if code is None and new_classes is not None:
            code = _new_class(text, classes, new_classes)
        if code is None:
            bad_labels.append(f"{record_id} '{text}'")
            continue
        if record_id in earlier:
            if code != earlier[record_id] and not earlier_wins:
                changed.append(record_id)
            continue
        if record_id in pending:
            before = settled_before(record_id) if code == SKIPPED else None
            if before is None or before[0] != SKIPPED:
                reading.codes[record_id] = code
            # else: a skipped record offered again; the skip is the earlier loop's
            continue
        before = settled_before(record_id)
        if before is None:
            not_pending.append(record_id)
        elif before[0] == code or code == SKIPPED:
            reading.repeated += 1  # answers win over skips: the recorded answer stands
        elif before[0] == SKIPPED:
            reading.skips_stand += 1
        else:
            recorded = _label_of(before[0], classes, new_classes)
            contradicted.append(
                f"{record_id} is '{recorded}' in loops/{before[1]:04d}/labels.csv, "
                f"{path.name} says '{text}'"
            )

    problems = []
    if no_id:
        problems.append(
            f"{plural(len(no_id), 'answer')} {agree(len(no_id), 'has', 'have')} no record id "
            f"({preview(no_id)}); give each answer its record's id (the id column of "
            "to_label.csv; in Label Studio, import the tasks.json alcli wrote: its tasks carry "
            "alcli_id)"
        )
    if unknown:
        unknown = list(dict.fromkeys(unknown))
        problems.append(
            f"{plural(len(unknown), 'id')} {agree(len(unknown), 'is', 'are')} not in the pool: "
            f"{preview(unknown)}. Use the ids of to_label.csv (or tasks.json's alcli_id)"
            + _mangled_hint(unknown)
        )
    if contradicted:
        problems.append(
            f"{plural(len(contradicted), 'record')} {agree(len(contradicted), 'has', 'have')} "
            f"another label than an earlier loop recorded: {preview(contradicted, 10)}. A "
            "label once recorded stays: change those annotations back in Label Studio (or "
            "remove the rows) and export again"
        )
    if not_pending and earlier_loops is None:
        problems.append(
            f"{plural(len(not_pending), 'id')} {agree(len(not_pending), 'is', 'are')} in the pool "
            f"but not waiting for a label (already labeled, or not asked for): "
            f"{preview(not_pending)}. Answer only the records of the latest to_label.csv; "
            "remove those rows"
        )
    elif not_pending:
        problems.append(
            f"{plural(len(not_pending), 'id')} {agree(len(not_pending), 'is', 'are')} in the pool "
            f"but no loop asked for {agree(len(not_pending), 'its', 'their')} label: "
            f"{preview(not_pending)}. Answer only records alcli wrote to to_label.csv or "
            "tasks.json; remove those rows (in Label Studio, import only alcli's tasks.json)"
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
            f"{plural(len(conflicts), 'record')} {agree(len(conflicts), 'has', 'have')} answers "
            f"that disagree (resolve: {resolve_rule}): {preview(conflicts, 10)}. Settle them "
            "(in Label Studio: remove or correct one annotation) and export again, or set "
            f"the file labeler's resolve to another of {', '.join(RESOLVE_RULES)}"
        )
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise DataError(
            f"{path}: the answers cannot be used ({plural(len(problems), 'problem')}); nothing "
            f"was recorded:\n{lines}\n{_FIX}."
        )
    return reading


def _vote(entry: Entry, code_of, classes: np.ndarray) -> Annotation:
    """An entry as one vote: a known class by its own name (so "Cat" and "cat" agree), a
    typed "skip" as a skip, anything else as written (checked once resolved)."""
    who, when = entry.annotator, entry.updated
    if entry.cancelled:
        return Annotation(None, who, when)
    text = entry.choices[0].strip()
    code = code_of(text)
    if code == SKIPPED:
        return Annotation(None, who, when)
    label = text if code is None else str(classes[code])
    return Annotation(label, who, when)


def _label_of(code: int, classes: np.ndarray, new_classes: list | None) -> str:
    if code == SKIPPED:
        return SKIP_WORD
    known = [*classes.tolist(), *(new_classes or [])]
    return str(known[code]) if 0 <= code < len(known) else str(code)


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
