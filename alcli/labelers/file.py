"""People label through files: a CSV for a spreadsheet and tasks for Label Studio."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from alcli.atomic import write_atomic
from alcli.classes import SKIPPED, UNANSWERED, with_new_classes
from alcli.labelers.annotations import RESOLVE_RULES
from alcli.labelers.answer_files import id_text
from alcli.labelers.answers import DEFAULT_RULE, SKIP_WORD, Reading, Recorded, read_export
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest, prices
from alcli.schema import Section

TO_LABEL = "to_label.csv"
TASKS = "tasks.json"
README = "README.txt"
#: Our own columns and task keys; a data column of the same name (any case) gets " (data)".
RESERVED = ("id", "alcli_id", "alcli_record", "prediction", "score", "label")
# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` with a leading ``'`` if a spreadsheet would run it as a formula.

    A plain number such as ``-1.5`` is data and stays as it is.
    """
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


class FileLabelerConfig(Section):
    kind: Literal["file"] = Field(
        description="People label through files: the run writes pending/loop-NNNN/to_label.csv "
        "and tasks.json (Label Studio), waits, and `alcli resume RUN_DIR --labels FILE` takes "
        "the answers."
    )
    reoffer_skipped: bool = Field(
        False,
        description="Offer records an annotator skipped again in later loops (by default a "
        "skipped record leaves the pool).",
    )
    allow_new_classes: bool = Field(
        False,
        description="Accept answers naming a class the data does not have yet: it becomes a "
        "class of the run from then on (by default such answers are refused).",
    )
    resolve: Literal[RESOLVE_RULES] = Field(  # type: ignore[valid-type]
        DEFAULT_RULE,
        description="How several answers to one record (Label Studio annotations by several "
        "people, repeated rows) become one: majority takes the most common label and refuses "
        "a tie; newest takes the annotation updated last; refuse refuses any disagreement. "
        "Answers win over skips.",
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class FileLabeler(Labeler):
    """Hands the open records of a batch to people as files, and waits.

    At LABEL it writes into ``request.pending_dir`` (RUN_DIR/pending/loop-NNNN):

    - ``to_label.csv``: ``id``, the record's fields as they are in the data (without its
      target and id columns), ``prediction`` (the model's class, empty in loop 0), ``score``
      (its probability), and an empty ``label`` column. UTF-8 with a byte-order mark and
      CRLF line ends: Excel needs the mark to read UTF-8 (without it, it reads the ANSI code
      page); LibreOffice and pandas (``read_csv``) drop it. Cells a spreadsheet would run as
      a formula start with ``'``.
    - ``tasks.json``: the same records as Label Studio tasks (``data.alcli_id``, the fields,
      ``data.alcli_record`` for display), with the model's guess as a pre-annotation.
    - ``README.txt``: what to do next, also returned as ``Answers.message``.

    Every open record stays UNANSWERED: ``alcli resume RUN_DIR --labels FILE`` brings the
    answers (read by :func:`alcli.labelers.answers.read_answers`). Called again with some
    answered, it rewrites the files with only the records still open.
    """

    Config = FileLabelerConfig
    kind = "file"
    may_wait = True
    may_skip = True

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        self.context = context

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        if todo.size == 0:
            return answers
        if request.pending_dir is None:
            raise ValueError("the file labeler needs request.pending_dir to write the batch to")
        folder = Path(request.pending_dir)
        folder.mkdir(parents=True, exist_ok=True)
        ids, names, fields = self._records(request, todo)
        guesses = self._guesses(request, todo)
        write_atomic(folder / TO_LABEL, _to_label_csv(ids, names, fields, guesses))
        tasks = _tasks(request.loop, ids, names, fields, guesses)
        write_atomic(folder / TASKS, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
        answers.message = self._message(request, folder, todo.size)
        write_atomic(folder / README, answers.message + "\n\n" + _NOTES)
        return answers

    def _records(self, request: LabelRequest, todo: np.ndarray):
        """Ids, field names and fields of the open records (no target, no id column)."""
        ids = [_json_id(v) for v in request.ids[todo].tolist()]
        if request.records is None:
            return ids, [], [[] for _ in ids]
        header, rows = request.records.fields(request.indices[todo])
        hidden = set(getattr(request.records, "own_columns", ()))
        keep = [k for k, name in enumerate(header) if name not in hidden]
        reserved = {name.casefold() for name in RESERVED}
        names = [
            f"{header[k]} (data)" if header[k].casefold() in reserved else header[k] for k in keep
        ]
        return ids, names, [[row[k] for k in keep] for row in rows]

    def _guesses(self, request: LabelRequest, todo: np.ndarray):
        """The model's class label and its probability per open record (None where unknown)."""
        n = todo.size
        labels: list[str | None] = [None] * n
        scores: list[float | None] = [None] * n
        if request.predictions is not None:
            for k, code in enumerate(request.predictions[todo].tolist()):
                if code >= 0:
                    labels[k] = str(request.classes[code])
        if request.confidence is not None:
            for k, value in enumerate(request.confidence[todo].tolist()):
                if labels[k] is not None and math.isfinite(value):
                    scores[k] = round(float(value), 4)
        return labels, scores

    def _message(self, request: LabelRequest, folder: Path, n_open: int) -> str:
        run_dir = request.run_dir
        classes = [str(c) for c in request.classes.tolist()]
        n_batch = request.indices.shape[0]
        of_batch = f" (of {n_batch} in the batch)" if n_open < n_batch else ""
        command = (
            f"alcli resume {shlex.quote(str(run_dir))} --labels "
            f"{shlex.quote(str(folder / TO_LABEL))}"
        )
        choices = "\n".join(f'    <Choice value="{html.escape(c, quote=True)}"/>' for c in classes)
        return (
            f"Loop {request.loop} waits for labels: {n_open} "
            f"{'record' if n_open == 1 else 'records'}{of_batch} in\n"
            f"  {folder / TO_LABEL}  (for a spreadsheet)\n"
            f"  {folder / TASKS}  (for Label Studio)\n"
            f"1. Fill the label column with one of the classes: {', '.join(classes)};\n"
            f"   or {SKIP_WORD} to leave a record out; leave a cell empty to answer it later.\n"
            f"2. Save the file as CSV and run:\n"
            f"   {command}\n"
            "   With only some records answered, the run keeps them and waits for the rest.\n"
            "Label Studio: create a project with this labeling config (one for the whole run\n"
            "is fine: import each loop's tasks.json into it), label, export as JSON, JSON-MIN\n"
            "or CSV, and pass the export to --labels. Its Skip\n"
            "button counts as skip in the JSON export only (JSON-MIN and CSV leave skipped\n"
            "tasks out): export JSON when you skip. The labeling config:\n"
            "<View>\n"
            '  <Text name="record" value="$alcli_record"/>\n'
            '  <Choices name="label" toName="record" choice="single" showInline="true">\n'
            f"{choices}\n"
            "  </Choices>\n"
            "</View>"
        )


_NOTES = """\
Notes
- to_label.csv is UTF-8 with a byte-order mark, which Excel needs to read it as UTF-8;
  LibreOffice and pandas read it too. Excel may save it back as "CSV UTF-8" or plain "CSV";
  a ; delimiter (Excel in some locales) is fine.
- Keep the id column as it is. A spreadsheet drops leading zeros and shows long numbers as
  1.2E+15: format the id column as text before you type in the sheet.
- Cells that start with = + - or @ start with ' so that a spreadsheet shows them as text
  instead of running them as formulas; a ' left on an id or a label is ignored.
- Only the id and label columns are read: any CSV with those two columns works.
- Everything is checked before anything is recorded: a problem is reported with the ids to
  fix, and the run directory stays as it was.
"""


def _json_id(value: Any) -> Any:
    """An id for JSON: ints stay ints, anything else is text."""
    return value if isinstance(value, int) else str(value)


def _to_label_csv(ids, names, fields, guesses) -> bytes:
    labels, scores = guesses
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", *(spreadsheet_safe(n) for n in names), "prediction", "score", "label"])
    for record_id, cells, label, score in zip(ids, fields, labels, scores, strict=True):
        writer.writerow(
            [
                spreadsheet_safe(str(record_id)),
                *(spreadsheet_safe(c) for c in cells),
                "" if label is None else spreadsheet_safe(label),
                "" if score is None else f"{score:.4f}",
                "",
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _tasks(loop: int, ids, names, fields, guesses) -> list[dict[str, Any]]:
    """Label Studio's import format: one task per record, the guess as a prediction."""
    labels, scores = guesses
    tasks = []
    for record_id, cells, label, score in zip(ids, fields, labels, scores, strict=True):
        data: dict[str, Any] = {"alcli_id": record_id, **dict(zip(names, cells, strict=True))}
        data["alcli_record"] = "\n".join(
            [f"id: {record_id}", *(f"{n}: {c}" for n, c in zip(names, cells, strict=True))]
        )
        task: dict[str, Any] = {"data": data}
        if label is not None:
            prediction: dict[str, Any] = {"model_version": f"alcli loop {loop}"}
            if score is not None:
                prediction["score"] = score
            prediction["result"] = [
                {
                    "from_name": "label",
                    "to_name": "record",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            ]
            task["predictions"] = [prediction]
        tasks.append(task)
    return tasks


def take_answers(
    path: Path,
    answers: Answers,
    ids: np.ndarray,
    pool_ids: np.ndarray,
    classes: np.ndarray,
    person: Any,
    earlier_wins: bool = False,
    earlier_loops: Callable[[], Mapping[str, Recorded]] | None = None,
) -> tuple[Answers, list, Reading]:
    """A waiting batch's answers with those of the file ``path`` filled in, every answer
    checked first (nothing changes when one is wrong).

    Parameters
    ----------
    path : Path
        The filled ``to_label.csv``, an ``id,label`` CSV, or a Label Studio export (of the
        batch's tasks, or of a project holding every loop's).
    answers : Answers
        The batch's answers so far, aligned with ``ids``.
    ids : ndarray of shape (n,)
        The batch's record ids.
    pool_ids : ndarray of shape (n_pool,)
        Every pool id (an id outside the batch is named as such).
    classes : ndarray of shape (n_classes,)
    person : labeler config
        The labeler in the chain that hands work to people: answers are credited to it, at
        its prices; it says whether new classes are allowed and how several answers to one
        record become one (``resolve``).
    earlier_wins : bool
        Answers already recorded win over the file's (the run's own sheet, an old copy).
    earlier_loops : callable, optional
        Record id -> (class code or SKIPPED, loop) of the records earlier loops settled,
        called only when the file answers records outside the batch.

    Returns
    -------
    answers : Answers
    added : list
        Classes the answers add (``allow_new_classes``).
    reading : Reading
        What the file gave: the answers and skips taken, and the records of earlier loops it
        repeated.

    Raises
    ------
    DataError
        Every problem of the file at once.
    """
    open_ = answers.codes == UNANSWERED
    already = {str(ids[k]): int(code) for k, code in enumerate(answers.codes) if code != UNANSWERED}
    added: list | None = [] if getattr(person, "allow_new_classes", False) else None
    reading = read_export(
        path,
        [str(i) for i in ids[open_]],
        pool_ids,
        classes,
        answered=already,
        new_classes=added,
        earlier_wins=earlier_wins,
        resolve_rule=getattr(person, "resolve", DEFAULT_RULE),
        earlier_loops=earlier_loops,
    )
    given = reading.codes
    classes = with_new_classes(classes, added or [])
    now = np.array([k for k in np.flatnonzero(open_) if str(ids[k]) in given], dtype=np.int64)
    codes = np.array([given[str(ids[k])] for k in now], dtype=np.int64)
    answers.codes[now] = codes
    answers.labeler[now] = person.kind
    answers.cost[now] = prices(person.cost, codes, classes)
    return answers, added or [], reading


def settled_records(state: Mapping[str, np.ndarray], ids: np.ndarray) -> dict[str, Recorded]:
    """Record id -> (class code or SKIPPED, loop) of every record labeled or skipped up to a
    checkpoint, from its ``state.npz`` arrays (one read, however many loops the run has)."""
    settled: dict[str, Recorded] = {}
    for index, code, loop in zip(
        state["order"].tolist(), state["labels"].tolist(), state["loop_of"].tolist(), strict=True
    ):
        settled[id_text(ids[index]) or ""] = (int(code), int(loop))
    skipped = state.get("skipped", np.empty(0, dtype=np.int64)).tolist()
    skipped_loop = state.get("skipped_loop", np.empty(0, dtype=np.int32)).tolist()
    for index, loop in zip(skipped, skipped_loop, strict=True):
        settled.setdefault(id_text(ids[index]) or "", (SKIPPED, int(loop)))
    return settled
