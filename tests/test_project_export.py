"""One Label Studio project for a whole run: every loop's tasks.json imported into it, and its
whole-project export (JSON, JSON-MIN, CSV, shaped as Label Studio 1.23 writes them) passed to
`alcli resume --labels` each time; several annotations of one task resolved by one rule."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from alcli.classes import SKIPPED
from alcli.errors import DataError
from alcli.labelers.annotations import Annotation, resolve
from alcli.labelers.answers import read_export
from tests.conftest import read_csv
from tests.test_file_labeler import file_run_config, labeled_rows, snapshot, status

FORMATS = ["json", "json-min", "csv"]
TRUTH = {row[0]: row[-1] for row in labeled_rows(40, seed=1)}
OTHER = {"neg": "pos", "pos": "neg"}


class Project:
    """A Label Studio project as alcli's users keep it: tasks imported loop after loop,
    annotated by several people, exported whole."""

    def __init__(self) -> None:
        self.tasks: list[dict] = []
        self.clock = 0
        self.next_annotation = 1

    def import_tasks(self, path: Path) -> list[str]:
        imported = json.loads(path.read_text(encoding="utf-8"))
        for task in imported:
            self.tasks.append({"id": 100 + len(self.tasks), "data": task["data"], "notes": []})
        return [task["data"]["alcli_id"] for task in imported]

    def annotate(self, alcli_id: str, label: str | None, annotator: int = 1) -> None:
        """``label`` None: the annotator pressed Skip."""
        self.clock += 1
        when = f"2025-03-0{1 + self.clock // 1000}T10:{self.clock // 60 % 60:02d}:" + (
            f"{self.clock % 60:02d}.{self.clock:06d}Z"
        )
        task = next(t for t in self.tasks if t["data"]["alcli_id"] == alcli_id)
        result = [] if label is None else [_choice(label)]
        task["notes"].append(
            {
                "id": self.next_annotation,
                "completed_by": annotator,
                "result": result,
                "was_cancelled": label is None,
                "ground_truth": False,
                "created_at": when,
                "updated_at": when,
                "draft_created_at": None,
                "lead_time": 4.2,
                "prediction": {},
                "result_count": len(result),
                "task": task["id"],
                "project": 1,
                "updated_by": annotator,
            }
        )
        self.next_annotation += 1

    def relabel(self, alcli_id: str, label: str) -> None:
        """An annotator changes their annotation: same annotation, newer updated_at."""
        task = next(t for t in self.tasks if t["data"]["alcli_id"] == alcli_id)
        task["notes"][-1]["result"] = [_choice(label)]
        task["notes"][-1]["updated_at"] = "2025-04-01T00:00:00.000000Z"

    def export(self, folder: Path, fmt: str, name: str = "project") -> Path:
        path = folder / f"{name}.{'csv' if fmt == 'csv' else 'json'}"
        if fmt == "json":
            path.write_text(json.dumps([self._json_task(t) for t in self.tasks], indent=2))
        elif fmt == "json-min":
            path.write_text(json.dumps(self._flat(int_annotator=True), indent=2))
        else:
            path.write_text(_pandas_csv(self._flat(int_annotator=False)), encoding="utf-8")
        return path

    def _json_task(self, task: dict) -> dict:
        notes = task["notes"]
        return {
            "id": task["id"],
            "annotations": notes,
            "file_upload": "tasks.json",
            "drafts": [],
            "predictions": [],
            "data": task["data"],
            "meta": {},
            "created_at": "2025-03-01T09:00:00.000000Z",
            "updated_at": "2025-03-01T09:00:00.000000Z",
            "inner_id": task["id"] - 99,
            "total_annotations": sum(not n["was_cancelled"] for n in notes),
            "cancelled_annotations": sum(n["was_cancelled"] for n in notes),
            "total_predictions": 0,
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": None,
            "project": 1,
            "updated_by": None,
            "comment_authors": [],
        }

    def _flat(self, int_annotator: bool) -> list[dict]:
        """JSON-MIN and CSV: the converter's rows, one per annotation that was not skipped
        (newest created first), one without an annotation for a task nobody annotated, none
        for a task only skipped."""
        rows = []
        for task in self.tasks:
            base = {**task["data"], "id": task["id"]}
            if not task["notes"]:
                empty = dict.fromkeys(("annotation_id", "created_at", "updated_at", "lead_time"))
                rows.append({**base, "annotator": None, **empty})
                continue
            kept = [n for n in task["notes"] if not n["was_cancelled"]]
            for note in sorted(kept, key=lambda n: n["created_at"], reverse=True):
                choices = note["result"][0]["value"]["choices"]
                rows.append(
                    {
                        **base,
                        "label": choices[0],
                        "annotator": note["completed_by"]
                        if int_annotator
                        else f"annotator{note['completed_by']}@example.com",
                        "annotation_id": note["id"],
                        "created_at": note["created_at"],
                        "updated_at": note["updated_at"],
                        "lead_time": note["lead_time"],
                    }
                )
        return rows


def _choice(label: str) -> dict:
    return {
        "value": {"choices": [label]},
        "id": "a1b2c3",
        "from_name": "label",
        "to_name": "record",
        "type": "choices",
        "origin": "manual",
    }


def _pandas_csv(rows: list[dict]) -> str:
    """As pandas.DataFrame.from_records(rows).to_csv(index=False) writes them: the columns in
    order of appearance, None empty, and an integer column holding a None written as floats."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    floats = {c for c in columns if any(row.get(c) is None for row in rows)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if value is None:
                cells.append("")
            elif column in floats and isinstance(value, int):
                cells.append(f"{float(value)}")
            else:
                cells.append(value)
        writer.writerow(cells)
    return out.getvalue()


