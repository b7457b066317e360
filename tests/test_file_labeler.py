"""The file labeler: what it writes for a spreadsheet and Label Studio, and reading it back."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from alcli.classes import SKIPPED, UNANSWERED
from alcli.cli import app
from alcli.data import DataConfig, RecordSource, load_dataset
from alcli.labelers import LABELERS, LabelerContext, build_labeler
from alcli.labelers.answers import read_answers
from alcli.labelers.base import LabelRequest
from alcli.labelers.file import FileLabeler, spreadsheet_safe
from tests.conftest import TINY, merge, write_csv
from tests.test_answers import BAD

HEADER = ["id", "text", "amount", "label", "Score", "target"]
ROWS = [
    ["a1", '=HYPERLINK("http://evil.example","click")', "-1.5", "x", "1", ""],
    ["-b2", "+cmd|' /C calc'!A0", "2", "y", "2", ""],
    ["c3", "@SUM(1+1)", "-3", "x", "3", ""],
    ["d4", "plain, with a comma\nand a line break", "4e-3", "=z", "4", ""],
    ["e5", "\tstarts with a tab", "5", "y", "5", ""],
    ["f6", "-minus word", "6", "x", "6", ""],
    ["g7", "naïve café", "7", "y", "7", "pos"],
    ["h8", "already labeled", "8", "x", "8", "neg"],
]
CLASSES = ["neg", "pos"]


@pytest.fixture
def records(tmp_path) -> RecordSource:
    path = write_csv(tmp_path / "data.csv", HEADER, ROWS)
    test = write_csv(
        tmp_path / "test.csv",
        HEADER,
        [["t1", "", "1", "x", "1", "neg"], ["t2", "", "2", "y", "2", "pos"]],
    )
    cfg = DataConfig(path=path, test_path=test, features=["amount", "Score"])
    return RecordSource(cfg, load_dataset(cfg, 0))


def request_for(records, tmp_path, loop=2, answers=None, guesses=True, n=6):
    data = records.data
    indices = np.arange(n)
    return LabelRequest(
        loop=loop,
        indices=indices,
        ids=data.ids[indices],
        classes=data.classes,
        answers=np.full(n, UNANSWERED) if answers is None else np.asarray(answers),
        predictions=np.array([1, 0, 1, 0, 1, 0])[:n] if guesses else None,
        confidence=np.array([0.91234, 0.6, 0.55, np.nan, 0.7, 0.8])[:n] if guesses else None,
        records=records,
        features=data.X,
        pending_dir=tmp_path / "run" / "pending" / f"loop-{loop:04d}",
    )


def labeler(records) -> FileLabeler:
    return FileLabeler(None, LabelerContext(records.data.y, records.data.classes, None, 0))


def read_to_label(path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark, for Excel"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert raw.count(b"\r\n") == len(rows), "CRLF after every record"
    return rows


def test_to_label_csv_has_the_fields_guesses_and_an_empty_label_column(records, tmp_path):
    request = request_for(records, tmp_path)
    answers = labeler(records).label(request)
    rows = read_to_label(request.pending_dir / "to_label.csv")
    assert rows[0] == [
        "id",
        "text",
        "amount",
        "label (data)",
        "Score (data)",
        "prediction",
        "score",
        "label",
    ], "no target column; data columns named like ours renamed"
    body = {row[0]: row for row in rows[1:]}
    assert list(body) == ["a1", "'-b2", "c3", "d4", "e5", "f6"]
    assert body["a1"][1] == "'" + ROWS[0][1], "a formula is escaped"
    assert body["'-b2"][1] == "'" + ROWS[1][1]
    assert body["c3"][1] == "'@SUM(1+1)"
    assert body["d4"][1] == ROWS[3][1], "a comma and a line break survive quoting"
    assert body["d4"][3] == "'=z"
    assert body["e5"][1] == "'\tstarts with a tab"
    assert body["f6"][1] == "'-minus word"
    assert [body[k][2] for k in ("a1", "c3", "d4")] == ["-1.5", "-3", "4e-3"], "numbers stay"
    assert [row[5:] for row in rows[1:]] == [
        ["pos", "0.9123", ""],
        ["neg", "0.6000", ""],
        ["pos", "0.5500", ""],
        ["neg", "", ""],  # no finite probability: no score
        ["pos", "0.7000", ""],
        ["neg", "0.8000", ""],
    ]
    assert (answers.codes == UNANSWERED).all() and not answers.complete
    assert not [p for p in request.pending_dir.iterdir() if p.name.startswith(".tmp")]


def test_tasks_json_is_label_studio_import_format(records, tmp_path):
    request = request_for(records, tmp_path)
    labeler(records).label(request)
    tasks = json.loads((request.pending_dir / "tasks.json").read_text(encoding="utf-8"))
    assert isinstance(tasks, list) and len(tasks) == 6
    first = tasks[0]
    assert set(first) == {"data", "predictions"}
    assert first["data"]["alcli_id"] == "a1"
    assert first["data"]["text"] == ROWS[0][1], "JSON holds the fields as they are, unescaped"
    assert first["data"]["label (data)"] == "x" and "target" not in first["data"]
    assert first["data"]["alcli_record"].startswith("id: a1\ntext: =HYPERLINK")
    assert first["predictions"] == [
        {
            "model_version": "alcli loop 2",
            "score": 0.9123,
            "result": [
                {
                    "from_name": "label",
                    "to_name": "record",
                    "type": "choices",
                    "value": {"choices": ["pos"]},
                }
            ],
        }
    ]
    assert "score" not in tasks[3]["predictions"][0], "no probability, no score"
    assert tasks[6 - 1]["data"]["alcli_id"] == "f6"


def test_the_message_says_what_to_do_next(records, tmp_path):
    request = request_for(records, tmp_path)
    message = labeler(records).label(request).message
    run_dir, folder = tmp_path / "run", request.pending_dir
    assert f"alcli resume {run_dir} --labels {folder / 'to_label.csv'}" in message
    assert "neg, pos" in message and "skip" in message
    assert '<Text name="record" value="$alcli_record"/>' in message
    assert '<Choices name="label" toName="record" choice="single"' in message
    assert '<Choice value="neg"/>' in message and '<Choice value="pos"/>' in message
    assert (folder / "README.txt").read_text().startswith(message)


def test_loop_zero_has_no_guesses(records, tmp_path):
    request = request_for(records, tmp_path, loop=0, guesses=False)
    labeler(records).label(request)
    rows = read_to_label(request.pending_dir / "to_label.csv")
    assert all(row[-3:] == ["", "", ""] for row in rows[1:])
    tasks = json.loads((request.pending_dir / "tasks.json").read_text(encoding="utf-8"))
    assert all(set(task) == {"data"} for task in tasks)


def test_later_calls_write_only_the_records_still_open(records, tmp_path):
    first = request_for(records, tmp_path)
    labeler(records).label(first)
    answers = np.array([1, UNANSWERED, SKIPPED, UNANSWERED, 0, UNANSWERED])
    again = request_for(records, tmp_path, answers=answers)
    result = labeler(records).label(again)
    rows = read_to_label(again.pending_dir / "to_label.csv")
    assert [row[0] for row in rows[1:]] == ["'-b2", "d4", "f6"]
    tasks = json.loads((again.pending_dir / "tasks.json").read_text(encoding="utf-8"))
    assert [task["data"]["alcli_id"] for task in tasks] == ["-b2", "d4", "f6"]
    np.testing.assert_array_equal(result.codes, answers)
    assert "3 records (of 6 in the batch)" in result.message


def test_nothing_open_writes_nothing(records, tmp_path):
    request = request_for(records, tmp_path, answers=[0, 1, 0, SKIPPED, 1, 0])
    answers = labeler(records).label(request)
    assert answers.complete and answers.message == ""
    assert not request.pending_dir.exists()


def test_round_trip_through_a_spreadsheet(records, tmp_path):
    request = request_for(records, tmp_path)
    labeler(records).label(request)
    path = request.pending_dir / "to_label.csv"
    rows = read_to_label(path)
    filled = {"a1": "pos", "'-b2": "neg", "d4": "skip", "f6": "POS"}  # c3, e5 left for later
    for row in rows[1:]:
        row[-1] = filled.get(row[0], "")
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL).writerows(rows)
    answer_file = tmp_path / "filled.csv"
    answer_file.write_bytes(out.getvalue().encode("utf-8-sig"))
    data = records.data
    got = read_answers(answer_file, data.ids[:6].tolist(), data.ids, data.classes)
    assert got == {"a1": 1, "-b2": 0, "d4": SKIPPED, "f6": 1}

    tasks = json.loads((request.pending_dir / "tasks.json").read_text(encoding="utf-8"))
    for task, choice in zip(tasks, ["neg", "pos", None, None, "neg", "pos"], strict=True):
        task["annotations"] = (
            []
            if choice is None
            else [
                {
                    "was_cancelled": False,
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "record",
                            "type": "choices",
                            "value": {"choices": [choice]},
                        }
                    ],
                }
            ]
        )
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    got = read_answers(export, data.ids[:6].tolist(), data.ids, data.classes)
    assert got == {"a1": 0, "-b2": 1, "e5": 0, "f6": 1}


def test_without_record_fields(records, tmp_path):
    request = request_for(records, tmp_path, n=3)
    request = LabelRequest(**{**request.__dict__, "records": None})
    labeler(records).label(request)
    rows = read_to_label(request.pending_dir / "to_label.csv")
    assert rows[0] == ["id", "prediction", "score", "label"]


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "+1"),
        ("-1.5", "-1.5"),
        ("-1e-3", "-1e-3"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("@x", "'@x"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_registered_as_file(records):
    from alcli.labelers.file import FileLabelerConfig

    assert LABELERS["file"] is FileLabeler
    built = build_labeler(
        FileLabelerConfig(kind="file"),
        LabelerContext(records.data.y, records.data.classes, records.data_cfg, 0),
    )
    assert isinstance(built, FileLabeler) and built.may_wait and not built.needs_truth


# --- end to end through the CLI ------------------------------------------------------------


def labeled_rows(n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        centre = 1.0 if label == "pos" else -1.0
        x1, x2 = rng.normal(centre, 1.0, size=2)
        rows.append([f"s{seed}-{i:03d}", f"{x1:.3f}", f"{x2:.3f}", f"=note {i}", label])
    return rows


def file_run_config(folder, labeled: bool, kind: str):
    """A config over a CSV whose pool targets are empty (unless ``labeled``), with a labeled
    test file."""
    header = ["id", "x1", "x2", "note", "target"]
    pool = labeled_rows(40, seed=1)
    if not labeled:
        pool = [[*row[:-1], ""] for row in pool]
    data = write_csv(folder / f"pool-{kind}.csv", header, pool)
    test = write_csv(folder / "test.csv", header, labeled_rows(30, seed=2))
    config = merge(
        TINY,
        {
            "data": {
                "path": str(data),
                "test_path": str(test),
                "features": ["x1", "x2"],
                "source": None,
                "test_size": None,
            },
            "init": {"method": "random", "size": 6},
            "loop_size": {"schedule": "constant", "size": 4},
            "stop": {"max_loops": 2},
            "labeler": {"kind": kind},
        },
    )
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def status(run_dir) -> str:
    return json.loads((run_dir / "run.json").read_text())["status"]


def waiting_ids(run_dir, loop: int) -> list[str]:
    path = run_dir / "pending" / f"loop-{loop:04d}" / "to_label.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


def excel_answers(path, ids, truth):
    """Answers as Excel saves a CSV UTF-8: a byte-order mark, CRLF, quoted fields."""
    return write_csv(
        path,
        ["id", "label"],
        [[i, truth[i]] for i in ids],
        encoding="utf-8-sig",
        lineterminator="\r\n",
        quoting=csv.QUOTE_ALL,
    )


def snapshot(run_dir) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def test_people_label_through_files_until_the_run_ends(cli, tmp_path):
    truth = {row[0]: row[-1] for row in labeled_rows(40, seed=1)}
    run_dir = tmp_path / "people"
    result = cli(
        "run",
        file_run_config(tmp_path, False, "file"),
        "--run-dir",
        run_dir,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert status(run_dir) == "awaiting_labels"
    assert "alcli resume" in result.output and "--labels" in result.output
    batch = waiting_ids(run_dir, 0)
    assert len(batch) == 6

    # A bad file changes nothing, byte for byte.
    before = snapshot(run_dir)
    bad = write_csv(tmp_path / "bad.csv", ["id", "label"], [[batch[0], "maybe"], ["nope", "neg"]])
    result = cli("resume", run_dir, "--labels", bad, "--quiet")
    assert result.exit_code == 2
    assert "nope" in result.output and "'maybe'" in result.output
    assert snapshot(run_dir) == before

    # Half the batch: the run keeps it and waits for the rest.
    half = excel_answers(tmp_path / "half.csv", batch[:3], truth)
    result = cli("resume", run_dir, "--labels", half, "--quiet")
    assert result.exit_code == 0, result.output
    assert status(run_dir) == "awaiting_labels"
    assert waiting_ids(run_dir, 0) == batch[3:]
    assert not (run_dir / "loops" / "0000").exists()

    # The rest, through Label Studio's JSON-MIN export: loop 0 ends, loop 1 waits.
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps([{"alcli_id": i, "label": truth[i]} for i in batch[3:]]))
    result = cli("resume", run_dir, "--labels", rest, "--quiet")
    assert result.exit_code == 0, result.output
    assert (run_dir / "loops" / "0000").is_dir()
    assert status(run_dir) == "awaiting_labels"
    folder = run_dir / "pending" / "loop-0001"
    with (folder / "to_label.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(row["prediction"] in ("neg", "pos") for row in rows)
    assert all(row["note"].startswith("'=note") for row in rows)
    assert (
        json.loads((folder / "tasks.json").read_text())[0]["predictions"][0]["model_version"]
        == "alcli loop 1"
    )

    # On to the end, filling to_label.csv itself.
    for loop in (1, 2):
        path = run_dir / "pending" / f"loop-{loop:04d}" / "to_label.csv"
        excel_answers(path, waiting_ids(run_dir, loop), truth)
        result = cli("resume", run_dir, "--labels", path, "--quiet")
        assert result.exit_code == 0, result.output
    assert status(run_dir) == "completed"

    # Answered with the ground truth, it is the oracle's run on the labeled data.
    oracle_dir = tmp_path / "oracle"
    result = cli(
        "run",
        file_run_config(tmp_path, True, "oracle"),
        "--run-dir",
        oracle_dir,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    for loop in ("0000", "0001", "0002"):
        for name in ("selected.csv", "metrics.json"):
            ours = (run_dir / "loops" / loop / name).read_text()
            theirs = (oracle_dir / "loops" / loop / name).read_text()
            if name == "metrics.json":
                ours, theirs = (
                    {k: v for k, v in json.loads(t).items() if "second" not in k}
                    for t in (ours, theirs)
                )
            assert ours == theirs, (loop, name)


@pytest.fixture(scope="module")
def awaiting_run(tmp_path_factory):
    """A run waiting for the labels of loop 0 (shared: no test may change it)."""
    folder = tmp_path_factory.mktemp("awaiting")
    run_dir = folder / "run"
    result = CliRunner().invoke(
        app, ["run", str(file_run_config(folder, False, "file")), "--run-dir", str(run_dir)]
    )
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.mark.parametrize(("content", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_answer_file_leaves_the_run_directory_as_it_was(
    awaiting_run, tmp_path, content, pattern
):
    path = tmp_path / "answers.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    before = snapshot(awaiting_run)
    result = CliRunner().invoke(
        app, ["resume", str(awaiting_run), "--labels", str(path)], terminal_width=200
    )
    assert result.exit_code == 2, result.output
    assert "nothing was recorded" in result.output.lower(), result.output
    assert "Traceback" not in result.output
    assert snapshot(awaiting_run) == before
    assert status(awaiting_run) == "awaiting_labels"
