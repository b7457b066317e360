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
        result = cli("resume", run_dir, "--labels", sheet, "--quiet")
        assert result.exit_code == 0, result.output
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
