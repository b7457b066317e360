"""A person labels in the terminal: each record, the classes numbered, the model's guess."""

from __future__ import annotations

import sys
import textwrap
from typing import IO, Any, Literal

import numpy as np
from pydantic import Field

from alcli.classes import SKIPPED, UNANSWERED
from alcli.errors import DataError, agree, plural
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.schema import Section

WIDTH = 76  # short lines: a narrow terminal must not wrap them mid-word
COMPACT_AFTER = 12  # records with more fields than this show several fields to a line
SHORT_FIELD = 28  # in the compact form, a "name=value" longer than this gets its own line


class TerminalLabelerConfig(Section):
    kind: Literal["terminal"] = Field(
        description="A person labels in the terminal during `alcli run`: a number or a class "
        "name, s to skip, u to undo, q to save and quit."
    )
    text_column: str | None = Field(
        None,
        description="CSV: show this column of each record (a text) instead of all its fields.",
    )
    reoffer_skipped: bool = Field(
        False, description="Offer records skipped in the terminal again in later loops."
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class TerminalLabeler(Labeler):
    """Asks a person at the terminal for each open record of the batch, in order.

    Each record is shown as its ``text_column`` (when the config names one) or as its fields
    (``name: value`` lines; many fields several to a line), then the classes numbered 1..C,
    the model's guess from loop 1 on, and a prompt with the progress through the batch.
    The person types:

    - a number (1-based) or a class name (case-insensitive; a unique prefix will do) -> that
      class. When a class name is itself a number (classes 0..9), numbers are class names
      and the classes are not numbered.
    - ``s`` -> skipped: the annotator abstains, the record leaves the batch.
    - ``u`` -> undo the last answer typed in this session; that record is asked again.
    - ``q`` or end of input (Ctrl-D) -> stop asking: the answers so far are returned and the
      rest stay UNANSWERED, so the run saves them and waits (status ``awaiting_labels``);
      ``alcli resume RUN_DIR`` asks only for the rest.

    s, u and q win over a class of the same name (type its number). After the last record
    the person confirms (Enter) or undoes, so a slip on the last record can be fixed too.

    Ctrl-C is not q: the KeyboardInterrupt propagates and the engine stops the run (status
    ``stopped``); the answers typed in this call are not returned, so they are lost (a note
    says so) and a resume asks for them again. Only q saves.

    ``needs_tty`` tells the engine that a person must be at an interactive terminal: a run
    whose stdin is not a TTY is to be refused rather than read answers from a pipe. While
    it asks, nothing else may draw on the terminal (a live progress bar would redraw over
    the prompt and erase what the person types).

    Parameters
    ----------
    cfg : TerminalLabelerConfig
        ``text_column``, ``reoffer_skipped``, ``cost``.
    context : LabelerContext
        ``data_cfg`` names the target and id columns, which are not shown as fields.
    stdin, stdout : text streams, optional
        Where answers are read and records shown (default: ``sys.stdin`` / ``sys.stdout`` at
        the time of each ``label`` call).
    """

    Config = TerminalLabelerConfig
    kind = "terminal"
    may_wait = True
    may_skip = True
    #: The engine refuses this labeler when stdin is not a TTY.
    needs_tty = True

    def __init__(
        self, cfg: Any, context: Any, stdin: IO[str] | None = None, stdout: IO[str] | None = None
    ):
        super().__init__(cfg)
        self.context = context
        self.stdin = stdin
        self.stdout = stdout

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        if todo.size == 0:
            return answers
        session = _Session(
            self,
            request,
            answers,
            todo,
            self.stdin if self.stdin is not None else sys.stdin,
            self.stdout if self.stdout is not None else sys.stdout,
        )
        return session.run()

    def shown(self, request: LabelRequest, positions: np.ndarray) -> list[list[str]]:
        """What to show of each record at batch ``positions`` (k,): k lists of lines."""
        indices = request.indices[positions]
        text_column = getattr(self.cfg, "text_column", None)
        records = request.records
        if text_column:
            if records is None:
                raise DataError(
                    f"labeler.text_column: '{text_column}' names a column, but this data has "
                    "no record fields to show. Remove labeler.text_column."
                )
            texts = records.column(text_column, indices)
            return [_wrap(text) if text.strip() else ["(empty)"] for text in texts]
        if records is not None:
            header, rows = records.fields(indices)
            own = getattr(records, "own_columns", None)
            hidden = set(own) if own is not None else self._hidden_columns()
            keep = [j for j, name in enumerate(header) if name not in hidden]
            return [_fields([(header[j], str(row[j])) for j in keep]) for row in rows]
        return [self._features(request, index) for index in indices.tolist()]

    def _hidden_columns(self) -> set[str]:
        # The target is the answer being asked for, and the id is in the record's title line.
        data_cfg = getattr(self.context, "data_cfg", None)
        hidden = {getattr(data_cfg, "target", None), getattr(data_cfg, "id", None) or "id"}
        return {name for name in hidden if name}

    @staticmethod
    def _features(request: LabelRequest, index: int) -> list[str]:
        if request.features is None:
            return ["(no fields to show)"]
        row = request.features[index]
        row = np.asarray(row.toarray() if hasattr(row, "toarray") else row).ravel()
        return _fields([(f"x{j}", f"{value:g}") for j, value in enumerate(row.tolist())])


class _Session:
    """One ``label`` call: the prompts, the cursor through the open positions, the undo."""

    def __init__(
        self,
        labeler: TerminalLabeler,
        request: LabelRequest,
        answers: Answers,
        todo: np.ndarray,
        stdin: IO[str],
        stdout: IO[str],
    ):
        self.labeler = labeler
        self.request = request
        self.answers = answers
        self.todo = todo
        self.stdin = stdin
        self.stdout = stdout
        self.names = [str(c) for c in request.classes.tolist()]
        # Numbering classes that are themselves numbers would make "3" mean class "2".
        self.numbered = not any(_is_int(name) for name in self.names)
        self.typed = 0  # answers typed in this session: todo[:typed] are answered

    def run(self) -> Answers:
        request, n = self.request, self.request.indices.shape[0]
        before = n - self.todo.size
        note = f" ({before} answered before)" if before else ""
        self.say(f"loop {request.loop}: {plural(self.todo.size, 'record')} to label{note}")
        lines = self.labeler.shown(request, self.todo)
        show = True
        try:
            while self.typed < self.todo.size:
                position = int(self.todo[self.typed])
                if show:
                    self.show(position, lines[self.typed])
                show = False
                done = int((self.answers.codes != UNANSWERED).sum())
                reply = self.ask(f"[{done + 1}/{n}] {self.prompt}: ")
                command = "" if reply is None else reply.lower()
                if reply is None or command == "q":
                    return self.stop()
                if command == "u":
                    show = self.undo()
                    continue
                code = SKIPPED if command == "s" else self.parse(reply)
                if isinstance(code, str):
                    self.say(code)
                    continue
                self.answer(position, code)
                show = True
                if self.typed == self.todo.size:
                    self.confirm()
        except KeyboardInterrupt:
            if self.typed:
                self.say(
                    f"\ninterrupted: the {plural(self.typed, 'answer')} typed in this batch "
                    f"{agree(self.typed, 'is', 'are')} not saved (q saves and quits)"
                )
            raise
        return self.answers

    @property
    def prompt(self) -> str:
        which = f"1-{len(self.names)}, name" if self.numbered else "a class"
        return f"label ({which}, s skip, u undo, q quit)"

    def show(self, position: int, lines: list[str]) -> None:
        request = self.request
        self.say("")
        self.say(f"--- record {request.ids[position]} ---")
        for line in lines:
            self.say(line)
        if self.numbered:
            menu = [f"{k}) {name}" for k, name in enumerate(self.names, start=1)]
        else:
            menu = list(self.names)
        for line in _pack(menu, "classes: ", "   "):
            self.say(line)
        if request.predictions is not None:
            guess = self.names[int(request.predictions[position])]
            if request.confidence is not None:
                guess += f" ({float(request.confidence[position]):.2f})"
            self.say(f"model's guess: {guess}")

    def parse(self, reply: str) -> int | str:
        """The class code ``reply`` names, or a one-line hint saying why it names none."""
        text = reply.strip()
        allowed = f"1-{len(self.names)} or a class name" if self.numbered else "a class name"
        if not text:
            return f"type {allowed}; s skips, u undoes, q saves and quits"
        if self.numbered and text.isdigit():
            number = int(text)
            if 1 <= number <= len(self.names):
                return number - 1
            return f"no class {number}: the classes are numbered 1-{len(self.names)}"
        exact = [k for k, name in enumerate(self.names) if name.strip() == text]
        if len(exact) == 1:
            return exact[0]
        low = text.lower()
        for matches in (
            [k for k, name in enumerate(self.names) if name.strip().lower() == low],
            [k for k, name in enumerate(self.names) if name.strip().lower().startswith(low)],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(self.names[k] for k in matches[:5])
                return f"'{text}' could be {names}: type more of the name or its number"
        return f"'{text}' is not a class: type {allowed} (s skip, u undo, q quit)"

    def answer(self, position: int, code: int) -> None:
        self.labeler.answered(
            self.answers, np.array([position]), np.array([code]), self.request.classes
        )
        self.typed += 1

    def undo(self) -> bool:
        """Take back the last answer typed in this session; whether a record is to be shown."""
        if self.typed == 0:
            saved = " (answers saved before stay)" if self.todo.size < self.n else ""
            self.say(f"nothing to undo: no answer typed yet in this session{saved}")
            return False
        self.typed -= 1
        position = int(self.todo[self.typed])
        code = int(self.answers.codes[position])
        was = "skipped" if code == SKIPPED else self.names[code]
        self.answers.codes[position] = UNANSWERED
        self.answers.labeler[position] = ""
        self.answers.cost[position] = 0.0
        self.say(f"undone: record {self.request.ids[position]} (was {was})")
        return True

    @property
    def n(self) -> int:
        return int(self.request.indices.shape[0])

    def confirm(self) -> None:
        """After the last record: Enter hands the answers in, u takes the last one back."""
        while True:
            reply = self.ask(f"all {self.n} answered: Enter to go on, u to undo the last: ")
            if reply is None or reply.lower() in ("", "q", "y", "yes"):
                return
            if reply.lower() == "u":
                self.undo()
                return
            self.say("press Enter to go on, or u to undo the last answer")

    def stop(self) -> Answers:
        codes = self.answers.codes
        left = int((codes == UNANSWERED).sum())
        skipped = int((codes[self.todo[: self.typed]] == SKIPPED).sum())
        also = f" ({skipped} skipped)" if skipped else ""
        saved = f"Saved {plural(self.typed, 'answer')}{also}" if self.typed else "No new answers"
        run_dir = self.request.run_dir or "RUN_DIR"
        self.answers.message = (
            f"{saved} in loop {self.request.loop}; {left} of {self.n} records still need a "
            f"label.\n`alcli resume {run_dir}` asks only for those."
        )
        return self.answers

    def ask(self, prompt: str) -> str | None:
        """The line typed after ``prompt``, stripped; None at end of input."""
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            self.say("")  # Ctrl-D leaves the cursor after the prompt
            return None
        return line.strip()

    def say(self, line: str) -> None:
        self.stdout.write(line + "\n")


def _is_int(name: str) -> bool:
    return name.strip().lstrip("+-").isdigit()


def _wrap(text: str, indent: str = "") -> list[str]:
    """``text`` in lines of at most WIDTH characters, its own line breaks kept; every line
    but the first starts with ``indent``."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        first = indent if lines else ""
        wrapped = textwrap.wrap(
            paragraph,
            WIDTH,
            initial_indent=first,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )
        lines += wrapped or [""]
    return lines


def _fields(pairs: list[tuple[str, str]]) -> list[str]:
    """A record's ``(name, value)`` fields as lines: one field per line, or, for many
    fields, the short ones several to a line as ``name=value``."""
    if len(pairs) <= COMPACT_AFTER:
        lines: list[str] = []
        for name, value in pairs:
            lines += _wrap(f"{name}: {value}", "    ")
        return lines
    lines, short = [], []
    for name, value in pairs:
        item = f"{name}={value}"
        if len(item) <= SHORT_FIELD and "\n" not in value:
            short.append(item)
            continue
        lines += _pack(short)
        short = []
        lines += _wrap(f"{name}: {value}", "    ")
    return lines + _pack(short)


def _pack(items: list[str], lead: str = "", sep: str = "  ") -> list[str]:
    """``items`` joined by ``sep`` into lines of at most WIDTH characters (an item is never
    split); the first line starts with ``lead``, the others with as many spaces."""
    lines: list[str] = []
    line, empty = lead, True
    for item in items:
        if not empty and len(line) + len(sep) + len(item) > WIDTH:
            lines.append(line)
            line, empty = " " * len(lead), True
        line += item if empty else sep + item
        empty = False
    if not empty:
        lines.append(line)
    return lines
