"""The terminal labeler, driven through text streams: what a person types, what comes back."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from alcli.data import DataConfig, RecordSource, load_dataset
from alcli.errors import DataError
from alcli.labelers import (
    LABELERS,
    SKIPPED,
    UNANSWERED,
    LabelerContext,
    LabelRequest,
    build_labeler,
)
from alcli.labelers.terminal import WIDTH, TerminalLabeler
from alcli.labelers.terminal import TerminalLabelerConfig as TerminalConfig
from tests.conftest import write_csv

CLASSES = np.array(["cat", "dog", "bird"], dtype=object)
HEADER = ["id", "name", "text", "target"]
ROWS = [
    ["a", "Tom", "a small animal that purrs", ""],
    ["b", "Rex", "it barks at the postman", ""],
    ["c", "Tweety", "it sings in the morning", ""],
    ["d", "Felix", "black and white", ""],
]


class FakeRecords:
    """A RecordSource over rows in memory (pool index = row number)."""

    own_columns = ("target", "id")

    def __init__(self, header=HEADER, rows=ROWS):
        self.header, self.rows = header, rows

    def fields(self, indices):
        return list(self.header), [list(self.rows[i]) for i in np.asarray(indices).tolist()]

    def column(self, name, indices):
        at = self.header.index(name)
        return [self.rows[i][at] for i in np.asarray(indices).tolist()]


def make_request(n=3, answers=None, classes=CLASSES, records=None, **kwargs) -> LabelRequest:
    return LabelRequest(
        loop=kwargs.pop("loop", 0),
        indices=np.arange(n, dtype=np.int64),
        ids=np.array([row[0] for row in ROWS[:n]], dtype=object),
        classes=classes,
        answers=np.full(n, UNANSWERED, dtype=np.int64) if answers is None else np.array(answers),
        records=FakeRecords() if records is None else records,
        **kwargs,
    )


def ask(typed: str, request: LabelRequest | None = None, **cfg):
    """Run the labeler on ``request`` with ``typed`` as the person's input; (answers, screen)."""
    stdout = io.StringIO()
    labeler = TerminalLabeler(
        TerminalConfig(kind="terminal", **cfg), context(), io.StringIO(typed), stdout
    )
    answers = labeler.label(request or make_request())
    return answers, stdout.getvalue()


def context() -> LabelerContext:
    data_cfg = SimpleNamespace(target="target", id="id")
    return LabelerContext(truth=np.full(4, -1), classes=CLASSES, data_cfg=data_cfg, seed=0)


def test_registered_and_built_from_config():
    assert LABELERS["terminal"] is TerminalLabeler
    labeler = build_labeler(TerminalConfig(kind="terminal"), context())
    assert isinstance(labeler, TerminalLabeler)
    assert labeler.may_wait and TerminalLabeler.needs_tty and not labeler.needs_truth


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("1\n2\n3\n\n", [0, 1, 2]),
        ("3\n3\n1\n\n", [2, 2, 0]),
        ("cat\nDOG\n  Bird \n\n", [0, 1, 2]),  # names: case-insensitive, trimmed
        ("bi\nd\nc\n\n", [2, 1, 0]),  # a unique prefix will do
        ("s\n1\ns\n\n", [SKIPPED, 0, SKIPPED]),
    ],
    ids=["numbers", "numbers-repeat", "names", "prefixes", "skips"],
)
def test_answers_by_number_name_or_skip(typed, codes):
    answers, _ = ask(typed)
    assert answers.codes.tolist() == codes
    assert answers.labeler.tolist() == ["terminal"] * 3
    assert answers.complete and answers.message == ""


def test_undo_asks_the_record_again():
    answers, screen = ask("1\nu\n2\n3\n1\n\n")
    assert answers.codes.tolist() == [1, 2, 0]
    assert "undone: record a (was cat)" in screen
    assert screen.count("--- record a ---") == 2, "the record is shown again after an undo"


def test_undo_after_a_skip_and_twice_in_a_row():
    answers, screen = ask("s\nu\n3\n1\n2\nu\nu\n2\n2\n\n")
    assert answers.codes.tolist() == [2, 1, 1]
    assert "(was skipped)" in screen
    assert "undone: record c (was dog)" in screen and "undone: record b (was cat)" in screen


