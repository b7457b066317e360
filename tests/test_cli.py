"""The commands as a user runs them: run, report, validate, and the run directory they leave."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import read_csv, write_csv

LOOP_FILES = {"selected.csv", "labels.csv", "metrics.json", "state.npz"}


def run_ok(cli, config: Path, run_dir: Path, *extra: str):
    result = cli("run", config, "--run-dir", run_dir, *extra)
    assert result.exit_code == 0, result.output
    return result


def without_timings(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.endswith("_s")} for row in read_csv(path)]


def test_run_leaves_the_documented_run_directory(cli, write_config, tmp_path):
    run_dir = tmp_path / "run"
    result = run_ok(cli, write_config(), run_dir)
    assert result.stdout.strip().endswith(str(run_dir))
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.yaml",
        "run.json",
        "metrics.csv",
        "events.jsonl",
        "loops",
    }
    assert sorted(p.name for p in (run_dir / "loops").iterdir()) == ["0000", "0001", "0002", "0003"]
    for loop in (run_dir / "loops").iterdir():
        assert {p.name for p in loop.iterdir()} >= LOOP_FILES
    # model.joblib is kept for the last loop only by default.
    assert [p.parent.name for p in run_dir.glob("loops/*/model.joblib")] == ["0003"]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "completed" and meta["stop_reason"] == "max_loops"
    assert meta["last_loop"] == 3 and len(meta["data_fingerprint"]) == 64
    rows = read_csv(run_dir / "metrics.csv")
    assert [r["n_labeled"] for r in rows] == ["10", "15", "20", "25"]
    assert set(rows[0]) >= {
        "loop",
        "n_labeled",
        "loop_size",
        "accuracy",
        "f1_macro",
        "n_predictions",
        "select_s",
        "label_s",
        "train_s",
        "infer_s",
    }
    selected = read_csv(run_dir / "loops" / "0001" / "selected.csv")
    assert list(selected[0]) == ["id", "index", "score", "strategy"]
    assert {r["strategy"] for r in selected} == {"margin"}
    assert read_csv(run_dir / "loops" / "0000" / "selected.csv")[0]["strategy"] == "random"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert {e["step"] for e in events if e["event"] == "step"} == {
        "select",
        "label",
        "train",
        "infer",
        "checkpoint",
    }


def test_predictions_are_counted_and_skipped_when_no_loop_follows(cli, write_config, tmp_path):
    run_ok(cli, write_config(), tmp_path / "run")
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    # iris: 105 pool records; INFER predicts what is still unlabeled, for the next SELECT.
    assert [int(r["n_predictions"]) for r in rows] == [95, 90, 85, 0]


def test_frozen_config_is_resolved_and_reproduces_the_run(cli, write_config, tmp_path):
    run_ok(cli, write_config(), tmp_path / "a", "--set", "seed=4")
    frozen = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert frozen["seed"] == 4 and frozen["labeler"]["kind"] == "oracle"
    assert frozen["labeler"]["cost"] == {"per_label": 0.0, "per_class": {}}
    assert frozen["output"]["keep_models"] == "last"
    again = tmp_path / "again.yaml"
    again.write_text((tmp_path / "a" / "config.yaml").read_text())
    run_ok(cli, again, tmp_path / "b")
    assert without_timings(tmp_path / "a" / "metrics.csv") == without_timings(
        tmp_path / "b" / "metrics.csv"
    )


def test_same_seed_same_selections_other_seed_others(cli, write_config, tmp_path):
    config = write_config({"data": {"source": "sklearn:digits"}, "stop": {"max_loops": 4}})
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run_ok(cli, config, tmp_path / name, "--set", f"seed={seed}")
    selected = {
        name: [
            (tmp_path / name / "loops" / f"{k:04d}" / "selected.csv").read_text() for k in range(5)
        ]
        for name in "abc"
    }
    assert selected["a"] == selected["b"]
    assert selected["a"] != selected["c"]
    assert without_timings(tmp_path / "a" / "metrics.csv") == without_timings(
        tmp_path / "b" / "metrics.csv"
    )


def test_default_run_directory_is_named_after_the_run(cli, write_config, tmp_path):
    runs = tmp_path / "myruns"
    result = run_ok(cli, write_config({"output": {"runs_dir": str(runs)}}), tmp_path / "x")
    assert result.exit_code == 0
    result = cli("run", write_config({"output": {"runs_dir": str(runs)}}), "--quiet")
    assert result.exit_code == 0, result.output
    made = list(runs.iterdir())
    assert len(made) == 1 and made[0].name.startswith("tiny-")
    assert result.stdout.strip() == str(made[0])


@pytest.mark.parametrize(
    ("changes", "reason", "n_labeled"),
    [
        ({"stop": {"max_loops": 50, "budget": 22}}, "budget", [10, 15, 20, 22]),
        (
            {
                "loop_size": {"schedule": "list", "sizes": [3, 4], "size": None},
                "stop": {"max_loops": 9},
            },
            "schedule_exhausted",
            [10, 13, 17],
        ),
        (
            {"loop_size": {"schedule": "linear", "size": 2, "step": 3}},
            "max_loops",
            [10, 12, 17, 25],
        ),
        (
            {"loop_size": {"schedule": "geometric", "size": 4, "factor": 2}},
            "max_loops",
            [10, 14, 22, 38],
        ),
        (
            {"stop": {"max_loops": 50, "target": {"metric": "accuracy", "value": 0.5}}},
            "target",
            [10],
        ),
        ({"loop_size": {"size": 60}, "stop": {"max_loops": 9}}, "pool_exhausted", [10, 70, 105]),
    ],
)
def test_schedules_and_stop_reasons_end_to_end(
    cli, write_config, tmp_path, changes, reason, n_labeled
):
    run_ok(cli, write_config(changes), tmp_path / "run")
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert [int(r["n_labeled"]) for r in rows] == n_labeled
    assert json.loads((tmp_path / "run" / "run.json").read_text())["stop_reason"] == reason


@pytest.mark.parametrize("strategy", ["random", "least_confidence", "margin", "entropy"])
def test_every_strategy_runs_from_yaml(cli, write_config, tmp_path, strategy):
    run_ok(cli, write_config({"strategy": {"name": strategy}}), tmp_path / "run")
    picked = read_csv(tmp_path / "run" / "loops" / "0002" / "selected.csv")
    assert len(picked) == 5 and {r["strategy"] for r in picked} == {strategy}


def test_kmeans_init_picks_distinct_diverse_records(cli, write_config, tmp_path):
    run_ok(cli, write_config({"init": {"method": "kmeans", "size": 12}}), tmp_path / "run")
    picked = read_csv(tmp_path / "run" / "loops" / "0000" / "selected.csv")
    assert len({r["index"] for r in picked}) == 12 and picked[0]["strategy"] == "kmeans"
    labels = {r["label"] for r in read_csv(tmp_path / "run" / "loops" / "0000" / "labels.csv")}
    assert labels == {"0", "1", "2"}, "one record per k-means cluster covers every iris class"


def test_ids_and_labeled_init(cli, write_config, tmp_path):
    rows = [
        [f"r{i}", i % 9, (i * 5) % 7, ["a", "b"][i % 2] if i % 4 == 0 else ""] for i in range(120)
    ]
    write_csv(tmp_path / "part.csv", ["id", "f1", "f2", "target"], rows)
    test_rows = [[f"t{i}", i % 9, (i * 5) % 7, ["a", "b"][i % 2]] for i in range(20)]
    write_csv(tmp_path / "test.csv", ["id", "f1", "f2", "target"], test_rows)
    (tmp_path / "seed_ids.txt").write_text("r0\nr4\nr8\nr12\n")
    data = {"source": None, "path": "part.csv", "test_path": "test.csv", "test_size": None}
    config = write_config(
        {
            "data": data,
            "init": {"method": "labeled", "size": None},
            "stop": {"max_loops": 0},
        }
    )
    # The oracle needs a target for every record; 'labeled' takes those that have one.
    result = cli("run", config, "--run-dir", tmp_path / "a")
    assert result.exit_code == 2 and "pool records lack one" in result.output
    full = [[r[0], r[1], r[2], ["a", "b"][i % 2]] for i, r in enumerate(rows)]
    write_csv(tmp_path / "part.csv", ["id", "f1", "f2", "target"], full)
    config = write_config(
        {
            "data": data,
            "init": {"method": "ids", "path": "seed_ids.txt", "size": None},
            "stop": {"max_loops": 1},
        }
    )
    run_ok(cli, config, tmp_path / "b")
    first = read_csv(tmp_path / "b" / "loops" / "0000" / "selected.csv")
    assert [r["id"] for r in first] == ["r0", "r4", "r8", "r12"]


def test_warm_start_runs(cli, write_config, tmp_path):
    config = write_config(
        {
            "model": {
                "estimator": "sklearn.linear_model.SGDClassifier",
                "params": {"loss": "log_loss"},
                "retrain": "warm_start",
            }
        }
    )
    run_ok(cli, config, tmp_path / "run")
    assert len(read_csv(tmp_path / "run" / "metrics.csv")) == 4


@pytest.mark.parametrize(("keep", "expected"), [("all", 4), ("none", 0)])
def test_keep_models(cli, write_config, tmp_path, keep, expected):
    run_ok(cli, write_config({"output": {"keep_models": keep}}), tmp_path / "run")
    assert len(list((tmp_path / "run").glob("loops/*/model.joblib"))) == expected


def test_report_formats(cli, write_config, tmp_path):
    run_ok(cli, write_config(), tmp_path / "run")
    table = cli("report", tmp_path / "run")
    assert table.exit_code == 0 and "completed (max_loops)" in table.stdout
    assert "AULC accuracy" in table.stdout and "margin" in table.stdout
    as_json = json.loads(cli("report", tmp_path / "run", "--format", "json").stdout)
    assert as_json["run"]["status"] == "completed"
    assert [loop["loop"] for loop in as_json["loops"]] == [0, 1, 2, 3]
    assert set(as_json["loops"][0]) >= {"n_labeled", "accuracy", "train_s"}
    assert 0 < as_json["summary"]["aulc"]["accuracy"] <= 1
    as_csv = cli("report", tmp_path / "run", "--format", "csv").stdout
    assert as_csv == (tmp_path / "run" / "metrics.csv").read_text()


def test_report_never_unpickles(cli, write_config, tmp_path, monkeypatch):
    run_ok(cli, write_config(), tmp_path / "run")

    def refuse(*args, **kwargs):
        raise AssertionError("report unpickled something")

    import pickle

    import joblib

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    for fmt in ("table", "json", "csv"):
        assert cli("report", tmp_path / "run", "--format", fmt).exit_code == 0


def test_report_of_a_missing_directory(cli, tmp_path):
    result = cli("report", tmp_path / "nope")
    assert result.exit_code == 2 and "no such run directory" in result.output


def test_validate_reads_config_and_data_and_writes_nothing(cli, write_config, tmp_path):
    result = cli("validate", write_config({"output": {"runs_dir": str(tmp_path / "r")}}))
    assert result.exit_code == 0, result.output
    assert "105 pool records, 45 test records, 4 features, 3 classes" in result.stdout
    assert not (tmp_path / "r").exists()


def test_progress_is_plain_lines_off_a_terminal_and_silent_when_quiet(cli, write_config, tmp_path):
    loud = run_ok(cli, write_config(), tmp_path / "a")
    assert "loop    2  labeled     20  accuracy" in loud.stderr
    assert "completed:" in loud.stderr
    quiet = run_ok(cli, write_config(), tmp_path / "b", "--quiet")
    assert quiet.stderr == "" and quiet.stdout.strip() == str(tmp_path / "b")


def test_python_dash_m_and_version():
    version = subprocess.run(
        [sys.executable, "-m", "alcli", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("alcli ")
    usage = subprocess.run([sys.executable, "-m", "alcli"], capture_output=True, text=True)
    assert "run" in usage.stdout + usage.stderr and "resume" in usage.stdout + usage.stderr


def is_sweep_file(path: Path) -> bool:
    return "grid" in (yaml.safe_load(path.read_text()) or {}) or "sweep" in path.stem


ALL_YAML = sorted(Path(__file__).parents[1].joinpath("configs").rglob("*.yaml"))
BUNDLED = [path for path in ALL_YAML if not is_sweep_file(path)]
SWEEPS = [path for path in ALL_YAML if is_sweep_file(path)]


@pytest.mark.parametrize("sweep", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_bundled_sweep_file_plans(sweep):
    from alcli.experiments import plan_sweep

    _, plan, _ = plan_sweep(sweep)
    assert plan.runs


def asks_people(config: Path) -> bool:
    """Whether a bundled config's labeler chain waits for a person (file or terminal)."""
    labeler = yaml.safe_load(config.read_text()).get("labeler") or {}
    while labeler:
        if labeler.get("kind") in ("file", "terminal"):
            return True
        labeler = labeler.get("fallback") or {}
    return False


