"""The live Label Studio labeler against a real server: tasks pushed per loop, annotations
by several users pulled back on resume, and a server that is down, a bad token, a project
with other classes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from alcli.labelers.label_studio import labeling_config, project_classes
from alcli.labelers.label_studio_api import LabelStudioClient, LabelStudioUnavailable

from .conftest import read_csv
from .labelstudio_server import Gate, label_studio

pytestmark = pytest.mark.slow

DATA = Path(__file__).parents[1] / "configs" / "data"
CLASSES = ("barbera", "barolo", "grignolino")
KEY = "LABEL_STUDIO_API_KEY"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with label_studio(tmp_path_factory.mktemp("label-studio")) as running:
        yield running


@pytest.fixture(scope="module")
def users(server):
    """Three annotators' user ids: the admin and two more made through the API."""
    admin = server.api("GET", "/api/current-user/whoami")["id"]
    made = [
        server.api("POST", "/api/users/", {"email": f"{name}@example.com", "username": name})
        for name in ("second", "third")
    ]
    return [admin, *(user["id"] for user in made)]


@pytest.fixture(scope="module")
def access_token(server):
    """A personal access token (a JWT refresh token) of the admin user."""
    return server.api("POST", "/api/token/")["token"]


def truth() -> dict[str, str]:
    return {row["id"]: row["cultivar"] for row in read_csv(DATA / "wine.csv")}


def write_config(folder: Path, url: str, project, max_loops: int = 2) -> Path:
    config = {
        "name": "wine-label-studio",
        "seed": 0,
        "data": {
            "path": str(DATA / "wine-unlabeled.csv"),
            "test_path": str(DATA / "wine-test.csv"),
            "target": "cultivar",
        },
        "model": {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 5000},
        },
        "init": {"method": "kmeans", "size": 6},
        "strategy": {"name": "margin"},
        "loop_size": {"size": 6},
        "labeler": {
            "kind": "label_studio",
            "url": url,
            "api_key_env": KEY,
            "project": project,
            "resolve": "majority",
            "cost": {"per_label": 0.5},
        },
        "stop": {"max_loops": max_loops},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def project_titled(server, title: str) -> dict:
    found = server.api("GET", f"/api/projects?title={title.replace(' ', '%20')}")["results"]
    return next(p for p in found if p["title"] == title)


def tasks_of(server, project_id: int, loop: int | None = None) -> list[dict]:
    answer = server.api("GET", f"/api/tasks?project={project_id}&fields=all&page_size=1000")
    return [t for t in answer["tasks"] if loop is None or t["data"]["alcli_loop"] == loop]