def test_undo_at_the_start_says_there_is_nothing_to_undo():
    answers, screen = ask("u\n1\n2\n3\n\n")
    assert answers.codes.tolist() == [0, 1, 2]
    assert "nothing to undo" in screen
    assert screen.count("--- record a ---") == 1


def test_the_last_answer_can_be_undone_before_handing_in():
    answers, screen = ask("1\n2\n3\nu\n1\n\n")
    assert answers.codes.tolist() == [0, 1, 0]
    assert "all 3 answered" in screen and "undone: record c (was bird)" in screen


def test_undoing_gives_back_the_cost():
    answers, _ = ask("1\n2\nu\ns\nu\n2\n3\n\n", cost={"per_label": 1.0, "per_class": {"dog": 5}})
    assert answers.codes.tolist() == [0, 1, 2]
    assert answers.cost.tolist() == [1.0, 5.0, 1.0]


def test_skips_cost_the_per_label_price():
    answers, _ = ask("s\n2\n2\n\n", cost={"per_label": 0.5, "per_class": {"dog": 2}})
    assert answers.codes.tolist() == [SKIPPED, 1, 1]
    assert answers.cost.tolist() == [0.5, 2.0, 2.0]


def test_quit_in_the_middle_keeps_the_answers_and_says_how_to_go_on(tmp_path):
    pending = tmp_path / "run" / "pending" / "loop-0002"
    request = make_request(4, loop=2, pending_dir=pending)
    answers, screen = ask("2\ns\nq\n", request)
    assert answers.codes.tolist() == [1, SKIPPED, UNANSWERED, UNANSWERED]
    assert answers.labeler.tolist() == ["terminal", "terminal", "", ""]
    assert not answers.complete
    assert "Saved 2 answers (1 skipped) in loop 2" in answers.message
    assert "2 of 4 records still need a label" in answers.message
    assert f"alcli resume {tmp_path / 'run'}" in answers.message
    assert "--- record c ---" in screen and "--- record d ---" not in screen


def test_quit_before_any_answer():
    answers, _ = ask("Q\n")
    assert answers.codes.tolist() == [UNANSWERED] * 3
    assert answers.message.startswith("No new answers in loop 0; 3 of 3 records")
    assert "alcli resume RUN_DIR" in answers.message


def test_end_of_input_is_like_quit():
    answers, screen = ask("1\n2\n")
    assert answers.codes.tolist() == [0, 1, UNANSWERED]
    assert "Saved 2 answers in loop 0; 1 of 3 records still need a label" in answers.message
    assert screen.endswith("\n")


def test_end_of_input_after_the_last_answer_hands_them_in():
    answers, _ = ask("1\n2\n3\n")
    assert answers.codes.tolist() == [0, 1, 2] and answers.complete


def test_invalid_input_gives_a_hint_and_asks_again():
    answers, screen = ask("x\n9\n0\n\nwat\n1\n2\n3\nz\n\n")
    assert answers.codes.tolist() == [0, 1, 2]
    assert "'x' is not a class: type 1-3 or a class name" in screen
    assert "no class 9: the classes are numbered 1-3" in screen
    assert "no class 0" in screen
    assert "type 1-3 or a class name; s skips" in screen  # an empty line
    assert "press Enter to go on, or u to undo" in screen
    assert screen.count("--- record a ---") == 1, "a hint does not show the record again"
    assert screen.count("[1/3] label (1-3, name, s skip, u undo, q quit): ") == 6


def test_an_ambiguous_prefix_lists_the_candidates():
    classes = np.array(["cat", "camel", "Cow"], dtype=object)
    answers, screen = ask("ca\ncam\nc\nco\ncat\n\n", make_request(classes=classes))
    assert answers.codes.tolist() == [1, 2, 0]
    assert "'ca' could be cat, camel" in screen
    assert "'c' could be cat, camel, Cow" in screen


def test_numeric_class_names_are_typed_as_themselves():
    # Classes 0..9 numbered 1..10 would make "3" mean class 2.
    classes = np.arange(10)
    answers, screen = ask("3\n0\n11\n9\n\n", make_request(classes=classes))
    assert answers.codes.tolist() == [3, 0, 9]
    assert "1)" not in screen and "label (a class, s skip" in screen
    assert "'11' is not a class" in screen


