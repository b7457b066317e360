"""The shared contract of tracking sinks: every registered tracker, driven by a real run
(start, loops, done, then resume), with a backend that works, one that fails at each stage,
and one that hangs. A tracker never fails or slows the run; its failure is one warning."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from alcli import engine, tracking
from alcli.config import load_config
from alcli.registry import Registry
from alcli.tracking import TRACKERS, Tracker
from alcli.tracking.base import Subject, TrackingSink
from tests.conftest import TINY, merge

STAGES = ["begin", "log_loops", "end"]


def backend(cls: type[Tracker], fail_at: str | None = None, hang: float = 0.0):
    """``cls`` with its service replaced: calls are recorded, ``fail_at`` raises, every call
    waits ``hang`` seconds first."""

    class Backend(cls):  # type: ignore[misc, valid-type]
        calls: ClassVar[list[tuple]] = []
        logged: ClassVar[set[int]] = set()  # what the service holds (kept across attempts)

        def _call(self, stage: str, *args):
            time.sleep(hang)
            Backend.calls.append((stage, *args))
            if stage == fail_at:
                raise ConnectionError(f"the service fell over in {stage}")

        def begin(self, subject: Subject):
            self._call("begin", dict(subject.previous), list(subject.earlier_loops))
            return {"run_id": "r1"}, set(Backend.logged)

        def log_loops(self, records):
            self._call("log_loops", [record["loop"] for record, _ in records])
            Backend.logged.update(record["loop"] for record, _ in records)

        def end(self, status, stop_reason, files):
            self._call("end", status, stop_reason, sorted(Path(f).name for f in files))

    Backend.calls, Backend.logged = [], set()
    return Backend


@pytest.fixture(params=TRACKERS.names())
def name(request) -> str:
    return request.param


def install(monkeypatch, name: str, cls: type[Tracker]) -> None:
    monkeypatch.setattr(tracking, "TRACKERS", Registry("tracker", {name: cls}, base=Tracker))


def tracked_config(tmp_path: Path, name: str, **settings) -> Path:
    assert TRACKERS[name].example, f"tracker '{name}' needs an example (its Tracker.example)"
    config = merge(TINY, {"tracking": {name: {**TRACKERS[name].example, **settings}}})
    path = tmp_path / "experiment.yaml"
    path.write_text(json.dumps(config))
    return path


def tracking_warnings(run_dir: Path) -> list[dict]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [
        item
        for event in events
        if event["event"] == "warnings"
        for item in event["warnings"]
        if item["step"] == "tracking"
    ]


def test_a_tracker_sees_the_start_every_loop_the_end_and_continues_on_resume(
    name, tmp_path, monkeypatch
):
    cls = backend(TRACKERS[name])
    install(monkeypatch, name, cls)
    config = tracked_config(tmp_path, name)
    run_dir = tmp_path / "run"
    result = engine.start(load_config(config), run_dir)
    assert result.status == "completed"
    begin, *logged, end = cls.calls
    assert begin == ("begin", {}, [])
    # Loops queued while the tracker was busy may go out in one call, in order.
    assert [k for call in logged for k in call[1]] == [0, 1, 2, 3]
    files = ["config.yaml", "learning_curve.png", "metrics.csv", "report.html"]
    assert end == ("end", "completed", "max_loops", files)
    assert json.loads((run_dir / "run.json").read_text())["tracking"] == {name: {"run_id": "r1"}}
    cls.calls.clear()
    engine.resume(run_dir, overrides=["stop.max_loops=5"])
    begin, *logged, end = cls.calls
    assert begin == ("begin", {name: {"run_id": "r1"}}, [0, 1, 2, 3])
    assert [k for call in logged for k in call[1]] == [4, 5]
    assert end[:3] == ("end", "completed", "max_loops")
    assert tracking_warnings(run_dir) == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_backend_is_one_warning_and_never_fails_the_run(
    name, stage, tmp_path, monkeypatch
):
    cls = backend(TRACKERS[name], fail_at=stage)
    install(monkeypatch, name, cls)
    config = tracked_config(tmp_path, name)
    seen: list[dict] = []
    result = engine.start(load_config(config), tmp_path / "run", on_event=seen.append)
    assert result.status == "completed" and result.last_loop == 3
    [warning] = tracking_warnings(tmp_path / "run")
    assert f"fell over in {stage}" in warning["message"] and warning["source"] == name
    # Not called again after its failure: one log call at most when it failed there.
    assert [call[0] for call in cls.calls].count(stage) == 1
    assert stage == "end" or "end" not in [call[0] for call in cls.calls]
    # The console hears of it too (the run's progress printer summarizes warnings).
    assert [e for e in seen if e["event"] == "warnings"][-1]["warnings"] == [warning]
    cls.calls.clear()
    result = engine.resume(tmp_path / "run", overrides=["stop.max_loops=4"])
    assert result.status == "completed" and result.last_loop == 4
    assert len(tracking_warnings(tmp_path / "run")) == 2  # one per attempt


def test_a_hanging_backend_is_given_up_after_flush_seconds(name, tmp_path, monkeypatch):
    cls = backend(TRACKERS[name], hang=5.0)
    install(monkeypatch, name, cls)
    config = tracked_config(tmp_path, name, flush_seconds=0.5)
    began = time.perf_counter()
    result = engine.start(load_config(config), tmp_path / "run")
    assert result.status == "completed"
    assert time.perf_counter() - began < 30
    [warning] = tracking_warnings(tmp_path / "run")
    assert "still sending after 0.5 s" in warning["message"]


def test_passing_an_event_to_a_sink_costs_microseconds(name, tmp_path):
    release = threading.Event()

    class Slow(TRACKERS[name]):  # type: ignore[misc, valid-type]
        def begin(self, subject):
            release.wait(10)
            return {}, set()

        def log_loops(self, records):
            pass

        def end(self, status, stop_reason, files):
            pass

    settings = TRACKERS[name].Config.model_validate(
        TRACKERS[name].example, context={"checked": True}
    )
    subject = Subject(
        name="run",
        path=tmp_path,
        kind="run",
        experiment="x",
        params=dict,
        keep=lambda *a: None,
        journal=lambda event: None,
        artifacts=lambda folder: [],
    )
    sink = TrackingSink(name, Slow(settings), subject)
    event = {"event": "loop", "loop": 0, "n_labeled": 10, "metrics": {"accuracy": 0.5}}
    n = 2000
    began = time.perf_counter()
    for _ in range(n):
        sink(event)
    per_event = (time.perf_counter() - began) / n
    release.set()
    assert sink.close("completed", None) is None
    assert per_event < 200e-6, f"{per_event * 1e6:.1f} µs per event"
