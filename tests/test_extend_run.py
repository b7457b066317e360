"""alcli resume RUN_DIR --set stop.KEY=VALUE: a finished run goes on, recorded in run.json, and
ends as a run started with the new values would have."""

from __future__ import annotations

import json

import pytest

from alcli import engine
from alcli.config import load_config
from tests.conftest import read_csv

CONFIG = {
    "data": {"source": "sklearn:digits"},
    "model": {"params": {"max_iter": 500}},
    "init": {"size": 20},
    "loop_size": {"size": 20},
    "metrics": ["accuracy"],
    "stop": {
        "max_loops": 3,
        "when": [
            {"name": "stabilizing_predictions", "agreement": 0.999},
            {"name": "max_confidence", "threshold": 0.9999},
            {"name": "plateau", "patience": 30},
        ],
    },
}


def without_timings(run_dir) -> list[dict]:
    return [
        {k: v for k, v in row.items() if not k.endswith("_s")}
        for row in read_csv(run_dir / "metrics.csv")
    ]


def picks(run_dir) -> list[list[str]]:
    return [
        [row["index"] for row in read_csv(folder / "selected.csv")]
        for folder in sorted((run_dir / "loops").iterdir())
    ]


def test_an_extended_run_ends_as_a_run_started_with_the_new_values(cli, write_config, tmp_path):
    config = write_config(CONFIG)
    started = engine.start(load_config(config, ["stop.max_loops=7"]), tmp_path / "straight")
    assert cli("run", config, "--run-dir", tmp_path / "run", "-q").exit_code == 0
    result = cli("resume", tmp_path / "run", "--set", "stop.max_loops=7", "-q")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert without_timings(run) == without_timings(tmp_path / "straight")
    assert picks(run) == picks(tmp_path / "straight")
    meta = json.loads((run / "run.json").read_text())
    assert meta["overrides"] == ["stop.max_loops=7"] and meta["status"] == "completed"
    assert (meta["last_loop"], meta["stop_reason"]) == (started.last_loop, started.stop_reason)
    reopened = json.loads((run / "loops" / "0003" / "metrics.json").read_text())
    assert reopened["stop_reason"] is None and reopened["n_predictions"] > 0
    assert not (run / "loops" / "0003" / "model.joblib").exists()
    assert (run / "loops" / "0007" / "model.joblib").exists()
    # Resumed again, it is complete and stays as it is.
    before = (run / "metrics.csv").read_bytes()
    assert cli("resume", run, "-q").exit_code == 0
    assert (run / "metrics.csv").read_bytes() == before


def test_an_extension_under_which_the_run_still_stops_there_only_records_itself(
    cli, write_config, tmp_path
):
    run = tmp_path / "run"
    assert cli("run", write_config(CONFIG), "--run-dir", run, "-q").exit_code == 0
    before = without_timings(run)
    assert cli("resume", run, "--set", "stop.budget=500", "-q").exit_code == 0
    assert without_timings(run) == before
    meta = json.loads((run / "run.json").read_text())
    assert meta["stop_reason"] == "max_loops" and meta["overrides"] == ["stop.budget=500"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("strategy.name=entropy", "a run can be extended by its stop keys only"),
        ("stop.max_loops=-1", "Input should be greater than or equal to 0"),
        ("stop.when=[{name: plateu}]", "did you mean 'plateau'"),
    ],
)
def test_a_bad_extension_is_refused_and_nothing_is_written(
    cli, write_config, tmp_path, setting, message
):
    run = tmp_path / "run"
    assert cli("run", write_config(CONFIG), "--run-dir", run, "-q").exit_code == 0
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    result = cli("resume", run, "--set", setting)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in files} == files


def test_a_criterion_added_by_an_extension_knows_the_history_it_watches(
    cli, write_config, tmp_path
):
    """plateau watches test metrics, which every loop recorded: added on resume, it judges the
    loops so far as it would have, and the run ends as one started with it."""
    when = "stop.when=[{name: plateau, patience: 2}]"
    base = {**CONFIG, "stop": {"max_loops": 2}}
    config = write_config(base)
    straight = engine.start(load_config(config, [when, "stop.max_loops=12"]), tmp_path / "s")
    assert cli("run", config, "--run-dir", tmp_path / "run", "-q").exit_code == 0
    result = cli("resume", tmp_path / "run", "--set", when, "--set", "stop.max_loops=12", "-q")
    assert result.exit_code == 0, result.output
    assert without_timings(tmp_path / "run") == without_timings(tmp_path / "s")
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (meta["stop_reason"], meta["last_loop"]) == (straight.stop_reason, straight.last_loop)


def test_a_signal_criterion_is_added_only_to_a_run_that_recorded_its_signal(
    cli, write_config, tmp_path
):
    when = "stop.when=[{name: stabilizing_predictions, window: 2, agreement: 0.5}]"
    plain = tmp_path / "plain"
    assert (
        cli("run", write_config({**CONFIG, "stop": {"max_loops": 2}}), "--run-dir", plain).exit_code
        == 0
    )
    files = {p: p.read_bytes() for p in plain.rglob("*") if p.is_file() and p.name != ".lock"}
    refused = cli("resume", plain, "--set", when, "--set", "stop.max_loops=6")
    assert refused.exit_code == 2
    assert "stabilizing_predictions watches kappa, which this run did not record" in " ".join(
        refused.stderr.split()
    )
    assert {p: p.read_bytes() for p in files} == files
    # With every signal recorded, it is added, and ends as a run started with it.
    recorded = {**CONFIG, "stop": {"max_loops": 2, "record_signals": True}}
    config = write_config(recorded, name="recorded.yaml")
    engine.start(load_config(config, [when, "stop.max_loops=6"]), tmp_path / "straight")
    assert cli("run", config, "--run-dir", tmp_path / "run", "-q").exit_code == 0
    assert (
        cli("resume", tmp_path / "run", "--set", when, "--set", "stop.max_loops=6").exit_code == 0
    )
    assert without_timings(tmp_path / "run") == without_timings(tmp_path / "straight")


def test_keys_under_which_the_run_would_have_stopped_earlier_are_refused(
    cli, write_config, tmp_path
):
    run = tmp_path / "run"
    assert cli("run", write_config(CONFIG), "--run-dir", run, "-q").exit_code == 0
    result = cli("resume", run, "--set", "stop.max_loops=1")
    assert result.exit_code == 2
    assert "would have stopped at loop 1 (max_loops), before its last loop 3" in " ".join(
        result.stderr.split()
    )


def test_an_extension_measures_the_confidence_of_the_whole_batch_skips_included(tmp_path):
    """A labeling model skips the records it is unsure of; the batch's confidence (for
    max_confidence) is over every record picked, as in the straight run."""
    import numpy as np
    import yaml
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "pool.npz", X=X[:1400], y=y[:1400])
    np.savez(tmp_path / "train.npz", X=X[1400:1600], y=y[1400:1600])
    config = {
        "data": {"path": "pool.npz"},
        "model": {"params": {"max_iter": 300}},
        "init": {"size": 20},
        "loop_size": {"size": 20},
        "metrics": ["accuracy"],
        "labeler": {
            "kind": "model",
            "model": {"params": {"max_iter": 300}},
            "train_path": "train.npz",
            "threshold": 0.9,
        },
        "stop": {"max_loops": 3, "record_signals": True},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    engine.start(load_config(path, ["stop.max_loops=5"]), tmp_path / "straight")
    engine.start(load_config(path), tmp_path / "run")
    engine.resume(tmp_path / "run", overrides=["stop.max_loops=5"])
    assert without_timings(tmp_path / "run") == without_timings(tmp_path / "straight")