def test_commands_win_over_a_class_of_the_same_name():
    classes = np.array(["s", "t"], dtype=object)
    answers, _ = ask("s\n1\n2\n\n", make_request(classes=classes))
    assert answers.codes.tolist() == [SKIPPED, 0, 1]


def test_shows_fields_without_target_and_id():
    _, screen = ask("q\n")
    assert "name: Tom" in screen and "text: a small animal that purrs" in screen
    assert "target:" not in screen and "id: a" not in screen
    assert "classes: 1) cat   2) dog   3) bird" in screen
    assert "[1/3] label (1-3, name, s skip, u undo, q quit): " in screen


def test_shows_the_text_column_wrapped():
    long = " ".join(["word"] * 60)
    rows = [["a", "Tom", long, ""], ["b", "Rex", "", ""]]
    _, screen = ask(
        "1\nq\n", make_request(2, records=FakeRecords(HEADER, rows)), text_column="text"
    )
    assert "name: Tom" not in screen and "text:" not in screen
    block = screen.split("--- record a ---\n")[1].split("classes:")[0]
    assert block.split() == ["word"] * 60
    assert len(block.splitlines()) > 1 and all(len(line) <= WIDTH for line in block.splitlines())
    assert "--- record b ---\n(empty)\n" in screen


def test_long_fields_are_wrapped_and_many_fields_shown_compactly():
    header = ["id", *[f"f{j}" for j in range(40)], "note"]
    rows = [["a", *[str(j) for j in range(40)], "x " * 100]]
    _, screen = ask("q\n", make_request(1, records=FakeRecords(header, rows)))
    block = screen.split("--- record a ---\n")[1].split("classes:")[0].splitlines()
    assert all(len(line) <= WIDTH for line in block)
    assert len(block) < 15, "forty short fields take a few lines, not forty"
    assert "f0=0  f1=1" in block[0]
    assert any(line.startswith("note: x x") for line in block)


def test_records_without_a_source_show_the_features():
    request = LabelRequest(
        loop=0,
        indices=np.array([1]),
        ids=np.array(["r1"]),
        classes=CLASSES,
        answers=np.array([UNANSWERED]),
        features=np.array([[0.5, 1.0], [2.5, 3.0]]),
    )
    _, screen = ask("q\n", request)
    assert "x0: 2.5" in screen and "x1: 3" in screen


def test_a_text_column_needs_records():
    request = dataclasses.replace(make_request(), records=None)
    with pytest.raises(DataError, match=r"labeler\.text_column: 'text'"):
        ask("1\n", request, text_column="text")


def test_shows_the_models_guess_from_loop_1_on():
    request = make_request(
        loop=1, predictions=np.array([1, 2, 0]), confidence=np.array([0.834, 0.5, 0.9])
    )
    _, screen = ask("1\n2\n3\n\n", request)
    assert "model's guess: dog (0.83)" in screen
    assert "model's guess: bird (0.50)" in screen
    assert "model's guess: cat (0.90)" in screen
    _, screen = ask("q\n", make_request(loop=1, predictions=np.array([1, 2, 0])))
    assert "model's guess: dog\n" in screen, "no probability: the guess alone"


def test_loop_0_shows_no_guess():
    _, screen = ask("1\n2\n3\n\n")
    assert "guess" not in screen


def test_asks_only_the_open_records():
    request = make_request(4, answers=[0, UNANSWERED, SKIPPED, UNANSWERED])
    answers, screen = ask("3\n1\n\n", request)
    assert request.answers.tolist() == [0, UNANSWERED, SKIPPED, UNANSWERED], "left as it was"
    assert answers.codes.tolist() == [0, 2, SKIPPED, 0]
    assert answers.labeler.tolist() == ["", "terminal", "", "terminal"]
    assert "--- record a ---" not in screen and "--- record c ---" not in screen
    assert "2 records to label (2 answered before)" in screen
    assert "[3/4] label" in screen and "[4/4] label" in screen


