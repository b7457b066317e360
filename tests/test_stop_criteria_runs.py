"""The label-free stop criteria in real runs: they stop a simulation early at nearly the full
run's accuracy, their signals land in metrics.csv, and a run stopped and resumed between any
two loops decides exactly as the run left alone."""

from __future__ import annotations

import math

import pytest

from alcli import engine
from alcli.config import load_config
from alcli.errors import Interrupted
from tests.conftest import read_csv
from tests.test_strategy_runs import StopAfter

DIGITS = {
    "data": {"source": "sklearn:digits", "test_size": 0.25},
    "model": {"params": {"max_iter": 1000}},
    "init": {"size": 20},
    "loop_size": {"size": 20},
    "metrics": ["accuracy"],
}
LABEL_FREE = [
    {"name": "stabilizing_predictions", "agreement": 0.999, "window": 3},
    {"name": "classification_change", "threshold": 0.0},
    {"name": "overall_uncertainty", "threshold": 0.001},
    {"name": "max_confidence", "threshold": 0.9999},
    {"name": "plateau", "patience": 50},
]


def final(run_dir) -> dict:
    return read_csv(run_dir / "metrics.csv")[-1]


@pytest.mark.slow
def test_stabilizing_predictions_stops_early_at_nearly_the_full_runs_accuracy(
    write_config, tmp_path
):
    config = write_config({**DIGITS, "stop": {"max_loops": 200}})
    full = engine.start(load_config(config, ["stop.when=[]"]), tmp_path / "full")
    early = engine.start(
        load_config(config, ["stop.when=[{name: stabilizing_predictions}]"]), tmp_path / "early"
    )
    assert full.stop_reason == "pool_exhausted"
    assert early.stop_reason == "stabilizing_predictions"
    assert early.n_labeled < full.n_labeled / 2
    assert early.metrics["accuracy"] >= full.metrics["accuracy"] - 0.01


def test_signals_are_columns_of_metrics_csv_when_a_criterion_watches_them(write_config, tmp_path):
    config = write_config({**DIGITS, "stop": {"max_loops": 3, "when": LABEL_FREE}})
    engine.start(load_config(config), tmp_path / "run")
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    # Nothing to compare with in loop 0; the loop max_loops stops at skips INFER.
    assert [r["kappa"] == "" for r in rows] == [True, False, False, True]
    assert rows[0]["changed"] == "" and rows[0]["batch_confidence"] == ""
    for row in rows[1:3]:
        assert -1 <= float(row["kappa"]) <= 1
        assert 0 <= float(row["changed"]) <= 1 and 0 <= float(row["uncertainty"]) <= 1
        assert 0 < float(row["batch_confidence"]) <= 1
    plain = write_config({**DIGITS, "stop": {"max_loops": 1}}, name="plain.yaml")
    engine.start(load_config(plain), tmp_path / "plain")
    assert "kappa" not in read_csv(tmp_path / "plain" / "metrics.csv")[0]


@pytest.mark.parametrize("stop_after", [0, 2])
def test_a_run_stopped_and_resumed_decides_as_the_run_left_alone(
    write_config, tmp_path, stop_after
):
    config = load_config(write_config({**DIGITS, "stop": {"max_loops": 5, "when": LABEL_FREE}}))
    alone = engine.start(config, tmp_path / "alone")
    with pytest.raises(Interrupted):
        engine.start(config, tmp_path / "stopped", on_event=StopAfter(stop_after))
    resumed = engine.resume(tmp_path / "stopped")
    assert (resumed.stop_reason, resumed.last_loop) == (alone.stop_reason, alone.last_loop)
    timings = {"select_s", "label_s", "train_s", "infer_s"}
    rows = [
        [{k: v for k, v in row.items() if k not in timings} for row in read_csv(p / "metrics.csv")]
        for p in (tmp_path / "alone", tmp_path / "stopped")
    ]
    assert rows[0] == rows[1]