def start_run(cli, tmp_path: Path, loops: int = 2, **labeler) -> Path:
    config = file_run_config(tmp_path, False, "file")
    if labeler:
        settings = yaml.safe_load(config.read_text())
        settings["labeler"].update(labeler)
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
    run_dir = tmp_path / "run"
    result = cli("run", config, "--run-dir", run_dir, "--quiet", "--set", f"stop.max_loops={loops}")
    assert result.exit_code == 0, result.output
    return run_dir


def tasks_of(run_dir: Path) -> Path:
    loop = json.loads((run_dir / "run.json").read_text())["pending_loop"]
    return run_dir / "pending" / f"loop-{loop:04d}" / "tasks.json"


def labels_of(run_dir: Path) -> dict[str, str]:
    return {
        row["id"]: row["label"]
        for folder in sorted((run_dir / "loops").iterdir())
        for row in read_csv(folder / "labels.csv")
    }


# --- through the CLI ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_project_for_the_whole_run_gives_the_labels_of_per_loop_exports(cli, tmp_path, fmt):
    whole_dir, per_loop_dir = tmp_path / "whole", tmp_path / "per-loop"
    whole_dir.mkdir(), per_loop_dir.mkdir()
    whole = start_run(cli, whole_dir)
    per_loop = start_run(cli, per_loop_dir)
    project = Project()
    answered_before = 0
    for loop in range(3):
        ids = project.import_tasks(tasks_of(whole))
        single = Project()
        assert single.import_tasks(tasks_of(per_loop)) == ids
        skip = ids[0] if fmt == "json" else None  # JSON-MIN and CSV leave skipped tasks out
        for alcli_id in ids:
            label = None if alcli_id == skip else TRUTH[alcli_id]
            project.annotate(alcli_id, label)
            single.annotate(alcli_id, label)
        result = cli("resume", whole, "--labels", project.export(tmp_path, fmt), "--quiet")
        assert result.exit_code == 0, result.output
        first_line = result.output.strip().splitlines()[0] if loop < 2 else result.output
        skips = " and 1 skip" if skip else ""
        if loop < 2:
            assert f"Recorded {len(ids) - bool(skip)} answers{skips} from " in first_line
            assert "to_label.csv" not in first_line
        if loop == 1:  # the last resume completes the run: its message is the summary
            assert f"{answered_before} tasks were answered in earlier loops" in result.output
        answered_before += len(ids)
        per = single.export(tmp_path, fmt, name=f"loop-{loop}")
        assert cli("resume", per_loop, "--labels", per, "--quiet").exit_code == 0
    assert status(whole) == status(per_loop) == "completed"
    assert labels_of(whole) == labels_of(per_loop)
    assert len(labels_of(whole)) == 6 + 4 + 4 - (3 if fmt == "json" else 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_row_contradicting_an_earlier_loop_is_refused_and_nothing_is_written(cli, tmp_path, fmt):
    run_dir = start_run(cli, tmp_path)
    project = Project()
    first = project.import_tasks(tasks_of(run_dir))
    for alcli_id in first:
        project.annotate(alcli_id, TRUTH[alcli_id])
    assert cli("resume", run_dir, "--labels", project.export(tmp_path, fmt)).exit_code == 0
    for alcli_id in project.import_tasks(tasks_of(run_dir)):
        project.annotate(alcli_id, TRUTH[alcli_id])
    changed = first[:2]
    for alcli_id in changed:
        project.relabel(alcli_id, OTHER[TRUTH[alcli_id]])
    before = snapshot(run_dir)
    result = cli("resume", run_dir, "--labels", project.export(tmp_path, fmt))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "2 records have another label than an earlier loop recorded" in message
    for alcli_id in changed:
        recorded, given = TRUTH[alcli_id], OTHER[TRUTH[alcli_id]]
        assert f"{alcli_id} is '{recorded}' in loops/0000/labels.csv, project." in message
        assert f"says '{given}'" in message
    assert "nothing was recorded" in message
    assert snapshot(run_dir) == before


def test_tasks_no_loop_asked_for_are_refused(cli, tmp_path):
    run_dir = start_run(cli, tmp_path)
    project = Project()
    asked = set(project.import_tasks(tasks_of(run_dir)))
    stranger = next(i for i in TRUTH if i not in asked)
    project.tasks.append({"id": 999, "data": {"alcli_id": stranger}, "notes": []})
    for alcli_id in [*asked, stranger]:
        project.annotate(alcli_id, TRUTH[alcli_id])
    result = cli("resume", run_dir, "--labels", project.export(tmp_path, "json"))
    assert result.exit_code == 2
    assert f"no loop asked for its label: {stranger}" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("rule", "taken"), [("newest", "second"), ("majority", None), ("refuse", None)]
)
def test_the_resolve_key_of_the_file_labeler(cli, tmp_path, rule, taken):
    run_dir = start_run(cli, tmp_path, loops=1, resolve=rule)
    project = Project()
    ids = project.import_tasks(tasks_of(run_dir))
    for alcli_id in ids:
        project.annotate(alcli_id, TRUTH[alcli_id], annotator=1)
    disputed = ids[0]
    project.annotate(disputed, OTHER[TRUTH[disputed]], annotator=2)
    result = cli("resume", run_dir, "--labels", project.export(tmp_path, "json"))
    if taken:
        assert result.exit_code == 0, result.output
        assert labels_of(run_dir)[disputed] == OTHER[TRUTH[disputed]]
    else:
        assert result.exit_code == 2
        assert f"disagree (resolve: {rule}): {disputed}" in " ".join(result.output.split())


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_with_nothing_labeled_yet_says_so(cli, tmp_path, fmt):
    run_dir = start_run(cli, tmp_path)
    project = Project()
    project.import_tasks(tasks_of(run_dir))
    result = cli("resume", run_dir, "--labels", project.export(tmp_path, fmt))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "holds 6 tasks and none has an annotation yet: label them in Label Studio" in message
    assert "Choices" not in message


