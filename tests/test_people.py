"""The bundled configs that ask people, answered as a person would: the spreadsheet handoff
filled in from the ground truth, the model-then-people chain, the terminal refused without a
terminal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from .conftest import read_csv

EXAMPLES = Path(__file__).parents[1] / "configs" / "examples"
TRUTH = Path(__file__).parents[1] / "configs" / "data" / "wine.csv"


def truth() -> dict[str, str]:
    return {row["id"]: row["cultivar"] for row in read_csv(TRUTH)}


def answer_until_done(cli, run_dir: Path, rounds: int = 30) -> None:
    """Fill every waiting to_label.csv from the ground truth, as a person would, and resume."""
    labels = truth()
    for _ in range(rounds):
        meta = json.loads((run_dir / "run.json").read_text())
        if meta["status"] != "awaiting_labels":
            assert meta["status"] == "completed", meta
            return
        sheet = run_dir / "pending" / f"loop-{meta['pending_loop']:04d}" / "to_label.csv"
        with sheet.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["label"] = labels[row["id"]]
        with sheet.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
        result = cli("resume", run_dir, "--labels", sheet)
        assert result.exit_code == 0, result.output
        # Said whether the run waits again or went on to its end.
        assert f"Recorded {len(rows)} answers from {sheet}." in result.stderr, result.stderr
    pytest.fail("the run never completed")


@pytest.mark.parametrize("name", ["labeler-spreadsheet", "labeler-model-then-people"])
def test_a_bundled_people_config_completes_when_answered(cli, tmp_path, name):
    run_dir = tmp_path / "run"
    result = cli(
        "run", EXAMPLES / f"{name}.yaml", "--run-dir", run_dir, "--set", "stop.max_loops=2"
    )
    assert result.exit_code == 0, result.output
    assert "waits for labels" in result.stderr and "alcli resume" in result.stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "awaiting_labels"
    answer_until_done(cli, run_dir)
    labelers = {
        row["labeler"]
        for loop in range(3)
        for row in read_csv(run_dir / "loops" / f"{loop:04d}" / "labels.csv")
    }
    assert labelers <= {"file", "model"} and "file" in labelers
    assert not (run_dir / "pending").exists()
    report = cli("report", run_dir, "--format", "json")
    assert json.loads(report.stdout)["summary"]["cost"] > 0


def test_the_terminal_labeler_needs_a_terminal(cli, tmp_path):
    result = cli("run", EXAMPLES / "labeler-terminal.yaml", "--run-dir", tmp_path / "run")
    assert result.exit_code == 2
    assert "the terminal labeler asks a person at an interactive terminal" in result.stderr
    assert not (tmp_path / "run").exists()


def test_an_annotator_can_add_a_class_when_allowed(cli, tmp_path):
    config = tmp_path / "new-classes.yaml"
    text = (EXAMPLES / "labeler-spreadsheet.yaml").read_text()
    data = EXAMPLES.parent / "data"
    text = text.replace("../data/", f"{data}/").replace(
        "kind: file", "kind: file\n  allow_new_classes: true"
    )
    config.write_text(text)
    run_dir = tmp_path / "run"
    assert cli("run", config, "--run-dir", run_dir, "--set", "stop.max_loops=2").exit_code == 0
    labels = truth()

    def answer(first_label: str) -> None:
        meta = json.loads((run_dir / "run.json").read_text())
        sheet = run_dir / "pending" / f"loop-{meta['pending_loop']:04d}" / "to_label.csv"
        ids = [row["id"] for row in read_csv_bom(sheet)]
        answers = tmp_path / "answers.csv"
        rows = [[ids[0], first_label]] + [[i, labels[i]] for i in ids[1:]]
        answers.write_text("id,label\n" + "".join(f"{i},{label}\n" for i, label in rows))
        result = cli("resume", run_dir, "--labels", answers, "--quiet")
        assert result.exit_code == 0, result.output

    answer("rosé")  # loop 0: a class the data does not have
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["new_classes"] == ["rosé"] and meta["status"] == "awaiting_labels"
    assert read_csv(run_dir / "loops" / "0000" / "labels.csv")[0]["label"] == "rosé"
    readme = (run_dir / "pending" / "loop-0001" / "README.txt").read_text()
    assert "rosé" in readme  # offered as a class from now on
    answer("Rosé")  # loop 1: the same class, matched as a known one now
    answer("barolo")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    given = [
        row["label"]
        for loop in range(3)
        for row in read_csv(run_dir / "loops" / f"{loop:04d}" / "labels.csv")
    ]
    assert given.count("rosé") == 2


def read_csv_bom(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def spreadsheet_run(cli, tmp_path: Path, *sets: str) -> Path:
    run_dir = tmp_path / "run"
    config = EXAMPLES / "labeler-spreadsheet.yaml"
    result = cli("run", config, "--run-dir", run_dir, "--quiet", *sets)
    assert result.exit_code == 0, result.output
    return run_dir


def fill_sheet(sheet: Path, label_of) -> None:
    """Type labels into to_label.csv in place, as a person in a spreadsheet would."""
    rows = read_csv_bom(sheet)
    for row in rows:
        row["label"] = label_of(row["id"])
    with sheet.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_sheet_filled_in_place_is_read_by_a_plain_resume(cli, tmp_path):
    run_dir = spreadsheet_run(cli, tmp_path, "--set", "stop.max_loops=1")
    labels = truth()
    fill_sheet(run_dir / "pending" / "loop-0000" / "to_label.csv", labels.get)
    result = cli("resume", run_dir, "--quiet")  # no --labels
    assert result.exit_code == 0, result.output
    assert (run_dir / "loops" / "0000" / "labels.csv").exists()
    assert json.loads((run_dir / "run.json").read_text())["pending_loop"] == 1


def test_checked_answers_survive_a_failure_before_the_loop_completes(cli, tmp_path, monkeypatch):
    from alcli.rundir import RunDir

    run_dir = spreadsheet_run(
        cli,
        tmp_path,
        "--set",
        "stop.max_loops=1",
        "--set",
        "model.estimator=tests.flaky_model:FailsAfter",
    )
    sheet = run_dir / "pending" / "loop-0000" / "to_label.csv"
    fill_sheet(sheet, truth().get)
    monkeypatch.setenv("ALCLI_TEST_FAIL_ABOVE", "0")  # TRAIN breaks after the answers are in
    assert cli("resume", run_dir, "--labels", sheet, "--quiet").exit_code == 1
    loop, batch = RunDir.open(run_dir).read_pending()
    assert loop == 0 and (batch["codes"] >= 0).all()  # every answer was saved first
    monkeypatch.delenv("ALCLI_TEST_FAIL_ABOVE")
    assert cli("resume", run_dir, "--quiet").exit_code == 0
    assert len(read_csv(run_dir / "loops" / "0000" / "labels.csv")) == 6


def test_a_first_batch_skipped_entirely_is_replaced_by_another(cli, tmp_path):
    run_dir = spreadsheet_run(cli, tmp_path, "--set", "stop.max_loops=1")
    first = run_dir / "pending" / "loop-0000" / "to_label.csv"
    skipped = {row["id"] for row in read_csv_bom(first)}
    fill_sheet(first, lambda _: "skip")
    result = cli("resume", run_dir, "--labels", first, "--quiet")
    assert result.exit_code == 0, result.output
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "awaiting_labels" and meta["pending_loop"] == 0
    offered = {row["id"] for row in read_csv_bom(first)}
    assert offered and not offered & skipped  # a new first batch, without the skipped records
    fill_sheet(first, truth().get)
    assert cli("resume", run_dir, "--labels", first, "--quiet").exit_code == 0
    assert (run_dir / "loops" / "0000" / "labels.csv").exists()
    import numpy as np

    with np.load(run_dir / "loops" / "0000" / "state.npz") as state:
        assert len(state["skipped"]) == len(skipped)  # still out of the pool, after a resume
    # The skips count with loop 0: in skipped.csv, n_skipped and the cost (0.5 each).
    assert {row["id"] for row in read_csv(run_dir / "loops" / "0000" / "skipped.csv")} == skipped
    (row,) = read_csv(run_dir / "metrics.csv")
    assert int(row["n_skipped"]) == 6 and float(row["cost"]) == 0.5 * 12


def test_skips_of_a_first_batch_are_saved_before_another_is_drawn(cli, tmp_path):
    from alcli.rundir import RunDir

    run_dir = spreadsheet_run(cli, tmp_path, "--set", "stop.max_loops=1")
    first = run_dir / "pending" / "loop-0000" / "to_label.csv"
    skipped = {row["id"] for row in read_csv_bom(first)}
    fill_sheet(first, lambda _: "skip")
    assert cli("resume", run_dir, "--quiet").exit_code == 0  # the sheet filled in place
    _, batch = RunDir.open(run_dir).read_pending()
    ids = {str(i) for i in ids_of(run_dir, batch["carried.indices"])}
    assert ids == skipped and len(batch["pool.skipped"]) == 6


def ids_of(run_dir: Path, indices) -> list[str]:
    """The record ids of pool indices."""
    from alcli.config import load_config
    from alcli.data import load_dataset

    config = load_config(run_dir / "config.yaml")
    return load_dataset(config.data, config.seed).ids[indices].tolist()


def test_answers_typed_in_place_and_another_file_are_both_kept(cli, tmp_path):
    run_dir = spreadsheet_run(cli, tmp_path, "--set", "stop.max_loops=1")
    sheet = run_dir / "pending" / "loop-0000" / "to_label.csv"
    labels = truth()
    ids = [row["id"] for row in read_csv_bom(sheet)]
    fill_sheet(sheet, lambda i: labels[i] if i != ids[0] else "")  # all but the first in place
    other = tmp_path / "first.csv"
    other.write_text(f"id;label\r\n{ids[0]};{labels[ids[0]]}\r\n", encoding="utf-8-sig")
    result = cli("resume", run_dir, "--labels", other, "--quiet")
    assert result.exit_code == 0, result.output
    assert len(read_csv(run_dir / "loops" / "0000" / "labels.csv")) == 6


def test_a_sheet_resaved_with_semicolons_is_read_by_a_plain_resume(cli, tmp_path):
    run_dir = spreadsheet_run(cli, tmp_path, "--set", "stop.max_loops=1")
    sheet = run_dir / "pending" / "loop-0000" / "to_label.csv"
    labels = truth()
    rows = read_csv_bom(sheet)
    with sheet.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            row["label"] = labels[row["id"]]
            writer.writerow([value.replace(".", ",") for value in row.values()])
    assert cli("resume", run_dir, "--quiet").exit_code == 0
    assert len(read_csv(run_dir / "loops" / "0000" / "labels.csv")) == 6


def test_people_label_a_pool_without_a_test_set_until_a_label_free_criterion_stops_it(
    cli, tmp_path
):
    run_dir = tmp_path / "run"
    result = cli("run", EXAMPLES / "stop-no-test-set.yaml", "--run-dir", run_dir)
    assert result.exit_code == 0, result.output
    answer_until_done(cli, run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["stop_reason"] == "stabilizing_predictions" and meta["last_loop"] < 20
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "kappa" in header and "accuracy" not in header  # no test set, no test metrics
    report = cli("report", run_dir, "--format", "json")
    assert report.exit_code == 0 and json.loads(report.stdout)["summary"]["final"] == {}


def test_an_unlabeled_pool_without_a_test_set_is_told_the_two_fixes(cli, tmp_path):
    config = tmp_path / "c.yaml"
    data = EXAMPLES.parent / "data" / "wine-unlabeled.csv"
    config.write_text(f"data: {{path: {data}, target: cultivar}}\nlabeler: {{kind: file}}\n")
    result = cli("validate", config)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "the pool holds no labels in 'cultivar'" in message
    assert "data.test_path" in message and "data.classes" in message
    assert "data.test_size: 0" in message and "stabilizing_predictions" in message


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        ({}, "without a test set (data.test_size: 0) say how the run ends"),
        (
            {"target": {"metric": "accuracy", "value": 0.9}},
            "it watches a test metric, and data.test_size: 0",
        ),
        ({"when": [{"name": "plateau"}]}, "plateau watches a test metric"),
    ],
)
def test_a_run_without_a_test_set_needs_a_way_to_end(cli, tmp_path, stop, message):
    import yaml

    config = yaml.safe_load((EXAMPLES / "stop-no-test-set.yaml").read_text())
    config["data"]["path"] = str(EXAMPLES.parent / "data" / "wine-unlabeled.csv")
    config["stop"] = stop
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
