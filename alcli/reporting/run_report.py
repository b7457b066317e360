"""Read a run directory into a report (run, summary, loops) as data, JSON or CSV. Reads CSV,
JSON and YAML only: never unpickles anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alcli.data.config import has_test_set
from alcli.errors import RunDirError
from alcli.metrics import aulc, labels_to_reach
from alcli.reporting.replay import replay
from alcli.rundir import RunDir, read_metrics_csv, step_seconds
from alcli.rundir.integrity import inspect_run, raise_if_damaged
from alcli.rundir.tables import rows_of_records


def load_report(path: Path) -> dict[str, Any]:
    """The run's metadata, a summary, and one dict per complete loop (metrics.csv's keys)."""
    rundir = RunDir.open(path)
    meta = rundir.read_meta()
    if not rundir.is_busy():  # a run going on may be between a loop folder and its row
        raise_if_damaged(inspect_run(path, deep=False), "a report")
    try:
        config = yaml.safe_load(rundir.config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunDirError(f"{rundir.config_path} cannot be read: {exc}") from None
    metric_names = config.get("metrics") if isinstance(config, dict) else None
    if not isinstance(metric_names, list):
        raise RunDirError(f"{rundir.config_path} has no list of metrics; it was changed by hand")
    data = config.get("data") or {}
    if not has_test_set(data.get("test_path"), data.get("test_size")):
        metric_names = []  # no test set: nothing was scored
    loops = read_metrics_csv(path / "metrics.csv", metric_names)
    loops += _rows_not_written_yet(rundir, loops, metric_names)
    where = (
        _where_it_stopped(path) if meta.get("status") in ("stopped", "failed", "running") else None
    )
    return {
        "run": {"path": str(path), **meta, **({"stopped_in": where} if where else {})},
        "summary": _summary(loops, metric_names, (config.get("stop") or {}).get("target")),
        "loops": loops,
        "replay": replay(loops, metric_names),
    }


def _rows_not_written_yet(
    rundir: RunDir, loops: list[dict[str, Any]], metric_names: list[str]
) -> list[dict[str, Any]]:
    """The complete loops metrics.csv has no row for yet (a kill fell between a loop's folder
    and its row), from their metrics.json."""
    complete = rundir.complete_loops()
    missing = complete[len(loops) :]
    if not missing:
        return []
    header = list(loops[0]) if loops else None
    return rows_of_records([rundir.read_loop_metrics(k) for k in missing], metric_names, header)


#: Events written after a step began that do not end it (the stop itself, a resume).
_NOT_AN_END = {"interrupted", "failed", "storage_full", "resume", "start", "repaired"}


def _where_it_stopped(path: Path) -> dict[str, Any] | None:
    """The loop and step a stopped run was in (its last step that began and never ended),
    from the tail of events.jsonl."""
    events = path / "events.jsonl"
    try:
        with events.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 65536))
            tail = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill, or cut by the tail's start
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "begin":
            return {"loop": event.get("loop"), "step": event.get("step")}
        if kind not in _NOT_AN_END:
            return None
    return None


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def to_csv(path: Path) -> str:
    """metrics.csv as it is on disk (an empty string before the first loop completes)."""
    metrics = RunDir.open(path).path / "metrics.csv"
    return metrics.read_text() if metrics.exists() else ""


def _summary(loops: list[dict], metric_names: list[str], target: dict | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "loops": len(loops),
        "n_labeled": loops[-1]["n_labeled"] if loops else 0,
        "metric_names": metric_names,
        "final": {m: loops[-1][m] for m in metric_names} if loops else {},
        "aulc": {},
        "seconds": sum(step_seconds(row) for row in loops),
    }
    if loops and "cost" in loops[0]:
        summary["cost"] = sum(row["cost"] for row in loops)
    if loops and "label_errors" in loops[0]:
        wrong = sum(row["label_errors"] or 0 for row in loops)
        summary["label_errors"] = wrong
        summary["label_error_rate"] = wrong / max(summary["n_labeled"], 1)
    if loops and "n_skipped" in loops[0]:
        summary["n_skipped"] = sum(row["n_skipped"] or 0 for row in loops)
    if loops:
        n_labeled = np.array([row["n_labeled"] for row in loops])
        for m in metric_names:
            summary["aulc"][m] = aulc(n_labeled, np.array([row[m] for row in loops]))
        if target:
            values = np.array([row[target["metric"]] for row in loops])
            summary["labels_to_target"] = labels_to_reach(n_labeled, values, target["value"])
    return summary


def caption(summary: dict[str, Any]) -> str:
    parts = [
        f"{summary['n_labeled']} labels in {summary['loops']} loops",
        f"{summary['seconds']:.1f} s",
    ]
    parts += [f"AULC {m} {v:.4f}" for m, v in summary["aulc"].items()]
    if "cost" in summary:
        parts.append(f"cost {summary['cost']:.2f}")
    if "label_errors" in summary:
        parts.append(
            f"{summary['label_errors']} wrong labels "
            f"({summary['label_error_rate']:.1%} of all labels)"
        )
    if summary.get("n_skipped"):
        parts.append(f"{summary['n_skipped']} skipped")
    if "labels_to_target" in summary:
        reached = summary["labels_to_target"]
        parts.append("target not reached" if reached is None else f"target at {reached} labels")
    return "  ·  ".join(parts)