# Configs that run on their own; those that ask people are run in tests/test_people.py.
UNATTENDED = [config for config in BUNDLED if not asks_people(config)]


@pytest.mark.parametrize("config", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_every_bundled_config_validates(cli, config):
    result = cli("validate", config)
    assert result.exit_code == 0, f"{config.name}: {result.output}"


@pytest.mark.parametrize("config", UNATTENDED, ids=[p.stem for p in UNATTENDED])
def test_every_bundled_config_validates_and_runs(cli, tmp_path, config):
    result = cli("validate", config)
    assert result.exit_code == 0, f"{config.name}: {result.output}"
    result = cli(
        "run", config, "--run-dir", tmp_path / "run", "--quiet", "--set", "stop.max_loops=1"
    )
    assert result.exit_code == 0, f"{config.name}: {result.output}"


def test_state_npz_loads_without_pickle(cli, write_config, tmp_path):
    run_ok(cli, write_config(), tmp_path / "run")
    with np.load(tmp_path / "run" / "loops" / "0002" / "state.npz", allow_pickle=False) as npz:
        assert npz["order"].shape == (20,) and set(npz["loop_of"].tolist()) == {0, 1, 2}


def test_a_failing_step_marks_the_run_failed_and_resume_recovers(
    cli, write_config, tmp_path, monkeypatch
):
    config = write_config({"model": {"estimator": "tests.flaky_model:FailsAfter"}})
    monkeypatch.setenv("ALCLI_TEST_FAIL_ABOVE", "16")
    failed = cli("run", config, "--run-dir", tmp_path / "run")
    assert failed.exit_code == 1
    assert "loop 2 failed: RuntimeError: the GPU caught fire" in failed.stderr
    assert f"alcli resume {tmp_path / 'run'}" in failed.stderr
    assert "Traceback" not in failed.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["status"] == "failed" and meta["last_loop"] == 1
    assert sorted(p.name for p in (tmp_path / "run" / "loops").iterdir()) == ["0000", "0001"]

    monkeypatch.delenv("ALCLI_TEST_FAIL_ABOVE")
    resumed = cli("resume", tmp_path / "run")
    assert resumed.exit_code == 0, resumed.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["status"] == "completed" and meta["error"] is None
    run_ok(cli, config, tmp_path / "straight")
    assert without_timings(tmp_path / "run" / "metrics.csv") == without_timings(
        tmp_path / "straight" / "metrics.csv"
    )


@pytest.mark.parametrize("config", UNATTENDED, ids=[p.stem for p in UNATTENDED])
def test_every_bundled_config_resumes_to_the_same_result(cli, tmp_path, config):
    """Run, cut the run back to loop 1 as a kill would leave it, resume: same result.

    This also checks that the frozen config.yaml means what the original config meant.
    """
    short = ("--quiet", "--set", "stop.max_loops=3")
    run_ok(cli, config, tmp_path / "whole", *short)
    run_ok(cli, config, tmp_path / "cut", *short)
    for loop in (tmp_path / "cut" / "loops").iterdir():
        if int(loop.name) > 1:
            shutil.rmtree(loop)
    resumed = cli("resume", tmp_path / "cut", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert without_timings(tmp_path / "cut" / "metrics.csv") == without_timings(
        tmp_path / "whole" / "metrics.csv"
    )
    for name in ("selected.csv", "labels.csv"):
        for whole in sorted((tmp_path / "whole" / "loops").glob(f"*/{name}")):
            cut = tmp_path / "cut" / "loops" / whole.parent.name / name
            assert cut.read_bytes() == whole.read_bytes(), f"{whole.parent.name}/{name}"


def test_params_keep_their_types_in_the_frozen_config(cli, write_config, tmp_path):
    config = write_config(
        {
            "data": {"source": "sklearn:breast_cancer"},
            "model": {"params": {"max_iter": 300, "class_weight": {0: 1, 1: 5}}},
            "stop": {"max_loops": 1},
        }
    )
    run_ok(cli, config, tmp_path / "run", "--quiet")
    frozen = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert frozen["model"]["params"]["class_weight"] == {0: 1, 1: 5}
    shutil.rmtree(tmp_path / "run" / "loops" / "0001")
    assert cli("resume", tmp_path / "run").exit_code == 0


def test_resume_refuses_an_edited_config(cli, write_config, tmp_path):
    run_ok(cli, write_config(), tmp_path / "run", "--quiet")
    frozen = tmp_path / "run" / "config.yaml"
    frozen.write_text(frozen.read_text().replace("seed: 0", "seed: 1"))
    result = cli("resume", tmp_path / "run")
    assert result.exit_code == 2 and "was edited after the run started" in result.output


def test_probability_metrics_while_some_classes_are_unlabeled(cli, write_config, tmp_path):
    # Two random iris records cannot cover three classes: the model sees fewer classes than
    # the test set holds, and its unseen classes count as probability 0.
    config = write_config(
        {"init": {"size": 2}, "metrics": ["accuracy", "roc_auc_ovr", "neg_log_loss"]}
    )
    run_ok(cli, config, tmp_path / "run", "--quiet")
    first = read_csv(tmp_path / "run" / "metrics.csv")[0]
    assert 0 <= float(first["roc_auc_ovr"]) <= 1 and float(first["neg_log_loss"]) < 0


@pytest.mark.parametrize(
    ("damage", "command", "message"),
    [
        (("run.json", "[1, 2]"), "report", "run.json is not an alcli run record"),
        (("run.json", "{}"), "resume", "run.json is not an alcli run record"),
        (("config.yaml", "metrics: [oops"), "report", "config.yaml: differs from the config"),
        (("metrics.csv", "loop,n_labeled\nx,y\n"), "report", "metrics.csv: cannot be read"),
        # resume redoes a damaged loop a simulation labeled (tests/test_damaged_run_dirs.py)
        (("loops/0003/state.npz", b"not an npz"), "report", "loops/0003/state.npz: is not"),
    ],
)
def test_a_damaged_run_directory_gets_a_message_not_a_traceback(
    cli, write_config, tmp_path, damage, command, message
):
    run_dir = tmp_path / "run"
    run_ok(cli, write_config({"stop": {"max_loops": 5}}), run_dir, "--quiet")
    shutil.rmtree(run_dir / "loops" / "0004")
    shutil.rmtree(run_dir / "loops" / "0005")
    name, content = damage
    target = run_dir / name
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    result = cli(command, run_dir)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_run_dir_that_cannot_be_made(cli, write_config, tmp_path):
    (tmp_path / "afile").write_text("")
    result = cli("run", write_config(), "--run-dir", tmp_path / "afile" / "run")
    assert result.exit_code == 2 and "cannot create the run directory" in result.stderr


def test_csv_report_of_a_missing_directory(cli, tmp_path):
    result = cli("report", tmp_path / "nope", "--format", "csv")
    assert result.exit_code == 2 and "no such run directory" in result.stderr


def test_blas_is_held_to_one_thread_while_fitting_by_default(cli, write_config, tmp_path):
    from tests.flaky_model import RecordsBlasThreads

    RecordsBlasThreads.seen.clear()
    config = write_config({"model": {"estimator": "tests.flaky_model:RecordsBlasThreads"}})
    run_ok(cli, config, tmp_path / "run", "--quiet")
    assert RecordsBlasThreads.seen and set(RecordsBlasThreads.seen) == {1}
