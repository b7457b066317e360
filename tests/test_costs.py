"""Costs as a user configures them: prices per label, per class and per labeler, what each loop
spends, stop.budget_cost, and the report's cumulative cost. Everything through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from alcli.data import DataConfig, load_dataset
from tests.conftest import TINY, loop_dirs, merge, read_csv, run_into, write_csv
from tests.test_file_labeler import file_run_config, labeled_rows, status, waiting_ids
from tests.test_labelers_simulated import trained

# Iris's classes are 0, 1 and 2: class 2 is the dear one.
ORACLE_PRICES = {"kind": "oracle", "cost": {"per_label": 2.0, "per_class": {2: 5.0}}}


def chain_prices(tmp_path: Path) -> dict:
    """A model labeler (cheap) that passes what it is unsure of to a noisy oracle (dear)."""
    return {
        "kind": "model",
        **trained(
            tmp_path,
            threshold=0.9,
            cost={"per_label": 0.5, "per_class": {2: 1.0}},
            fallback={
                "kind": "noisy_oracle",
                "flip_rate": 0,
                "cost": {"per_label": 3.0, "per_class": {0: 4.0}},
            },
        ),
    }


def price(row: dict[str, str]) -> float:
    """What ORACLE_PRICES or chain_prices charge for one labels.csv row."""
    by_labeler = {
        "oracle": {"2": 5.0},
        "model": {"2": 1.0},
        "noisy_oracle": {"0": 4.0},
    }
    per_label = {"oracle": 2.0, "model": 0.5, "noisy_oracle": 3.0}
    labeler = row["labeler"]
    return by_labeler[labeler].get(row["label"], per_label[labeler])


def report_json(cli, run_dir: Path) -> dict:
    result = cli("report", run_dir, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def report_table(cli, run_dir: Path) -> str:
    result = cli("report", run_dir)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # the caption wraps at the table's width


def assert_loops_charge_their_labels(run_dir: Path) -> float:
    """Every labels.csv row at its price, every metrics.csv row the sum of its loop's; returns
    the total."""
    metrics = read_csv(run_dir / "metrics.csv")
    assert len(metrics) == len(loop_dirs(run_dir))
    total = 0.0
    for row, folder in zip(metrics, loop_dirs(run_dir), strict=True):
        labels = read_csv(folder / "labels.csv")
        assert labels, folder
        for label in labels:
            assert float(label["cost"]) == price(label), (folder.name, label)
        assert float(row["cost"]) == pytest.approx(sum(float(r["cost"]) for r in labels)), row
        total += float(row["cost"])
    return total


def test_oracle_prices_each_label_by_its_class_and_the_report_adds_them_up(
    cli, write_config, tmp_path
):
    run_dir = run_into(cli, write_config({"labeler": ORACLE_PRICES}), tmp_path / "run")
    assert "cost" in read_csv(loop_dirs(run_dir)[0] / "labels.csv")[0]
    total = assert_loops_charge_their_labels(run_dir)
    labels = [r for d in loop_dirs(run_dir) for r in read_csv(d / "labels.csv")]
    assert {r["label"] for r in labels} == {"0", "1", "2"}, "both prices are exercised"
    assert total == pytest.approx(sum(price(r) for r in labels))

    report = report_json(cli, run_dir)
    assert report["summary"]["cost"] == pytest.approx(total)
    metrics = read_csv(run_dir / "metrics.csv")
    assert [row["cost"] for row in report["loops"]] == [float(r["cost"]) for r in metrics]

    table = report_table(cli, run_dir)
    assert "total" in table  # the column's header ("total cost", wrapped at 80 columns)
    assert f"cost {total:.2f}" in table
    spent = 0.0
    for row in metrics:  # the column is cumulative: what was spent up to each loop
        spent += float(row["cost"])
        assert f"{spent:.2f}" in table, (spent, table)


def test_each_record_is_priced_by_who_answered_it(cli, write_config, tmp_path):
    run_dir = run_into(cli, write_config({"labeler": chain_prices(tmp_path)}), tmp_path / "run")
    labels = [r for d in loop_dirs(run_dir) for r in read_csv(d / "labels.csv")]
    pairs = {(r["labeler"], r["label"]) for r in labels}
    assert {labeler for labeler, _ in pairs} == {"model", "noisy_oracle"}
    total = assert_loops_charge_their_labels(run_dir)
    assert report_json(cli, run_dir)["summary"]["cost"] == pytest.approx(total)


@pytest.mark.parametrize(
    ("labeler", "budget", "worst"),
    [(ORACLE_PRICES, 83.0, 5.0), ("chain", 61.0, 4.0)],
    ids=["oracle", "model-then-noisy-oracle"],
)
def test_budget_cost_cuts_the_last_loops_and_stops_within_the_budget(
    cli, write_config, tmp_path, labeler, budget, worst
):
    labeler = chain_prices(tmp_path) if labeler == "chain" else labeler
    config = write_config({"labeler": labeler, "stop": {"max_loops": 40, "budget_cost": budget}})
    run_dir = run_into(cli, config, tmp_path / "run")
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["stop_reason"] == "budget_cost", meta
    total = assert_loops_charge_their_labels(run_dir)
    assert total <= budget

    metrics = read_csv(run_dir / "metrics.csv")
    spent, sizes = 0.0, []
    for row in metrics:
        size = int(row["loop_size"])
        if row["loop"] != "0":
            # A loop takes only as many records as the budget pays for at the dearest price.
            assert size == min(5, math.floor((budget - spent) / worst + 1e-9)), (row, spent)
        sizes.append(size)
        spent += float(row["cost"])
    assert any(0 < size < 5 for size in sizes[1:]), f"no loop was cut: {sizes}"
    # It stops when not even one more answer at the dearest price fits.
    assert budget - total < worst, (budget, total)
    assert report_json(cli, run_dir)["run"]["stop_reason"] == "budget_cost"


def test_budget_cost_resumed_after_a_failure_spends_as_the_run_left_alone(
    cli, write_config, tmp_path, monkeypatch
):
    changes = {
        "model": {"estimator": "tests.flaky_model:FailsAfter"},
        "labeler": ORACLE_PRICES,
        "stop": {"max_loops": 40, "budget_cost": 83.0},
    }
    config = write_config(changes)
    straight = run_into(cli, config, tmp_path / "straight")
    monkeypatch.setenv("ALCLI_TEST_FAIL_ABOVE", "22")  # loop 3 fails (25 records)
    failed = cli("run", config, "--run-dir", tmp_path / "run", "--quiet")
    assert failed.exit_code == 1, failed.output
    monkeypatch.delenv("ALCLI_TEST_FAIL_ABOVE")
    resumed = cli("resume", tmp_path / "run", "--quiet")
    assert resumed.exit_code == 0, resumed.output

    def spending(run_dir):
        return [(r["loop_size"], r["cost"]) for r in read_csv(run_dir / "metrics.csv")]

    assert spending(tmp_path / "run") == spending(straight)


@pytest.mark.parametrize(
    ("changes", "worst"),
    [
        ({"labeler": ORACLE_PRICES, "stop": {"budget_cost": 45.0}}, "50"),
        (
            {
                "init": {"method": "kmeans", "size": 10},
                "labeler": {"kind": "oracle", "cost": {"per_label": 1.0}},
                "stop": {"budget_cost": 9.5},
            },
            "10",
        ),
        ("chain", "40"),
    ],
    ids=["per-class-price", "kmeans", "dearest-in-the-chain"],
)
def test_a_budget_below_the_initial_sets_worst_case_is_refused(
    cli, write_config, tmp_path, changes, worst
):
    if changes == "chain":
        changes = {"labeler": chain_prices(tmp_path), "stop": {"budget_cost": 39.0}}
    config = write_config(changes)
    for command in (("validate", config), ("run", config, "--run-dir", tmp_path / "run")):
        result = cli(*command)
        assert result.exit_code == 2, result.output
        assert "stop.budget_cost" in result.output, result.output
        assert worst in result.output, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_budget_below_an_initial_id_list_is_refused(cli, write_config, tmp_path):
    """init.method ids has no size for the config to check: the id file has to be."""
    pool = load_dataset(DataConfig(**TINY["data"]), TINY["seed"]).ids
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in pool[:10].tolist()))
    config = write_config(
        {
            "init": {"method": "ids", "path": str(ids), "size": None},
            "labeler": {"kind": "oracle", "cost": {"per_label": 1.0}},
            "stop": {"budget_cost": 5.0},
        }
    )
    result = cli("run", config, "--run-dir", tmp_path / "run", "--quiet")
    spent = None
    if (tmp_path / "run" / "metrics.csv").exists():
        spent = sum(float(r["cost"]) for r in read_csv(tmp_path / "run" / "metrics.csv"))
    assert result.exit_code == 2 and "stop.budget_cost" in result.output, (
        f"exit {result.exit_code}, spent {spent} of a budget_cost of 5.0: {result.output}"
    )
    assert not (tmp_path / "run").exists()


def test_without_prices_there_is_no_cost_anywhere(cli, write_config, tmp_path):
    run_dir = run_into(cli, write_config(), tmp_path / "run")
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "cost" not in header
    for folder in loop_dirs(run_dir):
        assert (folder / "labels.csv").read_text().splitlines()[0] == "id,label,labeler"
    report = report_json(cli, run_dir)
    assert "cost" not in report["summary"]
    assert all("cost" not in row for row in report["loops"])
    assert "cost" not in report_table(cli, run_dir)


def test_a_skip_costs_the_per_label_price(cli, tmp_path):
    path = file_run_config(tmp_path, False, "file")
    raw = yaml.safe_load(path.read_text())
    prices = {"per_label": 2.0, "per_class": {"pos": 7.0, "neg": 3.0}}
    path.write_text(yaml.safe_dump(merge(raw, {"labeler": {"cost": prices}}), sort_keys=False))
    truth = {row[0]: row[-1] for row in labeled_rows(40, seed=1)}
    run_dir = tmp_path / "run"
    result = cli("run", path, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    batch = waiting_ids(run_dir, 0)
    assert len(batch) == 6

    # Two skips in a first, partial file (kept in the pending batch), the rest later.
    first = write_csv(
        tmp_path / "first.csv",
        ["id", "label"],
        [[batch[0], "skip"], [batch[1], "SKIP"], [batch[2], truth[batch[2]]]],
    )
    rest = write_csv(tmp_path / "rest.csv", ["id", "label"], [[i, truth[i]] for i in batch[3:]])
    for answers in (first, rest):
        result = cli("resume", run_dir, "--labels", answers, "--quiet")
        assert result.exit_code == 0, result.output
    assert status(run_dir) == "awaiting_labels"  # loop 1 waits

    loop0 = run_dir / "loops" / "0000"
    labels = read_csv(loop0 / "labels.csv")
    assert sorted(r["id"] for r in labels) == sorted(batch[2:])
    assert all(float(r["cost"]) == prices["per_class"][r["label"]] for r in labels)
    assert sorted(r["id"] for r in read_csv(loop0 / "skipped.csv")) == sorted(batch[:2])
    row = read_csv(run_dir / "metrics.csv")[0]
    assert row["n_skipped"] == "2"
    assert float(row["cost"]) == 2 * 2.0 + sum(prices["per_class"][truth[i]] for i in batch[2:])