def test_an_export_with_only_skips_says_so(cli, tmp_path):
    run_dir = start_run(cli, tmp_path)
    project = Project()
    ids = project.import_tasks(tasks_of(run_dir))
    for alcli_id in ids:
        project.annotate(alcli_id, None)
    export = project.export(tmp_path, "json")
    result = cli("resume", run_dir, "--labels", export)
    assert result.exit_code == 0, result.output
    assert f"Recorded 6 skips and no answers from {export}." in result.output
    assert status(run_dir) == "awaiting_labels"  # a first batch skipped whole: another one


# --- the rule, in every format -----------------------------------------------------------------

POOL = np.array(["r1", "r2", "r3", "r4"])
CLASSES = np.array(["cat", "dog", "fig"])


def disputed_project() -> Project:
    """r1: two annotators disagree (dog is newer); r2: two say cat, one dog (newest);
    r3: one skipped, one answered fig; r4: one annotator, corrected by themselves."""
    project = Project()
    project.tasks = [
        {"id": 100 + k, "data": {"alcli_id": i}, "notes": []} for k, i in enumerate(POOL)
    ]
    for alcli_id, label, annotator in [
        ("r1", "cat", 1),
        ("r1", "dog", 2),
        ("r2", "cat", 1),
        ("r2", "cat", 2),
        ("r2", "dog", 3),
        ("r3", None, 1),
        ("r3", "fig", 2),
        ("r4", "dog", 1),
    ]:
        project.annotate(alcli_id, label, annotator)
    project.relabel("r4", "fig")
    return project


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("rule", "codes", "conflicts"),
    [
        ("newest", {"r1": 1, "r2": 1, "r3": 2, "r4": 2}, []),
        ("majority", {"r2": 0, "r3": 2, "r4": 2}, ["r1 (a tie between 'cat'"]),
        ("refuse", {"r3": 2, "r4": 2}, ["r1 (annotators disagree", "r2 (annotators disagree"]),
    ],
)
def test_several_annotations_of_a_task_follow_one_rule_in_every_format(
    tmp_path, fmt, rule, codes, conflicts
):
    export = disputed_project().export(tmp_path, fmt)
    if conflicts:
        with pytest.raises(DataError) as caught:
            read_export(export, POOL, POOL, CLASSES, resolve_rule=rule)
        message = str(caught.value)
        assert f"disagree (resolve: {rule})" in message
        for conflict in conflicts:
            assert conflict in message
        assert "r3 (" not in message and "r4 (" not in message
        return
    assert read_export(export, POOL, POOL, CLASSES, resolve_rule=rule).codes == codes


