"""Strategies as a user configures them: by import path, in phases, with their own selection
model, on a model with decision values only, and listed by `alcli strategies`."""

from __future__ import annotations

import json
import sys

import numpy as np

from .conftest import read_csv, readme_code


def run_ok(cli, config, tmp_path):
    run_dir = tmp_path / "runs" / "x"
    result = cli("run", config, "--run-dir", run_dir, "-q")
    assert result.exit_code == 0, result.output
    return run_dir


def test_a_users_strategy_by_import_path_runs_with_its_parameters(cli, write_config, tmp_path):
    config = write_config(
        {"strategy": {"name": "tests.user_strategy:FarthestFromOrigin", "power": 2}}
    )
    run_dir = run_ok(cli, config, tmp_path)
    rows = read_csv(run_dir / "loops" / "0001" / "selected.csv")
    assert {r["strategy"] for r in rows} == {"tests.user_strategy:FarthestFromOrigin"}
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert read_csv(run_dir / "metrics.csv")[1]["strategy"] == (
        "tests.user_strategy:FarthestFromOrigin"
    )


def test_a_users_strategy_parameters_are_checked(cli, write_config):
    config = write_config(
        {"strategy": {"name": "tests.user_strategy:FarthestFromOrigin", "power": -1}}
    )
    result = cli("validate", config)
    assert result.exit_code == 2
    assert "power: Input should be greater than 0; got -1" in result.stderr


def test_phases_switch_strategies_by_loop_and_record_who_picked(cli, write_config, tmp_path):
    config = write_config(
        {
            "strategy": {
                "name": None,
                "phases": [{"loops": 2, "name": "random"}, {"name": "entropy"}],
            },
            "stop": {"max_loops": 4},
        }
    )
    run_dir = run_ok(cli, config, tmp_path)
    by_loop = [row["strategy"] for row in read_csv(run_dir / "metrics.csv")]
    assert by_loop == ["random", "random", "random", "entropy", "entropy"]  # loop 0 is init
    for loop, expected in ((1, "random"), (2, "random"), (3, "entropy")):
        rows = read_csv(run_dir / "loops" / f"{loop:04d}" / "selected.csv")
        assert {r["strategy"] for r in rows} == {expected}
    assert "name: phases" in (run_dir / "config.yaml").read_text()
    assert cli("resume", run_dir).exit_code == 0


def test_a_separate_selection_model_scores_while_another_is_evaluated(cli, write_config, tmp_path):
    forest = {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"max_iter": None, "n_estimators": 10},
    }
    bayes = {"estimator": "sklearn.naive_bayes.GaussianNB"}
    split = write_config(
        {"model": forest, "strategy": {"name": "margin", "model": bayes}}, name="split.yaml"
    )
    plain = write_config({"model": {**bayes, "params": {"max_iter": None}}}, name="bayes.yaml")
    split_run = run_ok(cli, split, tmp_path / "split")
    bayes_run = run_ok(cli, plain, tmp_path / "bayes")

    # GaussianNB picks in both runs; the forest is what the split run evaluates.
    for loop in ("0001", "0002", "0003"):
        assert read_csv(split_run / "loops" / loop / "selected.csv") == read_csv(
            bayes_run / "loops" / loop / "selected.csv"
        )
    import joblib

    model = joblib.load(split_run / "loops" / "0003" / "model.joblib")
    assert type(model).__name__ == "RandomForestClassifier"
    assert cli("resume", split_run).exit_code == 0


def test_margin_falls_back_to_decision_values_without_probabilities(cli, write_config, tmp_path):
    config = write_config(
        {
            "data": {"source": "sklearn:digits"},
            "model": {"estimator": "sklearn.svm.LinearSVC", "params": {"max_iter": 5000}},
            "strategy": {"name": "margin"},
        }
    )
    run_dir = run_ok(cli, config, tmp_path)
    metrics = read_csv(run_dir / "metrics.csv")
    assert int(metrics[1]["n_predictions"]) > 0
    scores = [float(r["score"]) for r in read_csv(run_dir / "loops" / "0001" / "selected.csv")]
    assert all(s <= 0 for s in scores)  # minus the gap between the two top decision values


