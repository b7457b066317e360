"""MLflow tracking as a user sees it: `tracking: {mlflow: ...}` in a config or a sweep file,
read back with MLflow's own client from a sqlite store (offline)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY, merge

mlflow = pytest.importorskip("mlflow")
FILES = {"config.yaml", "learning_curve.png", "metrics.csv", "report.html"}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a stray runs/, mlruns/ or database would land here
    return tmp_path


def store(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def write(folder: Path, changes: dict | None = None, name: str = "experiment.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(merge(TINY, changes or {}), sort_keys=False))
    return path


def tracked(**settings) -> dict:
    return {"tracking": {"mlflow": {"tracking_uri": "sqlite:///mlflow.db", **settings}}}


def entry(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())["tracking"]["mlflow"]


def client(folder: Path):
    return mlflow.MlflowClient(store(folder))


def steps(mlflow_client, run_id: str, key: str) -> list[tuple[int, float]]:
    history = mlflow_client.get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in history)


def test_a_run_is_one_mlflow_run_with_params_metrics_per_loop_and_artifacts(cli, in_tmp):
    config = write(in_tmp, tracked(experiment="iris"))
    result = cli("run", config, "--run-dir", "run", "-q")
    assert result.exit_code == 0, result.output
    kept = entry(in_tmp / "run")
    found = client(in_tmp)
    run = found.get_run(kept["run_id"])
    assert run.info.status == "FINISHED" and run.info.experiment_id == kept["experiment_id"]
    assert found.get_experiment(kept["experiment_id"]).name == "iris"
    params = run.data.params
    assert params["strategy.name"] == "margin" and params["loop_size.size"] == "5"
    assert params["model.params.max_iter"] == "300" and params["stop.max_loops"] == "3"
    assert not any(key.startswith("tracking.") for key in params)
    assert [step for step, _ in steps(found, run.info.run_id, "accuracy")] == [0, 1, 2, 3]
    assert steps(found, run.info.run_id, "labeled") == [(0, 10), (1, 15), (2, 20), (3, 25)]
    assert {a.path for a in found.list_artifacts(run.info.run_id)} == FILES
    tags = run.data.tags
    assert tags["mlflow.runName"] == "run" and tags["alcli.run_dir"] == str(in_tmp / "run")
    assert (tags["alcli.status"], tags["alcli.stop_reason"]) == ("completed", "max_loops")
    # Artifacts beside the database, not in whatever folder the run was started from.
    assert run.info.artifact_uri.startswith((in_tmp / "mlartifacts").as_uri())
    assert not (in_tmp / "mlruns").exists()


def test_resume_continues_the_same_mlflow_run(cli, in_tmp):
    config = write(in_tmp, tracked())
    assert cli("run", config, "--run-dir", "run", "--set", "stop.max_loops=1").exit_code == 0
    first = entry(in_tmp / "run")
    assert client(in_tmp).get_run(first["run_id"]).info.status == "FINISHED"
    result = cli("resume", "run", "--set", "stop.max_loops=3", "-q")
    assert result.exit_code == 0, result.output
    assert entry(in_tmp / "run") == first
    found = client(in_tmp)
    runs = found.search_runs([first["experiment_id"]])
    assert [r.info.run_id for r in runs] == [first["run_id"]]
    assert [s for s, _ in steps(found, first["run_id"], "labeled")] == [0, 1, 2, 3]
    assert found.get_run(first["run_id"]).info.status == "FINISHED"


def test_a_run_that_waits_for_people_stays_running(cli, in_tmp):
    config = write(in_tmp, {**tracked(), "labeler": {"kind": "file"}})
    assert cli("run", config, "--run-dir", "run", "-q").exit_code == 0
    run = client(in_tmp).get_run(entry(in_tmp / "run")["run_id"])
    assert (run.info.status, run.data.tags["alcli.status"]) == ("RUNNING", "awaiting_labels")


def test_a_sweep_is_a_parent_run_with_its_runs_nested(cli, in_tmp):
    write(in_tmp, {"stop": {"max_loops": 1}}, name="base.yaml")
    sweep = {
        "name": "strategies",
        "base": "base.yaml",
        "grid": {"strategy.name": ["margin", "entropy"]},
        "seeds": 2,
        "baseline": "none",
        "jobs": 1,
        "tracking": {"mlflow": {"tracking_uri": "sqlite:///mlflow.db"}},
    }
    (in_tmp / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    result = cli("sweep", "sweep.yaml", "-q")
    assert result.exit_code == 0, result.output
    sweep_dir = in_tmp / "sweeps" / "strategies"
    parent = json.loads((sweep_dir / "tracking.json").read_text())["mlflow"]
    found = client(in_tmp)
    run = found.get_run(parent["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "strategies"
    assert found.get_experiment(parent["experiment_id"]).name == "strategies"
    assert {a.path for a in found.list_artifacts(parent["run_id"])} == {
        "summary.csv",
        "report.html",
    }
    children = found.search_runs(
        [parent["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{parent['run_id']}'"
    )
    assert len(children) == 4
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.params["strategy.name"] for c in children} == {"margin", "entropy"}
    assert {c.info.run_name for c in children} == {
        f"strategy.name={name}/seed-{seed}" for name in ("margin", "entropy") for seed in (0, 1)
    }
    # The tracking section is where runs go, not what they compare: no group by it.
    summary = (sweep_dir / "results" / "summary.csv").read_text()
    assert "tracking" not in summary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing answers there


def test_a_server_that_is_down_is_one_warning_and_the_run_completes_quickly(cli, in_tmp):
    uri = f"http://127.0.0.1:{free_port()}"
    config = write(in_tmp, {"tracking": {"mlflow": {"tracking_uri": uri}}})
    began = time.perf_counter()
    result = cli("run", config, "--run-dir", "run")
    seconds = time.perf_counter() - began
    assert result.exit_code == 0, result.output
    # MLflow's own retries would take minutes; ours give up in seconds.
    assert seconds < 30, f"{seconds:.1f} s"
    assert "cannot reach the MLflow server" in result.output
    events = [json.loads(line) for line in (in_tmp / "run/events.jsonl").read_text().splitlines()]
    warnings = [e for e in events if e["event"] == "warnings"]
    assert len(warnings) == 1 and warnings[0]["warnings"][0]["step"] == "tracking"
    meta = json.loads((in_tmp / "run/run.json").read_text())
    assert meta["status"] == "completed" and "tracking" not in meta
    report = cli("report", "run")
    assert report.exit_code == 0 and "TRACKING" in report.output


BAD = [
    ({"mlfow": {"tracking_uri": "sqlite:///mlflow.db"}}, r"tracking\.mlfow.*did you mean 'mlflow'"),
    (
        {"mlflow": {"tracking_uri": "htp://host:5000"}},
        r"unknown scheme 'htp:' \(did you mean 'http'",
    ),
    ({"mlflow": {"tracking_uri": "sqlite:///missing/mlflow.db"}}, r"folder .*missing does not"),
    ({"mlflow": {"tracking_uri": "file:./mlruns"}}, r"file store.*sqlite:///\./mlruns/mlflow\.db"),
    ({"mlflow": {"tracking_uri": "mlruns"}}, r"file store.*sqlite:///mlruns/mlflow\.db"),
    ({"mlflow": {"tracking_uri": "sqlite://"}}, r"not a database file"),
    ({"mlflow": {"tracking_uri": "http://me:secret@host"}}, r"MLFLOW_TRACKING_PASSWORD"),
    ({"mlflow": {}}, r"tracking\.mlflow\.tracking_uri.*required key is missing"),
]


@pytest.mark.parametrize(("section", "pattern"), BAD, ids=[p[:24] for _, p in BAD])
def test_bad_tracking_is_one_message_exit_2_and_nothing_written(cli, in_tmp, section, pattern):
    config = write(in_tmp, {"tracking": section})
    before = set(in_tmp.iterdir())
    for command in (("validate", config), ("run", config, "--run-dir", "run")):
        result = cli(*command)
        assert result.exit_code == 2, result.output
        assert "1 problem" in result.output and re.search(pattern, result.output), result.output
    assert set(in_tmp.iterdir()) == before


def test_a_bad_sweep_tracking_is_one_message_before_any_run(cli, in_tmp):
    write(in_tmp, name="base.yaml")
    sweep = {
        "name": "s",
        "base": "base.yaml",
        "grid": {"strategy.name": ["margin", "entropy"]},
        "seeds": 2,
        "tracking": {"mlflow": {"tracking_uri": "sqlite:///nowhere/mlflow.db"}},
    }
    (in_tmp / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    result = cli("sweep", "sweep.yaml")
    assert result.exit_code == 2, result.output
    assert "1 problem" in result.output and "tracking.mlflow.tracking_uri" in result.output
    assert not (in_tmp / "sweeps").exists()


def test_without_the_extra_the_message_says_what_to_install(cli, in_tmp, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    config = write(in_tmp, tracked())
    result = cli("run", config, "--run-dir", "run")
    assert result.exit_code == 2
    assert "pip install 'alcli[mlflow]'" in result.output
    assert not (in_tmp / "run").exists()


@pytest.mark.slow
def test_alcli_does_not_import_mlflow_until_a_run_tracks_with_it(tmp_path):
    config = str(write(tmp_path, tracked()))
    code = (
        "import sys; from typer.testing import CliRunner; from alcli.cli import app; "
        "from alcli.config import load_config; "
        f"CliRunner().invoke(app, ['--help']); load_config({config!r}); "
        "print('mlflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert done.stdout.strip() == "False", done.stderr


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (SQLite behind it, artifacts proxied to a folder),
    as a team that tracks its experiments runs one."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    program = Path(sys.executable).parent / "mlflow"
    process = subprocess.Popen(
        [
            str(program),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, "mlflow server exited"
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.slow
def test_a_run_tracked_by_a_real_mlflow_server_and_resumed_there(cli, in_tmp, mlflow_server):
    config = write(in_tmp, {"tracking": {"mlflow": {"tracking_uri": mlflow_server}}})
    started = cli("run", config, "--run-dir", "run", "--set", "stop.max_loops=1", "-q")
    assert started.exit_code == 0, started.output
    kept = entry(in_tmp / "run")
    found = mlflow.MlflowClient(mlflow_server)
    run = found.get_run(kept["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["strategy.name"] == "margin"
    assert {a.path for a in found.list_artifacts(kept["run_id"])} == FILES
    resumed = cli("resume", "run", "--set", "stop.max_loops=3", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert entry(in_tmp / "run") == kept
    assert [s for s, _ in steps(found, kept["run_id"], "accuracy")] == [0, 1, 2, 3]
    assert found.get_run(kept["run_id"]).info.status == "FINISHED"
    assert "warn" not in (in_tmp / "run" / "events.jsonl").read_text().lower()