def annotate(server, task: dict, label: str | None, user: int) -> None:
    """An annotation as ``user`` gives it: a class, or a skip (None)."""
    body = {"completed_by": user, "was_cancelled": label is None, "result": []}
    if label is not None:
        body["result"] = [
            {
                "from_name": "label",
                "to_name": "record",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ]
    server.api("POST", f"/api/tasks/{task['id']}/annotations", body)


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def other(label: str) -> str:
    return next(c for c in CLASSES if c != label)


def test_a_run_labels_loop_by_loop_in_label_studio(
    cli, server, users, access_token, tmp_path, monkeypatch
):
    monkeypatch.setenv(KEY, access_token)  # a personal access token: exchanged for a JWT
    title = "wine, live"
    run_dir = tmp_path / "run"
    started = cli("run", write_config(tmp_path, server.url, title), "--run-dir", run_dir)
    assert started.exit_code == 0, started.output
    project = project_titled(server, title)
    page = f"{server.url}/projects/{project['id']}/data"
    assert "6 of 6 tasks still open" in started.stderr and page in started.stderr
    assert f"alcli resume {run_dir}" in started.stderr
    assert status(run_dir)["status"] == "awaiting_labels"
    assert sorted(project_classes(project["label_config"])) == list(CLASSES)

    tasks = tasks_of(server, project["id"])
    assert len(tasks) == 6
    assert all(t["predictions"] == [] for t in tasks)  # loop 0 has no model
    assert {t["data"]["alcli_run"] for t in tasks} == {status(run_dir)["run_uid"]}
    labels = truth()
    for task in tasks:
        data = task["data"]
        assert data["alcli_loop"] == 0
        assert f"id: {data['alcli_id']}" in data["alcli_record"]
        assert data["alcli_id"] in labels and data["alcli_id"].startswith("wine-")
        assert "alcohol" in data and "cultivar" not in data

    again = cli("resume", run_dir)  # nothing annotated: nothing pushed twice
    assert again.exit_code == 0, again.output
    assert "6 of 6 tasks still open" in again.stderr
    assert len(tasks_of(server, project["id"])) == 6

    # Loop 0, partly: a skip, a disagreement the majority settles, a tie, one plain answer.
    admin, second, third = users
    t = sorted(tasks, key=lambda task: task["data"]["alcli_id"])
    truth_of = [labels[task["data"]["alcli_id"]] for task in t]
    annotate(server, t[0], None, admin)
    annotate(server, t[1], truth_of[1], admin)
    annotate(server, t[1], other(truth_of[1]), second)
    annotate(server, t[1], truth_of[1], third)
    annotate(server, t[2], truth_of[2], admin)
    annotate(server, t[2], other(truth_of[2]), second)
    annotate(server, t[3], truth_of[3], second)
    partly = cli("resume", run_dir)
    assert partly.exit_code == 0, partly.output
    assert "3 of 6 tasks still open" in partly.stderr
    assert t[2]["data"]["alcli_id"] in partly.stderr and "a tie between" in partly.stderr
    assert status(run_dir)["status"] == "awaiting_labels"
    assert not (run_dir / "loops" / "0000").exists()

    annotate(server, t[2], truth_of[2], third)  # a reviewer settles the tie
    annotate(server, t[4], truth_of[4], admin)
    annotate(server, t[5], truth_of[5], second)
    done_0 = cli("resume", run_dir)
    assert done_0.exit_code == 0, done_0.output
    assert (run_dir / "loops" / "0000").exists()
    given_0 = {row["id"]: row for row in read_csv(run_dir / "loops" / "0000" / "labels.csv")}
    assert t[0]["data"]["alcli_id"] not in given_0  # the skip
    assert {i: row["label"] for i, row in given_0.items()} == {
        task["data"]["alcli_id"]: truth_of[k] for k, task in enumerate(t) if k
    }
    assert {row["labeler"] for row in given_0.values()} == {"label_studio"}

    # Later loops: tasks with the model's prediction; answered in full until the run ends.
    for _ in range(5):
        meta = status(run_dir)
        if meta["status"] == "completed":
            break
        assert meta["status"] == "awaiting_labels", meta
        loop = meta["pending_loop"]
        waiting = tasks_of(server, project["id"], loop)
        assert len(waiting) == 6
        for task in waiting:
            (prediction,) = task["predictions"]
            assert prediction["model_version"] == f"alcli loop {loop}"
            assert prediction["result"][0]["value"]["choices"][0] in CLASSES
            annotate(server, task, labels[task["data"]["alcli_id"]], users[loop % 3])
        result = cli("resume", run_dir)
        assert result.exit_code == 0, result.output
    assert status(run_dir)["status"] == "completed"
    recorded = [
        row
        for folder in sorted((run_dir / "loops").iterdir())
        for row in read_csv(folder / "labels.csv")
    ]
    assert len(recorded) >= 11 and all(row["label"] == labels[row["id"]] for row in recorded)
    assert not (run_dir / "pending").exists()


def test_a_server_that_goes_down_leaves_the_run_waiting(cli, server, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY, server.token)
    gate = Gate(server.url)
    gate.open()
    try:
        run_dir = tmp_path / "run"
        config = write_config(tmp_path, gate.url, "wine, down and back", max_loops=0)
        # The first push fails (the server went away right after the start's check).
        real_import = LabelStudioClient.import_tasks

        def refused(self, project_id, tasks):
            raise LabelStudioUnavailable(f"Label Studio at {self.url} does not answer (test)")

        monkeypatch.setattr(LabelStudioClient, "import_tasks", refused)
        first = cli("run", config, "--run-dir", run_dir)
        assert first.exit_code == 0, first.output
        assert "does not answer" in first.stderr and "nothing is lost" in first.stderr
        assert status(run_dir)["status"] == "awaiting_labels"
        assert (run_dir / "pending" / "loop-0000").exists()
        monkeypatch.setattr(LabelStudioClient, "import_tasks", real_import)

        pushed = cli("resume", run_dir)  # the server answers again: the batch is pushed now
        assert pushed.exit_code == 0, pushed.output
        project = project_titled(server, "wine, down and back")
        tasks = tasks_of(server, project["id"])
        assert len(tasks) == 6
        labels = truth()
        for task in tasks:
            annotate(server, task, labels[task["data"]["alcli_id"]], 1)

        gate.close()  # the port is closed now
        down = cli("resume", run_dir)
        assert down.exit_code == 0, down.output
        assert f"Label Studio at {gate.url} does not answer" in down.stderr
        assert "check that the server is running" in down.stderr
        assert status(run_dir)["status"] == "awaiting_labels"
        assert (run_dir / "pending" / "loop-0000").exists()

        gate.open()
        monkeypatch.setenv(KEY, "not-a-token")
        refused_token = cli("resume", run_dir)
        assert refused_token.exit_code == 0, refused_token.output
        assert f"refused the token in ${KEY}" in refused_token.stderr
        assert status(run_dir)["status"] == "awaiting_labels"

        monkeypatch.setenv(KEY, server.token)
        back = cli("resume", run_dir)
        assert back.exit_code == 0, back.output
        assert status(run_dir)["status"] == "completed"
        given = read_csv(run_dir / "loops" / "0000" / "labels.csv")
        assert len(given) == 6 and all(row["label"] == labels[row["id"]] for row in given)
        assert len(tasks_of(server, project["id"])) == 6  # pushed once
    finally:
        gate.close()


def test_a_kill_between_pushing_and_saving_pushes_nothing_twice(cli, server, tmp_path, monkeypatch):
    import alcli.engine.runner as runner

    monkeypatch.setenv(KEY, server.token)
    run_dir = tmp_path / "run"
    config = write_config(tmp_path, server.url, "wine, killed")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "save_pending", killed)
    stopped = cli("run", config, "--run-dir", run_dir)
    assert stopped.exit_code == 130, stopped.output
    project = project_titled(server, "wine, killed")
    assert len(tasks_of(server, project["id"])) == 6
    monkeypatch.undo()
    monkeypatch.setenv(KEY, server.token)
    resumed = cli("resume", run_dir)
    assert resumed.exit_code == 0, resumed.output
    assert "6 of 6 tasks still open" in resumed.stderr
    assert len(tasks_of(server, project["id"])) == 6