def test_newest_in_a_file_that_has_no_times_suggests_json(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("id,label\nr1,cat\nr1,dog\n")
    with pytest.raises(DataError, match=r"does not say which is newest.*export JSON"):
        read_export(path, POOL, POOL, CLASSES, resolve_rule="newest")


def test_rows_of_earlier_loops_are_checked_against_what_was_recorded(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("id,label\nr1,cat\nr2,DOG\nr3,fig\nr4,skip\n")
    calls = []

    def earlier():
        calls.append(1)
        return {"r2": (1, 0), "r3": (SKIPPED, 1), "r4": (2, 1)}

    reading = read_export(path, ["r1"], POOL, CLASSES, earlier_loops=earlier)
    assert reading.codes == {"r1": 0} and len(calls) == 1
    # r2 the same, r4 skipped now but answered then (answers win), r3 answered after a skip
    assert (reading.repeated, reading.skips_stand) == (2, 1)


@pytest.mark.parametrize(
    ("annotations", "rule", "label", "skipped"),
    [
        ([], "majority", None, False),
        ([Annotation(None, "1"), Annotation(None, "2")], "majority", None, True),
        ([Annotation(None, "1", "b"), Annotation("cat", "2", "a")], "refuse", "cat", False),
        ([Annotation("cat", "1", "a"), Annotation(None, "1", "b")], "newest", "cat", False),
        ([Annotation("cat", "1", "a"), Annotation("dog", "1", "b")], "refuse", "dog", False),
        ([Annotation("cat", "", "a"), Annotation("dog", "", "a")], "newest", "dog", False),
    ],
)
def test_resolve(annotations, rule, label, skipped):
    got = resolve(annotations, rule)
    assert (got.label, got.skipped, got.conflict) == (label, skipped, None)


def test_resolve_refuses_an_unknown_rule():
    with pytest.raises(ValueError, match="Available: newest, majority, refuse"):
        resolve([Annotation("cat")], "latest")