def test_alcli_strategies_lists_every_strategy_with_its_parameters(cli):
    from alcli.strategies import STRATEGIES

    table = cli("strategies")
    assert table.exit_code == 0, table.output
    for name in STRATEGIES:
        assert name in table.stdout
    listing = json.loads(cli("strategies", "--format", "json").stdout)
    assert [entry["name"] for entry in listing] == sorted(STRATEGIES)
    for entry in listing:
        assert entry["description"] and entry["references"]
        for param in entry["params"]:
            assert param["description"], (entry["name"], param["name"])


def test_alcli_strategies_shows_a_users_strategy_in_full(cli):
    result = cli("strategies", "tests.user_strategy:FarthestFromOrigin", "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["params"] == [
        {
            "name": "power",
            "type": "float > 0",
            "default": 1.0,
            "description": "Exponent applied to the distance.",
        }
    ]


def test_alcli_strategies_refuses_an_unknown_name(cli):
    result = cli("strategies", "margn")
    assert result.exit_code == 2
    assert "Unknown strategy 'margn' (did you mean 'margin'?)" in result.stderr


def test_the_readme_strategy_example_works_as_written(cli, write_config, tmp_path, monkeypatch):
    code = readme_code("### A strategy")
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "strategies.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] == "mypkg"]:
        monkeypatch.delitem(sys.modules, name)  # another test's mypkg (tests/test_pipelines.py)
    config = write_config({"strategy": {"name": "mypkg.strategies:TopTwoRatio", "power": 2}})
    run_dir = run_ok(cli, config, tmp_path)
    rows = read_csv(run_dir / "loops" / "0001" / "selected.csv")
    assert {r["strategy"] for r in rows} == {"mypkg.strategies:TopTwoRatio"}


def test_a_strategy_that_breaks_the_loop_size_fails_the_run_naming_it(cli, write_config, tmp_path):
    config = write_config({"strategy": {"name": "tests.user_strategy:TooMany"}})
    run_dir = tmp_path / "runs" / "x"
    result = cli("run", config, "--run-dir", run_dir, "-q")
    assert result.exit_code == 1, result.output
    assert (
        "loop 1 failed: StrategyBroke: strategy 'tests.user_strategy:TooMany' returned 10 "
        "records for a loop of 5" in result.stderr
    )
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert not (run_dir / "loops" / "0001").exists()


def test_the_frozen_config_records_every_strategy_parameter(cli, write_config, tmp_path):
    config = write_config(
        {"strategy": {"name": "bandit", "strategies": [{"name": "qbc"}, {"name": "kcenter"}]}}
    )
    run_dir = run_ok(cli, config, tmp_path)
    import yaml

    frozen = yaml.safe_load((run_dir / "config.yaml").read_text())["strategy"]
    assert frozen["gamma"] == 0.1
    assert frozen["strategies"] == [
        {"name": "qbc", "disagreement": "vote_entropy", "members": 5, "models": None},
        {"name": "kcenter", "space": "features"},
    ]
    assert cli("resume", run_dir).exit_code == 0


def test_a_committee_fits_on_the_data_labels_so_label_keyed_params_work(
    cli, write_config, tmp_path
):
    from .conftest import write_csv

    rng = np.random.default_rng(0)
    rows = [
        [f"r{i}", *rng.normal(size=3).round(3), ["cat", "dog", "emu"][i % 3]] for i in range(90)
    ]
    write_csv(tmp_path / "animals.csv", ["id", "a", "b", "c", "target"], rows)
    config = write_config(
        {
            "data": {"source": None, "path": str(tmp_path / "animals.csv")},
            "model": {"params": {"class_weight": {"cat": 2.0, "dog": 1.0, "emu": 1.0}}},
            "strategy": {"name": "qbc", "members": 3},
        }
    )
    run_dir = run_ok(cli, config, tmp_path)
    assert len(read_csv(run_dir / "loops" / "0003" / "selected.csv")) == 5