def test_a_label_free_criterion_stops_a_run_and_says_which(write_config, tmp_path):
    config = write_config(
        {**DIGITS, "stop": {"max_loops": 60, "when": [{"name": "overall_uncertainty"}]}}
    )
    result = engine.start(load_config(config), tmp_path / "run")
    assert result.stop_reason == "overall_uncertainty" and result.last_loop < 60
    row = final(tmp_path / "run")
    assert float(row["uncertainty"]) < 0.05 and not math.isnan(float(row["uncertainty"]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "model": {"estimator": "sklearn.svm.SVC"},
                "stop": {"when": [{"name": "max_confidence"}]},
            },
            "max_confidence watches the model's probabilities, and SVC has no predict_proba",
        ),
        (
            {"stop": {"when": [{"name": "plateau", "metric": "f1_macro"}]}},
            "plateau watches 'f1_macro', which is not in metrics (accuracy)",
        ),
        (
            {"stop": {"when": [{"name": "stabilizing_predictions", "agreement": 1.5}]}},
            "agreement: Input should be less than or equal to 1",
        ),
        (
            {"stop": {"when": [{"name": "stabilising_predictions"}]}},
            "(did you mean 'stabilizing_predictions'?)",
        ),
    ],
)
def test_bad_criteria_are_refused_before_anything_is_written(
    cli, write_config, tmp_path, changes, message
):
    result = cli("run", write_config({**DIGITS, **changes}), "--run-dir", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_alcli_stop_criteria_lists_every_criterion_with_its_reference(cli):
    import json

    result = cli("stop-criteria", "--format", "json")
    assert result.exit_code == 0, result.output
    infos = {info["name"]: info for info in json.loads(result.stdout)}
    assert {"stabilizing_predictions", "plateau", "max_loops"} <= set(infos)
    assert "Bloodgood" in infos["stabilizing_predictions"]["references"]
    assert infos["overall_uncertainty"]["params"][0]["default"] == 0.05


def test_the_replay_stops_where_the_criterion_would_have_stopped_the_run(
    cli, write_config, tmp_path
):
    """A run that went on, with every signal recorded: the replay's stopping loop for a
    criterion is the loop a run configured with that criterion stops at."""
    import json

    config = write_config({**DIGITS, "stop": {"max_loops": 25, "record_signals": True}})
    engine.start(load_config(config), tmp_path / "long")
    report = cli("report", tmp_path / "long", "--format", "json")
    replayed = json.loads(report.stdout)["replay"]
    names = {row["criterion"] for row in replayed}
    assert names == {
        "stabilizing_predictions",
        "classification_change",
        "overall_uncertainty",
        "max_confidence",
        "plateau",
    }
    for row in replayed:
        if row["criterion"] == "plateau" or row["stop_loop"] is None:
            continue
        when = [{"name": row["criterion"], **row["params"]}]
        changes = [f"stop.when={json.dumps(when)}", "stop.record_signals=false"]
        run_dir = tmp_path / f"{row['criterion']}-{len(list(tmp_path.iterdir()))}"
        actual = engine.start(load_config(config, changes), run_dir)
        assert (actual.stop_reason, actual.last_loop) == (row["criterion"], row["stop_loop"])
        final_row = read_csv(tmp_path / "long" / "metrics.csv")[-1]
        assert row["labels_saved"] == int(final_row["n_labeled"]) - actual.n_labeled
        assert row["given_up"] == pytest.approx(
            float(final_row["accuracy"]) - actual.metrics["accuracy"]
        )
    table = cli("report", tmp_path / "long")
    assert "Had the run stopped earlier" in table.stdout


def test_without_recorded_signals_only_the_test_metric_is_replayed(cli, write_config, tmp_path):
    import json

    engine.start(load_config(write_config({**DIGITS, "stop": {"max_loops": 6}})), tmp_path / "r")
    replayed = json.loads(cli("report", tmp_path / "r", "--format", "json").stdout)["replay"]
    assert {row["criterion"] for row in replayed} == {"plateau"}