def test_a_server_that_does_not_answer_at_start_writes_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY, "some-token")
    closed = Gate("http://127.0.0.1:1")  # a free port nobody listens on
    run_dir = tmp_path / "run"
    result = cli("run", write_config(tmp_path, closed.url, "p"), "--run-dir", run_dir)
    assert result.exit_code == 2
    assert f"Label Studio at {closed.url} does not answer" in result.stderr
    assert "Nothing was written" in result.stderr
    assert not run_dir.exists()


def test_a_bad_token_at_start_writes_nothing(cli, server, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY, "0000000000000000000000000000000000000000")
    run_dir = tmp_path / "run"
    result = cli("run", write_config(tmp_path, server.url, "p"), "--run-dir", run_dir)
    assert result.exit_code == 2
    assert f"refused the token in ${KEY} (HTTP 401" in result.stderr
    assert not run_dir.exists()
    monkeypatch.delenv(KEY)
    unset = cli("run", write_config(tmp_path, server.url, "p"), "--run-dir", run_dir)
    assert unset.exit_code == 2 and f"variable {KEY} is not set" in unset.stderr


def test_a_project_with_other_classes_is_refused(cli, server, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY, server.token)
    made = server.api(
        "POST",
        "/api/projects",
        {"title": "wine, other classes", "label_config": labeling_config(["red", "white"])},
    )
    for project in ("wine, other classes", made["id"]):
        run_dir = tmp_path / f"run-{project}"
        result = cli("run", write_config(tmp_path, server.url, project), "--run-dir", run_dir)
        assert result.exit_code == 2, result.output
        message = " ".join(result.stderr.split())
        assert f"Label Studio project 'wine, other classes' (id {made['id']})" in message
        assert "offers the classes red, white" in message
        assert "this run's classes are barbera, barolo, grignolino" in message
        assert not run_dir.exists()


def export(server, project_id: int, kind: str) -> bytes:
    """The whole project as Label Studio's Export button gives it (JSON, JSON_MIN or CSV)."""
    request = urllib.request.Request(
        f"{server.url}/api/projects/{project_id}/export?exportType={kind}",
        headers={"Authorization": f"Token {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


@pytest.mark.parametrize(
    ("kind", "suffix"), [("JSON", "json"), ("JSON_MIN", "json"), ("CSV", "csv")]
)
def test_one_project_for_the_whole_run_round_trips_in_every_export_format(
    cli, server, users, tmp_path, kind, suffix
):
    """The file handoff as a Label Studio user does it: one project for the whole run, each
    loop's tasks.json imported into it, annotated (two annotators on some tasks), and the
    whole project exported and given to `alcli resume --labels` at every loop."""
    config = yaml.safe_load(write_config(tmp_path, server.url, "unused").read_text())
    config["labeler"] = {"kind": "file"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "run"
    started = cli("run", tmp_path / "config.yaml", "--run-dir", run_dir)
    assert started.exit_code == 0, started.output
    project = server.api(
        "POST",
        "/api/projects",
        {"title": f"wine, whole run, {kind}", "label_config": labeling_config(list(CLASSES))},
    )
    labels = truth()
    admin, second, _ = users
    for _ in range(5):
        meta = status(run_dir)
        if meta["status"] == "completed":
            break
        loop = meta["pending_loop"]
        tasks = json.loads((run_dir / "pending" / f"loop-{loop:04d}" / "tasks.json").read_text())
        server.api("POST", f"/api/projects/{project['id']}/import", tasks)
        for task in tasks_of(server, project["id"]):
            if task["annotations"]:
                continue  # an earlier loop's: annotated then
            answer = labels[task["data"]["alcli_id"]]
            annotate(server, task, answer, admin)
            if task["id"] % 2:
                annotate(server, task, answer, second)  # a second annotator agrees
        path = tmp_path / f"export-{loop}.{suffix}"
        path.write_bytes(export(server, project["id"], kind))
        result = cli("resume", run_dir, "--labels", path)
        assert result.exit_code == 0, result.output
        if loop and status(run_dir)["status"] == "awaiting_labels":
            assert "answered in earlier loops with the same labels" in result.stderr, result.stderr
    assert status(run_dir)["status"] == "completed"
    recorded = [
        row
        for folder in sorted((run_dir / "loops").iterdir())
        for row in read_csv(folder / "labels.csv")
    ]
    assert len(recorded) == 18 and all(row["label"] == labels[row["id"]] for row in recorded)
