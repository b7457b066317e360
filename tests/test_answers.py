"""read_answers: filled answer files as people send them back, good and bad."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from alcli.classes import SKIPPED
from alcli.errors import DataError
from alcli.labelers.answers import read_answers

POOL = ["r1", "r2", "r3", "r4", "r5", "r6", "007", "=x", "old1", "old2"]
PENDING = ["r1", "r2", "r3", "r4", "r5", "007", "=x"]  # r6, old1, old2: not asked now
CLASSES = np.array(["cat", "dog", "fig"])
CAT, DOG, FIG = 0, 1, 2


def read(path, pending=PENDING, pool=POOL, classes=CLASSES, **kwargs):
    return read_answers(path, pending, np.array(pool), classes, **kwargs)


def write(tmp_path, content: str | bytes, name: str = "answers.csv"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def ls_task(alcli_id, *annotations, task_id=1):
    """A task as Label Studio's JSON export has it."""
    return {
        "id": task_id,
        "data": {"alcli_id": alcli_id, "text": "..."},
        "annotations": list(annotations),
        "predictions": [],
    }


def annotation(*choices, cancelled=False, updated="2024-05-01T10:00:00Z", from_name="label", by=1):
    result = (
        [
            {
                "from_name": from_name,
                "to_name": "record",
                "type": "choices",
                "value": {"choices": list(choices)},
            }
        ]
        if choices
        else []
    )
    return {
        "id": 1,
        "was_cancelled": cancelled,
        "result": result,
        "completed_by": by,
        "created_at": updated,
        "updated_at": updated,
    }


# (name, file content, pattern the one message must match)
BAD = [
    ("empty", "", r"is empty"),
    ("blank lines", "  \r\n\r\n", r"is empty"),
    ("xlsx workbook", b"PK\x03\x04\x14\x00\x06\x00rest-of-zip", r"workbook.*save it as CSV"),
    ("binary", b"id,label\x00\x01\x02\x00", r"not a text file"),
    ("not UTF-8 or cp1252", b"id,label\n\x81\x8d,cat\n", r"not a text file"),
    ("header only", "id,label\r\n", r"header but no rows"),
    ("no label column", "id,answer\nr1,cat\n", r"no 'label' column; its columns are: id, answer"),
    ("no id column", "record,label\nr1,cat\n", r"no 'id' column; its columns are: record, label"),
    ("plain text", "these are my labels\n", r"no 'id' or 'label' column.*these are my labels"),
    ("unknown ids", "id,label\nr1,cat\nzz1,cat\nzz2,dog\n", r"2 ids are not in the pool: zz1, zz2"),
    (
        "ids a spreadsheet changed",
        "id,label\n7,cat\n",
        r"1 id is not in the pool: 7\..*leading zeros",
    ),
    (
        "ids not asked for",
        "id,label\nold1,cat\nr6,dog\nr1,cat\n",
        r"2 ids are in the pool but not waiting for a label \(already labeled, or not asked for\): "
        r"old1, r6",
    ),
    (
        "labels outside the classes",
        "id,label\nr1,kat\nr2,Dog\nr3,3\n",
        r"2 labels are not one of the classes: r1 'kat', r3 '3'\. The classes are: cat, dog, fig",
    ),
    (
        "conflicting duplicates",
        "id,label\nr1,cat\nr1,dog\nr2,cat\nr2,cat\n",
        r"1 record has answers that disagree \(resolve: majority\): r1 \(a tie between 'cat' "
        r"\(1 annotation\) and 'dog' \(1 annotation\)\)",
    ),
    ("a label without an id", "id,label\n,cat\nr1,\n", r"1 answer has no record id \(line 2\)"),
    (
        "no id after a cell spanning lines",
        'id,text,label\nr1,"two\nlines",cat\n,x,dog\n',
        r"1 answer has no record id \(line 4\)",
    ),
    (
        "many unknown ids",
        "id,label\n" + "".join(f"u{i},cat\n" for i in range(8)),
        r"8 ids are not in the pool: u0, u1, u2, u3, u4 and 3 more",
    ),
    (
        "semicolon CSV, id not asked for",
        "\ufeffid;label\r\nold2;cat\r\n",
        r"1 id is in the pool but not waiting.*old2",
    ),
    (
        "Label Studio CSV with an unknown label",
        "alcli_id,annotation_id,annotator,id,label\nr1,3,1,17,kitten\n",
        r"1 label is not one of the classes: r1 'kitten'",
    ),
    ("broken JSON", '[{"data": {"alcli_id": "r1"', r"looks like JSON but cannot be parsed"),
    ("JSON object", '{"data": {"alcli_id": "r1"}}', r"the JSON holds dict, not a list of tasks"),
    ("JSON without tasks", "[]", r"holds no tasks"),
    ("JSON list of numbers", "[1, 2]", r"item 1 of the JSON list is int, not a task"),
    (
        "Label Studio JSON, two choices",
        json.dumps([ls_task("r1", annotation("cat", "dog"))]),
        r"1 answer chooses more than one class: r1 \(cat, dog\)",
    ),
    (
        "JSON-MIN, two choices",
        json.dumps([{"alcli_id": "r2", "label": ["cat", "fig"]}]),
        r"1 answer chooses more than one class: r2 \(cat, fig\)",
    ),
    (
        "JSON-MIN without a label key",
        json.dumps([{"id": 4, "alcli_id": "r1", "sentiment": "cat"}]),
        r"no task has a 'label' key \(keys: alcli_id, id, sentiment\)",
    ),
    (
        "Label Studio tasks not written by alcli",
        json.dumps([{"id": 17, "data": {"text": "x"}, "annotations": [annotation("cat")]}]),
        r"1 answer has no record id \(task 17\).*import the tasks.json alcli wrote",
    ),
    (
        "Label Studio CSV, two choices",
        'alcli_id,label\nr3,"{""choices"": [""cat"", ""dog""]}"\n',
        r"r3 \(cat, dog\)",
    ),
]


