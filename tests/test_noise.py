"""The noisy oracle through the CLI: both labels recorded, mistakes counted per loop and in the
report, seeded (the same after a resume), and without noise the same run as the oracle's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import loop_dirs, read_csv, run_into


def loop_labels(run_dir: Path) -> list[list[dict[str, str]]]:
    return [read_csv(folder / "labels.csv") for folder in loop_dirs(run_dir)]


def report_json(cli, run_dir: Path) -> dict:
    result = cli("report", run_dir, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_loop_counts_its_wrong_labels_and_the_report_sums_them(cli, write_config, tmp_path):
    config = write_config({"labeler": {"kind": "noisy_oracle", "flip_rate": 0.3}})
    run_dir = run_into(cli, config, tmp_path / "run")
    metrics = read_csv(run_dir / "metrics.csv")
    total = 0
    for row, labels in zip(metrics, loop_labels(run_dir), strict=True):
        assert labels and all(r["true_label"] in ("0", "1", "2") for r in labels)
        assert {r["labeler"] for r in labels} == {"noisy_oracle"}
        wrong = sum(r["label"] != r["true_label"] for r in labels)
        assert int(row["label_errors"]) == wrong, (row["loop"], labels)
        total += wrong
    assert 0 < total < int(metrics[-1]["n_labeled"])

    summary = report_json(cli, run_dir)["summary"]
    assert summary["label_errors"] == total
    assert summary["label_error_rate"] == pytest.approx(total / int(metrics[-1]["n_labeled"]))
    table = cli("report", run_dir)
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())  # the caption wraps at the table's width
    assert f"{total} wrong labels ({summary['label_error_rate']:.1%} of all labels)" in text, text


def test_a_confusion_matrix_makes_exactly_its_mistakes(cli, write_config, tmp_path):
    """Every record of class 0 is answered 1, every other record right."""
    labeler = {"kind": "noisy_oracle", "confusion": {0: {1: 1.0}}}
    run_dir = run_into(cli, write_config({"labeler": labeler}), tmp_path / "run")
    rows = [r for loop in loop_labels(run_dir) for r in loop]
    assert any(r["true_label"] == "0" for r in rows)
    for r in rows:
        assert r["label"] == ("1" if r["true_label"] == "0" else r["true_label"]), r
    for row, labels in zip(read_csv(run_dir / "metrics.csv"), loop_labels(run_dir), strict=True):
        assert int(row["label_errors"]) == sum(r["true_label"] == "0" for r in labels)


def test_without_noise_it_is_the_oracles_run(cli, write_config, tmp_path):
    oracle = run_into(cli, write_config(), tmp_path / "oracle")
    config = write_config({"labeler": {"kind": "noisy_oracle", "flip_rate": 0}}, name="n.yaml")
    exact = run_into(cli, config, tmp_path / "exact")
    assert [d.name for d in loop_dirs(exact)] == [d.name for d in loop_dirs(oracle)]
    for ours, theirs in zip(loop_dirs(exact), loop_dirs(oracle), strict=True):
        assert (ours / "selected.csv").read_bytes() == (theirs / "selected.csv").read_bytes()
        labels = read_csv(ours / "labels.csv")
        assert all(r["label"] == r["true_label"] for r in labels)
        assert [(r["id"], r["label"]) for r in labels] == [
            (r["id"], r["label"]) for r in read_csv(theirs / "labels.csv")
        ]

    def scores(run_dir):
        return [
            {k: v for k, v in row.items() if not k.endswith("_s") and k != "label_errors"}
            for row in read_csv(run_dir / "metrics.csv")
        ]

    assert scores(exact) == scores(oracle)
    assert {row["label_errors"] for row in read_csv(exact / "metrics.csv")} == {"0"}
    summary = report_json(cli, exact)["summary"]
    assert (summary["label_errors"], summary["label_error_rate"]) == (0, 0.0)


def test_the_mistakes_are_the_same_after_a_resume(cli, write_config, tmp_path, monkeypatch):
    config = write_config(
        {
            "model": {"estimator": "tests.flaky_model:FailsAfter"},
            "labeler": {"kind": "noisy_oracle", "flip_rate": 0.4},
        }
    )
    straight = run_into(cli, config, tmp_path / "straight")
    monkeypatch.setenv("ALCLI_TEST_FAIL_ABOVE", "16")  # loop 2 fails (20 records)
    failed = cli("run", config, "--run-dir", tmp_path / "run", "--quiet")
    assert failed.exit_code == 1, failed.output
    monkeypatch.delenv("ALCLI_TEST_FAIL_ABOVE")
    resumed = cli("resume", tmp_path / "run", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert loop_labels(tmp_path / "run") == loop_labels(straight)
    assert [r["label_errors"] for r in read_csv(tmp_path / "run" / "metrics.csv")] == [
        r["label_errors"] for r in read_csv(straight / "metrics.csv")
    ]