def test_answers_saved_before_cannot_be_undone():
    answers, screen = ask("u\nq\n", make_request(answers=[1, UNANSWERED, UNANSWERED]))
    assert answers.codes.tolist() == [1, UNANSWERED, UNANSWERED]
    assert "nothing to undo" in screen and "answers saved before stay" in screen


def test_nothing_open_asks_nothing():
    answers, screen = ask("", make_request(answers=[0, SKIPPED, 1]))
    assert answers.codes.tolist() == [0, SKIPPED, 1] and screen == ""


class Interrupting(io.StringIO):
    """Input that raises KeyboardInterrupt (Ctrl-C) once the typed lines run out."""

    def readline(self, *args):
        line = super().readline(*args)
        if not line:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_propagates_and_says_the_batch_is_not_saved():
    stdout = io.StringIO()
    labeler = TerminalLabeler(
        TerminalConfig(kind="terminal"), context(), Interrupting("1\n"), stdout
    )
    with pytest.raises(KeyboardInterrupt):
        labeler.label(make_request())
    assert "the 1 answer typed in this batch is not saved (q saves and quits)" in stdout.getvalue()


def test_default_streams_are_the_processes_at_call_time(monkeypatch):
    labeler = TerminalLabeler(TerminalConfig(kind="terminal"), context())
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))
    monkeypatch.setattr("sys.stdout", stdout)
    answers = labeler.label(make_request(1))
    assert answers.codes.tolist() == [1]
    assert "--- record a ---" in stdout.getvalue()


def test_lines_stay_short(tmp_path: Path):
    classes = np.array([f"class_number_{k}" for k in range(12)], dtype=object)
    request = make_request(
        loop=3,
        classes=classes,
        predictions=np.array([1, 2, 3]),
        confidence=np.array([0.5, 0.5, 0.5]),
        pending_dir=tmp_path / "pending" / "loop-0003",
    )
    _, screen = ask("1\nq\n", request)
    assert all(len(line) <= WIDTH for line in screen.splitlines()), screen


def test_with_the_records_of_a_csv(tmp_path):
    header = ["id", "weight", "review", "target"]
    rows = [
        ["r0", "1.5", 'café, "great"\nwould buy again', ""],
        ["r1", "2.0", "meh", ""],
        ["r2", "3.0", "awful", "bad"],
    ]
    path = write_csv(tmp_path / "data.csv", header, rows)
    test = write_csv(
        tmp_path / "test.csv", header, [["t0", "1", "", "good"], ["t1", "2", "", "bad"]]
    )
    cfg = DataConfig(path=path, test_path=test, features=["weight"])
    data = load_dataset(cfg, 0)
    records = RecordSource(cfg, data)
    request = LabelRequest(
        loop=0,
        indices=np.array([1, 0]),
        ids=data.ids[[1, 0]],
        classes=data.classes,
        answers=np.full(2, UNANSWERED),
        records=records,
    )
    labeler = TerminalLabeler(
        TerminalConfig(kind="terminal"),
        LabelerContext(data.y, data.classes, cfg, 0),
        io.StringIO("good\nbad\n\n"),
        stdout := io.StringIO(),
    )
    answers = labeler.label(request)
    assert data.classes[answers.codes].tolist() == ["good", "bad"]
    screen = stdout.getvalue()
    assert "--- record r1 ---\nweight: 2.0\nreview: meh\n" in screen
    assert 'review: café, "great"\n    would buy again\n' in screen
    assert "target" not in screen and "id:" not in screen

    labeler = TerminalLabeler(
        TerminalConfig(kind="terminal", text_column="review"),
        LabelerContext(data.y, data.classes, cfg, 0),
        io.StringIO("q\n"),
        stdout := io.StringIO(),
    )
    labeler.label(request)
    assert "--- record r1 ---\nmeh\nclasses: 1) bad   2) good\n" in stdout.getvalue()
    labeler = TerminalLabeler(
        TerminalConfig(kind="terminal", text_column="text"),
        LabelerContext(data.y, data.classes, cfg, 0),
        io.StringIO("q\n"),
        io.StringIO(),
    )
    with pytest.raises(DataError, match=r"no column 'text'.*Columns: id, weight, review, target"):
        labeler.label(request)