@pytest.mark.parametrize(("content", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_answer_file_gets_one_message_naming_what_to_fix(tmp_path, content, pattern):
    path = write(tmp_path, content)
    before = path.read_bytes()
    with pytest.raises(DataError) as caught:
        read(path)
    message = str(caught.value)
    assert re.search(pattern, message, re.S), message
    assert message.startswith(str(path))
    assert "nothing was recorded" in message.lower()
    assert path.read_bytes() == before


def test_at_least_twenty_bad_files():
    assert len(BAD) >= 20


def test_every_problem_is_listed_in_one_message(tmp_path):
    path = write(
        tmp_path,
        "id,label\nzz,cat\nr1,cat\nr1,fig\nold1,dog\nr2,emu\n,dog\n",
    )
    with pytest.raises(DataError) as caught:
        read(path)
    message = str(caught.value)
    assert "(5 problems)" in message
    for pattern in (
        r"1 answer has no record id \(line 7\)",
        r"1 id is not in the pool: zz",
        r"not waiting for a label.*: old1",
        r"1 label is not one of the classes: r2 'emu'",
        r"disagree \(resolve: majority\): r1 \(a tie between 'cat' .* and 'fig'",
        r"Fix the file and pass it to --labels again",
    ):
        assert re.search(pattern, message), (pattern, message)


@pytest.mark.parametrize("missing", ["nothere.csv", "folder"])
def test_a_file_that_is_not_there(tmp_path, missing):
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match=r"(file not found|is a folder) \(--labels\)"):
        read(tmp_path / missing)


# --- good files --------------------------------------------------------------------------


def test_to_label_csv_as_excel_saves_it_back(tmp_path):
    # BOM, CRLF, every field quoted, a field with a comma and a line break, the ' kept on an
    # escaped id, labels in another case, with spaces, a skip, and records not answered yet.
    text = (
        '"id","text","prediction","score","label"\r\n'
        '"r1","a, b\r\nc","cat","0.9000","cat"\r\n'
        '"r2","x","cat","0.5100","Dog"\r\n'
        '"\'=x","=1+1","dog","0.7000"," fig "\r\n'
        '"007","y","","",""\r\n'
        '"r3","z","","","SKIP"\r\n'
        '"r4","w","","",""\r\n'
        ",,,,\r\n"
    )
    path = write(tmp_path, "\ufeff" + text)
    assert read(path) == {"r1": CAT, "r2": DOG, "=x": FIG, "r3": SKIPPED}


def test_plain_id_label_csv_semicolons_and_identical_duplicates(tmp_path):
    assert read(write(tmp_path, "label,id\ncat,r1\ncat,r1\nskip,r2\n")) == {
        "r1": CAT,
        "r2": SKIPPED,
    }
    assert read(write(tmp_path, "ID;Label\r\nr5;fig\r\n007;dog\r\n")) == {"r5": FIG, "007": DOG}
    assert read(write(tmp_path, "sep=;\nid;label\nr5;fig\n")) == {"r5": FIG}


def test_excel_unicode_text_and_ansi_csv(tmp_path):
    classes = np.array(["café", "thé"])
    utf16 = "id\tlabel\r\nr1\tthé\r\n".encode("utf-16")
    assert read(write(tmp_path, utf16), classes=classes) == {"r1": 1}
    ansi = "id,label\r\nr1,café\r\n".encode("cp1252")
    assert read(write(tmp_path, ansi), classes=classes) == {"r1": 0}


def test_label_studio_json(tmp_path):
    tasks = [
        # one annotator's latest annotation wins (they corrected it)
        ls_task(
            "r1",
            annotation("dog", updated="2024-05-01T10:00:00Z"),
            annotation("cat", updated="2024-05-02T09:00:00Z"),
            task_id=1,
        ),
        # skipped in Label Studio
        ls_task("r2", annotation(cancelled=True), task_id=2),
        # a cancelled retry does not undo an answer
        ls_task(
            "r3",
            annotation("fig", updated="2024-05-01T10:00:00Z"),
            annotation(cancelled=True, updated="2024-05-03T10:00:00Z"),
            task_id=3,
        ),
        # not labeled yet
        ls_task("r4", task_id=4),
        # another Choices tag besides ours
        ls_task(
            "r5",
            {
                **annotation("dog"),
                "result": [
                    {"from_name": "quality", "type": "choices", "value": {"choices": ["good"]}},
                    {"from_name": "label", "type": "choices", "value": {"choices": ["dog"]}},
                ],
            },
            task_id=5,
        ),
        # submitted without a choice: still open
        ls_task("007", annotation(), task_id=6),
    ]
    path = write(tmp_path, json.dumps(tasks, indent=2), name="export.json")
    assert read(path) == {"r1": CAT, "r2": SKIPPED, "r3": FIG, "r5": DOG}


def test_label_studio_json_min_and_integer_ids(tmp_path):
    rows = [
        {"id": 1, "alcli_id": 12, "text": "...", "label": "1", "annotator": 1},
        {"id": 2, "alcli_id": 3, "label": [0]},
        {"id": 3, "alcli_id": 5, "label": {"choices": ["skip"]}},
        {"id": 4, "alcli_id": 7},
    ]
    path = write(tmp_path, json.dumps(rows), name="export.json")
    pool = np.arange(20)
    got = read(path, pending=[3, 5, 7, 12], pool=pool, classes=np.array([0, 1]))
    assert got == {"12": 1, "3": 0, "5": SKIPPED}


def test_label_studio_csv(tmp_path):
    text = (
        "alcli_id,alcli_record,annotation_id,annotator,created_at,id,label,lead_time,text,"
        "updated_at\n"
        'r1,"id: r1\ntext: a",7,1,2024-05-01,101,dog,3.2,a,2024-05-01\n'
        'r2,"id: r2",8,1,2024-05-01,102,"{""choices"": [""fig""]}",1.0,b,2024-05-01\n'
        "r3,,,,,103,,,c,\n"
    )
    assert read(write(tmp_path, text)) == {"r1": DOG, "r2": FIG}


def test_integer_classes_match_as_text(tmp_path):
    path = write(tmp_path, "id,label\nr1,3\nr2,3.0\nr3,'10\nr4,skip\n")
    got = read(path, classes=np.array([3, 10]))
    assert got == {"r1": 0, "r2": 0, "r3": 1, "r4": SKIPPED}


def test_nothing_answered_yet_is_not_an_error(tmp_path):
    assert read(write(tmp_path, "id,label\nr1,\nr2,  \n")) == {}


def test_answers_given_by_an_earlier_file(tmp_path):
    path = write(tmp_path, "id,label\nr1,cat\nr2,dog\n")
    # r1 was answered cat before: passing the same file again is fine
    assert read(path, pending=["r2"], answered={"r1": CAT}) == {"r2": DOG}
    with pytest.raises(DataError, match=r"already answered by an earlier --labels.*: r1"):
        read(path, pending=["r2"], answered={"r1": FIG})
